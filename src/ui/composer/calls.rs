//! The composer's call list (pending and done, newest first) and the selected call's request, partials, result or error.

use egui::{RichText, Ui};
use serde_json::Value;

use crate::composer::call::{CallOutcome, CallReport};
use crate::composer::history::CallLog;
use crate::model::Model;
use crate::ui::Action;
use crate::ui::theme::Theme;
use crate::ui::widgets::{format_latency_micros, json_tree_ui};

/// What the user asked for in the calls panel (the view carries it out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    Select(u64),
    Cancel(u64),
    Rerun(u64),
    Edit(u64),
    ClearFinished,
}

/// Partials listed per call (the count says how many there were).
const MAX_PARTIALS_SHOWN: usize = 200;

pub fn outcome_colour(outcome: CallOutcome) -> egui::Color32 {
    match outcome {
        CallOutcome::Pending => Theme::SPAN_PENDING,
        CallOutcome::Ok => Theme::SPAN_OK,
        CallOutcome::Error => Theme::SPAN_ERROR,
        CallOutcome::Timeout => Theme::SPAN_TIMEOUT,
        CallOutcome::Cancelled => Theme::SPAN_CANCELLED,
    }
}

/// The list of calls; returns what was clicked.
pub fn call_list_ui(
    ui: &mut Ui,
    calls: &CallLog,
    selected: Option<u64>,
    now_nanos: u64,
) -> Option<CallCommand> {
    let mut command = None;
    ui.horizontal(|ui| {
        ui.heading("Calls");
        ui.label(
            RichText::new(format!("{} pending", calls.pending_count())).color(Theme::TEXT_MUTED),
        );
        if !calls.is_empty() && ui.small_button("Clear finished").clicked() {
            command = Some(CallCommand::ClearFinished);
        }
    });
    if calls.is_empty() {
        ui.label(
            RichText::new("Nothing sent yet. Pick a tool or agent, fill the form, press Send.")
                .color(Theme::TEXT_MUTED),
        );
        return command;
    }
    egui::ScrollArea::vertical()
        .id_salt("composer_calls")
        .max_height(180.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for logged in calls.newest_first() {
                let report = logged.call.report();
                ui.horizontal(|ui| {
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(8.0, 8.0), egui::Sense::hover());
                    ui.painter()
                        .circle_filled(rect.center(), 4.0, outcome_colour(report.outcome));
                    let text = format!("#{} {}", logged.call_key, report.target);
                    if ui
                        .selectable_label(selected == Some(logged.call_key), text)
                        .clicked()
                    {
                        command = Some(CallCommand::Select(logged.call_key));
                    }
                    ui.label(
                        RichText::new(summary(&report, now_nanos))
                            .color(Theme::TEXT_MUTED)
                            .small(),
                    );
                });
            }
        });
    command
}

/// `ok 12.3 ms, 3 partials` / `pending 2.1 s` / `timeout`.
pub fn summary(report: &CallReport, now_nanos: u64) -> String {
    let mut text = report.outcome.as_str().to_owned();
    match (report.latency_micros, report.outcome) {
        (Some(micros), _) => text.push_str(&format!(" {}", format_latency_micros(micros))),
        (None, CallOutcome::Pending) => {
            if let Some(sent) = report.request_at_nanos {
                text.push_str(&format!(
                    " {}",
                    format_latency_micros(now_nanos.saturating_sub(sent) / 1_000)
                ));
            }
        }
        _ => {}
    }
    if report.partials_total > 0 {
        text.push_str(&format!(", {} partial(s)", report.partials_total));
    }
    text
}

