//! The tool-call composer end to end against the demo mesh on real brokers: `meshscope call` in
//! every dialect (fast, failing, streaming, unserved tools; A2A; EMQX MCP's own session) and the
//! composer view sending by hand and showing the response.

use std::process::{Command, Output};
use std::time::Duration;

use meshscope::demo::{self, DemoOptions};
use serde_json::Value;
use tokio::sync::watch;

use crate::support::{self, PlainClient, WAIT};

/// The demo mesh announces itself within a second or two; this only bounds a failing run.
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// A demo mesh on a broker, ready to be called (its cards and presence are retained).
pub struct DemoMesh {
    pub port: u16,
    stop: watch::Sender<bool>,
    demo: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl DemoMesh {
    /// Starts the demo agents against 127.0.0.1:`port` and waits until the participants the
    /// tests call have announced themselves (each subscribes before it announces).
    pub async fn start(port: u16) -> DemoMesh {
        let (stop, stopped) = watch::channel(false);
        let mut options = DemoOptions::new("127.0.0.1", port);
        options.abrupt_drops = false;
        let demo = tokio::spawn(demo::run(options, stopped));
        let mut watcher = PlainClient::connect(port, &support::unique("composer-ready")).await;
        for topic in [
            "a2a/v1/mcp/tools/count_stream/card",
            "$a2a/v1/discovery/com.acme/support/triage",
        ] {
            watcher.subscribe(topic).await;
            assert!(
                watcher.next_on_topic(READY_DEADLINE, topic).await.is_some(),
                "the demo mesh announced {topic}"
            );
        }
        watcher
            .subscribe("$mcp-server/presence/+/acme/fleet/telemetry")
            .await;
        let until = tokio::time::Instant::now() + READY_DEADLINE;
        loop {
            let message = tokio::time::timeout_at(until, watcher.messages.recv()).await;
            match message {
                Ok(Some(p))
                    if p.topic.starts_with(b"$mcp-server/presence/") && !p.payload.is_empty() =>
                {
                    break;
                }
                Ok(Some(_)) => {}
                _ => panic!("the EMQX MCP server announced its presence"),
            }
        }
        watcher.disconnect().await;
        DemoMesh {
            port,
            stop,
            demo: Some(demo),
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(demo) = self.demo.take() {
            let _ = tokio::time::timeout(WAIT, demo).await;
        }
    }
}

/// `meshscope call --broker URL <args>`: exit status, stdout as JSON, stderr.
fn call(url: &str, args: &[&str]) -> (Output, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meshscope"))
        .args(["call", "--broker", url])
        .args(args)
        .output()
        .expect("run meshscope call");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("meshscope call {args:?} printed no JSON ({e}): {stdout}\nstderr: {stderr}")
    });
    (output, report, stderr)
}

/// Runs the calls at once (each is its own process and session) and returns their results in order.
fn calls_in_parallel(url: &str, calls: &[&[&str]]) -> Vec<(Output, Value, String)> {
    std::thread::scope(|scope| {
        let running: Vec<_> = calls
            .iter()
            .map(|args| scope.spawn(move || call(url, args)))
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("call thread"))
            .collect()
    })
}

