//! The details panel of the selected node: card, tools and their schemas, skills, status history, latency, recent traces.

use std::collections::HashMap;
use std::sync::Arc;

use egui::{CollapsingHeader, Grid, RichText, Sense, Ui, vec2};
use serde_json::Value;

use crate::model::Model;
use crate::model::mesh::Participant;
use crate::protocol::Dialect;
use crate::ui::Action;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    format_age_nanos, format_count, format_latency_micros, json_tree_ui, time_of_day_utc,
};

use super::paint::paint_shape;
use super::scene::{NodeKind, SceneNode};
use super::{PresenceViewState, dialect_name, node_color, status_color};

/// The latency summary is recomputed at most this often (it asks the model for every stats row).
const LATENCY_REFRESH_NANOS: u64 = 2_000_000_000;
const RECENT_SHOWN: usize = 12;
/// Parsed cards kept (the selected node's and its tools').
const MAX_PARSED_CARDS: usize = 128;

#[derive(Debug, Clone)]
struct LatencyRow {
    operation: String,
    count: u64,
    failed: u64,
    p50_micros: Option<u64>,
    p95_micros: Option<u64>,
    p99_micros: Option<u64>,
    window_p95_micros: Option<u64>,
}

#[derive(Debug, Clone)]
struct EdgeSummary {
    other: Arc<str>,
    count: u64,
    failed: u64,
    p95_micros: Option<u64>,
}

#[derive(Default)]
pub(super) struct DetailsState {
    /// Parsed cards by node key, with the card's address and length (a new card is a new allocation).
    cards: HashMap<Box<str>, (usize, usize, Result<Value, String>)>,
    latency_for: Option<Box<str>>,
    latency_at_nanos: u64,
    latency_revision: u64,
    latency: Vec<LatencyRow>,
    callers: Vec<EdgeSummary>,
    callees: Vec<EdgeSummary>,
}

impl DetailsState {
    fn card(&mut self, key: &str, card: &Arc<[u8]>) -> &Result<Value, String> {
        let address = Arc::as_ptr(card) as *const u8 as usize;
        let fresh = self
            .cards
            .get(key)
            .is_some_and(|(a, l, _)| *a == address && *l == card.len());
        if !fresh {
            if self.cards.len() >= MAX_PARSED_CARDS {
                self.cards.clear();
            }
            let parsed = serde_json::from_slice::<Value>(card).map_err(|e| e.to_string());
            self.cards
                .insert(Box::from(key), (address, card.len(), parsed));
        }
        &self.cards[key].2
    }
}

fn participant<'m>(model: &'m Model, node: &SceneNode) -> Option<&'m Participant> {
    let p = node.participant.as_ref()?;
    model.mesh.participant(p.dialect, p.kind, &p.participant_id)
}

pub(super) fn details_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut PresenceViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    let Some(i) = state.selected_index() else {
        return;
    };
    let Some(node) = state.scene.node(i).cloned() else {
        return;
    };
    refresh_latency(model, state, &node, now_nanos);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            header_ui(ui, state, &node, i, now_nanos, actions);
            ui.separator();
            let part = participant(model, &node);
            let card = part.and_then(|p| p.card.clone());
            if let Some(card) = &card
                && let Ok(value) = state.details.card(&node.key, card)
                && let Some(text) = value.get("description").and_then(Value::as_str)
            {
                ui.label(text);
                ui.add_space(4.0);
            }
            identity_ui(ui, state, &node, part, now_nanos, actions);
            if let Some(p) = part {
                history_ui(ui, p, now_nanos);
            }
            match node.kind {
                NodeKind::Server => server_tools_ui(ui, model, state, &node, actions),
                NodeKind::Tool => {
                    if let Some(card) = &card
                        && let Ok(value) = state.details.card(&node.key, card)
                    {
                        tool_schema_ui(ui, &node.key, value);
                    }
                }
                NodeKind::Agent => {
                    if let Some(card) = &card
                        && let Ok(value) = state.details.card(&node.key, card)
                    {
                        skills_ui(ui, &node.key, value);
                    }
                }
                NodeKind::Client | NodeKind::Endpoint => {}
            }
            latency_ui(ui, state, &node);
            recent_ui(ui, model, state, &node, now_nanos, actions);
            card_ui(ui, state, &node, card.as_ref());
        });
}

