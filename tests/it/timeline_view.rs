//! Timeline view tests: headless UI on the real peers-mesh capture (filters, selection, follow-live,
//! nesting) and the mosquitto_pub reproduction run against a real mosquitto.

use std::io::BufReader;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use meshscope::model::{Model, ModelConfig};
use meshscope::ui::Action;
use meshscope::ui::timeline::command::{BrokerTarget, mosquitto_pub_command};
use meshscope::ui::timeline::rows::{DisplayRow, GroupBy, OutcomeFilter};
use meshscope::ui::timeline::{TimelineViewState, timeline_view_ui};

use crate::support;

const CAPTURE: &str = "/work/shared/fixtures/peers-mesh/capture.jsonl";
const SECOND: u64 = 1_000_000_000;

fn capture_model() -> Model {
    let file = std::fs::File::open(CAPTURE).expect("open the peers-mesh capture");
    let mut model = Model::new(ModelConfig::default());
    for raw in meshscope::record::read_jsonl(BufReader::new(file)) {
        model.apply_message(raw.expect("capture line"));
    }
    assert!(
        model.mesh.trace_count() > 100,
        "the capture pairs into traces"
    );
    model
}

struct TimelineHarness {
    model: Model,
    view: TimelineViewState,
    actions: Vec<Action>,
    now_nanos: u64,
}

fn timeline_harness() -> Harness<'static, TimelineHarness> {
    let model = capture_model();
    // One second after the last message: everything has happened, the 30 s timeouts included.
    let now_nanos = model.mesh.observed().to_nanos.expect("messages") + SECOND;
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, s: &mut TimelineHarness| {
                timeline_view_ui(ui, &s.model, &mut s.view, s.now_nanos, &mut s.actions)
            },
            TimelineHarness {
                model,
                view: TimelineViewState::default(),
                actions: Vec::new(),
                now_nanos,
            },
        )
}

/// The label a trace row carries (id, caller, callee, operation).
fn row_label(h: &Harness<'_, TimelineHarness>, trace_id: u64) -> String {
    let t = h.state().model.mesh.trace(trace_id).expect("trace");
    format!(
        "#{trace_id} {} -> {}  {}",
        t.caller.as_deref().unwrap_or("?"),
        t.callee,
        t.operation
    )
}

#[test]
fn a_filter_narrows_the_rows() {
    let mut h = timeline_harness();
    h.run();
    let all = h.state().view.rows().visible.len();
    assert_eq!(
        all,
        h.state().model.mesh.trace_count(),
        "no filter: every trace is listed"
    );
    let newest = h
        .state()
        .model
        .mesh
        .traces()
        .last()
        .map(|t| t.trace_id)
        .unwrap();
    let newest_label = row_label(&h, newest);
    assert!(
        h.query_by_label(&newest_label).is_some(),
        "follow-live shows the newest row: {newest_label}"
    );

    h.get_by_label("Search").click();
    h.run();
    h.get_by_label("Search").type_text("divide");
    h.run();
    let view = &h.state().view;
    let shown = view.rows().visible.clone();
    assert!(
        !shown.is_empty() && shown.len() < all,
        "search narrows ({} of {all})",
        shown.len()
    );
    for id in &shown {
        let t = h.state().model.mesh.trace(*id).unwrap();
        assert!(
            t.callee.contains("divide")
                || t.operation.contains("divide")
                || t.error.as_ref().is_some_and(|e| e
                    .message
                    .as_deref()
                    .unwrap_or("")
                    .contains("divide")),
            "#{id} {} {} does not match",
            t.callee,
            t.operation
        );
    }
    assert!(
        h.query_by_label(&newest_label).is_none(),
        "a row the search excludes is gone from the screen"
    );
    let divide_row = row_label(&h, *shown.last().unwrap());
    assert!(h.query_by_label(&divide_row).is_some(), "{divide_row}");

    // The outcome picker narrows further: divide calls that failed.
    h.get_by_label("Outcome").click();
    h.run();
    h.get_by_label("only errors").click();
    h.run();
    let failed = h.state().view.rows().visible.clone();
    assert!(
        !failed.is_empty() && failed.len() < shown.len(),
        "{} of {}",
        failed.len(),
        shown.len()
    );
    assert_eq!(h.state().view.filter().outcome, OutcomeFilter::Error);
    assert!(
        failed
            .iter()
            .all(|id| h.state().model.mesh.trace(*id).unwrap().error.is_some())
    );

    h.get_by_label("Clear filters").click();
    h.run();
    assert_eq!(h.state().view.rows().visible.len(), all);
}

