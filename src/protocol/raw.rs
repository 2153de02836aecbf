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

    /// Heap bytes this message holds beyond its payload bytes, as the allocator spends them
    /// (rounding and headers included; the payload's block header and rounding count here).
    pub fn overhead_bytes(&self) -> usize {
        let props = self.properties.as_deref().map_or(0, |p| {
            let string = |s: &Option<String>| s.as_ref().map_or(0, |s| allocation_bytes(s.len()));
            allocation_bytes(std::mem::size_of::<Properties>())
                + string(&p.content_type)
                + string(&p.response_topic)
                + p.correlation_data
                    .as_ref()
                    .map_or(0, |d| allocation_bytes(d.len()))
                + allocation_bytes(
                    p.user_properties.capacity() * std::mem::size_of::<(String, String)>(),
                )
                + p.user_properties
                    .iter()
                    .map(|(k, v)| allocation_bytes(k.len()) + allocation_bytes(v.len()))
                    .sum::<usize>()
                + allocation_bytes(p.subscription_identifiers.capacity() * 8)
        });
        std::mem::size_of::<RawMessage>()
            + allocation_bytes(self.topic.len())
            + arc_allocation_bytes(self.payload.len())
            - self.payload.len()
            + props
    }
}

/// Bytes the allocator (glibc malloc) really spends on a block of `requested` bytes: an 8-byte
/// header, 16-byte granularity, a 32-byte minimum; blocks from 128 KiB are page-rounded mmaps.
/// Zero for zero (an empty `Box<[u8]>`/`Vec` allocates nothing).
pub const fn allocation_bytes(requested: usize) -> usize {
    const MMAP_THRESHOLD: usize = 128 * 1024;
    if requested == 0 {
        0
    } else if requested >= MMAP_THRESHOLD {
        (requested + 16 + 4095) & !4095
    } else {
        let chunk = (requested + 8 + 15) & !15;
        if chunk < 32 { 32 } else { chunk }
    }
}

/// Bytes an `Arc<[u8]>`/`Arc<str>` of `len` bytes spends: its two counts plus the bytes, rounded.
pub const fn arc_allocation_bytes(len: usize) -> usize {
    allocation_bytes(2 * std::mem::size_of::<usize>() + len)
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

    #[test]
    fn allocation_bytes_follow_glibc_rounding() {
        assert_eq!(allocation_bytes(0), 0);
        assert_eq!(allocation_bytes(1), 32);
        assert_eq!(allocation_bytes(24), 32);
        assert_eq!(allocation_bytes(25), 48);
        assert_eq!(allocation_bytes(200), 208);
        assert_eq!(arc_allocation_bytes(200), 224);
        assert_eq!(allocation_bytes(1 << 20), (1 << 20) + 4096);
    }
}
