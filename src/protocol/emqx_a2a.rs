//! EMQX A2A over MQTT: `$a2a/v1/...`, one mountpoint level, legacy `a2a/v1/...`, both method generations.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::json::{self, FirstText, IfObject, JsonRpcId, LooseStr};
use super::jsonrpc::{Envelope, Field, Shape, class_of_code};
use super::{
    DecodeError, DecodeErrorKind, Dialect, ErrorInfo, Event, Finality, Notification, Observation,
    PairKey, ParticipantKind, Presence, RawMessage, Reply, ReplyOutcome, Request, Status,
    StatusSource, bad_topic,
};

const D: Dialect = Dialect::EmqxA2a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Discovery,
    Request,
    Reply,
    Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    /// `acme` for `acme/$a2a/v1/...` as seen on a non-mounted listener; empty otherwise.
    pub mountpoint: &'a str,
    /// Pre-2026-02-21 `a2a/v1/...` (no `$`): only claimed when the payload is A2A.
    pub legacy: bool,
    pub kind: Kind,
    /// What follows `{method}/`: `{org}/{unit}/{agent}[...]`.
    pub rest: &'a str,
}

fn kind_of(level: &str) -> Option<Kind> {
    match level {
        "discovery" => Some(Kind::Discovery),
        "request" => Some(Kind::Request),
        "reply" => Some(Kind::Reply),
        "event" => Some(Kind::Event),
        _ => None,
    }
}

fn route_at<'a>(topic: &'a str, mountpoint: &'a str) -> Option<Route<'a>> {
    let (legacy, tail) = if let Some(t) = topic.strip_prefix("$a2a/v1/") {
        (false, t)
    } else if let Some(t) = topic.strip_prefix("a2a/v1/") {
        (true, t)
    } else {
        return None;
    };
    let (method, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let kind = match kind_of(method) {
        Some(k) => k,
        // `$a2a/v1/...` with an unknown method level is still this dialect (reported as a bad
        // topic); `a2a/v1/mcp/...` is MQTT.Agent's default namespace and not ours.
        None if !legacy => {
            return Some(Route {
                mountpoint,
                legacy,
                kind: Kind::Event,
                rest: "",
            });
        }
        None => return None,
    };
    Some(Route {
        mountpoint,
        legacy,
        kind,
        rest,
    })
}

/// `$a2a/v1/{method}/...`, optionally after one mountpoint level, or legacy `a2a/v1/{method}/...`.
pub fn route(topic: &str) -> Option<Route<'_>> {
    if let Some(r) = route_at(topic, "") {
        return Some(r);
    }
    let (mount, rest) = topic.split_once('/')?;
    if mount.is_empty() || mount.starts_with('$') {
        return None;
    }
    route_at(rest, mount)
}

/// `{org}/{unit}/{agent}` with exactly three non-empty levels.
fn agent_address(rest: &str) -> Option<&str> {
    let mut parts = rest.split('/');
    let ok = (0..3).all(|_| parts.next().is_some_and(|p| !p.is_empty())) && parts.next().is_none();
    ok.then_some(rest)
}

/// Direct `{org}/{unit}/{agent}` or pooled `{org}/{unit}/pool/{pool}`.
fn request_target(rest: &str) -> Option<&str> {
    if agent_address(rest).is_some() {
        return Some(rest);
    }
    let parts: Vec<&str> = rest.split('/').collect();
    (parts.len() == 4 && parts[2] == "pool" && parts.iter().all(|p| !p.is_empty())).then_some(rest)
}

/// `{org}/{unit}/{agent}` of a reply topic `[mount/]$a2a/v1/reply/{org}/{unit}/{agent}/{suffix}`.
fn requester_of_reply_topic(topic: &str) -> Option<&str> {
    let r = route(topic)?;
    if r.kind != Kind::Reply {
        return None;
    }
    let mut end = 0;
    for (n, (at, _)) in r.rest.match_indices('/').enumerate() {
        if n == 2 {
            end = at;
            break;
        }
    }
    (end > 0).then(|| &r.rest[..end])
}

