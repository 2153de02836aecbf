//! JSON-RPC 2.0 envelopes (shared by EMQX MCP and A2A) and JSON-RPC on an unknown topic.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use super::json::{self, IfObject, JsonRpcId, MaybeError, WireError};
use super::{
    Dialect, ErrorInfo, Event, Finality, Notification, Observation, PairKey, ParticipantKind,
    RawMessage, Reply, ReplyOutcome, Request,
};

/// A field whose presence matters even when its value is `null` (`"result": null` is a success).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Present(T),
}

impl<T> Field<T> {
    pub fn is_present(&self) -> bool {
        matches!(self, Field::Present(_))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Field::Present)
    }
}

/// A JSON-RPC 2.0 message with dialect-specific `params` and `result` shapes.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "'de: 'a, P: Deserialize<'de>, R: Deserialize<'de>"))]
pub struct Envelope<'a, P, R> {
    #[serde(borrow, default)]
    pub jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub id: Option<JsonRpcId<'a>>,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(default = "none")]
    pub params: IfObject<P>,
    #[serde(default = "absent")]
    pub result: Field<IfObject<R>>,
    #[serde(borrow, default)]
    pub error: MaybeError<'a>,
}

fn none<P>() -> IfObject<P> {
    IfObject(None)
}
fn absent<R>() -> Field<IfObject<R>> {
    Field::Absent
}

/// What a JSON-RPC message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Request,
    Notification,
    Result,
    Error,
    Invalid,
}

impl<P, R> Envelope<'_, P, R> {
    pub fn shape(&self) -> Shape {
        match (&self.method, &self.id) {
            (Some(_), Some(_)) => Shape::Request,
            (Some(_), None) => Shape::Notification,
            (None, _) if self.error.0.is_some() => Shape::Error,
            (None, _) if self.result.is_present() => Shape::Result,
            _ => Shape::Invalid,
        }
    }
}

/// A params/result shape that reads nothing.
#[derive(Debug, Default, Deserialize)]
pub struct Nothing {}

/// Classify a JSON-RPC error by its code (JSON-RPC 2.0 and common MCP codes).
pub fn class_of_code(code: Option<i64>) -> &'static str {
    match code {
        Some(-32700) => "parse_error",
        Some(-32600) => "invalid_request",
        Some(-32601) => "method_not_found",
        Some(-32602) => "invalid_params",
        Some(-32603) => "internal_error",
        Some(-32002) => "resource_not_found",
        Some(c) if (-32099..=-32000).contains(&c) => "server_error",
        _ => "error",
    }
}

pub fn error_info<'a>(e: WireError<'a>, class: &'static str) -> ErrorInfo<'a> {
    ErrorInfo {
        class: Cow::Borrowed(class),
        code: e.code.take(),
        message: e.message.take(),
    }
}

/// JSON-RPC 2.0 on a topic no dialect claims: requests pair with responses by id.
/// `None` when the payload is not a JSON-RPC 2.0 object (the message is then raw MQTT).
pub fn decode<'a>(
    raw: &'a RawMessage,
    topic: &'a str,
    dialect: Dialect,
) -> Option<Observation<'a>> {
    if !json::looks_like_object(&raw.payload) {
        return None;
    }
    let text = json::payload_text(&raw.payload).ok()?;
    let env: Envelope<Nothing, Nothing> = serde_json::from_str(text).ok()?;
    if env.jsonrpc.as_deref() != Some("2.0") {
        return None;
    }
    let sender_kind = match raw.props().user_property("MCP-COMPONENT-TYPE") {
        Some("mcp-server") => ParticipantKind::McpServer,
        _ => ParticipantKind::Client,
    };
    let sender = raw
        .props()
        .user_property("MCP-MQTT-CLIENT-ID")
        .map(Cow::Borrowed);
    let event = match env.shape() {
        Shape::Request => {
            let id = env.id?;
            let mut req = Request::new(
                Some(PairKey::RpcId { rpc_id: id.clone() }),
                topic,
                env.method.unwrap_or(Cow::Borrowed("?")),
            );
            req.rpc_id = Some(id);
            req.caller = sender;
            req.caller_kind = sender_kind;
            Event::Request(req)
        }
        Shape::Notification => Event::Notification(Notification {
            operation: env.method.unwrap_or(Cow::Borrowed("?")),
            sender,
            sender_kind,
            target: None,
        }),
        Shape::Result | Shape::Error => {
            let id = env.id.unwrap_or(JsonRpcId::Null);
            let outcome = match env.error.0 {
                Some(e) => {
                    let class = class_of_code(e.code_number);
                    ReplyOutcome::Error(error_info(e, class))
                }
                None => ReplyOutcome::Ok,
            };
            let label = if matches!(outcome, ReplyOutcome::Ok) {
                "result"
            } else {
                "error"
            };
            let mut reply = Reply::new(
                Some(PairKey::RpcId { rpc_id: id.clone() }),
                Finality::Final,
                outcome,
                label,
            );
            reply.rpc_id = Some(id);
            reply.responder = sender;
            Event::Reply(reply)
        }
        Shape::Invalid => return None,
    };
    Some(Observation::new(dialect, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode as decode_any;

    #[test]
    fn unknown_topic_json_rpc_pairs_by_id() {
        let req = RawMessage::new(
            1,
            "lab/rpc/in",
            br#"{"jsonrpc":"2.0","id":7,"method":"sum","params":[1,2]}"#.to_vec(),
        );
        let obs = decode_any(&req).unwrap();
        assert_eq!(obs.dialect, Dialect::JsonRpc);
        let Event::Request(r) = obs.event else {
            panic!()
        };
        assert_eq!(r.operation, "sum");
        let resp = RawMessage::new(
            2,
            "lab/rpc/out",
            br#"{"jsonrpc":"2.0","id":7,"result":null}"#.to_vec(),
        );
        let Event::Reply(p) = decode_any(&resp).unwrap().event else {
            panic!()
        };
        assert_eq!(p.key, r.key);
        assert!(!p.is_error());
        let err = RawMessage::new(
            3,
            "lab/rpc/out",
            br#"{"jsonrpc":"2.0","id":"7","error":{"code":-32601,"message":"nope"}}"#.to_vec(),
        );
        let Event::Reply(e) = decode_any(&err).unwrap().event else {
            panic!()
        };
        assert_ne!(e.key, r.key, "\"7\" is not 7");
        let ReplyOutcome::Error(info) = e.outcome else {
            panic!()
        };
        assert_eq!(info.class, "method_not_found");
    }

    #[test]
    fn not_json_rpc_is_raw() {
        for payload in [
            &b"Hello, MQTT!"[..],
            br#"{"a":1}"#,
            br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
            b"{broken",
        ] {
            let raw = RawMessage::new(1, "agentic-ai/demo", payload.to_vec());
            assert_eq!(decode_any(&raw).unwrap().dialect, Dialect::Raw);
        }
    }
}
