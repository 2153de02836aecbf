//! Painting the map: node shapes, badges, labels, edges as one mesh, pulses, offline flash and fade.

use egui::epaint::{Mesh, Vertex, WHITE_UV};
use egui::{Align2, Color32, FontId, Pos2, Rect, Shape, Stroke, StrokeKind, Vec2, pos2, vec2};

use crate::protocol::Status;
use crate::ui::theme::Theme;
use crate::ui::widgets::{format_age_nanos, format_count};

use super::activity::PULSE_NANOS;
use super::scene::{NodeKind, Scene, SceneNode};
use super::visible::DrawCache;
use super::{PresenceViewState, dialect_badge, node_color, status_color};

/// An offline node flashes for this long after it went offline, then fades.
pub(super) const FLASH_NANOS: u64 = 1_400_000_000;

pub(super) const FADE_NANOS: u64 = 2_000_000_000;

/// What an offline node fades to.
pub(super) const OFFLINE_ALPHA: f32 = 0.38;

pub(super) const STALE_ALPHA: f32 = 0.8;

pub(super) const LABEL_MAX_CHARS: usize = 28;

/// Node size in world units before the zoom clamp.
pub(super) fn node_radius(kind: NodeKind) -> f32 {
    match kind {
        NodeKind::Agent => 16.0,
        NodeKind::Server => 17.0,
        NodeKind::Tool => 10.0,
        NodeKind::Client => 12.0,
        NodeKind::Endpoint => 9.0,
    }
}

/// How big nodes and text draw at a zoom: they follow the zoom, within limits (always findable, never huge).
pub(super) fn ink_scale(zoom: f32) -> f32 {
    zoom.clamp(0.3, 1.5)
}

pub(super) fn with_alpha(c: Color32, alpha: f32) -> Color32 {
    c.gamma_multiply(alpha.clamp(0.0, 1.0))
}

/// Error rate to colour: slate for none, amber around 10 %, red from 50 %.
pub(super) fn edge_color(error_rate: f32) -> Color32 {
    if error_rate <= 0.0 {
        Theme::MAP_EDGE_OK
    } else if error_rate < 0.1 {
        Theme::MAP_EDGE_OK.lerp_to_gamma(Theme::MAP_EDGE_WARN, 0.35 + 0.65 * error_rate / 0.1)
    } else {
        Theme::MAP_EDGE_WARN
            .lerp_to_gamma(Theme::MAP_EDGE_ERROR, ((error_rate - 0.1) / 0.4).min(1.0))
    }
}

/// Calls per minute to a line width in points (before the zoom factor): thin when idle, saturating.
pub(super) fn edge_width(per_minute: f64) -> f32 {
    1.4 + 5.0 * (1.0 - (-per_minute / 30.0).exp()) as f32
}

pub(super) fn node_alpha(node: &SceneNode, now_nanos: u64) -> f32 {
    match node.status {
        Status::Offline => match node.went_offline_at_nanos {
            Some(at) if now_nanos >= at && now_nanos - at < FADE_NANOS => {
                let t = (now_nanos - at) as f32 / FADE_NANOS as f32;
                1.0 + (OFFLINE_ALPHA - 1.0) * t
            }
            _ => OFFLINE_ALPHA,
        },
        Status::Stale => STALE_ALPHA,
        _ => 1.0,
    }
}

/// 0..1 through the offline flash, if one is running.
pub(super) fn flash_phase(node: &SceneNode, now_nanos: u64) -> Option<f32> {
    let at = node.went_offline_at_nanos?;
    (node.status == Status::Offline && now_nanos >= at && now_nanos - at < FLASH_NANOS)
        .then(|| (now_nanos - at) as f32 / FLASH_NANOS as f32)
}

pub(super) fn truncate_label(text: &str) -> String {
    if text.chars().count() <= LABEL_MAX_CHARS {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LABEL_MAX_CHARS - 1).collect();
        format!("{head}\u{2026}")
    }
}

/// The status line under a node's name.
pub(super) fn status_line(node: &SceneNode, now_nanos: u64) -> String {
    if node.kind == NodeKind::Endpoint {
        return format!("{} calls", format_count(node.calls_in));
    }
    match (node.status, node.last_seen_nanos) {
        (Status::Online, Some(at)) => format!("online, seen {}", format_age_nanos(now_nanos, at)),
        (status, Some(at)) => format!(
            "{}, last seen {}",
            status.as_str(),
            format_age_nanos(now_nanos, at)
        ),
        (status, None) => format!("{}, never seen alive", status.as_str()),
    }
}

