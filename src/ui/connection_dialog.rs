//! The connection dialog: saved profiles, broker URL, credentials and TLS files; passwords only ever in the OS keyring.

use std::fmt;
use std::time::Duration;

use egui::{RichText, Ui};

use crate::secrets::{
    Forgotten, Keyring, NO_KEYRING_MESSAGE, Pending, Secret, SecretError, SecretKey, Stored,
};
use crate::settings::Profile;

use super::Action;
use super::theme::Theme;

/// How often the dialog looks at keyring calls in flight (and turns the spinner).
const KEYRING_POLL_MILLIS: u64 = 40;

#[derive(Default)]
pub struct ConnectionDialogState {
    pub open: bool,
    pub draft: Profile,
    /// Typed here or recalled from the OS keyring, handed to the session, cleared after
    /// connecting; written only to the keyring, and only when "Remember" is ticked.
    pub password: String,
    /// Set by the app when a connect attempt could not start (bad URL, missing file, ...).
    pub error: Option<String>,
    /// Why the session's last attempt failed (broker URL, reason in words, e.g. a certificate
    /// problem with the presented certificate's subject and validity); the app sets it each
    /// frame from the session state, `None` while connected or connecting.
    pub connection_problem: Option<(String, String)>,
    pub keyring: KeyringState,
}

impl fmt::Debug for ConnectionDialogState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionDialogState")
            .field("open", &self.open)
            .field("draft", &self.draft)
            .field(
                "password",
                &(!self.password.is_empty()).then_some("<redacted>"),
            )
            .field("error", &self.error)
            .field("connection_problem", &self.connection_problem)
            .field("keyring", &self.keyring)
            .finish()
    }
}

impl ConnectionDialogState {
    pub fn open_with(&mut self, profile: Profile) {
        self.keyring.recall_wanted = profile.remember_password;
        self.keyring.recalled_from = None;
        self.keyring.status = None;
        self.draft = profile;
        self.password.clear();
        self.error = None;
        self.open = true;
    }
}

/// Whether this machine has an OS keyring, as far as the dialog knows.
#[derive(Debug, Default)]
pub enum KeyringAvailability {
    /// Not asked yet (the dialog asks the first time it is drawn).
    #[default]
    Unknown,
    Probing(Pending<()>),
    Available,
    /// No keyring (or one that does not answer): passwords are not stored.
    Unavailable {
        reason: String,
    },
}

/// The dialog's side of the OS keyring: the worker thread, the calls in flight, and what the
/// last one said. Keyring calls never run on the UI thread.
#[derive(Debug, Default)]
pub struct KeyringState {
    worker: Option<Keyring>,
    availability: KeyringAvailability,
    /// Look up the draft's password once the keyring is found.
    recall_wanted: bool,
    recall: Option<(SecretKey, Pending<Option<Secret>>)>,
    remembers: Vec<(SecretKey, Pending<Stored>)>,
    forgets: Vec<Pending<Forgotten>>,
    /// The key the password in the field was recalled from or last stored under.
    recalled_from: Option<SecretKey>,
    /// What the last keyring call said, and whether it was a failure.
    status: Option<(String, bool)>,
}

impl KeyringState {
    pub fn availability(&self) -> &KeyringAvailability {
        &self.availability
    }

    /// True while a keyring call is in flight (the dialog shows a spinner).
    pub fn is_busy(&self) -> bool {
        matches!(self.availability, KeyringAvailability::Probing(_))
            || self.recall.is_some()
            || !self.remembers.is_empty()
            || !self.forgets.is_empty()
    }

    /// What the last keyring call said (`true`: it failed).
    pub fn status(&self) -> Option<(&str, bool)> {
        self.status
            .as_ref()
            .map(|(text, failed)| (text.as_str(), *failed))
    }

    fn is_available(&self) -> bool {
        matches!(self.availability, KeyringAvailability::Available)
    }

    fn worker(&mut self) -> &Keyring {
        self.worker.get_or_insert_with(Keyring::start)
    }

    fn start_probe(&mut self) {
        let probe = self.worker().probe();
        self.availability = KeyringAvailability::Probing(probe);
    }

    fn start_recall(&mut self, key: SecretKey) {
        let pending = self.worker().recall(key.clone());
        self.recall = Some((key, pending));
    }

    fn start_remember(&mut self, key: SecretKey, password: Secret) {
        let pending = self.worker().remember(key.clone(), password);
        self.remembers.push((key, pending));
    }

    fn start_forget(&mut self, key: SecretKey) {
        if self.recalled_from.as_ref() == Some(&key) {
            self.recalled_from = None;
        }
        let pending = self.worker().forget(key);
        self.forgets.push(pending);
    }

    fn set_status(&mut self, text: impl Into<String>, failed: bool) {
        self.status = Some((text.into(), failed));
    }

