//! Mesh model tests: pairing, presence, timeouts, dedupe, orphans and bounds, per dialect.

use super::*;
use crate::protocol::{Properties, Status, StatusSource};

const MS: u64 = 1_000_000;
const T0: u64 = 1_800_000_000 * SECOND_NANOS;

fn msg(at_ms: u64, topic: &str, payload: &str) -> RawMessage {
    RawMessage::new(T0 + at_ms * MS, topic, payload.as_bytes().to_vec())
}

fn with(mut raw: RawMessage, f: impl FnOnce(&mut Properties)) -> RawMessage {
    let mut props = raw.properties.take().map(|b| *b).unwrap_or_default();
    f(&mut props);
    raw.properties = Some(Box::new(props));
    raw
}

fn rr(raw: RawMessage, response_topic: &str, corr: &[u8]) -> RawMessage {
    with(raw, |p| {
        p.response_topic = Some(response_topic.into());
        p.correlation_data = Some(corr.to_vec());
    })
}

fn corr(raw: RawMessage, corr: &[u8]) -> RawMessage {
    with(raw, |p| p.correlation_data = Some(corr.to_vec()))
}

fn user(raw: RawMessage, pairs: &[(&str, &str)]) -> RawMessage {
    with(raw, |p| {
        p.user_properties
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    })
}

fn retained(mut raw: RawMessage) -> RawMessage {
    raw.retain = true;
    raw.qos = 1;
    raw
}

fn only_trace(mesh: &Mesh) -> &Trace {
    assert_eq!(
        mesh.trace_count(),
        1,
        "{:#?}",
        mesh.traces().collect::<Vec<_>>()
    );
    mesh.traces().next().unwrap()
}

const CALL: &str = r#"{"call_id":"call_1","arguments":{"text":"hi"},"client":"scout","timestamp":"2026-11-23T09:11:17.372Z","response_topic":"a2a/v1/mcp/clients/scout/responses"}"#;

#[test]
fn cs_mcp_call_pairs_with_its_response_and_keeps_elapsed_beside_latency() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let tag = mesh.apply(&msg(0, "a2a/v1/mcp/tools/echo/call", CALL));
    assert_eq!(
        tag,
        MessageTag {
            dialect: Dialect::MqttAgentMcp,
            note: None
        }
    );
    mesh.apply(&msg(
        12,
        "a2a/v1/mcp/clients/scout/responses",
        r#"{"call_id":"call_1","status":"ok","result":{},"elapsed_ms":3}"#,
    ));
    let t = only_trace(&mesh);
    assert_eq!(t.outcome, Outcome::Ok);
    assert_eq!(t.latency_micros(), Some(12_000));
    assert_eq!(t.server_elapsed_micros, Some(3_000));
    assert_eq!(
        (t.caller.as_deref(), &*t.callee, &*t.operation),
        (Some("scout"), "echo", "call")
    );
    assert_eq!(&*t.correlation, "call_1");
    assert_eq!(
        (t.request_message_index, t.response_message_index),
        (Some(0), Some(1))
    );
    let stats = mesh.stats(T0 + 12 * MS);
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].row.count, stats[0].row.errors), (1, 0));
    assert_eq!(stats[0].session.p50_micros, Some(12_000));
    assert_eq!(stats[0].window.p99_micros, Some(12_000));
    let edges = mesh.edges();
    assert_eq!(
        (&*edges[0].caller, &*edges[0].callee, edges[0].count),
        ("scout", "echo", 1)
    );
}

#[test]
fn cs_mcp_error_response_is_classified() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&msg(0, "a2a/v1/mcp/tools/divide/call", CALL));
    mesh.apply(&msg(
        1,
        "a2a/v1/mcp/clients/scout/responses",
        r#"{"call_id":"call_1","status":"error","error":{"type":"tool_error","message":"division by zero"},"elapsed_ms":0}"#,
    ));
    let t = only_trace(&mesh);
    assert_eq!(t.outcome, Outcome::Error);
    let e = t.error.as_ref().unwrap();
    assert_eq!(
        (&*e.class, e.message.as_deref()),
        ("tool_error", Some("division by zero"))
    );
    assert_eq!(mesh.stats(T0)[0].row.errors, 1);
}

