//! Benchmark: UI frame CPU per view of the whole app at 1 000 000 stored messages, 100 000 traces, 1 000 participants (`cargo bench --bench view_frames`).
//!
//! Writes a 1 000 000-message recording (the format `meshscope::record` reads): retained cards
//! of 40 MQTT.Agent MCP servers with 6 tools each and 60 EMQX A2A agents, 100 000 OpenMAS traces
//! (640 callers, 20 services, a calculator they delegate to) and telemetry for the rest. Opens it
//! in a headless `MeshscopeApp` (the player's real ingest path), then runs the whole window
//! (menus, replay bar, status bar, the view) in an `egui::Context` of 1600x1000 points, switching
//! views with Ctrl+1..4 and moving the pointer across the view (and scrolling the message table).
//! Per frame it times `run_ui` + `tessellate` with this thread's CPU clock. The same views are
//! then timed alone (each `*_view_ui` on its own state and context) to tell the view's share
//! from the window around it, and the Messages view is timed while 2 000 messages land per frame.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Key, Modifiers, Pos2, RawInput, Rect, Ui, pos2, vec2};
use meshscope::app::{AppOptions, MeshscopeApp};
use meshscope::ingest::SharedModel;
use meshscope::model::{MeshConfig, Model, ModelConfig, StoreLimits};
use meshscope::protocol::{Properties, RawMessage};
use meshscope::record::player::PlayerStatus;
use meshscope::ui::composer::{ComposerViewState, composer_view_ui};
use meshscope::ui::presence::{PresenceViewState, presence_view_ui};
use meshscope::ui::raw_view::{RawViewState, raw_view_ui};
use meshscope::ui::timeline::{TimelineViewState, timeline_view_ui};
use meshscope::ui::{Action, View};

const MESSAGES: usize = 1_000_000;
const TRACES: usize = 100_000;
const CALLERS: u64 = 640;
const SERVICES: u64 = 20;
/// Each caller calls this many of the services (so the call graph has ~3 200 edges).
const SERVICES_PER_CALLER: u64 = 5;
const OPERATIONS: u64 = 8;
const MCP_SERVERS: usize = 40;
const TOOLS_PER_SERVER: usize = 6;
const A2A_AGENTS: usize = 60;
const DEVICES: u64 = 500;
const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;
const T0: u64 = 1_800_000_000 * SECOND;
/// The recording spans this much receive time.
const DURATION: u64 = 600 * SECOND;
/// Frames after a view has settled (or stopped warming up) before timing.
const WARMUP_FRAMES: usize = 20;
/// A view that never settles stops warming up after this many frames.
const MAX_WARMUP_FRAMES: usize = 300;
const FRAMES: usize = 120;
const FRAME_SECS: f64 = 1.0 / 60.0;
const BUDGET_MS: f64 = 4.0;
/// Messages applied between two frames in the live variant.
const LIVE_MESSAGES_PER_FRAME: usize = 2_000;
const SCREEN: Rect = Rect::from_min_max(Pos2::ZERO, pos2(1600.0, 1000.0));

#[path = "support/clock.rs"]
mod clock;
use clock::{cpu_now, monotonic_nanos};
#[path = "support/openmas.rs"]
mod openmas;
use openmas::{Rng, request, response};

// ---- the recording ------------------------------------------------------------------------

fn message(
    at_nanos: u64,
    topic: &str,
    payload: String,
    qos: u8,
    retain: bool,
    properties: Option<Box<Properties>>,
) -> RawMessage {
    RawMessage {
        received_at_nanos: at_nanos,
        topic: topic.as_bytes().into(),
        payload: Arc::from(payload.into_bytes()),
        qos,
        retain,
        dup: false,
        properties,
    }
}