/// v0.3 method names → v1.0 names (both may be live, PROTOCOLS.md (c) 22).
pub fn normalize_method(method: &str) -> Option<&'static str> {
    Some(match method {
        "SendMessage" | "message/send" => "SendMessage",
        "SendStreamingMessage" | "message/stream" => "SendStreamingMessage",
        "GetTask" | "tasks/get" => "GetTask",
        "ListTasks" | "tasks/list" => "ListTasks",
        "CancelTask" | "tasks/cancel" => "CancelTask",
        "SubscribeToTask" | "tasks/resubscribe" => "SubscribeToTask",
        "CreateTaskPushNotificationConfig" | "tasks/pushNotificationConfig/set" => {
            "CreateTaskPushNotificationConfig"
        }
        "GetTaskPushNotificationConfig" | "tasks/pushNotificationConfig/get" => {
            "GetTaskPushNotificationConfig"
        }
        "ListTaskPushNotificationConfig" | "tasks/pushNotificationConfig/list" => {
            "ListTaskPushNotificationConfig"
        }
        "DeleteTaskPushNotificationConfig" | "tasks/pushNotificationConfig/delete" => {
            "DeleteTaskPushNotificationConfig"
        }
        "GetExtendedAgentCard" | "agent/getAuthenticatedExtendedCard" => "GetExtendedAgentCard",
        _ => return None,
    })
}

/// A task state, v1.0 (`TASK_STATE_COMPLETED`) or v0.3 (`completed`) spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Submitted,
    Working,
    InputRequired,
    AuthRequired,
    Completed,
    Failed,
    Canceled,
    Rejected,
    Unspecified,
}

impl TaskState {
    pub fn parse(text: &str) -> Option<TaskState> {
        let short = text.strip_prefix("TASK_STATE_").unwrap_or(text);
        let eq = |s: &str| short.eq_ignore_ascii_case(s);
        Some(if eq("submitted") {
            TaskState::Submitted
        } else if eq("working") {
            TaskState::Working
        } else if eq("input_required") || eq("input-required") {
            TaskState::InputRequired
        } else if eq("auth_required") || eq("auth-required") {
            TaskState::AuthRequired
        } else if eq("completed") {
            TaskState::Completed
        } else if eq("failed") {
            TaskState::Failed
        } else if eq("canceled") || eq("cancelled") {
            TaskState::Canceled
        } else if eq("rejected") {
            TaskState::Rejected
        } else if eq("unspecified") || eq("unknown") {
            TaskState::Unspecified
        } else {
            return None;
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            TaskState::Submitted => "submitted",
            TaskState::Working => "working",
            TaskState::InputRequired => "input-required",
            TaskState::AuthRequired => "auth-required",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Rejected => "rejected",
            TaskState::Unspecified => "unspecified",
        }
    }

    /// Ends the stream of one correlation: terminal, or interrupted (the task continues on a new one).
    pub fn ends_stream(self) -> bool {
        matches!(
            self,
            TaskState::Completed
                | TaskState::Failed
                | TaskState::Canceled
                | TaskState::Rejected
                | TaskState::InputRequired
                | TaskState::AuthRequired
        )
    }

    fn is_error(self) -> bool {
        matches!(
            self,
            TaskState::Failed | TaskState::Canceled | TaskState::Rejected
        )
    }
}

#[derive(Debug, Default, Deserialize)]
struct Message<'a> {
    #[serde(borrow, default, rename = "taskId")]
    task_id: LooseStr<'a>,
    #[serde(borrow, default, rename = "task_id")]
    task_id_snake: LooseStr<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata<'a> {
    #[serde(borrow, default)]
    sender: LooseStr<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    message: IfObject<Message<'a>>,
    /// `GetTask` / `CancelTask` name the task here.
    #[serde(borrow, default)]
    id: LooseStr<'a>,
    #[serde(borrow, default)]
    metadata: IfObject<Metadata<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct StatusMessage<'a> {
    #[serde(borrow, default)]
    parts: FirstText<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct TaskStatus<'a> {
    #[serde(borrow, default)]
    state: LooseStr<'a>,
    #[serde(borrow, default)]
    message: IfObject<StatusMessage<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct StatusUpdate<'a> {
    #[serde(borrow, default, rename = "taskId")]
    task_id: LooseStr<'a>,
    #[serde(borrow, default)]
    status: IfObject<TaskStatus<'a>>,
    #[serde(default, rename = "final")]
    is_final: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct TaskObject<'a> {
    #[serde(borrow, default)]
    id: LooseStr<'a>,
    #[serde(borrow, default)]
    status: IfObject<TaskStatus<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct A2aResult<'a> {
    #[serde(borrow, default, rename = "statusUpdate")]
    status_update: IfObject<StatusUpdate<'a>>,
    #[serde(borrow, default, rename = "artifactUpdate")]
    artifact_update: IfObject<StatusUpdate<'a>>,
    #[serde(borrow, default)]
    task: IfObject<TaskObject<'a>>,
    #[serde(default)]
    message: Option<IgnoredAny>,
    // v0.3: the event itself is the result, discriminated by `kind`.
    #[serde(borrow, default)]
    kind: LooseStr<'a>,
    #[serde(borrow, default)]
    status: IfObject<TaskStatus<'a>>,
    #[serde(default, rename = "final")]
    is_final: Option<bool>,
    #[serde(borrow, default, rename = "taskId")]
    task_id: LooseStr<'a>,
    #[serde(borrow, default)]
    id: LooseStr<'a>,
}

