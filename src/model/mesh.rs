//! The mesh model: decode → apply into presence, paired traces and latency stats. Pure: time is a parameter.
//!
//! Latency is always the receive time of the response minus that of the request (the observer's
//! one clock); a dialect's own figure (`elapsed_ms`) is kept beside it. Everything is bounded
//! (traces, partials, history, participants, stats rows, window samples) and evictions are counted.

pub mod hash;
pub mod presence;
pub mod stats;
pub mod traces;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::protocol::{
    self, Cancel, Dialect, Direction, Event, Finality, Notification, Observation, PairKey,
    ParticipantKind, Progress, RawMessage, Reply, ReplyOutcome, Request,
};

use hash::{FastMap, FastSet, FastState};
pub use presence::{Instance, Participant, PresenceEffect, PresenceTable, Transition};
pub use stats::{Completion, EdgeRow, LogHistogram, Percentiles, StatsRow};
pub use traces::{Outcome, PartialItem, Trace, TraceError};

use presence::PresenceTable as Presences;
use stats::{Sample, StatsTable};
use traces::{PairIndex, TraceRing};

const SECOND_NANOS: u64 = 1_000_000_000;

/// Limits and timeouts of the mesh model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshConfig {
    /// A request without a final response (or stream activity) for this long becomes a timeout.
    pub request_timeout_nanos: u64,
    /// Presence inferred from traffic goes stale after this much silence.
    pub stale_after_nanos: u64,
    /// Traces kept (oldest evicted first).
    pub max_traces: usize,
    pub max_partials_per_trace: usize,
    pub max_participants: usize,
    pub max_history_per_participant: usize,
    /// Distinct (dialect, callee, operation) rows; more fold into `(other)`.
    pub max_stats_rows: usize,
    pub max_edges: usize,
    /// The sliding window of the windowed percentiles.
    pub window_nanos: u64,
    /// Newest samples kept per stats row for the window.
    pub max_window_samples: usize,
    /// A repeated request/reply with the same key and payload inside this window is a QoS 1 redelivery.
    pub dedupe_window_nanos: u64,
    /// Distinct strings (ids, operations) shared between traces before the cache restarts.
    pub max_interned_strings: usize,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            request_timeout_nanos: 30 * SECOND_NANOS,
            stale_after_nanos: 60 * SECOND_NANOS,
            max_traces: 100_000,
            max_partials_per_trace: 256,
            max_participants: 10_000,
            max_history_per_participant: 64,
            max_stats_rows: 4_096,
            max_edges: 4_096,
            window_nanos: 60 * SECOND_NANOS,
            max_window_samples: 512,
            dedupe_window_nanos: 10 * SECOND_NANOS,
            max_interned_strings: 65_536,
        }
    }
}

/// What the raw view shows beside a stored message. Small: it is stored per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageTag {
    pub dialect: Dialect,
    /// A decode error, or what the model made of it ("orphan response", "duplicate (QoS 1 redelivery)", ...).
    pub note: Option<Box<str>>,
}

/// The span and volume of what was observed (the report's `observed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    pub from_nanos: Option<u64>,
    pub to_nanos: Option<u64>,
    pub messages: u64,
    /// Messages whose payload could not be (fully) decoded.
    pub undecoded: u64,
}

/// Counters for the status bar: nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshCounters {
    pub messages: u64,
    pub undecoded: u64,
    /// Messages per dialect, indexed like `Dialect::ALL`.
    pub per_dialect: [u64; 8],
    pub requests: u64,
    pub responses: u64,
    pub partials: u64,
    pub notifications: u64,
    pub orphans: u64,
    pub duplicates: u64,
    /// Requests that reused the pairing key of a request still waiting for its response.
    pub reused_keys: u64,
    pub timeouts: u64,
    pub late_responses: u64,
    pub traces_evicted: u64,
    /// Evicted while still waiting for a response.
    pub pending_evicted: u64,
    pub partials_dropped: u64,
    pub participants_dropped: u64,
    pub stats_overflowed: u64,
    pub retained_replays: u64,
}

impl MeshCounters {
    pub fn messages_of(&self, dialect: Dialect) -> u64 {
        self.per_dialect[dialect_slot(dialect)]
    }
}

/// A stats row with its percentiles computed for a given `now`.
#[derive(Debug, Clone)]
pub struct StatsView<'a> {
    pub row: &'a StatsRow,
    pub session: Percentiles,
    pub window: Percentiles,
    /// The window held more samples than are kept: its percentiles cover the newest ones.
    pub window_truncated: bool,
    pub first_partial: Percentiles,
}

