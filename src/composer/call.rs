//! One call by hand, in its dialect: the request builders and the state machine that follows the replies (partials, result, error, timeout, cancel).
//!
//! A [`PendingCall`] is fed messages and time by its driver and answers with [`Step`]s to
//! carry out. Per dialect (PROTOCOLS.md):
//! - MQTT.Agent MCP (§1.2.6-1.2.8): inbox `{ns}/mcp/clients/{me}/responses` and the call's
//!   stream topic subscribed, then the call with Response Topic + Correlation Data (= call id);
//!   optionally the retained tool card is read first (schema check, streaming flag).
//! - MQTT.Agent A2A (§1.3): a task on `{ns}/tasks/{agent}/inbox`, answered on the per-task
//!   `{ns}/tasks/{task_id}/result` topic.
//! - EMQX MCP (§2.6, §2.15): an instance found by presence, `initialize` on its control topic,
//!   `notifications/initialized`, `tools/list` (pages followed), then `tools/call` with a
//!   progress token; Cancel sends `notifications/cancelled`; the end sends
//!   `notifications/disconnected` (de-initialize).
//! - EMQX A2A (§3.7, §3.14): `SendMessage` with a fresh Task.id to the agent's request topic,
//!   replies streamed to our own reply topic until a stream-final status.
//! - Plain MQTT 5 (§5) and anything else (OpenMAS): any topic and payload, replies on the given
//!   Response Topic matched by Correlation Data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::protocol::{Dialect, Properties, RawMessage};

use super::ids::{IdSource, iso_utc_millis};
use super::schema::{Checker, describe_errors};
use super::{Outbound, Step};

/// MQTT.Agent's default namespace (shared by its MCP and A2A profiles).
pub const DEFAULT_NAMESPACE: &str = "a2a/v1";
/// How long to wait for a reply (or the next partial) unless told otherwise.
pub const DEFAULT_TIMEOUT_MILLIS: u64 = 30_000;
/// How long a call that looks its tool card up first waits for the retained card.
pub const CARD_WAIT_MILLIS: u64 = 1_500;
/// The MCP protocol version Meshscope asks for.
pub const MCP_PROTOCOL_VERSION: &str = "2025-03-26";
/// `tools/list` pages followed at most (a server handing out cursors forever is cut off).
const MAX_LIST_PAGES: u32 = 20;
/// Partials kept per call (the count goes on beyond).
const MAX_PARTIALS_KEPT: usize = 1_000;
/// How long a driver keeps listening after a streamed call's result for partials the broker
/// delivered behind it (QoS 0 stream items and the QoS 1 result travel on different topics,
/// and brokers do not order across topics).
pub const LATE_PARTIALS_GRACE_MILLIS: u64 = 150;

/// What to do on an EMQX MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum McpOperation {
    ListTools,
    CallTool { tool: String },
}

/// Who to call, in which dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallTarget {
    /// An MQTT.Agent MCP tool.
    MqttAgentTool { namespace: String, tool: String },
    /// An MQTT.Agent A2A agent (synchronous request).
    MqttAgentAgent { namespace: String, agent: String },
    /// An EMQX MCP server (`server_id`: a chosen instance; `None`: the first online one).
    EmqxMcp {
        server_name: String,
        server_id: Option<String>,
        operation: McpOperation,
    },
    /// An EMQX A2A agent (`agent` may be `pool/{pool}` for a pooled request).
    EmqxA2a {
        org: String,
        unit: String,
        agent: String,
    },
    /// Any topic; replies expected on `response_topic` (empty: publish only) and matched by
    /// `correlation` (empty: none sent, first reply wins).
    Mqtt5 {
        topic: String,
        response_topic: String,
        correlation: String,
    },
}

impl CallTarget {
    pub fn dialect(&self) -> Dialect {
        match self {
            CallTarget::MqttAgentTool { .. } => Dialect::MqttAgentMcp,
            CallTarget::MqttAgentAgent { .. } => Dialect::MqttAgentA2a,
            CallTarget::EmqxMcp { .. } => Dialect::EmqxMcp,
            CallTarget::EmqxA2a { .. } => Dialect::EmqxA2a,
            CallTarget::Mqtt5 { .. } => Dialect::Mqtt5Rpc,
        }
    }

    /// Short human name: the tool, agent or topic.
    pub fn label(&self) -> String {
        match self {
            CallTarget::MqttAgentTool { tool, .. } => tool.clone(),
            CallTarget::MqttAgentAgent { agent, .. } => agent.clone(),
            CallTarget::EmqxMcp {
                server_name,
                operation: McpOperation::CallTool { tool },
                ..
            } => {
                format!("{server_name}:{tool}")
            }
            CallTarget::EmqxMcp {
                server_name,
                operation: McpOperation::ListTools,
                ..
            } => {
                format!("{server_name} tools/list")
            }
            CallTarget::EmqxA2a { org, unit, agent } => format!("{org}/{unit}/{agent}"),
            CallTarget::Mqtt5 { topic, .. } => topic.clone(),
        }
    }

    /// Whether the call carries tool arguments (a JSON object) rather than a message text.
    pub fn takes_arguments(&self) -> bool {
        matches!(
            self,
            CallTarget::MqttAgentTool { .. }
                | CallTarget::EmqxMcp {
                    operation: McpOperation::CallTool { .. },
                    ..
                }
        )
    }
}

/// The MQTT side of a request the user may edit, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOptions {
    pub qos: u8,
    pub message_expiry_secs: Option<u32>,
    pub content_type: Option<String>,
    /// Added after the dialect's own user properties.
    pub user_properties: Vec<(String, String)>,
    /// Without any reply (or partial, or handshake step) for this long, the call times out.
    pub timeout_millis: u64,
    /// MQTT.Agent MCP: read the retained tool card before sending (schema, streaming flag).
    pub fetch_card: bool,
    /// Check the arguments against the tool's input schema before sending, when known.
    pub validate: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            qos: 1,
            message_expiry_secs: None,
            content_type: None,
            user_properties: Vec::new(),
            timeout_millis: DEFAULT_TIMEOUT_MILLIS,
            fetch_card: false,
            validate: true,
        }
    }
}

/// Everything that defines one call (kept in the history, re-run as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSpec {
    pub target: CallTarget,
    /// Tool arguments (an object); for A2A an optional data part; unused otherwise.
    pub arguments: Value,
    /// A2A message text; the payload of a plain MQTT 5 request.
    pub text: String,
    /// The tool's input schema when the caller knows it (catalogue); checked before sending.
    pub input_schema: Option<Value>,
    pub options: SendOptions,
}

