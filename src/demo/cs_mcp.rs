//! MQTT.Agent v0.1 MCP profile: the `research-tools` server and its caller `scout`, as the
//! `@cloudsignal/mcp-over-mqtt` SDK puts them on the wire.

use super::sleep_until_opt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Publish, PublishProperties};
use serde_json::Value;
use tokio::task::JoinSet;

use super::link::{LinkConfig, LinkEvent, LinkHandle};
use super::rng::{Rng, iso_now_millis, to_base36, wall_clock_millis};
use super::wire::{self, J, arr, js_json, obj};
use super::{Ctx, Waiters, reap};

pub(super) const SERVER_NAME: &str = "research-tools";
const SDK_VERSION: &str = "0.1.0";
const SCOUT: &str = "scout";
/// The SDK's caller timeout is 30 s; the demo gives up a little sooner.
const SCOUT_CALL_LIMIT: Duration = Duration::from_secs(15);

/// One tool the server serves, with its card fields.
struct Tool {
    name: &'static str,
    description: &'static str,
    streaming: bool,
    requires_auth: bool,
    allowed_callers: Option<&'static [&'static str]>,
    input_schema: fn() -> J,
    output_schema: Option<fn() -> J>,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "echo",
        description: "Fast tool: returns its arguments unchanged.",
        streaming: false,
        requires_auth: true,
        allowed_callers: None,
        input_schema: echo_schema,
        output_schema: None,
    },
    Tool {
        name: "slow_lookup",
        description: "Looks a key up in a slow system of record (300-900 ms).",
        streaming: false,
        requires_auth: true,
        allowed_callers: Some(&["scout", "researcher"]),
        input_schema: slow_lookup_schema,
        output_schema: Some(slow_lookup_output_schema),
    },
    Tool {
        name: "divide",
        description: "Divides a by b; fails with a tool error when b is 0.",
        streaming: false,
        requires_auth: true,
        allowed_callers: None,
        input_schema: divide_schema,
        output_schema: None,
    },
    Tool {
        name: "count_stream",
        description: "Streaming tool: emits n partials (text and progress objects) ~80 ms apart, then returns.",
        streaming: true,
        requires_auth: false,
        allowed_callers: None,
        input_schema: count_stream_schema,
        output_schema: None,
    },
    Tool {
        name: "web_search",
        description: "Searches the web and returns ranked results with snippets.",
        streaming: false,
        requires_auth: true,
        allowed_callers: Some(&["scout", "researcher"]),
        input_schema: web_search_schema,
        output_schema: Some(web_search_output_schema),
    },
];

fn echo_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "text" => obj! {"type" => "string", "description" => "Text to send back"},
            "metadata" => obj! {"type" => "object", "additionalProperties" => obj! {"type" => "string"}},
        },
        "required" => arr!["text"],
    }
}

fn slow_lookup_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "key" => obj! {"type" => "string", "pattern" => "^[a-z]+-[0-9]+$", "description" => "Record key, e.g. acct-1042"},
            "source" => obj! {"type" => "string", "enum" => arr!["crm", "billing", "inventory"], "default" => "crm"},
            "include_history" => obj! {"type" => "boolean", "default" => false},
        },
        "required" => arr!["key"],
        "additionalProperties" => false,
    }
}

fn slow_lookup_output_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "key" => obj! {"type" => "string"},
            "source" => obj! {"type" => "string"},
            "value" => obj! {"type" => "number"},
            "slept_ms" => obj! {"type" => "integer"},
        },
    }
}

fn divide_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "a" => obj! {"type" => "number", "description" => "Dividend"},
            "b" => obj! {"type" => "number", "description" => "Divisor"},
            "precision" => obj! {"type" => "integer", "minimum" => 0u64, "maximum" => 10u64, "default" => 4u64},
        },
        "required" => arr!["a", "b"],
        "additionalProperties" => false,
    }
}

fn count_stream_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "n" => obj! {"type" => "integer", "minimum" => 1u64, "maximum" => 20u64, "default" => 4u64},
        },
    }
}