fn assert_latency(report: &Value, what: &str) {
    let micros = report["latency_micros"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: latency_micros in {report}"));
    assert!(
        micros > 0 && micros < 20_000_000,
        "{what}: latency {micros} µs"
    );
    assert!(report["latency_ms"].is_f64(), "{what}: latency_ms");
}

/// MQTT.Agent MCP tools through the CLI: fast, failing, streaming, unserved.
fn mqtt_agent_mcp_calls(url: &str) {
    let results = calls_in_parallel(
        url,
        &[
            &[
                "--tool",
                "echo",
                "--args",
                r#"{"text":"hello from the CLI"}"#,
                "--timeout",
                "10",
            ],
            &[
                "--tool",
                "divide",
                "--args",
                r#"{"a":1,"b":0}"#,
                "--timeout",
                "10",
            ],
            &[
                "--tool",
                "count_stream",
                "--args",
                r#"{"n":4}"#,
                "--timeout",
                "10",
            ],
            &["--tool", "no_such_tool", "--args", "{}", "--timeout", "2"],
            &[
                "--tool",
                "divide",
                "--args",
                r#"{"a":"one"}"#,
                "--timeout",
                "10",
            ],
        ],
    );
    let (fast, report, stderr) = &results[0];
    assert!(fast.status.success(), "echo failed: {stderr}\n{report}");
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["dialect"], "mqtt-agent-mcp");
    assert_eq!(report["result"]["echoed"]["text"], "hello from the CLI");
    assert_eq!(report["partials"], 0);
    assert_latency(report, "echo");
    assert!(
        report["reply_topic"]
            .as_str()
            .unwrap_or("")
            .contains("/mcp/clients/meshscope-"),
        "own identity: {report}"
    );

    let (failing, report, stderr) = &results[1];
    assert!(
        !failing.status.success(),
        "a failing tool exits non-zero: {report}"
    );
    assert_eq!(report["outcome"], "error");
    assert_eq!(report["error"]["type"], "tool_error");
    assert_eq!(report["error"]["message"], "division by zero");
    assert_latency(report, "divide");
    assert!(
        stderr.contains("tool_error"),
        "the error type is on stderr too: {stderr}"
    );

    let (streaming, report, stderr) = &results[2];
    assert!(
        streaming.status.success(),
        "count_stream failed: {stderr}\n{report}"
    );
    assert_eq!(report["partials"], 4, "{report}");
    assert_eq!(report["partial_items"].as_array().map(Vec::len), Some(4));
    let items = report["partial_items"].as_array().unwrap();
    let offsets: Vec<u64> = items
        .iter()
        .map(|p| p["offset_micros"].as_u64().unwrap())
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1]),
        "partials in arrival order: {offsets:?}"
    );
    // The broker may deliver the last QoS 0 stream item just behind the QoS 1 result: it still
    // counts, flagged as such.
    let latency = report["latency_micros"].as_u64().unwrap();
    for (item, offset) in items.iter().zip(&offsets) {
        assert_eq!(
            item["after_result"].as_bool(),
            Some(*offset > latency),
            "{item} vs latency {latency}"
        );
    }

    let (unserved, report, stderr) = &results[3];
    assert!(
        !unserved.status.success(),
        "an unserved tool exits non-zero"
    );
    assert_eq!(report["outcome"], "timeout");
    assert_eq!(report["error"]["type"], "timeout");
    assert!(
        stderr.contains("no response within 2 s"),
        "a clear timeout message: {stderr}"
    );
    assert!(report["latency_micros"].is_null());

    let (invalid, report, _) = &results[4];
    assert!(!invalid.status.success());
    assert_eq!(
        report["error"]["type"], "invalid_arguments",
        "checked against the tool card's schema: {report}"
    );
    assert!(report["request_topic"].is_string());
}

