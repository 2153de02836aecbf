//! Plain MQTT 5 request/response: Response Topic + Correlation Data (and CloudSignal's helper flavour).

use std::borrow::Cow;

use serde::Deserialize;

use super::json::{self, JsonRpcId, LooseStr, MaybeError};
use super::jsonrpc::class_of_code;
use super::{
    Dialect, ErrorInfo, Event, Finality, Observation, PairKey, RawMessage, Reply, ReplyOutcome,
    Request,
};

const D: Dialect = Dialect::Mqtt5Rpc;

/// What a generic JSON payload may say about itself (everything optional).
#[derive(Debug, Default, Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    jsonrpc: LooseStr<'a>,
    #[serde(borrow, default)]
    id: Option<JsonRpcId<'a>>,
    #[serde(borrow, default)]
    method: LooseStr<'a>,
    #[serde(borrow, default)]
    error: MaybeError<'a>,
    #[serde(borrow, default, rename = "_senderId")]
    sender_id: LooseStr<'a>,
}

fn peek(raw: &RawMessage) -> Peek<'_> {
    if !json::looks_like_object(&raw.payload) {
        return Peek::default();
    }
    json::payload_text(&raw.payload)
        .ok()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// Correlation: Correlation Data, else the helper's `correlationId` user property (3.1.1 fallback).
fn correlation(raw: &RawMessage) -> Option<Cow<'_, [u8]>> {
    let props = raw.props();
    props
        .correlation_data
        .as_deref()
        .or_else(|| props.user_property("correlationId").map(str::as_bytes))
        .map(Cow::Borrowed)
}

/// A request (it names a Response Topic) or a reply candidate (it carries Correlation Data).
/// A bare message on a recorded Response Topic is paired weakly by the model.
pub fn decode<'a>(raw: &'a RawMessage, topic: &'a str) -> Option<Observation<'a>> {
    let props = raw.props();
    if let Some(response_topic) = props.response_topic.as_deref() {
        let peek = peek(raw);
        let is_jsonrpc = peek.jsonrpc.get() == Some("2.0");
        let operation = match peek.method.take() {
            Some(m) if is_jsonrpc => m,
            _ => Cow::Borrowed("request"),
        };
        let mut req = Request::new(
            Some(PairKey::ReplyAddress {
                topic: Cow::Borrowed(response_topic),
                correlation: correlation(raw),
            }),
            topic,
            operation,
        );
        req.caller = props
            .user_property("senderId")
            .or_else(|| props.user_property("sender"))
            .map(Cow::Borrowed)
            .or(peek.sender_id.take());
        req.rpc_id = if is_jsonrpc { peek.id } else { None };
        return Some(Observation::new(D, Event::Request(req)));
    }
    let corr = correlation(raw)?;
    let peek = peek(raw);
    let status_error = props
        .user_property("status")
        .is_some_and(|s| s.eq_ignore_ascii_case("error") || s.eq_ignore_ascii_case("failed"));
    let outcome = match peek.error.0 {
        Some(e) => {
            let class = if peek.jsonrpc.get() == Some("2.0") {
                class_of_code(e.code_number)
            } else {
                "error"
            };
            ReplyOutcome::Error(ErrorInfo {
                class: Cow::Borrowed(class),
                code: e.code.take(),
                message: e.message.take(),
            })
        }
        None if status_error => ReplyOutcome::Error(ErrorInfo::new("error")),
        None => ReplyOutcome::Ok,
    };
    let label = if matches!(outcome, ReplyOutcome::Ok) {
        "result"
    } else {
        "error"
    };
    let mut reply = Reply::new(
        Some(PairKey::ReplyAddress {
            topic: Cow::Borrowed(topic),
            correlation: Some(corr),
        }),
        Finality::Final,
        outcome,
        label,
    );
    reply.rpc_id = if peek.jsonrpc.get() == Some("2.0") {
        peek.id
    } else {
        None
    };
    reply.responder = props.user_property("senderId").map(Cow::Borrowed);
    Some(Observation::new(D, Event::Reply(reply)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Properties, decode as decode_any};

    #[test]
    fn paho_rpc_math_example() {
        let mut req = RawMessage::new(1, "requests/math/add", b"[1, 2, 3]".to_vec());
        req.properties = Some(Box::new(Properties {
            response_topic: Some("replies/math/client-7".into()),
            correlation_data: Some(b"1".to_vec()),
            ..Properties::default()
        }));
        let obs = decode_any(&req).unwrap();
        assert_eq!(obs.dialect, Dialect::Mqtt5Rpc);
        let Event::Request(r) = obs.event else {
            panic!()
        };
        assert_eq!(r.callee, "requests/math/add");
        let mut resp = RawMessage::new(2, "replies/math/client-7", b"6".to_vec());
        resp.properties = Some(Box::new(Properties {
            correlation_data: Some(b"1".to_vec()),
            ..Properties::default()
        }));
        let Event::Reply(p) = decode_any(&resp).unwrap().event else {
            panic!()
        };
        assert_eq!(p.key, r.key);
        assert!(!p.is_error());
    }

    #[test]
    fn error_payload_or_status_property_is_an_error() {
        let mut resp = RawMessage::new(
            2,
            "agentic-ai/rpc/replies/rpc-client-1",
            br#"{"error": {"code": "DIV_ZERO", "message": "division by zero"}}"#.to_vec(),
        );
        resp.properties = Some(Box::new(Properties {
            correlation_data: Some(vec![0x0a, 0x6b]),
            user_properties: vec![("status".into(), "error".into())],
            ..Properties::default()
        }));
        let Event::Reply(p) = decode_any(&resp).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(e) = p.outcome else {
            panic!()
        };
        assert_eq!(
            (e.code.as_deref(), e.message.as_deref()),
            (Some("DIV_ZERO"), Some("division by zero"))
        );
    }

    #[test]
    fn cloudsignal_helper_correlation_id_property() {
        let mut req = RawMessage::new(1, "svc/ask", br#"{"q":1,"_senderId":"cs_abc"}"#.to_vec());
        req.properties = Some(Box::new(Properties {
            response_topic: Some("response/cs_abc".into()),
            user_properties: vec![("correlationId".into(), "req_0001_ab12cd".into())],
            ..Properties::default()
        }));
        let Event::Request(r) = decode_any(&req).unwrap().event else {
            panic!()
        };
        assert_eq!(r.caller.as_deref(), Some("cs_abc"));
        assert_eq!(r.key.unwrap().correlation_display(), "req_0001_ab12cd");
    }
}
