//! Broker faults and floods against the real session, ingest and model: a restart loop under the demo mesh, a blackholing proxy, a 60 s flood with a memory budget.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshscope::demo::{self, DemoOptions};
use meshscope::ingest::{self, SharedModel};
use meshscope::model::mesh::Outcome;
use meshscope::model::session_log::SessionNote;
use meshscope::model::{Model, ModelConfig};
use meshscope::mqtt::{self, BrokerUrl, SessionHandle, SessionOptions};
use meshscope::protocol::{ConnectionState, Dialect, ParticipantKind, Status};
use rumqttc::v5::mqttbytes::QoS;
use tokio::sync::Notify;

use crate::support::{self, PlainClient, WAIT};

/// A running observer: the real session feeding the real ingest pump into a shared model.
pub struct Observer {
    pub model: SharedModel,
    pub session: SessionHandle,
    changed: Arc<Notify>,
}

impl Observer {
    /// Starts the session and the ingest pump on the current runtime.
    pub fn start(
        port: u16,
        config: ModelConfig,
        adjust: impl FnOnce(&mut SessionOptions),
    ) -> Observer {
        let mut options =
            SessionOptions::new(BrokerUrl::new(mqtt::Transport::Tcp, "127.0.0.1", port));
        adjust(&mut options);
        let model = SharedModel::new(config);
        let (events_tx, events_rx) = ingest::channel();
        let session = mqtt::spawn(&tokio::runtime::Handle::current(), options, events_tx);
        let changed = Arc::new(Notify::new());
        let wake = Arc::clone(&changed);
        let notify: ingest::Notify = Arc::new(move || wake.notify_one());
        tokio::spawn(ingest::run(model.clone(), events_rx, Some(notify)));
        Observer {
            model,
            session,
            changed,
        }
    }

    /// Waits until `pred` holds on the model (checked after every applied batch), or the
    /// deadline passes: returns whether it held.
    pub async fn wait_for(&self, deadline: Duration, mut pred: impl FnMut(&Model) -> bool) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            if pred(&self.model.lock()) {
                return true;
            }
            // `notify_one` keeps a permit when nobody waits: a batch applied between the check
            // and this wait is not missed.
            if tokio::time::timeout_at(until, self.changed.notified())
                .await
                .is_err()
            {
                return pred(&self.model.lock());
            }
        }
    }

    pub fn state(&self) -> Option<ConnectionState> {
        self.model.lock().session.current().cloned()
    }
}

pub fn is_connected(model: &Model) -> bool {
    matches!(
        model.session.current(),
        Some(ConnectionState::Connected { .. })
    )
}

pub fn is_disconnected(model: &Model) -> bool {
    matches!(
        model.session.current(),
        Some(ConnectionState::Disconnected { .. })
    )
}

/// True when a message on exactly `topic` is in the store.
pub fn stored_on(model: &Model, topic: &str) -> bool {
    model
        .store
        .iter()
        .rev()
        .any(|m| &*m.raw.topic == topic.as_bytes())
}

/// True when a message on exactly `topic` arrived at or after `*cursor` (a store sequence
/// number), which moves past what was checked: each call looks at new messages only, so
/// waiting behind a backlog of a million costs nothing per applied batch.
pub fn stored_since(model: &Model, cursor: &mut u64, topic: &str) -> bool {
    let found = model
        .store
        .iter_from(*cursor)
        .any(|m| m.raw.topic == topic.as_bytes());
    *cursor = model.store.next_seq();
    found
}

type ParticipantKey = (Dialect, ParticipantKind, String);

