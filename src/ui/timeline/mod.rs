//! The trace timeline (waterfall of paired requests) and the latency plots.

use egui::Ui;

use crate::model::Model;

use super::Action;

#[derive(Default)]
pub struct TimelineViewState {}

pub fn timeline_view_ui(ui: &mut Ui, _model: &Model, _state: &mut TimelineViewState, _now_nanos: u64, _actions: &mut Vec<Action>) {
    ui.label("The timeline is being built.");
}
