//! The latency plots (egui_plot) on the timeline's time axis: scatter with p50/p95/p99, throughput, error rate, histogram.
//!
//! The time plots show exactly the timeline's window; dragging or Ctrl+wheel in a plot moves
//! that window (and pauses follow-live when it pans). Series are computed over the window plus
//! half a window on each side and reused until the view leaves that range, the zoom or the data
//! changes; the scatter is thinned to one point per 2 px cell per outcome.

use egui::{Id, RichText, Ui};
use egui_plot::{
    Bar, BarChart, Corner, GridInput, GridMark, Legend, Line, LineStyle, MarkerShape, Plot,
    PlotBounds, PlotPoint, PlotPoints, Points, Span, VLine,
};

use crate::model::Model;
use crate::ui::Action;
use crate::ui::theme::Theme;

use super::TimelineViewState;
use super::axis::{NANOS_PER_SEC, TimeAxis, format_span, nice_step_nanos, tick_label};
use super::point_cloud::{Marker, PointCloud};
use super::series::{self, Downsampled, Histogram, PercentileLines, Rates, Samples, YScale};

/// Scatter cells are this many pixels wide and high.
const CELL_PX: f64 = 2.0;
/// The percentile window is about this fraction of the visible span...
const PERCENTILE_WINDOW_FRACTION: f64 = 1.0 / 10.0;
/// ...but long enough to hold about this many calls at the rate in view (p99 of fewer is noise).
const PERCENTILE_WINDOW_MIN_SAMPLES: f64 = 40.0;
/// About this many rate buckets across the visible span.
const RATE_BUCKETS_PER_VIEW: f64 = 60.0;
const HISTOGRAM_BINS: usize = 40;
/// A click selects the nearest point within this many pixels.
const CLICK_RADIUS_PX: f32 = 8.0;
/// Assumed y-axis gutter of a plot (cell sizes only need an estimate).
const PLOT_GUTTER_PX: f32 = 56.0;

#[derive(Default)]
pub struct PlotsState {
    /// Latency on a linear axis (default: logarithmic, so timeouts do not flatten everything).
    pub linear_latency: bool,
    samples: Samples,
    samples_key: Option<(u64, u64)>,
    /// Bumps with every new `samples`.
    samples_generation: u64,
    range: Option<RangeCache>,
    histogram: Option<(HistogramKey, Histogram)>,
    /// The series update was put off by one frame (after a rows rebuild).
    deferred: bool,
    /// Where the latency scatter was drawn in the last frame.
    scatter_transform: Option<egui_plot::PlotTransform>,
    /// Where the time plots (latency, throughput, error rate) were drawn, and in which pass.
    time_plots_drawn: Option<(egui::Rect, u64)>,
}

impl PlotsState {
    fn scale(&self) -> YScale {
        if self.linear_latency {
            YScale::Linear
        } else {
            YScale::Log
        }
    }

    /// Where the time plots are on screen, if they were drawn in the last pass or this one.
    pub fn time_plots_rect(&self, current_pass: u64) -> Option<egui::Rect> {
        let (rect, pass) = self.time_plots_drawn?;
        (current_pass.saturating_sub(pass) <= 1).then_some(rect)
    }

