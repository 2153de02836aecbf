//! OpenMAS `MqttCommunicator` pair: `om-planner` asks `om-calculator` (requests, HTTP-style
//! errors, notifications), QoS 0 with Python JSON envelopes and no MQTT 5 properties.

use super::sleep_until_opt;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Publish;
use serde_json::Value;
use tokio::task::JoinSet;

use super::link::{LinkConfig, LinkEvent, LinkHandle};
use super::rng::{Rng, wall_clock_millis};
use super::wire::{self, J, obj, python_json};
use super::{Ctx, Waiters, reap};

const PREFIX: &str = "openmas";
const CALCULATOR: &str = "om-calculator";
const PLANNER: &str = "om-planner";
/// OpenMAS defaults to 30 s; the demo's planner gives up sooner.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// `{agent_name}-{first 8 chars of a uuid4}`, paho MQTT 5, no Will, no properties.
fn link_config(agent: &str, rng: &mut Rng) -> LinkConfig {
    let uuid = rng.uuid4();
    let mut config = LinkConfig::new(
        format!("openmas/{agent}"),
        format!("{agent}-{}", &uuid[..8]),
    );
    config.keep_alive_secs = 60;
    config
}

fn subscribe_own(handle: &LinkHandle, agent: &str) {
    handle.subscribe(&format!("{PREFIX}/{agent}/request/#"), QoS::AtMostOnce);
    handle.subscribe(&format!("{PREFIX}/{agent}/response/#"), QoS::AtMostOnce);
}

/// `om-calculator`: `add`, `slow_multiply`, `fail` (500), anything else 404; a `log_event`
/// notification handler registered after start (so it is subscribed).
pub(super) async fn run_calculator(ctx: Ctx) {
    let mut rng = ctx.rng("openmas/calculator");
    let mut link = ctx.start_link(link_config(CALCULATOR, &mut rng), &mut rng);
    let handle = link.handle();
    subscribe_own(&handle, CALCULATOR);
    handle.subscribe(
        &format!("{PREFIX}/{CALCULATOR}/notification/log_event"),
        QoS::AtMostOnce,
    );
    let mut tasks = JoinSet::new();
    loop {
        reap(&mut tasks);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {}
                Some(LinkEvent::Message(publish)) => {
                    if let Some(request) = parse_request(&publish) {
                        let handle = handle.clone();
                        let request_rng = rng.fork();
                        tasks.spawn(async move { answer(&handle, request, request_rng).await });
                    }
                }
            },
        }
    }
    tasks.abort_all();
    link.close().await;
}

struct Request {
    request_id: String,
    source: String,
    method: String,
    params: Value,
}

/// Receiver parsing as the communicator does: `{prefix}/{me}/request/{method}`; notifications are
/// handled without a reply.
fn parse_request(publish: &Publish) -> Option<Request> {
    let topic = wire::topic(publish)?;
    let levels: Vec<&str> = topic.split('/').collect();
    if levels.len() < 4 || levels[1] != CALCULATOR || levels[2] != "request" {
        return None;
    }
    let body = wire::json_object(publish)?;
    Some(Request {
        request_id: wire::str_field(&body, "id")?.to_owned(),
        source: wire::str_field(&body, "source")?.to_owned(),
        method: levels[3].to_owned(),
        params: body.get("params").cloned().unwrap_or(Value::Null),
    })
}

async fn answer(handle: &LinkHandle, request: Request, mut rng: Rng) {
    let number = |key: &str| {
        request
            .params
            .get(key)
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let outcome: Result<J, (u64, String, &str)> = match request.method.as_str() {
        "add" => {
            tokio::time::sleep(rng.millis(0, 3)).await;
            Ok(obj! {"sum" => json_number(number("a") + number("b"))})
        }
        "slow_multiply" => {
            tokio::time::sleep(rng.latency(350.0, 0.5, 80, 2_500)).await;
            Ok(obj! {"product" => json_number(number("a") * number("b"))})
        }
        "fail" => Err((
            500,
            "calculator fail() always raises".to_owned(),
            "ValueError",
        )),
        other => Err((
            404,
            format!("Method '{other}' not found"),
            "MethodNotFoundError",
        )),
    };
    let response = obj! {
        "id" => &request.request_id,
        "source" => CALCULATOR,
        "target" => &request.source,
        "timestamp" => wall_clock_millis(),
    };
    let response = match outcome {
        Ok(result) => response.with("result", result),
        Err((code, message, details)) => response.with(
            "error",
            obj! {"code" => code, "message" => message, "details" => details},
        ),
    };
    handle.publish_plain(
        &format!(
            "{PREFIX}/{}/response/{}",
            request.source, request.request_id
        ),
        QoS::AtMostOnce,
        false,
        python_json(&response),
    );
}

/// Integral results print as integers, as Python's `int` arithmetic would.
fn json_number(value: f64) -> J {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        J::from(value as i64)
    } else {
        J::from(value)
    }
}

