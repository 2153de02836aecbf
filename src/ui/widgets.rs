//! Small reusable pieces: JSON tree, hex dump, and the formatting of times, sizes and counts.

use egui::{RichText, Ui};
use serde_json::Value;

use super::theme::Theme;

/// Children shown per object or array before "… N more" (keeps huge payloads drawable).
const MAX_CHILDREN_SHOWN: usize = 200;

/// A collapsible tree of a parsed JSON value. `id_salt` keeps open/closed state per message.
pub fn json_tree_ui(ui: &mut Ui, id_salt: impl std::hash::Hash + std::fmt::Debug, value: &Value) {
    ui.push_id(id_salt, |ui| json_node_ui(ui, None, value, 0));
}

fn json_node_ui(ui: &mut Ui, key: Option<&str>, value: &Value, depth: usize) {
    let label = |ui: &mut Ui, text: RichText| {
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            if let Some(key) = key {
                ui.label(
                    RichText::new(format!("{key}:"))
                        .color(Theme::JSON_KEY)
                        .monospace(),
                );
            }
            ui.label(text.monospace());
        });
    };
    match value {
        Value::Object(map) => {
            let title = format!(
                "{}{{{}}}",
                key.map(|k| format!("{k}: ")).unwrap_or_default(),
                map.len()
            );
            egui::CollapsingHeader::new(RichText::new(title).monospace())
                .id_salt((depth, key))
                .default_open(depth < 2)
                .show(ui, |ui| {
                    for (k, v) in map.iter().take(MAX_CHILDREN_SHOWN) {
                        json_node_ui(ui, Some(k), v, depth + 1);
                    }
                    more_ui(ui, map.len());
                });
        }
        Value::Array(items) => {
            let title = format!(
                "{}[{}]",
                key.map(|k| format!("{k}: ")).unwrap_or_default(),
                items.len()
            );
            egui::CollapsingHeader::new(RichText::new(title).monospace())
                .id_salt((depth, key))
                .default_open(depth < 2)
                .show(ui, |ui| {
                    for (i, v) in items.iter().take(MAX_CHILDREN_SHOWN).enumerate() {
                        json_node_ui(ui, Some(&i.to_string()), v, depth + 1);
                    }
                    more_ui(ui, items.len());
                });
        }
        Value::String(s) => label(
            ui,
            RichText::new(format!("{s:?}")).color(Theme::JSON_STRING),
        ),
        Value::Number(n) => label(ui, RichText::new(n.to_string()).color(Theme::JSON_NUMBER)),
        Value::Bool(b) => label(ui, RichText::new(b.to_string()).color(Theme::JSON_LITERAL)),
        Value::Null => label(ui, RichText::new("null").color(Theme::JSON_LITERAL)),
    }
}

fn more_ui(ui: &mut Ui, total: usize) {
    if total > MAX_CHILDREN_SHOWN {
        ui.label(
            RichText::new(format!("… {} more", total - MAX_CHILDREN_SHOWN))
                .color(Theme::TEXT_MUTED),
        );
    }
}

/// Classic 16-bytes-per-line hex dump with an ASCII column.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 + 16);
    for (line, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}  ", line * 16));
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

/// Bytes as lowercase hex without separators (Correlation Data).
pub fn hex_compact(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `HH:MM:SS.mmm` of a receive time, in UTC.
pub fn time_of_day_utc(at_nanos: u64) -> String {
    let millis_of_day = (at_nanos / 1_000_000) % 86_400_000;
    let (h, rest) = (millis_of_day / 3_600_000, millis_of_day % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    format!("{h:02}:{m:02}:{:02}.{:03}", rest / 1000, rest % 1000)
}

/// 1 234 B, 12.3 KiB, 4.5 MiB.
pub fn format_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.2} GiB", b / KIB / KIB / KIB)
    }
}

/// 1 234 567 with thin spaces between groups of three.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

/// Human duration for waits and ages: 850 ms, 3.2 s, 4 min 05 s.
pub fn format_millis(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis < 60_000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else {
        format!("{} min {:02} s", millis / 60_000, (millis % 60_000) / 1000)
    }
}