    /// Screen position of a trace's latency sample in the last drawn scatter.
    pub fn point_pos(&self, trace_id: u64) -> Option<egui::Pos2> {
        let transform = self.scatter_transform?;
        let i = self.samples.trace_id.iter().position(|t| *t == trace_id)?;
        let y = self.scale().y_of(self.samples.latency_ms[i]);
        let pos = transform.position_from_point(&PlotPoint::new(self.samples.x_secs[i], y));
        transform.frame().contains(pos).then_some(pos)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct RangeKey {
    samples_generation: u64,
    span_nanos: u64,
    width_px: u32,
    height_px: u32,
    scale: YScale,
    gaps: Vec<(f64, f64)>,
}

/// Series computed for `[from_x, to_x]` (wider than the view).
struct RangeCache {
    key: RangeKey,
    from_x: f64,
    to_x: f64,
    y_min: f64,
    y_max: f64,
    points: Downsampled,
    lines: PercentileLines,
    rates: Rates,
    window_secs: f64,
    bucket_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct HistogramKey {
    samples_generation: u64,
    from_step: i64,
    to_step: i64,
}

pub fn plots_panel_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut TimelineViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    let origin = state.origin_nanos.unwrap_or(now_nanos);
    let key = (state.rows_version, origin);
    // A frame that rebuilt the rows leaves the plot series to the next frame (spreads the cost).
    // Never twice in a row, so typing in the search box cannot starve the plots.
    let defer =
        state.rows_rebuilt_this_frame && state.plots.samples_key.is_some() && !state.plots.deferred;
    state.plots.deferred = defer && state.plots.samples_key != Some(key);
    if state.plots.deferred {
        ui.ctx().request_repaint();
    } else if state.plots.samples_key != Some(key) {
        state.plots.samples = Samples::build(&state.rows.visible, &state.records, origin);
        state.plots.samples_key = Some(key);
        state.plots.samples_generation = state.plots.samples_generation.wrapping_add(1);
    }
    // An ongoing gap runs to +inf (so the series cache does not change with every "now").
    let gaps: Vec<(f64, f64)> = model
        .session
        .gaps()
        .into_iter()
        .map(|(from, to)| {
            (
                TimeAxis::plot_x(from, origin),
                to.map_or(f64::INFINITY, |t| TimeAxis::plot_x(t, origin)),
            )
        })
        .collect();
    egui::Panel::right("timeline_plots_side")
        .resizable(true)
        .default_size(440.0)
        .min_size(260.0)
        .show(ui, |ui| {
            let histogram_height = (ui.available_height() * 0.45).max(90.0);
            histogram_ui(ui, state, origin, histogram_height);
            ui.separator();
            super::stats_table::stats_table_ui(ui, model, state, now_nanos);
        });
    let drawn = egui::CentralPanel::default().show(ui, |ui| {
        time_plots_ui(ui, state, origin, &gaps, now_nanos, actions)
    });
    state.plots.time_plots_drawn = Some((drawn.response.rect, ui.ctx().cumulative_pass_nr()));
}

fn time_plots_ui(
    ui: &mut Ui,
    state: &mut TimelineViewState,
    origin: u64,
    gaps: &[(f64, f64)],
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    let scale = state.plots.scale();
    let (vx0, vx1) = state.axis.plot_range(origin);
    let width_px = (ui.available_width() - PLOT_GUTTER_PX).max(50.0);
    let total_height = (ui.available_height() - 28.0).max(120.0);
    let scatter_height = (total_height * 0.56).floor();
    let rate_height = ((total_height - scatter_height) / 2.0 - 4.0)
        .floor()
        .max(40.0);
    ensure_range(state, vx0, vx1, width_px, scatter_height, gaps.to_vec());
    let Some(range) = state.plots.range.as_ref() else {
        return;
    };
    let mut linear = state.plots.linear_latency;

    ui.horizontal(|ui| {
        ui.label(RichText::new("Latency").strong());
        ui.label(
            RichText::new(format!(
                "{} calls · p50/p95/p99 over a sliding {} · rates per {}",
                state.plots.samples.len(),
                format_span((range.window_secs * NANOS_PER_SEC as f64) as u64),
                format_span((range.bucket_secs * NANOS_PER_SEC as f64) as u64)
            ))
            .color(Theme::TEXT_MUTED),
        );
        ui.checkbox(&mut linear, "Linear latency axis");
    });

    let link = Id::unique("timeline_plot_cursor");
    let x_format = move |mark: GridMark, _: &std::ops::RangeInclusive<f64>| {
        let step = (mark.step_size * NANOS_PER_SEC as f64).max(1.0) as u64;
        tick_label(TimeAxis::nanos_of_plot_x(mark.value, origin), step)
    };
    let time_plot = |name: &'static str, height: f32| {
        Plot::new(name)
            .height(height)
            .allow_drag([true, false])
            .allow_zoom([true, false])
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .allow_double_click_reset(false)
            .link_cursor(link, [true, false])
            .x_axis_formatter(x_format)
            .y_axis_min_width(PLOT_GUTTER_PX - 8.0)
            .show_x(false)
    };

    // Latency scatter with percentile lines.
    let selected = state.selected;
    let samples = &state.plots.samples;
    let selected_point = selected.and_then(|id| {
        let i = samples.trace_id.iter().position(|t| *t == id)?;
        Some(PlotPoint::new(
            samples.x_secs[i],
            scale.y_of(samples.latency_ms[i]),
        ))
    });
    // Only the bottom plot labels the shared time axis.
    let scatter = time_plot("timeline_latency", scatter_height)
        .show_axes([false, true])
        .y_axis_formatter(move |mark, _| format_ms(scale.ms_of(mark.value)))
        .y_grid_spacer(move |input| match scale {
            YScale::Log => log_grid(input),
            YScale::Linear => egui_plot::uniform_grid_spacer(|_| [10.0, 2.0, 1.0])(input),
        })
        .label_formatter(move |pos| match pos {
            egui_plot::HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\n{}",
                format_ms(scale.ms_of(position.y))
            )),
            egui_plot::HoverPosition::Elsewhere { .. } => None,
        })
        .legend(
            Legend::default()
                .position(Corner::LeftTop)
                .text_style(egui::TextStyle::Small)
                .background_alpha(0.6),
        )
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds(PlotBounds::from_min_max(
                [vx0, range.y_min],
                [vx1, range.y_max],
            ));
            add_gaps(plot_ui, gaps, vx1);
            let visible = |points: &'_ [PlotPoint]| -> std::ops::Range<usize> {
                let start = points.partition_point(|p| p.x < vx0);
                start..points.partition_point(|p| p.x <= vx1).max(start)
            };
            let ok = &range.points.ok[visible(&range.points.ok)];
            let timeout = &range.points.timeout[visible(&range.points.timeout)];
            let error = &range.points.error[visible(&range.points.error)];
            plot_ui.add(PointCloud::new(
                "ok",
                ok,
                Theme::POINT_OK,
                Marker::Square,
                1.25,
            ));
            plot_ui.add(PointCloud::new(
                "timeout",
                timeout,
                Theme::POINT_TIMEOUT,
                Marker::Down,
                3.5,
            ));
            plot_ui.add(PointCloud::new(
                "error",
                error,
                Theme::POINT_ERROR,
                Marker::Cross,
                3.0,
            ));
            for (name, segments, colour) in [
                ("p50", &range.lines.p50, Theme::LATENCY_P50),
                ("p95", &range.lines.p95, Theme::LATENCY_P95),
                ("p99", &range.lines.p99, Theme::LATENCY_P99),
            ] {
                for segment in segments {
                    plot_ui.line(
                        Line::new(name, PlotPoints::Borrowed(segment))
                            .color(colour)
                            .width(1.5)
                            .allow_hover(false),
                    );
                }
            }
            if let Some(p) = selected_point {
                plot_ui.points(
                    Points::new("selected", vec![[p.x, p.y]])
                        .color(Theme::POINT_SELECTED)
                        .radius(5.0)
                        .shape(MarkerShape::Circle)
                        .filled(false),
                );
            }
        });
    let span_secs = state.axis.span_nanos() as f64 / NANOS_PER_SEC as f64;
    let mut clicked = None;
    if scatter.response.clicked()
        && let Some(pointer) = scatter.response.interact_pointer_pos()
    {
        let transform = scatter.transform;
        let at = transform.value_from_position(pointer);
        let x_radius = span_secs / f64::from(width_px) * f64::from(CLICK_RADIUS_PX);
        let hit = series::nearest_sample(
            samples,
            at.x,
            x_radius,
            scale,
            pointer,
            CLICK_RADIUS_PX,
            |x, y| transform.position_from_point(&PlotPoint::new(x, y)),
        );
        clicked = hit.map(|i| samples.trace_id[i]);
    }
    let mut moved = moved_range(&scatter.transform, vx0, vx1);
    let scatter_transform = scatter.transform;

    // Throughput and failures per second.
    let rates = &range.rates;
    let throughput = time_plot("timeline_throughput", rate_height)
        .show_axes([false, true])
        .y_axis_formatter(|mark, _| format!("{}/s", trim_number(mark.value)))
        .legend(
            Legend::default()
                .position(Corner::LeftTop)
                .text_style(egui::TextStyle::Small)
                .background_alpha(0.6),
        )
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds(PlotBounds::from_min_max(
                [vx0, 0.0],
                [vx1, (rates.max_per_sec * 1.15).max(1.0)],
            ));
            add_gaps(plot_ui, gaps, vx1);
            for segment in &rates.per_sec {
                plot_ui.line(
                    Line::new("calls/s", PlotPoints::Borrowed(segment))
                        .color(Theme::THROUGHPUT)
                        .width(1.5),
                );
            }
            for segment in &rates.failed_per_sec {
                plot_ui.line(
                    Line::new("failed/s", PlotPoints::Borrowed(segment))
                        .color(Theme::ERROR_RATE)
                        .width(1.0)
                        .style(LineStyle::dashed_dense()),
                );
            }
        });
    moved = moved.or(moved_range(&throughput.transform, vx0, vx1));

    let error_max = rates
        .error_rate_pct
        .iter()
        .flatten()
        .map(|p| p.y)
        .fold(0.0f64, f64::max);
    let error_rate = time_plot("timeline_error_rate", rate_height)
        .y_axis_formatter(|mark, _| format!("{}%", trim_number(mark.value)))
        .legend(
            Legend::default()
                .position(Corner::LeftTop)
                .text_style(egui::TextStyle::Small)
                .background_alpha(0.6),
        )
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds(PlotBounds::from_min_max(
                [vx0, 0.0],
                [vx1, (error_max * 1.2).clamp(5.0, 105.0)],
            ));
            add_gaps(plot_ui, gaps, vx1);
            for segment in &rates.error_rate_pct {
                plot_ui.line(
                    Line::new("error rate", PlotPoints::Borrowed(segment))
                        .color(Theme::ERROR_RATE)
                        .width(1.5)
                        .fill(0.0)
                        .fill_alpha(0.15),
                );
            }
        });
    moved = moved.or(moved_range(&error_rate.transform, vx0, vx1));

    if let Some((x0, x1)) = moved {
        let old_span = state.axis.span_nanos();
        state.axis.set_plot_range(x0, x1, origin);
        state.window_chosen = true;
        // A zoom keeps following "now"; a pan looks elsewhere.
        let zoomed = state.axis.span_nanos().abs_diff(old_span) > old_span / 1_000;
        if !zoomed {
            state.pause();
        } else if state.follow_live() {
            state.axis.follow(now_nanos);
        }
    }
    if let Some(trace_id) = clicked {
        state.select_here(Some(trace_id), true, actions);
    }
    state.plots.linear_latency = linear;
    state.plots.scatter_transform = Some(scatter_transform);
}

