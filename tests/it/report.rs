//! The headless report: `report::replay_file` on the peers-mesh capture and on Meshscope's own recording format.

use std::collections::BTreeSet;
use std::io::Write;

use meshscope::model::mesh::MeshConfig;
use meshscope::record;
use meshscope::report;
use serde_json::Value;

use crate::fixture::capture_path;

const DIALECTS: &[&str] = &[
    "mqtt-agent-mcp",
    "mqtt-agent-a2a",
    "emqx-mcp",
    "emqx-a2a",
    "openmas",
    "mqtt5-rpc",
    "jsonrpc",
];

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn has_all(v: &Value, want: &[&str]) {
    let got = keys(v);
    for k in want {
        assert!(got.contains(k), "missing `{k}` in {v}");
    }
}

#[test]
fn replaying_the_capture_gives_the_documented_shape() {
    let r = report::replay_file(&capture_path(), MeshConfig::default()).unwrap();
    assert_eq!(r["meshscope_report"], 1);
    assert_eq!(
        keys(&r),
        BTreeSet::from([
            "meshscope_report",
            "observed",
            "participants",
            "traces",
            "stats",
            "edges"
        ])
    );

    let observed = &r["observed"];
    has_all(
        observed,
        &["from_nanos", "to_nanos", "messages", "undecoded"],
    );
    assert_eq!(observed["messages"], 1432);
    assert_eq!(observed["undecoded"], 2);
    assert_eq!(observed["from_nanos"], 1_795_425_075_318_091_528u64);
    assert_eq!(observed["to_nanos"], 1_795_425_137_852_050_726u64);
    assert_eq!(observed["unreadable_lines"], 0);

    let participants = r["participants"].as_array().unwrap();
    assert!(participants.len() >= 10);
    let kind_order = |k: &str| {
        ["agent", "mcp_server", "tool", "client"]
            .iter()
            .position(|x| *x == k)
            .unwrap()
    };
    let mut sort_keys = Vec::new();
    for p in participants {
        has_all(
            p,
            &[
                "id",
                "kind",
                "dialect",
                "status",
                "status_source",
                "last_seen_nanos",
            ],
        );
        assert!(DIALECTS.contains(&p["dialect"].as_str().unwrap()));
        assert!(["online", "offline", "stale", "unknown"].contains(&p["status"].as_str().unwrap()));
        assert!(
            ["card", "status_topic", "lwt", "broker", "traffic"]
                .contains(&p["status_source"].as_str().unwrap())
        );
        assert!(p["last_seen_nanos"].is_null() || p["last_seen_nanos"].is_u64());
        sort_keys.push((
            kind_order(p["kind"].as_str().unwrap()),
            DIALECTS.iter().position(|d| *d == p["dialect"]).unwrap(),
            p["id"].as_str().unwrap().to_owned(),
        ));
    }
    assert!(
        sort_keys.windows(2).all(|w| w[0] < w[1]),
        "participants sorted by kind, dialect, id"
    );
    let summarizer = participants
        .iter()
        .find(|p| p["id"] == "peers/lab/summarizer")
        .unwrap();
    assert_eq!(
        (
            summarizer["status"].as_str(),
            summarizer["status_source"].as_str()
        ),
        (Some("offline"), Some("lwt"))
    );

    let traces = r["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 146 + 139 + 66 + 90);
    let mut last_request_at = 0;
    for t in traces {
        has_all(
            t,
            &[
                "dialect",
                "caller",
                "callee",
                "operation",
                "correlation",
                "request_at_nanos",
                "response_at_nanos",
                "latency_micros",
                "outcome",
                "partials",
            ],
        );
        assert!(DIALECTS.contains(&t["dialect"].as_str().unwrap()));
        let outcome = t["outcome"].as_str().unwrap();
        assert!(
            ["ok", "error", "timeout", "pending"].contains(&outcome),
            "{t}"
        );
        let request_at = t["request_at_nanos"].as_u64().unwrap();
        assert!(request_at >= last_request_at, "traces in request order");
        last_request_at = request_at;
        match outcome {
            "ok" | "error" => {
                let resp = t["response_at_nanos"].as_u64().unwrap();
                assert_eq!(
                    t["latency_micros"].as_u64().unwrap(),
                    (resp - request_at) / 1000
                );
            }
            _ => assert!(t["latency_micros"].is_null()),
        }
        if outcome == "error" {
            assert!(t["error"]["class"].is_string(), "{t}");
        }
    }
    let streamed = traces
        .iter()
        .find(|t| t["callee"] == "count_stream")
        .unwrap();
    assert_eq!(streamed["partials"], 4);
    let mcp_ok = traces
        .iter()
        .find(|t| t["callee"] == "echo" && t["outcome"] == "ok")
        .unwrap();
    assert!(
        mcp_ok["server_elapsed_micros"].is_u64(),
        "elapsed_ms kept beside our latency"
    );

    let stats = r["stats"].as_array().unwrap();
    let mut last = None;
    for s in stats {
        has_all(
            s,
            &[
                "dialect",
                "callee",
                "operation",
                "count",
                "errors",
                "p50_micros",
                "p95_micros",
                "p99_micros",
            ],
        );
        let k = (
            DIALECTS.iter().position(|d| *d == s["dialect"]).unwrap(),
            s["callee"].as_str().unwrap().to_owned(),
            s["operation"].as_str().unwrap().to_owned(),
        );
        assert!(last.as_ref().is_none_or(|l| *l < k), "stats sorted");
        last = Some(k);
        if let (Some(p50), Some(p95), Some(p99)) = (
            s["p50_micros"].as_u64(),
            s["p95_micros"].as_u64(),
            s["p99_micros"].as_u64(),
        ) {
            assert!(p50 <= p95 && p95 <= p99);
        }
    }
    let slow = stats.iter().find(|s| s["callee"] == "slow_lookup").unwrap();
    assert_eq!(slow["count"], 21);
    // 300-800 ms tool: the median is in that range (our clock adds transport time).
    let p50 = slow["p50_micros"].as_u64().unwrap();
    assert!((300_000..900_000).contains(&p50), "{p50}");
    let divide = stats.iter().find(|s| s["callee"] == "divide").unwrap();
    assert!(divide["errors"].as_u64().unwrap() > 0);
    let edges = r["edges"].as_array().unwrap();
    assert!(
        edges
            .iter()
            .any(|e| e["caller"] == "peers/lab/planner" && e["callee"] == "peers/lab/echo")
    );
}

#[test]
fn a_meshscope_recording_replays_to_the_same_report_and_the_report_is_deterministic() {
    let file = std::fs::File::open(capture_path()).unwrap();
    let dir = std::env::temp_dir().join(format!("meshscope-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("recording.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    record::write_header(
        &record::RecordingHeader::new(None, Some("capture".into())),
        &mut out,
    )
    .unwrap();
    for (seq, m) in record::read_jsonl(std::io::BufReader::new(file)).enumerate() {
        record::write_line(&m.unwrap(), &mut out, seq as u64 + 1).unwrap();
    }
    // A damaged line in the middle is skipped and counted, not the end of the replay.
    out.write_all(b"{\"ts_ns\": \"soon\"}\n").unwrap();
    out.flush().unwrap();
    drop(out);
    let mut from_capture = report::replay_file(&capture_path(), MeshConfig::default()).unwrap();
    let again = report::replay_file(&capture_path(), MeshConfig::default()).unwrap();
    assert_eq!(from_capture, again, "deterministic");
    let mut from_recording = report::replay_file(&path, MeshConfig::default()).unwrap();
    let observed = from_recording["observed"].as_object_mut().unwrap();
    assert_eq!(observed.remove("unreadable_lines"), Some(Value::from(1)));
    assert!(
        observed
            .remove("first_unreadable")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("line 1434")
    );
    from_capture["observed"]
        .as_object_mut()
        .unwrap()
        .remove("unreadable_lines");
    assert_eq!(from_recording, from_capture);
    std::fs::remove_dir_all(&dir).ok();
    assert!(report::replay_file(&dir.join("missing.jsonl"), MeshConfig::default()).is_err());
}
