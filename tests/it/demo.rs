//! The demo mesh against real brokers (embedded and mosquitto): every dialect it claims shows up
//! on the wire with its real shape, the abrupt agent's Last Will fires and it comes back, and a
//! shutdown leaves gracefully (offline cards, cleared presence).

use std::time::Duration;

use meshscope::demo::{self, DemoOptions};
use rumqttc::v5::mqttbytes::v5::Publish;
use serde_json::Value;

use crate::support::{self, PlainClient};

/// Everything should show within ~5 s; the deadline only bounds a failing run.
const EXPECT_DEADLINE: Duration = Duration::from_secs(25);

struct Expectation {
    name: &'static str,
    matches: Box<dyn Fn(&Publish) -> bool>,
}

fn expect(name: &'static str, matches: impl Fn(&Publish) -> bool + 'static) -> Expectation {
    Expectation {
        name,
        matches: Box::new(matches),
    }
}

fn topic(publish: &Publish) -> &str {
    std::str::from_utf8(&publish.topic).unwrap_or("")
}

fn json(publish: &Publish) -> Value {
    serde_json::from_slice(&publish.payload).unwrap_or(Value::Null)
}

fn user_property<'a>(publish: &'a Publish, key: &str) -> Option<&'a str> {
    publish
        .properties
        .as_ref()?
        .user_properties
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

fn response_topic(publish: &Publish) -> Option<&str> {
    publish.properties.as_ref()?.response_topic.as_deref()
}

fn correlation(publish: &Publish) -> Option<&[u8]> {
    publish.properties.as_ref()?.correlation_data.as_deref()
}

fn levels(publish: &Publish) -> Vec<&str> {
    topic(publish).split('/').collect()
}

