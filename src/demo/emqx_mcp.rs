//! EMQX MCP over MQTT (current topic revision): the `acme/fleet/telemetry` server and the
//! `fleet-dashboard` client, as the TypeScript SDK (QoS 1, user properties on every publish)
//! puts them on the wire.

use super::sleep_until_opt;
use std::collections::HashMap;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, LastWillProperties, Publish, PublishProperties};
use serde_json::Value;
use tokio::task::JoinSet;

use super::link::{LinkConfig, LinkEvent, LinkHandle};
use super::rng::Rng;
use super::wire::{self, J, arr, js_json, obj};
use super::{Ctx, Waiters, reap};

const SERVER_NAME: &str = "acme/fleet/telemetry";
const PROTOCOL_VERSION: &str = "2025-03-26";
const CALL_LIMIT: Duration = Duration::from_secs(10);
const INITIALIZE_RETRY: Duration = Duration::from_secs(5);

fn component_properties(component: &str, client_id: &str) -> Vec<(String, String)> {
    vec![
        ("MCP-COMPONENT-TYPE".to_owned(), component.to_owned()),
        ("MCP-MQTT-CLIENT-ID".to_owned(), client_id.to_owned()),
    ]
}

fn will_properties(user_properties: Vec<(String, String)>) -> LastWillProperties {
    LastWillProperties {
        delay_interval: None,
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        user_properties,
    }
}

/// Every PUBLISH of this dialect names its sender's component type and client id.
fn publish_as(
    handle: &LinkHandle,
    component: &str,
    client_id: &str,
    topic: &str,
    retain: bool,
    payload: Vec<u8>,
) {
    handle.publish(
        topic,
        QoS::AtLeastOnce,
        retain,
        payload,
        PublishProperties {
            user_properties: component_properties(component, client_id),
            ..PublishProperties::default()
        },
    );
}

fn tools() -> J {
    arr![
        obj! {
            "name" => "get_vehicle_status",
            "description" => "Current position, speed, battery and alerts of one vehicle.",
            "inputSchema" => obj! {
                "type" => "object",
                "properties" => obj! {
                    "vehicle_id" => obj! {"type" => "string", "pattern" => "^VH-[0-9]{4}$"},
                    "fields" => obj! {
                        "type" => "array",
                        "items" => obj! {"type" => "string", "enum" => arr!["position", "speed", "battery", "alerts"]},
                        "uniqueItems" => true,
                    },
                },
                "required" => arr!["vehicle_id"],
            },
        },
        obj! {
            "name" => "plan_route",
            "description" => "Plans a route and ETA between two coordinates; reports progress.",
            "inputSchema" => obj! {
                "type" => "object",
                "properties" => obj! {
                    "origin" => point_schema(),
                    "destination" => point_schema(),
                    "avoid" => obj! {
                        "type" => "array",
                        "items" => obj! {"type" => "string", "enum" => arr!["tolls", "highways", "ferries"]},
                    },
                    "vehicle_class" => obj! {"type" => "string", "enum" => arr!["car", "van", "truck"], "default" => "van"},
                },
                "required" => arr!["origin", "destination"],
            },
        },
        obj! {
            "name" => "set_speed_limit",
            "description" => "Sets a vehicle's speed governor (fleet policy caps it at 100 km/h).",
            "inputSchema" => obj! {
                "type" => "object",
                "properties" => obj! {
                    "vehicle_id" => obj! {"type" => "string", "pattern" => "^VH-[0-9]{4}$"},
                    "kmh" => obj! {"type" => "integer", "minimum" => 10u64, "maximum" => 130u64},
                },
                "required" => arr!["vehicle_id", "kmh"],
            },
            "annotations" => obj! {"destructiveHint" => false, "idempotentHint" => true},
        },
    ]
}

fn point_schema() -> J {
    obj! {
        "type" => "object",
        "properties" => obj! {
            "lat" => obj! {"type" => "number", "minimum" => -90i64, "maximum" => 90u64},
            "lon" => obj! {"type" => "number", "minimum" => -180i64, "maximum" => 180u64},
        },
        "required" => arr!["lat", "lon"],
    }
}

