//! EMQX MCP over MQTT, both topic revisions: presence, initialize, RPC, capability notifications.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::json::{self, FirstText, IfObject, JsonRpcId, LooseStr};
use super::jsonrpc::{Envelope, Shape, class_of_code, error_info};
use super::{
    Cancel, DecodeError, DecodeErrorKind, Dialect, Direction, DiscoveredTool, Event, Finality,
    Notification, Observation, PairKey, ParticipantKind, Presence, Progress, RawMessage, Reply,
    ReplyOutcome, Request, Status, StatusSource, bad_topic,
};

const D: Dialect = Dialect::EmqxMcp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    ServerPresence {
        server_id: &'a str,
        server_name: &'a str,
    },
    ServerCapability {
        server_id: &'a str,
        server_name: &'a str,
    },
    /// `$mcp-server/{sid}/{name}`: where `initialize` goes.
    ServerControl {
        server_id: &'a str,
        server_name: &'a str,
    },
    ClientPresence {
        client_id: &'a str,
    },
    ClientCapability {
        client_id: &'a str,
    },
    /// `$mcp-rpc/{cid}/{sid}/{name}`, or the April-2025 `$mcp-rpc-endpoint/{cid}/{name}` (no server id).
    Rpc {
        client_id: &'a str,
        server_id: &'a str,
        server_name: &'a str,
    },
    /// A `$mcp-` topic with too few levels.
    Malformed,
}

/// Server names may contain `/`: they are the rest of the topic.
pub fn route(topic: &str) -> Option<Route<'_>> {
    let (root, rest) = topic.split_once('/')?;
    let split2 = |s: &str| -> Option<(usize, usize)> {
        // (end of first level, start of remainder) with both non-empty
        let at = s.find('/')?;
        (at > 0 && at + 1 < s.len()).then_some((at, at + 1))
    };
    let route = match root {
        "$mcp-server" => {
            if let Some(r) = rest.strip_prefix("presence/") {
                split2(r).map(|(a, b)| Route::ServerPresence {
                    server_id: &r[..a],
                    server_name: &r[b..],
                })
            } else if let Some(r) = rest.strip_prefix("capability/") {
                let r = r
                    .strip_prefix("list-changed/")
                    .or_else(|| r.strip_prefix("resource-updated/"))
                    .unwrap_or(r);
                split2(r).map(|(a, b)| Route::ServerCapability {
                    server_id: &r[..a],
                    server_name: &r[b..],
                })
            } else {
                split2(rest).map(|(a, b)| Route::ServerControl {
                    server_id: &rest[..a],
                    server_name: &rest[b..],
                })
            }
        }
        "$mcp-client" => {
            if let Some(r) = rest.strip_prefix("presence/") {
                (!r.is_empty() && !r.contains('/'))
                    .then_some(Route::ClientPresence { client_id: r })
            } else if let Some(r) = rest.strip_prefix("capability/") {
                let r = r.strip_prefix("list-changed/").unwrap_or(r);
                (!r.is_empty() && !r.contains('/'))
                    .then_some(Route::ClientCapability { client_id: r })
            } else {
                None
            }
        }
        "$mcp-rpc" => split2(rest).and_then(|(a, b)| {
            let r = &rest[b..];
            split2(r).map(|(c, d)| Route::Rpc {
                client_id: &rest[..a],
                server_id: &r[..c],
                server_name: &r[d..],
            })
        }),
        "$mcp-rpc-endpoint" => split2(rest).map(|(a, b)| Route::Rpc {
            client_id: &rest[..a],
            server_id: "",
            server_name: &rest[b..],
        }),
        _ => return None,
    };
    Some(route.unwrap_or(Route::Malformed))
}