#[derive(Debug)]
pub struct Mesh {
    config: MeshConfig,
    hasher: FastState,
    strings: FastSet<Arc<str>>,
    presence: Presences,
    ring: TraceRing,
    index: PairIndex,
    /// Requests without Correlation Data, by Response Topic, oldest first (weak pairing).
    weak: FastMap<Box<str>, VecDeque<u64>>,
    deadlines: BinaryHeap<Reverse<(u64, u64)>>,
    stats: StatsTable,
    counters: MeshCounters,
    observed: Observed,
    revision: u64,
    scratch: Vec<u8>,
    next_presence_check_nanos: u64,
    unknown: Arc<str>,
}

/// Per-message context.
struct Ctx<'r> {
    raw: &'r RawMessage,
    now: u64,
    message_index: u64,
    payload_hash: u64,
    note: Option<&'static str>,
    dialect: Dialect,
    /// A request reused the pairing key of a trace still pending: (that trace, its correlation).
    reused_key_of: Option<(u64, Box<str>)>,
}

/// The note of a message naming a participant the full presence table could not take.
const PARTICIPANTS_FULL: &str = "participant table full";

/// More user properties than this on one message is worth a note (MQTT sets no limit; real
/// peers send a handful).
pub const MANY_USER_PROPERTIES: usize = 256;

/// What is odd about a message on the wire itself, whatever its dialect: appended to `notes`.
fn wire_anomalies(raw: &RawMessage, notes: &mut Vec<String>) {
    let Some(props) = raw.properties.as_deref() else {
        return;
    };
    let count = props.user_properties.len();
    if count > MANY_USER_PROPERTIES {
        notes.push(format!("{count} user properties (unusually many)"));
    }
    // A sender that declares UTF-8 must send UTF-8 (MQTT 5 §3.3.2.3.2); brokers may not check.
    if props.payload_format_indicator == Some(1) && std::str::from_utf8(&raw.payload).is_err() {
        notes.push(
            "payload declared UTF-8 (Payload Format Indicator 1) but is not valid UTF-8".into(),
        );
    }
}

const MAX_WEAK_TOPICS: usize = 10_000;
const MAX_WEAK_PER_TOPIC: usize = 1_000;

fn dialect_slot(d: Dialect) -> usize {
    Dialect::ALL.iter().position(|x| *x == d).unwrap_or(7)
}

fn intern_in(set: &mut FastSet<Arc<str>>, cap: usize, s: &str) -> Arc<str> {
    if let Some(a) = set.get(s) {
        return a.clone();
    }
    if set.len() >= cap {
        // Bounded: strings stay alive in the traces that hold them; only sharing restarts.
        set.clear();
    }
    let a: Arc<str> = Arc::from(s);
    set.insert(a.clone());
    a
}

impl Mesh {
    pub fn new(config: MeshConfig) -> Mesh {
        Mesh {
            presence: Presences::new(
                config.max_participants,
                config.max_history_per_participant,
                config.stale_after_nanos,
            ),
            ring: TraceRing::new(config.max_traces),
            stats: StatsTable::new(
                config.max_stats_rows,
                config.max_edges,
                config.max_window_samples,
            ),
            hasher: FastState::default(),
            strings: FastSet::default(),
            index: PairIndex::default(),
            weak: FastMap::default(),
            deadlines: BinaryHeap::new(),
            counters: MeshCounters::default(),
            observed: Observed::default(),
            revision: 0,
            scratch: Vec::with_capacity(256),
            next_presence_check_nanos: 0,
            unknown: Arc::from("(unknown)"),
            config,
        }
    }

    pub fn config(&self) -> &MeshConfig {
        &self.config
    }

