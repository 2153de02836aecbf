//! The raw message view: a virtualised table with a topic filter, and the selected message's payload and properties.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::model::topic_filter::TopicFilter;

use super::raw_matches::{Matches, SCAN_PER_FRAME};
use crate::model::{MessageRef, Model};

use super::Action;
use super::payload_view::{PayloadCache, PayloadMode};
use super::theme::Theme;
use super::widgets::{format_bytes, format_count, hex_compact, time_of_day_utc};

/// The broker (mqtt5) adds this user property to what it forwards; shown as the broker's, not the sender's.
const BROKER_ADDED_PROPERTY: &str = "x-mqtt-client-id";

pub struct RawViewState {
    pub filter_text: String,
    filter: TopicFilter,
    /// Stored messages matching the filter, oldest first; kept incrementally.
    matches: Matches,
    pub selected_seq: Option<u64>,
    /// Keep the newest message in view.
    pub follow: bool,
    payload_mode: PayloadMode,
    payload_cache: Option<PayloadCache>,
    scroll_to_selected: bool,
    pub focus_filter: bool,
}

impl Default for RawViewState {
    fn default() -> Self {
        RawViewState {
            filter_text: String::new(),
            filter: TopicFilter::All,
            matches: Matches::new(TopicFilter::All),
            selected_seq: None,
            follow: true,
            payload_mode: PayloadMode::Auto,
            payload_cache: None,
            scroll_to_selected: false,
            focus_filter: false,
        }
    }
}

impl RawViewState {
    pub fn set_filter(&mut self, text: &str) {
        self.filter_text = text.to_owned();
        self.filter = TopicFilter::parse(text);
        self.matches = Matches::new(self.filter.clone());
    }

    /// Brings the match list up to date with the store: drops evicted, scans new messages (a
    /// bounded slice per call: a filter over a million messages fills in over a few frames).
    pub fn refresh(&mut self, model: &Model) {
        self.matches.refresh(model, SCAN_PER_FRAME);
        if self
            .selected_seq
            .is_some_and(|s| s < model.store.first_seq())
        {
            self.selected_seq = None;
        }
    }

    /// Whether the match list covers every stored message yet.
    pub fn is_caught_up(&self) -> bool {
        self.matches.is_caught_up()
    }

    pub fn match_count(&self) -> usize {
        self.matches.len()
    }

    fn move_selection(&mut self, delta: isize) {
        if self.matches.is_empty() {
            return;
        }
        let current = self
            .selected_seq
            .and_then(|s| self.matches.position(s))
            .unwrap_or(if delta > 0 {
                usize::MAX
            } else {
                self.matches.len()
            });
        let next = if current == usize::MAX {
            0
        } else {
            current
                .saturating_add_signed(delta)
                .min(self.matches.len() - 1)
        };
        self.selected_seq = self.matches.get(next);
        self.follow = false;
        self.scroll_to_selected = true;
    }
}

/// The whole view: filter bar, table, details.
pub fn raw_view_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut RawViewState,
    actions: &mut Vec<Action>,
) {
    filter_bar_ui(ui, state);
    state.refresh(model);
    if ui.ui_contains_pointer() || !ui.ctx().egui_wants_keyboard_input() {
        let (up, down) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowUp),
                i.key_pressed(egui::Key::ArrowDown),
            )
        });
        if up {
            state.move_selection(-1);
        }
        if down {
            state.move_selection(1);
        }
    }
    egui::Panel::right("raw_details")
        .resizable(true)
        .default_size(460.0)
        .min_size(280.0)
        .show(ui, |ui| details_ui(ui, model, state, actions));
    egui::CentralPanel::default().show(ui, |ui| table_ui(ui, model, state));
}