fn web_search_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "query" => obj! {"type" => "string", "minLength" => 1u64, "description" => "Search terms"},
            "max_results" => obj! {"type" => "integer", "minimum" => 1u64, "maximum" => 10u64, "default" => 5u64},
            "filters" => obj! {
                "type" => "object",
                "properties" => obj! {
                    "site" => obj! {"type" => "string", "description" => "Restrict to one domain"},
                    "recency" => obj! {"type" => "string", "enum" => arr!["day", "week", "month", "any"], "default" => "any"},
                    "language" => obj! {"type" => "string", "enum" => arr!["en", "de", "fr", "ja"]},
                },
                "additionalProperties" => false,
            },
        },
        "required" => arr!["query"],
        "additionalProperties" => false,
    }
}

fn web_search_output_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "query" => obj! {"type" => "string"},
            "results" => obj! {
                "type" => "array",
                "items" => obj! {
                    "type" => "object",
                    "properties" => obj! {
                        "title" => obj! {"type" => "string"},
                        "url" => obj! {"type" => "string", "format" => "uri"},
                        "snippet" => obj! {"type" => "string"},
                        "score" => obj! {"type" => "number"},
                    },
                    "required" => arr!["title", "url"],
                },
            },
        },
    }
}

fn server_card(ns: &str, status: &str, last_seen: &str) -> J {
    obj! {
        "version" => "1",
        "server" => SERVER_NAME,
        "namespace" => ns,
        "tools" => J::Arr(TOOLS.iter().map(|tool| J::from(tool.name)).collect()),
        "version_info" => obj! {"sdk" => SDK_VERSION},
        "status" => status,
        "last_seen" => last_seen,
    }
}

fn tool_card(ns: &str, tool: &Tool, status: &str) -> J {
    let mut card = obj! {
        "version" => "1",
        "tool" => tool.name,
        "server" => SERVER_NAME,
        "namespace" => ns,
        "description" => tool.description,
        "input_schema" => (tool.input_schema)(),
    };
    if let Some(output_schema) = tool.output_schema {
        card = card.with("output_schema", output_schema());
    }
    card = card
        .with("supports_streaming", tool.streaming)
        .with("requires_auth", tool.requires_auth);
    if let Some(callers) = tool.allowed_callers {
        card = card.with("allowed_callers", callers.to_vec());
    }
    card.with(
        "version_info",
        obj! {"sdk" => SDK_VERSION, "tool" => "1.0.0"},
    )
    .with("status", status)
    .with("last_seen", iso_now_millis())
}

fn publish_cards(handle: &LinkHandle, ns: &str, status: &str) {
    let server_topic = format!("{ns}/mcp/servers/{SERVER_NAME}/card");
    handle.publish_plain(
        &server_topic,
        QoS::AtLeastOnce,
        true,
        js_json(&server_card(ns, status, &iso_now_millis())),
    );
    for tool in TOOLS {
        let topic = format!("{ns}/mcp/tools/{}/card", tool.name);
        handle.publish_plain(
            &topic,
            QoS::AtLeastOnce,
            true,
            js_json(&tool_card(ns, tool, status)),
        );
    }
}

/// The MCP server: Will = offline server card; online cards on every connect; shared call
/// subscriptions; replies with `call_id`, `status`, `result|error`, `elapsed_ms`.
pub(super) async fn run_server(ctx: Ctx) {
    let label = "cs-mcp/research-tools";
    let mut rng = ctx.rng(label);
    let ns = ctx.ns().to_owned();
    // `${ns with '/' → '-'}-mcp-${name}-${rand6}`, as the SDK builds it.
    let client_id = format!(
        "{}-mcp-{SERVER_NAME}-{}",
        ns.replace('/', "-"),
        rng.base36(6)
    );
    let mut config = LinkConfig::new(label, client_id);
    config.clean_start = false;
    config.keep_alive_secs = 30;
    // The SDK freezes `last_seen` of the Will card at start time and sets no Will properties.
    config.will = Some(LastWill::new(
        format!("{ns}/mcp/servers/{SERVER_NAME}/card"),
        js_json(&server_card(&ns, "offline", &iso_now_millis())),
        QoS::AtLeastOnce,
        true,
        None,
    ));
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    for tool in TOOLS {
        handle.subscribe(
            &format!(
                "$share/mcp-tool-{}/{ns}/mcp/tools/{}/call",
                tool.name, tool.name
            ),
            QoS::AtLeastOnce,
        );
    }
    let mut tasks = JoinSet::new();
    loop {
        reap(&mut tasks);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => publish_cards(&handle, &ns, "online"),
                Some(LinkEvent::Message(publish)) => {
                    if let Some(call) = parse_call(&ns, &publish) {
                        tasks.spawn(serve_call(handle.clone(), ns.clone(), call, rng.fork()));
                    }
                }
            },
        }
    }
    tasks.abort_all();
    // Graceful stop, as the SDK: offline server card and offline tool cards, then DISCONNECT.
    publish_cards(&handle, &ns, "offline");
    link.close().await;
}

