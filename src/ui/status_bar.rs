//! The status bar: connection state and broker, messages per second, stored, evicted and dropped counts.

use egui::{RichText, Ui};

use crate::model::Model;
use crate::model::session_log::SessionNote;
use crate::protocol::ConnectionState;

use super::theme::Theme;
use super::widgets::{format_bytes, format_count, format_millis, time_of_day_utc};

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
            .filter(|(_, n)| matches!(n, SessionNote::SubscribeRefused { .. }))
            .count();
        if refused > 0 {
            ui.separator();
            ui.label(RichText::new(format!("{refused} filter(s) refused")).color(Theme::TEXT_WARNING))
                .on_hover_text("The broker refused some observer subscriptions (e.g. an ACL on $-topics); traffic there is not visible");
        }
    });
}

/// The connection part of the status bar: dot colour, text, hover text.
pub(crate) struct ConnectionSummary {
    pub colour: egui::Color32,
    pub text: String,
    pub tip: String,
}

/// Reasons longer than this are cut in the bar (the whole reason is in the hover text).
const MAX_INLINE_REASON_CHARS: usize = 90;

fn connection_summary(model: &Model, now_nanos: u64) -> (egui::Color32, String, String) {
    let state_at_nanos = model
        .session
        .entries()
        .iter()
        .rev()
        .find(|(_, note)| matches!(note, SessionNote::State(_)))
        .map_or(now_nanos, |(at, _)| *at);
    let outages = model.session.gaps().len();
    let summary = summarize(model.session.current(), state_at_nanos, now_nanos, outages);
    (summary.colour, summary.text, summary.tip)
}

/// What the bar says for `state`, entered at `state_at_nanos` (receive clock), seen at
/// `now_nanos`; `outages` counts the session's disconnected spans so far.
pub(crate) fn summarize(
    state: Option<&ConnectionState>,
    state_at_nanos: u64,
    now_nanos: u64,
    outages: usize,
) -> ConnectionSummary {
    let outages_line = match outages {
        0 => String::new(),
        1 => "\n1 outage this session (marked on the timeline)".to_string(),
        n => format!("\n{n} outages this session (marked on the timeline)"),
    };
    match state {
        None => ConnectionSummary {
            colour: Theme::STATUS_UNKNOWN,
            text: "Not connected".into(),
            tip: "Connect to a broker with Ctrl+K".into(),
        },
        Some(ConnectionState::Connecting { broker, attempt }) => ConnectionSummary {
            colour: Theme::CONNECTION_CONNECTING,
            text: if *attempt > 1 {
                format!("Connecting to {broker}… (attempt {attempt})")
            } else {
                format!("Connecting to {broker}…")
            },
            tip: format!("Attempt {attempt}{outages_line}"),
        },
        Some(ConnectionState::Connected {
            broker,
            client_id,
            connack,
        }) => ConnectionSummary {
            colour: Theme::CONNECTION_CONNECTED,
            text: format!("Connected to {broker}"),
            tip: format!(
                "Observer client id {client_id}\nConnected since {} UTC\nRetain available: {}\nShared subscriptions: {}\nMax QoS: {}{outages_line}",
                time_of_day_utc(state_at_nanos),
                opt(connack.retain_available),
                opt(connack.shared_subscription_available),
                connack
                    .max_qos
                    .map_or_else(|| "2".into(), |q| q.to_string()),
            ),
        },
        Some(ConnectionState::Disconnected {
            broker,
            reason,
            retry_in_millis,
        }) => {
            let reason_inline = shorten(reason, MAX_INLINE_REASON_CHARS);
            let text = match retry_in_millis {
                Some(retry) => {
                    let next_at_nanos =
                        state_at_nanos.saturating_add(retry.saturating_mul(1_000_000));
                    let left_millis = next_at_nanos.saturating_sub(now_nanos) / 1_000_000;
                    let when = if left_millis == 0 {
                        "next attempt now".to_string()
                    } else {
                        format!("next attempt in {}", format_millis(left_millis))
                    };
                    format!(
                        "Disconnected from {broker}: {reason_inline}; {when} (at {} UTC, backoff {})",
                        time_of_day_utc(next_at_nanos),
                        format_millis(*retry)
                    )
                }
                None => format!("Disconnected from {broker}: {reason_inline}; not retrying"),
            };
            ConnectionSummary {
                colour: Theme::CONNECTION_DOWN,
                text,
                tip: format!(
                    "{reason}\nDisconnected at {} UTC{outages_line}",
                    time_of_day_utc(state_at_nanos)
                ),
            }
        }
        Some(ConnectionState::Stopped { broker }) => ConnectionSummary {
            colour: Theme::STATUS_UNKNOWN,
            text: format!("Disconnected from {broker}"),
            tip: format!("Stopped by you{outages_line}"),
        },
    }
}

