//! Latency statistics: a bounded log-bucket histogram (< 1 % relative error), sliding windows, stats rows and call-graph edges.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::Dialect;

use super::hash::FastMap;

/// Sub-buckets per power of two: bucket width ≤ 1/64 of its value, so the midpoint is within 0.8 %.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;

/// Counts of microsecond values in logarithmic buckets. Rows (one per power of two) are
/// allocated on first use, so a histogram costs 256 B per octave its values span.
#[derive(Debug, Clone, Default)]
pub struct LogHistogram {
    rows: Vec<Option<Box<[u32; SUB]>>>,
    count: u64,
    min: u64,
    max: u64,
}

#[inline]
fn bucket_of(value: u64) -> (usize, usize) {
    if value < SUB as u64 {
        return (0, value as usize);
    }
    let octave = 63 - value.leading_zeros();
    let shift = octave - SUB_BITS;
    let sub = ((value >> shift) as usize) & (SUB - 1);
    ((shift + 1) as usize, sub)
}

/// The representative value of a bucket: its midpoint.
fn value_of(row: usize, sub: usize) -> u64 {
    if row == 0 {
        return sub as u64;
    }
    let shift = (row - 1) as u32;
    let low = ((SUB + sub) as u64) << shift;
    low + ((1u64 << shift) >> 1)
}

impl LogHistogram {
    pub fn record(&mut self, value: u64) {
        let (row, sub) = bucket_of(value);
        if self.rows.len() <= row {
            self.rows.resize_with(row + 1, || None);
        }
        let counts = self.rows[row].get_or_insert_with(|| Box::new([0; SUB]));
        counts[sub] = counts[sub].saturating_add(1);
        if self.count == 0 || value < self.min {
            self.min = value;
        }
        self.max = self.max.max(value);
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// The `q`-quantile (0..=1), nearest rank, as a bucket midpoint clamped to the observed range.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return Some(self.max);
        }
        let mut seen = 0u64;
        for (row, counts) in self.rows.iter().enumerate() {
            let Some(counts) = counts else { continue };
            for (sub, &n) in counts.iter().enumerate() {
                seen += u64::from(n);
                if seen >= rank {
                    return Some(value_of(row, sub).clamp(self.min, self.max));
                }
            }
        }
        Some(self.max)
    }

    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            samples: self.count,
            p50_micros: self.quantile(0.50),
            p90_micros: self.quantile(0.90),
            p95_micros: self.quantile(0.95),
            p99_micros: self.quantile(0.99),
            max_micros: self.max(),
        }
    }

    /// Bytes held (for the memory budget display).
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Option<Box<[u32; SUB]>>>()
            + self.rows.iter().flatten().count() * SUB * 4
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub samples: u64,
    pub p50_micros: Option<u64>,
    pub p90_micros: Option<u64>,
    pub p95_micros: Option<u64>,
    pub p99_micros: Option<u64>,
    pub max_micros: Option<u64>,
}

/// Exact percentiles of the most recent samples inside a time window (bounded: the newest
/// `cap` samples; `truncated` says when the window held more).
#[derive(Debug, Clone, Default)]
pub struct Window {
    samples: VecDeque<(u64, u64)>,
}

impl Window {
    fn record(&mut self, at_nanos: u64, value_micros: u64, cap: usize) {
        if cap == 0 {
            return;
        }
        while self.samples.len() >= cap {
            self.samples.pop_front();
        }
        self.samples.push_back((at_nanos, value_micros));
    }

    /// Percentiles over samples with `at >= now - window`.
    pub fn percentiles(
        &self,
        now_nanos: u64,
        window_nanos: u64,
        cap: usize,
    ) -> (Percentiles, bool) {
        let from = now_nanos.saturating_sub(window_nanos);
        let mut values: Vec<u64> = self
            .samples
            .iter()
            .filter(|(at, _)| *at >= from && *at <= now_nanos)
            .map(|&(_, v)| v)
            .collect();
        // Full buffer whose oldest sample is still inside the window: older ones were dropped.
        let truncated =
            self.samples.len() >= cap && self.samples.front().is_some_and(|(at, _)| *at >= from);
        if values.is_empty() {
            return (Percentiles::default(), truncated);
        }
        values.sort_unstable();
        let pick = |q: f64| {
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            Some(values[rank - 1])
        };
        (
            Percentiles {
                samples: values.len() as u64,
                p50_micros: pick(0.50),
                p90_micros: pick(0.90),
                p95_micros: pick(0.95),
                p99_micros: pick(0.99),
                max_micros: values.last().copied(),
            },
            truncated,
        )
    }
}