struct Call {
    tool: String,
    call_id: String,
    arguments: Value,
    reply_topic: String,
    correlation: Option<Bytes>,
}

fn parse_call(ns: &str, publish: &Publish) -> Option<Call> {
    let topic = wire::topic(publish)?;
    let tool = topic
        .strip_prefix(ns)?
        .strip_prefix("/mcp/tools/")?
        .strip_suffix("/call")?;
    // Malformed JSON or no `call_id`: the SDK logs and answers nothing.
    let Some(payload) = wire::json_object(publish) else {
        tracing::debug!(topic, "cs-mcp: malformed call dropped");
        return None;
    };
    let call_id = wire::str_field(&payload, "call_id")?.to_owned();
    let arguments = payload
        .get("arguments")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    // Reply address: Response Topic property → payload `response_topic` → the client's inbox.
    let reply_topic = wire::response_topic(publish)
        .map(str::to_owned)
        .or_else(|| wire::str_field(&payload, "response_topic").map(str::to_owned))
        .unwrap_or_else(|| {
            let client = wire::str_field(&payload, "client").unwrap_or("unknown");
            format!("{ns}/mcp/clients/{client}/responses")
        });
    Some(Call {
        tool: tool.to_owned(),
        call_id,
        arguments,
        reply_topic,
        correlation: wire::correlation_data(publish),
    })
}

async fn serve_call(handle: LinkHandle, ns: String, call: Call, mut rng: Rng) {
    let started = Instant::now();
    let outcome = run_tool(&handle, &ns, &call, &mut rng).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let response = match outcome {
        Ok(result) => obj! {
            "call_id" => &call.call_id,
            "status" => "ok",
            "result" => result,
            "elapsed_ms" => elapsed_ms,
        },
        // The SDK only ever emits `tool_error` (the handler threw) and never sets `code`.
        Err(message) => obj! {
            "call_id" => &call.call_id,
            "status" => "error",
            "error" => obj! {"type" => "tool_error", "message" => message},
            "elapsed_ms" => elapsed_ms,
        },
    };
    handle.publish(
        &call.reply_topic,
        QoS::AtLeastOnce,
        false,
        js_json(&response),
        wire::with_correlation(call.correlation),
    );
}

