//! The mesh model on real SDK traffic (`shared/fixtures/peers-mesh/capture.jsonl`), and decoders under random/malformed input.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use meshscope::model::mesh::{Mesh, MeshConfig, Outcome};
use meshscope::protocol::{
    self, Dialect, ParticipantKind, Properties, RawMessage, Status, StatusSource,
};
use meshscope::record;
use serde_json::Value;

const SECOND_NANOS: u64 = 1_000_000_000;

pub fn capture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/peers-mesh/capture.jsonl")
}

/// The capture's lines as plain JSON: the test's own independent reading of the wire.
fn lines() -> Vec<Value> {
    let text = std::fs::read_to_string(capture_path()).expect("fixture capture.jsonl");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("capture line"))
        .collect()
}

fn messages() -> Vec<RawMessage> {
    let file = std::fs::File::open(capture_path()).expect("fixture capture.jsonl");
    record::read_jsonl(std::io::BufReader::new(file))
        .map(|m| m.expect("readable line"))
        .collect()
}

fn payload(line: &Value) -> Option<Value> {
    serde_json::from_str(line["payload"].as_str()?).ok()
}

fn corr_hex(line: &Value) -> String {
    line["properties"]["correlation_data_hex"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn ts(line: &Value) -> u64 {
    line["ts_ns"].as_u64().unwrap()
}

/// What the raw lines say each request's fate is: answered (and whether with an error) or not.
#[derive(Debug, Default)]
struct Expected {
    /// correlation (as the model displays it) → Some(is_error) when a final answer came, None when not.
    requests: BTreeMap<String, Option<bool>>,
    /// correlation → (request ts, final answer ts)
    times: HashMap<String, (u64, Option<u64>)>,
}

fn expected_by_dialect(lines: &[Value]) -> BTreeMap<&'static str, Expected> {
    let mut out: BTreeMap<&'static str, Expected> = BTreeMap::new();
    // MQTT.Agent MCP: `.../mcp/tools/{t}/call` ↔ `.../mcp/clients/{c}/responses` by call_id.
    let mut mcp_answers: HashMap<String, (bool, u64)> = HashMap::new();
    for l in lines {
        let topic = l["topic"].as_str().unwrap();
        if topic.starts_with("a2a/v1/mcp/clients/") && topic.ends_with("/responses") {
            let p = payload(l).unwrap();
            let id = p["call_id"].as_str().unwrap().to_owned();
            mcp_answers
                .entry(id)
                .or_insert((p["status"] == "error", ts(l)));
        }
    }
    let e = out.entry("mqtt-agent-mcp").or_default();
    for l in lines {
        let topic = l["topic"].as_str().unwrap();
        if topic.starts_with("a2a/v1/mcp/tools/") && topic.ends_with("/call") {
            let id = payload(l).unwrap()["call_id"].as_str().unwrap().to_owned();
            let answer = mcp_answers.get(&id);
            e.requests.insert(id.clone(), answer.map(|a| a.0));
            e.times.insert(id, (ts(l), answer.map(|a| a.1)));
        }
    }
    // EMQX A2A: request (Response Topic, Correlation Data) ↔ replies on that topic with that
    // Correlation Data; the exchange ends at an error or a terminal/interrupted task state.
    let mut a2a_final: HashMap<(String, String), (bool, u64)> = HashMap::new();
    for l in lines {
        let topic = l["topic"].as_str().unwrap();
        if !topic.starts_with("$a2a/v1/reply/") {
            continue;
        }
        let p = payload(l).unwrap();
        let state = p["result"]["statusUpdate"]["status"]["state"]
            .as_str()
            .unwrap_or("");
        let is_error = p.get("error").is_some() || state == "TASK_STATE_FAILED";
        let is_final = p.get("error").is_some()
            || matches!(
                state,
                "TASK_STATE_COMPLETED"
                    | "TASK_STATE_FAILED"
                    | "TASK_STATE_CANCELED"
                    | "TASK_STATE_REJECTED"
            );
        if is_final {
            a2a_final
                .entry((topic.to_owned(), corr_hex(l)))
                .or_insert((is_error, ts(l)));
        }
    }
    let e = out.entry("emqx-a2a").or_default();
    for l in lines {
        let topic = l["topic"].as_str().unwrap();
        if topic.starts_with("$a2a/v1/request/") {
            let rt = l["properties"]["response_topic"]
                .as_str()
                .unwrap()
                .to_owned();
            let corr = l["properties"]["correlation_data_utf8"]
                .as_str()
                .unwrap()
                .to_owned();
            let answer = a2a_final.get(&(rt, corr_hex(l)));
            e.requests.insert(corr.clone(), answer.map(|a| a.0));
            e.times.insert(corr, (ts(l), answer.map(|a| a.1)));
        }
    }
    // OpenMAS: `openmas/{target}/request/{m}` ↔ `openmas/{source}/response/{id}` by payload id.
    let mut om_answers: HashMap<String, (bool, u64)> = HashMap::new();
    for l in lines {
        let topic = l["topic"].as_str().unwrap();
        if topic.starts_with("openmas/") && topic.split('/').nth(2) == Some("response") {
            let p = payload(l).unwrap();
            om_answers.insert(
                p["id"].as_str().unwrap().to_owned(),
                (p.get("error").is_some(), ts(l)),
            );
        }
    }
    let e = out.entry("openmas").or_default();
    for l in lines {
        let topic = l["topic"].as_str().unwrap();
        if topic.starts_with("openmas/") && topic.split('/').nth(2) == Some("request") {
            let id = payload(l).unwrap()["id"].as_str().unwrap().to_owned();
            let answer = om_answers.get(&id);
            e.requests.insert(id.clone(), answer.map(|a| a.0));
            e.times.insert(id, (ts(l), answer.map(|a| a.1)));
        }
    }
    // Plain MQTT 5: Response Topic + Correlation Data; errors flagged by the `status` user property.
    let mut rpc_answers: HashMap<(String, String), (bool, u64)> = HashMap::new();
    for l in lines {
        let props = &l["properties"];
        if props["response_topic"].is_null()
            && !props["correlation_data_hex"].is_null()
            && l["topic"].as_str().unwrap().starts_with("agentic-ai/")
        {
            let status_error = props["user_properties"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kv| kv[0] == "status" && kv[1] == "error");
            rpc_answers.insert(
                (l["topic"].as_str().unwrap().to_owned(), corr_hex(l)),
                (status_error, ts(l)),
            );
        }
    }
    let e = out.entry("mqtt5-rpc").or_default();
    for l in lines {
        let props = &l["properties"];
        if let (Some(rt), true) = (
            props["response_topic"].as_str(),
            l["topic"].as_str().unwrap().starts_with("agentic-ai/"),
        ) {
            let hex = corr_hex(l);
            // The model shows Correlation Data as text when printable, else hex.
            let shown = match props["correlation_data_utf8"].as_str() {
                Some(t) if !t.chars().any(char::is_control) => t.to_owned(),
                _ => hex.clone(),
            };
            let answer = rpc_answers.get(&(rt.to_owned(), hex));
            e.requests.insert(shown.clone(), answer.map(|a| a.0));
            e.times.insert(shown, (ts(l), answer.map(|a| a.1)));
        }
    }
    out
}

fn replay(config: MeshConfig) -> (Mesh, u64) {
    let mut mesh = Mesh::new(config);
    let mut last = 0;
    for m in messages() {
        last = m.received_at_nanos;
        mesh.apply(&m);
    }
    (mesh, last)
}

#[test]
fn every_request_is_paired_with_its_response_or_times_out() {
    let lines = lines();
    let expected = expected_by_dialect(&lines);
    // Sanity: the capture holds what its README says (counted from the raw lines).
    assert_eq!(expected["mqtt-agent-mcp"].requests.len(), 146);
    assert_eq!(expected["emqx-a2a"].requests.len(), 139);
    assert_eq!(expected["openmas"].requests.len(), 66);
    assert_eq!(expected["mqtt5-rpc"].requests.len(), 90);

    let (mut mesh, last) = replay(MeshConfig::default());
    // Past every deadline: nothing may stay pending.
    mesh.tick(last + 31 * SECOND_NANOS);
    assert_eq!(
        mesh.counters().orphans,
        0,
        "every response has its request in the capture"
    );
    for (dialect, exp) in &expected {
        let traces: Vec<_> = mesh
            .traces()
            .filter(|t| t.dialect.as_str() == *dialect)
            .collect();
        let got: BTreeMap<String, Outcome> = traces
            .iter()
            .map(|t| (t.correlation.to_string(), t.outcome))
            .collect();
        assert_eq!(
            traces.len(),
            exp.requests.len(),
            "{dialect}: one trace per request"
        );
        assert_eq!(
            got.keys().collect::<BTreeSet<_>>(),
            exp.requests.keys().collect::<BTreeSet<_>>(),
            "{dialect}: correlations"
        );
        for (corr, answer) in &exp.requests {
            let want = match answer {
                Some(false) => Outcome::Ok,
                Some(true) => Outcome::Error,
                None => Outcome::Timeout,
            };
            assert_eq!(got[corr], want, "{dialect} {corr}");
        }
        let errors = exp.requests.values().filter(|a| **a == Some(true)).count();
        let timeouts = exp.requests.values().filter(|a| a.is_none()).count();
        assert!(errors > 0, "{dialect}: the capture has error responses");
        // OpenMAS answered everything in this capture; the others left some requests unanswered.
        assert_eq!(
            timeouts > 0,
            *dialect != "openmas",
            "{dialect}: unanswered requests"
        );
        // Latency is the response's receive time minus the request's, nothing else.
        for t in &traces {
            let (req_at, resp_at) = exp.times[&*t.correlation];
            assert_eq!(t.request_at_nanos, Some(req_at));
            if let Some(resp_at) = resp_at {
                assert_eq!(
                    t.response_at_nanos,
                    Some(resp_at),
                    "{dialect} {}",
                    t.correlation
                );
                assert_eq!(t.latency_micros(), Some((resp_at - req_at) / 1000));
            }
        }
    }
    assert_eq!(mesh.pending_count(), 0);
}

#[test]
fn at_the_end_of_the_capture_only_recent_requests_are_still_pending() {
    let (mut mesh, last) = replay(MeshConfig::default());
    mesh.tick(last);
    let timeout = MeshConfig::default().request_timeout_nanos;
    for t in mesh.traces() {
        match t.outcome {
            Outcome::Pending => assert!(last - t.last_activity_nanos < timeout, "{t:?}"),
            Outcome::Timeout => assert!(t.closed_at_nanos.unwrap() <= last),
            _ => {}
        }
    }
    assert!(mesh.traces().any(|t| t.outcome == Outcome::Pending));
    assert!(mesh.traces().any(|t| t.outcome == Outcome::Timeout));
}

#[test]
fn the_summarizer_goes_offline_with_source_lwt_at_its_last_will() {
    let lines = lines();
    let will = lines
        .iter()
        .find(|l| {
            l["topic"] == "$a2a/v1/discovery/peers/lab/summarizer"
                && l["properties"]["user_properties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|kv| kv[0] == "a2a-status-source" && kv[1] == "lwt")
        })
        .expect("the Last Will is in the capture");
    let (mut mesh, last) = replay(MeshConfig::default());
    mesh.tick(last);
    let p = mesh
        .participant(
            Dialect::EmqxA2a,
            ParticipantKind::Agent,
            "peers/lab/summarizer",
        )
        .unwrap();
    assert_eq!(
        (p.status, p.status_source),
        (Status::Offline, StatusSource::Lwt)
    );
    assert_eq!(p.status_since_nanos, ts(will));
    let history: Vec<_> = p.history.iter().map(|t| (t.status, t.source)).collect();
    assert_eq!(
        history,
        [
            (Status::Online, StatusSource::Card),
            (Status::Offline, StatusSource::Lwt)
        ]
    );
    // Its requester is a client (no card), and the agents it answered for were seen by traffic.
    let orchestrator = mesh
        .participant(
            Dialect::EmqxA2a,
            ParticipantKind::Client,
            "peers/lab/a2a-orchestrator",
        )
        .unwrap();
    assert_eq!(orchestrator.kind, ParticipantKind::Client);
}

#[test]
fn streamed_partials_and_error_classes() {
    let (mut mesh, last) = replay(MeshConfig::default());
    mesh.tick(last);
    let streams: Vec<_> = mesh
        .traces()
        .filter(|t| &*t.callee == "count_stream")
        .collect();
    assert_eq!(streams.len(), 21);
    for t in &streams {
        assert_eq!(t.partials.len(), 4, "count_stream emits 4 partials");
        let seqs: Vec<_> = t
            .partials_in_order()
            .iter()
            .map(|p| p.stream_seq.unwrap())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] <= w[1]) && seqs[0] > 1_000_000_000_000,
            "seq is Date.now()"
        );
        assert!(t.first_partial_micros().unwrap() <= t.latency_micros().unwrap());
    }
    let classes: BTreeSet<(String, String)> = mesh
        .traces()
        .filter_map(|t| {
            Some((
                t.dialect.as_str().to_owned(),
                t.error.as_ref()?.class.to_string(),
            ))
        })
        .collect();
    for want in [
        ("mqtt-agent-mcp", "tool_error"),
        ("emqx-a2a", "transport_protocol_error"),
        ("emqx-a2a", "parse_error"),
        ("emqx-a2a", "failed"),
        ("openmas", "method_not_found"),
        ("openmas", "handler_error"),
        ("mqtt5-rpc", "error"),
    ] {
        assert!(
            classes.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {classes:?}"
        );
    }
    // Tools of the MQTT.Agent server went offline with it at the end (graceful stop).
    let echo = mesh
        .participant(Dialect::MqttAgentMcp, ParticipantKind::Tool, "echo")
        .unwrap();
    assert_eq!(echo.status, Status::Offline);
    assert_eq!(echo.server_id.as_deref(), Some("mcp-tools-server"));
    // The undecoded messages are exactly the two requests that are not JSON.
    assert_eq!(mesh.observed().undecoded, 2);
}