fn participants(model: &Model) -> BTreeMap<ParticipantKey, Status> {
    model
        .mesh
        .participants()
        .into_iter()
        .map(|p| ((p.dialect, p.kind, p.participant_id.to_string()), p.status))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. the restart loop

/// Restarts of the broker in the loop.
const RESTARTS: usize = 10;

/// The demo's cast as the model sees it: 6 MQTT.Agent MCP (server, 5 tools, + the unserved
/// one below) and 2 of its clients, 4 MQTT.Agent A2A agents, EMQX MCP server, 3 tools and a
/// client, EMQX A2A 2 agents and a client, 2 OpenMAS agents, 1 plain MQTT 5 RPC client.
const DEMO_PARTICIPANTS: usize = 24;
/// The tool the demo calls although nobody serves it: known, never online.
const UNSERVED_TOOL: &str = "summarize_pdf";

/// The status bar as the window draws it, for the model as it is now.
fn status_bar_text(model: &SharedModel) -> Vec<String> {
    use egui_kittest::kittest::NodeT as _;
    let now_nanos = meshscope::now_nanos();
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 40.0))
        .build_ui_state(
            move |ui, model: &mut SharedModel| {
                meshscope::ui::status_bar::status_bar_ui(ui, &model.lock(), now_nanos);
            },
            model.clone(),
        );
    harness.run();
    harness
        .root()
        .children_recursive()
        .filter_map(|node| node.value().or_else(|| node.accesskit_node().label()))
        .collect()
}

/// Completed traces (answered or failed) whose request arrived after `since_nanos`.
fn answered_since(model: &Model, since_nanos: u64) -> usize {
    model
        .mesh
        .traces()
        .filter(|t| {
            t.request_at_nanos.is_some_and(|at| at > since_nanos)
                && matches!(t.outcome, Outcome::Ok | Outcome::Error)
        })
        .count()
}

