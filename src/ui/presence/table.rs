//! The table view of the same participants, for people who would rather read than look: sortable by any column.

use std::cmp::Ordering;

use egui::{RichText, Sense, Ui, vec2};
use egui_extras::{Column, TableBuilder};

use crate::ui::Action;
use crate::ui::theme::Theme;
use crate::ui::widgets::{format_age_nanos, format_count};

use super::scene::{NodeKind, SceneNode, search_terms};
use super::{PresenceViewState, dialect_name, node_color};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum SortBy {
    /// The model's order: kind, dialect, id.
    #[default]
    Kind,
    Name,
    Dialect,
    Status,
    LastSeen,
    CallsIn,
    CallsOut,
    Failed,
}

impl SortBy {
    /// Text sorts A to Z first; counts and recency sort biggest or newest first.
    fn descending_first(self) -> bool {
        matches!(
            self,
            SortBy::LastSeen | SortBy::CallsIn | SortBy::CallsOut | SortBy::Failed
        )
    }
}

const COLUMNS: [(SortBy, &str, &str); 8] = [
    (SortBy::Name, "Name", "Display name (from its card) or id"),
    (
        SortBy::Kind,
        "Kind",
        "agent, MCP server, tool, client, or an endpoint that was called but never announced itself",
    ),
    (SortBy::Dialect, "Dialect", "The protocol it speaks"),
    (
        SortBy::Status,
        "Status",
        "online / stale / offline / unknown, and who said so",
    ),
    (
        SortBy::LastSeen,
        "Last seen",
        "When it was last heard from alive",
    ),
    (SortBy::CallsIn, "Calls in", "Requests it received"),
    (SortBy::CallsOut, "Calls out", "Requests it sent"),
    (
        SortBy::Failed,
        "Failed",
        "Calls into it that failed or timed out",
    ),
];

#[derive(Default)]
pub(super) struct TableState {
    sort: SortBy,
    descending: bool,
    rows: Vec<u32>,
    key: Option<(u64, String, SortBy, bool)>,
}

fn status_rank(node: &SceneNode) -> u8 {
    match node.status {
        crate::protocol::Status::Online => 0,
        crate::protocol::Status::Stale => 1,
        crate::protocol::Status::Offline => 2,
        crate::protocol::Status::Unknown => 3,
    }
}

fn compare(a: &SceneNode, b: &SceneNode, by: SortBy) -> Ordering {
    let by_name = || {
        a.label
            .to_lowercase()
            .cmp(&b.label.to_lowercase())
            .then_with(|| a.key.cmp(&b.key))
    };
    match by {
        SortBy::Kind => a
            .kind
            .cmp(&b.kind)
            .then(a.dialect.cmp(&b.dialect))
            .then_with(by_name),
        SortBy::Name => by_name(),
        SortBy::Dialect => a.dialect.cmp(&b.dialect).then_with(by_name),
        SortBy::Status => status_rank(a).cmp(&status_rank(b)).then_with(by_name),
        SortBy::LastSeen => a.last_seen_nanos.cmp(&b.last_seen_nanos).then_with(by_name),
        SortBy::CallsIn => a.calls_in.cmp(&b.calls_in).then_with(by_name),
        SortBy::CallsOut => a.calls_out.cmp(&b.calls_out).then_with(by_name),
        SortBy::Failed => a.errors_in.cmp(&b.errors_in).then_with(by_name),
    }
}

impl PresenceViewState {
    fn ensure_table_rows(&mut self) {
        let key = (
            self.scene.generation,
            self.query.clone(),
            self.table.sort,
            self.table.descending,
        );
        if self.table.key.as_ref() == Some(&key) {
            return;
        }
        let terms = search_terms(&self.query);
        let nodes = &self.scene.nodes;
        let mut rows: Vec<u32> = (0..nodes.len() as u32)
            .filter(|&i| nodes[i as usize].matches(&terms))
            .collect();
        let (by, descending) = (self.table.sort, self.table.descending);
        rows.sort_by(|&a, &b| {
            let o = compare(&nodes[a as usize], &nodes[b as usize], by);
            if descending { o.reverse() } else { o }
        });
        self.table.rows = rows;
        self.table.key = Some(key);
    }
}

