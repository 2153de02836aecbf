//! The shared time axis: a window of receive time mapped onto pixels and plot x values (pure).
//!
//! The waterfall and the latency plots draw the same window, so this is the one place that says
//! where a receive time lands. Differences are taken in integers first (epoch nanoseconds do not
//! fit an f64 exactly); only the offset inside the window becomes a float.

pub const NANOS_PER_MICRO: u64 = 1_000;
pub const NANOS_PER_MILLI: u64 = 1_000_000;
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The narrowest window (zooming further shows nothing new: receive times are nanoseconds).
pub const MIN_SPAN_NANOS: u64 = 10 * NANOS_PER_MICRO;
/// The widest window: a week.
pub const MAX_SPAN_NANOS: u64 = 7 * 24 * 3600 * NANOS_PER_SEC;
pub const DEFAULT_SPAN_NANOS: u64 = 60 * NANOS_PER_SEC;
/// While following live, "now" sits this fraction of the window from the right edge.
pub const FOLLOW_MARGIN: f64 = 0.03;
/// Room left on each side when fitting a span.
pub const FIT_MARGIN: f64 = 0.04;

/// A window `[start, start + span)` of receive time (Unix epoch nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeAxis {
    start_nanos: u64,
    span_nanos: u64,
}

impl Default for TimeAxis {
    fn default() -> Self {
        TimeAxis::new(0, DEFAULT_SPAN_NANOS)
    }
}

impl TimeAxis {
    pub fn new(start_nanos: u64, span_nanos: u64) -> Self {
        TimeAxis {
            start_nanos,
            span_nanos: span_nanos.clamp(MIN_SPAN_NANOS, MAX_SPAN_NANOS),
        }
    }

    pub fn start_nanos(&self) -> u64 {
        self.start_nanos
    }

    pub fn end_nanos(&self) -> u64 {
        self.start_nanos.saturating_add(self.span_nanos)
    }

    pub fn span_nanos(&self) -> u64 {
        self.span_nanos
    }

    /// Screen x of a receive time, for a drawing area starting at `left` and `width` wide.
    /// Times outside the window land outside `[left, left + width]` (callers clip).
    pub fn x_of(&self, at_nanos: u64, left: f32, width: f32) -> f32 {
        let offset = at_nanos as i128 - self.start_nanos as i128;
        let x = left as f64 + offset as f64 / self.span_nanos as f64 * width as f64;
        // Keep far-away times finite and small enough for the painter.
        x.clamp(-1.0e7, 1.0e7) as f32
    }

    /// The receive time at screen x (clamped at 0).
    pub fn nanos_at(&self, x: f32, left: f32, width: f32) -> u64 {
        if width <= 0.0 {
            return self.start_nanos;
        }
        let fraction = f64::from(x - left) / f64::from(width);
        let offset = (fraction * self.span_nanos as f64).round() as i128;
        clamp_nanos(self.start_nanos as i128 + offset)
    }

    /// Scales the window by `factor` (< 1 zooms in) keeping `anchor_nanos` at the same place.
    pub fn zoom(&mut self, factor: f64, anchor_nanos: u64) {
        if !factor.is_finite() || factor <= 0.0 {
            return;
        }
        let new_span = ((self.span_nanos as f64 * factor).round() as u64)
            .clamp(MIN_SPAN_NANOS, MAX_SPAN_NANOS);
        let anchor_offset = anchor_nanos as i128 - self.start_nanos as i128;
        let scale = new_span as f64 / self.span_nanos as f64;
        let new_offset = (anchor_offset as f64 * scale).round() as i128;
        self.start_nanos = clamp_nanos(anchor_nanos as i128 - new_offset);
        self.span_nanos = new_span;
    }

    /// Moves the window by a drag of `dx_px` on an area `width` wide: dragging right shows earlier times.
    pub fn pan_px(&mut self, dx_px: f32, width: f32) {
        if width <= 0.0 || !dx_px.is_finite() {
            return;
        }
        let delta = (f64::from(dx_px) / f64::from(width) * self.span_nanos as f64).round() as i128;
        self.start_nanos = clamp_nanos(self.start_nanos as i128 - delta);
    }