#[test]
fn clicking_a_row_selects_its_trace_and_opens_details() {
    let mut h = timeline_harness();
    h.run();
    // The newest EMQX A2A request (it carries a Response Topic and Correlation Data).
    let target = h
        .state()
        .model
        .mesh
        .traces()
        .rev()
        .find(|t| {
            t.dialect == meshscope::protocol::Dialect::EmqxA2a && t.request_message_index.is_some()
        })
        .map(|t| t.trace_id)
        .unwrap();
    let label = row_label(&h, target);
    h.get_by_label(&label).click();
    h.run();
    assert_eq!(h.state().view.selected_trace(), Some(target));
    assert!(
        !h.state().view.follow_live(),
        "the clicked row stays in view (follow-live pauses)"
    );
    assert!(
        h.state()
            .actions
            .contains(&Action::SelectTrace(Some(target))),
        "{:?}",
        h.state().actions
    );
    // Details: timing, request and response, and the reproduction command with the MQTT 5 properties.
    assert!(h.query_by_label("Observed round trip").is_some());
    assert!(h.query_by_label("Request").is_some() && h.query_by_label("Response").is_some());
    let node = h.get_by_label_contains("-V mqttv5");
    // A label's text is its AccessKit value (or label, depending on how it was laid out).
    let command = node
        .value()
        .or_else(|| node.accesskit_node().label())
        .unwrap_or_default();
    assert!(command.contains("-V mqttv5"), "{command}");
    assert!(
        command.contains("-D publish response-topic '$a2a/v1/reply/"),
        "{command}"
    );
    assert!(command.contains("-D publish correlation-data"), "{command}");

    h.get_by_label("Close").click();
    h.run();
    assert_eq!(h.state().view.selected_trace(), None);
    assert_eq!(h.state().actions.last(), Some(&Action::SelectTrace(None)));
}

#[test]
fn clicking_a_latency_point_selects_its_trace() {
    let mut h = timeline_harness();
    h.run();
    // A slow call drawn alone (no other sample within the click radius), away from the legend.
    let candidates: Vec<(u64, egui::Pos2)> = h
        .state()
        .model
        .mesh
        .traces()
        .filter_map(|t| Some((t.trace_id, h.state().view.latency_point_pos(t.trace_id)?)))
        .collect();
    assert!(
        candidates.len() > 50,
        "the scatter shows the calls ({})",
        candidates.len()
    );
    let (target, pos) = *candidates
        .iter()
        .rev()
        .find(|(id, p)| {
            candidates
                .iter()
                .all(|(other, q)| other == id || q.distance(*p) > 10.0)
        })
        .expect("an isolated point");
    h.hover_at(pos);
    h.run_steps(2);
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(3);
    assert_eq!(
        h.state().view.selected_trace(),
        Some(target),
        "clicked at {pos:?}"
    );
    assert!(
        h.state()
            .actions
            .contains(&Action::SelectTrace(Some(target)))
    );
    assert!(
        !h.state().view.follow_live(),
        "the selected trace is scrolled into view, which pauses following"
    );
}

#[test]
fn the_latency_plots_export_crops_to_the_plots_as_drawn() {
    let mut h = timeline_harness();
    h.run();
    let pass = h.ctx.cumulative_pass_nr();
    let rect = h
        .state()
        .view
        .time_plots_rect(pass)
        .expect("the plots were drawn this pass");
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 1000.0));
    assert!(screen.contains_rect(rect), "{rect:?} on screen");
    assert!(rect.width() > 200.0 && rect.height() > 200.0, "{rect:?}");
    // Every latency point drawn lies inside the exported region.
    let points: Vec<egui::Pos2> = h
        .state()
        .model
        .mesh
        .traces()
        .filter_map(|t| h.state().view.latency_point_pos(t.trace_id))
        .collect();
    assert!(points.len() > 50);
    assert!(points.iter().all(|p| rect.contains(*p)));
    // A screenshot of the window at 2 pixels per point, cropped to the plots: the plots' size
    // in pixels, and the pixel at the plots' top-left corner comes first.
    let ppp = 2.0;
    let (w, h_px) = (3200usize, 2000usize);
    let pixels: Vec<egui::Color32> = (0..h_px)
        .flat_map(|y| {
            (0..w).map(move |x| egui::Color32::from_rgb((x % 251) as u8, (y % 241) as u8, 7))
        })
        .collect();
    let screenshot = egui::ColorImage::new([w, h_px], pixels);
    let part = meshscope::app::crop_image(&screenshot, rect, ppp).expect("inside");
    assert_eq!(
        part.size,
        [
            ((rect.max.x * ppp).round() - (rect.min.x * ppp).round()) as usize,
            ((rect.max.y * ppp).round() - (rect.min.y * ppp).round()) as usize
        ]
    );
    let (x0, y0) = (
        (rect.min.x * ppp).round() as usize,
        (rect.min.y * ppp).round() as usize,
    );
    assert_eq!(
        part.pixels[0],
        egui::Color32::from_rgb((x0 % 251) as u8, (y0 % 241) as u8, 7)
    );
    // Hidden or not drawn for a while: no region (the export then says so).
    assert!(h.state().view.time_plots_rect(pass + 5).is_none());
}

