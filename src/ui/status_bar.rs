//! The status bar: connection state and broker, messages per second, stored, evicted and dropped counts.

use egui::{RichText, Ui};

use crate::model::Model;
use crate::protocol::ConnectionState;

use super::theme::Theme;
use super::widgets::{format_bytes, format_count, format_millis};

/// `now_nanos` is the receive clock, used to show how long ago a retry was scheduled.
pub fn status_bar_ui(ui: &mut Ui, model: &Model, now_nanos: u64) {
    ui.horizontal(|ui| {
        let (colour, text, tip) = connection_summary(model, now_nanos);
        let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter().circle_filled(dot.center(), 5.0, colour);
        ui.label(text).on_hover_text(tip);
        ui.separator();
        let counters = model.store.counters();
        ui.label(format!("{} msg/s", format_count(model.messages_per_sec())))
            .on_hover_text("Messages received in the last full second");
        ui.separator();
        ui.label(format!(
            "stored {} ({})",
            format_count(counters.stored_messages as u64),
            format_bytes(counters.stored_bytes as u64)
        ))
        .on_hover_text(format!(
            "Messages kept in memory, payloads included; cap {} messages / {}",
            format_count(model.store.limits().max_messages as u64),
            format_bytes(model.store.limits().max_bytes as u64)
        ));
        ui.separator();
        let evicted = RichText::new(format!("evicted {}", format_count(counters.evicted_messages)));
        ui.label(if counters.evicted_messages > 0 { evicted.color(Theme::TEXT_WARNING) } else { evicted })
            .on_hover_text("Oldest messages dropped from memory to stay within the caps (still counted in the stats)");
        ui.separator();
        let dropped = RichText::new(format!("dropped {}", format_count(model.messages_dropped)));
        ui.label(if model.messages_dropped > 0 { dropped.color(Theme::TEXT_ERROR) } else { dropped })
            .on_hover_text("Messages lost before they reached the model");
        let refused = model
            .session
            .entries()
            .iter()
            .filter(|(_, n)| matches!(n, crate::model::session_log::SessionNote::SubscribeRefused { .. }))
            .count();
        if refused > 0 {
            ui.separator();
            ui.label(RichText::new(format!("{refused} filter(s) refused")).color(Theme::TEXT_WARNING))
                .on_hover_text("The broker refused some observer subscriptions (e.g. an ACL on $-topics); traffic there is not visible");
        }
    });
}

fn connection_summary(model: &Model, now_nanos: u64) -> (egui::Color32, String, String) {
    match model.session.current() {
        None => (
            Theme::STATUS_UNKNOWN,
            "Not connected".into(),
            "Connect to a broker with Ctrl+K".into(),
        ),
        Some(ConnectionState::Connecting { broker, attempt }) => (
            Theme::CONNECTION_CONNECTING,
            format!("Connecting to {broker}…"),
            format!("Attempt {attempt}"),
        ),
        Some(ConnectionState::Connected {
            broker,
            client_id,
            connack,
        }) => (
            Theme::CONNECTION_CONNECTED,
            format!("Connected to {broker}"),
            format!(
                "Observer client id {client_id}\nRetain available: {}\nShared subscriptions: {}\nMax QoS: {}",
                opt(connack.retain_available),
                opt(connack.shared_subscription_available),
                connack
                    .max_qos
                    .map_or_else(|| "2".into(), |q| q.to_string()),
            ),
        ),
        Some(ConnectionState::Disconnected {
            broker,
            reason,
            retry_in_millis,
        }) => {
            let since = model
                .session
                .entries()
                .last()
                .map_or(0, |(at, _)| now_nanos.saturating_sub(*at) / 1_000_000);
            let retry = retry_in_millis.map(|ms| ms.saturating_sub(since));
            (
                Theme::CONNECTION_DOWN,
                match retry {
                    Some(ms) => format!(
                        "Disconnected from {broker}: retrying in {}",
                        format_millis(ms)
                    ),
                    None => format!("Disconnected from {broker}"),
                },
                reason.clone(),
            )
        }
        Some(ConnectionState::Stopped { broker }) => (
            Theme::STATUS_UNKNOWN,
            format!("Disconnected from {broker}"),
            "Stopped by you".into(),
        ),
    }
}

fn opt(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "yes (default)",
    }
}