    /// Puts `now_nanos` near the right edge (follow-live), keeping the span.
    pub fn follow(&mut self, now_nanos: u64) {
        let margin = (self.span_nanos as f64 * FOLLOW_MARGIN) as u64;
        let end = now_nanos.saturating_add(margin);
        self.start_nanos = end.saturating_sub(self.span_nanos);
    }

    /// Shows `[from, to]` with a small margin on both sides.
    pub fn fit(&mut self, from_nanos: u64, to_nanos: u64) {
        let (from, to) = (from_nanos.min(to_nanos), from_nanos.max(to_nanos));
        let inner = (to - from).max(MIN_SPAN_NANOS);
        let span = ((inner as f64) * (1.0 + 2.0 * FIT_MARGIN)).round() as u64;
        self.span_nanos = span.clamp(MIN_SPAN_NANOS, MAX_SPAN_NANOS);
        let centre = from as i128 + ((to - from) / 2) as i128;
        self.start_nanos = clamp_nanos(centre - (self.span_nanos / 2) as i128);
    }

    /// Moves the window so `at_nanos` is in its middle.
    pub fn centre_on(&mut self, at_nanos: u64) {
        self.start_nanos = at_nanos.saturating_sub(self.span_nanos / 2);
    }

    /// Whether any part of `[from, to]` is inside the window.
    pub fn overlaps(&self, from_nanos: u64, to_nanos: u64) -> bool {
        from_nanos < self.end_nanos() && to_nanos >= self.start_nanos
    }

    /// Plot x (seconds since `origin_nanos`) of a receive time.
    pub fn plot_x(at_nanos: u64, origin_nanos: u64) -> f64 {
        (at_nanos as i128 - origin_nanos as i128) as f64 / NANOS_PER_SEC as f64
    }

    /// Receive time of a plot x (seconds since `origin_nanos`).
    pub fn nanos_of_plot_x(x_secs: f64, origin_nanos: u64) -> u64 {
        if !x_secs.is_finite() {
            return origin_nanos;
        }
        clamp_nanos(origin_nanos as i128 + (x_secs * NANOS_PER_SEC as f64).round() as i128)
    }

    /// The window as a plot x range.
    pub fn plot_range(&self, origin_nanos: u64) -> (f64, f64) {
        (
            Self::plot_x(self.start_nanos, origin_nanos),
            Self::plot_x(self.end_nanos(), origin_nanos),
        )
    }

    /// Takes a window a plot reports (after the user dragged or zoomed it).
    pub fn set_plot_range(&mut self, min_x: f64, max_x: f64, origin_nanos: u64) {
        if !(min_x.is_finite() && max_x.is_finite()) || max_x <= min_x {
            return;
        }
        let start = Self::nanos_of_plot_x(min_x, origin_nanos);
        let end = Self::nanos_of_plot_x(max_x, origin_nanos);
        *self = TimeAxis::new(start, end.saturating_sub(start));
    }

    /// Tick marks at least `min_spacing_px` apart on an area `width_px` wide.
    pub fn ticks(&self, width_px: f32, min_spacing_px: f32) -> Ticks {
        let width = f64::from(width_px.max(1.0));
        let min_step =
            (self.span_nanos as f64 * f64::from(min_spacing_px.max(1.0)) / width).ceil() as u64;
        let step_nanos = nice_step_nanos(min_step.max(1));
        let first = self
            .start_nanos
            .div_ceil(step_nanos)
            .saturating_mul(step_nanos);
        let end = self.end_nanos();
        let mut at_nanos = Vec::new();
        let mut t = first;
        // Bounded: at most width / min_spacing + 1 ticks.
        while t <= end && at_nanos.len() < 1_000 {
            at_nanos.push(t);
            match t.checked_add(step_nanos) {
                Some(next) => t = next,
                None => break,
            }
        }
        Ticks {
            step_nanos,
            at_nanos,
        }
    }
}

/// Tick positions and the step they are apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticks {
    pub step_nanos: u64,
    pub at_nanos: Vec<u64>,
}

fn clamp_nanos(value: i128) -> u64 {
    value.clamp(0, u64::MAX as i128) as u64
}

