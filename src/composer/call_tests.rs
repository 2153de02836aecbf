//! Unit tests of the call state machine, per dialect, with messages as peers put them on the wire.

use serde_json::{Value, json};

use super::*;
use crate::protocol::{Properties, RawMessage};

const ME: &str = "meshscope-0123456789ab";
const T0: u64 = 1_776_765_605_000_000_000;
const MS: u64 = 1_000_000;

fn message(at: u64, topic: &str, payload: &Value, correlation: Option<&[u8]>) -> RawMessage {
    let mut raw = RawMessage::new(at, topic, serde_json::to_vec(payload).unwrap());
    if let Some(data) = correlation {
        raw.properties = Some(Box::new(Properties {
            correlation_data: Some(data.to_vec()),
            ..Properties::default()
        }));
    }
    raw
}

fn with_user(mut raw: RawMessage, user: &[(&str, &str)]) -> RawMessage {
    let mut props = raw.properties.take().map(|p| *p).unwrap_or_default();
    props.user_properties = user
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    raw.properties = Some(Box::new(props));
    raw
}

fn publishes(steps: &[Step]) -> Vec<&Outbound> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Publish(out) => Some(out),
            _ => None,
        })
        .collect()
}

fn subscribes(steps: &[Step]) -> Vec<&str> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Subscribe { filter, .. } => Some(filter.as_str()),
            _ => None,
        })
        .collect()
}

fn body(out: &Outbound) -> Value {
    serde_json::from_slice(&out.payload).unwrap()
}

fn tool_spec(tool: &str, args: Value) -> CallSpec {
    let mut spec = CallSpec::new(CallTarget::MqttAgentTool {
        namespace: "a2a/v1".into(),
        tool: tool.into(),
    });
    spec.arguments = args;
    spec.options.timeout_millis = 5_000;
    spec
}

#[test]
fn mqtt_agent_call_subscribes_before_publishing_and_pairs_by_call_id() {
    let (mut call, steps) = PendingCall::start(tool_spec("echo", json!({"text": "hi"})), ME, 1, T0);
    let inbox = format!("a2a/v1/mcp/clients/{ME}/responses");
    // Inbox and stream topic first, then the call.
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(matches!(&steps[0], Step::Subscribe { filter, qos: 1 } if *filter == inbox));
    let Step::Subscribe {
        filter: stream,
        qos: 0,
    } = &steps[1]
    else {
        panic!("{steps:?}")
    };
    let Step::Publish(out) = &steps[2] else {
        panic!("{steps:?}")
    };
    assert_eq!(out.topic, "a2a/v1/mcp/tools/echo/call");
    assert_eq!(out.qos, 1);
    let request = body(out);
    let call_id = request["call_id"].as_str().unwrap().to_owned();
    assert!(call_id.starts_with("call_"));
    assert_eq!(stream, &format!("a2a/v1/mcp/tools/echo/stream/{call_id}"));
    assert_eq!(request["client"], ME);
    assert_eq!(request["arguments"], json!({"text": "hi"}));
    assert_eq!(request["response_topic"], inbox.as_str());
    assert_eq!(request["timestamp"], "2026-04-21T10:00:05.000Z");
    assert_eq!(
        out.properties.response_topic.as_deref(),
        Some(inbox.as_str())
    );
    assert_eq!(
        out.properties.correlation_data.as_deref(),
        Some(call_id.as_bytes())
    );

    // Somebody else's response on a shared inbox is ignored.
    let other = json!({"call_id": "call_x_other", "status": "ok", "result": 1});
    assert!(
        call.on_message(&message(T0 + MS, &inbox, &other, None), T0 + MS)
            .is_empty()
    );
    assert!(!call.is_done());
    // A partial, then the response.
    let partial = json!({"call_id": call_id, "seq": 1, "type": "partial", "content": "30%"});
    call.on_message(&message(T0 + 2 * MS, stream, &partial, None), T0 + 2 * MS);
    let response = json!({"call_id": call_id, "status": "ok", "result": {"echoed": {"text": "hi"}}, "elapsed_ms": 2});
    let cleanup = call.on_message(
        &message(T0 + 7 * MS, &inbox, &response, Some(call_id.as_bytes())),
        T0 + 7 * MS,
    );
    assert!(call.is_done());
    // The per-call stream subscription is given back; the shared inbox is kept.
    assert_eq!(
        cleanup,
        vec![Step::Unsubscribe {
            filter: stream.clone()
        }]
    );
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Ok);
    assert_eq!(report.result, Some(json!({"echoed": {"text": "hi"}})));
    assert_eq!(report.latency_micros, Some(7_000));
    assert_eq!(report.partials_total, 1);
    assert_eq!(report.partials[0].value, json!("30%"));
    assert_eq!(report.server_elapsed_millis, Some(2));
    let printed = report.to_json();
    assert_eq!(printed["outcome"], "ok");
    assert_eq!(printed["partials"], 1);
    assert_eq!(printed["latency_micros"], 7_000);
    // Late duplicates change nothing.
    assert!(
        call.on_message(&message(T0 + 9 * MS, &inbox, &response, None), T0 + 9 * MS)
            .is_empty()
    );
    assert_eq!(call.report().latency_micros, Some(7_000));
}

