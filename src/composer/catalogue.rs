//! The catalogue: everything the mesh model shows that can be called by hand, with its schema and status.
//!
//! Sources: MQTT.Agent MCP tool cards (retained, with `input_schema`); EMQX MCP servers (each
//! offers `tools/list` on Meshscope's own session) and the tools any `tools/list` result showed
//! (the model learns them from observed results, ours included); A2A agents of both dialects
//! with a card (their skills or capabilities); and a free-form MQTT 5 request.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::model::Mesh;
use crate::model::mesh::presence::Participant;
use crate::protocol::{Dialect, ParticipantKind, Status};

use super::call::{CallTarget, DEFAULT_NAMESPACE, McpOperation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    Tool,
    /// An EMQX MCP server: list its tools.
    Server,
    Agent,
    /// Any topic, any properties.
    FreeForm,
}

/// One thing that can be called.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueEntry {
    /// Stable across frames and runs (history and templates are keyed on it).
    pub key: String,
    pub dialect: Dialect,
    pub kind: EntryKind,
    /// The tool or agent name.
    pub name: String,
    /// Its server, namespace or org/unit (for grouping).
    pub group: String,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
    pub status: Status,
    pub streaming: bool,
    /// A2A skills (names) or MQTT.Agent capabilities.
    pub skills: Vec<String>,
    pub target: CallTarget,
    /// The mesh participant behind it (to select it from other views).
    pub participant: Option<(Dialect, ParticipantKind, String)>,
}

/// A card's bytes by address and length (kept alive by the cache, so never reused meanwhile).
type CardIdentity = (usize, usize);

/// The callable entries, by dialect and group (a server's tools before its own entry), then the free-form request.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub entries: Vec<CatalogueEntry>,
    /// Cards parsed at the last rebuild, by the identity of their bytes (cards change rarely;
    /// parsing a thousand of them every rebuild would cost frames).
    cards: HashMap<CardIdentity, (Arc<[u8]>, Arc<Value>)>,
}

impl Catalogue {
    pub fn from_mesh(mesh: &Mesh) -> Catalogue {
        let mut catalogue = Catalogue::default();
        catalogue.rebuild(mesh);
        catalogue
    }

    /// Rebuilds the entries from the mesh, parsing only the cards that changed.
    pub fn rebuild(&mut self, mesh: &Mesh) {
        let participants = mesh.participants();
        let mut cards = HashMap::with_capacity(self.cards.len());
        let null = Arc::new(Value::Null);
        let mut entries: Vec<CatalogueEntry> = Vec::new();
        for p in &participants {
            let card = match &p.card {
                Some(bytes) => {
                    let identity = (bytes.as_ptr() as usize, bytes.len());
                    let parsed = match self.cards.remove(&identity) {
                        Some((_, parsed)) => parsed,
                        None => Arc::new(serde_json::from_slice(bytes).unwrap_or(Value::Null)),
                    };
                    // Keeping the bytes alive keeps their address from being reused by another card.
                    cards.insert(identity, (bytes.clone(), parsed.clone()));
                    parsed
                }
                None => null.clone(),
            };
            if let Some(entry) = entry_for(p, &card, &participants) {
                entries.push(entry);
            }
        }
        self.cards = cards;
        // Grouped by dialect and server / namespace / org-unit; the free-form request last.
        entries.sort_by(|a, b| {
            (a.dialect, &a.group, a.kind, &a.name).cmp(&(b.dialect, &b.group, b.kind, &b.name))
        });
        entries.dedup_by(|a, b| a.key == b.key);
        entries.push(free_form());
        self.entries = entries;
    }

