//! The compact per-operation table (count, errors, p50, p95, p99, max) that sorts; a click narrows the timeline to that operation.

use std::sync::Arc;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::model::Model;
use crate::protocol::Dialect;
use crate::ui::theme::Theme;

use super::axis::format_latency_micros;
use super::rows::Filter;
use super::{MAX_REBUILD_INTERVAL_NANOS, TimelineViewState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    Operation,
    #[default]
    Count,
    Errors,
    P50,
    P95,
    P99,
    Max,
}

/// One row: a (dialect, callee, operation) over the whole session (the model's exact-to-1 % histograms).
#[derive(Debug, Clone)]
pub struct StatsLine {
    pub dialect: Dialect,
    pub callee: Arc<str>,
    pub operation: Arc<str>,
    pub count: u64,
    /// Error replies and timeouts.
    pub errors: u64,
    pub p50_micros: Option<u64>,
    pub p95_micros: Option<u64>,
    pub p99_micros: Option<u64>,
    pub max_micros: Option<u64>,
}

#[derive(Debug, Default)]
pub struct StatsTableState {
    pub sort: SortColumn,
    pub ascending: bool,
    lines: Vec<StatsLine>,
    built: Option<(u64, u64)>,
}

impl StatsTableState {
    fn refresh(&mut self, model: &Model, now_nanos: u64) {
        let revision = model.mesh.revision();
        if let Some((rev, at)) = self.built {
            let fresh = now_nanos >= at && now_nanos - at < MAX_REBUILD_INTERVAL_NANOS;
            if rev == revision || fresh {
                return;
            }
        }
        self.built = Some((revision, now_nanos));
        self.lines = model
            .mesh
            .stats(now_nanos)
            .iter()
            .map(|v| StatsLine {
                dialect: v.row.dialect,
                callee: v.row.callee.clone(),
                operation: v.row.operation.clone(),
                count: v.row.count,
                errors: v.row.errors + v.row.timeouts,
                p50_micros: v.session.p50_micros,
                p95_micros: v.session.p95_micros,
                p99_micros: v.session.p99_micros,
                max_micros: v.session.max_micros,
            })
            .collect();
        self.sort_lines();
    }

    fn sort_lines(&mut self) {
        let key = self.sort;
        self.lines.sort_by(|a, b| {
            let order = match key {
                SortColumn::Operation => (&a.callee, &a.operation).cmp(&(&b.callee, &b.operation)),
                SortColumn::Count => a.count.cmp(&b.count),
                SortColumn::Errors => a.errors.cmp(&b.errors),
                SortColumn::P50 => a.p50_micros.cmp(&b.p50_micros),
                SortColumn::P95 => a.p95_micros.cmp(&b.p95_micros),
                SortColumn::P99 => a.p99_micros.cmp(&b.p99_micros),
                SortColumn::Max => a.max_micros.cmp(&b.max_micros),
            };
            // Ties in a stable, readable order.
            let order = order.then_with(|| {
                (&a.callee, &a.operation, a.dialect).cmp(&(&b.callee, &b.operation, b.dialect))
            });
            if self.ascending {
                order
            } else {
                order.reverse()
            }
        });
    }

    /// Sorts by `column`; the same column again flips the direction.
    pub fn sort_by(&mut self, column: SortColumn) {
        if self.sort == column {
            self.ascending = !self.ascending;
        } else {
            self.sort = column;
            self.ascending = column == SortColumn::Operation;
        }
        self.sort_lines();
    }

    pub fn lines(&self) -> &[StatsLine] {
        &self.lines
    }
}

pub fn stats_table_ui(ui: &mut Ui, model: &Model, state: &mut TimelineViewState, now_nanos: u64) {
    state.stats.refresh(model, now_nanos);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Per operation").strong());
        ui.label(
            RichText::new("whole session · click a row to show only it").color(Theme::TEXT_MUTED),
        );
    });
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut sort_clicked = None;
    let mut row_clicked = None;
    let current = state.filter.clone();
    let stats = &state.stats;
    TableBuilder::new(ui)
        .id_salt("timeline_stats")
        .striped(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::remainder().at_least(120.0).clip(true))
        .columns(Column::auto().at_least(44.0), 6)
        .auto_shrink([false, false])
        .header(row_height, |mut header| {
            for (title, column) in [
                ("Operation", SortColumn::Operation),
                ("Count", SortColumn::Count),
                ("Errors", SortColumn::Errors),
                ("p50", SortColumn::P50),
                ("p95", SortColumn::P95),
                ("p99", SortColumn::P99),
                ("Max", SortColumn::Max),
            ] {
                header.col(|ui| {
                    let marker = match (stats.sort == column, stats.ascending) {
                        (true, true) => " ^",
                        (true, false) => " v",
                        (false, _) => "",
                    };
                    if ui
                        .add(
                            egui::Button::new(RichText::new(format!("{title}{marker}")).strong())
                                .frame(false),
                        )
                        .on_hover_text("Sort by this column (again: reverse)")
                        .clicked()
                    {
                        sort_clicked = Some(column);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, stats.lines.len(), |mut row| {
                let Some(line) = stats.lines.get(row.index()) else {
                    return;
                };
                let selected = current.callee.as_deref() == Some(&*line.callee)
                    && current.operation.as_deref() == Some(&*line.operation);
                row.set_selected(selected);
                row.col(|ui| {
                    ui.add(
                        egui::Label::new(
                            RichText::new(format!("{} · {}", line.callee, line.operation))
                                .color(Theme::dialect(line.dialect)),
                        )
                        .selectable(false)
                        .truncate(),
                    )
                    .on_hover_text(line.dialect.label());
                });
                let cell = |row: &mut egui_extras::TableRow<'_, '_>,
                            text: String,
                            colour: Option<egui::Color32>| {
                    row.col(|ui| {
                        let mut rich = RichText::new(text).monospace();
                        if let Some(c) = colour {
                            rich = rich.color(c);
                        }
                        ui.add(egui::Label::new(rich).selectable(false));
                    });
                };
                let latency =
                    |v: Option<u64>| v.map(format_latency_micros).unwrap_or_else(|| "-".into());
                cell(&mut row, line.count.to_string(), None);
                cell(
                    &mut row,
                    line.errors.to_string(),
                    (line.errors > 0).then_some(Theme::TEXT_ERROR),
                );
                cell(&mut row, latency(line.p50_micros), None);
                cell(&mut row, latency(line.p95_micros), None);
                cell(&mut row, latency(line.p99_micros), None);
                cell(&mut row, latency(line.max_micros), None);
                if row.response().clicked() {
                    row_clicked = Some(line.clone());
                }
            });
        });
    if let Some(column) = sort_clicked {
        state.stats.sort_by(column);
    }
    if let Some(line) = row_clicked {
        let same = current.callee.as_deref() == Some(&*line.callee)
            && current.operation.as_deref() == Some(&*line.operation);
        let filter = if same {
            Filter {
                dialect: None,
                callee: None,
                operation: None,
                ..current
            }
        } else {
            Filter {
                dialect: Some(line.dialect),
                callee: Some(line.callee.to_string()),
                operation: Some(line.operation.to_string()),
                ..current
            }
        };
        state.set_filter(filter);
    }
}
