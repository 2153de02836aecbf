//! EMQX A2A over MQTT (profile v0.1, A2A v1.0 names): responders `triage` (delegates to
//! `summarizer`) and `summarizer`, and the `helpdesk` requester, as the `a2a-over-mqtt` Python
//! SDK puts them on the wire (Python JSON spacing, the error-`id` quirk included).

use super::sleep_until_opt;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, LastWillProperties, Publish, PublishProperties};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::link::{LinkConfig, LinkEvent, LinkHandle};
use super::rng::{Rng, iso_now_micros};
use super::wire::{self, J, arr, obj, python_json};
use super::{Ctx, Streams, reap};

pub(super) const ORG: &str = "com.acme";
pub(super) const UNIT: &str = "support";
const HELPDESK: &str = "helpdesk";
/// The profile's default is 15 s; the demo's requester is less patient so retries show up.
const REPLY_FIRST_TIMEOUT: Duration = Duration::from_secs(4);
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: u32 = 3;
const SUB_TASK_LIMIT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Responder {
    Triage,
    Summarizer,
}

impl Responder {
    fn agent_id(self) -> &'static str {
        match self {
            Responder::Triage => "triage",
            Responder::Summarizer => "summarizer",
        }
    }
}

/// The client id the profile mandates (`{org}/{unit}/{agent}`) and a `/`-free fallback for
/// brokers that refuse `/` in client ids (the embedded one does).
fn client_ids(agent: &str) -> (String, String) {
    (
        format!("{ORG}/{UNIT}/{agent}"),
        format!("{ORG}.{UNIT}.{agent}"),
    )
}

fn card(ctx: &Ctx, responder: Responder) -> J {
    let (name, description, tags) = match responder {
        Responder::Triage => (
            "Triage Agent",
            "Classifies support tickets; delegates long ones to the summarizer",
            vec!["support", "classification"],
        ),
        Responder::Summarizer => (
            "Summarizer Agent",
            "Summarizes ticket threads; fails on inputs containing FAIL",
            vec!["support", "summarization"],
        ),
    };
    let url = format!("mqtt://{}:{}", ctx.options.host, ctx.options.port);
    obj! {
        "name" => name,
        "description" => description,
        "version" => "0.1.0",
        "supportedInterfaces" => arr![obj! {
            "url" => url,
            "protocolBinding" => "MQTTv5+JSONRPCv2",
            "protocolVersion" => "1.0.0",
        }],
        "capabilities" => obj! {"streaming" => true, "pushNotifications" => false},
        "defaultInputModes" => arr!["text/plain"],
        "defaultOutputModes" => arr!["text/plain"],
        "skills" => arr![obj! {
            "id" => responder.agent_id(),
            "name" => name,
            "description" => description,
            "tags" => tags,
        }],
    }
}

fn presence_properties(status: &str, source: &str) -> Vec<(String, String)> {
    vec![
        ("a2a-status".to_owned(), status.to_owned()),
        ("a2a-status-source".to_owned(), source.to_owned()),
    ]
}

fn publish_card(handle: &LinkHandle, topic: &str, card: &J, status: &str) {
    handle.publish(
        topic,
        QoS::AtLeastOnce,
        true,
        python_json(card),
        PublishProperties {
            user_properties: presence_properties(status, "agent"),
            ..PublishProperties::default()
        },
    );
}

