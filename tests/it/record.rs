//! Recording and replay end to end: a live demo mesh recorded then replayed gives the same model, a flood is recorded whole, the replay bar scrubs the timeline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use meshscope::demo::{self, DemoOptions};
use meshscope::ingest::{self, SharedModel};
use meshscope::model::{Model, ModelConfig};
use meshscope::mqtt::{self, SessionCommand, SessionOptions};
use meshscope::protocol::Dialect;
use meshscope::record::player::{Player, PlayerStatus};
use meshscope::record::recorder::{RecorderOptions, RecorderStats, RecorderTap};
use meshscope::report;
use rumqttc::v5::mqttbytes::QoS;
use serde_json::Value;

use crate::support::{self, PlainClient, WAIT};

/// Polls the shared model until `done` holds or the deadline passes (the model has no waiters).
fn wait_model(
    model: &SharedModel,
    deadline: Duration,
    mut done: impl FnMut(&Model) -> bool,
) -> bool {
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if done(&model.lock()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done(&model.lock())
}

fn temp_recording(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "{}.jsonl",
        support::unique(&format!("meshscope-rec-{name}"))
    ))
}

/// A live observer feeding `model` through ingest with the recorder tapped in, as the app runs it.
struct LiveObserver {
    session: mqtt::SessionHandle,
    pump: tokio::task::JoinHandle<()>,
    tap: RecorderTap,
}

impl LiveObserver {
    fn start(
        runtime: &tokio::runtime::Runtime,
        port: u16,
        model: &SharedModel,
        path: &Path,
    ) -> LiveObserver {
        let tap = RecorderTap::new();
        let url = format!("mqtt://127.0.0.1:{port}");
        tap.start(
            path,
            RecorderOptions {
                broker: Some(url.clone()),
                ..RecorderOptions::default()
            },
        )
        .expect("start recording");
        let (events, receiver) = ingest::channel();
        let pump = runtime.spawn(ingest::run_with(
            model.clone(),
            receiver,
            None,
            Some(tap.clone()),
        ));
        let mut options = SessionOptions::new(url.parse().expect("broker url"));
        options.client_id = support::unique("rec-observer");
        let session = mqtt::spawn(runtime.handle(), options, events);
        LiveObserver { session, pump, tap }
    }

    /// Disconnects, lets ingest apply the session's last event, and finishes the recording:
    /// after this the model and the file hold exactly the same messages.
    fn stop(self, runtime: &tokio::runtime::Runtime) -> RecorderStats {
        let LiveObserver { session, pump, tap } = self;
        runtime.block_on(async move {
            let _ = session.send(SessionCommand::Disconnect).await;
            drop(session);
            tokio::time::timeout(WAIT, pump)
                .await
                .expect("ingest ends once the session let go")
                .expect("pump");
        });
        tap.stop().expect("still recording").finish()
    }
}

fn open_and_wait(path: &Path) -> (SharedModel, Player, PlayerStatus) {
    let model = SharedModel::new(ModelConfig::default());
    let player = Player::open(path, model.clone(), None).expect("open the recording");
    let (status, ready) = player.wait_for(Duration::from_secs(60), PlayerStatus::is_ready);
    assert!(ready, "the recording opened: {status:?}");
    (model, player, status)
}

fn report_at(model: &SharedModel, at_nanos: u64) -> Value {
    let mut guard = model.lock();
    guard.tick(at_nanos);
    let observed = guard.mesh.observed();
    report::build(&guard.mesh, &observed)
}