async fn run_tool(handle: &LinkHandle, ns: &str, call: &Call, rng: &mut Rng) -> Result<J, String> {
    let args = &call.arguments;
    match call.tool.as_str() {
        "echo" => {
            tokio::time::sleep(rng.millis(0, 3)).await;
            Ok(obj! {"echoed" => args.clone()})
        }
        "slow_lookup" => {
            let Some(key) = args.get("key").and_then(Value::as_str) else {
                return Err("key is required".to_owned());
            };
            let slept = rng.latency(430.0, 0.28, 300, 900);
            tokio::time::sleep(slept).await;
            let source = args.get("source").and_then(Value::as_str).unwrap_or("crm");
            Ok(obj! {
                "key" => key,
                "source" => source,
                "value" => rng.range(10, 99),
                "slept_ms" => slept.as_millis() as u64,
            })
        }
        "divide" => {
            tokio::time::sleep(rng.millis(0, 2)).await;
            let a = args.get("a").and_then(Value::as_f64);
            let b = args.get("b").and_then(Value::as_f64);
            match (a, b) {
                (Some(_), Some(0.0)) => Err("division by zero".to_owned()),
                (Some(a), Some(b)) => Ok(obj! {"quotient" => a / b}),
                _ => Err("a and b must be numbers".to_owned()),
            }
        }
        "count_stream" => {
            let n = args
                .get("n")
                .and_then(Value::as_u64)
                .unwrap_or(4)
                .clamp(1, 20);
            let stream_topic = format!("{ns}/mcp/tools/count_stream/stream/{}", call.call_id);
            for step in 1..=n {
                tokio::time::sleep(rng.latency(80.0, 0.12, 50, 200)).await;
                // SDK quirks: `seq` is `Date.now()`, QoS 0, and no final `done` item.
                let partial = if step % 2 == 1 {
                    obj! {
                        "call_id" => &call.call_id,
                        "seq" => wall_clock_millis(),
                        "type" => "partial",
                        "content" => format!("counted {step} of {n}"),
                    }
                } else {
                    obj! {
                        "call_id" => &call.call_id,
                        "seq" => wall_clock_millis(),
                        "type" => "partial",
                        "data" => obj! {"progress" => step as f64 / n as f64, "step" => step},
                    }
                };
                handle.publish_plain(&stream_topic, QoS::AtMostOnce, false, js_json(&partial));
            }
            Ok(obj! {"counted" => n})
        }
        "web_search" => {
            tokio::time::sleep(rng.latency(260.0, 0.55, 60, 3_000)).await;
            if rng.chance(0.06) {
                return Err("upstream search API returned 429 Too Many Requests".to_owned());
            }
            let query = args.get("query").and_then(Value::as_str).unwrap_or("");
            let wanted = args
                .get("max_results")
                .and_then(Value::as_u64)
                .unwrap_or(3)
                .clamp(1, 10);
            let results: Vec<J> = (0..wanted.min(4))
                .map(|rank| {
                    let site = rng.pick(SITES).copied().unwrap_or("example.org");
                    obj! {
                        "title" => format!("{} ({site})", title_case(query)),
                        "url" => format!("https://{site}/{}/{}", slug(query), rng.hex(6)),
                        "snippet" => format!("…{query} — notes, benchmarks and trade-offs…"),
                        "score" => (1000.0 - rank as f64 * 90.0 - rng.range(0, 60) as f64).round() / 1000.0,
                    }
                })
                .collect();
            Ok(obj! {"query" => query, "results" => results})
        }
        other => Err(format!("unknown tool {other}")),
    }
}

const SITES: &[&str] = &[
    "arxiv.org",
    "docs.example.dev",
    "engineering.acme.io",
    "news.ycombinator.com",
    "en.wikipedia.org",
    "github.com",
];

