//! Bytes to observations: one decoder per dialect; no egui, no tokio, no rumqttc.

pub mod cs_a2a;
pub mod cs_mcp;
pub mod emqx_a2a;
pub mod emqx_mcp;
pub mod json;
pub mod jsonrpc;
pub mod mqtt5_rpc;
pub mod observation;
pub mod openmas;
pub mod raw;
pub mod session;

#[cfg(test)]
mod fuzz_tests;

pub use json::JsonRpcId;
pub use observation::{
    Cancel, Direction, DiscoveredTool, ErrorInfo, Event, Finality, Notification, Observation,
    PairKey, ParticipantKind, Presence, Progress, Reply, ReplyOutcome, Request, Status,
    StatusSource, bytes_display,
};
pub use raw::{Properties, RawMessage};
pub use session::{ConnackInfo, ConnectionState, SessionEvent};

/// The wire dialects Meshscope recognises (PROTOCOLS.md), in detection order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    MqttAgentMcp,
    MqttAgentA2a,
    EmqxMcp,
    EmqxA2a,
    OpenMas,
    Mqtt5Rpc,
    JsonRpc,
    #[default]
    Raw,
}

impl Dialect {
    pub const ALL: [Dialect; 8] = [
        Dialect::MqttAgentMcp,
        Dialect::MqttAgentA2a,
        Dialect::EmqxMcp,
        Dialect::EmqxA2a,
        Dialect::OpenMas,
        Dialect::Mqtt5Rpc,
        Dialect::JsonRpc,
        Dialect::Raw,
    ];

    /// Stable machine name (report JSON, recordings, filters).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::MqttAgentMcp => "mqtt-agent-mcp",
            Dialect::MqttAgentA2a => "mqtt-agent-a2a",
            Dialect::EmqxMcp => "emqx-mcp",
            Dialect::EmqxA2a => "emqx-a2a",
            Dialect::OpenMas => "openmas",
            Dialect::Mqtt5Rpc => "mqtt5-rpc",
            Dialect::JsonRpc => "jsonrpc",
            Dialect::Raw => "raw",
        }
    }

    /// Human label for the UI.
    pub fn label(self) -> &'static str {
        match self {
            Dialect::MqttAgentMcp => "MQTT.Agent MCP",
            Dialect::MqttAgentA2a => "MQTT.Agent A2A",
            Dialect::EmqxMcp => "EMQX MCP",
            Dialect::EmqxA2a => "EMQX A2A",
            Dialect::OpenMas => "OpenMAS",
            Dialect::Mqtt5Rpc => "MQTT 5 request/response",
            Dialect::JsonRpc => "JSON-RPC (unclassified)",
            Dialect::Raw => "raw MQTT",
        }
    }

    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message could not be (fully) decoded; the raw message is always kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    /// The dialect the topic pointed to (`Raw` when even the topic was unreadable).
    pub dialect: Dialect,
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub fn new(dialect: Dialect, kind: DecodeErrorKind) -> Self {
        DecodeError { dialect, kind }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("topic is not UTF-8")]
    TopicNotUtf8,
    #[error("topic `{topic}` is not a valid {what} topic")]
    BadTopic { what: &'static str, topic: Box<str> },
    #[error("payload is not UTF-8")]
    PayloadNotUtf8,
    #[error("payload is empty")]
    EmptyPayload,
    #[error("payload of {bytes} bytes is over the decode limit of {limit_bytes} bytes")]
    TooLarge { bytes: usize, limit_bytes: usize },
    #[error("JSON nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("payload is not valid JSON: {detail}")]
    InvalidJson { detail: Box<str> },
    #[error("{what} is {found}, expected a JSON object")]
    NotAnObject {
        what: &'static str,
        found: &'static str,
    },
    #[error("{what} has no field `{field}`")]
    MissingField {
        what: &'static str,
        field: &'static str,
    },
    #[error("{what} field `{field}` is {found}, expected {expected}")]
    WrongType {
        what: &'static str,
        field: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{what}: {detail}")]
    Invalid {
        what: &'static str,
        detail: Box<str>,
    },
}

/// Decode one raw message: detection per PROTOCOLS.md (b), first match wins, then the
/// dialect's decoder validates the payload. Total: never panics, whatever the bytes.
///
/// `Err` means nothing usable could be read (the message is counted as undecoded); a message
/// whose payload is broken but whose topic and properties still say who asked whom (an A2A
/// request that is not JSON, say) decodes to `Ok` with `issue` set.
pub fn decode(raw: &RawMessage) -> Result<Observation<'_>, DecodeError> {
    let Some(topic) = raw.topic_str() else {
        return Err(DecodeError::new(
            Dialect::Raw,
            DecodeErrorKind::TopicNotUtf8,
        ));
    };
    // 1. EMQX MCP over MQTT (both revisions).
    if topic.starts_with("$mcp-")
        && let Some(route) = emqx_mcp::route(topic)
    {
        return emqx_mcp::decode(raw, route);
    }
    // 2./3. EMQX A2A over MQTT: `$a2a/v1/...`, one mountpoint level, legacy `a2a/v1/...`.
    if let Some(route) = emqx_a2a::route(topic)
        && let Some(result) = emqx_a2a::decode(raw, route)
    {
        return result;
    }
    // 4. MQTT.Agent MCP profile.
    if let Some(route) = cs_mcp::route(topic) {
        return cs_mcp::decode(raw, route);
    }
    // 5. MQTT.Agent A2A profile.
    if let Some(route) = cs_a2a::route(topic) {
        return cs_a2a::decode(raw, route);
    }
    // 6. OpenMAS (topic shape is generic: only a matching envelope decides).
    if let Some(route) = openmas::route(topic)
        && let Some(result) = openmas::decode(raw, route)
    {
        return result;
    }
    let props = raw.props();
    // Dialect user properties are decisive on any topic.
    if props
        .user_properties
        .iter()
        .any(|(k, _)| k.starts_with("a2a-"))
        && let Some(result) = emqx_a2a::decode_on_other_topic(raw, topic)
    {
        return result;
    }
    if (props.user_property("MCP-COMPONENT-TYPE").is_some()
        || props.user_property("MCP-MQTT-CLIENT-ID").is_some())
        && let Some(obs) = jsonrpc::decode(raw, topic, Dialect::EmqxMcp)
    {
        return Ok(obs);
    }
    // 7. Plain MQTT 5 request/response.
    if let Some(obs) = mqtt5_rpc::decode(raw, topic) {
        return Ok(obs);
    }
    // 8. JSON-RPC on an unknown topic.
    if let Some(obs) = jsonrpc::decode(raw, topic, Dialect::JsonRpc) {
        return Ok(obs);
    }
    // 9. Raw MQTT.
    Ok(Observation::raw())
}