    fn keyring_missing(&mut self, reason: String) {
        self.availability = KeyringAvailability::Unavailable { reason };
        self.recall_wanted = false;
    }
}

/// Draws the dialog as a window when open. `profiles` are the saved ones, sorted by name.
pub fn connection_dialog_ui(
    ui: &mut Ui,
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    // Results are collected even while the dialog is closed (a save finishing after Close).
    poll_keyring(state, profiles, actions);
    if state.keyring.is_busy() {
        ui.ctx()
            .request_repaint_after(Duration::from_millis(KEYRING_POLL_MILLIS));
    }
    if !state.open {
        return;
    }
    if matches!(state.keyring.availability, KeyringAvailability::Unknown) {
        state.keyring.start_probe();
        ui.ctx()
            .request_repaint_after(Duration::from_millis(KEYRING_POLL_MILLIS));
    }
    let mut open = true;
    egui::Window::new("Connect to a broker")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(460.0)
        .show(ui.ctx(), |ui| dialog_body_ui(ui, state, profiles, actions));
    if !open || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        state.open = false;
    }
}

fn dialog_body_ui(
    ui: &mut Ui,
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Saved profile");
        egui::ComboBox::from_id_salt("profile_combo")
            .selected_text(if state.draft.name.is_empty() {
                "(new)"
            } else {
                state.draft.name.as_str()
            })
            .show_ui(ui, |ui| {
                for profile in profiles {
                    if ui
                        .selectable_label(profile.name == state.draft.name, &profile.name)
                        .clicked()
                    {
                        state.draft = profile.clone();
                        state.password.clear();
                        state.error = None;
                        state.keyring.recalled_from = None;
                        state.keyring.recall_wanted = profile.remember_password;
                        state.keyring.status = None;
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    ui.add_space(4.0);
    egui::Grid::new("connection_grid").num_columns(2).spacing([10.0, 6.0]).show(ui, |ui| {
        field_ui(ui, "Profile name", &mut state.draft.name, "e.g. staging", "Name to save this profile under");
        field_ui(
            ui,
            "Broker URL",
            &mut state.draft.broker_url,
            "mqtt://localhost:1883",
            "mqtt://host:port for TCP, mqtts://host:port for TLS, ws://host:port/mqtt or wss://host:port/mqtt for WebSocket (TLS always verifies the server certificate)",
        );
        field_ui(ui, "Username", &mut state.draft.username, "optional", "User name sent in CONNECT");
        let label = ui.label("Password");
        ui.add(egui::TextEdit::singleline(&mut state.password).password(true).hint_text("not saved"))
            .labelled_by(label.id)
            .on_hover_text("Used for this connection; kept only in the OS keyring, and only when \"Remember\" is ticked");
        ui.end_row();
        ui.label("");
        remember_ui(ui, state, profiles, actions);
        ui.end_row();
        field_ui(
            ui,
            "Password from env var",
            &mut state.draft.password_env,
            "e.g. MQTT_PASSWORD",
            "Read the password from this environment variable when no password is typed",
        );
        field_ui(
            ui,
            "Client ID",
            &mut state.draft.client_id,
            "a fresh unique id",
            "Leave empty for a unique observer id. Never reuse another client's id: the broker would disconnect it.",
        );
        field_ui(ui, "CA file", &mut state.draft.ca_file, "system roots", "PEM file of the CA that signed the broker's certificate");
        field_ui(ui, "Client certificate", &mut state.draft.client_cert, "optional", "PEM client certificate for mutual TLS");
        field_ui(ui, "Client key", &mut state.draft.client_key, "optional", "PEM private key for mutual TLS");
    });
    if let Some(error) = &state.error {
        ui.add_space(4.0);
        ui.label(RichText::new(error).color(Theme::TEXT_ERROR));
    }
    if let Some((broker, reason)) = &state.connection_problem {
        ui.add_space(4.0);
        ui.add(
            egui::Label::new(
                RichText::new(format!("Could not connect to {broker}: {reason}"))
                    .color(Theme::TEXT_ERROR),
            )
            .wrap()
            .selectable(true),
        );
    }
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let can_connect = !state.draft.broker_url.trim().is_empty();
        let connect = ui
            .add_enabled(can_connect, egui::Button::new("Connect"))
            .on_hover_text("Connect as a passive observer (Enter)");
        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
        if connect.clicked() || (enter && can_connect) {
            let password =
                (!state.password.is_empty()).then(|| {
                    crate::secrets::Secret::new(std::mem::take(&mut state.password))
                });
            actions.push(Action::Connect {
                profile: state.draft.clone(),
                password,
            });
        }
        if ui
            .add_enabled(
                !state.draft.name.trim().is_empty(),
                egui::Button::new("Save profile"),
            )
            .on_hover_text(
                "Save everything but the password (kept in the OS keyring when \"Remember\" is ticked)",
            )
            .clicked()
        {
            save_profile(state, profiles, actions);
        }
        if profiles.iter().any(|p| p.name == state.draft.name)
            && ui.button("Delete profile").clicked()
        {
            delete_profile(state, profiles, actions);
        }
        if ui.button("Cancel").clicked() {
            state.open = false;
        }
    });
}

fn field_ui(ui: &mut Ui, name: &str, value: &mut String, hint: &str, tip: &str) {
    let label = ui.label(name);
    ui.add(
        egui::TextEdit::singleline(value)
            .hint_text(hint)
            .desired_width(300.0),
    )
    .labelled_by(label.id)
    .on_hover_text(tip);
    ui.end_row();
}

/// The "Remember in the OS keyring" box, the spinner while a keyring call runs, and what the
/// last call said.
fn remember_ui(
    ui: &mut Ui,
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    ui.vertical(|ui| {
        ui.horizontal(|ui| {
            let available = state.keyring.is_available();
            // Without a keyring the box shows unticked, whatever a copied settings file says.
            let mut remember = state.draft.remember_password && available;
            let checkbox = ui.add_enabled(
                available,
                egui::Checkbox::new(&mut remember, "Remember in the OS keyring"),
            );
            let checkbox = match &state.keyring.availability {
                KeyringAvailability::Unavailable { reason } => {
                    checkbox.on_disabled_hover_text(format!("{NO_KEYRING_MESSAGE}\n({reason})"))
                }
                _ if !available => checkbox.on_disabled_hover_text("Looking for the OS keyring..."),
                _ => checkbox.on_hover_text(
                    "Keep this profile's password in the OS keyring (service \"meshscope\") when the \
                     profile is saved; it is never written to the settings file",
                ),
            };
            if checkbox.changed() {
                state.draft.remember_password = remember;
                if !remember {
                    untick_remember(state, profiles, actions);
                }
            }
            if state.keyring.is_busy() {
                keyring_spinner_ui(ui);
            }
        });
        if let KeyringAvailability::Unavailable { .. } = state.keyring.availability {
            ui.label(RichText::new(NO_KEYRING_MESSAGE).small().color(Theme::TEXT_MUTED));
        } else if let Some((text, failed)) = state.keyring.status() {
            let colour = if failed {
                Theme::TEXT_ERROR
            } else {
                Theme::TEXT_MUTED
            };
            ui.label(RichText::new(text).small().color(colour));
        }
    });
}

/// A spinner that asks for a repaint after a short delay rather than at once, so a frame
/// with a keyring call in flight costs little and headless tests still settle.
fn keyring_spinner_ui(ui: &mut Ui) -> egui::Response {
    let size = ui.style().spacing.interact_size.y * 0.8;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::ProgressIndicator,
            true,
            "Talking to the OS keyring",
        )
    });
    if ui.is_rect_visible(rect) {
        let radius = size * 0.5 - 2.0;
        let start = ui.input(|i| i.time) * std::f64::consts::TAU;
        let points: Vec<egui::Pos2> = (0..16)
            .map(|step| {
                let angle = start + f64::from(step) / 16.0 * 240f64.to_radians();
                let (sin, cos) = angle.sin_cos();
                rect.center() + radius * egui::vec2(cos as f32, sin as f32)
            })
            .collect();
        ui.painter().add(egui::Shape::line(
            points,
            egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
        ));
    }
    ui.ctx()
        .request_repaint_after(Duration::from_millis(KEYRING_POLL_MILLIS));
    response.on_hover_text("Talking to the OS keyring")
}