/// The selected call in full; returns what was clicked.
pub fn call_details_ui(
    ui: &mut Ui,
    model: &Model,
    calls: &CallLog,
    call_key: u64,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) -> Option<CallCommand> {
    let logged = calls.get(call_key)?;
    let report = logged.call.report();
    let mut command = None;
    ui.separator();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(report.outcome.as_str().to_uppercase())
                .strong()
                .color(outcome_colour(report.outcome)),
        );
        ui.label(RichText::new(format!("#{} {}", call_key, report.target)).strong());
        ui.label(RichText::new(report.dialect.label()).color(Theme::dialect(report.dialect)));
    });
    ui.label(RichText::new(summary(&report, now_nanos)).color(Theme::TEXT_MUTED));
    if let Some(elapsed) = report.server_elapsed_millis {
        ui.label(
            RichText::new(format!("server says {elapsed} ms"))
                .color(Theme::TEXT_MUTED)
                .small(),
        );
    }
    ui.horizontal(|ui| {
        if report.outcome == CallOutcome::Pending
            && ui
                .button("Cancel")
                .on_hover_text("Stop waiting (EMQX MCP: also tell the server)")
                .clicked()
        {
            command = Some(CallCommand::Cancel(call_key));
        }
        if ui
            .button("Re-run")
            .on_hover_text("Send the same call again")
            .clicked()
        {
            command = Some(CallCommand::Rerun(call_key));
        }
        if ui
            .button("Edit")
            .on_hover_text("Load this call into the form")
            .clicked()
        {
            command = Some(CallCommand::Edit(call_key));
        }
        if let Some(trace_id) = find_trace(model, &report)
            && ui.button("Show on timeline").clicked()
        {
            actions.push(Action::SelectTrace(Some(trace_id)));
        }
    });
    egui::ScrollArea::vertical()
        .id_salt(("composer_call_details", call_key))
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if let Some(error) = &report.error {
                ui.label(
                    RichText::new(format!("Error: {}", error.error_type))
                        .strong()
                        .color(Theme::TEXT_ERROR),
                );
                ui.add(
                    egui::Label::new(RichText::new(&error.message).color(Theme::TEXT_ERROR)).wrap(),
                );
                if let Some(code) = &error.code {
                    ui.label(RichText::new(format!("code {code}")).color(Theme::TEXT_MUTED));
                }
            }
            if let Some(result) = &report.result {
                ui.label(RichText::new("Result").strong());
                let text = result_text(result);
                if !text.is_empty() {
                    ui.add(egui::Label::new(RichText::new(text).monospace()).wrap());
                }
                json_tree_ui(ui, ("composer_result", call_key), result);
            }
            if report.partials_total > 0 {
                ui.label(RichText::new(format!("Partials ({})", report.partials_total)).strong());
                for (i, partial) in report.partials.iter().take(MAX_PARTIALS_SHOWN).enumerate() {
                    let offset = report
                        .request_at_nanos
                        .map(|at| {
                            format_latency_micros(
                                partial.received_at_nanos.saturating_sub(at) / 1_000,
                            )
                        })
                        .unwrap_or_default();
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(format!("{i:>3} +{offset}"))
                                .monospace()
                                .color(Theme::TEXT_MUTED),
                        );
                        let label = if partial.after_result {
                            format!("{} (after result)", partial.label)
                        } else {
                            partial.label.clone()
                        };
                        ui.label(RichText::new(label).color(Theme::SPAN_PENDING));
                        ui.label(RichText::new(compact(&partial.value)).monospace());
                    });
                }
            }
            ui.label(RichText::new("Request").strong());
            egui::Grid::new(("composer_request_grid", call_key))
                .num_columns(2)
                .show(ui, |ui| {
                    for (name, value) in [
                        ("topic", report.request_topic.clone().unwrap_or_default()),
                        ("replies on", report.reply_topic.clone().unwrap_or_default()),
                        ("correlation", report.correlation.clone()),
                    ] {
                        ui.label(RichText::new(name).color(Theme::TEXT_MUTED));
                        ui.label(RichText::new(value).monospace());
                        ui.end_row();
                    }
                });
            json_tree_ui(
                ui,
                ("composer_request_args", call_key),
                &logged.call.spec().arguments,
            );
            for line in &report.transcript {
                ui.label(RichText::new(line).color(Theme::TEXT_MUTED).small());
            }
        });
    command
}

/// The trace the observer paired for this call (same dialect and correlation), if any.
fn find_trace(model: &Model, report: &CallReport) -> Option<u64> {
    if report.correlation.is_empty() {
        return None;
    }
    model
        .mesh
        .traces()
        .rev()
        .take(5_000)
        .find(|t| t.dialect == report.dialect && *t.correlation == *report.correlation)
        .map(|t| t.trace_id)
}

/// Text worth reading in a result: MCP `content[].text`, an A2A `text`.
fn result_text(result: &Value) -> String {
    if let Some(items) = result.get("content").and_then(Value::as_array) {
        return items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n");
    }
    result
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn compact(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 200 {
        let mut cut: String = text.chars().take(200).collect();
        cut.push_str("...");
        cut
    } else {
        text
    }
}
