//! MQTT.Agent v0.1 A2A profile (`@cloudsignal/agent`): agent cards, status, task inbox and results.
//!
//! Its payloads are only partly public (PROTOCOLS.md 1.3): the decoder is tolerant and reads the
//! candidate field names the documentation lists (`task_id`, `from`, `type`, `status`, `error`, ...).

use std::borrow::Cow;

use serde::Deserialize;

use super::cs_mcp::qualify;
use super::json::{self, FieldSpec, Kind, LooseStr, MaybeError};
use super::{
    DecodeError, DecodeErrorKind, Dialect, ErrorInfo, Event, Finality, Observation, PairKey,
    ParticipantKind, Presence, RawMessage, Reply, ReplyOutcome, Request, Status, StatusSource,
    split_tail,
};

const D: Dialect = Dialect::MqttAgentA2a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Card {
        namespace: &'a str,
        agent: &'a str,
    },
    Status {
        namespace: &'a str,
        agent: &'a str,
    },
    Inbox {
        namespace: &'a str,
        agent: &'a str,
    },
    /// `{ns}/tasks/{delegator}/results`: async results for tasks the delegator sent.
    Results {
        namespace: &'a str,
        agent: &'a str,
    },
    /// `{ns}/tasks/{task_id}/result`: the synchronous result of one task.
    Result {
        namespace: &'a str,
        task_id: &'a str,
    },
}

/// `{ns}/agents/{x}/(card|status)`, `{ns}/tasks/{x}/(inbox|results|result)`: the last level decides.
pub fn route(topic: &str) -> Option<Route<'_>> {
    let (namespace, [kind, x, last]) = split_tail::<3>(topic)?;
    if x.is_empty() {
        return None;
    }
    match (kind, last) {
        ("agents", "card") => Some(Route::Card {
            namespace,
            agent: x,
        }),
        ("agents", "status") => Some(Route::Status {
            namespace,
            agent: x,
        }),
        ("tasks", "inbox") => Some(Route::Inbox {
            namespace,
            agent: x,
        }),
        ("tasks", "results") => Some(Route::Results {
            namespace,
            agent: x,
        }),
        ("tasks", "result") => Some(Route::Result {
            namespace,
            task_id: x,
        }),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Card<'a> {
    #[serde(borrow, default)]
    name: LooseStr<'a>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
}
const CARD_FIELDS: &[FieldSpec] = &[
    ("status", Kind::Str, false),
    ("capabilities", Kind::Array, false),
];

#[derive(Deserialize)]
struct StatusMsg<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
}
const STATUS_FIELDS: &[FieldSpec] = &[("status", Kind::Str, true)];

#[derive(Deserialize)]
struct Task<'a> {
    #[serde(borrow, default)]
    task_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    from: LooseStr<'a>,
    #[serde(borrow, default, rename = "type")]
    task_type: LooseStr<'a>,
}
const TASK_FIELDS: &[FieldSpec] = &[("task_id", Kind::Str, true)];

#[derive(Deserialize)]
struct TaskResult<'a> {
    #[serde(borrow, default)]
    task_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: LooseStr<'a>,
    #[serde(borrow, default)]
    state: LooseStr<'a>,
    #[serde(borrow, default)]
    error: MaybeError<'a>,
    #[serde(borrow, default)]
    from: LooseStr<'a>,
}
const RESULT_FIELDS: &[FieldSpec] = &[("task_id", Kind::Str, false)];

fn err(kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(D, kind)
}

