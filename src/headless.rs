//! The headless modes behind the subcommands: broker alone, demo alone, report, and the GUI's start-up.

use std::net::SocketAddr;

use anyhow::Context as _;

use crate::cli::{ConnectArgs, GuiArgs, ViewArg};
use crate::model::{MeshConfig, ModelConfig, StoreLimits};
use crate::mqtt::{self, BrokerUrl, SessionOptions};
use crate::ui::View;

/// Session options from the command line; the password only ever comes from an environment variable.
pub fn session_options(args: &ConnectArgs, broker: &str) -> anyhow::Result<SessionOptions> {
    let broker: BrokerUrl = broker.parse().map_err(|e| anyhow::anyhow!("--broker {broker}: {e}"))?;
    let mut options = SessionOptions::new(broker);
    options.username = args.username.clone();
    if let Some(var) = &args.password_env {
        options.password =
            Some(std::env::var(var).with_context(|| format!("--password-env: environment variable {var} is not set"))?);
    }
    if let Some(id) = &args.client_id {
        options.client_id = id.clone();
    }
    options.ca_file = args.ca_file.clone();
    options.client_cert = args.client_cert.clone();
    options.client_key = args.client_key.clone();
    options.max_packet_bytes = args.max_packet_mib.saturating_mul(1024 * 1024);
    Ok(options)
}

pub fn model_config(args: &GuiArgs) -> ModelConfig {
    ModelConfig {
        store: StoreLimits {
            max_messages: args.max_messages,
            max_bytes: args.memory_budget_mib.saturating_mul(1024 * 1024),
        },
        mesh: MeshConfig::default(),
    }
}

pub fn view(arg: ViewArg) -> View {
    match arg {
        ViewArg::Presence => View::Presence,
        ViewArg::Timeline => View::Timeline,
        ViewArg::Messages => View::Messages,
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// `meshscope broker`: the embedded broker until Ctrl+C.
pub fn run_broker(bind: SocketAddr) -> anyhow::Result<()> {
    mqtt::install_crypto_provider();
    runtime()?.block_on(crate::broker::run_until_ctrl_c(bind))
}

/// `meshscope demo`: the demo agents against any broker until Ctrl+C.
pub fn run_demo(broker: &str, seed: u64) -> anyhow::Result<()> {
    let url: BrokerUrl = broker.parse().map_err(|e| anyhow::anyhow!("--broker {broker}: {e}"))?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut options = crate::demo::DemoOptions::new(url.host.clone(), url.port);
        options.seed = seed;
        eprintln!("demo mesh running against {url} (Ctrl+C stops it)");
        let demo = tokio::spawn(crate::demo::run(options, stopped));
        tokio::signal::ctrl_c().await.ok();
        let _ = stop.send(true);
        demo.await.context("demo task")?
    })
}

/// `meshscope report`: prints the model as JSON, from a live broker or a recording.
pub fn run_report(
    _connect: &ConnectArgs,
    _duration_secs: Option<f64>,
    _replay: Option<&std::path::Path>,
    _request_timeout_secs: f64,
) -> anyhow::Result<()> {
    anyhow::bail!("the report lands with the mesh model")
}