#[test]
fn broker_restarted_ten_times_under_the_demo_mesh() {
    // Persistence on, saved every second: retained cards survive the restarts (as on a
    // production broker), so every resubscribe replays them and the model must not take the
    // replays for news.
    let store_dir = std::env::temp_dir().join(support::unique("meshscope-persist"));
    std::fs::create_dir_all(&store_dir).expect("persistence dir");
    #[cfg(unix)]
    {
        // mosquitto started as root drops to its own user: it must be able to write here.
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&store_dir, std::fs::Permissions::from_mode(0o777));
    }
    let conf = format!(
        "persistence true\npersistence_location {}/\nautosave_interval 1\n",
        store_dir.display()
    );
    let Some(mut mosquitto) = support::mosquitto_with(&conf, &[]) else {
        return;
    };
    let port = mosquitto.port();
    let runtime = support::runtime();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut demo_options = DemoOptions::new("127.0.0.1", port);
    // Its own crash-and-return would change presence on purpose; here only the broker fails.
    demo_options.abrupt_drops = false;
    let mesh = runtime.spawn(demo::run(demo_options, stop_rx));
    let observer =
        runtime.block_on(async { Observer::start(port, ModelConfig::default(), |_| {}) });

    let baseline = runtime.block_on(async {
        assert!(
            observer.wait_for(WAIT, is_connected).await,
            "the observer connects"
        );
        // Every participant of the demo's cast known (online, but for the tool nobody
        // serves), and calls answered.
        let settled = observer
            .wait_for(Duration::from_secs(30), |m| {
                let p = participants(m);
                p.len() >= DEMO_PARTICIPANTS
                    && p.iter()
                        .all(|(key, status)| *status == Status::Online || key.2 == UNSERVED_TOOL)
                    && answered_since(m, 0) >= 5
            })
            .await;
        let baseline = participants(&observer.model.lock());
        assert!(
            settled && baseline.len() == DEMO_PARTICIPANTS,
            "the demo mesh settles: {baseline:#?}"
        );
        baseline
    });
    let started_nanos = meshscope::now_nanos();

    let mut resubscribed_millis = Vec::new();
    let mut recovered_millis = Vec::new();
    for cycle in 1..=RESTARTS {
        runtime.block_on(async {
            tokio::task::block_in_place(|| mosquitto.kill());
            assert!(
                observer.wait_for(WAIT, is_disconnected).await,
                "cycle {cycle}: the observer notices the broker is gone"
            );
            // The status bar shows the backoff and when the next attempt is due. The session
            // alternates between waiting (that text) and trying ("Connecting…"), and drawing
            // the bar takes a while in a debug build: draw it each time it is waiting again.
            let shows_backoff = |bar: &[String]| {
                bar.iter()
                    .any(|label| label.contains("next attempt") && label.contains(" UTC, backoff "))
            };
            let mut bar = status_bar_text(&observer.model);
            for _ in 0..20 {
                if shows_backoff(&bar) {
                    break;
                }
                // Until the session is back to waiting (it is trying again now).
                let mut left_waiting = false;
                observer
                    .wait_for(WAIT, |m| {
                        left_waiting |= !is_disconnected(m);
                        left_waiting && is_disconnected(m)
                    })
                    .await;
                bar = status_bar_text(&observer.model);
            }
            assert!(
                shows_backoff(&bar),
                "cycle {cycle}: the status bar shows the next attempt: {bar:?}"
            );
            tokio::task::block_in_place(|| mosquitto.restart());
            let back = Instant::now();
            let back_nanos = meshscope::now_nanos();
            assert!(
                observer.wait_for(WAIT, is_connected).await,
                "cycle {cycle}: the observer reconnects; state {:?}",
                observer.state()
            );
            // Resubscribed: a fresh publish reaches the model.
            let marker = format!("faults/restart/{}/{cycle}", std::process::id());
            let mut publisher = PlainClient::connect(port, &support::unique("pub")).await;
            // Retained: `Connected` comes before the SUBACKs, so the marker may be published
            // before or after the resubscribe; either way it arrives (live, or replayed).
            publisher
                .publish(&marker, "fresh", QoS::AtLeastOnce, true, None)
                .await;
            assert!(
                observer.wait_for(WAIT, |m| stored_on(m, &marker)).await,
                "cycle {cycle}: a fresh publish is seen (resubscribed)"
            );
            resubscribed_millis.push(back.elapsed().as_millis());
            publisher.disconnect().await;
            // The demo is back too: calls are answered again, and presence is what it was.
            let recovered = observer
                .wait_for(Duration::from_secs(20), |m| {
                    answered_since(m, back_nanos) >= 3 && participants(m) == baseline
                })
                .await;
            let model = observer.model.lock();
            assert!(
                recovered,
                "cycle {cycle}: presence as before the restart and calls answered again \
                 ({} answered since); participants now {:#?}",
                answered_since(&model, back_nanos),
                participants(&model)
            );
            recovered_millis.push(back.elapsed().as_millis());
        });
    }

    let model = observer.model.lock();
    // Every outage is one gap, closed by the reconnect.
    let gaps: Vec<_> = model
        .session
        .gaps()
        .into_iter()
        .filter(|(from, _)| *from >= started_nanos)
        .collect();
    assert_eq!(gaps.len(), RESTARTS, "one gap per restart: {gaps:?}");
    assert!(gaps.iter().all(|(_, to)| to.is_some()), "{gaps:?}");
    // Nobody went offline: the broker died under them, it did not fire their wills, and
    // the replayed retained cards are not news.
    for p in model.mesh.participants() {
        let offline: Vec<_> = p
            .history
            .iter()
            .filter(|t| t.at_nanos >= started_nanos && t.status != Status::Online)
            .collect();
        assert!(
            offline.is_empty(),
            "{} went {offline:?} during the restarts",
            p.participant_id
        );
    }
    let counters = model.mesh.counters().clone();
    assert!(
        counters.retained_replays > 0,
        "the retained cards were replayed: {counters:?}"
    );
    // No trace was made from a replayed retained message.
    for t in model.mesh.traces() {
        if let Some(seq) = t.request_message_index
            && let Some(m) = model.store.get(seq)
        {
            assert!(!m.raw.retain, "a retained message opened trace {t:?}");
        }
    }
    assert_eq!(counters.undecoded, 0, "{counters:?}");
    // A broker back within the first backoff step, twice within 10 s, looks like a client id
    // collision to the session (it then takes a fresh id): counted, to see how often.
    let id_switches = model
        .session
        .entries()
        .iter()
        .filter(|(_, note)| {
            matches!(note, SessionNote::State(ConnectionState::Disconnected { reason, .. })
                if reason.contains("probably uses our client id"))
        })
        .count();
    println!(
        "restart loop: {RESTARTS} restarts ({id_switches} taken for a client id collision); \
         resubscribed after {resubscribed_millis:?} ms; \
         demo answering with presence intact after {recovered_millis:?} ms; \
         {} retained replays recognised; {} traces, {} participants",
        counters.retained_replays,
        model.mesh.trace_count(),
        model.mesh.participant_count()
    );
    assert!(
        resubscribed_millis.iter().all(|ms| *ms < 2_000),
        "resubscribed within 2 s of the broker's return: {resubscribed_millis:?}"
    );
    drop(model);

    stop_tx.send(true).expect("the demo listens");
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), mesh)
            .await
            .expect("the demo stops")
            .expect("no panic")
            .expect("Ok");
    });
    let _ = std::fs::remove_dir_all(&store_dir);
}