fn server_card(s: usize, at: u64) -> RawMessage {
    let tools: Vec<String> = (0..TOOLS_PER_SERVER)
        .map(|t| format!("\"srv{s}_tool{t}\""))
        .collect();
    let status = if s % 9 == 4 { "offline" } else { "online" };
    message(
        at,
        &format!("a2a/v1/mcp/servers/server-{s}/card"),
        format!(
            "{{\"version\":\"1\",\"server\":\"server-{s}\",\"namespace\":\"a2a/v1\",\"tools\":[{}],\"version_info\":{{\"sdk\":\"0.1.0\"}},\"status\":\"{status}\",\"last_seen\":\"2027-01-15T08:00:00.000Z\"}}",
            tools.join(",")
        ),
        1,
        true,
        None,
    )
}

fn tool_card(s: usize, t: usize, at: u64) -> RawMessage {
    message(
        at,
        &format!("a2a/v1/mcp/tools/srv{s}_tool{t}/card"),
        format!(
            "{{\"version\":\"1\",\"tool\":\"srv{s}_tool{t}\",\"server\":\"server-{s}\",\"namespace\":\"a2a/v1\",\"description\":\"Tool {t} of server {s}\",\"input_schema\":{{\"type\":\"object\",\"properties\":{{\"q\":{{\"type\":\"string\"}}}}}},\"supports_streaming\":false,\"status\":\"online\",\"last_seen\":\"2027-01-15T08:00:00.000Z\"}}"
        ),
        1,
        true,
        None,
    )
}

/// An EMQX A2A agent card (the shape the PyPI `a2a-over-mqtt` SDK publishes, retained).
fn a2a_card(i: usize, at: u64) -> RawMessage {
    let status = if i % 11 == 3 { "offline" } else { "online" };
    message(
        at,
        &format!("$a2a/v1/discovery/bench/fleet/agent-{i:02}"),
        format!(
            "{{\"name\": \"Fleet agent {i}\", \"description\": \"Benchmark agent {i}\", \"version\": \"0.1.0\", \"supportedInterfaces\": [{{\"url\": \"mqtt://127.0.0.1:1883\", \"protocolBinding\": \"MQTTv5+JSONRPCv2\", \"protocolVersion\": \"1.0.0\"}}], \"capabilities\": {{\"streaming\": true, \"pushNotifications\": false}}, \"defaultInputModes\": [\"text/plain\"], \"defaultOutputModes\": [\"text/plain\"], \"skills\": [{{\"id\": \"skill-{i}\", \"name\": \"Skill {i}\", \"description\": \"Does thing {i}\", \"tags\": [\"bench\"]}}]}}"
        ),
        1,
        true,
        Some(Box::new(Properties {
            user_properties: vec![
                ("a2a-status".into(), status.into()),
                ("a2a-status-source".into(), "agent".into()),
            ],
            ..Properties::default()
        })),
    )
}

/// Sensor telemetry: plain MQTT, no dialect, ~130 B JSON.
fn telemetry(at: u64, i: u64) -> RawMessage {
    let device = i % DEVICES;
    message(
        at,
        &format!(
            "plant/site-{}/line-{:02}/dev-{device:04}/telemetry",
            device % 8,
            device % 25
        ),
        format!(
            r#"{{"device":"dev-{device:04}","seq":{i},"temp_c":{:.2},"humidity":{:.3},"vibration_mm_s":{:.2},"ts":{}}}"#,
            18.0 + (i % 700) as f64 / 100.0,
            0.3 + (i % 300) as f64 / 1000.0,
            (i % 97) as f64 / 10.0,
            at / MS
        ),
        0,
        false,
        None,
    )
}

