//! Force-directed placement of the presence map: pure and deterministic (no egui, no clock), settles and stays put.
//!
//! Every node carries its own *heat* (how far it may still move per step). A new node starts hot
//! and its direct neighbours get a little warm; everything else stays frozen, so new arrivals
//! never reshuffle a settled map. Steps are counted, not timed: the same inputs and the same
//! number of steps give the same positions. Repulsion only acts within a cutoff (a sorted cell
//! grid finds neighbours), so a step costs O(n + close pairs + links), not O(n²).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Preferred distance between unrelated neighbours (world units; one unit is one point at zoom 1).
pub const SPACING: f32 = 120.0;
/// Rest length of a caller → callee link.
pub const CALL_LENGTH: f32 = 170.0;
/// Rest length of a tool → its server link (tools sit in orbit around their server).
pub const MEMBER_LENGTH: f32 = 80.0;
/// Repulsion acts only within this distance.
const CUTOFF: f32 = 3.0 * SPACING;
/// Most a node moves in one step at full heat.
const MAX_STEP: f32 = 36.0;
/// Heat lost per step (multiplicative).
const COOLING: f32 = 0.965;
/// Below this a node is frozen.
const FROZEN: f32 = 0.01;
/// What a new node's neighbours warm up to, and what dragging warms the dragged node's neighbours to.
const NEIGHBOUR_HEAT: f32 = 0.03;
const DRAG_HEAT: f32 = 0.3;
const CALL_STIFFNESS: f32 = 0.06;
const MEMBER_STIFFNESS: f32 = 0.6;
/// Pull toward the centroid: keeps separate islands of the mesh near each other.
const GRAVITY: f32 = 0.004;
/// Repulsion weight of a tool next to a full node.
const SATELLITE_CHARGE: f32 = 0.35;
/// Coordinates are clamped to this (a corrupt layout file cannot send a node to infinity).
const WORLD_LIMIT: f32 = 1.0e6;
/// Positions kept for nodes not seen this session (so they come back where they were).
const MAX_SAVED_NODES: usize = 20_000;
/// Up to this many newcomers at once get a free spot searched for them (O(12·n) each).
const CAREFUL_PLACEMENT_MAX: usize = 64;
const GOLDEN_ANGLE: f32 = 2.399_963;

/// How two nodes are linked, for the springs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Observed calls from one to the other.
    Call,
    /// A tool and its server.
    Member,
}

/// A link between two nodes given to [`Layout::sync`], by their index in the `keys` slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub from: usize,
    pub to: usize,
    pub kind: LinkKind,
}

#[derive(Debug, Clone)]
struct Node {
    key: Box<str>,
    pos: [f32; 2],
    heat: f32,
    pinned: bool,
    /// Part of the last sync (nodes of a previous model stay, inert, in case they come back).
    present: bool,
    /// Repulsion weight: tools (satellites of a server) push less, so they stay in orbit.
    charge: f32,
}

#[derive(Debug, Clone, Copy)]
struct Spring {
    a: u32,
    b: u32,
    rest: f32,
    stiffness: f32,
}

/// A saved node position (the layout file).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SavedNode {
    pub x: f32,
    pub y: f32,
    #[serde(default)]
    pub pinned: bool,
}

/// What survives a restart: node positions by key, and which servers have their tools folded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedLayout {
    pub version: u32,
    pub nodes: BTreeMap<String, SavedNode>,
    /// Servers whose tools the user folded into them.
    #[serde(default)]
    pub collapsed: Vec<String>,
    /// Servers the user unfolded although they have many tools.
    #[serde(default)]
    pub expanded: Vec<String>,
}

impl SavedLayout {
    pub const VERSION: u32 = 1;

