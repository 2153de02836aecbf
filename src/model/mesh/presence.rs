//! Presence: agents, MCP servers, tools and clients with status, its source, last seen and transition history.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::{Dialect, ParticipantKind, Presence, RawMessage, Status, StatusSource};

use super::hash::FastMap;

/// One status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub at_nanos: u64,
    pub status: Status,
    pub source: StatusSource,
}

/// An EMQX-MCP server instance (server-id) behind one service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: Box<str>,
    pub online: bool,
    pub since_nanos: u64,
    presence_signature: u64,
}

#[derive(Debug, Clone)]
pub struct Participant {
    pub dialect: Dialect,
    pub kind: ParticipantKind,
    pub participant_id: Arc<str>,
    pub display_name: Option<Box<str>>,
    /// What views show: for tools, gated by the owning server's status.
    pub status: Status,
    pub status_source: StatusSource,
    pub status_since_nanos: u64,
    /// Last time it was heard from alive (its own traffic, or a live online card/status).
    pub last_seen_nanos: Option<u64>,
    pub first_seen_nanos: u64,
    /// The card as received (raw JSON bytes; parse on demand).
    pub card: Option<Arc<[u8]>>,
    /// A tool's owning server.
    pub server_id: Option<Arc<str>>,
    pub instances: Vec<Instance>,
    /// Status transitions, oldest first (bounded; `history_dropped` counts the rest).
    pub history: VecDeque<Transition>,
    pub history_dropped: u32,
    /// A legacy A2A heartbeat card with Message Expiry: stale after this.
    pub expires_at_nanos: Option<u64>,
    /// Requests this participant sent / received (as caller / callee).
    pub requests_sent: u64,
    pub requests_received: u64,
    /// The status the participant itself asserted (a tool's own card), before gating.
    own_status: Status,
    own_source: StatusSource,
    /// Hash of the last presence message (payload and status properties): tells a retained replay from a change.
    presence_signature: u64,
}

impl Participant {
    pub fn card_text(&self) -> Option<&str> {
        self.card
            .as_deref()
            .and_then(|c| std::str::from_utf8(c).ok())
    }

    /// Sort order for views: kind, dialect, id.
    pub fn sort_key(&self) -> (ParticipantKind, Dialect, &str) {
        (self.kind, self.dialect, &self.participant_id)
    }
}

/// Agents and clients share one identity space (an agent may also call others); servers and tools have their own.
fn group(kind: ParticipantKind) -> u8 {
    match kind {
        ParticipantKind::Agent | ParticipantKind::Client => 0,
        ParticipantKind::McpServer => 1,
        ParticipantKind::Tool => 2,
    }
}

#[derive(Debug, Default)]
pub struct PresenceTable {
    participants: Vec<Participant>,
    by_id: FastMap<Arc<str>, Vec<u32>>,
    pub max_participants: usize,
    pub max_history: usize,
    pub stale_after_nanos: u64,
    /// New participants refused because the table was full.
    pub dropped: u64,
    /// Retained messages that repeated what we already knew (reconnect replays).
    pub replays: u64,
}

/// What applying a presence message did, for the raw view's note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceEffect {
    Changed,
    Unchanged,
    RetainedReplay,
    Dropped,
}

impl PresenceTable {
    pub fn new(max_participants: usize, max_history: usize, stale_after_nanos: u64) -> Self {
        PresenceTable {
            max_participants,
            max_history,
            stale_after_nanos,
            ..PresenceTable::default()
        }
    }

    pub fn all(&self) -> &[Participant] {
        &self.participants
    }