/// The saved profile of this name, if any.
fn saved<'a>(profiles: &'a [Profile], name: &str) -> Option<&'a Profile> {
    profiles.iter().find(|p| p.name == name)
}

/// Saves the profile; with "Remember" ticked the typed password goes to the keyring (on the
/// worker), never into the profile.
fn save_profile(
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    let mut profile = state.draft.clone();
    profile.remember_password = profile.remember_password && state.keyring.is_available();
    let key = SecretKey::for_profile(&profile);
    if profile.remember_password {
        if state.password.is_empty() {
            state
                .keyring
                .set_status("Type the password to keep it in the OS keyring", false);
        } else {
            state
                .keyring
                .start_remember(key.clone(), Secret::new(state.password.clone()));
            // Same profile, new broker or user: the old item would only hand the password to
            // the wrong broker later. (A renamed profile leaves the old one saved, and its item.)
            if let Some(old) = state.keyring.recalled_from.take()
                && old != key
                && old.profile_name == key.profile_name
            {
                state.keyring.start_forget(old);
            }
            state.keyring.recalled_from = Some(key);
        }
    } else if let Some(previous) = saved(profiles, &profile.name).filter(|p| p.remember_password) {
        state.keyring.start_forget(SecretKey::for_profile(previous));
    }
    actions.push(Action::SaveProfile(profile));
}