#[test]
fn follow_live_pauses_when_the_user_scrolls_back() {
    let mut h = timeline_harness();
    h.run();
    assert!(h.state().view.follow_live());
    // While following, the window tracks "now".
    let end_before = h.state().view.axis().end_nanos();
    h.state_mut().now_nanos += 10 * SECOND;
    h.run();
    assert_eq!(
        h.state().view.axis().end_nanos(),
        end_before + 10 * SECOND,
        "following: the window moves with now"
    );

    // The user scrolls the rows up (towards older traces) with the mouse wheel.
    let newest = h
        .state()
        .model
        .mesh
        .traces()
        .last()
        .map(|t| t.trace_id)
        .unwrap();
    let row = h.get_by_label(&row_label(&h, newest)).rect();
    h.hover_at(row.center());
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, 5.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
    // A hovered row shows a tooltip (it keeps repainting): step frames instead of settling.
    h.run_steps(3);
    h.event(egui::Event::PointerGone);
    assert!(
        !h.state().view.follow_live(),
        "scrolling back pauses follow-live"
    );
    let paused_end = h.state().view.axis().end_nanos();
    h.state_mut().now_nanos += 10 * SECOND;
    h.run();
    assert_eq!(
        h.state().view.axis().end_nanos(),
        paused_end,
        "paused: the window stays where the user looked"
    );

    h.get_by_label("Follow live").click();
    h.run();
    assert!(h.state().view.follow_live());
    assert!(
        h.state().view.axis().end_nanos() > paused_end,
        "following again jumps back to now"
    );
    assert!(
        h.query_by_label(&row_label(&h, newest)).is_some(),
        "and to the newest row"
    );
}

#[test]
fn delegations_in_the_capture_nest_under_the_call_that_caused_them() {
    let mut h = timeline_harness();
    h.run();
    let model = &h.state().model;
    let rows = h.state().view.rows();
    let mut nested = 0;
    for t in model.mesh.traces() {
        if let Some(parent) = rows.parent_of(t.trace_id) {
            let p = model.mesh.trace(parent).unwrap();
            // Identity: the child's caller is the parent's callee; timing: it ran inside.
            assert_eq!(
                t.caller.as_deref(),
                Some(&*p.callee),
                "#{} under #{parent}",
                t.trace_id
            );
            assert!(p.request_at_nanos <= t.request_at_nanos);
            assert!(t.response_at_nanos.unwrap() <= p.response_at_nanos.unwrap() + 2_000_000);
            nested += 1;
        }
    }
    // Every planner -> echo delegation in the capture sits under its orchestrator -> planner call.
    let delegations: Vec<u64> = model
        .mesh
        .traces()
        .filter(|t| t.caller.as_deref() == Some("peers/lab/planner"))
        .map(|t| t.trace_id)
        .collect();
    assert!(delegations.len() >= 5);
    for d in &delegations {
        let parent = rows
            .parent_of(*d)
            .unwrap_or_else(|| panic!("#{d} has no parent"));
        assert_eq!(
            &*model.mesh.trace(parent).unwrap().callee,
            "peers/lab/planner"
        );
    }
    assert_eq!(
        nested,
        delegations.len(),
        "nothing else is nested in this capture"
    );

    // On screen: the parent row can fold its delegation away.
    h.state_mut().view.set_group_by(GroupBy::Nothing);
    let first = delegations[0];
    let parent = h.state().view.rows().parent_of(first).unwrap();
    h.state_mut().view.select_trace(parent);
    h.run();
    let child_label = row_label(&h, first);
    assert!(
        h.query_by_label(&child_label).is_some(),
        "the delegation row is shown under its parent"
    );
    h.get_by_label(&format!("Hide nested calls of #{parent}"))
        .click();
    h.run();
    assert!(h.query_by_label(&child_label).is_none(), "folded away");
}

