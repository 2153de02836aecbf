//! The meshscope binary: parses the command line and hands over to the library.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use meshscope::app::{AppOptions, MeshscopeApp};
use meshscope::cli::{Cli, Command, GuiArgs};
use meshscope::headless;

fn main() -> ExitCode {
    meshscope::allocator::limit_arenas();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,meshscope=info,mqtt5=error,winit=error")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        None => run_gui(cli.gui),
        Some(Command::Broker { port, bind }) => {
            headless::run_broker(std::net::SocketAddr::new(bind, port))
        }
        Some(Command::Demo { broker, seed }) => headless::run_demo(&broker, seed),
        Some(Command::Report {
            connect,
            duration,
            replay,
            request_timeout,
        }) => headless::run_report(&connect, duration, replay.as_deref(), request_timeout),
        Some(Command::Record {
            connect,
            out,
            duration,
            no_redact,
        }) => headless::run_record(&connect, &out, duration, !no_redact),
        Some(Command::Call { connect, call }) => headless::run_call(&connect, &call),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_gui(args: GuiArgs) -> anyhow::Result<()> {
    let connect = match &args.connect.broker {
        Some(broker) if !args.demo => Some(headless::session_options(&args.connect, broker)?),
        _ => None,
    };
    let options = AppOptions {
        connect,
        demo: args.demo,
        view: headless::view(args.view),
        model: headless::model_config(&args),
        open: args.open.clone(),
        persist_layout: true,
    };
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Meshscope")
        .with_app_id("meshscope")
        .with_inner_size([1400.0, 860.0])
        .with_min_inner_size([800.0, 500.0]);
    match meshscope::ui::icon::app_icon() {
        Ok(icon) => viewport = viewport.with_icon(Arc::new(icon)),
        Err(e) => tracing::warn!("window icon: {e}"),
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "Meshscope",
        native,
        Box::new(move |cc| {
            meshscope::ui::theme::Theme::apply(&cc.egui_ctx);
            let ctx = cc.egui_ctx.clone();
            let repaint: meshscope::ingest::Notify =
                Arc::new(move || ctx.request_repaint_after(std::time::Duration::from_millis(30)));
            Ok(Box::new(MeshscopeApp::new(options, Some(repaint))?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