/// EMQX A2A and EMQX MCP (with its own initialize + tools/list session) through the CLI.
fn emqx_calls(url: &str) {
    let results = calls_in_parallel(
        url,
        &[
            &[
                "--dialect",
                "emqx-a2a",
                "--agent",
                "com.acme/support/triage",
                "--text",
                "Login loops",
                "--timeout",
                "15",
            ],
            &[
                "--dialect",
                "emqx-mcp",
                "--server",
                "acme/fleet/telemetry",
                "--tool",
                "get_vehicle_status",
                "--args",
                r#"{"vehicle_id":"VH-0042"}"#,
                "--timeout",
                "10",
            ],
            &[
                "--dialect",
                "emqx-mcp",
                "--server",
                "acme/fleet/telemetry",
                "--tool",
                "plan_route",
                "--args",
                r#"{"origin":{"lat":48.1,"lon":11.5},"destination":{"lat":48.2,"lon":11.6}}"#,
                "--timeout",
                "10",
            ],
            &[
                "--dialect",
                "emqx-mcp",
                "--server",
                "acme/fleet/telemetry",
                "--tool",
                "set_speed_limit",
                "--args",
                r#"{"vehicle_id":"VH-0042","kmh":120}"#,
                "--timeout",
                "10",
            ],
            &[
                "--dialect",
                "emqx-mcp",
                "--server",
                "acme/fleet/telemetry",
                "--timeout",
                "10",
            ],
            &[
                "--dialect",
                "emqx-mcp",
                "--server",
                "acme/nobody/here",
                "--tool",
                "x",
                "--timeout",
                "1.5",
            ],
        ],
    );
    // The triage agent completes, or fails when its delegated summary fails (seeded 10 %):
    // either way it answers, streams its status first, and the exit status says which.
    let (a2a, report, stderr) = &results[0];
    assert!(
        report["partials"].as_u64().unwrap_or(0) >= 2,
        "submitted + working at least: {report}"
    );
    assert_eq!(report["partial_items"][0]["label"], "submitted");
    match report["outcome"].as_str() {
        Some("ok") => {
            assert!(a2a.status.success(), "{stderr}");
            assert_eq!(report["result"]["state"], "TASK_STATE_COMPLETED");
            assert!(
                report["result"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("category="),
                "{report}"
            );
        }
        Some("error") => {
            assert!(!a2a.status.success());
            assert_eq!(report["error"]["type"], "failed");
        }
        other => panic!("triage did not answer: {other:?} {report}\n{stderr}"),
    }
    assert_latency(report, "emqx-a2a");
    assert!(
        report["reply_topic"]
            .as_str()
            .unwrap_or("")
            .starts_with("$a2a/v1/reply/com.acme/support/meshscope-")
    );

    let (status, report, stderr) = &results[1];
    assert!(
        status.status.success(),
        "get_vehicle_status: {stderr}\n{report}"
    );
    assert_eq!(report["dialect"], "emqx-mcp");
    assert_eq!(
        report["result"]["structuredContent"]["vehicle_id"],
        "VH-0042"
    );
    assert_latency(report, "get_vehicle_status");
    let transcript = report["transcript"].to_string();
    assert!(
        transcript.contains("initialized") && transcript.contains("tools/list: 3 tool(s)"),
        "{transcript}"
    );

    let (route, report, stderr) = &results[2];
    assert!(route.status.success(), "plan_route: {stderr}\n{report}");
    assert_eq!(
        report["partials"], 3,
        "one progress notification per step: {report}"
    );
    assert_eq!(report["partial_items"][2]["label"], "progress");

    let (speed, report, _) = &results[3];
    assert!(!speed.status.success());
    assert_eq!(report["error"]["type"], "tool_error");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("policy violation")
    );

    let (list, report, stderr) = &results[4];
    assert!(list.status.success(), "tools/list: {stderr}");
    let names: Vec<&str> = report["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["get_vehicle_status", "plan_route", "set_speed_limit"]
    );

    let (nobody, report, stderr) = &results[5];
    assert!(!nobody.status.success());
    assert_eq!(report["outcome"], "timeout");
    assert!(
        stderr.contains("no online instance of EMQX MCP server acme/nobody/here"),
        "{stderr}"
    );
}

#[test]
fn cli_calls_every_dialect_on_the_embedded_broker() {
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    let mesh = runtime.block_on(DemoMesh::start(broker.local_addr().port()));
    let url = mesh.url();
    mqtt_agent_mcp_calls(&url);
    emqx_calls(&url);
    runtime.block_on(mesh.stop());
    runtime.block_on(broker.shutdown());
}

