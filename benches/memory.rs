//! Memory: bytes per stored message beyond its payload, and peak RSS during a flood with a budget set.
//!
//! `cargo bench --bench memory` (set `MESHSCOPE_FLOOD_SECS` to shorten the 60 s flood).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshscope::broker::EmbeddedBroker;
use meshscope::ingest::{self, SharedModel};
use meshscope::model::{Model, ModelConfig, StoreLimits};
use meshscope::mqtt::{self, SessionOptions};
use meshscope::protocol::{Properties, RawMessage};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, MqttOptions};

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Realistic small messages: MCP calls and responses with the SDK's properties, ~200 B payloads.
fn message(i: u64) -> RawMessage {
    let call_id = format!("call_m{:07x}_{:08}", i / 2, i / 2);
    let (topic, payload, props) = if i.is_multiple_of(2) {
        (
            format!("a2a/v1/mcp/tools/tool{}/call", i % 40),
            format!(
                "{{\"call_id\":\"{call_id}\",\"arguments\":{{\"q\":\"station {}\"}},\"client\":\"scout\",\"timestamp\":\"2026-11-23T10:00:00.000Z\",\"response_topic\":\"a2a/v1/mcp/clients/scout/responses\"}}",
                i % 97
            ),
            Some(Box::new(Properties {
                response_topic: Some("a2a/v1/mcp/clients/scout/responses".into()),
                correlation_data: Some(call_id.clone().into_bytes()),
                ..Properties::default()
            })),
        )
    } else {
        (
            "a2a/v1/mcp/clients/scout/responses".to_owned(),
            format!(
                "{{\"call_id\":\"{call_id}\",\"status\":\"ok\",\"result\":{{\"temp\":21.5,\"unit\":\"C\"}},\"elapsed_ms\":{}}}",
                i % 900
            ),
            Some(Box::new(Properties {
                correlation_data: Some(call_id.into_bytes()),
                ..Properties::default()
            })),
        )
    };
    RawMessage {
        received_at_nanos: 1_800_000_000_000_000_000 + i * 100_000,
        topic: topic.into_bytes().into_boxed_slice(),
        payload: Arc::from(payload.into_bytes()),
        qos: 1,
        retain: false,
        dup: false,
        properties: props,
    }
}

fn per_message_overhead() {
    const N: u64 = 1_000_000;
    let messages: Vec<RawMessage> = (0..N).map(message).collect();
    let payload_bytes: u64 = messages.iter().map(|m| m.payload.len() as u64).sum();
    // The store alone, then the whole model (store + mesh: traces, stats, presence).
    let before = status_kib("VmRSS:");
    let mut store = meshscope::model::MessageStore::new(StoreLimits {
        max_messages: usize::MAX,
        max_bytes: usize::MAX,
    });
    for m in messages.iter().cloned() {
        store.push(m, Default::default());
    }
    let after = status_kib("VmRSS:");
    let topic_bytes: u64 = messages.iter().map(|m| m.topic.len() as u64).sum();
    // Payloads were allocated before `before` and are shared (Arc), so the delta is all overhead.
    let store_per = ((after.saturating_sub(before)) * 1024) as f64 / N as f64;
    drop(store);
    let before = status_kib("VmRSS:");
    let mut model = Model::new(ModelConfig {
        store: StoreLimits {
            max_messages: usize::MAX,
            max_bytes: usize::MAX,
        },
        ..ModelConfig::default()
    });
    for m in messages.iter().cloned() {
        model.apply_message(m);
    }
    let after = status_kib("VmRSS:");
    let model_per = ((after.saturating_sub(before)) * 1024) as f64 / N as f64;
    println!(
        "| bytes per stored message beyond payload (store) | {store_per:.0} B | topics average {:.0} B, payloads average {:.0} B | <= 250 B |",
        topic_bytes as f64 / N as f64,
        payload_bytes as f64 / N as f64
    );
    println!(
        "| bytes per stored message beyond payload (store + mesh model) | {model_per:.0} B | {} traces | <= 250 B |",
        model.mesh.trace_count()
    );
    drop(model);
    drop(messages);
}

fn flood_with_budget() {
    let secs: u64 = std::env::var("MESHSCOPE_FLOOD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let budget_mib = 64usize;
    meshscope::mqtt::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let broker = runtime
        .block_on(EmbeddedBroker::start(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            0,
        ))))
        .expect("broker");
    let port = broker.local_addr().port();
    let model = SharedModel::new(ModelConfig {
        store: StoreLimits {
            max_messages: usize::MAX,
            max_bytes: budget_mib * 1024 * 1024,
        },
        ..ModelConfig::default()
    });
    let (events, receiver) = ingest::channel();
    runtime.spawn(ingest::run(model.clone(), receiver, None));
    let _session = mqtt::spawn(
        runtime.handle(),
        SessionOptions::new(format!("mqtt://127.0.0.1:{port}").parse().expect("url")),
        events,
    );
    let baseline_kib = status_kib("VmRSS:");
    let started = Instant::now();
    runtime.block_on(async {
        let mut options = MqttOptions::new("memory-flood", "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_outgoing_inflight_upper_limit(100);
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        let driver = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        let mut i = 0u64;
        while started.elapsed() < Duration::from_secs(secs) {
            let m = message(i);
            if client
                .publish(
                    String::from_utf8_lossy(&m.topic).into_owned(),
                    QoS::AtMostOnce,
                    false,
                    m.payload.to_vec(),
                )
                .await
                .is_err()
            {
                break;
            }
            i += 1;
        }
        let _ = client.disconnect().await;
        driver.abort();
    });
    let m = model.lock();
    let c = m.store.counters();
    println!(
        "| {secs} s flood, store budget {budget_mib} MiB | peak RSS {} MiB (baseline {} MiB) | {} received, {} stored ({} MiB), {} evicted | store within budget: {} |",
        status_kib("VmHWM:") / 1024,
        baseline_kib / 1024,
        m.messages_total,
        c.stored_messages,
        c.stored_bytes / 1024 / 1024,
        c.evicted_messages,
        c.stored_bytes <= budget_mib * 1024 * 1024
    );
    drop(m);
    runtime.block_on(broker.shutdown());
}

fn main() {
    println!("| measure | figure | detail | budget |");
    println!("| --- | --- | --- | --- |");
    per_message_overhead();
    flood_with_budget();
}