pub(super) fn segment_visible(rect: Rect, a: Pos2, b: Pos2) -> bool {
    let bounds = Rect::from_two_pos(a, b);
    bounds.intersects(rect)
}

/// Where an edge starts and ends: at the nodes' rims, shifted sideways when both directions are drawn.
pub(super) fn edge_ends(
    a: Pos2,
    b: Pos2,
    ra: f32,
    rb: f32,
    reverse: bool,
    width: f32,
) -> (Pos2, Pos2) {
    let d = b - a;
    let len = d.length();
    if len < 1e-3 {
        return (a, a);
    }
    let dir = d / len;
    let side = if reverse {
        vec2(-dir.y, dir.x) * (2.5 + width * 0.6)
    } else {
        Vec2::ZERO
    };
    let ra = ra.min(len * 0.45);
    let rb = rb.min(len * 0.45);
    (a + dir * ra + side, b - dir * rb + side)
}

pub(super) fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let len2 = ab.length_sq();
    if len2 < 1e-6 {
        return (p - a).length();
    }
    let t = ((p - a).dot(ab) / len2).clamp(0.0, 1.0);
    (p - (a + ab * t)).length()
}

/// One edge as triangles in a shared mesh (thousands of edges cost one shape), with a soft
/// 1-point fringe for anti-aliasing and an arrowhead at the callee.
pub(super) fn add_edge(
    mesh: &mut Mesh,
    start: Pos2,
    end: Pos2,
    width: f32,
    arrow: f32,
    color: Color32,
) {
    let d = end - start;
    let len = d.length();
    if len < 1.0 {
        return;
    }
    let dir = d / len;
    let normal = vec2(-dir.y, dir.x);
    let arrow = arrow.min(len * 0.6);
    let shaft_end = end - dir * (arrow * 0.8);
    let half = width * 0.5;
    let clear = Color32::TRANSPARENT;
    // Shaft: core quad plus a fringe on each side.
    let base = mesh.vertices.len() as u32;
    for (p, offset, c) in [
        (start, half + 1.0, clear),
        (start, half, color),
        (start, -half, color),
        (start, -half - 1.0, clear),
        (shaft_end, half + 1.0, clear),
        (shaft_end, half, color),
        (shaft_end, -half, color),
        (shaft_end, -half - 1.0, clear),
    ] {
        mesh.vertices.push(Vertex {
            pos: p + normal * offset,
            uv: WHITE_UV,
            color: c,
        });
    }
    for k in 0..3u32 {
        let (a, b) = (base + k, base + k + 1);
        let (c, e) = (base + 4 + k, base + 5 + k);
        mesh.indices.extend_from_slice(&[a, b, c, b, e, c]);
    }
    if arrow > 0.0 {
        let back = end - dir * arrow;
        let wing = arrow * 0.5;
        let tip = mesh.vertices.len() as u32;
        for p in [end, back + normal * wing, back - normal * wing] {
            mesh.vertices.push(Vertex {
                pos: p,
                uv: WHITE_UV,
                color,
            });
        }
        mesh.indices.extend_from_slice(&[tip, tip + 1, tip + 2]);
    }
}

pub(super) fn group_halo(
    painter: &egui::Painter,
    scene: &Scene,
    cache: &DrawCache,
    screen: &[Pos2],
    server: u32,
    ink: f32,
) {
    let centre = screen[server as usize];
    let tools: Vec<Pos2> = scene.nodes[server as usize]
        .tools
        .iter()
        .filter(|&&t| cache.shown[t as usize])
        .map(|&t| screen[t as usize])
        .collect();
    let radius = tools
        .iter()
        .map(|p| (*p - centre).length())
        .fold(0.0f32, f32::max)
        + 22.0 * ink.max(0.6);
    painter.circle(
        centre,
        radius,
        Theme::MAP_GROUP_FILL,
        Stroke::new(1.0, Theme::MAP_GROUP_STROKE),
    );
    for p in tools {
        painter.line_segment(
            [centre, p],
            Stroke::new(1.2 * ink.max(0.6), Theme::MAP_MEMBER_LINE),
        );
    }
}

