//! Pure state, no GUI and no clock: the message store, the mesh (presence, traces, stats) and the session log.
//!
//! One memory budget (`StoreLimits::max_bytes`) covers the process: a fixed headroom for what
//! is not the model (code, stacks, I/O buffers, the batch in flight), the mesh (its heap
//! estimated as messages arrive) and the store, which keeps what the other two leave. The trace
//! cap is sized so the traces cannot take more than a quarter of the budget.

pub mod mesh;
pub mod session_log;
pub mod store;
pub mod topic_filter;

use std::mem::size_of;

use crate::protocol::raw::allocation_bytes;
use crate::protocol::{RawMessage, SessionEvent};

pub use mesh::{Mesh, MeshConfig, MessageTag};
pub use session_log::SessionLog;
pub use store::{
    MessageRef, MessageStore, RawRef, StoreCounters, StoreLimits, StoredMessage, StoredRaw,
    StoredTag,
};

/// Limits and timeouts of a model, from the command line or settings.
#[derive(Debug, Clone, Default)]
pub struct ModelConfig {
    pub store: StoreLimits,
    pub mesh: MeshConfig,
}

/// Everything Meshscope knows about what it observed. Ingest writes, views read.
#[derive(Debug)]
pub struct Model {
    pub store: MessageStore,
    pub mesh: Mesh,
    pub session: SessionLog,
    /// Messages that reached the model (stored or evicted since).
    pub messages_total: u64,
    /// Messages lost before reaching the model (e.g. a full channel); counted, never silent.
    pub messages_dropped: u64,
    rate: RateMeter,
    revision: u64,
    mesh_memory: MeshMemory,
}

impl Model {
    /// A model within `config.store.max_bytes`: the mesh's trace cap is lowered where the
    /// configured one would not fit a quarter of that budget.
    pub fn new(mut config: ModelConfig) -> Self {
        config.mesh.max_traces = config
            .mesh
            .max_traces
            .min(traces_within(config.store.max_bytes / TRACE_SHARE_DIVISOR));
        let mut store = MessageStore::new(config.store);
        store.set_reserved_bytes(process_headroom(config.store.max_bytes));
        Model {
            store,
            mesh: Mesh::new(config.mesh),
            session: SessionLog::default(),
            messages_total: 0,
            messages_dropped: 0,
            rate: RateMeter::default(),
            revision: 0,
            mesh_memory: MeshMemory::default(),
        }
    }

    /// The mesh's heap, estimated (see [`MeshMemory`]); the store keeps the rest of the budget.
    pub fn mesh_bytes_estimate(&self) -> usize {
        self.mesh_memory.estimate_bytes
    }

    /// What the model holds against its memory budget: the store's heap plus the mesh's estimate.
    pub fn memory_bytes(&self) -> usize {
        self.store.counters().stored_bytes + self.mesh_bytes_estimate()
    }

    /// Bumps whenever anything a view shows may have changed.
    pub fn revision(&self) -> u64 {
        self.revision.wrapping_add(self.mesh.revision())
    }

    pub fn apply_event(&mut self, event: SessionEvent) {
        self.revision += 1;
        match event {
            SessionEvent::Message(raw) => self.apply_message(raw),
            other => self.session.record(other),
        }
    }

    pub fn apply_message(&mut self, raw: RawMessage) {
        self.revision += 1;
        self.messages_total += 1;
        self.rate.observe(raw.received_at_nanos);
        let tag = self.mesh.apply(&raw);
        if self.mesh_memory.observe(&self.mesh) {
            let headroom = process_headroom(self.store.limits().max_bytes);
            self.store
                .set_reserved_bytes(headroom + self.mesh_memory.estimate_bytes);
        }
        self.store.push(raw, tag);
    }

    /// Advances time without a message: timeouts, stale presence, the rate meter.
    pub fn tick(&mut self, now_nanos: u64) {
        self.rate.observe_time(now_nanos);
        self.mesh.tick(now_nanos);
    }

    /// Messages per second over the last full second of receive time.
    pub fn messages_per_sec(&self) -> u64 {
        self.rate.per_sec()
    }
}

