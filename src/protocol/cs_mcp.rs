//! MQTT.Agent v0.1 MCP profile (`@cloudsignal/mcp-over-mqtt`): cards, calls, responses, stream partials.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::json::{self, FieldSpec, Kind, LooseStr, MaybeError};
use super::{
    DecodeError, DecodeErrorKind, Dialect, ErrorInfo, Event, Finality, Observation, PairKey,
    ParticipantKind, Presence, RawMessage, Reply, ReplyOutcome, Request, Status, StatusSource,
    split_tail,
};

const D: Dialect = Dialect::MqttAgentMcp;
/// The SDK's default namespace: participants in it are shown without the prefix.
pub const DEFAULT_NAMESPACE: &str = "a2a/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    ServerCard {
        namespace: &'a str,
        server: &'a str,
    },
    ToolCard {
        namespace: &'a str,
        tool: &'a str,
    },
    Call {
        namespace: &'a str,
        tool: &'a str,
    },
    Stream {
        namespace: &'a str,
        tool: &'a str,
        call_id: &'a str,
    },
    Responses {
        namespace: &'a str,
        client: &'a str,
    },
}

/// `{ns}/mcp/...` split from the right (names never contain `/`, `{ns}` may).
pub fn route(topic: &str) -> Option<Route<'_>> {
    if let Some((namespace, [m, t, tool, s, call_id])) = split_tail::<5>(topic)
        && m == "mcp"
        && t == "tools"
        && s == "stream"
        && !tool.is_empty()
        && !call_id.is_empty()
    {
        return Some(Route::Stream {
            namespace,
            tool,
            call_id,
        });
    }
    let (namespace, [m, kind, name, last]) = split_tail::<4>(topic)?;
    if m != "mcp" || name.is_empty() {
        return None;
    }
    match (kind, last) {
        ("servers", "card") => Some(Route::ServerCard {
            namespace,
            server: name,
        }),
        ("tools", "card") => Some(Route::ToolCard {
            namespace,
            tool: name,
        }),
        ("tools", "call") => Some(Route::Call {
            namespace,
            tool: name,
        }),
        ("clients", "responses") => Some(Route::Responses {
            namespace,
            client: name,
        }),
        _ => None,
    }
}

/// A participant id: the bare name in the default namespace, `{ns}/{name}` elsewhere.
pub fn qualify<'a>(namespace: &str, name: Cow<'a, str>) -> Cow<'a, str> {
    if namespace == DEFAULT_NAMESPACE {
        name
    } else {
        Cow::Owned(format!("{namespace}/{name}"))
    }
}

#[derive(Deserialize)]
struct Card<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    server: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tools: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<LooseStr<'a>>,
}

const SERVER_CARD_FIELDS: &[FieldSpec] = &[
    ("server", Kind::Str, false),
    ("status", Kind::Str, false),
    ("tools", Kind::StrArray, false),
    ("namespace", Kind::Str, false),
    ("last_seen", Kind::Str, false),
];
const TOOL_CARD_FIELDS: &[FieldSpec] = &[
    ("tool", Kind::Str, false),
    ("server", Kind::Str, false),
    ("status", Kind::Str, false),
    ("input_schema", Kind::Object, false),
    ("supports_streaming", Kind::Bool, false),
];

#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(default)]
    #[allow(dead_code)]
    arguments: Option<IgnoredAny>,
    #[serde(borrow, default)]
    client: Option<Cow<'a, str>>,
}
const CALL_FIELDS: &[FieldSpec] = &[
    ("call_id", Kind::Str, true),
    ("client", Kind::Str, false),
    ("timestamp", Kind::Str, false),
    ("response_topic", Kind::Str, false),
];

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: MaybeError<'a>,
    #[serde(default)]
    elapsed_ms: Option<f64>,
}
const RESPONSE_FIELDS: &[FieldSpec] = &[
    ("call_id", Kind::Str, true),
    ("status", Kind::Str, true),
    ("elapsed_ms", Kind::Num, false),
];

#[derive(Deserialize)]
struct StreamItem<'a> {
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<f64>,
    #[serde(borrow, default, rename = "type")]
    item_type: Option<Cow<'a, str>>,
}
const STREAM_FIELDS: &[FieldSpec] = &[
    ("call_id", Kind::Str, false),
    ("seq", Kind::Num, false),
    ("type", Kind::Str, false),
];

fn err(kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(D, kind)
}