#[test]
fn cs_mcp_stream_partials_group_under_the_call_and_sort_by_date_now_seq() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&msg(0, "a2a/v1/mcp/tools/count_stream/call", CALL));
    // Out of order on the wire; `seq` is Date.now(); the SDK never sends `done`.
    for (at, seq) in [(80, 1_795_425_078_528u64), (81, 1_795_425_078_448)] {
        mesh.apply(&msg(
            at,
            "a2a/v1/mcp/tools/count_stream/stream/call_1",
            &format!(r#"{{"call_id":"call_1","seq":{seq},"type":"partial","content":"counted"}}"#),
        ));
    }
    assert_eq!(
        only_trace(&mesh).outcome,
        Outcome::Pending,
        "no `done`: still waiting for the response"
    );
    mesh.apply(&msg(
        400,
        "a2a/v1/mcp/clients/scout/responses",
        r#"{"call_id":"call_1","status":"ok","result":{"n":2}}"#,
    ));
    let t = only_trace(&mesh);
    assert_eq!(t.outcome, Outcome::Ok);
    assert_eq!(t.partials.len(), 2);
    assert_eq!(t.partials_in_order()[0].stream_seq, Some(1_795_425_078_448));
    assert_eq!(t.first_partial_micros(), Some(80_000));
    assert_eq!(mesh.stats(T0)[0].first_partial.p50_micros, Some(80_000));
}

#[test]
fn cs_mcp_tool_cards_stay_online_after_a_crash_but_the_tool_is_not_shown_online() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let server_online =
        r#"{"version":"1","server":"srv","namespace":"a2a/v1","tools":["echo"],"status":"online"}"#;
    mesh.apply(&retained(msg(
        0,
        "a2a/v1/mcp/servers/srv/card",
        server_online,
    )));
    mesh.apply(&retained(msg(
        1,
        "a2a/v1/mcp/tools/echo/card",
        r#"{"version":"1","tool":"echo","server":"srv","status":"online"}"#,
    )));
    let tool = mesh
        .participant(Dialect::MqttAgentMcp, ParticipantKind::Tool, "echo")
        .unwrap();
    assert_eq!(tool.status, Status::Online);
    // Crash: only the server card flips (its Will); the tool card stays retained `online`.
    mesh.apply(&retained(msg(
        5_000,
        "a2a/v1/mcp/servers/srv/card",
        r#"{"version":"1","server":"srv","tools":["echo"],"status":"offline"}"#,
    )));
    let tool = mesh
        .participant(Dialect::MqttAgentMcp, ParticipantKind::Tool, "echo")
        .unwrap();
    assert_eq!(tool.status, Status::Offline);
    assert_eq!(tool.history.back().unwrap().at_nanos, T0 + 5_000 * MS);
    // An observer connecting later gets the retained cards in any order: still not online.
    let mut late = Mesh::new(MeshConfig::default());
    late.apply(&retained(msg(
        0,
        "a2a/v1/mcp/tools/echo/card",
        r#"{"version":"1","tool":"echo","server":"srv","status":"online"}"#,
    )));
    late.apply(&retained(msg(
        1,
        "a2a/v1/mcp/servers/srv/card",
        r#"{"version":"1","server":"srv","status":"offline"}"#,
    )));
    assert_eq!(
        late.participant(Dialect::MqttAgentMcp, ParticipantKind::Tool, "echo")
            .unwrap()
            .status,
        Status::Offline
    );
    // The server comes back: the tool is live again.
    late.apply(&retained(msg(
        2,
        "a2a/v1/mcp/servers/srv/card",
        server_online,
    )));
    assert_eq!(
        late.participant(Dialect::MqttAgentMcp, ParticipantKind::Tool, "echo")
            .unwrap()
            .status,
        Status::Online
    );
}

#[test]
fn retained_replays_after_a_reconnect_do_not_duplicate() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let card = r#"{"name":"Echo Agent"}"#;
    let online = |at| {
        retained(user(
            msg(at, "$a2a/v1/discovery/o/u/echo", card),
            &[("a2a-status", "online"), ("a2a-status-source", "agent")],
        ))
    };
    mesh.apply(&online(0));
    let tag = mesh.apply(&online(60_000));
    assert_eq!(tag.note.as_deref(), Some("retained replay (unchanged)"));
    assert_eq!(mesh.participant_count(), 1);
    let p = mesh
        .participant(Dialect::EmqxA2a, ParticipantKind::Agent, "o/u/echo")
        .unwrap();
    assert_eq!(p.history.len(), 1);
    assert_eq!(p.last_seen_nanos, Some(T0), "a replay is not a sighting");
    assert_eq!(mesh.counters().retained_replays, 1);
}

#[test]
fn emqx_a2a_lwt_goes_offline_with_source_lwt() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let card = r#"{"name":"Summarizer Agent"}"#;
    mesh.apply(&retained(user(
        msg(0, "$a2a/v1/discovery/peers/lab/summarizer", card),
        &[("a2a-status", "online"), ("a2a-status-source", "agent")],
    )));
    mesh.apply(&retained(user(
        msg(29_000, "$a2a/v1/discovery/peers/lab/summarizer", card),
        &[("a2a-status", "offline"), ("a2a-status-source", "lwt")],
    )));
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
    assert_eq!(p.status_since_nanos, T0 + 29_000 * MS);
    assert_eq!(p.history.len(), 2);
    assert!(p.card_text().unwrap().contains("Summarizer"));
}

