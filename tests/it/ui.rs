//! Headless UI tests (egui_kittest): widgets are found and driven by their labels, actions asserted.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use meshscope::model::{Model, ModelConfig};
use meshscope::protocol::{Properties, RawMessage};
use meshscope::settings::Profile;
use meshscope::ui::Action;
use meshscope::ui::connection_dialog::{ConnectionDialogState, connection_dialog_ui};
use meshscope::ui::raw_view::{RawViewState, raw_view_ui};

struct DialogHarness {
    dialog: ConnectionDialogState,
    profiles: Vec<Profile>,
    actions: Vec<Action>,
}

fn dialog_harness(profiles: Vec<Profile>) -> Harness<'static, DialogHarness> {
    let mut dialog = ConnectionDialogState::default();
    dialog.open_with(Profile::default());
    Harness::builder()
        .with_size(egui::vec2(900.0, 700.0))
        .build_ui_state(
            |ui, state: &mut DialogHarness| {
                connection_dialog_ui(ui, &mut state.dialog, &state.profiles, &mut state.actions);
            },
            DialogHarness {
                dialog,
                profiles,
                actions: Vec::new(),
            },
        )
}

#[test]
fn connection_dialog_explains_why_the_last_attempt_failed() {
    let mut harness = dialog_harness(Vec::new());
    harness.run();
    assert!(
        harness
            .query_by_label_contains("Could not connect")
            .is_none()
    );
    let reason = "the server's certificate for 127.0.0.1 has expired: it was valid until 2020-01-01 00:00:00 UTC; presented certificate: subject \"CN=broker.lab\"";
    harness.state_mut().dialog.connection_problem =
        Some(("mqtts://127.0.0.1:8883".into(), reason.into()));
    harness.run();
    let shown = harness.query_by_label_contains("Could not connect to mqtts://127.0.0.1:8883");
    assert!(shown.is_some(), "the dialog says which broker failed");
    assert!(
        harness
            .query_by_label_contains("has expired: it was valid until 2020-01-01")
            .is_some()
            && harness.query_by_label_contains("CN=broker.lab").is_some(),
        "the dialog explains the certificate problem with the presented certificate"
    );
    // Connected again: the explanation goes.
    harness.state_mut().dialog.connection_problem = None;
    harness.run();
    assert!(
        harness
            .query_by_label_contains("Could not connect")
            .is_none()
    );
}

#[test]
fn connection_dialog_connects_with_typed_fields_and_saves_no_password() {
    let mut harness = dialog_harness(Vec::new());
    harness.get_by_label("Broker URL").click();
    harness.run();
    harness
        .get_by_label("Broker URL")
        .type_text("mqtt://127.0.0.1:1883");
    harness.get_by_label("Username").click();
    harness.run();
    harness.get_by_label("Username").type_text("ops");
    harness.get_by_label("Password").click();
    harness.run();
    harness.get_by_label("Password").type_text("s3cret");
    harness.get_by_label("Profile name").click();
    harness.run();
    harness.get_by_label("Profile name").type_text("lab");
    harness.run();
    harness.get_by_label("Save profile").click();
    harness.run();
    harness.get_by_label("Connect").click();
    harness.run();

    let actions = &harness.state().actions;
    let saved = actions.iter().find_map(|a| match a {
        Action::SaveProfile(p) => Some(p.clone()),
        _ => None,
    });
    let saved = saved.expect("Save profile pushes an action");
    assert_eq!(saved.name, "lab");
    assert_eq!(saved.broker_url, "mqtt://127.0.0.1:1883");
    assert_eq!(saved.username, "ops");
    let json = serde_json::to_string(&saved).unwrap();
    assert!(
        !json.contains("s3cret"),
        "a saved profile must not carry the password: {json}"
    );

    let connect = actions.iter().find_map(|a| match a {
        Action::Connect { profile, password } => Some((profile.clone(), password.clone())),
        _ => None,
    });
    let (profile, password) = connect.expect("Connect pushes an action");
    assert_eq!(profile.broker_url, "mqtt://127.0.0.1:1883");
    let password = password.expect("the typed password");
    assert_eq!(password.expose(), "s3cret");
    assert!(
        !format!("{:?}", actions).contains("s3cret"),
        "the Connect action never prints the password"
    );
    assert!(
        harness.state().dialog.password.is_empty(),
        "the typed password is handed over, not kept"
    );
}

#[test]
fn connection_dialog_picks_a_saved_profile() {
    let profiles = vec![
        Profile {
            name: "alpha".into(),
            broker_url: "mqtt://alpha:1883".into(),
            ..Profile::default()
        },
        Profile {
            name: "beta".into(),
            broker_url: "mqtts://beta:8883".into(),
            ..Profile::default()
        },
    ];
    let mut harness = dialog_harness(profiles);
    harness.get_by_label("Saved profile").click();
    harness.run();
    harness.get_by_label("beta").click();
    harness.run();
    assert_eq!(harness.state().dialog.draft.broker_url, "mqtts://beta:8883");
    harness.get_by_label("Cancel").click();
    harness.run();
    assert!(!harness.state().dialog.open);
}

