//! MQTT.Agent v0.1 A2A profile: `ops-desk` → `planner` → `researcher` (which calls the MCP
//! server) and `writer`, the agent that drops its connection abruptly now and then.
//!
//! The profile's payloads are only partly public (PROTOCOLS.md §1.3): topics, retained card and
//! status with a Will on the status topic and a persistent session are as documented; task and
//! result bodies use the field names the SDK README names (`task_id`, `from`, `to`, `type`,
//! `title`, `messages[]`, `status`, `result`, `error`).

use super::sleep_until_opt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Publish, PublishProperties};
use serde_json::Value;
use tokio::task::JoinSet;

use super::cs_mcp::{CallOutcome, McpCaller};
use super::link::{Link, LinkConfig, LinkEvent, LinkHandle};
use super::rng::{Rng, iso_now_millis};
use super::wire::{self, J, arr, js_json, obj};
use super::{Ctx, Waiters, reap};

const SDK_VERSION: &str = "0.1.6";
/// Persistent sessions (the profile requires them) outlive a drop by this much.
const SESSION_EXPIRY_SECS: u32 = 300;
const OPS_DESK_LIMIT: Duration = Duration::from_secs(15);
const RESEARCH_LIMIT: Duration = Duration::from_secs(6);
const WRITE_LIMIT: Duration = Duration::from_secs(4);
const TOOL_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    OpsDesk,
    Planner,
    Researcher,
    Writer,
}

impl Role {
    fn agent_id(self) -> &'static str {
        match self {
            Role::OpsDesk => "ops-desk",
            Role::Planner => "planner",
            Role::Researcher => "researcher",
            Role::Writer => "writer",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::OpsDesk => "Ops Desk",
            Role::Planner => "Planner",
            Role::Researcher => "Researcher",
            Role::Writer => "Writer",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Role::OpsDesk => {
                "Front desk: turns operator requests into planning tasks and waits for the answer."
            }
            Role::Planner => {
                "Breaks a goal into research and writing sub-tasks and delegates them."
            }
            Role::Researcher => "Researches a question with the research-tools MCP server.",
            Role::Writer => "Drafts short briefs from research notes.",
        }
    }

    fn capabilities(self) -> Vec<&'static str> {
        match self {
            Role::OpsDesk => vec!["intake", "reporting"],
            Role::Planner => vec!["planning", "delegation"],
            Role::Researcher => vec!["research", "web-search", "mcp-client"],
            Role::Writer => vec!["writing", "summarization"],
        }
    }
}

fn card(ns: &str, role: Role, status: &str) -> J {
    obj! {
        "version" => "1",
        "agent_id" => role.agent_id(),
        "name" => role.name(),
        "description" => role.description(),
        "namespace" => ns,
        "capabilities" => role.capabilities(),
        "status" => status,
        "version_info" => obj! {"sdk" => SDK_VERSION},
        "last_seen" => iso_now_millis(),
    }
}

fn status_payload(role: Role, status: &str, reason: Option<&str>) -> J {
    let payload = obj! {"agent_id" => role.agent_id(), "status" => status};
    let payload = match reason {
        Some(reason) => payload.with("reason", reason),
        None => payload,
    };
    payload.with("last_seen", iso_now_millis())
}

fn publish_presence(handle: &LinkHandle, ns: &str, role: Role, status: &str, reason: Option<&str>) {
    let id = role.agent_id();
    handle.publish_plain(
        &format!("{ns}/agents/{id}/card"),
        QoS::AtLeastOnce,
        true,
        js_json(&card(ns, role, status)),
    );
    handle.publish_plain(
        &format!("{ns}/agents/{id}/status"),
        QoS::AtLeastOnce,
        true,
        js_json(&status_payload(role, status, reason)),
    );
}

/// One agent's life: connect, serve, and (for the writer) crash and come back.
pub(super) async fn run_agent(ctx: Ctx, role: Role) {
    let label = format!("cs-a2a/{}", role.agent_id());
    let mut rng = ctx.rng(&label);
    let ns = ctx.ns().to_owned();
    let drops = role == Role::Writer && ctx.options.abrupt_drops;
    let mut drop_after = drops.then(|| match ctx.options.first_drop_after_millis {
        Some(millis) => Duration::from_millis(millis),
        None => rng.millis(20_000, 40_000),
    });
    loop {
        let mut link = connect(&ctx, &ns, role, &label, &mut rng);
        match serve(&ctx, &ns, role, &mut link, &mut rng, drop_after).await {
            Ending::Stop => {
                // Graceful leave: offline card and status, then DISCONNECT (no Will).
                publish_presence(&link.handle(), &ns, role, "offline", Some("shutdown"));
                link.close().await;
                return;
            }
            Ending::Crash => {
                let downtime = match ctx.options.downtime_millis {
                    Some(millis) => Duration::from_millis(millis),
                    None => rng.millis(5_000, 12_000),
                };
                tracing::info!(
                    agent = role.agent_id(),
                    downtime_millis = downtime.as_millis() as u64,
                    "demo: agent drops its connection abruptly (its Last Will fires)"
                );
                link.crash();
                if !ctx.sleep(downtime).await {
                    return;
                }
                drop_after = Some(rng.millis(25_000, 50_000));
            }
        }
    }
}

