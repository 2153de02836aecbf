//! OpenMAS `MqttCommunicator`: `{prefix}/{agent}/(request|response|notification)/{method or id}` envelopes.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::json::{self, FieldSpec, Kind, LooseStr, MaybeError};
use super::{
    DecodeError, Dialect, ErrorInfo, Event, Finality, Notification, Observation, PairKey,
    ParticipantKind, RawMessage, Reply, ReplyOutcome, Request,
};

const D: Dialect = Dialect::OpenMas;
/// The communicator's default `topic_prefix`: on it a broken envelope is an error, elsewhere
/// the topic shape is too generic to claim the message.
pub const DEFAULT_PREFIX: &str = "openmas";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind3 {
    Request,
    Response,
    Notification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub prefix: &'a str,
    pub agent: &'a str,
    pub kind: Kind3,
    /// Method (requests, notifications) or request id (responses).
    pub last: &'a str,
}

/// ≥ 4 levels with level 3 ∈ {request, response, notification}.
pub fn route(topic: &str) -> Option<Route<'_>> {
    let mut it = topic.splitn(4, '/');
    let prefix = it.next()?;
    let agent = it.next()?;
    let kind = match it.next()? {
        "request" => Kind3::Request,
        "response" => Kind3::Response,
        "notification" => Kind3::Notification,
        _ => return None,
    };
    let last = it.next()?;
    if prefix.is_empty() || agent.is_empty() || last.is_empty() {
        return None;
    }
    Some(Route {
        prefix,
        agent,
        kind,
        last,
    })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    target: Cow<'a, str>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<f64>,
    #[serde(default)]
    result: Option<IgnoredAny>,
    #[serde(borrow, default)]
    error: MaybeError<'a>,
    #[serde(borrow, default, rename = "type")]
    message_type: LooseStr<'a>,
}

const FIELDS: &[FieldSpec] = &[
    ("id", Kind::Str, true),
    ("source", Kind::Str, true),
    ("target", Kind::Str, true),
    ("method", Kind::Str, false),
    ("timestamp", Kind::Num, false),
];

/// OpenMAS error codes are HTTP-like, not JSON-RPC.
fn class_of(code: Option<i64>) -> &'static str {
    match code {
        Some(404) => "method_not_found",
        Some(408) => "timeout",
        Some(500) => "handler_error",
        _ => "error",
    }
}