/// A responder: retained card with `a2a-status`, Will = the card with `a2a-status=offline` /
/// `a2a-status-source=lwt`, requests on its own request topic, replies streamed to the
/// request's Response Topic with its Correlation Data.
pub(super) async fn run_responder(ctx: Ctx, responder: Responder) {
    let agent = responder.agent_id();
    let label = format!("emqx-a2a/{agent}");
    let mut rng = ctx.rng(&label);
    let card = card(&ctx, responder);
    let discovery_topic = format!("$a2a/v1/discovery/{ORG}/{UNIT}/{agent}");
    let (client_id, fallback) = client_ids(agent);
    let mut config = LinkConfig::new(&label, client_id);
    config.fallback_client_id = Some(fallback);
    config.keep_alive_secs = 30;
    config.will = Some(LastWill::new(
        &discovery_topic,
        python_json(&card),
        QoS::AtLeastOnce,
        true,
        Some(LastWillProperties {
            delay_interval: None,
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            user_properties: presence_properties("offline", "lwt"),
        }),
    ));
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    handle.subscribe(
        &format!("$a2a/v1/request/{ORG}/{UNIT}/{agent}"),
        QoS::AtLeastOnce,
    );
    // The triage agent is also a requester (it delegates summaries).
    let reply_prefix = format!("$a2a/v1/reply/{ORG}/{UNIT}/{agent}/");
    let streams: Streams<Bytes> = Streams::new();
    let mut tasks = JoinSet::new();
    loop {
        reap(&mut tasks);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => publish_card(&handle, &discovery_topic, &card, "online"),
                Some(LinkEvent::Message(publish)) => {
                    let Some(topic) = wire::topic(&publish) else { continue };
                    if topic.starts_with(&reply_prefix) {
                        route_reply(&streams, &publish);
                        continue;
                    }
                    let Some(request) = accept_request(&handle, &publish) else { continue };
                    let handle = handle.clone();
                    let streams = streams.clone();
                    let task_rng = rng.fork();
                    tasks.spawn(async move { respond(responder, &handle, &streams, request, task_rng).await });
                }
            },
        }
    }
    tasks.abort_all();
    // Graceful leave: the card again, retained, marked offline by the agent itself.
    publish_card(&handle, &discovery_topic, &card, "offline");
    link.close().await;
}

fn route_reply(streams: &Streams<Bytes>, publish: &Publish) {
    match wire::correlation_data(publish) {
        Some(correlation) => {
            if !streams.route(&correlation, publish.clone()) {
                tracing::debug!("emqx-a2a: reply for a correlation nobody waits for");
            }
        }
        None => tracing::debug!("emqx-a2a: reply without Correlation Data ignored"),
    }
}

struct Request {
    rpc_id: J,
    reply_topic: String,
    correlation: Bytes,
    task_id: String,
    context_id: Option<String>,
    text: String,
}

fn error_reply(
    handle: &LinkHandle,
    reply_topic: &str,
    correlation: Option<Bytes>,
    code: i64,
    message: &str,
    a2a_error: Option<&str>,
) {
    // SDK quirk: the JSON-RPC `id` of an error reply is the Correlation Data string.
    let id = correlation
        .as_ref()
        .map(|bytes| J::from(String::from_utf8_lossy(bytes).into_owned()))
        .unwrap_or(J::Null);
    let mut error = obj! {"code" => code, "message" => message};
    if let Some(a2a_error) = a2a_error {
        error = error.with("data", obj! {"a2a_error" => a2a_error});
    }
    let reply = obj! {"jsonrpc" => "2.0", "id" => id, "error" => error};
    handle.publish(
        reply_topic,
        QoS::AtLeastOnce,
        false,
        python_json(&reply),
        wire::with_correlation(correlation),
    );
}