#[test]
fn mqtt_agent_tool_error_keeps_its_type() {
    let (mut call, steps) =
        PendingCall::start(tool_spec("divide", json!({"a": 1, "b": 0})), ME, 2, T0);
    let out = publishes(&steps)[0];
    let call_id = body(out)["call_id"].as_str().unwrap().to_owned();
    let response = json!({"call_id": call_id, "status": "error",
        "error": {"type": "tool_error", "message": "division by zero", "code": "E_DIV"}, "elapsed_ms": 1});
    call.on_message(
        &message(
            T0 + 3 * MS,
            &format!("a2a/v1/mcp/clients/{ME}/responses"),
            &response,
            None,
        ),
        T0,
    );
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Error);
    let error = report.error.unwrap();
    assert_eq!(error.error_type, "tool_error");
    assert_eq!(error.message, "division by zero");
    assert_eq!(error.code, Some(json!("E_DIV")));
    assert_eq!(report.latency_micros, Some(3_000));
}

#[test]
fn partials_extend_the_timeout_and_silence_ends_it() {
    let (mut call, steps) =
        PendingCall::start(tool_spec("count_stream", json!({"n": 3})), ME, 3, T0);
    let stream = subscribes(&steps)[1].to_owned();
    assert_eq!(call.next_deadline_nanos(), Some(T0 + 5_000 * MS));
    assert!(call.on_tick(T0 + 4_000 * MS).is_empty());
    call.on_message(
        &message(
            T0 + 4_500 * MS,
            &stream,
            &json!({"type": "partial", "data": {"pct": 40}}),
            None,
        ),
        T0,
    );
    // 5 s after the partial, not after the request.
    assert_eq!(call.next_deadline_nanos(), Some(T0 + 9_500 * MS));
    assert!(call.on_tick(T0 + 9_000 * MS).is_empty());
    assert!(!call.is_done());
    let cleanup = call.on_tick(T0 + 9_500 * MS);
    assert!(call.is_done());
    assert_eq!(cleanup, vec![Step::Unsubscribe { filter: stream }]);
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Timeout);
    let error = report.error.unwrap();
    assert_eq!(error.error_type, "timeout");
    assert_eq!(error.message, "no response within 5 s after 1 partial(s)");
    assert_eq!(report.latency_micros, None);
}