/// The x range a plot ended the frame with, when the user dragged or zoomed it.
fn moved_range(transform: &egui_plot::PlotTransform, vx0: f64, vx1: f64) -> Option<(f64, f64)> {
    let b = transform.bounds();
    let (x0, x1) = (b.min()[0], b.max()[0]);
    let eps = (vx1 - vx0).abs() * 1e-6;
    ((x0 - vx0).abs() > eps || (x1 - vx1).abs() > eps).then_some((x0, x1))
}

fn add_gaps(plot_ui: &mut egui_plot::PlotUi<'_>, gaps: &[(f64, f64)], view_end_x: f64) {
    for &(from, to) in gaps {
        if from > view_end_x {
            continue;
        }
        let to = to.min(view_end_x);
        plot_ui.span(
            Span::new("observer offline", from..=to)
                .fill(Theme::GAP_FILL)
                .border_color(Theme::GAP_BORDER),
        );
    }
}

/// Recomputes the series when the view left the computed range, or zoom, size or data changed.
fn ensure_range(
    state: &mut TimelineViewState,
    vx0: f64,
    vx1: f64,
    width_px: f32,
    height_px: f32,
    gaps: Vec<(f64, f64)>,
) {
    let plots = &mut state.plots;
    let key = RangeKey {
        samples_generation: plots.samples_generation,
        span_nanos: state.axis.span_nanos(),
        width_px: width_px as u32,
        height_px: height_px as u32,
        scale: plots.scale(),
        gaps,
    };
    if let Some(r) = &plots.range
        && r.key == key
        && r.from_x <= vx0
        && vx1 <= r.to_x
    {
        return;
    }
    let scale = key.scale;
    let span_secs = (vx1 - vx0).max(1e-6);
    let in_view = plots.samples.range(vx0, vx1).len().max(1) as f64;
    let wanted_secs = (span_secs * PERCENTILE_WINDOW_FRACTION)
        .max(PERCENTILE_WINDOW_MIN_SAMPLES * span_secs / in_view)
        .min(span_secs);
    let window_secs =
        nice_step_nanos((wanted_secs * NANOS_PER_SEC as f64) as u64) as f64 / NANOS_PER_SEC as f64;
    let bucket_secs =
        nice_step_nanos(((span_secs / RATE_BUCKETS_PER_VIEW) * NANOS_PER_SEC as f64) as u64) as f64
            / NANOS_PER_SEC as f64;
    let px_secs = span_secs / f64::from(width_px.max(1.0));
    let step_secs = (window_secs / 4.0).max(px_secs * 3.0);
    // Half a window of slack on each side, aligned to the rate buckets.
    let from_x = ((vx0 - span_secs / 2.0) / bucket_secs).floor() * bucket_secs;
    let to_x = ((vx1 + span_secs / 2.0) / bucket_secs).ceil() * bucket_secs;
    let samples = &plots.samples;
    let in_range = samples.range(from_x, to_x);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &ms in &samples.latency_ms[in_range.clone()] {
        lo = lo.min(ms);
        hi = hi.max(ms);
    }
    let (y_min, y_max) = if lo > hi {
        match scale {
            YScale::Log => (0.0, 3.0),
            YScale::Linear => (0.0, 100.0),
        }
    } else {
        match scale {
            YScale::Log => {
                let (a, b) = (scale.y_of(lo), scale.y_of(hi));
                if b - a < 0.5 {
                    (a - 0.25, b + 0.25)
                } else {
                    (a - 0.1, b + 0.1)
                }
            }
            YScale::Linear => (0.0, (hi * 1.08).max(1.0)),
        }
    };
    let cell_w = px_secs * CELL_PX;
    let cell_h = (y_max - y_min) / f64::from(height_px.max(1.0)) * CELL_PX;
    let points = series::downsample(samples, in_range, scale, cell_w, cell_h);
    let lines = series::rolling_percentiles(
        samples,
        from_x,
        to_x,
        window_secs,
        step_secs,
        &key.gaps,
        scale,
    );
    let rates = series::rates(samples, from_x, to_x, bucket_secs, &key.gaps);
    plots.range = Some(RangeCache {
        key,
        from_x,
        to_x,
        y_min,
        y_max,
        points,
        lines,
        rates,
        window_secs,
        bucket_secs,
    });
}

