//! Hover tooltips of nodes and edges, and a node's context menu.

use egui::{RichText, Ui};

use crate::model::Model;
use crate::ui::Action;
use crate::ui::theme::Theme;
use crate::ui::widgets::{format_age_nanos, format_count, format_latency_micros};

use super::scene::{NodeKind, Scene};
use super::{PresenceViewState, dialect_name, status_color};

pub(super) fn node_tooltip_ui(ui: &mut Ui, scene: &Scene, i: u32, now_nanos: u64, folded: bool) {
    let Some(node) = scene.node(i) else { return };
    ui.label(RichText::new(&node.label).strong());
    if let Some(id) = node.id_if_different() {
        ui.label(RichText::new(id).monospace().color(Theme::TEXT_MUTED));
    }
    ui.label(format!(
        "{}, {}",
        node.kind.as_str(),
        dialect_name(node.dialect)
    ));
    if node.kind == NodeKind::Endpoint {
        ui.label(RichText::new("Called, but never announced itself").color(Theme::TEXT_MUTED));
    } else {
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            ui.label(
                RichText::new(node.status.as_str())
                    .color(status_color(node.status))
                    .strong(),
            );
            ui.label(
                RichText::new(format!(
                    "(from {}) for {}",
                    node.status_source.as_str(),
                    format_age_nanos(now_nanos, node.status_since_nanos)
                ))
                .color(Theme::TEXT_MUTED),
            );
        });
        match node.last_seen_nanos {
            Some(at) => ui.label(format!("last seen {} ago", format_age_nanos(now_nanos, at))),
            None => ui.label(RichText::new("never seen alive").color(Theme::TEXT_WARNING)),
        };
    }
    ui.label(format!(
        "{} calls in ({} failed), {} calls out",
        format_count(node.calls_in),
        format_count(node.errors_in),
        format_count(node.calls_out)
    ));
    if let Some(server) = node.server.and_then(|s| scene.node(s)) {
        ui.label(format!("served by {}", server.label));
    }
    if !node.tools.is_empty() {
        let state = if folded {
            "folded in: double-click to show"
        } else {
            "double-click to fold"
        };
        ui.label(format!("{} tools ({state})", node.tools.len()));
    }
    ui.label(
        RichText::new("Click for details; right-click for more")
            .color(Theme::TEXT_MUTED)
            .small(),
    );
}

pub(super) fn node_menu_ui(
    ui: &mut Ui,
    state: &mut PresenceViewState,
    i: u32,
    actions: &mut Vec<Action>,
) {
    if ui.button("Show details").clicked() {
        state.select_index(i, actions);
        ui.close();
    }
    if let Some(&id) = state.layout_ids.get(i as usize) {
        let pinned = state.layout.is_pinned(id);
        if ui
            .button(if pinned { "Unpin" } else { "Pin here" })
            .clicked()
        {
            state.layout.set_pinned(id, !pinned);
            ui.close();
        }
    }
    let has_tools = state.scene.node(i).is_some_and(|n| !n.tools.is_empty());
    if has_tools {
        let folded = state.is_folded(i);
        if ui
            .button(if folded {
                "Show its tools"
            } else {
                "Fold its tools"
            })
            .clicked()
        {
            state.set_folded(i, !folded);
            ui.close();
        }
    }
}

/// The hovered edge's p95 latency, looked up once per edge and scene (a scan of the model's
/// edges, not every frame the pointer rests on it).
pub(super) fn hovered_edge_p95(
    model: &Model,
    state: &mut PresenceViewState,
    d: usize,
) -> Option<u64> {
    let cache = &state.map.cache;
    let e = cache.edges.get(d)?;
    if e.merged != 1 {
        return None;
    }
    let key = (state.scene.generation, e.first_edge);
    if let Some((k, p95)) = state.map.edge_p95
        && k == key
    {
        return p95;
    }
    let edge = state.scene.edges.get(e.first_edge as usize)?;
    let p95 = model
        .mesh
        .edge(edge.dialect, &edge.caller, &edge.callee)
        .and_then(|r| r.p95_micros());
    state.map.edge_p95 = Some((key, p95));
    p95
}

pub(super) fn edge_tooltip_ui(
    ui: &mut Ui,
    state: &PresenceViewState,
    d: usize,
    p95: Option<u64>,
    now_nanos: u64,
) {
    let cache = &state.map.cache;
    let Some(e) = cache.edges.get(d) else { return };
    let (Some(from), Some(to)) = (state.scene.node(e.from), state.scene.node(e.to)) else {
        return;
    };
    ui.label(RichText::new(format!("{}  calls  {}", from.label, to.label)).strong());
    if e.merged > 1 {
        ui.label(
            RichText::new(format!("{} edges to its folded tools", e.merged))
                .color(Theme::TEXT_MUTED),
        );
    }
    let rate = if e.count == 0 {
        0.0
    } else {
        100.0 * e.errors as f64 / e.count as f64
    };
    ui.label(format!(
        "{} calls, {} failed ({rate:.1} %)",
        format_count(e.count),
        format_count(e.errors)
    ));
    let per_minute: f64 = cache.slots[e.slots.clone()]
        .iter()
        .map(|&s| state.activity.per_minute(s, now_nanos))
        .sum();
    ui.label(format!("about {per_minute:.1} calls/min lately"));
    if e.merged == 1
        && let Some(edge) = state.scene.edges.get(e.first_edge as usize)
    {
        if let Some(p95) = p95 {
            ui.label(format!("p95 latency {}", format_latency_micros(p95)));
        }
        ui.label(RichText::new(dialect_name(edge.dialect)).color(Theme::dialect(edge.dialect)));
    }
}
