//! Plot series from the filtered traces (pure): latency samples, per-pixel downsampling, rolling
//! percentiles, throughput / error-rate buckets and the latency histogram.
//!
//! Everything here is O(samples in range) plus O(steps × buckets); the drawing code caches the
//! results and recomputes only when the data or the window moved enough to matter.

use std::ops::Range;

use egui_plot::PlotPoint;

use crate::model::mesh::Outcome;

use super::records::RecordCache;

/// How a latency sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SampleClass {
    Ok,
    Error,
    /// No answer: the sample's value is the time until the timeout was decided.
    Timeout,
}

/// Latency samples of the filtered traces, sorted by request time (plot x, seconds since the
/// origin), plus completion times for the rate plots.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub x_secs: Vec<f64>,
    pub latency_ms: Vec<f64>,
    pub class: Vec<SampleClass>,
    pub trace_id: Vec<u64>,
    /// Completions (answered, timed out or cancelled), in trace order (not sorted by time).
    pub end_x_secs: Vec<f64>,
    pub end_failed: Vec<bool>,
}

impl Samples {
    /// From the traces `trace_ids` (ascending) of `records`.
    pub fn build(trace_ids: &[u64], records: &RecordCache, origin_nanos: u64) -> Samples {
        let mut s = Samples::default();
        let x_of = |at: u64| at.wrapping_sub(origin_nanos) as i64 as f64 / 1e9;
        for &id in trace_ids {
            let Some(r) = records.get(id) else { continue };
            let Some(end) = r.end_nanos else { continue };
            let class = match r.outcome {
                Outcome::Ok => SampleClass::Ok,
                Outcome::Error => SampleClass::Error,
                Outcome::Timeout => SampleClass::Timeout,
                Outcome::Cancelled => {
                    s.end_x_secs.push(x_of(end));
                    s.end_failed.push(false);
                    continue;
                }
                Outcome::Pending | Outcome::Orphan => continue,
            };
            let micros = r
                .latency_micros
                .unwrap_or_else(|| end.saturating_sub(r.start_nanos) / 1_000);
            s.x_secs.push(x_of(r.start_nanos));
            s.latency_ms.push(micros as f64 / 1_000.0);
            s.class.push(class);
            s.trace_id.push(id);
            s.end_x_secs.push(x_of(end));
            s.end_failed.push(class != SampleClass::Ok);
        }
        // Trace ids follow receive order, so requests are sorted already unless clocks jumped.
        if !s.x_secs.is_sorted() {
            let mut order: Vec<usize> = (0..s.x_secs.len()).collect();
            order.sort_by(|&a, &b| s.x_secs[a].total_cmp(&s.x_secs[b]));
            s.x_secs = order.iter().map(|&i| s.x_secs[i]).collect();
            s.latency_ms = order.iter().map(|&i| s.latency_ms[i]).collect();
            s.class = order.iter().map(|&i| s.class[i]).collect();
            s.trace_id = order.iter().map(|&i| s.trace_id[i]).collect();
        }
        s
    }

    pub fn len(&self) -> usize {
        self.x_secs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x_secs.is_empty()
    }

    /// Indices of the samples with `from <= x <= to`.
    pub fn range(&self, from_secs: f64, to_secs: f64) -> Range<usize> {
        index_range(&self.x_secs, from_secs, to_secs)
    }
}

/// Indices of the sorted `xs` with `from <= x <= to`.
pub fn index_range(xs: &[f64], from: f64, to: f64) -> Range<usize> {
    let start = xs.partition_point(|&x| x < from);
    let end = xs.partition_point(|&x| x <= to).max(start);
    start..end
}

/// Latency on the plot's y axis: log10 of milliseconds, or milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YScale {
    Log,
    Linear,
}

impl YScale {
    /// Values below 1 µs are drawn at 1 µs on the log scale.
    pub fn y_of(self, ms: f64) -> f64 {
        match self {
            YScale::Log => ms.max(1e-3).log10(),
            YScale::Linear => ms,
        }
    }

    pub fn ms_of(self, y: f64) -> f64 {
        match self {
            YScale::Log => 10f64.powf(y),
            YScale::Linear => y,
        }
    }
}