pub fn decode<'a>(raw: &'a RawMessage, route: Route<'a>) -> Result<Observation<'a>, DecodeError> {
    match route {
        Route::ServerCard { namespace, server } => {
            let id = qualify(namespace, Cow::Borrowed(server));
            let mut p = Presence::new(ParticipantKind::McpServer, id, StatusSource::Card);
            if raw.payload.is_empty() {
                p.cleared = true;
                return Ok(Observation::new(D, Event::Presence(p)));
            }
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let card: Card = json::parse(text, "card", SERVER_CARD_FIELDS).map_err(err)?;
            p.status = card.status.as_deref().and_then(Status::parse_wire);
            p.is_card = true;
            let _ = card.tools;
            Ok(Observation::new(D, Event::Presence(p)))
        }
        Route::ToolCard { namespace, tool } => {
            let id = qualify(namespace, Cow::Borrowed(tool));
            let mut p = Presence::new(ParticipantKind::Tool, id, StatusSource::Card);
            if raw.payload.is_empty() {
                p.cleared = true;
                return Ok(Observation::new(D, Event::Presence(p)));
            }
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let card: Card = json::parse(text, "card", TOOL_CARD_FIELDS).map_err(err)?;
            p.status = card.status.as_deref().and_then(Status::parse_wire);
            p.is_card = true;
            p.server_id = card.server.map(|s| qualify(namespace, s));
            p.display_name = card.tool;
            Ok(Observation::new(D, Event::Presence(p)))
        }
        Route::Call { namespace, tool } => {
            let props = raw.props();
            let mut issue = None;
            let call = match json::payload_text(&raw.payload)
                .and_then(|t| json::parse::<Call>(t, "tool call", CALL_FIELDS))
            {
                Ok(c) => Some(c),
                Err(kind) => {
                    issue = Some(err(kind));
                    None
                }
            };
            let call_id = call
                .as_ref()
                .and_then(|c| c.call_id.clone())
                .or_else(|| props.correlation_text().map(Cow::Borrowed));
            if call_id.is_none() && issue.is_none() {
                // The SDK server drops such a call silently: it can only time out.
                issue = Some(err(DecodeErrorKind::MissingField {
                    what: "tool call",
                    field: "call_id",
                }));
            }
            let caller = call.and_then(|c| c.client).or_else(|| {
                props
                    .response_topic
                    .as_deref()
                    .and_then(client_of_response_topic)
                    .map(Cow::Borrowed)
            });
            let key = call_id.map(|call_id| PairKey::CallId {
                namespace: Cow::Borrowed(namespace),
                call_id,
            });
            let mut req = Request::new(key, qualify(namespace, Cow::Borrowed(tool)), "call");
            req.caller = caller;
            req.caller_kind = ParticipantKind::Client;
            req.callee_kind = Some(ParticipantKind::Tool);
            Ok(Observation {
                dialect: D,
                event: Event::Request(req),
                issue,
            })
        }
        Route::Stream {
            namespace, call_id, ..
        } => {
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let item: StreamItem = json::parse(text, "stream item", STREAM_FIELDS).map_err(err)?;
            // The SDK never sends `done`; a `done` item is still not the result (that comes on
            // the response topic), so every stream item is a partial.
            let label = match item.item_type.as_deref() {
                Some("done") => "done",
                _ => "partial",
            };
            let mut reply = Reply::new(
                Some(PairKey::CallId {
                    namespace: Cow::Borrowed(namespace),
                    call_id: item.call_id.unwrap_or(Cow::Borrowed(call_id)),
                }),
                Finality::Partial,
                ReplyOutcome::Ok,
                label,
            );
            reply.stream_seq = item
                .seq
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| s as u64);
            Ok(Observation::new(D, Event::Reply(reply)))
        }
        Route::Responses { namespace, .. } => {
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let resp: Response =
                json::parse(text, "tool response", RESPONSE_FIELDS).map_err(err)?;
            let props = raw.props();
            let call_id = resp
                .call_id
                .or_else(|| props.correlation_text().map(Cow::Borrowed))
                .ok_or_else(|| {
                    err(DecodeErrorKind::MissingField {
                        what: "tool response",
                        field: "call_id",
                    })
                })?;
            let outcome = match resp.status.as_deref() {
                Some("ok") => ReplyOutcome::Ok,
                Some("error") => {
                    let e = resp.error.0.unwrap_or_default();
                    ReplyOutcome::Error(ErrorInfo {
                        class: e.error_type.take().unwrap_or(Cow::Borrowed("error")),
                        code: e.code.take(),
                        message: e.message.take(),
                    })
                }
                Some(other) => {
                    return Err(err(DecodeErrorKind::Invalid {
                        what: "tool response",
                        detail: format!("`status` is \"{other}\", expected \"ok\" or \"error\"")
                            .into(),
                    }));
                }
                None => {
                    return Err(err(DecodeErrorKind::MissingField {
                        what: "tool response",
                        field: "status",
                    }));
                }
            };
            let label = if matches!(outcome, ReplyOutcome::Ok) {
                "result"
            } else {
                "error"
            };
            let fallback_key =
                props
                    .correlation_text()
                    .filter(|c| *c != call_id)
                    .map(|c| PairKey::CallId {
                        namespace: Cow::Borrowed(namespace),
                        call_id: Cow::Borrowed(c),
                    });
            let mut reply = Reply::new(
                Some(PairKey::CallId {
                    namespace: Cow::Borrowed(namespace),
                    call_id,
                }),
                Finality::Final,
                outcome,
                label,
            );
            reply.fallback_key = fallback_key;
            reply.server_elapsed_micros = resp
                .elapsed_ms
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| (ms * 1000.0) as u64);
            Ok(Observation::new(D, Event::Reply(reply)))
        }
    }
}