/// Re-read a message as a reply of `dialect`: the model calls this when a message that decoded
/// as something generic arrived on a Response Topic recorded for that dialect's request.
pub fn decode_reply_as(dialect: Dialect, raw: &RawMessage) -> Option<Observation<'_>> {
    let topic = raw.topic_str()?;
    match dialect {
        Dialect::EmqxA2a => Some(emqx_a2a::decode_reply_on(raw, topic, "")),
        _ => None,
    }
}

/// The last `N` levels of a topic and the prefix before them (`None` if fewer levels, or an empty prefix).
pub(crate) fn split_tail<const N: usize>(topic: &str) -> Option<(&str, [&str; N])> {
    let mut out = [""; N];
    let mut rest = topic;
    for slot in out.iter_mut().rev() {
        let at = rest.rfind('/')?;
        *slot = &rest[at + 1..];
        rest = &rest[..at];
    }
    if rest.is_empty() {
        return None;
    }
    Some((rest, out))
}

fn bad_topic(dialect: Dialect, what: &'static str, topic: &str) -> DecodeError {
    DecodeError::new(
        dialect,
        DecodeErrorKind::BadTopic {
            what,
            topic: topic.into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_tail_splits_from_the_right() {
        assert_eq!(
            split_tail::<4>("a2a/v1/mcp/tools/echo/call"),
            Some(("a2a/v1", ["mcp", "tools", "echo", "call"]))
        );
        assert_eq!(split_tail::<4>("mcp/tools/echo/call"), None);
        assert_eq!(split_tail::<2>("a"), None);
    }

    #[test]
    fn dialect_names_are_stable() {
        let names: Vec<_> = Dialect::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(
            names,
            [
                "mqtt-agent-mcp",
                "mqtt-agent-a2a",
                "emqx-mcp",
                "emqx-a2a",
                "openmas",
                "mqtt5-rpc",
                "jsonrpc",
                "raw"
            ]
        );
        for d in Dialect::ALL {
            assert_eq!(Dialect::from_name(d.as_str()), Some(d));
        }
    }
}