fn histogram_ui(ui: &mut Ui, state: &mut TimelineViewState, origin: u64, height: f32) {
    let (vx0, vx1) = state.axis.plot_range(origin);
    // Recomputed when the window moved by 1 % of its width (not every pixel while following).
    let step = ((vx1 - vx0) / 100.0).max(1e-9);
    let key = HistogramKey {
        samples_generation: state.plots.samples_generation,
        from_step: (vx0 / step).round() as i64,
        to_step: (vx1 / step).round() as i64,
    };
    if state
        .plots
        .histogram
        .as_ref()
        .is_none_or(|(k, _)| *k != key)
    {
        let range = state.plots.samples.range(vx0, vx1);
        state.plots.histogram = Some((
            key,
            series::histogram(&state.plots.samples, range, HISTOGRAM_BINS),
        ));
    }
    let Some((_, hist)) = state.plots.histogram.as_ref() else {
        return;
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Latency distribution").strong());
        ui.label(
            RichText::new(format!("{} calls in the window", hist.samples)).color(Theme::TEXT_MUTED),
        );
        for (value, name, colour) in [
            (hist.p50_ms, "p50", Theme::LATENCY_P50),
            (hist.p95_ms, "p95", Theme::LATENCY_P95),
            (hist.p99_ms, "p99", Theme::LATENCY_P99),
        ] {
            if let Some(ms) = value {
                ui.label(RichText::new(format!("{name} {}", format_ms(ms))).color(colour));
            }
        }
    });
    let bars: Vec<Bar> = hist
        .bins
        .iter()
        .map(|&(left, width, count)| {
            Bar::new(left + width / 2.0, f64::from(count))
                .width(width * 0.95)
                .fill(Theme::HISTOGRAM_BAR)
        })
        .collect();
    let marks = [
        (hist.p50_ms, "p50", Theme::LATENCY_P50),
        (hist.p95_ms, "p95", Theme::LATENCY_P95),
        (hist.p99_ms, "p99", Theme::LATENCY_P99),
    ];
    Plot::new("timeline_histogram")
        .height((height - 24.0).max(60.0))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .x_axis_formatter(|mark, _| format_ms(10f64.powf(mark.value)))
        .x_grid_spacer(log_grid)
        .y_axis_formatter(|mark, _| trim_number(mark.value))
        .show_x(false)
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(BarChart::new("calls", bars).color(Theme::HISTOGRAM_BAR));
            for (value, name, colour) in marks {
                if let Some(ms) = value {
                    plot_ui.vline(
                        VLine::new(format!("{name} {}", format_ms(ms)), ms.max(1e-3).log10())
                            .color(colour)
                            .width(1.5),
                    );
                }
            }
        });
}