#[test]
fn grouping_by_callee_puts_a_header_over_each_callee() {
    let mut h = timeline_harness();
    h.state_mut().view.set_group_by(GroupBy::Callee);
    h.run();
    let callees: std::collections::BTreeSet<String> = h
        .state()
        .model
        .mesh
        .traces()
        .map(|t| t.callee.to_string())
        .collect();
    let groups: Vec<u32> = h
        .state()
        .view
        .rows()
        .display
        .iter()
        .filter_map(|row| match row {
            DisplayRow::Group { traces, .. } => Some(*traces),
            DisplayRow::Trace { .. } => None,
        })
        .collect();
    assert_eq!(groups.len(), callees.len(), "one group per callee");
    assert_eq!(
        groups.iter().sum::<u32>() as usize,
        h.state().model.mesh.trace_count()
    );
    // A header on screen folds its group.
    let header = h
        .get_all_by_label_contains("traces, ")
        .next()
        .expect("a group header on screen");
    let text = header
        .accesskit_node()
        .label()
        .or_else(|| header.value())
        .unwrap_or_default();
    assert!(
        text.starts_with("callee ") && text.contains(" failed"),
        "{text}"
    );
    let before = h.state().view.rows().display.len();
    header.click();
    h.run();
    assert!(
        h.state().view.rows().display.len() < before,
        "folding {text} hides its rows"
    );
}

#[test]
fn the_copied_mosquitto_pub_command_reproduces_the_request_on_a_real_broker() {
    let Some(broker) = support::mosquitto() else {
        return;
    };
    let model = capture_model();
    // An EMQX A2A request from the capture: topic with '$', Response Topic, Correlation Data, JSON.
    let trace = model
        .mesh
        .traces()
        .find(|t| {
            t.dialect == meshscope::protocol::Dialect::EmqxA2a && t.request_message_index.is_some()
        })
        .unwrap();
    let seq = trace.request_message_index.unwrap();
    let mut raw = model.store.get(seq).unwrap().raw.clone();
    // Hostile extras a real peer could send: quotes, $, backticks and newlines in properties.
    let mut props = raw.properties.take().map(|p| *p).unwrap_or_default();
    props
        .user_properties
        .push(("note".into(), "it's $HOME `id` \"quoted\" \\ ;|&".into()));
    props
        .user_properties
        .push(("note".into(), "repeated key".into()));
    props.content_type = Some("application/json; charset=\"utf-8\"".into());
    raw.properties = Some(Box::new(props.clone()));

    let command = mosquitto_pub_command(
        &raw,
        seq,
        &BrokerTarget {
            host: "127.0.0.1".into(),
            port: broker.port(),
            tls: false,
        },
    );
    let rt = support::runtime();
    rt.block_on(async {
        let mut sub =
            support::PlainClient::connect(broker.port(), &support::unique("timeline-sub")).await;
        sub.subscribe("$a2a/#").await;
        let script = command.text.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .output()
        })
        .await
        .unwrap()
        .expect("run the command");
        assert!(
            out.status.success(),
            "mosquitto_pub failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            command.text
        );
        let topic = raw.topic_str().unwrap();
        let got = sub
            .next_on_topic(support::WAIT, topic)
            .await
            .expect("the reproduced request arrives");
        assert_eq!(&got.payload[..], &raw.payload[..]);
        let got_props = got.properties.expect("MQTT 5 properties");
        assert_eq!(got_props.response_topic, props.response_topic);
        assert_eq!(
            got_props.correlation_data.as_deref(),
            props.correlation_data.as_deref()
        );
        assert_eq!(got_props.content_type, props.content_type);
        let sent: Vec<(String, String)> = props
            .user_properties
            .iter()
            .filter(|(k, _)| k != "x-mqtt-client-id")
            .cloned()
            .collect();
        assert_eq!(
            got_props.user_properties, sent,
            "user properties in order, repeated keys kept"
        );
        sub.disconnect().await;
    });
}
