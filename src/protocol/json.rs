//! JSON plumbing shared by the decoders: size/depth guards, tolerant field types, error explanations.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::DecodeErrorKind;

/// Deeper JSON is refused before serde sees it (serde_json's own limit is 128, and it recurses).
pub const MAX_DEPTH: usize = 64;
/// Payloads above this are kept raw but not parsed (a 10 MB tool result still parses; a 100 MB one does not).
pub const MAX_DECODE_BYTES: usize = 16 << 20;

/// The payload as JSON text: size, UTF-8 and depth checked.
pub fn payload_text(payload: &[u8]) -> Result<&str, DecodeErrorKind> {
    if payload.len() > MAX_DECODE_BYTES {
        return Err(DecodeErrorKind::TooLarge {
            bytes: payload.len(),
            limit_bytes: MAX_DECODE_BYTES,
        });
    }
    let text = std::str::from_utf8(payload).map_err(|_| DecodeErrorKind::PayloadNotUtf8)?;
    check_depth(payload)?;
    Ok(text)
}

/// Refuses JSON nested deeper than [`MAX_DEPTH`] without recursing.
pub fn check_depth(bytes: &[u8]) -> Result<(), DecodeErrorKind> {
    // Fast path: too few brackets to ever get that deep (this count vectorises).
    let openers = bytes.iter().filter(|&&b| b == b'{' || b == b'[').count();
    if openers <= MAX_DEPTH {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(DecodeErrorKind::TooDeep { limit: MAX_DEPTH });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// True when the payload looks like a JSON object (first non-blank byte is `{`).
pub fn looks_like_object(payload: &[u8]) -> bool {
    payload
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// True when the payload looks like a JSON array (a JSON-RPC batch).
pub fn looks_like_array(payload: &[u8]) -> bool {
    payload
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[')
}

/// A JSON-RPC id: string, number or null. `1` and `"1"` are different ids (JSON-RPC 2.0).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRpcId<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Null,
}

impl JsonRpcId<'_> {
    /// Key bytes: the type is part of the key.
    pub fn write_key(&self, out: &mut Vec<u8>) {
        match self {
            JsonRpcId::Str(s) => {
                out.push(b's');
                out.extend_from_slice(s.as_bytes());
            }
            JsonRpcId::Int(n) => {
                out.push(b'i');
                out.extend_from_slice(&n.to_le_bytes());
            }
            JsonRpcId::Float(f) => {
                out.push(b'f');
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            JsonRpcId::Null => out.push(b'z'),
        }
    }

    pub fn into_owned(self) -> JsonRpcId<'static> {
        match self {
            JsonRpcId::Str(s) => JsonRpcId::Str(Cow::Owned(s.into_owned())),
            JsonRpcId::Int(n) => JsonRpcId::Int(n),
            JsonRpcId::Float(f) => JsonRpcId::Float(f),
            JsonRpcId::Null => JsonRpcId::Null,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonRpcId::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// As JSON: strings quoted, so `1` and `"1"` stay distinguishable on screen.
impl fmt::Display for JsonRpcId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonRpcId::Str(s) => write!(f, "\"{s}\""),
            JsonRpcId::Int(n) => write!(f, "{n}"),
            JsonRpcId::Float(x) => write!(f, "{x}"),
            JsonRpcId::Null => f.write_str("null"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonRpcId<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JsonRpcId<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, a number or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Str(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(match i64::try_from(v) {
                    Ok(n) => JsonRpcId::Int(n),
                    Err(_) => JsonRpcId::Float(v as f64),
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Float(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonRpcId::Null)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string where one is expected but not essential: numbers and booleans are rendered,
/// objects, arrays and null are skipped (annotations must not fail a decode).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LooseStr<'a>(pub Option<Cow<'a, str>>);

impl<'a> LooseStr<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
    pub fn take(self) -> Option<Cow<'a, str>> {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LooseStr<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LooseStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Borrowed(if v {
                    "true"
                } else {
                    "false"
                }))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseStr(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LooseStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LooseStr(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `T` when the value is an object, nothing otherwise (tolerant nested structures such as
/// `error.data` or JSON-RPC `params`, which may legally be an array or a scalar).
#[derive(Debug, Clone, PartialEq)]
pub struct IfObject<T>(pub Option<T>);

impl<T> Default for IfObject<T> {
    fn default() -> Self {
        IfObject(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IfObject<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = IfObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| IfObject(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IfObject(None))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(IfObject(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The first `text` of a parts list (`[{"text": ...}, ...]`), without keeping the list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirstText<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstText<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Part<'a> {
            #[serde(borrow, default)]
            text: LooseStr<'a>,
        }
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstText<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of parts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut first = None;
                while let Some(part) = seq.next_element::<IfObject<Part<'a>>>()? {
                    if first.is_none() {
                        first = part.0.and_then(|p| p.text.take());
                    }
                }
                Ok(FirstText(first))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FirstText(None))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FirstText(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FirstText(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(FirstText(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(FirstText(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(FirstText(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(FirstText(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstText(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An error object as the dialects write it: JSON-RPC `{code, message, data}`, MQTT.Agent
/// `{type, message, code}`, OpenMAS `{code, message, details}`, or a bare string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireError<'a> {
    pub code: LooseStr<'a>,
    pub code_number: Option<i64>,
    pub message: LooseStr<'a>,
    pub error_type: LooseStr<'a>,
    pub details: LooseStr<'a>,
    /// EMQX A2A binding errors: `error.data.a2a_error`.
    pub a2a_error: LooseStr<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireError<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        struct Data<'a> {
            #[serde(borrow, default)]
            a2a_error: LooseStr<'a>,
        }
        #[derive(Deserialize)]
        struct Obj<'a> {
            #[serde(default)]
            code: Option<CodeValue<'a>>,
            #[serde(borrow, default)]
            message: LooseStr<'a>,
            #[serde(borrow, default, rename = "type")]
            error_type: LooseStr<'a>,
            #[serde(borrow, default)]
            details: LooseStr<'a>,
            #[serde(borrow, default)]
            data: IfObject<Data<'a>>,
        }
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Option<WireError<'a>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an error object or a string")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let o = Obj::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let (code, code_number) = match o.code {
                    Some(CodeValue::Num(n)) => (LooseStr(Some(Cow::Owned(n.to_string()))), Some(n)),
                    Some(CodeValue::Text(s)) => (LooseStr(Some(s)), None),
                    None => (LooseStr(None), None),
                };
                Ok(Some(WireError {
                    code,
                    code_number,
                    message: o.message,
                    error_type: o.error_type,
                    details: o.details,
                    a2a_error: o.data.0.map(|d| d.a2a_error).unwrap_or_default(),
                }))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Some(WireError {
                    message: LooseStr(Some(Cow::Borrowed(v))),
                    ..WireError::default()
                }))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(WireError {
                    message: LooseStr(Some(Cow::Owned(v.to_owned()))),
                    ..WireError::default()
                }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(WireError {
                    code: LooseStr(Some(Cow::Owned(v.to_string()))),
                    code_number: Some(v),
                    ..WireError::default()
                }))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Some(WireError::default()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                // `"error": false` means no error.
                Ok(if v { Some(WireError::default()) } else { None })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Some(WireError::default()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V(PhantomData))?
            .ok_or_else(|| de::Error::custom("no error"))
    }
}

/// `Option<WireError>` where `null` and `false` mean "no error".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaybeError<'a>(pub Option<WireError<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeError<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // WireError refuses null/false with a custom error; map that to None via a wrapper visitor.
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = MaybeError<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an error object, a string or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeError(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeError(None))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(MaybeError(v.then(WireError::default)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                WireError::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| MaybeError(Some(e)))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeError(Some(WireError {
                    message: LooseStr(Some(Cow::Borrowed(v))),
                    ..WireError::default()
                })))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeError(Some(WireError {
                    message: LooseStr(Some(Cow::Owned(v.to_owned()))),
                    ..WireError::default()
                })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(MaybeError(Some(WireError {
                    code: LooseStr(Some(Cow::Owned(v.to_string()))),
                    code_number: Some(v),
                    ..WireError::default()
                })))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeError(Some(WireError::default())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeError(Some(WireError::default())))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

enum CodeValue<'a> {
    Num(i64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for CodeValue<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = LooseStr::deserialize(d)?;
        Ok(match s.0 {
            Some(text) => match text.parse::<i64>() {
                Ok(n) => CodeValue::Num(n),
                Err(_) => CodeValue::Text(text),
            },
            None => CodeValue::Text(Cow::Borrowed("")),
        })
    }
}

/// The JSON type a field should have, for error explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Num,
    Bool,
    Array,
    StrArray,
    Object,
    /// String or number (ids).
    Id,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Num => "a number",
            Kind::Bool => "a boolean",
            Kind::Array => "an array",
            Kind::StrArray => "an array of strings",
            Kind::Object => "an object",
            Kind::Id => "a string or a number",
        }
    }

    fn accepts(self, v: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match self {
            Kind::Str => v.is_string(),
            Kind::Num => v.is_number(),
            Kind::Bool => v.is_boolean(),
            Kind::Array => v.is_array(),
            Kind::StrArray => v.as_array().is_some_and(|a| a.iter().all(V::is_string)),
            Kind::Object => v.is_object(),
            Kind::Id => v.is_string() || v.is_number(),
        }
    }
}

fn found(v: &serde_json::Value) -> &'static str {
    use serde_json::Value as V;
    match v {
        V::Null => "null",
        V::Bool(_) => "a boolean",
        V::Number(_) => "a number",
        V::String(_) => "a string",
        V::Array(a) if !a.is_empty() && a.iter().any(|x| !x.is_string()) => {
            "an array with non-strings"
        }
        V::Array(_) => "an array",
        V::Object(_) => "an object",
    }
}

/// One field a message type expects: dotted path, JSON type, required.
pub type FieldSpec = (&'static str, Kind, bool);

/// Explain why a typed parse failed, naming the field: runs only on the error path, so the
/// `Value` it builds costs nothing on the hot path (depth was checked before).
pub fn explain(
    text: &str,
    what: &'static str,
    fields: &[FieldSpec],
    serde_error: &serde_json::Error,
) -> DecodeErrorKind {
    // A derived struct also accepts a JSON array (its fields by position) and stops reading
    // it early, which serde_json reports as a syntax error ("trailing characters"): only call
    // the text invalid when it is.
    if serde_error.is_eof()
        || (serde_error.is_syntax() && serde_json::from_str::<IgnoredAny>(text).is_err())
    {
        return DecodeErrorKind::InvalidJson {
            detail: serde_error.to_string().into(),
        };
    }
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return DecodeErrorKind::InvalidJson {
                detail: e.to_string().into(),
            };
        }
    };
    if !value.is_object() {
        return DecodeErrorKind::NotAnObject {
            what,
            found: found(&value),
        };
    }
    for &(path, kind, required) in fields {
        let mut cur = Some(&value);
        for part in path.split('.') {
            cur = cur.and_then(|v| v.get(part));
        }
        match cur {
            None | Some(serde_json::Value::Null) if required => {
                return DecodeErrorKind::MissingField { what, field: path };
            }
            Some(v) if !v.is_null() && !kind.accepts(v) => {
                return DecodeErrorKind::WrongType {
                    what,
                    field: path,
                    found: found(v),
                    expected: kind.expected(),
                };
            }
            _ => {}
        }
    }
    DecodeErrorKind::Invalid {
        what,
        detail: serde_error.to_string().into(),
    }
}

/// Typed parse with a named-field explanation on failure.
pub fn parse<'a, T: Deserialize<'a>>(
    text: &'a str,
    what: &'static str,
    fields: &[FieldSpec],
) -> Result<T, DecodeErrorKind> {
    serde_json::from_str::<T>(text).map_err(|e| explain(text, what, fields, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_guard_allows_64_and_refuses_65_and_100000() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(check_depth(ok.as_bytes()).is_ok());
        let bad = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            check_depth(bad.as_bytes()),
            Err(DecodeErrorKind::TooDeep { limit: 64 })
        );
        let huge = "[".repeat(100_000);
        assert!(check_depth(huge.as_bytes()).is_err());
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\":\"{}\"}}", "[".repeat(200));
        assert!(check_depth(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn ids_keep_their_type() {
        let a: JsonRpcId = serde_json::from_str("1").unwrap();
        let b: JsonRpcId = serde_json::from_str("\"1\"").unwrap();
        assert_ne!(a, b);
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        a.write_key(&mut ka);
        b.write_key(&mut kb);
        assert_ne!(ka, kb);
        assert_eq!(a.to_string(), "1");
        assert_eq!(b.to_string(), "\"1\"");
    }

    #[test]
    fn explain_names_the_field() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Card {
            tools: Option<Vec<String>>,
        }
        let text = r#"{"tools": 5}"#;
        let err = parse::<Card>(text, "card", &[("tools", Kind::StrArray, false)])
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "card field `tools` is a number, expected an array of strings"
        );
    }

    #[test]
    fn an_array_where_an_object_belongs_is_named_as_such_not_as_invalid_json() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Card {
            name: Option<String>,
        }
        let err = parse::<Card>("[1,2,3]", "card", &[]).err().unwrap();
        assert_eq!(
            err.to_string(),
            "card is an array with non-strings, expected a JSON object"
        );
        let err = parse::<Card>("[1,2", "card", &[]).err().unwrap();
        assert!(
            err.to_string().starts_with("payload is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn wire_error_accepts_every_shape() {
        #[derive(Deserialize)]
        struct R<'a> {
            #[serde(borrow, default)]
            error: MaybeError<'a>,
        }
        let r: R = serde_json::from_str(r#"{"error":{"code":-32005,"message":"m","data":{"a2a_error":"transport_protocol_error"}}}"#).unwrap();
        let e = r.error.0.unwrap();
        assert_eq!(e.code_number, Some(-32005));
        assert_eq!(e.a2a_error.get(), Some("transport_protocol_error"));
        let r: R = serde_json::from_str(
            r#"{"error":{"code":"DIV_ZERO","message":"division by zero","data":[1]}}"#,
        )
        .unwrap();
        assert_eq!(r.error.0.unwrap().code.get(), Some("DIV_ZERO"));
        let r: R = serde_json::from_str(r#"{"error":"boom"}"#).unwrap();
        assert_eq!(r.error.0.unwrap().message.get(), Some("boom"));
        let r: R = serde_json::from_str(r#"{"error":null}"#).unwrap();
        assert!(r.error.0.is_none());
    }
}