/// Scatter points thinned to one per occupied cell per class; sorted by x within each class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Downsampled {
    pub ok: Vec<PlotPoint>,
    pub error: Vec<PlotPoint>,
    pub timeout: Vec<PlotPoint>,
}

impl Downsampled {
    pub fn len(&self) -> usize {
        self.ok.len() + self.error.len() + self.timeout.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keeps the first sample of each class in each `cell_w × cell_h` cell (cells aligned to 0, so
/// panning does not change which points are kept). Samples that cannot be told apart on screen
/// are drawn once; errors and timeouts are never hidden behind ok points (separate classes).
pub fn downsample(
    samples: &Samples,
    range: Range<usize>,
    scale: YScale,
    cell_w: f64,
    cell_h: f64,
) -> Downsampled {
    let mut out = Downsampled::default();
    if !(cell_w > 0.0 && cell_h > 0.0) {
        return out;
    }
    // Samples come in x order: one column of cells at a time, a small set of occupied rows.
    let mut column = i64::MIN;
    let mut seen: [Vec<i64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for i in range {
        let (Some(&x), Some(&ms), Some(&class)) = (
            samples.x_secs.get(i),
            samples.latency_ms.get(i),
            samples.class.get(i),
        ) else {
            break;
        };
        let col = (x / cell_w).floor() as i64;
        if col != column {
            column = col;
            seen.iter_mut().for_each(Vec::clear);
        }
        let y = scale.y_of(ms);
        let row = (y / cell_h).floor() as i64;
        let slot = class as usize;
        if seen[slot].contains(&row) {
            continue;
        }
        seen[slot].push(row);
        let point = PlotPoint::new(x, y);
        match class {
            SampleClass::Ok => out.ok.push(point),
            SampleClass::Error => out.error.push(point),
            SampleClass::Timeout => out.timeout.push(point),
        }
    }
    out
}

/// Fixed logarithmic buckets from 1 µs to 1 000 s, 64 per decade (a bucket's geometric middle is
/// within 1.8 % of any value in it). Supports removal, for sliding windows.
#[derive(Debug, Clone)]
pub struct LogBuckets {
    counts: Vec<u32>,
    total: u64,
}

const BUCKETS_PER_DECADE: f64 = 64.0;
const LOWEST_LOG_MS: f64 = -3.0;
const DECADES: f64 = 9.0;

impl Default for LogBuckets {
    fn default() -> Self {
        LogBuckets {
            counts: vec![0; (BUCKETS_PER_DECADE * DECADES) as usize],
            total: 0,
        }
    }
}

impl LogBuckets {
    fn index(&self, ms: f64) -> usize {
        let b = ((ms.max(1e-9).log10() - LOWEST_LOG_MS) * BUCKETS_PER_DECADE).floor();
        (b.max(0.0) as usize).min(self.counts.len() - 1)
    }

    pub fn add(&mut self, ms: f64) {
        let i = self.index(ms);
        self.counts[i] += 1;
        self.total += 1;
    }

    pub fn remove(&mut self, ms: f64) {
        let i = self.index(ms);
        if self.counts[i] > 0 {
            self.counts[i] -= 1;
            self.total -= 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    fn middle_ms(i: usize) -> f64 {
        10f64.powf(LOWEST_LOG_MS + (i as f64 + 0.5) / BUCKETS_PER_DECADE)
    }

    /// Nearest-rank quantiles (each `q` in 0..=1, ascending) in one pass.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[f64; N]> {
        if self.total == 0 {
            return None;
        }
        let ranks = qs.map(|q| ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1));
        let mut out = [0.0; N];
        let mut next = 0;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            while next < N && seen >= ranks[next] {
                out[next] = Self::middle_ms(i);
                next += 1;
            }
            if next == N {
                break;
            }
        }
        Some(out)
    }
}

/// Line segments (a line breaks where there is no data or the observer was disconnected).
pub type Segments = Vec<Vec<PlotPoint>>;

#[derive(Debug, Clone, Default)]
pub struct PercentileLines {
    pub p50: Segments,
    pub p95: Segments,
    pub p99: Segments,
}

/// Whether `[from, to]` touches one of the `gaps` (plot-x seconds).
fn touches_gap(gaps: &[(f64, f64)], from: f64, to: f64) -> bool {
    gaps.iter().any(|&(a, b)| a <= to && b >= from)
}

fn push_point(segments: &mut Segments, open: &mut bool, point: Option<PlotPoint>) {
    match point {
        Some(p) => {
            if !*open {
                segments.push(Vec::new());
                *open = true;
            }
            if let Some(seg) = segments.last_mut() {
                seg.push(p);
            }
        }
        None => *open = false,
    }
}

/// p50 / p95 / p99 of the samples in a sliding window of `window_secs`, evaluated every
/// `step_secs` (at multiples of it) over `[from, to]`.
pub fn rolling_percentiles(
    samples: &Samples,
    from: f64,
    to: f64,
    window_secs: f64,
    step_secs: f64,
    gaps: &[(f64, f64)],
    scale: YScale,
) -> PercentileLines {
    let mut lines = PercentileLines::default();
    if !(step_secs > 0.0 && window_secs > 0.0 && to > from) || samples.is_empty() {
        return lines;
    }
    let mut buckets = LogBuckets::default();
    let first_step = (from / step_secs).floor() as i64;
    let last_step = (to / step_secs).ceil() as i64;
    // Bounded whatever the caller passed.
    let last_step = last_step.min(first_step + 5_000);
    let (mut lo, mut hi) = {
        let start = samples
            .x_secs
            .partition_point(|&x| x <= first_step as f64 * step_secs - window_secs);
        (start, start)
    };
    let open = &mut [false; 3];
    for step in first_step..=last_step {
        let t = step as f64 * step_secs;
        while hi < samples.len() && samples.x_secs[hi] <= t {
            buckets.add(samples.latency_ms[hi]);
            hi += 1;
        }
        while lo < hi && samples.x_secs[lo] <= t - window_secs {
            buckets.remove(samples.latency_ms[lo]);
            lo += 1;
        }
        let values = if touches_gap(gaps, t - window_secs, t) {
            None
        } else {
            buckets.quantiles([0.50, 0.95, 0.99])
        };
        for (k, segs) in [&mut lines.p50, &mut lines.p95, &mut lines.p99]
            .into_iter()
            .enumerate()
        {
            push_point(
                segs,
                &mut open[k],
                values.map(|v| PlotPoint::new(t, scale.y_of(v[k]))),
            );
        }
    }
    lines
}

/// Completions per second, failures per second and the failure share, per bucket.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    pub per_sec: Segments,
    pub failed_per_sec: Segments,
    /// Errors + timeouts over completions, in percent (no point where nothing completed).
    pub error_rate_pct: Segments,
    pub max_per_sec: f64,
}

/// Buckets of `bucket_secs` (aligned to multiples of it) over `[from, to]`, drawn at bucket middles.
pub fn rates(
    samples: &Samples,
    from: f64,
    to: f64,
    bucket_secs: f64,
    gaps: &[(f64, f64)],
) -> Rates {
    let mut out = Rates::default();
    if !(bucket_secs > 0.0 && to > from) {
        return out;
    }
    let first = (from / bucket_secs).floor() as i64;
    let last = ((to / bucket_secs).ceil() as i64).min(first + 5_000);
    let n = (last - first).max(0) as usize;
    let mut counts = vec![(0u32, 0u32); n];
    for (&x, &failed) in samples.end_x_secs.iter().zip(&samples.end_failed) {
        let b = (x / bucket_secs).floor() as i64 - first;
        if let Some(slot) = usize::try_from(b).ok().and_then(|b| counts.get_mut(b)) {
            slot.0 += 1;
            slot.1 += u32::from(failed);
        }
    }
    let mut open = [false; 3];
    for (k, &(count, failed)) in counts.iter().enumerate() {
        let b = first + k as i64;
        let (start, end) = (b as f64 * bucket_secs, (b + 1) as f64 * bucket_secs);
        let middle = (start + end) / 2.0;
        if touches_gap(gaps, start, end) {
            push_point(&mut out.per_sec, &mut open[0], None);
            push_point(&mut out.failed_per_sec, &mut open[1], None);
            push_point(&mut out.error_rate_pct, &mut open[2], None);
            continue;
        }
        let per_sec = f64::from(count) / bucket_secs;
        out.max_per_sec = out.max_per_sec.max(per_sec);
        push_point(
            &mut out.per_sec,
            &mut open[0],
            Some(PlotPoint::new(middle, per_sec)),
        );
        push_point(
            &mut out.failed_per_sec,
            &mut open[1],
            Some(PlotPoint::new(middle, f64::from(failed) / bucket_secs)),
        );
        let rate = (count > 0)
            .then(|| PlotPoint::new(middle, f64::from(failed) * 100.0 / f64::from(count)));
        push_point(&mut out.error_rate_pct, &mut open[2], rate);
    }
    out
}

/// The latency distribution of some samples: log-spaced bins and percentiles.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// (log10 ms of the bin's left edge, bin width in log10 ms, count).
    pub bins: Vec<(f64, f64, u32)>,
    pub samples: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// `bins` log-spaced bins between the smallest and largest latency of `range`.
pub fn histogram(samples: &Samples, range: Range<usize>, bins: usize) -> Histogram {
    let values = samples.latency_ms.get(range).unwrap_or(&[]);
    if values.is_empty() || bins == 0 {
        return Histogram::default();
    }
    let mut buckets = LogBuckets::default();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &ms in values {
        let l = ms.max(1e-3).log10();
        lo = lo.min(l);
        hi = hi.max(l);
        buckets.add(ms);
    }
    let width = ((hi - lo) / bins as f64).max(0.02);
    let mut counts = vec![0u32; bins];
    for &ms in values {
        let l = ms.max(1e-3).log10();
        let b = (((l - lo) / width).floor() as usize).min(bins - 1);
        counts[b] += 1;
    }
    let q = buckets.quantiles([0.50, 0.95, 0.99]);
    Histogram {
        bins: counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (lo + i as f64 * width, width, c))
            .collect(),
        samples: values.len() as u64,
        p50_ms: q.map(|v| v[0]),
        p95_ms: q.map(|v| v[1]),
        p99_ms: q.map(|v| v[2]),
    }
}

/// The sample nearest to a screen position (`to_screen` maps plot x, y to pixels), within
/// `radius_px`; searches only samples whose x is within `x_radius` of `x`.
pub fn nearest_sample(
    samples: &Samples,
    x: f64,
    x_radius: f64,
    scale: YScale,
    pointer: egui::Pos2,
    radius_px: f32,
    to_screen: impl Fn(f64, f64) -> egui::Pos2,
) -> Option<usize> {
    let mut best: Option<(f32, usize)> = None;
    for i in samples.range(x - x_radius, x + x_radius) {
        let p = to_screen(samples.x_secs[i], scale.y_of(samples.latency_ms[i]));
        let d = p.distance(pointer);
        if d <= radius_px && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, i));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(points: &[(f64, f64, SampleClass)]) -> Samples {
        Samples {
            x_secs: points.iter().map(|p| p.0).collect(),
            latency_ms: points.iter().map(|p| p.1).collect(),
            class: points.iter().map(|p| p.2).collect(),
            trace_id: (0..points.len() as u64).collect(),
            end_x_secs: points.iter().map(|p| p.0 + p.1 / 1000.0).collect(),
            end_failed: points.iter().map(|p| p.2 != SampleClass::Ok).collect(),
        }
    }