// ---------------------------------------------------------------------------------------------
// 2. a broker that stops answering without closing the socket

/// A loopback TCP proxy that can stop forwarding in both directions while keeping every socket
/// open (a network partition, a frozen broker): bytes read while it is stopped are held, and
/// flow on when it forwards again.
struct BlackholeProxy {
    port: u16,
    forwarding: tokio::sync::watch::Sender<bool>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl BlackholeProxy {
    async fn start(upstream_port: u16) -> BlackholeProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let (forwarding, _) = tokio::sync::watch::channel(true);
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = forwarding.clone();
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Ok(upstream) =
                    tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let (client_read, client_write) = client.into_split();
                let (upstream_read, upstream_write) = upstream.into_split();
                tokio::spawn(pump(client_read, upstream_write, gate.subscribe()));
                tokio::spawn(pump(upstream_read, client_write, gate.subscribe()));
            }
        });
        BlackholeProxy {
            port,
            forwarding,
            accepted,
        }
    }

    fn set_forwarding(&self, on: bool) {
        self.forwarding.send_replace(on);
    }
}

/// Copies `from` to `to` while the gate is open; holds what it read while it is closed.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if gate.wait_for(|open| *open).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        // Read just before the gate closed: held until it opens again.
        if gate.wait_for(|open| *open).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[test]
fn a_broker_that_stops_answering_is_detected_by_keep_alive_and_reconnected() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let runtime = support::runtime();
    runtime.block_on(async {
        let proxy = BlackholeProxy::start(mosquitto.port()).await;
        let observer = Observer::start(proxy.port, ModelConfig::default(), |options| {
            // Raised to the 5 s minimum rumqttc allows.
            options.keep_alive_secs = 1;
        });
        let keep_alive = Duration::from_secs(u64::from(meshscope::mqtt::MIN_KEEP_ALIVE_SECS));
        assert!(
            observer.wait_for(WAIT, is_connected).await,
            "connects through the proxy"
        );
        let mut publisher = PlainClient::connect(mosquitto.port(), &support::unique("pub")).await;
        let prefix = support::unique("blackhole");
        let before = format!("{prefix}/before");
        publisher
            .publish(&before, "1", QoS::AtLeastOnce, false, None)
            .await;
        assert!(observer.wait_for(WAIT, |m| stored_on(m, &before)).await);

        // Silence: both directions stop, no socket closes.
        proxy.set_forwarding(false);
        let silent_at = Instant::now();
        let detected = observer
            .wait_for(2 * keep_alive + Duration::from_secs(3), is_disconnected)
            .await;
        let detection = silent_at.elapsed();
        let state = observer.state();
        assert!(
            detected,
            "not detected within 2 keep-alives + 3 s; state {state:?}"
        );
        let Some(ConnectionState::Disconnected {
            reason,
            retry_in_millis,
            ..
        }) = state
        else {
            unreachable!()
        };
        assert!(
            reason.contains("keep-alive"),
            "the reason says the broker stopped answering keep-alive pings: {reason}"
        );
        assert!(retry_in_millis.is_some(), "it retries");
        // rumqttc pings every keep-alive; the ping after the silence began goes unanswered and
        // the next tick notices: between one and two keep-alives.
        assert!(
            detection > keep_alive && detection <= 2 * keep_alive + Duration::from_secs(1),
            "detected after {detection:?} (keep-alive {keep_alive:?})"
        );
        // A message published during the silence reaches the broker, not us (yet).
        let during = format!("{prefix}/during");
        publisher
            .publish(&during, "2", QoS::AtLeastOnce, false, None)
            .await;

        // The network heals: the pending attempt (its CONNECT was held) or the next one connects.
        proxy.set_forwarding(true);
        let healed_at = Instant::now();
        assert!(
            observer
                .wait_for(Duration::from_secs(15), is_connected)
                .await,
            "reconnects once the proxy forwards again; state {:?}",
            observer.state()
        );
        let reconnect = healed_at.elapsed();
        // Retained: `Connected` comes before the SUBACKs, so the marker may be published
        // before or after the resubscribe; either way it arrives (live, or replayed).
        let after = format!("{prefix}/after");
        publisher
            .publish(&after, "3", QoS::AtLeastOnce, true, None)
            .await;
        assert!(
            observer.wait_for(WAIT, |m| stored_on(m, &after)).await,
            "resubscribed after the silence; session log {:#?}\nbroker log:\n{}",
            observer.model.lock().session.entries(),
            mosquitto.log()
        );
        publisher.disconnect().await;
        let model = observer.model.lock();
        let gaps = model.session.gaps();
        assert_eq!(gaps.len(), 1, "the silence is one gap: {gaps:?}");
        println!(
            "blackhole: keep-alive {} s; silence detected after {} ms ({reason}); \
             reconnected {} ms after the network healed; {} proxy connections; \
             published during the silence: {}",
            keep_alive.as_secs(),
            detection.as_millis(),
            reconnect.as_millis(),
            proxy.accepted.load(std::sync::atomic::Ordering::Relaxed),
            if stored_on(&model, &during) {
                "seen"
            } else {
                "lost (it went to the dead connection; a clean-start session keeps nothing)"
            }
        );
    });
}

