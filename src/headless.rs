//! The headless modes behind the subcommands: broker alone, demo alone, report, and the GUI's start-up.

use std::net::SocketAddr;

use anyhow::Context as _;

use crate::cli::{ConnectArgs, GuiArgs, ViewArg};
use crate::model::{MeshConfig, ModelConfig, StoreLimits};
use crate::mqtt::{self, BrokerUrl, SessionCommand, SessionOptions};
use crate::ingest::{self, SharedModel};
use std::time::Duration;
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

/// `meshscope report`: prints the model as JSON, from a recording or from a live broker.
pub fn run_report(
    connect: &ConnectArgs,
    duration_secs: Option<f64>,
    replay: Option<&std::path::Path>,
    request_timeout_secs: f64,
) -> anyhow::Result<()> {
    if !(request_timeout_secs.is_finite() && request_timeout_secs > 0.0) {
        anyhow::bail!("--request-timeout must be a positive number of seconds");
    }
    let mesh = MeshConfig {
        request_timeout_nanos: (request_timeout_secs * 1e9) as u64,
        ..MeshConfig::default()
    };
    let report = match (replay, duration_secs) {
        (Some(path), _) => crate::report::replay_file(path, mesh)?,
        (None, Some(secs)) => report_live(connect, secs, mesh)?,
        (None, None) => anyhow::bail!("report needs --replay FILE, or --broker URL with --duration SECS"),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Observes a live broker for `duration_secs`, then builds the report from what was seen.
pub fn report_live(args: &ConnectArgs, duration_secs: f64, mesh: MeshConfig) -> anyhow::Result<serde_json::Value> {
    let broker = args.broker.as_deref().context("--broker is required with --duration")?;
    let options = session_options(args, broker)?;
    let duration = Duration::try_from_secs_f64(duration_secs).context("--duration must be a positive number of seconds")?;
    mqtt::install_crypto_provider();
    let runtime = runtime()?;
    let model = SharedModel::new(ModelConfig { store: StoreLimits::default(), mesh });
    let (events, receiver) = ingest::channel();
    let pump = runtime.spawn(ingest::run(model.clone(), receiver, None));
    let session = mqtt::spawn(runtime.handle(), options, events);
    runtime.block_on(async {
        // The observation window the user asked for, not a synchronisation.
        tokio::time::sleep(duration).await;
        let _ = session.send(SessionCommand::Disconnect).await;
        drop(session);
        let _ = tokio::time::timeout(Duration::from_secs(5), pump).await;
    });
    let mut guard = model.lock();
    let end = guard.mesh.observed().to_nanos.unwrap_or(0).max(crate::now_nanos());
    guard.tick(end);
    let observed = guard.mesh.observed();
    Ok(crate::report::build(&guard.mesh, &observed))
}