/// `text` cut to `max_chars` characters, with an ellipsis when cut.
fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn opt(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "yes (default)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    /// 12:00:00 UTC on some day.
    const NOON: u64 =
        1_800_000_000 * SECOND - (1_800_000_000 % 86_400) * SECOND + 12 * 3600 * SECOND;

    fn down(retry_in_millis: Option<u64>) -> ConnectionState {
        ConnectionState::Disconnected {
            broker: "mqtt://127.0.0.1:1883".into(),
            reason: "connection refused by 127.0.0.1 (is the broker running?)".into(),
            retry_in_millis,
        }
    }

    #[test]
    fn backoff_shows_time_left_and_the_next_attempt_time() {
        let state = down(Some(800));
        let s = summarize(Some(&state), NOON, NOON + 300_000_000, 2);
        assert_eq!(
            s.text,
            "Disconnected from mqtt://127.0.0.1:1883: connection refused by 127.0.0.1 (is the broker running?); next attempt in 500 ms (at 12:00:00.800 UTC, backoff 800 ms)"
        );
        assert!(
            s.tip.contains("Disconnected at 12:00:00.000 UTC"),
            "{}",
            s.tip
        );
        assert!(s.tip.contains("2 outages this session"), "{}", s.tip);
        // Past the scheduled time (the attempt is under way).
        let s = summarize(Some(&state), NOON, NOON + 2 * SECOND, 2);
        assert!(
            s.text.contains("next attempt now (at 12:00:00.800 UTC"),
            "{}",
            s.text
        );
        let s = summarize(Some(&down(None)), NOON, NOON, 1);
        assert!(s.text.ends_with("; not retrying"), "{}", s.text);
    }

    #[test]
    fn long_reasons_are_cut_in_the_bar_and_whole_in_the_tip() {
        let reason = "x".repeat(500);
        let state = ConnectionState::Disconnected {
            broker: "b".into(),
            reason: reason.clone(),
            retry_in_millis: Some(100),
        };
        let s = summarize(Some(&state), NOON, NOON, 1);
        assert!(
            s.text.contains(&format!("{}…;", "x".repeat(90))),
            "{}",
            s.text
        );
        assert!(s.tip.starts_with(&reason));
        assert_eq!(shorten("ünïcödé", 3), "ünï…");
    }

    #[test]
    fn connecting_counts_attempts_and_connected_shows_since() {
        let s = summarize(
            Some(&ConnectionState::Connecting {
                broker: "b".into(),
                attempt: 4,
            }),
            NOON,
            NOON,
            0,
        );
        assert_eq!(s.text, "Connecting to b… (attempt 4)");
        let s = summarize(
            Some(&ConnectionState::Connected {
                broker: "b".into(),
                client_id: "meshscope-1".into(),
                connack: Default::default(),
            }),
            NOON + 61 * SECOND,
            NOON + 70 * SECOND,
            1,
        );
        assert_eq!(s.text, "Connected to b");
        assert!(
            s.tip.contains("Connected since 12:01:01.000 UTC"),
            "{}",
            s.tip
        );
        assert!(s.tip.contains("1 outage this session"), "{}", s.tip);
    }
}