#[test]
fn record_then_replay_gives_the_same_model_as_the_live_session() {
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    let port = broker.local_addr().port();
    let (stop_demo, stopped) = tokio::sync::watch::channel(false);
    let demo = runtime.spawn(demo::run(DemoOptions::new("127.0.0.1", port), stopped));

    let live = SharedModel::new(ModelConfig::default());
    let path = temp_recording("demo");
    let observer = LiveObserver::start(&runtime, port, &live, &path);
    // A few seconds of a working mesh: finished calls in several dialects, the participants up.
    let busy = wait_model(&live, Duration::from_secs(40), |m| {
        let finished: Vec<Dialect> = m
            .mesh
            .traces()
            .filter(|t| !t.is_pending())
            .map(|t| t.dialect)
            .collect();
        let dialects = Dialect::ALL.iter().filter(|d| finished.contains(d)).count();
        finished.len() >= 60 && dialects >= 4 && m.mesh.participant_count() >= 8
    });
    assert!(
        busy,
        "the demo mesh got busy: {} traces",
        live.lock().mesh.trace_count()
    );
    let stats = observer.stop(&runtime);
    let _ = stop_demo.send(true);
    let _ = runtime.block_on(async { tokio::time::timeout(WAIT, demo).await });
    runtime.block_on(broker.shutdown());

    let live_messages = live.lock().messages_total;
    assert_eq!(
        stats.received, live_messages,
        "the recorder saw every message ingest applied"
    );
    assert_eq!((stats.written, stats.lost), (live_messages, 0), "{stats:?}");
    assert_eq!(stats.write_error, None);

    let (replayed, player, status) = open_and_wait(&path);
    assert_eq!(status.messages_in_file, Some(live_messages));
    assert_eq!(status.unreadable_lines, 0);
    assert_eq!(replayed.lock().messages_total, live_messages);
    assert_eq!(replayed.lock().store.len(), live.lock().store.len());

    // Both seen at the same moment: the same participants, traces, stats and edges.
    let at = meshscope::now_nanos();
    let live_report = report_at(&live, at);
    let replay_report = report_at(&replayed, at);
    for part in ["observed", "participants", "traces", "stats", "edges"] {
        assert_eq!(
            live_report[part], replay_report[part],
            "`{part}` differs between live and replay"
        );
    }
    assert!(
        live_report["traces"]
            .as_array()
            .is_some_and(|t| t.len() >= 60)
    );
    assert!(
        live_report["stats"]
            .as_array()
            .is_some_and(|s| s.len() >= 4)
    );
    drop(player);
    let _ = std::fs::remove_file(&path);
}

/// Floods `port` with `count` QoS 1 messages (pipelined, not one at a time) while recording.
fn flood_while_recording(runtime: &tokio::runtime::Runtime, port: u16, count: u64) {
    let model = SharedModel::new(ModelConfig::default());
    let path = temp_recording("flood");
    let observer = LiveObserver::start(runtime, port, &model, &path);
    assert!(
        wait_model(&model, WAIT, |m| m
            .session
            .connected_since_nanos()
            .is_some()),
        "observer connected"
    );
    let topic = support::unique("flood");
    let started = Instant::now();
    runtime.block_on(async {
        let publisher = PlainClient::connect(port, &support::unique("flooder")).await;
        for i in 0..count {
            let payload = format!(
                r#"{{"jsonrpc":"2.0","method":"tick","params":{{"n":{i},"pad":"{}"}}}}"#,
                "x".repeat(120)
            );
            publisher
                .client
                .publish(
                    format!("{topic}/{}", i % 16),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await
                .expect("queue publish");
        }
        // The observer has everything once its model counts it; then the publisher may go.
        let until = Instant::now() + Duration::from_secs(120);
        while model.lock().messages_total < count && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        publisher.disconnect().await;
    });
    let flood_secs = started.elapsed().as_secs_f64();
    let stats = observer.stop(runtime);
    let received = model.lock().messages_total;
    assert_eq!(received, count, "the session received the whole flood");
    assert_eq!(stats.received, received);
    assert_eq!(stats.received, stats.written + stats.lost, "{stats:?}");
    assert_eq!(stats.lost, 0, "the disk kept up: {stats:?}");
    let lines = std::fs::read_to_string(&path)
        .expect("the recording")
        .lines()
        .count() as u64;
    assert_eq!(lines, stats.written + 1, "header + one line per message");
    eprintln!(
        "flood on port {port}: {count} messages in {flood_secs:.1} s ({:.0} msg/s), {} written, {} lost, {} bytes",
        count as f64 / flood_secs,
        stats.written,
        stats.lost,
        stats.bytes_written
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_recording_during_a_flood_keeps_every_message_embedded_broker() {
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    flood_while_recording(&runtime, broker.local_addr().port(), 100_000);
    runtime.block_on(broker.shutdown());
}

#[test]
fn a_recording_during_a_flood_keeps_every_message_mosquitto() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let runtime = support::runtime();
    flood_while_recording(&runtime, mosquitto.port(), 100_000);
}

/// Receive times of the capture's messages, read independently of the recording reader.
fn capture_times() -> Vec<u64> {
    std::fs::read_to_string(crate::fixture::capture_path())
        .expect("the peers-mesh capture")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json line")["ts_ns"]
                .as_u64()
                .expect("ts_ns")
        })
        .collect()
}