    /// Parses a layout file; anything malformed is an error, never a panic.
    pub fn from_json(text: &str) -> Result<SavedLayout, String> {
        let saved: SavedLayout =
            serde_json::from_str(text).map_err(|e| format!("layout file: {e}"))?;
        if saved.version != Self::VERSION {
            return Err(format!(
                "layout file: version {} (expected {})",
                saved.version,
                Self::VERSION
            ));
        }
        Ok(saved)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Node positions, by insertion index (stable for the life of the layout).
#[derive(Debug, Default)]
pub struct Layout {
    nodes: Vec<Node>,
    index: HashMap<Box<str>, u32>,
    springs: Vec<Spring>,
    /// Springs touching each node (indices into `springs`), for warming neighbours.
    adjacency: Vec<Vec<u32>>,
    saved: BTreeMap<String, SavedNode>,
    steps: u64,
    // Scratch reused by every step.
    cells: Vec<(u64, u32)>,
    forces: Vec<[f32; 2]>,
}

fn clamp_world(v: f32) -> f32 {
    if v.is_finite() {
        v.clamp(-WORLD_LIMIT, WORLD_LIMIT)
    } else {
        0.0
    }
}

/// FNV-1a of a key: a deterministic angle for where a new node first appears.
fn key_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn key_angle(key: &str) -> f32 {
    (key_hash(key) % 3600) as f32 / 3600.0 * std::f32::consts::TAU
}

fn cell_of(p: [f32; 2]) -> (i32, i32) {
    (
        (p[0] / CUTOFF).floor() as i32,
        (p[1] / CUTOFF).floor() as i32,
    )
}

fn cell_key(c: (i32, i32)) -> u64 {
    ((c.0 as u32 as u64) << 32) | (c.1 as u32 as u64)
}

impl Layout {
    pub fn new() -> Layout {
        Layout::default()
    }

    /// Takes saved positions: nodes already placed move there (and freeze); others use them when they appear.
    pub fn restore(&mut self, saved: &SavedLayout) {
        for (key, s) in &saved.nodes {
            let s = SavedNode {
                x: clamp_world(s.x),
                y: clamp_world(s.y),
                pinned: s.pinned,
            };
            match self.index.get(key.as_str()) {
                Some(&i) => {
                    let n = &mut self.nodes[i as usize];
                    n.pos = [s.x, s.y];
                    n.pinned = s.pinned;
                    n.heat = 0.0;
                }
                None => {
                    if self.saved.len() < MAX_SAVED_NODES {
                        self.saved.insert(key.clone(), s);
                    }
                }
            }
        }
    }

    /// Every known position (present nodes and remembered ones), for the layout file.
    pub fn snapshot(&self) -> BTreeMap<String, SavedNode> {
        let mut out = self.saved.clone();
        for n in &self.nodes {
            if out.len() >= MAX_SAVED_NODES && !out.contains_key(&*n.key) {
                break;
            }
            out.insert(
                n.key.to_string(),
                SavedNode {
                    x: n.pos[0],
                    y: n.pos[1],
                    pinned: n.pinned,
                },
            );
        }
        out
    }

    /// Brings the layout in line with the current nodes and links; returns each key's layout index.
    /// Existing nodes keep their place; new ones appear next to a placed neighbour (their server
    /// first), else on a spiral around the map, and only they (and, slightly, their neighbours) move.
    pub fn sync(&mut self, keys: &[&str], links: &[Link]) -> Vec<u32> {
        for n in &mut self.nodes {
            n.present = false;
        }
        let mut ids = Vec::with_capacity(keys.len());
        let mut fresh = Vec::new();
        for key in keys {
            let id = match self.index.get(*key) {
                Some(&i) => i,
                None => {
                    let i = self.nodes.len() as u32;
                    let (pos, pinned, heat, placed) = match self.saved.remove(*key) {
                        Some(s) => ([s.x, s.y], s.pinned, 0.0, true),
                        None => ([0.0, 0.0], false, 1.0, false),
                    };
                    self.nodes.push(Node {
                        key: Box::from(*key),
                        pos,
                        heat,
                        pinned,
                        present: true,
                        charge: 1.0,
                    });
                    self.index.insert(Box::from(*key), i);
                    if !placed {
                        fresh.push((ids.len(), i));
                    }
                    i
                }
            };
            self.nodes[id as usize].present = true;
            ids.push(id);
        }
        // Springs from the links (deduplicated; a member link wins over a call link).
        let mut pairs: BTreeMap<(u32, u32), LinkKind> = BTreeMap::new();
        for l in links {
            let (Some(&a), Some(&b)) = (ids.get(l.from), ids.get(l.to)) else {
                continue;
            };
            if a == b {
                continue;
            }
            let pair = (a.min(b), a.max(b));
            let kind = match pairs.get(&pair) {
                Some(LinkKind::Member) => LinkKind::Member,
                _ => l.kind,
            };
            pairs.insert(pair, kind);
        }
        self.springs = pairs
            .iter()
            .map(|(&(a, b), kind)| match kind {
                LinkKind::Call => Spring {
                    a,
                    b,
                    rest: CALL_LENGTH,
                    stiffness: CALL_STIFFNESS,
                },
                LinkKind::Member => Spring {
                    a,
                    b,
                    rest: MEMBER_LENGTH,
                    stiffness: MEMBER_STIFFNESS,
                },
            })
            .collect();
        for &id in &ids {
            self.nodes[id as usize].charge = 1.0;
        }
        for l in links {
            if l.kind == LinkKind::Member
                && let Some(&a) = ids.get(l.from)
            {
                self.nodes[a as usize].charge = SATELLITE_CHARGE;
            }
        }
        self.adjacency = vec![Vec::new(); self.nodes.len()];
        for (s, spring) in self.springs.iter().enumerate() {
            self.adjacency[spring.a as usize].push(s as u32);
            self.adjacency[spring.b as usize].push(s as u32);
        }
        self.place_fresh(&fresh, keys, links, &ids);
        ids
    }

    fn place_fresh(&mut self, fresh: &[(usize, u32)], keys: &[&str], links: &[Link], ids: &[u32]) {
        if fresh.is_empty() {
            return;
        }
        // Every node that was already there is placed; fresh ones are placed in key order.
        let fresh_set: std::collections::BTreeSet<u32> = fresh.iter().map(|&(_, id)| id).collect();
        let mut placed: Vec<bool> = (0..self.nodes.len() as u32)
            .map(|i| !fresh_set.contains(&i))
            .collect();
        let mut neighbours: Vec<Vec<(u32, LinkKind)>> = vec![Vec::new(); self.nodes.len()];
        for l in links {
            let (Some(&a), Some(&b)) = (ids.get(l.from), ids.get(l.to)) else {
                continue;
            };
            neighbours[a as usize].push((b, l.kind));
            neighbours[b as usize].push((a, l.kind));
        }
        let mut spiral_slot = self.nodes.len() - fresh.len();
        // A few newcomers on a settled map look for a free spot (so they do not land on someone
        // and shove them); a whole new map is hot anyway and is placed the cheap way.
        let careful = fresh.len() <= CAREFUL_PLACEMENT_MAX;
        // Many at once (a first map): only tools go next to their server, the rest spread on a
        // spiral; anchoring everyone to a neighbour would pile the map into one dense knot that
        // takes long to untangle.
        let centre = self.centroid(&placed);
        for &(slot, id) in fresh {
            let key = keys[slot];
            let angle = key_angle(key);
            let anchor = neighbours[id as usize]
                .iter()
                .filter(|(other, kind)| {
                    placed[*other as usize] && (careful || *kind == LinkKind::Member)
                })
                .min_by_key(|(other, kind)| (*kind != LinkKind::Member, *other))
                .copied();
            let pos = match anchor {
                Some((other, kind)) => {
                    let r = if kind == LinkKind::Member {
                        MEMBER_LENGTH
                    } else {
                        CALL_LENGTH
                    };
                    let c = self.nodes[other as usize].pos;
                    if careful {
                        self.free_spot_around(c, r, angle, &placed)
                    } else {
                        [c[0] + r * angle.cos(), c[1] + r * angle.sin()]
                    }
                }
                None => {
                    // A spiral around the centroid of what was placed: new islands land at the rim.
                    spiral_slot += 1;
                    let r = SPACING * 0.9 * (spiral_slot as f32).sqrt();
                    let a = spiral_slot as f32 * GOLDEN_ANGLE;
                    [centre[0] + r * a.cos(), centre[1] + r * a.sin()]
                }
            };
            self.nodes[id as usize].pos = [clamp_world(pos[0]), clamp_world(pos[1])];
            placed[id as usize] = true;
            for &(other, _) in &neighbours[id as usize] {
                let n = &mut self.nodes[other as usize];
                if !fresh_set.contains(&other) && !n.pinned {
                    n.heat = n.heat.max(NEIGHBOUR_HEAT);
                }
            }
        }
    }

    /// Of 12 spots on the circle around `centre` (starting at `angle`), the one farthest from any placed node.
    fn free_spot_around(&self, centre: [f32; 2], r: f32, angle: f32, placed: &[bool]) -> [f32; 2] {
        let mut best = (
            [centre[0] + r * angle.cos(), centre[1] + r * angle.sin()],
            f32::MIN,
        );
        for k in 0..12 {
            let a = angle + k as f32 * (std::f32::consts::TAU / 12.0);
            let spot = [centre[0] + r * a.cos(), centre[1] + r * a.sin()];
            let clearance = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, n)| placed[*i] && n.present)
                .map(|(_, n)| (n.pos[0] - spot[0]).powi(2) + (n.pos[1] - spot[1]).powi(2))
                .fold(f32::MAX, f32::min);
            if clearance > best.1 + 1.0 {
                best = (spot, clearance);
            }
        }
        best.0
    }

