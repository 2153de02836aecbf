//! The selected trace's details: timing breakdown, nesting, partials in order, request and response side by side, and the mosquitto_pub reproduction.

use egui::{RichText, Ui};

use crate::model::Model;
use crate::model::mesh::{Outcome, Trace};
use crate::model::store::MessageRef;
use crate::protocol::ConnectionState;
use crate::ui::Action;
use crate::ui::payload_view::{PayloadCache, PayloadMode};
use crate::ui::theme::Theme;
use crate::ui::widgets::{format_bytes, mqtt_properties_grid_ui, time_of_day_utc};

use super::TimelineViewState;
use super::axis::format_latency_micros;
use super::command::{BrokerTarget, ReproCommand, mosquitto_pub_command};

/// Nested calls listed by id (more are counted).
const MAX_CHILDREN_LISTED: usize = 20;
/// Partials listed (the model keeps up to 256 per trace).
const MAX_PARTIALS_LISTED: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DetailsKey {
    trace_id: u64,
    request_seq: Option<u64>,
    reply_seq: Option<u64>,
}

/// Parsed payloads and the command for the selected trace, built when the selection changes.
#[derive(Default)]
pub struct DetailsCache {
    key: Option<DetailsKey>,
    request: Option<PayloadCache>,
    reply: Option<PayloadCache>,
    command: Option<ReproCommand>,
    /// Show this partial's message in the reply column instead of the final response.
    shown_partial_seq: Option<u64>,
}

/// A stored message by the mesh's message index, if still stored and really the one the trace saw.
fn stored(
    model: &Model,
    seq: Option<u64>,
    received_at_nanos: Option<u64>,
) -> Option<MessageRef<'_>> {
    let message = model.store.get(seq?)?;
    // The store and the mesh number messages alike; check anyway (a mismatch means "not available").
    match received_at_nanos {
        Some(at) if message.raw.received_at_nanos != at => None,
        _ => Some(message),
    }
}

fn broker_target(model: &Model) -> BrokerTarget {
    let url = match model.session.current() {
        Some(
            ConnectionState::Connected { broker, .. }
            | ConnectionState::Connecting { broker, .. }
            | ConnectionState::Disconnected { broker, .. }
            | ConnectionState::Stopped { broker },
        ) => broker.as_str(),
        None => "",
    };
    BrokerTarget::parse(url).unwrap_or_default()
}

pub fn details_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut TimelineViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    let Some(trace_id) = state.selected else {
        return;
    };
    let Some(trace) = model.mesh.trace(trace_id) else {
        ui.label(
            RichText::new(format!(
                "Trace #{trace_id} was evicted from the model (trace limit); its details are gone."
            ))
            .color(Theme::TEXT_WARNING),
        );
        if ui.button("Close").clicked() {
            state.select_here(None, false, actions);
        }
        return;
    };
    refresh_cache(state, model, trace);

    ui.horizontal(|ui| {
        ui.heading(format!("#{}", trace.trace_id));
        ui.label(
            RichText::new(trace.outcome.as_str())
                .strong()
                .color(Theme::outcome(trace.outcome)),
        );
        ui.label(RichText::new(trace.dialect.label()).color(Theme::dialect(trace.dialect)));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("Close")
                .on_hover_text("Clear the selection")
                .clicked()
            {
                state.select_here(None, false, actions);
            }
        });
    });
    let caller = trace
        .caller
        .as_deref()
        .unwrap_or(if trace.outcome == Outcome::Orphan {
            "(request not seen)"
        } else {
            "(caller not on the wire)"
        });
    ui.label(RichText::new(format!("{caller} -> {}  {}", trace.callee, trace.operation)).strong());
    ui.separator();

    let top_height = (ui.available_height() * 0.5).max(160.0);
    egui::ScrollArea::vertical()
        .id_salt("trace_details_top")
        .max_height(top_height)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            timing_ui(ui, trace, now_nanos);
            nesting_ui(ui, state, trace, actions);
            if let Some(e) = &trace.error {
                ui.add_space(4.0);
                ui.label(RichText::new("Error").strong());
                let code = e
                    .code
                    .as_deref()
                    .map(|c| format!(" (code {c})"))
                    .unwrap_or_default();
                ui.label(
                    RichText::new(format!(
                        "{}{code}: {}",
                        e.class,
                        e.message.as_deref().unwrap_or("")
                    ))
                    .color(Theme::TEXT_ERROR),
                );
            }
            partials_ui(ui, state, trace);
            reproduce_ui(ui, state, model, trace, actions);
        });
    ui.separator();

    let request_message = stored(model, trace.request_message_index, trace.request_at_nanos);
    let reply_seq = state
        .details
        .shown_partial_seq
        .or(trace.response_message_index);
    let reply_message = stored(model, reply_seq, None);
    let details = &state.details;
    ui.columns(2, |columns| {
        message_column_ui(
            &mut columns[0],
            "Request",
            trace.request_message_index,
            request_message.as_ref(),
            details.request.as_ref(),
            missing_request_text(trace),
            actions,
        );
        let title = if details.shown_partial_seq.is_some() {
            "Partial"
        } else {
            "Response"
        };
        message_column_ui(
            &mut columns[1],
            title,
            reply_seq,
            reply_message.as_ref(),
            details.reply.as_ref(),
            missing_reply_text(trace),
            actions,
        );
    });
}