fn header_ui(
    ui: &mut Ui,
    state: &mut PresenceViewState,
    node: &SceneNode,
    i: u32,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(vec2(26.0, 26.0), Sense::hover());
        paint_shape(
            ui.painter(),
            node.kind,
            rect.center(),
            10.0,
            node_color(node.kind, node.status),
            egui::Stroke::new(1.0, Theme::MAP_NODE_OUTLINE),
        );
        ui.label(RichText::new(&node.label).heading().strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("Close")
                .on_hover_text("Close the details (or click the map's background)")
                .clicked()
            {
                state.selected = None;
            }
        });
    });
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 6.0;
        ui.label(RichText::new(node.kind.as_str()).color(Theme::TEXT_MUTED));
        ui.label(RichText::new(dialect_name(node.dialect)).color(Theme::dialect(node.dialect)));
        if node.kind != NodeKind::Endpoint {
            ui.label(
                RichText::new(node.status.as_str())
                    .color(status_color(node.status))
                    .strong(),
            );
            ui.label(
                RichText::new(format!(
                    "from {}, for {}",
                    node.status_source.as_str(),
                    format_age_nanos(now_nanos, node.status_since_nanos)
                ))
                .color(Theme::TEXT_MUTED),
            );
        }
    });
    ui.horizontal_wrapped(|ui| {
        let call = ui
            .add_enabled(
                node.participant.is_some(),
                egui::Button::new("Call\u{2026}"),
            )
            .on_hover_text("Open the composer on it (Ctrl+4)")
            .on_disabled_hover_text("Nothing to call: this endpoint was only seen in traffic");
        if call.clicked()
            && let Some(participant) = node.participant.clone()
        {
            actions.push(Action::OpenComposer(participant));
        }
        if let Some(&id) = state.layout_ids.get(i as usize) {
            let pinned = state.layout.is_pinned(id);
            let text = if pinned { "Unpin" } else { "Pin" };
            let tip = if pinned {
                "Let the layout move it again"
            } else {
                "Keep it where it is (dragging pins too)"
            };
            if ui.button(text).on_hover_text(tip).clicked() {
                state.layout.set_pinned(id, !pinned);
            }
        }
        if !node.tools.is_empty() {
            let folded = state.is_folded(i);
            let text = if folded { "Show tools" } else { "Fold tools" };
            if ui
                .button(text)
                .on_hover_text("Draw its tools around it, or fold them into it")
                .clicked()
            {
                state.set_folded(i, !folded);
            }
        }
        if ui
            .button("Find on map")
            .on_hover_text("Centre the map on it")
            .clicked()
        {
            state.map.focus = Some(node.key.clone());
            state.mode = super::Mode::Map;
        }
    });
}