type RequestEnvelope<'a> = Envelope<'a, Params<'a>, IgnoredAny>;
type ReplyEnvelope<'a> = Envelope<'a, IgnoredAny, A2aResult<'a>>;

#[derive(Debug, Default, Deserialize)]
struct Card<'a> {
    #[serde(borrow, default)]
    name: LooseStr<'a>,
}

fn err(kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(D, kind)
}

fn encrypted(raw: &RawMessage) -> bool {
    raw.props()
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/jose"))
}

/// `None` when a legacy (`a2a/v1/...`) topic carries no A2A payload: detection moves on.
pub fn decode<'a>(
    raw: &'a RawMessage,
    route: Route<'a>,
) -> Option<Result<Observation<'a>, DecodeError>> {
    let topic = raw.topic_str().unwrap_or("");
    match route.kind {
        Kind::Discovery => {
            let Some(agent) = agent_address(route.rest) else {
                return (!route.legacy).then(|| Err(bad_topic(D, "EMQX A2A discovery", topic)));
            };
            Some(discovery(raw, agent, route.legacy)?)
        }
        Kind::Request => {
            let Some(target) = request_target(route.rest) else {
                return (!route.legacy).then(|| Err(bad_topic(D, "EMQX A2A request", topic)));
            };
            request(raw, target, route.mountpoint, route.legacy)
        }
        Kind::Reply => {
            if route.rest.split('/').filter(|p| !p.is_empty()).count() < 3 {
                return (!route.legacy).then(|| Err(bad_topic(D, "EMQX A2A reply", topic)));
            }
            if route.legacy && !looks_like_a2a_reply(raw) {
                return None;
            }
            Some(Ok(decode_reply_on(raw, topic, route.mountpoint)))
        }
        Kind::Event => {
            let Some(agent) = agent_address(route.rest) else {
                return (!route.legacy).then(|| Err(bad_topic(D, "EMQX A2A", topic)));
            };
            if route.legacy && !json::looks_like_object(&raw.payload) {
                return None;
            }
            Some(Ok(Observation::new(
                D,
                Event::Notification(Notification {
                    operation: Cow::Borrowed("event"),
                    sender: Some(Cow::Borrowed(agent)),
                    sender_kind: ParticipantKind::Agent,
                    target: None,
                }),
            )))
        }
    }
}

fn discovery<'a>(
    raw: &'a RawMessage,
    agent: &'a str,
    legacy: bool,
) -> Option<Result<Observation<'a>, DecodeError>> {
    let props = raw.props();
    let status = props
        .user_property("a2a-status")
        .and_then(Status::parse_wire);
    let source = match props.user_property("a2a-status-source") {
        Some("lwt") => StatusSource::Lwt,
        Some("broker") => StatusSource::Broker,
        _ => StatusSource::Card,
    };
    let mut p = Presence::new(ParticipantKind::Agent, agent, source);
    p.status = status;
    if raw.payload.is_empty() {
        // Unregistered (retained card cleared).
        p.cleared = true;
        return Some(Ok(Observation::new(D, Event::Presence(p))));
    }
    let card = json::payload_text(&raw.payload)
        .and_then(|t| json::parse::<Card>(t, "agent card", &[("name", json::Kind::Str, false)]));
    match card {
        Ok(card) => {
            if legacy && card.name.get().is_none() {
                return None;
            }
            p.display_name = card.name.take();
            p.is_card = true;
            Some(Ok(Observation::new(D, Event::Presence(p))))
        }
        Err(_) if legacy => None,
        Err(kind) => Some(Err(err(kind))),
    }
}

fn correlation(raw: &RawMessage) -> Option<Cow<'_, [u8]>> {
    raw.props().correlation_data.as_deref().map(Cow::Borrowed)
}

/// The reply topic as this observer will see it: a mounted requester's Response Topic gets the mountpoint.
fn observed_reply_topic<'a>(response_topic: &'a str, mountpoint: &str) -> Cow<'a, str> {
    if mountpoint.is_empty() {
        Cow::Borrowed(response_topic)
    } else {
        Cow::Owned(format!("{mountpoint}/{response_topic}"))
    }
}