fn missing_request_text(trace: &Trace) -> &'static str {
    if trace.request_message_index.is_none() {
        "The request was never observed (orphan response)."
    } else {
        ""
    }
}

fn missing_reply_text(trace: &Trace) -> &'static str {
    match trace.outcome {
        Outcome::Pending => "No response yet.",
        Outcome::Timeout => "No response: the request timed out.",
        Outcome::Cancelled => "No response: the request was cancelled.",
        _ => "",
    }
}

fn refresh_cache(state: &mut TimelineViewState, model: &Model, trace: &Trace) {
    let cache = &mut state.details;
    if cache.key.is_some_and(|k| k.trace_id != trace.trace_id) {
        cache.shown_partial_seq = None;
    }
    let key = DetailsKey {
        trace_id: trace.trace_id,
        request_seq: trace.request_message_index,
        reply_seq: cache.shown_partial_seq.or(trace.response_message_index),
    };
    if cache.key == Some(key) {
        return;
    }
    cache.key = Some(key);
    let request = stored(model, key.request_seq, trace.request_at_nanos);
    cache.request = request
        .as_ref()
        .map(|m| PayloadCache::build(m.seq, m.raw.payload.clone(), PayloadMode::Auto));
    cache.reply = stored(model, key.reply_seq, None)
        .map(|m| PayloadCache::build(m.seq, m.raw.payload.clone(), PayloadMode::Auto));
    cache.command = request
        .map(|m| mosquitto_pub_command(&m.raw.to_raw_message(), m.seq, &broker_target(model)));
}

fn timing_ui(ui: &mut Ui, trace: &Trace, now_nanos: u64) {
    ui.label(RichText::new("Timing").strong());
    egui::Grid::new("trace_timing").num_columns(2).striped(true).spacing([12.0, 3.0]).show(ui, |ui| {
        let row = |ui: &mut Ui, name: &str, value: String, hint: &str| {
            let label = ui.label(RichText::new(name).color(Theme::TEXT_MUTED));
            if !hint.is_empty() {
                label.on_hover_text(hint);
            }
            ui.label(RichText::new(value).monospace());
            ui.end_row();
        };
        let utc = |at: Option<u64>| at.map_or_else(|| "-".to_owned(), |t| format!("{} UTC", time_of_day_utc(t)));
        row(ui, "Request received", utc(trace.request_at_nanos), "Receive time at Meshscope (the one clock latencies use)");
        match trace.outcome {
            Outcome::Timeout => {
                row(ui, "Timed out", utc(trace.closed_at_nanos), "No final response within the request timeout");
                if trace.response_at_nanos.is_some() {
                    row(ui, "Late response", utc(trace.response_at_nanos), "Arrived after the timeout was decided");
                }
            }
            Outcome::Cancelled => row(ui, "Cancelled", utc(trace.closed_at_nanos), ""),
            _ => row(ui, "Response received", utc(trace.response_at_nanos), ""),
        }
        let round_trip = match (trace.latency_micros(), trace.outcome, trace.request_at_nanos) {
            (Some(l), _, _) => format_latency_micros(l),
            (None, Outcome::Pending, Some(at)) => format!("{} so far", format_latency_micros(now_nanos.saturating_sub(at) / 1_000)),
            _ => "-".into(),
        };
        row(ui, "Observed round trip", round_trip, "Response receive time minus request receive time, on Meshscope's clock");
        row(
            ui,
            "Time to first partial",
            trace.first_partial_micros().map_or_else(|| "-".into(), format_latency_micros),
            "First streamed item (status, artifact, progress, stream chunk) minus the request",
        );
        let server = match trace.server_elapsed_micros {
            Some(s) => format_latency_micros(s),
            None => "not on the wire".into(),
        };
        row(ui, "Server-reported", server, "The responder's own figure (MQTT.Agent elapsed_ms), where the dialect carries one");
        if let (Some(l), Some(s)) = (trace.latency_micros(), trace.server_elapsed_micros) {
            let overhead = l as i64 - s as i64;
            row(
                ui,
                "Transport and queueing",
                format!("{}{}", if overhead < 0 { "-" } else { "" }, format_latency_micros(overhead.unsigned_abs())),
                "Observed round trip minus the server-reported time (negative: the server's clock or rounding)",
            );
        }
        if let (Some(a), Some(b)) = (trace.request_sent_at_millis, trace.response_sent_at_millis) {
            row(ui, "Sender clocks", format!("{} ms", b - a), "Response timestamp minus request timestamp from the payloads (other machines' clocks: an annotation)");
        }
        if !trace.correlation.is_empty() {
            row(ui, "Correlation", trace.correlation.to_string(), "The pairing key's correlation part");
        }
        if let Some(task) = &trace.task_id {
            row(ui, "Task id", task.to_string(), "");
        }
        if let Some(r) = &trace.responder {
            row(ui, "Answered by", r.to_string(), "Who actually answered, when the wire says");
        }
        if trace.duplicates > 0 || trace.extra_responses > 0 {
            row(ui, "Duplicates / extra", format!("{} / {}", trace.duplicates, trace.extra_responses), "QoS 1 redeliveries ignored / final responses after the first");
        }
        if trace.weak {
            row(ui, "Pairing", "weak (no Correlation Data: first come, first served)".into(), "");
        }
    });
}