fn identity_ui(
    ui: &mut Ui,
    state: &mut PresenceViewState,
    node: &SceneNode,
    part: Option<&Participant>,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    CollapsingHeader::new("Identity")
        .default_open(true)
        .show(ui, |ui| {
            Grid::new(("presence_identity", &*node.key))
                .num_columns(2)
                .spacing([12.0, 4.0])
                .show(ui, |ui| {
                    ui.label(RichText::new("id").color(Theme::TEXT_MUTED));
                    ui.add(
                        egui::Label::new(RichText::new(&*node.participant_id).monospace()).wrap(),
                    );
                    ui.end_row();
                    if let Some(server) = node
                        .server
                        .and_then(|s| state.scene.node(s).map(|n| (s, n.label.clone())))
                    {
                        ui.label(RichText::new("served by").color(Theme::TEXT_MUTED));
                        if ui
                            .link(&server.1)
                            .on_hover_text("Show the server")
                            .clicked()
                        {
                            state.select_index(server.0, actions);
                        }
                        ui.end_row();
                    }
                    if node.kind == NodeKind::Endpoint {
                        ui.label(RichText::new("note").color(Theme::TEXT_MUTED));
                        ui.label("Called, but it never announced itself (no card, no presence)");
                        ui.end_row();
                    }
                    if let Some(p) = part {
                        ui.label(RichText::new("first seen").color(Theme::TEXT_MUTED));
                        ui.label(format!(
                            "{} UTC ({} ago)",
                            time_of_day_utc(p.first_seen_nanos),
                            format_age_nanos(now_nanos, p.first_seen_nanos)
                        ));
                        ui.end_row();
                        ui.label(RichText::new("last seen").color(Theme::TEXT_MUTED));
                        match p.last_seen_nanos {
                            Some(at) => ui.label(format!(
                                "{} UTC ({} ago)",
                                time_of_day_utc(at),
                                format_age_nanos(now_nanos, at)
                            )),
                            None => ui.label(
                                RichText::new("never seen alive").color(Theme::TEXT_WARNING),
                            ),
                        };
                        ui.end_row();
                        ui.label(RichText::new("calls").color(Theme::TEXT_MUTED));
                        ui.label(format!(
                            "{} received ({} failed), {} sent",
                            format_count(p.requests_received),
                            format_count(node.errors_in),
                            format_count(p.requests_sent)
                        ));
                        ui.end_row();
                        if !p.instances.is_empty() {
                            ui.label(RichText::new("instances").color(Theme::TEXT_MUTED));
                            ui.vertical(|ui| {
                                for inst in &p.instances {
                                    let (status, color) = if inst.online {
                                        ("online", Theme::STATUS_ONLINE)
                                    } else {
                                        ("offline", Theme::STATUS_OFFLINE)
                                    };
                                    ui.horizontal(|ui| {
                                        ui.label(RichText::new(&*inst.instance_id).monospace());
                                        ui.label(RichText::new(status).color(color));
                                        ui.label(
                                            RichText::new(format!(
                                                "for {}",
                                                format_age_nanos(now_nanos, inst.since_nanos)
                                            ))
                                            .color(Theme::TEXT_MUTED),
                                        );
                                    });
                                }
                            });
                            ui.end_row();
                        }
                    }
                });
        });
}

fn history_ui(ui: &mut Ui, p: &Participant, now_nanos: u64) {
    CollapsingHeader::new(format!("Status history ({})", p.history.len()))
        .default_open(true)
        .show(ui, |ui| {
            if p.history.is_empty() {
                ui.label(RichText::new("No status change seen yet").color(Theme::TEXT_MUTED));
                return;
            }
            Grid::new(("presence_history", &*p.participant_id))
                .num_columns(4)
                .spacing([10.0, 2.0])
                .striped(true)
                .show(ui, |ui| {
                    for t in p.history.iter().rev() {
                        ui.label(RichText::new(time_of_day_utc(t.at_nanos)).monospace());
                        ui.label(
                            RichText::new(t.status.as_str())
                                .color(status_color(t.status))
                                .strong(),
                        );
                        ui.label(
                            RichText::new(format!("from {}", t.source.as_str()))
                                .color(Theme::TEXT_MUTED),
                        );
                        ui.label(
                            RichText::new(format!(
                                "{} ago",
                                format_age_nanos(now_nanos, t.at_nanos)
                            ))
                            .color(Theme::TEXT_MUTED),
                        );
                        ui.end_row();
                    }
                });
            if p.history_dropped > 0 {
                ui.label(
                    RichText::new(format!("{} older changes not kept", p.history_dropped))
                        .color(Theme::TEXT_MUTED),
                );
            }
        });
}

/// The schema a tool card carries: MQTT.Agent writes `input_schema`, MCP lists write `inputSchema`.
fn schema<'v>(card: &'v Value, snake: &str, camel: &str) -> Option<&'v Value> {
    card.get(snake).or_else(|| card.get(camel))
}