impl CallSpec {
    pub fn new(target: CallTarget) -> Self {
        CallSpec {
            target,
            arguments: Value::Object(Map::new()),
            text: String::new(),
            input_schema: None,
            options: SendOptions::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallOutcome {
    Pending,
    Ok,
    Error,
    Timeout,
    Cancelled,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Pending => "pending",
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// Why a call failed: the dialect's own error type where it has one (`tool_error`,
/// `jsonrpc_error`, `failed`, `transport_protocol_error`...), or ours (`timeout`,
/// `invalid_arguments`, `unknown_tool`, `invalid_request`, `send_failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    pub error_type: String,
    pub message: String,
    pub code: Option<Value>,
}

impl CallError {
    fn new(error_type: &str, message: impl Into<String>) -> Self {
        CallError {
            error_type: error_type.to_owned(),
            message: message.into(),
            code: None,
        }
    }
}

/// One streamed partial as received.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialRecord {
    pub received_at_nanos: u64,
    /// `partial`, `progress`, `working`, `artifact`, `log`, ...
    pub label: String,
    /// The interesting part (stream content/data, progress params, status message, artifact).
    pub value: Value,
    /// Arrived after the final result (reordered by the broker across topics).
    pub after_result: bool,
}

/// The state of a call for display and for the CLI's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub dialect: Dialect,
    pub target: String,
    pub outcome: CallOutcome,
    pub result: Option<Value>,
    pub error: Option<CallError>,
    /// Final reply − request sent, on our receive clock.
    pub latency_micros: Option<u64>,
    pub partials_total: u64,
    pub partials: Vec<PartialRecord>,
    /// The responder's own figure (`elapsed_ms`), when the dialect carries it.
    pub server_elapsed_millis: Option<u64>,
    /// The correlation key shown for this call (call id, Correlation Data, JSON-RPC id...).
    pub correlation: String,
    pub request_topic: Option<String>,
    pub reply_topic: Option<String>,
    pub request_at_nanos: Option<u64>,
    pub finished_at_nanos: Option<u64>,
    /// What happened, in order (handshake steps, notes).
    pub transcript: Vec<String>,
}

impl CallReport {
    /// The CLI's JSON: result or error with its type, latency, partials.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("meshscope_call".into(), json!(1));
        out.insert("dialect".into(), json!(self.dialect.as_str()));
        out.insert("target".into(), json!(self.target));
        out.insert("outcome".into(), json!(self.outcome.as_str()));
        if let Some(result) = &self.result {
            out.insert("result".into(), result.clone());
        }
        if let Some(error) = &self.error {
            let mut e = Map::new();
            e.insert("type".into(), json!(error.error_type));
            e.insert("message".into(), json!(error.message));
            if let Some(code) = &error.code {
                e.insert("code".into(), code.clone());
            }
            out.insert("error".into(), Value::Object(e));
        }
        out.insert("latency_micros".into(), json!(self.latency_micros));
        out.insert(
            "latency_ms".into(),
            json!(self.latency_micros.map(|micros| micros as f64 / 1000.0)),
        );
        if let Some(elapsed) = self.server_elapsed_millis {
            out.insert("server_elapsed_ms".into(), json!(elapsed));
        }
        out.insert("partials".into(), json!(self.partials_total));
        let late = self.partials.iter().filter(|p| p.after_result).count();
        if late > 0 {
            out.insert("partials_after_result".into(), json!(late));
        }
        let request_at = self.request_at_nanos;
        let items: Vec<Value> = self
            .partials
            .iter()
            .map(|p| {
                json!({
                    "label": p.label,
                    "after_result": p.after_result,
                    "offset_micros": request_at.map(|at| p.received_at_nanos.saturating_sub(at) / 1_000),
                    "value": p.value,
                })
            })
            .collect();
        out.insert("partial_items".into(), Value::Array(items));
        out.insert("correlation".into(), json!(self.correlation));
        out.insert("request_topic".into(), json!(self.request_topic));
        out.insert("reply_topic".into(), json!(self.reply_topic));
        out.insert("transcript".into(), json!(self.transcript));
        Value::Object(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// MQTT.Agent MCP: waiting for the retained tool card until `deadline_nanos`.
    FetchingCard {
        deadline_nanos: u64,
    },
    /// EMQX MCP: waiting for an online instance's presence.
    Discovering,
    /// EMQX MCP handshake steps, by the JSON-RPC id they wait for.
    Initializing,
    Listing,
    /// The request is out; replies and partials count.
    Waiting,
    Done,
}

/// EMQX MCP session state.
#[derive(Debug, Clone, Default)]
struct McpState {
    server_id: Option<String>,
    next_rpc_id: u64,
    init_id: u64,
    list_id: u64,
    call_id: Option<u64>,
    pages: u32,
    tools: Vec<Value>,
    progress_token: String,
    server_info: Option<Value>,
}

/// EMQX A2A reply stream accumulation.
#[derive(Debug, Clone, Default)]
struct A2aState {
    task_id: String,
    context_id: String,
    artifacts: Vec<Value>,
    text: String,
}

/// A call in flight (or finished): feed it messages and time, carry out the steps it returns.
#[derive(Debug)]
pub struct PendingCall {
    spec: CallSpec,
    me: String,
    ids: IdSource,
    phase: Phase,
    outcome: CallOutcome,
    result: Option<Value>,
    error: Option<CallError>,
    started_at_nanos: u64,
    request_at_nanos: Option<u64>,
    finished_at_nanos: Option<u64>,
    /// The idle timeout runs from here (start, then every reply or partial).
    last_activity_nanos: u64,
    partials: Vec<PartialRecord>,
    partials_total: u64,
    server_elapsed_millis: Option<u64>,
    /// Correlation key for display, and the bytes replies must echo.
    correlation: String,
    correlation_bytes: Vec<u8>,
    request_topic: Option<String>,
    reply_topic: Option<String>,
    stream_topic: Option<String>,
    card_topic: Option<String>,
    /// Filters this call subscribed for itself (given back when it ends).
    own_filters: Vec<String>,
    mcp: McpState,
    a2a: A2aState,
    transcript: Vec<String>,
    cleanup_taken: bool,
}

impl PendingCall {
    /// Starts a call as `me` (the session's client id). A spec that cannot be sent finishes at
    /// once with an `invalid_request` (or `invalid_arguments`) error and no steps.
    pub fn start(spec: CallSpec, me: &str, seed: u64, now_nanos: u64) -> (PendingCall, Vec<Step>) {
        let mut call = PendingCall {
            spec,
            me: me.to_owned(),
            ids: IdSource::new(seed),
            phase: Phase::Done,
            outcome: CallOutcome::Pending,
            result: None,
            error: None,
            started_at_nanos: now_nanos,
            request_at_nanos: None,
            finished_at_nanos: None,
            last_activity_nanos: now_nanos,
            partials: Vec::new(),
            partials_total: 0,
            server_elapsed_millis: None,
            correlation: String::new(),
            correlation_bytes: Vec::new(),
            request_topic: None,
            reply_topic: None,
            stream_topic: None,
            card_topic: None,
            own_filters: Vec::new(),
            mcp: McpState::default(),
            a2a: A2aState::default(),
            transcript: Vec::new(),
            cleanup_taken: false,
        };
        let steps = match call.begin(now_nanos) {
            Ok(steps) => steps,
            Err(error) => {
                call.finish(CallOutcome::Error, None, Some(error), now_nanos);
                Vec::new()
            }
        };
        (call, steps)
    }

    pub fn spec(&self) -> &CallSpec {
        &self.spec
    }