fn request<'a>(
    raw: &'a RawMessage,
    target: &'a str,
    mountpoint: &str,
    legacy: bool,
) -> Option<Result<Observation<'a>, DecodeError>> {
    let props = raw.props();
    let parsed = if encrypted(raw) {
        None
    } else {
        Some(json::payload_text(&raw.payload).and_then(|t| {
            json::parse::<RequestEnvelope>(
                t,
                "A2A request",
                &[
                    ("id", json::Kind::Id, false),
                    ("method", json::Kind::Str, true),
                    ("params", json::Kind::Object, false),
                ],
            )
        }))
    };
    if legacy {
        let is_a2a = matches!(&parsed, Some(Ok(env)) if env.method.as_deref().and_then(normalize_method).is_some());
        if !is_a2a {
            return None;
        }
    }
    let key = props
        .response_topic
        .as_deref()
        .map(|rt| PairKey::ReplyAddress {
            topic: observed_reply_topic(rt, mountpoint),
            correlation: correlation(raw),
        });
    let mut issue = None;
    let mut req = Request::new(key, target, "(encrypted)");
    req.callee_kind = Some(ParticipantKind::Agent);
    // A requester is a client until its own card says it is an agent.
    req.caller_kind = ParticipantKind::Client;
    let mut sender_name = None;
    match parsed {
        None => {}
        Some(Err(kind)) => {
            // Still a request: the responder answers it with -32700, and we pair that.
            issue = Some(err(kind));
            req.operation = Cow::Borrowed("(invalid)");
        }
        Some(Ok(env)) => {
            let method = env.method.unwrap_or(Cow::Borrowed("?"));
            req.streaming = matches!(
                normalize_method(&method),
                Some("SendStreamingMessage" | "SubscribeToTask")
            );
            req.operation = match normalize_method(&method) {
                Some(m) => Cow::Borrowed(m),
                None => method,
            };
            req.rpc_id = env.id;
            if let Some(params) = env.params.0 {
                let from_message = params
                    .message
                    .0
                    .and_then(|m| m.task_id.take().or(m.task_id_snake.take()));
                req.task_id = from_message.or_else(|| params.id.take());
                sender_name = params.metadata.0.and_then(|m| m.sender.take());
            }
        }
    }
    req.caller = props
        .response_topic
        .as_deref()
        .and_then(requester_of_reply_topic)
        .map(Cow::Borrowed)
        .or_else(|| {
            let id = props.user_property("a2a-requester-agent-id")?;
            Some(Cow::Owned(format!("{}/{id}", org_unit(target))))
        })
        .or(sender_name);
    if props.response_topic.is_none() && issue.is_none() {
        issue = Some(err(DecodeErrorKind::Invalid {
            what: "A2A request",
            detail: "no Response Topic: the responder cannot answer".into(),
        }));
    }
    Some(Ok(Observation {
        dialect: D,
        event: Event::Request(req),
        issue,
    }))
}

/// `{org}/{unit}` of an address.
fn org_unit(address: &str) -> &str {
    let mut end = address.len();
    for (n, (at, _)) in address.match_indices('/').enumerate() {
        if n == 1 {
            end = at;
            break;
        }
    }
    &address[..end]
}

fn looks_like_a2a_reply(raw: &RawMessage) -> bool {
    json::looks_like_object(&raw.payload)
        && json::payload_text(&raw.payload)
            .ok()
            .and_then(|t| serde_json::from_str::<ReplyEnvelope>(t).ok())
            .is_some_and(|env| matches!(env.shape(), Shape::Result | Shape::Error))
}