/// How one exchange ended, as the stats count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Ok,
    Error,
    Timeout,
    Cancelled,
}

/// Statistics of one (dialect, callee, operation).
#[derive(Debug, Clone)]
pub struct StatsRow {
    pub dialect: Dialect,
    pub callee: Arc<str>,
    pub operation: Arc<str>,
    /// Finished exchanges: ok + errors + timeouts + cancelled.
    pub count: u64,
    pub ok: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub cancelled: u64,
    /// Response receive time − request receive time, over the session.
    pub latency: LogHistogram,
    /// First partial receive time − request receive time.
    pub first_partial: LogHistogram,
    pub window: Window,
    pub last_at_nanos: u64,
}

impl StatsRow {
    fn new(dialect: Dialect, callee: Arc<str>, operation: Arc<str>) -> Self {
        StatsRow {
            dialect,
            callee,
            operation,
            count: 0,
            ok: 0,
            errors: 0,
            timeouts: 0,
            cancelled: 0,
            latency: LogHistogram::default(),
            first_partial: LogHistogram::default(),
            window: Window::default(),
            last_at_nanos: 0,
        }
    }

    /// (errors + timeouts) / count.
    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.errors + self.timeouts) as f64 / self.count as f64
        }
    }
}

/// A caller → callee edge of the call graph.
#[derive(Debug, Clone)]
pub struct EdgeRow {
    pub dialect: Dialect,
    pub caller: Arc<str>,
    pub callee: Arc<str>,
    pub count: u64,
    /// Error replies and timeouts.
    pub errors: u64,
    pub latency: LogHistogram,
}

impl EdgeRow {
    pub fn p95_micros(&self) -> Option<u64> {
        self.latency.quantile(0.95)
    }
}

/// One finished exchange, as the stats see it.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub dialect: Dialect,
    pub caller: Option<&'a Arc<str>>,
    pub callee: &'a Arc<str>,
    pub operation: &'a Arc<str>,
    pub completion: Completion,
    pub at_nanos: u64,
    pub latency_micros: Option<u64>,
    pub first_partial_micros: Option<u64>,
}

/// All stats rows and edges, bounded: past the caps, new keys fold into one `(other)` row/edge.
#[derive(Debug, Default)]
pub struct StatsTable {
    rows: Vec<StatsRow>,
    row_index: FastMap<(Dialect, Arc<str>, Arc<str>), usize>,
    edges: Vec<EdgeRow>,
    edge_index: FastMap<(Dialect, Arc<str>, Arc<str>), usize>,
    pub max_rows: usize,
    pub max_edges: usize,
    pub window_cap: usize,
    /// Samples that went to an `(other)` row or edge because the caps were reached.
    pub overflowed: u64,
    other: Option<Arc<str>>,
}

impl StatsTable {
    pub fn new(max_rows: usize, max_edges: usize, window_cap: usize) -> Self {
        StatsTable {
            max_rows,
            max_edges,
            window_cap,
            ..StatsTable::default()
        }
    }

    fn other(&mut self) -> Arc<str> {
        self.other
            .get_or_insert_with(|| Arc::from("(other)"))
            .clone()
    }

