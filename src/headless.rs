//! The headless modes behind the subcommands: broker alone, demo alone, report, and the GUI's start-up.

use std::net::SocketAddr;

use anyhow::Context as _;

use crate::cli::{ConnectArgs, GuiArgs, ViewArg};
use crate::ingest::{self, SharedModel};
use crate::model::{MeshConfig, ModelConfig, StoreLimits};
use crate::mqtt::{self, BrokerUrl, SessionCommand, SessionOptions};
use crate::ui::View;
use std::time::Duration;

/// Session options from the command line; the password only ever comes from an environment variable.
pub fn session_options(args: &ConnectArgs, broker: &str) -> anyhow::Result<SessionOptions> {
    let broker: BrokerUrl = broker
        .parse()
        .map_err(|e| anyhow::anyhow!("--broker {broker}: {e}"))?;
    let mut options = SessionOptions::new(broker);
    options.username = args.username.clone();
    if let Some(var) = &args.password_env {
        options.password =
            Some(std::env::var(var).with_context(|| {
                format!("--password-env: environment variable {var} is not set")
            })?);
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
        ViewArg::Composer => View::Composer,
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `meshscope broker`: the embedded broker until Ctrl+C.
pub fn run_broker(bind: SocketAddr) -> anyhow::Result<()> {
    mqtt::install_crypto_provider();
    runtime()?.block_on(crate::broker::run_until_ctrl_c(bind))
}

/// `meshscope demo`: the demo agents against any broker until Ctrl+C.
pub fn run_demo(broker: &str, seed: u64) -> anyhow::Result<()> {
    let url: BrokerUrl = broker
        .parse()
        .map_err(|e| anyhow::anyhow!("--broker {broker}: {e}"))?;
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
        (None, None) => {
            anyhow::bail!("report needs --replay FILE, or --broker URL with --duration SECS")
        }
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Observes a live broker for `duration_secs`, then builds the report from what was seen.
pub fn report_live(
    args: &ConnectArgs,
    duration_secs: f64,
    mesh: MeshConfig,
) -> anyhow::Result<serde_json::Value> {
    let broker = args
        .broker
        .as_deref()
        .context("--broker is required with --duration")?;
    let options = session_options(args, broker)?;
    let duration = Duration::try_from_secs_f64(duration_secs)
        .context("--duration must be a positive number of seconds")?;
    mqtt::install_crypto_provider();
    let runtime = runtime()?;
    let model = SharedModel::new(ModelConfig {
        store: StoreLimits::default(),
        mesh,
    });
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
    let end = guard
        .mesh
        .observed()
        .to_nanos
        .unwrap_or(0)
        .max(crate::now_nanos());
    guard.tick(end);
    let observed = guard.mesh.observed();
    Ok(crate::report::build(&guard.mesh, &observed))
}

/// What `meshscope record` (or [`record_until`]) did.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    pub stats: crate::record::recorder::RecorderStats,
    /// Messages the session handed to ingest (all of them were offered to the recorder).
    pub messages_received: u64,
}

/// Records what `options`' broker carries to `out` until `until` completes, through the ingest
/// path the GUI uses (the recorder taps it before decoding). The store is kept small: the file
/// is what matters here. `progress_every` prints the counts on stderr now and then.
pub async fn record_until(
    options: SessionOptions,
    out: &std::path::Path,
    recorder: crate::record::recorder::RecorderOptions,
    until: impl std::future::Future<Output = ()>,
    progress_every: Option<Duration>,
) -> anyhow::Result<RecordOutcome> {
    use crate::record::recorder::RecorderTap;
    let model = SharedModel::new(ModelConfig {
        store: StoreLimits {
            max_messages: 10_000,
            max_bytes: 64 * 1024 * 1024,
        },
        mesh: MeshConfig::default(),
    });
    let tap = RecorderTap::new();
    tap.start(out, recorder)
        .with_context(|| format!("cannot record to {}", out.display()))?;
    let (events, receiver) = ingest::channel();
    let pump = tokio::spawn(ingest::run_with(
        model.clone(),
        receiver,
        None,
        Some(tap.clone()),
    ));
    let session = mqtt::spawn(&tokio::runtime::Handle::current(), options, events);
    let progress = {
        let tap = tap.clone();
        async move {
            let Some(every) = progress_every else {
                return std::future::pending().await;
            };
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Some(s) = tap.stats() {
                    eprintln!("recording: {} messages written, {} lost", s.written, s.lost);
                }
            }
        }
    };
    tokio::select! {
        () = until => {}
        () = progress => {}
    }
    let _ = session.send(SessionCommand::Disconnect).await;
    drop(session);
    // The pump ends once the session task has let go of its sender (after its last event).
    if tokio::time::timeout(Duration::from_secs(5), pump)
        .await
        .is_err()
    {
        tracing::warn!("ingest did not drain within 5 s; the recording ends here");
    }
    let recorder = tap.stop().context("the recording was stopped elsewhere")?;
    let stats = tokio::task::spawn_blocking(move || recorder.finish())
        .await
        .context("recorder")?;
    let messages_received = model.lock().messages_total;
    Ok(RecordOutcome {
        stats,
        messages_received,
    })
}

/// `meshscope record`: a broker's traffic to a JSONL recording, for `--duration` or until Ctrl+C.
pub fn run_record(
    args: &ConnectArgs,
    out: &std::path::Path,
    duration_secs: Option<f64>,
    redact: bool,
) -> anyhow::Result<()> {
    let broker = args
        .broker
        .as_deref()
        .context("record needs --broker URL")?;
    let options = session_options(args, broker)?;
    let duration = duration_secs
        .map(|secs| {
            Duration::try_from_secs_f64(secs)
                .context("--duration must be a positive number of seconds")
        })
        .transpose()?;
    mqtt::install_crypto_provider();
    let runtime = runtime()?;
    let recorder = crate::record::recorder::RecorderOptions {
        redact,
        broker: Some(options.broker.to_string()),
        ..Default::default()
    };
    match duration {
        Some(d) => eprintln!(
            "recording {broker} to {} for {:.1} s",
            out.display(),
            d.as_secs_f64()
        ),
        None => eprintln!("recording {broker} to {} (Ctrl+C stops)", out.display()),
    }
    let until = async move {
        match duration {
            // The length the user asked for, not a synchronisation.
            Some(d) => tokio::select! {
                () = tokio::time::sleep(d) => {}
                Ok(()) = tokio::signal::ctrl_c() => {}
            },
            None => {
                if let Err(e) = tokio::signal::ctrl_c().await {
                    tracing::warn!(
                        "Ctrl+C cannot be caught ({e}); stop the process to end the recording"
                    );
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let outcome = runtime.block_on(record_until(
        options,
        out,
        recorder,
        until,
        Some(Duration::from_secs(10)),
    ))?;
    let s = &outcome.stats;
    eprintln!(
        "recorded {} messages to {} ({} bytes); {} lost{}",
        s.written,
        out.display(),
        s.bytes_written,
        s.lost,
        if redact {
            format!("; {} secret values redacted", s.redacted_values)
        } else {
            String::new()
        },
    );
    if let Some(e) = &s.write_error {
        anyhow::bail!("writing {} failed: {e}", out.display());
    }
    if s.lost > 0 {
        eprintln!(
            "warning: the disk did not keep up; {} messages are missing from the recording",
            s.lost
        );
    }
    Ok(())
}

/// A composer step as a session command (the app and `meshscope call` both carry steps out).
pub fn step_command(step: crate::composer::Step) -> SessionCommand {
    use crate::composer::Step;
    match step {
        Step::Subscribe { filter, qos } => SessionCommand::Subscribe { filter, qos },
        Step::Unsubscribe { filter } => SessionCommand::Unsubscribe { filter },
        Step::Publish(out) => SessionCommand::Publish(mqtt::OutgoingPublish {
            topic: out.topic,
            payload: out.payload,
            qos: out.qos,
            retain: out.retain,
            properties: out.properties,
        }),
    }
}

/// Hands a composer call's steps to the app's observing session, in order. Subscriptions the
/// observer already holds (`#`, the `$`-roots) are skipped: the broker would deliver twice.
pub fn send_steps(
    session: Option<&mqtt::SessionHandle>,
    steps: Vec<crate::composer::Step>,
) -> Result<(), String> {
    use crate::composer::{Step, covered_by};
    let session = session.ok_or("not connected to a broker")?;
    for step in steps {
        if let Step::Subscribe { filter, .. } | Step::Unsubscribe { filter } = &step
            && covered_by(filter, &mqtt::OBSERVER_FILTERS)
        {
            continue;
        }
        session
            .try_send(step_command(step))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs one composer call on its own session (not observing: only the call's own filters are
/// subscribed) and returns its report. Connecting counts against the call's timeout.
pub async fn call_once(
    options: SessionOptions,
    spec: crate::composer::CallSpec,
) -> anyhow::Result<crate::composer::CallReport> {
    use crate::composer::{PendingCall, ids};
    use crate::protocol::{ConnectionState, SessionEvent};
    let timeout = Duration::from_millis(spec.options.timeout_millis);
    let (events, mut receiver) = tokio::sync::mpsc::channel(1024);
    let session = mqtt::spawn(&tokio::runtime::Handle::current(), options, events);
    let me = session.client_id().to_owned();
    let connect_by = tokio::time::Instant::now() + timeout;
    let mut last_problem = String::from("no answer from the broker");
    loop {
        match tokio::time::timeout_at(connect_by, receiver.recv()).await {
            Err(_) => anyhow::bail!(
                "could not connect within {:.1} s: {last_problem}",
                timeout.as_secs_f64()
            ),
            Ok(None) => anyhow::bail!("the session ended before it connected: {last_problem}"),
            Ok(Some(SessionEvent::State { state, .. })) => match state {
                ConnectionState::Connected { .. } => break,
                ConnectionState::Disconnected {
                    reason,
                    retry_in_millis: None,
                    ..
                } => {
                    anyhow::bail!("cannot connect: {reason}")
                }
                ConnectionState::Disconnected { reason, .. } => last_problem = reason,
                _ => {}
            },
            Ok(Some(_)) => {}
        }
    }
    let (mut call, mut steps) =
        PendingCall::start(spec, &me, ids::random_seed(), crate::now_nanos());
    while !call.is_done() {
        for step in std::mem::take(&mut steps) {
            tracing::debug!("call: {}", step.describe());
            if session.send(step_command(step)).await.is_err() {
                call.fail_send("the session stopped", crate::now_nanos());
                break;
            }
        }
        if call.is_done() {
            break;
        }
        let wait = call.next_deadline_nanos().map_or(Duration::ZERO, |at| {
            Duration::from_nanos(at.saturating_sub(crate::now_nanos()))
        });
        steps = tokio::select! {
            event = receiver.recv() => match event {
                Some(SessionEvent::Message(raw)) => call.on_message(&raw, crate::now_nanos()),
                Some(SessionEvent::CommandFailed { what, reason, .. }) => {
                    call.fail_send(&format!("{what}: {reason}"), crate::now_nanos())
                }
                Some(SessionEvent::SubscribeRefused { filter, reason, .. }) => {
                    call.fail_send(&format!("the broker refused the subscription to {filter}: {reason}"), crate::now_nanos())
                }
                Some(_) => Vec::new(),
                None => call.fail_send("the session ended", crate::now_nanos()),
            },
            () = tokio::time::sleep(wait) => call.on_tick(crate::now_nanos()),
        };
    }
    if call.may_have_late_partials() {
        // Stream items the broker delivered behind the result (it keeps no order across
        // topics) still count; unsubscribing the stream waits for them, briefly.
        let grace = Duration::from_millis(crate::composer::call::LATE_PARTIALS_GRACE_MILLIS);
        let _ = tokio::time::timeout(grace, async {
            while let Some(event) = receiver.recv().await {
                if let SessionEvent::Message(raw) = event {
                    call.on_message(&raw, crate::now_nanos());
                }
            }
        })
        .await;
    }
    // The final steps (clean-up, cancel or de-initialize notifications), then goodbye.
    steps.extend(call.take_cleanup());
    for step in steps {
        let _ = session.send(step_command(step)).await;
    }
    let _ = session.send(SessionCommand::Disconnect).await;
    // Let the DISCONNECT (and the clean-up publishes before it) reach the broker.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(event) = receiver.recv().await {
            if let SessionEvent::State {
                state: ConnectionState::Stopped { .. },
                ..
            } = event
            {
                break;
            }
        }
    })
    .await;
    Ok(call.report())
}

/// `meshscope call`: one call by hand; the report goes to stdout as JSON. An error reply or a
/// timeout is an error (non-zero exit) after the JSON is printed.
pub fn run_call(connect: &ConnectArgs, args: &crate::cli::CallArgs) -> anyhow::Result<()> {
    let broker = connect
        .broker
        .as_deref()
        .context("call needs --broker URL")?;
    let mut options = session_options(connect, broker)?;
    options.observe = false;
    let spec = crate::composer::command_line::spec_from_args(args, &options.client_id)
        .map_err(|e| anyhow::anyhow!(e))?;
    mqtt::install_crypto_provider();
    let runtime = runtime()?;
    let report = runtime.block_on(call_once(options, spec))?;
    println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    match (report.outcome, &report.error) {
        (crate::composer::CallOutcome::Ok, _) => Ok(()),
        (outcome, Some(error)) => anyhow::bail!(
            "call {}: {}: {}",
            outcome.as_str(),
            error.error_type,
            error.message
        ),
        (outcome, None) => anyhow::bail!("call {}", outcome.as_str()),
    }
}
