//! A compact, incrementally synced copy of the mesh's traces (what the rows, nesting and plots need).
//!
//! The mesh keeps traces in a ring with contiguous ids; this mirror keeps one small record per
//! trace, appends new ones, drops evicted ones and re-reads only the traces that can still change
//! (pending, orphans, recent timeouts), so a sync costs O(new + open), not O(all traces).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::model::MessageStore;
use crate::model::mesh::hash::FastMap;
use crate::model::mesh::{Mesh, Outcome, Trace};
use crate::protocol::Dialect;

/// "No trace" in [`TraceRecord::wire_parent`].
pub const NO_TRACE: u64 = u64::MAX;
/// Payload fields that name the task a delegated task was created for (MQTT.Agent A2A tasks).
const PARENT_TASK_FIELDS: [&str; 2] = ["parent_task_id", "parentTaskId"];
/// Request payloads looked into for a parent link are at most this big.
const MAX_LINK_PAYLOAD_BYTES: usize = 256 * 1024;

/// Index of a distinct name (caller, callee, responder, operation) in [`Names`].
pub type NameId = u32;
/// "No name" (a request whose caller the wire does not say).
pub const NO_NAME: NameId = NameId::MAX;

/// Distinct names kept before the cache starts over (names of evicted traces are not dropped one by one).
const MAX_NAMES: usize = 500_000;
/// Entries of the by-pointer memo in front of the name map.
const MEMO_SLOTS: usize = 256;

/// Distinct names seen in traces, each with a small id (filters compare ids, not strings).
#[derive(Debug)]
pub struct Names {
    by_name: FastMap<Arc<str>, NameId>,
    names: Vec<Arc<str>>,
    /// The mesh shares one `Arc` per distinct string: most lookups hit by pointer. Each slot holds
    /// its `Arc`, so the address cannot be reused by another string while it is cached.
    memo: Vec<Option<(Arc<str>, NameId)>>,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            by_name: FastMap::default(),
            names: Vec::new(),
            memo: vec![None; MEMO_SLOTS],
        }
    }
}

impl Names {
    pub fn id_of(&mut self, name: &Arc<str>) -> NameId {
        let slot = (Arc::as_ptr(name) as *const u8 as usize >> 4) % MEMO_SLOTS;
        if let Some((cached, id)) = &self.memo[slot]
            && Arc::ptr_eq(cached, name)
        {
            return *id;
        }
        let id = match self.by_name.get(name) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as NameId;
                self.names.push(name.clone());
                self.by_name.insert(name.clone(), id);
                id
            }
        };
        self.memo[slot] = Some((name.clone(), id));
        id
    }

    pub fn find(&self, name: &str) -> Option<NameId> {
        self.by_name.get(name).copied()
    }

    /// The name of an id ("" for [`NO_NAME`] or an unknown id).
    pub fn get(&self, id: NameId) -> &str {
        self.names.get(id as usize).map_or("", |s| s)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What the timeline needs of one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    pub trace_id: u64,
    pub dialect: Dialect,
    pub outcome: Outcome,
    pub caller: NameId,
    pub callee: NameId,
    /// Who actually answered, when the wire says; else [`NO_NAME`].
    pub responder: NameId,
    pub operation: NameId,
    /// The request's receive time (orphans: their first reply's).
    pub start_nanos: u64,
    /// The final response, or when the timeout / cancel was decided; `None` while pending.
    pub end_nanos: Option<u64>,
    /// A response that came after the request had timed out.
    pub late_response_nanos: Option<u64>,
    /// Observed round trip, for answered requests.
    pub latency_micros: Option<u64>,
    pub partials: u32,
    /// The trace this one's request names as its parent on the wire (`parent_task_id`), or [`NO_TRACE`].
    pub wire_parent: u64,
}