#[test]
fn requests_time_out_at_the_deadline_and_late_responses_are_noted() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&msg(0, "a2a/v1/mcp/tools/no_such_tool/call", CALL));
    mesh.tick(T0 + 29_999 * MS);
    assert_eq!(only_trace(&mesh).outcome, Outcome::Pending);
    let rev = mesh.revision();
    mesh.tick(T0 + 45_000 * MS);
    assert!(mesh.revision() > rev);
    let t = only_trace(&mesh);
    assert_eq!(t.outcome, Outcome::Timeout);
    assert_eq!(t.closed_at_nanos, Some(T0 + 30_000 * MS));
    assert_eq!(mesh.stats(T0)[0].row.timeouts, 1);
    let tag = mesh.apply(&msg(
        46_000,
        "a2a/v1/mcp/clients/scout/responses",
        r#"{"call_id":"call_1","status":"ok"}"#,
    ));
    assert_eq!(
        tag.note.as_deref(),
        Some("late response (request timed out)")
    );
    assert_eq!(only_trace(&mesh).outcome, Outcome::Timeout);
    assert_eq!(only_trace(&mesh).latency_micros(), None);
}

#[test]
fn qos1_redeliveries_are_deduplicated() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&msg(0, "a2a/v1/mcp/tools/echo/call", CALL));
    let mut again = msg(5, "a2a/v1/mcp/tools/echo/call", CALL);
    again.dup = true;
    assert_eq!(
        mesh.apply(&again).note.as_deref(),
        Some("duplicate (QoS 1 redelivery)")
    );
    let resp = r#"{"call_id":"call_1","status":"ok"}"#;
    mesh.apply(&msg(10, "a2a/v1/mcp/clients/scout/responses", resp));
    assert_eq!(
        mesh.apply(&msg(11, "a2a/v1/mcp/clients/scout/responses", resp))
            .note
            .as_deref(),
        Some("duplicate (QoS 1 redelivery)")
    );
    let t = only_trace(&mesh);
    assert_eq!((t.duplicates, t.latency_micros()), (2, Some(10_000)));
    assert_eq!(mesh.stats(T0)[0].row.count, 1);
    // A second, different answer (replicas without a shared subscription) is kept apart.
    let other = r#"{"call_id":"call_1","status":"ok","elapsed_ms":9}"#;
    assert_eq!(
        mesh.apply(&msg(12, "a2a/v1/mcp/clients/scout/responses", other))
            .note
            .as_deref(),
        Some("extra response (request already answered)")
    );
}