/// Grid marks for a log10(ms) axis: decades strong, 2× and 5× lighter.
fn log_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let mut marks = Vec::new();
    if !(lo.is_finite() && hi.is_finite()) || hi - lo > 40.0 {
        return marks;
    }
    let minor = hi - lo < 4.0;
    for decade in (lo.floor() as i32)..=(hi.ceil() as i32) {
        for (m, step) in [(1.0f64, 1.0), (2.0, 0.3), (5.0, 0.3)] {
            if m != 1.0 && !minor {
                continue;
            }
            let value = f64::from(decade) + m.log10();
            if (lo..=hi).contains(&value) {
                marks.push(GridMark {
                    value,
                    step_size: step,
                });
            }
        }
    }
    marks
}

/// 850 µs, 42 ms, 1.5 s.
pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return String::new();
    }
    if ms < 1.0 {
        format!("{} µs", trim_number(ms * 1_000.0))
    } else if ms < 1_000.0 {
        format!("{} ms", trim_number(ms))
    } else {
        format!("{} s", trim_number(ms / 1_000.0))
    }
}

/// Up to 3 significant decimals, no trailing zeros.
fn trim_number(v: f64) -> String {
    let text = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_labels() {
        assert_eq!(format_ms(0.25), "250 µs");
        assert_eq!(format_ms(42.0), "42 ms");
        assert_eq!(format_ms(1500.0), "1.5 s");
        assert_eq!(trim_number(2.50), "2.5");
        let marks = log_grid(GridInput {
            bounds: (0.0, 2.0),
            base_step_size: 0.1,
        });
        assert_eq!(marks.iter().filter(|m| m.step_size == 1.0).count(), 3);
    }
}