fn delete_profile(
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    if let Some(previous) = saved(profiles, &state.draft.name).filter(|p| p.remember_password) {
        state.keyring.start_forget(SecretKey::for_profile(previous));
    }
    state.draft.remember_password = false;
    actions.push(Action::DeleteProfile(state.draft.name.clone()));
}

/// "Remember" cleared: the password leaves the keyring now, and a saved profile stops
/// claiming it is there (only that flag changes in the saved profile).
fn untick_remember(
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    let mut keys = Vec::new();
    if let Some(key) = state.keyring.recalled_from.clone() {
        keys.push(key);
    }
    if let Some(previous) = saved(profiles, &state.draft.name).filter(|p| p.remember_password) {
        let key = SecretKey::for_profile(previous);
        if !keys.contains(&key) {
            keys.push(key);
        }
        let mut unflagged = previous.clone();
        unflagged.remember_password = false;
        actions.push(Action::SaveProfile(unflagged));
    }
    if keys.is_empty() {
        keys.push(SecretKey::for_profile(&state.draft));
    }
    for key in keys {
        state.keyring.start_forget(key);
    }
}

/// Collects what the keyring worker finished: never blocks.
fn poll_keyring(
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    let keyring = &mut state.keyring;
    if let KeyringAvailability::Probing(probe) = &mut keyring.availability
        && let Some(outcome) = probe.poll()
    {
        match outcome {
            Ok(()) => keyring.availability = KeyringAvailability::Available,
            Err(e) => keyring.keyring_missing(reason_of(&e)),
        }
    }
    if keyring.recall_wanted && keyring.is_available() && keyring.recall.is_none() {
        keyring.recall_wanted = false;
        keyring.start_recall(SecretKey::for_profile(&state.draft));
    }
    if let Some((key, pending)) = &mut keyring.recall
        && let Some(outcome) = pending.poll()
    {
        let key = key.clone();
        keyring.recall = None;
        let still_this_profile = SecretKey::for_profile(&state.draft) == key;
        match outcome {
            Ok(Some(secret)) if still_this_profile && state.password.is_empty() => {
                state.password = secret.into_string();
                keyring.recalled_from = Some(key);
                keyring.set_status("Password filled in from the OS keyring", false);
            }
            // The user typed one meanwhile, or picked another profile: theirs wins.
            Ok(Some(_)) => {}
            Ok(None) if still_this_profile => keyring.set_status(
                "The OS keyring has no password for this profile: type it to store it",
                false,
            ),
            Ok(None) => {}
            Err(e) => keyring_failed(keyring, &e, "look up the password"),
        }
    }
    let mut index = 0;
    while index < keyring.remembers.len() {
        let Some(outcome) = keyring.remembers[index].1.poll() else {
            index += 1;
            continue;
        };
        let (key, _) = keyring.remembers.remove(index);
        match outcome {
            Ok(_) => keyring.set_status("Password kept in the OS keyring", false),
            Err(e) => {
                keyring_failed(keyring, &e, "store the password");
                // The saved profile must not claim a password the keyring does not hold.
                if let Some(profile) =
                    saved(profiles, &key.profile_name).filter(|p| p.remember_password)
                {
                    let mut unflagged = profile.clone();
                    unflagged.remember_password = false;
                    actions.push(Action::SaveProfile(unflagged));
                }
                if state.draft.name.trim() == key.profile_name {
                    state.draft.remember_password = false;
                }
                if keyring.recalled_from.as_ref() == Some(&key) {
                    keyring.recalled_from = None;
                }
            }
        }
    }
    let mut index = 0;
    while index < keyring.forgets.len() {
        let Some(outcome) = keyring.forgets[index].poll() else {
            index += 1;
            continue;
        };
        keyring.forgets.remove(index);
        match outcome {
            Ok(Forgotten::Removed) => {
                keyring.set_status("Password removed from the OS keyring", false)
            }
            Ok(Forgotten::NothingStored) => {}
            Err(e) => keyring_failed(keyring, &e, "remove the password"),
        }
    }
}

fn keyring_failed(keyring: &mut KeyringState, error: &SecretError, doing: &str) {
    if error.is_no_keyring() {
        keyring.keyring_missing(reason_of(error));
    } else {
        keyring.set_status(format!("Could not {doing}: {error}"), true);
    }
}

/// Why there is no keyring, for the tooltip (the message itself is shown beside it).
fn reason_of(error: &SecretError) -> String {
    match error {
        SecretError::NoKeyring { reason } => reason.clone(),
        other => other.to_string(),
    }
}
