//! The presence map: every agent, MCP server, tool and client, its status, and who calls whom.
//!
//! Per frame: the scene (rows copied from the mesh model) is rebuilt when the model changed (at
//! most every [`REBUILD_EVERY_NANOS`] unless participants appeared), new traces feed rates and
//! pulses, the layout takes a few steps if it has not settled, then the map or the table draws.

mod activity;
mod camera;
mod details;
mod graph;
pub mod layout;
mod legend;
mod paint;
pub mod scene;
mod table;
mod tooltips;
mod visible;

use std::collections::BTreeMap;
use std::path::Path;

use egui::{RichText, Ui};

use crate::model::Model;

use super::theme::Theme;
use super::widgets::format_count;
use super::{Action, ParticipantRef};

use activity::Activity;
use layout::{Layout, Link, LinkKind, SavedLayout};
use scene::{NodeKind, Scene};

/// The scene is rebuilt at most this often while only statuses and counters change.
pub const REBUILD_EVERY_NANOS: u64 = 250_000_000;
/// A server with more tools than this starts with them folded.
const FOLD_TOOLS_ABOVE: usize = 8;
/// A first layout of at most this many nodes is settled before it is shown (larger ones animate).
const SETTLE_AT_ONCE_MAX: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Map,
    Table,
}

#[derive(Default)]
pub struct PresenceViewState {
    mode: Mode,
    query: String,
    /// The selected node's key (`scene::node_key`).
    selected: Option<Box<str>>,
    scene: Scene,
    scene_built: bool,
    scene_built_at_nanos: u64,
    generation: u64,
    layout: Layout,
    /// Layout index of each scene node.
    layout_ids: Vec<u32>,
    /// Server key → its tools folded (the user's choice; absent: folded when it has many tools).
    fold: BTreeMap<String, bool>,
    fold_generation: u64,
    activity: Activity,
    map: graph::MapState,
    table: table::TableState,
    details: details::DetailsState,
    pulses_off: bool,
    legend_hidden: bool,
    /// Hit-test nodes as without a screen reader even when one listens (tests of that path).
    pointer_hit_testing: bool,
}

impl PresenceViewState {
    /// Shows this participant's details and brings it into view (another view asked).
    pub fn select(&mut self, participant: ParticipantRef) {
        let key = scene::node_key(
            participant.dialect,
            participant.kind,
            &participant.participant_id,
        );
        // The map's own clicks come back here through the app: do not move the camera for them.
        if self.selected.as_deref() != Some(key.as_str()) {
            self.map.focus = Some(key.clone().into_boxed_str());
        }
        self.selected = Some(key.into_boxed_str());
    }

