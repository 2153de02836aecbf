//! `meshscope call`'s arguments turned into a [`CallSpec`] (pure; the driver lives in `headless`).

use serde_json::Value;

use crate::cli::{CallArgs, CallDialect};

use super::call::{CallSpec, CallTarget, McpOperation};

/// Builds the spec, or says which flag is missing or malformed. `me` (the session's client id)
/// names the default reply topic of a plain MQTT 5 request.
pub fn spec_from_args(args: &CallArgs, me: &str) -> Result<CallSpec, String> {
    let arguments = match &args.args {
        None => Value::Object(Default::default()),
        Some(text) => {
            let value: Value =
                serde_json::from_str(text).map_err(|e| format!("--args is not valid JSON: {e}"))?;
            if !value.is_object() {
                return Err("--args must be a JSON object, e.g. '{\"text\":\"hi\"}'".to_owned());
            }
            value
        }
    };
    let need = |value: &Option<String>, flag: &str| -> Result<String, String> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("--dialect {} needs {flag}", dialect_name(args.dialect)))
    };
    let target = match args.dialect {
        CallDialect::MqttAgentMcp => CallTarget::MqttAgentTool {
            namespace: args.namespace.clone(),
            tool: need(&args.tool, "--tool NAME")?,
        },
        CallDialect::MqttAgentA2a => CallTarget::MqttAgentAgent {
            namespace: args.namespace.clone(),
            agent: need(&args.agent, "--agent ID")?,
        },
        CallDialect::EmqxMcp => CallTarget::EmqxMcp {
            server_name: need(&args.server, "--server NAME")?,
            server_id: args.server_id.clone().filter(|s| !s.is_empty()),
            operation: match args.tool.as_deref().filter(|t| !t.is_empty()) {
                Some(tool) => McpOperation::CallTool {
                    tool: tool.to_owned(),
                },
                None => McpOperation::ListTools,
            },
        },
        CallDialect::EmqxA2a => {
            let agent = need(&args.agent, "--agent ORG/UNIT/AGENT")?;
            let levels: Vec<&str> = agent.split('/').collect();
            match levels.as_slice() {
                [org, unit, agent] => CallTarget::EmqxA2a {
                    org: (*org).to_owned(),
                    unit: (*unit).to_owned(),
                    agent: (*agent).to_owned(),
                },
                [org, unit, "pool", pool] => CallTarget::EmqxA2a {
                    org: (*org).to_owned(),
                    unit: (*unit).to_owned(),
                    agent: format!("pool/{pool}"),
                },
                _ => {
                    return Err(format!(
                        "--agent {agent:?}: expected ORG/UNIT/AGENT (or ORG/UNIT/pool/POOL)"
                    ));
                }
            }
        }
        CallDialect::Mqtt5 => CallTarget::Mqtt5 {
            topic: need(&args.topic, "--topic TOPIC")?,
            response_topic: args.response_topic.clone().unwrap_or_else(|| {
                format!("meshscope/replies/{}", me.replace(['/', '+', '#'], "_"))
            }),
            correlation: args
                .correlation
                .clone()
                .unwrap_or_else(|| super::ids::IdSource::new(super::ids::random_seed()).hex(16)),
        },
    };
    if matches!(
        args.dialect,
        CallDialect::MqttAgentA2a | CallDialect::EmqxA2a
    ) {
        need(&args.text, "--text TEXT")?;
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        return Err("--timeout must be a positive number of seconds (at most a day)".to_owned());
    }
    let mut user_properties = Vec::new();
    for pair in &args.user_properties {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--user-property {pair:?}: expected KEY=VALUE"))?;
        user_properties.push((key.to_owned(), value.to_owned()));
    }
    let mut spec = CallSpec::new(target);
    spec.arguments = arguments;
    spec.text = match args.dialect {
        CallDialect::Mqtt5 => args.payload.clone().unwrap_or_default(),
        _ => args.text.clone().unwrap_or_default(),
    };
    spec.options.qos = args.qos;
    spec.options.timeout_millis = (args.timeout * 1000.0).round().max(1.0) as u64;
    spec.options.user_properties = user_properties;
    spec.options.message_expiry_secs = args.message_expiry;
    spec.options.validate = !args.no_validate;
    // The command line knows no catalogue: read the tool card for its schema and streaming flag.
    spec.options.fetch_card = true;
    Ok(spec)
}

