//! Recording format (versioned JSONL of raw messages): reader and line writer.
//!
//! # Format
//!
//! One JSON object per line, UTF-8, `\n`-terminated: raw messages with their receive times,
//! recorded before decoding (a decoder fixed tomorrow re-reads yesterday's recording). It is the
//! capture format of `shared/fixtures/peers-mesh/capture.jsonl`, so those captures replay as is.
//!
//! An optional first line is a header:
//!
//! ```json
//! {"meshscope_recording": 1, "created_by": "meshscope 0.1.0", "started_at_nanos": 1795425074663934074, "broker": "mqtt://127.0.0.1:1883"}
//! ```
//!
//! `meshscope_recording` is the format version (readers refuse a newer one); the other header
//! fields are optional and informative. Every other line is one message:
//!
//! | field | meaning |
//! | --- | --- |
//! | `seq` | arrival index from 1 (informative; readers do not require it) |
//! | `ts_ns` | receive time, Unix epoch nanoseconds (the recorder's clock) — required |
//! | `topic` | the topic; with `topic_encoding: "base64"` the base64 of its bytes (a misbehaving broker's non-UTF-8 topic) |
//! | `topic_encoding` | `"utf8"` (default when absent) or `"base64"` |
//! | `qos`, `retain`, `dup` | as delivered (default 0 / false) |
//! | `payload_len` | byte length; checked when present |
//! | `payload_encoding` | `"utf8"` (the payload is the text) or `"base64"` (the bytes) |
//! | `payload` | the payload |
//! | `properties` | object, every field optional: `response_topic`, `correlation_data_hex` (authoritative) and `correlation_data_utf8` (informative), `user_properties` (ordered `[key, value]` pairs, keys may repeat), `content_type`, `message_expiry_interval` (seconds), `payload_format_indicator`, `subscription_identifier` (number or list) |
//!
//! Unknown fields are ignored (forward compatible). A line that cannot be read is reported
//! with its line number and reading goes on with the next line.

pub mod export;
pub mod player;
pub mod recorder;

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::{Properties, RawMessage};

/// The recording format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u64 = 1;

/// The optional first line of a recording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingHeader {
    pub meshscope_recording: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_nanos: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
}

impl RecordingHeader {
    pub fn new(started_at_nanos: Option<u64>, broker: Option<String>) -> Self {
        RecordingHeader {
            meshscope_recording: FORMAT_VERSION,
            created_by: Some(format!("meshscope {}", env!("CARGO_PKG_VERSION"))),
            started_at_nanos,
            broker,
        }
    }
}

/// A line that could not be read (its 1-based number) and why.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct RecordError {
    pub line: u64,
    pub kind: RecordErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordErrorKind {
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a JSON message line: {0}")]
    Json(String),
    #[error("recording format version {found} is newer than this build reads ({FORMAT_VERSION})")]
    Version { found: u64 },
    #[error("{0}")]
    Field(String),
}

/// Write the header line.
pub fn write_header(header: &RecordingHeader, out: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, header)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    ts_ns: u64,
    topic: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_encoding: Option<&'static str>,
    qos: u8,
    retain: bool,
    dup: bool,
    payload_len: usize,
    payload_encoding: &'static str,
    payload: Cow<'a, str>,
    properties: PropsOut<'a>,
}

#[derive(Serialize)]
struct PropsOut<'a> {
    response_topic: Option<&'a str>,
    correlation_data_hex: Option<String>,
    correlation_data_utf8: Option<&'a str>,
    user_properties: Vec<[&'a str; 2]>,
    content_type: Option<&'a str>,
    message_expiry_interval: Option<u32>,
    payload_format_indicator: Option<u8>,
    subscription_identifier: &'a [usize],
}

/// Write one message as one line (`seq` is the caller's arrival index, from 1).
pub fn write_line(raw: &RawMessage, out: &mut impl Write, seq: u64) -> std::io::Result<()> {
    let (topic, topic_encoding) = match raw.topic_str() {
        Some(t) => (Cow::Borrowed(t), None),
        None => (Cow::Owned(base64_encode(&raw.topic)), Some("base64")),
    };
    let (payload, payload_encoding) = match raw.payload_str() {
        Some(p) => (Cow::Borrowed(p), "utf8"),
        None => (Cow::Owned(base64_encode(&raw.payload)), "base64"),
    };
    let props = raw.props();
    let corr = props.correlation_data.as_deref();
    let line = LineOut {
        seq,
        ts_ns: raw.received_at_nanos,
        topic,
        topic_encoding,
        qos: raw.qos,
        retain: raw.retain,
        dup: raw.dup,
        payload_len: raw.payload.len(),
        payload_encoding,
        payload,
        properties: PropsOut {
            response_topic: props.response_topic.as_deref(),
            correlation_data_hex: corr.map(hex_encode),
            correlation_data_utf8: corr.and_then(|c| std::str::from_utf8(c).ok()),
            user_properties: props
                .user_properties
                .iter()
                .map(|(k, v)| [k.as_str(), v.as_str()])
                .collect(),
            content_type: props.content_type.as_deref(),
            message_expiry_interval: props.message_expiry_interval_secs,
            payload_format_indicator: props.payload_format_indicator,
            subscription_identifier: &props.subscription_identifiers,
        },
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

#[derive(Deserialize)]
struct LineIn<'a> {
    #[serde(default)]
    meshscope_recording: Option<u64>,
    #[serde(default)]
    ts_ns: Option<u64>,
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    topic_encoding: Option<Cow<'a, str>>,
    #[serde(default)]
    qos: u8,
    #[serde(default)]
    retain: bool,
    #[serde(default)]
    dup: bool,
    #[serde(default)]
    payload_len: Option<usize>,
    #[serde(borrow, default)]
    payload_encoding: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    properties: Option<PropsIn<'a>>,
}

#[derive(Deserialize, Default)]
struct PropsIn<'a> {
    #[serde(default)]
    response_topic: Option<String>,
    #[serde(borrow, default)]
    correlation_data_hex: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    correlation_data_utf8: Option<Cow<'a, str>>,
    #[serde(default)]
    user_properties: Option<Vec<(String, String)>>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    message_expiry_interval: Option<u32>,
    #[serde(default)]
    payload_format_indicator: Option<u8>,
    #[serde(default)]
    subscription_identifier: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(usize),
    Many(Vec<usize>),
}