    /// Node positions survive a restart: the app calls these at start and exit with a path in the config dir.
    /// A missing file is not an error (nothing was saved yet).
    pub fn load_layout(&mut self, path: &Path) -> Result<(), String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let saved =
            SavedLayout::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        self.layout.restore(&saved);
        for key in &saved.collapsed {
            self.fold.insert(key.clone(), true);
        }
        for key in &saved.expanded {
            self.fold.insert(key.clone(), false);
        }
        self.fold_generation += 1;
        // Show the restored map whole.
        self.map.camera.user_moved = false;
        Ok(())
    }

    pub fn save_layout(&self, path: &Path) -> Result<(), String> {
        let saved = SavedLayout {
            version: SavedLayout::VERSION,
            nodes: self.layout.snapshot(),
            collapsed: self
                .fold
                .iter()
                .filter(|(_, f)| **f)
                .map(|(k, _)| k.clone())
                .collect(),
            expanded: self
                .fold
                .iter()
                .filter(|(_, f)| !**f)
                .map(|(k, _)| k.clone())
                .collect(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Write then rename: a crash mid-write never leaves half a layout file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, saved.to_json()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Switches to the table of participants (the map is the default).
    pub fn show_table(&mut self) {
        self.mode = Mode::Table;
    }

    pub fn show_map(&mut self) {
        self.mode = Mode::Map;
    }

    /// The selected node's key, if any (`dialect|group|id`).
    pub fn selected_key(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Where a node sits on the map (world units), by key.
    pub fn node_position(&self, key: &str) -> Option<[f32; 2]> {
        self.layout.position_of(key)
    }

    /// Tests: make only the node under the pointer a widget, as when no screen reader listens
    /// (kittest always listens).
    #[doc(hidden)]
    pub fn force_pointer_hit_testing(&mut self) {
        self.pointer_hit_testing = true;
    }

    /// Whether a node was pinned (dragged, or pinned from its menu or details).
    pub fn node_pinned(&self, key: &str) -> bool {
        self.layout
            .index_of(key)
            .is_some_and(|id| self.layout.is_pinned(id))
    }

    /// The layout has stopped moving.
    pub fn is_settled(&self) -> bool {
        self.layout.is_settled()
    }

    /// Whether a server's tools are folded into it.
    fn is_folded(&self, server: u32) -> bool {
        let Some(node) = self.scene.node(server) else {
            return false;
        };
        match self.fold.get(&*node.key) {
            Some(f) => *f,
            None => node.tools.len() > FOLD_TOOLS_ABOVE,
        }
    }

    fn set_folded(&mut self, server: u32, folded: bool) {
        if let Some(node) = self.scene.node(server) {
            self.fold.insert(node.key.to_string(), folded);
            self.fold_generation += 1;
        }
    }

    fn selected_index(&self) -> Option<u32> {
        self.selected.as_deref().and_then(|k| self.scene.find(k))
    }

    fn select_index(&mut self, i: u32, actions: &mut Vec<Action>) {
        let Some(node) = self.scene.node(i) else {
            return;
        };
        self.selected = Some(node.key.clone());
        if let Some(p) = &node.participant {
            actions.push(Action::SelectParticipant(p.clone()));
        }
    }

    /// Brings the scene, the layout and the activity up to date with the model.
    fn refresh(&mut self, model: &Model, now_nanos: u64) {
        let mesh = &model.mesh;
        let changed = !self.scene_built || mesh.revision() != self.scene.mesh_revision;
        let participants = self
            .scene
            .nodes
            .iter()
            .filter(|n| n.participant.is_some())
            .count();
        let due = now_nanos.saturating_sub(self.scene_built_at_nanos) >= REBUILD_EVERY_NANOS
            || now_nanos < self.scene_built_at_nanos;
        if changed && (!self.scene_built || participants != mesh.participant_count() || due) {
            self.rebuild(model, now_nanos);
        }
        self.activity.ingest(mesh, now_nanos);
        let n = self.scene.nodes.len();
        // Steps per frame: a small map settles in a blink, a big one over a second or two
        // without taking the frame budget (a step of 1 000 hot nodes costs ~1 ms).
        let steps = if n <= 150 {
            6
        } else if n <= 400 {
            2
        } else {
            1
        };
        self.layout.run(steps);
    }

    fn rebuild(&mut self, model: &Model, now_nanos: u64) {
        self.generation += 1;
        let mut scene = Scene::build(&model.mesh, self.generation);
        // Most rebuilds only refresh statuses and counters: the layout is synced only when nodes
        // or links changed (syncing 5 000 links costs about a millisecond).
        let same_structure = self.scene_built && scene.same_structure(&self.scene);
        if same_structure {
            scene.structure_generation = self.scene.structure_generation;
        }
        self.scene = scene;
        self.scene_built = true;
        self.scene_built_at_nanos = now_nanos;
        if same_structure {
            return;
        }
        let (keys, links) = Self::layout_input(&self.scene);
        let first = self.layout.is_empty();
        self.layout_ids = self.layout.sync(&keys, &links);
        if first && keys.len() <= SETTLE_AT_ONCE_MAX {
            self.layout.run(5_000);
        }
    }

    /// The scene's node keys and links, as the layout takes them.
    fn layout_input(scene: &Scene) -> (Vec<&str>, Vec<Link>) {
        let keys: Vec<&str> = scene.nodes.iter().map(|n| &*n.key).collect();
        let mut links: Vec<Link> = Vec::with_capacity(scene.edges.len() + scene.nodes.len());
        for (i, n) in scene.nodes.iter().enumerate() {
            if let Some(s) = n.server {
                links.push(Link {
                    from: i,
                    to: s as usize,
                    kind: LinkKind::Member,
                });
            }
        }
        for e in &scene.edges {
            links.push(Link {
                from: e.from as usize,
                to: e.to as usize,
                kind: LinkKind::Call,
            });
        }
        (keys, links)
    }

    /// Forgets every position and lays the map out afresh.
    fn relayout(&mut self) {
        let (keys, links) = Self::layout_input(&self.scene);
        self.layout_ids = self.layout.reset(&keys, &links);
        if keys.len() <= SETTLE_AT_ONCE_MAX {
            self.layout.run(5_000);
        }
        self.map.camera.user_moved = false;
    }
}

pub fn presence_view_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut PresenceViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    state.refresh(model, now_nanos);
    egui::Panel::top("presence_toolbar").show(ui, |ui| toolbar_ui(ui, state));
    if state.selected_index().is_some() {
        egui::Panel::right("presence_details")
            .resizable(true)
            .default_size(380.0)
            .min_size(260.0)
            .show(ui, |ui| {
                details::details_ui(ui, model, state, now_nanos, actions)
            });
    }
    egui::CentralPanel::default().show(ui, |ui| match state.mode {
        Mode::Map => graph::map_ui(ui, model, state, now_nanos, actions),
        Mode::Table => table::table_ui(ui, state, now_nanos, actions),
    });
}

fn toolbar_ui(ui: &mut Ui, state: &mut PresenceViewState) {
    ui.horizontal(|ui| {
        ui.selectable_value(&mut state.mode, Mode::Map, "Map").on_hover_text("Who is there and who calls whom");
        ui.selectable_value(&mut state.mode, Mode::Table, "Table").on_hover_text("The same participants as a sortable table");
        ui.separator();
        let label = ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut state.query)
                .hint_text("name, dialect, kind, status")
                .desired_width(220.0),
        )
        .labelled_by(label.id)
        .on_hover_text("Every word must match a participant's name, id, kind, dialect or status (e.g. \"offline a2a\")");
        if !state.query.is_empty() && ui.button("Clear").clicked() {
            state.query.clear();
        }
        if state.mode == Mode::Map {
            ui.separator();
            if ui.button("Fit").on_hover_text("Fit the whole map in view (double-click the background too)").clicked() {
                state.map.camera.user_moved = false;
            }
            let mut pulses = !state.pulses_off;
            if ui.checkbox(&mut pulses, "Pulses").on_hover_text("A dot runs along an edge for every call").changed() {
                state.pulses_off = !pulses;
            }
            let mut legend = !state.legend_hidden;
            if ui.checkbox(&mut legend, "Legend").changed() {
                state.legend_hidden = !legend;
            }
            if ui
                .button("Re-layout")
                .on_hover_text("Forget every position (pinned ones too) and lay the map out afresh")
                .clicked()
            {
                state.relayout();
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let scene = &state.scene;
            let participants = scene.nodes.iter().filter(|n| n.participant.is_some()).count();
            let mut summary = format!(
                "{} participants, {} online, {} call edges",
                format_count(participants as u64),
                format_count(scene.online_count() as u64),
                format_count(scene.edges.len() as u64)
            );
            if !state.layout.is_settled() {
                summary.push_str(", settling");
            }
            let label = ui.label(RichText::new(summary).color(Theme::TEXT_MUTED));
            if scene.folded_calls > 0 {
                label.on_hover_text(format!(
                    "{} calls are not drawn: the model's edge table was full and folded them into (other)",
                    format_count(scene.folded_calls)
                ));
            }
        });
    });
}

