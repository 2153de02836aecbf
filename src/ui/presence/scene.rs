//! What the map shows, rebuilt from the mesh model when it changes: nodes, call edges, tool groups, search.
//!
//! No egui here: a scene is plain rows copied out of the model (the lock is short), so views and
//! tests can use it without drawing.

use std::sync::Arc;

use crate::model::mesh::Mesh;
use crate::model::mesh::hash::FastMap;
use crate::protocol::{Dialect, ParticipantKind, Status, StatusSource};
use crate::ui::ParticipantRef;

/// What a node is, for its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    Agent,
    Server,
    Tool,
    /// A participant seen calling (no card of its own).
    Client,
    /// Something called that never announced itself (a plain request topic, an unknown tool).
    Endpoint,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Agent => "agent",
            NodeKind::Server => "mcp server",
            NodeKind::Tool => "tool",
            NodeKind::Client => "client",
            NodeKind::Endpoint => "endpoint",
        }
    }

    fn of(kind: ParticipantKind) -> NodeKind {
        match kind {
            ParticipantKind::Agent => NodeKind::Agent,
            ParticipantKind::McpServer => NodeKind::Server,
            ParticipantKind::Tool => NodeKind::Tool,
            ParticipantKind::Client => NodeKind::Client,
        }
    }
}

/// Agents and clients share one identity (a client may later announce a card); servers and tools have their own.
fn group_name(kind: ParticipantKind) -> &'static str {
    match kind {
        ParticipantKind::Agent | ParticipantKind::Client => "agent",
        ParticipantKind::McpServer => "server",
        ParticipantKind::Tool => "tool",
    }
}

/// The stable key of a node (layout file, selection): dialect, identity group, id.
pub fn node_key(dialect: Dialect, kind: ParticipantKind, participant_id: &str) -> String {
    format!(
        "{}|{}|{}",
        dialect.as_str(),
        group_name(kind),
        participant_id
    )
}

fn endpoint_key(dialect: Dialect, name: &str) -> String {
    format!("{}|endpoint|{}", dialect.as_str(), name)
}

/// The name the stats fold overflowing callers and callees into.
const OTHER: &str = "(other)";

#[derive(Debug, Clone)]
pub struct SceneNode {
    pub key: Box<str>,
    pub kind: NodeKind,
    pub dialect: Dialect,
    /// `None` for endpoints (not participants of the mesh model).
    pub participant: Option<ParticipantRef>,
    pub participant_id: Arc<str>,
    /// Display name when the card has one, else the id.
    pub label: String,
    pub status: Status,
    pub status_source: StatusSource,
    pub status_since_nanos: u64,
    pub last_seen_nanos: Option<u64>,
    pub first_seen_nanos: u64,
    /// When it went from online or stale to offline (not when it was first seen offline).
    pub went_offline_at_nanos: Option<u64>,
    /// A tool's server (scene index).
    pub server: Option<u32>,
    /// A server's tools (scene indices).
    pub tools: Vec<u32>,
    pub calls_in: u64,
    pub calls_out: u64,
    /// Failed calls into it (errors and timeouts, from the call edges).
    pub errors_in: u64,
}

impl SceneNode {
    /// Every term (lowercase, from [`search_terms`]) occurs in its name, id, kind, dialect or status.
    pub fn matches(&self, terms: &[String]) -> bool {
        terms.iter().all(|t| {
            [
                self.label.as_str(),
                &self.participant_id,
                self.kind.as_str(),
                self.dialect.as_str(),
                self.status.as_str(),
                self.status_source.as_str(),
            ]
            .iter()
            .any(|field| contains_lowercase(field, t))
        })
    }

    /// The id, when the label is something else (a display name).
    pub fn id_if_different(&self) -> Option<&str> {
        (*self.participant_id != *self.label).then_some(&self.participant_id)
    }
}

