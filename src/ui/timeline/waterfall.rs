//! The waterfall: one row per trace on the shared time axis (bars by outcome, partial ticks, nesting, groups), zoom, pan and follow-live.

use egui::{
    Align2, Color32, CornerRadius, FontId, Pos2, Rect, Response, RichText, Sense, Shape, Stroke,
    Ui, Vec2, pos2, vec2,
};

use crate::model::Model;
use crate::model::mesh::Outcome;
use crate::ui::Action;
use crate::ui::theme::Theme;
use crate::ui::widgets::time_of_day_utc;

use super::TimelineViewState;
use super::axis::{TimeAxis, format_latency_micros, format_span, tick_label};
use super::records::{NO_NAME, TraceRecord};
use super::rows::{self, DisplayRow, MAX_DRAWN_DEPTH};

pub const ROW_HEIGHT: f32 = 20.0;
const HEADER_HEIGHT: f32 = 22.0;
const LATENCY_COLUMN_WIDTH: f32 = 84.0;
const DEFAULT_LABEL_WIDTH: f32 = 340.0;
const INDENT_PER_LEVEL: f32 = 14.0;
const FOLD_BOX: f32 = 12.0;
/// Partial ticks drawn per bar (the model keeps up to 256).
const MAX_PARTIAL_TICKS: usize = 128;
const MIN_TICK_SPACING_PX: f32 = 96.0;

/// Scroll and layout state of the row list.
#[derive(Debug, Default)]
pub struct WaterfallState {
    /// Scroll this display row into view on the next frame.
    pub scroll_to: Option<usize>,
    /// Scroll to the newest row on the next frame (follow-live turned back on).
    pub jump_to_bottom: bool,
    last_viewport_height: f32,
}

/// Where the columns are on screen.
#[derive(Debug, Clone, Copy)]
struct Columns {
    left: f32,
    label_width: f32,
    bar_left: f32,
    bar_width: f32,
}

impl Columns {
    fn of(rect: Rect) -> Columns {
        let label_width = DEFAULT_LABEL_WIDTH.min((rect.width() * 0.4).max(160.0));
        let bar_left = rect.left() + label_width + LATENCY_COLUMN_WIDTH;
        Columns {
            left: rect.left(),
            label_width,
            bar_left,
            bar_width: (rect.right() - bar_left - 6.0).max(10.0),
        }
    }

    fn bar_right(&self) -> f32 {
        self.bar_left + self.bar_width
    }
}

