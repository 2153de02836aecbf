//! Traces: requests paired with their replies, partials grouped under them; a bounded ring plus a key index.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::{Dialect, ParticipantKind};

use super::hash::{FastMap, U64Map};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Waiting for its final response.
    Pending,
    Ok,
    /// The response says it failed (error reply, `isError`, failed task, HTTP-like error code).
    Error,
    /// No final response within the request timeout.
    Timeout,
    /// Closed by a cancel notification.
    Cancelled,
    /// A response whose request was never seen (kept, never paired).
    Orphan,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
            Outcome::Orphan => "orphan",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Outcome::Pending)
    }
}

/// One streamed partial (stream item, A2A status/artifact update, MCP progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialItem {
    pub received_at_nanos: u64,
    /// `partial`, `done`, `submitted`, `working`, `artifact`, `progress`, ...
    pub label: &'static str,
    /// The sender's sequence number (MQTT.Agent writes `Date.now()`).
    pub stream_seq: Option<u64>,
    /// Index of the message in apply order (the n-th message given to `Mesh::apply`).
    pub message_index: u64,
    pub(crate) payload_hash: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    pub class: Box<str>,
    pub code: Option<Box<str>>,
    pub message: Option<Box<str>>,
}

#[derive(Debug, Clone)]
pub struct Trace {
    /// Monotonic, in order of first sight (request, or first reply for orphans).
    pub trace_id: u64,
    pub dialect: Dialect,
    pub outcome: Outcome,
    pub caller: Option<Arc<str>>,
    pub callee: Arc<str>,
    pub callee_kind: Option<ParticipantKind>,
    pub operation: Arc<str>,
    /// Who actually answered, when the wire says (A2A pools, OpenMAS `source`).
    pub responder: Option<Arc<str>>,
    /// The pairing key's correlation part, for display (call id, JSON-RPC id, Correlation Data, ...).
    pub correlation: Box<str>,
    pub task_id: Option<Box<str>>,
    pub request_at_nanos: Option<u64>,
    /// The final response (for timeouts: a late one, if it ever came).
    pub response_at_nanos: Option<u64>,
    /// When the timeout or cancellation was decided.
    pub closed_at_nanos: Option<u64>,
    pub last_activity_nanos: u64,
    pub request_message_index: Option<u64>,
    pub response_message_index: Option<u64>,
    pub partials: Vec<PartialItem>,
    pub partials_dropped: u32,
    pub error: Option<Box<TraceError>>,
    /// The responder's own figure (`elapsed_ms`), beside ours.
    pub server_elapsed_micros: Option<u64>,
    /// Sender clocks (OpenMAS `timestamp`), annotations only.
    pub request_sent_at_millis: Option<i64>,
    pub response_sent_at_millis: Option<i64>,
    /// Paired first-come on a Response Topic without Correlation Data.
    pub weak: bool,
    pub streaming: bool,
    /// QoS 1 redeliveries seen and ignored.
    pub duplicates: u32,
    /// Final responses after the first (e.g. several replicas answering).
    pub extra_responses: u32,
    pub(crate) key: Option<Box<[u8]>>,
    pub(crate) key_hash: u64,
    pub(crate) progress_key: Option<(Box<[u8]>, u64)>,
    pub(crate) request_hash: u64,
    pub(crate) response_hash: u64,
}

impl Trace {
    /// Response receive time − request receive time (our one clock), for answered requests.
    pub fn latency_micros(&self) -> Option<u64> {
        if !matches!(self.outcome, Outcome::Ok | Outcome::Error) {
            return None;
        }
        Some(
            self.response_at_nanos?
                .saturating_sub(self.request_at_nanos?)
                / 1_000,
        )
    }

    /// First partial − request.
    pub fn first_partial_micros(&self) -> Option<u64> {
        let first = self.partials.iter().map(|p| p.received_at_nanos).min()?;
        Some(first.saturating_sub(self.request_at_nanos?) / 1_000)
    }

