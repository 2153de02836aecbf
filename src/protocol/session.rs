//! Facts about the observer's own broker session, as events the ingest pump records.

use super::raw::RawMessage;

/// What the broker granted in its CONNACK (shown in the status bar and connection dialog).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnackInfo {
    pub session_present: bool,
    pub assigned_client_id: Option<String>,
    pub max_qos: Option<u8>,
    pub retain_available: Option<bool>,
    pub max_packet_size: Option<u32>,
    pub topic_alias_max: Option<u16>,
    pub wildcard_subscription_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub server_keep_alive_secs: Option<u16>,
    pub response_information: Option<String>,
    pub user_properties: Vec<(String, String)>,
}

/// The observer session's state; every change is reported as a `SessionEvent::State`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting {
        broker: String,
        attempt: u32,
    },
    Connected {
        broker: String,
        client_id: String,
        connack: ConnackInfo,
    },
    /// Lost or refused; `retry_in_millis` is the backoff before the next attempt (None: not retrying).
    Disconnected {
        broker: String,
        reason: String,
        retry_in_millis: Option<u64>,
    },
    /// Stopped by the user (or the session ended); no reconnect.
    Stopped {
        broker: String,
    },
}

impl ConnectionState {
    /// The broker this state is about (as its URL).
    pub fn broker(&self) -> &str {
        match self {
            ConnectionState::Connecting { broker, .. }
            | ConnectionState::Connected { broker, .. }
            | ConnectionState::Disconnected { broker, .. }
            | ConnectionState::Stopped { broker, .. } => broker,
        }
    }
}

/// What the MQTT session hands to ingest, in order, through one bounded channel.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    Message(RawMessage),
    /// Stamped with the receive clock like messages, so gaps can be drawn on the time axis.
    State {
        at_nanos: u64,
        state: ConnectionState,
    },
    /// A filter the broker refused in its SUBACK (reported, not fatal).
    SubscribeRefused {
        at_nanos: u64,
        filter: String,
        reason: String,
    },
    /// A command the session could not carry out (bad topic, channel closed, ...).
    CommandFailed {
        at_nanos: u64,
        what: String,
        reason: String,
    },
    /// A publish this session sent was handed to the broker (QoS 0) or acknowledged (QoS 1/2).
    Published {
        at_nanos: u64,
        topic: String,
    },
}