#[test]
fn a_tool_card_is_read_first_when_asked_and_its_schema_is_enforced() {
    let mut spec = tool_spec("divide", json!({"a": "one"}));
    spec.options.fetch_card = true;
    let (mut call, steps) = PendingCall::start(spec, ME, 4, T0);
    assert_eq!(
        subscribes(&steps),
        vec![
            format!("a2a/v1/mcp/clients/{ME}/responses").as_str(),
            "a2a/v1/mcp/tools/divide/card"
        ]
    );
    assert!(
        publishes(&steps).is_empty(),
        "nothing is sent before the card is read"
    );
    assert_eq!(call.next_deadline_nanos(), Some(T0 + CARD_WAIT_MILLIS * MS));
    let card = json!({"version": "1", "tool": "divide", "status": "online", "supports_streaming": false,
        "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                         "required": ["a", "b"]}});
    let steps = call.on_message(
        &message(T0 + MS, "a2a/v1/mcp/tools/divide/card", &card, None),
        T0 + MS,
    );
    assert!(call.is_done());
    assert!(
        publishes(&steps).is_empty(),
        "invalid arguments are never sent"
    );
    let error = call.report().error.unwrap();
    assert_eq!(error.error_type, "invalid_arguments");
    assert!(
        error.message.contains("/a") && error.message.contains("/b: required"),
        "{}",
        error.message
    );
}

#[test]
fn without_a_card_the_call_goes_out_when_the_card_wait_ends() {
    let mut spec = tool_spec("nobody_serves_this", json!({}));
    spec.options.fetch_card = true;
    let (mut call, _) = PendingCall::start(spec, ME, 5, T0);
    let steps = call.on_tick(T0 + CARD_WAIT_MILLIS * MS);
    assert_eq!(
        steps[0],
        Step::Unsubscribe {
            filter: "a2a/v1/mcp/tools/nobody_serves_this/card".into()
        }
    );
    assert_eq!(
        publishes(&steps)[0].topic,
        "a2a/v1/mcp/tools/nobody_serves_this/call"
    );
    assert_eq!(
        call.report().request_at_nanos,
        Some(T0 + CARD_WAIT_MILLIS * MS)
    );
    call.on_tick(T0 + (CARD_WAIT_MILLIS + 5_000) * MS);
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Timeout);
    assert_eq!(report.error.unwrap().message, "no response within 5 s");
    assert!(
        report
            .transcript
            .iter()
            .any(|t| t.contains("no retained tool card"))
    );
}

#[test]
fn bad_specs_fail_at_once_without_sending() {
    for (spec, error_type) in [
        (tool_spec("a/b", json!({})), "invalid_request"),
        (tool_spec("echo", json!([1])), "invalid_arguments"),
        (
            CallSpec::new(CallTarget::EmqxA2a {
                org: "com acme".into(),
                unit: "u".into(),
                agent: "a".into(),
            }),
            "invalid_request",
        ),
        (
            CallSpec::new(CallTarget::Mqtt5 {
                topic: "a/#".into(),
                response_topic: String::new(),
                correlation: String::new(),
            }),
            "invalid_request",
        ),
    ] {
        let (call, steps) = PendingCall::start(spec, ME, 6, T0);
        assert!(steps.is_empty());
        assert!(call.is_done());
        assert_eq!(call.report().error.unwrap().error_type, error_type);
    }
    let mut spec = tool_spec("echo", json!({"text": 5}));
    spec.input_schema = Some(json!({"type": "object", "properties": {"text": {"type": "string"}}}));
    let (call, steps) = PendingCall::start(spec, ME, 7, T0);
    assert!(steps.is_empty());
    assert_eq!(call.report().error.unwrap().error_type, "invalid_arguments");
}

fn a2a_spec(text: &str) -> CallSpec {
    let mut spec = CallSpec::new(CallTarget::EmqxA2a {
        org: "com.acme".into(),
        unit: "support".into(),
        agent: "triage".into(),
    });
    spec.text = text.into();
    spec
}

fn a2a_reply(result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": "x", "result": result})
}

#[test]
fn emqx_a2a_streams_status_and_artifacts_until_completed() {
    let (mut call, steps) = PendingCall::start(a2a_spec("Login loops"), ME, 8, T0);
    let reply_topic = subscribes(&steps)[0].to_owned();
    assert!(reply_topic.starts_with(&format!("$a2a/v1/reply/com.acme/support/{ME}/")));
    let out = publishes(&steps)[0];
    assert_eq!(out.topic, "$a2a/v1/request/com.acme/support/triage");
    assert_eq!(
        out.properties.response_topic.as_deref(),
        Some(reply_topic.as_str())
    );
    let correlation = out.properties.correlation_data.clone().unwrap();
    assert_eq!(correlation.len(), 16);
    let request = body(out);
    assert_eq!(request["method"], "SendMessage");
    assert_eq!(
        request["params"]["message"]["parts"],
        json!([{"text": "Login loops"}])
    );
    assert_eq!(request["params"]["message"]["role"], "ROLE_USER");
    let task_id = request["params"]["message"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(task_id.len(), 36);

    let submitted = a2a_reply(
        json!({"statusUpdate": {"taskId": task_id, "status": {"state": "TASK_STATE_SUBMITTED"}}}),
    );
    // Another request's Correlation Data on the same topic is ignored.
    call.on_message(
        &message(T0 + MS, &reply_topic, &submitted, Some(b"not-ours")),
        T0,
    );
    assert_eq!(call.report().partials_total, 0);
    call.on_message(
        &message(T0 + MS, &reply_topic, &submitted, Some(&correlation)),
        T0,
    );
    let working = a2a_reply(
        json!({"statusUpdate": {"taskId": task_id, "status": {"state": "TASK_STATE_WORKING",
        "message": {"role": "ROLE_AGENT", "parts": [{"text": "classifying ticket"}]}}}}),
    );
    call.on_message(
        &message(T0 + 2 * MS, &reply_topic, &working, Some(&correlation)),
        T0,
    );
    let artifact = a2a_reply(json!({"artifactUpdate": {"taskId": task_id,
        "artifact": {"artifactId": "a1", "parts": [{"text": "category=how-to priority=P3"}]}, "lastChunk": true}}));
    call.on_message(
        &message(T0 + 3 * MS, &reply_topic, &artifact, Some(&correlation)),
        T0,
    );
    assert!(!call.is_done());
    let completed = a2a_reply(
        json!({"statusUpdate": {"taskId": task_id, "status": {"state": "TASK_STATE_COMPLETED"}}}),
    );
    let cleanup = call.on_message(
        &message(T0 + 4 * MS, &reply_topic, &completed, Some(&correlation)),
        T0,
    );
    assert!(call.is_done());
    let _ = cleanup;
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Ok);
    assert_eq!(report.partials_total, 3);
    assert_eq!(
        report
            .partials
            .iter()
            .map(|p| p.label.as_str())
            .collect::<Vec<_>>(),
        vec!["submitted", "working", "artifact"]
    );
    let result = report.result.unwrap();
    assert_eq!(result["text"], "category=how-to priority=P3");
    assert_eq!(result["state"], "TASK_STATE_COMPLETED");
    assert_eq!(result["task_id"], task_id.as_str());
    assert_eq!(report.latency_micros, Some(4_000));
    // The per-call reply topic is given back once.
    assert_eq!(
        call.take_cleanup(),
        vec![Step::Unsubscribe {
            filter: reply_topic
        }]
    );
    assert!(call.take_cleanup().is_empty());
}

#[test]
fn emqx_a2a_failures_and_binding_errors_keep_their_types() {
    let (mut call, steps) = PendingCall::start(a2a_spec("Please FAIL"), ME, 9, T0);
    let reply_topic = subscribes(&steps)[0].to_owned();
    let correlation = publishes(&steps)[0]
        .properties
        .correlation_data
        .clone()
        .unwrap();
    let failed = a2a_reply(
        json!({"statusUpdate": {"status": {"state": "TASK_STATE_FAILED",
        "message": {"parts": [{"text": "Internal error"}]}}}}),
    );
    call.on_message(
        &message(T0 + MS, &reply_topic, &failed, Some(&correlation)),
        T0,
    );
    let error = call.report().error.unwrap();
    assert_eq!(
        (error.error_type.as_str(), error.message.as_str()),
        ("failed", "Internal error")
    );

    let (mut call, steps) = PendingCall::start(a2a_spec("x"), ME, 10, T0);
    let reply_topic = subscribes(&steps)[0].to_owned();
    let correlation = publishes(&steps)[0]
        .properties
        .correlation_data
        .clone()
        .unwrap();
    let binding = json!({"jsonrpc": "2.0", "id": "c", "error": {"code": -32005,
        "message": "Missing required Task.id", "data": {"a2a_error": "transport_protocol_error"}}});
    call.on_message(
        &message(T0 + MS, &reply_topic, &binding, Some(&correlation)),
        T0,
    );
    let error = call.report().error.unwrap();
    assert_eq!(error.error_type, "transport_protocol_error");
    assert_eq!(error.code, Some(json!(-32005)));
}

fn mcp_spec(operation: McpOperation) -> CallSpec {
    let mut spec = CallSpec::new(CallTarget::EmqxMcp {
        server_name: "acme/fleet/telemetry".into(),
        server_id: None,
        operation,
    });
    spec.arguments = json!({"vehicle_id": "VH-0042"});
    spec.options.timeout_millis = 2_000;
    spec
}

const SID: &str = "a9e2";

fn server_says(at: u64, me: &str, message: Value) -> RawMessage {
    with_user(
        message_at(
            at,
            &format!("$mcp-rpc/{me}/{SID}/acme/fleet/telemetry"),
            &message,
        ),
        &[
            ("MCP-COMPONENT-TYPE", "mcp-server"),
            ("MCP-MQTT-CLIENT-ID", SID),
        ],
    )
}

fn message_at(at: u64, topic: &str, payload: &Value) -> RawMessage {
    message(at, topic, payload, None)
}

#[test]
fn emqx_mcp_runs_its_own_session_then_calls_with_a_progress_token() {
    let (mut call, steps) = PendingCall::start(
        mcp_spec(McpOperation::CallTool {
            tool: "plan_route".into(),
        }),
        ME,
        11,
        T0,
    );
    assert_eq!(
        subscribes(&steps),
        vec!["$mcp-server/presence/+/acme/fleet/telemetry"]
    );
    // An instance going offline (empty payload) is no candidate; an online one is.
    assert!(
        call.on_message(
            &RawMessage::new(
                T0 + MS,
                "$mcp-server/presence/dead/acme/fleet/telemetry",
                Vec::new()
            ),
            T0
        )
        .is_empty()
    );
    let online = json!({"jsonrpc": "2.0", "method": "notifications/server/online", "params": {"server_name": "acme/fleet/telemetry"}});
    let steps = call.on_message(
        &message_at(
            T0 + MS,
            &format!("$mcp-server/presence/{SID}/acme/fleet/telemetry"),
            &online,
        ),
        T0 + MS,
    );
    let rpc = format!("$mcp-rpc/{ME}/{SID}/acme/fleet/telemetry");
    assert_eq!(
        steps[0],
        Step::Unsubscribe {
            filter: "$mcp-server/presence/+/acme/fleet/telemetry".into()
        }
    );
    assert_eq!(
        subscribes(&steps),
        vec![
            rpc.as_str(),
            "$mcp-server/capability/a9e2/acme/fleet/telemetry"
        ]
    );
    let init = publishes(&steps)[0];
    assert_eq!(
        init.topic,
        format!("$mcp-server/{SID}/acme/fleet/telemetry")
    );
    assert_eq!(
        init.properties.user_property("MCP-COMPONENT-TYPE"),
        Some("mcp-client")
    );
    assert_eq!(
        init.properties.user_property("MCP-MQTT-CLIENT-ID"),
        Some(ME)
    );
    let init_body = body(init);
    assert_eq!(init_body["method"], "initialize");
    let init_id = init_body["id"].clone();

    // Our own echo (an observing session sees it) is not the server's answer.
    let echo = with_user(
        message_at(T0, &rpc, &init_body),
        &[
            ("MCP-COMPONENT-TYPE", "mcp-client"),
            ("MCP-MQTT-CLIENT-ID", ME),
        ],
    );
    assert!(call.on_message(&echo, T0).is_empty());

    let steps = call.on_message(
        &server_says(T0 + 2 * MS, ME, json!({"jsonrpc": "2.0", "id": init_id,
            "result": {"protocolVersion": "2025-03-26", "capabilities": {}, "serverInfo": {"name": "fleet"}}})),
        T0 + 2 * MS,
    );
    let sent = publishes(&steps);
    assert_eq!(body(sent[0])["method"], "notifications/initialized");
    assert_eq!(body(sent[1])["method"], "tools/list");
    assert!(sent.iter().all(|o| o.topic == rpc));
    let list_id = body(sent[1])["id"].clone();

    let tools = json!([{"name": "plan_route", "inputSchema": {"type": "object"}}, {"name": "get_vehicle_status"}]);
    let steps = call.on_message(
        &server_says(
            T0 + 3 * MS,
            ME,
            json!({"jsonrpc": "2.0", "id": list_id, "result": {"tools": tools}}),
        ),
        T0 + 3 * MS,
    );
    let call_body = body(publishes(&steps)[0]);
    assert_eq!(call_body["method"], "tools/call");
    assert_eq!(call_body["params"]["name"], "plan_route");
    assert_eq!(
        call_body["params"]["arguments"],
        json!({"vehicle_id": "VH-0042"})
    );
    let token = call_body["params"]["_meta"]["progressToken"].clone();
    let call_id = call_body["id"].clone();

    for step in 1..=2 {
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": token, "progress": step, "total": 3, "message": "routing"}});
        call.on_message(&server_says(T0 + (3 + step) * MS, ME, progress), T0);
    }
    // Progress for some other token is not ours.
    let foreign = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "x", "progress": 1}});
    call.on_message(&server_says(T0 + 6 * MS, ME, foreign), T0);
    let steps = call.on_message(
        &server_says(
            T0 + 9 * MS,
            ME,
            json!({"jsonrpc": "2.0", "id": call_id,
            "result": {"content": [{"type": "text", "text": "ETA 12 min"}], "isError": false}}),
        ),
        T0 + 9 * MS,
    );
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Ok);
    assert_eq!(report.partials_total, 2);
    assert_eq!(
        report.latency_micros,
        Some(6_000),
        "tools/call sent at +3 ms, answered at +9 ms"
    );
    // De-initialize, then give the per-session subscriptions back.
    let sent = publishes(&steps);
    assert_eq!(body(sent[0])["method"], "notifications/disconnected");
    assert!(steps.contains(&Step::Unsubscribe { filter: rpc }));
}