/// What the process needs beside the model, kept out of the budget so that the RSS stays
/// within it: code, thread stacks, the player's read buffer, a batch of messages in flight
/// (measured with `benches/memory.rs`: peak RSS 9-11 MiB above the model's heap while opening
/// a recording headless), and under a flood the session's queue and the allocator's slack
/// (~40 MiB above the model at a 512 MiB budget, `MESHSCOPE_FLOOD_BUDGET_MIB=512`).
/// A twelfth of the budget, 16 MiB at least, a quarter of a small budget at most.
const PROCESS_HEADROOM_BYTES: usize = 16 << 20;
const PROCESS_HEADROOM_SHARE_DIVISOR: usize = 12;

fn process_headroom(budget_bytes: usize) -> usize {
    PROCESS_HEADROOM_BYTES
        .max(budget_bytes / PROCESS_HEADROOM_SHARE_DIVISOR)
        .min(budget_bytes / 4)
}

/// Share of the budget the traces may take at most: `max_bytes / TRACE_SHARE_DIVISOR`.
const TRACE_SHARE_DIVISOR: usize = 4;
/// Bytes per trace assumed when sizing the trace cap (ring slot, heap, index; measured with
/// `benches/memory.rs`: ~700 B on the peers-mesh capture, ~600 B on MCP calls).
const TRACE_BYTES_FOR_CAP: usize = 1024;
/// Fewest traces kept whatever the budget.
const MIN_TRACES: usize = 64;

fn traces_within(bytes: usize) -> usize {
    (bytes / TRACE_BYTES_FOR_CAP).max(MIN_TRACES)
}

/// Per-trace bytes beside its slot and own blocks: its pairing-index entry (hash table slot at
/// up to 7/8 load, power-of-two buckets), its deadline, a weak-pairing entry now and then.
const TRACE_INDEX_BYTES: usize = 64;
/// A participant's entry in the presence index.
const PARTICIPANT_INDEX_BYTES: usize = 64;
/// What the mesh holds whatever its traffic: interned ids, scratch buffers, small tables.
const MESH_BASE_BYTES: usize = 64 << 10;
/// Messages between samples of the newest traces' heap (cheap), and of participants and
/// stats (sorting them: rare).
const TRACE_SAMPLE_EVERY: u64 = 4_096;
const SLOW_SAMPLE_EVERY: u64 = 65_536;
const TRACES_SAMPLED: u64 = 256;

/// The mesh's heap, estimated from what it exposes: trace and participant counts (read per
/// message), times per-item sizes sampled now and then from its traces, participants and
/// call-graph edges. The mesh's private tables (pairing index, interned strings) are
/// covered by per-item and fixed allowances measured with `benches/memory.rs`.
#[derive(Debug, Default)]
struct MeshMemory {
    messages: u64,
    trace_heap_average: usize,
    participant_average: usize,
    stats_bytes: usize,
    estimate_bytes: usize,
}

impl MeshMemory {
    /// Updates the estimate after a message; true when it changed.
    fn observe(&mut self, mesh: &Mesh) -> bool {
        if self.messages.is_multiple_of(TRACE_SAMPLE_EVERY) {
            self.trace_heap_average = sample_trace_heap(mesh);
        }
        if self.messages.is_multiple_of(SLOW_SAMPLE_EVERY) {
            let participants = mesh.participants();
            self.participant_average = participants
                .iter()
                .map(|p| participant_bytes(p))
                .sum::<usize>()
                .checked_div(participants.len())
                .unwrap_or(0);
            self.stats_bytes = stats_bytes(mesh);
        }
        self.messages += 1;
        let traces = mesh.trace_count();
        // The ring is a `VecDeque`: its capacity is the next power of two.
        let ring_bytes = if traces == 0 {
            0
        } else {
            traces.next_power_of_two() * size_of::<mesh::Trace>()
        };
        let estimate = MESH_BASE_BYTES
            + ring_bytes
            + traces * (self.trace_heap_average + TRACE_INDEX_BYTES)
            + mesh.participant_count() * self.participant_average
            + self.stats_bytes;
        let changed = estimate != self.estimate_bytes;
        self.estimate_bytes = estimate;
        changed
    }
}

