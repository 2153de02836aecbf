//! The eframe app: owns the runtime, session, demo and model handles; draws the views and applies their actions.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{RichText, Ui};
use tokio::sync::{mpsc, watch};

use crate::broker::EmbeddedBroker;
use crate::ingest::{self, SharedModel};
use crate::model::ModelConfig;
use crate::mqtt::{self, SessionCommand, SessionHandle, SessionOptions};
use crate::protocol::SessionEvent;
use crate::settings::{self, Profile, Settings};
use crate::ui::composer::{ComposerViewState, composer_view_ui};
use crate::ui::connection_dialog::{ConnectionDialogState, connection_dialog_ui};
use crate::ui::presence::{PresenceViewState, presence_view_ui};
use crate::ui::raw_view::{RawViewState, raw_view_ui};
use crate::ui::status_bar::status_bar_ui;
use crate::ui::theme::Theme;
use crate::ui::timeline::{TimelineViewState, timeline_view_ui};
use crate::ui::{Action, View};

mod recording;

pub use recording::{crop_image, write_png};

/// What to do at start (from the command line).
#[derive(Debug, Default)]
pub struct AppOptions {
    pub connect: Option<SessionOptions>,
    pub demo: bool,
    pub view: View,
    pub model: ModelConfig,
    /// A recording to open at start (instead of connecting).
    pub open: Option<PathBuf>,
    /// Load the presence map's node positions at start and save them at exit (off in tests).
    pub persist_layout: bool,
}

fn presence_layout_path() -> PathBuf {
    settings::config_dir().join("presence-layout.json")
}

fn composer_templates_path() -> PathBuf {
    settings::config_dir().join("composer-templates.json")
}

/// Saved composer templates; a missing file is none, a broken one an error for the notice.
fn load_templates() -> Result<crate::composer::history::Templates, String> {
    match std::fs::read(composer_templates_path()) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(e.to_string()),
    }
}

fn save_templates(templates: &crate::composer::history::Templates) -> Result<(), String> {
    let path = composer_templates_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_vec_pretty(templates).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| e.to_string())
}

/// The demo mesh the app started: its broker and the switch that stops its agents.
struct DemoRunning {
    broker_addr: SocketAddr,
    stop: watch::Sender<bool>,
    broker: Option<EmbeddedBroker>,
}

/// A payload save the user asked for: the path field of the small save window.
struct PendingSave {
    seq: u64,
    path: String,
}

pub struct MeshscopeApp {
    runtime: Arc<tokio::runtime::Runtime>,
    model: SharedModel,
    events: mpsc::Sender<SessionEvent>,
    session: Option<SessionHandle>,
    demo: Option<DemoRunning>,
    settings: Settings,
    view: View,
    raw: RawViewState,
    presence: PresenceViewState,
    timeline: TimelineViewState,
    composer: ComposerViewState,
    dialog: ConnectionDialogState,
    pending_save: Option<PendingSave>,
    picked_path: Arc<std::sync::Mutex<Option<PathBuf>>>,
    notice: Option<(String, bool)>,
    show_shortcuts: bool,
    recording: recording::RecordingControl,
    persist_layout: bool,
}