/// `{ns}/mcp/clients/{client}/responses` → `client`.
fn client_of_response_topic(topic: &str) -> Option<&str> {
    match route(topic) {
        Some(Route::Responses { client, .. }) => Some(client),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Properties, decode};

    fn msg(topic: &str, payload: &str) -> RawMessage {
        RawMessage::new(1, topic, payload.as_bytes().to_vec())
    }

    #[test]
    fn routes_split_from_the_right() {
        assert_eq!(
            route("acme/prod/mcp/tools/query/stream/call_1"),
            Some(Route::Stream {
                namespace: "acme/prod",
                tool: "query",
                call_id: "call_1"
            })
        );
        assert_eq!(
            route("gtm/mcp/servers/gtm-mcp-server/card"),
            Some(Route::ServerCard {
                namespace: "gtm",
                server: "gtm-mcp-server"
            })
        );
        assert_eq!(route("mcp/tools/x/call"), None);
        assert_eq!(route("gtm/mcp/tools/x/delete"), None);
    }

    #[test]
    fn server_card_from_the_spec() {
        let raw = msg(
            "gtm/mcp/servers/gtm-mcp-server/card",
            r#"{"version":"1","server":"gtm-mcp-server","namespace":"gtm","tools":["query_watch_configs","query_features"],"version_info":{"sdk":"0.1.0"},"status":"online","last_seen":"2026-04-21T10:00:00.000Z"}"#,
        );
        let obs = decode(&raw).unwrap();
        assert_eq!(obs.dialect, Dialect::MqttAgentMcp);
        let Event::Presence(p) = obs.event else {
            panic!()
        };
        assert_eq!(p.kind, ParticipantKind::McpServer);
        assert_eq!(p.participant_id, "gtm/gtm-mcp-server");
        assert_eq!(p.status, Some(Status::Online));
        assert!(p.is_card);
    }

    #[test]
    fn tool_card_names_its_server() {
        let raw = msg(
            "a2a/v1/mcp/tools/query_watch_configs/card",
            r#"{"version":"1","tool":"query_watch_configs","server":"gtm-mcp-server","namespace":"a2a/v1","description":"d","input_schema":{"type":"object"},"supports_streaming":false,"requires_auth":true,"allowed_callers":["scout","analyst"],"version_info":{"sdk":"0.1.0","tool":"1.0.0"},"status":"online","last_seen":"2026-04-21T10:00:00Z"}"#,
        );
        let Event::Presence(p) = decode(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(p.kind, ParticipantKind::Tool);
        assert_eq!(p.participant_id, "query_watch_configs");
        assert_eq!(p.server_id.as_deref(), Some("gtm-mcp-server"));
    }

    #[test]
    fn card_with_wrong_type_names_the_field() {
        let raw = msg(
            "gtm/mcp/servers/s/card",
            r#"{"version":"1","server":"s","tools":5}"#,
        );
        let e = decode(&raw).unwrap_err();
        assert_eq!(e.dialect, Dialect::MqttAgentMcp);
        assert_eq!(
            e.to_string(),
            "card field `tools` is a number, expected an array of strings"
        );
    }

    #[test]
    fn call_and_responses_pair_on_call_id() {
        let mut call = msg(
            "gtm/mcp/tools/query_watch_configs/call",
            r#"{"call_id":"call_mb3k2f1x_9q7w2e1r","arguments":{"platform":"reddit"},"client":"scout","timestamp":"2026-04-21T10:00:05.123Z","response_topic":"gtm/mcp/clients/scout/responses"}"#,
        );
        call.properties = Some(Box::new(Properties {
            response_topic: Some("gtm/mcp/clients/scout/responses".into()),
            correlation_data: Some(b"call_mb3k2f1x_9q7w2e1r".to_vec()),
            ..Properties::default()
        }));
        let Event::Request(req) = decode(&call).unwrap().event else {
            panic!()
        };
        assert_eq!(req.caller.as_deref(), Some("scout"));
        assert_eq!(req.callee, "gtm/query_watch_configs");
        let ok = msg(
            "gtm/mcp/clients/scout/responses",
            r#"{ "call_id": "call_mb3k2f1x_9q7w2e1r", "status": "ok", "result": { "configs": [] }, "elapsed_ms": 187 }"#,
        );
        let Event::Reply(reply) = decode(&ok).unwrap().event else {
            panic!()
        };
        assert_eq!(reply.key, req.key);
        assert_eq!(reply.server_elapsed_micros, Some(187_000));
        assert_eq!(reply.finality, Finality::Final);
        let failed = msg(
            "gtm/mcp/clients/scout/responses",
            r#"{ "call_id": "call_mb3k2f1x_9q7w2e1r", "status": "error", "error": { "type": "tool_error", "message": "Database unavailable", "code": "E_DB_TIMEOUT" }, "elapsed_ms": 30000 }"#,
        );
        let Event::Reply(reply) = decode(&failed).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(e) = reply.outcome else {
            panic!()
        };
        assert_eq!(e.class, "tool_error");
        assert_eq!(e.code.as_deref(), Some("E_DB_TIMEOUT"));
        assert_eq!(e.message.as_deref(), Some("Database unavailable"));
    }

    #[test]
    fn call_without_call_id_still_counts_as_a_request() {
        let raw = msg(
            "a2a/v1/mcp/tools/echo/call",
            r#"{"arguments":{},"client":"scout"}"#,
        );
        let obs = decode(&raw).unwrap();
        let Event::Request(req) = &obs.event else {
            panic!()
        };
        assert!(req.key.is_none());
        assert_eq!(
            obs.issue.as_ref().unwrap().to_string(),
            "tool call has no field `call_id`"
        );
    }

    #[test]
    fn stream_seq_is_date_now_and_done_is_still_a_partial() {
        let raw = msg(
            "a2a/v1/mcp/tools/crawl/stream/call_1",
            r#"{ "call_id": "call_1", "seq": 1745229605123, "type": "partial", "content": "Crawled 30%" }"#,
        );
        let Event::Reply(r) = decode(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(r.stream_seq, Some(1_745_229_605_123));
        assert_eq!(r.finality, Finality::Partial);
        let done = msg(
            "a2a/v1/mcp/tools/crawl/stream/call_1",
            r#"{"call_id":"call_1","seq":2,"type":"done"}"#,
        );
        let Event::Reply(r) = decode(&done).unwrap().event else {
            panic!()
        };
        assert_eq!((r.finality, r.label), (Finality::Partial, "done"));
    }

    #[test]
    fn offline_card_and_cleared_card() {
        let raw = msg(
            "a2a/v1/mcp/servers/s/card",
            r#"{"version":"1","server":"s","status":"offline"}"#,
        );
        let Event::Presence(p) = decode(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(p.status, Some(Status::Offline));
        let cleared = msg("a2a/v1/mcp/servers/s/card", "");
        let Event::Presence(p) = decode(&cleared).unwrap().event else {
            panic!()
        };
        assert!(p.cleared);
    }

    #[test]
    fn response_status_must_be_ok_or_error() {
        let raw = msg(
            "a2a/v1/mcp/clients/c/responses",
            r#"{"call_id":"x","status":"maybe"}"#,
        );
        assert!(decode(&raw).is_err());
        let raw = msg(
            "a2a/v1/mcp/clients/c/responses",
            r#"{"call_id":7,"status":"ok"}"#,
        );
        assert_eq!(
            decode(&raw).unwrap_err().to_string(),
            "tool response field `call_id` is a number, expected a string"
        );
    }
}