#[derive(Debug, Default, Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default, rename = "progressToken")]
    progress_token: Option<JsonRpcId<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: LooseStr<'a>,
    #[serde(borrow, default, rename = "_meta")]
    meta: IfObject<Meta<'a>>,
    #[serde(borrow, default, rename = "progressToken")]
    progress_token: Option<JsonRpcId<'a>>,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    total: Option<f64>,
    #[serde(borrow, default)]
    message: LooseStr<'a>,
    #[serde(borrow, default, rename = "requestId")]
    request_id: Option<JsonRpcId<'a>>,
    #[serde(borrow, default)]
    reason: LooseStr<'a>,
    #[serde(borrow, default)]
    server_name: LooseStr<'a>,
    #[serde(borrow, default, rename = "mcpClientId")]
    mcp_client_id: LooseStr<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct McpResult<'a> {
    #[serde(default, rename = "isError")]
    is_error: Option<bool>,
    #[serde(borrow, default, rename = "protocolVersion")]
    protocol_version: LooseStr<'a>,
    #[serde(default, rename = "serverInfo")]
    server_info: Option<IgnoredAny>,
    #[serde(default)]
    tools: Option<IgnoredAny>,
    #[serde(borrow, default)]
    content: FirstText<'a>,
}

type McpEnvelope<'a> = Envelope<'a, Params<'a>, McpResult<'a>>;

/// Methods a server sends to a client (everything else defaults to client → server).
fn is_server_to_client_method(method: &str) -> bool {
    matches!(
        method,
        "sampling/createMessage" | "roots/list" | "elicitation/create" | "notifications/message"
    ) || method.ends_with("/list_changed") && method != "notifications/roots/list_changed"
        || method == "notifications/resources/updated"
}

/// Direction this message travels, from the user properties (absent with paho-C and ESP servers).
fn travel_direction(raw: &RawMessage, client_id: &str, server_id: &str) -> Option<Direction> {
    let props = raw.props();
    match props.user_property("MCP-COMPONENT-TYPE") {
        Some("mcp-client") => return Some(Direction::ClientToServer),
        Some("mcp-server") => return Some(Direction::ServerToClient),
        _ => {}
    }
    let sender = props.user_property("MCP-MQTT-CLIENT-ID")?;
    if !client_id.is_empty() && sender == client_id {
        Some(Direction::ClientToServer)
    } else if !server_id.is_empty() && sender == server_id {
        Some(Direction::ServerToClient)
    } else {
        None
    }
}

fn err(kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(D, kind)
}

struct Session<'a> {
    client_id: Cow<'a, str>,
    server_id: &'a str,
    server_name: &'a str,
}

