//! The map's camera: zoom about the pointer, pan, fit-to-view, focus on a node, and the world-space dot grid.

use egui::epaint::Mesh;
use egui::{Rect, Shape, Ui, Vec2, pos2};

use crate::ui::theme::Theme;

use super::PresenceViewState;

pub(super) const MIN_ZOOM: f32 = 0.04;

pub(super) const MAX_ZOOM: f32 = 3.0;

/// Fit-to-view never zooms in past this (a tiny mesh should not look gigantic).
pub(super) const FIT_MAX_ZOOM: f32 = 1.25;

/// World margin around the nodes when fitting (room for labels).
pub(super) const FIT_MARGIN: f32 = 70.0;

#[derive(Debug, Clone, Copy)]
pub(super) struct Camera {
    /// World point at the centre of the canvas.
    pub(super) center: [f32; 2],
    /// Points per world unit.
    pub(super) zoom: f32,
    /// The user panned or zoomed: stop fitting the map to the view.
    pub(super) user_moved: bool,
}

impl Default for Camera {
    fn default() -> Self {
        Camera {
            center: [0.0, 0.0],
            zoom: 1.0,
            user_moved: false,
        }
    }
}

pub(super) fn camera_input(
    ui: &Ui,
    state: &mut PresenceViewState,
    rect: Rect,
    canvas: &egui::Response,
) {
    if let Some(key) = state.map.focus.take()
        && let Some(i) = state.scene.find(&key)
    {
        let r = state.map.cache.rep.get(i as usize).copied().unwrap_or(i);
        state.map.camera.center = state.world(r);
        state.map.camera.zoom = state.map.camera.zoom.max(0.8);
        state.map.camera.user_moved = true;
    }
    if !state.map.camera.user_moved {
        fit(state, rect);
    }
    let cam = &mut state.map.camera;
    if canvas.dragged() {
        let delta = canvas.drag_delta() / cam.zoom;
        cam.center[0] -= delta.x;
        cam.center[1] -= delta.y;
        cam.user_moved = true;
    }
    if canvas.double_clicked() {
        cam.user_moved = false;
    } else if canvas.clicked() {
        state.selected = None;
    }
    // Anywhere over the map, nodes included (a node under the pointer must not block zooming).
    if ui.rect_contains_pointer(rect) {
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = pinch * (scroll * 0.0015).exp();
        if (factor - 1.0).abs() > 1e-4 {
            let cam = &mut state.map.camera;
            let pointer = ui.input(|i| i.pointer.hover_pos()).unwrap_or(rect.center());
            let offset = pointer - rect.center();
            let world = [
                cam.center[0] + offset.x / cam.zoom,
                cam.center[1] + offset.y / cam.zoom,
            ];
            cam.zoom = (cam.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
            cam.center = [
                world[0] - offset.x / cam.zoom,
                world[1] - offset.y / cam.zoom,
            ];
            cam.user_moved = true;
        }
    }
}

/// Zoom and centre so every visible node (and its label) is in view.
pub(super) fn fit(state: &mut PresenceViewState, rect: Rect) {
    let mut min = [f32::MAX, f32::MAX];
    let mut max = [f32::MIN, f32::MIN];
    for &i in &state.map.cache.nodes {
        let p = state.world(i);
        min = [min[0].min(p[0]), min[1].min(p[1])];
        max = [max[0].max(p[0]), max[1].max(p[1])];
    }
    if min[0] > max[0] {
        return;
    }
    let w = (max[0] - min[0]) + 2.0 * FIT_MARGIN;
    let h = (max[1] - min[1]) + 2.0 * FIT_MARGIN + 30.0;
    let zoom = (rect.width() / w)
        .min(rect.height() / h)
        .clamp(MIN_ZOOM, FIT_MAX_ZOOM);
    state.map.camera.zoom = zoom;
    state.map.camera.center = [(min[0] + max[0]) / 2.0, (min[1] + max[1]) / 2.0 + 10.0];
}

/// A faint dot grid in world space: it moves with pan and zoom, so motion reads as motion.
pub(super) fn grid_ui(painter: &egui::Painter, rect: Rect, cam: &Camera) {
    let mut step = 60.0 * cam.zoom;
    while step < 18.0 {
        step *= 2.0;
    }
    let origin = pos2(
        rect.center().x - cam.center[0] * cam.zoom,
        rect.center().y - cam.center[1] * cam.zoom,
    );
    let start_x = origin.x + ((rect.left() - origin.x) / step).ceil() * step;
    let start_y = origin.y + ((rect.top() - origin.y) / step).ceil() * step;
    let mut mesh = Mesh::default();
    let mut y = start_y;
    while y < rect.bottom() {
        let mut x = start_x;
        while x < rect.right() {
            let r = Rect::from_center_size(pos2(x, y), Vec2::splat(1.6));
            mesh.add_colored_rect(r, Theme::MAP_GRID_DOT);
            x += step;
        }
        y += step;
    }
    painter.add(Shape::mesh(mesh));
}