#[test]
fn emqx_mcp_tool_errors_unknown_tools_and_cancel() {
    // A tool failure is a result with isError.
    let mut spec = mcp_spec(McpOperation::CallTool {
        tool: "set_speed_limit".into(),
    });
    spec.target = CallTarget::EmqxMcp {
        server_name: "acme/fleet/telemetry".into(),
        server_id: Some(SID.into()),
        operation: McpOperation::CallTool {
            tool: "set_speed_limit".into(),
        },
    };
    let (mut call, steps) = PendingCall::start(spec.clone(), ME, 12, T0);
    let init_id = body(publishes(&steps)[0])["id"].clone();
    let steps = call.on_message(
        &server_says(
            T0,
            ME,
            json!({"jsonrpc": "2.0", "id": init_id, "result": {}}),
        ),
        T0,
    );
    let list_id = body(publishes(&steps)[1])["id"].clone();
    let tools = json!({"tools": [{"name": "set_speed_limit"}]});
    let steps = call.on_message(
        &server_says(
            T0,
            ME,
            json!({"jsonrpc": "2.0", "id": list_id, "result": tools}),
        ),
        T0,
    );
    let call_id = body(publishes(&steps)[0])["id"].clone();
    call.on_message(
        &server_says(T0 + MS, ME, json!({"jsonrpc": "2.0", "id": call_id,
            "result": {"content": [{"type": "text", "text": "policy violation"}], "isError": true}})),
        T0,
    );
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Error);
    assert_eq!(report.error.unwrap().error_type, "tool_error");
    assert!(
        report.result.is_some(),
        "the isError result is kept for display"
    );

    // A tool the server does not list is never called.
    let mut unknown = spec.clone();
    unknown.target = CallTarget::EmqxMcp {
        server_name: "acme/fleet/telemetry".into(),
        server_id: Some(SID.into()),
        operation: McpOperation::CallTool {
            tool: "nope".into(),
        },
    };
    let (mut call, steps) = PendingCall::start(unknown, ME, 13, T0);
    let init_id = body(publishes(&steps)[0])["id"].clone();
    let steps = call.on_message(
        &server_says(
            T0,
            ME,
            json!({"jsonrpc": "2.0", "id": init_id, "result": {}}),
        ),
        T0,
    );
    let list_id = body(publishes(&steps)[1])["id"].clone();
    let steps = call.on_message(
        &server_says(
            T0,
            ME,
            json!({"jsonrpc": "2.0", "id": list_id, "result": tools}),
        ),
        T0,
    );
    assert!(
        publishes(&steps)
            .iter()
            .all(|o| body(o)["method"] != "tools/call")
    );
    let error = call.report().error.unwrap();
    assert_eq!(error.error_type, "unknown_tool");
    assert!(error.message.contains("set_speed_limit"));

    // Cancel while the call runs: notifications/cancelled names the request.
    let (mut call, steps) = PendingCall::start(spec, ME, 14, T0);
    let init_id = body(publishes(&steps)[0])["id"].clone();
    let steps = call.on_message(
        &server_says(
            T0,
            ME,
            json!({"jsonrpc": "2.0", "id": init_id, "result": {}}),
        ),
        T0,
    );
    let list_id = body(publishes(&steps)[1])["id"].clone();
    let steps = call.on_message(
        &server_says(
            T0,
            ME,
            json!({"jsonrpc": "2.0", "id": list_id, "result": tools}),
        ),
        T0,
    );
    let call_id = body(publishes(&steps)[0])["id"].clone();
    let steps = call.cancel(T0 + 5 * MS);
    let sent = publishes(&steps);
    assert_eq!(body(sent[0])["method"], "notifications/cancelled");
    assert_eq!(body(sent[0])["params"]["requestId"], call_id);
    assert_eq!(body(sent[1])["method"], "notifications/disconnected");
    assert_eq!(call.report().outcome, CallOutcome::Cancelled);
    assert!(call.cancel(T0 + 6 * MS).is_empty());
}