pub fn decode<'a>(raw: &'a RawMessage, route: Route<'a>) -> Result<Observation<'a>, DecodeError> {
    match route {
        Route::Card { namespace, agent } => {
            let mut p = Presence::new(
                ParticipantKind::Agent,
                qualify(namespace, Cow::Borrowed(agent)),
                StatusSource::Card,
            );
            if raw.payload.is_empty() {
                p.cleared = true;
                return Ok(Observation::new(D, Event::Presence(p)));
            }
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let card: Card = json::parse(text, "agent card", CARD_FIELDS).map_err(err)?;
            p.status = card.status.as_deref().and_then(Status::parse_wire);
            p.display_name = card.name.take();
            p.is_card = true;
            Ok(Observation::new(D, Event::Presence(p)))
        }
        Route::Status { namespace, agent } => {
            let mut p = Presence::new(
                ParticipantKind::Agent,
                qualify(namespace, Cow::Borrowed(agent)),
                StatusSource::StatusTopic,
            );
            if raw.payload.is_empty() {
                // Zero-length retained: unregistered.
                p.cleared = true;
                return Ok(Observation::new(D, Event::Presence(p)));
            }
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let trimmed = text.trim().trim_matches('"');
            let status = if let Some(s) = Status::parse_wire(trimmed) {
                s
            } else {
                let msg: StatusMsg =
                    json::parse(text, "agent status", STATUS_FIELDS).map_err(err)?;
                let value = msg.status.unwrap_or_default();
                Status::parse_wire(&value).ok_or_else(|| {
                    err(DecodeErrorKind::Invalid {
                        what: "agent status",
                        detail: format!(
                            "`status` is \"{value}\", expected \"online\" or \"offline\""
                        )
                        .into(),
                    })
                })?
            };
            p.status = Some(status);
            Ok(Observation::new(D, Event::Presence(p)))
        }
        Route::Inbox { namespace, agent } => {
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let task: Task = json::parse(text, "task", TASK_FIELDS).map_err(err)?;
            let task_id = task.task_id.ok_or_else(|| {
                err(DecodeErrorKind::MissingField {
                    what: "task",
                    field: "task_id",
                })
            })?;
            let operation = task.task_type.take().unwrap_or(Cow::Borrowed("task"));
            let mut req = Request::new(
                Some(PairKey::TaskId {
                    namespace: Cow::Borrowed(namespace),
                    task_id: task_id.clone(),
                }),
                qualify(namespace, Cow::Borrowed(agent)),
                operation,
            );
            req.caller = task.from.take().map(|f| qualify(namespace, f));
            req.caller_kind = ParticipantKind::Agent;
            req.callee_kind = Some(ParticipantKind::Agent);
            req.task_id = Some(task_id);
            Ok(Observation::new(D, Event::Request(req)))
        }
        Route::Results { namespace, .. } | Route::Result { namespace, .. } => {
            let text = json::payload_text(&raw.payload).map_err(err)?;
            let result: TaskResult =
                json::parse(text, "task result", RESULT_FIELDS).map_err(err)?;
            let task_id = match route {
                Route::Result { task_id, .. } => result.task_id.unwrap_or(Cow::Borrowed(task_id)),
                _ => result.task_id.ok_or_else(|| {
                    err(DecodeErrorKind::MissingField {
                        what: "task result",
                        field: "task_id",
                    })
                })?,
            };
            let state = result
                .status
                .get()
                .or(result.state.get())
                .unwrap_or("")
                .to_ascii_lowercase();
            let outcome = if let Some(e) = result.error.0 {
                ReplyOutcome::Error(ErrorInfo {
                    class: e.error_type.take().unwrap_or(Cow::Borrowed("task_error")),
                    code: e.code.take(),
                    message: e.message.take(),
                })
            } else if matches!(
                state.as_str(),
                "failed" | "error" | "rejected" | "canceled" | "cancelled"
            ) {
                ReplyOutcome::Error(ErrorInfo::new(Cow::Owned(state.clone())))
            } else {
                ReplyOutcome::Ok
            };
            let label = if matches!(outcome, ReplyOutcome::Ok) {
                "result"
            } else {
                "error"
            };
            let mut reply = Reply::new(
                Some(PairKey::TaskId {
                    namespace: Cow::Borrowed(namespace),
                    task_id: task_id.clone(),
                }),
                Finality::Final,
                outcome,
                label,
            );
            reply.task_id = Some(task_id);
            reply.responder = result.from.take().map(|f| qualify(namespace, f));
            Ok(Observation::new(D, Event::Reply(reply)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode;

    fn msg(topic: &str, payload: &str) -> &'static RawMessage {
        Box::leak(Box::new(RawMessage::new(
            1,
            topic,
            payload.as_bytes().to_vec(),
        )))
    }

    #[test]
    fn last_level_disambiguates_tasks() {
        assert_eq!(
            route("a2a/v1/tasks/B/inbox"),
            Some(Route::Inbox {
                namespace: "a2a/v1",
                agent: "B"
            })
        );
        assert_eq!(
            route("a2a/v1/tasks/B/results"),
            Some(Route::Results {
                namespace: "a2a/v1",
                agent: "B"
            })
        );
        assert_eq!(
            route("a2a/v1/tasks/5f0c/result"),
            Some(Route::Result {
                namespace: "a2a/v1",
                task_id: "5f0c"
            })
        );
    }

    #[test]
    fn status_accepts_object_or_bare_string() {
        for payload in [
            r#"{"status":"offline","agent_id":"B"}"#,
            "offline",
            "\"offline\"",
        ] {
            let Event::Presence(p) = decode(msg("a2a/v1/agents/B/status", payload))
                .unwrap()
                .event
            else {
                panic!()
            };
            assert_eq!(p.status, Some(Status::Offline), "{payload}");
            assert_eq!(p.source, StatusSource::StatusTopic);
        }
        let Event::Presence(p) = decode(msg("a2a/v1/agents/B/status", "")).unwrap().event else {
            panic!()
        };
        assert!(p.cleared);
        assert!(decode(msg("a2a/v1/agents/B/status", r#"{"status":"dancing"}"#)).is_err());
    }

    #[test]
    fn inbox_and_result_pair_on_task_id() {
        let Event::Request(req) = decode(msg(
            "a2a/v1/tasks/B/inbox",
            r#"{"task_id":"t-1","from":"A","type":"research","title":"t"}"#,
        ))
        .unwrap()
        .event
        else {
            panic!()
        };
        assert_eq!(req.callee, "B");
        assert_eq!(req.caller.as_deref(), Some("A"));
        assert_eq!(req.operation, "research");
        let Event::Reply(r) = decode(msg("a2a/v1/tasks/t-1/result", r#"{"result":"done"}"#))
            .unwrap()
            .event
        else {
            panic!()
        };
        assert_eq!(r.key, req.key);
        let Event::Reply(r) = decode(msg(
            "a2a/v1/tasks/A/results",
            r#"{"task_id":"t-1","status":"failed","error":"no"}"#,
        ))
        .unwrap()
        .event
        else {
            panic!()
        };
        assert_eq!(r.key, req.key);
        assert!(r.is_error());
    }

    #[test]
    fn card_carries_status() {
        let Event::Presence(p) = decode(msg(
            "a2a/v1/agents/scout/card",
            r#"{"name":"scout","capabilities":["research"],"status":"online"}"#,
        ))
        .unwrap()
        .event
        else {
            panic!()
        };
        assert_eq!(
            (p.kind, p.status, p.source),
            (
                ParticipantKind::Agent,
                Some(Status::Online),
                StatusSource::Card
            )
        );
    }
}