pub fn waterfall_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut TimelineViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    toolbar_ui(ui, state, now_nanos);
    let (header_rect, header_response) =
        ui.allocate_exact_size(vec2(ui.available_width(), HEADER_HEIGHT), Sense::drag());
    let columns = Columns::of(header_rect);
    let gaps: Vec<(u64, u64)> = model
        .session
        .gaps()
        .into_iter()
        .map(|(from, to)| (from, to.unwrap_or(now_nanos)))
        .collect();
    header_ui(ui, header_rect, columns, &state.axis, now_nanos, &gaps);
    if header_response.dragged() {
        pan(state, header_response.drag_delta().x, columns);
    }

    let following = state.follow_live();
    let total_rows = state.rows.display.len();
    let mut scroll = egui::ScrollArea::vertical()
        .id_salt("timeline_rows")
        .auto_shrink([false, false])
        .animated(false)
        .stick_to_bottom(following);
    if let Some(row) = state.waterfall.scroll_to.take() {
        let offset =
            (row as f32 * ROW_HEIGHT - state.waterfall.last_viewport_height / 2.0).max(0.0);
        scroll = scroll.vertical_scroll_offset(offset);
    } else if std::mem::take(&mut state.waterfall.jump_to_bottom) {
        let offset =
            (total_rows as f32 * ROW_HEIGHT - state.waterfall.last_viewport_height).max(0.0);
        scroll = scroll.vertical_scroll_offset(offset);
    }
    let mut events = RowEvents::default();
    let output = ui
        .scope(|ui| {
            ui.spacing_mut().item_spacing.y = 0.0;
            scroll.show_rows(ui, ROW_HEIGHT, total_rows, |ui, range| {
                let backdrop = ui.painter().add(Shape::Noop);
                let clip = ui.clip_rect();
                let columns = Columns::of(ui.max_rect());
                for i in range {
                    let Some(row) = state.rows.display.get(i).copied() else {
                        break;
                    };
                    let (rect, response) = ui.allocate_exact_size(
                        vec2(ui.available_width(), ROW_HEIGHT),
                        Sense::click_and_drag(),
                    );
                    match row {
                        DisplayRow::Group {
                            name,
                            traces,
                            failed,
                            collapsed,
                        } => {
                            group_row_ui(
                                ui,
                                rect,
                                &response,
                                state,
                                name,
                                traces,
                                failed,
                                collapsed,
                                &mut events,
                            );
                        }
                        DisplayRow::Trace {
                            index,
                            depth,
                            children,
                            collapsed,
                        } => {
                            let Some(record) = state
                                .rows
                                .visible
                                .get(index as usize)
                                .and_then(|id| state.records.get(*id))
                                .copied()
                            else {
                                continue;
                            };
                            trace_row_ui(
                                ui,
                                rect,
                                &response,
                                model,
                                state,
                                columns,
                                &record,
                                depth,
                                children,
                                collapsed,
                                now_nanos,
                                &mut events,
                            );
                        }
                    }
                    if response.dragged() {
                        events.pan_dx += response.drag_delta().x;
                    }
                }
                // Under the bars: time grid and the spans when the observer was disconnected.
                let mut under = Vec::new();
                let axis = &state.axis;
                for t in axis.ticks(columns.bar_width, MIN_TICK_SPACING_PX).at_nanos {
                    let x = axis.x_of(t, columns.bar_left, columns.bar_width);
                    under.push(Shape::vline(
                        x,
                        clip.y_range(),
                        Stroke::new(1.0, Theme::AXIS_TICK),
                    ));
                }
                for &(from, to) in &gaps {
                    if let Some(r) = span_rect(axis, columns, from, to, clip.y_range()) {
                        under.push(Shape::rect_filled(r, 0.0, Theme::GAP_FILL));
                    }
                }
                ui.painter().set(backdrop, Shape::Vec(under));
                let now_x = axis.x_of(now_nanos, columns.bar_left, columns.bar_width);
                if (columns.bar_left..=columns.bar_right()).contains(&now_x) {
                    ui.painter().vline(
                        now_x,
                        clip.y_range(),
                        Stroke::new(1.0, Theme::NOW_LINE.gamma_multiply(0.6)),
                    );
                }
                let bars =
                    Rect::from_x_y_ranges(columns.bar_left..=columns.bar_right(), clip.y_range());
                events.bar_area = Some(bars);
            })
        })
        .inner;
    state.waterfall.last_viewport_height = output.inner_rect.height();

    if total_rows == 0 {
        let text = if state.rows.total == 0 {
            "No traces yet: requests appear here as soon as a request/response dialect is seen."
        } else {
            "No trace matches the filters."
        };
        ui.painter().text(
            output.inner_rect.center(),
            Align2::CENTER_CENTER,
            text,
            FontId::proportional(14.0),
            Theme::TEXT_MUTED,
        );
    }

    // Follow-live pauses when the user scrolled the rows away from the newest.
    let max_offset = output.content_size.y - output.inner_rect.height();
    if following && max_offset > 0.0 && output.state.clamped_offset().y < max_offset - 1.0 {
        state.pause();
    }
    apply_events(ui, state, events, columns, now_nanos, actions);
}

/// What the rows asked for this frame (applied after drawing).
#[derive(Default)]
struct RowEvents {
    clicked: Option<u64>,
    double_clicked: Option<u64>,
    fold: Option<u64>,
    fold_group: Option<String>,
    pan_dx: f32,
    bar_area: Option<Rect>,
}