// ---------------------------------------------------------------------------------------------
// 3. a flood

/// The store budget of the flooded session.
const FLOOD_STORE_BYTES: usize = 32 * 1024 * 1024;
/// Catching up after the flood may take this long at most, and never stall this long.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(600);
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// The marker after the flood is sent again this often until it arrives.
const MARKER_EVERY: Duration = Duration::from_secs(1);
/// Bytes of each flood message's payload.
const FLOOD_PAYLOAD_BYTES: usize = 200;

/// Seconds the flood lasts: `MESHSCOPE_FLOOD_SECS`, else 60 in CI and 10 on a workstation (the
/// whole suite shares two cores).
fn flood_secs() -> u64 {
    std::env::var("MESHSCOPE_FLOOD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::var_os("CI").is_some() {
            60
        } else {
            10
        })
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`), or `None` off Linux.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Appends a QoS 0 PUBLISH without properties (MQTT 5) to `out`.
pub fn encode_publish_qos0(out: &mut Vec<u8>, topic: &[u8], payload: &[u8]) {
    let remaining = 2 + topic.len() + 1 + payload.len();
    out.push(0x30);
    let mut len = remaining;
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic);
    out.push(0); // no properties
    out.extend_from_slice(payload);
}

/// The flood, run in its own process by the test below so that its peak RSS is its own (the
/// other tests of this binary run in parallel threads and allocate too).
#[test]
#[ignore = "run in a child process by flood_for_a_minute_stays_within_budget_and_catches_up"]
fn flood_child() {
    // As the app does at start (this is a process of its own).
    meshscope::allocator::limit_arenas();
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let flood = Duration::from_secs(flood_secs());
    let runtime = support::runtime();
    runtime.block_on(async {
        let mut config = ModelConfig::default();
        config.store.max_bytes = FLOOD_STORE_BYTES;
        let observer = Observer::start(mosquitto.port(), config, |_| {});
        assert!(observer.wait_for(WAIT, is_connected).await);
        let topic = format!("flood/{}/data", std::process::id());
        // Subscribed before the flood starts: a retained probe comes back.
        let probe = format!("flood/{}/probe", std::process::id());
        let mut marker_client = PlainClient::connect(mosquitto.port(), &support::unique("m")).await;
        marker_client
            .publish(&probe, "probe", QoS::AtLeastOnce, true, None)
            .await;
        assert!(observer.wait_for(WAIT, |m| stored_on(m, &probe)).await);
        let rss_start_kib = proc_status_kib("VmRSS").unwrap_or(0);
        let total_before = observer.model.lock().messages_total;

        // A reader like the window: every 16 ms it takes the model lock and reads the
        // counters; the wait for the lock is what a frame would wait.
        let stop_sampling = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let model = observer.model.clone();
            let stop = Arc::clone(&stop_sampling);
            std::thread::spawn(move || {
                let mut max_lock_wait = Duration::ZERO;
                let mut max_stored_bytes = 0usize;
                // (seconds since the start, RSS KiB), one sample per second.
                let mut rss_series: Vec<(u64, u64)> = Vec::new();
                let sampling_from = Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let asked = Instant::now();
                    let stored_bytes = model.lock().store.counters().stored_bytes;
                    max_lock_wait = max_lock_wait.max(asked.elapsed());
                    max_stored_bytes = max_stored_bytes.max(stored_bytes);
                    let second = sampling_from.elapsed().as_secs();
                    if rss_series.last().is_none_or(|(s, _)| *s < second) {
                        rss_series.push((second, proc_status_kib("VmRSS").unwrap_or(0)));
                    }
                    // Sampling period (a frame), not synchronisation.
                    std::thread::sleep(Duration::from_millis(16));
                }
                (max_lock_wait, rss_series, max_stored_bytes)
            })
        };

        // The flood: one raw socket writing QoS 0 PUBLISHes back to back, 256 per write.
        let mut socket = crate::hostile::RawClient::connect(mosquitto.port(), &support::unique("flood")).await;
        let started = Instant::now();
        let mut published = 0u64;
        let mut batch = Vec::with_capacity(256 * (FLOOD_PAYLOAD_BYTES + 64));
        let pad = "x".repeat(FLOOD_PAYLOAD_BYTES);
        while started.elapsed() < flood {
            batch.clear();
            for _ in 0..256 {
                let mut payload = format!("{{\"seq\":{published},\"pad\":\"{pad}\"}}").into_bytes();
                payload.truncate(FLOOD_PAYLOAD_BYTES);
                encode_publish_qos0(&mut batch, topic.as_bytes(), &payload);
                published += 1;
            }
            socket.send_bytes(&batch).await.expect("the broker takes the flood");
        }
        let flood_took = started.elapsed();
        drop(socket);

        // Caught up: a marker published after the flood arrives behind everything queued. A
        // broker may shed what a slow subscriber cannot take (mosquitto does, the marker too),
        // so the marker goes out again every second until it arrives; the backlog drains at
        // ingest's pace (a debug build on a busy machine is slow), so wait as long as messages
        // keep arriving and call it stalled after 30 s without one.
        let marker = format!("flood/{}/after", std::process::id());
        let mut cursor = observer.model.lock().store.next_seq();
        let ended = Instant::now();
        let mut caught_up = false;
        let mut markers_sent = 0u64;
        let mut total_seen = observer.model.lock().messages_total;
        let mut quiet_since = Instant::now();
        while !caught_up && ended.elapsed() < CATCH_UP_LIMIT && quiet_since.elapsed() < STALL_LIMIT {
            marker_client
                .publish(&marker, "after", QoS::AtLeastOnce, false, None)
                .await;
            markers_sent += 1;
            caught_up = observer
                .wait_for(MARKER_EVERY, |m| stored_since(m, &mut cursor, &marker))
                .await;
            let total_now = observer.model.lock().messages_total;
            if total_now != total_seen {
                total_seen = total_now;
                quiet_since = Instant::now();
            }
        }
        let catch_up = ended.elapsed();
        marker_client.disconnect().await;
        stop_sampling.store(true, std::sync::atomic::Ordering::Relaxed);
        let (max_lock_wait, rss_series, max_stored_bytes) = sampler.join().expect("sampler");
        let max_rss_kib = rss_series.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
        // RSS growth over the flood's second half: a per-message leak grows linearly, a
        // bounded process plateaus once the store is full.
        let half = flood.as_secs() / 2;
        let rss_at = |second: u64| {
            rss_series
                .iter()
                .find(|(s, _)| *s >= second)
                .map_or(0, |(_, kib)| *kib)
        };
        let second_half_growth_kib = rss_at(flood.as_secs()).saturating_sub(rss_at(half));
        let peak_kib = proc_status_kib("VmHWM").unwrap_or(0);

        let model = observer.model.lock();
        let counters = model.store.counters();
        // (The markers are counted too: at most a few dozen.)
        let received = model.messages_total - total_before;
        let lost_at_broker = published.saturating_sub(received);
        let state = model.session.current().cloned();
        let reconnects = model.session.gaps().len();
        println!(
            "flood: {published} messages of {FLOOD_PAYLOAD_BYTES} B in {:.1} s ({:.0} msg/s offered); \
             received {received} ({:.0} msg/s over flood + catch-up), lost at the broker {lost_at_broker}; \
             caught up {} ms after the flood ({markers_sent} markers sent); store budget {} MiB: peak stored {:.1} MiB, now {} messages \
             ({:.1} MiB), evicted {} ({:.1} MiB), refused {}; dropped in Meshscope {}; \
             longest model lock wait {} ms; RSS at start {} MiB, sampled max {} MiB, VmHWM {} MiB \
             (growth {} MiB; {} MiB of it in the flood's second half); reconnects {reconnects}",
            flood_took.as_secs_f64(),
            published as f64 / flood_took.as_secs_f64(),
            received as f64 / (flood_took + catch_up).as_secs_f64(),
            catch_up.as_millis(),
            FLOOD_STORE_BYTES >> 20,
            max_stored_bytes as f64 / 1048576.0,
            counters.stored_messages,
            counters.stored_bytes as f64 / 1048576.0,
            counters.evicted_messages,
            counters.evicted_bytes as f64 / 1048576.0,
            counters.refused_messages,
            model.messages_dropped,
            max_lock_wait.as_millis(),
            rss_start_kib >> 10,
            max_rss_kib >> 10,
            peak_kib >> 10,
            peak_kib.saturating_sub(rss_start_kib) >> 10,
            second_half_growth_kib >> 10,
        );
        assert!(
            caught_up,
            "the marker after the flood arrives (ingest never stalls {} s): state {state:?}",
            STALL_LIMIT.as_secs()
        );
        assert!(
            matches!(state, Some(ConnectionState::Connected { .. })) && reconnects == 0,
            "the session stayed connected through the flood: {state:?}, {reconnects} gaps"
        );
        // Ingest lets go of the model every 2 ms (`ingest::MAX_LOCK_HOLD`); the bound leaves
        // room for a debug build on two busy cores.
        assert!(
            max_lock_wait < Duration::from_millis(250),
            "a frame would have waited {} ms for the model during the flood",
            max_lock_wait.as_millis()
        );
        assert!(max_stored_bytes <= FLOOD_STORE_BYTES, "store within budget");
        assert!(counters.stored_bytes <= FLOOD_STORE_BYTES);
        assert!(counters.evicted_messages > 0, "the flood overflowed the budget");
        assert_eq!(model.messages_dropped, 0, "nothing is dropped inside Meshscope");
        // The RSS bound: the model's budget (store, mesh and headroom), plus what a debug test
        // process holds beside it in a flood: a full session -> ingest channel (8 192 events),
        // the allocator's slack with two arenas (`meshscope::allocator`), the sampler and the
        // flooding socket's buffers.
        let bound_kib = (FLOOD_STORE_BYTES as u64 >> 10) + (64 << 10);
        let growth_kib = peak_kib.saturating_sub(rss_start_kib);
        if peak_kib > 0 {
            assert!(
                growth_kib <= bound_kib,
                "RSS grew {} MiB, over the bound of {} MiB",
                growth_kib >> 10,
                bound_kib >> 10
            );
            assert!(
                second_half_growth_kib <= 16 << 10,
                "RSS still grew {} MiB in the flood's second half: memory is not bounded",
                second_half_growth_kib >> 10
            );
        }
        assert_eq!(
            counters.stored_messages as u64 + counters.evicted_messages,
            model.store.next_seq(),
            "every message is stored or counted as evicted"
        );
    });
}

#[test]
fn flood_for_a_minute_stays_within_budget_and_catches_up() {
    if support::mosquitto().is_none() {
        return;
    }
    run_child_test("faults::flood_child", "flood: ");
}

/// Runs the ignored test `name` of this binary in a child process (its memory figures are then
/// its own), niced so the tests running beside it keep their timing on two cores; prints the
/// child's lines that contain `result_marker` and fails when the child fails.
pub fn run_child_test(name: &str, result_marker: &str) {
    let exe = std::env::current_exe().expect("the test binary");
    let nice_works = std::process::Command::new("nice")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    let mut command = if nice_works {
        let mut c = std::process::Command::new("nice");
        c.arg("-n").arg("10").arg(&exe);
        c
    } else {
        std::process::Command::new(&exe)
    };
    let output = command
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run a test in a child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // libtest prints the child's own output after "test <name> ... ".
    for line in stdout.lines() {
        if let Some(at) = line.find(result_marker) {
            println!("{}", &line[at..]);
        }
    }
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} failed in its child process:\n{stdout}\n{stderr}"
    );
}
