//! The map's legend, painted in a corner: shapes by kind, colours by status, what edges mean, dialect badges.

use std::collections::BTreeSet;

use egui::{Align2, FontId, Painter, Pos2, Rect, Stroke, Vec2, pos2, vec2};

use crate::protocol::Status;
use crate::ui::theme::Theme;

use super::paint::paint_shape;
use super::scene::{NodeKind, Scene};
use super::{dialect_badge, dialect_name, status_color};

const ROW_HEIGHT: f32 = 18.0;
const PAD: f32 = 8.0;
const FONT_SIZE: f32 = 11.0;

/// One legend item: a little picture, then its text.
enum Swatch {
    Shape(NodeKind),
    Status(Status),
    Edge(egui::Color32, f32),
    Badge(crate::protocol::Dialect),
}

pub(super) fn legend_ui(painter: &Painter, rect: Rect, scene: &Scene) {
    let dialects: BTreeSet<crate::protocol::Dialect> =
        scene.nodes.iter().map(|n| n.dialect).collect();
    let mut rows: Vec<Vec<(Swatch, String)>> = vec![
        vec![
            (Swatch::Shape(NodeKind::Agent), "agent".into()),
            (Swatch::Shape(NodeKind::Server), "MCP server".into()),
            (Swatch::Shape(NodeKind::Tool), "tool".into()),
            (Swatch::Shape(NodeKind::Client), "client".into()),
            (Swatch::Shape(NodeKind::Endpoint), "endpoint".into()),
        ],
        vec![
            (Swatch::Status(Status::Online), "online".into()),
            (Swatch::Status(Status::Stale), "stale".into()),
            (Swatch::Status(Status::Offline), "offline (faded)".into()),
            (Swatch::Status(Status::Unknown), "unknown".into()),
        ],
        vec![
            (Swatch::Edge(Theme::MAP_EDGE_OK, 2.0), "calls".into()),
            (Swatch::Edge(Theme::MAP_EDGE_WARN, 2.0), "some fail".into()),
            (Swatch::Edge(Theme::MAP_EDGE_ERROR, 2.0), "most fail".into()),
            (
                Swatch::Edge(Theme::MAP_EDGE_OK, 5.0),
                "width: calls/min".into(),
            ),
        ],
    ];
    let mut row = Vec::new();
    for d in dialects {
        if row.len() == 3 {
            rows.push(std::mem::take(&mut row));
        }
        row.push((Swatch::Badge(d), dialect_name(d).to_owned()));
    }
    if !row.is_empty() {
        rows.push(row);
    }

    let font = FontId::proportional(FONT_SIZE);
    // Measure: each item is swatch (or badge) + gap + text.
    let mut laid: Vec<Vec<(Swatch, std::sync::Arc<egui::Galley>, f32)>> = Vec::new();
    let mut width: f32 = 0.0;
    for row in rows {
        let mut items = Vec::new();
        let mut w = 0.0;
        for (swatch, text) in row {
            let galley = painter.layout_no_wrap(text, font.clone(), Theme::MAP_LABEL_MUTED);
            let swatch_w = match &swatch {
                Swatch::Badge(d) => {
                    painter
                        .layout_no_wrap(
                            dialect_badge(*d).to_owned(),
                            FontId::proportional(9.0),
                            Theme::MAP_BADGE_TEXT,
                        )
                        .size()
                        .x
                        + 6.0
                }
                Swatch::Edge(..) => 22.0,
                _ => 14.0,
            };
            w += swatch_w + 5.0 + galley.size().x + 12.0;
            items.push((swatch, galley, swatch_w));
        }
        width = width.max(w);
        laid.push(items);
    }
    let size = vec2(
        width + 2.0 * PAD - 12.0,
        laid.len() as f32 * ROW_HEIGHT + 2.0 * PAD,
    );
    let frame = Rect::from_min_size(
        pos2(rect.left() + 10.0, rect.bottom() - 10.0 - size.y - 14.0),
        size,
    );
    if frame.width() > rect.width() - 20.0 || frame.top() < rect.top() + 10.0 {
        return; // No room: the map matters more.
    }
    painter.rect(
        frame,
        6.0,
        Theme::MAP_OVERLAY_FILL,
        Stroke::new(1.0, Theme::MAP_OVERLAY_STROKE),
        egui::StrokeKind::Inside,
    );
    for (r, items) in laid.into_iter().enumerate() {
        let y = frame.top() + PAD + r as f32 * ROW_HEIGHT + ROW_HEIGHT / 2.0;
        let mut x = frame.left() + PAD;
        for (swatch, galley, swatch_w) in items {
            let centre = pos2(x + swatch_w / 2.0, y);
            paint_swatch(painter, &swatch, centre, swatch_w);
            x += swatch_w + 5.0;
            painter.galley(
                Pos2::new(x, y - galley.size().y / 2.0),
                galley.clone(),
                Theme::MAP_LABEL_MUTED,
            );
            x += galley.size().x + 12.0;
        }
    }
}

fn paint_swatch(painter: &Painter, swatch: &Swatch, centre: Pos2, width: f32) {
    let outline = Stroke::new(1.0, Theme::MAP_NODE_OUTLINE);
    match swatch {
        Swatch::Shape(kind) => {
            let color = if *kind == NodeKind::Endpoint {
                Theme::MAP_ENDPOINT
            } else {
                Theme::STATUS_ONLINE
            };
            let r = if *kind == NodeKind::Tool { 5.0 } else { 6.0 };
            paint_shape(painter, *kind, centre, r, color, outline);
        }
        Swatch::Status(status) => {
            let alpha = if *status == Status::Offline {
                0.45
            } else {
                1.0
            };
            painter.circle_filled(centre, 5.5, status_color(*status).gamma_multiply(alpha));
        }
        Swatch::Edge(color, w) => {
            let half = width / 2.0 - 2.0;
            painter.line_segment(
                [centre - vec2(half, 0.0), centre + vec2(half - 4.0, 0.0)],
                Stroke::new(*w, *color),
            );
            let tip = centre + vec2(half, 0.0);
            painter.add(egui::Shape::convex_polygon(
                vec![tip, tip + vec2(-6.0, -3.5), tip + vec2(-6.0, 3.5)],
                *color,
                Stroke::NONE,
            ));
        }
        Swatch::Badge(d) => {
            let rect = Rect::from_center_size(centre, Vec2::new(width, 12.0));
            painter.rect_filled(rect, 4.0, Theme::dialect(*d));
            painter.text(
                centre,
                Align2::CENTER_CENTER,
                dialect_badge(*d),
                FontId::proportional(9.0),
                Theme::MAP_BADGE_TEXT,
            );
        }
    }
}
