//! The payload pane: pretty JSON, JSON tree, text or hex, truncated for big payloads, built once per selection (big ones on a worker thread).

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use egui::{RichText, Ui};
use serde_json::Value;

use super::Action;
use super::theme::Theme;
use super::widgets::{format_bytes, hex_dump, json_tree_ui};

/// Bytes rendered on screen; the rest is one click away (save or copy).
pub const DISPLAY_LIMIT_BYTES: usize = 256 * 1024;

/// Payloads above this are parsed and rendered on a worker thread (a 16 MB JSON document takes
/// ~100 ms to parse): the window keeps drawing meanwhile.
pub const BUILD_ON_WORKER_BYTES: usize = 256 * 1024;

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

/// What is drawn for the selected message, computed when the selection or mode changes, not
/// per frame; big payloads are prepared on a worker thread while the pane says so.
pub struct PayloadCache {
    seq: u64,
    mode: PayloadMode,
    payload_len: usize,
    built: OnceLock<Built>,
    /// The worker's result, until it is taken into `built`.
    pending: Option<Mutex<mpsc::Receiver<Built>>>,
}

/// The prepared view of one payload.
struct Built {
    payload_len: usize,
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
        let payload_len = payload.len();
        let cache = |built: OnceLock<Built>, pending| PayloadCache {
            seq,
            mode,
            payload_len,
            built,
            pending,
        };
        if payload_len > BUILD_ON_WORKER_BYTES {
            let (sender, receiver) = mpsc::sync_channel(1);
            let payload_for_worker = Arc::clone(&payload);
            let spawned = std::thread::Builder::new()
                .name("meshscope-payload".into())
                .spawn(move || {
                    // The pane may be gone (another selection): then nobody listens.
                    let _ = sender.send(Built::new(&payload_for_worker, mode));
                });
            if spawned.is_ok() {
                return cache(OnceLock::new(), Some(Mutex::new(receiver)));
            }
        }
        cache(OnceLock::from(Built::new(&payload, mode)), None)
    }

    /// Whether the payload is still being prepared on the worker.
    pub fn is_building(&self) -> bool {
        self.ready().is_none()
    }

    /// The prepared view, once there (takes the worker's result when it has arrived).
    fn ready(&self) -> Option<&Built> {
        if let Some(built) = self.built.get() {
            return Some(built);
        }
        let receiver = self.pending.as_ref()?.lock().ok()?;
        match receiver.try_recv() {
            Ok(built) => Some(self.built.get_or_init(|| built)),
            Err(_) => None,
        }
    }
}

impl Built {
    fn new(payload: &[u8], mode: PayloadMode) -> Built {
        let text = std::str::from_utf8(payload).ok();
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
                None => (String::from_utf8_lossy(payload).into_owned(), "not UTF-8"),
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
        Built {
            payload_len: payload.len(),
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
}

impl PayloadCache {
    pub fn ui(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let Some(built) = self.ready() else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(
                    RichText::new(format!(
                        "Reading a {} payload…",
                        format_bytes(self.payload_len as u64)
                    ))
                    .color(Theme::TEXT_MUTED),
                );
            });
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(50));
            return;
        };
        built.ui(ui, self.seq, self.mode, actions);
    }
}

impl Built {
    fn ui(&self, ui: &mut Ui, seq: u64, mode: PayloadMode, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!(
                    "{} · {}",
                    format_bytes(self.payload_len as u64),
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
                actions.push(Action::SavePayload { seq });
            }
            if ui
                .button("Copy all")
                .on_hover_text(
                    "Copy the whole payload to the clipboard (as text, or hex when binary)",
                )
                .clicked()
            {
                actions.push(Action::CopyPayload { seq });
            }
        });
        ui.separator();
        if self.payload_len == 0 {
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
                Some(Ok(value)) => json_tree_ui(ui, ("payload", seq), value),
                Some(Err(e)) if mode == PayloadMode::Tree => {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits for the worker's result (tests only; the pane polls instead).
    fn wait_built(cache: &PayloadCache) -> &Built {
        if let Some(receiver) = &cache.pending
            && cache.built.get().is_none()
        {
            let built = receiver
                .lock()
                .unwrap()
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("the worker finishes");
            let _ = cache.built.set(built);
        }
        cache.built.get().expect("built")
    }

    #[test]
    fn small_payloads_are_ready_at_once_and_big_ones_are_built_on_a_worker() {
        let small = PayloadCache::build(1, Arc::from(&br#"{"a":[1,2]}"#[..]), PayloadMode::Auto);
        assert!(small.pending.is_none() && !small.is_building());
        assert_eq!(small.ready().unwrap().kind, "JSON");

        // 16 MB of JSON: the call returns at once, the worker parses it.
        let mut big = String::from("{\"items\":[");
        while big.len() < 16 * 1024 * 1024 {
            big.push_str("{\"k\":\"0123456789abcdef\",\"n\":12345},");
        }
        big.push_str("0]}");
        let payload: Arc<[u8]> = Arc::from(big.as_bytes());
        let cache = PayloadCache::build(2, Arc::clone(&payload), PayloadMode::Auto);
        assert!(
            cache.pending.is_some(),
            "a 16 MB payload goes to the worker"
        );
        let built = wait_built(&cache);
        assert_eq!(built.kind, "JSON");
        assert!(matches!(built.json, Some(Ok(_))));
        assert!(!cache.is_building());
        assert_eq!(built.payload_len, payload.len());

        // The same bytes as text: shown truncated to the display limit.
        let text = PayloadCache::build(3, payload, PayloadMode::Text);
        let built = wait_built(&text);
        assert!(built.truncated && built.rendered.len() <= DISPLAY_LIMIT_BYTES);

        // Nested 100 000 deep: a clear "not JSON" in tree mode, no stack overflow.
        let deep: Arc<[u8]> =
            Arc::from(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes());
        let cache = PayloadCache::build(4, deep, PayloadMode::Tree);
        let built = wait_built(&cache);
        assert!(
            matches!(&built.json, Some(Err(e)) if e.contains("recursion")),
            "{:?}",
            built.json.as_ref().map(|j| j.as_ref().err())
        );
    }
}