fn nesting_ui(
    ui: &mut Ui,
    state: &mut TimelineViewState,
    trace: &Trace,
    actions: &mut Vec<Action>,
) {
    let parent = state.rows.parent_of(trace.trace_id);
    let children = state.rows.children_of(trace.trace_id);
    if parent.is_none() && children.is_empty() {
        return;
    }
    ui.add_space(4.0);
    ui.label(RichText::new("Nesting").strong()).on_hover_text(
        "On the wire where the request names its parent task (parent_task_id); otherwise inferred from \
         timing and identity: the inner call's caller is the outer call's callee (or responder) and it \
         ran inside the outer call.",
    );
    let on_wire = state.rows.parent_on_wire(trace.trace_id);
    let mut go = None;
    let names = &state.records.names;
    let describe = |id: u64| {
        state
            .records
            .get(id)
            .map(|r| format!("#{id} {} -> {}", names.get(r.caller), names.get(r.callee)))
            .unwrap_or_else(|| format!("#{id}"))
    };
    if let Some(p) = parent {
        ui.horizontal(|ui| {
            ui.label("inside");
            if ui
                .link(describe(p))
                .on_hover_text("Select the enclosing call")
                .clicked()
            {
                go = Some(p);
            }
            let basis = if on_wire {
                "(on the wire: the request names its parent_task_id)"
            } else {
                "(inferred from timing and identity)"
            };
            ui.label(RichText::new(basis).color(Theme::TEXT_MUTED));
        });
    }
    if !children.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("{} nested call(s):", children.len()));
            for &c in children.iter().take(MAX_CHILDREN_LISTED) {
                if ui.link(describe(c)).clicked() {
                    go = Some(c);
                }
            }
            if children.len() > MAX_CHILDREN_LISTED {
                ui.label(format!("… {} more", children.len() - MAX_CHILDREN_LISTED));
            }
        });
    }
    if let Some(id) = go {
        state.select_here(Some(id), true, actions);
    }
}