fn tool_schema_ui(ui: &mut Ui, key: &str, card: &Value) {
    let input = schema(card, "input_schema", "inputSchema");
    CollapsingHeader::new("Input schema")
        .default_open(true)
        .show(ui, |ui| match input {
            Some(s) => json_tree_ui(ui, ("presence_input_schema", key), s),
            None => {
                ui.label(RichText::new("The card has no input schema").color(Theme::TEXT_MUTED));
            }
        });
    if let Some(output) = schema(card, "output_schema", "outputSchema") {
        CollapsingHeader::new("Output schema")
            .default_open(false)
            .show(ui, |ui| {
                json_tree_ui(ui, ("presence_output_schema", key), output);
            });
    }
    let streaming = card.get("supports_streaming").and_then(Value::as_bool);
    let callers: Vec<&str> = card
        .get("allowed_callers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if streaming.is_some() || !callers.is_empty() {
        ui.horizontal_wrapped(|ui| {
            if streaming == Some(true) {
                ui.label(RichText::new("streams partial results").color(Theme::TEXT_MUTED));
            }
            if !callers.is_empty() {
                ui.label(
                    RichText::new(format!(
                        "allowed callers (advisory): {}",
                        callers.join(", ")
                    ))
                    .color(Theme::TEXT_MUTED),
                );
            }
        });
    }
}

fn server_tools_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut PresenceViewState,
    node: &SceneNode,
    actions: &mut Vec<Action>,
) {
    CollapsingHeader::new(format!("Tools ({})", node.tools.len()))
        .default_open(true)
        .show(ui, |ui| {
            if node.tools.is_empty() {
                ui.label(RichText::new("No tool seen yet").color(Theme::TEXT_MUTED));
                return;
            }
            for &t in &node.tools {
                let Some(tool) = state.scene.node(t).cloned() else {
                    continue;
                };
                let card = participant(model, &tool).and_then(|p| p.card.clone());
                let title = RichText::new(format!("{}   {}", tool.label, tool.status.as_str()));
                CollapsingHeader::new(title)
                    .id_salt(("presence_tool", &*tool.key))
                    .default_open(false)
                    .show(ui, |ui| {
                        if ui.link("Show this tool").clicked() {
                            state.select_index(t, actions);
                        }
                        if let Some(card) = &card
                            && let Ok(value) = state.details.card(&tool.key, card)
                        {
                            if let Some(text) = value.get("description").and_then(Value::as_str) {
                                ui.label(text);
                            }
                            tool_schema_ui(ui, &tool.key, value);
                        }
                    });
            }
        });
}

fn skills_ui(ui: &mut Ui, key: &str, card: &Value) {
    if let Some(skills) = card.get("skills").and_then(Value::as_array) {
        CollapsingHeader::new(format!("Skills ({})", skills.len()))
            .default_open(true)
            .show(ui, |ui| {
                for skill in skills {
                    let name = skill
                        .get("name")
                        .or_else(|| skill.get("id"))
                        .and_then(Value::as_str)
                        .unwrap_or("(unnamed)");
                    ui.label(RichText::new(name).strong());
                    if let Some(d) = skill.get("description").and_then(Value::as_str) {
                        ui.label(d);
                    }
                    let tags: Vec<&str> = skill
                        .get("tags")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if !tags.is_empty() {
                        ui.label(
                            RichText::new(format!("tags: {}", tags.join(", ")))
                                .color(Theme::TEXT_MUTED),
                        );
                    }
                    ui.add_space(4.0);
                }
            });
    }
    if let Some(caps) = card.get("capabilities") {
        CollapsingHeader::new("Capabilities")
            .default_open(true)
            .show(ui, |ui| {
                json_tree_ui(ui, ("presence_capabilities", key), caps);
            });
    }
}

