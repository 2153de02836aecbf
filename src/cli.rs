//! The command line: the GUI's flags and the headless subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "meshscope",
    version,
    about = "Inspect AI-agent meshes over MQTT 5: presence, paired traces, latency, tool calls.",
    long_about = "Meshscope connects to an MQTT 5 broker as a passive observer, decodes the agent-mesh \
                  dialects (MQTT.Agent MCP and A2A, EMQX MCP and A2A over MQTT, OpenMAS, plain MQTT 5 \
                  request/response) and shows who is there, who called whom and how long it took.\n\n\
                  Without a subcommand it opens the window."
)]
pub struct Cli {
    #[command(flatten)]
    pub gui: GuiArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How to reach a broker (shared by the GUI and the headless subcommands).
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectArgs {
    /// Broker to connect to at start: mqtt://host:port, mqtts://host:port, ws://host:port/mqtt or wss://host:port/mqtt.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// User name for the broker.
    #[arg(long)]
    pub username: Option<String>,
    /// Read the broker password from this environment variable (never pass a password as a flag).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// MQTT client id (default: a fresh unique observer id; never reuse another client's id).
    #[arg(long)]
    pub client_id: Option<String>,
    /// CA certificate (PEM) to verify the broker with, instead of the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Largest message accepted from the broker, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub max_packet_mib: usize,
}

#[derive(Debug, Clone, Default, Args)]
pub struct GuiArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Open on a live demo mesh: an embedded broker on loopback, simulated agents, Meshscope connected.
    #[arg(long)]
    pub demo: bool,
    /// The view to open on.
    #[arg(long, value_enum, default_value_t = ViewArg::Messages)]
    pub view: ViewArg,
    /// Memory budget for stored messages, in MiB (oldest are evicted first).
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    pub memory_budget_mib: usize,
    /// Most messages kept in the store.
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    pub max_messages: usize,
    /// Open a Meshscope recording (or a peers-mesh capture) instead of connecting, then replay it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["demo", "broker"])]
    pub open: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ViewArg {
    /// The presence map: who is there, online or not, and who calls whom.
    Presence,
    /// The trace timeline and latency plots.
    Timeline,
    /// The raw message table.
    #[default]
    Messages,
    /// The tool-call composer.
    Composer,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded MQTT 5 broker alone (loopback unless --bind says otherwise).
    Broker {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 1883)]
        port: u16,
        /// Address to bind; anything but loopback exposes the broker to the network.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
    },
    /// Run the simulated demo agents alone against any broker.
    Demo {
        /// Broker the agents connect to: mqtt://host:port.
        #[arg(long, value_name = "URL")]
        broker: String,
        /// Seed of the simulated latencies, errors and drops (same seed, same story).
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Print the mesh model as JSON on stdout, observed live for a while or read from a recording.
    Report {
        #[command(flatten)]
        connect: ConnectArgs,
        /// How long to observe a live broker, in seconds.
        #[arg(long, value_name = "SECS", requires = "broker")]
        duration: Option<f64>,
        /// A Meshscope recording or a peers-mesh capture (JSONL) to read instead of a broker.
        #[arg(long, value_name = "FILE", conflicts_with = "broker")]
        replay: Option<PathBuf>,
        /// Seconds after which an unanswered request counts as a timeout.
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        request_timeout: f64,
    },
    /// Record what a broker carries to a JSONL file (raw messages, receive times, every property).
    ///
    /// Secret user property values (`a2a-authorization`, and keys containing authorization,
    /// password, secret, token, api-key, cookie, credential) are replaced by "[redacted]"
    /// unless --no-redact is given. Stops after --duration, or on Ctrl+C.
    Record {
        #[command(flatten)]
        connect: ConnectArgs,
        /// The recording to write (created or truncated).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Stop after this many seconds (default: record until Ctrl+C).
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Keep secret user property values as they arrived.
        #[arg(long)]
        no_redact: bool,
    },
    /// Call one tool or agent by hand, in its dialect, and print the result as JSON.
    ///
    /// Prints the result (or the error with its type), the latency on Meshscope's receive clock
    /// and the streamed partials. Exits 0 on success, non-zero on an error reply or a timeout.
    /// Sends as Meshscope's own client id (never another client's, never in a share group).
    #[command(after_help = "Examples:\n  \
        meshscope call --broker mqtt://localhost:1883 --tool echo --args '{\"text\":\"hi\"}'\n  \
        meshscope call --broker mqtt://localhost:1883 --dialect emqx-mcp --server acme/fleet/telemetry \
        --tool get_vehicle_status --args '{\"vehicle_id\":\"VH-0042\"}'\n  \
        meshscope call --broker mqtt://localhost:1883 --dialect emqx-a2a --agent com.acme/support/triage \
        --text 'Login loops'")]
    Call {
        #[command(flatten)]
        connect: ConnectArgs,
        #[command(flatten)]
        call: Box<CallArgs>,
    },
}