#[test]
fn emqx_mcp_without_an_online_instance_times_out_saying_so() {
    let (mut call, _) = PendingCall::start(mcp_spec(McpOperation::ListTools), ME, 15, T0);
    call.on_tick(T0 + 2_000 * MS);
    let error = call.report().error.unwrap();
    assert_eq!(error.error_type, "timeout");
    assert!(
        error
            .message
            .contains("no online instance of EMQX MCP server acme/fleet/telemetry"),
        "{}",
        error.message
    );
}

#[test]
fn mqtt_agent_a2a_task_pairs_on_its_result_topic() {
    let mut spec = CallSpec::new(CallTarget::MqttAgentAgent {
        namespace: "a2a/v1".into(),
        agent: "planner".into(),
    });
    spec.text = "Plan the launch".into();
    let (mut call, steps) = PendingCall::start(spec, ME, 16, T0);
    let out = publishes(&steps)[0];
    assert_eq!(out.topic, "a2a/v1/tasks/planner/inbox");
    let task = body(out);
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let result_topic = format!("a2a/v1/tasks/{task_id}/result");
    assert_eq!(subscribes(&steps), vec![result_topic.as_str()]);
    assert_eq!(task["messages"][0]["content"], "Plan the launch");
    let done = json!({"task_id": task_id, "status": "completed", "result": {"plan": ["a"]}, "elapsed_ms": 40});
    call.on_message(&message_at(T0 + 50 * MS, &result_topic, &done), T0);
    let report = call.report();
    assert_eq!(report.outcome, CallOutcome::Ok);
    assert_eq!(report.result, Some(json!({"plan": ["a"]})));
    assert_eq!(report.server_elapsed_millis, Some(40));
}