fn partials_ui(ui: &mut Ui, state: &mut TimelineViewState, trace: &Trace) {
    if trace.partials.is_empty() {
        return;
    }
    let title = if trace.partials_dropped > 0 {
        format!(
            "Partials ({}, {} more dropped at the per-trace cap)",
            trace.partials.len(),
            trace.partials_dropped
        )
    } else {
        format!("Partials ({})", trace.partials.len())
    };
    egui::CollapsingHeader::new(RichText::new(title).strong())
        .id_salt("trace_partials")
        .default_open(true)
        .show(ui, |ui| {
            ui.label(RichText::new("In the sender's order where it numbered them, else as received; click one to see its message.").small().color(Theme::TEXT_MUTED));
            let start = trace.request_at_nanos.unwrap_or(0);
            egui::Grid::new("trace_partials_grid").num_columns(4).striped(true).spacing([12.0, 2.0]).show(ui, |ui| {
                ui.label(RichText::new("#").color(Theme::TEXT_MUTED));
                ui.label(RichText::new("kind").color(Theme::TEXT_MUTED));
                ui.label(RichText::new("offset").color(Theme::TEXT_MUTED));
                ui.label(RichText::new("sender seq").color(Theme::TEXT_MUTED));
                ui.end_row();
                for (n, p) in trace.partials_in_order().iter().take(MAX_PARTIALS_LISTED).enumerate() {
                    let shown = state.details.shown_partial_seq == Some(p.message_index);
                    if ui.selectable_label(shown, format!("{}", n + 1)).clicked() {
                        state.details.shown_partial_seq = if shown { None } else { Some(p.message_index) };
                    }
                    ui.label(p.label);
                    let offset = if trace.request_at_nanos.is_some() {
                        format!("+{}", format_latency_micros(p.received_at_nanos.saturating_sub(start) / 1_000))
                    } else {
                        time_of_day_utc(p.received_at_nanos)
                    };
                    ui.label(RichText::new(offset).monospace());
                    ui.label(RichText::new(p.stream_seq.map_or_else(|| "-".into(), |s| s.to_string())).monospace());
                    ui.end_row();
                }
            });
            if state.details.shown_partial_seq.is_some() && ui.small_button("Show the final response").clicked() {
                state.details.shown_partial_seq = None;
            }
        });
}

fn reproduce_ui(
    ui: &mut Ui,
    state: &TimelineViewState,
    model: &Model,
    trace: &Trace,
    actions: &mut Vec<Action>,
) {
    egui::CollapsingHeader::new(RichText::new("Reproduce with mosquitto_pub").strong())
        .id_salt("trace_reproduce")
        .default_open(true)
        .show(ui, |ui| {
            let Some(command) = &state.details.command else {
                let why = if trace.request_message_index.is_none() {
                    "The request was never observed, so there is nothing to reproduce."
                } else {
                    "The request message was evicted from the message store (memory budget): its payload and properties are gone."
                };
                ui.label(RichText::new(why).color(Theme::TEXT_WARNING));
                return;
            };
            ui.horizontal(|ui| {
                if ui.button("Copy command").on_hover_text("Copy the command to the clipboard (POSIX shell quoting)").clicked() {
                    ui.ctx().copy_text(command.text.clone());
                }
                if let (Some(_), Some(seq)) = (&command.payload_file, trace.request_message_index)
                    && ui.button("Save payload…").on_hover_text("Save the request payload for -f").clicked()
                {
                    actions.push(Action::SavePayload { seq });
                }
            });
            ui.add(egui::Label::new(RichText::new(&command.text).monospace()).selectable(true).wrap());
            for note in &command.notes {
                ui.label(RichText::new(note).small().color(Theme::TEXT_MUTED));
            }
            let _ = model;
        });
}

fn message_column_ui(
    ui: &mut Ui,
    title: &str,
    seq: Option<u64>,
    message: Option<&MessageRef<'_>>,
    payload: Option<&PayloadCache>,
    missing: &str,
    actions: &mut Vec<Action>,
) {
    ui.push_id(title, |ui| {
        ui.label(RichText::new(title).strong());
        let Some(message) = message else {
            let text = match seq {
                Some(seq) => format!("Message {seq} was evicted from the message store (memory budget): its payload and properties are gone."),
                None if !missing.is_empty() => missing.to_owned(),
                None => "Not available.".to_owned(),
            };
            ui.label(RichText::new(text).color(Theme::TEXT_MUTED));
            return;
        };
        let raw = &message.raw;
        let topic = raw.topic_lossy();
        // Long topics have no break points: truncate, the whole topic is in the tooltip.
        ui.add(egui::Label::new(RichText::new(topic.as_ref()).monospace()).truncate().selectable(true))
            .on_hover_text(topic.as_ref());
        ui.label(
            RichText::new(format!(
                "{} UTC · QoS {}{}{} · {}",
                time_of_day_utc(raw.received_at_nanos),
                raw.qos,
                if raw.retain { " · retained" } else { "" },
                if raw.dup { " · dup" } else { "" },
                format_bytes(raw.payload.len() as u64)
            ))
            .color(Theme::TEXT_MUTED),
        );
        egui::CollapsingHeader::new("MQTT 5 properties")
            .id_salt("props")
            .default_open(true)
            .show(ui, |ui| mqtt_properties_grid_ui(ui, ("trace_props", title), &raw.props()));
        if let Some(p) = payload {
            p.ui(ui, actions);
        }
    });
}