fn connect(ctx: &Ctx, ns: &str, role: Role, label: &str, rng: &mut Rng) -> Link {
    let id = role.agent_id();
    let mut config = LinkConfig::new(label, format!("cs_agent_{id}"));
    config.clean_start = false;
    config.session_expiry_secs = Some(SESSION_EXPIRY_SECS);
    config.keep_alive_secs = 30;
    config.will = Some(LastWill::new(
        format!("{ns}/agents/{id}/status"),
        js_json(&status_payload(role, "offline", Some("connection_lost"))),
        QoS::AtLeastOnce,
        true,
        None,
    ));
    let link = ctx.start_link(config, rng);
    let handle = link.handle();
    handle.subscribe(&format!("{ns}/tasks/{id}/inbox"), QoS::AtLeastOnce);
    match role {
        Role::Planner => handle.subscribe(&format!("{ns}/tasks/{id}/results"), QoS::AtLeastOnce),
        Role::Researcher => handle.subscribe(
            &format!("{ns}/mcp/clients/{id}/responses"),
            QoS::AtLeastOnce,
        ),
        Role::OpsDesk | Role::Writer => {}
    }
    link
}

enum Ending {
    Stop,
    Crash,
}

async fn serve(
    ctx: &Ctx,
    ns: &str,
    role: Role,
    link: &mut Link,
    rng: &mut Rng,
    drop_after: Option<Duration>,
) -> Ending {
    let handle = link.handle();
    let id = role.agent_id();
    // Replies to this agent's own requests: sub-task results (planner), per-task results
    // (ops-desk); tool responses go to the MCP caller (researcher).
    let task_waiters: Waiters<String> = Waiters::new();
    let tools = McpCaller {
        handle: handle.clone(),
        waiters: Waiters::new(),
        ns: ns.to_owned(),
        client: id,
    };
    let mut tasks = JoinSet::new();
    let mut crash_at: Option<tokio::time::Instant> = None;
    let mut next_request_at: Option<tokio::time::Instant> = None;
    let ending = loop {
        reap(&mut tasks);
        let crash_due = sleep_until_opt(crash_at);
        let request_due = sleep_until_opt(next_request_at);
        tokio::select! {
            _ = ctx.stopped() => break Ending::Stop,
            _ = crash_due => break Ending::Crash,
            _ = request_due => {
                let goal = rng.pick(GOALS).copied().unwrap_or("Summarise this week's incidents");
                let handle = handle.clone();
                let waiters = task_waiters.clone();
                let ns = ns.to_owned();
                let task_rng = rng.fork();
                tasks.spawn(async move { request_plan(&handle, &waiters, &ns, goal, task_rng).await });
                next_request_at = Some(tokio::time::Instant::now() + rng.latency(3_200.0, 0.3, 1_800, 7_000));
            }
            event = link.next_event() => match event {
                None => break Ending::Stop,
                Some(LinkEvent::Connected { .. }) => {
                    publish_presence(&handle, ns, role, "online", None);
                    if crash_at.is_none() && let Some(after) = drop_after {
                        crash_at = Some(tokio::time::Instant::now() + after);
                    }
                    if role == Role::OpsDesk && next_request_at.is_none() {
                        next_request_at = Some(tokio::time::Instant::now() + rng.millis(300, 500));
                    }
                }
                Some(LinkEvent::Message(publish)) => {
                    let Some(topic) = wire::topic(&publish).map(str::to_owned) else { continue };
                    if topic == format!("{ns}/tasks/{id}/inbox") {
                        let Some(task) = Task::parse(ns, &publish) else {
                            tracing::debug!(agent = id, "cs-a2a: unreadable task dropped");
                            continue;
                        };
                        let handle = handle.clone();
                        let ns = ns.to_owned();
                        let task_waiters = task_waiters.clone();
                        let tools = tools.clone();
                        let task_rng = rng.fork();
                        tasks.spawn(async move {
                            handle_task(role, &handle, &ns, task, &task_waiters, &tools, task_rng).await;
                        });
                    } else if topic.ends_with("/result") || topic.ends_with("/results") {
                        if let Some(task_id) = wire::json_object(&publish)
                            .as_ref()
                            .and_then(|body| wire::str_field(body, "task_id"))
                            && !task_waiters.complete(&task_id.to_owned(), publish.clone())
                        {
                            tracing::debug!(agent = id, task_id, "cs-a2a: late result for a task given up on");
                        }
                    } else {
                        tools.route_response(&publish);
                    }
                }
            },
        }
    };
    tasks.abort_all();
    ending
}

