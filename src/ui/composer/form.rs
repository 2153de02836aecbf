//! The argument form's widgets: one line per schema row, errors beside the field, descriptions as hints; edits go back to the pure form.

use egui::{RichText, Ui};

use crate::composer::schema::{Edit, Row, SchemaForm, Widget};
use crate::ui::theme::Theme;

/// Indentation per nesting level, in points.
const INDENT: f32 = 16.0;
/// Width of the name column.
const LABEL_WIDTH: f32 = 150.0;

/// Draws the form and applies what the user changed. Returns whether anything changed.
pub fn schema_form_ui(ui: &mut Ui, form: &mut SchemaForm) -> bool {
    if let Some(problem) = form.schema_problem() {
        ui.label(
            RichText::new(format!("{problem} (arguments are not checked)"))
                .color(Theme::TEXT_WARNING),
        );
    }
    let rows = form.rows();
    if rows.is_empty() {
        ui.label(
            RichText::new("This tool takes no arguments (edit the raw JSON to send some anyway).")
                .color(Theme::TEXT_MUTED),
        );
    }
    let mut edits: Vec<(String, Edit)> = Vec::new();
    for row in &rows {
        row_ui(ui, row, &mut edits);
    }
    for message in form.general_errors() {
        ui.label(RichText::new(message).color(Theme::TEXT_ERROR));
    }
    let changed = !edits.is_empty();
    for (pointer, edit) in edits {
        form.apply(&pointer, edit);
    }
    changed
}

fn row_ui(ui: &mut Ui, row: &Row, edits: &mut Vec<(String, Edit)>) {
    ui.push_id(("composer_row", &row.pointer), |ui| {
        ui.horizontal(|ui| {
            ui.add_space(row.depth as f32 * INDENT);
            let name_width = (LABEL_WIDTH - row.depth as f32 * INDENT).max(60.0);
            let label = ui
                .allocate_ui_with_layout(
                    egui::vec2(name_width, 18.0),
                    egui::Layout::left_to_right(egui::Align::Center),
                    |ui| {
                        ui.set_min_width(name_width);
                        ui.add(egui::Label::new(RichText::new(&row.label).monospace()).truncate())
                    },
                )
                .inner
                .on_hover_text(hover_text(row));
            if row.required {
                ui.label(RichText::new("*").color(Theme::TEXT_WARNING))
                    .on_hover_text("required");
            } else {
                ui.add_space(8.0);
            }
            if row.is_null {
                ui.label(RichText::new("null").monospace().color(Theme::JSON_LITERAL));
            } else {
                widget_ui(ui, row, label.id, edits);
            }
            if row.nullable {
                let mut is_null = row.is_null;
                if ui
                    .checkbox(&mut is_null, "null")
                    .on_hover_text("Send null for this field")
                    .changed()
                {
                    edits.push((row.pointer.clone(), Edit::SetNull(is_null)));
                }
            }
            let unsettable = !row.required
                && row.present
                && matches!(
                    row.widget,
                    Widget::Bool { .. }
                        | Widget::Json { .. }
                        | Widget::Choice { .. }
                        | Widget::Array { .. }
                );
            if (unsettable || (row.is_null && !row.required))
                && ui
                    .small_button("Clear")
                    .on_hover_text("Leave this field out")
                    .clicked()
            {
                edits.push((row.pointer.clone(), Edit::Unset));
            }
            if row.removable
                && ui
                    .small_button("Remove")
                    .on_hover_text("Remove this item")
                    .clicked()
            {
                edits.push((row.pointer.clone(), Edit::RemoveItem));
            }
        });
        let indent = row.depth as f32 * INDENT + LABEL_WIDTH + 14.0;
        for error in &row.errors {
            ui.horizontal(|ui| {
                ui.add_space(indent);
                ui.label(RichText::new(error).color(Theme::TEXT_ERROR).small());
            });
        }
        if let Some(hint) = &row.hint {
            ui.horizontal(|ui| {
                ui.add_space(indent);
                ui.add(
                    egui::Label::new(RichText::new(hint).color(Theme::TEXT_MUTED).small()).wrap(),
                );
            });
        }
    });
}

fn hover_text(row: &Row) -> String {
    let mut lines = Vec::new();
    if let Some(title) = &row.title {
        lines.push(title.clone());
    }
    if let Some(hint) = &row.hint {
        lines.push(hint.clone());
    }
    if !row.constraints.is_empty() {
        lines.push(row.constraints.join(", "));
    }
    lines.push(format!(
        "{} ({})",
        row.pointer,
        if row.required { "required" } else { "optional" }
    ));
    lines.join("\n")
}