    fn centroid(&self, placed: &[bool]) -> [f32; 2] {
        let (mut sx, mut sy, mut n) = (0.0f64, 0.0f64, 0u32);
        for (i, node) in self.nodes.iter().enumerate() {
            if placed[i] && node.present {
                sx += f64::from(node.pos[0]);
                sy += f64::from(node.pos[1]);
                n += 1;
            }
        }
        if n == 0 {
            [0.0, 0.0]
        } else {
            [(sx / f64::from(n)) as f32, (sy / f64::from(n)) as f32]
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn position(&self, id: u32) -> [f32; 2] {
        self.nodes.get(id as usize).map_or([0.0, 0.0], |n| n.pos)
    }

    pub fn position_of(&self, key: &str) -> Option<[f32; 2]> {
        self.index.get(key).map(|&i| self.nodes[i as usize].pos)
    }

    pub fn index_of(&self, key: &str) -> Option<u32> {
        self.index.get(key).copied()
    }

    pub fn is_pinned(&self, id: u32) -> bool {
        self.nodes.get(id as usize).is_some_and(|n| n.pinned)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Nothing moves any more (every present, unpinned node is frozen).
    pub fn is_settled(&self) -> bool {
        !self
            .nodes
            .iter()
            .any(|n| n.present && !n.pinned && n.heat > 0.0)
    }

    /// A drag: the node goes where the pointer put it and stays (pinned); its neighbours re-settle around it.
    pub fn drag_to(&mut self, id: u32, pos: [f32; 2]) {
        let Some(n) = self.nodes.get_mut(id as usize) else {
            return;
        };
        n.pos = [clamp_world(pos[0]), clamp_world(pos[1])];
        n.pinned = true;
        n.heat = 0.0;
        self.warm_neighbours(id, DRAG_HEAT);
    }

    pub fn set_pinned(&mut self, id: u32, pinned: bool) {
        let Some(n) = self.nodes.get_mut(id as usize) else {
            return;
        };
        n.pinned = pinned;
        if !pinned {
            n.heat = n.heat.max(NEIGHBOUR_HEAT);
        }
    }

    fn warm_neighbours(&mut self, id: u32, heat: f32) {
        let Some(springs) = self.adjacency.get(id as usize) else {
            return;
        };
        for &s in springs {
            let spring = self.springs[s as usize];
            let other = if spring.a == id { spring.b } else { spring.a };
            let n = &mut self.nodes[other as usize];
            if !n.pinned {
                n.heat = n.heat.max(heat);
            }
        }
    }

    /// Forgets every position and places all present nodes afresh (the "re-layout" button).
    pub fn reset(&mut self, keys: &[&str], links: &[Link]) -> Vec<u32> {
        self.nodes.clear();
        self.index.clear();
        self.saved.clear();
        self.sync(keys, links)
    }

    /// Runs up to `max_steps` steps or until settled; returns the steps taken.
    pub fn run(&mut self, max_steps: usize) -> usize {
        let mut taken = 0;
        while taken < max_steps && self.step() {
            taken += 1;
        }
        taken
    }

    /// One step of the simulation; `false` when nothing was left to move.
    pub fn step(&mut self) -> bool {
        if self.is_settled() {
            return false;
        }
        self.steps += 1;
        let n = self.nodes.len();
        // Present nodes sorted by grid cell: neighbours come from the 3×3 cells around a node.
        self.cells.clear();
        for (i, node) in self.nodes.iter().enumerate() {
            if node.present {
                self.cells.push((cell_key(cell_of(node.pos)), i as u32));
            }
        }
        self.cells.sort_unstable();
        let mut centre = [0.0f64; 2];
        for &(_, i) in &self.cells {
            let p = self.nodes[i as usize].pos;
            centre[0] += f64::from(p[0]);
            centre[1] += f64::from(p[1]);
        }
        let count = self.cells.len().max(1) as f64;
        let centre = [(centre[0] / count) as f32, (centre[1] / count) as f32];
        self.forces.clear();
        self.forces.resize(n, [0.0, 0.0]);
        for i in 0..n {
            let node = &self.nodes[i];
            if !node.present || node.pinned || node.heat <= 0.0 {
                continue;
            }
            let p = node.pos;
            let charge = node.charge;
            let mut f = [GRAVITY * (centre[0] - p[0]), GRAVITY * (centre[1] - p[1])];
            let (cx, cy) = cell_of(p);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let key = cell_key((cx + dx, cy + dy));
                    let start = self.cells.partition_point(|&(k, _)| k < key);
                    for &(k, j) in &self.cells[start..] {
                        if k != key {
                            break;
                        }
                        if j as usize == i {
                            continue;
                        }
                        let other = &self.nodes[j as usize];
                        let q = other.pos;
                        let (mut ddx, mut ddy) = (p[0] - q[0], p[1] - q[1]);
                        let mut d2 = ddx * ddx + ddy * ddy;
                        if d2 < 1e-4 {
                            // Same spot: a deterministic direction from the pair.
                            let a = ((i as u64 * 7919 + u64::from(j) * 104_729) % 360) as f32
                                * (std::f32::consts::TAU / 360.0);
                            ddx = a.cos() * 0.01;
                            ddy = a.sin() * 0.01;
                            d2 = 1e-4;
                        }
                        if d2 >= CUTOFF * CUTOFF {
                            continue;
                        }
                        let d = d2.sqrt();
                        // Fades to zero at the cutoff, so crossing it is not a jump.
                        let strength =
                            charge * other.charge * SPACING * SPACING / d * (1.0 - d / CUTOFF);
                        f[0] += ddx / d * strength;
                        f[1] += ddy / d * strength;
                    }
                }
            }
            self.forces[i] = f;
        }
        for spring in &self.springs {
            let (a, b) = (spring.a as usize, spring.b as usize);
            let (pa, pb) = (self.nodes[a].pos, self.nodes[b].pos);
            let (dx, dy) = (pb[0] - pa[0], pb[1] - pa[1]);
            let d = (dx * dx + dy * dy).sqrt().max(0.01);
            let pull = spring.stiffness * (d - spring.rest) * SPACING / spring.rest.max(1.0);
            let (fx, fy) = (dx / d * pull, dy / d * pull);
            self.forces[a][0] += fx;
            self.forces[a][1] += fy;
            self.forces[b][0] -= fx;
            self.forces[b][1] -= fy;
        }
        let mut moved = false;
        for i in 0..n {
            let node = &mut self.nodes[i];
            if !node.present || node.pinned || node.heat <= 0.0 {
                continue;
            }
            let f = self.forces[i];
            let len = (f[0] * f[0] + f[1] * f[1]).sqrt();
            let limit = node.heat * MAX_STEP;
            if len > 0.0 {
                let scale = len.min(limit) / len;
                node.pos[0] = clamp_world(node.pos[0] + f[0] * scale);
                node.pos[1] = clamp_world(node.pos[1] + f[1] * scale);
            }
            node.heat *= COOLING;
            if node.heat < FROZEN {
                node.heat = 0.0;
            }
            moved = true;
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small mesh: 3 callers fanning out to 8 agents, 2 servers with 4 tools each.
    fn mesh(extra: usize) -> (Vec<String>, Vec<Link>) {
        let mut keys = Vec::new();
        let mut links = Vec::new();
        for c in 0..3 {
            keys.push(format!("openmas|agent|caller-{c}"));
        }
        for a in 0..8 {
            keys.push(format!("openmas|agent|worker-{a}"));
        }
        for c in 0..3 {
            for a in 0..8 {
                if (a + c) % 3 != 0 {
                    links.push(Link {
                        from: c,
                        to: 3 + a,
                        kind: LinkKind::Call,
                    });
                }
            }
        }
        for s in 0..2 {
            let server = keys.len();
            keys.push(format!("mqtt-agent-mcp|server|srv-{s}"));
            for t in 0..4 {
                let tool = keys.len();
                keys.push(format!("mqtt-agent-mcp|tool|srv-{s}-tool-{t}"));
                links.push(Link {
                    from: tool,
                    to: server,
                    kind: LinkKind::Member,
                });
                links.push(Link {
                    from: s,
                    to: tool,
                    kind: LinkKind::Call,
                });
            }
        }
        for e in 0..extra {
            let k = keys.len();
            keys.push(format!("openmas|agent|late-{e}"));
            links.push(Link {
                from: 0,
                to: k,
                kind: LinkKind::Call,
            });
        }
        (keys, links)
    }

    fn settled(keys: &[String], links: &[Link]) -> Layout {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut layout = Layout::new();
        layout.sync(&refs, links);
        layout.run(10_000);
        assert!(layout.is_settled());
        layout
    }

    fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    }

    #[test]
    fn same_model_gives_same_positions() {
        let (keys, links) = mesh(0);
        let a = settled(&keys, &links);
        let b = settled(&keys, &links);
        assert_eq!(a.steps(), b.steps());
        for key in &keys {
            assert_eq!(a.position_of(key), b.position_of(key), "{key}");
        }
    }

    #[test]
    fn it_settles_spread_out_and_stays_put() {
        let (keys, links) = mesh(0);
        let mut layout = settled(&keys, &links);
        assert!(layout.steps() < 400, "took {} steps", layout.steps());
        let before = layout.snapshot();
        assert_eq!(layout.run(100), 0, "a settled layout does not move");
        assert_eq!(layout.snapshot(), before);
        // Nobody sits on top of anybody.
        let pos: Vec<[f32; 2]> = keys
            .iter()
            .map(|k| layout.position_of(k).unwrap())
            .collect();
        for i in 0..pos.len() {
            for j in i + 1..pos.len() {
                assert!(
                    distance(pos[i], pos[j]) > 30.0,
                    "{} and {} overlap",
                    keys[i],
                    keys[j]
                );
            }
        }
        // Tools stay near their server.
        let server = layout.position_of("mqtt-agent-mcp|server|srv-0").unwrap();
        for t in 0..4 {
            let tool = layout
                .position_of(&format!("mqtt-agent-mcp|tool|srv-0-tool-{t}"))
                .unwrap();
            assert!(
                distance(server, tool) < 2.0 * MEMBER_LENGTH,
                "tool {t} drifted {}",
                distance(server, tool)
            );
        }
    }

    #[test]
    fn adding_a_node_moves_old_ones_little() {
        let (keys, links) = mesh(0);
        let mut layout = settled(&keys, &links);
        let before: Vec<[f32; 2]> = keys
            .iter()
            .map(|k| layout.position_of(k).unwrap())
            .collect();
        let (keys2, links2) = mesh(1);
        let refs: Vec<&str> = keys2.iter().map(String::as_str).collect();
        layout.sync(&refs, &links2);
        layout.run(10_000);
        let mut max_moved = 0.0f32;
        let mut total = 0.0f32;
        for (k, old) in keys.iter().zip(&before) {
            let d = distance(*old, layout.position_of(k).unwrap());
            max_moved = max_moved.max(d);
            total += d;
        }
        let mean = total / keys.len() as f32;
        // Only the newcomer's neighbour may shift, by a fraction of the spacing; the rest stay put.
        assert!(max_moved < 0.3 * SPACING, "an old node moved {max_moved}");
        assert!(mean < 0.02 * SPACING, "old nodes moved {mean} on average");
        let newcomer = layout.position_of("openmas|agent|late-0").unwrap();
        let caller = layout.position_of("openmas|agent|caller-0").unwrap();
        assert!(
            distance(newcomer, caller) < 2.0 * CALL_LENGTH,
            "the newcomer lands near its caller"
        );
    }

    #[test]
    fn dragging_pins_and_saved_positions_come_back() {
        let (keys, links) = mesh(0);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut layout = settled(&keys, &links);
        let ids = layout.sync(&refs, &links);
        layout.drag_to(ids[3], [900.0, -900.0]);
        layout.run(10_000);
        assert_eq!(layout.position(ids[3]), [900.0, -900.0]);
        assert!(layout.is_pinned(ids[3]));
        let saved = SavedLayout {
            version: SavedLayout::VERSION,
            nodes: layout.snapshot(),
            collapsed: vec!["x".into()],
            expanded: Vec::new(),
        };
        let text = saved.to_json();
        let back = SavedLayout::from_json(&text).unwrap();
        assert_eq!(back, saved);
        let mut restored = Layout::new();
        restored.restore(&back);
        restored.sync(&refs, &links);
        assert!(restored.is_settled(), "restored nodes do not move");
        for key in &keys {
            assert_eq!(restored.position_of(key), layout.position_of(key));
        }
        assert!(restored.is_pinned(ids[3]));
    }

    #[test]
    fn garbage_layout_files_are_errors() {
        assert!(SavedLayout::from_json("").is_err());
        assert!(SavedLayout::from_json("{\"version\":2,\"nodes\":{}}").is_err());
        assert!(SavedLayout::from_json("[1,2,3]").is_err());
        let huge = "{\"version\":1,\"nodes\":{\"a\":{\"x\":1e38,\"y\":-1e38}}}";
        let saved = SavedLayout::from_json(huge).unwrap();
        let mut layout = Layout::new();
        layout.restore(&saved);
        layout.sync(&["a"], &[]);
        assert_eq!(layout.position_of("a"), Some([WORLD_LIMIT, -WORLD_LIMIT]));
    }

    #[test]
    fn a_thousand_nodes_step_cheaply_and_settle() {
        let mut keys = Vec::new();
        let mut links = Vec::new();
        for i in 0..1000usize {
            keys.push(format!("k{i}"));
            for k in 1..=5usize {
                let j = (i * 7 + k * 131) % 1000;
                if j != i {
                    links.push(Link {
                        from: i,
                        to: j,
                        kind: LinkKind::Call,
                    });
                }
            }
        }
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut layout = Layout::new();
        layout.sync(&refs, &links);
        let steps = layout.run(2_000);
        assert!(layout.is_settled(), "not settled after {steps} steps");
        for k in &keys {
            let p = layout.position_of(k).unwrap();
            assert!(p[0].is_finite() && p[1].is_finite());
        }
    }
}