pub(super) fn table_ui(
    ui: &mut Ui,
    state: &mut PresenceViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    state.ensure_table_rows();
    if state.table.rows.is_empty() {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            let text = if state.scene.nodes.is_empty() {
                "No participants yet.".to_owned()
            } else {
                format!("No participant matches \"{}\".", state.query.trim())
            };
            ui.label(RichText::new(text).color(Theme::TEXT_MUTED));
        });
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let selected = state.selected_index();
    let mut clicked_header = None;
    let mut clicked_row = None;
    egui::ScrollArea::horizontal()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            TableBuilder::new(ui)
                .striped(true)
                .resizable(true)
                .sense(Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(Column::initial(210.0).at_least(120.0).clip(true))
                .column(Column::initial(120.0).clip(true))
                .column(Column::initial(160.0).clip(true))
                .column(Column::initial(130.0))
                .column(Column::initial(76.0))
                .column(Column::initial(64.0))
                .column(Column::initial(70.0))
                .column(Column::remainder().at_least(56.0))
                .auto_shrink([false, false])
                .header(row_height, |mut header| {
                    for (by, title, tip) in COLUMNS {
                        header.col(|ui| {
                            let active = state.table.sort == by;
                            let text = if active {
                                RichText::new(title).strong()
                            } else {
                                RichText::new(title)
                            };
                            let response = ui
                                .add(egui::Button::new(text).frame(false))
                                .on_hover_text(tip);
                            if active {
                                sort_arrow(ui, response.rect, state.table.descending);
                            }
                            if response.clicked() {
                                clicked_header = Some(by);
                            }
                        });
                    }
                })
                .body(|body| {
                    let rows = &state.table.rows;
                    body.rows(row_height, rows.len(), |mut row| {
                        let Some(&i) = rows.get(row.index()) else {
                            return;
                        };
                        let Some(node) = state.scene.node(i) else {
                            return;
                        };
                        row.set_selected(selected == Some(i));
                        row_cells(&mut row, node, &state.scene, now_nanos);
                        if row.response().clicked() {
                            clicked_row = Some(i);
                        }
                    });
                });
        });
    if let Some(by) = clicked_header {
        if state.table.sort == by {
            state.table.descending = !state.table.descending;
        } else {
            state.table.sort = by;
            state.table.descending = by.descending_first();
        }
    }
    if let Some(i) = clicked_row {
        state.select_index(i, actions);
    }
}

/// A small painted triangle after the active header (the bundled fonts have no arrow glyphs).
fn sort_arrow(ui: &Ui, header: egui::Rect, descending: bool) {
    let c = egui::pos2(header.right() + 7.0, header.center().y);
    let (h, w) = (3.5, 4.0);
    let points = if descending {
        vec![c + vec2(-w, -h), c + vec2(w, -h), c + vec2(0.0, h)]
    } else {
        vec![c + vec2(-w, h), c + vec2(w, h), c + vec2(0.0, -h)]
    };
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        Theme::TEXT_MUTED,
        egui::Stroke::NONE,
    ));
}

fn row_cells(
    row: &mut egui_extras::TableRow<'_, '_>,
    node: &SceneNode,
    scene: &super::scene::Scene,
    now_nanos: u64,
) {
    row.col(|ui| {
        let (dot, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
        ui.painter()
            .circle_filled(dot.center(), 4.5, node_color(node.kind, node.status));
        let label = ui.add(egui::Label::new(&node.label).truncate().selectable(false));
        if let Some(id) = node.id_if_different() {
            label.on_hover_text(id);
        }
    });
    row.col(|ui| {
        let kind = match (node.kind, node.server.and_then(|s| scene.node(s))) {
            (NodeKind::Tool, Some(server)) => format!("tool of {}", server.label),
            (kind, _) => kind.as_str().to_owned(),
        };
        ui.add(egui::Label::new(kind).truncate().selectable(false));
    });
    row.col(|ui| {
        ui.add(
            egui::Label::new(
                RichText::new(dialect_name(node.dialect)).color(Theme::dialect(node.dialect)),
            )
            .selectable(false),
        );
    });
    row.col(|ui| {
        if node.kind == NodeKind::Endpoint {
            ui.add(
                egui::Label::new(RichText::new("not announced").color(Theme::TEXT_MUTED))
                    .selectable(false),
            );
        } else {
            ui.add(
                egui::Label::new(
                    RichText::new(node.status.as_str()).color(node_color(node.kind, node.status)),
                )
                .selectable(false),
            );
            ui.add(
                egui::Label::new(
                    RichText::new(format!("({})", node.status_source.as_str()))
                        .color(Theme::TEXT_MUTED),
                )
                .selectable(false),
            );
        }
    });
    row.col(|ui| {
        let text = match node.last_seen_nanos {
            Some(at) => format_age_nanos(now_nanos, at),
            None => "never".to_owned(),
        };
        ui.add(egui::Label::new(text).selectable(false));
    });
    row.col(|ui| {
        ui.add(egui::Label::new(format_count(node.calls_in)).selectable(false));
    });
    row.col(|ui| {
        ui.add(egui::Label::new(format_count(node.calls_out)).selectable(false));
    });
    row.col(|ui| {
        let color = if node.errors_in > 0 {
            Theme::TEXT_ERROR
        } else {
            Theme::TEXT_MUTED
        };
        ui.add(
            egui::Label::new(RichText::new(format_count(node.errors_in)).color(color))
                .selectable(false),
        );
    });
}
