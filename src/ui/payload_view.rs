//! The payload pane: pretty JSON, JSON tree, text or hex, truncated for big payloads, built once per selection.

use std::sync::Arc;

use egui::{RichText, Ui};
use serde_json::Value;

use super::Action;
use super::theme::Theme;
use super::widgets::{format_bytes, hex_dump, json_tree_ui};

/// Bytes rendered on screen; the rest is one click away (save or copy).
pub const DISPLAY_LIMIT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadMode {
    /// JSON tree when it parses, text when UTF-8, hex otherwise.
    #[default]
    Auto,
    Tree,
    Pretty,
    Text,
    Hex,
}

/// What is drawn for the selected message, computed when the selection or mode changes, not per frame.
pub struct PayloadCache {
    seq: u64,
    mode: PayloadMode,
    payload: Arc<[u8]>,
    json: Option<Result<Value, String>>,
    rendered: String,
    truncated: bool,
    kind: &'static str,
}

impl PayloadCache {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn mode(&self) -> PayloadMode {
        self.mode
    }

    pub fn build(seq: u64, payload: Arc<[u8]>, mode: PayloadMode) -> PayloadCache {
        let text = std::str::from_utf8(&payload).ok();
        let json = if payload.is_empty() || payload.len() > 64 * 1024 * 1024 {
            None
        } else {
            text.map(|t| serde_json::from_str::<Value>(t).map_err(|e| e.to_string()))
        };
        let resolved = match mode {
            PayloadMode::Auto => match (&json, text) {
                (Some(Ok(_)), _) => PayloadMode::Tree,
                (_, Some(_)) => PayloadMode::Text,
                _ => PayloadMode::Hex,
            },
            other => other,
        };
        let (rendered, kind) = match resolved {
            PayloadMode::Pretty => match &json {
                Some(Ok(v)) => (serde_json::to_string_pretty(v).unwrap_or_default(), "JSON"),
                _ => (text.unwrap_or_default().to_owned(), "text"),
            },
            PayloadMode::Text | PayloadMode::Auto => match text {
                Some(t) => (t.to_owned(), "text"),
                None => (String::from_utf8_lossy(&payload).into_owned(), "not UTF-8"),
            },
            PayloadMode::Hex => (
                hex_dump(&payload[..payload.len().min(DISPLAY_LIMIT_BYTES)]),
                "binary",
            ),
            PayloadMode::Tree => (String::new(), "JSON"),
        };
        let truncated = rendered.len() > DISPLAY_LIMIT_BYTES
            || (resolved == PayloadMode::Hex && payload.len() > DISPLAY_LIMIT_BYTES);
        let rendered = if rendered.len() > DISPLAY_LIMIT_BYTES {
            let mut cut = DISPLAY_LIMIT_BYTES;
            while !rendered.is_char_boundary(cut) {
                cut -= 1;
            }
            rendered[..cut].to_owned()
        } else {
            rendered
        };
        PayloadCache {
            seq,
            mode,
            payload,
            json: if resolved == PayloadMode::Tree {
                json
            } else {
                None
            },
            rendered,
            truncated,
            kind,
        }
    }

    pub fn ui(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!(
                    "{} · {}",
                    format_bytes(self.payload.len() as u64),
                    self.kind
                ))
                .color(Theme::TEXT_MUTED),
            );
            if self.truncated {
                ui.label(
                    RichText::new(format!(
                        "showing the first {}",
                        format_bytes(DISPLAY_LIMIT_BYTES as u64)
                    ))
                    .color(Theme::TEXT_WARNING),
                );
            }
            if ui
                .button("Save payload…")
                .on_hover_text("Write the whole payload to a file (Ctrl+S)")
                .clicked()
            {
                actions.push(Action::SavePayload { seq: self.seq });
            }
            if ui
                .button("Copy all")
                .on_hover_text(
                    "Copy the whole payload to the clipboard (as text, or hex when binary)",
                )
                .clicked()
            {
                actions.push(Action::CopyPayload { seq: self.seq });
            }
        });
        ui.separator();
        if self.payload.is_empty() {
            ui.label(
                RichText::new(
                    "(empty payload — on a retained topic this clears the retained message)",
                )
                .color(Theme::TEXT_MUTED),
            );
            return;
        }
        egui::ScrollArea::both()
            .id_salt("payload_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| match &self.json {
                Some(Ok(value)) => json_tree_ui(ui, ("payload", self.seq), value),
                Some(Err(e)) if self.mode == PayloadMode::Tree => {
                    ui.label(RichText::new(format!("not JSON: {e}")).color(Theme::TEXT_ERROR));
                }
                _ => {
                    ui.add(
                        egui::Label::new(RichText::new(&self.rendered).monospace())
                            .selectable(true),
                    );
                }
            });
    }
}