    pub fn get(&self, key: &str) -> Option<&CatalogueEntry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The entry for a participant of the mesh (the presence view's "Call…").
    pub fn for_participant(
        &self,
        dialect: Dialect,
        kind: ParticipantKind,
        participant_id: &str,
    ) -> Option<&CatalogueEntry> {
        self.entries.iter().find(|e| {
            e.participant
                .as_ref()
                .is_some_and(|(d, k, id)| *d == dialect && *k == kind && id == participant_id)
        })
    }
}

/// The free-form MQTT 5 request (plain request/response, OpenMAS, anything).
pub fn free_form() -> CatalogueEntry {
    CatalogueEntry {
        key: "mqtt5:free-form".to_owned(),
        dialect: Dialect::Mqtt5Rpc,
        kind: EntryKind::FreeForm,
        name: "MQTT 5 request".to_owned(),
        group: "any topic".to_owned(),
        description: Some(
            "Any topic and payload with Response Topic and Correlation Data (plain request/response, OpenMAS envelopes, ...)"
                .to_owned(),
        ),
        input_schema: None,
        status: Status::Unknown,
        streaming: false,
        skills: Vec::new(),
        target: CallTarget::Mqtt5 { topic: String::new(), response_topic: String::new(), correlation: String::new() },
        participant: None,
    }
}

fn text(card: &Value, key: &str) -> Option<String> {
    card.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn entry_for(p: &Participant, card: &Value, all: &[&Participant]) -> Option<CatalogueEntry> {
    let participant = Some((p.dialect, p.kind, p.participant_id.to_string()));
    match (p.dialect, p.kind) {
        (Dialect::MqttAgentMcp, ParticipantKind::Tool) => {
            // Tool ids are `tool` in the default namespace and `ns/tool` elsewhere.
            let (id_ns, id_tool) = match p.participant_id.rsplit_once('/') {
                Some((ns, tool)) => (ns.to_owned(), tool.to_owned()),
                None => (DEFAULT_NAMESPACE.to_owned(), p.participant_id.to_string()),
            };
            let tool = text(card, "tool").unwrap_or(id_tool);
            let namespace = text(card, "namespace").unwrap_or(id_ns);
            let server = text(card, "server").unwrap_or_default();
            Some(CatalogueEntry {
                key: format!("mqtt-agent-mcp:{namespace}:{tool}"),
                dialect: p.dialect,
                kind: EntryKind::Tool,
                name: tool.clone(),
                group: if server.is_empty() {
                    namespace.clone()
                } else {
                    format!("{server} ({namespace})")
                },
                description: text(card, "description"),
                input_schema: card.get("input_schema").filter(|s| s.is_object()).cloned(),
                status: p.status,
                streaming: card
                    .get("supports_streaming")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                skills: Vec::new(),
                target: CallTarget::MqttAgentTool { namespace, tool },
                participant,
            })
        }
        (Dialect::EmqxMcp, ParticipantKind::McpServer) => {
            let server_name = p.participant_id.to_string();
            Some(CatalogueEntry {
                key: format!("emqx-mcp:{server_name}"),
                dialect: p.dialect,
                kind: EntryKind::Server,
                name: "tools/list".to_owned(),
                group: server_name.clone(),
                description: Some(format!(
                    "Open an MCP session with {server_name} (initialize) and list its tools; they join this catalogue"
                )),
                input_schema: None,
                status: p.status,
                streaming: false,
                skills: Vec::new(),
                target: CallTarget::EmqxMcp {
                    server_name,
                    server_id: online_instance(p),
                    operation: McpOperation::ListTools,
                },
                participant,
            })
        }
        (Dialect::EmqxMcp, ParticipantKind::Tool) => {
            let (server_from_id, tool_from_id) = p.participant_id.rsplit_once(':')?;
            let server_name = p.server_id.as_deref().unwrap_or(server_from_id).to_owned();
            let tool = text(card, "name").unwrap_or_else(|| tool_from_id.to_owned());
            let server = all.iter().find(|s| {
                s.dialect == Dialect::EmqxMcp
                    && s.kind == ParticipantKind::McpServer
                    && *s.participant_id == *server_name
            });
            Some(CatalogueEntry {
                key: format!("emqx-mcp:{server_name}:{tool}"),
                dialect: p.dialect,
                kind: EntryKind::Tool,
                name: tool.clone(),
                group: server_name.clone(),
                description: text(card, "description"),
                input_schema: card.get("inputSchema").filter(|s| s.is_object()).cloned(),
                status: server.map_or(p.status, |s| s.status),
                streaming: false,
                skills: Vec::new(),
                target: CallTarget::EmqxMcp {
                    server_id: server.and_then(|s| online_instance(s)),
                    server_name,
                    operation: McpOperation::CallTool { tool },
                },
                participant,
            })
        }
        (Dialect::EmqxA2a, ParticipantKind::Agent) if p.card.is_some() => {
            let levels: Vec<&str> = p.participant_id.split('/').collect();
            let [org, unit, agent] = levels.as_slice() else {
                return None;
            };
            let skills = card
                .get("skills")
                .and_then(Value::as_array)
                .map(|skills| {
                    skills
                        .iter()
                        .filter_map(|s| {
                            s.get("name")
                                .or_else(|| s.get("id"))
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(CatalogueEntry {
                key: format!("emqx-a2a:{}", p.participant_id),
                dialect: p.dialect,
                kind: EntryKind::Agent,
                name: text(card, "name").unwrap_or_else(|| (*agent).to_owned()),
                group: format!("{org}/{unit}"),
                description: text(card, "description"),
                input_schema: None,
                status: p.status,
                streaming: card
                    .pointer("/capabilities/streaming")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                skills,
                target: CallTarget::EmqxA2a {
                    org: (*org).to_owned(),
                    unit: (*unit).to_owned(),
                    agent: (*agent).to_owned(),
                },
                participant,
            })
        }
        (Dialect::MqttAgentA2a, ParticipantKind::Agent) if p.card.is_some() => {
            let (id_ns, id_agent) = match p.participant_id.rsplit_once('/') {
                Some((ns, agent)) => (ns.to_owned(), agent.to_owned()),
                None => (DEFAULT_NAMESPACE.to_owned(), p.participant_id.to_string()),
            };
            let agent = text(card, "agent_id").unwrap_or(id_agent);
            let namespace = text(card, "namespace").unwrap_or(id_ns);
            let skills = card
                .get("capabilities")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            Some(CatalogueEntry {
                key: format!("mqtt-agent-a2a:{namespace}:{agent}"),
                dialect: p.dialect,
                kind: EntryKind::Agent,
                name: text(card, "name").unwrap_or_else(|| agent.clone()),
                group: namespace.clone(),
                description: text(card, "description"),
                input_schema: None,
                status: p.status,
                streaming: false,
                skills,
                target: CallTarget::MqttAgentAgent { namespace, agent },
                participant,
            })
        }
        _ => None,
    }
}

/// The first online instance (server-id) of an EMQX MCP server, if the model knows one.
fn online_instance(server: &Participant) -> Option<String> {
    server
        .instances
        .iter()
        .find(|i| i.online)
        .map(|i| i.instance_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MeshConfig;
    use crate::protocol::{Properties, RawMessage};
    use serde_json::json;

    const T0: u64 = 1_776_765_605_000_000_000;

    fn publish(mesh: &mut Mesh, at: u64, topic: &str, payload: Value, user: &[(&str, &str)]) {
        let mut raw = RawMessage::new(at, topic, serde_json::to_vec(&payload).unwrap());
        raw.retain = true;
        if !user.is_empty() {
            raw.properties = Some(Box::new(Properties {
                user_properties: user
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Properties::default()
            }));
        }
        mesh.apply(&raw);
    }

    #[test]
    fn catalogue_lists_tools_servers_agents_and_the_free_form_request() {
        let mut mesh = Mesh::new(MeshConfig::default());
        publish(
            &mut mesh,
            T0,
            "a2a/v1/mcp/servers/research-tools/card",
            json!({"version": "1", "server": "research-tools", "namespace": "a2a/v1", "tools": ["echo"], "status": "online"}),
            &[],
        );
        publish(
            &mut mesh,
            T0,
            "a2a/v1/mcp/tools/echo/card",
            json!({"version": "1", "tool": "echo", "server": "research-tools", "namespace": "a2a/v1", "description": "Echoes",
                   "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}}, "supports_streaming": false,
                   "status": "online"}),
            &[],
        );
        publish(
            &mut mesh,
            T0,
            "gtm/mcp/tools/query/card",
            json!({"version": "1", "tool": "query", "server": "gtm-server", "namespace": "gtm", "supports_streaming": true,
                   "status": "online"}),
            &[],
        );
        publish(
            &mut mesh,
            T0,
            "$a2a/v1/discovery/com.acme/support/triage",
            json!({"name": "Triage Agent", "description": "Classifies", "skills": [{"id": "triage", "name": "Ticket triage"}],
                   "capabilities": {"streaming": true}}),
            &[("a2a-status", "online"), ("a2a-status-source", "agent")],
        );
        publish(
            &mut mesh,
            T0,
            "$mcp-server/presence/sid1/acme/fleet/telemetry",
            json!({"jsonrpc": "2.0", "method": "notifications/server/online", "params": {"server_name": "acme/fleet/telemetry"}}),
            &[],
        );
        let catalogue = Catalogue::from_mesh(&mesh);
        let keys: Vec<&str> = catalogue.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "mqtt-agent-mcp:gtm:query",
                "mqtt-agent-mcp:a2a/v1:echo",
                "emqx-mcp:acme/fleet/telemetry",
                "emqx-a2a:com.acme/support/triage",
                "mqtt5:free-form"
            ]
        );
        let echo = catalogue.get("mqtt-agent-mcp:a2a/v1:echo").unwrap();
        assert_eq!(
            echo.target,
            CallTarget::MqttAgentTool {
                namespace: "a2a/v1".into(),
                tool: "echo".into()
            }
        );
        assert_eq!(
            echo.input_schema.as_ref().unwrap()["properties"]["text"]["type"],
            "string"
        );
        assert_eq!(echo.status, Status::Online);
        assert_eq!(echo.group, "research-tools (a2a/v1)");
        let query = catalogue.get("mqtt-agent-mcp:gtm:query").unwrap();
        assert!(query.streaming);
        assert_eq!(
            query.target,
            CallTarget::MqttAgentTool {
                namespace: "gtm".into(),
                tool: "query".into()
            }
        );
        let server = catalogue.get("emqx-mcp:acme/fleet/telemetry").unwrap();
        assert_eq!(
            server.target,
            CallTarget::EmqxMcp {
                server_name: "acme/fleet/telemetry".into(),
                server_id: Some("sid1".into()),
                operation: McpOperation::ListTools,
            }
        );
        let triage = catalogue.get("emqx-a2a:com.acme/support/triage").unwrap();
        assert_eq!(triage.name, "Triage Agent");
        assert_eq!(triage.skills, vec!["Ticket triage"]);
        assert_eq!(
            triage.target,
            CallTarget::EmqxA2a {
                org: "com.acme".into(),
                unit: "support".into(),
                agent: "triage".into()
            }
        );
        assert!(
            catalogue
                .for_participant(
                    Dialect::EmqxA2a,
                    ParticipantKind::Agent,
                    "com.acme/support/triage"
                )
                .is_some()
        );

        // A tools/list result someone received adds the server's tools, with their schemas.
        let cid = "c1";
        let rpc = format!("$mcp-rpc/{cid}/sid1/acme/fleet/telemetry");
        let mut request = RawMessage::new(
            T0 + 1,
            &rpc,
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#.to_vec(),
        );
        request.properties = Some(Box::new(Properties {
            user_properties: vec![
                ("MCP-COMPONENT-TYPE".into(), "mcp-client".into()),
                ("MCP-MQTT-CLIENT-ID".into(), cid.into()),
            ],
            ..Properties::default()
        }));
        mesh.apply(&request);
        let list = json!({"jsonrpc": "2.0", "id": 7, "result": {"tools": [
            {"name": "get_vehicle_status", "description": "Status", "inputSchema": {"type": "object", "required": ["vehicle_id"]}}]}});
        let mut response = RawMessage::new(T0 + 2, &rpc, serde_json::to_vec(&list).unwrap());
        response.properties = Some(Box::new(Properties {
            user_properties: vec![
                ("MCP-COMPONENT-TYPE".into(), "mcp-server".into()),
                ("MCP-MQTT-CLIENT-ID".into(), "sid1".into()),
            ],
            ..Properties::default()
        }));
        mesh.apply(&response);
        let catalogue = Catalogue::from_mesh(&mesh);
        let tool = catalogue
            .get("emqx-mcp:acme/fleet/telemetry:get_vehicle_status")
            .expect("listed tool in the catalogue");
        assert_eq!(
            tool.input_schema,
            Some(json!({"type": "object", "required": ["vehicle_id"]}))
        );
        assert_eq!(
            tool.target,
            CallTarget::EmqxMcp {
                server_name: "acme/fleet/telemetry".into(),
                server_id: Some("sid1".into()),
                operation: McpOperation::CallTool {
                    tool: "get_vehicle_status".into()
                },
            }
        );
        assert_eq!(catalogue.entries.last().unwrap().kind, EntryKind::FreeForm);

        // A rebuild keeps what did not change and picks up a new card.
        let mut catalogue = catalogue;
        publish(
            &mut mesh,
            T0 + 3,
            "a2a/v1/mcp/tools/echo/card",
            json!({"version": "1", "tool": "echo", "server": "research-tools", "namespace": "a2a/v1",
                   "description": "Echoes, v2", "supports_streaming": true, "status": "online"}),
            &[],
        );
        catalogue.rebuild(&mesh);
        let echo = catalogue.get("mqtt-agent-mcp:a2a/v1:echo").unwrap();
        assert_eq!(echo.description.as_deref(), Some("Echoes, v2"));
        assert!(echo.streaming && echo.input_schema.is_none());
        assert_eq!(
            catalogue
                .get("emqx-a2a:com.acme/support/triage")
                .unwrap()
                .skills,
            vec!["Ticket triage"]
        );
        assert_eq!(
            catalogue.entries.len(),
            Catalogue::from_mesh(&mesh).entries.len()
        );
    }
}