/// The cards and the OpenMAS traffic (100 000 traces), in receive-time order.
fn agent_messages() -> Vec<RawMessage> {
    let mut out = Vec::with_capacity(TRACES * 2 + 400);
    let mut at = T0;
    for s in 0..MCP_SERVERS {
        out.push(server_card(s, at));
        for t in 0..TOOLS_PER_SERVER {
            out.push(tool_card(s, t, at));
        }
        at += MS;
    }
    for i in 0..A2A_AGENTS {
        out.push(a2a_card(i, at));
        at += MS;
    }
    // As `timeline_frame`: long-tailed latencies per operation, one call in five delegating to
    // the calculator, 4 % errors, 0.5 % never answered, the newest still pending at the end.
    let mut rng = Rng(0x7669_6577_6672_616d);
    let mut id = 0u64;
    let gap = DURATION / TRACES as u64 * 6 / 5;
    let end_of_recording = T0 + DURATION;
    while (id as usize) < TRACES {
        at += 1 + rng.below(2 * gap);
        let caller_n = rng.below(CALLERS);
        let caller = format!("agent-{caller_n:04}");
        let service_n = (caller_n * 7 + rng.below(SERVICES_PER_CALLER) * 3) % SERVICES;
        let service = format!("svc-{service_n:02}");
        let op = rng.below(OPERATIONS);
        let method = format!("op_{op}");
        let base = 5.0 * (1.0 + op as f64 * 8.0);
        let latency = ((base * (0.5 + rng.unit()).powf(3.0) * 2.0) * MS as f64) as u64 + MS;
        let end = at + latency;
        let roll = rng.below(1000);
        let pending = end > end_of_recording;
        out.push(request(at, id, &caller, &service, &method));
        let parent = id;
        id += 1;
        if roll.is_multiple_of(5) && (id as usize) < TRACES && latency > 4 * MS {
            out.push(request(at + latency / 4, id, &service, "calculator", "add"));
            if !pending {
                out.push(response(
                    at + latency * 3 / 4,
                    id,
                    &service,
                    "calculator",
                    false,
                ));
            }
            id += 1;
        }
        if !pending && roll >= 5 {
            out.push(response(end, parent, &caller, &service, roll < 45));
        }
    }
    out.sort_by_key(|m| m.received_at_nanos);
    out
}

struct Recording {
    path: PathBuf,
    agent_messages: usize,
    telemetry_messages: usize,
    last_nanos: u64,
    bytes: u64,
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes exactly `MESSAGES` messages: the agent traffic merged in time with telemetry.
fn write_recording(path: &Path) -> Recording {
    let agents = agent_messages();
    let telemetry_count = MESSAGES - agents.len();
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).expect("create the recording"),
    );
    meshscope::record::write_header(
        &meshscope::record::RecordingHeader::new(Some(T0), None),
        &mut out,
    )
    .expect("write");
    let telemetry_at =
        |i: usize| T0 + 500 * MS + (i as u128 * DURATION as u128 / telemetry_count as u128) as u64;
    let mut seq = 0u64;
    let mut last_nanos = T0;
    let mut next_telemetry = 0usize;
    let mut write = |raw: &RawMessage, out: &mut std::io::BufWriter<std::fs::File>| {
        seq += 1;
        last_nanos = last_nanos.max(raw.received_at_nanos);
        meshscope::record::write_line(raw, out, seq).expect("write");
    };
    for agent in &agents {
        while next_telemetry < telemetry_count
            && telemetry_at(next_telemetry) < agent.received_at_nanos
        {
            let raw = telemetry(telemetry_at(next_telemetry), next_telemetry as u64);
            write(&raw, &mut out);
            next_telemetry += 1;
        }
        write(agent, &mut out);
    }
    while next_telemetry < telemetry_count {
        let raw = telemetry(telemetry_at(next_telemetry), next_telemetry as u64);
        write(&raw, &mut out);
        next_telemetry += 1;
    }
    out.flush().expect("flush");
    drop(out);
    Recording {
        path: path.to_owned(),
        agent_messages: agents.len(),
        telemetry_messages: telemetry_count,
        last_nanos,
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
    }
}

// ---- frames -------------------------------------------------------------------------------

