//! The tool-call composer's pure core (no egui, no tokio, no clock): catalogue, schema form, request builders per dialect, pending-call tracking.
//!
//! Whoever drives a call (the app's composer view, or `meshscope call`) owns the I/O: it hands
//! the [`Step`]s a [`PendingCall`] returns to its MQTT session, in order, and feeds back every
//! message it receives and the time. Everything here is deterministic given those inputs, so
//! the same code runs behind the window and the command line.

pub mod call;
pub mod catalogue;
pub mod command_line;
pub mod history;
pub mod ids;
pub mod schema;

pub use call::{
    CallError, CallOutcome, CallReport, CallSpec, CallTarget, McpOperation, PartialRecord,
    PendingCall, SendOptions,
};
pub use catalogue::{Catalogue, CatalogueEntry};
pub use schema::SchemaForm;

use crate::protocol::Properties;

/// One message Meshscope publishes, as its own identity (the caller's session client id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbound {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub properties: Properties,
}

/// What a call asks its driver to do, in order. Subscriptions come before the publish whose
/// replies they catch (the broker handles one connection's packets in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Subscribe { filter: String, qos: u8 },
    Unsubscribe { filter: String },
    Publish(Outbound),
}

impl Step {
    /// Short text for logs and the composer's transcript.
    pub fn describe(&self) -> String {
        match self {
            Step::Subscribe { filter, qos } => format!("subscribe {filter} (QoS {qos})"),
            Step::Unsubscribe { filter } => format!("unsubscribe {filter}"),
            Step::Publish(out) => format!(
                "publish {} ({} B, QoS {})",
                out.topic,
                out.payload.len(),
                out.qos
            ),
        }
    }
}

/// True when a subscription to `filter` is already implied by one of `held` (an observer
/// session holds `#` and the `$`-roots): subscribing again would only make the broker deliver
/// duplicates. Only exact matches and `prefix/#` coverage are recognised.
pub fn covered_by(filter: &str, held: &[&str]) -> bool {
    held.iter().any(|h| {
        if *h == filter {
            return true;
        }
        if *h == "#" {
            // `#` does not match topics whose first level starts with `$` (MQTT 5 §4.7.2).
            return !filter.starts_with('$');
        }
        match h.strip_suffix("/#") {
            Some(prefix) if !prefix.contains(['+', '#']) => {
                filter == prefix
                    || filter
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observer_filters_cover_reply_topics_but_not_dollar_topics_under_hash() {
        let held = [
            "#",
            "$a2a/#",
            "$mcp-server/#",
            "$mcp-client/#",
            "$mcp-rpc/#",
            "$mcp-rpc-endpoint/#",
        ];
        assert!(covered_by(
            "a2a/v1/mcp/clients/meshscope-1/responses",
            &held
        ));
        assert!(covered_by("$a2a/v1/reply/com.acme/support/me/abc", &held));
        assert!(covered_by("$mcp-rpc/me/sid/acme/fleet", &held));
        assert!(!covered_by("$other/x", &held));
        assert!(!covered_by("$other/x", &["#"]));
        assert!(covered_by("a/b", &["a/#"]));
        assert!(!covered_by("ab/c", &["a/#"]));
        assert!(!covered_by("a/b", &["a/+/#"]));
    }
}