fn online_notification() -> J {
    obj! {
        "jsonrpc" => "2.0",
        "method" => "notifications/server/online",
        "params" => obj! {
            "server_name" => SERVER_NAME,
            "description" => "Live telemetry, routing and speed governors for the delivery fleet",
            "meta" => obj! {
                "rbac" => obj! {
                    "roles" => arr![
                        obj! {
                            "name" => "dispatcher",
                            "description" => "Reads telemetry and plans routes",
                            "allowed_methods" => arr!["ping", "tools/list", "tools/call"],
                            "allowed_tools" => arr!["get_vehicle_status", "plan_route"],
                            "allowed_resources" => "all",
                        },
                        obj! {
                            "name" => "fleet-admin",
                            "allowed_methods" => arr!["ping", "tools/list", "tools/call"],
                            "allowed_tools" => "all",
                            "allowed_resources" => "all",
                        },
                    ],
                },
            },
        },
    }
}

/// The server: retained online presence (Will = empty retained presence), `initialize` on its
/// control topic, everything else on `$mcp-rpc/{cid}/{sid}/{name}` (subscribed with No Local).
pub(super) async fn run_server(ctx: Ctx) {
    let label = "emqx-mcp/server";
    let mut rng = ctx.rng(label);
    let server_id = rng.hex(32);
    let presence_topic = format!("$mcp-server/presence/{server_id}/{SERVER_NAME}");
    let control_topic = format!("$mcp-server/{server_id}/{SERVER_NAME}");
    let mut config = LinkConfig::new(label, &server_id);
    config.keep_alive_secs = 30;
    let meta = js_json(&obj! {
        "version" => "1.4.2",
        "implementation" => "mcp-typescript-sdk",
        "serverName" => SERVER_NAME,
        "description" => "Fleet telemetry tools",
    });
    config.connect_user_properties = vec![
        ("MCP-COMPONENT-TYPE".to_owned(), "mcp-server".to_owned()),
        (
            "MCP-META".to_owned(),
            String::from_utf8_lossy(&meta).into_owned(),
        ),
    ];
    config.will = Some(LastWill::new(
        &presence_topic,
        Vec::new(),
        QoS::AtLeastOnce,
        true,
        Some(will_properties(component_properties(
            "mcp-server",
            &server_id,
        ))),
    ));
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    handle.subscribe(&control_topic, QoS::AtLeastOnce);
    handle.subscribe_no_local(
        &format!("$mcp-rpc/+/{server_id}/{SERVER_NAME}"),
        QoS::AtLeastOnce,
    );
    // Initialized clients: cid → whether `notifications/initialized` arrived.
    let mut sessions: HashMap<String, bool> = HashMap::new();
    let mut tasks = JoinSet::new();
    let server = Server {
        handle: handle.clone(),
        server_id: server_id.clone(),
    };
    loop {
        reap(&mut tasks);
        tokio::select! {
            _ = ctx.stopped() => break,
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { .. }) => {
                    sessions.clear();
                    publish_as(&handle, "mcp-server", &server_id, &presence_topic, true, js_json(&online_notification()));
                }
                Some(LinkEvent::Message(publish)) => {
                    let Some(topic) = wire::topic(&publish).map(str::to_owned) else { continue };
                    let body = wire::json_object(&publish);
                    if topic == control_topic {
                        server.initialize(&publish, body.as_ref(), &mut sessions);
                    } else if let Some(cid) = topic.strip_prefix("$mcp-client/presence/") {
                        // Any message (or an empty one) on a client's presence topic means it left.
                        server.forget(cid, &mut sessions);
                    } else if let Some(cid) = rpc_client_id(&topic, &server_id) {
                        let Some(body) = body else { continue };
                        if let Some(task) = server.rpc(&cid, body, &mut sessions, &mut rng) {
                            tasks.spawn(task);
                        }
                    }
                }
            },
        }
    }
    tasks.abort_all();
    // Graceful leave: clear the retained registration, then DISCONNECT.
    publish_as(
        &handle,
        "mcp-server",
        &server_id,
        &presence_topic,
        true,
        Vec::new(),
    );
    link.close().await;
}

/// `$mcp-rpc/{cid}/{sid}/{name}` → `cid` when `sid`/`name` are ours.
fn rpc_client_id(topic: &str, server_id: &str) -> Option<String> {
    let rest = topic.strip_prefix("$mcp-rpc/")?;
    let (cid, rest) = rest.split_once('/')?;
    let (sid, name) = rest.split_once('/')?;
    (sid == server_id && name == SERVER_NAME).then(|| cid.to_owned())
}

struct Server {
    handle: LinkHandle,
    server_id: String,
}

