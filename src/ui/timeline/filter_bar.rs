//! The timeline's filter bar: dialect, caller, callee, operation, outcome, minimum latency, search, grouping.

use egui::{RichText, Ui};

use crate::protocol::Dialect;
use crate::ui::theme::Theme;
use crate::ui::widgets::format_count;

use super::TimelineViewState;
use super::records::{NO_NAME, RecordCache};
use super::rows::{Filter, GroupBy, OutcomeFilter};

/// Choices offered in the name pickers (the distinct names, sorted), refreshed when opened.
#[derive(Debug, Default)]
pub struct FilterBarState {
    lists_version: Option<u64>,
    dialects: Vec<Dialect>,
    callers: Vec<String>,
    callees: Vec<String>,
    operations: Vec<String>,
}

impl FilterBarState {
    fn refresh(&mut self, records: &RecordCache) {
        if self.lists_version == Some(records.version()) {
            return;
        }
        self.lists_version = Some(records.version());
        let n = records.names.len();
        let (mut caller, mut callee, mut operation) =
            (vec![false; n], vec![false; n], vec![false; n]);
        let mut dialects = [false; Dialect::ALL.len()];
        for r in records.iter() {
            let mark = |v: &mut Vec<bool>, id: u32| {
                if id != NO_NAME
                    && let Some(slot) = v.get_mut(id as usize)
                {
                    *slot = true;
                }
            };
            mark(&mut caller, r.caller);
            mark(&mut callee, r.callee);
            mark(&mut operation, r.operation);
            if let Some(i) = Dialect::ALL.iter().position(|d| *d == r.dialect) {
                dialects[i] = true;
            }
        }
        let names_of = |used: &[bool]| {
            let mut v: Vec<String> = used
                .iter()
                .enumerate()
                .filter(|(_, u)| **u)
                .map(|(i, _)| records.names.get(i as u32).to_owned())
                .collect();
            v.sort();
            v
        };
        self.callers = names_of(&caller);
        self.callees = names_of(&callee);
        self.operations = names_of(&operation);
        self.dialects = Dialect::ALL
            .iter()
            .zip(dialects)
            .filter(|(_, used)| *used)
            .map(|(d, _)| *d)
            .collect();
    }
}

/// Draws the bar; edits go through `set_filter` / `set_group_by` (which mark the rows for rebuild).
pub fn filter_bar_ui(ui: &mut Ui, state: &mut TimelineViewState, _now_nanos: u64) {
    let mut filter = state.filter.clone();
    let mut group_by = state.group_by;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut filter.search)
                .hint_text("agent, tool, operation, correlation, error, #id")
                .desired_width(220.0),
        )
        .labelled_by(label.id)
        .on_hover_text("Case-insensitive text in the caller, callee, responder, operation, correlation id, task id, error, dialect, or #trace-id");

        let open_lists = |bar: &mut FilterBarState, records: &RecordCache| bar.refresh(records);
        let label = ui.label("Dialect");
        egui::ComboBox::from_id_salt("timeline_dialect")
            .selected_text(filter.dialect.map_or("any", |d| d.label()))
            .show_ui(ui, |ui| {
                open_lists(&mut state.filter_bar, &state.records);
                ui.selectable_value(&mut filter.dialect, None, "any");
                for d in &state.filter_bar.dialects {
                    ui.selectable_value(&mut filter.dialect, Some(*d), d.label());
                }
            })
            .response
            .labelled_by(label.id);

        for (title, salt, which) in [("Caller", "timeline_caller", 0), ("Callee", "timeline_callee", 1), ("Operation", "timeline_operation", 2)] {
            let value = match which {
                0 => &mut filter.caller,
                1 => &mut filter.callee,
                _ => &mut filter.operation,
            };
            let label = ui.label(title);
            egui::ComboBox::from_id_salt(salt)
                .selected_text(value.as_deref().unwrap_or("any"))
                .width(150.0)
                .truncate()
                .show_ui(ui, |ui| {
                    open_lists(&mut state.filter_bar, &state.records);
                    let options = match which {
                        0 => &state.filter_bar.callers,
                        1 => &state.filter_bar.callees,
                        _ => &state.filter_bar.operations,
                    };
                    ui.selectable_value(value, None, "any");
                    for name in options {
                        if ui.selectable_label(value.as_deref() == Some(name.as_str()), name.as_str()).clicked() {
                            *value = Some(name.clone());
                        }
                    }
                })
                .response
                .labelled_by(label.id);
        }

        let label = ui.label("Outcome");
        egui::ComboBox::from_id_salt("timeline_outcome")
            .selected_text(filter.outcome.label())
            .show_ui(ui, |ui| {
                for o in OutcomeFilter::ALL {
                    ui.selectable_value(&mut filter.outcome, o, o.label());
                }
            })
            .response
            .labelled_by(label.id);

        let label = ui.label("Min latency");
        ui.add(
            egui::DragValue::new(&mut filter.min_latency_millis)
                .range(0.0..=3_600_000.0)
                .speed(5.0)
                .suffix(" ms"),
        )
        .labelled_by(label.id)
        .on_hover_text("Only traces that took at least this long (pending and timed-out ones count with the time they took); 0 = off");

        let label = ui.label("Group by");
        egui::ComboBox::from_id_salt("timeline_group")
            .selected_text(group_by.label())
            .show_ui(ui, |ui| {
                for g in [GroupBy::Nothing, GroupBy::Callee, GroupBy::Caller] {
                    ui.selectable_value(&mut group_by, g, g.label());
                }
            })
            .response
            .labelled_by(label.id);

        if !filter.is_empty() && ui.button("Clear filters").clicked() {
            filter = Filter::default();
        }
        if let Some(progress) = state.user_rebuild_progress() {
            ui.spinner().on_hover_text(
                "Filtering and nesting the traces; the rows shown are the previous ones until this is done",
            );
            ui.label(
                RichText::new(format!("updating {:.0} %", progress * 100.0))
                    .color(Theme::TEXT_MUTED),
            );
        }
        let rows = state.rows();
        ui.label(
            RichText::new(format!("{} of {} traces", format_count(rows.visible.len() as u64), format_count(rows.total as u64)))
                .color(Theme::TEXT_MUTED),
        );
        let plots_label = if state.hide_plots { "Show plots" } else { "Hide plots" };
        if ui.button(plots_label).clicked() {
            state.hide_plots = !state.hide_plots;
        }
    });
    state.set_filter(filter);
    state.set_group_by(group_by);
}