pub(super) fn pulses_ui(
    painter: &egui::Painter,
    state: &PresenceViewState,
    screen: &[Pos2],
    rect: Rect,
    now_nanos: u64,
    ink: f32,
) {
    let cache = &state.map.cache;
    for pulse in state.activity.pulses() {
        let (Some(a), Some(b)) = (
            state.scene.caller(pulse.dialect, &pulse.caller),
            state.scene.callee(pulse.dialect, &pulse.callee),
        ) else {
            continue;
        };
        let (a, b) = (cache.rep[a as usize], cache.rep[b as usize]);
        if a == b
            || !cache.shown[a as usize]
            || !cache.shown[b as usize]
            || now_nanos < pulse.at_nanos
        {
            continue;
        }
        let t = (now_nanos - pulse.at_nanos) as f32 / PULSE_NANOS as f32;
        let (pa, pb) = (screen[a as usize], screen[b as usize]);
        let p = pa + (pb - pa) * ease(t);
        if !rect.contains(p) {
            continue;
        }
        let fade = if t > 0.8 { (1.0 - t) / 0.2 } else { 1.0 };
        let r = 3.2 * ink.max(0.7);
        painter.circle_filled(p, r * 2.2, with_alpha(Theme::MAP_PULSE, 0.18 * fade));
        painter.circle_filled(p, r, with_alpha(Theme::MAP_PULSE, fade));
    }
}

