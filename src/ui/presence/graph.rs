//! The map canvas: camera (zoom, pan, fit), call edges, pulses, nodes with badges and labels, hover and drag.

use egui::epaint::Mesh;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Ui, Vec2, pos2, vec2};

use crate::model::Model;
use crate::protocol::Status;
use crate::ui::Action;
use crate::ui::theme::Theme;

use super::PresenceViewState;
use super::camera::{Camera, camera_input, grid_ui};
use super::paint::{
    add_edge, distance_to_segment, edge_color, edge_ends, edge_width, group_halo, hint_ui,
    ink_scale, label_ui, node_alpha, node_radius, node_ui, pulses_ui, segment_visible, with_alpha,
};
use super::scene::NodeKind;
use super::tooltips::{edge_tooltip_ui, hovered_edge_p95, node_menu_ui, node_tooltip_ui};
use super::visible::{DrawCache, DrawEdge};

/// Labels show when zoomed in at least this much (or when the map is small, or on hover).
pub(super) const LABEL_ZOOM: f32 = 0.45;
pub(super) const DETAIL_ZOOM: f32 = 0.7;
/// Below this many nodes on screen every label shows whatever the zoom.
pub(super) const ALWAYS_LABEL_NODES: usize = 40;
/// Names show for at most this many nodes on screen; status lines and badges for fewer.
pub(super) const MAX_LABELLED_NODES: usize = 300;
pub(super) const MAX_DETAILED_NODES: usize = 120;
pub(super) const BADGE_ZOOM: f32 = 0.55;
/// A pointer this close to an edge (points) hovers it.
pub(super) const EDGE_HOVER_DISTANCE: f32 = 5.0;

#[derive(Default)]
pub(super) struct MapState {
    pub(super) camera: Camera,
    /// Centre on this node next frame (another view selected it).
    pub(super) focus: Option<Box<str>>,
    pub(super) cache: DrawCache,
    /// Screen positions of scene nodes this frame (scratch).
    pub(super) screen: Vec<Pos2>,
    pub(super) hovered_edge: Option<usize>,
    /// The node the pointer is pressed on or dragging, and the one whose context menu is open:
    /// they stay widgets while the pointer is elsewhere.
    pub(super) held: Option<u32>,
    pub(super) menu: Option<u32>,
    /// The hovered edge's p95, by (scene generation, scene edge).
    pub(super) edge_p95: Option<((u64, u32), Option<u64>)>,
}