const GOALS: &[&str] = &[
    "Compare vector databases for a 50M-document corpus",
    "Brief the team on MQTT 5 shared subscriptions",
    "Assess EU data-residency options for the agent mesh",
    "Summarise this week's latency regressions",
    "Draft a launch note for the scheduling assistant",
    "Evaluate rate limits of the search provider",
];

/// A task as it arrives on an inbox.
struct Task {
    task_id: String,
    from: String,
    title: String,
    prompt: String,
    reply_topic: String,
    correlation: Option<Bytes>,
}

impl Task {
    fn parse(ns: &str, publish: &Publish) -> Option<Self> {
        let body = wire::json_object(publish)?;
        let task_id = wire::str_field(&body, "task_id")?.to_owned();
        let from = wire::str_field(&body, "from")
            .unwrap_or("unknown")
            .to_owned();
        let prompt = body
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|messages| messages.first())
            .and_then(|message| message.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // Synchronous requests name their per-task result topic; delegations report to the
        // delegator's results topic.
        let reply_topic = wire::response_topic(publish)
            .map(str::to_owned)
            .or_else(|| wire::str_field(&body, "reply_to").map(str::to_owned))
            .unwrap_or_else(|| format!("{ns}/tasks/{from}/results"));
        Some(Self {
            task_id,
            title: wire::str_field(&body, "title").unwrap_or("").to_owned(),
            from,
            prompt,
            reply_topic,
            correlation: wire::correlation_data(publish),
        })
    }
}

fn task_payload(task_id: &str, from: &str, to: &str, kind: &str, title: &str, prompt: &str) -> J {
    obj! {
        "task_id" => task_id,
        "from" => from,
        "to" => to,
        "type" => kind,
        "title" => title,
        "messages" => arr![obj! {"role" => "user", "content" => prompt}],
        "created_at" => iso_now_millis(),
    }
}

/// `ops-desk`: a synchronous request (`request(target, …)`): per-task result topic as Response
/// Topic, the task id as Correlation Data.
async fn request_plan(
    handle: &LinkHandle,
    waiters: &Waiters<String>,
    ns: &str,
    goal: &str,
    mut rng: Rng,
) {
    let task_id = rng.uuid4();
    let result_topic = format!("{ns}/tasks/{task_id}/result");
    handle.subscribe(&result_topic, QoS::AtLeastOnce);
    let reply = waiters.register(task_id.clone());
    let payload = task_payload(&task_id, "ops-desk", "planner", "plan", goal, goal)
        .with("reply_to", &result_topic);
    handle.publish(
        &format!("{ns}/tasks/planner/inbox"),
        QoS::AtLeastOnce,
        false,
        js_json(&payload),
        PublishProperties {
            response_topic: Some(result_topic.clone()),
            correlation_data: Some(Bytes::from(task_id.clone().into_bytes())),
            ..PublishProperties::default()
        },
    );
    if waiters
        .wait(&task_id, reply, OPS_DESK_LIMIT)
        .await
        .is_none()
    {
        tracing::debug!(task_id, "ops-desk: planner did not answer in time");
    }
    handle.unsubscribe(&result_topic);
}

/// A sub-task one agent hands to another.
struct Delegation<'a> {
    target: &'a str,
    kind: &'a str,
    title: String,
    prompt: String,
    parent_task_id: &'a str,
    limit: Duration,
}

