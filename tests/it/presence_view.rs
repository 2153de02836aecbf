//! Presence map view tests: headless (egui_kittest) on the real-SDK capture, driven by labels, actions asserted.

use std::path::Path;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use meshscope::model::{Model, ModelConfig};
use meshscope::protocol::{Dialect, ParticipantKind, RawMessage};
use meshscope::ui::presence::{PresenceViewState, presence_view_ui};
use meshscope::ui::{Action, ParticipantRef};

struct PresenceHarness {
    model: Model,
    view: PresenceViewState,
    actions: Vec<Action>,
    now_nanos: u64,
}

fn fixture_messages() -> Vec<RawMessage> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/peers-mesh/capture.jsonl");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meshscope::record::read_jsonl(std::io::BufReader::new(file))
        .map(|m| m.expect("fixture line"))
        .collect()
}

/// The capture applied to a model; "now" is a few seconds after its end (pulses and flashes are over).
fn fixture_model() -> (Model, u64) {
    let mut model = Model::new(ModelConfig::default());
    let mut last = 0;
    for raw in fixture_messages() {
        last = last.max(raw.received_at_nanos);
        model.apply_message(raw);
    }
    let now = last + 5_000_000_000;
    model.tick(now);
    (model, now)
}

fn harness_with(
    model: Model,
    now_nanos: u64,
    view: PresenceViewState,
) -> Harness<'static, PresenceHarness> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .with_max_steps(20)
        .build_ui_state(
            |ui, state: &mut PresenceHarness| {
                presence_view_ui(
                    ui,
                    &state.model,
                    &mut state.view,
                    state.now_nanos,
                    &mut state.actions,
                );
            },
            PresenceHarness {
                model,
                view,
                actions: Vec::new(),
                now_nanos,
            },
        );
    harness.run();
    harness
}

fn harness() -> Harness<'static, PresenceHarness> {
    let (model, now) = fixture_model();
    harness_with(model, now, PresenceViewState::default())
}

fn planner() -> ParticipantRef {
    ParticipantRef {
        dialect: Dialect::EmqxA2a,
        kind: ParticipantKind::Agent,
        participant_id: "peers/lab/planner".into(),
    }
}