#[derive(Clone, Copy)]
enum Action {
    Add,
    SlowMultiply,
    Fail,
    Unknown,
    Notify,
}

const WARMUP: &[Action] = &[
    Action::Add,
    Action::SlowMultiply,
    Action::Fail,
    Action::Notify,
];

/// `om-planner`: requests to the calculator in a loop, and `log_event` notifications.
pub(super) async fn run_planner(ctx: Ctx) {
    let mut rng = ctx.rng("openmas/planner");
    let mut link = ctx.start_link(link_config(PLANNER, &mut rng), &mut rng);
    let handle = link.handle();
    subscribe_own(&handle, PLANNER);
    let waiters: Waiters<String> = Waiters::new();
    let mut tasks = JoinSet::new();
    let mut next_at: Option<tokio::time::Instant> = None;
    let mut round = 0usize;
    loop {
        reap(&mut tasks);
        let due = sleep_until_opt(next_at);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {
                    if next_at.is_none() {
                        next_at = Some(tokio::time::Instant::now() + rng.millis(150, 300));
                    }
                }
                Some(LinkEvent::Message(publish)) => {
                    // `{prefix}/{me}/response/{request_id}`
                    let request_id = wire::topic(&publish)
                        .and_then(|topic| topic.strip_prefix(&format!("{PREFIX}/{PLANNER}/response/")))
                        .map(str::to_owned);
                    if let Some(request_id) = request_id {
                        waiters.complete(&request_id, publish);
                    }
                }
            },
            _ = due => {
                let action = WARMUP.get(round).copied().unwrap_or_else(|| match rng.unit() {
                    r if r < 0.38 => Action::Add,
                    r if r < 0.62 => Action::SlowMultiply,
                    r if r < 0.74 => Action::Fail,
                    r if r < 0.79 => Action::Unknown,
                    _ => Action::Notify,
                });
                round += 1;
                let a = rng.range(1, 12);
                let b = rng.range(1, 9);
                let (method, params) = match action {
                    Action::Add => ("add", obj! {"a" => a, "b" => b}),
                    Action::SlowMultiply => ("slow_multiply", obj! {"a" => a, "b" => b}),
                    Action::Fail => ("fail", obj! {"reason" => "demo"}),
                    Action::Unknown => ("forecast_demand", obj! {}),
                    Action::Notify => ("log_event", obj! {"level" => "info", "msg" => format!("tick {round}")}),
                };
                let request_id = rng.uuid4();
                let envelope = obj! {
                    "id" => &request_id,
                    "source" => PLANNER,
                    "target" => CALCULATOR,
                    "method" => method,
                    "params" => params,
                    "timestamp" => wall_clock_millis(),
                };
                if let Action::Notify = action {
                    handle.publish_plain(
                        &format!("{PREFIX}/{CALCULATOR}/notification/{method}"),
                        QoS::AtMostOnce,
                        false,
                        python_json(&envelope.with("type", "notification")),
                    );
                } else {
                    let reply = waiters.register(request_id.clone());
                    handle.publish_plain(
                        &format!("{PREFIX}/{CALCULATOR}/request/{method}"),
                        QoS::AtMostOnce,
                        false,
                        python_json(&envelope),
                    );
                    let waiters = waiters.clone();
                    tasks.spawn(async move {
                        if waiters.wait(&request_id, reply, REQUEST_LIMIT).await.is_none() {
                            tracing::debug!(request_id, "om-planner: request timed out");
                        }
                    });
                }
                let pause = if round < WARMUP.len() { rng.millis(150, 250) } else { rng.latency(700.0, 0.4, 200, 2_500) };
                next_at = Some(tokio::time::Instant::now() + pause);
            }
        }
    }
    tasks.abort_all();
    link.close().await;
}
