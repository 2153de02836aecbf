//! A scatter item for egui_plot drawn as one triangle mesh (a few vertices per point instead of a tessellated circle).
//!
//! egui_plot's `Points` costs ~0.1 µs per point to tessellate; thousands of latency samples
//! fit the frame budget only as one mesh. Hovering and the legend still work (the item reports
//! its points as geometry).

use std::ops::RangeInclusive;

use egui::epaint::Mesh;
use egui::{Color32, Rect, Shape, Ui, pos2, vec2};
use egui_plot::{PlotBounds, PlotGeometry, PlotItem, PlotItemBase, PlotPoint, PlotTransform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A small filled square.
    Square,
    /// An "x" of two thin bars.
    Cross,
    /// A downward triangle.
    Down,
}

pub struct PointCloud<'a> {
    base: PlotItemBase,
    points: &'a [PlotPoint],
    colour: Color32,
    marker: Marker,
    /// Half the marker's size, in points.
    radius: f32,
}

impl<'a> PointCloud<'a> {
    pub fn new(
        name: &str,
        points: &'a [PlotPoint],
        colour: Color32,
        marker: Marker,
        radius: f32,
    ) -> Self {
        PointCloud {
            base: PlotItemBase::new(name.to_owned()),
            points,
            colour,
            marker,
            radius,
        }
    }
}

impl PlotItem for PointCloud<'_> {
    fn shapes(&self, _ui: &Ui, transform: &PlotTransform, shapes: &mut Vec<Shape>) {
        if self.points.is_empty() {
            return;
        }
        let frame = transform.frame().expand(self.radius);
        let r = self.radius;
        let mut mesh = Mesh::default();
        let per_point = match self.marker {
            Marker::Square => 4,
            Marker::Cross => 8,
            Marker::Down => 3,
        };
        mesh.reserve_vertices(self.points.len() * per_point);
        for p in self.points {
            let c = transform.position_from_point(p);
            if !frame.contains(c) {
                continue;
            }
            match self.marker {
                Marker::Square => mesh.add_colored_rect(
                    Rect::from_center_size(c, vec2(2.0 * r, 2.0 * r)),
                    self.colour,
                ),
                Marker::Cross => {
                    // Two thin diagonal bars as quads.
                    let w = 0.7;
                    for (dx, dy) in [(r, r), (r, -r)] {
                        let base = mesh.vertices.len() as u32;
                        mesh.colored_vertex(pos2(c.x - dx - w, c.y - dy), self.colour);
                        mesh.colored_vertex(pos2(c.x - dx + w, c.y - dy), self.colour);
                        mesh.colored_vertex(pos2(c.x + dx + w, c.y + dy), self.colour);
                        mesh.colored_vertex(pos2(c.x + dx - w, c.y + dy), self.colour);
                        mesh.add_triangle(base, base + 1, base + 2);
                        mesh.add_triangle(base, base + 2, base + 3);
                    }
                }
                Marker::Down => {
                    let base = mesh.vertices.len() as u32;
                    mesh.colored_vertex(pos2(c.x - r, c.y - r * 0.8), self.colour);
                    mesh.colored_vertex(pos2(c.x + r, c.y - r * 0.8), self.colour);
                    mesh.colored_vertex(pos2(c.x, c.y + r), self.colour);
                    mesh.add_triangle(base, base + 1, base + 2);
                }
            }
        }
        shapes.push(Shape::mesh(mesh));
    }

    fn initialize(&mut self, _x_range: RangeInclusive<f64>) {}

    fn color(&self) -> Color32 {
        self.colour
    }

    fn geometry(&self) -> PlotGeometry<'_> {
        PlotGeometry::Points(self.points)
    }

    fn bounds(&self) -> PlotBounds {
        // The view sets its bounds explicitly; no need to scan the points.
        PlotBounds::NOTHING
    }

    fn base(&self) -> &PlotItemBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut PlotItemBase {
        &mut self.base
    }
}