impl<'a> Session<'a> {
    fn key(&self, direction: Option<Direction>, rpc_id: JsonRpcId<'a>) -> PairKey<'a> {
        PairKey::Session {
            client_id: self.client_id.clone(),
            server_id: Cow::Borrowed(self.server_id),
            server_name: Cow::Borrowed(self.server_name),
            direction,
            rpc_id,
        }
    }
}

pub fn decode<'a>(raw: &'a RawMessage, route: Route<'a>) -> Result<Observation<'a>, DecodeError> {
    let topic = raw.topic_str().unwrap_or("");
    match route {
        Route::Malformed => Err(bad_topic(D, "EMQX MCP", topic)),
        Route::ServerPresence {
            server_id,
            server_name,
        } => {
            let mut p = Presence::new(
                ParticipantKind::McpServer,
                server_name,
                StatusSource::StatusTopic,
            );
            p.instance_id = Some(Cow::Borrowed(server_id));
            if raw.payload.is_empty() {
                // Empty retained presence (graceful or the Will): this instance is gone.
                p.status = Some(Status::Offline);
                p.cleared = true;
                return Ok(Observation::new(D, Event::Presence(p)));
            }
            let env = parse_single(raw)?;
            match env.method.as_deref() {
                Some("notifications/server/online") => {
                    p.status = Some(Status::Online);
                    p.is_card = true;
                    // Python and C++ servers omit `server_name`: the topic has it.
                    p.display_name = env.params.0.and_then(|pr| pr.server_name.take());
                    Ok(Observation::new(D, Event::Presence(p)))
                }
                Some("notifications/disconnected") => {
                    p.status = Some(Status::Offline);
                    Ok(Observation::new(D, Event::Presence(p)))
                }
                other => Ok(Observation::new(
                    D,
                    Event::Notification(Notification {
                        operation: Cow::Owned(other.unwrap_or("?").to_owned()),
                        sender: Some(Cow::Borrowed(server_name)),
                        sender_kind: ParticipantKind::McpServer,
                        target: None,
                    }),
                )),
            }
        }
        Route::ClientPresence { client_id } => {
            let mut p = Presence::new(
                ParticipantKind::Client,
                client_id,
                StatusSource::StatusTopic,
            );
            if raw.payload.is_empty() {
                p.status = Some(Status::Offline);
                p.cleared = true;
                return Ok(Observation::new(D, Event::Presence(p)));
            }
            let env = parse_single(raw)?;
            match env.method.as_deref() {
                Some("notifications/disconnected") => {
                    p.status = Some(Status::Offline);
                    Ok(Observation::new(D, Event::Presence(p)))
                }
                other => Ok(Observation::new(
                    D,
                    Event::Notification(Notification {
                        operation: Cow::Owned(other.unwrap_or("?").to_owned()),
                        sender: Some(Cow::Borrowed(client_id)),
                        sender_kind: ParticipantKind::Client,
                        target: None,
                    }),
                )),
            }
        }
        Route::ServerCapability { server_name, .. } => {
            let env = parse_single(raw)?;
            Ok(Observation::new(
                D,
                Event::Notification(Notification {
                    operation: env.method.unwrap_or(Cow::Borrowed("?")),
                    sender: Some(Cow::Borrowed(server_name)),
                    sender_kind: ParticipantKind::McpServer,
                    target: None,
                }),
            ))
        }
        Route::ClientCapability { client_id } => {
            let env = parse_single(raw)?;
            Ok(Observation::new(
                D,
                Event::Notification(Notification {
                    operation: env.method.unwrap_or(Cow::Borrowed("?")),
                    sender: Some(Cow::Borrowed(client_id)),
                    sender_kind: ParticipantKind::Client,
                    target: None,
                }),
            ))
        }
        Route::ServerControl {
            server_id,
            server_name,
        } => {
            let env = parse_single(raw)?;
            // The only place the server learns the client id: the user property (or the C++
            // SDK's non-standard `params.mcpClientId`). Unknown: paired by the model's fallback.
            let client_id = raw
                .props()
                .user_property("MCP-MQTT-CLIENT-ID")
                .map(Cow::Borrowed)
                .or_else(|| {
                    env.params
                        .0
                        .as_ref()
                        .and_then(|p| p.mcp_client_id.0.clone())
                })
                .unwrap_or(Cow::Borrowed(""));
            let session = Session {
                client_id,
                server_id,
                server_name,
            };
            let event = rpc_event(env, &session, Some(Direction::ClientToServer))?;
            Ok(Observation::new(D, event))
        }
        Route::Rpc {
            client_id,
            server_id,
            server_name,
        } => {
            let session = Session {
                client_id: Cow::Borrowed(client_id),
                server_id,
                server_name,
            };
            let travel = travel_direction(raw, client_id, server_id);
            let text = json::payload_text(&raw.payload).map_err(err)?;
            if json::looks_like_array(&raw.payload) {
                let batch: Vec<McpEnvelope> = serde_json::from_str(text).map_err(|e| {
                    err(DecodeErrorKind::InvalidJson {
                        detail: e.to_string().into(),
                    })
                })?;
                let events = batch
                    .into_iter()
                    .map(|env| rpc_event(env, &session, travel))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(Observation::new(D, Event::Batch(events)));
            }
            let env = parse_single(raw)?;
            let tools = if matches!(&env.result, super::jsonrpc::Field::Present(IfObject(Some(r))) if r.tools.is_some())
            {
                tools_of(text)
            } else {
                Vec::new()
            };
            let mut event = rpc_event(env, &session, travel)?;
            if let Event::Reply(reply) = &mut event {
                reply.tools = tools;
            }
            Ok(Observation::new(D, event))
        }
    }
}

fn parse_single(raw: &RawMessage) -> Result<McpEnvelope<'_>, DecodeError> {
    let text = json::payload_text(&raw.payload).map_err(err)?;
    let env: McpEnvelope = json::parse(
        text,
        "JSON-RPC message",
        &[
            ("jsonrpc", json::Kind::Str, false),
            ("id", json::Kind::Id, false),
            ("method", json::Kind::Str, false),
        ],
    )
    .map_err(err)?;
    Ok(env)
}