    pub fn outcome(&self) -> CallOutcome {
        self.outcome
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn started_at_nanos(&self) -> u64 {
        self.started_at_nanos
    }

    /// When the driver must call [`PendingCall::on_tick`] at the latest (`None` once done).
    pub fn next_deadline_nanos(&self) -> Option<u64> {
        let idle = self
            .last_activity_nanos
            .saturating_add(self.spec.options.timeout_millis.saturating_mul(1_000_000));
        match self.phase {
            Phase::Done => None,
            Phase::FetchingCard { deadline_nanos } => Some(deadline_nanos.min(idle)),
            _ => Some(idle),
        }
    }

    pub fn report(&self) -> CallReport {
        CallReport {
            dialect: self.spec.target.dialect(),
            target: self.spec.target.label(),
            outcome: self.outcome,
            result: self.result.clone(),
            error: self.error.clone(),
            latency_micros: match (self.outcome, self.request_at_nanos, self.finished_at_nanos) {
                (CallOutcome::Ok | CallOutcome::Error, Some(sent), Some(done)) => {
                    Some(done.saturating_sub(sent) / 1_000)
                }
                _ => None,
            },
            partials_total: self.partials_total,
            partials: self.partials.clone(),
            server_elapsed_millis: self.server_elapsed_millis,
            correlation: self.correlation.clone(),
            request_topic: self.request_topic.clone(),
            reply_topic: self.reply_topic.clone(),
            request_at_nanos: self.request_at_nanos,
            finished_at_nanos: self.finished_at_nanos,
            transcript: self.transcript.clone(),
        }
    }

    /// A message the driver received (any topic; what is not for this call is ignored).
    /// `now_nanos` is when the returned steps will go out.
    pub fn on_message(&mut self, raw: &RawMessage, now_nanos: u64) -> Vec<Step> {
        let Some(topic) = raw.topic_str() else {
            return Vec::new();
        };
        if self.phase == Phase::Done {
            // The stream topic is this call's alone: what arrives there late is still its own.
            if self.stream_topic.as_deref() == Some(topic)
                && matches!(self.outcome, CallOutcome::Ok | CallOutcome::Error)
            {
                self.push_stream_partial(raw);
            }
            return Vec::new();
        }
        let topic = topic.to_owned();
        match self.spec.target.clone() {
            CallTarget::MqttAgentTool { .. } => self.on_mqtt_agent_tool(&topic, raw, now_nanos),
            CallTarget::MqttAgentAgent { .. } => {
                self.on_mqtt_agent_task(&topic, raw);
                Vec::new()
            }
            CallTarget::EmqxMcp {
                server_name,
                operation,
                ..
            } => self.on_emqx_mcp(&topic, raw, &server_name, &operation, now_nanos),
            CallTarget::EmqxA2a { .. } => {
                self.on_emqx_a2a(&topic, raw);
                Vec::new()
            }
            CallTarget::Mqtt5 { .. } => {
                self.on_mqtt5(&topic, raw);
                Vec::new()
            }
        }
    }

    /// Time passed: a card wait that ran out sends the call; an idle call times out.
    pub fn on_tick(&mut self, now_nanos: u64) -> Vec<Step> {
        if let Phase::FetchingCard { deadline_nanos } = self.phase
            && now_nanos >= deadline_nanos
        {
            self.note("no retained tool card (is anybody serving this tool?); sending without it");
            if let Some(card_topic) = self.card_topic.take() {
                self.own_filters.retain(|f| *f != card_topic);
                let mut steps = vec![Step::Unsubscribe { filter: card_topic }];
                steps.extend(self.send_mqtt_agent_call(None, now_nanos));
                return steps;
            }
        }
        let Some(deadline) = self.next_deadline_nanos() else {
            return Vec::new();
        };
        if now_nanos < deadline {
            return Vec::new();
        }
        let secs = self.spec.options.timeout_millis as f64 / 1000.0;
        let waiting_for = match self.phase {
            Phase::Discovering => {
                if let CallTarget::EmqxMcp { server_name, .. } = &self.spec.target {
                    format!(" (no online instance of EMQX MCP server {server_name})")
                } else {
                    String::new()
                }
            }
            Phase::Initializing => " (the server did not answer initialize)".to_owned(),
            Phase::Listing => " (the server did not answer tools/list)".to_owned(),
            _ if self.partials_total > 0 => format!(" after {} partial(s)", self.partials_total),
            _ => String::new(),
        };
        let message = format!("no response within {} s{waiting_for}", trim_float(secs));
        let mut steps = self.cancel_notification("timeout");
        self.finish(
            CallOutcome::Timeout,
            None,
            Some(CallError::new("timeout", message)),
            now_nanos,
        );
        steps.extend(self.take_cleanup());
        steps
    }

    /// Stop waiting; for EMQX MCP also tell the server (`notifications/cancelled`).
    pub fn cancel(&mut self, now_nanos: u64) -> Vec<Step> {
        if self.phase == Phase::Done {
            return Vec::new();
        }
        let mut steps = self.cancel_notification("cancelled by the user in Meshscope");
        self.note("cancelled");
        self.finish(CallOutcome::Cancelled, None, None, now_nanos);
        steps.extend(self.take_cleanup());
        steps
    }

    /// The driver could not carry a step out (not connected, queue full...): the call fails.
    pub fn fail_send(&mut self, reason: &str, now_nanos: u64) -> Vec<Step> {
        if self.phase == Phase::Done {
            return Vec::new();
        }
        self.finish(
            CallOutcome::Error,
            None,
            Some(CallError::new("send_failed", reason)),
            now_nanos,
        );
        self.take_cleanup()
    }

    /// Once done: the per-call subscriptions to drop and, for EMQX MCP, the de-initialize
    /// notification. Returned once; empty afterwards (and while the call runs).
    pub fn take_cleanup(&mut self) -> Vec<Step> {
        if self.phase != Phase::Done || self.cleanup_taken {
            return Vec::new();
        }
        self.cleanup_taken = true;
        let mut steps = Vec::new();
        if let (CallTarget::EmqxMcp { server_name, .. }, Some(sid)) =
            (&self.spec.target, &self.mcp.server_id)
            && self.mcp.init_id != 0
        {
            let topic = rpc_topic(&self.me, sid, server_name);
            steps.push(Step::Publish(self.mcp_publish(
                &topic,
                &json!({"jsonrpc": "2.0", "method": "notifications/disconnected"}),
            )));
        }
        for filter in std::mem::take(&mut self.own_filters) {
            steps.push(Step::Unsubscribe { filter });
        }
        steps
    }

    // -----------------------------------------------------------------------------------------
    // start

    fn begin(&mut self, now: u64) -> Result<Vec<Step>, CallError> {
        if self.spec.options.qos > 2 {
            return Err(CallError::new(
                "invalid_request",
                format!("QoS {} does not exist", self.spec.options.qos),
            ));
        }
        if self.spec.options.timeout_millis == 0 {
            return Err(CallError::new(
                "invalid_request",
                "the timeout must be positive",
            ));
        }
        if self.spec.target.takes_arguments() && !self.spec.arguments.is_object() {
            return Err(CallError::new(
                "invalid_arguments",
                "tool arguments must be a JSON object",
            ));
        }
        if self.spec.options.validate
            && let Some(schema) = self.spec.input_schema.clone()
        {
            self.check_arguments(&schema)?;
        }
        match self.spec.target.clone() {
            CallTarget::MqttAgentTool { namespace, tool } => {
                let ns = normalize_namespace(&namespace);
                check_level(&tool, "tool name")?;
                let me = topic_safe(&self.me);
                let inbox = format!("{ns}/mcp/clients/{me}/responses");
                let call_id = self.ids.call_id(now);
                self.correlation = call_id.clone();
                self.correlation_bytes = call_id.clone().into_bytes();
                self.reply_topic = Some(inbox.clone());
                self.request_topic = Some(format!("{ns}/mcp/tools/{tool}/call"));
                // The inbox is shared by every call of this client: never unsubscribed per call.
                let mut steps = vec![Step::Subscribe {
                    filter: inbox,
                    qos: 1,
                }];
                if self.spec.options.fetch_card && self.spec.input_schema.is_none() {
                    let card_topic = format!("{ns}/mcp/tools/{tool}/card");
                    self.card_topic = Some(card_topic.clone());
                    self.own_filters.push(card_topic.clone());
                    steps.push(Step::Subscribe {
                        filter: card_topic,
                        qos: 1,
                    });
                    let wait = CARD_WAIT_MILLIS.min(self.spec.options.timeout_millis);
                    self.phase = Phase::FetchingCard {
                        deadline_nanos: now.saturating_add(wait * 1_000_000),
                    };
                    self.note(&format!("looking up the retained tool card of {tool}"));
                    return Ok(steps);
                }
                steps.extend(self.send_mqtt_agent_call(Some(true), now));
                Ok(steps)
            }
            CallTarget::MqttAgentAgent { namespace, agent } => {
                let ns = normalize_namespace(&namespace);
                check_level(&agent, "agent id")?;
                let task_id = self.ids.uuid4();
                let result_topic = format!("{ns}/tasks/{task_id}/result");
                let inbox = format!("{ns}/tasks/{agent}/inbox");
                self.correlation = task_id.clone();
                self.correlation_bytes = task_id.clone().into_bytes();
                self.reply_topic = Some(result_topic.clone());
                self.request_topic = Some(inbox.clone());
                self.a2a.task_id = task_id.clone();
                let text = self.spec.text.clone();
                let title: String = text.chars().take(60).collect();
                let mut payload = json!({
                    "task_id": task_id,
                    "from": self.me,
                    "to": agent,
                    "type": "task",
                    "title": title,
                    "messages": [{"role": "user", "content": text}],
                    "created_at": iso_utc_millis(now),
                    "reply_to": result_topic,
                });
                self.attach_data(&mut payload, "/data");
                let out = self.request_outbound(inbox, &payload, Some(result_topic.clone()));
                self.own_filters.push(result_topic.clone());
                self.mark_sent(now);
                Ok(vec![
                    Step::Subscribe {
                        filter: result_topic,
                        qos: 1,
                    },
                    Step::Publish(out),
                ])
            }
            CallTarget::EmqxMcp {
                server_name,
                server_id,
                ..
            } => {
                if server_name.is_empty()
                    || server_name.contains(['+', '#'])
                    || server_name.starts_with('/')
                {
                    return Err(CallError::new(
                        "invalid_request",
                        format!("{server_name:?} is not an EMQX MCP server name"),
                    ));
                }
                self.mcp.next_rpc_id = 1 + (self.ids.next_u64() % 100_000) * 10;
                self.mcp.progress_token = format!("meshscope-{}", self.ids.hex(8));
                match server_id {
                    Some(sid) => {
                        check_level(&sid, "server id")?;
                        Ok(self.mcp_initialize(&sid, &server_name, now))
                    }
                    None => {
                        let filter = format!("$mcp-server/presence/+/{server_name}");
                        self.own_filters.push(filter.clone());
                        self.phase = Phase::Discovering;
                        self.note(&format!("looking for an online instance of {server_name}"));
                        Ok(vec![Step::Subscribe { filter, qos: 1 }])
                    }
                }
            }
            CallTarget::EmqxA2a { org, unit, agent } => {
                check_a2a_id(&org, "org id")?;
                check_a2a_id(&unit, "unit id")?;
                match agent.split_once('/') {
                    Some(("pool", pool)) => check_a2a_id(pool, "pool id")?,
                    _ => check_a2a_id(&agent, "agent id")?,
                }
                let me = topic_safe(&self.me);
                let reply_topic = format!("$a2a/v1/reply/{org}/{unit}/{me}/{}", self.ids.hex(12));
                let request_topic = format!("$a2a/v1/request/{org}/{unit}/{agent}");
                let correlation = self.ids.hex(16);
                let task_id = self.ids.uuid4();
                let context_id = self.ids.uuid4();
                self.correlation = correlation.clone();
                self.correlation_bytes = correlation.into_bytes();
                self.reply_topic = Some(reply_topic.clone());
                self.request_topic = Some(request_topic.clone());
                self.a2a.task_id = task_id.clone();
                self.a2a.context_id = context_id.clone();
                let mut parts = vec![json!({"text": self.spec.text})];
                if self
                    .spec
                    .arguments
                    .as_object()
                    .is_some_and(|o| !o.is_empty())
                {
                    parts.push(json!({"data": self.spec.arguments}));
                }
                let payload = json!({
                    "jsonrpc": "2.0",
                    "id": format!("meshscope-{}", self.ids.hex(8)),
                    "method": "SendMessage",
                    "params": {
                        "message": {
                            "messageId": self.ids.hex(32),
                            "role": "ROLE_USER",
                            "parts": parts,
                            "taskId": task_id,
                            "contextId": context_id,
                        },
                        "metadata": {"sender": self.me},
                    },
                });
                let out = self.request_outbound(request_topic, &payload, Some(reply_topic.clone()));
                self.own_filters.push(reply_topic.clone());
                self.mark_sent(now);
                Ok(vec![
                    Step::Subscribe {
                        filter: reply_topic,
                        qos: 1,
                    },
                    Step::Publish(out),
                ])
            }
            CallTarget::Mqtt5 {
                topic,
                response_topic,
                correlation,
            } => {
                if topic.is_empty() || topic.contains(['+', '#']) {
                    return Err(CallError::new(
                        "invalid_request",
                        "the request topic must be a topic name (no wildcards)",
                    ));
                }
                let mut properties = self.base_properties();
                let mut steps = Vec::new();
                if !response_topic.is_empty() {
                    if response_topic.contains(['+', '#']) {
                        return Err(CallError::new(
                            "invalid_request",
                            "the response topic must be a topic name (no wildcards)",
                        ));
                    }
                    properties.response_topic = Some(response_topic.clone());
                    self.reply_topic = Some(response_topic.clone());
                    self.own_filters.push(response_topic.clone());
                    steps.push(Step::Subscribe {
                        filter: response_topic.clone(),
                        qos: 1,
                    });
                }
                if !correlation.is_empty() {
                    properties.correlation_data = Some(correlation.clone().into_bytes());
                    self.correlation_bytes = correlation.clone().into_bytes();
                    self.correlation = correlation;
                }
                self.request_topic = Some(topic.clone());
                let out = Outbound {
                    topic,
                    payload: self.spec.text.clone().into_bytes(),
                    qos: self.spec.options.qos,
                    retain: false,
                    properties,
                };
                steps.push(Step::Publish(out));
                self.mark_sent(now);
                if response_topic.is_empty() {
                    self.note("published; no response topic, nothing to wait for");
                    self.finish(CallOutcome::Ok, Some(json!({"published": true})), None, now);
                    steps.extend(self.take_cleanup());
                }
                Ok(steps)
            }
        }
    }

    fn check_arguments(&mut self, schema: &Value) -> Result<(), CallError> {
        let checker = Checker::new(schema);
        if let Some(problem) = checker.schema_problem() {
            self.note(problem);
            return Ok(());
        }
        let errors = checker.check(&self.spec.arguments);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CallError::new(
                "invalid_arguments",
                describe_errors(&errors),
            ))
        }
    }

