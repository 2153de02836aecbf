//! The presence map: every agent, MCP server, tool and client, its status, and who calls whom.

use egui::Ui;

use crate::model::Model;

use super::Action;

#[derive(Default)]
pub struct PresenceViewState {}

pub fn presence_view_ui(ui: &mut Ui, _model: &Model, _state: &mut PresenceViewState, _now_nanos: u64, _actions: &mut Vec<Action>) {
    ui.label("The presence map is being built.");
}