fn card_ui(ui: &mut Ui, state: &mut PresenceViewState, node: &SceneNode, card: Option<&Arc<[u8]>>) {
    CollapsingHeader::new("Card")
        .default_open(true)
        .show(ui, |ui| match card {
            None => {
                let text = if node.kind == NodeKind::Endpoint {
                    "No card: it never announced itself"
                } else {
                    "No card: known from its traffic only"
                };
                ui.label(RichText::new(text).color(Theme::TEXT_MUTED));
            }
            Some(card) => match state.details.card(&node.key, card) {
                Ok(value) => json_tree_ui(ui, ("presence_card", &*node.key), value),
                Err(e) => {
                    ui.label(RichText::new(format!("Not JSON: {e}")).color(Theme::TEXT_WARNING));
                    ui.label(
                        RichText::new(String::from_utf8_lossy(&card[..card.len().min(4096)]))
                            .monospace(),
                    );
                }
            },
        });
}

/// Everything it answers to: itself, and a server's tools.
fn callee_names(state: &PresenceViewState, node: &SceneNode) -> Vec<Arc<str>> {
    let mut names = vec![node.participant_id.clone()];
    for &t in &node.tools {
        if let Some(tool) = state.scene.node(t) {
            names.push(tool.participant_id.clone());
        }
    }
    names
}

fn refresh_latency(model: &Model, state: &mut PresenceViewState, node: &SceneNode, now_nanos: u64) {
    let same = state.details.latency_for.as_deref() == Some(&*node.key);
    let revision = model.mesh.revision();
    let due = now_nanos.saturating_sub(state.details.latency_at_nanos) >= LATENCY_REFRESH_NANOS
        || now_nanos < state.details.latency_at_nanos;
    if same && (revision == state.details.latency_revision || !due) {
        return;
    }
    let names = callee_names(state, node);
    let is_ours =
        |d: Dialect, callee: &str| d == node.dialect && names.iter().any(|n| &**n == callee);
    let many = names.len() > 1;
    state.details.latency = model
        .mesh
        .stats(now_nanos)
        .into_iter()
        .filter(|s| is_ours(s.row.dialect, &s.row.callee))
        .map(|s| LatencyRow {
            operation: if many && *s.row.callee != *node.participant_id {
                format!("{}: {}", s.row.callee, s.row.operation)
            } else {
                s.row.operation.to_string()
            },
            count: s.row.count,
            failed: s.row.errors + s.row.timeouts,
            p50_micros: s.session.p50_micros,
            p95_micros: s.session.p95_micros,
            p99_micros: s.session.p99_micros,
            window_p95_micros: s.window.p95_micros,
        })
        .collect();
    let edges = model.mesh.edges();
    state.details.callers = edges
        .iter()
        .filter(|e| is_ours(e.dialect, &e.callee))
        .map(|e| EdgeSummary {
            other: e.caller.clone(),
            count: e.count,
            failed: e.errors,
            p95_micros: e.p95_micros(),
        })
        .collect();
    state.details.callees = edges
        .iter()
        .filter(|e| e.dialect == node.dialect && e.caller == node.participant_id)
        .map(|e| EdgeSummary {
            other: e.callee.clone(),
            count: e.count,
            failed: e.errors,
            p95_micros: e.p95_micros(),
        })
        .collect();
    state.details.latency_for = Some(node.key.clone());
    state.details.latency_at_nanos = now_nanos;
    state.details.latency_revision = revision;
}

fn micros(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), format_latency_micros)
}