/// Validates a request the way the reference responder does; answers binding errors itself.
fn accept_request(handle: &LinkHandle, publish: &Publish) -> Option<Request> {
    if publish.payload.is_empty() {
        return None;
    }
    // Without a Response Topic there is nowhere to answer.
    let reply_topic = wire::response_topic(publish)?.to_owned();
    let Some(correlation) = wire::correlation_data(publish) else {
        error_reply(
            handle,
            &reply_topic,
            None,
            -32005,
            "Missing Correlation Data",
            Some("transport_protocol_error"),
        );
        return None;
    };
    let Some(body) = wire::json_object(publish) else {
        error_reply(
            handle,
            &reply_topic,
            Some(correlation),
            -32700,
            "Parse error",
            None,
        );
        return None;
    };
    let message = body.get("params").and_then(|params| params.get("message"));
    let Some(task_id) = message
        .and_then(|m| m.get("taskId"))
        .and_then(Value::as_str)
    else {
        error_reply(
            handle,
            &reply_topic,
            Some(correlation),
            -32005,
            "Missing required Task.id (message.taskId)",
            Some("transport_protocol_error"),
        );
        return None;
    };
    let text = message
        .and_then(|m| m.get("parts"))
        .and_then(Value::as_array)
        .and_then(|parts| {
            parts
                .iter()
                .find_map(|part| part.get("text").and_then(Value::as_str))
        })
        .unwrap_or("")
        .to_owned();
    Some(Request {
        rpc_id: body.get("id").cloned().map(J::Raw).unwrap_or(J::Null),
        reply_topic,
        correlation,
        task_id: task_id.to_owned(),
        context_id: message
            .and_then(|m| m.get("contextId"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        text,
    })
}

/// Publishes one reply stream item for a request.
struct ReplyStream<'a> {
    handle: &'a LinkHandle,
    request: &'a Request,
}

impl ReplyStream<'_> {
    fn send(&self, result: J) {
        let reply =
            obj! {"jsonrpc" => "2.0", "id" => self.request.rpc_id.clone(), "result" => result};
        self.handle.publish(
            &self.request.reply_topic,
            QoS::AtLeastOnce,
            false,
            python_json(&reply),
            wire::with_correlation(Some(self.request.correlation.clone())),
        );
    }

    fn ids(&self) -> J {
        obj! {"taskId" => &self.request.task_id, "contextId" => self.request.context_id.clone()}
    }

    fn status(&self, state: &str, message: Option<(&str, &str)>, rng: &mut Rng) {
        let mut status = obj! {"state" => state, "timestamp" => iso_now_micros()};
        if let Some((text, _)) = message {
            status = status.with(
                "message",
                obj! {"messageId" => rng.hex(32), "role" => "ROLE_AGENT", "parts" => arr![obj! {"text" => text}]},
            );
        }
        let mut update = self.ids().with("status", status);
        if let Some((_, kind)) = message.filter(|(_, kind)| !kind.is_empty()) {
            update = update.with("metadata", obj! {"type" => kind});
        }
        self.send(obj! {"statusUpdate" => update});
    }

    fn artifact(&self, text: &str, rng: &mut Rng) {
        let update = self
            .ids()
            .with(
                "artifact",
                obj! {"artifactId" => rng.hex(12), "parts" => arr![obj! {"text" => text}]},
            )
            .with("lastChunk", true);
        self.send(obj! {"artifactUpdate" => update});
    }
}

