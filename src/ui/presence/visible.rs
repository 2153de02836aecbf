//! What the map draws, cached: visible nodes after search and folding, merged edges, paint order.

use std::ops::Range;

use crate::model::mesh::hash::FastMap;
use crate::protocol::Status;

use super::PresenceViewState;
use super::scene::{NodeKind, search_terms};

/// One drawn edge: a scene edge, or several merged when a server's tools are folded into it.
#[derive(Debug, Clone)]
pub(super) struct DrawEdge {
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) count: u64,
    pub(super) errors: u64,
    /// Rate slots of the scene edges merged here (into `DrawCache::slots`).
    pub(super) slots: Range<usize>,
    /// The scene edges merged here (into `DrawCache::members`).
    pub(super) members: Range<usize>,
    /// The first scene edge (for the tooltip) and how many were merged.
    pub(super) first_edge: u32,
    pub(super) merged: u32,
    /// The opposite direction is drawn too: offset both so they do not overlap.
    pub(super) reverse: bool,
}

/// What is visible, rebuilt when the scene, the fold state, the search or the rate slots change.
#[derive(Default)]
pub(super) struct DrawCache {
    pub(super) key: Option<(u64, String, u64, u64)>,
    /// The scene generation the counts and the paint order were taken from.
    pub(super) order_generation: Option<u64>,
    /// Visible scene nodes in paint order (offline and small ones first).
    pub(super) nodes: Vec<u32>,
    pub(super) shown: Vec<bool>,
    /// Scene node → the node it is drawn as (a folded tool → its server).
    pub(super) rep: Vec<u32>,
    /// Tools folded into each server.
    pub(super) folded_tools: Vec<u32>,
    pub(super) edges: Vec<DrawEdge>,
    pub(super) slots: Vec<u32>,
    pub(super) members: Vec<u32>,
    /// Expanded servers with visible tools (drawn with a halo).
    pub(super) groups: Vec<u32>,
    pub(super) matched: usize,
}

impl PresenceViewState {
    pub(super) fn ensure_draw_cache(&mut self) {
        // What is shown and how edges merge only changes with the structure (or, while a search
        // is typed, with statuses it may match); counts and paint order follow every rebuild.
        let structure = if self.query.trim().is_empty() {
            self.scene.structure_generation
        } else {
            self.scene.generation
        };
        let key = (
            structure,
            self.query.clone(),
            self.fold_generation,
            self.activity.slots_generation,
        );
        if self.map.cache.key.as_ref() != Some(&key) {
            self.map.cache.key = Some(key);
            self.rebuild_draw_structure();
            self.map.cache.order_generation = None;
        }
        if self.map.cache.order_generation != Some(self.scene.generation) {
            self.map.cache.order_generation = Some(self.scene.generation);
            self.refresh_draw_values();
        }
    }

    fn rebuild_draw_structure(&mut self) {
        let n = self.scene.nodes.len();
        let folded: Vec<bool> = (0..n as u32).map(|i| self.is_folded(i)).collect();
        let scene = &self.scene;
        let cache = &mut self.map.cache;
        cache.rep = (0..n as u32)
            .map(|i| match scene.nodes[i as usize].server {
                Some(s) if folded[s as usize] => s,
                _ => i,
            })
            .collect();
        cache.folded_tools = vec![0; n];
        for i in 0..n {
            let r = cache.rep[i] as usize;
            if r != i {
                cache.folded_tools[r] += 1;
            }
        }
        let terms = search_terms(&self.query);
        cache.shown = vec![false; n];
        cache.matched = 0;
        for (i, node) in scene.nodes.iter().enumerate() {
            if node.matches(&terms) {
                cache.matched += 1;
                cache.shown[cache.rep[i] as usize] = true;
            }
        }
        // Edges between shown representatives, merged.
        let mut merged: FastMap<(u32, u32), usize> = FastMap::default();
        let mut edges: Vec<DrawEdge> = Vec::new();
        let mut members: Vec<(usize, u32)> = Vec::new();
        let mut edge_slots: Vec<(usize, u32)> = Vec::new();
        for (e, edge) in scene.edges.iter().enumerate() {
            let (a, b) = (cache.rep[edge.from as usize], cache.rep[edge.to as usize]);
            if a == b || !cache.shown[a as usize] || !cache.shown[b as usize] {
                continue;
            }
            let d = *merged.entry((a, b)).or_insert_with(|| {
                edges.push(DrawEdge {
                    from: a,
                    to: b,
                    count: 0,
                    errors: 0,
                    slots: 0..0,
                    members: 0..0,
                    first_edge: e as u32,
                    merged: 0,
                    reverse: false,
                });
                edges.len() - 1
            });
            edges[d].merged += 1;
            members.push((d, e as u32));
            if let Some(slot) = self
                .activity
                .slot_of(edge.dialect, &edge.caller, &edge.callee)
            {
                edge_slots.push((d, slot));
            }
        }
        for edge in &mut edges {
            edge.reverse = merged.contains_key(&(edge.to, edge.from));
        }
        edge_slots.sort_unstable();
        members.sort_unstable();
        cache.slots = edge_slots.iter().map(|&(_, s)| s).collect();
        cache.members = members.iter().map(|&(_, e)| e).collect();
        let (mut at_slot, mut at_member) = (0, 0);
        for (d, edge) in edges.iter_mut().enumerate() {
            let start = at_slot;
            while at_slot < edge_slots.len() && edge_slots[at_slot].0 == d {
                at_slot += 1;
            }
            edge.slots = start..at_slot;
            let start = at_member;
            while at_member < members.len() && members[at_member].0 == d {
                at_member += 1;
            }
            edge.members = start..at_member;
        }
        cache.edges = edges;
        cache.groups = (0..n as u32)
            .filter(|&s| {
                cache.shown[s as usize]
                    && !folded[s as usize]
                    && scene.nodes[s as usize]
                        .tools
                        .iter()
                        .any(|&t| cache.shown[t as usize])
            })
            .collect();
    }

    /// Counts of the drawn edges and the paint order (statuses move nodes in it).
    fn refresh_draw_values(&mut self) {
        let scene = &self.scene;
        let cache = &mut self.map.cache;
        for edge in &mut cache.edges {
            let (mut count, mut errors) = (0, 0);
            for &e in &cache.members[edge.members.clone()] {
                if let Some(se) = scene.edges.get(e as usize) {
                    count += se.count;
                    errors += se.errors;
                }
            }
            edge.count = count;
            edge.errors = errors;
        }
        // Paint order: endpoints and tools under agents and servers; offline under live.
        let mut order: Vec<u32> = (0..scene.nodes.len() as u32)
            .filter(|&i| cache.shown.get(i as usize).copied().unwrap_or(false))
            .collect();
        order.sort_by_key(|&i| {
            let node = &scene.nodes[i as usize];
            let kind_rank = match node.kind {
                NodeKind::Endpoint => 0,
                NodeKind::Tool => 1,
                NodeKind::Client => 2,
                NodeKind::Agent | NodeKind::Server => 3,
            };
            (node.status != Status::Offline, kind_rank, i)
        });
        cache.nodes = order;
    }

    pub(super) fn world(&self, i: u32) -> [f32; 2] {
        self.layout_ids
            .get(i as usize)
            .map_or([0.0, 0.0], |&id| self.layout.position(id))
    }
}