/// Average heap of up to [`TRACES_SAMPLED`] traces spread over the ring.
fn sample_trace_heap(mesh: &Mesh) -> usize {
    let (Some(first), Some(last)) = (mesh.traces().next(), mesh.traces().next_back()) else {
        return 0;
    };
    let (first, last) = (first.trace_id, last.trace_id);
    let step = ((last - first) / TRACES_SAMPLED).max(1);
    let mut sampled = 0usize;
    let mut bytes = 0usize;
    let mut trace_id = first;
    while trace_id <= last {
        if let Some(t) = mesh.trace(trace_id) {
            sampled += 1;
            bytes += trace_heap_bytes(t);
        }
        trace_id += step;
    }
    bytes.checked_div(sampled).unwrap_or(0)
}

/// The blocks a trace owns (its ids are interned, shared with other traces).
fn trace_heap_bytes(t: &mesh::Trace) -> usize {
    let text = |s: &Option<Box<str>>| s.as_ref().map_or(0, |s| allocation_bytes(s.len()));
    allocation_bytes(t.correlation.len())
        // The pairing key (not public): the correlation and a dialect prefix.
        + allocation_bytes(t.correlation.len() + 24)
        + text(&t.task_id)
        + allocation_bytes(t.partials.capacity() * size_of::<mesh::PartialItem>())
        + t.error.as_ref().map_or(0, |e| {
            allocation_bytes(size_of::<mesh::TraceError>())
                + allocation_bytes(e.class.len())
                + text(&e.code)
                + text(&e.message)
        })
}

fn participant_bytes(p: &mesh::Participant) -> usize {
    size_of::<mesh::Participant>()
        + PARTICIPANT_INDEX_BYTES
        + p.display_name
            .as_ref()
            .map_or(0, |s| allocation_bytes(s.len()))
        + p.card
            .as_ref()
            .map_or(0, |c| allocation_bytes(16 + c.len()))
        + allocation_bytes(p.history.capacity() * size_of::<mesh::Transition>())
        + allocation_bytes(p.instances.capacity() * size_of::<mesh::Instance>())
        + p.instances
            .iter()
            .map(|i| allocation_bytes(i.instance_id.len()))
            .sum::<usize>()
}

/// The stats table: its edges exactly; its rows (not listed without computing percentiles)
/// taken as many as the edges, each with two histograms like an edge's and a full window.
fn stats_bytes(mesh: &Mesh) -> usize {
    let edges = mesh.edges();
    let edge_bytes: usize = edges
        .iter()
        .map(|e| size_of::<mesh::EdgeRow>() + 64 + e.latency.heap_bytes())
        .sum();
    let window_bytes = mesh.config().max_window_samples * 16;
    let row_bytes: usize = edges
        .iter()
        .map(|e| {
            size_of::<mesh::StatsRow>()
                + 64
                + 2 * e.latency.heap_bytes()
                + window_bytes.min(e.count as usize * 16)
        })
        .sum();
    edge_bytes + row_bytes
}

/// Counts messages per whole second of receive time; reports the last complete second.
#[derive(Debug, Default)]
struct RateMeter {
    current_sec: u64,
    current_count: u64,
    last_count: u64,
}

impl RateMeter {
    fn observe(&mut self, at_nanos: u64) {
        self.observe_time(at_nanos);
        self.current_count += 1;
    }

    fn observe_time(&mut self, at_nanos: u64) {
        let sec = at_nanos / 1_000_000_000;
        if sec > self.current_sec {
            self.last_count = if sec == self.current_sec + 1 {
                self.current_count
            } else {
                0
            };
            self.current_sec = sec;
            self.current_count = 0;
        }
    }

    fn per_sec(&self) -> u64 {
        self.last_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_reports_last_complete_second() {
        let mut rate = RateMeter::default();
        for i in 0..50 {
            rate.observe(10_000_000_000 + i * 10_000_000);
        }
        rate.observe_time(11_000_000_000);
        assert_eq!(rate.per_sec(), 50);
        rate.observe_time(13_000_000_000);
        assert_eq!(rate.per_sec(), 0);
    }
}