fn apply_events(
    ui: &Ui,
    state: &mut TimelineViewState,
    events: RowEvents,
    columns: Columns,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    if let Some(trace_id) = events.fold {
        state.toggle_fold(trace_id);
    } else if let Some(label) = events.fold_group {
        state.toggle_group_fold(&label);
    } else if let Some(trace_id) = events.clicked {
        // Like the message list: what you clicked stays in view (new rows would push it away).
        state.select_here(Some(trace_id), false, actions);
        state.pause();
    }
    if let Some(trace_id) = events.double_clicked
        && let Some(record) = state.records.get(trace_id).copied()
    {
        state.axis.fit(record.start_nanos, record.end_or(now_nanos));
        state.window_chosen = true;
        state.pause();
    }
    if events.pan_dx != 0.0 {
        pan(state, events.pan_dx, columns);
    }
    // Ctrl+wheel zooms around the pointer (around "now" while following); sideways wheel pans.
    let Some(bars) = events.bar_area else { return };
    let (hover, zoom, sideways) = ui.input(|i| {
        (
            i.pointer.hover_pos(),
            i.zoom_delta(),
            i.smooth_scroll_delta.x,
        )
    });
    let Some(pointer) = hover.filter(|p| bars.contains(*p)) else {
        return;
    };
    if zoom != 1.0 && zoom.is_finite() && zoom > 0.0 {
        let anchor = if state.follow_live() {
            now_nanos
        } else {
            state
                .axis
                .nanos_at(pointer.x, columns.bar_left, columns.bar_width)
        };
        state.axis.zoom(1.0 / f64::from(zoom), anchor);
        state.window_chosen = true;
    }
    if sideways != 0.0 {
        pan(state, sideways, columns);
    }
}

fn pan(state: &mut TimelineViewState, dx: f32, columns: Columns) {
    state.axis.pan_px(dx, columns.bar_width);
    state.pause();
}

fn toolbar_ui(ui: &mut Ui, state: &mut TimelineViewState, now_nanos: u64) {
    ui.horizontal(|ui| {
        let mut follow = state.follow_live();
        if ui
            .checkbox(&mut follow, "Follow live")
            .on_hover_text(
                "Keep the newest traces and 'now' in view; scrolling back, panning or selecting pauses it",
            )
            .changed()
        {
            state.set_follow_live(follow);
        }
        let centre = if state.follow_live() {
            now_nanos
        } else {
            state.axis.start_nanos() + state.axis.span_nanos() / 2
        };
        if ui
            .button("Zoom in")
            .on_hover_text("Halve the time window (Ctrl+wheel over the bars)")
            .clicked()
        {
            state.axis.zoom(0.5, centre);
            state.window_chosen = true;
        }
        if ui
            .button("Zoom out")
            .on_hover_text("Double the time window")
            .clicked()
        {
            state.axis.zoom(2.0, centre);
            state.window_chosen = true;
        }
        if ui
            .button("Fit")
            .on_hover_text("Show every listed trace (double-click a row to fit one)")
            .clicked()
        {
            fit_all(state, now_nanos);
        }
        ui.label(
            RichText::new(format!("window {}", format_span(state.axis.span_nanos())))
                .color(Theme::TEXT_MUTED),
        )
        .on_hover_text("Drag the bars or the time axis to pan; Shift+wheel pans too");
        ui.separator();
        for (name, colour) in [
            ("ok", Theme::SPAN_OK),
            ("error", Theme::SPAN_ERROR),
            ("timeout", Theme::SPAN_TIMEOUT),
            ("pending", Theme::SPAN_PENDING),
            ("cancelled", Theme::SPAN_CANCELLED),
            ("orphan", Theme::SPAN_ORPHAN),
        ] {
            legend_chip_ui(ui, name, colour);
        }
        legend_chip_ui(ui, "observer offline", Theme::GAP_BORDER);
    });
}

fn legend_chip_ui(ui: &mut Ui, name: &str, colour: Color32) {
    let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
    ui.painter().rect_filled(rect, 2.0, colour);
    ui.label(RichText::new(name).small().color(Theme::TEXT_MUTED));
}

/// Fits the window to the listed traces (follow-live keeps "now" at the right edge).
fn fit_all(state: &mut TimelineViewState, now_nanos: u64) {
    let mut from = u64::MAX;
    let mut to = 0;
    for id in &state.rows.visible {
        if let Some(r) = state.records.get(*id) {
            from = from.min(r.start_nanos);
            to = to.max(r.end_or(now_nanos));
        }
    }
    if from > to {
        return;
    }
    if state.follow_live() {
        to = to.max(now_nanos);
    }
    state.axis.fit(from, to);
    state.window_chosen = true;
    if state.follow_live() {
        state.axis.follow(now_nanos);
    }
}