impl TraceRecord {
    pub fn of(trace: &Trace, names: &mut Names) -> TraceRecord {
        let first_partial = trace.partials.iter().map(|p| p.received_at_nanos).min();
        let start_nanos = trace
            .request_at_nanos
            .or(first_partial)
            .or(trace.response_at_nanos)
            .unwrap_or(trace.last_activity_nanos);
        let end_nanos = match trace.outcome {
            Outcome::Pending => None,
            Outcome::Ok | Outcome::Error => trace.response_at_nanos.or(trace.closed_at_nanos),
            Outcome::Timeout | Outcome::Cancelled => {
                trace.closed_at_nanos.or(trace.response_at_nanos)
            }
            // An orphan spans the replies seen so far.
            Outcome::Orphan => Some(trace.response_at_nanos.unwrap_or(trace.last_activity_nanos)),
        }
        .map(|end| end.max(start_nanos));
        TraceRecord {
            trace_id: trace.trace_id,
            dialect: trace.dialect,
            outcome: trace.outcome,
            caller: trace.caller.as_ref().map_or(NO_NAME, |c| names.id_of(c)),
            callee: names.id_of(&trace.callee),
            responder: trace.responder.as_ref().map_or(NO_NAME, |r| names.id_of(r)),
            operation: names.id_of(&trace.operation),
            start_nanos,
            end_nanos,
            late_response_nanos: match trace.outcome {
                Outcome::Timeout => trace.response_at_nanos,
                _ => None,
            },
            latency_micros: trace.latency_micros(),
            partials: trace.partials.len() as u32,
            wire_parent: NO_TRACE,
        }
    }

    /// End for drawing and nesting: pending traces reach `now_nanos`.
    pub fn end_or(&self, now_nanos: u64) -> u64 {
        self.end_nanos.unwrap_or(now_nanos.max(self.start_nanos))
    }

    /// How long it took (or has taken so far, or until it timed out), in microseconds.
    pub fn elapsed_micros(&self, now_nanos: u64) -> u64 {
        self.latency_micros
            .unwrap_or_else(|| self.end_or(now_nanos).saturating_sub(self.start_nanos) / 1_000)
    }
}

/// What one [`RecordCache::sync_up_to`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    /// A record was added, changed or dropped.
    pub changed: bool,
    /// The mirror holds every trace the mesh does (else call again).
    pub complete: bool,
}

/// The mirror of the mesh's trace ring.
#[derive(Debug, Default)]
pub struct RecordCache {
    pub names: Names,
    /// Contiguous ids: `records[i].trace_id == first_id + i`.
    records: VecDeque<TraceRecord>,
    /// Ids whose trace may still change.
    open_ids: Vec<u64>,
    mesh_revision: Option<u64>,
    /// Bumps whenever a record was added, changed or dropped.
    version: u64,
    /// Task id -> the trace that carried it (to resolve `parent_task_id`).
    task_owner: FastMap<Box<str>, u64>,
    /// Bumps when the cache starts over (name ids are then new).
    generation: u64,
}