async fn respond(
    responder: Responder,
    handle: &LinkHandle,
    streams: &Streams<Bytes>,
    request: Request,
    mut rng: Rng,
) {
    let out = ReplyStream {
        handle,
        request: &request,
    };
    // An overloaded summarizer now and then drops a request: no reply at all, the requester retries.
    if responder == Responder::Summarizer && rng.chance(0.04) {
        tracing::debug!(task_id = %request.task_id, "summarizer: request dropped (overloaded)");
        return;
    }
    tokio::time::sleep(rng.millis(3, 15)).await;
    out.status("TASK_STATE_SUBMITTED", None, &mut rng);
    match responder {
        Responder::Summarizer => {
            tokio::time::sleep(rng.millis(20, 60)).await;
            out.status(
                "TASK_STATE_WORKING",
                Some(("thinking...", "text")),
                &mut rng,
            );
            tokio::time::sleep(rng.latency(420.0, 0.5, 120, 4_000)).await;
            if request.text.contains("FAIL") || rng.chance(0.1) {
                out.status("TASK_STATE_FAILED", Some(("Internal error", "")), &mut rng);
                return;
            }
            let words: Vec<&str> = request.text.split_whitespace().take(8).collect();
            out.artifact(&format!("Summary: {}…", words.join(" ")), &mut rng);
            out.status("TASK_STATE_COMPLETED", None, &mut rng);
        }
        Responder::Triage => {
            tokio::time::sleep(rng.millis(20, 60)).await;
            out.status(
                "TASK_STATE_WORKING",
                Some(("classifying ticket", "text")),
                &mut rng,
            );
            let category = rng
                .pick(&["billing", "outage", "how-to", "account"])
                .copied()
                .unwrap_or("how-to");
            let priority = rng.pick(&["P1", "P2", "P3", "P3"]).copied().unwrap_or("P3");
            let mut answer = format!("category={category} priority={priority}");
            if request.text.len() > 60 || rng.chance(0.35) {
                out.status(
                    "TASK_STATE_WORKING",
                    Some(("delegating summary to summarizer", "tool_use")),
                    &mut rng,
                );
                match ask_summarizer(handle, streams, &request, &mut rng).await {
                    Some(summary) => answer = format!("{answer}; {summary}"),
                    None => {
                        out.status("TASK_STATE_FAILED", Some(("Internal error", "")), &mut rng);
                        return;
                    }
                }
            } else {
                tokio::time::sleep(rng.latency(90.0, 0.5, 20, 800)).await;
            }
            out.artifact(&answer, &mut rng);
            out.status("TASK_STATE_COMPLETED", None, &mut rng);
        }
    }
}

/// Triage's nested request to the summarizer (its own reply topic and correlation).
async fn ask_summarizer(
    handle: &LinkHandle,
    streams: &Streams<Bytes>,
    parent: &Request,
    rng: &mut Rng,
) -> Option<String> {
    let reply_topic = format!("$a2a/v1/reply/{ORG}/{UNIT}/triage/{}", rng.hex(12));
    let correlation = Bytes::from(format!("triage-{}", rng.hex(12)).into_bytes());
    let rpc_id = format!("triage-sub-{}", rng.hex(8));
    let outcome = exchange(
        handle,
        streams,
        "summarizer",
        &reply_topic,
        // One attempt only: triage gives up (and fails its own task) rather than retry.
        &[Attempt {
            correlation,
            first_reply_within: SUB_TASK_LIMIT,
        }],
        send_message(
            &rpc_id,
            &format!("sub-task of {}: {}", parent.task_id, parent.text),
            &rng.uuid4(),
            &rng.uuid4(),
            "triage",
            rng,
        ),
    )
    .await;
    match outcome {
        Exchange::Completed(text) => Some(text),
        _ => None,
    }
}

fn send_message(
    rpc_id: &str,
    text: &str,
    task_id: &str,
    context_id: &str,
    sender: &str,
    rng: &mut Rng,
) -> J {
    obj! {
        "jsonrpc" => "2.0",
        "id" => rpc_id,
        "method" => "SendMessage",
        "params" => obj! {
            "message" => obj! {
                "messageId" => rng.hex(32),
                "role" => "ROLE_USER",
                "parts" => arr![obj! {"text" => text}],
                "taskId" => task_id,
                "contextId" => context_id,
            },
            "metadata" => obj! {"sender" => sender},
        },
    }
}

enum Exchange {
    Completed(String),
    Failed,
    NoReply,
}

/// One publish of a request: its own Correlation Data, and how long to wait for a first reply
/// before the next attempt (first-reply timeout plus the retry backoff).
struct Attempt {
    correlation: Bytes,
    first_reply_within: Duration,
}

/// The requester retry profile: new Correlation Data per attempt, backoff 1/2/4 s ± 20 % after
/// the first-reply timeout.
fn retry_attempts(rng: &mut Rng) -> Vec<Attempt> {
    (0..MAX_ATTEMPTS)
        .map(|attempt| {
            let backoff_millis = 1_000u64 << attempt;
            let jitter_millis = rng.range(0, backoff_millis * 2 / 5);
            Attempt {
                correlation: Bytes::from(rng.hex(16).into_bytes()),
                first_reply_within: REPLY_FIRST_TIMEOUT
                    + Duration::from_millis(backoff_millis * 4 / 5 + jitter_millis),
            }
        })
        .collect()
}