    /// Bumps on every change, so views can cache what they computed.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn counters(&self) -> &MeshCounters {
        &self.counters
    }

    pub fn observed(&self) -> Observed {
        self.observed
    }

    /// Decode and apply one message; returns what the raw view shows beside it.
    pub fn apply(&mut self, raw: &RawMessage) -> MessageTag {
        let now = raw.received_at_nanos;
        let message_index = self.counters.messages;
        self.counters.messages += 1;
        self.observed.messages += 1;
        self.observed.from_nanos = Some(self.observed.from_nanos.map_or(now, |t| t.min(now)));
        self.observed.to_nanos = Some(self.observed.to_nanos.map_or(now, |t| t.max(now)));
        self.revision = self.revision.wrapping_add(1);
        self.advance(now);
        // Notes beside the message, joined with "; ". Most messages have none: nothing is
        // allocated for them.
        let mut notes: Vec<String> = Vec::new();
        let dialect = match protocol::decode(raw) {
            Err(e) => {
                self.counters.undecoded += 1;
                self.observed.undecoded += 1;
                self.counters.per_dialect[dialect_slot(e.dialect)] += 1;
                notes.push(e.to_string());
                e.dialect
            }
            Ok(obs) => {
                let Observation {
                    dialect,
                    event,
                    issue,
                } = obs;
                let mut ctx = Ctx {
                    raw,
                    now,
                    message_index,
                    payload_hash: 0,
                    note: None,
                    dialect,
                    reused_key_of: None,
                };
                if !matches!(event, Event::Raw | Event::Presence(_)) {
                    ctx.payload_hash = self.hasher.hash_bytes(&raw.payload);
                }
                let refused_before = self.presence.dropped;
                self.apply_event(event, &mut ctx);
                self.counters.per_dialect[dialect_slot(ctx.dialect)] += 1;
                // A caller, callee or sender the full table could not take: counted and noted
                // (whichever path met the cap).
                let refused = self.presence.dropped - refused_before;
                self.counters.participants_dropped += refused;
                if let Some(e) = issue {
                    self.counters.undecoded += 1;
                    self.observed.undecoded += 1;
                    notes.push(e.to_string());
                }
                notes.extend(ctx.note.map(str::to_string));
                if refused > 0 && ctx.note != Some(PARTICIPANTS_FULL) {
                    notes.push(PARTICIPANTS_FULL.to_string());
                }
                if let Some((trace_id, correlation)) = ctx.reused_key_of {
                    notes.push(format!(
                        "correlation key `{correlation}` reused while trace #{trace_id} with \
                         the same key still waits for its response (replies pair with this request)"
                    ));
                }
                ctx.dialect
            }
        };
        wire_anomalies(raw, &mut notes);
        MessageTag {
            dialect,
            note: (!notes.is_empty()).then(|| notes.join("; ").into_boxed_str()),
        }
    }

    /// Advance time without a message (timeouts, stale presence). Called ~ every 250 ms live,
    /// and once at the end of a replay.
    pub fn tick(&mut self, now_nanos: u64) {
        let mut changed = self.expire_traces(now_nanos);
        changed |= self.presence.expire(now_nanos);
        self.next_presence_check_nanos = now_nanos.saturating_add(SECOND_NANOS);
        if changed {
            self.revision = self.revision.wrapping_add(1);
        }
    }

    fn advance(&mut self, now: u64) {
        self.expire_traces(now);
        if now >= self.next_presence_check_nanos {
            self.presence.expire(now);
            self.next_presence_check_nanos = now.saturating_add(SECOND_NANOS);
        }
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        intern_in(&mut self.strings, self.config.max_interned_strings, s)
    }

    fn apply_event(&mut self, event: Event<'_>, ctx: &mut Ctx<'_>) {
        match event {
            Event::Presence(p) => {
                let strings = &mut self.strings;
                let cap = self.config.max_interned_strings;
                let mut intern = |s: &str| intern_in(strings, cap, s);
                match self
                    .presence
                    .apply(ctx.dialect, &p, ctx.raw, ctx.now, &mut intern)
                {
                    PresenceEffect::RetainedReplay => {
                        self.counters.retained_replays += 1;
                        ctx.note = Some("retained replay (unchanged)");
                    }
                    // Counted in `apply` (the table counts every refusal).
                    PresenceEffect::Dropped => ctx.note = Some(PARTICIPANTS_FULL),
                    PresenceEffect::Changed | PresenceEffect::Unchanged => {}
                }
            }
            Event::Request(r) => self.on_request(r, ctx),
            Event::Reply(r) => self.on_reply(r, ctx),
            Event::Progress(p) => self.on_progress(p, ctx),
            Event::Cancel(c) => self.on_cancel(c, ctx),
            Event::Notification(n) => self.on_notification(n, ctx),
            Event::Batch(events) => {
                for e in events {
                    self.apply_event(e, ctx);
                }
            }
            Event::Raw => self.on_raw(ctx),
        }
    }

    /// Key bytes into the scratch buffer; returns (hash, correlation offset).
    fn key_hash(&mut self, key: &PairKey<'_>) -> u64 {
        self.scratch.clear();
        key.write(&mut self.scratch);
        self.hasher.hash_bytes(&self.scratch)
    }

    fn lookup(&mut self, key: &PairKey<'_>) -> Option<u64> {
        let h = self.key_hash(key);
        self.index.get(&self.scratch, h, &self.ring)
    }

    /// A reply's trace: unknown EMQX-MCP directions try both (pending first).
    fn find(&mut self, key: &PairKey<'_>) -> Option<u64> {
        if let PairKey::Session {
            direction: None, ..
        } = key
        {
            let a = self.lookup(&key.with_direction(Direction::ClientToServer));
            let b = self.lookup(&key.with_direction(Direction::ServerToClient));
            let pending = |id: &u64| self.ring.get(*id).is_some_and(Trace::is_pending);
            return match (a, b) {
                (Some(x), _) if pending(&x) => Some(x),
                (_, Some(y)) if pending(&y) => Some(y),
                (x, y) => x.or(y),
            };
        }
        self.lookup(key)
    }

    fn within_dedupe(&self, earlier: Option<u64>, ctx: &Ctx<'_>) -> bool {
        ctx.raw.dup
            || earlier.is_some_and(|t| ctx.now.saturating_sub(t) <= self.config.dedupe_window_nanos)
    }

    fn on_request(&mut self, req: Request<'_>, ctx: &mut Ctx<'_>) {
        let weak_topic = match &req.key {
            Some(PairKey::ReplyAddress {
                topic,
                correlation: None,
            }) => Some(topic.clone()),
            _ => None,
        };
        let mut key_bytes = None;
        let mut key_hash = 0;
        let mut correlation = String::new();
        let mut reused_key_of = None;
        if let Some(key) = &req.key {
            if weak_topic.is_none() {
                key_hash = self.key_hash(key);
                if let Some(id) = self.index.get(&self.scratch, key_hash, &self.ring) {
                    let t = self
                        .ring
                        .get(id)
                        .map(|t| (t.request_at_nanos, t.request_hash, t.is_pending()));
                    if let Some((Some(at), hash, pending)) = t
                        && hash == ctx.payload_hash
                        && (pending || self.within_dedupe(Some(at), ctx))
                    {
                        if let Some(t) = self.ring.get_mut(id) {
                            t.duplicates = t.duplicates.saturating_add(1);
                        }
                        self.counters.duplicates += 1;
                        ctx.note = Some("duplicate (QoS 1 redelivery)");
                        return;
                    }
                    // Not a redelivery (the payload differs): another request with the same
                    // key while the first still waits. The newer one takes the key.
                    if let Some((_, _, true)) = t {
                        reused_key_of = Some(id);
                    }
                }
                key_bytes = Some(Box::<[u8]>::from(&self.scratch[..]));
            }
            correlation = key.correlation_display();
        }
        if let Some(id) = reused_key_of {
            self.counters.reused_keys += 1;
            ctx.reused_key_of = Some((id, correlation.as_str().into()));
        }
        self.counters.requests += 1;
        let progress_key = req
            .progress_token
            .as_ref()
            .and_then(|token| match &req.key {
                Some(PairKey::Session {
                    client_id,
                    server_id,
                    server_name,
                    ..
                }) => {
                    let pk = PairKey::ProgressToken {
                        client_id: client_id.clone(),
                        server_id: server_id.clone(),
                        server_name: server_name.clone(),
                        token: token.clone(),
                    };
                    let h = self.key_hash(&pk);
                    Some((Box::<[u8]>::from(&self.scratch[..]), h))
                }
                _ => None,
            });
        let caller = req.caller.as_deref().map(|c| self.intern(c));
        let callee = self.intern(&req.callee);
        let operation = self.intern(&req.operation);
        let trace = Trace {
            trace_id: 0,
            dialect: ctx.dialect,
            outcome: Outcome::Pending,
            caller: caller.clone(),
            callee: callee.clone(),
            callee_kind: req.callee_kind,
            operation,
            responder: None,
            correlation: correlation.into_boxed_str(),
            task_id: req.task_id.as_deref().map(Box::from),
            request_at_nanos: Some(ctx.now),
            response_at_nanos: None,
            closed_at_nanos: None,
            last_activity_nanos: ctx.now,
            request_message_index: Some(ctx.message_index),
            response_message_index: None,
            partials: Vec::new(),
            partials_dropped: 0,
            error: None,
            server_elapsed_micros: None,
            request_sent_at_millis: req.sent_at_millis,
            response_sent_at_millis: None,
            weak: weak_topic.is_some(),
            streaming: req.streaming,
            duplicates: 0,
            extra_responses: 0,
            key: key_bytes,
            key_hash,
            progress_key,
            request_hash: ctx.payload_hash,
            response_hash: 0,
        };
        let id = self.push_trace(trace);
        self.deadlines.push(Reverse((
            ctx.now.saturating_add(self.config.request_timeout_nanos),
            id,
        )));
        self.compact_deadlines();
        if let Some(topic) = weak_topic
            && (self.weak.len() < MAX_WEAK_TOPICS || self.weak.contains_key(&*topic))
        {
            let q = self.weak.entry(Box::from(&*topic)).or_default();
            if q.len() >= MAX_WEAK_PER_TOPIC {
                q.pop_front();
            }
            q.push_back(id);
        }
        // Presence: the caller is alive; the callee is known to exist.
        let strings = &mut self.strings;
        let cap = self.config.max_interned_strings;
        let mut intern = |s: &str| intern_in(strings, cap, s);
        if let Some(c) = &caller
            && let Some(i) =
                self.presence
                    .touch(ctx.dialect, req.caller_kind, c, ctx.now, &mut intern)
        {
            self.presence.participant_mut(i).requests_sent += 1;
        }
        if let Some(kind) = req.callee_kind
            && let Some(i) = self
                .presence
                .mention(ctx.dialect, kind, &callee, ctx.now, &mut intern)
        {
            self.presence.participant_mut(i).requests_received += 1;
        }
    }

    fn push_trace(&mut self, trace: Trace) -> u64 {
        let id = self.ring.next_id();
        let key = trace.key.clone().map(|k| (k, trace.key_hash));
        let progress = trace.progress_key.clone();
        if let Some(evicted) = self.ring.push(trace) {
            self.counters.traces_evicted += 1;
            if evicted.is_pending() {
                self.counters.pending_evicted += 1;
            }
            if let Some(k) = &evicted.key {
                self.index.remove(k, evicted.key_hash, evicted.trace_id);
            }
            if let Some((k, h)) = &evicted.progress_key {
                self.index.remove(k, *h, evicted.trace_id);
            }
        }
        if let Some((k, h)) = key {
            self.index.insert(&k, h, id, &self.ring);
        }
        if let Some((k, h)) = progress {
            self.index.insert(&k, h, id, &self.ring);
        }
        id
    }

    /// Deadlines of evicted or finished traces linger in the heap: rebuild it when it outgrows the ring.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() <= 2 * self.config.max_traces.max(1024) {
            return;
        }
        let timeout = self.config.request_timeout_nanos;
        self.deadlines = self
            .ring
            .iter()
            .filter(|t| t.is_pending())
            .map(|t| Reverse((t.last_activity_nanos.saturating_add(timeout), t.trace_id)))
            .collect();
    }

    fn on_reply(&mut self, reply: Reply<'_>, ctx: &mut Ctx<'_>) {
        let mut found = match &reply.key {
            Some(k) => self.find(k),
            None => None,
        };
        if found.is_none()
            && let Some(k) = &reply.fallback_key
        {
            found = self.find(k);
        }
        if found.is_none() && reply.initialize_result {
            // An initialize sent without the client id property: same server, same id, any client.
            if let Some(PairKey::Session {
                server_id,
                server_name,
                rpc_id,
                ..
            }) = &reply.key
            {
                let k = PairKey::Session {
                    client_id: "".into(),
                    server_id: server_id.clone(),
                    server_name: server_name.clone(),
                    direction: Some(Direction::ClientToServer),
                    rpc_id: rpc_id.clone(),
                };
                found = self.find(&k);
            }
        }
        // A generic reply on a Response Topic recorded for another dialect's request is that dialect's reply.
        if let Some(id) = found {
            let trace_dialect = self.ring.get(id).map(|t| t.dialect);
            if let Some(d) =
                trace_dialect.filter(|d| *d != ctx.dialect && ctx.dialect == Dialect::Mqtt5Rpc)
            {
                if let Some(Observation {
                    event: Event::Reply(r),
                    dialect,
                    ..
                }) = protocol::decode_reply_as(d, ctx.raw)
                {
                    ctx.dialect = dialect;
                    return self.apply_reply_to(id, r, ctx);
                }
                ctx.dialect = d;
            }
            return self.apply_reply_to(id, reply, ctx);
        }
        // A reply address without a matching correlation: a request that carried none may be waiting on that topic.
        if found.is_none()
            && matches!(reply.key, Some(PairKey::ReplyAddress { .. }))
            && let Some(id) = self.weak_candidate(ctx)
        {
            let trace_dialect = self.ring.get(id).map_or(ctx.dialect, |t| t.dialect);
            ctx.dialect = trace_dialect;
            return self.apply_reply_to(id, reply, ctx);
        }
        self.new_orphan(reply, ctx);
    }

    fn weak_candidate(&mut self, ctx: &Ctx<'_>) -> Option<u64> {
        if self.weak.is_empty() {
            return None;
        }
        let topic = ctx.raw.topic_str()?;
        let queue = self.weak.get_mut(topic)?;
        while let Some(&id) = queue.front() {
            if self.ring.get(id).is_some_and(Trace::is_pending) {
                queue.pop_front();
                if queue.is_empty() {
                    self.weak.remove(topic);
                }
                return Some(id);
            }
            queue.pop_front();
        }
        self.weak.remove(topic);
        None
    }

    fn on_raw(&mut self, ctx: &mut Ctx<'_>) {
        if self.weak.is_empty() {
            return;
        }
        if let Some(id) = self.weak_candidate(ctx) {
            ctx.payload_hash = self.hasher.hash_bytes(&ctx.raw.payload);
            ctx.dialect = self.ring.get(id).map_or(Dialect::Mqtt5Rpc, |t| t.dialect);
            let reply = Reply::new(None, Finality::Final, ReplyOutcome::Ok, "result");
            self.apply_reply_to(id, reply, ctx);
            ctx.note = Some("weak pairing (no Correlation Data)");
        }
    }

    fn apply_reply_to(&mut self, id: u64, reply: Reply<'_>, ctx: &mut Ctx<'_>) {
        let responder = reply.responder.as_deref().map(|r| self.intern(r));
        let window = self.config.dedupe_window_nanos;
        let max_partials = self.config.max_partials_per_trace;
        let Some(t) = self.ring.get_mut(id) else {
            return;
        };
        let is_partial = match reply.finality {
            Finality::Partial => true,
            Finality::FinalUnlessStreaming => t.streaming,
            Finality::Final => false,
        };
        if let Some(task) = &reply.task_id
            && t.task_id.is_none()
        {
            t.task_id = Some(Box::from(&**task));
        }
        if responder.is_some() {
            t.responder = responder;
        }
        if is_partial {
            let earlier = t
                .partials
                .iter()
                .find(|p| p.payload_hash == ctx.payload_hash)
                .map(|p| p.received_at_nanos);
            if let Some(at) = earlier
                && (ctx.raw.dup || ctx.now.saturating_sub(at) <= window)
            {
                t.duplicates = t.duplicates.saturating_add(1);
                self.counters.duplicates += 1;
                ctx.note = Some("duplicate (QoS 1 redelivery)");
                return;
            }
            self.counters.partials += 1;
            if t.partials.len() < max_partials {
                t.partials.push(PartialItem {
                    received_at_nanos: ctx.now,
                    label: reply.label,
                    stream_seq: reply.stream_seq,
                    message_index: ctx.message_index,
                    payload_hash: ctx.payload_hash,
                });
            } else {
                t.partials_dropped = t.partials_dropped.saturating_add(1);
                self.counters.partials_dropped += 1;
            }
            match t.outcome {
                Outcome::Pending | Outcome::Orphan => t.last_activity_nanos = ctx.now,
                Outcome::Timeout => ctx.note = Some("late stream item (request timed out)"),
                _ => ctx.note = Some("stream item after the final response"),
            }
            return;
        }
        // A final response.
        match t.outcome {
            Outcome::Pending => {}
            Outcome::Orphan if t.response_at_nanos.is_none() => {
                t.response_at_nanos = Some(ctx.now);
                t.response_message_index = Some(ctx.message_index);
                t.response_hash = ctx.payload_hash;
                t.error = error_of(&reply.outcome);
                t.last_activity_nanos = ctx.now;
                self.counters.responses += 1;
                ctx.note = Some("orphan response (request not seen)");
                return;
            }
            Outcome::Timeout if t.response_at_nanos.is_none() => {
                t.response_at_nanos = Some(ctx.now);
                t.response_message_index = Some(ctx.message_index);
                t.response_hash = ctx.payload_hash;
                self.counters.late_responses += 1;
                ctx.note = Some("late response (request timed out)");
                return;
            }
            _ => {
                if t.response_hash == ctx.payload_hash
                    && (ctx.raw.dup
                        || t.response_at_nanos
                            .is_some_and(|at| ctx.now.saturating_sub(at) <= window))
                {
                    t.duplicates = t.duplicates.saturating_add(1);
                    self.counters.duplicates += 1;
                    ctx.note = Some("duplicate (QoS 1 redelivery)");
                } else {
                    t.extra_responses = t.extra_responses.saturating_add(1);
                    ctx.note = Some("extra response (request already answered)");
                }
                return;
            }
        }
        self.counters.responses += 1;
        t.outcome = match reply.outcome {
            ReplyOutcome::Ok => Outcome::Ok,
            ReplyOutcome::Error(_) => Outcome::Error,
        };
        t.error = error_of(&reply.outcome);
        t.response_at_nanos = Some(ctx.now);
        t.response_message_index = Some(ctx.message_index);
        t.response_hash = ctx.payload_hash;
        t.last_activity_nanos = ctx.now;
        t.server_elapsed_micros = reply.server_elapsed_micros.or(t.server_elapsed_micros);
        t.response_sent_at_millis = reply.sent_at_millis;
        if reply.label == "result" && t.weak && reply.key.is_none() {
            ctx.note = Some("weak pairing (no Correlation Data)");
        }
        let completion = if t.outcome == Outcome::Ok {
            Completion::Ok
        } else {
            Completion::Error
        };
        let sample_at = ctx.now;
        let (dialect, caller, callee, operation, callee_kind, responder) = (
            t.dialect,
            t.caller.clone(),
            t.callee.clone(),
            t.operation.clone(),
            t.callee_kind,
            t.responder.clone(),
        );
        let latency = t.latency_micros();
        let first_partial = t.first_partial_micros();
        self.stats.record(Sample {
            dialect,
            caller: caller.as_ref(),
            callee: &callee,
            operation: &operation,
            completion,
            at_nanos: sample_at,
            latency_micros: latency,
            first_partial_micros: first_partial,
        });
        self.counters.stats_overflowed = self.stats.overflowed;
        // The answer proves the responder alive.
        self.touch_responder(dialect, callee_kind, &callee, responder.as_ref(), ctx.now);
        if !reply.tools.is_empty() {
            let strings = &mut self.strings;
            let cap = self.config.max_interned_strings;
            let mut intern = |s: &str| intern_in(strings, cap, s);
            for tool in &reply.tools {
                let tool_id = format!("{callee}:{}", tool.name);
                self.presence.apply_listed_tool(
                    dialect,
                    &tool_id,
                    &callee,
                    tool.card.clone(),
                    ctx.now,
                    &mut intern,
                );
            }
        }
    }

    fn touch_responder(
        &mut self,
        dialect: Dialect,
        callee_kind: Option<ParticipantKind>,
        callee: &Arc<str>,
        responder: Option<&Arc<str>>,
        now: u64,
    ) {
        let strings = &mut self.strings;
        let cap = self.config.max_interned_strings;
        let mut intern = |s: &str| intern_in(strings, cap, s);
        let Some(kind) = callee_kind else { return };
        let who = match responder {
            Some(r) if kind == ParticipantKind::Agent => r,
            _ => callee,
        };
        let Some(i) = self.presence.touch(dialect, kind, who, now, &mut intern) else {
            return;
        };
        // An MQTT.Agent tool answered: its server is alive too.
        if kind == ParticipantKind::Tool {
            let server = self.presence.participant_mut(i).server_id.clone();
            if let Some(server) = server {
                self.presence.touch(
                    dialect,
                    ParticipantKind::McpServer,
                    &server,
                    now,
                    &mut intern,
                );
            }
        }
    }

    fn new_orphan(&mut self, reply: Reply<'_>, ctx: &mut Ctx<'_>) {
        self.counters.orphans += 1;
        let (key_bytes, key_hash, correlation) = match &reply.key {
            Some(k) => {
                let k = match k {
                    PairKey::Session {
                        direction: None, ..
                    } => k.with_direction(Direction::ClientToServer),
                    _ => k.clone(),
                };
                let h = self.key_hash(&k);
                (
                    Some(Box::<[u8]>::from(&self.scratch[..])),
                    h,
                    k.correlation_display(),
                )
            }
            None => (None, 0, String::new()),
        };
        let responder = reply.responder.as_deref().map(|r| self.intern(r));
        let callee = responder.clone().unwrap_or_else(|| self.unknown.clone());
        let trace = Trace {
            trace_id: 0,
            dialect: ctx.dialect,
            outcome: Outcome::Orphan,
            caller: None,
            callee,
            callee_kind: None,
            operation: self.unknown.clone(),
            responder,
            correlation: correlation.into_boxed_str(),
            task_id: reply.task_id.as_deref().map(Box::from),
            request_at_nanos: None,
            response_at_nanos: None,
            closed_at_nanos: None,
            last_activity_nanos: ctx.now,
            request_message_index: None,
            response_message_index: None,
            partials: Vec::new(),
            partials_dropped: 0,
            error: None,
            server_elapsed_micros: reply.server_elapsed_micros,
            request_sent_at_millis: None,
            response_sent_at_millis: reply.sent_at_millis,
            weak: false,
            streaming: false,
            duplicates: 0,
            extra_responses: 0,
            key: key_bytes,
            key_hash,
            progress_key: None,
            request_hash: 0,
            response_hash: 0,
        };
        let id = self.push_trace(trace);
        // Later replies with the same key group under this orphan.
        self.apply_reply_to(id, reply, ctx);
        ctx.note = Some("orphan response (request not seen)");
    }

    fn on_progress(&mut self, p: Progress<'_>, ctx: &mut Ctx<'_>) {
        match self.lookup(&p.key) {
            Some(id) => {
                let reply = Reply::new(None, Finality::Partial, ReplyOutcome::Ok, "progress");
                self.apply_reply_to(id, reply, ctx);
            }
            None => ctx.note = Some("progress for an unknown request"),
        }
    }

    fn on_cancel(&mut self, c: Cancel<'_>, ctx: &mut Ctx<'_>) {
        let Some(id) = self.find(&c.key) else {
            ctx.note = Some("cancel for an unknown request");
            return;
        };
        let Some(t) = self.ring.get_mut(id) else {
            return;
        };
        if !t.is_pending() {
            return;
        }
        t.outcome = Outcome::Cancelled;
        t.closed_at_nanos = Some(ctx.now);
        t.last_activity_nanos = ctx.now;
        if let Some(reason) = &c.reason {
            t.error = Some(Box::new(TraceError {
                class: "cancelled".into(),
                code: None,
                message: Some(Box::from(&**reason)),
            }));
        }
        let (dialect, caller, callee, operation, first_partial) = (
            t.dialect,
            t.caller.clone(),
            t.callee.clone(),
            t.operation.clone(),
            t.first_partial_micros(),
        );
        self.stats.record(Sample {
            dialect,
            caller: caller.as_ref(),
            callee: &callee,
            operation: &operation,
            completion: Completion::Cancelled,
            at_nanos: ctx.now,
            latency_micros: None,
            first_partial_micros: first_partial,
        });
    }

    fn on_notification(&mut self, n: Notification<'_>, ctx: &mut Ctx<'_>) {
        self.counters.notifications += 1;
        if let Some(sender) = &n.sender {
            let strings = &mut self.strings;
            let cap = self.config.max_interned_strings;
            let mut intern = |s: &str| intern_in(strings, cap, s);
            self.presence
                .touch(ctx.dialect, n.sender_kind, sender, ctx.now, &mut intern);
        }
    }

    /// Requests without a final response (or stream activity) for the timeout become timeouts,
    /// stamped when the timeout elapsed (not when this ran).
    fn expire_traces(&mut self, now: u64) -> bool {
        let timeout = self.config.request_timeout_nanos;
        let mut changed = false;
        while let Some(&Reverse((deadline, id))) = self.deadlines.peek() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let Some(t) = self.ring.get_mut(id) else {
                continue;
            };
            if !t.is_pending() {
                continue;
            }
            let due = t.last_activity_nanos.saturating_add(timeout);
            if due > now {
                self.deadlines.push(Reverse((due, id)));
                continue;
            }
            t.outcome = Outcome::Timeout;
            t.closed_at_nanos = Some(due);
            self.counters.timeouts += 1;
            changed = true;
            let (dialect, caller, callee, operation, first_partial) = (
                t.dialect,
                t.caller.clone(),
                t.callee.clone(),
                t.operation.clone(),
                t.first_partial_micros(),
            );
            self.stats.record(Sample {
                dialect,
                caller: caller.as_ref(),
                callee: &callee,
                operation: &operation,
                completion: Completion::Timeout,
                at_nanos: due,
                latency_micros: None,
                first_partial_micros: first_partial,
            });
        }
        changed
    }

    // ---- read accessors (sorted, deterministic) ----

    /// Participants sorted by kind, dialect, id.
    pub fn participants(&self) -> Vec<&Participant> {
        self.presence.sorted()
    }

    pub fn participant(
        &self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
    ) -> Option<&Participant> {
        self.presence.find(dialect, kind, participant_id)
    }

    pub fn participant_count(&self) -> usize {
        self.presence.len()
    }

    /// Traces in first-sight order (requests in arrival order; orphans where their first reply arrived).
    pub fn traces(&self) -> impl DoubleEndedIterator<Item = &Trace> + ExactSizeIterator {
        self.ring.iter()
    }

    pub fn trace(&self, trace_id: u64) -> Option<&Trace> {
        self.ring.get(trace_id)
    }

    pub fn trace_count(&self) -> usize {
        self.ring.len()
    }

    pub fn pending_count(&self) -> usize {
        self.ring.iter().filter(|t| t.is_pending()).count()
    }

    /// Stats rows with session, window (ending at `now_nanos`) and first-partial percentiles,
    /// sorted by dialect, callee, operation.
    pub fn stats(&self, now_nanos: u64) -> Vec<StatsView<'_>> {
        let mut rows: Vec<StatsView<'_>> = self
            .stats
            .rows()
            .iter()
            .map(|row| {
                let (window, window_truncated) = row.window.percentiles(
                    now_nanos,
                    self.config.window_nanos,
                    self.config.max_window_samples,
                );
                StatsView {
                    row,
                    session: row.latency.percentiles(),
                    window,
                    window_truncated,
                    first_partial: row.first_partial.percentiles(),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.row.dialect, &a.row.callee, &a.row.operation).cmp(&(
                b.row.dialect,
                &b.row.callee,
                &b.row.operation,
            ))
        });
        rows
    }

    /// Call-graph edges (caller → callee), sorted by dialect, caller, callee.
    /// One caller → callee edge of a dialect, without sorting them all.
    pub fn edge(&self, dialect: Dialect, caller: &str, callee: &str) -> Option<&EdgeRow> {
        self.stats
            .edges()
            .iter()
            .find(|r| r.dialect == dialect && &*r.caller == caller && &*r.callee == callee)
    }

    pub fn edges(&self) -> Vec<&EdgeRow> {
        let mut edges: Vec<&EdgeRow> = self.stats.edges().iter().collect();
        edges.sort_by(|a, b| {
            (a.dialect, &a.caller, &a.callee).cmp(&(b.dialect, &b.caller, &b.callee))
        });
        edges
    }
}

fn error_of(outcome: &ReplyOutcome<'_>) -> Option<Box<TraceError>> {
    match outcome {
        ReplyOutcome::Ok => None,
        ReplyOutcome::Error(e) => Some(Box::new(TraceError {
            class: Box::from(&*e.class),
            code: e.code.as_deref().map(Box::from),
            message: e.message.as_deref().map(Box::from),
        })),
    }
}

#[cfg(test)]
mod tests;
