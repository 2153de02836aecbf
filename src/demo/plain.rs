//! Plain MQTT 5: a paho-style request/response pair (`rpc-client-1` → `calc-service`, Response
//! Topic + binary Correlation Data) and a raw telemetry gateway (no dialect at all).

use super::sleep_until_opt;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, PublishProperties};
use serde_json::Value;
use tokio::task::JoinSet;

use super::link::{LinkConfig, LinkEvent};
use super::rng::wall_clock_millis;
use super::wire::{self, J, js_json, obj, python_json};
use super::{Ctx, Waiters, reap};

const REQUEST_TOPIC: &str = "demo/rpc/calc/request";
const RPC_CLIENT: &str = "rpc-client-1";
const CALC_SERVICE: &str = "calc-service";
const REQUEST_LIMIT: Duration = Duration::from_secs(3);
const JSON: &str = "application/json";

/// `calc-service`: answers requests that carry both Response Topic and Correlation Data (others
/// are ignored, as in the paho example); now and then it is too busy to answer at all.
pub(super) async fn run_calc_service(ctx: Ctx) {
    let label = "plain/calc-service";
    let mut rng = ctx.rng(label);
    let mut config = LinkConfig::new(label, CALC_SERVICE);
    config.keep_alive_secs = 60;
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    handle.subscribe(REQUEST_TOPIC, QoS::AtLeastOnce);
    let mut tasks = JoinSet::new();
    loop {
        reap(&mut tasks);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {}
                Some(LinkEvent::Message(publish)) => {
                    let (Some(reply_topic), Some(correlation)) =
                        (wire::response_topic(&publish).map(str::to_owned), wire::correlation_data(&publish))
                    else {
                        continue;
                    };
                    let body = wire::json_object(&publish).unwrap_or_default();
                    let handle = handle.clone();
                    let mut request_rng = rng.fork();
                    // Busy drops show timeouts in the demo client's own traffic; a request sent
                    // by hand (the composer, `meshscope call`) always gets its answer.
                    let from_demo_client = reply_topic.starts_with("demo/rpc/replies/");
                    tasks.spawn(async move {
                        tokio::time::sleep(request_rng.latency(25.0, 0.7, 2, 900)).await;
                        if from_demo_client && request_rng.chance(0.07) {
                            tracing::debug!("calc-service: request dropped (busy)");
                            return;
                        }
                        let a = body.get("a").and_then(Value::as_f64).unwrap_or(0.0);
                        let b = body.get("b").and_then(Value::as_f64).unwrap_or(0.0);
                        let outcome = match body.get("op").and_then(Value::as_str) {
                            Some("add") => Ok(a + b),
                            Some("mul") => Ok(a * b),
                            Some("div") if b == 0.0 => Err(("DIV_ZERO", "division by zero".to_owned())),
                            Some("div") => Ok(a / b),
                            other => Err(("BAD_OP", format!("unsupported op {}", other.unwrap_or("(none)")))),
                        };
                        let (status, payload) = match outcome {
                            Ok(value) => ("ok", obj! {"result" => number(value)}),
                            Err((code, message)) => ("error", obj! {"error" => obj! {"code" => code, "message" => message}}),
                        };
                        handle.publish(
                            &reply_topic,
                            QoS::AtLeastOnce,
                            false,
                            python_json(&payload),
                            PublishProperties {
                                payload_format_indicator: Some(1),
                                correlation_data: Some(correlation),
                                content_type: Some(JSON.to_owned()),
                                user_properties: vec![
                                    ("status".to_owned(), status.to_owned()),
                                    ("served-by".to_owned(), CALC_SERVICE.to_owned()),
                                ],
                                ..PublishProperties::default()
                            },
                        );
                    });
                }
            },
        }
    }
    tasks.abort_all();
    link.close().await;
}

fn number(value: f64) -> J {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        J::from(value as i64)
    } else {
        J::from(value)
    }
}