fn widget_ui(ui: &mut Ui, row: &Row, label: egui::Id, edits: &mut Vec<(String, Edit)>) {
    let pointer = &row.pointer;
    match &row.widget {
        Widget::Text { text, placeholder } => {
            let mut text = text.clone();
            let hint = if placeholder.is_empty() {
                row.constraints.join(", ")
            } else {
                placeholder.clone()
            };
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .id_salt(("text", pointer))
                        .hint_text(hint)
                        .desired_width(260.0),
                )
                .labelled_by(label);
            if response.changed() {
                edits.push((pointer.clone(), Edit::Text(text)));
            }
        }
        Widget::Number {
            text,
            integer,
            placeholder,
        } => {
            let mut text = text.clone();
            let hint = if placeholder.is_empty() {
                if *integer { "integer" } else { "number" }.to_owned()
            } else {
                placeholder.clone()
            };
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .id_salt(("number", pointer))
                        .hint_text(hint)
                        .desired_width(120.0),
                )
                .labelled_by(label);
            if response.changed() {
                edits.push((pointer.clone(), Edit::Text(text)));
            }
            if !row.constraints.is_empty() {
                ui.label(
                    RichText::new(row.constraints.join(", "))
                        .color(Theme::TEXT_MUTED)
                        .small(),
                );
            }
        }
        Widget::Bool { value } => {
            let mut on = *value;
            let text = if row.present { "" } else { "(not set)" };
            if ui.checkbox(&mut on, text).labelled_by(label).changed() {
                edits.push((pointer.clone(), Edit::Bool(on)));
            }
        }
        Widget::Enum { options, selected } => {
            let shown = selected
                .and_then(|i| options.get(i))
                .cloned()
                .unwrap_or_else(|| "(not set)".to_owned());
            let mut choice: Option<Option<usize>> = None;
            egui::ComboBox::from_id_salt(("enum", pointer))
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    if !row.required
                        && ui
                            .selectable_label(selected.is_none(), "(not set)")
                            .clicked()
                    {
                        choice = Some(None);
                    }
                    for (i, option) in options.iter().enumerate() {
                        if ui.selectable_label(*selected == Some(i), option).clicked() {
                            choice = Some(Some(i));
                        }
                    }
                })
                .response
                .labelled_by(label);
            if let Some(choice) = choice {
                edits.push((pointer.clone(), Edit::Select(choice)));
            }
        }
        Widget::MultiEnum { options, selected } => {
            ui.horizontal_wrapped(|ui| {
                for (i, option) in options.iter().enumerate() {
                    let mut on = selected.get(i).copied().unwrap_or(false);
                    if ui.checkbox(&mut on, option).changed() {
                        edits.push((pointer.clone(), Edit::Toggle(i, on)));
                    }
                }
            });
        }
        Widget::Choice { options, selected } => {
            let shown = if row.present {
                options.get(*selected).cloned().unwrap_or_default()
            } else {
                "(choose)".to_owned()
            };
            let mut choice = None;
            egui::ComboBox::from_id_salt(("choice", pointer))
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    for (i, option) in options.iter().enumerate() {
                        if ui
                            .selectable_label(row.present && *selected == i, option)
                            .clicked()
                        {
                            choice = Some(i);
                        }
                    }
                })
                .response
                .labelled_by(label)
                .on_hover_text("oneOf / anyOf: pick a variant, then fill its fields");
            if let Some(i) = choice {
                edits.push((pointer.clone(), Edit::Variant(i)));
            }
        }
        Widget::Object { open } => {
            if !open {
                if ui
                    .small_button("Add")
                    .on_hover_text("Include this object")
                    .clicked()
                {
                    edits.push((pointer.clone(), Edit::Open(true)));
                }
            } else if !row.required
                && !pointer.is_empty()
                && ui
                    .small_button("Clear")
                    .on_hover_text("Leave this object out")
                    .clicked()
            {
                edits.push((pointer.clone(), Edit::Open(false)));
            }
        }
        Widget::Array { len } => {
            ui.label(RichText::new(format!("{len} item(s)")).color(Theme::TEXT_MUTED));
            if ui.small_button("Add item").clicked() {
                edits.push((pointer.clone(), Edit::AddItem));
            }
        }
        Widget::Json { text } => {
            let mut text = text.clone();
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .id_salt(("json", pointer))
                        .font(egui::TextStyle::Monospace)
                        .hint_text("JSON")
                        .desired_width(300.0),
                )
                .labelled_by(label);
            if response.changed() {
                edits.push((pointer.clone(), Edit::Text(text)));
            }
        }
        Widget::Null => {
            ui.label(RichText::new("null").monospace().color(Theme::JSON_LITERAL));
        }
    }
}