/// The MQTT 5 properties of a message as a compact grid (no scroll area of its own); `id_salt`
/// keeps two grids on one screen apart. Broker-added user properties are marked.
pub fn mqtt_properties_grid_ui(
    ui: &mut Ui,
    id_salt: impl std::hash::Hash + std::fmt::Debug,
    props: &crate::protocol::Properties,
) {
    const BROKER_ADDED: [&str; 1] = ["x-mqtt-client-id"];
    const MAX_USER_PROPERTIES: usize = 500;
    let id = ui.make_persistent_id(id_salt);
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .spacing([10.0, 3.0])
        .show(ui, |ui| {
            let row = |ui: &mut Ui, name: &str, value: String| {
                ui.label(RichText::new(name).color(Theme::TEXT_MUTED));
                ui.add(
                    egui::Label::new(RichText::new(value).monospace())
                        .selectable(true)
                        .wrap(),
                );
                ui.end_row();
            };
            if let Some(rt) = &props.response_topic {
                row(ui, "Response Topic", rt.clone());
            }
            if let Some(bytes) = &props.correlation_data {
                match std::str::from_utf8(bytes) {
                    Ok(text) if !text.chars().any(char::is_control) => {
                        row(ui, "Correlation Data", text.to_owned())
                    }
                    _ => row(
                        ui,
                        "Correlation Data",
                        format!("{} (hex)", hex_compact(bytes)),
                    ),
                }
            }
            if let Some(ct) = &props.content_type {
                row(ui, "Content Type", ct.clone());
            }
            if let Some(pfi) = props.payload_format_indicator {
                row(
                    ui,
                    "Payload Format",
                    if pfi == 1 {
                        "1 (UTF-8)".into()
                    } else {
                        format!("{pfi}")
                    },
                );
            }
            if let Some(secs) = props.message_expiry_interval_secs {
                row(ui, "Message Expiry", format!("{secs} s"));
            }
            for (key, value) in props.user_properties.iter().take(MAX_USER_PROPERTIES) {
                let name = ui.label(RichText::new(key).monospace().color(
                    if BROKER_ADDED.contains(&key.as_str()) {
                        Theme::BROKER_ADDED
                    } else {
                        Theme::JSON_KEY
                    },
                ));
                if BROKER_ADDED.contains(&key.as_str()) {
                    name.on_hover_text(
                        "Added by the broker when forwarding, not sent by the publisher",
                    );
                }
                ui.add(
                    egui::Label::new(RichText::new(value).monospace())
                        .selectable(true)
                        .wrap(),
                );
                ui.end_row();
            }
        });
    if props.user_properties.len() > MAX_USER_PROPERTIES {
        ui.label(
            RichText::new(format!(
                "… {} more user properties",
                props.user_properties.len() - MAX_USER_PROPERTIES
            ))
            .color(Theme::TEXT_MUTED),
        );
    }
    if props.response_topic.is_none()
        && props.correlation_data.is_none()
        && props.content_type.is_none()
        && props.user_properties.is_empty()
        && props.payload_format_indicator.is_none()
        && props.message_expiry_interval_secs.is_none()
    {
        ui.label(RichText::new("no MQTT 5 properties").color(Theme::TEXT_MUTED));
    }
}

/// How long ago, short: "now", "12 s", "4 min", "2 h 05 min", "3 d".
pub fn format_age_nanos(now_nanos: u64, at_nanos: u64) -> String {
    let secs = now_nanos.saturating_sub(at_nanos) / 1_000_000_000;
    match secs {
        0 => "now".to_owned(),
        1..=59 => format!("{secs} s"),
        60..=3_599 => format!("{} min", secs / 60),
        3_600..=86_399 => format!("{} h {:02} min", secs / 3_600, (secs % 3_600) / 60),
        _ => format!("{} d", secs / 86_400),
    }
}

/// A latency: "0.42 ms", "12.3 ms", "340 ms", "1.24 s".
pub fn format_latency_micros(micros: u64) -> String {
    if micros < 10_000 {
        format!("{:.2} ms", micros as f64 / 1000.0)
    } else if micros < 100_000 {
        format!("{:.1} ms", micros as f64 / 1000.0)
    } else if micros < 1_000_000 {
        format!("{} ms", micros / 1000)
    } else {
        format!("{:.2} s", micros as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(time_of_day_utc(3_723_004_000_000), "01:02:03.004");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(format_count(1_234_567), "1\u{2009}234\u{2009}567");
        assert_eq!(format_count(12), "12");
        assert_eq!(format_millis(3_200), "3.2 s");
        assert_eq!(hex_compact(&[0, 0xab]), "00ab");
        let dump = hex_dump(b"hello\x00world!!!!!!x");
        assert!(dump.starts_with("00000000  68 65 6c 6c 6f 00"));
        assert!(dump.contains("hello.world"));
        assert_eq!(dump.lines().count(), 2);
    }
}