fn slug(text: &str) -> String {
    text.split_whitespace()
        .take(5)
        .map(|word| word.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("-")
}

fn title_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The caller's reply, as the SDK's `MCPClient` resolves it.
pub(super) enum CallOutcome {
    Ok(Value),
    Error { message: String },
    TimedOut,
}

/// An MCP caller (`MCPClient`): its connection, its pending calls and its client id.
#[derive(Clone)]
pub(super) struct McpCaller {
    pub handle: LinkHandle,
    pub waiters: Waiters<String>,
    pub ns: String,
    pub client: &'static str,
}

impl McpCaller {
    /// Calls a tool as `MCPClient.call` does: payload `call_id`/`arguments`/`client`/`timestamp`/
    /// `response_topic`, Response Topic + Correlation Data (= `call_id` bytes), QoS 1; for
    /// streaming tools it subscribes the stream topic first and unsubscribes after the final
    /// response.
    pub async fn call(
        &self,
        tool: &str,
        arguments: J,
        rng: &mut Rng,
        limit: Duration,
    ) -> CallOutcome {
        let Self {
            handle,
            waiters,
            ns,
            client,
        } = self;
        let call_id = format!("call_{}_{}", to_base36(wall_clock_millis()), rng.base36(8));
        let reply_topic = format!("{ns}/mcp/clients/{client}/responses");
        let stream_topic = TOOLS
            .iter()
            .any(|known| known.name == tool && known.streaming)
            .then(|| format!("{ns}/mcp/tools/{tool}/stream/{call_id}"));
        if let Some(stream_topic) = &stream_topic {
            handle.subscribe(stream_topic, QoS::AtMostOnce);
        }
        let reply = waiters.register(call_id.clone());
        let payload = obj! {
            "call_id" => &call_id,
            "arguments" => arguments,
            "client" => *client,
            "timestamp" => iso_now_millis(),
            "response_topic" => &reply_topic,
        };
        let properties = PublishProperties {
            response_topic: Some(reply_topic),
            correlation_data: Some(Bytes::from(call_id.clone().into_bytes())),
            ..PublishProperties::default()
        };
        handle.publish(
            &format!("{ns}/mcp/tools/{tool}/call"),
            QoS::AtLeastOnce,
            false,
            js_json(&payload),
            properties,
        );
        let reply = waiters.wait(&call_id, reply, limit).await;
        if let Some(stream_topic) = &stream_topic {
            handle.unsubscribe(stream_topic);
        }
        let Some(reply) = reply else {
            return CallOutcome::TimedOut;
        };
        let Some(body) = wire::json_object(&reply) else {
            return CallOutcome::Error {
                message: "unreadable response".to_owned(),
            };
        };
        match wire::str_field(&body, "status") {
            Some("ok") => CallOutcome::Ok(body.get("result").cloned().unwrap_or(Value::Null)),
            _ => CallOutcome::Error {
                message: body
                    .get("error")
                    .and_then(|error| error.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
            },
        }
    }

    /// Routes a message on `{ns}/mcp/clients/{client}/responses` to its waiting call (the SDK
    /// matches only the payload `call_id`). Returns false for anything else.
    pub fn route_response(&self, publish: &Publish) -> bool {
        let expected = format!("{}/mcp/clients/{}/responses", self.ns, self.client);
        if wire::topic(publish) != Some(expected.as_str()) {
            return false;
        }
        if let Some(call_id) = wire::json_object(publish)
            .as_ref()
            .and_then(|body| wire::str_field(body, "call_id"))
            && !self.waiters.complete(&call_id.to_owned(), publish.clone())
        {
            tracing::debug!(
                client = self.client,
                call_id,
                "cs-mcp: response for a call nobody waits for"
            );
        }
        true
    }
}

#[derive(Debug, Clone, Copy)]
enum ScoutAction {
    EchoWhileSlow,
    Echo,
    Divide,
    DivideByZero,
    CountStream,
    WebSearch,
    Burst,
    Ghost,
}

/// The first actions run in this order so every behaviour is on the wire within ~1.5 s.
const SCOUT_WARMUP: &[ScoutAction] = &[
    ScoutAction::EchoWhileSlow,
    ScoutAction::CountStream,
    ScoutAction::DivideByZero,
    ScoutAction::WebSearch,
    ScoutAction::Ghost,
];

fn pick_scout_action(rng: &mut Rng) -> ScoutAction {
    let roll = rng.unit();
    match roll {
        r if r < 0.22 => ScoutAction::Echo,
        r if r < 0.36 => ScoutAction::EchoWhileSlow,
        r if r < 0.48 => ScoutAction::Divide,
        r if r < 0.54 => ScoutAction::DivideByZero,
        r if r < 0.66 => ScoutAction::CountStream,
        r if r < 0.90 => ScoutAction::WebSearch,
        r if r < 0.96 => ScoutAction::Burst,
        _ => ScoutAction::Ghost,
    }
}

const QUERIES: &[&str] = &[
    "mqtt 5 shared subscriptions",
    "vector database benchmarks 2026",
    "agent to agent protocol adoption",
    "rust async runtime latency",
    "model context protocol transports",
    "eu data residency requirements",
];

/// `scout`: an MCP caller working through tools in a loop, sometimes several at once, and now
/// and then calling a tool nobody serves (no response ever comes: a caller-side timeout).
pub(super) async fn run_scout(ctx: Ctx) {
    let label = "cs-mcp/scout";
    let mut rng = ctx.rng(label);
    let ns = ctx.ns().to_owned();
    let mut config = LinkConfig::new(label, SCOUT);
    config.clean_start = false;
    config.keep_alive_secs = 30;
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    handle.subscribe(
        &format!("{ns}/mcp/clients/{SCOUT}/responses"),
        QoS::AtLeastOnce,
    );
    let caller = McpCaller {
        handle: handle.clone(),
        waiters: Waiters::new(),
        ns: ns.clone(),
        client: SCOUT,
    };
    let mut tasks = JoinSet::new();
    let mut next_action_at: Option<tokio::time::Instant> = None;
    let mut actions_done = 0usize;
    loop {
        reap(&mut tasks);
        let action_due = sleep_until_opt(next_action_at);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {
                    if next_action_at.is_none() {
                        next_action_at = Some(tokio::time::Instant::now() + rng.millis(80, 150));
                    }
                }
                Some(LinkEvent::Message(publish)) => {
                    caller.route_response(&publish);
                }
            },
            _ = action_due => {
                let action = SCOUT_WARMUP
                    .get(actions_done)
                    .copied()
                    .unwrap_or_else(|| pick_scout_action(&mut rng));
                actions_done += 1;
                start_scout_action(&mut tasks, &caller, action, &mut rng, actions_done);
                let pause = if actions_done < SCOUT_WARMUP.len() {
                    rng.millis(180, 260)
                } else {
                    rng.latency(550.0, 0.45, 150, 2_500)
                };
                next_action_at = Some(tokio::time::Instant::now() + pause);
            }
        }
    }
    tasks.abort_all();
    link.close().await;
}