#[test]
fn headless_app_opens_a_recording_scrubs_and_the_timeline_follows() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use meshscope::app::{AppOptions, MeshscopeApp};
    use meshscope::ui::View;

    let times = capture_times();
    let (first, last) = (times[0], *times.iter().max().unwrap());
    let app = MeshscopeApp::new(
        AppOptions {
            open: Some(crate::fixture::capture_path()),
            view: View::Timeline,
            ..AppOptions::default()
        },
        None,
    )
    .expect("the app starts");
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .allow_missing_glyphs()
        .build_ui_state(|ui, app: &mut MeshscopeApp| app.ui(ui), app);
    let (status, ready) = harness
        .state()
        .wait_for_replay(Duration::from_secs(60), PlayerStatus::is_ready)
        .unwrap();
    assert!(ready, "{status:?}");
    assert_eq!(status.messages_in_file, Some(times.len() as u64));
    assert_eq!(
        (status.start_nanos, status.end_nanos),
        (Some(first), Some(last))
    );
    harness.run_steps(3);
    harness.get_by_label_contains("Replay: capture.jsonl");
    {
        let app = harness.state();
        assert_eq!(
            app.now_nanos(),
            last,
            "the views are drawn at the replay position"
        );
        let axis = app.timeline_state().axis();
        assert!(
            axis.start_nanos() <= last && last <= axis.end_nanos(),
            "the timeline shows the end: {axis:?}"
        );
        assert_eq!(
            app.timeline_state().rows().total,
            app.model().lock().mesh.trace_count()
        );
    }
    let traces_at_end = harness.state().model().lock().mesh.trace_count();

    // Scrub: a click in the middle of the scrubber seeks to the middle of the recording.
    harness.get_by_label("Replay position").click();
    harness.run_steps(1);
    let (status, ready) = harness
        .state()
        .wait_for_replay(WAIT, |s| s.is_ready() && s.position_nanos < last)
        .unwrap();
    assert!(ready, "the scrub moved the position back: {status:?}");
    let position = status.position_nanos;
    let middle = first + (last - first) / 2;
    let tolerance = (last - first) / 10;
    assert!(
        position.abs_diff(middle) < tolerance,
        "near the middle: {position} vs {middle}"
    );
    harness.run_steps(3);
    {
        let app = harness.state();
        let model = app.model().lock();
        let expected = times.iter().filter(|&&t| t <= position).count() as u64;
        assert_eq!(
            model.messages_total, expected,
            "the model holds what was received up to the position"
        );
        assert_eq!(app.now_nanos(), position);
        let timeline = app.timeline_state();
        let axis = timeline.axis();
        assert!(
            axis.start_nanos() <= position && position <= axis.end_nanos(),
            "the timeline follows: {axis:?}"
        );
        assert!(
            axis.end_nanos() < last,
            "the window moved back from the end: {axis:?}"
        );
        let traces = model.mesh.trace_count();
        assert!(
            traces > 0 && traces < traces_at_end,
            "{traces} of {traces_at_end}"
        );
        assert_eq!(
            timeline.rows().total,
            traces,
            "the timeline rebuilt from the rebuilt model"
        );
        assert!(
            timeline
                .rows()
                .visible
                .iter()
                .all(|&id| model.mesh.trace(id).is_some_and(|t| t
                    .request_at_nanos
                    .or(t.response_at_nanos)
                    .is_some_and(|at| at <= position))),
            "no trace from after the position"
        );
    }

    // Play at 20x: the position and the timeline move forward.
    harness.get_by_label("Replay speed").click();
    harness.run_steps(3);
    harness.get_by_label("20x").click();
    harness.run_steps(1);
    harness.get_by_label("Play").click();
    harness.run_steps(1);
    let (status, moved) = harness
        .state()
        .wait_for_replay(WAIT, |s| {
            s.playing && s.position_nanos > position + 2_000_000_000
        })
        .unwrap();
    assert!(moved, "{status:?}");
    assert_eq!(status.speed_hundredths, 2_000);
    harness.run_steps(2);
    let axis_end_playing = harness.state().timeline_state().axis().end_nanos();
    assert!(
        axis_end_playing > position + 2_000_000_000,
        "the timeline follows the playback"
    );
    harness.get_by_label("Pause").click();
    harness.run_steps(1);
    let (status, paused) = harness
        .state()
        .wait_for_replay(WAIT, |s| !s.playing)
        .unwrap();
    assert!(paused, "{status:?}");

    harness.get_by_label("Close recording").click();
    harness.run_steps(2);
    assert!(harness.state().replay_status().is_none());
    assert!(
        !harness.state().model().clock().is_replay(),
        "back to the live clock"
    );
    assert_eq!(harness.state().model().lock().messages_total, 0);
}