impl Server {
    fn rpc_topic(&self, cid: &str) -> String {
        format!("$mcp-rpc/{cid}/{}/{SERVER_NAME}", self.server_id)
    }

    fn send(&self, cid: &str, message: &J) {
        publish_as(
            &self.handle,
            "mcp-server",
            &self.server_id,
            &self.rpc_topic(cid),
            false,
            js_json(message),
        );
    }

    fn initialize(
        &self,
        publish: &Publish,
        body: Option<&serde_json::Map<String, Value>>,
        sessions: &mut HashMap<String, bool>,
    ) {
        let Some(body) = body else { return };
        if wire::str_field(body, "method") != Some("initialize") {
            return;
        }
        // The client id comes from the PUBLISH user property (or a non-standard param).
        let cid = wire::user_property(publish, "MCP-MQTT-CLIENT-ID")
            .map(str::to_owned)
            .or_else(|| {
                body.get("params")
                    .and_then(|p| p.get("mcpClientId"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        let Some(cid) = cid else {
            tracing::debug!("emqx-mcp: initialize without a client id ignored");
            return;
        };
        let id = body.get("id").cloned().unwrap_or(Value::Null);
        let result = obj! {
            "jsonrpc" => "2.0",
            "id" => id,
            "result" => obj! {
                "protocolVersion" => PROTOCOL_VERSION,
                "capabilities" => obj! {"tools" => obj! {"listChanged" => true}, "logging" => obj! {}},
                "serverInfo" => obj! {"name" => "fleet-telemetry", "version" => "1.4.2"},
                "instructions" => "Vehicle ids look like VH-0042. plan_route reports progress.",
            },
        };
        self.send(&cid, &result);
        // As the TS SDK: the client's presence and capability topics after the initialize result.
        self.handle
            .subscribe(&format!("$mcp-client/presence/{cid}"), QoS::AtLeastOnce);
        self.handle
            .subscribe(&format!("$mcp-client/capability/{cid}"), QoS::AtLeastOnce);
        sessions.insert(cid, false);
    }

    fn forget(&self, cid: &str, sessions: &mut HashMap<String, bool>) {
        if sessions.remove(cid).is_some() {
            self.handle
                .unsubscribe(&format!("$mcp-client/presence/{cid}"));
            self.handle
                .unsubscribe(&format!("$mcp-client/capability/{cid}"));
        }
    }

    /// Handles one client message; long tool calls come back as a task to spawn.
    fn rpc(
        &self,
        cid: &str,
        body: serde_json::Map<String, Value>,
        sessions: &mut HashMap<String, bool>,
        rng: &mut Rng,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let method = wire::str_field(&body, "method")?.to_owned();
        let id = body.get("id").cloned();
        match (method.as_str(), id) {
            ("notifications/initialized", None) => {
                sessions.insert(cid.to_owned(), true);
                None
            }
            ("notifications/disconnected", None) => {
                self.forget(cid, sessions);
                None
            }
            (_, None) => None,
            ("ping", Some(id)) => {
                self.send(
                    cid,
                    &obj! {"jsonrpc" => "2.0", "id" => id, "result" => obj! {}},
                );
                None
            }
            ("tools/list", Some(id)) => {
                self.send(
                    cid,
                    &obj! {"jsonrpc" => "2.0", "id" => id, "result" => obj! {"tools" => tools()}},
                );
                None
            }
            ("tools/call", Some(id)) => {
                let params = body.get("params").cloned().unwrap_or(Value::Null);
                let handle = self.handle.clone();
                let server_id = self.server_id.clone();
                let cid = cid.to_owned();
                let rng = rng.fork();
                Some(async move { call_tool(handle, server_id, cid, id, params, rng).await })
            }
            (_, Some(id)) => {
                self.send(
                    cid,
                    &obj! {"jsonrpc" => "2.0", "id" => id, "error" => obj! {"code" => -32601i64, "message" => "Method not found"}},
                );
                None
            }
        }
    }
}

async fn call_tool(
    handle: LinkHandle,
    server_id: String,
    cid: String,
    id: Value,
    params: Value,
    mut rng: Rng,
) {
    let topic = format!("$mcp-rpc/{cid}/{server_id}/{SERVER_NAME}");
    let send = |message: J| {
        publish_as(
            &handle,
            "mcp-server",
            &server_id,
            &topic,
            false,
            js_json(&message),
        )
    };
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let args = params.get("arguments").cloned().unwrap_or(Value::Null);
    let vehicle = args
        .get("vehicle_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let progress_token = params
        .get("_meta")
        .and_then(|meta| meta.get("progressToken"))
        .cloned();
    let text_result = |text: String, is_error: bool| {
        obj! {"content" => arr![obj! {"type" => "text", "text" => text}], "isError" => is_error}
    };
    let result = match name {
        "get_vehicle_status" => {
            tokio::time::sleep(rng.latency(35.0, 0.5, 8, 400)).await;
            if vehicle.ends_with("999") {
                text_result(format!("vehicle {vehicle} not found"), true)
            } else {
                let battery = rng.range(18, 97);
                let speed = rng.range(0, 88);
                let status = obj! {
                    "vehicle_id" => &vehicle,
                    "position" => obj! {"lat" => 48.1 + rng.unit() / 10.0, "lon" => 11.5 + rng.unit() / 10.0},
                    "speed_kmh" => speed,
                    "battery_pct" => battery,
                    "alerts" => if battery < 25 { arr!["battery_low"] } else { arr![] },
                };
                let text = String::from_utf8_lossy(&js_json(&status)).into_owned();
                text_result(text, false).with("structuredContent", status)
            }
        }
        "plan_route" => {
            let steps = ["geocoding", "routing", "traffic"];
            for (done, step) in steps.iter().enumerate() {
                tokio::time::sleep(rng.latency(220.0, 0.45, 60, 1_500)).await;
                if let Some(token) = &progress_token {
                    send(obj! {
                        "jsonrpc" => "2.0",
                        "method" => "notifications/progress",
                        "params" => obj! {
                            "progressToken" => token.clone(),
                            "progress" => done + 1,
                            "total" => steps.len(),
                            "message" => *step,
                        },
                    });
                }
            }
            let minutes = rng.range(12, 75);
            let km = rng.range(40, 600) as f64 / 10.0;
            text_result(format!("ETA {minutes} min, {km:.1} km"), false)
        }
        "set_speed_limit" => {
            tokio::time::sleep(rng.latency(60.0, 0.4, 15, 500)).await;
            let kmh = args.get("kmh").and_then(Value::as_u64).unwrap_or(0);
            if kmh > 100 {
                // Tool failures are results with isError, not JSON-RPC errors.
                text_result(
                    format!("policy violation: {kmh} km/h exceeds the fleet maximum of 100 km/h"),
                    true,
                )
            } else {
                text_result(format!("{vehicle} governor set to {kmh} km/h"), false)
            }
        }
        other => {
            send(obj! {
                "jsonrpc" => "2.0",
                "id" => id,
                "error" => obj! {"code" => -32602i64, "message" => format!("Unknown tool: {other}")},
            });
            return;
        }
    };
    send(obj! {"jsonrpc" => "2.0", "id" => id, "result" => result});
}

/// The client's view of its one server session.
enum Session {
    Idle,
    Initializing {
        server_id: String,
        sent_at: tokio::time::Instant,
    },
    Ready {
        server_id: String,
    },
}

/// `fleet-dashboard`: discovers the server by presence, initializes on its control topic, lists
/// tools, then calls them in a loop (progress tokens on long calls) and pings now and then.
pub(super) async fn run_client(ctx: Ctx) {
    let label = "emqx-mcp/client";
    let mut rng = ctx.rng(label);
    let client_id = rng.hex(32);
    let presence_topic = format!("$mcp-client/presence/{client_id}");
    let disconnected =
        js_json(&obj! {"jsonrpc" => "2.0", "method" => "notifications/disconnected"});
    let mut config = LinkConfig::new(label, &client_id);
    config.keep_alive_secs = 30;
    let meta = js_json(
        &obj! {"version" => "1.0.0", "implementation" => "mcp-typescript-sdk", "location" => "ops-dashboard"},
    );
    config.connect_user_properties = vec![
        ("MCP-COMPONENT-TYPE".to_owned(), "mcp-client".to_owned()),
        (
            "MCP-META".to_owned(),
            String::from_utf8_lossy(&meta).into_owned(),
        ),
    ];
    config.will = Some(LastWill::new(
        &presence_topic,
        disconnected.clone(),
        QoS::AtMostOnce,
        false,
        Some(will_properties(component_properties(
            "mcp-client",
            &client_id,
        ))),
    ));
    let mut link = ctx.start_link(config, &mut rng);
    let handle = link.handle();
    handle.subscribe(
        &format!("$mcp-server/presence/+/{SERVER_NAME}"),
        QoS::AtLeastOnce,
    );
    let waiters: Waiters<u64> = Waiters::new();
    let mut tasks = JoinSet::new();
    let mut session = Session::Idle;
    let mut next_rpc_id = 1u64;
    let mut next_call_at: Option<tokio::time::Instant> = None;
    let mut calls_done = 0u64;
    let client = Client {
        handle: handle.clone(),
        client_id: client_id.clone(),
    };
    loop {
        reap(&mut tasks);
        let call_due = sleep_until_opt(next_call_at);
        let initialize_due = async {
            match &session {
                Session::Initializing { sent_at, .. } => {
                    tokio::time::sleep_until(*sent_at + INITIALIZE_RETRY).await
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctx.stopped() => break,
            _ = initialize_due => {
                if let Session::Initializing { server_id, .. } = &session {
                    let server_id = server_id.clone();
                    client.initialize(&server_id, next_rpc_id);
                    next_rpc_id += 1;
                    session = Session::Initializing { server_id, sent_at: tokio::time::Instant::now() };
                }
            }
            event = link.next_event() => match event {
                None => break,
                Some(LinkEvent::Connected { session_present }) => {
                    // A new MQTT session lost the RPC subscriptions: start over from presence.
                    if !session_present {
                        session = Session::Idle;
                        next_call_at = None;
                    }
                }
                Some(LinkEvent::Message(publish)) => {
                    let Some(topic) = wire::topic(&publish).map(str::to_owned) else { continue };
                    if let Some(server_id) = presence_server_id(&topic) {
                        let online = !publish.payload.is_empty();
                        match (&session, online) {
                            (Session::Idle, true) => {
                                client.open(&server_id);
                                client.initialize(&server_id, next_rpc_id);
                                next_rpc_id += 1;
                                session = Session::Initializing { server_id, sent_at: tokio::time::Instant::now() };
                            }
                            (Session::Initializing { server_id: current, .. } | Session::Ready { server_id: current }, false)
                                if *current == server_id =>
                            {
                                tracing::info!(server_id, "emqx-mcp client: server went offline; waiting for another instance");
                                client.close(&server_id);
                                session = Session::Idle;
                                next_call_at = None;
                            }
                            _ => {}
                        }
                        continue;
                    }
                    let Some(body) = wire::json_object(&publish) else { continue };
                    if let Some(id) = body.get("id").and_then(Value::as_u64) {
                        if let Session::Initializing { server_id, .. } = &session
                            && body.get("result").is_some_and(|r| r.get("protocolVersion").is_some())
                        {
                            let server_id = server_id.clone();
                            client.send(&server_id, &obj! {"jsonrpc" => "2.0", "method" => "notifications/initialized"});
                            client.send(&server_id, &obj! {"jsonrpc" => "2.0", "id" => next_rpc_id, "method" => "tools/list", "params" => obj! {}});
                            next_rpc_id += 1;
                            session = Session::Ready { server_id };
                            next_call_at = Some(tokio::time::Instant::now() + rng.millis(60, 120));
                            continue;
                        }
                        waiters.complete(&id, publish);
                    } else if wire::str_field(&body, "method") == Some("notifications/progress") {
                        tracing::trace!("emqx-mcp client: progress");
                    }
                }
            },
            _ = call_due => {
                let Session::Ready { server_id } = &session else {
                    next_call_at = None;
                    continue;
                };
                calls_done += 1;
                let rpc_id = next_rpc_id;
                next_rpc_id += 1;
                let message = if calls_done.is_multiple_of(12) {
                    obj! {"jsonrpc" => "2.0", "id" => rpc_id, "method" => "ping"}
                } else {
                    tool_call(rpc_id, calls_done, &mut rng)
                };
                let client = client.clone();
                let waiters = waiters.clone();
                let server_id = server_id.clone();
                tasks.spawn(async move {
                    let reply = waiters.register(rpc_id);
                    client.send(&server_id, &message);
                    if waiters.wait(&rpc_id, reply, CALL_LIMIT).await.is_none() {
                        tracing::debug!(rpc_id, "emqx-mcp client: request timed out");
                    }
                });
                next_call_at = Some(tokio::time::Instant::now() + rng.latency(800.0, 0.45, 200, 3_500));
            }
        }
    }
    tasks.abort_all();
    if let Session::Initializing { server_id, .. } | Session::Ready { server_id } = &session {
        client.send(
            server_id,
            &obj! {"jsonrpc" => "2.0", "method" => "notifications/disconnected"},
        );
    }
    publish_as(
        &handle,
        "mcp-client",
        &client_id,
        &presence_topic,
        false,
        disconnected,
    );
    link.close().await;
}

/// `$mcp-server/presence/{sid}/{name}` → `sid` when the name is the fleet server's.
fn presence_server_id(topic: &str) -> Option<String> {
    let rest = topic.strip_prefix("$mcp-server/presence/")?;
    let (sid, name) = rest.split_once('/')?;
    (name == SERVER_NAME).then(|| sid.to_owned())
}

fn tool_call(rpc_id: u64, round: u64, rng: &mut Rng) -> J {
    let vehicle = |rng: &mut Rng| {
        if rng.chance(0.08) {
            "VH-0999".to_owned()
        } else {
            format!("VH-{:04}", rng.range(1, 60))
        }
    };
    // The first three calls cover every tool so a short look sees all of them.
    let pick = match round {
        1 => 0,
        2 => 1,
        3 => 2,
        _ => match rng.unit() {
            r if r < 0.5 => 0,
            r if r < 0.75 => 1,
            _ => 2,
        },
    };
    let params = match pick {
        0 => obj! {
            "name" => "get_vehicle_status",
            "arguments" => obj! {"vehicle_id" => vehicle(rng), "fields" => arr!["position", "speed", "battery"]},
        },
        1 => obj! {
            "name" => "plan_route",
            "arguments" => obj! {
                "origin" => obj! {"lat" => 48.137, "lon" => 11.575},
                "destination" => obj! {"lat" => 48.35 + rng.unit() / 10.0, "lon" => 11.78},
                "avoid" => arr!["tolls"],
                "vehicle_class" => "van",
            },
            "_meta" => obj! {"progressToken" => format!("route-{rpc_id}")},
        },
        _ => {
            let kmh = if round == 3 || rng.chance(0.4) {
                120u64
            } else {
                80u64
            };
            obj! {"name" => "set_speed_limit", "arguments" => obj! {"vehicle_id" => vehicle(rng), "kmh" => kmh}}
        }
    };
    obj! {"jsonrpc" => "2.0", "id" => rpc_id, "method" => "tools/call", "params" => params}
}

#[derive(Clone)]
struct Client {
    handle: LinkHandle,
    client_id: String,
}

impl Client {
    fn rpc_topic(&self, server_id: &str) -> String {
        format!("$mcp-rpc/{}/{server_id}/{SERVER_NAME}", self.client_id)
    }

    /// Subscribes the session's topics before the first request (No Local on the RPC topic).
    fn open(&self, server_id: &str) {
        self.handle
            .subscribe_no_local(&self.rpc_topic(server_id), QoS::AtLeastOnce);
        self.handle.subscribe(
            &format!("$mcp-server/capability/{server_id}/{SERVER_NAME}"),
            QoS::AtLeastOnce,
        );
    }

    fn close(&self, server_id: &str) {
        self.handle.unsubscribe(&self.rpc_topic(server_id));
        self.handle
            .unsubscribe(&format!("$mcp-server/capability/{server_id}/{SERVER_NAME}"));
    }

    /// `initialize` goes to the server's control topic; the reply comes on the RPC topic.
    fn initialize(&self, server_id: &str, rpc_id: u64) {
        let request = obj! {
            "jsonrpc" => "2.0",
            "id" => rpc_id,
            "method" => "initialize",
            "params" => obj! {
                "protocolVersion" => PROTOCOL_VERSION,
                "capabilities" => obj! {"roots" => obj! {"listChanged" => true}, "sampling" => obj! {}},
                "clientInfo" => obj! {"name" => "fleet-dashboard", "version" => "2.3.0"},
            },
        };
        publish_as(
            &self.handle,
            "mcp-client",
            &self.client_id,
            &format!("$mcp-server/{server_id}/{SERVER_NAME}"),
            false,
            js_json(&request),
        );
    }

    fn send(&self, server_id: &str, message: &J) {
        publish_as(
            &self.handle,
            "mcp-client",
            &self.client_id,
            &self.rpc_topic(server_id),
            false,
            js_json(message),
        );
    }
}