    /// Properties every request carries: what the user set in the form.
    fn base_properties(&self) -> Properties {
        let options = &self.spec.options;
        Properties {
            message_expiry_interval_secs: options.message_expiry_secs,
            content_type: options.content_type.clone().filter(|c| !c.is_empty()),
            user_properties: options.user_properties.clone(),
            ..Properties::default()
        }
    }

    fn request_outbound(
        &self,
        topic: String,
        payload: &Value,
        response_topic: Option<String>,
    ) -> Outbound {
        let mut properties = self.base_properties();
        properties.response_topic = response_topic;
        properties.correlation_data = Some(self.correlation_bytes.clone());
        Outbound {
            topic,
            payload: serde_json::to_vec(payload).unwrap_or_default(),
            qos: self.spec.options.qos,
            retain: false,
            properties,
        }
    }

    /// A2A requests carry the form's arguments as an extra data part when there are any.
    fn attach_data(&self, payload: &mut Value, pointer: &str) {
        if self
            .spec
            .arguments
            .as_object()
            .is_some_and(|o| !o.is_empty())
            && let Some(obj) = payload.as_object_mut()
        {
            obj.insert(
                pointer.trim_start_matches('/').to_owned(),
                self.spec.arguments.clone(),
            );
        }
    }

    fn mark_sent(&mut self, now: u64) {
        self.request_at_nanos = Some(now);
        self.last_activity_nanos = now;
        self.phase = Phase::Waiting;
    }

