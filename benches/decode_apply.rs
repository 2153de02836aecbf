//! Benchmark: decode + apply of realistic small messages per dialect, one core (`cargo bench --bench decode_apply`).
//!
//! Exchanges are taken from the real-SDK capture (`shared/fixtures/peers-mesh/capture.jsonl`)
//! where the dialect is in it, else from PROTOCOLS.md's examples; each copy gets fresh ids of
//! the same length, so pairing does real work. Prints messages/s per dialect and overall, and
//! beside it the same run's reference: `serde_json::from_slice::<Value>` alone on the same payloads.
#![cfg_attr(test, allow(dead_code))]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use meshscope::model::mesh::{Mesh, MeshConfig, Outcome};
use meshscope::protocol::{Properties, RawMessage};
use meshscope::record;

const EXCHANGES: usize = 60_000;
/// Exchanges start this far apart (receive time), so thousands are in flight at once.
const SPACING_NANOS: u64 = 20_000;

fn fixture() -> Vec<RawMessage> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/peers-mesh/capture.jsonl");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    record::read_jsonl(std::io::BufReader::new(file))
        .map(|m| m.expect("fixture line"))
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn replace(hay: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(old) {
            out.extend_from_slice(new);
            i += old.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The fixture messages that mention `token` (topic, payload or Correlation Data), in order.
fn exchange_of(all: &[RawMessage], token: &[u8]) -> Vec<RawMessage> {
    all.iter()
        .filter(|m| {
            contains(&m.topic, token)
                || contains(&m.payload, token)
                || m.props()
                    .correlation_data
                    .as_deref()
                    .is_some_and(|c| contains(c, token))
        })
        .cloned()
        .collect()
}

/// A same-length replacement for `old` unique to copy `n`: lowercase hex, valid in topics and JSON.
fn fresh(old: &[u8], n: usize, salt: usize) -> Vec<u8> {
    let digits = format!("{:016x}{:08x}", n, salt);
    let mut out = old.to_vec();
    let len = out.len();
    for (k, b) in digits.bytes().rev().take(len).enumerate() {
        out[len - 1 - k] = b;
    }
    out
}

/// `copies` of an exchange with fresh tokens; `salt` keeps the ids of different templates apart.
fn instantiate(
    template: &[RawMessage],
    tokens: &[&[u8]],
    copies: usize,
    base_nanos: u64,
    salt: usize,
) -> Vec<RawMessage> {
    let t0 = template.first().map_or(0, |m| m.received_at_nanos);
    let mut out = Vec::with_capacity(template.len() * copies);
    for n in 0..copies {
        let news: Vec<Vec<u8>> = tokens
            .iter()
            .enumerate()
            .map(|(k, t)| fresh(t, n, salt * 16 + k))
            .collect();
        let sub = |bytes: &[u8]| {
            let mut v = bytes.to_vec();
            for (old, new) in tokens.iter().zip(&news) {
                v = replace(&v, old, new);
            }
            v
        };
        for m in template {
            let mut raw = m.clone();
            raw.received_at_nanos =
                base_nanos + n as u64 * SPACING_NANOS + (m.received_at_nanos - t0);
            raw.topic = sub(&m.topic).into();
            raw.payload = Arc::from(sub(&m.payload));
            if let Some(p) = &m.properties {
                let mut p: Properties = (**p).clone();
                p.correlation_data = p.correlation_data.as_deref().map(sub);
                raw.properties = Some(Box::new(p));
            }
            out.push(raw);
        }
    }
    out.sort_by_key(|m| m.received_at_nanos);
    out
}

fn synthetic(topic: &str, payload: &str, at: u64, props: &[(&str, &str)]) -> RawMessage {
    let mut raw = RawMessage::new(at, topic, payload.as_bytes().to_vec());
    raw.qos = 1;
    if !props.is_empty() {
        raw.properties = Some(Box::new(Properties {
            user_properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Properties::default()
        }));
    }
    raw
}

struct Workload {
    name: &'static str,
    messages: Vec<RawMessage>,
}

fn workloads(all: &[RawMessage]) -> Vec<Workload> {
    let base = 1_800_000_000_000_000_000u64;
    let mut w = Vec::new();
    // MQTT.Agent MCP: a plain call, and a streaming call with 4 partials (fixture).
    let mut mcp = instantiate(
        &exchange_of(all, b"call_mwt1qfzw_nbdh6r5i"),
        &[b"call_mwt1qfzw_nbdh6r5i"],
        EXCHANGES,
        base,
        0,
    );
    mcp.extend(instantiate(
        &exchange_of(all, b"call_mwt1qgtq_j4sm62fz"),
        &[b"call_mwt1qgtq_j4sm62fz"],
        EXCHANGES / 4,
        base,
        1,
    ));
    mcp.sort_by_key(|m| m.received_at_nanos);
    w.push(Workload {
        name: "mqtt-agent-mcp",
        messages: mcp,
    });
    // MQTT.Agent A2A (not in the capture): inbox + per-task result, PROTOCOLS.md 1.3.
    let cs_a2a = vec![
        synthetic(
            "a2a/v1/tasks/analyst/inbox",
            r#"{"task_id":"5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11","from":"scout","type":"research","title":"Find competitors","prompt":"List three competitors of ACME in the EU market"}"#,
            0,
            &[],
        ),
        synthetic(
            "a2a/v1/tasks/5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11/result",
            r#"{"task_id":"5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11","status":"completed","result":"Globex, Initech, Umbrella"}"#,
            90_000_000,
            &[],
        ),
    ];
    w.push(Workload {
        name: "mqtt-agent-a2a",
        messages: instantiate(
            &cs_a2a,
            &[b"5f0c6c8e-8f0e-4a51-9d6e-2b1f6f7f0a11"],
            EXCHANGES,
            base,
            2,
        ),
    });
    // EMQX MCP (not in the capture): PROTOCOLS.md 2.7's worked example.
    let emqx_mcp = vec![
        synthetic(
            "$mcp-rpc/6f1c0a9e2b3c4d5e/a9e2f00d1c2b3a49/demo/calculator",
            r#"{"jsonrpc":"2.0","id":"000000000002","method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#,
            0,
            &[
                ("MCP-COMPONENT-TYPE", "mcp-client"),
                ("MCP-MQTT-CLIENT-ID", "6f1c0a9e2b3c4d5e"),
            ],
        ),
        synthetic(
            "$mcp-rpc/6f1c0a9e2b3c4d5e/a9e2f00d1c2b3a49/demo/calculator",
            r#"{"jsonrpc":"2.0","id":"000000000002","result":{"content":[{"type":"text","text":"3"}],"isError":false}}"#,
            4_000_000,
            &[
                ("MCP-COMPONENT-TYPE", "mcp-server"),
                ("MCP-MQTT-CLIENT-ID", "a9e2f00d1c2b3a49"),
            ],
        ),
    ];
    w.push(Workload {
        name: "emqx-mcp",
        messages: instantiate(&emqx_mcp, &[b"000000000002"], EXCHANGES, base, 3),
    });
    // EMQX A2A: request + submitted/working/artifact/completed (fixture).
    w.push(Workload {
        name: "emqx-a2a",
        messages: instantiate(
            &exchange_of(all, b"corr-echo-1-ad5201"),
            &[
                b"corr-echo-1-ad5201",
                b"ac4fa81f-9385-4806-810f-48fc73b88798",
            ],
            EXCHANGES,
            base,
            4,
        ),
    });
    // OpenMAS request + response (fixture).
    w.push(Workload {
        name: "openmas",
        messages: instantiate(
            &exchange_of(all, b"21ffb15c-536c-4e18-8aaf-efba0a306b45"),
            &[b"21ffb15c-536c-4e18-8aaf-efba0a306b45"],
            EXCHANGES,
            base,
            5,
        ),
    });
    // Plain MQTT 5 request/response (fixture; binary Correlation Data).
    let corr = [
        0x36u8, 0xae, 0x28, 0x05, 0x6e, 0x3b, 0xfe, 0xd4, 0x48, 0x70, 0x06, 0xab, 0xa1, 0xe5, 0xf5,
        0x5d,
    ];
    w.push(Workload {
        name: "mqtt5-rpc",
        messages: instantiate(&exchange_of(all, &corr), &[&corr], EXCHANGES, base, 6),
    });
    // JSON-RPC on an unknown topic.
    let jsonrpc = vec![
        synthetic(
            "lab/rpc/calc",
            r#"{"jsonrpc":"2.0","id":"000000000042","method":"sum","params":[1,2,3]}"#,
            0,
            &[],
        ),
        synthetic(
            "lab/rpc/calc/out",
            r#"{"jsonrpc":"2.0","id":"000000000042","result":6}"#,
            2_000_000,
            &[],
        ),
    ];
    w.push(Workload {
        name: "jsonrpc",
        messages: instantiate(&jsonrpc, &[b"000000000042"], EXCHANGES, base, 7),
    });
    // Raw MQTT (fixture: the "Hello, MQTT!" publisher).
    let hello: Vec<RawMessage> = all
        .iter()
        .filter(|m| &*m.topic == b"agentic-ai/demo")
        .take(1)
        .cloned()
        .collect();
    w.push(Workload {
        name: "raw",
        messages: instantiate(&hello, &[], EXCHANGES * 2, base, 8),
    });
    w
}

/// Best of three runs of decode + apply into a fresh mesh: messages/s, and the share of kept
/// traces that paired (ok or error) in the last run (a sanity check: pairing really ran).
fn measure(messages: &[RawMessage]) -> (f64, f64) {
    let mut best = f64::INFINITY;
    let mut paired = 0.0;
    for _ in 0..3 {
        let mut mesh = Mesh::new(MeshConfig::default());
        let start = Instant::now();
        for m in messages {
            black_box(mesh.apply(m));
        }
        if let Some(last) = messages.last() {
            mesh.tick(last.received_at_nanos);
        }
        best = best.min(start.elapsed().as_secs_f64());
        let total = mesh.trace_count().max(1) as f64;
        let ok = mesh
            .traces()
            .filter(|t| matches!(t.outcome, Outcome::Ok | Outcome::Error))
            .count() as f64;
        paired = if mesh.trace_count() == 0 {
            f64::NAN
        } else {
            100.0 * ok / total
        };
    }
    (messages.len() as f64 / best, paired)
}

/// Reference: parse each payload into a `serde_json::Value` and drop it (what a naive decoder costs).
fn measure_value_parse(messages: &[RawMessage]) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        for m in messages {
            black_box(serde_json::from_slice::<serde_json::Value>(&m.payload).ok());
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    messages.len() as f64 / best
}

fn main() {
    let all = fixture();
    let loads = workloads(&all);
    println!("decode + apply, one core, {EXCHANGES} exchanges per dialect (best of 3)");
    println!(
        "{:<16} {:>10} {:>8} {:>12} {:>9} {:>24}",
        "dialect", "messages", "avg B", "msg/s", "paired %", "ref: Value parse msg/s"
    );
    for load in &loads {
        let bytes: usize = load.messages.iter().map(|m| m.payload.len()).sum();
        let (rate, paired) = measure(&load.messages);
        let reference = measure_value_parse(&load.messages);
        println!(
            "{:<16} {:>10} {:>8} {:>12.0} {:>9.1} {:>24.0}",
            load.name,
            load.messages.len(),
            bytes / load.messages.len().max(1),
            rate,
            paired,
            reference
        );
    }
    // Overall: every dialect's exchanges interleaved on one timeline.
    let mut mixed: Vec<RawMessage> = loads
        .iter()
        .flat_map(|l| l.messages.iter().cloned())
        .collect();
    mixed.sort_by_key(|m| m.received_at_nanos);
    let bytes: usize = mixed.iter().map(|m| m.payload.len()).sum();
    let (rate, paired) = measure(&mixed);
    let reference = measure_value_parse(&mixed);
    println!(
        "{:<16} {:>10} {:>8} {:>12.0} {:>9.1} {:>24.0}",
        "overall (mixed)",
        mixed.len(),
        bytes / mixed.len().max(1),
        rate,
        paired,
        reference
    );
    println!(
        "budget: >= 500000 msg/s (DESIGN.md). paired % = kept traces answered (ok or error) at the end of the run"
    );
}