/// `VmHWM` (peak resident set) and `VmRSS` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The peers-mesh capture repeated, shifted in time, to `count` messages.
fn write_big_recording(path: &Path, count: u64) {
    use std::io::Write;
    let file = std::fs::File::open(crate::fixture::capture_path()).expect("capture");
    let capture: Vec<meshscope::protocol::RawMessage> =
        meshscope::record::read_jsonl(std::io::BufReader::new(file))
            .map(|m| m.expect("capture line"))
            .collect();
    let first = capture.iter().map(|m| m.received_at_nanos).min().unwrap();
    let last = capture.iter().map(|m| m.received_at_nanos).max().unwrap();
    let period = last - first + 1_000_000_000;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    meshscope::record::write_header(
        &meshscope::record::RecordingHeader::new(Some(first), None),
        &mut out,
    )
    .unwrap();
    let mut seq = 0u64;
    'outer: for round in 0.. {
        for raw in &capture {
            if seq == count {
                break 'outer;
            }
            seq += 1;
            let mut shifted = raw.clone();
            shifted.received_at_nanos += round * period;
            meshscope::record::write_line(&shifted, &mut out, seq).unwrap();
        }
    }
    out.flush().unwrap();
}

#[test]
#[ignore = "benchmark: cargo test --release --test it open_a_million -- --ignored --nocapture"]
fn open_a_million_message_recording_within_the_memory_budget() {
    let count = 1_000_000u64;
    let path = temp_recording("million");
    let started = Instant::now();
    write_big_recording(&path, count);
    let file_bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "wrote {count} messages, {} MiB, in {:.1} s",
        file_bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    let (hwm_before_kib, rss_before_kib) = memory_kib();

    let mut config = ModelConfig::default();
    // MESHSCOPE_BENCH_BUDGET_MIB: another store budget, to see what the rest of the model costs.
    if let Some(mib) = std::env::var("MESHSCOPE_BENCH_BUDGET_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        config.store.max_bytes = mib * 1024 * 1024;
    }
    let budget_bytes = config.store.max_bytes as u64;
    let model = SharedModel::new(config);
    let started = Instant::now();
    let player = Player::open(&path, model.clone(), None).expect("open");
    let mut progress_seen = Vec::new();
    let (status, ready) = player.wait_for(Duration::from_secs(1200), |s| {
        if let Some(p) = s.progress() {
            let step = (p * 10.0) as u32;
            if progress_seen.last() != Some(&step) {
                progress_seen.push(step);
            }
        }
        s.is_ready()
    });
    let open_secs = started.elapsed().as_secs_f64();
    assert!(ready, "{status:?}");
    let (hwm_kib, rss_kib) = memory_kib();
    assert_eq!(status.messages_in_file, Some(count));
    assert!(
        progress_seen.len() >= 3,
        "progress was reported along the way: {progress_seen:?}"
    );
    let (counters, total, traces) = {
        let m = model.lock();
        (m.store.counters(), m.messages_total, m.mesh.trace_count())
    };
    assert_eq!(total, count);
    assert!(counters.stored_bytes as u64 <= budget_bytes, "{counters:?}");
    assert_eq!(
        counters.stored_messages as u64 + counters.evicted_messages,
        count,
        "evictions are counted"
    );

    // A backward seek rebuilds from the start of the file.
    let middle =
        status.start_nanos.unwrap() + (status.end_nanos.unwrap() - status.start_nanos.unwrap()) / 2;
    let started = Instant::now();
    player.send(meshscope::record::player::ReplayCommand::Seek {
        position_nanos: middle,
    });
    let (status, ready) = player.wait_for(Duration::from_secs(1200), |s| {
        s.is_ready() && s.position_nanos == middle
    });
    assert!(ready, "{status:?}");
    let seek_secs = started.elapsed().as_secs_f64();
    let (hwm_after_seek_kib, _) = memory_kib();

    eprintln!(
        "opened {count} messages ({} MiB file) in {open_secs:.1} s ({:.0} msg/s); store {} messages / {} MiB (budget {} MiB), {} evicted; {traces} traces",
        file_bytes >> 20,
        count as f64 / open_secs,
        counters.stored_messages,
        counters.stored_bytes >> 20,
        budget_bytes >> 20,
        counters.evicted_messages,
    );
    eprintln!(
        "memory: VmHWM {} MiB (before opening {} MiB, RSS before {} MiB), RSS after {} MiB; seek back to the middle: {seek_secs:.1} s ({} messages), VmHWM after {} MiB",
        hwm_kib >> 10,
        hwm_before_kib >> 10,
        rss_before_kib >> 10,
        rss_kib >> 10,
        status.messages_applied,
        hwm_after_seek_kib >> 10,
    );
    drop(player);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn exports_of_a_replayed_recording_match_its_model() {
    use meshscope::record::export::{ExportFormat, ExportWhat, TRACE_COLUMNS, export_to_file};
    let (model, _player, status) = open_and_wait(&crate::fixture::capture_path());
    let at = status.end_nanos.unwrap();
    let dir = std::env::temp_dir();
    let traces_csv = dir.join(format!("{}.csv", support::unique("meshscope-traces")));
    let rows = export_to_file(
        &model,
        &ExportWhat::Traces { trace_ids: None },
        ExportFormat::Csv,
        at,
        &traces_csv,
    )
    .expect("export traces");
    assert_eq!(rows, model.lock().mesh.trace_count());
    let text = std::fs::read_to_string(&traces_csv).unwrap();
    assert_eq!(text.lines().next().unwrap(), TRACE_COLUMNS.join(","));
    assert!(
        text.lines().count() > rows,
        "a header and at least one line per trace"
    );

    let stats_json = dir.join(format!("{}.json", support::unique("meshscope-stats")));
    let rows = export_to_file(
        &model,
        &ExportWhat::Stats,
        ExportFormat::Json,
        at,
        &stats_json,
    )
    .expect("export stats");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&stats_json).unwrap()).unwrap();
    let stats = doc["stats"].as_array().unwrap();
    assert_eq!(stats.len(), rows);
    let report = report_at(&model, at);
    for (exported, reported) in stats.iter().zip(report["stats"].as_array().unwrap()) {
        for field in [
            "dialect",
            "callee",
            "operation",
            "count",
            "errors",
            "timeouts",
            "p50_micros",
            "p95_micros",
            "p99_micros",
        ] {
            assert_eq!(exported[field], reported[field], "{field}");
        }
    }

    let one = model
        .lock()
        .mesh
        .traces()
        .nth(3)
        .map(|t| t.trace_id)
        .unwrap();
    let trace_json = dir.join(format!("{}.json", support::unique("meshscope-trace")));
    export_to_file(
        &model,
        &ExportWhat::Traces {
            trace_ids: Some(vec![one]),
        },
        ExportFormat::Json,
        at,
        &trace_json,
    )
    .expect("export one trace");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&trace_json).unwrap()).unwrap();
    assert_eq!(doc["traces"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["traces"][0]["trace_id"], one);
    for p in [traces_csv, stats_json, trace_json] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn the_record_command_writes_a_readable_redacted_recording() {
    use rumqttc::v5::mqttbytes::v5::PublishProperties;
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    let port = broker.local_addr().port();
    let topic = support::unique("secret-card");
    // Retained: the recorder's observer gets it when it subscribes, whenever that is.
    runtime.block_on(async {
        let mut publisher = PlainClient::connect(port, &support::unique("secret-pub")).await;
        let properties = PublishProperties {
            user_properties: vec![
                ("a2a-authorization".into(), "Bearer top-s3cret".into()),
                ("a2a-status".into(), "online".into()),
            ],
            ..PublishProperties::default()
        };
        publisher
            .publish(
                &topic,
                "{\"hello\":1}",
                QoS::AtLeastOnce,
                true,
                Some(properties),
            )
            .await;
        publisher.disconnect().await;
    });
    let url = format!("mqtt://127.0.0.1:{port}");
    for (redact, name) in [(true, "redacted"), (false, "kept")] {
        let path = temp_recording(name);
        let mut args = vec!["record", "--broker", &url, "--duration", "2", "--out"];
        let path_text = path.display().to_string();
        args.push(&path_text);
        if !redact {
            args.push("--no-redact");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshscope"))
            .args(&args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("recorded ") && stderr.contains("0 lost"),
            "{stderr}"
        );
        let text = std::fs::read_to_string(&path).expect("the recording");
        let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(header["meshscope_recording"], 1);
        assert_eq!(header["redacted"], redact);
        assert_eq!(header["broker"], Value::from(url.clone()));
        let messages: Vec<_> = meshscope::record::read_jsonl(text.as_bytes())
            .map(|m| m.expect("readable"))
            .collect();
        let card = messages
            .iter()
            .find(|m| m.topic_str() == Some(topic.as_str()))
            .expect("the retained card");
        let auth = card.props().user_property("a2a-authorization");
        assert_eq!(card.props().user_property("a2a-status"), Some("online"));
        if redact {
            assert_eq!(auth, Some(meshscope::record::recorder::REDACTED));
            assert!(!text.contains("top-s3cret"));
        } else {
            assert_eq!(auth, Some("Bearer top-s3cret"));
        }
        let _ = std::fs::remove_file(&path);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshscope"))
        .args(["record", "--out", "/tmp/never.jsonl", "--duration", "1"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--broker"),
        "a missing broker is explained"
    );
    runtime.block_on(broker.shutdown());
}