impl MeshscopeApp {
    /// Builds the app; `repaint` is called from ingest when new data arrived.
    pub fn new(options: AppOptions, repaint: Option<ingest::Notify>) -> anyhow::Result<Self> {
        mqtt::install_crypto_provider();
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("meshscope-io")
                .enable_all()
                .build()?,
        );
        let model = SharedModel::new(options.model.clone());
        let (events, receiver) = ingest::channel();
        let recording = recording::RecordingControl::new(repaint.clone());
        // Decoding and applying run on their own thread: the runtime's workers stay free for
        // the session, the demo mesh and its embedded broker.
        ingest::spawn_thread(
            model.clone(),
            receiver,
            repaint,
            Some(recording.tap.clone()),
        )?;
        let (settings, settings_error) = match Settings::load(&settings::settings_path()) {
            Ok(s) => (s, None),
            Err(e) => (Settings::default(), Some(e.to_string())),
        };
        let mut app = MeshscopeApp {
            runtime,
            model,
            events,
            session: None,
            demo: None,
            settings,
            view: options.view,
            raw: RawViewState::default(),
            presence: PresenceViewState::default(),
            timeline: TimelineViewState::default(),
            composer: ComposerViewState::default(),
            dialog: ConnectionDialogState::default(),
            pending_save: None,
            picked_path: Arc::default(),
            notice: settings_error.map(|e| (format!("Settings not loaded: {e}"), true)),
            show_shortcuts: false,
            recording,
            persist_layout: false,
        };
        if options.persist_layout {
            app.persist_layout = true;
            if let Err(e) = app.presence.load_layout(&presence_layout_path()) {
                app.notice = Some((format!("Presence layout not loaded: {e}"), true));
            }
            match load_templates() {
                Ok(templates) => app.composer.set_templates(templates),
                Err(e) => app.notice = Some((format!("Composer templates not loaded: {e}"), true)),
            }
        }
        if let Some(path) = &options.open {
            app.open_recording(path);
        } else if options.demo {
            app.start_demo()?;
        } else if let Some(connect) = options.connect {
            app.connect(connect);
        } else {
            let last = app.settings.last_profile.clone();
            let profile = app
                .settings
                .profiles
                .iter()
                .find(|p| Some(&p.name) == last.as_ref())
                .cloned()
                .unwrap_or_else(|| Profile {
                    broker_url: "mqtt://localhost:1883".into(),
                    ..Profile::default()
                });
            app.dialog.open_with(profile);
        }
        Ok(app)
    }

    pub fn model(&self) -> &SharedModel {
        &self.model
    }

    /// Embedded broker on a free loopback port, the demo agents on it, and the observer connected.
    fn start_demo(&mut self) -> anyhow::Result<()> {
        let broker = self
            .runtime
            .block_on(EmbeddedBroker::start(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                0,
            ))))?;
        let broker_addr = broker.local_addr();
        let (stop, stopped) = watch::channel(false);
        let demo_options =
            crate::demo::DemoOptions::new(broker_addr.ip().to_string(), broker_addr.port());
        self.runtime.spawn(async move {
            if let Err(e) = crate::demo::run(demo_options, stopped).await {
                tracing::error!("demo mesh stopped: {e:#}");
            }
        });
        self.demo = Some(DemoRunning {
            broker_addr,
            stop,
            broker: Some(broker),
        });
        let url = format!("mqtt://{broker_addr}");
        match url.parse() {
            Ok(broker_url) => self.connect(SessionOptions::new(broker_url)),
            Err(e) => self.notice = Some((format!("demo broker address: {e}"), true)),
        }
        Ok(())
    }

    fn connect(&mut self, options: SessionOptions) {
        self.close_recording();
        self.disconnect();
        tracing::info!("connecting to {}", options.broker);
        self.session = Some(mqtt::spawn(
            self.runtime.handle(),
            options,
            self.events.clone(),
        ));
    }

    fn disconnect(&mut self) {
        if let Some(session) = self.session.take()
            && session.try_send(SessionCommand::Disconnect).is_err()
        {
            tracing::warn!("session already gone");
        }
    }

    fn apply(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::OpenConnectionDialog => {
                let mut draft = self.dialog.draft.clone();
                // Connected from the command line: start from that broker.
                if draft.broker_url.trim().is_empty()
                    && let Some(state) = self.model.lock().session.current()
                {
                    draft.broker_url = state.broker().to_owned();
                }
                self.dialog.open_with(draft);
            }
            Action::Connect { profile, password } => {
                match session_options_from_profile(&profile, password) {
                    Ok(options) => {
                        self.dialog.open = false;
                        self.dialog.error = None;
                        if !profile.name.trim().is_empty() {
                            self.settings.last_profile = Some(profile.name.clone());
                        }
                        self.connect(options);
                    }
                    Err(e) => self.dialog.error = Some(e),
                }
            }
            Action::Disconnect => self.disconnect(),
            Action::SaveProfile(profile) => {
                self.settings.upsert(profile);
                self.save_settings();
            }
            Action::DeleteProfile(name) => {
                self.settings.remove(&name);
                self.save_settings();
            }
            Action::SavePayload { seq } => {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default();
                self.pending_save = Some(PendingSave {
                    seq,
                    path: home
                        .join(format!("meshscope-payload-{seq}.bin"))
                        .display()
                        .to_string(),
                });
            }
            Action::CopyPayload { seq } => {
                let model = self.model.lock();
                if let Some(message) = model.store.get(seq) {
                    let text = match std::str::from_utf8(message.raw.payload) {
                        Ok(t) => t.to_owned(),
                        Err(_) => crate::ui::widgets::hex_compact(message.raw.payload),
                    };
                    ctx.copy_text(text);
                    self.notice = Some(("Payload copied to the clipboard".into(), false));
                }
            }
            Action::SelectView(view) => self.view = view,
            // The views keep their own selection; these also switch to the view that shows it.
            Action::SelectParticipant(participant) => {
                if self.view != View::Presence {
                    self.presence.select(participant);
                    self.view = View::Presence;
                }
            }
            Action::SelectTrace(Some(trace_id)) => {
                if self.view != View::Timeline {
                    self.timeline.select_trace(trace_id);
                    self.view = View::Timeline;
                }
            }
            Action::SelectTrace(None) => {}
            Action::SendCall { call_key, steps } => {
                if let Err(reason) = crate::headless::send_steps(self.session.as_ref(), steps) {
                    let now_nanos = self.now_nanos();
                    self.composer.send_failed(call_key, &reason, now_nanos);
                }
            }
            Action::OpenComposer(participant) => {
                self.composer.select_participant(&participant);
                self.view = View::Composer;
            }
            other @ (Action::OpenRecording(_)
            | Action::CloseRecording
            | Action::StartRecording { .. }
            | Action::StopRecording
            | Action::Replay(_)
            | Action::Export { .. }
            | Action::BrowseFile(_)
            | Action::SaveScreenshot { .. }) => self.apply_recording_action(other, ctx),
        }
    }

    fn save_settings(&mut self) {
        if let Err(e) = self.settings.save(&settings::settings_path()) {
            self.notice = Some((e.to_string(), true));
        }
    }

    fn write_payload(&mut self, seq: u64, path: &str) {
        let payload = self
            .model
            .lock()
            .store
            .get(seq)
            .map(|m| m.raw.payload.clone());
        match payload {
            None => self.notice = Some(("That message was evicted from memory".into(), true)),
            Some(bytes) => match std::fs::write(path, &bytes) {
                Ok(()) => {
                    self.notice = Some((format!("Saved {} bytes to {path}", bytes.len()), false))
                }
                Err(e) => self.notice = Some((format!("Could not save to {path}: {e}"), true)),
            },
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let connect = KeyboardShortcut::new(Modifiers::COMMAND, Key::K);
        let find = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
        let save = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
        let help = KeyboardShortcut::new(Modifiers::NONE, Key::F1);
        ctx.input_mut(|i| {
            if i.consume_shortcut(&connect) {
                actions.push(Action::OpenConnectionDialog);
            }
            if i.consume_shortcut(&find) {
                self.raw.focus_filter = true;
            }
            if i.consume_shortcut(&save)
                && let Some(seq) = self.raw.selected_seq
            {
                actions.push(Action::SavePayload { seq });
            }
            if i.consume_shortcut(&help) {
                self.show_shortcuts = !self.show_shortcuts;
            }
            for view in View::ALL {
                if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, view.key())) {
                    actions.push(Action::SelectView(view));
                }
            }
        });
    }

    /// The whole window; also used by headless UI tests.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        let mut actions = Vec::new();
        self.shortcuts(&ctx, &mut actions);
        let now_nanos = self.now_nanos();
        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar_ui(ui, &mut actions));
        self.recording_panels_ui(ui, &mut actions);
        {
            let shared = self.model.clone();
            let model = shared.lock();
            egui::Panel::bottom("status_bar").show(ui, |ui| status_bar_ui(ui, &model, now_nanos));
            egui::CentralPanel::default().show(ui, |ui| match self.view {
                View::Presence => {
                    presence_view_ui(ui, &model, &mut self.presence, now_nanos, &mut actions)
                }
                View::Timeline => {
                    timeline_view_ui(ui, &model, &mut self.timeline, now_nanos, &mut actions)
                }
                View::Messages => raw_view_ui(ui, &model, &mut self.raw, &mut actions),
                View::Composer => {
                    composer_view_ui(ui, &model, &mut self.composer, now_nanos, &mut actions)
                }
            });
        }
        // Only while the dialog is open (it is the one reader).
        self.dialog.connection_problem = if self.dialog.open {
            match self.model.lock().session.current() {
                Some(crate::protocol::ConnectionState::Disconnected { broker, reason, .. }) => {
                    Some((broker.clone(), reason.clone()))
                }
                _ => None,
            }
        } else {
            None
        };
        connection_dialog_ui(ui, &mut self.dialog, &self.settings.profiles, &mut actions);
        self.save_window_ui(ui);
        self.shortcuts_window_ui(ui);
        for action in actions {
            self.apply(action, &ctx);
        }
        // The status bar's rate and retry countdown move even when no message arrives.
        ctx.request_repaint_after(Duration::from_millis(500));
    }

    fn menu_bar_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Meshscope").strong());
            ui.separator();
            ui.menu_button("File", |ui| self.recording_menu_ui(ui, actions));
            ui.menu_button("Connection", |ui| {
                if ui.button("Connect…  (Ctrl+K)").clicked() {
                    actions.push(Action::OpenConnectionDialog);
                }
                if ui
                    .add_enabled(self.session.is_some(), egui::Button::new("Disconnect"))
                    .clicked()
                {
                    actions.push(Action::Disconnect);
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts  (F1)").clicked() {
                    self.show_shortcuts = true;
                }
            });
            ui.separator();
            for view in View::ALL {
                let key = match view {
                    View::Presence => "Ctrl+1",
                    View::Timeline => "Ctrl+2",
                    View::Messages => "Ctrl+3",
                    View::Composer => "Ctrl+4",
                };
                if ui
                    .selectable_label(self.view == view, view.title())
                    .on_hover_text(key)
                    .clicked()
                {
                    actions.push(Action::SelectView(view));
                }
            }
            if let Some(demo) = &self.demo {
                ui.separator();
                ui.label(
                    RichText::new(format!("demo mesh on {}", demo.broker_addr))
                        .color(Theme::TEXT_MUTED),
                )
                .on_hover_text(
                    "An embedded broker on loopback with simulated agents of every dialect",
                );
            }
            if let Some((text, is_error)) = self.notice.clone() {
                ui.separator();
                let colour = if is_error {
                    Theme::TEXT_ERROR
                } else {
                    Theme::TEXT_MUTED
                };
                ui.label(RichText::new(text).color(colour));
                if ui
                    .small_button("Dismiss")
                    .on_hover_text("Dismiss")
                    .clicked()
                {
                    self.notice = None;
                }
            }
        });
    }

    fn save_window_ui(&mut self, ui: &mut Ui) {
        let Some(pending) = &mut self.pending_save else {
            return;
        };
        if let Some(picked) = self.picked_path.lock().ok().and_then(|mut p| p.take()) {
            pending.path = picked.display().to_string();
        }
        let mut open = true;
        let mut save = None;
        egui::Window::new("Save payload")
            .open(&mut open)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                ui.horizontal(|ui| {
                    let label = ui.label("File");
                    ui.add(egui::TextEdit::singleline(&mut pending.path).desired_width(360.0))
                        .labelled_by(label.id);
                    if ui
                        .button("Browse…")
                        .on_hover_text("Choose with the system file dialog")
                        .clicked()
                    {
                        let slot = self.picked_path.clone();
                        self.runtime.spawn(async move {
                            if let Some(file) = rfd::AsyncFileDialog::new()
                                .set_file_name("payload.bin")
                                .save_file()
                                .await
                                && let Ok(mut s) = slot.lock()
                            {
                                *s = Some(file.path().to_owned());
                            }
                        });
                    }
                });
                if ui.button("Save").clicked() {
                    save = Some((pending.seq, pending.path.clone()));
                }
            });
        if let Some((seq, path)) = save {
            self.write_payload(seq, &path);
            self.pending_save = None;
        } else if !open {
            self.pending_save = None;
        }
    }

    fn shortcuts_window_ui(&mut self, ui: &mut Ui) {
        egui::Window::new("Keyboard shortcuts")
            .open(&mut self.show_shortcuts)
            .show(ui.ctx(), |ui| {
                egui::Grid::new("shortcuts").num_columns(2).show(ui, |ui| {
                    for (keys, what) in [
                        (
                            "Ctrl+1 / 2 / 3 / 4",
                            "Presence / Timeline / Messages / Composer",
                        ),
                        ("Ctrl+K", "Connect to a broker"),
                        ("Ctrl+O", "Open a recording (or drop it on the window)"),
                        ("Ctrl+F", "Filter topics"),
                        ("Up / Down", "Previous / next message"),
                        ("Ctrl+S", "Save the selected payload"),
                        ("Esc", "Close a dialog"),
                        ("F1", "This list"),
                    ] {
                        ui.label(RichText::new(keys).monospace());
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
    }
}

impl Drop for MeshscopeApp {
    fn drop(&mut self) {
        if self.persist_layout {
            if let Err(e) = self.presence.save_layout(&presence_layout_path()) {
                tracing::warn!("presence layout not saved: {e}");
            }
            if let Err(e) = save_templates(self.composer.templates()) {
                tracing::warn!("composer templates not saved: {e}");
            }
        }
        self.disconnect();
        if let Some(mut demo) = self.demo.take() {
            let _ = demo.stop.send(true);
            if let Some(broker) = demo.broker.take() {
                let _ = self.runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(2), broker.shutdown()).await
                });
            }
        }
    }
}

impl eframe::App for MeshscopeApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        MeshscopeApp::ui(self, ui);
    }
}