#[test]
fn cli_calls_on_mosquitto() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let runtime = support::runtime();
    let mesh = runtime.block_on(DemoMesh::start(mosquitto.port()));
    let url = mesh.url();
    let results = calls_in_parallel(
        &url,
        &[
            &[
                "--tool",
                "count_stream",
                "--args",
                r#"{"n":2}"#,
                "--timeout",
                "10",
            ],
            &[
                "--dialect",
                "emqx-mcp",
                "--server",
                "acme/fleet/telemetry",
                "--tool",
                "get_vehicle_status",
                "--args",
                r#"{"vehicle_id":"VH-0007"}"#,
                "--timeout",
                "10",
            ],
            &[
                "--dialect",
                "emqx-a2a",
                "--agent",
                "com.acme/support/triage",
                "--text",
                "Two-factor codes",
                "--timeout",
                "15",
            ],
        ],
    );
    let (streaming, report, stderr) = &results[0];
    assert!(streaming.status.success(), "{stderr}\n{}", mosquitto.log());
    assert_eq!(report["partials"], 2);
    let (mcp, report, stderr) = &results[1];
    assert!(mcp.status.success(), "{stderr}\n{report}");
    assert_eq!(
        report["result"]["structuredContent"]["vehicle_id"],
        "VH-0007"
    );
    let (_, report, _) = &results[2];
    assert!(
        matches!(report["outcome"].as_str(), Some("ok" | "error")),
        "triage answered: {report}"
    );
    runtime.block_on(mesh.stop());
}

#[test]
fn cli_explains_a_bad_call_without_connecting() {
    let output = Command::new(env!("CARGO_BIN_EXE_meshscope"))
        .args([
            "call",
            "--broker",
            "mqtt://127.0.0.1:1",
            "--dialect",
            "emqx-a2a",
            "--agent",
            "only/two",
        ])
        .output()
        .expect("run meshscope call");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ORG/UNIT/AGENT"), "{stderr}");
    let (_guard, port) = support::refused_port();
    let output = Command::new(env!("CARGO_BIN_EXE_meshscope"))
        .args([
            "call",
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--tool",
            "echo",
            "--timeout",
            "1",
        ])
        .output()
        .expect("run meshscope call");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not connect within 1.0 s"),
        "{stderr}"
    );
    let help = Command::new(env!("CARGO_BIN_EXE_meshscope"))
        .args(["call", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--dialect") && help.contains("emqx-a2a") && help.contains("--timeout"),
        "{help}"
    );
}

// ---------------------------------------------------------------------------------------------
// the composer view, in the whole app on its demo mesh

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use meshscope::app::{AppOptions, MeshscopeApp};
use meshscope::ui::View;