/// What is drawn: the whole app, or one view alone on its own state.
trait Target {
    fn draw(&mut self, ui: &mut Ui);
    /// The view has caught up with the model (rows built, layout settled); `texts` is what the
    /// frame drew, where the state is not reachable from outside.
    fn settled(&self, view: View, texts: &str) -> bool;
    /// Messages in the store (told beside a frame over budget).
    fn stored(&self) -> usize;
}

struct AppTarget {
    app: MeshscopeApp,
}

impl Target for AppTarget {
    fn draw(&mut self, ui: &mut Ui) {
        self.app.ui(ui);
    }

    fn settled(&self, view: View, texts: &str) -> bool {
        match view {
            View::Timeline => {
                let timeline = self.app.timeline_state();
                timeline.rebuild_progress().is_none()
                    && timeline.rows().total == self.app.model().lock().mesh.trace_count()
            }
            // The presence toolbar says "…, settling" until the layout has settled.
            View::Presence => texts.contains("call edges") && !texts.contains("settling"),
            View::Messages | View::Composer => true,
        }
    }

    fn stored(&self) -> usize {
        self.app.model().lock().store.len()
    }
}

struct AloneTarget {
    model: SharedModel,
    view: View,
    raw: RawViewState,
    presence: PresenceViewState,
    timeline: TimelineViewState,
    composer: ComposerViewState,
    actions: Vec<Action>,
}

impl Target for AloneTarget {
    fn draw(&mut self, ui: &mut Ui) {
        let now_nanos = self.model.clock().now_nanos();
        let model = self.model.lock();
        let actions = &mut self.actions;
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            View::Messages => raw_view_ui(ui, &model, &mut self.raw, actions),
            View::Presence => presence_view_ui(ui, &model, &mut self.presence, now_nanos, actions),
            View::Timeline => timeline_view_ui(ui, &model, &mut self.timeline, now_nanos, actions),
            View::Composer => composer_view_ui(ui, &model, &mut self.composer, now_nanos, actions),
        });
        // Views only push actions; nothing applies them here.
        actions.clear();
    }

    fn settled(&self, view: View, _texts: &str) -> bool {
        match view {
            View::Timeline => {
                self.timeline.rebuild_progress().is_none()
                    && self.timeline.rows().total == self.model.lock().mesh.trace_count()
            }
            View::Presence => self.presence.is_settled(),
            View::Messages | View::Composer => true,
        }
    }

    fn stored(&self) -> usize {
        self.model.lock().store.len()
    }
}

fn collect_texts(shape: &egui::Shape, out: &mut String) {
    match shape {
        egui::Shape::Text(text) => {
            out.push_str(text.galley.text());
            out.push('\n');
        }
        egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| collect_texts(s, out)),
        _ => {}
    }
}

struct Frames {
    ctx: egui::Context,
    time_secs: f64,
    /// Frames run so far (drives the pointer path).
    count: u64,
}

impl Frames {
    fn new() -> Self {
        Frames {
            ctx: egui::Context::default(),
            time_secs: 0.0,
            count: 0,
        }
    }

    /// One frame: `run_ui` + `tessellate`, timed with the thread's CPU clock. With
    /// `want_texts` it also returns the text drawn (gathered outside the timed part).
    fn run(
        &mut self,
        target: &mut dyn Target,
        events: Vec<Event>,
        want_texts: bool,
    ) -> (Duration, String) {
        self.time_secs += FRAME_SECS;
        self.count += 1;
        let input = RawInput {
            screen_rect: Some(SCREEN),
            time: Some(self.time_secs),
            events,
            ..RawInput::default()
        };
        let started = cpu_now();
        let mut output = self.ctx.run_ui(input, |ui| target.draw(ui));
        let ran = cpu_now().saturating_sub(started);
        let shapes = std::mem::take(&mut output.shapes);
        let mut texts = String::new();
        if want_texts {
            shapes
                .iter()
                .for_each(|s| collect_texts(&s.shape, &mut texts));
        }
        let started = cpu_now();
        let primitives = self.ctx.tessellate(shapes, output.pixels_per_point);
        let tessellated = cpu_now().saturating_sub(started);
        std::hint::black_box(primitives);
        // No renderer takes the texture updates; debug builds panic if they pile up.
        output.textures_delta.clear();
        (ran + tessellated, texts)
    }
}