fn rpc_event<'a>(
    env: McpEnvelope<'a>,
    session: &Session<'a>,
    travel: Option<Direction>,
) -> Result<Event<'a>, DecodeError> {
    let shape = env.shape();
    match shape {
        Shape::Request => {
            let method = env.method.unwrap_or(Cow::Borrowed("?"));
            let id = env.id.unwrap_or(JsonRpcId::Null);
            let direction = travel.unwrap_or(if is_server_to_client_method(&method) {
                Direction::ServerToClient
            } else {
                Direction::ClientToServer
            });
            let params = env.params.0.unwrap_or_default();
            let operation = match (method.as_ref(), params.name.get()) {
                ("tools/call" | "prompts/get", Some(name)) => {
                    Cow::Owned(format!("{method}:{name}"))
                }
                _ => method,
            };
            let (caller, caller_kind, callee, callee_kind) = match direction {
                Direction::ClientToServer => (
                    session.client_id.clone(),
                    ParticipantKind::Client,
                    Cow::Borrowed(session.server_name),
                    ParticipantKind::McpServer,
                ),
                Direction::ServerToClient => (
                    Cow::Borrowed(session.server_name),
                    ParticipantKind::McpServer,
                    session.client_id.clone(),
                    ParticipantKind::Client,
                ),
            };
            let mut req = Request::new(
                Some(session.key(Some(direction), id.clone())),
                callee,
                operation,
            );
            req.caller = (!caller.is_empty()).then_some(caller);
            req.caller_kind = caller_kind;
            req.callee_kind = Some(callee_kind);
            req.rpc_id = Some(id);
            req.progress_token = params.meta.0.and_then(|m| m.progress_token);
            Ok(Event::Request(req))
        }
        Shape::Notification => {
            let method = env.method.unwrap_or(Cow::Borrowed("?"));
            let params = env.params.0.unwrap_or_default();
            match method.as_ref() {
                "notifications/progress" => {
                    let Some(token) = params.progress_token else {
                        return Err(err(DecodeErrorKind::MissingField {
                            what: "progress notification",
                            field: "params.progressToken",
                        }));
                    };
                    Ok(Event::Progress(Progress {
                        key: PairKey::ProgressToken {
                            client_id: session.client_id.clone(),
                            server_id: Cow::Borrowed(session.server_id),
                            server_name: Cow::Borrowed(session.server_name),
                            token,
                        },
                        progress: params.progress,
                        total: params.total,
                        message: params.message.take(),
                    }))
                }
                "notifications/cancelled" => {
                    let Some(request_id) = params.request_id else {
                        return Err(err(DecodeErrorKind::MissingField {
                            what: "cancel notification",
                            field: "params.requestId",
                        }));
                    };
                    Ok(Event::Cancel(Cancel {
                        key: session.key(travel, request_id),
                        reason: params.reason.take(),
                    }))
                }
                _ => {
                    let direction = travel.unwrap_or(if is_server_to_client_method(&method) {
                        Direction::ServerToClient
                    } else {
                        Direction::ClientToServer
                    });
                    let (sender, sender_kind) = match direction {
                        Direction::ClientToServer => {
                            (session.client_id.clone(), ParticipantKind::Client)
                        }
                        Direction::ServerToClient => (
                            Cow::Borrowed(session.server_name),
                            ParticipantKind::McpServer,
                        ),
                    };
                    Ok(Event::Notification(Notification {
                        operation: method,
                        sender: (!sender.is_empty()).then_some(sender),
                        sender_kind,
                        target: None,
                    }))
                }
            }
        }
        Shape::Result | Shape::Error => {
            let id = env.id.unwrap_or(JsonRpcId::Null);
            let mut initialize_result = false;
            let outcome = match env.error.0 {
                Some(e) => {
                    let class = class_of_code(e.code_number);
                    ReplyOutcome::Error(error_info(e, class))
                }
                None => match env.result {
                    super::jsonrpc::Field::Present(IfObject(Some(r))) => {
                        initialize_result =
                            r.protocol_version.get().is_some() && r.server_info.is_some();
                        // Tool failures are results with `isError: true`, not JSON-RPC errors.
                        if r.is_error == Some(true) {
                            ReplyOutcome::Error(super::ErrorInfo {
                                class: Cow::Borrowed("tool_error"),
                                code: None,
                                message: r.content.0,
                            })
                        } else {
                            ReplyOutcome::Ok
                        }
                    }
                    _ => ReplyOutcome::Ok,
                },
            };
            let label = if matches!(outcome, ReplyOutcome::Ok) {
                "result"
            } else {
                "error"
            };
            // A reply travels opposite to its request.
            let mut reply = Reply::new(
                Some(session.key(travel.map(Direction::reverse), id.clone())),
                Finality::Final,
                outcome,
                label,
            );
            reply.rpc_id = Some(id);
            reply.initialize_result = initialize_result;
            Ok(Event::Reply(reply))
        }
        Shape::Invalid => Err(err(DecodeErrorKind::Invalid {
            what: "JSON-RPC message",
            detail: "no `method`, `result` or `error`".into(),
        })),
    }
}