/// The smallest "round" step ≥ `min_step_nanos`: 1-2-5 below a second, then clock units.
pub fn nice_step_nanos(min_step_nanos: u64) -> u64 {
    const S: u64 = NANOS_PER_SEC;
    const CLOCK: [u64; 14] = [
        S,
        2 * S,
        5 * S,
        10 * S,
        15 * S,
        30 * S,
        60 * S,
        2 * 60 * S,
        5 * 60 * S,
        10 * 60 * S,
        15 * 60 * S,
        30 * 60 * S,
        3600 * S,
        2 * 3600 * S,
    ];
    if min_step_nanos <= S {
        let mut decade = 1u64;
        loop {
            for m in [1, 2, 5] {
                let step = decade * m;
                if step >= min_step_nanos {
                    return step;
                }
            }
            decade *= 10;
        }
    }
    if let Some(&step) = CLOCK.iter().find(|&&s| s >= min_step_nanos) {
        return step;
    }
    for hours in [3u64, 6, 12, 24] {
        if hours * 3600 * S >= min_step_nanos {
            return hours * 3600 * S;
        }
    }
    let day = 24 * 3600 * S;
    min_step_nanos.div_ceil(day).saturating_mul(day)
}

/// A tick's label (UTC time of day), as precise as the step needs.
pub fn tick_label(at_nanos: u64, step_nanos: u64) -> String {
    let secs_of_day = (at_nanos / NANOS_PER_SEC) % 86_400;
    let (h, m, s) = (
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60,
    );
    let sub = at_nanos % NANOS_PER_SEC;
    if step_nanos >= NANOS_PER_SEC {
        format!("{h:02}:{m:02}:{s:02}")
    } else if step_nanos >= NANOS_PER_MILLI {
        format!("{h:02}:{m:02}:{s:02}.{:03}", sub / NANOS_PER_MILLI)
    } else {
        format!("{m:02}:{s:02}.{:06}", sub / NANOS_PER_MICRO)
    }
}