pub(super) fn ease(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Paints one node's body: shape by kind, colour by status, dialect badge, folded-tools count, offline flash.
/// Returns whether it is animating.
pub(super) fn node_ui(
    painter: &egui::Painter,
    node: &SceneNode,
    pos: Pos2,
    ink: f32,
    now_nanos: u64,
    folded_tools: u32,
    badge: bool,
) -> bool {
    let r = node_radius(node.kind) * ink;
    let alpha = node_alpha(node, now_nanos);
    let fill = with_alpha(node_color(node.kind, node.status), alpha);
    let outline = Stroke::new(1.5, Theme::MAP_NODE_OUTLINE);
    paint_shape(painter, node.kind, pos, r, fill, outline);
    let mut animating = alpha < 1.0
        && node.status == Status::Offline
        && node
            .went_offline_at_nanos
            .is_some_and(|at| now_nanos.saturating_sub(at) < FADE_NANOS);
    if let Some(t) = flash_phase(node, now_nanos) {
        let ring = r + 4.0 + 30.0 * t * ink.max(0.6);
        painter.circle_stroke(
            pos,
            ring,
            Stroke::new(
                3.0 * (1.0 - t) + 0.5,
                with_alpha(Theme::STATUS_OFFLINE, 1.0 - t),
            ),
        );
        animating = true;
    }
    if folded_tools > 0 {
        let text = format!("+{folded_tools}");
        let font = FontId::proportional(label_size(10.0 * ink.clamp(0.8, 1.2)));
        let at = pos + vec2(r * 0.8, r * 0.8);
        let galley = painter.layout_no_wrap(text, font, Theme::MAP_BADGE_TEXT);
        let pill = Rect::from_center_size(at, galley.size() + vec2(8.0, 2.0));
        painter.rect_filled(pill, 6.0, with_alpha(Theme::MAP_LABEL, alpha));
        painter.galley(
            pill.center() - galley.size() / 2.0,
            galley,
            Theme::MAP_BADGE_TEXT,
        );
    }
    if badge && node.kind != NodeKind::Endpoint {
        let font = FontId::proportional(label_size(9.0 * ink.clamp(0.9, 1.2)));
        let galley = painter.layout_no_wrap(
            dialect_badge(node.dialect).to_owned(),
            font,
            Theme::MAP_BADGE_TEXT,
        );
        let size = galley.size() + vec2(6.0, 1.0);
        let min = pos + vec2(r * 0.55, -r - size.y * 0.6);
        let pill = Rect::from_min_size(min, size);
        painter.rect_filled(pill, 4.0, with_alpha(Theme::dialect(node.dialect), alpha));
        painter.galley(
            pill.center() - galley.size() / 2.0,
            galley,
            Theme::MAP_BADGE_TEXT,
        );
    }
    animating
}

/// The shape of a kind: agent disc, server rounded square, tool diamond, client ring, endpoint hollow square.
pub(super) fn paint_shape(
    painter: &egui::Painter,
    kind: NodeKind,
    pos: Pos2,
    r: f32,
    fill: Color32,
    outline: Stroke,
) {
    match kind {
        NodeKind::Agent => {
            painter.circle(pos, r, fill, outline);
            // Decorations only where they can be seen (a zoomed-out map of 1 000 nodes skips them).
            if r >= 5.5 {
                painter.circle_filled(pos, r * 0.32, Theme::MAP_NODE_OUTLINE.gamma_multiply(0.55));
            }
        }
        NodeKind::Server => {
            let rect = Rect::from_center_size(pos, Vec2::splat(2.0 * r * 0.92));
            painter.rect(rect, r * 0.3, fill, outline, StrokeKind::Outside);
            if r < 6.0 {
                return;
            }
            // Three "rack" lines read as a server at a glance.
            let line = Stroke::new(
                (r * 0.12).max(1.0),
                Theme::MAP_NODE_OUTLINE.gamma_multiply(0.6),
            );
            for k in [-1.0f32, 0.0, 1.0] {
                let y = pos.y + k * r * 0.38;
                painter.line_segment([pos2(pos.x - r * 0.5, y), pos2(pos.x + r * 0.5, y)], line);
            }
        }
        NodeKind::Tool => {
            let pts = vec![
                pos + vec2(0.0, -r * 1.15),
                pos + vec2(r * 1.15, 0.0),
                pos + vec2(0.0, r * 1.15),
                pos + vec2(-r * 1.15, 0.0),
            ];
            painter.add(Shape::convex_polygon(pts, fill, outline));
        }
        NodeKind::Client => {
            painter.circle(
                pos,
                r,
                Theme::MAP_BACKGROUND,
                Stroke::new((r * 0.38).max(1.5), fill),
            );
        }
        NodeKind::Endpoint => {
            let rect = Rect::from_center_size(pos, Vec2::splat(2.0 * r));
            painter.rect(
                rect,
                2.0,
                Theme::MAP_BACKGROUND,
                Stroke::new((r * 0.25).max(1.2), fill),
                StrokeKind::Inside,
            );
        }
    }
}

pub(super) fn label_ui(
    painter: &egui::Painter,
    node: &SceneNode,
    pos: Pos2,
    ink: f32,
    now_nanos: u64,
    detail: bool,
    alpha: f32,
) {
    let r = node_radius(node.kind) * ink;
    let name_font = FontId::proportional(label_size(12.5 * ink.clamp(0.85, 1.15)));
    let name = painter.layout_no_wrap(
        truncate_label(&node.label),
        name_font,
        with_alpha(Theme::MAP_LABEL, alpha.max(0.6)),
    );
    let mut top = pos.y + r + 4.0;
    let name_rect = Rect::from_min_size(pos2(pos.x - name.size().x / 2.0, top), name.size());
    painter.rect_filled(
        name_rect.expand2(vec2(3.0, 0.0)),
        3.0,
        Theme::MAP_LABEL_BACKDROP,
    );
    painter.galley(name_rect.min, name, Theme::MAP_LABEL);
    top = name_rect.bottom();
    if detail {
        let color = if node.kind == NodeKind::Endpoint {
            Theme::MAP_LABEL_MUTED
        } else {
            status_color(node.status)
        };
        let line = painter.layout_no_wrap(
            status_line(node, now_nanos),
            FontId::proportional(label_size(10.5 * ink.clamp(0.9, 1.1))),
            with_alpha(color, alpha.max(0.7)),
        );
        let line_rect = Rect::from_min_size(pos2(pos.x - line.size().x / 2.0, top), line.size());
        painter.rect_filled(
            line_rect.expand2(vec2(3.0, 0.0)),
            3.0,
            Theme::MAP_LABEL_BACKDROP,
        );
        painter.galley(line_rect.min, line, color);
    }
}

pub(super) fn hint_ui(painter: &egui::Painter, rect: Rect, state: &PresenceViewState) {
    let mut text = String::from(
        "scroll to zoom, drag to pan, drag a node to pin it, double-click a server to fold its tools",
    );
    let total = state.scene.nodes.len();
    if state.map.cache.matched < total {
        text = format!(
            "{} of {} shown (search)   {text}",
            state.map.cache.nodes.len(),
            total
        );
    }
    painter.text(
        rect.right_bottom() + vec2(-10.0, -8.0),
        Align2::RIGHT_BOTTOM,
        text,
        FontId::proportional(11.0),
        Theme::TEXT_MUTED,
    );
}

/// Label sizes in half-point steps: the map's zoom changes `ink` continuously, and every new
/// size means new glyphs rasterized into the font atlas and new text layouts (a 1-3 ms frame).
fn label_size(points: f32) -> f32 {
    (points * 2.0).round() / 2.0
}
