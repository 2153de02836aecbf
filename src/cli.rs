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
    /// Broker to connect to at start: mqtt://host:port or mqtts://host:port.
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
        assert!(matches!(cli.command, Some(Command::Report { replay: Some(_), .. })));
        assert!(Cli::try_parse_from(["meshscope", "report", "--duration", "3"]).is_err());
        let cli = Cli::try_parse_from(["meshscope", "--demo"]).unwrap();
        assert!(cli.gui.demo);
    }
}