fn dialect_name(dialect: CallDialect) -> &'static str {
    match dialect {
        CallDialect::MqttAgentMcp => "mqtt-agent-mcp",
        CallDialect::MqttAgentA2a => "mqtt-agent-a2a",
        CallDialect::EmqxMcp => "emqx-mcp",
        CallDialect::EmqxA2a => "emqx-a2a",
        CallDialect::Mqtt5 => "mqtt5",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<CallSpec, String> {
        let mut argv = vec!["meshscope", "call", "--broker", "mqtt://127.0.0.1:1883"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Some(Command::Call { call, .. }) = cli.command else {
            panic!("not a call")
        };
        spec_from_args(&call, "meshscope-abc")
    }

    #[test]
    fn each_dialect_maps_to_its_target() {
        let spec = parse(&[
            "--tool",
            "echo",
            "--args",
            r#"{"text":"hi"}"#,
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(
            spec.target,
            CallTarget::MqttAgentTool {
                namespace: "a2a/v1".into(),
                tool: "echo".into()
            }
        );
        assert_eq!(spec.arguments, serde_json::json!({"text": "hi"}));
        assert_eq!(spec.options.timeout_millis, 2_500);
        let spec = parse(&["--dialect", "emqx-mcp", "--server", "acme/fleet/telemetry"]).unwrap();
        assert!(matches!(
            spec.target,
            CallTarget::EmqxMcp {
                operation: McpOperation::ListTools,
                ..
            }
        ));
        let spec = parse(&[
            "--dialect",
            "emqx-a2a",
            "--agent",
            "com.acme/support/pool/triagers",
            "--text",
            "x",
        ])
        .unwrap();
        assert_eq!(
            spec.target,
            CallTarget::EmqxA2a {
                org: "com.acme".into(),
                unit: "support".into(),
                agent: "pool/triagers".into()
            }
        );
        let spec = parse(&[
            "--dialect",
            "mqtt5",
            "--topic",
            "requests/math/add",
            "--payload",
            "[1,2]",
            "--user-property",
            "k=v=w",
            "--qos",
            "0",
        ])
        .unwrap();
        assert!(
            matches!(&spec.target, CallTarget::Mqtt5 { response_topic, correlation, .. }
            if response_topic == "meshscope/replies/meshscope-abc" && correlation.len() == 16)
        );
        assert_eq!(spec.text, "[1,2]");
        assert_eq!(
            spec.options.user_properties,
            vec![("k".to_owned(), "v=w".to_owned())]
        );
        assert_eq!(spec.options.qos, 0);
    }

    #[test]
    fn missing_or_malformed_flags_are_explained() {
        assert!(parse(&[]).unwrap_err().contains("--tool"));
        assert!(
            parse(&["--tool", "echo", "--args", "[1]"])
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(
            parse(&["--tool", "echo", "--args", "{"])
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse(&["--dialect", "emqx-a2a", "--agent", "a/b", "--text", "x"])
                .unwrap_err()
                .contains("ORG/UNIT/AGENT")
        );
        assert!(
            parse(&["--dialect", "emqx-a2a", "--agent", "a/b/c"])
                .unwrap_err()
                .contains("--text")
        );
        assert!(
            parse(&["--tool", "echo", "--timeout", "0"])
                .unwrap_err()
                .contains("--timeout")
        );
        assert!(
            parse(&["--tool", "echo", "--user-property", "novalue"])
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        assert!(parse(&["--tool", "echo", "--qos", "3"]).is_err());
    }
}