/// Fire-and-forget delegation (`delegate(target, …)`): the result comes back on
/// `{ns}/tasks/{me}/results`.
async fn delegate(
    handle: &LinkHandle,
    waiters: &Waiters<String>,
    ns: &str,
    me: &str,
    delegation: Delegation<'_>,
    rng: &mut Rng,
) -> Result<Value, (String, String)> {
    let Delegation {
        target,
        kind,
        title,
        prompt,
        parent_task_id,
        limit,
    } = delegation;
    let task_id = rng.uuid4();
    let reply = waiters.register(task_id.clone());
    let payload = task_payload(&task_id, me, target, kind, &title, &prompt)
        .with("parent_task_id", parent_task_id);
    handle.publish_plain(
        &format!("{ns}/tasks/{target}/inbox"),
        QoS::AtLeastOnce,
        false,
        js_json(&payload),
    );
    let Some(reply) = waiters.wait(&task_id, reply, limit).await else {
        return Err((
            "timeout".to_owned(),
            format!("{target} did not answer within {} ms", limit.as_millis()),
        ));
    };
    let body = wire::json_object(&reply).unwrap_or_default();
    match wire::str_field(&body, "status") {
        Some("completed") => Ok(body.get("result").cloned().unwrap_or(Value::Null)),
        _ => {
            let error = body.get("error");
            let kind = error
                .and_then(|e| e.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("failed");
            let message = error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("sub-task failed");
            Err((kind.to_owned(), format!("{target}: {message}")))
        }
    }
}

async fn handle_task(
    role: Role,
    handle: &LinkHandle,
    ns: &str,
    task: Task,
    task_waiters: &Waiters<String>,
    tools: &McpCaller,
    mut rng: Rng,
) {
    let started = Instant::now();
    let me = role.agent_id();
    let outcome: Result<J, (String, String)> = match role {
        Role::Planner => {
            tokio::time::sleep(rng.latency(70.0, 0.4, 20, 300)).await;
            let research = delegate(
                handle,
                task_waiters,
                ns,
                me,
                Delegation {
                    target: "researcher",
                    kind: "research",
                    title: format!("Research: {}", task.title),
                    prompt: format!("Find recent, citable sources for: {}", task.prompt),
                    parent_task_id: &task.task_id,
                    limit: RESEARCH_LIMIT,
                },
                &mut rng,
            )
            .await;
            match research {
                Err(error) => Err(error),
                Ok(notes) => {
                    let draft = delegate(
                        handle,
                        task_waiters,
                        ns,
                        me,
                        Delegation {
                            target: "writer",
                            kind: "write",
                            title: format!("Draft: {}", task.title),
                            prompt: format!("Write a 150-word brief from these notes: {notes}"),
                            parent_task_id: &task.task_id,
                            limit: WRITE_LIMIT,
                        },
                        &mut rng,
                    )
                    .await;
                    draft.map(|draft| {
                        obj! {"plan" => arr!["research", "write"], "brief" => draft, "notes" => notes}
                    })
                }
            }
        }
        Role::Researcher => {
            tokio::time::sleep(rng.millis(20, 60)).await;
            let (tool, arguments) = if rng.chance(0.8) {
                (
                    "web_search",
                    obj! {
                        "query" => research_query(&task.title),
                        "max_results" => 3u64,
                        "filters" => obj! {"recency" => "month"},
                    },
                )
            } else {
                (
                    "slow_lookup",
                    obj! {"key" => format!("doc-{}", rng.range(100, 999)), "source" => "inventory"},
                )
            };
            match tools.call(tool, arguments, &mut rng, TOOL_LIMIT).await {
                CallOutcome::Ok(result) => {
                    tokio::time::sleep(rng.latency(150.0, 0.5, 40, 1_200)).await;
                    let sources: Vec<J> = result
                        .get("results")
                        .and_then(Value::as_array)
                        .map(|results| {
                            results
                                .iter()
                                .filter_map(|r| r.get("url").and_then(Value::as_str))
                                .map(J::from)
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(obj! {
                        "summary" => format!("{} key findings on \"{}\"", 2 + rng.range(0, 3), task.title),
                        "sources" => sources,
                        "tool" => tool,
                    })
                }
                CallOutcome::Error { message } => {
                    Err(("tool_error".to_owned(), format!("{tool}: {message}")))
                }
                CallOutcome::TimedOut => {
                    Err(("timeout".to_owned(), format!("{tool} did not answer")))
                }
            }
        }
        Role::Writer => {
            tokio::time::sleep(rng.latency(380.0, 0.45, 120, 2_500)).await;
            if rng.chance(0.04) {
                Err((
                    "model_error".to_owned(),
                    "draft rejected by the content filter".to_owned(),
                ))
            } else {
                let words = rng.range(120, 180);
                Ok(obj! {
                    "draft" => format!("{}: {words}-word brief ready for review.", task.title),
                    "words" => words,
                })
            }
        }
        Role::OpsDesk => Err((
            "unsupported".to_owned(),
            "ops-desk takes no tasks".to_owned(),
        )),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let result = match outcome {
        Ok(result) => obj! {
            "task_id" => &task.task_id,
            "from" => me,
            "to" => &task.from,
            "status" => "completed",
            "result" => result,
        },
        Err((kind, message)) => obj! {
            "task_id" => &task.task_id,
            "from" => me,
            "to" => &task.from,
            "status" => "failed",
            "error" => obj! {"type" => kind, "message" => message},
        },
    };
    let result = result
        .with("completed_at", iso_now_millis())
        .with("elapsed_ms", elapsed_ms);
    handle.publish(
        &task.reply_topic,
        QoS::AtLeastOnce,
        false,
        js_json(&result),
        wire::with_correlation(task.correlation),
    );
}

fn research_query(title: &str) -> String {
    title.trim_start_matches("Research: ").to_ascii_lowercase()
}