#[test]
fn selecting_a_node_by_its_label_pushes_the_selection_and_opens_its_details() {
    let mut harness = harness();
    assert!(
        harness.state().view.is_settled(),
        "a small mesh is laid out before it is shown"
    );
    assert!(
        harness.query_by_label("Status history (2)").is_none(),
        "no details before a selection"
    );
    harness.get_by_label("Planner Agent").click();
    harness.run();

    let selected: Vec<&ParticipantRef> = harness
        .state()
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::SelectParticipant(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(selected, vec![&planner()]);
    assert_eq!(
        harness.state().view.selected_key(),
        Some("emqx-a2a|agent|peers/lab/planner")
    );
    // The details panel: the card, its skills, the history, the latency summary, the composer button.
    harness.get_by_label("Card");
    harness.get_by_label("Skills (1)");
    harness.get_by_label("Latency");
    harness.get_by_label("Recent traces");
    assert!(harness.query_by_label_contains("Status history").is_some());
    harness.get_by_label("Call\u{2026}").click();
    harness.run();
    assert!(
        harness
            .state()
            .actions
            .contains(&Action::OpenComposer(planner())),
        "the details panel's Call button opens the composer on the selected participant"
    );
}

#[test]
fn a_tool_shows_its_input_schema_and_its_server() {
    let mut harness = harness();
    harness.get_by_label("divide").click();
    harness.run();
    assert_eq!(
        harness.state().view.selected_key(),
        Some("mqtt-agent-mcp|tool|divide")
    );
    harness.get_by_label("Input schema");
    harness.get_by_label("served by");
    // Recent traces link to the timeline.
    let before = harness.state().actions.len();
    // A recent trace's operation (MQTT.Agent MCP names a tool call "call") is a button.
    harness
        .get_all_by_role_and_label(egui::accesskit::Role::Button, "call")
        .next()
        .expect("a recent call to divide in the details")
        .click();
    harness.run();
    let after = &harness.state().actions[before..];
    assert!(
        after
            .iter()
            .any(|a| matches!(a, Action::SelectTrace(Some(_)))),
        "clicking a recent trace opens it: {after:?}"
    );
}

#[test]
fn the_search_box_filters_nodes() {
    let mut harness = harness();
    for name in [
        "Echo Agent",
        "Summarizer Agent",
        "om-calculator",
        "mcp-tools-server",
    ] {
        assert!(
            harness.query_by_label(name).is_some(),
            "{name} is on the map"
        );
    }
    harness.get_by_label("Search").click();
    harness.run();
    harness.get_by_label("Search").type_text("summar");
    harness.run();
    assert!(harness.query_by_label("Summarizer Agent").is_some());
    for name in ["Echo Agent", "om-calculator", "mcp-tools-server"] {
        assert!(
            harness.query_by_label(name).is_none(),
            "{name} does not match \"summar\""
        );
    }

    // By dialect and status: every word must match.
    harness.get_by_label("Clear").click();
    harness.run();
    harness.get_by_label("Search").click();
    harness.run();
    harness.get_by_label("Search").type_text("openmas online");
    harness.run();
    assert!(harness.query_by_label("om-calculator").is_some());
    assert!(harness.query_by_label("om-planner").is_some());
    for name in ["Echo Agent", "Summarizer Agent", "echo", "mcp-agent-scout"] {
        assert!(
            harness.query_by_label(name).is_none(),
            "{name} is not an online OpenMAS agent"
        );
    }
}

fn top(harness: &Harness<'_, PresenceHarness>, label: &str) -> f32 {
    harness.get_by_label(label).rect().top()
}

#[test]
fn the_table_sorts_by_a_clicked_header() {
    let mut harness = harness();
    harness.get_by_label("Table").click();
    harness.run();
    // Calls in: most first, then fewest first.
    harness.get_by_label("Calls in").click();
    harness.run();
    assert!(
        top(&harness, "Echo Agent") < top(&harness, "om-calculator"),
        "89 calls before 66"
    );
    assert!(
        top(&harness, "om-calculator") < top(&harness, "slow_lookup"),
        "66 calls before 21"
    );
    harness.get_by_label("Calls in").click();
    harness.run();
    assert!(top(&harness, "Echo Agent") > top(&harness, "om-calculator"));
    assert!(top(&harness, "om-calculator") > top(&harness, "slow_lookup"));
    // Name: A to Z, then Z to A.
    harness.get_by_label("Name").click();
    harness.run();
    assert!(top(&harness, "count_stream") < top(&harness, "divide"));
    assert!(top(&harness, "divide") < top(&harness, "slow_lookup"));
    harness.get_by_label("Name").click();
    harness.run();
    assert!(top(&harness, "count_stream") > top(&harness, "divide"));
    assert!(top(&harness, "divide") > top(&harness, "slow_lookup"));
    // A row selects its participant.
    harness.get_by_label("Planner Agent").click();
    harness.run();
    assert!(
        harness
            .state()
            .actions
            .contains(&Action::SelectParticipant(planner()))
    );
}

#[test]
fn a_server_folds_its_tools_into_itself() {
    let mut harness = harness();
    for tool in ["echo", "divide", "slow_lookup", "count_stream"] {
        assert!(
            harness.query_by_label(tool).is_some(),
            "{tool} is drawn around its server"
        );
    }
    harness.get_by_label("mcp-tools-server").click();
    harness.run();
    harness.get_by_label("Fold tools").click();
    harness.run();
    for tool in ["echo", "divide", "slow_lookup", "count_stream"] {
        assert!(
            harness.query_by_label(tool).is_none(),
            "{tool} is folded into its server"
        );
    }
    // Its tools are still listed in the server's details.
    harness.get_by_label("Tools (4)");
    harness.get_by_label("Show tools").click();
    harness.run();
    assert!(harness.query_by_label("divide").is_some());
}

/// Without a screen reader only the node under the pointer is a widget: clicking and dragging
/// must work the same (this is how the app runs).
#[test]
fn pointer_click_and_drag_work_without_accessibility() {
    let mut harness = harness();
    let planner_at = harness.get_by_label("Planner Agent").rect().center();
    let calculator_at = harness.get_by_label("om-calculator").rect().center();
    let key = "openmas|agent|om-calculator";
    let before = harness.state().view.node_position(key).unwrap();
    harness.state_mut().view.force_pointer_hit_testing();
    harness.run();
    assert!(
        harness.query_by_label("Planner Agent").is_none(),
        "nodes are no longer all widgets"
    );

    // A drag moves and pins the node (and stops the map fitting itself, so nothing else moves).
    harness.hover_at(calculator_at);
    harness.run();
    harness.drag_at(calculator_at);
    harness.run();
    for step in 1..=4 {
        harness.hover_at(calculator_at + egui::vec2(20.0 * step as f32, 10.0 * step as f32));
        harness.run();
    }
    harness.drop_at(calculator_at + egui::vec2(80.0, 40.0));
    harness.run();
    let after = harness.state().view.node_position(key).unwrap();
    assert!(
        after[0] - before[0] > 40.0 && after[1] - before[1] > 20.0,
        "dragged from {before:?} to {after:?}"
    );
    assert!(
        harness.state().view.node_pinned(key),
        "a dragged node stays where it was put"
    );
    assert!(
        harness.state().actions.is_empty(),
        "a drag is not a selection"
    );

    // A click selects.
    harness.hover_at(planner_at);
    harness.run();
    harness.drag_at(planner_at);
    harness.run();
    harness.drop_at(planner_at);
    harness.run();
    assert_eq!(
        harness.state().actions,
        vec![Action::SelectParticipant(planner())]
    );
    assert!(
        !harness
            .state()
            .view
            .node_pinned("emqx-a2a|agent|peers/lab/planner"),
        "a click does not pin"
    );
}

#[test]
fn another_view_can_select_a_participant() {
    let (model, now) = fixture_model();
    let mut view = PresenceViewState::default();
    view.select(planner());
    let harness = harness_with(model, now, view);
    assert_eq!(
        harness.state().view.selected_key(),
        Some("emqx-a2a|agent|peers/lab/planner")
    );
    harness.get_by_label("Skills (1)");
    assert!(
        harness.state().actions.is_empty(),
        "selecting from outside pushes nothing back"
    );
}

#[test]
fn node_positions_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!(
        "meshscope-presence-{}-{}",
        std::process::id(),
        meshscope::now_nanos()
    ));
    let path = dir.join("layout.json");
    let harness = harness();
    let keys = [
        "emqx-a2a|agent|peers/lab/planner",
        "mqtt-agent-mcp|tool|divide",
        "openmas|agent|om-calculator",
    ];
    let before: Vec<[f32; 2]> = keys
        .iter()
        .map(|k| harness.state().view.node_position(k).expect(k))
        .collect();
    harness.state().view.save_layout(&path).expect("save");
    drop(harness);

    let (model, now) = fixture_model();
    let mut view = PresenceViewState::default();
    view.load_layout(&path).expect("load");
    let harness = harness_with(model, now, view);
    let after: Vec<[f32; 2]> = keys
        .iter()
        .map(|k| harness.state().view.node_position(k).expect(k))
        .collect();
    assert_eq!(before, after);

    // A missing file is a first start, garbage is an error (never a panic).
    assert!(
        PresenceViewState::default()
            .load_layout(&dir.join("missing.json"))
            .is_ok()
    );
    std::fs::write(dir.join("bad.json"), b"{\"version\": 1, \"nodes\": 7}").unwrap();
    assert!(
        PresenceViewState::default()
            .load_layout(&dir.join("bad.json"))
            .is_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