/// Reads a recording (or a capture) line by line; see [`read_jsonl`].
pub struct JsonlReader<R> {
    reader: R,
    buf: String,
    line: u64,
    header: Option<RecordingHeader>,
}

impl<R> JsonlReader<R> {
    /// The header, once its line has been read (it is the first line, when there is one).
    pub fn header(&self) -> Option<&RecordingHeader> {
        self.header.as_ref()
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }
}

/// Messages of a recording in order. A bad line is an error item carrying its line number, not
/// the end: iteration continues with the next line. Blank lines and the header are skipped.
pub fn read_jsonl<R: BufRead>(reader: R) -> JsonlReader<R> {
    JsonlReader {
        reader,
        buf: String::new(),
        line: 0,
        header: None,
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<RawMessage, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            let line = self.line;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    // A non-UTF-8 line: `read_line` has consumed it; report it and go on.
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        return Some(Err(RecordError {
                            line,
                            kind: RecordErrorKind::Json("line is not UTF-8".into()),
                        }));
                    }
                    return Some(Err(RecordError {
                        line,
                        kind: RecordErrorKind::Io(e),
                    }));
                }
            }
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            let parsed: LineIn = match serde_json::from_str(text) {
                Ok(p) => p,
                Err(e) => {
                    return Some(Err(RecordError {
                        line,
                        kind: RecordErrorKind::Json(e.to_string()),
                    }));
                }
            };
            if let Some(version) = parsed.meshscope_recording {
                if version > FORMAT_VERSION {
                    return Some(Err(RecordError {
                        line,
                        kind: RecordErrorKind::Version { found: version },
                    }));
                }
                if let Ok(h) = serde_json::from_str::<RecordingHeader>(text) {
                    self.header = Some(h);
                }
                continue;
            }
            return Some(to_raw(parsed).map_err(|kind| RecordError { line, kind }));
        }
    }
}

fn field(msg: impl Into<String>) -> RecordErrorKind {
    RecordErrorKind::Field(msg.into())
}

fn to_raw(line: LineIn<'_>) -> Result<RawMessage, RecordErrorKind> {
    let ts_ns = line.ts_ns.ok_or_else(|| field("missing `ts_ns`"))?;
    let topic_text = line.topic.ok_or_else(|| field("missing `topic`"))?;
    let topic: Box<[u8]> = match line.topic_encoding.as_deref() {
        None | Some("utf8") => topic_text.as_bytes().into(),
        Some("base64") => base64_decode(&topic_text)
            .ok_or_else(|| field("`topic` is not valid base64"))?
            .into(),
        Some(other) => return Err(field(format!("unknown `topic_encoding` \"{other}\""))),
    };
    let payload_text = line.payload.unwrap_or_default();
    let payload: Vec<u8> = match line.payload_encoding.as_deref() {
        None | Some("utf8") => payload_text.as_bytes().to_vec(),
        Some("base64") => {
            base64_decode(&payload_text).ok_or_else(|| field("`payload` is not valid base64"))?
        }
        Some(other) => return Err(field(format!("unknown `payload_encoding` \"{other}\""))),
    };
    if let Some(len) = line.payload_len
        && len != payload.len()
    {
        return Err(field(format!(
            "`payload_len` is {len} but the payload has {} bytes",
            payload.len()
        )));
    }
    if line.qos > 2 {
        return Err(field(format!("`qos` is {}", line.qos)));
    }
    let p = line.properties.unwrap_or_default();
    let correlation_data = match (&p.correlation_data_hex, &p.correlation_data_utf8) {
        (Some(hex), _) => {
            Some(hex_decode(hex).ok_or_else(|| field("`correlation_data_hex` is not hex"))?)
        }
        (None, Some(text)) => Some(text.as_bytes().to_vec()),
        (None, None) => None,
    };
    let props = Properties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval_secs: p.message_expiry_interval,
        content_type: p.content_type,
        response_topic: p.response_topic,
        correlation_data,
        user_properties: p.user_properties.unwrap_or_default(),
        subscription_identifiers: match p.subscription_identifier {
            None => Vec::new(),
            Some(OneOrMany::One(n)) => vec![n],
            Some(OneOrMany::Many(v)) => v,
        },
    };
    Ok(RawMessage {
        received_at_nanos: ts_ns,
        topic,
        payload: Arc::from(payload),
        qos: line.qos,
        retain: line.retain,
        dup: line.dup,
        properties: (!props.is_empty()).then(|| Box::new(props)),
    })
}

fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    bytes
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Standard base64; padding optional, whitespace refused.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // A single leftover character cannot encode a byte.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_message() -> RawMessage {
        RawMessage {
            received_at_nanos: 1_795_425_075_318_091_528,
            topic: vec![b'b', b'a', b'd', 0xff, b'/', b't'].into(),
            payload: Arc::from(vec![0u8, 1, 2, 0xfe, 0xff]),
            qos: 1,
            retain: true,
            dup: true,
            properties: Some(Box::new(Properties {
                payload_format_indicator: Some(0),
                message_expiry_interval_secs: Some(10),
                content_type: Some("application/octet-stream".into()),
                response_topic: Some("replies/x".into()),
                correlation_data: Some(vec![0x36, 0xae, 0x28]),
                user_properties: vec![("k".into(), "v1".into()), ("k".into(), "v2".into())],
                subscription_identifiers: vec![1],
            })),
        }
    }

    #[test]
    fn round_trip_with_header_binary_topic_and_payload() {
        let plain = RawMessage::new(42, "agentic-ai/demo", b"Hello, MQTT!".to_vec());
        let mut out = Vec::new();
        write_header(
            &RecordingHeader::new(Some(1), Some("mqtt://127.0.0.1:1883".into())),
            &mut out,
        )
        .unwrap();
        write_line(&full_message(), &mut out, 1).unwrap();
        write_line(&plain, &mut out, 2).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .contains("\"topic_encoding\":\"base64\"")
        );
        let mut reader = read_jsonl(&out[..]);
        let back: Vec<RawMessage> = reader.by_ref().map(Result::unwrap).collect();
        assert_eq!(back, vec![full_message(), plain]);
        assert_eq!(
            reader.header().unwrap().broker.as_deref(),
            Some("mqtt://127.0.0.1:1883")
        );
    }

    #[test]
    fn a_bad_line_is_an_error_item_with_its_number_and_reading_goes_on() {
        let mut out = Vec::new();
        write_line(&RawMessage::new(1, "a", b"x".to_vec()), &mut out, 1).unwrap();
        out.extend_from_slice(b"{not json\n\n");
        out.extend_from_slice(
            b"{\"ts_ns\": 5, \"topic\": \"t\", \"payload\": \"abc\", \"payload_len\": 9}\n",
        );
        out.extend_from_slice(&[0xff, 0xfe, b'\n']);
        out.extend_from_slice(b"{\"meshscope_recording\": 9}\n");
        write_line(&RawMessage::new(2, "b", b"y".to_vec()), &mut out, 2).unwrap();
        let items: Vec<_> = read_jsonl(&out[..]).collect();
        assert_eq!(items.len(), 6);
        assert!(items[0].is_ok());
        let e = items[1].as_ref().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2: not a JSON message line"));
        let e = items[2].as_ref().unwrap_err();
        assert_eq!((e.line, e.to_string().contains("payload_len")), (4, true));
        assert_eq!(items[3].as_ref().unwrap_err().line, 5);
        assert!(matches!(
            items[4].as_ref().unwrap_err().kind,
            RecordErrorKind::Version { found: 9 }
        ));
        assert_eq!(items[5].as_ref().unwrap().topic_str(), Some("b"));
    }

    #[test]
    fn base64_and_hex_round_trip() {
        for len in 0..40usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
            assert_eq!(hex_decode(&hex_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_encode(b"Hello"), "SGVsbG8=");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a b").is_none());
        assert!(hex_decode("abc").is_none());
    }

    #[test]
    fn reads_the_peers_mesh_capture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/peers-mesh/capture.jsonl"
        );
        let Ok(file) = std::fs::File::open(path) else {
            panic!("fixture missing at {path}");
        };
        let messages: Vec<RawMessage> = read_jsonl(std::io::BufReader::new(file))
            .map(Result::unwrap)
            .collect();
        assert_eq!(messages.len(), 1432);
        let first = &messages[0];
        assert_eq!(
            first.topic_str(),
            Some("$a2a/v1/discovery/peers/lab/summarizer")
        );
        assert!(first.retain);
        assert_eq!(first.props().user_property("a2a-status"), Some("online"));
        let rpc = messages
            .iter()
            .find(|m| m.topic_str() == Some("agentic-ai/rpc/calc/request"))
            .unwrap();
        assert_eq!(
            rpc.props().correlation_data.as_deref().map(<[u8]>::len),
            Some(16)
        );
        assert_eq!(rpc.props().message_expiry_interval_secs, Some(10));
    }
}