/// Short dialect code for badges.
fn dialect_badge(d: crate::protocol::Dialect) -> &'static str {
    use crate::protocol::Dialect;
    match d {
        Dialect::MqttAgentMcp => "MCP",
        Dialect::MqttAgentA2a => "A2A",
        Dialect::EmqxMcp => "EMQX MCP",
        Dialect::EmqxA2a => "EMQX A2A",
        Dialect::OpenMas => "OpenMAS",
        Dialect::Mqtt5Rpc => "MQTT5 RPC",
        Dialect::JsonRpc => "JSON-RPC",
        Dialect::Raw => "raw",
    }
}

/// Long dialect name for the legend and the details.
fn dialect_name(d: crate::protocol::Dialect) -> &'static str {
    use crate::protocol::Dialect;
    match d {
        Dialect::MqttAgentMcp => "MQTT.Agent MCP",
        Dialect::MqttAgentA2a => "MQTT.Agent A2A",
        Dialect::EmqxMcp => "EMQX MCP over MQTT",
        Dialect::EmqxA2a => "EMQX A2A over MQTT",
        Dialect::OpenMas => "OpenMAS",
        Dialect::Mqtt5Rpc => "MQTT 5 request/response",
        Dialect::JsonRpc => "JSON-RPC",
        Dialect::Raw => "raw MQTT",
    }
}

fn status_color(status: crate::protocol::Status) -> egui::Color32 {
    use crate::protocol::Status;
    match status {
        Status::Online => Theme::STATUS_ONLINE,
        Status::Stale => Theme::STATUS_STALE,
        Status::Offline => Theme::STATUS_OFFLINE,
        Status::Unknown => Theme::STATUS_UNKNOWN,
    }
}

fn node_color(kind: NodeKind, status: crate::protocol::Status) -> egui::Color32 {
    if kind == NodeKind::Endpoint {
        Theme::MAP_ENDPOINT
    } else {
        status_color(status)
    }
}
