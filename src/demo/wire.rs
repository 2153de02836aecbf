//! Small wire helpers for the demo: JSON text as each SDK writes it, and reading received publishes.

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use serde_json::Value;

/// A JSON value that keeps its keys in the order they were written, as the SDKs' own encoders
/// do (`serde_json::Value` here sorts keys).
#[derive(Debug, Clone)]
pub enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    /// A value that came from the wire (echoed arguments).
    Raw(Value),
}

impl J {
    /// Adds a key to an object (no-op on other kinds).
    pub fn with(mut self, key: &str, value: impl Into<J>) -> Self {
        if let J::Obj(entries) = &mut self {
            entries.push((key.to_owned(), value.into()));
        }
        self
    }
}

impl serde::Serialize for J {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            J::Null => serializer.serialize_unit(),
            J::Bool(value) => serializer.serialize_bool(*value),
            J::Num(value) => value.serialize(serializer),
            J::Str(value) => serializer.serialize_str(value),
            J::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            J::Obj(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            J::Raw(value) => value.serialize(serializer),
        }
    }
}

impl From<&str> for J {
    fn from(value: &str) -> Self {
        J::Str(value.to_owned())
    }
}
impl From<String> for J {
    fn from(value: String) -> Self {
        J::Str(value)
    }
}
impl From<&String> for J {
    fn from(value: &String) -> Self {
        J::Str(value.clone())
    }
}
impl From<bool> for J {
    fn from(value: bool) -> Self {
        J::Bool(value)
    }
}
impl From<u64> for J {
    fn from(value: u64) -> Self {
        J::Num(value.into())
    }
}
impl From<i64> for J {
    fn from(value: i64) -> Self {
        J::Num(value.into())
    }
}
impl From<u32> for J {
    fn from(value: u32) -> Self {
        J::Num(value.into())
    }
}
impl From<i32> for J {
    fn from(value: i32) -> Self {
        J::Num(value.into())
    }
}
impl From<usize> for J {
    fn from(value: usize) -> Self {
        J::Num((value as u64).into())
    }
}
impl From<f64> for J {
    fn from(value: f64) -> Self {
        serde_json::Number::from_f64(value).map_or(J::Null, J::Num)
    }
}
impl From<Value> for J {
    fn from(value: Value) -> Self {
        J::Raw(value)
    }
}
impl From<Vec<J>> for J {
    fn from(items: Vec<J>) -> Self {
        J::Arr(items)
    }
}
impl From<Vec<&str>> for J {
    fn from(items: Vec<&str>) -> Self {
        J::Arr(items.into_iter().map(J::from).collect())
    }
}
impl<T: Into<J>> From<Option<T>> for J {
    fn from(value: Option<T>) -> Self {
        value.map_or(J::Null, Into::into)
    }
}

/// An ordered JSON object: `obj! { "a" => 1, "b" => "x" }`.
macro_rules! obj {
    ($($key:expr => $value:expr),* $(,)?) => {
        $crate::demo::wire::J::Obj(vec![$(($key.to_string(), $crate::demo::wire::J::from($value))),*])
    };
}

/// An ordered JSON array: `arr![1, "x", obj! {..}]`.
macro_rules! arr {
    ($($value:expr),* $(,)?) => {
        $crate::demo::wire::J::Arr(vec![$($crate::demo::wire::J::from($value)),*])
    };
}

pub(crate) use {arr, obj};

/// Compact JSON, as JavaScript's `JSON.stringify` writes it (CloudSignal SDKs, EMQX TS SDK).
pub fn js_json(value: &J) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// JSON as Python's `json.dumps` writes it by default: `", "` and `": "` separators and
/// `\uXXXX` escapes for non-ASCII (EMQX A2A SDK, OpenMAS, paho examples).
pub fn python_json(value: &J) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return Vec::new();
    }
    out
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for character in fragment.chars() {
            if character.is_ascii() {
                writer.write_all(&[character as u8])?;
            } else {
                for unit in character.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// The topic as text; `None` for a non-UTF-8 topic (never from this demo's peers).
pub fn topic(publish: &Publish) -> Option<&str> {
    std::str::from_utf8(&publish.topic).ok()
}

/// The payload parsed as a JSON object; `None` for anything else.
pub fn json_object(publish: &Publish) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(&publish.payload) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

pub fn response_topic(publish: &Publish) -> Option<&str> {
    publish.properties.as_ref()?.response_topic.as_deref()
}

pub fn correlation_data(publish: &Publish) -> Option<Bytes> {
    publish.properties.as_ref()?.correlation_data.clone()
}

/// The first user property named `key`.
pub fn user_property<'a>(publish: &'a Publish, key: &str) -> Option<&'a str> {
    publish
        .properties
        .as_ref()?
        .user_properties
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// Properties carrying only Correlation Data (when there is any).
pub fn with_correlation(correlation: Option<Bytes>) -> PublishProperties {
    PublishProperties {
        correlation_data: correlation,
        ..PublishProperties::default()
    }
}

pub fn str_field<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_json_matches_json_dumps() {
        let value = obj! {"id" => "x", "params" => obj! {"b" => arr![1u64, 2u64], "a" => 1u64}, "text" => "café"};
        let text = String::from_utf8(python_json(&value)).unwrap();
        assert_eq!(
            text,
            r#"{"id": "x", "params": {"b": [1, 2], "a": 1}, "text": "caf\u00e9"}"#
        );
        let raw = J::Raw(json!({"z": null}));
        assert_eq!(
            String::from_utf8(js_json(
                &obj! {"call_id" => "c", "arguments" => raw, "n" => 0.75}
            ))
            .unwrap(),
            r#"{"call_id":"c","arguments":{"z":null},"n":0.75}"#
        );
    }
}