fn header_ui(
    ui: &Ui,
    rect: Rect,
    columns: Columns,
    axis: &TimeAxis,
    now_nanos: u64,
    gaps: &[(u64, u64)],
) {
    let painter = ui.painter().with_clip_rect(rect);
    let font = FontId::proportional(11.0);
    painter.text(
        pos2(columns.left + 4.0, rect.center().y),
        Align2::LEFT_CENTER,
        "caller -> callee  operation",
        font.clone(),
        Theme::TEXT_MUTED,
    );
    painter.text(
        pos2(columns.bar_left - 6.0, rect.center().y),
        Align2::RIGHT_CENTER,
        "latency",
        font.clone(),
        Theme::TEXT_MUTED,
    );
    let bar_painter = painter.with_clip_rect(Rect::from_x_y_ranges(
        columns.bar_left..=columns.bar_right(),
        rect.y_range(),
    ));
    for &(from, to) in gaps {
        if let Some(r) = span_rect(axis, columns, from, to, rect.y_range()) {
            bar_painter.rect_filled(r, 0.0, Theme::GAP_FILL);
            bar_painter.rect_stroke(
                r,
                0.0,
                Stroke::new(1.0, Theme::GAP_BORDER),
                egui::StrokeKind::Inside,
            );
        }
    }
    let ticks = axis.ticks(columns.bar_width, MIN_TICK_SPACING_PX);
    for t in &ticks.at_nanos {
        let x = axis.x_of(*t, columns.bar_left, columns.bar_width);
        bar_painter.vline(
            x,
            rect.bottom() - 5.0..=rect.bottom(),
            Stroke::new(1.0, Theme::TEXT_MUTED),
        );
        bar_painter.text(
            pos2(x + 3.0, rect.center().y - 2.0),
            Align2::LEFT_CENTER,
            tick_label(*t, ticks.step_nanos),
            font.clone(),
            Theme::TEXT_MUTED,
        );
    }
    let now_x = axis.x_of(now_nanos, columns.bar_left, columns.bar_width);
    if (columns.bar_left..=columns.bar_right()).contains(&now_x) {
        bar_painter.vline(now_x, rect.y_range(), Stroke::new(1.5, Theme::NOW_LINE));
    }
    painter.hline(
        rect.x_range(),
        rect.bottom(),
        Stroke::new(1.0, Theme::AXIS_TICK),
    );
}

/// The on-screen rectangle of `[from, to]` in the bar column, if any of it is in the window.
fn span_rect(
    axis: &TimeAxis,
    columns: Columns,
    from: u64,
    to: u64,
    y: egui::Rangef,
) -> Option<Rect> {
    if !axis.overlaps(from, to) {
        return None;
    }
    let x0 = axis
        .x_of(from, columns.bar_left, columns.bar_width)
        .max(columns.bar_left);
    let x1 = axis
        .x_of(to, columns.bar_left, columns.bar_width)
        .min(columns.bar_right())
        .max(x0 + 1.0);
    Some(Rect::from_x_y_ranges(x0..=x1, y))
}

fn row_background(ui: &Ui, rect: Rect, response: &Response, selected: bool) {
    if selected {
        ui.painter().rect_filled(rect, 0.0, Theme::ROW_SELECTED);
    } else if response.hovered() {
        ui.painter().rect_filled(rect, 0.0, Theme::ROW_HOVER);
    }
}

#[allow(clippy::too_many_arguments)]
fn group_row_ui(
    ui: &mut Ui,
    rect: Rect,
    response: &Response,
    state: &TimelineViewState,
    name: u32,
    traces: u32,
    failed: u32,
    collapsed: bool,
    events: &mut RowEvents,
) {
    let label = rows::group_label(&state.records.names, name).to_owned();
    let role = if state.group_by == rows::GroupBy::Caller {
        "caller"
    } else {
        "callee"
    };
    let text = format!("{role} {label}: {traces} traces, {failed} failed");
    ui.painter().rect_filled(rect, 0.0, Theme::GROUP_HEADER);
    let sign = if collapsed { "+" } else { "-" };
    ui.painter().text(
        pos2(rect.left() + 6.0, rect.center().y),
        Align2::LEFT_CENTER,
        format!("[{sign}] {text}"),
        FontId::proportional(13.0),
        if failed > 0 {
            Theme::TEXT_WARNING
        } else {
            ui.visuals().strong_text_color()
        },
    );
    let label_for_a11y = text.clone();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label_for_a11y));
    if response.clicked() {
        events.fold_group = Some(label);
    }
}