    pub fn record(&mut self, s: Sample<'_>) {
        let key = (s.dialect, s.callee.clone(), s.operation.clone());
        let idx = match self.row_index.get(&key) {
            Some(&i) => i,
            None => {
                let key = if self.rows.len() >= self.max_rows {
                    self.overflowed += 1;
                    let other = self.other();
                    (s.dialect, other.clone(), other)
                } else {
                    key
                };
                match self.row_index.get(&key) {
                    Some(&i) => i,
                    None => {
                        self.rows
                            .push(StatsRow::new(key.0, key.1.clone(), key.2.clone()));
                        self.row_index.insert(key, self.rows.len() - 1);
                        self.rows.len() - 1
                    }
                }
            }
        };
        let window_cap = self.window_cap;
        let row = &mut self.rows[idx];
        row.count += 1;
        row.last_at_nanos = row.last_at_nanos.max(s.at_nanos);
        match s.completion {
            Completion::Ok => row.ok += 1,
            Completion::Error => row.errors += 1,
            Completion::Timeout => row.timeouts += 1,
            Completion::Cancelled => row.cancelled += 1,
        }
        if let Some(l) = s.latency_micros {
            row.latency.record(l);
            row.window.record(s.at_nanos, l, window_cap);
        }
        if let Some(f) = s.first_partial_micros {
            row.first_partial.record(f);
        }
        let Some(caller) = s.caller else { return };
        let key = (s.dialect, caller.clone(), s.callee.clone());
        let idx = match self.edge_index.get(&key) {
            Some(&i) => i,
            None => {
                let key = if self.edges.len() >= self.max_edges {
                    self.overflowed += 1;
                    let other = self.other();
                    (s.dialect, other.clone(), other)
                } else {
                    key
                };
                match self.edge_index.get(&key) {
                    Some(&i) => i,
                    None => {
                        self.edges.push(EdgeRow {
                            dialect: key.0,
                            caller: key.1.clone(),
                            callee: key.2.clone(),
                            count: 0,
                            errors: 0,
                            latency: LogHistogram::default(),
                        });
                        self.edge_index.insert(key, self.edges.len() - 1);
                        self.edges.len() - 1
                    }
                }
            }
        };
        let edge = &mut self.edges[idx];
        edge.count += 1;
        if matches!(s.completion, Completion::Error | Completion::Timeout) {
            edge.errors += 1;
        }
        if let Some(l) = s.latency_micros {
            edge.latency.record(l);
        }
    }

    pub fn rows(&self) -> &[StatsRow] {
        &self.rows
    }

    pub fn edges(&self) -> &[EdgeRow] {
        &self.edges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_relative_error_is_below_one_percent() {
        let mut h = LogHistogram::default();
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut values = Vec::new();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = 1 + state % 5_000_000;
            values.push(v);
            h.record(v);
        }
        values.sort_unstable();
        for q in [0.5, 0.9, 0.95, 0.99] {
            let exact = values[((q * values.len() as f64).ceil() as usize) - 1] as f64;
            let approx = h.quantile(q).unwrap() as f64;
            assert!(
                (approx - exact).abs() / exact < 0.01,
                "q={q} exact={exact} approx={approx}"
            );
        }
        assert_eq!(h.max(), values.last().copied());
        assert_eq!(h.quantile(1.0), values.last().copied());
    }

    #[test]
    fn small_values_are_exact_and_huge_values_fit() {
        let mut h = LogHistogram::default();
        for v in [0, 1, 2, 63] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(1));
        h.record(u64::MAX);
        assert_eq!(h.max(), Some(u64::MAX));
        assert_eq!(h.quantile(1.0), Some(u64::MAX));
    }

    #[test]
    fn window_only_counts_recent_samples() {
        let mut w = Window::default();
        for i in 0..10u64 {
            w.record(i * 1_000_000_000, i * 100, 1000);
        }
        let (p, truncated) = w.percentiles(9_000_000_000, 3_000_000_000, 1000);
        assert_eq!(p.samples, 4);
        assert_eq!(p.p50_micros, Some(700));
        assert_eq!(p.max_micros, Some(900));
        assert!(!truncated);
        let (_, truncated) = w.percentiles(9_000_000_000, 30_000_000_000, 10);
        assert!(truncated);
    }

    #[test]
    fn rows_fold_into_other_past_the_cap() {
        let mut t = StatsTable::new(2, 2, 16);
        let op: Arc<str> = Arc::from("call");
        for callee in ["a", "b", "c", "d"] {
            let callee: Arc<str> = Arc::from(callee);
            t.record(Sample {
                dialect: Dialect::OpenMas,
                caller: None,
                callee: &callee,
                operation: &op,
                completion: Completion::Ok,
                at_nanos: 1,
                latency_micros: Some(5),
                first_partial_micros: None,
            });
        }
        assert_eq!(t.rows().len(), 3);
        assert_eq!(t.overflowed, 2);
        assert_eq!(&*t.rows()[2].callee, "(other)");
        assert_eq!(t.rows()[2].count, 2);
    }
}