    /// When a partial arrived, relative to the request (our clock).
    pub fn partial_offset_micros(&self, partial: &PartialItem) -> Option<u64> {
        Some(
            partial
                .received_at_nanos
                .checked_sub(self.request_at_nanos?)?
                / 1_000,
        )
    }

    /// Partials in the sender's order where it numbered them, else in arrival order.
    pub fn partials_in_order(&self) -> Vec<PartialItem> {
        let mut v = self.partials.clone();
        v.sort_by_key(|p| {
            (
                p.stream_seq.unwrap_or(0),
                p.received_at_nanos,
                p.message_index,
            )
        });
        v
    }

    pub fn is_pending(&self) -> bool {
        self.outcome == Outcome::Pending
    }
}

/// Traces in first-sight order, bounded; the oldest are evicted (and counted).
#[derive(Debug, Default)]
pub struct TraceRing {
    traces: VecDeque<Trace>,
    first_id: u64,
    next_id: u64,
    pub max_traces: usize,
}

impl TraceRing {
    pub fn new(max_traces: usize) -> Self {
        TraceRing {
            max_traces: max_traces.max(1),
            ..TraceRing::default()
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Pushes and returns the evicted trace, if the ring was full.
    pub fn push(&mut self, mut trace: Trace) -> Option<Trace> {
        trace.trace_id = self.next_id;
        self.next_id += 1;
        let evicted = if self.traces.len() >= self.max_traces {
            self.first_id += 1;
            self.traces.pop_front()
        } else {
            None
        };
        if self.traces.is_empty() {
            self.first_id = trace.trace_id;
        }
        self.traces.push_back(trace);
        evicted
    }

    pub fn get(&self, trace_id: u64) -> Option<&Trace> {
        let at = trace_id.checked_sub(self.first_id)?;
        self.traces.get(usize::try_from(at).ok()?)
    }

    pub fn get_mut(&mut self, trace_id: u64) -> Option<&mut Trace> {
        let at = trace_id.checked_sub(self.first_id)?;
        self.traces.get_mut(usize::try_from(at).ok()?)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Trace> + ExactSizeIterator {
        self.traces.iter()
    }

    pub fn len(&self) -> usize {
        self.traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }
}

/// Pairing key → trace id. Keyed by the key's hash, verified against the trace's own key; a
/// rare hash collision between two live keys goes to an exact-key overflow map.
#[derive(Debug, Default)]
pub struct PairIndex {
    by_hash: U64Map<u64>,
    overflow: FastMap<Box<[u8]>, u64>,
}

impl PairIndex {
    pub fn get(&self, key: &[u8], hash: u64, ring: &TraceRing) -> Option<u64> {
        if let Some(&id) = self.by_hash.get(&hash)
            && ring.get(id).is_some_and(|t| key_matches(t, key, hash))
        {
            return Some(id);
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow
            .get(key)
            .copied()
            .filter(|&id| ring.get(id).is_some())
    }

    pub fn insert(&mut self, key: &[u8], hash: u64, trace_id: u64, ring: &TraceRing) {
        match self.by_hash.get(&hash) {
            Some(&other)
                if other != trace_id
                    && ring.get(other).is_some_and(|t| !key_matches(t, key, hash)) =>
            {
                self.overflow.insert(key.into(), trace_id);
            }
            _ => {
                self.by_hash.insert(hash, trace_id);
                if !self.overflow.is_empty() {
                    self.overflow.remove(key);
                }
            }
        }
    }

    pub fn remove(&mut self, key: &[u8], hash: u64, trace_id: u64) {
        if self.by_hash.get(&hash) == Some(&trace_id) {
            self.by_hash.remove(&hash);
        } else if self.overflow.get(key) == Some(&trace_id) {
            self.overflow.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len() + self.overflow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn key_matches(t: &Trace, key: &[u8], hash: u64) -> bool {
    (t.key_hash == hash && t.key.as_deref() == Some(key))
        || t.progress_key
            .as_ref()
            .is_some_and(|(k, h)| *h == hash && &**k == key)
}