/// Turns a saved profile plus a typed password into session options; errors are for the dialog.
pub fn session_options_from_profile(
    profile: &Profile,
    password: Option<crate::secrets::Secret>,
) -> Result<SessionOptions, String> {
    let broker = profile
        .broker_url
        .trim()
        .parse()
        .map_err(|e| format!("Broker URL: {e}"))?;
    let mut options = SessionOptions::new(broker);
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    options.username = non_empty(&profile.username);
    options.password = match password {
        Some(p) => Some(p.into_string()),
        None => match non_empty(&profile.password_env) {
            Some(var) => Some(
                std::env::var(&var)
                    .map_err(|_| format!("Environment variable {var} is not set"))?,
            ),
            None => None,
        },
    };
    if let Some(id) = non_empty(&profile.client_id) {
        options.client_id = id;
    }
    for (field, value, slot) in [
        ("CA file", &profile.ca_file, &mut options.ca_file),
        (
            "Client certificate",
            &profile.client_cert,
            &mut options.client_cert,
        ),
        ("Client key", &profile.client_key, &mut options.client_key),
    ] {
        if let Some(path) = non_empty(value) {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(format!(
                    "{field}: {} is not a readable file",
                    path.display()
                ));
            }
            *slot = Some(path);
        }
    }
    Ok(options)
}
