//! The headless report: the mesh model as JSON (`meshscope report`), from a model or a replayed file.
//!
//! Shape (`meshscope_report: 1`), every list sorted deterministically:
//!
//! ```text
//! { "meshscope_report": 1,
//!   "observed": { "from_nanos", "to_nanos", "messages", "undecoded" },
//!   "participants": [ { "id", "kind": "agent|mcp_server|tool|client", "dialect",
//!                       "status": "online|offline|stale|unknown",
//!                       "status_source": "card|status_topic|lwt|broker|traffic", "last_seen_nanos",
//!                       "display_name"?, "server"? } ],
//!   "traces": [ { "dialect", "caller", "callee", "operation", "correlation",
//!                 "request_at_nanos", "response_at_nanos", "latency_micros",
//!                 "outcome": "ok|error|timeout|pending|cancelled|orphan", "partials",
//!                 "responder"?, "task_id"?, "error"?: { "class", "code"?, "message"? },
//!                 "server_elapsed_micros"?, "first_partial_micros"? } ],
//!   "stats": [ { "dialect", "callee", "operation", "count", "errors",
//!                "p50_micros", "p95_micros", "p99_micros",
//!                "timeouts", "p90_micros", "max_micros", "first_partial_p50_micros" } ],
//!   "edges": [ { "dialect", "caller", "callee", "count", "errors", "p95_micros" } ] }
//! ```
//!
//! Participants: by kind, dialect, id. Traces: in order of first sight (request arrival).
//! Stats and edges: by dialect, callee (caller), operation (callee). Latencies are microseconds
//! between receive times (the observer's one clock); `null` where there is none.

use std::io::BufReader;
use std::path::Path;

use anyhow::Context as _;
use serde_json::{Map, Value, json};

use crate::model::mesh::{Mesh, MeshConfig, Observed, Trace};
use crate::record;

pub const REPORT_VERSION: u64 = 1;

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

fn trace_json(t: &Trace) -> Value {
    let mut o = Map::new();
    o.insert("dialect".into(), t.dialect.as_str().into());
    o.insert("caller".into(), opt(t.caller.as_deref()));
    o.insert("callee".into(), (*t.callee).into());
    o.insert("operation".into(), (*t.operation).into());
    o.insert("correlation".into(), (*t.correlation).into());
    o.insert("request_at_nanos".into(), opt(t.request_at_nanos));
    o.insert("response_at_nanos".into(), opt(t.response_at_nanos));
    o.insert("latency_micros".into(), opt(t.latency_micros()));
    o.insert("outcome".into(), t.outcome.as_str().into());
    o.insert(
        "partials".into(),
        (t.partials.len() as u64 + u64::from(t.partials_dropped)).into(),
    );
    if let Some(r) = &t.responder {
        o.insert("responder".into(), (**r).into());
    }
    if let Some(task) = &t.task_id {
        o.insert("task_id".into(), (**task).into());
    }
    if let Some(e) = &t.error {
        let mut err = Map::new();
        err.insert("class".into(), (*e.class).into());
        if let Some(code) = &e.code {
            err.insert("code".into(), (**code).into());
        }
        if let Some(message) = &e.message {
            err.insert("message".into(), (**message).into());
        }
        o.insert("error".into(), Value::Object(err));
    }
    if let Some(elapsed) = t.server_elapsed_micros {
        o.insert("server_elapsed_micros".into(), elapsed.into());
    }
    if let Some(first) = t.first_partial_micros() {
        o.insert("first_partial_micros".into(), first.into());
    }
    if t.weak {
        o.insert("weak".into(), true.into());
    }
    Value::Object(o)
}

/// The report of a model. `observed.to_nanos` is also the end of the stats' sliding window.
pub fn build(mesh: &Mesh, observed: &Observed) -> Value {
    let participants: Vec<Value> = mesh
        .participants()
        .into_iter()
        .map(|p| {
            let mut o = Map::new();
            o.insert("id".into(), (*p.participant_id).into());
            o.insert("kind".into(), p.kind.as_str().into());
            o.insert("dialect".into(), p.dialect.as_str().into());
            o.insert("status".into(), p.status.as_str().into());
            o.insert("status_source".into(), p.status_source.as_str().into());
            o.insert("last_seen_nanos".into(), opt(p.last_seen_nanos));
            if let Some(name) = &p.display_name {
                o.insert("display_name".into(), (**name).into());
            }
            if let Some(server) = &p.server_id {
                o.insert("server".into(), (**server).into());
            }
            Value::Object(o)
        })
        .collect();
    let traces: Vec<Value> = mesh.traces().map(trace_json).collect();
    let now = observed.to_nanos.unwrap_or(0);
    let stats: Vec<Value> = mesh
        .stats(now)
        .into_iter()
        .map(|s| {
            json!({
                "dialect": s.row.dialect.as_str(),
                "callee": &*s.row.callee,
                "operation": &*s.row.operation,
                "count": s.row.count,
                "errors": s.row.errors,
                "timeouts": s.row.timeouts,
                "p50_micros": s.session.p50_micros,
                "p90_micros": s.session.p90_micros,
                "p95_micros": s.session.p95_micros,
                "p99_micros": s.session.p99_micros,
                "max_micros": s.session.max_micros,
                "first_partial_p50_micros": s.first_partial.p50_micros,
            })
        })
        .collect();
    let edges: Vec<Value> = mesh
        .edges()
        .into_iter()
        .map(|e| {
            json!({
                "dialect": e.dialect.as_str(),
                "caller": &*e.caller,
                "callee": &*e.callee,
                "count": e.count,
                "errors": e.errors,
                "p95_micros": e.p95_micros(),
            })
        })
        .collect();
    json!({
        "meshscope_report": REPORT_VERSION,
        "observed": {
            "from_nanos": observed.from_nanos,
            "to_nanos": observed.to_nanos,
            "messages": observed.messages,
            "undecoded": observed.undecoded,
        },
        "participants": participants,
        "traces": traces,
        "stats": stats,
        "edges": edges,
    })
}

/// Replay a recording or a capture (`shared/fixtures/peers-mesh` format) through a fresh mesh,
/// tick at the last receive time, and build the report. Unreadable lines are skipped and
/// counted in `observed.unreadable_lines` (with the first one's error in `observed.first_unreadable`).
pub fn replay_file(path: &Path, config: MeshConfig) -> anyhow::Result<Value> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut mesh = Mesh::new(config);
    let mut unreadable = 0u64;
    let mut first_error = None;
    for item in record::read_jsonl(BufReader::new(file)) {
        match item {
            Ok(raw) => {
                mesh.apply(&raw);
            }
            Err(e) => {
                if let record::RecordErrorKind::Io(io) = &e.kind
                    && io.kind() != std::io::ErrorKind::InvalidData
                {
                    return Err(anyhow::anyhow!("reading {}: {e}", path.display()));
                }
                unreadable += 1;
                if unreadable <= 10 {
                    tracing::warn!("{}: {e}", path.display());
                }
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let observed = mesh.observed();
    if let Some(end) = observed.to_nanos {
        mesh.tick(end);
    }
    let mut report = build(&mesh, &observed);
    if let Some(obj) = report.get_mut("observed").and_then(Value::as_object_mut) {
        obj.insert("unreadable_lines".into(), unreadable.into());
        if let Some(e) = first_error {
            obj.insert("first_unreadable".into(), e.into());
        }
    }
    Ok(report)
}