#[allow(clippy::too_many_arguments)]
fn trace_row_ui(
    ui: &mut Ui,
    rect: Rect,
    response: &Response,
    model: &Model,
    state: &TimelineViewState,
    columns: Columns,
    record: &TraceRecord,
    depth: u16,
    children: u32,
    collapsed: bool,
    now_nanos: u64,
    events: &mut RowEvents,
) {
    let selected = state.selected == Some(record.trace_id);
    row_background(ui, rect, response, selected);
    let names = &state.records.names;
    let caller = if record.caller == NO_NAME {
        if record.outcome == Outcome::Orphan {
            "(request not seen)"
        } else {
            "?"
        }
    } else {
        names.get(record.caller)
    };
    let text = format!(
        "{caller} -> {}  {}",
        names.get(record.callee),
        names.get(record.operation)
    );
    let indent = f32::from(depth.min(MAX_DRAWN_DEPTH)) * INDENT_PER_LEVEL;
    let label_rect = Rect::from_x_y_ranges(
        columns.left..=columns.left + columns.label_width,
        rect.y_range(),
    );
    let painter = ui
        .painter()
        .with_clip_rect(label_rect.intersect(ui.clip_rect()));
    let y = rect.center().y;
    // Nesting guide: an elbow from the parent's column.
    if depth > 0 {
        let x = columns.left + indent - INDENT_PER_LEVEL / 2.0 + 4.0;
        let stroke = Stroke::new(1.0, Theme::NESTING_GUIDE);
        painter.vline(x, rect.top()..=y, stroke);
        painter.hline(x..=x + INDENT_PER_LEVEL / 2.0, y, stroke);
    }
    let mut text_x = columns.left + indent + 4.0 + FOLD_BOX + 4.0;
    if children > 0 {
        let fold_rect = Rect::from_center_size(
            pos2(columns.left + indent + 4.0 + FOLD_BOX / 2.0, y),
            Vec2::splat(FOLD_BOX),
        );
        let fold = ui.interact(
            fold_rect,
            ui.make_persistent_id(("timeline_fold", record.trace_id)),
            Sense::click(),
        );
        painter.rect_stroke(
            fold_rect,
            2.0,
            Stroke::new(1.0, Theme::TEXT_MUTED),
            egui::StrokeKind::Inside,
        );
        painter.text(
            fold_rect.center(),
            Align2::CENTER_CENTER,
            if collapsed { "+" } else { "-" },
            FontId::monospace(11.0),
            Theme::TEXT_MUTED,
        );
        let fold_label = format!(
            "{} nested calls of #{}",
            if collapsed { "Show" } else { "Hide" },
            record.trace_id
        );
        fold.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &fold_label));
        if fold.clicked() {
            events.fold = Some(record.trace_id);
        }
        fold.on_hover_text(format!(
            "{children} nested call(s): named on the wire (parent_task_id) or inferred from timing and identity"
        ));
    } else {
        text_x -= FOLD_BOX / 2.0;
    }
    // Dialect dot, then the call.
    painter.circle_filled(pos2(text_x + 3.0, y), 3.0, Theme::dialect(record.dialect));
    let text_colour = if selected {
        ui.visuals().strong_text_color()
    } else {
        ui.visuals().text_color()
    };
    painter.text(
        pos2(text_x + 10.0, y),
        Align2::LEFT_CENTER,
        &text,
        FontId::proportional(13.0),
        text_colour,
    );

    // Latency column.
    let (latency_text, latency_colour) = match record.outcome {
        Outcome::Ok | Outcome::Error => (
            record
                .latency_micros
                .map(format_latency_micros)
                .unwrap_or_default(),
            ui.visuals().text_color(),
        ),
        Outcome::Pending => (
            format!(
                "{}…",
                format_latency_micros(record.elapsed_micros(now_nanos))
            ),
            Theme::SPAN_PENDING,
        ),
        other => (other.as_str().to_owned(), Theme::outcome(other)),
    };
    ui.painter().text(
        pos2(columns.bar_left - 6.0, y),
        Align2::RIGHT_CENTER,
        latency_text,
        FontId::monospace(11.5),
        latency_colour,
    );

    // The bar.
    let axis = &state.axis;
    let bar_clip = Rect::from_x_y_ranges(columns.bar_left..=columns.bar_right(), rect.y_range())
        .intersect(ui.clip_rect());
    let bars = ui.painter().with_clip_rect(bar_clip);
    let end = record.end_or(now_nanos);
    let colour = Theme::outcome(record.outcome);
    let bar_y = rect.shrink2(vec2(0.0, 5.0)).y_range();
    if axis.overlaps(record.start_nanos, end) {
        let x0 = axis.x_of(record.start_nanos, columns.bar_left, columns.bar_width);
        let x1 = axis
            .x_of(end, columns.bar_left, columns.bar_width)
            .max(x0 + 2.0);
        let bar = Rect::from_x_y_ranges(
            x0.max(columns.bar_left - 2.0)..=x1.min(columns.bar_right() + 2.0),
            bar_y,
        );
        if record.outcome == Outcome::Pending {
            bars.rect_filled(bar, CornerRadius::same(2), colour.gamma_multiply(0.45));
            bars.rect_stroke(
                bar,
                CornerRadius::same(2),
                Stroke::new(1.0, colour),
                egui::StrokeKind::Inside,
            );
        } else {
            bars.rect_filled(bar, CornerRadius::same(2), colour);
        }
        if record.partials > 0
            && let Some(trace) = model.mesh.trace(record.trace_id)
        {
            let tick_y = rect.shrink2(vec2(0.0, 3.0)).y_range();
            for p in trace.partials.iter().take(MAX_PARTIAL_TICKS) {
                let x = axis.x_of(p.received_at_nanos, columns.bar_left, columns.bar_width);
                bars.vline(x, tick_y, Stroke::new(1.5, Theme::SPAN_PARTIAL));
            }
        }
        if let Some(late) = record.late_response_nanos {
            let x = axis.x_of(late, columns.bar_left, columns.bar_width);
            bars.add(Shape::convex_polygon(
                diamond(pos2(x, y), 4.0),
                Theme::SPAN_LATE_RESPONSE,
                Stroke::NONE,
            ));
        }
    } else {
        // Off-window: a small arrowhead on the side where it is.
        let left_side = end < axis.start_nanos();
        let x = if left_side {
            columns.bar_left + 4.0
        } else {
            columns.bar_right() - 4.0
        };
        let d = if left_side { -4.0 } else { 4.0 };
        let points = vec![pos2(x + d, y), pos2(x - d, y - 4.0), pos2(x - d, y + 4.0)];
        bars.add(Shape::convex_polygon(
            points,
            colour.gamma_multiply(0.7),
            Stroke::NONE,
        ));
    }

    let a11y = format!("#{} {text}", record.trace_id);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &a11y));
    if response.clicked() {
        events.clicked = Some(record.trace_id);
    }
    if response.double_clicked() {
        events.double_clicked = Some(record.trace_id);
    }
    response
        .clone()
        .on_hover_ui(|ui| hover_ui(ui, model, record, now_nanos));
}

