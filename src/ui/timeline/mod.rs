//! The trace timeline (waterfall of paired requests) and the latency plots: state, caches and layout.
//!
//! One time axis ([`axis::TimeAxis`]) drives the waterfall and the time plots. Derived data
//! (records, filtered and nested rows, plot series) is cached and rebuilt only when the mesh
//! changed, the user changed a filter, and at most every [`rebuild_interval_nanos`] while
//! data streams in; pending bars still grow every frame (they are drawn up to `now`).

pub mod axis;
pub mod command;
pub mod details;
pub mod filter_bar;
pub mod nesting;
pub mod plots;
pub mod point_cloud;
pub mod records;
pub mod rows;
pub mod rows_build;
pub mod series;
pub mod stats_table;
pub mod waterfall;

use egui::Ui;

use crate::model::Model;

use super::Action;
use axis::TimeAxis;
use records::RecordCache;
use rows::{Budget, Collapsed, Filter, GroupBy, Rows, RowsBuild};

/// Derived-data work (mirroring new traces, a slice of a rows rebuild) a frame may do before it
/// draws; drawing the timeline and plots takes up to ~1.5 ms more, within the 4 ms budget.
pub const DERIVED_WORK_PER_FRAME_NANOS: u64 = 1_500_000;
/// New traces mirrored per frame at most (~1.5 ms of work): opening a recording with 100 000
/// traces catches up over a few frames instead of freezing one.
const NEW_RECORDS_PER_FRAME: usize = 12_000;
/// A reveal that needs the rows rebuilt is retried this often at most (the trace may be gone).
const MAX_REVEAL_ATTEMPTS: u8 = 3;

/// Live data rebuilds the rows and plot series at most this often (receive clock)...
pub const REBUILD_INTERVAL_NANOS: u64 = 250_000_000;
/// ...growing with the number of traces (a rebuild costs ~4 ms per 100 000) up to this, so
/// rebuild frames stay rare; pending bars still grow every frame.
pub const MAX_REBUILD_INTERVAL_NANOS: u64 = 1_000_000_000;
const TRACES_PER_EXTRA_INTERVAL_STEP: u64 = 100_000;

/// How long live data may wait before the rows are rebuilt, for this many traces.
pub fn rebuild_interval_nanos(traces: usize) -> u64 {
    let extra = (MAX_REBUILD_INTERVAL_NANOS - REBUILD_INTERVAL_NANOS) as u128 * traces as u128
        / TRACES_PER_EXTRA_INTERVAL_STEP as u128;
    (REBUILD_INTERVAL_NANOS as u128 + extra).min(MAX_REBUILD_INTERVAL_NANOS as u128) as u64
}
/// Until the user zooms, the window shows what was seen so far, but at least this much...
const FIRST_WINDOW_MIN_NANOS: u64 = 10 * axis::NANOS_PER_SEC;
/// ...and at most this much.
const FIRST_WINDOW_MAX_NANOS: u64 = 15 * axis::NANOS_PER_SEC;

/// Everything the timeline keeps between frames: view settings, selection and caches.
#[derive(Default)]
pub struct TimelineViewState {
    pub(super) axis: TimeAxis,
    /// The user chose the window's width (zoom, fit, a plot drag); until then it grows with the
    /// data seen, from 10 s up to a minute.
    window_chosen: bool,
    /// Follow-live is on unless paused (by scrolling back, panning, or revealing a trace).
    paused: bool,
    pub(super) filter: Filter,
    pub(super) group_by: GroupBy,
    pub(super) collapsed: Collapsed,
    pub(super) selected: Option<u64>,
    /// Bring this trace into view on the next frame (selected from elsewhere).
    reveal: Option<u64>,
    records: RecordCache,
    rows: Rows,
    /// The rebuild in progress, a slice per frame (the old rows stay on screen meanwhile).
    rows_build: Option<rows::RowsBuild>,
    /// The records changed since the last rebuild started (rebuild when next due).
    records_changed: bool,
    /// The rebuild in progress was asked for by the user (a filter, a fold): show its progress.
    rows_build_for_user: bool,
    reveal_attempts: u8,
    /// Bumps when `rows` is rebuilt (plot caches key on it).
    rows_version: u64,
    rows_dirty: bool,
    /// The rows were rebuilt in this frame (the plots then catch up on the next one).
    rows_rebuilt_this_frame: bool,
    built_at_nanos: Option<u64>,
    /// Plot x = seconds since this receive time (fixed once chosen, so plots do not jump).
    origin_nanos: Option<u64>,
    waterfall: waterfall::WaterfallState,
    plots: plots::PlotsState,
    details: details::DetailsCache,
    stats: stats_table::StatsTableState,
    filter_bar: filter_bar::FilterBarState,
    /// The plots panel is hidden (more room for rows).
    hide_plots: bool,
}