fn latency_ui(ui: &mut Ui, state: &PresenceViewState, node: &SceneNode) {
    let d = &state.details;
    if d.latency.is_empty() && d.callers.is_empty() && d.callees.is_empty() {
        return;
    }
    CollapsingHeader::new("Latency").default_open(true).show(ui, |ui| {
        ui.label(RichText::new("Response receive time minus request receive time, whole session (recent: the last minute)").color(Theme::TEXT_MUTED).small());
        if !d.latency.is_empty() {
            Grid::new(("presence_latency", &*node.key)).num_columns(6).spacing([10.0, 2.0]).striped(true).show(ui, |ui| {
                for title in ["operation", "calls", "failed", "p50", "p95", "p99 / recent p95"] {
                    ui.label(RichText::new(title).color(Theme::TEXT_MUTED));
                }
                ui.end_row();
                for row in &d.latency {
                    ui.label(RichText::new(&row.operation).monospace());
                    ui.label(format_count(row.count));
                    let color = if row.failed > 0 { Theme::TEXT_ERROR } else { Theme::TEXT_MUTED };
                    ui.label(RichText::new(format_count(row.failed)).color(color));
                    ui.label(RichText::new(micros(row.p50_micros)).color(Theme::LATENCY_P50));
                    ui.label(RichText::new(micros(row.p95_micros)).color(Theme::LATENCY_P95));
                    ui.label(format!("{} / {}", micros(row.p99_micros), micros(row.window_p95_micros)));
                    ui.end_row();
                }
            });
        }
        for (title, rows) in [("Called by", &d.callers), ("Calls", &d.callees)] {
            if rows.is_empty() {
                continue;
            }
            ui.add_space(4.0);
            ui.label(RichText::new(title).strong());
            Grid::new(("presence_edges", title, &*node.key)).num_columns(4).spacing([10.0, 2.0]).show(ui, |ui| {
                for e in rows {
                    ui.label(RichText::new(&*e.other).monospace());
                    ui.label(format!("{} calls", format_count(e.count)));
                    let color = if e.failed > 0 { Theme::TEXT_ERROR } else { Theme::TEXT_MUTED };
                    ui.label(RichText::new(format!("{} failed", format_count(e.failed))).color(color));
                    ui.label(format!("p95 {}", micros(e.p95_micros)));
                    ui.end_row();
                }
            });
        }
    });
}

fn recent_ui(
    ui: &mut Ui,
    model: &Model,
    state: &PresenceViewState,
    node: &SceneNode,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    let mut ids: Vec<u64> = callee_names(state, node)
        .iter()
        .flat_map(|name| state.activity.recent(node.dialect, name))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    let traces: Vec<_> = ids
        .into_iter()
        .filter_map(|id| model.mesh.trace(id))
        .take(RECENT_SHOWN)
        .collect();
    CollapsingHeader::new("Recent traces")
        .default_open(true)
        .show(ui, |ui| {
            if traces.is_empty() {
                ui.label(RichText::new("No call seen yet").color(Theme::TEXT_MUTED));
                return;
            }
            Grid::new(("presence_recent", &*node.key))
                .num_columns(5)
                .spacing([10.0, 2.0])
                .striped(true)
                .show(ui, |ui| {
                    for t in traces {
                        let at = t.request_at_nanos.unwrap_or(t.last_activity_nanos);
                        ui.label(
                            RichText::new(format!("{} ago", format_age_nanos(now_nanos, at)))
                                .color(Theme::TEXT_MUTED),
                        );
                        let open = ui
                            .add(
                                egui::Button::new(RichText::new(&*t.operation).monospace())
                                    .frame(false),
                            )
                            .on_hover_text("Open this trace in the timeline");
                        let outgoing = t.caller.as_deref() == Some(&*node.participant_id);
                        let other = if outgoing {
                            format!("to {}", t.callee)
                        } else {
                            format!("from {}", t.caller.as_deref().unwrap_or("(unseen caller)"))
                        };
                        ui.label(other);
                        ui.label(
                            RichText::new(t.outcome.as_str()).color(Theme::outcome(t.outcome)),
                        );
                        ui.label(match t.latency_micros() {
                            Some(l) => format_latency_micros(l),
                            None if t.is_pending() => {
                                format!("waiting {}", format_age_nanos(now_nanos, at))
                            }
                            None => "-".to_owned(),
                        });
                        ui.end_row();
                        if open.clicked() {
                            actions.push(Action::SelectTrace(Some(t.trace_id)));
                        }
                    }
                });
        });
}