/// Subscribes the reply topic, publishes the request (once per attempt, each after the previous
/// got no first reply in time) and consumes the reply stream to a final state.
async fn exchange(
    handle: &LinkHandle,
    streams: &Streams<Bytes>,
    target: &str,
    reply_topic: &str,
    attempts: &[Attempt],
    payload: J,
) -> Exchange {
    handle.subscribe(reply_topic, QoS::AtLeastOnce);
    let request_topic = format!("$a2a/v1/request/{ORG}/{UNIT}/{target}");
    let body = python_json(&payload);
    let (tx, mut rx) = mpsc::channel::<Publish>(64);
    let mut forwarders = JoinSet::new();
    let mut outcome = Exchange::NoReply;
    'attempts: for (
        attempt,
        Attempt {
            correlation,
            first_reply_within,
        },
    ) in attempts.iter().enumerate()
    {
        // Replies to any correlation used for this logical request are accepted.
        let mut replies = streams.register(correlation.clone());
        let tx = tx.clone();
        forwarders.spawn(async move {
            while let Some(reply) = replies.recv().await {
                if tx.send(reply).await.is_err() {
                    break;
                }
            }
        });
        handle.publish(
            &request_topic,
            QoS::AtLeastOnce,
            false,
            body.clone(),
            PublishProperties {
                response_topic: Some(reply_topic.to_owned()),
                correlation_data: Some(correlation.clone()),
                ..PublishProperties::default()
            },
        );
        let mut limit = *first_reply_within;
        let mut artifact_text = String::new();
        let mut any_reply = false;
        loop {
            let Ok(Some(reply)) = tokio::time::timeout(limit, rx.recv()).await else {
                if any_reply {
                    break 'attempts;
                }
                if attempt + 1 < attempts.len() {
                    tracing::debug!(
                        target,
                        attempt = attempt + 1,
                        "emqx-a2a: no first reply, retrying with new Correlation Data"
                    );
                }
                continue 'attempts;
            };
            any_reply = true;
            limit = STREAM_IDLE_TIMEOUT;
            let Some(body) = wire::json_object(&reply) else {
                continue;
            };
            if body.contains_key("error") {
                outcome = Exchange::Failed;
                break 'attempts;
            }
            let result = body.get("result");
            if let Some(text) = result
                .and_then(|r| r.get("artifactUpdate"))
                .and_then(|update| update.get("artifact"))
                .and_then(|artifact| artifact.get("parts"))
                .and_then(Value::as_array)
                .and_then(|parts| {
                    parts
                        .iter()
                        .find_map(|part| part.get("text").and_then(Value::as_str))
                })
            {
                artifact_text.push_str(text);
            }
            let state = result
                .and_then(|r| r.get("statusUpdate"))
                .and_then(|update| update.get("status"))
                .and_then(|status| status.get("state"))
                .and_then(Value::as_str);
            match state {
                Some("TASK_STATE_COMPLETED") => {
                    outcome = Exchange::Completed(artifact_text);
                    break 'attempts;
                }
                Some(
                    "TASK_STATE_FAILED"
                    | "TASK_STATE_CANCELED"
                    | "TASK_STATE_REJECTED"
                    | "TASK_STATE_INPUT_REQUIRED"
                    | "TASK_STATE_AUTH_REQUIRED",
                ) => {
                    outcome = Exchange::Failed;
                    break 'attempts;
                }
                _ => {}
            }
        }
    }
    for attempt in attempts {
        streams.forget(&attempt.correlation);
    }
    forwarders.abort_all();
    handle.unsubscribe(reply_topic);
    outcome
}