/// A reply on `topic` (the recommended `$a2a/v1/reply/...` or any recorded Response Topic).
pub fn decode_reply_on<'a>(
    raw: &'a RawMessage,
    topic: &'a str,
    _mountpoint: &str,
) -> Observation<'a> {
    let props = raw.props();
    let corr = correlation(raw);
    let key = Some(PairKey::ReplyAddress {
        topic: Cow::Borrowed(topic),
        correlation: corr.clone(),
    });
    let responder = props.user_property("a2a-responder-agent-id").map(|id| {
        match requester_of_reply_topic(topic) {
            Some(requester) => Cow::Owned(format!("{}/{id}", org_unit(requester))),
            None => Cow::Borrowed(id),
        }
    });
    // Native binary artifact chunks and ubsp-v1 (JWE) payloads: metadata only.
    if props.user_property("a2a-event-type").is_some() || props.payload_format_indicator == Some(0)
    {
        let mut reply = Reply::new(key, Finality::Partial, ReplyOutcome::Ok, "artifact-chunk");
        reply.task_id = props.user_property("a2a-task-id").map(Cow::Borrowed);
        reply.responder = responder;
        return Observation::new(D, Event::Reply(reply));
    }
    if encrypted(raw) {
        let mut reply = Reply::new(key, Finality::Partial, ReplyOutcome::Ok, "encrypted");
        reply.responder = responder;
        return Observation::new(D, Event::Reply(reply));
    }
    let parsed = json::payload_text(&raw.payload).and_then(|t| {
        json::parse::<ReplyEnvelope>(
            t,
            "A2A reply",
            &[
                ("id", json::Kind::Id, false),
                ("result", json::Kind::Object, false),
            ],
        )
    });
    let env = match parsed {
        Ok(env) => env,
        Err(kind) => {
            // Unreadable reply: still the end of that exchange as far as we can tell.
            let mut reply = Reply::new(
                key,
                Finality::Final,
                ReplyOutcome::Error(ErrorInfo::new("undecodable_reply")),
                "error",
            );
            reply.responder = responder;
            return Observation {
                dialect: D,
                event: Event::Reply(reply),
                issue: Some(err(kind)),
            };
        }
    };
    let shape = env.shape();
    let rpc_id = env.id.clone();
    // Quirk: the reference responder's error replies carry the Correlation Data string as the
    // JSON-RPC `id`; when Correlation Data is missing, that id is the only link left.
    let fallback_key = match (&corr, &rpc_id) {
        (None, Some(JsonRpcId::Str(s))) => Some(PairKey::ReplyAddress {
            topic: Cow::Borrowed(topic),
            correlation: Some(match s {
                Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
                Cow::Owned(o) => Cow::Owned(o.as_bytes().to_vec()),
            }),
        }),
        _ => None,
    };
    let mut reply = match (shape, env.error.0, env.result) {
        (_, Some(e), _) => {
            // -32003/-32004/-32005 collide with A2A core codes: only `data.a2a_error` tells.
            let class = match e.a2a_error.get() {
                Some(binding) => Cow::Owned(binding.to_owned()),
                None => Cow::Borrowed(a2a_class_of_code(e.code_number)),
            };
            Reply::new(
                key,
                Finality::Final,
                ReplyOutcome::Error(ErrorInfo {
                    class,
                    code: e.code.take(),
                    message: e.message.take(),
                }),
                "error",
            )
        }
        (_, None, Field::Present(IfObject(Some(result)))) => result_reply(key, result),
        (_, None, Field::Present(IfObject(None))) => {
            Reply::new(key, Finality::Final, ReplyOutcome::Ok, "result")
        }
        (_, None, Field::Absent) => {
            return Observation {
                dialect: D,
                event: Event::Reply(Reply::new(
                    key,
                    Finality::Final,
                    ReplyOutcome::Error(ErrorInfo::new("undecodable_reply")),
                    "error",
                )),
                issue: Some(err(DecodeErrorKind::Invalid {
                    what: "A2A reply",
                    detail: "no `result` or `error`".into(),
                })),
            };
        }
    };
    reply.fallback_key = fallback_key;
    reply.rpc_id = rpc_id;
    reply.responder = responder;
    Observation::new(D, Event::Reply(reply))
}

fn state_reply<'a>(
    key: Option<PairKey<'a>>,
    status: Option<TaskStatus<'a>>,
    is_final: Option<bool>,
    default_label: &'static str,
) -> Reply<'a> {
    let status = status.unwrap_or_default();
    let state = status.state.get().and_then(TaskState::parse);
    let finality = match state {
        Some(s) if s.ends_stream() => Finality::Final,
        _ if is_final == Some(true) => Finality::Final,
        _ => Finality::Partial,
    };
    let outcome = match state {
        Some(s) if s.is_error() => ReplyOutcome::Error(ErrorInfo {
            class: Cow::Borrowed(s.label()),
            code: None,
            message: status.message.0.and_then(|m| m.parts.0),
        }),
        _ => ReplyOutcome::Ok,
    };
    Reply::new(
        key,
        finality,
        outcome,
        state.map_or(default_label, TaskState::label),
    )
}

fn result_reply<'a>(key: Option<PairKey<'a>>, result: A2aResult<'a>) -> Reply<'a> {
    if let Some(update) = result.status_update.0 {
        let task_id = update.task_id.0.clone();
        let mut r = state_reply(key, update.status.0, update.is_final, "status");
        r.task_id = task_id;
        return r;
    }
    if let Some(update) = result.artifact_update.0 {
        let mut r = Reply::new(key, Finality::Partial, ReplyOutcome::Ok, "artifact");
        r.task_id = update.task_id.take();
        return r;
    }
    if let Some(task) = result.task.0 {
        return task_reply(key, task);
    }
    if result.message.is_some() {
        return Reply::new(key, Finality::Final, ReplyOutcome::Ok, "message");
    }
    match result.kind.get() {
        Some("status-update") => {
            let mut r = state_reply(key, result.status.0, result.is_final, "status");
            r.task_id = result.task_id.take();
            r
        }
        Some("artifact-update") => {
            let mut r = Reply::new(key, Finality::Partial, ReplyOutcome::Ok, "artifact");
            r.task_id = result.task_id.take();
            r
        }
        Some("task") => task_reply(
            key,
            TaskObject {
                id: result.id,
                status: result.status,
            },
        ),
        _ => Reply::new(key, Finality::Final, ReplyOutcome::Ok, "result"),
    }
}