fn filter_bar_ui(ui: &mut Ui, state: &mut RawViewState) {
    ui.horizontal(|ui| {
        let label = ui.label("Topic filter");
        let edit = egui::TextEdit::singleline(&mut state.filter_text)
            .hint_text("MQTT filter (a2a/+/mcp/#) or any text")
            .desired_width(360.0);
        let response = ui.add(edit).labelled_by(label.id).on_hover_text(
            "A filter with + or # is matched like an MQTT subscription; anything else is a case-insensitive substring (Ctrl+F)",
        );
        if state.focus_filter {
            response.request_focus();
            state.focus_filter = false;
        }
        if response.changed() {
            let text = state.filter_text.clone();
            state.set_filter(&text);
        }
        if !state.filter_text.is_empty() && ui.small_button("Clear").on_hover_text("Clear the filter").clicked() {
            state.set_filter("");
        }
        ui.checkbox(&mut state.follow, "Follow newest")
            .on_hover_text("Keep the newest message in view; scrolling back or selecting pauses it");
        ui.label(RichText::new(format!("{} shown", format_count(state.matches.len() as u64))).color(Theme::TEXT_MUTED));
        if !state.matches.is_caught_up() {
            ui.spinner();
            ui.label(RichText::new("filtering…").color(Theme::TEXT_MUTED))
                .on_hover_text("Looking through the stored messages a slice per frame");
            ui.ctx().request_repaint();
        }
    });
    ui.separator();
}

fn table_ui(ui: &mut Ui, model: &Model, state: &mut RawViewState) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut table = TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::exact(96.0))
        .column(Column::remainder().at_least(200.0).clip(true))
        .column(Column::exact(36.0))
        .column(Column::exact(48.0))
        .column(Column::exact(72.0))
        .column(Column::exact(120.0))
        .auto_shrink([false, false])
        .stick_to_bottom(state.follow);
    if state.scroll_to_selected {
        if let Some(index) = state.selected_seq.and_then(|s| state.matches.position(s)) {
            table = table.scroll_to_row(index, None);
        }
        state.scroll_to_selected = false;
    }
    let mut clicked = None;
    table
        .header(row_height, |mut header| {
            for (title, tip) in [
                (
                    "Time (UTC)",
                    "Receive time, stamped when the message entered Meshscope",
                ),
                (
                    "Topic",
                    "Topic as delivered (invalid UTF-8 shown with replacement characters)",
                ),
                ("QoS", "Delivered QoS"),
                (
                    "Retain",
                    "Retained (replayed at subscribe, or published retained)",
                ),
                ("Size", "Payload size"),
                ("Dialect", "Decoded dialect, or why it could not be decoded"),
            ] {
                header.col(|ui| {
                    ui.strong(title).on_hover_text(tip);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, state.matches.len(), |mut row| {
                let Some(message) = state
                    .matches
                    .get(row.index())
                    .and_then(|s| model.store.get(s))
                else {
                    return;
                };
                row.set_selected(state.selected_seq == Some(message.seq));
                row_cells(&mut row, &message);
                if row.response().clicked() {
                    clicked = Some(message.seq);
                }
            });
        });
    if let Some(seq) = clicked {
        state.selected_seq = Some(seq);
        state.follow = false;
    }
}

fn row_cells(row: &mut egui_extras::TableRow<'_, '_>, message: &MessageRef<'_>) {
    let raw = &message.raw;
    row.col(|ui| {
        cell_label(
            ui,
            RichText::new(time_of_day_utc(raw.received_at_nanos)).monospace(),
        );
    });
    row.col(|ui| {
        let topic = raw.topic_lossy();
        let label = cell_label(ui, topic.as_ref());
        if raw.topic_str().is_none() {
            label.on_hover_text("This topic is not valid UTF-8");
        }
    });
    row.col(|ui| {
        cell_label(ui, raw.qos.to_string());
    });
    row.col(|ui| {
        if raw.retain {
            cell_label(ui, "R").on_hover_text("retained");
        }
    });
    row.col(|ui| {
        cell_label(ui, format_bytes(raw.payload.len() as u64));
    });
    row.col(|ui| {
        let dialect = message.tag.dialect;
        let label = cell_label(
            ui,
            RichText::new(dialect.as_str()).color(Theme::dialect(dialect)),
        );
        if let Some(note) = message.tag.note.as_deref() {
            label.on_hover_text(note);
        }
    });
}

/// Table cells do not take text selection, so a click anywhere on the row selects the message.
fn cell_label(ui: &mut Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(egui::Label::new(text).selectable(false).truncate())
}

fn details_ui(ui: &mut Ui, model: &Model, state: &mut RawViewState, actions: &mut Vec<Action>) {
    let Some(message) = state.selected_seq.and_then(|s| model.store.get(s)) else {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.label(
                RichText::new("Select a message to see its payload and MQTT 5 properties.")
                    .color(Theme::TEXT_MUTED),
            );
            ui.label(
                RichText::new("Up/Down move the selection · Ctrl+F filters topics")
                    .color(Theme::TEXT_MUTED),
            );
        });
        return;
    };
    ui.horizontal(|ui| {
        ui.heading("Payload");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            for (mode, name) in [
                (PayloadMode::Hex, "Hex"),
                (PayloadMode::Text, "Text"),
                (PayloadMode::Pretty, "Pretty"),
                (PayloadMode::Tree, "Tree"),
                (PayloadMode::Auto, "Auto"),
            ] {
                ui.selectable_value(&mut state.payload_mode, mode, name);
            }
        });
    });
    let stale = state
        .payload_cache
        .as_ref()
        .is_none_or(|c| c.seq() != message.seq || c.mode() != state.payload_mode);
    if stale {
        state.payload_cache = Some(PayloadCache::build(
            message.seq,
            message.raw.payload.clone(),
            state.payload_mode,
        ));
    }
    let available = ui.available_height();
    egui::Panel::bottom("raw_properties")
        .resizable(true)
        .default_size(available * 0.45)
        .show(ui, |ui| properties_ui(ui, &message));
    if let Some(cache) = &state.payload_cache {
        cache.ui(ui, actions);
    }
}

