//! The raw MQTT message as it entered the process: bytes, properties and receive time.

use std::borrow::Cow;
use std::sync::Arc;

/// MQTT 5 PUBLISH properties, kept exactly as received (user properties in order, keys may repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval_secs: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    /// Binary: compare as bytes, display as text only when valid UTF-8.
    pub correlation_data: Option<Vec<u8>>,
    pub user_properties: Vec<(String, String)>,
    pub subscription_identifiers: Vec<usize>,
}

impl Properties {
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }

    /// First value of a user property, by exact key.
    pub fn user_property(&self, key: &str) -> Option<&str> {
        self.user_properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Correlation Data as text when it is valid UTF-8.
    pub fn correlation_text(&self) -> Option<&str> {
        self.correlation_data
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// One PUBLISH as observed. `received_at_nanos` is stamped once, where the message entered
/// the process (Unix epoch nanoseconds); it is the only clock latencies use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub received_at_nanos: u64,
    /// Topic bytes as delivered: may be non-UTF-8 on a misbehaving broker.
    pub topic: Box<[u8]>,
    pub payload: Arc<[u8]>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// `None` when the PUBLISH carried no properties (saves memory per stored message).
    pub properties: Option<Box<Properties>>,
}

static NO_PROPERTIES: Properties = Properties {
    payload_format_indicator: None,
    message_expiry_interval_secs: None,
    content_type: None,
    response_topic: None,
    correlation_data: None,
    user_properties: Vec::new(),
    subscription_identifiers: Vec::new(),
};

impl RawMessage {
    /// A message with the given topic and payload and no properties (tests, demo, replay).
    pub fn new(received_at_nanos: u64, topic: &str, payload: impl Into<Arc<[u8]>>) -> Self {
        RawMessage {
            received_at_nanos,
            topic: topic.as_bytes().into(),
            payload: payload.into(),
            qos: 0,
            retain: false,
            dup: false,
            properties: None,
        }
    }

    /// The topic as UTF-8, or `None` when the broker delivered invalid UTF-8.
    pub fn topic_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.topic).ok()
    }

    /// The topic for display: valid UTF-8 as is, each invalid byte as `\xNN`.
    pub fn topic_lossy(&self) -> Cow<'_, str> {
        match std::str::from_utf8(&self.topic) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => Cow::Owned(escape_invalid_utf8(&self.topic)),
        }
    }

    pub fn props(&self) -> &Properties {
        self.properties.as_deref().unwrap_or(&NO_PROPERTIES)
    }

    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    /// Bytes this message holds beyond its payload, for the memory accounting of the store.
    pub fn overhead_bytes(&self) -> usize {
        let props = self.properties.as_deref().map_or(0, |p| {
            std::mem::size_of::<Properties>()
                + p.content_type.as_ref().map_or(0, |s| s.len())
                + p.response_topic.as_ref().map_or(0, |s| s.len())
                + p.correlation_data.as_ref().map_or(0, |s| s.len())
                + p.user_properties
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 48)
                    .sum::<usize>()
                + p.subscription_identifiers.len() * 8
        });
        std::mem::size_of::<RawMessage>() + self.topic.len() + 16 + props
    }
}

/// Valid UTF-8 runs kept, every invalid byte written as `\xNN` (readable, and findable by a filter).
pub fn escape_invalid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_topic_bytes_are_escaped_for_display() {
        let mut raw = RawMessage::new(0, "x", Vec::new());
        raw.topic = vec![b'a', 0xff, b'/', 0xc3].into_boxed_slice();
        assert_eq!(raw.topic_str(), None);
        assert_eq!(raw.topic_lossy(), "a\\xff/\\xc3");
        assert_eq!(escape_invalid_utf8("ok/ü".as_bytes()), "ok/ü");
    }
}