fn a2a_state(publish: &Publish) -> Option<String> {
    json(publish)
        .pointer("/result/statusUpdate/status/state")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// What the running mesh must put on the wire, per dialect.
fn mesh_expectations() -> Vec<Expectation> {
    vec![
        // MQTT.Agent MCP
        expect("cs-mcp retained online server card with ≥ 4 tools", |p| {
            let card = json(p);
            topic(p) == "a2a/v1/mcp/servers/research-tools/card"
                && p.retain
                && card["status"] == "online"
                && card["version"] == "1"
                && card["tools"]
                    .as_array()
                    .is_some_and(|tools| tools.len() >= 4)
        }),
        expect(
            "cs-mcp retained tool card with a nested input schema",
            |p| {
                let card = json(p);
                topic(p) == "a2a/v1/mcp/tools/web_search/card"
                && p.retain
                && card["server"] == "research-tools"
                && card["input_schema"]["required"][0] == "query"
                && card["input_schema"]["properties"]["filters"]["properties"]["recency"]["enum"].is_array()
            },
        ),
        expect(
            "cs-mcp call with Response Topic and Correlation Data = call_id",
            |p| {
                let call = json(p);
                let l = levels(p);
                l.len() == 6
                    && l[2..4] == ["mcp", "tools"]
                    && l[5] == "call"
                    && call["call_id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with("call_"))
                    && call["client"] == "scout"
                    && call["arguments"].is_object()
                    && call["timestamp"].as_str().is_some_and(|t| t.ends_with('Z'))
                    && response_topic(p) == Some("a2a/v1/mcp/clients/scout/responses")
                    && call["response_topic"] == "a2a/v1/mcp/clients/scout/responses"
                    && correlation(p) == call["call_id"].as_str().map(str::as_bytes)
            },
        ),
        expect(
            "cs-mcp ok response with elapsed_ms and echoed Correlation Data",
            |p| {
                let response = json(p);
                topic(p) == "a2a/v1/mcp/clients/scout/responses"
                    && response["status"] == "ok"
                    && response["elapsed_ms"].is_u64()
                    && correlation(p) == response["call_id"].as_str().map(str::as_bytes)
            },
        ),
        expect("cs-mcp tool_error response (divide by zero)", |p| {
            let response = json(p);
            topic(p) == "a2a/v1/mcp/clients/scout/responses"
                && response["status"] == "error"
                && response["error"]["type"] == "tool_error"
                && response["error"]["message"] == "division by zero"
        }),
        expect("cs-mcp slow_lookup answered after ≥ 300 ms", |p| {
            let response = json(p);
            topic(p) == "a2a/v1/mcp/clients/scout/responses"
                && response["result"]["slept_ms"]
                    .as_u64()
                    .is_some_and(|ms| (300..=900).contains(&ms))
        }),
        expect("cs-mcp stream partial (QoS 0, seq = epoch ms)", |p| {
            let partial = json(p);
            let l = levels(p);
            l.len() == 7
                && l[4] == "count_stream"
                && l[5] == "stream"
                && partial["call_id"] == l[6]
                && partial["type"] == "partial"
                && partial["seq"]
                    .as_u64()
                    .is_some_and(|seq| seq > 1_600_000_000_000)
                && p.qos == rumqttc::v5::mqttbytes::QoS::AtMostOnce
        }),
        // MQTT.Agent A2A
        expect("cs-a2a retained agent card", |p| {
            topic(p) == "a2a/v1/agents/planner/card" && p.retain && json(p)["status"] == "online"
        }),
        expect("cs-a2a retained online status", |p| {
            topic(p) == "a2a/v1/agents/researcher/status"
                && p.retain
                && json(p)["status"] == "online"
        }),
        expect(
            "cs-a2a synchronous task to planner (Response Topic = per-task result)",
            |p| {
                let task = json(p);
                let task_id = task["task_id"].as_str().unwrap_or("-");
                topic(p) == "a2a/v1/tasks/planner/inbox"
                    && task["from"] == "ops-desk"
                    && task["messages"][0]["content"].is_string()
                    && response_topic(p) == Some(&format!("a2a/v1/tasks/{task_id}/result"))
                    && correlation(p) == Some(task_id.as_bytes())
            },
        ),
        expect("cs-a2a delegation planner → researcher", |p| {
            let task = json(p);
            topic(p) == "a2a/v1/tasks/researcher/inbox"
                && task["from"] == "planner"
                && task["parent_task_id"].is_string()
        }),
        expect("cs-a2a nested work: researcher calls an MCP tool", |p| {
            let call = json(p);
            topic(p).starts_with("a2a/v1/mcp/tools/")
                && topic(p).ends_with("/call")
                && call["client"] == "researcher"
                && response_topic(p) == Some("a2a/v1/mcp/clients/researcher/responses")
        }),
        expect(
            "cs-a2a async result on the delegator's results topic",
            |p| {
                let result = json(p);
                topic(p) == "a2a/v1/tasks/planner/results"
                    && result["from"] == "researcher"
                    && (result["status"] == "completed" || result["status"] == "failed")
            },
        ),
        expect("cs-a2a synchronous result on the per-task topic", |p| {
            let result = json(p);
            let l = levels(p);
            l.len() == 5
                && l[2] == "tasks"
                && l[4] == "result"
                && result["task_id"] == l[3]
                && result["to"] == "ops-desk"
                && correlation(p) == Some(l[3].as_bytes())
        }),
        // EMQX A2A
        expect(
            "emqx-a2a retained discovery card with a2a-status online/agent",
            |p| {
                let card = json(p);
                topic(p) == "$a2a/v1/discovery/com.acme/support/triage"
                    && p.retain
                    && user_property(p, "a2a-status") == Some("online")
                    && user_property(p, "a2a-status-source") == Some("agent")
                    && card["supportedInterfaces"][0]["protocolBinding"] == "MQTTv5+JSONRPCv2"
            },
        ),
        expect(
            "emqx-a2a SendMessage with reply topic and Correlation Data",
            |p| {
                let request = json(p);
                topic(p).starts_with("$a2a/v1/request/com.acme/support/")
                    && request["method"] == "SendMessage"
                    && request["params"]["message"]["taskId"].is_string()
                    && response_topic(p)
                        .is_some_and(|t| t.starts_with("$a2a/v1/reply/com.acme/support/"))
                    && correlation(p).is_some()
            },
        ),
        expect("emqx-a2a statusUpdate SUBMITTED", |p| {
            topic(p).starts_with("$a2a/v1/reply/")
                && a2a_state(p).as_deref() == Some("TASK_STATE_SUBMITTED")
        }),
        expect("emqx-a2a statusUpdate WORKING with a message", |p| {
            topic(p).starts_with("$a2a/v1/reply/")
                && a2a_state(p).as_deref() == Some("TASK_STATE_WORKING")
                && json(p)
                    .pointer("/result/statusUpdate/status/message/parts/0/text")
                    .is_some()
        }),
        expect("emqx-a2a artifactUpdate", |p| {
            topic(p).starts_with("$a2a/v1/reply/")
                && json(p)
                    .pointer("/result/artifactUpdate/artifact/parts/0/text")
                    .is_some()
                && correlation(p).is_some()
        }),
        expect("emqx-a2a statusUpdate COMPLETED", |p| {
            topic(p).starts_with("$a2a/v1/reply/")
                && a2a_state(p).as_deref() == Some("TASK_STATE_COMPLETED")
        }),
        expect("emqx-a2a nested request triage → summarizer", |p| {
            topic(p) == "$a2a/v1/request/com.acme/support/summarizer"
                && json(p)["params"]["metadata"]["sender"] == "triage"
                && response_topic(p)
                    .is_some_and(|t| t.starts_with("$a2a/v1/reply/com.acme/support/triage/"))
        }),
        // EMQX MCP
        expect(
            "emqx-mcp retained server presence with user properties",
            |p| {
                let l = levels(p);
                topic(p).starts_with("$mcp-server/presence/")
                    && topic(p).ends_with("/acme/fleet/telemetry")
                    && p.retain
                    && json(p)["method"] == "notifications/server/online"
                    && user_property(p, "MCP-COMPONENT-TYPE") == Some("mcp-server")
                    && user_property(p, "MCP-MQTT-CLIENT-ID") == l.get(2).copied()
            },
        ),
        expect("emqx-mcp initialize on the control topic", |p| {
            let l = levels(p);
            l.first() == Some(&"$mcp-server")
                && l.get(1) != Some(&"presence")
                && json(p)["method"] == "initialize"
                && user_property(p, "MCP-COMPONENT-TYPE") == Some("mcp-client")
                && user_property(p, "MCP-MQTT-CLIENT-ID").is_some()
        }),
        expect("emqx-mcp tools/list result on the RPC topic", |p| {
            topic(p).starts_with("$mcp-rpc/")
                && json(p)["result"]["tools"]
                    .as_array()
                    .is_some_and(|tools| tools.len() >= 3)
                && user_property(p, "MCP-COMPONENT-TYPE") == Some("mcp-server")
        }),
        expect("emqx-mcp tools/call request", |p| {
            topic(p).starts_with("$mcp-rpc/") && json(p)["method"] == "tools/call"
        }),
        expect("emqx-mcp progress notification", |p| {
            topic(p).starts_with("$mcp-rpc/")
                && json(p)["method"] == "notifications/progress"
                && json(p)["params"]["progressToken"].is_string()
        }),
        expect("emqx-mcp tool result with isError:true", |p| {
            topic(p).starts_with("$mcp-rpc/") && json(p)["result"]["isError"] == true
        }),
        // OpenMAS
        expect("openmas request", |p| {
            let request = json(p);
            topic(p).starts_with("openmas/om-calculator/request/")
                && request["source"] == "om-planner"
                && request["timestamp"].is_u64()
                && p.payload.starts_with(b"{\"id\": \"")
        }),
        expect("openmas response with result", |p| {
            topic(p).starts_with("openmas/om-planner/response/") && json(p)["result"].is_object()
        }),
        expect("openmas error 500", |p| {
            topic(p).starts_with("openmas/om-planner/response/") && json(p)["error"]["code"] == 500
        }),
        expect("openmas notification", |p| {
            topic(p) == "openmas/om-calculator/notification/log_event"
                && json(p)["type"] == "notification"
        }),
        // Plain MQTT 5 request/response
        expect(
            "plain request with Response Topic, Correlation Data, content type",
            |p| {
                topic(p) == "demo/rpc/calc/request"
                    && response_topic(p) == Some("demo/rpc/replies/rpc-client-1")
                    && correlation(p).is_some()
                    && p.properties
                        .as_ref()
                        .and_then(|props| props.content_type.as_deref())
                        == Some("application/json")
            },
        ),
        expect("plain reply with echoed Correlation Data", |p| {
            topic(p) == "demo/rpc/replies/rpc-client-1"
                && correlation(p).is_some()
                && user_property(p, "served-by") == Some("calc-service")
        }),
        // The abrupt agent
        expect("writer's Last Will (offline, connection_lost)", |p| {
            let status = json(p);
            topic(p) == "a2a/v1/agents/writer/status"
                && p.retain
                && status["status"] == "offline"
                && status["reason"] == "connection_lost"
        }),
    ]
}

/// Reads the observer until every expectation has matched (in any order) or the deadline passes.
/// `after` expectations only start counting once all `first` ones matched (a sequence).
async fn wait_for_all(
    observer: &mut PlainClient,
    expectations: Vec<Expectation>,
    deadline: Duration,
) -> Vec<Publish> {
    let mut pending = expectations;
    let mut seen = Vec::new();
    let until = tokio::time::Instant::now() + deadline;
    while !pending.is_empty() {
        match tokio::time::timeout_at(until, observer.messages.recv()).await {
            Ok(Some(publish)) => {
                pending.retain(|expectation| !(expectation.matches)(&publish));
                seen.push(publish);
            }
            _ => break,
        }
    }
    if !pending.is_empty() {
        let mut topics: Vec<&str> = seen.iter().map(topic).collect();
        topics.sort_unstable();
        topics.dedup();
        panic!(
            "after {} messages, never saw:\n  {}\ntopics seen:\n  {}",
            seen.len(),
            pending
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join("\n  "),
            topics.join("\n  ")
        );
    }
    seen
}

async fn observer(port: u16) -> PlainClient {
    let mut observer = PlainClient::connect(port, &support::unique("demo-observer")).await;
    for filter in [
        "#",
        "$a2a/#",
        "$mcp-server/#",
        "$mcp-client/#",
        "$mcp-rpc/#",
    ] {
        observer.subscribe(filter).await;
    }
    observer
}

/// Runs the demo against `port`, checks the live mesh, the abrupt agent's drop and return, and
/// the graceful leave on shutdown. Returns everything observed.
async fn check_demo_mesh(port: u16) -> Vec<Publish> {
    let mut observer = observer(port).await;
    let mut options = DemoOptions::new("127.0.0.1", port);
    options.seed = 7;
    options.first_drop_after_millis = Some(2_000);
    options.downtime_millis = Some(1_500);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mesh = tokio::spawn(demo::run(options, stop_rx));

    let mut seen = wait_for_all(&mut observer, mesh_expectations(), EXPECT_DEADLINE).await;
    // The abrupt agent comes back after its downtime and says so.
    seen.extend(
        wait_for_all(
            &mut observer,
            vec![expect("writer back online after its Last Will", |p| {
                topic(p) == "a2a/v1/agents/writer/status" && json(p)["status"] == "online"
            })],
            EXPECT_DEADLINE,
        )
        .await,
    );

    stop_tx.send(true).expect("the demo still listens");
    let leaving = vec![
        expect("cs-mcp offline server card on shutdown", |p| {
            topic(p) == "a2a/v1/mcp/servers/research-tools/card" && json(p)["status"] == "offline"
        }),
        expect("cs-a2a offline status (shutdown) on shutdown", |p| {
            topic(p) == "a2a/v1/agents/planner/status" && json(p)["reason"] == "shutdown"
        }),
        expect(
            "emqx-a2a card re-published offline/agent on shutdown",
            |p| {
                topic(p) == "$a2a/v1/discovery/com.acme/support/summarizer"
                    && user_property(p, "a2a-status") == Some("offline")
                    && user_property(p, "a2a-status-source") == Some("agent")
            },
        ),
        expect(
            "emqx-mcp presence cleared (empty retained) on shutdown",
            |p| topic(p).starts_with("$mcp-server/presence/") && p.payload.is_empty(),
        ),
    ];
    let mut after_stop = wait_for_all(&mut observer, leaving, EXPECT_DEADLINE).await;
    let finished = tokio::time::timeout(Duration::from_secs(10), mesh)
        .await
        .expect("the demo stops within 10 s of shutdown")
        .expect("the demo task did not panic");
    finished.expect("the demo returns Ok");
    after_stop.extend(drain(&mut observer, Duration::from_millis(500)).await);

    // A graceful leave is not a crash: no participant's Last Will may fire. (Each Will would be a
    // second offline message next to the graceful one.)
    let wills: Vec<String> = after_stop
        .iter()
        .filter(|p| {
            user_property(p, "a2a-status-source") == Some("lwt")
                || json(p)["reason"] == "connection_lost"
        })
        .map(|p| topic(p).to_owned())
        .collect();
    assert!(
        wills.is_empty(),
        "Last Wills fired on a graceful shutdown: {wills:?}"
    );
    let count = |pred: &dyn Fn(&Publish) -> bool| after_stop.iter().filter(|p| pred(p)).count();
    assert_eq!(
        count(&|p| topic(p) == "a2a/v1/mcp/servers/research-tools/card"),
        1,
        "one offline server card (graceful), no Will"
    );
    assert_eq!(
        count(&|p| topic(p).starts_with("$mcp-server/presence/") && p.payload.is_empty()),
        1,
        "one cleared presence (graceful), no Will"
    );
    assert_eq!(
        count(&|p| topic(p) == "plant/line-1/gateway/status"),
        1,
        "one offline gateway status (graceful), no Will"
    );
    seen.extend(after_stop);
    observer.disconnect().await;
    seen
}

async fn drain(observer: &mut PlainClient, window: Duration) -> Vec<Publish> {
    let until = tokio::time::Instant::now() + window;
    let mut messages = Vec::new();
    while let Ok(Some(publish)) = tokio::time::timeout_at(until, observer.messages.recv()).await {
        messages.push(publish);
    }
    messages
}

#[test]
fn demo_mesh_on_embedded_broker_speaks_every_dialect() {
    support::runtime().block_on(async {
        let broker = support::embedded_broker().await;
        let seen = check_demo_mesh(broker.local_addr().port()).await;
        // The embedded broker refuses `/` in client ids: the EMQX A2A agents fell back to a
        // `.`-joined id (the broker names the publisher in `x-mqtt-client-id`).
        let triage_card = seen
            .iter()
            .find(|p| topic(p) == "$a2a/v1/discovery/com.acme/support/triage")
            .expect("triage card seen");
        if let Some(publisher) = user_property(triage_card, "x-mqtt-client-id") {
            assert_eq!(publisher, "com.acme.support.triage");
        }
        broker.shutdown().await;
    });
}

#[test]
fn demo_mesh_on_mosquitto_speaks_every_dialect() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    support::runtime().block_on(async {
        check_demo_mesh(mosquitto.port()).await;
    });
    // mosquitto accepts the profile's `{org}/{unit}/{agent}` client ids as they are.
    let log = mosquitto.log();
    assert!(
        log.contains("com.acme/support/triage"),
        "the EMQX A2A agents should connect with their '/' client ids on mosquitto:\n{log}"
    );
}

#[test]
fn demo_reconnects_after_the_broker_restarts() {
    let Some(mut mosquitto) = support::mosquitto() else {
        return;
    };
    let runtime = support::runtime();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let port = mosquitto.port();
    let mesh = runtime.spawn(demo::run(DemoOptions::new("127.0.0.1", port), stop_rx));
    runtime.block_on(async {
        let mut observer = observer(port).await;
        wait_for_all(
            &mut observer,
            vec![expect("server card", |p| {
                topic(p) == "a2a/v1/mcp/servers/research-tools/card"
                    && json(p)["status"] == "online"
            })],
            EXPECT_DEADLINE,
        )
        .await;
    });
    // The broker vanishes and returns empty (no persistence): participants must reconnect on
    // their own (with backoff) and republish their presence.
    mosquitto.restart();
    runtime.block_on(async {
        let mut observer = observer(port).await;
        wait_for_all(
            &mut observer,
            vec![
                expect("cs-mcp server card republished", |p| {
                    topic(p) == "a2a/v1/mcp/servers/research-tools/card"
                        && json(p)["status"] == "online"
                }),
                expect("emqx-a2a card republished", |p| {
                    topic(p) == "$a2a/v1/discovery/com.acme/support/triage"
                        && user_property(p, "a2a-status") == Some("online")
                }),
                expect("emqx-mcp presence republished", |p| {
                    topic(p).starts_with("$mcp-server/presence/") && !p.payload.is_empty()
                }),
                expect(
                    "scout calls again (subscriptions restored: responses flow)",
                    |p| topic(p) == "a2a/v1/mcp/clients/scout/responses",
                ),
                expect("emqx-mcp session re-initialized", |p| {
                    topic(p).starts_with("$mcp-server/") && json(p)["method"] == "initialize"
                }),
            ],
            EXPECT_DEADLINE,
        )
        .await;
        stop_tx.send(true).expect("the demo still listens");
        tokio::time::timeout(Duration::from_secs(10), mesh)
            .await
            .expect("the demo stops")
            .expect("no panic")
            .expect("Ok");
        observer.disconnect().await;
    });
}

#[test]
fn demo_backs_off_while_the_broker_is_unreachable() {
    // A port that accepts TCP and hangs up at once: every MQTT connect attempt fails. rumqttc
    // alone would retry in a busy loop; the demo must back off (and still stop promptly).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&attempts);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            drop(stream);
        }
    });
    let runtime = support::runtime();
    runtime.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mesh = tokio::spawn(demo::run(DemoOptions::new("127.0.0.1", port), stop_rx));
        // The window is the measurement: connection attempts per participant over 2 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let seen = attempts.load(std::sync::atomic::Ordering::Relaxed);
        // 16 participants, backoff 250 ms doubling: ~4-5 attempts each in 2 s.
        assert!(
            seen >= 16,
            "every participant tries to connect ({seen} attempts)"
        );
        assert!(
            seen < 200,
            "participants must back off, not busy-loop ({seen} attempts in 2 s)"
        );
        let asked_at = std::time::Instant::now();
        stop_tx.send(true).expect("the demo still listens");
        tokio::time::timeout(Duration::from_secs(5), mesh)
            .await
            .expect("the demo stops within 5 s even with no broker")
            .expect("no panic")
            .expect("Ok");
        eprintln!(
            "{seen} connection attempts in 2 s; demo stopped {} ms after shutdown with no broker",
            asked_at.elapsed().as_millis()
        );
    });
}