/// A 0..1 triangle wave over `period` frames.
fn triangle(k: u64, period: u64) -> f32 {
    let phase = (k % period) as f32 / period as f32;
    1.0 - (2.0 * phase - 1.0).abs()
}

/// How a scenario drives a view.
struct Scenario {
    name: &'static str,
    view: View,
    /// The pointer sweeps this area (the view's part of the window).
    hover: Rect,
    /// Wheel-scroll up and down under the pointer.
    scroll: bool,
    /// Messages applied to the model between frames.
    live_messages: usize,
}

struct Figures {
    name: String,
    first_ms: Option<f64>,
    warmup_frames: usize,
    settled: bool,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    /// Timed frames over the budget: (index, milliseconds, messages stored then, monotonic
    /// start and end).
    over_budget: Vec<(usize, f64, usize, u64, u64)>,
}

/// New messages for the live variant: telemetry with an OpenMAS exchange now and then.
struct LiveFeed {
    next: u64,
    at_nanos: u64,
}

impl LiveFeed {
    fn apply(&mut self, model: &SharedModel, count: usize) {
        let mut model = model.lock();
        for _ in 0..count {
            self.at_nanos += MS / 4;
            self.next += 1;
            let i = self.next;
            let raw = if i.is_multiple_of(10) {
                let caller = format!("agent-{:04}", i % CALLERS);
                let service = format!("svc-{:02}", i % SERVICES);
                if i.is_multiple_of(20) {
                    request(self.at_nanos, 50_000_000 + i, &caller, &service, "op_1")
                } else {
                    response(self.at_nanos, 50_000_000 + i - 10, &caller, &service, false)
                }
            } else {
                telemetry(self.at_nanos, 10_000_000 + i)
            };
            model.apply_message(raw);
        }
    }
}

fn frame_events(frames: &Frames, scenario: &Scenario) -> Vec<Event> {
    let k = frames.count;
    let area = scenario.hover;
    let at = pos2(
        area.min.x + area.width() * triangle(k, 173),
        area.min.y + area.height() * triangle(k, 61),
    );
    let mut events = vec![Event::PointerMoved(at)];
    if scenario.scroll {
        // 40 frames up, 40 frames down: the table starts at the bottom (following the newest).
        let up = (k / 40).is_multiple_of(2);
        events.push(Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: vec2(0.0, if up { 60.0 } else { -60.0 }),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
            modifiers: Modifiers::NONE,
        });
    }
    events
}