impl RecordCache {
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Bumps whenever the cache starts over and its name ids change meaning.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Records from this trace id on (all of them if it is older than the oldest kept).
    pub fn iter_from(&self, trace_id: u64) -> impl Iterator<Item = &TraceRecord> {
        let first = self.records.front().map_or(0, |r| r.trace_id);
        let index = usize::try_from(trace_id.saturating_sub(first))
            .unwrap_or(usize::MAX)
            .min(self.records.len());
        self.records.range(index..)
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &TraceRecord> + ExactSizeIterator {
        self.records.iter()
    }

    pub fn get(&self, trace_id: u64) -> Option<&TraceRecord> {
        let first = self.records.front()?.trace_id;
        let index = usize::try_from(trace_id.checked_sub(first)?).ok()?;
        self.records.get(index)
    }

    /// Brings the mirror up to date with `mesh` (request payloads come from `store`, for the
    /// parent links some dialects put on the wire); returns whether anything changed.
    pub fn sync(&mut self, mesh: &Mesh, store: &MessageStore) -> bool {
        self.sync_up_to(mesh, store, usize::MAX).changed
    }

    /// Like [`RecordCache::sync`], but mirrors at most `max_new` new traces (oldest first), so
    /// catching up with 100 000 traces (~12 ms) can be spread over frames.
    pub fn sync_up_to(&mut self, mesh: &Mesh, store: &MessageStore, max_new: usize) -> Synced {
        let revision = mesh.revision();
        if self.mesh_revision == Some(revision) {
            return Synced {
                changed: false,
                complete: true,
            };
        }
        self.mesh_revision = Some(revision);
        let before = self.version;
        if self.names.len() > MAX_NAMES {
            // Names of long-evicted traces pile up: start over from what the mesh holds now.
            let version = self.version + 1;
            let generation = self.generation + 1;
            *self = RecordCache {
                version,
                generation,
                mesh_revision: Some(revision),
                ..RecordCache::default()
            };
        }
        let Some(first_id) = mesh.traces().next().map(|t| t.trace_id) else {
            if !self.records.is_empty() {
                self.records.clear();
                self.open_ids.clear();
                self.version += 1;
            }
            return Synced {
                changed: self.version != before,
                complete: true,
            };
        };
        // Evicted from the ring (or a ring that restarted below us: start over).
        if self.records.front().is_some_and(|r| r.trace_id > first_id) {
            self.records.clear();
            self.open_ids.clear();
        }
        while self.records.front().is_some_and(|r| r.trace_id < first_id) {
            self.records.pop_front();
            self.version += 1;
        }
        // Open traces: re-read, keep open while they can still change.
        let observed_to = mesh.observed().to_nanos.unwrap_or(0);
        let keep_open_nanos = mesh.config().request_timeout_nanos.saturating_mul(2);
        let mut open = std::mem::take(&mut self.open_ids);
        open.retain(|&trace_id| {
            let Some(trace) = mesh.trace(trace_id) else {
                return false;
            };
            let mut record = TraceRecord::of(trace, &mut self.names);
            if let Some(slot) = self.slot_mut(trace_id) {
                record.wire_parent = slot.wire_parent;
                if *slot != record {
                    *slot = record;
                    self.version += 1;
                }
            }
            still_open(trace, observed_to, keep_open_nanos)
        });
        // New traces, oldest first.
        let next_id = self.records.back().map_or(first_id, |r| r.trace_id + 1);
        let end_id = mesh
            .traces()
            .next_back()
            .map_or(next_id, |t| t.trace_id + 1);
        let upto_id = end_id.min(next_id.saturating_add(max_new as u64));
        for trace in (next_id..upto_id).filter_map(|trace_id| mesh.trace(trace_id)) {
            let mut record = TraceRecord::of(trace, &mut self.names);
            record.wire_parent = self.wire_parent(trace, store);
            if let Some(task) = &trace.task_id {
                self.task_owner.insert(task.clone(), trace.trace_id);
            }
            self.records.push_back(record);
            if still_open(trace, observed_to, keep_open_nanos) {
                open.push(trace.trace_id);
            }
            self.version += 1;
        }
        let complete = upto_id >= end_id;
        if !complete {
            // Not caught up: the next call goes on even if the mesh has not changed.
            self.mesh_revision = None;
        }
        self.open_ids = open;
        if self.task_owner.len() > 2 * self.records.len() + 1_024 {
            self.task_owner.retain(|_, id| *id >= first_id);
        }
        Synced {
            changed: self.version != before,
            complete,
        }
    }

    /// The earlier trace this one's request names with `parent_task_id` (A2A dialects only:
    /// other dialects carry no parent link on the wire).
    fn wire_parent(&self, trace: &Trace, store: &MessageStore) -> u64 {
        if !matches!(trace.dialect, Dialect::MqttAgentA2a | Dialect::EmqxA2a)
            || self.task_owner.is_empty()
        {
            return NO_TRACE;
        }
        let Some(message) = trace.request_message_index.and_then(|seq| store.get(seq)) else {
            return NO_TRACE;
        };
        let payload = &message.raw.payload;
        if message.raw.received_at_nanos != trace.request_at_nanos.unwrap_or(0)
            || payload.len() > MAX_LINK_PAYLOAD_BYTES
            || !PARENT_TASK_FIELDS
                .iter()
                .any(|f| contains_bytes(payload, f.as_bytes()))
        {
            return NO_TRACE;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return NO_TRACE;
        };
        let Some(parent_task) = find_parent_task(&value, 0) else {
            return NO_TRACE;
        };
        match self.task_owner.get(parent_task) {
            Some(&id) if id < trace.trace_id && self.get(id).is_some() => id,
            _ => NO_TRACE,
        }
    }

    fn slot_mut(&mut self, trace_id: u64) -> Option<&mut TraceRecord> {
        let first = self.records.front()?.trace_id;
        let index = usize::try_from(trace_id.checked_sub(first)?).ok()?;
        self.records.get_mut(index)
    }
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `parent_task_id` at the top of a task payload, or one level down (`params`, `task`, ...).
fn find_parent_task(value: &serde_json::Value, depth: usize) -> Option<&str> {
    let object = value.as_object()?;
    for field in PARENT_TASK_FIELDS {
        if let Some(id) = object
            .get(field)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
        {
            return Some(id);
        }
    }
    if depth >= 2 {
        return None;
    }
    object.values().find_map(|v| find_parent_task(v, depth + 1))
}

/// Pending traces, orphans still collecting replies and recent timeouts (a late answer may come).
fn still_open(trace: &Trace, observed_to_nanos: u64, keep_open_nanos: u64) -> bool {
    match trace.outcome {
        Outcome::Pending => true,
        Outcome::Orphan => {
            trace.last_activity_nanos.saturating_add(keep_open_nanos) > observed_to_nanos
        }
        Outcome::Timeout => {
            trace.response_at_nanos.is_none()
                && trace
                    .closed_at_nanos
                    .unwrap_or(0)
                    .saturating_add(keep_open_nanos)
                    > observed_to_nanos
        }
        Outcome::Ok | Outcome::Error | Outcome::Cancelled => false,
    }
}

/// Hand-made records for the nesting and row tests.
#[cfg(test)]
pub(super) mod test_records {
    use super::{NO_NAME, NO_TRACE, NameId, TraceRecord};
    use crate::model::mesh::Outcome;
    use crate::protocol::Dialect;

    pub const MS: u64 = 1_000_000;
    pub const ORCH: NameId = 1;
    pub const PLANNER: NameId = 2;
    pub const ECHO: NameId = 3;
    pub const TOOL: NameId = 4;

    /// A record with names 0.. as given; `end_ms` None = pending.
    pub fn rec(
        trace_id: u64,
        caller: NameId,
        callee: NameId,
        start_ms: u64,
        end_ms: Option<u64>,
    ) -> TraceRecord {
        TraceRecord {
            trace_id,
            dialect: Dialect::EmqxA2a,
            outcome: if end_ms.is_some() {
                Outcome::Ok
            } else {
                Outcome::Pending
            },
            caller,
            callee,
            responder: NO_NAME,
            operation: 0,
            start_nanos: start_ms * MS,
            end_nanos: end_ms.map(|e| e * MS),
            late_response_nanos: None,
            latency_micros: end_ms.map(|e| (e - start_ms) * 1_000),
            partials: 0,
            wire_parent: NO_TRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MeshConfig, Model, ModelConfig};
    use crate::protocol::RawMessage;

    const MS: u64 = 1_000_000;
    const T0: u64 = 1_800_000_000_000_000_000;
    const SECOND_NANOS: u64 = 1_000_000_000;

    fn request(at_ms: u64, id: &str) -> RawMessage {
        let payload = format!(
            r#"{{"id":"{id}","source":"planner","target":"calc","method":"add","params":{{}},"timestamp":1}}"#
        );
        RawMessage::new(
            T0 + at_ms * MS,
            "openmas/calc/request/add",
            payload.into_bytes(),
        )
    }

    fn response(at_ms: u64, id: &str) -> RawMessage {
        let payload = format!(
            r#"{{"id":"{id}","source":"calc","target":"planner","result":3,"timestamp":2}}"#
        );
        RawMessage::new(
            T0 + at_ms * MS,
            &format!("openmas/planner/response/{id}"),
            payload.into_bytes(),
        )
    }

    fn model(max_traces: usize) -> Model {
        Model::new(ModelConfig {
            mesh: MeshConfig {
                max_traces,
                ..MeshConfig::default()
            },
            ..ModelConfig::default()
        })
    }

    #[test]
    fn sync_appends_updates_open_traces_and_drops_evicted_ones() {
        let mut model = model(3);
        let mut cache = RecordCache::default();
        model.apply_message(request(0, "a"));
        model.apply_message(request(10, "b"));
        assert!(cache.sync(&model.mesh, &model.store));
        assert!(
            !cache.sync(&model.mesh, &model.store),
            "same revision: nothing to do"
        );
        assert_eq!(cache.len(), 2);
        let a = *cache.iter().next().unwrap();
        assert_eq!(a.outcome, Outcome::Pending);
        assert_eq!(cache.names.get(a.caller), "planner");
        assert_eq!(cache.names.get(a.callee), "calc");
        assert_eq!(a.end_nanos, None);
        assert_eq!(a.end_or(T0 + 50 * MS), T0 + 50 * MS);
        assert_eq!(a.wire_parent, NO_TRACE, "OpenMAS carries no parent link");

        model.apply_message(response(25, "a"));
        assert!(cache.sync(&model.mesh, &model.store));
        let a = *cache.get(a.trace_id).unwrap();
        assert_eq!(
            a.outcome,
            Outcome::Ok,
            "a pending record is refreshed when its answer arrives"
        );
        assert_eq!(a.latency_micros, Some(25_000));
        assert_eq!(a.end_nanos, Some(T0 + 25 * MS));

        model.apply_message(request(30, "c"));
        model.apply_message(request(40, "d"));
        assert!(cache.sync(&model.mesh, &model.store));
        let ids: Vec<u64> = cache.iter().map(|r| r.trace_id).collect();
        let mesh_ids: Vec<u64> = model.mesh.traces().map(|t| t.trace_id).collect();
        assert_eq!(ids, mesh_ids, "the mirror follows the ring's evictions");
        assert!(cache.get(a.trace_id).is_none());
    }

    fn task(at_ms: u64, to: &str, json: &str) -> RawMessage {
        RawMessage::new(
            T0 + at_ms * MS,
            &format!("a2a/v1/tasks/{to}/inbox"),
            json.as_bytes().to_vec(),
        )
    }

    fn result(at_ms: u64, to: &str, json: &str) -> RawMessage {
        RawMessage::new(
            T0 + at_ms * MS,
            &format!("a2a/v1/tasks/{to}/results"),
            json.as_bytes().to_vec(),
        )
    }

    #[test]
    fn a_parent_task_id_on_the_wire_links_the_delegation() {
        let mut model = model(100);
        let mut cache = RecordCache::default();
        model.apply_message(task(
            0,
            "planner",
            r#"{"task_id":"p-1","from":"ops-desk","type":"plan","title":"plan"}"#,
        ));
        cache.sync(&model.mesh, &model.store);
        // The planner delegates; the sub-task finishes after the parent answered (fire and forget),
        // so timing alone would not nest it, and its caller name need not match anything.
        model.apply_message(task(
            10,
            "researcher",
            r#"{"task_id":"c-1","from":"someone-else","type":"research","title":"dig","parent_task_id":"p-1"}"#,
        ));
        model.apply_message(task(
            20,
            "writer",
            r#"{"task_id":"c-2","from":"planner","type":"write","parent_task_id":"unknown"}"#,
        ));
        model.apply_message(result(
            400,
            "ops-desk",
            r#"{"task_id":"p-1","status":"completed","result":"ok"}"#,
        ));
        model.apply_message(result(
            500,
            "planner",
            r#"{"task_id":"c-1","status":"completed","result":"ok"}"#,
        ));
        cache.sync(&model.mesh, &model.store);
        let ids: Vec<u64> = cache.iter().map(|r| r.trace_id).collect();
        assert_eq!(ids.len(), 3);
        let records: Vec<TraceRecord> = cache.iter().copied().collect();
        assert_eq!(
            records[1].wire_parent, records[0].trace_id,
            "parent_task_id names the planner's task"
        );
        assert_eq!(
            records[2].wire_parent, NO_TRACE,
            "an unknown parent task links nothing"
        );
        assert_eq!(
            records[1].outcome,
            Outcome::Ok,
            "refreshing keeps the link: {:?}",
            records[1]
        );

        let rows = super::super::rows::build_rows(
            &cache,
            &Default::default(),
            Default::default(),
            &Default::default(),
            &model.mesh,
            T0 + SECOND_NANOS,
        );
        assert_eq!(
            rows.parent_of(records[1].trace_id),
            Some(records[0].trace_id)
        );
        assert!(rows.parent_on_wire(records[1].trace_id));
    }
}