/// xorshift64*: the property test's own seeded generator (no new crates).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Topics that belong to a dialect: a broken payload on them is undecoded.
const DIALECT_TOPICS: &[&str] = &[
    "a2a/v1/mcp/servers/srv/card",
    "a2a/v1/mcp/tools/echo/card",
    "a2a/v1/mcp/tools/echo/call",
    "a2a/v1/mcp/tools/echo/stream/call_1",
    "a2a/v1/mcp/clients/scout/responses",
    "a2a/v1/agents/scout/card",
    "a2a/v1/agents/scout/status",
    "a2a/v1/tasks/scout/inbox",
    "a2a/v1/tasks/scout/results",
    "a2a/v1/tasks/t1/result",
    "$mcp-server/presence/sid/demo/calc",
    "$mcp-server/sid/demo/calc",
    "$mcp-server/capability/sid/demo/calc",
    "$mcp-client/presence/cid",
    "$mcp-rpc/cid/sid/demo/calc",
    "$mcp-rpc-endpoint/cid/demo/calc",
    "$a2a/v1/discovery/o/u/a",
    "$a2a/v1/request/o/u/a",
    "$a2a/v1/reply/o/u/me/x",
    "openmas/agent-b/request/m",
    "openmas/agent-a/response/r1",
];

#[test]
fn random_and_malformed_input_never_panics_and_is_counted_as_undecoded() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inputs: Vec<(RawMessage, bool)> = Vec::new();
    let at = |i: usize| 1_800_000_000 * SECOND_NANOS + i as u64 * 1_000_000;
    // Random bytes (1..300) on every dialect topic: never a valid message there.
    for i in 0..3_000 {
        let topic = DIALECT_TOPICS[rng.below(DIALECT_TOPICS.len())];
        let len = 1 + rng.below(300);
        let mut payload = rng.bytes(len);
        payload[0] = b'#'; // not a bare status word, not JSON
        inputs.push((RawMessage::new(at(i), topic, payload), true));
    }
    // Random bytes on non-dialect topics, sometimes with request/response properties: raw or generic, not undecoded.
    for i in 0..2_000 {
        let topic = format!("fuzz/t{}", rng.below(50));
        let len = rng.below(200);
        let mut raw = RawMessage::new(at(i), &topic, rng.bytes(len));
        if rng.below(3) == 0 {
            let corr_len = rng.below(20);
            raw.properties = Some(Box::new(Properties {
                response_topic: (rng.below(2) == 0).then(|| format!("fuzz/r{}", rng.below(5))),
                correlation_data: Some(rng.bytes(corr_len)),
                ..Properties::default()
            }));
        }
        inputs.push((raw, false));
    }
    // Broken JSON: every dialect message of the capture cut short.
    let dialect_messages: Vec<RawMessage> = messages()
        .into_iter()
        .filter(|m| {
            let t = m.topic_str().unwrap();
            (t.starts_with("$a2a/") || t.starts_with("a2a/v1/mcp/") || t.starts_with("openmas/"))
                && m.payload.len() > 2
        })
        .collect();
    for (i, m) in dialect_messages.iter().enumerate() {
        let cut = 1 + rng.below(m.payload.len() - 1);
        let mut broken = m.clone();
        broken.payload = Arc::from(&m.payload[..cut]);
        broken.received_at_nanos = at(i);
        inputs.push((broken, true));
    }
    // Wrong field types.
    for (topic, payload) in [
        (
            "a2a/v1/mcp/servers/s/card",
            r#"{"version":"1","server":"s","tools":5}"#,
        ),
        ("a2a/v1/mcp/tools/t/call", r#"{"call_id":5,"arguments":{}}"#),
        (
            "a2a/v1/mcp/clients/c/responses",
            r#"{"call_id":"c","status":["ok"]}"#,
        ),
        (
            "a2a/v1/mcp/tools/t/stream/c",
            r#"{"call_id":"c","seq":"one","type":"partial"}"#,
        ),
        (
            "$a2a/v1/request/o/u/a",
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
        ),
        (
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#,
        ),
        (
            "$mcp-rpc/c/s/n",
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":"half"}}"#,
        ),
        (
            "openmas/b/request/m",
            r#"{"id":["x"],"source":"a","target":"b"}"#,
        ),
        (
            "openmas/a/response/x",
            r#"{"id":"x","source":7,"target":"a"}"#,
        ),
        ("a2a/v1/tasks/b/inbox", r#"{"task_id":{"id":1}}"#),
        ("a2a/v1/agents/b/status", r#"{"status":true}"#),
        ("$a2a/v1/discovery/o/u/a", "[1,2,3]"),
    ] {
        inputs.push((
            RawMessage::new(at(0), topic, payload.as_bytes().to_vec()),
            true,
        ));
    }
    // Deep JSON: 64 levels decode, 65 and 100 000 do not (and do not overflow the stack).
    let nested = |depth: usize| {
        // {"call_id":"c","arguments": [[...]] } : the object is level 1.
        format!(
            r#"{{"call_id":"c","arguments":{}{}}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    inputs.push((
        RawMessage::new(at(1), "a2a/v1/mcp/tools/t/call", nested(64).into_bytes()),
        false,
    ));
    inputs.push((
        RawMessage::new(at(2), "a2a/v1/mcp/tools/t/call", nested(65).into_bytes()),
        true,
    ));
    inputs.push((
        RawMessage::new(at(3), "$mcp-rpc/c/s/n", "[".repeat(100_000).into_bytes()),
        true,
    ));
    inputs.push((
        RawMessage::new(
            at(4),
            "openmas/b/request/m",
            format!("{}{}", "{\"a\":".repeat(100_000), "1").into_bytes(),
        ),
        true,
    ));
    // Non-UTF-8 topics and payloads.
    for i in 0..200 {
        let mut raw = RawMessage::new(at(i), "x", b"{}".to_vec());
        let mut topic = b"a2a/v1/mcp/tools/".to_vec();
        let len = 1 + rng.below(10);
        topic.extend(rng.bytes(len));
        topic.push(0xff);
        raw.topic = topic.into();
        inputs.push((raw, true));
        let mut payload = br#"{"call_id":""#.to_vec();
        payload.extend([0xc3, 0x28]);
        payload.extend(br#""}"#);
        inputs.push((
            RawMessage::new(at(i), "a2a/v1/mcp/clients/c/responses", payload),
            true,
        ));
    }

    let mut mesh = Mesh::new(MeshConfig::default());
    let mut expected_undecoded = 0u64;
    for (raw, undecodable) in &inputs {
        let decoded = protocol::decode(raw);
        let flagged = match &decoded {
            Err(_) => true,
            Ok(obs) => obs.issue.is_some(),
        };
        assert_eq!(
            flagged,
            *undecodable,
            "topic {:?} payload {:?} -> {decoded:?}",
            raw.topic_lossy(),
            String::from_utf8_lossy(&raw.payload[..raw.payload.len().min(120)])
        );
        if *undecodable {
            expected_undecoded += 1;
        }
        let tag = mesh.apply(raw);
        assert_eq!(
            tag.note.is_some() && flagged,
            flagged,
            "a decode problem is noted beside the message"
        );
    }
    mesh.tick(1_900_000_000 * SECOND_NANOS);
    assert_eq!(mesh.observed().undecoded, expected_undecoded);
    assert_eq!(mesh.observed().messages, inputs.len() as u64);
    let deep: Vec<_> = inputs
        .iter()
        .filter(|(r, _)| r.payload.len() > 50_000)
        .collect();
    for (raw, _) in deep {
        let err = protocol::decode(raw).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("JSON nested deeper than 64 levels"));
    }
}