fn start_scout_action(
    tasks: &mut JoinSet<()>,
    caller: &McpCaller,
    action: ScoutAction,
    rng: &mut Rng,
    round: usize,
) {
    let mut spawn_call = |tool: &'static str, arguments: J, rng: &mut Rng| {
        let caller = caller.clone();
        let mut call_rng = rng.fork();
        tasks.spawn(async move {
            let outcome = caller
                .call(tool, arguments, &mut call_rng, SCOUT_CALL_LIMIT)
                .await;
            if let CallOutcome::TimedOut = outcome {
                tracing::debug!(tool, "scout: call timed out (no response)");
            }
        });
    };
    match action {
        ScoutAction::Echo => spawn_call("echo", obj! {"text" => format!("hello {round}")}, rng),
        ScoutAction::EchoWhileSlow => {
            let source = rng
                .pick(&["crm", "billing", "inventory"])
                .copied()
                .unwrap_or("crm");
            spawn_call(
                "slow_lookup",
                obj! {"key" => format!("acct-{}", 1000 + rng.range(0, 99)), "source" => source},
                rng,
            );
            spawn_call("echo", obj! {"text" => format!("while slow {round}")}, rng);
        }
        ScoutAction::Divide => {
            let a = rng.range(1, 40) as f64;
            let b = rng.range(1, 8) as f64;
            spawn_call("divide", obj! {"a" => a, "b" => b}, rng);
        }
        ScoutAction::DivideByZero => {
            spawn_call("divide", obj! {"a" => rng.range(1, 9), "b" => 0u64}, rng)
        }
        ScoutAction::CountStream => spawn_call("count_stream", obj! {"n" => 4u64}, rng),
        ScoutAction::WebSearch => {
            let query = rng.pick(QUERIES).copied().unwrap_or("mqtt");
            let recency = rng
                .pick(&["day", "week", "month", "any"])
                .copied()
                .unwrap_or("any");
            spawn_call(
                "web_search",
                obj! {"query" => query, "max_results" => 3u64, "filters" => obj! {"recency" => recency}},
                rng,
            );
        }
        ScoutAction::Burst => {
            for index in 0..3 {
                spawn_call(
                    "echo",
                    obj! {"text" => format!("burst {round}.{index}")},
                    rng,
                );
            }
            let query = rng.pick(QUERIES).copied().unwrap_or("mqtt");
            spawn_call("web_search", obj! {"query" => query}, rng);
        }
        ScoutAction::Ghost => spawn_call(
            "summarize_pdf",
            obj! {"url" => "https://example.org/q3-report.pdf"},
            rng,
        ),
    }
}