/// `None` when the payload is not an OpenMAS envelope and the prefix is not the default one.
pub fn decode<'a>(
    raw: &'a RawMessage,
    route: Route<'a>,
) -> Option<Result<Observation<'a>, DecodeError>> {
    let parsed = json::payload_text(&raw.payload)
        .and_then(|t| json::parse::<Envelope>(t, "OpenMAS envelope", FIELDS));
    let env = match parsed {
        Ok(env) => env,
        Err(kind) if route.prefix == DEFAULT_PREFIX => return Some(Err(DecodeError::new(D, kind))),
        Err(_) => return None,
    };
    let sent_at_millis = env.timestamp.filter(|t| t.is_finite()).map(|t| t as i64);
    let event = match route.kind {
        Kind3::Request => {
            // The receiver looks the method up by topic level; the payload has the real name.
            let operation = env.method.unwrap_or(Cow::Borrowed(route.last));
            let mut req = Request::new(
                Some(PairKey::RequestId {
                    prefix: Cow::Borrowed(route.prefix),
                    request_id: env.id,
                }),
                env.target,
                operation,
            );
            req.caller = Some(env.source);
            req.caller_kind = ParticipantKind::Agent;
            req.callee_kind = Some(ParticipantKind::Agent);
            req.sent_at_millis = sent_at_millis;
            Event::Request(req)
        }
        Kind3::Response => {
            let outcome = match env.error.0 {
                Some(e) => ReplyOutcome::Error(ErrorInfo {
                    class: Cow::Borrowed(class_of(e.code_number)),
                    code: e.code.take(),
                    message: e.message.take().or(e.details.take()),
                }),
                None => {
                    let _ = env.result;
                    ReplyOutcome::Ok
                }
            };
            let label = if matches!(outcome, ReplyOutcome::Ok) {
                "result"
            } else {
                "error"
            };
            let fallback_key = (env.id != route.last).then_some(PairKey::RequestId {
                prefix: Cow::Borrowed(route.prefix),
                request_id: Cow::Borrowed(route.last),
            });
            let mut reply = Reply::new(
                Some(PairKey::RequestId {
                    prefix: Cow::Borrowed(route.prefix),
                    request_id: env.id,
                }),
                Finality::Final,
                outcome,
                label,
            );
            reply.fallback_key = fallback_key;
            reply.responder = Some(env.source);
            reply.sent_at_millis = sent_at_millis;
            Event::Reply(reply)
        }
        Kind3::Notification => {
            let _ = env.message_type;
            Event::Notification(Notification {
                operation: env.method.unwrap_or(Cow::Borrowed(route.last)),
                sender: Some(env.source),
                sender_kind: ParticipantKind::Agent,
                target: Some(env.target),
            })
        }
    };
    Some(Ok(Observation::new(D, event)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode as decode_any;

    fn msg(topic: &str, payload: &str) -> RawMessage {
        RawMessage::new(1, topic, payload.as_bytes().to_vec())
    }

    #[test]
    fn request_and_responses_pair_on_id() {
        let req = msg(
            "openmas/agent-b/request/get_weather",
            r#"{ "id": "5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11", "source": "agent-a", "target": "agent-b", "method": "get_weather", "params": { "city": "Oslo" }, "timestamp": 1714130000123 }"#,
        );
        let obs = decode_any(&req).unwrap();
        assert_eq!(obs.dialect, Dialect::OpenMas);
        let Event::Request(r) = obs.event else {
            panic!()
        };
        assert_eq!(
            (r.caller.as_deref(), r.callee.as_ref(), r.operation.as_ref()),
            (Some("agent-a"), "agent-b", "get_weather")
        );
        assert_eq!(r.sent_at_millis, Some(1_714_130_000_123));
        let ok = msg(
            "openmas/agent-a/response/5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11",
            r#"{ "id": "5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11", "source": "agent-b", "target": "agent-a", "timestamp": 1714130000789, "result": { "temp": 4 } }"#,
        );
        let Event::Reply(p) = decode_any(&ok).unwrap().event else {
            panic!()
        };
        assert_eq!(p.key, r.key);
        assert!(!p.is_error());
        let e404 = msg(
            "openmas/agent-a/response/5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11",
            r#"{ "id": "5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11", "source": "agent-b", "target": "agent-a", "timestamp": 1714130000789, "error": { "code": 404, "message": "Method 'get_weather' not found", "details": "MethodNotFoundError" } }"#,
        );
        let Event::Reply(p) = decode_any(&e404).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(e) = p.outcome else {
            panic!()
        };
        assert_eq!(
            (e.class.as_ref(), e.code.as_deref()),
            ("method_not_found", Some("404"))
        );
        let e500 = msg(
            "openmas/agent-a/response/x",
            r#"{"id":"x","source":"agent-b","target":"agent-a","timestamp":1,"error":{"code":500,"message":"calculator fail() always raises","details":"ValueError"}}"#,
        );
        let Event::Reply(p) = decode_any(&e500).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(e) = p.outcome else {
            panic!()
        };
        assert_eq!(e.class, "handler_error");
    }

    #[test]
    fn notification_and_foreign_prefixes() {
        let n = msg(
            "openmas/agent-b/notification/tick",
            r#"{ "id": "u", "source": "agent-a", "target": "agent-b", "method": "tick", "params": {}, "timestamp": 1714130000456, "type": "notification" }"#,
        );
        assert!(matches!(
            decode_any(&n).unwrap().event,
            Event::Notification(_)
        ));
        // Same shape under another prefix: claimed only with a valid envelope.
        let other = msg("home/kitchen/request/light", r#"{"on":true}"#);
        assert_eq!(decode_any(&other).unwrap().dialect, Dialect::Raw);
        let broken = msg(
            "openmas/a/request/m",
            r#"{"id":5,"source":"a","target":"b"}"#,
        );
        assert_eq!(
            decode_any(&broken).unwrap_err().to_string(),
            "OpenMAS envelope field `id` is a number, expected a string"
        );
    }
}