/// Steps frames until `ready` holds (the app works on its own threads meanwhile); panics with
/// `what` after the deadline.
fn step_until(
    harness: &mut Harness<'_, MeshscopeApp>,
    what: &str,
    ready: impl Fn(&Harness<'_, MeshscopeApp>) -> bool,
) {
    let deadline = std::time::Instant::now() + READY_DEADLINE;
    loop {
        harness.step();
        if ready(harness) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        // Pace the frames (a window would wait for vsync); the condition is the synchronisation.
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn composer_view_fills_a_field_sends_and_shows_the_response() {
    let options = AppOptions {
        demo: true,
        view: View::Composer,
        ..AppOptions::default()
    };
    let app = MeshscopeApp::new(options, None).expect("start the app on its demo mesh");
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .allow_missing_glyphs()
        .build_ui_state(|ui, app: &mut MeshscopeApp| app.ui(ui), app);

    // The catalogue fills from the retained tool cards the observer receives.
    step_until(&mut harness, "the echo tool in the catalogue", |h| {
        h.query_by_label("echo").is_some()
    });
    harness.get_by_label("echo").click();
    harness.step();
    step_until(&mut harness, "the echo form", |h| {
        h.query_by_label("text").is_some()
    });
    harness.get_by_label("text").click();
    harness.step();
    harness
        .get_by_label("text")
        .type_text("hello from the composer");
    harness.step();
    harness.step();
    harness.get_by_label("Send").click();
    harness.step();
    step_until(&mut harness, "the echo result", |h| {
        h.query_by_label("OK").is_some() && h.query_by_label("Result").is_some()
    });
    // The echoed text shows twice: in the request's arguments and in the result.
    let echoed = harness
        .query_all_by_label("\"hello from the composer\"")
        .count();
    assert!(
        echoed >= 2,
        "the result shows the echoed text ({echoed} labels)"
    );
    assert!(
        harness.query_all_by_label_contains("#1 echo").count() >= 1,
        "the call is listed"
    );

    // A streaming tool: its partials show, then the result.
    harness.get_by_label("count_stream").click();
    harness.step();
    step_until(&mut harness, "the count_stream form", |h| {
        h.query_by_label("n").is_some()
    });
    harness.get_by_label("n").click();
    harness.step();
    harness.get_by_label("n").type_text("3");
    harness.step();
    harness.step();
    harness.get_by_label("Send").click();
    harness.step();
    step_until(&mut harness, "three partials and the result", |h| {
        h.query_by_label("Partials (3)").is_some()
            && h.query_all_by_label_contains("#2 count_stream").count() >= 1
            && h.query_by_label("OK").is_some()
    });

    // A failing tool: its error type beside the result panel.
    harness.get_by_label("divide").click();
    harness.step();
    step_until(&mut harness, "the divide form", |h| {
        h.query_by_label("b").is_some()
    });
    for (field, value) in [("a", "1"), ("b", "0")] {
        harness.get_by_label(field).click();
        harness.step();
        harness.get_by_label(field).type_text(value);
        // The error line under the field goes away: let the layout settle before the next click.
        harness.step();
        harness.step();
    }
    harness.step();
    harness.get_by_label("Send").click();
    harness.step();
    step_until(&mut harness, "the tool error", |h| {
        h.query_by_label("Error: tool_error").is_some()
    });
    assert!(harness.query_by_label("division by zero").is_some());

    // The observer paired our own request like any other trace: the timeline can show it.
    assert!(
        harness.query_by_label("Show on timeline").is_some(),
        "our call is a trace on the timeline"
    );

    // An EMQX A2A agent: a message, its status stream, then a final state.
    // Its retained card may come later than the MCP cards (the embedded broker first refuses
    // its `/` client id and the agent reconnects with the fallback id).
    step_until(&mut harness, "the triage agent in the catalogue", |h| {
        h.query_by_label("Triage Agent").is_some()
    });
    harness.get_by_label("Triage Agent").click();
    harness.step();
    step_until(&mut harness, "the message box", |h| {
        h.query_by_label("Message").is_some()
    });
    harness.get_by_label("Message").click();
    harness.step();
    harness
        .get_by_label("Message")
        .type_text("Login loops back to the sign-in page");
    harness.step();
    harness.step();
    harness.get_by_label("Send").click();
    harness.step();
    step_until(&mut harness, "the agent's final state", |h| {
        h.query_all_by_label_contains("#4 com.acme/support/triage")
            .count()
            >= 1
            && (h.query_by_label("OK").is_some() || h.query_by_label("Error: failed").is_some())
            && h.query_by_label_contains("Partials (").is_some()
    });

    // A free-form MQTT 5 request to the demo's plain calculator, replies on our own topic.
    step_until(&mut harness, "the free-form entry", |h| {
        h.query_by_label("MQTT 5 request").is_some()
    });
    harness.get_by_label("MQTT 5 request").click();
    harness.step();
    step_until(&mut harness, "the free-form fields", |h| {
        h.query_by_label("Topic").is_some()
    });
    harness.get_by_label("Topic").click();
    harness.step();
    harness
        .get_by_label("Topic")
        .type_text("demo/rpc/calc/request");
    harness.step();
    harness.step();
    harness.get_by_label("Use own").click();
    harness.step();
    harness.step();
    harness.get_by_label("Payload").click();
    harness.step();
    harness
        .get_by_label("Payload")
        .type_text(r#"{"op":"mul","a":6,"b":7}"#);
    harness.step();
    harness.step();
    harness.get_by_label("Send").click();
    harness.step();
    step_until(&mut harness, "the calculator's reply", |h| {
        h.query_all_by_label_contains("#5 demo/rpc/calc/request")
            .count()
            >= 1
            && h.query_by_label("OK").is_some()
    });
    assert!(
        harness.query_by_label("42").is_some(),
        "6 x 7 from the plain MQTT 5 responder"
    );
}