    pub fn len(&self) -> usize {
        self.participants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub fn find(
        &self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
    ) -> Option<&Participant> {
        self.find_index(dialect, kind, participant_id)
            .map(|i| &self.participants[i])
    }

    fn find_index(
        &self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
    ) -> Option<usize> {
        let g = group(kind);
        self.by_id
            .get(participant_id)?
            .iter()
            .map(|&i| i as usize)
            .find(|&i| {
                self.participants[i].dialect == dialect && group(self.participants[i].kind) == g
            })
    }

    /// Finds or creates; an agent card upgrades a participant first seen as a client.
    fn ensure(
        &mut self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
        intern: impl FnOnce(&str) -> Arc<str>,
        now: u64,
    ) -> Option<usize> {
        if let Some(i) = self.find_index(dialect, kind, participant_id) {
            let p = &mut self.participants[i];
            if p.kind == ParticipantKind::Client && kind == ParticipantKind::Agent {
                p.kind = ParticipantKind::Agent;
            }
            return Some(i);
        }
        if self.participants.len() >= self.max_participants {
            self.dropped += 1;
            return None;
        }
        let id = intern(participant_id);
        self.participants.push(Participant {
            dialect,
            kind,
            participant_id: id.clone(),
            display_name: None,
            status: Status::Unknown,
            status_source: StatusSource::Traffic,
            status_since_nanos: now,
            last_seen_nanos: None,
            first_seen_nanos: now,
            card: None,
            server_id: None,
            instances: Vec::new(),
            history: VecDeque::new(),
            history_dropped: 0,
            expires_at_nanos: None,
            requests_sent: 0,
            requests_received: 0,
            own_status: Status::Unknown,
            own_source: StatusSource::Traffic,
            presence_signature: 0,
        });
        let idx = self.participants.len() - 1;
        self.by_id.entry(id).or_default().push(idx as u32);
        Some(idx)
    }

    fn set_status(
        &mut self,
        i: usize,
        status: Status,
        source: StatusSource,
        at_nanos: u64,
    ) -> bool {
        let max_history = self.max_history;
        let p = &mut self.participants[i];
        if p.status == status && p.status_source == source {
            return false;
        }
        let status_changed = p.status != status;
        p.status = status;
        p.status_source = source;
        if status_changed {
            p.status_since_nanos = at_nanos;
            if max_history > 0 {
                if p.history.len() >= max_history {
                    p.history.pop_front();
                    p.history_dropped = p.history_dropped.saturating_add(1);
                }
                p.history.push_back(Transition {
                    at_nanos,
                    status,
                    source,
                });
            }
        }
        true
    }

    /// A tool is live only if its own card says so and its server is not offline (MQTT.Agent:
    /// a crashed server's tool cards stay retained as `online`).
    fn gated(&self, i: usize) -> (Status, StatusSource) {
        let p = &self.participants[i];
        if p.kind != ParticipantKind::Tool || p.own_status != Status::Online {
            return (p.own_status, p.own_source);
        }
        let Some(server_id) = &p.server_id else {
            return (p.own_status, p.own_source);
        };
        match self.find(p.dialect, ParticipantKind::McpServer, server_id) {
            Some(server) if matches!(server.status, Status::Offline | Status::Stale) => {
                (server.status, server.status_source)
            }
            _ => (p.own_status, p.own_source),
        }
    }

    fn refresh_tools_of(&mut self, server: usize, at_nanos: u64) {
        let dialect = self.participants[server].dialect;
        let server_id = self.participants[server].participant_id.clone();
        let tools: Vec<usize> = (0..self.participants.len())
            .filter(|&i| {
                let p = &self.participants[i];
                p.kind == ParticipantKind::Tool
                    && p.dialect == dialect
                    && p.server_id.as_deref() == Some(&*server_id)
            })
            .collect();
        for t in tools {
            let (status, source) = self.gated(t);
            self.set_status(t, status, source, at_nanos);
        }
    }

    /// Apply a presence message.
    pub fn apply(
        &mut self,
        dialect: Dialect,
        p: &Presence<'_>,
        raw: &RawMessage,
        now: u64,
        intern: &mut impl FnMut(&str) -> Arc<str>,
    ) -> PresenceEffect {
        let Some(i) = self.ensure(dialect, p.kind, &p.participant_id, &mut *intern, now) else {
            return PresenceEffect::Dropped;
        };
        // A retained message identical to the last one about this participant (or instance) is a
        // replay after a (re)subscribe: no transition, no sighting.
        let signature = presence_signature(raw, p);
        {
            let part = &self.participants[i];
            let last = match &p.instance_id {
                Some(instance) => part
                    .instances
                    .iter()
                    .find(|x| *x.instance_id == **instance)
                    .map_or(0, |x| x.presence_signature),
                None => part.presence_signature,
            };
            if raw.retain && last == signature {
                self.replays += 1;
                return PresenceEffect::RetainedReplay;
            }
        }
        // Unregistered (cleared card) without an explicit status: offline.
        let status = match (p.status, p.cleared) {
            (Some(s), _) => Some(s),
            (None, true) => Some(Status::Offline),
            (None, false) => None,
        };
        {
            let part = &mut self.participants[i];
            if p.is_card {
                part.card = Some(raw.payload.clone());
            } else if p.cleared {
                part.card = None;
            }
            if p.instance_id.is_none() {
                part.presence_signature = signature;
            }
            if let Some(name) = &p.display_name
                && part.display_name.as_deref() != Some(&**name)
            {
                part.display_name = Some((**name).into());
            }
            if let Some(server) = &p.server_id
                && part.server_id.as_deref() != Some(&**server)
            {
                part.server_id = Some(intern(server));
            }
            part.expires_at_nanos = match raw.props().message_expiry_interval_secs {
                Some(secs) if p.is_card && status == Some(Status::Online) => {
                    Some(now.saturating_add(u64::from(secs) * 1_000_000_000))
                }
                _ => None,
            };
            if status == Some(Status::Online) {
                part.last_seen_nanos = Some(now);
            }
        }
        let mut changed = false;
        if let Some(instance) = &p.instance_id {
            // Service online ⇔ at least one instance online.
            let online = status == Some(Status::Online);
            let part = &mut self.participants[i];
            match part
                .instances
                .iter_mut()
                .find(|x| *x.instance_id == **instance)
            {
                Some(x) => {
                    if x.online != online {
                        x.online = online;
                        x.since_nanos = now;
                    }
                    x.presence_signature = signature;
                }
                None => part.instances.push(Instance {
                    instance_id: (**instance).into(),
                    online,
                    since_nanos: now,
                    presence_signature: signature,
                }),
            }
            part.instances
                .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
            let any = part.instances.iter().any(|x| x.online);
            part.own_status = if any { Status::Online } else { Status::Offline };
            part.own_source = p.source;
        } else if let Some(s) = status {
            let part = &mut self.participants[i];
            part.own_status = s;
            part.own_source = p.source;
        } else if p.is_card && self.participants[i].own_status == Status::Unknown {
            // A card that says nothing about liveness (pre-presence A2A agent): unknown, from its card.
            self.participants[i].own_source = p.source;
        }
        let (status, source) = self.gated(i);
        changed |= self.set_status(i, status, source, now);
        if self.participants[i].kind == ParticipantKind::McpServer {
            self.refresh_tools_of(i, now);
        }
        if changed {
            PresenceEffect::Changed
        } else {
            PresenceEffect::Unchanged
        }
    }

    /// A tool listed by a server (EMQX-MCP `tools/list`): live while its server is.
    pub fn apply_listed_tool(
        &mut self,
        dialect: Dialect,
        tool_id: &str,
        server_id: &Arc<str>,
        card: Arc<[u8]>,
        now: u64,
        intern: &mut impl FnMut(&str) -> Arc<str>,
    ) {
        let Some(i) = self.ensure(dialect, ParticipantKind::Tool, tool_id, &mut *intern, now)
        else {
            return;
        };
        let part = &mut self.participants[i];
        part.card = Some(card);
        part.server_id = Some(server_id.clone());
        part.own_status = Status::Online;
        part.own_source = StatusSource::Card;
        part.last_seen_nanos = Some(now);
        let (status, source) = self.gated(i);
        self.set_status(i, status, source, now);
    }

    /// Its own traffic proves a participant is alive: last seen now, and online (from traffic)
    /// unless something authoritative said otherwise.
    pub fn touch(
        &mut self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
        now: u64,
        intern: &mut impl FnMut(&str) -> Arc<str>,
    ) -> Option<usize> {
        let i = self.ensure(dialect, kind, participant_id, &mut *intern, now)?;
        self.touch_index(i, now);
        Some(i)
    }

    pub fn touch_index(&mut self, i: usize, now: u64) {
        let part = &mut self.participants[i];
        part.last_seen_nanos = Some(part.last_seen_nanos.map_or(now, |t| t.max(now)));
        if matches!(part.status, Status::Unknown | Status::Stale) {
            part.own_status = Status::Online;
            part.own_source = StatusSource::Traffic;
            let (status, source) = self.gated(i);
            self.set_status(i, status, source, now);
        }
    }

    /// Known to exist (a callee) without evidence of liveness.
    pub fn mention(
        &mut self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
        now: u64,
        intern: &mut impl FnMut(&str) -> Arc<str>,
    ) -> Option<usize> {
        self.ensure(dialect, kind, participant_id, intern, now)
    }

    pub fn participant_mut(&mut self, i: usize) -> &mut Participant {
        &mut self.participants[i]
    }

    /// Traffic-inferred presence goes stale after a silence; heartbeat cards after their expiry.
    /// Transitions are stamped when they became true, not when this ran. Returns whether anything changed.
    pub fn expire(&mut self, now: u64) -> bool {
        let mut changed = false;
        for i in 0..self.participants.len() {
            let p = &self.participants[i];
            if p.status != Status::Online {
                continue;
            }
            let stale_at = match (p.status_source, p.expires_at_nanos) {
                (_, Some(expires)) => Some(expires),
                (StatusSource::Traffic, None) if self.stale_after_nanos > 0 => p
                    .last_seen_nanos
                    .map(|t| t.saturating_add(self.stale_after_nanos)),
                _ => None,
            };
            if let Some(at) = stale_at.filter(|&at| at <= now) {
                let source = p.status_source;
                let part = &mut self.participants[i];
                part.own_status = Status::Stale;
                part.expires_at_nanos = None;
                changed |= self.set_status(i, Status::Stale, source, at);
                if self.participants[i].kind == ParticipantKind::McpServer {
                    self.refresh_tools_of(i, at);
                }
            }
        }
        changed
    }

    /// Indices sorted for views: kind, dialect, id.
    pub fn sorted(&self) -> Vec<&Participant> {
        let mut out: Vec<&Participant> = self.participants.iter().collect();
        out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        out
    }
}

/// The payload, the decoded status and the status-bearing user properties, hashed (never 0).
fn presence_signature(raw: &RawMessage, p: &Presence<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(p.status.map_or("-", Status::as_str).as_bytes());
    eat(p.source.as_str().as_bytes());
    for (k, v) in &raw.props().user_properties {
        if k.starts_with("a2a-status") {
            eat(k.as_bytes());
            eat(v.as_bytes());
        }
    }
    eat(&raw.payload);
    h.max(1)
}