impl TimelineViewState {
    /// Select a trace (from another view or a plot): it is shown, scrolled to and its details opened.
    pub fn select_trace(&mut self, trace_id: u64) {
        if self.selected == Some(trace_id) {
            return;
        }
        self.selected = Some(trace_id);
        self.reveal = Some(trace_id);
    }

    pub fn selected_trace(&self) -> Option<u64> {
        self.selected
    }

    /// Whether the window follows the newest data.
    pub fn follow_live(&self) -> bool {
        !self.paused
    }

    pub fn set_follow_live(&mut self, follow: bool) {
        if follow && self.paused {
            self.waterfall.jump_to_bottom = true;
        }
        self.paused = !follow;
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: Filter) {
        if filter != self.filter {
            self.filter = filter;
            self.rows_dirty = true;
        }
    }

    pub fn group_by(&self) -> GroupBy {
        self.group_by
    }

    pub fn set_group_by(&mut self, group_by: GroupBy) {
        if group_by != self.group_by {
            self.group_by = group_by;
            self.rows_dirty = true;
        }
    }

    /// The rows as last built (filtered traces, inferred parents, drawn lines).
    pub fn rows(&self) -> &Rows {
        &self.rows
    }

    pub fn axis(&self) -> TimeAxis {
        self.axis
    }

    /// Shows this window (while following live only its span is kept).
    pub fn set_window(&mut self, axis: TimeAxis) {
        self.axis = axis;
        self.window_chosen = true;
    }

    /// Where the latency scatter drew this trace's point in the last frame (None: not on screen).
    /// Where the latency, throughput and error-rate plots are on screen (points), if they were
    /// drawn in the last pass or this one (`ctx.cumulative_pass_nr()`).
    pub fn time_plots_rect(&self, current_pass: u64) -> Option<egui::Rect> {
        self.plots.time_plots_rect(current_pass)
    }

    pub fn latency_point_pos(&self, trace_id: u64) -> Option<egui::Pos2> {
        self.plots.point_pos(trace_id)
    }

    /// Rebuild rows and plot series on the next frame even if the model did not change.
    pub fn invalidate(&mut self) {
        self.rows_dirty = true;
    }

    /// A rows rebuild is under way: its progress (0..=1).
    pub fn rebuild_progress(&self) -> Option<f32> {
        self.rows_build
            .as_ref()
            .map(|build| build.progress(&self.records))
    }

    /// Progress of a rebuild the user is waiting for (a new filter on many traces).
    pub(super) fn user_rebuild_progress(&self) -> Option<f32> {
        self.rebuild_progress().filter(|_| self.rows_build_for_user)
    }

    /// Finishes any rebuild now, however long it takes (tests and benchmarks that want the
    /// rows of this very frame).
    pub fn finish_rebuild(&mut self, model: &Model) {
        if let Some(mut build) = self.rows_build.take() {
            let rows = loop {
                if let Some(rows) = build.step(&self.records, &model.mesh, &mut Budget::unlimited())
                {
                    break rows;
                }
            };
            self.install_rows(rows);
        }
    }

    pub(super) fn pause(&mut self) {
        self.paused = true;
    }

    pub(super) fn toggle_fold(&mut self, trace_id: u64) {
        if !self.collapsed.traces.remove(&trace_id) {
            self.collapsed.traces.insert(trace_id);
        }
        self.rows_dirty = true;
    }

    pub(super) fn toggle_group_fold(&mut self, label: &str) {
        if !self.collapsed.groups.remove(label) {
            self.collapsed.groups.insert(label.to_owned());
        }
        self.rows_dirty = true;
    }

    /// Selects from inside the timeline (a row or a plot point) and tells the app.
    pub(super) fn select_here(
        &mut self,
        trace_id: Option<u64>,
        reveal: bool,
        actions: &mut Vec<Action>,
    ) {
        if self.selected == trace_id {
            return;
        }
        self.selected = trace_id;
        if reveal {
            self.reveal = trace_id;
        }
        actions.push(Action::SelectTrace(trace_id));
    }

