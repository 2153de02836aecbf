//! What a decoded message means, borrowed from the raw message: presence, requests, replies, notifications.

use std::borrow::Cow;
use std::sync::Arc;

use super::json::JsonRpcId;
use super::{DecodeError, Dialect};

/// One decoded message. Strings borrow from the raw message where the JSON had no escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation<'a> {
    pub dialect: Dialect,
    pub event: Event<'a>,
    /// The payload was only partly understood; `event` still carries what the topic and the
    /// MQTT properties said (so a request with a broken payload still pairs with its error reply).
    pub issue: Option<DecodeError>,
}

impl<'a> Observation<'a> {
    pub fn new(dialect: Dialect, event: Event<'a>) -> Self {
        Observation {
            dialect,
            event,
            issue: None,
        }
    }

    pub fn raw() -> Self {
        Observation::new(Dialect::Raw, Event::Raw)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A participant announced itself or its liveness (card, status topic, presence, Will).
    Presence(Presence<'a>),
    Request(Request<'a>),
    /// A final response or a streamed partial (stream item, A2A status/artifact update).
    Reply(Reply<'a>),
    /// EMQX-MCP `notifications/progress`, attached to the request carrying the same token.
    Progress(Progress<'a>),
    /// EMQX-MCP `notifications/cancelled`: closes the request it names.
    Cancel(Cancel<'a>),
    /// Fire-and-forget traffic (OpenMAS notifications, MCP notifications, A2A events).
    Notification(Notification<'a>),
    /// A JSON-RPC batch (MCP 2025-03-26 allowed them).
    Batch(Vec<Event<'a>>),
    /// Not a dialect message: shown as raw MQTT.
    Raw,
}

impl Event<'_> {
    pub fn kind_str(&self) -> &'static str {
        match self {
            Event::Presence(_) => "presence",
            Event::Request(_) => "request",
            Event::Reply(r) if r.finality == Finality::Partial => "partial",
            Event::Reply(_) => "response",
            Event::Progress(_) => "progress",
            Event::Cancel(_) => "cancel",
            Event::Notification(_) => "notification",
            Event::Batch(_) => "batch",
            Event::Raw => "raw",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParticipantKind {
    Agent,
    McpServer,
    Tool,
    Client,
}

impl ParticipantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantKind::Agent => "agent",
            ParticipantKind::McpServer => "mcp_server",
            ParticipantKind::Tool => "tool",
            ParticipantKind::Client => "client",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Online,
    Offline,
    Stale,
    #[default]
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Offline => "offline",
            Status::Stale => "stale",
            Status::Unknown => "unknown",
        }
    }

    /// `online`/`offline` as the dialects write them (case-insensitive).
    pub fn parse_wire(text: &str) -> Option<Status> {
        if text.eq_ignore_ascii_case("online") {
            Some(Status::Online)
        } else if text.eq_ignore_ascii_case("offline") {
            Some(Status::Offline)
        } else {
            None
        }
    }
}

/// Who asserted a status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusSource {
    /// A card's own `status` field or its presence user property set by the agent.
    #[default]
    Card,
    /// A dedicated status/presence topic.
    StatusTopic,
    /// The participant's Last Will (as the wire says: `a2a-status-source=lwt`).
    Lwt,
    /// The broker annotated the status (`a2a-status-source=broker`).
    Broker,
    /// Inferred from the participant's own traffic.
    Traffic,
}

impl StatusSource {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusSource::Card => "card",
            StatusSource::StatusTopic => "status_topic",
            StatusSource::Lwt => "lwt",
            StatusSource::Broker => "broker",
            StatusSource::Traffic => "traffic",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Presence<'a> {
    pub kind: ParticipantKind,
    pub participant_id: Cow<'a, str>,
    /// `None`: the message says nothing about liveness (e.g. a pre-presence A2A card).
    pub status: Option<Status>,
    pub source: StatusSource,
    /// The payload is this participant's card (the model keeps the raw bytes).
    pub is_card: bool,
    /// A zero-length payload: the registration was cleared (retained delete or empty Will).
    pub cleared: bool,
    pub display_name: Option<Cow<'a, str>>,
    /// A tool's owning server.
    pub server_id: Option<Cow<'a, str>>,
    /// An EMQX-MCP server instance (server-id) behind a service name.
    pub instance_id: Option<Cow<'a, str>>,
}

impl<'a> Presence<'a> {
    pub fn new(
        kind: ParticipantKind,
        participant_id: impl Into<Cow<'a, str>>,
        source: StatusSource,
    ) -> Self {
        Presence {
            kind,
            participant_id: participant_id.into(),
            status: None,
            source,
            is_card: false,
            cleared: false,
            display_name: None,
            server_id: None,
            instance_id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

/// The dialect's pairing key: a request and its replies produce equal keys.
#[derive(Debug, Clone, PartialEq)]
pub enum PairKey<'a> {
    /// MQTT.Agent MCP: `call_id` within a namespace.
    CallId {
        namespace: Cow<'a, str>,
        call_id: Cow<'a, str>,
    },
    /// MQTT.Agent A2A: task id within a namespace.
    TaskId {
        namespace: Cow<'a, str>,
        task_id: Cow<'a, str>,
    },
    /// EMQX-MCP: JSON-RPC id (with its type) within an RPC session and the request's direction.
    /// `direction: None` on a reply whose sender is not on the wire: the model tries both.
    Session {
        client_id: Cow<'a, str>,
        server_id: Cow<'a, str>,
        server_name: Cow<'a, str>,
        direction: Option<Direction>,
        rpc_id: JsonRpcId<'a>,
    },
    /// EMQX-MCP progress token within an RPC session.
    ProgressToken {
        client_id: Cow<'a, str>,
        server_id: Cow<'a, str>,
        server_name: Cow<'a, str>,
        token: JsonRpcId<'a>,
    },
    /// EMQX-A2A and plain MQTT 5: the reply topic as observed (mountpoint included) and the
    /// Correlation Data bytes (`None`: weak pairing, first come first served on that topic).
    ReplyAddress {
        topic: Cow<'a, str>,
        correlation: Option<Cow<'a, [u8]>>,
    },
    /// OpenMAS: the request id within a topic prefix.
    RequestId {
        prefix: Cow<'a, str>,
        request_id: Cow<'a, str>,
    },
    /// JSON-RPC on an unknown topic: the id.
    RpcId { rpc_id: JsonRpcId<'a> },
}

impl PairKey<'_> {
    /// Serialises the key for hashing; distinct variants never collide. Returns where the
    /// correlation part starts (for display).
    pub fn write(&self, out: &mut Vec<u8>) -> usize {
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        match self {
            PairKey::CallId { namespace, call_id } => {
                out.push(1);
                field(out, namespace.as_bytes());
                let at = out.len();
                out.extend_from_slice(call_id.as_bytes());
                at
            }
            PairKey::TaskId { namespace, task_id } => {
                out.push(2);
                field(out, namespace.as_bytes());
                let at = out.len();
                out.extend_from_slice(task_id.as_bytes());
                at
            }
            PairKey::Session {
                client_id,
                server_id,
                server_name,
                direction,
                rpc_id,
            } => {
                out.push(3);
                field(out, client_id.as_bytes());
                field(out, server_id.as_bytes());
                field(out, server_name.as_bytes());
                out.push(match direction {
                    Some(Direction::ClientToServer) | None => b'c',
                    Some(Direction::ServerToClient) => b's',
                });
                let at = out.len();
                rpc_id.write_key(out);
                at
            }
            PairKey::ProgressToken {
                client_id,
                server_id,
                server_name,
                token,
            } => {
                out.push(4);
                field(out, client_id.as_bytes());
                field(out, server_id.as_bytes());
                field(out, server_name.as_bytes());
                let at = out.len();
                token.write_key(out);
                at
            }
            PairKey::ReplyAddress { topic, correlation } => {
                out.push(5);
                field(out, topic.as_bytes());
                let at = out.len();
                match correlation {
                    Some(c) => {
                        out.push(1);
                        out.extend_from_slice(c);
                    }
                    None => out.push(0),
                }
                at
            }
            PairKey::RequestId { prefix, request_id } => {
                out.push(6);
                field(out, prefix.as_bytes());
                let at = out.len();
                out.extend_from_slice(request_id.as_bytes());
                at
            }
            PairKey::RpcId { rpc_id } => {
                out.push(7);
                let at = out.len();
                rpc_id.write_key(out);
                at
            }
        }
    }

    /// The correlation part for display: call id, task id, JSON-RPC id (JSON form),
    /// Correlation Data as text (hex when not UTF-8), request id.
    pub fn correlation_display(&self) -> String {
        match self {
            PairKey::CallId { call_id, .. } => call_id.to_string(),
            PairKey::TaskId { task_id, .. } => task_id.to_string(),
            PairKey::Session { rpc_id, .. } => rpc_id.to_string(),
            PairKey::ProgressToken { token, .. } => token.to_string(),
            PairKey::ReplyAddress { correlation, .. } => match correlation {
                Some(c) => bytes_display(c),
                None => String::new(),
            },
            PairKey::RequestId { request_id, .. } => request_id.to_string(),
            PairKey::RpcId { rpc_id } => rpc_id.to_string(),
        }
    }

    pub fn with_direction(&self, direction: Direction) -> Self {
        let mut key = self.clone();
        if let PairKey::Session { direction: d, .. } = &mut key {
            *d = Some(direction);
        }
        key
    }
}

/// Correlation Data for display: the text when it is printable UTF-8, else lowercase hex.
pub fn bytes_display(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_owned(),
        _ => {
            let mut out = String::with_capacity(bytes.len() * 2);
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// `None` when the wire carries nothing to pair on (the request can only time out).
    pub key: Option<PairKey<'a>>,
    pub caller: Option<Cow<'a, str>>,
    pub caller_kind: ParticipantKind,
    pub callee: Cow<'a, str>,
    pub callee_kind: Option<ParticipantKind>,
    pub operation: Cow<'a, str>,
    /// A2A Task.id (groups retries and continuations).
    pub task_id: Option<Cow<'a, str>>,
    /// EMQX-MCP `params._meta.progressToken`.
    pub progress_token: Option<JsonRpcId<'a>>,
    /// The caller asked for a stream (A2A `SendStreamingMessage`, `SubscribeToTask`).
    pub streaming: bool,
    /// The JSON-RPC id, for dialects that pair on something else but should agree on it.
    pub rpc_id: Option<JsonRpcId<'a>>,
    /// Sender clock, epoch milliseconds (OpenMAS `timestamp`): an annotation, never a latency source.
    pub sent_at_millis: Option<i64>,
}

impl<'a> Request<'a> {
    pub fn new(
        key: Option<PairKey<'a>>,
        callee: impl Into<Cow<'a, str>>,
        operation: impl Into<Cow<'a, str>>,
    ) -> Self {
        Request {
            key,
            caller: None,
            caller_kind: ParticipantKind::Client,
            callee: callee.into(),
            callee_kind: None,
            operation: operation.into(),
            task_id: None,
            progress_token: None,
            streaming: false,
            rpc_id: None,
            sent_at_millis: None,
        }
    }
}

/// Whether a reply ends its exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finality {
    Final,
    Partial,
    /// A2A `task` result in a non-terminal state: final for `SendMessage`, a stream item for
    /// streaming requests (the model knows which).
    FinalUnlessStreaming,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorInfo<'a> {
    /// Short machine class: `tool_error`, `method_not_found`, `transport_protocol_error`, `failed`, ...
    pub class: Cow<'a, str>,
    pub code: Option<Cow<'a, str>>,
    pub message: Option<Cow<'a, str>>,
}

impl<'a> ErrorInfo<'a> {
    pub fn new(class: impl Into<Cow<'a, str>>) -> Self {
        ErrorInfo {
            class: class.into(),
            code: None,
            message: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyOutcome<'a> {
    Ok,
    Error(ErrorInfo<'a>),
}

/// A tool listed by an EMQX-MCP `tools/list` result (owned: rare, and kept by the model).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveredTool {
    pub name: Box<str>,
    /// The tool's JSON object from the list.
    pub card: Arc<[u8]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply<'a> {
    pub key: Option<PairKey<'a>>,
    /// Tried when `key` finds nothing (Correlation Data text for MQTT.Agent, the JSON-RPC id
    /// an EMQX-A2A error reply carries instead of the Correlation Data, ...).
    pub fallback_key: Option<PairKey<'a>>,
    pub finality: Finality,
    pub outcome: ReplyOutcome<'a>,
    /// What kind of item: `result`, `error`, `partial`, `submitted`, `working`, `artifact`, ...
    pub label: &'static str,
    /// MQTT.Agent stream `seq` (the SDK writes `Date.now()`: sort by it, do not expect 1, 2, 3).
    pub stream_seq: Option<u64>,
    /// The responder's own figure (`elapsed_ms`), in microseconds.
    pub server_elapsed_micros: Option<u64>,
    pub responder: Option<Cow<'a, str>>,
    pub task_id: Option<Cow<'a, str>>,
    pub rpc_id: Option<JsonRpcId<'a>>,
    /// EMQX-MCP: a result with `protocolVersion` and `serverInfo` (an initialize result).
    pub initialize_result: bool,
    /// EMQX-MCP `tools/list` result.
    pub tools: Vec<DiscoveredTool>,
    pub sent_at_millis: Option<i64>,
}

impl<'a> Reply<'a> {
    pub fn new(
        key: Option<PairKey<'a>>,
        finality: Finality,
        outcome: ReplyOutcome<'a>,
        label: &'static str,
    ) -> Self {
        Reply {
            key,
            fallback_key: None,
            finality,
            outcome,
            label,
            stream_seq: None,
            server_elapsed_micros: None,
            responder: None,
            task_id: None,
            rpc_id: None,
            initialize_result: false,
            tools: Vec::new(),
            sent_at_millis: None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.outcome, ReplyOutcome::Error(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Progress<'a> {
    pub key: PairKey<'a>,
    pub progress: Option<f64>,
    pub total: Option<f64>,
    pub message: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cancel<'a> {
    /// The cancelled request's key (direction = the canceller's, who sent the request).
    pub key: PairKey<'a>,
    pub reason: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification<'a> {
    pub operation: Cow<'a, str>,
    pub sender: Option<Cow<'a, str>>,
    pub sender_kind: ParticipantKind,
    pub target: Option<Cow<'a, str>>,
}