fn diamond(centre: Pos2, r: f32) -> Vec<Pos2> {
    vec![
        pos2(centre.x, centre.y - r),
        pos2(centre.x + r, centre.y),
        pos2(centre.x, centre.y + r),
        pos2(centre.x - r, centre.y),
    ]
}

fn hover_ui(ui: &mut Ui, model: &Model, record: &TraceRecord, now_nanos: u64) {
    let Some(trace) = model.mesh.trace(record.trace_id) else {
        return;
    };
    ui.strong(format!(
        "#{}  {}  {}",
        trace.trace_id,
        trace.dialect.label(),
        trace.outcome.as_str()
    ));
    ui.label(format!(
        "request at {}",
        time_of_day_utc(record.start_nanos)
    ));
    match record.outcome {
        Outcome::Pending => ui.label(format!(
            "waiting for {}",
            format_latency_micros(record.elapsed_micros(now_nanos))
        )),
        _ => ui.label(format!(
            "took {}",
            format_latency_micros(record.elapsed_micros(now_nanos))
        )),
    };
    if !trace.partials.is_empty() {
        ui.label(format!("{} partial(s)", trace.partials.len()));
    }
    if let Some(e) = &trace.error {
        ui.label(
            RichText::new(format!(
                "{}: {}",
                e.class,
                e.message.as_deref().unwrap_or("")
            ))
            .color(Theme::TEXT_ERROR),
        );
    }
    ui.label(
        RichText::new("click: details · double-click: fit · drag: pan")
            .small()
            .color(Theme::TEXT_MUTED),
    );
}