/// Warms the view up until it has settled (bounded), then times `FRAMES` frames.
fn measure(
    frames: &mut Frames,
    target: &mut dyn Target,
    scenario: &Scenario,
    first_ms: Option<f64>,
    mut live: Option<(&SharedModel, &mut LiveFeed)>,
) -> Figures {
    let feed = |live: &mut Option<(&SharedModel, &mut LiveFeed)>| {
        if let Some((model, feed)) = live {
            feed.apply(model, scenario.live_messages);
        }
    };
    let mut warmup_frames = 0;
    let mut settled = false;
    while warmup_frames < MAX_WARMUP_FRAMES {
        feed(&mut live);
        let events = frame_events(frames, scenario);
        let (_, texts) = frames.run(target, events, true);
        warmup_frames += 1;
        if target.settled(scenario.view, &texts) {
            settled = true;
            break;
        }
    }
    for _ in 0..WARMUP_FRAMES {
        feed(&mut live);
        let events = frame_events(frames, scenario);
        frames.run(target, events, false);
        warmup_frames += 1;
    }
    let mut over_budget = Vec::new();
    let mut times: Vec<f64> = (0..FRAMES)
        .map(|i| {
            feed(&mut live);
            let events = frame_events(frames, scenario);
            let started = monotonic_nanos();
            let ms = frames.run(target, events, false).0.as_secs_f64() * 1e3;
            if ms > BUDGET_MS {
                let ended = monotonic_nanos();
                over_budget.push((i, ms, target.stored(), started, ended));
            }
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Figures {
        name: scenario.name.to_owned(),
        first_ms,
        warmup_frames,
        settled,
        median_ms: times[times.len() / 2],
        p95_ms: times[(times.len() * 95).div_ceil(100) - 1],
        max_ms: times[times.len() - 1],
        over_budget,
    }
}

/// A key press and release with `modifiers` held.
fn key_events(key: Key, modifiers: Modifiers) -> Vec<Event> {
    let mut events = vec![Event::ModifiersChanged(modifiers)];
    events.extend([true, false].into_iter().map(|pressed| Event::Key {
        key,
        physical_key: None,
        pressed,
        repeat: false,
        modifiers,
    }));
    events.push(Event::ModifiersChanged(Modifiers::NONE));
    events
}

/// Text only that view draws (checked on the first frame after a switch).
fn marker(view: View) -> &'static str {
    match view {
        View::Messages => "Topic filter",
        View::Presence => "Re-layout",
        View::Timeline => "Group by",
        View::Composer => "Find",
    }
}

/// Switches the app to `view` with its Ctrl+N shortcut; returns the new view's first frame.
fn switch_view(frames: &mut Frames, target: &mut AppTarget, view: View) -> f64 {
    // Ctrl on Linux sets both `ctrl` and `command`, as eframe's integration does.
    let ctrl = Modifiers::CTRL | Modifiers::COMMAND;
    let (_, _) = frames.run(target, key_events(view.key(), ctrl), false);
    let (first, texts) = frames.run(target, Vec::new(), true);
    assert!(
        texts.contains(marker(view)),
        "the {view:?} view is not on screen after Ctrl+{view:?}"
    );
    first.as_secs_f64() * 1e3
}

fn print_table(title: &str, rows: &[Figures]) {
    println!();
    println!("{title}");
    println!();
    println!(
        "| view | median ms | p95 ms | max ms | budget {BUDGET_MS} ms | met? | first frame ms | warm-up frames |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for f in rows {
        let met = if f.max_ms <= BUDGET_MS {
            "yes"
        } else if f.p95_ms <= BUDGET_MS {
            "p95 yes, max NO"
        } else {
            "NO"
        };
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {BUDGET_MS} | {met} | {} | {}{} |",
            f.name,
            f.median_ms,
            f.p95_ms,
            f.max_ms,
            f.first_ms.map_or("–".to_owned(), |ms| format!("{ms:.1}")),
            f.warmup_frames,
            if f.settled { "" } else { " (never settled)" },
        );
    }
    for f in rows.iter().filter(|f| !f.over_budget.is_empty()) {
        let frames: Vec<String> = f
            .over_budget
            .iter()
            .map(|&(i, ms, stored, started, ended)| {
                let mut text = format!("#{i} {ms:.2} ms at {stored} stored");
                if std::env::var_os("VIEW_FRAMES_MONOTONIC").is_some() {
                    text.push_str(&format!(" (CLOCK_MONOTONIC {started}..{ended} ns)"));
                }
                text
            })
            .collect();
        println!("  over budget in \"{}\": {}", f.name, frames.join(", "));
    }
}

fn model_line(model: &Model) -> String {
    let counters = model.store.counters();
    format!(
        "{} messages stored ({} MiB accounted, {} evicted, {} received), {} traces, {} participants, {} call edges",
        counters.stored_messages,
        counters.stored_bytes >> 20,
        counters.evicted_messages,
        model.messages_total,
        model.mesh.trace_count(),
        model.mesh.participant_count(),
        model.mesh.edges().len(),
    )
}