#[test]
fn plain_mqtt5_request_matches_correlation_and_reads_openmas_errors() {
    let spec = |response_topic: &str| {
        let mut spec = CallSpec::new(CallTarget::Mqtt5 {
            topic: "requests/math/add".into(),
            response_topic: response_topic.into(),
            correlation: "req-1".into(),
        });
        spec.text = "[1, 2, 3]".into();
        spec
    };
    let (mut call, steps) = PendingCall::start(spec("replies/math/me"), ME, 17, T0);
    assert_eq!(subscribes(&steps), vec!["replies/math/me"]);
    let out = publishes(&steps)[0];
    assert_eq!(out.payload, b"[1, 2, 3]");
    assert_eq!(
        out.properties.correlation_data.as_deref(),
        Some(&b"req-1"[..])
    );
    call.on_message(
        &message(T0 + MS, "replies/math/me", &json!(7), Some(b"req-2")),
        T0,
    );
    assert!(!call.is_done(), "another request's reply");
    call.on_message(
        &message(T0 + 2 * MS, "replies/math/me", &json!(6), Some(b"req-1")),
        T0,
    );
    assert_eq!(call.report().result, Some(json!(6)));

    let (mut call, _) = PendingCall::start(spec("openmas/me/response/1"), ME, 18, T0);
    let reply = json!({"id": "1", "error": {"code": 404, "message": "Method 'x' not found", "details": "MethodNotFoundError"}});
    call.on_message(&message(T0 + MS, "openmas/me/response/1", &reply, None), T0);
    let error = call.report().error.unwrap();
    assert_eq!(error.error_type, "MethodNotFoundError");
    assert_eq!(error.code, Some(json!(404)));

    // No response topic: publish only, done at once.
    let (call, steps) = PendingCall::start(spec(""), ME, 19, T0);
    assert_eq!(publishes(&steps).len(), 1);
    assert_eq!(call.report().outcome, CallOutcome::Ok);
}

#[test]
fn garbage_replies_never_panic() {
    let (mut call, steps) = PendingCall::start(a2a_spec("x"), ME, 20, T0);
    let reply_topic = subscribes(&steps)[0].to_owned();
    let correlation = publishes(&steps)[0]
        .properties
        .correlation_data
        .clone()
        .unwrap();
    let deep = "[".repeat(10_000);
    for payload in [
        b"\xff\xfe".to_vec(),
        deep.into_bytes(),
        b"{\"result\": 5}".to_vec(),
        b"null".to_vec(),
    ] {
        let mut raw = RawMessage::new(T0, &reply_topic, payload);
        raw.properties = Some(Box::new(Properties {
            correlation_data: Some(correlation.clone()),
            ..Properties::default()
        }));
        call.on_message(&raw, T0);
    }
    assert!(!call.is_done());
    let (mut call, _) = PendingCall::start(tool_spec("echo", json!({})), ME, 21, T0);
    let inbox = format!("a2a/v1/mcp/clients/{ME}/responses");
    call.on_message(&RawMessage::new(T0, &inbox, b"\x00garbage".to_vec()), T0);
    assert!(!call.is_done());
}