    /// Sync caches with the model (a bounded amount per frame), advance the rows rebuild, place
    /// the axis, and honour a pending reveal.
    fn prepare(&mut self, model: &Model, now_nanos: u64) {
        self.rows_rebuilt_this_frame = false;
        let mut budget = Budget::for_nanos(DERIVED_WORK_PER_FRAME_NANOS);
        let due = self.rows_dirty
            || self.reveal.is_some()
            || self.built_at_nanos.is_none_or(|at| {
                now_nanos < at || now_nanos - at >= rebuild_interval_nanos(self.records.len())
            });
        if due {
            let synced = self
                .records
                .sync_up_to(&model.mesh, &model.store, NEW_RECORDS_PER_FRAME);
            self.records_changed |= synced.changed;
            // A running rebuild goes on for new data (it covers the traces it started with);
            // a changed filter, fold or grouping starts over.
            // While the mirror catches up (opening a big recording), wait for all of it.
            let start = self.rows_dirty
                || (self.rows_build.is_none()
                    && synced.complete
                    && (self.records_changed || self.rows_version == 0));
            if start {
                self.rows_build_for_user = self.rows_dirty;
                self.rows_build = Some(RowsBuild::start(
                    &self.records,
                    &self.filter,
                    self.group_by,
                    &self.collapsed,
                    now_nanos,
                ));
                self.rows_dirty = false;
                self.records_changed = false;
            }
            if synced.complete {
                self.built_at_nanos = Some(now_nanos);
            }
        }
        if let Some(build) = &mut self.rows_build
            && let Some(rows) = build.step(&self.records, &model.mesh, &mut budget)
        {
            self.rows_build = None;
            self.install_rows(rows);
        }
        if self.origin_nanos.is_none() {
            self.origin_nanos = model
                .mesh
                .observed()
                .from_nanos
                .or_else(|| self.records.iter().next().map(|r| r.start_nanos));
        }
        if !self.window_chosen && !self.paused {
            // The window covers what was seen so far (within reason), ending at now.
            let span = match self.records.iter().next() {
                Some(first) => {
                    let seen = now_nanos.saturating_sub(first.start_nanos);
                    ((seen as f64 * 1.08) as u64)
                        .clamp(FIRST_WINDOW_MIN_NANOS, FIRST_WINDOW_MAX_NANOS)
                }
                None => axis::DEFAULT_SPAN_NANOS,
            };
            if span != self.axis.span_nanos() {
                self.axis = TimeAxis::new(now_nanos.saturating_sub(span), span);
            }
        }
        // A reveal waits for the rows being rebuilt (they decide where the trace is).
        if self.rows_build.is_none()
            && let Some(trace_id) = self.reveal.take()
        {
            self.reveal_now(trace_id, now_nanos);
        }
        if !self.paused {
            self.axis.follow(now_nanos);
        }
    }

    fn install_rows(&mut self, rows: Rows) {
        self.rows = rows;
        self.rows_version = self.rows_version.wrapping_add(1);
        self.rows_rebuilt_this_frame = true;
    }

    /// Shows a trace: clears a filter that hides it and unfolds what folds it (then waits for
    /// the rows to be rebuilt and comes back), centres the axis on it and scrolls to its row.
    fn reveal_now(&mut self, trace_id: u64, now_nanos: u64) {
        let Some(record) = self.records.get(trace_id).copied() else {
            self.reveal_attempts = 0;
            return;
        };
        let mut rebuild = false;
        if self.rows.visible_index(trace_id).is_none() {
            // Filtered out (or newer than the rows): the user asked to see it, so show everything.
            self.filter = Filter::default();
            rebuild = true;
        } else {
            // Unfold what hides it.
            let mut ancestor = self.rows.parent_of(trace_id);
            while let Some(a) = ancestor {
                rebuild |= self.collapsed.traces.remove(&a);
                ancestor = self.rows.parent_of(a);
            }
            let group = match self.group_by {
                GroupBy::Nothing => None,
                GroupBy::Callee => Some(record.callee),
                GroupBy::Caller => Some(record.caller),
            };
            if let Some(name) = group {
                let label = rows::group_label(&self.records.names, name).to_owned();
                rebuild |= self.collapsed.groups.remove(&label);
            }
        }
        if rebuild && self.reveal_attempts < MAX_REVEAL_ATTEMPTS {
            self.reveal_attempts += 1;
            self.rows_dirty = true;
            self.reveal = Some(trace_id);
            return;
        }
        self.reveal_attempts = 0;
        let (from, to) = (record.start_nanos, record.end_or(now_nanos));
        if !(self.axis.start_nanos() <= from && to <= self.axis.end_nanos()) {
            if to - from > self.axis.span_nanos() {
                self.axis.fit(from, to);
                self.window_chosen = true;
            } else {
                self.axis.centre_on(from + (to - from) / 2);
            }
        }
        self.paused = true;
        self.waterfall.scroll_to = self.rows.display_index(trace_id);
    }
}

/// The timeline view: filters on top, details on the right, plots at the bottom, rows in the middle.
pub fn timeline_view_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut TimelineViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    state.prepare(model, now_nanos);
    if state.rows_build.is_some() {
        // The rebuild goes on in the next frame even if nothing else moves.
        ui.ctx().request_repaint();
    }
    egui::Panel::top("timeline_filters")
        .show(ui, |ui| filter_bar::filter_bar_ui(ui, state, now_nanos));
    if state.selected.is_some() {
        egui::Panel::right("timeline_details")
            .resizable(true)
            .default_size(560.0)
            .min_size(320.0)
            .show(ui, |ui| {
                details::details_ui(ui, model, state, now_nanos, actions)
            });
    }
    if !state.hide_plots {
        egui::Panel::bottom("timeline_plots")
            .resizable(true)
            .default_size(320.0)
            .min_size(160.0)
            .show(ui, |ui| {
                plots::plots_panel_ui(ui, model, state, now_nanos, actions)
            });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        waterfall::waterfall_ui(ui, model, state, now_nanos, actions)
    });
}