fn properties_ui(ui: &mut Ui, message: &MessageRef<'_>) {
    let raw = &message.raw;
    let props = raw.props();
    ui.heading("Message");
    egui::ScrollArea::vertical().id_salt("props_scroll").auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("raw_props_grid").num_columns(2).striped(true).spacing([12.0, 4.0]).show(ui, |ui| {
            let row = |ui: &mut Ui, name: &str, value: String| {
                ui.label(RichText::new(name).color(Theme::TEXT_MUTED));
                ui.add(egui::Label::new(RichText::new(value).monospace()).selectable(true).wrap());
                ui.end_row();
            };
            row(ui, "Topic", raw.topic_lossy().into_owned());
            row(ui, "Received (UTC)", time_of_day_utc(raw.received_at_nanos));
            row(ui, "QoS / retain / dup", format!("{} / {} / {}", raw.qos, raw.retain, raw.dup));
            row(ui, "Dialect", message.tag.dialect.as_str().to_owned());
            if let Some(note) = message.tag.note.as_deref() {
                row(ui, "Note", note.to_owned());
            }
            row(ui, "Response Topic", props.response_topic.clone().unwrap_or_else(|| "—".into()));
            match &props.correlation_data {
                Some(bytes) => {
                    let text = std::str::from_utf8(bytes).map_or_else(|_| "(not UTF-8)".to_owned(), str::to_owned);
                    row(ui, "Correlation Data", text);
                    row(ui, "Correlation (hex)", hex_compact(bytes));
                }
                None => row(ui, "Correlation Data", "—".into()),
            }
            row(ui, "Content Type", props.content_type.clone().unwrap_or_else(|| "—".into()));
            row(
                ui,
                "Message Expiry",
                props.message_expiry_interval_secs.map_or_else(|| "—".into(), |s| format!("{s} s")),
            );
            row(
                ui,
                "Payload Format",
                match props.payload_format_indicator {
                    None => "—".into(),
                    Some(0) => "0 (bytes)".into(),
                    Some(1) => "1 (UTF-8)".into(),
                    Some(other) => format!("{other} (invalid)"),
                },
            );
        });
        ui.add_space(6.0);
        ui.label(RichText::new(format!("User properties ({})", props.user_properties.len())).strong());
        if props.user_properties.is_empty() {
            ui.label(RichText::new("none").color(Theme::TEXT_MUTED));
        }
        egui::Grid::new("raw_user_props").num_columns(2).striped(true).show(ui, |ui| {
            for (key, value) in props.user_properties.iter().take(2_000) {
                if key == BROKER_ADDED_PROPERTY {
                    ui.label(RichText::new(key).color(Theme::BROKER_ADDED))
                        .on_hover_text("Added by the embedded broker when forwarding, not sent by the publisher");
                } else {
                    ui.label(RichText::new(key).monospace());
                }
                ui.add(egui::Label::new(RichText::new(value).monospace()).selectable(true).wrap());
                ui.end_row();
            }
        });
        if props.user_properties.len() > 2_000 {
            ui.label(RichText::new(format!("… {} more", props.user_properties.len() - 2_000)).color(Theme::TEXT_MUTED));
        }
    });
}