fn task_reply<'a>(key: Option<PairKey<'a>>, task: TaskObject<'a>) -> Reply<'a> {
    let task_id = task.id.0.clone();
    let mut r = state_reply(key, task.status.0, None, "task");
    if r.finality == Finality::Partial {
        r.finality = Finality::FinalUnlessStreaming;
    }
    r.task_id = task_id;
    r
}

/// A2A core error codes (the binding's -32003/4/5 are told apart by `data.a2a_error` first).
pub fn a2a_class_of_code(code: Option<i64>) -> &'static str {
    match code {
        Some(-32001) => "task_not_found",
        Some(-32002) => "task_not_cancelable",
        Some(-32003) => "push_notification_not_supported",
        Some(-32004) => "unsupported_operation",
        Some(-32005) => "content_type_not_supported",
        Some(-32006) => "invalid_agent_response",
        Some(-32007) => "extended_agent_card_not_configured",
        Some(-32008) => "extension_support_required",
        Some(-32009) => "version_not_supported",
        other => class_of_code(other),
    }
}

/// A message with `a2a-*` user properties on a topic outside `$a2a/v1/...`.
pub fn decode_on_other_topic<'a>(
    raw: &'a RawMessage,
    topic: &'a str,
) -> Option<Result<Observation<'a>, DecodeError>> {
    let props = raw.props();
    if props.response_topic.is_some() {
        return request(raw, topic, "", false);
    }
    if props.correlation_data.is_some() {
        return Some(Ok(decode_reply_on(raw, topic, "")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Properties, decode as decode_any};

    fn msg(topic: &str, payload: &str, props: Properties) -> RawMessage {
        let mut raw = RawMessage::new(1, topic, payload.as_bytes().to_vec());
        raw.properties = Some(Box::new(props));
        raw
    }

    fn user(pairs: &[(&str, &str)]) -> Properties {
        Properties {
            user_properties: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Properties::default()
        }
    }

    fn rr(response_topic: &str, corr: &[u8]) -> Properties {
        Properties {
            response_topic: Some(response_topic.into()),
            correlation_data: Some(corr.to_vec()),
            ..Properties::default()
        }
    }

    fn corr(c: &[u8]) -> Properties {
        Properties {
            correlation_data: Some(c.to_vec()),
            ..Properties::default()
        }
    }

    const REQUEST: &str = r#"{ "jsonrpc": "2.0", "id": "req-1", "method": "SendMessage", "params": { "message": { "messageId": "9f", "role": "ROLE_USER", "parts": [ { "text": "Hello, agent!" } ], "taskId": "2b0c", "contextId": "7e1d" }, "metadata": { "sender": "agent-a", "variables": { "k": "v" } } } }"#;

    #[test]
    fn routes_with_mountpoint_and_legacy_prefix() {
        assert_eq!(
            route("$a2a/v1/request/myorg/default/echo").unwrap().kind,
            Kind::Request
        );
        let r = route("acme/$a2a/v1/discovery/o/u/a").unwrap();
        assert_eq!(
            (r.mountpoint, r.kind, r.rest),
            ("acme", Kind::Discovery, "o/u/a")
        );
        assert!(route("a2a/v1/request/o/u/a").unwrap().legacy);
        // MQTT.Agent's default namespace is not ours.
        assert_eq!(route("a2a/v1/mcp/tools/echo/call"), None);
        assert_eq!(route("a2a/v1/agents/x/card"), None);
    }

    #[test]
    fn discovery_status_and_source_from_user_properties() {
        let card = r#"{"name":"Echo Agent","description":"d","version":"0.1.0"}"#;
        let online = msg(
            "$a2a/v1/discovery/myorg/default/echo",
            card,
            user(&[("a2a-status", "online"), ("a2a-status-source", "agent")]),
        );
        let Event::Presence(p) = decode_any(&online).unwrap().event else {
            panic!()
        };
        assert_eq!(p.participant_id, "myorg/default/echo");
        assert_eq!(
            (p.status, p.source),
            (Some(Status::Online), StatusSource::Card)
        );
        let lwt = msg(
            "$a2a/v1/discovery/myorg/default/echo",
            card,
            user(&[("a2a-status", "offline"), ("a2a-status-source", "lwt")]),
        );
        let Event::Presence(p) = decode_any(&lwt).unwrap().event else {
            panic!()
        };
        assert_eq!(
            (p.status, p.source),
            (Some(Status::Offline), StatusSource::Lwt)
        );
        let broker = msg(
            "$a2a/v1/discovery/myorg/default/echo",
            card,
            user(&[("a2a-status", "online"), ("a2a-status-source", "broker")]),
        );
        let Event::Presence(p) = decode_any(&broker).unwrap().event else {
            panic!()
        };
        assert_eq!(p.source, StatusSource::Broker);
        let pre = msg(
            "$a2a/v1/discovery/myorg/default/echo",
            card,
            Properties::default(),
        );
        let Event::Presence(p) = decode_any(&pre).unwrap().event else {
            panic!()
        };
        assert_eq!(p.status, None, "pre-presence agent: unknown");
    }

    #[test]
    fn request_and_stream_pair_on_reply_topic_and_correlation() {
        let reply_topic = "$a2a/v1/reply/myorg/default/client/3f9a1c2b7d4e";
        let req = msg(
            "$a2a/v1/request/myorg/default/echo",
            REQUEST,
            rr(reply_topic, b"corr-1"),
        );
        let Event::Request(r) = decode_any(&req).unwrap().event else {
            panic!()
        };
        assert_eq!(r.operation, "SendMessage");
        assert_eq!(r.caller.as_deref(), Some("myorg/default/client"));
        assert_eq!(r.callee, "myorg/default/echo");
        assert_eq!(r.task_id.as_deref(), Some("2b0c"));
        let items = [
            (
                r#"{"jsonrpc":"2.0","id":"req-1","result":{"statusUpdate":{"taskId":"2b0c","contextId":"7e1d","status":{"state":"TASK_STATE_SUBMITTED","timestamp":"2026-03-30T10:00:00.123+00:00"}}}}"#,
                Finality::Partial,
                "submitted",
            ),
            (
                r#"{"jsonrpc":"2.0","id":"req-1","result":{"statusUpdate":{"taskId":"2b0c","contextId":"7e1d","status":{"state":"TASK_STATE_WORKING","timestamp":"t","message":{"messageId":"m","role":"ROLE_AGENT","parts":[{"text":"thinking..."}]}},"metadata":{"type":"text"}}}}"#,
                Finality::Partial,
                "working",
            ),
            (
                r#"{"jsonrpc":"2.0","id":"req-1","result":{"artifactUpdate":{"taskId":"2b0c","contextId":"7e1d","artifact":{"artifactId":"a1b2c3d4e5f6","parts":[{"text":"You said: Hello, agent!"}]},"lastChunk":true}}}"#,
                Finality::Partial,
                "artifact",
            ),
            (
                r#"{"jsonrpc":"2.0","id":"req-1","result":{"statusUpdate":{"taskId":"2b0c","contextId":"7e1d","status":{"state":"TASK_STATE_COMPLETED","timestamp":"t"}}}}"#,
                Finality::Final,
                "completed",
            ),
        ];
        for (payload, finality, label) in items {
            let raw = msg(reply_topic, payload, corr(b"corr-1"));
            let Event::Reply(p) = decode_any(&raw).unwrap().event else {
                panic!()
            };
            assert_eq!(p.key, r.key);
            assert_eq!((p.finality, p.label), (finality, label));
            assert!(!p.is_error());
        }
    }

    #[test]
    fn legacy_method_names_and_v03_shapes() {
        let req = msg(
            "a2a/v1/request/o/u/echo",
            r#"{"jsonrpc":"2.0","id":1,"method":"message/stream","params":{"message":{"taskId":"t"}}}"#,
            rr("a2a/v1/reply/o/u/me/x", b"c"),
        );
        let obs = decode_any(&req).unwrap();
        assert_eq!(obs.dialect, Dialect::EmqxA2a);
        let Event::Request(r) = obs.event else {
            panic!()
        };
        assert_eq!(r.operation, "SendStreamingMessage");
        assert!(r.streaming);
        let fin = msg(
            "a2a/v1/reply/o/u/me/x",
            r#"{"jsonrpc":"2.0","id":1,"result":{"kind":"status-update","taskId":"t","status":{"state":"input-required"},"final":true}}"#,
            corr(b"c"),
        );
        let Event::Reply(p) = decode_any(&fin).unwrap().event else {
            panic!()
        };
        assert_eq!((p.finality, p.label), (Finality::Final, "input-required"));
    }

    #[test]
    fn binding_error_codes_collide_and_error_id_is_the_correlation_string() {
        let reply_topic = "$a2a/v1/reply/o/u/me/x";
        let e = msg(
            reply_topic,
            r#"{"jsonrpc": "2.0", "id": "corr-invalid-1-dbafb9", "error": {"code": -32005, "message": "Missing required Task.id (message.taskId)", "data": {"a2a_error": "transport_protocol_error"}}}"#,
            corr(b"corr-invalid-1-dbafb9"),
        );
        let Event::Reply(p) = decode_any(&e).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(info) = &p.outcome else {
            panic!()
        };
        assert_eq!(info.class, "transport_protocol_error");
        let core = msg(
            reply_topic,
            r#"{"jsonrpc":"2.0","id":"x","error":{"code":-32005,"message":"ct"}}"#,
            corr(b"x"),
        );
        let Event::Reply(p) = decode_any(&core).unwrap().event else {
            panic!()
        };
        let ReplyOutcome::Error(info) = &p.outcome else {
            panic!()
        };
        assert_eq!(info.class, "content_type_not_supported");
        // Without Correlation Data, the quirky id is the fallback key.
        let bare = msg(
            reply_topic,
            r#"{"jsonrpc":"2.0","id":"corr-9","error":{"code":-32700,"message":"Parse error"}}"#,
            Properties::default(),
        );
        let Event::Reply(p) = decode_any(&bare).unwrap().event else {
            panic!()
        };
        let req = msg(
            "$a2a/v1/request/o/u/a",
            "this is not JSON {",
            rr(reply_topic, b"corr-9"),
        );
        let obs = decode_any(&req).unwrap();
        assert!(
            obs.issue.is_some(),
            "non-JSON request still decodes with an issue"
        );
        let Event::Request(r) = obs.event else {
            panic!()
        };
        assert_eq!(p.fallback_key, r.key);
    }

    #[test]
    fn failed_state_is_an_error_with_the_status_text() {
        let raw = msg(
            "$a2a/v1/reply/o/u/me/x",
            r#"{"jsonrpc": "2.0", "id": "r", "result": {"statusUpdate": {"taskId": "t", "status": {"state": "TASK_STATE_FAILED", "message": {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "Internal error"}]}}}}}"#,
            corr(b"c"),
        );
        let Event::Reply(p) = decode_any(&raw).unwrap().event else {
            panic!()
        };
        assert_eq!(p.finality, Finality::Final);
        let ReplyOutcome::Error(e) = p.outcome else {
            panic!()
        };
        assert_eq!(
            (e.class.as_ref(), e.message.as_deref()),
            ("failed", Some("Internal error"))
        );
    }

    #[test]
    fn pool_request_and_responder_property() {
        let req = msg(
            "$a2a/v1/request/o/u/pool/workers",
            REQUEST,
            rr("$a2a/v1/reply/o/u/me/s", b"c"),
        );
        let Event::Request(r) = decode_any(&req).unwrap().event else {
            panic!()
        };
        assert_eq!(r.callee, "o/u/pool/workers");
        let mut props = corr(b"c");
        props
            .user_properties
            .push(("a2a-responder-agent-id".into(), "w2".into()));
        let rep = msg(
            "$a2a/v1/reply/o/u/me/s",
            r#"{"jsonrpc":"2.0","id":"req-1","result":{"message":{}}}"#,
            props,
        );
        let Event::Reply(p) = decode_any(&rep).unwrap().event else {
            panic!()
        };
        assert_eq!(p.responder.as_deref(), Some("o/u/w2"));
    }

    #[test]
    fn mountpoint_prefixes_the_reply_topic_key() {
        let req = msg(
            "acme/$a2a/v1/request/o/u/a",
            REQUEST,
            rr("$a2a/v1/reply/o/u/me/s", b"c"),
        );
        let Event::Request(r) = decode_any(&req).unwrap().event else {
            panic!()
        };
        let rep = msg(
            "acme/$a2a/v1/reply/o/u/me/s",
            r#"{"jsonrpc":"2.0","id":"req-1","result":{"message":{}}}"#,
            corr(b"c"),
        );
        let Event::Reply(p) = decode_any(&rep).unwrap().event else {
            panic!()
        };
        assert_eq!(p.key, r.key);
    }

    #[test]
    fn a2a_properties_on_any_topic() {
        let mut props = corr(b"c");
        props
            .user_properties
            .push(("a2a-responder-agent-id".into(), "echo".into()));
        let rep = msg(
            "custom/replies/me",
            r#"{"jsonrpc":"2.0","id":"1","result":{"message":{}}}"#,
            props,
        );
        assert_eq!(decode_any(&rep).unwrap().dialect, Dialect::EmqxA2a);
    }
}