const TICKETS: &[&str] = &[
    "Customer reports invoices duplicated after the March plan change; wants a refund for both",
    "Login loops back to the sign-in page on Safari",
    "Webhook deliveries to our endpoint time out since Tuesday, retries pile up and the queue grows",
    "How do I export all conversations as CSV?",
    "API returns 502 for /v2/search in eu-west about once a minute",
    "Please FAIL this ticket: the attachment is a corrupted PDF",
    "Two-factor codes arrive late by several minutes",
];

/// `helpdesk`: sends `SendMessage` requests to the responders (client id
/// `{org}/{unit}/helpdesk-{session}`), a fresh reply topic per request, 16-hex Correlation Data,
/// retries with new Correlation Data when no first reply comes; now and then a malformed request
/// (no `taskId`) that earns a binding error.
pub(super) async fn run_helpdesk(ctx: Ctx) {
    let label = "emqx-a2a/helpdesk";
    let mut rng = ctx.rng(label);
    let session = rng.hex(12);
    let (client_id, fallback) = client_ids(&format!("{HELPDESK}-{session}"));
    let mut config = LinkConfig::new(label, client_id);
    config.fallback_client_id = Some(fallback);
    config.keep_alive_secs = 30;
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    let reply_prefix = format!("$a2a/v1/reply/{ORG}/{UNIT}/{HELPDESK}/");
    let streams: Streams<Bytes> = Streams::new();
    let mut tasks = JoinSet::new();
    let mut next_request_at: Option<tokio::time::Instant> = None;
    let mut sent = 0u64;
    loop {
        reap(&mut tasks);
        let request_due = sleep_until_opt(next_request_at);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {
                    if next_request_at.is_none() {
                        next_request_at = Some(tokio::time::Instant::now() + rng.millis(120, 250));
                    }
                }
                Some(LinkEvent::Message(publish)) => {
                    if wire::topic(&publish).is_some_and(|topic| topic.starts_with(&reply_prefix)) {
                        route_reply(&streams, &publish);
                    }
                }
            },
            _ = request_due => {
                sent += 1;
                // The first two go to each responder so both dialect paths show at once.
                let target = match sent {
                    1 => "triage",
                    2 => "summarizer",
                    _ if rng.chance(0.6) => "triage",
                    _ => "summarizer",
                };
                let ticket = rng.pick(TICKETS).copied().unwrap_or("Login loops");
                let malformed = sent > 2 && rng.chance(0.04);
                let handle = handle.clone();
                let streams = streams.clone();
                let mut request_rng = rng.fork();
                tasks.spawn(async move {
                    let reply_topic = format!("$a2a/v1/reply/{ORG}/{UNIT}/{HELPDESK}/{}", request_rng.hex(12));
                    let attempts = retry_attempts(&mut request_rng);
                    let text = format!("ticket {sent}: {ticket}");
                    let mut payload = send_message(
                        &format!("req-{sent}"),
                        &text,
                        &request_rng.uuid4(),
                        &request_rng.uuid4(),
                        HELPDESK,
                        &mut request_rng,
                    );
                    if malformed {
                        payload = strip_task_id(payload);
                    }
                    exchange(&handle, &streams, target, &reply_topic, &attempts, payload).await;
                });
                next_request_at = Some(tokio::time::Instant::now() + rng.latency(900.0, 0.45, 250, 4_000));
            }
        }
    }
    tasks.abort_all();
    link.close().await;
}

/// A request as a buggy requester sends it: `message.taskId` missing.
fn strip_task_id(payload: J) -> J {
    fn strip(value: J) -> J {
        match value {
            J::Obj(entries) => J::Obj(
                entries
                    .into_iter()
                    .filter(|(key, _)| key != "taskId")
                    .map(|(key, value)| (key, strip(value)))
                    .collect(),
            ),
            other => other,
        }
    }
    strip(payload)
}