/// Whether `haystack`, lowercased, contains `needle` (already lowercase). No allocation for ASCII.
fn contains_lowercase(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if !haystack.is_ascii() || !needle.is_ascii() {
        return haystack.to_lowercase().contains(needle);
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.len() >= n.len()
        && h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// Lowercase search terms of a query.
pub fn search_terms(query: &str) -> Vec<String> {
    query.split_whitespace().map(str::to_lowercase).collect()
}

/// A caller → callee edge of observed calls.
#[derive(Debug, Clone)]
pub struct SceneEdge {
    pub from: u32,
    pub to: u32,
    pub dialect: Dialect,
    pub caller: Arc<str>,
    pub callee: Arc<str>,
    /// Finished calls (ok, errors, timeouts).
    pub count: u64,
    /// Error replies and timeouts.
    pub errors: u64,
}

impl SceneEdge {
    pub fn error_rate(&self) -> f32 {
        if self.count == 0 {
            0.0
        } else {
            self.errors as f32 / self.count as f32
        }
    }
}

#[derive(Debug, Default)]
pub struct Scene {
    pub nodes: Vec<SceneNode>,
    pub edges: Vec<SceneEdge>,
    by_key: FastMap<Box<str>, u32>,
    /// id → (dialect, node per identity group: agent/client, server, tool, endpoint).
    by_name: FastMap<Arc<str>, Vec<(Dialect, Slots)>>,
    /// Calls the model folded into `(other)` (its edge table was full): not drawn.
    pub folded_calls: u64,
    /// The mesh revision this was built from.
    pub mesh_revision: u64,
    /// Bumps on every rebuild (caches keyed on it).
    pub generation: u64,
    /// The generation whose nodes, groups and edges (not their values) this scene still has.
    pub structure_generation: u64,
}

/// A node per identity group: agent/client, server, tool, endpoint.
type Slots = [Option<u32>; 4];

fn slot(kind: NodeKind) -> usize {
    match kind {
        NodeKind::Agent | NodeKind::Client => 0,
        NodeKind::Server => 1,
        NodeKind::Tool => 2,
        NodeKind::Endpoint => 3,
    }
}

impl Scene {
    /// Copies what the map needs out of the mesh model.
    pub fn build(mesh: &Mesh, generation: u64) -> Scene {
        let participants = mesh.participants();
        let mut scene = Scene {
            nodes: Vec::with_capacity(participants.len()),
            mesh_revision: mesh.revision(),
            generation,
            structure_generation: generation,
            ..Scene::default()
        };
        for p in &participants {
            let kind = NodeKind::of(p.kind);
            let label = p
                .display_name
                .as_deref()
                .unwrap_or(&p.participant_id)
                .to_owned();
            let went_offline_at_nanos =
                went_offline(p.status, p.history.iter().map(|t| (t.status, t.at_nanos)));
            let node = SceneNode {
                key: node_key(p.dialect, p.kind, &p.participant_id).into_boxed_str(),
                kind,
                dialect: p.dialect,
                participant: Some(ParticipantRef {
                    dialect: p.dialect,
                    kind: p.kind,
                    participant_id: p.participant_id.to_string(),
                }),
                participant_id: p.participant_id.clone(),
                label,
                status: p.status,
                status_source: p.status_source,
                status_since_nanos: p.status_since_nanos,
                last_seen_nanos: p.last_seen_nanos,
                first_seen_nanos: p.first_seen_nanos,
                went_offline_at_nanos,
                server: None,
                tools: Vec::new(),
                calls_in: p.requests_received,
                calls_out: p.requests_sent,
                errors_in: 0,
            };
            scene.push(node);
        }
        // Tools join their server.
        for (i, p) in participants.iter().enumerate() {
            if p.kind != ParticipantKind::Tool {
                continue;
            }
            let Some(server_id) = &p.server_id else {
                continue;
            };
            if let Some(s) = scene.find_name(p.dialect, server_id, 1) {
                scene.nodes[i].server = Some(s);
                scene.nodes[s as usize].tools.push(i as u32);
            }
        }
        for edge in mesh.edges() {
            if &*edge.caller == OTHER || &*edge.callee == OTHER {
                scene.folded_calls += edge.count;
                continue;
            }
            let from = match scene.find_name(edge.dialect, &edge.caller, 0) {
                Some(i) => i,
                None => scene.endpoint(edge.dialect, &edge.caller),
            };
            let to = match scene.callee(edge.dialect, &edge.callee) {
                Some(i) => i,
                None => scene.endpoint(edge.dialect, &edge.callee),
            };
            if scene.nodes[to as usize].kind == NodeKind::Endpoint {
                scene.nodes[to as usize].calls_in += edge.count;
            }
            if scene.nodes[from as usize].kind == NodeKind::Endpoint {
                scene.nodes[from as usize].calls_out += edge.count;
            }
            scene.nodes[to as usize].errors_in += edge.errors;
            scene.edges.push(SceneEdge {
                from,
                to,
                dialect: edge.dialect,
                caller: edge.caller.clone(),
                callee: edge.callee.clone(),
                count: edge.count,
                errors: edge.errors,
            });
        }
        scene
    }

    fn push(&mut self, node: SceneNode) -> u32 {
        let i = self.nodes.len() as u32;
        self.by_key.insert(node.key.clone(), i);
        let per_dialect = self.by_name.entry(node.participant_id.clone()).or_default();
        match per_dialect.iter_mut().find(|(d, _)| *d == node.dialect) {
            Some((_, slots)) => slots[slot(node.kind)] = Some(i),
            None => {
                let mut slots = [None; 4];
                slots[slot(node.kind)] = Some(i);
                per_dialect.push((node.dialect, slots));
            }
        }
        self.nodes.push(node);
        i
    }

    fn endpoint(&mut self, dialect: Dialect, name: &Arc<str>) -> u32 {
        if let Some(i) = self.find_name(dialect, name, 3) {
            return i;
        }
        self.push(SceneNode {
            key: endpoint_key(dialect, name).into_boxed_str(),
            kind: NodeKind::Endpoint,
            dialect,
            participant: None,
            participant_id: name.clone(),
            label: name.to_string(),
            status: Status::Unknown,
            status_source: StatusSource::Traffic,
            status_since_nanos: 0,
            last_seen_nanos: None,
            first_seen_nanos: 0,
            went_offline_at_nanos: None,
            server: None,
            tools: Vec::new(),
            calls_in: 0,
            calls_out: 0,
            errors_in: 0,
        })
    }

    fn slots(&self, dialect: Dialect, name: &str) -> Option<&[Option<u32>; 4]> {
        self.by_name
            .get(name)?
            .iter()
            .find(|(d, _)| *d == dialect)
            .map(|(_, slots)| slots)
    }

    fn find_name(&self, dialect: Dialect, name: &str, group: usize) -> Option<u32> {
        self.slots(dialect, name).and_then(|slots| slots[group])
    }

    /// The node a call to `callee` lands on: a tool, an agent, a server, then an endpoint.
    pub fn callee(&self, dialect: Dialect, callee: &str) -> Option<u32> {
        let slots = self.slots(dialect, callee)?;
        slots[2].or(slots[0]).or(slots[1]).or(slots[3])
    }

    /// The node a call from `caller` starts at.
    pub fn caller(&self, dialect: Dialect, caller: &str) -> Option<u32> {
        let slots = self.slots(dialect, caller)?;
        slots[0].or(slots[3])
    }

    /// The same nodes in the same order, the same tool groups and the same edges (values aside).
    pub fn same_structure(&self, other: &Scene) -> bool {
        self.nodes.len() == other.nodes.len()
            && self.edges.len() == other.edges.len()
            && self
                .nodes
                .iter()
                .zip(&other.nodes)
                .all(|(a, b)| a.key == b.key && a.server == b.server)
            && self
                .edges
                .iter()
                .zip(&other.edges)
                .all(|(a, b)| a.from == b.from && a.to == b.to)
    }

    pub fn find(&self, key: &str) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    pub fn node(&self, i: u32) -> Option<&SceneNode> {
        self.nodes.get(i as usize)
    }

    pub fn online_count(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.status == Status::Online)
            .count()
    }
}

/// When the current offline status began, if the one before it was online or stale.
fn went_offline(
    status: Status,
    history: impl DoubleEndedIterator<Item = (Status, u64)>,
) -> Option<u64> {
    if status != Status::Offline {
        return None;
    }
    let mut newest_first = history.rev();
    let (last_status, at) = newest_first.next()?;
    if last_status != Status::Offline {
        return None;
    }
    match newest_first.next() {
        Some((Status::Online | Status::Stale, _)) => Some(at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_flash_only_after_being_alive() {
        assert_eq!(
            went_offline(Status::Offline, [(Status::Offline, 5)].into_iter()),
            None
        );
        assert_eq!(
            went_offline(
                Status::Offline,
                [(Status::Online, 1), (Status::Offline, 5)].into_iter()
            ),
            Some(5)
        );
        assert_eq!(
            went_offline(
                Status::Offline,
                [(Status::Stale, 1), (Status::Offline, 7)].into_iter()
            ),
            Some(7)
        );
        assert_eq!(
            went_offline(
                Status::Online,
                [(Status::Offline, 1), (Status::Online, 5)].into_iter()
            ),
            None
        );
    }

    #[test]
    fn case_insensitive_contains() {
        assert!(contains_lowercase("Summarizer Agent", "summ"));
        assert!(contains_lowercase("peers/lab/ECHO", "echo"));
        assert!(!contains_lowercase("echo", "echoes"));
        assert!(contains_lowercase("Agent \u{e9}t\u{c9}", "\u{e9}t\u{e9}"));
    }

    #[test]
    fn search_terms_all_must_match() {
        let terms = search_terms("  Echo   ONLINE ");
        assert_eq!(terms, vec!["echo".to_string(), "online".to_string()]);
    }
}