    /// MQTT.Agent MCP call: stream topic (when the tool may stream) and the call itself.
    fn send_mqtt_agent_call(&mut self, streaming: Option<bool>, now: u64) -> Vec<Step> {
        let CallTarget::MqttAgentTool { namespace, tool } = self.spec.target.clone() else {
            return Vec::new();
        };
        let ns = normalize_namespace(&namespace);
        let call_id = self.correlation.clone();
        let mut steps = Vec::new();
        // Subscribed just before the call, as the SDK does; unknown streaming counts as maybe.
        if streaming != Some(false) {
            let stream = format!("{ns}/mcp/tools/{tool}/stream/{call_id}");
            self.stream_topic = Some(stream.clone());
            self.own_filters.push(stream.clone());
            steps.push(Step::Subscribe {
                filter: stream,
                qos: 0,
            });
        }
        let inbox = self.reply_topic.clone().unwrap_or_default();
        let payload = json!({
            "call_id": call_id,
            "arguments": self.spec.arguments,
            "client": self.me,
            "timestamp": iso_utc_millis(now),
            "response_topic": inbox,
        });
        let topic = format!("{ns}/mcp/tools/{tool}/call");
        steps.push(Step::Publish(self.request_outbound(
            topic,
            &payload,
            Some(inbox),
        )));
        self.mark_sent(now);
        steps
    }

    // -----------------------------------------------------------------------------------------
    // replies per dialect