/// A window width for humans: 250 µs, 40 ms, 1.5 s, 5 min, 2 h.
pub fn format_span(span_nanos: u64) -> String {
    let secs = span_nanos as f64 / NANOS_PER_SEC as f64;
    if span_nanos < NANOS_PER_MILLI {
        format!("{} µs", span_nanos / NANOS_PER_MICRO)
    } else if span_nanos < NANOS_PER_SEC {
        format!("{:.0} ms", span_nanos as f64 / NANOS_PER_MILLI as f64)
    } else if secs < 120.0 {
        format!("{secs:.1} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// A latency for humans: 850 µs, 42.1 ms, 1.52 s.
pub fn format_latency_micros(micros: u64) -> String {
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2} s", micros as f64 / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_425_076 * NANOS_PER_SEC;

    #[test]
    fn maps_times_to_pixels_and_back() {
        let axis = TimeAxis::new(T0, 10 * NANOS_PER_SEC);
        assert_eq!(axis.x_of(T0, 100.0, 1000.0), 100.0);
        assert_eq!(axis.x_of(T0 + 5 * NANOS_PER_SEC, 100.0, 1000.0), 600.0);
        assert_eq!(axis.x_of(T0 + 10 * NANOS_PER_SEC, 100.0, 1000.0), 1100.0);
        // Outside the window: outside the area, on the right side.
        assert!(axis.x_of(T0 - NANOS_PER_SEC, 100.0, 1000.0) < 100.0);
        assert!(axis.x_of(T0 + 11 * NANOS_PER_SEC, 100.0, 1000.0) > 1100.0);
        // Sub-microsecond precision survives epoch-sized values (an f64 of the raw nanos would not).
        let fine = TimeAxis::new(T0 + 123, 1_000_000);
        assert_eq!(fine.x_of(T0 + 123 + 500, 0.0, 1000.0), 0.5);
        assert_eq!(axis.nanos_at(600.0, 100.0, 1000.0), T0 + 5 * NANOS_PER_SEC);
        assert_eq!(axis.nanos_at(-1.0e9, 0.0, 1.0), 0, "clamped, never wraps");
        for x in [0.0f32, 1.0, 333.0, 999.0] {
            let t = axis.nanos_at(x, 0.0, 1000.0);
            assert!((axis.x_of(t, 0.0, 1000.0) - x).abs() < 1e-3);
        }
    }

    #[test]
    fn zoom_keeps_the_anchor_in_place_and_respects_limits() {
        let mut axis = TimeAxis::new(T0, 10 * NANOS_PER_SEC);
        let anchor = T0 + 2 * NANOS_PER_SEC;
        let before = axis.x_of(anchor, 0.0, 1000.0);
        axis.zoom(0.5, anchor);
        assert_eq!(axis.span_nanos(), 5 * NANOS_PER_SEC);
        assert!((axis.x_of(anchor, 0.0, 1000.0) - before).abs() < 1e-3);
        axis.zoom(1e-12, anchor);
        assert_eq!(axis.span_nanos(), MIN_SPAN_NANOS);
        axis.zoom(1e30, anchor);
        assert_eq!(axis.span_nanos(), MAX_SPAN_NANOS);
        let mut near_epoch = TimeAxis::new(1_000, 10 * NANOS_PER_SEC);
        near_epoch.pan_px(1000.0, 1000.0);
        assert_eq!(
            near_epoch.start_nanos(),
            0,
            "panning before the epoch clamps at 0"
        );
        let copy = axis;
        axis.zoom(f64::NAN, anchor);
        assert_eq!(axis, copy);
    }

    #[test]
    fn pan_follow_and_fit() {
        let mut axis = TimeAxis::new(T0, 10 * NANOS_PER_SEC);
        axis.pan_px(100.0, 1000.0);
        assert_eq!(
            axis.start_nanos(),
            T0 - NANOS_PER_SEC,
            "dragging right shows earlier times"
        );
        axis.follow(T0 + 100 * NANOS_PER_SEC);
        assert_eq!(
            axis.end_nanos(),
            T0 + 100 * NANOS_PER_SEC + 300 * NANOS_PER_MILLI
        );
        assert_eq!(axis.span_nanos(), 10 * NANOS_PER_SEC);
        axis.fit(T0, T0 + 50 * NANOS_PER_SEC);
        assert!(axis.start_nanos() < T0 && axis.end_nanos() > T0 + 50 * NANOS_PER_SEC);
        assert!(axis.span_nanos() < 55 * NANOS_PER_SEC);
        axis.fit(T0, T0);
        assert!(
            (MIN_SPAN_NANOS..2 * MIN_SPAN_NANOS).contains(&axis.span_nanos()),
            "a zero-length span still gives a window"
        );
        assert!(axis.overlaps(T0, T0));
    }

    #[test]
    fn plot_x_round_trips_through_seconds_since_origin() {
        let origin = T0;
        let axis = TimeAxis::new(T0 + 3 * NANOS_PER_SEC, 2 * NANOS_PER_SEC);
        assert_eq!(axis.plot_range(origin), (3.0, 5.0));
        let mut other = TimeAxis::default();
        other.set_plot_range(3.0, 5.0, origin);
        assert_eq!(other, axis);
        other.set_plot_range(5.0, 3.0, origin);
        assert_eq!(other, axis, "an inverted range is ignored");
        assert_eq!(
            TimeAxis::nanos_of_plot_x(-1.5, origin),
            T0 - 1_500 * NANOS_PER_MILLI
        );
    }

    #[test]
    fn ticks_are_round_and_spaced() {
        let axis = TimeAxis::new(T0 + 300 * NANOS_PER_MILLI, 10 * NANOS_PER_SEC);
        let ticks = axis.ticks(1000.0, 80.0);
        assert_eq!(ticks.step_nanos, NANOS_PER_SEC);
        assert_eq!(ticks.at_nanos.first(), Some(&(T0 + NANOS_PER_SEC)));
        assert_eq!(ticks.at_nanos.len(), 10);
        assert_eq!(nice_step_nanos(3), 5);
        assert_eq!(nice_step_nanos(1_100_000), 2_000_000);
        assert_eq!(nice_step_nanos(40 * NANOS_PER_SEC), 60 * NANOS_PER_SEC);
        assert_eq!(
            nice_step_nanos(30 * 24 * 3600 * NANOS_PER_SEC + 1),
            31 * 24 * 3600 * NANOS_PER_SEC
        );
        assert_eq!(tick_label(3_723_004_000_000, NANOS_PER_SEC), "01:02:03");
        assert_eq!(
            tick_label(3_723_004_000_000, 10 * NANOS_PER_MILLI),
            "01:02:03.004"
        );
        assert_eq!(
            tick_label(3_723_004_005_000, 10 * NANOS_PER_MICRO),
            "02:03.004005"
        );
        assert_eq!(format_latency_micros(42_100), "42.1 ms");
        assert_eq!(format_span(90 * NANOS_PER_SEC), "90.0 s");
    }
}