/// The dialect `meshscope call` speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum CallDialect {
    /// MQTT.Agent MCP: `--tool NAME --args JSON [--namespace NS]`.
    #[default]
    MqttAgentMcp,
    /// MQTT.Agent A2A: `--agent ID --text TEXT [--namespace NS]`.
    MqttAgentA2a,
    /// EMQX MCP over MQTT: `--server NAME [--tool NAME --args JSON]` (no tool: list the tools).
    EmqxMcp,
    /// EMQX A2A over MQTT: `--agent ORG/UNIT/AGENT --text TEXT`.
    EmqxA2a,
    /// Plain MQTT 5 request/response: `--topic T --payload P [--response-topic R] [--correlation C]`.
    Mqtt5,
}

/// What `meshscope call` sends (see `meshscope call --help`).
#[derive(Debug, Clone, Default, Args)]
pub struct CallArgs {
    #[arg(long, value_enum, default_value_t = CallDialect::MqttAgentMcp)]
    pub dialect: CallDialect,
    /// The tool to call (MQTT.Agent MCP, EMQX MCP).
    #[arg(long, value_name = "NAME")]
    pub tool: Option<String>,
    /// Tool arguments as a JSON object (default `{}`); for A2A, an extra data part.
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// MQTT.Agent namespace.
    #[arg(long, value_name = "NS", default_value = "a2a/v1")]
    pub namespace: String,
    /// EMQX MCP server name (e.g. acme/fleet/telemetry).
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,
    /// EMQX MCP server instance (server-id); default: the first online one.
    #[arg(long, value_name = "ID")]
    pub server_id: Option<String>,
    /// The agent: ORG/UNIT/AGENT (EMQX A2A; ORG/UNIT/pool/POOL for a pool) or an agent id (MQTT.Agent A2A).
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// The message text for an agent.
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Plain MQTT 5: the request topic.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Plain MQTT 5: the request payload (text).
    #[arg(long, value_name = "TEXT")]
    pub payload: Option<String>,
    /// Plain MQTT 5: where replies are expected (default: meshscope/replies/<client id>).
    #[arg(long, value_name = "TOPIC")]
    pub response_topic: Option<String>,
    /// Plain MQTT 5: Correlation Data (default: 16 random hex digits).
    #[arg(long, value_name = "TEXT")]
    pub correlation: Option<String>,
    /// Seconds without any reply (or partial) before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
    /// QoS of the request.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// A user property to add to the request (repeatable).
    #[arg(long = "user-property", value_name = "KEY=VALUE")]
    pub user_properties: Vec<String>,
    /// Message Expiry Interval of the request, in seconds.
    #[arg(long, value_name = "SECS")]
    pub message_expiry: Option<u32>,
    /// Send even when the arguments do not match the tool's input schema.
    #[arg(long)]
    pub no_validate: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent_and_has_no_password_flag() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("--password-env"));
        assert!(!help.contains("--password "));
        let cli = Cli::try_parse_from(["meshscope", "report", "--replay", "x.jsonl"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Report {
                replay: Some(_),
                ..
            })
        ));
        assert!(Cli::try_parse_from(["meshscope", "report", "--duration", "3"]).is_err());
        let cli = Cli::try_parse_from(["meshscope", "--demo"]).unwrap();
        assert!(cli.gui.demo);
        let cli = Cli::try_parse_from(["meshscope", "--open", "r.jsonl"]).unwrap();
        assert_eq!(
            cli.gui.open.as_deref(),
            Some(std::path::Path::new("r.jsonl"))
        );
        assert!(Cli::try_parse_from(["meshscope", "--open", "r.jsonl", "--demo"]).is_err());
        let cli = Cli::try_parse_from([
            "meshscope",
            "record",
            "--broker",
            "mqtt://h:1",
            "--out",
            "o.jsonl",
            "--duration",
            "2",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Record { duration: Some(d), no_redact: false, .. }) if d == 2.0
        ));
        assert!(Cli::try_parse_from(["meshscope", "record", "--broker", "mqtt://h:1"]).is_err());
    }
}