    #[test]
    fn downsampling_keeps_one_point_per_cell_and_every_class() {
        let mut pts = Vec::new();
        for i in 0..10_000 {
            // 10 000 ok samples piled into a 1 s × 1 ms patch, one error among them.
            pts.push((
                i as f64 / 10_000.0,
                40.0 + (i % 10) as f64 * 0.1,
                SampleClass::Ok,
            ));
        }
        pts.push((0.5, 40.5, SampleClass::Error));
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let s = samples(&pts);
        let d = downsample(&s, 0..s.len(), YScale::Linear, 0.1, 1.0);
        assert!(
            d.ok.len() <= 11 * 2,
            "about one point per 0.1 s column and 1 ms row: {}",
            d.ok.len()
        );
        assert_eq!(
            d.error.len(),
            1,
            "an error is never thinned away behind ok points"
        );
        assert!(
            d.ok.windows(2).all(|w| w[0].x <= w[1].x),
            "sorted by x (the plot slices the visible part)"
        );
    }

    #[test]
    fn rolling_percentiles_follow_the_data_and_break_at_gaps() {
        // 1 s of 10 ms calls, then 1 s of 100 ms calls; the observer was away in [5, 6].
        let mut pts = Vec::new();
        for i in 0..1000 {
            pts.push((i as f64 / 1000.0, 10.0, SampleClass::Ok));
        }
        for i in 0..1000 {
            pts.push((1.0 + i as f64 / 1000.0, 100.0, SampleClass::Ok));
        }
        let s = samples(&pts);
        let lines = rolling_percentiles(&s, 0.0, 8.0, 0.5, 0.25, &[(5.0, 6.0)], YScale::Linear);
        let at = |segs: &Segments, x: f64| {
            segs.iter()
                .flatten()
                .find(|p| (p.x - x).abs() < 1e-9)
                .map(|p| p.y)
        };
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() / b < 0.02);
        assert!(close(at(&lines.p50, 0.75), 10.0));
        assert!(close(at(&lines.p50, 1.75), 100.0));
        // Half and half at 1.25: the median is the lower value, p95 the higher.
        assert!(close(at(&lines.p95, 1.25), 100.0));
        assert_eq!(at(&lines.p50, 3.0), None, "no data, no point");
        assert_eq!(
            at(&lines.p50, 5.5),
            None,
            "a window touching the gap has no point"
        );
        assert_eq!(
            lines.p50.len(),
            1,
            "one segment: the empty stretch and the gap break nothing that follows"
        );
    }

    #[test]
    fn rates_count_completions_and_failures() {
        let s = samples(&[
            (0.1, 10.0, SampleClass::Ok),
            (0.2, 10.0, SampleClass::Error),
            (0.3, 10.0, SampleClass::Timeout),
            (1.5, 10.0, SampleClass::Ok),
        ]);
        let r = rates(&s, 0.0, 2.0, 1.0, &[]);
        let flat = |segs: &Segments| {
            segs.iter()
                .flatten()
                .map(|p| (p.x, p.y))
                .collect::<Vec<_>>()
        };
        assert_eq!(flat(&r.per_sec), vec![(0.5, 3.0), (1.5, 1.0)]);
        assert_eq!(flat(&r.failed_per_sec), vec![(0.5, 2.0), (1.5, 0.0)]);
        let pct = flat(&r.error_rate_pct);
        assert!((pct[0].1 - 66.666).abs() < 0.01 && pct[1].1 == 0.0);
        let gapped = rates(&s, 0.0, 2.0, 1.0, &[(1.2, 1.3)]);
        assert_eq!(flat(&gapped.per_sec), vec![(0.5, 3.0)]);
    }

    #[test]
    fn log_buckets_quantiles_are_close_and_removal_works() {
        let mut b = LogBuckets::default();
        for v in 1..=1000 {
            b.add(v as f64);
        }
        let [p50, p99] = b.quantiles([0.5, 0.99]).unwrap();
        assert!((p50 - 500.0).abs() / 500.0 < 0.02, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.02, "{p99}");
        for v in 1..=1000 {
            b.remove(v as f64);
        }
        assert_eq!(b.total(), 0);
        assert!(b.quantiles([0.5]).is_none());
        b.add(0.0);
        b.add(1e12);
        assert_eq!(b.total(), 2, "out-of-range values land in the end buckets");
    }

    #[test]
    fn histogram_and_nearest() {
        let s = samples(&[
            (0.0, 1.0, SampleClass::Ok),
            (1.0, 10.0, SampleClass::Ok),
            (2.0, 100.0, SampleClass::Error),
        ]);
        let h = histogram(&s, 0..3, 4);
        assert_eq!(h.bins.iter().map(|b| b.2).sum::<u32>(), 3);
        assert_eq!(h.bins.first().map(|b| b.2), Some(1));
        assert_eq!(h.bins.last().map(|b| b.2), Some(1));
        let to_screen = |x: f64, y: f64| egui::pos2((x * 100.0) as f32, (y * 10.0) as f32);
        let hit = nearest_sample(
            &s,
            1.0,
            0.5,
            YScale::Log,
            egui::pos2(101.0, 10.0),
            5.0,
            to_screen,
        );
        assert_eq!(hit, Some(1));
        assert_eq!(
            nearest_sample(
                &s,
                1.0,
                0.5,
                YScale::Log,
                egui::pos2(150.0, 10.0),
                5.0,
                to_screen
            ),
            None
        );
        assert_eq!(s.range(0.5, 2.0), 1..3);
    }
}