struct RawHarness {
    model: Model,
    raw: RawViewState,
    actions: Vec<Action>,
}

fn message(at: u64, topic: &str, payload: &str) -> RawMessage {
    RawMessage::new(at, topic, payload.as_bytes().to_vec())
}

fn raw_harness() -> Harness<'static, RawHarness> {
    let mut model = Model::new(ModelConfig::default());
    model.apply_message(message(1_000, "factory/line1/temp", "21.5"));
    model.apply_message(message(
        2_000,
        "agents/planner/status",
        r#"{"status":"online"}"#,
    ));
    let mut with_props = message(3_000, "rpc/math/add", "[1,2,3]");
    with_props.properties = Some(Box::new(Properties {
        response_topic: Some("replies/math/client-7".into()),
        correlation_data: Some(vec![0xde, 0xad, 0xbe, 0xef]),
        user_properties: vec![("k".into(), "v1".into()), ("k".into(), "v2".into())],
        ..Properties::default()
    }));
    model.apply_message(with_props);
    let mut bad = message(4_000, "x", "");
    bad.topic = vec![b'b', b'a', b'd', 0xff, b'/', b't'].into_boxed_slice();
    bad.payload = vec![0u8, 159, 146, 150].into();
    model.apply_message(bad);
    // Wire data may hold any character; the app draws a box for a missing glyph, so do the tests.
    Harness::builder()
        .with_size(egui::vec2(1400.0, 800.0))
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, state: &mut RawHarness| {
                raw_view_ui(ui, &state.model, &mut state.raw, &mut state.actions)
            },
            RawHarness {
                model,
                raw: RawViewState::default(),
                actions: Vec::new(),
            },
        )
}

#[test]
fn raw_view_filter_takes_mqtt_wildcards_and_substrings() {
    let mut harness = raw_harness();
    harness.run();
    assert!(harness.query_by_label("factory/line1/temp").is_some());
    assert!(harness.query_by_label("agents/planner/status").is_some());

    harness.get_by_label("Topic filter").click();
    harness.run();
    harness
        .get_by_label("Topic filter")
        .type_text("agents/+/status");
    harness.run();
    assert!(
        harness.query_by_label("factory/line1/temp").is_none(),
        "the wildcard filter hides other topics"
    );
    assert!(harness.query_by_label("agents/planner/status").is_some());
    assert_eq!(harness.state().raw.match_count(), 1);

    harness.state_mut().raw.set_filter("LINE1");
    harness.run();
    assert!(
        harness.query_by_label("factory/line1/temp").is_some(),
        "plain text is a case-insensitive substring"
    );
    assert!(harness.query_by_label("agents/planner/status").is_none());
}

#[test]
fn raw_view_selection_shows_properties_and_binary_safely() {
    let mut harness = raw_harness();
    harness.run();
    harness.get_by_label("rpc/math/add").click();
    harness.run();
    assert_eq!(harness.state().raw.selected_seq, Some(2));
    assert!(
        harness.query_by_label("replies/math/client-7").is_some(),
        "Response Topic is shown"
    );
    assert!(
        harness.query_by_label("deadbeef").is_some(),
        "Correlation Data shown as hex"
    );
    assert_eq!(
        harness.query_all_by_label("k").count(),
        2,
        "repeated user property keys both shown, in order"
    );

    // A non-UTF-8 topic and payload: shown with replacement characters and as hex, never a panic.
    harness.get_by_label("bad\\xff/t").click();
    harness.run();
    assert_eq!(harness.state().raw.selected_seq, Some(3));
    assert!(
        harness.query_by_label_contains("00 9f 92 96").is_some(),
        "binary payload as a hex dump"
    );

    harness.get_by_label("Save payload…").click();
    harness.run();
    assert!(
        harness
            .state()
            .actions
            .contains(&Action::SavePayload { seq: 3 })
    );
}

#[test]
fn a_16_mb_payload_is_read_off_the_ui_thread_and_then_shown() {
    let mut harness = raw_harness();
    let mut big = String::from("{\"items\":[");
    while big.len() < 16 * 1024 * 1024 {
        big.push_str("{\"k\":\"0123456789abcdef\",\"n\":12345},");
    }
    big.push_str("0]}");
    harness
        .state_mut()
        .model
        .apply_message(message(5_000, "bulk/upload", &big));
    harness.run();
    harness.get_by_label("bulk/upload").click();
    // The frame that selects it only starts the work: the next one says it is reading (a 16 MB
    // parse takes far longer than a frame).
    harness.step();
    harness.step();
    assert!(
        harness
            .query_by_label_contains("Reading a 16.0 MiB payload")
            .is_some(),
        "the pane shows progress instead of blocking the frame"
    );
    let started = std::time::Instant::now();
    // Frames go on while a worker parses; the tree appears when it is done.
    while harness.query_by_label_contains("items: [").is_none() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the payload never appeared"
        );
        harness.step();
    }
    assert!(harness.query_by_label_contains("Reading a").is_none());
    assert!(harness.query_all_by_label_contains("16.0 MiB").count() >= 1);
}