fn main() {
    // As the app does first thing (`src/main.rs`).
    meshscope::allocator::limit_arenas();
    if cfg!(debug_assertions) {
        eprintln!("note: a debug build is 10-20x slower; run `cargo bench --bench view_frames`");
    }
    let started = Instant::now();
    let path = std::env::temp_dir().join(format!(
        "meshscope-view-frames-{}.jsonl",
        std::process::id()
    ));
    let recording = write_recording(&path);
    let written_secs = started.elapsed().as_secs_f64();

    // Nothing evicted: 1 000 000 messages fit the store, 100 000 traces fit the mesh (whose cap
    // `Model::new` lowers to a quarter of the byte budget at 1 KiB a trace: 512 Ki here).
    let config = ModelConfig {
        store: StoreLimits {
            max_messages: 2_000_000,
            max_bytes: 2 << 30,
        },
        mesh: MeshConfig {
            max_traces: 200_000,
            ..MeshConfig::default()
        },
    };
    let opened = Instant::now();
    let app = MeshscopeApp::new(
        AppOptions {
            open: Some(recording.path.clone()),
            view: View::Messages,
            model: config,
            ..AppOptions::default()
        },
        None,
    )
    .expect("the app starts");
    let (status, ready) = app
        .wait_for_replay(Duration::from_secs(900), PlayerStatus::is_ready)
        .expect("a recording is open");
    assert!(ready, "the recording did not open: {status:?}");
    let open_secs = opened.elapsed().as_secs_f64();
    let shared = app.model().clone();
    let counts = model_line(&shared.lock());
    println!(
        "view_frames: recording of {} messages ({} agent/card messages, {} telemetry; {} MiB) written in {written_secs:.1} s, opened by the app in {open_secs:.1} s (player load {} ms)",
        recording.agent_messages + recording.telemetry_messages,
        recording.agent_messages,
        recording.telemetry_messages,
        recording.bytes >> 20,
        status.load_millis.unwrap_or(0),
    );
    println!("model: {counts}");
    println!(
        "whole app (MeshscopeApp::ui: menus, replay bar, status bar, view) in a headless egui::Context, {}x{} points, replay position at the end of the recording; views switched with Ctrl+1..4; per frame run_ui + tessellate, this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), release build",
        SCREEN.width(),
        SCREEN.height()
    );

    let mut frames = Frames::new();
    let mut target = AppTarget { app };
    let whole = Rect::from_min_max(pos2(10.0, 60.0), pos2(1590.0, 950.0));
    // The message table is left of the 460-point details panel.
    let table = Rect::from_min_max(pos2(10.0, 90.0), pos2(1120.0, 940.0));
    let mut rows = Vec::new();

    // The app starts on Messages: its first frame lists 1 000 000 messages (and builds egui's fonts).
    let (first, texts) = frames.run(&mut target, Vec::new(), true);
    assert!(texts.contains(marker(View::Messages)));
    let messages = Scenario {
        name: "Messages (hover + wheel scrolling)",
        view: View::Messages,
        hover: table,
        scroll: true,
        live_messages: 0,
    };
    rows.push(measure(
        &mut frames,
        &mut target,
        &messages,
        Some(first.as_secs_f64() * 1e3),
        None,
    ));
    for (name, view) in [
        ("Presence (map, hover)", View::Presence),
        ("Timeline (follow live, hover)", View::Timeline),
        ("Composer (hover)", View::Composer),
    ] {
        let first = switch_view(&mut frames, &mut target, view);
        let scenario = Scenario {
            name,
            view,
            hover: whole,
            scroll: false,
            live_messages: 0,
        };
        rows.push(measure(
            &mut frames,
            &mut target,
            &scenario,
            Some(first),
            None,
        ));
    }
    // Back to Messages with the newest message selected (payload tree and properties shown).
    switch_view(&mut frames, &mut target, View::Messages);
    frames.run(
        &mut target,
        key_events(Key::ArrowUp, Modifiers::NONE),
        false,
    );
    let (first, texts) = frames.run(&mut target, Vec::new(), true);
    assert!(
        texts.contains("Received (UTC)"),
        "a message is selected: its properties are shown"
    );
    rows.push(measure(
        &mut frames,
        &mut target,
        &Scenario {
            name: "Messages, newest selected (payload + properties)",
            view: View::Messages,
            hover: table,
            scroll: true,
            live_messages: 0,
        },
        Some(first.as_secs_f64() * 1e3),
        None,
    ));
    print_table("Whole app, 1 000 000 messages stored", &rows);

    // The same views alone: what the view costs without the window around it.
    let mut alone_rows = Vec::new();
    for (name, view, hover, scroll) in [
        ("Messages alone (raw_view_ui)", View::Messages, table, true),
        (
            "Presence alone (presence_view_ui)",
            View::Presence,
            whole,
            false,
        ),
        (
            "Timeline alone (timeline_view_ui)",
            View::Timeline,
            whole,
            false,
        ),
        (
            "Composer alone (composer_view_ui)",
            View::Composer,
            whole,
            false,
        ),
    ] {
        let mut alone = AloneTarget {
            model: shared.clone(),
            view,
            raw: RawViewState::default(),
            presence: PresenceViewState::default(),
            timeline: TimelineViewState::default(),
            composer: ComposerViewState::default(),
            actions: Vec::new(),
        };
        let mut frames = Frames::new();
        let (first, _) = frames.run(&mut alone, Vec::new(), false);
        let scenario = Scenario {
            name,
            view,
            hover,
            scroll,
            live_messages: 0,
        };
        alone_rows.push(measure(
            &mut frames,
            &mut alone,
            &scenario,
            Some(first.as_secs_f64() * 1e3),
            None,
        ));
    }
    print_table(
        "Each view alone (its *_view_ui in a CentralPanel, own context and state), same model",
        &alone_rows,
    );

    // Live: 2 000 messages land between frames (the store grows), the table follows the newest.
    let mut live_target = AloneTarget {
        model: shared.clone(),
        view: View::Messages,
        raw: RawViewState::default(),
        presence: PresenceViewState::default(),
        timeline: TimelineViewState::default(),
        composer: ComposerViewState::default(),
        actions: Vec::new(),
    };
    let mut feed = LiveFeed {
        next: 0,
        at_nanos: recording.last_nanos,
    };
    let live = Scenario {
        name: "Messages live, whole app (2 000 msgs/frame, newest selected)",
        view: View::Messages,
        hover: table,
        scroll: false,
        live_messages: LIVE_MESSAGES_PER_FRAME,
    };
    let mut live_rows = vec![measure(
        &mut frames,
        &mut target,
        &live,
        None,
        Some((&shared, &mut feed)),
    )];
    let mut live_frames = Frames::new();
    let (first, _) = live_frames.run(&mut live_target, Vec::new(), false);
    live_rows.push(measure(
        &mut live_frames,
        &mut live_target,
        &Scenario {
            name: "Messages live, raw_view_ui alone (2 000 msgs/frame, following newest)",
            ..live
        },
        Some(first.as_secs_f64() * 1e3),
        Some((&shared, &mut feed)),
    ));
    print_table("Live: 2 000 messages applied between frames", &live_rows);
    println!();
    println!("model after the live runs: {}", model_line(&shared.lock()));
    println!(
        "budget: {BUDGET_MS} ms of CPU per frame (DESIGN.md); `met?` is judged on every timed frame (max) and on p95; the first frame of a view is shown apart. Total run {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    // Freeing a 1 000 000-message model takes a while and measures nothing.
    std::mem::forget(target);
    std::mem::forget(live_target);
}