/// The tools of a `tools/list` result, each kept as its own JSON object (rare: parsed as a
/// `Value` here and dropped).
fn tools_of(text: &str) -> Vec<DiscoveredTool> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let Some(list) = value.pointer("/result/tools").and_then(|t| t.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|tool| {
            let name = tool.get("name")?.as_str()?;
            let card = serde_json::to_vec(tool).ok()?;
            Some(DiscoveredTool {
                name: name.into(),
                card: Arc::from(card),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Properties, decode as decode_any};

    fn msg(topic: &str, payload: &str, props: &[(&str, &str)]) -> RawMessage {
        let mut raw = RawMessage::new(1, topic, payload.as_bytes().to_vec());
        if !props.is_empty() {
            raw.properties = Some(Box::new(Properties {
                user_properties: props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Properties::default()
            }));
        }
        raw
    }

    #[test]
    fn routes_of_both_revisions() {
        assert_eq!(
            route("$mcp-server/presence/a9e2/demo/calculator"),
            Some(Route::ServerPresence {
                server_id: "a9e2",
                server_name: "demo/calculator"
            })
        );
        assert_eq!(
            route("$mcp-server/capability/list-changed/a9e2/demo/calculator"),
            Some(Route::ServerCapability {
                server_id: "a9e2",
                server_name: "demo/calculator"
            })
        );
        assert_eq!(
            route("$mcp-rpc/6f1c/a9e2/demo/calculator"),
            Some(Route::Rpc {
                client_id: "6f1c",
                server_id: "a9e2",
                server_name: "demo/calculator"
            })
        );
        assert_eq!(
            route("$mcp-rpc-endpoint/6f1c/demo/calculator"),
            Some(Route::Rpc {
                client_id: "6f1c",
                server_id: "",
                server_name: "demo/calculator"
            })
        );
        assert_eq!(
            route("$mcp-server/a9e2/demo/calculator"),
            Some(Route::ServerControl {
                server_id: "a9e2",
                server_name: "demo/calculator"
            })
        );
        assert_eq!(route("$mcp-rpc/only"), Some(Route::Malformed));
        assert_eq!(route("$mcp-other/x"), None);
    }

    #[test]
    fn presence_online_without_server_name_and_empty_offline() {
        let raw = msg(
            "$mcp-server/presence/a9e2/example/server",
            r#"{"jsonrpc":"2.0","method":"notifications/server/online","params":{"description":"d","meta":{}}}"#,
            &[],
        );
        let Event::Presence(p) = decode_any(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(p.participant_id, "example/server");
        assert_eq!(p.instance_id.as_deref(), Some("a9e2"));
        assert_eq!(p.status, Some(Status::Online));
        assert!(p.display_name.is_none());
        let gone = msg("$mcp-server/presence/a9e2/example/server", "", &[]);
        let Event::Presence(p) = decode_any(&gone).unwrap().event else {
            panic!()
        };
        assert_eq!(p.status, Some(Status::Offline));
    }

    #[test]
    fn worked_example_pairs_with_and_without_user_properties() {
        let call = msg(
            "$mcp-rpc/6f1c/a9e2/demo/calculator",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#,
            &[
                ("MCP-COMPONENT-TYPE", "mcp-client"),
                ("MCP-MQTT-CLIENT-ID", "6f1c"),
            ],
        );
        let Event::Request(req) = decode_any(&call).unwrap().event else {
            panic!()
        };
        assert_eq!(req.operation, "tools/call:add");
        assert_eq!(req.caller.as_deref(), Some("6f1c"));
        assert_eq!(req.callee, "demo/calculator");
        let result = msg(
            "$mcp-rpc/6f1c/a9e2/demo/calculator",
            r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"3"}],"isError":false}}"#,
            &[
                ("MCP-COMPONENT-TYPE", "mcp-server"),
                ("MCP-MQTT-CLIENT-ID", "a9e2"),
            ],
        );
        let Event::Reply(reply) = decode_any(&result).unwrap().event else {
            panic!()
        };
        assert_eq!(reply.key, req.key);
        // paho-C / ESP servers omit the user properties: direction unknown, the model tries both.
        let bare = msg(
            "$mcp-rpc/6f1c/a9e2/demo/calculator",
            r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"3"}]}}"#,
            &[],
        );
        let Event::Reply(reply) = decode_any(&bare).unwrap().event else {
            panic!()
        };
        assert_eq!(
            reply.key.unwrap().with_direction(Direction::ClientToServer),
            req.key.unwrap()
        );
    }

    #[test]
    fn id_1_is_not_id_string_1() {
        let a = msg(
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            &[],
        );
        let b = msg(
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","id":"1","result":{}}"#,
            &[("MCP-COMPONENT-TYPE", "mcp-server")],
        );
        let Event::Request(ra) = decode_any(&a).unwrap().event else {
            panic!()
        };
        let Event::Reply(rb) = decode_any(&b).unwrap().event else {
            panic!()
        };
        assert_ne!(ra.key, rb.key);
    }

    #[test]
    fn is_error_result_is_a_tool_error_and_progress_carries_its_token() {
        let raw = msg(
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"boom"}],"isError":true}}"#,
            &[],
        );
        let Event::Reply(r) = decode_any(&raw).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(e) = r.outcome else {
            panic!()
        };
        assert_eq!(
            (e.class.as_ref(), e.message.as_deref()),
            ("tool_error", Some("boom"))
        );
        let call = msg(
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":"tok"}}}"#,
            &[],
        );
        let Event::Request(req) = decode_any(&call).unwrap().event else {
            panic!()
        };
        assert_eq!(req.progress_token, Some(JsonRpcId::Str("tok".into())));
        let progress = msg(
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok","progress":1,"total":4}}"#,
            &[],
        );
        let Event::Progress(p) = decode_any(&progress).unwrap().event else {
            panic!()
        };
        assert_eq!(p.total, Some(4.0));
    }

    #[test]
    fn initialize_on_the_control_topic_takes_the_client_id_from_the_property() {
        let raw = msg(
            "$mcp-server/a9e2/demo/calculator",
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{"roots":{"listChanged":true},"sampling":{}},"clientInfo":{"name":"ExampleClient","version":"1.0.0"}}}"#,
            &[
                ("MCP-COMPONENT-TYPE", "mcp-client"),
                ("MCP-MQTT-CLIENT-ID", "6f1c"),
            ],
        );
        let Event::Request(req) = decode_any(&raw).unwrap().event else {
            panic!()
        };
        let result = msg(
            "$mcp-rpc/6f1c/a9e2/demo/calculator",
            r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2024-11-05","capabilities":{},"serverInfo":{"name":"calc","version":"1"}}}"#,
            &[],
        );
        let Event::Reply(reply) = decode_any(&result).unwrap().event else {
            panic!()
        };
        assert!(reply.initialize_result);
        assert_eq!(
            reply.key.unwrap().with_direction(Direction::ClientToServer),
            req.key.unwrap()
        );
    }

    #[test]
    fn tools_list_result_lists_tools_and_batches_decode() {
        let raw = msg(
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"add","description":"adds","inputSchema":{"type":"object"}},{"name":"sub"}]}}"#,
            &[],
        );
        let Event::Reply(r) = decode_any(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(r.tools.len(), 2);
        assert_eq!(&*r.tools[0].name, "add");
        let batch = msg(
            "$mcp-rpc/c/s/n",
            r#"[{"jsonrpc":"2.0","id":6,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#,
            &[],
        );
        let Event::Batch(events) = decode_any(&batch).unwrap().event else {
            panic!()
        };
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn client_presence_disconnected_is_offline() {
        let raw = msg(
            "$mcp-client/presence/6f1c",
            r#"{"jsonrpc":"2.0","method":"notifications/disconnected"}"#,
            &[],
        );
        let Event::Presence(p) = decode_any(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(
            (p.kind, p.status),
            (ParticipantKind::Client, Some(Status::Offline))
        );
    }
}