/// `rpc-client-1`: Response Topic + Correlation Data (16 random bytes, every fifth a readable
/// `req-N`), content type, payload format, a 10 s expiry and trace user properties.
pub(super) async fn run_rpc_client(ctx: Ctx) {
    let label = "plain/rpc-client";
    let mut rng = ctx.rng(label);
    let mut config = LinkConfig::new(label, RPC_CLIENT);
    config.keep_alive_secs = 60;
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    let reply_topic = format!("demo/rpc/replies/{RPC_CLIENT}");
    handle.subscribe(&reply_topic, QoS::AtLeastOnce);
    let waiters: Waiters<Bytes> = Waiters::new();
    let mut tasks = JoinSet::new();
    let mut next_at: Option<tokio::time::Instant> = None;
    let mut sent = 0u64;
    loop {
        reap(&mut tasks);
        let due = sleep_until_opt(next_at);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {
                    if next_at.is_none() {
                        next_at = Some(tokio::time::Instant::now() + rng.millis(100, 250));
                    }
                }
                Some(LinkEvent::Message(publish)) => {
                    if let Some(correlation) = wire::correlation_data(&publish) {
                        waiters.complete(&correlation, publish);
                    }
                }
            },
            _ = due => {
                sent += 1;
                let correlation = if sent.is_multiple_of(5) {
                    Bytes::from(format!("req-{sent}").into_bytes())
                } else {
                    Bytes::from(rng.bytes(16))
                };
                let op = match sent {
                    1 => "mul",
                    2 => "div",
                    _ => rng.pick(&["add", "mul", "mul", "div"]).copied().unwrap_or("add"),
                };
                let b = if op == "div" && (sent == 2 || rng.chance(0.35)) { 0 } else { rng.range(1, 9) };
                let payload = obj! {"op" => op, "a" => rng.range(1, 20), "b" => b};
                let reply = waiters.register(correlation.clone());
                handle.publish(
                    REQUEST_TOPIC,
                    QoS::AtLeastOnce,
                    false,
                    python_json(&payload),
                    PublishProperties {
                        payload_format_indicator: Some(1),
                        message_expiry_interval: Some(10),
                        response_topic: Some(reply_topic.clone()),
                        correlation_data: Some(correlation.clone()),
                        user_properties: vec![
                            ("trace-id".to_owned(), rng.hex(32)),
                            ("sender".to_owned(), RPC_CLIENT.to_owned()),
                        ],
                        content_type: Some(JSON.to_owned()),
                        ..PublishProperties::default()
                    },
                );
                let waiters = waiters.clone();
                tasks.spawn(async move {
                    if waiters.wait(&correlation, reply, REQUEST_LIMIT).await.is_none() {
                        tracing::debug!("rpc-client-1: no reply in time");
                    }
                });
                next_at = Some(tokio::time::Instant::now() + rng.latency(650.0, 0.4, 200, 2_500));
            }
        }
    }
    tasks.abort_all();
    link.close().await;
}

/// A sensor gateway publishing raw readings (text and JSON) with a retained status and a
/// conventional "offline" Last Will: traffic no agent dialect claims.
pub(super) async fn run_telemetry(ctx: Ctx) {
    let label = "plain/telemetry";
    let mut rng = ctx.rng(label);
    let status_topic = "plant/line-1/gateway/status";
    let mut config = LinkConfig::new(label, "line1-sensor-gw");
    config.will = Some(LastWill::new(
        status_topic,
        "offline",
        QoS::AtLeastOnce,
        true,
        None,
    ));
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    let mut connected = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(1_000));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut temperature = 21.5f64;
    loop {
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {
                    connected = true;
                    handle.publish_plain(status_topic, QoS::AtLeastOnce, true, "online");
                }
                Some(LinkEvent::Message(_)) => {}
            },
            _ = ticker.tick() => {
                if !connected {
                    continue;
                }
                temperature = (temperature + rng.normal() * 0.15).clamp(18.0, 27.0);
                handle.publish_plain(
                    "plant/line-1/sensors/temperature",
                    QoS::AtMostOnce,
                    false,
                    format!("{temperature:.2}"),
                );
                let vibration = obj! {
                    "rms_mm_s" => ((2.0 + rng.normal().abs() * 0.6) * 100.0).round() / 100.0,
                    "ts" => wall_clock_millis(),
                };
                handle.publish_plain("plant/line-1/sensors/vibration", QoS::AtMostOnce, false, js_json(&vibration));
            }
        }
    }
    handle.publish_plain(status_topic, QoS::AtLeastOnce, true, "offline");
    link.close().await;
}