pub(super) fn map_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut PresenceViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    state.ensure_draw_cache();
    let (rect, canvas) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    canvas.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Presence map"));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Theme::MAP_BACKGROUND);

    if state.scene.nodes.is_empty() {
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "No participants yet.\nAgents, tool servers, tools and their callers appear here\nas soon as they announce themselves or call each other.",
            FontId::proportional(15.0),
            Theme::TEXT_MUTED,
        );
        return;
    }
    if state.map.cache.nodes.is_empty() {
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            format!("No participant matches \"{}\".", state.query.trim()),
            FontId::proportional(15.0),
            Theme::TEXT_MUTED,
        );
        return;
    }

    camera_input(ui, state, rect, &canvas);
    let cam = state.map.camera;
    let to_screen = |p: [f32; 2]| {
        pos2(
            rect.center().x + (p[0] - cam.center[0]) * cam.zoom,
            rect.center().y + (p[1] - cam.center[1]) * cam.zoom,
        )
    };
    grid_ui(&painter, rect, &cam);

    let n = state.scene.nodes.len();
    let mut screen = std::mem::take(&mut state.map.screen);
    screen.clear();
    screen.resize(n, Pos2::ZERO);
    for &i in &state.map.cache.nodes {
        screen[i as usize] = to_screen(state.world(i));
    }
    let ink = ink_scale(cam.zoom);
    let selected = state.selected_index();

    // Nodes are widgets (hover, click, drag, accessibility), registered before painting so this
    // frame's hover shapes what is drawn. With a screen reader (or a test) listening every visible
    // node is one; otherwise only the few that can be interacted with this frame: the one under
    // the pointer, the one held, the one whose menu is open (1 000 widgets a frame cost ~1.5 ms).
    let visible_rect = rect.expand(24.0);
    let accessible = ui.ctx().has_accesskit_node(canvas.id) && !state.pointer_hit_testing;
    let targets: Vec<u32> = if accessible {
        state
            .map
            .cache
            .nodes
            .iter()
            .copied()
            .filter(|&i| visible_rect.contains(screen[i as usize]))
            .collect()
    } else {
        let mut t: Vec<u32> = Vec::with_capacity(3);
        let pointer = ui
            .input(|i| i.pointer.hover_pos())
            .filter(|p| rect.contains(*p));
        if let Some(p) = pointer {
            // Topmost first: the paint order, reversed.
            let under = state.map.cache.nodes.iter().rev().copied().find(|&i| {
                let node = &state.scene.nodes[i as usize];
                let r = (node_radius(node.kind) * ink).max(6.0);
                (screen[i as usize] - p).length_sq() <= r * r
            });
            t.extend(under);
        }
        for i in [state.map.held, state.map.menu].into_iter().flatten() {
            if !t.contains(&i)
                && state
                    .map
                    .cache
                    .shown
                    .get(i as usize)
                    .copied()
                    .unwrap_or(false)
            {
                t.push(i);
            }
        }
        t
    };
    let mut hovered_node = None;
    let mut held = None;
    let mut menu = None;
    for i in targets {
        let pos = screen[i as usize];
        let node = &state.scene.nodes[i as usize];
        let r = node_radius(node.kind) * ink;
        let is_server = node.kind == NodeKind::Server && !node.tools.is_empty();
        let hit = Rect::from_center_size(pos, Vec2::splat((2.0 * r).max(12.0)));
        let response = ui.interact(
            hit,
            ui.scope_id().with(("presence_node", &*node.key)),
            Sense::click_and_drag(),
        );
        let is_selected = selected == Some(i);
        response.widget_info(|| {
            egui::WidgetInfo::selected(egui::Role::Button, true, is_selected, &node.label)
        });
        if response.hovered() || response.dragged() {
            hovered_node = Some(i);
        }
        if response.dragged() || response.is_pointer_button_down_on() {
            held = Some(i);
        }
        if response.dragged() {
            // The map stops fitting itself while someone arranges it.
            state.map.camera.user_moved = true;
            let delta = response.drag_delta() / cam.zoom;
            // Held still, it stays put (and lets its neighbours settle).
            if let Some(&id) = state
                .layout_ids
                .get(i as usize)
                .filter(|_| delta != Vec2::ZERO)
            {
                let p = state.layout.position(id);
                state.layout.drag_to(id, [p[0] + delta.x, p[1] + delta.y]);
                screen[i as usize] = to_screen(state.layout.position(id));
            }
        }
        if response.clicked() {
            state.select_index(i, actions);
        }
        if response.double_clicked() && is_server {
            let folded = state.is_folded(i);
            state.set_folded(i, !folded);
        }
        let folded = state.is_folded(i);
        let response =
            response.on_hover_ui(|ui| node_tooltip_ui(ui, &state.scene, i, now_nanos, folded));
        if response
            .context_menu(|ui| node_menu_ui(ui, state, i, actions))
            .is_some()
        {
            menu = Some(i);
        }
    }
    state.map.held = held;
    state.map.menu = menu;

    // Edges, then member ties and pulses, then nodes on top.
    let cache = &state.map.cache;
    let related = |e: &DrawEdge| {
        let focus = hovered_node.or(selected);
        focus.is_some_and(|f| {
            cache
                .rep
                .get(f as usize)
                .is_some_and(|&r| r == e.from || r == e.to)
        })
    };
    for &s in &cache.groups {
        group_halo(&painter, &state.scene, cache, &screen, s, ink);
    }
    let mut edges_mesh = Mesh::default();
    let mut hovered_edge = None;
    let pointer = ui
        .input(|i| i.pointer.hover_pos())
        .filter(|p| rect.contains(*p) && canvas.hovered());
    let mut best_distance = EDGE_HOVER_DISTANCE;
    let dim_others = hovered_node.is_some();
    for (d, e) in cache.edges.iter().enumerate() {
        let (a, b) = (screen[e.from as usize], screen[e.to as usize]);
        if !segment_visible(rect, a, b) {
            continue;
        }
        let (from, to) = (
            &state.scene.nodes[e.from as usize],
            &state.scene.nodes[e.to as usize],
        );
        let per_minute: f64 = cache.slots[e.slots.clone()]
            .iter()
            .map(|&s| state.activity.per_minute(s, now_nanos))
            .sum();
        let width = edge_width(per_minute) * ink.max(0.5);
        let rate = if e.count == 0 {
            0.0
        } else {
            e.errors as f32 / e.count as f32
        };
        let mut alpha = if from.status == Status::Offline || to.status == Status::Offline {
            0.45
        } else {
            0.9
        };
        let is_related = related(e);
        if dim_others && !is_related {
            alpha *= 0.25;
        }
        let mut color = with_alpha(edge_color(rate), alpha);
        if is_related {
            color = edge_color(rate).lerp_to_gamma(Color32::WHITE, 0.25);
        }
        let (start, end) = edge_ends(
            a,
            b,
            node_radius(from.kind) * ink + 2.0,
            node_radius(to.kind) * ink + 3.0,
            e.reverse,
            width,
        );
        if let Some(p) = pointer {
            let dist = distance_to_segment(p, start, end);
            if dist < best_distance && hovered_node.is_none() {
                best_distance = dist;
                hovered_edge = Some(d);
            }
        }
        let arrow = if cam.zoom >= 0.25 {
            5.0 + 1.6 * width
        } else {
            0.0
        };
        add_edge(&mut edges_mesh, start, end, width, arrow, color);
    }
    if let Some(d) = hovered_edge {
        let e = &cache.edges[d];
        let (a, b) = (screen[e.from as usize], screen[e.to as usize]);
        let (from, to) = (
            &state.scene.nodes[e.from as usize],
            &state.scene.nodes[e.to as usize],
        );
        let per_minute: f64 = cache.slots[e.slots.clone()]
            .iter()
            .map(|&s| state.activity.per_minute(s, now_nanos))
            .sum();
        let width = edge_width(per_minute) * ink.max(0.5) + 2.0;
        let (start, end) = edge_ends(
            a,
            b,
            node_radius(from.kind) * ink + 2.0,
            node_radius(to.kind) * ink + 3.0,
            e.reverse,
            width,
        );
        let rate = if e.count == 0 {
            0.0
        } else {
            e.errors as f32 / e.count as f32
        };
        add_edge(
            &mut edges_mesh,
            start,
            end,
            width,
            7.0 + 1.6 * width,
            edge_color(rate).lerp_to_gamma(Color32::WHITE, 0.4),
        );
    }
    painter.add(Shape::mesh(edges_mesh));
    state.map.hovered_edge = hovered_edge;

    if !state.pulses_off {
        pulses_ui(&painter, state, &screen, rect, now_nanos, ink);
    }

    // Level of detail by how many nodes are on screen: text is what costs (and a crowd of labels
    // is unreadable anyway); hovering or selecting a node always shows its label.
    let on_screen = state
        .map
        .cache
        .nodes
        .iter()
        .filter(|&&i| visible_rect.contains(screen[i as usize]))
        .count();
    let show_labels = on_screen <= ALWAYS_LABEL_NODES
        || (cam.zoom >= LABEL_ZOOM && on_screen <= MAX_LABELLED_NODES);
    let few = on_screen <= ALWAYS_LABEL_NODES;
    let show_details = few || (cam.zoom >= DETAIL_ZOOM && on_screen <= MAX_DETAILED_NODES);
    let show_badges = few || (cam.zoom >= BADGE_ZOOM && on_screen <= MAX_DETAILED_NODES);
    let mut animating = false;
    for &i in &state.map.cache.nodes {
        let pos = screen[i as usize];
        if !visible_rect.contains(pos) {
            continue;
        }
        let node = &state.scene.nodes[i as usize];
        animating |= node_ui(
            &painter,
            node,
            pos,
            ink,
            now_nanos,
            state.map.cache.folded_tools[i as usize],
            show_badges,
        );
        let pinned = state
            .layout_ids
            .get(i as usize)
            .is_some_and(|&id| state.layout.is_pinned(id));
        if pinned {
            let r = node_radius(node.kind) * ink;
            painter.circle_filled(
                pos + vec2(-r * 0.75, -r * 0.75),
                2.5 * ink.max(0.8),
                Theme::MAP_SELECTION,
            );
        }
    }
    // Labels above every node, so none hides under a neighbour's disc.
    for &i in &state.map.cache.nodes {
        let pos = screen[i as usize];
        if !visible_rect.contains(pos) {
            continue;
        }
        let emphasised = Some(i) == selected || Some(i) == hovered_node;
        if show_labels || emphasised {
            let node = &state.scene.nodes[i as usize];
            label_ui(
                &painter,
                node,
                pos,
                ink,
                now_nanos,
                show_details || emphasised,
                node_alpha(node, now_nanos),
            );
        }
    }
    for (i, ring) in [
        (hovered_node, Theme::MAP_HOVER),
        (selected, Theme::MAP_SELECTION),
    ] {
        let Some(i) = i else { continue };
        let Some(&r) = state.map.cache.rep.get(i as usize) else {
            continue;
        };
        if !state
            .map
            .cache
            .shown
            .get(r as usize)
            .copied()
            .unwrap_or(false)
        {
            continue;
        }
        let node = &state.scene.nodes[r as usize];
        let radius = node_radius(node.kind) * ink + 5.0;
        painter.circle_stroke(screen[r as usize], radius, Stroke::new(2.0, ring));
    }

    if let Some(d) = state.map.hovered_edge {
        let p95 = hovered_edge_p95(model, state, d);
        canvas.show_tooltip_ui(|ui| edge_tooltip_ui(ui, state, d, p95, now_nanos));
    }
    if !state.legend_hidden {
        super::legend::legend_ui(&painter, rect, &state.scene);
    }
    hint_ui(&painter, rect, state);

    state.map.screen = screen;
    if animating || !state.layout.is_settled() || (!state.pulses_off && state.activity.has_pulses())
    {
        ui.ctx().request_repaint();
    }
}