    fn on_mqtt_agent_tool(&mut self, topic: &str, raw: &RawMessage, now: u64) -> Vec<Step> {
        if self.card_topic.as_deref() == Some(topic)
            && matches!(self.phase, Phase::FetchingCard { .. })
        {
            if raw.payload.is_empty() {
                return Vec::new();
            }
            let card: Value = serde_json::from_slice(&raw.payload).unwrap_or(Value::Null);
            let card_topic = self.card_topic.take().unwrap_or_default();
            self.own_filters.retain(|f| *f != card_topic);
            let mut steps = vec![Step::Unsubscribe { filter: card_topic }];
            let status = card
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            self.note(&format!("tool card found (status {status})"));
            if self.spec.options.validate
                && let Some(schema) = card.get("input_schema").filter(|s| s.is_object())
                && let Err(error) = self.check_arguments(&schema.clone())
            {
                self.finish(CallOutcome::Error, None, Some(error), raw.received_at_nanos);
                steps.extend(self.take_cleanup());
                return steps;
            }
            let streaming = card.get("supports_streaming").and_then(Value::as_bool);
            steps.extend(self.send_mqtt_agent_call(streaming, now));
            return steps;
        }
        if self.phase != Phase::Waiting {
            return Vec::new();
        }
        if self.stream_topic.as_deref() == Some(topic) {
            self.push_stream_partial(raw);
            return Vec::new();
        }
        if self.reply_topic.as_deref() != Some(topic) {
            return Vec::new();
        }
        let Ok(body) = serde_json::from_slice::<Value>(&raw.payload) else {
            return Vec::new();
        };
        let mine = match body.get("call_id").and_then(Value::as_str) {
            Some(call_id) => call_id == self.correlation,
            None => {
                raw.props().correlation_data.as_deref() == Some(self.correlation_bytes.as_slice())
            }
        };
        if !mine {
            return Vec::new();
        }
        self.server_elapsed_millis = body.get("elapsed_ms").and_then(Value::as_u64);
        let at = raw.received_at_nanos;
        match body.get("status").and_then(Value::as_str) {
            Some("ok") => {
                let result = body.get("result").cloned().unwrap_or(Value::Null);
                self.finish(CallOutcome::Ok, Some(result), None, at);
            }
            _ => {
                let error = body.get("error");
                let mut e = CallError::new(
                    error
                        .and_then(|e| e.get("type"))
                        .and_then(Value::as_str)
                        .unwrap_or("error"),
                    error
                        .and_then(|e| e.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("the tool reported an error"),
                );
                e.code = error.and_then(|e| e.get("code")).cloned();
                self.finish(CallOutcome::Error, None, Some(e), at);
            }
        }
        self.take_cleanup()
    }

    fn on_mqtt_agent_task(&mut self, topic: &str, raw: &RawMessage) {
        if self.reply_topic.as_deref() != Some(topic) {
            return;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&raw.payload) else {
            return;
        };
        let mine = match body.get("task_id").and_then(Value::as_str) {
            Some(task_id) => task_id == self.a2a.task_id,
            None => {
                raw.props().correlation_data.as_deref() == Some(self.correlation_bytes.as_slice())
            }
        };
        if !mine {
            return;
        }
        self.server_elapsed_millis = body.get("elapsed_ms").and_then(Value::as_u64);
        let at = raw.received_at_nanos;
        let status = body.get("status").and_then(Value::as_str).unwrap_or("");
        match status {
            "completed" | "ok" | "succeeded" => {
                let result = body.get("result").cloned().unwrap_or_else(|| body.clone());
                self.finish(CallOutcome::Ok, Some(result), None, at);
            }
            "failed" | "error" | "rejected" | "cancelled" | "canceled" => {
                let error = body.get("error");
                let e = CallError::new(
                    error
                        .and_then(|e| e.get("type"))
                        .and_then(Value::as_str)
                        .unwrap_or(status),
                    error
                        .and_then(|e| e.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("the task failed"),
                );
                self.finish(CallOutcome::Error, None, Some(e), at);
            }
            other => {
                let label = if other.is_empty() { "update" } else { other }.to_owned();
                self.push_partial(at, label, body);
            }
        }
    }

    fn on_emqx_mcp(
        &mut self,
        topic: &str,
        raw: &RawMessage,
        server_name: &str,
        operation: &McpOperation,
        now: u64,
    ) -> Vec<Step> {
        if self.phase == Phase::Discovering {
            let Some(rest) = topic.strip_prefix("$mcp-server/presence/") else {
                return Vec::new();
            };
            let Some((sid, name)) = rest.split_once('/') else {
                return Vec::new();
            };
            // An empty payload is an instance going offline.
            if name != server_name || raw.payload.is_empty() || sid.is_empty() {
                return Vec::new();
            }
            let sid = sid.to_owned();
            self.note(&format!("instance {sid} is online"));
            let filter = format!("$mcp-server/presence/+/{server_name}");
            self.own_filters.retain(|f| *f != filter);
            let mut steps = vec![Step::Unsubscribe { filter }];
            steps.extend(self.mcp_initialize(&sid, server_name, now));
            return steps;
        }
        let Some(sid) = self.mcp.server_id.clone() else {
            return Vec::new();
        };
        if topic != rpc_topic(&self.me, &sid, server_name) {
            return Vec::new();
        }
        // Our own publishes come back to an observing session: skip them.
        if raw.props().user_property("MCP-MQTT-CLIENT-ID") == Some(self.me.as_str())
            || raw.props().user_property("MCP-COMPONENT-TYPE") == Some("mcp-client")
        {
            return Vec::new();
        }
        let Ok(body) = serde_json::from_slice::<Value>(&raw.payload) else {
            return Vec::new();
        };
        let messages = match body {
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut steps = Vec::new();
        for message in messages {
            steps.extend(self.on_mcp_message(
                &message,
                raw.received_at_nanos,
                &sid,
                server_name,
                operation,
                now,
            ));
            if self.phase == Phase::Done {
                break;
            }
        }
        steps
    }

    fn on_mcp_message(
        &mut self,
        message: &Value,
        at: u64,
        sid: &str,
        server_name: &str,
        operation: &McpOperation,
        now: u64,
    ) -> Vec<Step> {
        let topic = rpc_topic(&self.me, sid, server_name);
        if let Some(method) = message.get("method").and_then(Value::as_str) {
            match (method, message.get("id")) {
                ("ping", Some(id)) => {
                    return vec![Step::Publish(self.mcp_publish(
                        &topic,
                        &json!({"jsonrpc": "2.0", "id": id, "result": {}}),
                    ))];
                }
                (_, Some(id)) => {
                    // Sampling, roots, elicitation: Meshscope offers none of them.
                    return vec![Step::Publish(self.mcp_publish(
                        &topic,
                        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
                    ))];
                }
                ("notifications/progress", None) => {
                    let params = message.get("params").cloned().unwrap_or(Value::Null);
                    let token = params.get("progressToken");
                    if token.and_then(Value::as_str) == Some(self.mcp.progress_token.as_str()) {
                        self.push_partial(at, "progress".to_owned(), params);
                    }
                }
                ("notifications/message", None) if self.phase == Phase::Waiting => {
                    let params = message.get("params").cloned().unwrap_or(Value::Null);
                    self.push_partial(at, "log".to_owned(), params);
                }
                ("notifications/disconnected", None) => {
                    self.mcp.init_id = 0;
                    self.finish(
                        CallOutcome::Error,
                        None,
                        Some(CallError::new(
                            "disconnected",
                            "the server ended the session",
                        )),
                        at,
                    );
                    return self.take_cleanup();
                }
                _ => {}
            }
            return Vec::new();
        }
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            return Vec::new();
        };
        self.last_activity_nanos = now.max(at);
        if id == self.mcp.init_id && self.phase == Phase::Initializing {
            if let Some(error) = jsonrpc_error(message) {
                self.finish(CallOutcome::Error, None, Some(error), at);
                return self.take_cleanup();
            }
            let result = message.get("result").cloned().unwrap_or(Value::Null);
            let version = result
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            self.note(&format!("initialized (protocol {version})"));
            self.mcp.server_info = result.get("serverInfo").cloned();
            let mut steps = vec![Step::Publish(self.mcp_publish(
                &topic,
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            ))];
            steps.push(self.mcp_list(&topic, None));
            self.phase = Phase::Listing;
            return steps;
        }
        if id == self.mcp.list_id && self.phase == Phase::Listing {
            if let Some(error) = jsonrpc_error(message) {
                self.finish(CallOutcome::Error, None, Some(error), at);
                return self.take_cleanup();
            }
            let result = message.get("result").cloned().unwrap_or(Value::Null);
            if let Some(tools) = result.get("tools").and_then(Value::as_array) {
                self.mcp.tools.extend(tools.iter().cloned());
            }
            self.mcp.pages += 1;
            if let Some(cursor) = result.get("nextCursor").and_then(Value::as_str)
                && !cursor.is_empty()
                && self.mcp.pages < MAX_LIST_PAGES
            {
                return vec![self.mcp_list(&topic, Some(cursor.to_owned()))];
            }
            self.note(&format!("tools/list: {} tool(s)", self.mcp.tools.len()));
            return match operation {
                McpOperation::ListTools => {
                    self.request_at_nanos = Some(self.started_at_nanos);
                    let result =
                        json!({"tools": self.mcp.tools, "serverInfo": self.mcp.server_info});
                    self.finish(CallOutcome::Ok, Some(result), None, at);
                    self.take_cleanup()
                }
                McpOperation::CallTool { tool } => self.mcp_call(&topic, tool, at, now),
            };
        }
        if Some(id) == self.mcp.call_id && self.phase == Phase::Waiting {
            if let Some(error) = jsonrpc_error(message) {
                self.finish(CallOutcome::Error, None, Some(error), at);
                return self.take_cleanup();
            }
            let result = message.get("result").cloned().unwrap_or(Value::Null);
            if result.get("isError").and_then(Value::as_bool) == Some(true) {
                let text = content_text(&result);
                let message = if text.is_empty() {
                    "the tool reported an error".to_owned()
                } else {
                    text
                };
                self.finish(
                    CallOutcome::Error,
                    Some(result),
                    Some(CallError::new("tool_error", message)),
                    at,
                );
            } else {
                self.finish(CallOutcome::Ok, Some(result), None, at);
            }
            return self.take_cleanup();
        }
        Vec::new()
    }

    fn mcp_initialize(&mut self, sid: &str, server_name: &str, now: u64) -> Vec<Step> {
        self.mcp.server_id = Some(sid.to_owned());
        let rpc = rpc_topic(&self.me, sid, server_name);
        let capability = format!("$mcp-server/capability/{sid}/{server_name}");
        self.own_filters.push(rpc.clone());
        self.own_filters.push(capability.clone());
        self.mcp.init_id = self.next_rpc_id();
        let control = format!("$mcp-server/{sid}/{server_name}");
        let initialize = json!({
            "jsonrpc": "2.0",
            "id": self.mcp.init_id,
            "method": "initialize",
            "params": {
                "protocolVersion": MCP_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "meshscope", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        self.request_topic = Some(rpc.clone());
        self.reply_topic = Some(rpc.clone());
        self.phase = Phase::Initializing;
        self.last_activity_nanos = now;
        vec![
            Step::Subscribe {
                filter: rpc,
                qos: 1,
            },
            Step::Subscribe {
                filter: capability,
                qos: 1,
            },
            Step::Publish(self.mcp_publish(&control, &initialize)),
        ]
    }

    fn mcp_list(&mut self, topic: &str, cursor: Option<String>) -> Step {
        self.mcp.list_id = self.next_rpc_id();
        let mut request = json!({"jsonrpc": "2.0", "id": self.mcp.list_id, "method": "tools/list"});
        if let Some(cursor) = cursor {
            request["params"] = json!({"cursor": cursor});
        }
        Step::Publish(self.mcp_publish(topic, &request))
    }

    fn mcp_call(&mut self, topic: &str, tool: &str, at: u64, now: u64) -> Vec<Step> {
        let listed = self
            .mcp
            .tools
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(tool))
            .cloned();
        let Some(listed) = listed else {
            let names: Vec<&str> = self
                .mcp
                .tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect();
            let server = match &self.spec.target {
                CallTarget::EmqxMcp { server_name, .. } => server_name.clone(),
                _ => String::new(),
            };
            let error = CallError::new(
                "unknown_tool",
                format!(
                    "{server} lists no tool {tool:?} (it lists: {})",
                    names.join(", ")
                ),
            );
            self.finish(CallOutcome::Error, None, Some(error), at);
            return self.take_cleanup();
        };
        if self.spec.options.validate
            && self.spec.input_schema.is_none()
            && let Some(schema) = listed.get("inputSchema").filter(|s| s.is_object())
            && let Err(error) = self.check_arguments(&schema.clone())
        {
            self.finish(CallOutcome::Error, None, Some(error), at);
            return self.take_cleanup();
        }
        let call_id = self.next_rpc_id();
        self.mcp.call_id = Some(call_id);
        self.correlation = call_id.to_string();
        let request = json!({
            "jsonrpc": "2.0",
            "id": call_id,
            "method": "tools/call",
            "params": {
                "name": tool,
                "arguments": self.spec.arguments,
                "_meta": {"progressToken": self.mcp.progress_token},
            },
        });
        let step = Step::Publish(self.mcp_publish(topic, &request));
        self.mark_sent(now);
        vec![step]
    }

    /// Every EMQX MCP publish names its sender (PROTOCOLS.md §2.4).
    fn mcp_publish(&self, topic: &str, message: &Value) -> Outbound {
        let mut properties = self.base_properties();
        let mut user = vec![
            ("MCP-COMPONENT-TYPE".to_owned(), "mcp-client".to_owned()),
            ("MCP-MQTT-CLIENT-ID".to_owned(), self.me.clone()),
        ];
        user.append(&mut properties.user_properties);
        properties.user_properties = user;
        Outbound {
            topic: topic.to_owned(),
            payload: serde_json::to_vec(message).unwrap_or_default(),
            qos: self.spec.options.qos,
            retain: false,
            properties,
        }
    }

    fn next_rpc_id(&mut self) -> u64 {
        let id = self.mcp.next_rpc_id;
        self.mcp.next_rpc_id += 1;
        id
    }

    fn cancel_notification(&mut self, reason: &str) -> Vec<Step> {
        let (CallTarget::EmqxMcp { server_name, .. }, Some(sid), Some(request_id)) =
            (&self.spec.target, &self.mcp.server_id, self.mcp.call_id)
        else {
            return Vec::new();
        };
        if self.phase != Phase::Waiting {
            return Vec::new();
        }
        let topic = rpc_topic(&self.me, sid, server_name);
        let notification = json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": reason},
        });
        self.note("sent notifications/cancelled");
        vec![Step::Publish(self.mcp_publish(&topic, &notification))]
    }

    fn on_emqx_a2a(&mut self, topic: &str, raw: &RawMessage) {
        if self.reply_topic.as_deref() != Some(topic) || self.phase != Phase::Waiting {
            return;
        }
        // Replies with another (or no) Correlation Data are not ours (PROTOCOLS.md §3.9).
        if raw.props().correlation_data.as_deref() != Some(self.correlation_bytes.as_slice()) {
            return;
        }
        let at = raw.received_at_nanos;
        let Ok(body) = serde_json::from_slice::<Value>(&raw.payload) else {
            self.push_partial(at, "undecodable".to_owned(), payload_value(&raw.payload));
            return;
        };
        if let Some(error) = body.get("error") {
            let a2a_error = error.pointer("/data/a2a_error").and_then(Value::as_str);
            let mut e = CallError::new(
                a2a_error.unwrap_or("jsonrpc_error"),
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("error"),
            );
            e.code = error.get("code").cloned();
            self.finish(CallOutcome::Error, None, Some(e), at);
            return;
        }
        let Some(result) = body.get("result") else {
            return;
        };
        if let Some(update) = result
            .get("statusUpdate")
            .or_else(|| result.get("status-update"))
        {
            let status = update.get("status").cloned().unwrap_or(Value::Null);
            self.a2a_status(&status, at);
        } else if let Some(update) = result
            .get("artifactUpdate")
            .or_else(|| result.get("artifact-update"))
        {
            let artifact = update.get("artifact").cloned().unwrap_or(Value::Null);
            self.a2a_artifact(&artifact);
            self.push_partial(at, "artifact".to_owned(), artifact);
        } else if let Some(task) = result.get("task") {
            for artifact in task
                .get("artifacts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.a2a_artifact(artifact);
            }
            let status = task.get("status").cloned().unwrap_or(Value::Null);
            self.a2a_status(&status, at);
        } else if let Some(message) = result.get("message") {
            let text = parts_text(message.get("parts"));
            self.finish(
                CallOutcome::Ok,
                Some(json!({"message": message, "text": text})),
                None,
                at,
            );
        }
    }

    fn a2a_artifact(&mut self, artifact: &Value) {
        let text = parts_text(artifact.get("parts"));
        self.a2a.text.push_str(&text);
        self.a2a.artifacts.push(artifact.clone());
    }

    fn a2a_status(&mut self, status: &Value, at: u64) {
        let state = status
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let short = state
            .trim_start_matches("TASK_STATE_")
            .to_ascii_lowercase()
            .replace('_', "-");
        let message_text = parts_text(status.pointer("/message/parts"));
        match short.as_str() {
            "completed" | "input-required" | "auth-required" => {
                let result = json!({
                    "state": state,
                    "task_id": self.a2a.task_id,
                    "context_id": self.a2a.context_id,
                    "text": self.a2a.text,
                    "artifacts": self.a2a.artifacts,
                    "message": if message_text.is_empty() { Value::Null } else { json!(message_text) },
                });
                self.finish(CallOutcome::Ok, Some(result), None, at);
            }
            "failed" | "canceled" | "cancelled" | "rejected" => {
                let message = if message_text.is_empty() {
                    format!("the task ended {short}")
                } else {
                    message_text
                };
                self.finish(
                    CallOutcome::Error,
                    None,
                    Some(CallError::new(&short, message)),
                    at,
                );
            }
            _ => {
                let label = if short.is_empty() {
                    "update".to_owned()
                } else {
                    short
                };
                let value = if message_text.is_empty() {
                    status.clone()
                } else {
                    json!(message_text)
                };
                self.push_partial(at, label, value);
            }
        }
    }

    fn on_mqtt5(&mut self, topic: &str, raw: &RawMessage) {
        if self.reply_topic.as_deref() != Some(topic) || self.phase != Phase::Waiting {
            return;
        }
        // With Correlation Data sent, a reply carrying other bytes is somebody else's; a reply
        // without any is accepted (OpenMAS and MQTT 3.1.1 peers send none).
        if let Some(data) = raw.props().correlation_data.as_deref()
            && !self.correlation_bytes.is_empty()
            && data != self.correlation_bytes.as_slice()
        {
            return;
        }
        let value = payload_value(&raw.payload);
        let at = raw.received_at_nanos;
        let error = value.get("error").filter(|e| !e.is_null()).cloned();
        match error {
            Some(error) => {
                let error_type = error
                    .get("details")
                    .and_then(Value::as_str)
                    .or_else(|| error.get("type").and_then(Value::as_str))
                    .unwrap_or("error");
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| error.to_string());
                let mut e = CallError::new(error_type, message);
                e.code = error.get("code").cloned();
                self.finish(CallOutcome::Error, Some(value), Some(e), at);
            }
            None => self.finish(CallOutcome::Ok, Some(value), None, at),
        }
    }

    // -----------------------------------------------------------------------------------------
    // bookkeeping

    fn push_partial(&mut self, at: u64, label: String, value: Value) {
        self.partials_total += 1;
        self.last_activity_nanos = self.last_activity_nanos.max(at);
        if self.partials.len() < MAX_PARTIALS_KEPT {
            let after_result = self.phase == Phase::Done;
            self.partials.push(PartialRecord {
                received_at_nanos: at,
                label,
                value,
                after_result,
            });
        }
    }

    /// An MQTT.Agent stream item: `content` (text) or `data` (object).
    fn push_stream_partial(&mut self, raw: &RawMessage) {
        let body: Value = serde_json::from_slice(&raw.payload).unwrap_or(Value::Null);
        let label = body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("partial")
            .to_owned();
        let value = body
            .get("content")
            .or_else(|| body.get("data"))
            .cloned()
            .unwrap_or_else(|| payload_value(&raw.payload));
        self.push_partial(raw.received_at_nanos, label, value);
    }

    /// Whether partials may still trail this finished call's result (it subscribed a stream and
    /// got an answer): a driver then listens [`LATE_PARTIALS_GRACE_MILLIS`] longer before cleaning up.
    pub fn may_have_late_partials(&self) -> bool {
        self.phase == Phase::Done
            && self.stream_topic.is_some()
            && matches!(self.outcome, CallOutcome::Ok | CallOutcome::Error)
    }

    fn finish(
        &mut self,
        outcome: CallOutcome,
        result: Option<Value>,
        error: Option<CallError>,
        at: u64,
    ) {
        self.outcome = outcome;
        self.result = result;
        self.error = error;
        self.finished_at_nanos = Some(at);
        self.phase = Phase::Done;
    }

    fn note(&mut self, text: &str) {
        self.transcript.push(text.to_owned());
    }
}

/// `$mcp-rpc/{client}/{server-id}/{server-name}`.
fn rpc_topic(me: &str, sid: &str, server_name: &str) -> String {
    format!("$mcp-rpc/{}/{sid}/{server_name}", topic_safe(me))
}

/// The SDK's `normalizeNamespace`: trimmed, no leading or trailing `/`, empty → `a2a/v1`.
pub fn normalize_namespace(ns: &str) -> String {
    let ns = ns.trim().trim_matches('/');
    if ns.is_empty() {
        DEFAULT_NAMESPACE.to_owned()
    } else {
        ns.to_owned()
    }
}

/// A client id used inside a topic level: `/`, `+`, `#` would change the topic's meaning.
fn topic_safe(id: &str) -> String {
    id.replace(['/', '+', '#'], "_")
}

fn check_level(name: &str, what: &str) -> Result<(), CallError> {
    if name.is_empty() || name.contains(['/', '+', '#']) {
        return Err(CallError::new(
            "invalid_request",
            format!("{what} {name:?} must be one topic level (no '/', '+', '#')"),
        ));
    }
    Ok(())
}

/// EMQX A2A identifiers: `^[A-Za-z0-9_.-]+$` (PROTOCOLS.md §3.2).
fn check_a2a_id(id: &str, what: &str) -> Result<(), CallError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(CallError::new(
            "invalid_request",
            format!("{what} {id:?} must match [A-Za-z0-9_.-]+"),
        ));
    }
    Ok(())
}

fn jsonrpc_error(message: &Value) -> Option<CallError> {
    let error = message.get("error")?;
    let mut e = CallError::new(
        "jsonrpc_error",
        error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("error"),
    );
    e.code = error.get("code").cloned();
    Some(e)
}

/// The text items of an MCP result's `content`, joined.
fn content_text(result: &Value) -> String {
    result
        .get("content")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The text parts of an A2A message or artifact, joined.
fn parts_text(parts: Option<&Value>) -> String {
    parts
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("")
        })
        .unwrap_or_default()
}

/// A payload as JSON when it is JSON, as a string when it is text, else as hex.
fn payload_value(payload: &[u8]) -> Value {
    if let Ok(value) = serde_json::from_slice::<Value>(payload) {
        return value;
    }
    match std::str::from_utf8(payload) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({"hex": payload.iter().map(|b| format!("{b:02x}")).collect::<String>()}),
    }
}

fn trim_float(secs: f64) -> String {
    let text = format!("{secs:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