#[test]
fn responses_without_requests_are_kept_as_orphans() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let tag = mesh.apply(&msg(
        0,
        "a2a/v1/mcp/clients/scout/responses",
        r#"{"call_id":"call_x","status":"ok"}"#,
    ));
    assert_eq!(
        tag.note.as_deref(),
        Some("orphan response (request not seen)")
    );
    let t = only_trace(&mesh);
    assert_eq!(
        (t.outcome, t.request_at_nanos, t.response_at_nanos),
        (Outcome::Orphan, None, Some(T0))
    );
    assert!(mesh.stats(T0).is_empty(), "orphans have no latency");
    // Later stream items of the same orphan exchange group under it.
    let reply = "$a2a/v1/reply/o/u/me/s";
    mesh.apply(&corr(msg(1, reply, r#"{"jsonrpc":"2.0","id":"r","result":{"statusUpdate":{"taskId":"t","status":{"state":"TASK_STATE_WORKING"}}}}"#), b"c"));
    mesh.apply(&corr(msg(2, reply, r#"{"jsonrpc":"2.0","id":"r","result":{"statusUpdate":{"taskId":"t","status":{"state":"TASK_STATE_COMPLETED"}}}}"#), b"c"));
    assert_eq!(mesh.trace_count(), 2);
    let t = mesh.traces().nth(1).unwrap();
    assert_eq!(
        (t.outcome, t.partials.len(), t.task_id.as_deref()),
        (Outcome::Orphan, 1, Some("t"))
    );
    assert_eq!(mesh.counters().orphans, 2);
}

const A2A_REQUEST: &str = r#"{"jsonrpc": "2.0", "id": "req-echo-1", "method": "SendMessage", "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}], "taskId": "task-1", "contextId": "ctx-1"}, "metadata": {"sender": "a2a-orchestrator"}}}"#;

fn a2a_reply(state: &str) -> String {
    format!(
        r#"{{"jsonrpc": "2.0", "id": "req-echo-1", "result": {{"statusUpdate": {{"taskId": "task-1", "contextId": "ctx-1", "status": {{"state": "{state}"}}}}}}}}"#
    )
}

#[test]
fn emqx_a2a_stream_ends_at_a_terminal_state() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let reply_topic = "$a2a/v1/reply/peers/lab/a2a-orchestrator/863b4ebde3bd";
    mesh.apply(&rr(
        msg(0, "$a2a/v1/request/peers/lab/echo", A2A_REQUEST),
        reply_topic,
        b"corr-echo-1",
    ));
    mesh.apply(&corr(
        msg(5, reply_topic, &a2a_reply("TASK_STATE_SUBMITTED")),
        b"corr-echo-1",
    ));
    mesh.apply(&corr(
        msg(50, reply_topic, &a2a_reply("TASK_STATE_WORKING")),
        b"corr-echo-1",
    ));
    mesh.apply(&corr(
        msg(60, reply_topic, r#"{"jsonrpc":"2.0","id":"req-echo-1","result":{"artifactUpdate":{"taskId":"task-1","artifact":{"parts":[{"text":"You said: hi"}]},"lastChunk":true}}}"#),
        b"corr-echo-1",
    ));
    assert_eq!(only_trace(&mesh).outcome, Outcome::Pending);
    mesh.apply(&corr(
        msg(61, reply_topic, &a2a_reply("TASK_STATE_COMPLETED")),
        b"corr-echo-1",
    ));
    let t = only_trace(&mesh);
    assert_eq!(t.outcome, Outcome::Ok);
    assert_eq!(
        t.partials.iter().map(|p| p.label).collect::<Vec<_>>(),
        ["submitted", "working", "artifact"]
    );
    assert_eq!(t.latency_micros(), Some(61_000));
    assert_eq!(t.first_partial_micros(), Some(5_000));
    assert_eq!(
        (t.caller.as_deref(), &*t.callee),
        (Some("peers/lab/a2a-orchestrator"), "peers/lab/echo")
    );
    assert_eq!(t.task_id.as_deref(), Some("task-1"));
    // The requester is a client; the echo agent answered, so it is seen online by traffic.
    let echo = mesh
        .participant(Dialect::EmqxA2a, ParticipantKind::Agent, "peers/lab/echo")
        .unwrap();
    assert_eq!(
        (echo.status, echo.status_source),
        (Status::Online, StatusSource::Traffic)
    );
}

#[test]
fn emqx_a2a_failed_task_and_binding_errors_with_the_correlation_string_as_id() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let reply_topic = "$a2a/v1/reply/o/u/me/ea7bea232fb9";
    // A request that is not JSON still pairs with the -32700 the responder sends back.
    let tag = mesh.apply(&rr(
        msg(0, "$a2a/v1/request/o/u/echo", "this is not JSON {"),
        reply_topic,
        b"corr-invalid-2",
    ));
    assert!(tag.note.unwrap().starts_with("payload is not valid JSON"));
    mesh.apply(&corr(
        msg(3, reply_topic, r#"{"jsonrpc": "2.0", "id": "corr-invalid-2", "error": {"code": -32700, "message": "Parse error"}}"#),
        b"corr-invalid-2",
    ));
    // No Correlation Data on the error reply: its quirky id (the correlation string) pairs it.
    mesh.apply(&rr(
        msg(10, "$a2a/v1/request/o/u/echo", r#"{"jsonrpc":"2.0","id":"req-invalid-1","method":"SendMessage","params":{"message":{"parts":[]}}}"#),
        reply_topic,
        b"corr-invalid-1",
    ));
    mesh.apply(&msg(
        12,
        reply_topic,
        r#"{"jsonrpc": "2.0", "id": "corr-invalid-1", "error": {"code": -32005, "message": "Missing required Task.id (message.taskId)", "data": {"a2a_error": "transport_protocol_error"}}}"#,
    ));
    let traces: Vec<&Trace> = mesh.traces().collect();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].outcome, Outcome::Error);
    assert_eq!(&*traces[0].error.as_ref().unwrap().class, "parse_error");
    assert_eq!(&*traces[0].operation, "(invalid)");
    assert_eq!(traces[1].outcome, Outcome::Error);
    assert_eq!(
        &*traces[1].error.as_ref().unwrap().class,
        "transport_protocol_error"
    );
    assert_eq!(
        traces[1].error.as_ref().unwrap().code.as_deref(),
        Some("-32005")
    );
    assert_eq!(mesh.observed().undecoded, 1);
}

#[test]
fn emqx_a2a_retries_are_separate_attempts_of_one_task_and_time_out_while_idle() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let reply_topic = "$a2a/v1/reply/o/u/me/522fb4f073e9";
    mesh.apply(&rr(
        msg(0, "$a2a/v1/request/o/u/summarizer", A2A_REQUEST),
        reply_topic,
        b"corr-16",
    ));
    mesh.apply(&rr(
        msg(4_000, "$a2a/v1/request/o/u/summarizer", A2A_REQUEST),
        reply_topic,
        b"cd70073fdf964575",
    ));
    assert_eq!(
        mesh.trace_count(),
        2,
        "a retry has new Correlation Data: not a duplicate"
    );
    assert!(
        mesh.traces()
            .all(|t| t.task_id.as_deref() == Some("task-1"))
    );
    // Submitted/working, then the agent dies: the stream idles out.
    mesh.apply(&corr(
        msg(100, reply_topic, &a2a_reply("TASK_STATE_SUBMITTED")),
        b"corr-16",
    ));
    mesh.tick(T0 + 30_050 * MS);
    let first = mesh.traces().next().unwrap();
    assert_eq!(
        first.outcome,
        Outcome::Pending,
        "stream activity extends the deadline"
    );
    mesh.tick(T0 + 30_100 * MS);
    let first = mesh.traces().next().unwrap();
    assert_eq!(
        (first.outcome, first.closed_at_nanos),
        (Outcome::Timeout, Some(T0 + 30_100 * MS))
    );
}

#[test]
fn emqx_a2a_reply_on_an_arbitrary_response_topic_is_recognised_by_the_recorded_request() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&rr(
        msg(0, "$a2a/v1/request/o/u/echo", A2A_REQUEST),
        "custom/inbox/me",
        b"c1",
    ));
    let tag = mesh.apply(&corr(
        msg(7, "custom/inbox/me", &a2a_reply("TASK_STATE_COMPLETED")),
        b"c1",
    ));
    assert_eq!(tag.dialect, Dialect::EmqxA2a);
    assert_eq!(only_trace(&mesh).outcome, Outcome::Ok);
}

#[test]
fn emqx_mcp_pairs_without_user_properties_and_keeps_id_types_apart() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let rpc = "$mcp-rpc/6f1c/a9e2/demo/calculator";
    // initialize on the control topic without MCP-MQTT-CLIENT-ID: matched by the initialize-result fallback.
    mesh.apply(&msg(0, "$mcp-server/a9e2/demo/calculator", r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}}"#));
    mesh.apply(&msg(3, rpc, r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2024-11-05","capabilities":{},"serverInfo":{"name":"calc"}}}"#));
    mesh.apply(&msg(4, rpc, r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#));
    // `"1"` is not `1`: an orphan.
    mesh.apply(&msg(
        5,
        rpc,
        r#"{"jsonrpc":"2.0","id":"1","result":{"content":[{"type":"text","text":"3"}]}}"#,
    ));
    mesh.apply(&msg(6, rpc, r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"3"}],"isError":false}}"#));
    let traces: Vec<&Trace> = mesh.traces().collect();
    assert_eq!(traces.len(), 3);
    assert_eq!(
        (&*traces[0].operation, traces[0].outcome),
        ("initialize", Outcome::Ok)
    );
    assert_eq!(
        (
            &*traces[1].operation,
            traces[1].outcome,
            traces[1].latency_micros()
        ),
        ("tools/call:add", Outcome::Ok, Some(2_000))
    );
    assert_eq!(traces[2].outcome, Outcome::Orphan);
    assert_eq!(&*traces[2].correlation, "\"1\"");
}

#[test]
fn emqx_mcp_presence_progress_cancel_and_listed_tools() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let rpc = "$mcp-rpc/c1/s1/demo/calc";
    mesh.apply(&retained(msg(0, "$mcp-server/presence/s1/demo/calc", r#"{"jsonrpc":"2.0","method":"notifications/server/online","params":{"description":"calculator"}}"#)));
    mesh.apply(&msg(
        1,
        rpc,
        r#"{"jsonrpc":"2.0","id":0,"method":"tools/list"}"#,
    ));
    mesh.apply(&msg(2, rpc, r#"{"jsonrpc":"2.0","id":0,"result":{"tools":[{"name":"add","inputSchema":{"type":"object"}}]}}"#));
    let tool = mesh
        .participant(Dialect::EmqxMcp, ParticipantKind::Tool, "demo/calc:add")
        .unwrap();
    assert_eq!(tool.status, Status::Online);
    mesh.apply(&msg(3, rpc, r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":7}}}"#));
    mesh.apply(&msg(4, rpc, r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":1,"total":2}}"#));
    mesh.apply(&msg(5, rpc, r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"user"}}"#));
    let t = mesh.traces().nth(1).unwrap();
    assert_eq!((t.partials.len(), t.partials[0].label), (1, "progress"));
    assert_eq!(t.outcome, Outcome::Cancelled);
    // The instance leaves (empty retained presence): the service and its listed tool go offline.
    mesh.apply(&retained(msg(9, "$mcp-server/presence/s1/demo/calc", "")));
    let server = mesh
        .participant(Dialect::EmqxMcp, ParticipantKind::McpServer, "demo/calc")
        .unwrap();
    assert_eq!(
        (server.status, server.status_source),
        (Status::Offline, StatusSource::StatusTopic)
    );
    assert_eq!(
        mesh.participant(Dialect::EmqxMcp, ParticipantKind::Tool, "demo/calc:add")
            .unwrap()
            .status,
        Status::Offline
    );
}

#[test]
fn openmas_errors_are_classified_and_agents_seen_by_traffic_go_stale() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&msg(0, "openmas/om-calculator/request/nope", r#"{"id":"i1","source":"om-planner","target":"om-calculator","method":"nope","params":{},"timestamp":1}"#));
    mesh.apply(&msg(2, "openmas/om-planner/response/i1", r#"{"id":"i1","source":"om-calculator","target":"om-planner","timestamp":3,"error":{"code":404,"message":"Method 'nope' not found","details":"MethodNotFoundError"}}"#));
    mesh.apply(&msg(5, "openmas/om-calculator/request/fail", r#"{"id":"i2","source":"om-planner","target":"om-calculator","method":"fail","params":{},"timestamp":4}"#));
    mesh.apply(&msg(7, "openmas/om-planner/response/i2", r#"{"id":"i2","source":"om-calculator","target":"om-planner","timestamp":6,"error":{"code":500,"message":"boom","details":"ValueError"}}"#));
    let classes: Vec<&str> = mesh
        .traces()
        .map(|t| &*t.error.as_ref().unwrap().class)
        .collect();
    assert_eq!(classes, ["method_not_found", "handler_error"]);
    assert_eq!(
        mesh.traces().next().unwrap().request_sent_at_millis,
        Some(1)
    );
    let calc = mesh
        .participant(Dialect::OpenMas, ParticipantKind::Agent, "om-calculator")
        .unwrap();
    assert_eq!(
        (calc.status, calc.status_source),
        (Status::Online, StatusSource::Traffic)
    );
    mesh.tick(T0 + 61_000 * MS);
    let calc = mesh
        .participant(Dialect::OpenMas, ParticipantKind::Agent, "om-calculator")
        .unwrap();
    assert_eq!(calc.status, Status::Stale);
    assert_eq!(calc.status_since_nanos, T0 + 7 * MS + 60 * SECOND_NANOS);
}

#[test]
fn mqtt5_rpc_pairs_on_correlation_and_weakly_without_it() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&rr(
        msg(0, "requests/math/add", "[1, 2, 3]"),
        "replies/math/c7",
        b"1",
    ));
    mesh.apply(&corr(msg(3, "replies/math/c7", "6"), b"1"));
    // A request without Correlation Data: the next message on its Response Topic answers it (weak).
    mesh.apply(&with(msg(10, "requests/math/add", "[4]"), |p| {
        p.response_topic = Some("replies/math/c8".into())
    }));
    let tag = mesh.apply(&msg(12, "replies/math/c8", "4"));
    assert_eq!(tag.dialect, Dialect::Mqtt5Rpc);
    assert_eq!(
        tag.note.as_deref(),
        Some("weak pairing (no Correlation Data)")
    );
    let traces: Vec<&Trace> = mesh.traces().collect();
    assert_eq!(
        (traces[0].outcome, traces[0].latency_micros()),
        (Outcome::Ok, Some(3_000))
    );
    assert_eq!((traces[1].outcome, traces[1].weak), (Outcome::Ok, true));
}

#[test]
fn jsonrpc_on_unknown_topics_pairs_by_id() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&msg(
        0,
        "lab/in",
        r#"{"jsonrpc":"2.0","id":9,"method":"sum","params":[1,2]}"#,
    ));
    let tag = mesh.apply(&msg(
        1,
        "lab/out",
        r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"no"}}"#,
    ));
    assert_eq!(tag.dialect, Dialect::JsonRpc);
    let t = only_trace(&mesh);
    assert_eq!(
        (t.outcome, &*t.error.as_ref().unwrap().class),
        (Outcome::Error, "method_not_found")
    );
}

#[test]
fn traces_are_bounded_and_evictions_counted() {
    let mut mesh = Mesh::new(MeshConfig {
        max_traces: 10,
        ..MeshConfig::default()
    });
    for i in 0..25u64 {
        mesh.apply(&msg(
            i,
            "openmas/b/request/m",
            &format!(r#"{{"id":"r{i}","source":"a","target":"b","method":"m"}}"#),
        ));
    }
    assert_eq!(mesh.trace_count(), 10);
    assert_eq!(mesh.counters().traces_evicted, 15);
    assert_eq!(mesh.counters().pending_evicted, 15);
    // A response to an evicted request is an orphan; to a kept one, it pairs.
    mesh.apply(&msg(
        30,
        "openmas/a/response/r0",
        r#"{"id":"r0","source":"b","target":"a","result":1}"#,
    ));
    mesh.apply(&msg(
        31,
        "openmas/a/response/r24",
        r#"{"id":"r24","source":"b","target":"a","result":1}"#,
    ));
    assert_eq!(mesh.counters().orphans, 1);
    assert_eq!(mesh.trace(24).unwrap().outcome, Outcome::Ok);
    assert!(mesh.trace(0).is_none());
}

#[test]
fn undecodable_messages_are_counted_and_noted() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let tag = mesh.apply(&msg(
        0,
        "a2a/v1/mcp/servers/s/card",
        r#"{"server":"s","tools":5}"#,
    ));
    assert_eq!(tag.dialect, Dialect::MqttAgentMcp);
    assert_eq!(
        tag.note.as_deref(),
        Some("card field `tools` is a number, expected an array of strings")
    );
    let mut bad_topic = msg(1, "x", "y");
    bad_topic.topic = vec![0xff, 0xfe, b'/', b'a'].into();
    assert_eq!(
        mesh.apply(&bad_topic).note.as_deref(),
        Some("topic is not UTF-8")
    );
    mesh.apply(&msg(2, "agentic-ai/demo", "Hello, MQTT!"));
    let observed = mesh.observed();
    assert_eq!((observed.messages, observed.undecoded), (3, 2));
    assert_eq!(
        (observed.from_nanos, observed.to_nanos),
        (Some(T0), Some(T0 + 2 * MS))
    );
}

#[test]
fn heartbeat_cards_go_stale_when_their_expiry_passes() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&retained(with(
        user(
            msg(0, "$a2a/v1/discovery/o/u/old", r#"{"name":"old"}"#),
            &[("a2a-status", "online")],
        ),
        |p| p.message_expiry_interval_secs = Some(60),
    )));
    mesh.tick(T0 + 59 * SECOND_NANOS);
    assert_eq!(mesh.participants()[0].status, Status::Online);
    mesh.tick(T0 + 61 * SECOND_NANOS);
    assert_eq!(mesh.participants()[0].status, Status::Stale);
}

#[test]
fn status_topic_and_instance_replays_are_recognised_and_a_service_lives_while_one_instance_does() {
    let mut mesh = Mesh::new(MeshConfig::default());
    mesh.apply(&retained(msg(
        0,
        "a2a/v1/agents/scout/status",
        r#"{"status":"online"}"#,
    )));
    let tag = mesh.apply(&retained(msg(
        9_000,
        "a2a/v1/agents/scout/status",
        r#"{"status":"online"}"#,
    )));
    assert_eq!(tag.note.as_deref(), Some("retained replay (unchanged)"));
    let online = r#"{"jsonrpc":"2.0","method":"notifications/server/online","params":{"server_name":"demo/calc"}}"#;
    mesh.apply(&retained(msg(
        0,
        "$mcp-server/presence/s1/demo/calc",
        online,
    )));
    mesh.apply(&retained(msg(
        1,
        "$mcp-server/presence/s2/demo/calc",
        online,
    )));
    let tag = mesh.apply(&retained(msg(
        2,
        "$mcp-server/presence/s1/demo/calc",
        online,
    )));
    assert_eq!(tag.note.as_deref(), Some("retained replay (unchanged)"));
    mesh.apply(&retained(msg(3, "$mcp-server/presence/s1/demo/calc", "")));
    let server = mesh
        .participant(Dialect::EmqxMcp, ParticipantKind::McpServer, "demo/calc")
        .unwrap();
    assert_eq!(server.status, Status::Online, "s2 still serves");
    assert_eq!(server.instances.iter().filter(|i| i.online).count(), 1);
    mesh.apply(&retained(msg(4, "$mcp-server/presence/s2/demo/calc", "")));
    let server = mesh
        .participant(Dialect::EmqxMcp, ParticipantKind::McpServer, "demo/calc")
        .unwrap();
    assert_eq!(server.status, Status::Offline);
}

#[test]
fn per_message_and_per_trace_memory_stays_small() {
    assert!(std::mem::size_of::<MessageTag>() <= 24);
    let trace = std::mem::size_of::<Trace>();
    // ~36 MB for the default 100 000 traces, before partials and strings.
    assert!(trace <= 384, "Trace is {trace} B");
    assert!(std::mem::size_of::<PartialItem>() <= 56);
}

#[test]
fn a_correlation_key_reused_while_pending_is_noted_and_the_newer_request_takes_it() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let first = mesh.apply(&rr(msg(0, "requests/add", "[1, 2]"), "replies/c", b"k"));
    assert_eq!(first.note, None);
    // Same key, other payload, the first still pending: not a redelivery.
    let second = mesh.apply(&rr(msg(5, "requests/add", "[3, 4]"), "replies/c", b"k"));
    let note = second.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("correlation key") && note.contains("reused while trace #0"),
        "{note}"
    );
    assert_eq!(mesh.counters().reused_keys, 1);
    mesh.apply(&corr(msg(9, "replies/c", "7"), b"k"));
    let traces: Vec<&Trace> = mesh.traces().collect();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].outcome, Outcome::Pending);
    assert_eq!(
        (traces[1].outcome, traces[1].latency_micros()),
        (Outcome::Ok, Some(4_000))
    );
    // The same request again (a redelivery) stays a duplicate, and a key reused after the
    // first was answered is a fresh request with no note.
    let dup = mesh.apply(&rr(msg(10, "requests/add", "[3, 4]"), "replies/c", b"k"));
    assert_eq!(dup.note.as_deref(), Some("duplicate (QoS 1 redelivery)"));
    let again = mesh.apply(&rr(msg(20_000, "requests/add", "[5]"), "replies/c", b"k"));
    assert_eq!(again.note, None);
    assert_eq!(mesh.counters().reused_keys, 1);
}

#[test]
fn thousands_of_user_properties_and_a_false_utf8_declaration_are_noted() {
    let mut mesh = Mesh::new(MeshConfig::default());
    let pairs: Vec<(String, String)> = (0..5_000)
        .map(|i| (format!("k{}", i % 7), format!("v{i}")))
        .collect();
    let raw = with(msg(0, "sensors/x", "1"), |p| p.user_properties = pairs);
    let tag = mesh.apply(&raw);
    assert_eq!(tag.dialect, Dialect::Raw);
    assert_eq!(
        tag.note.as_deref(),
        Some("5000 user properties (unusually many)")
    );
    let mut raw = with(msg(1, "sensors/y", ""), |p| {
        p.payload_format_indicator = Some(1)
    });
    raw.payload = Arc::from(&b"caf\xc3"[..]);
    let tag = mesh.apply(&raw);
    assert_eq!(
        tag.note.as_deref(),
        Some("payload declared UTF-8 (Payload Format Indicator 1) but is not valid UTF-8")
    );
    // Binary payloads that do not claim to be text are normal.
    let mut raw = msg(2, "sensors/z", "");
    raw.payload = Arc::from(&b"\xff\xfe\x00"[..]);
    assert_eq!(mesh.apply(&raw).note, None);
    // On a dialect topic both notes are kept, joined.
    let mut raw = with(msg(3, "a2a/v1/mcp/tools/echo/call", ""), |p| {
        p.payload_format_indicator = Some(1)
    });
    raw.payload = Arc::from(&b"{\"call_id\":\"\xff\"}"[..]);
    let note = mesh.apply(&raw).note.unwrap_or_default();
    assert!(
        note.starts_with("payload is not UTF-8") && note.ends_with("is not valid UTF-8"),
        "{note}"
    );
}

#[test]
fn participants_over_the_cap_are_counted_and_noted_whatever_the_path() {
    let mut mesh = Mesh::new(MeshConfig {
        max_participants: 3,
        ..MeshConfig::default()
    });
    for i in 0..3 {
        let call = format!(r#"{{"call_id":"c{i}","arguments":{{}}}}"#);
        let tag = mesh.apply(&msg(i, &format!("a2a/v1/mcp/tools/t{i}/call"), &call));
        assert_eq!(tag.note, None, "tool t{i} fits");
    }
    // A fourth tool, only mentioned as a callee: refused, counted, noted.
    let tag = mesh.apply(&msg(
        3,
        "a2a/v1/mcp/tools/t3/call",
        r#"{"call_id":"c3","arguments":{}}"#,
    ));
    assert_eq!(tag.note.as_deref(), Some("participant table full"));
    assert_eq!(mesh.counters().participants_dropped, 1);
    assert_eq!(mesh.participant_count(), 3);
    // Through a presence message too, counted once.
    let tag = mesh.apply(&retained(msg(
        4,
        "a2a/v1/agents/late/status",
        r#"{"status":"online"}"#,
    )));
    assert_eq!(tag.note.as_deref(), Some("participant table full"));
    assert_eq!(mesh.counters().participants_dropped, 2);
}
