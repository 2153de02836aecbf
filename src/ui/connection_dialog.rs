//! The connection dialog: saved profiles, broker URL, credentials and TLS files; passwords are never saved.

use egui::{RichText, Ui};

use crate::settings::Profile;

use super::Action;
use super::theme::Theme;

#[derive(Debug, Default)]
pub struct ConnectionDialogState {
    pub open: bool,
    pub draft: Profile,
    /// Typed here, handed to the session, cleared after connecting; never written anywhere.
    pub password: String,
    /// Set by the app when a connect attempt could not start (bad URL, missing file, ...).
    pub error: Option<String>,
}

impl ConnectionDialogState {
    pub fn open_with(&mut self, profile: Profile) {
        self.draft = profile;
        self.password.clear();
        self.error = None;
        self.open = true;
    }
}

/// Draws the dialog as a window when open. `profiles` are the saved ones, sorted by name.
pub fn connection_dialog_ui(
    ui: &mut Ui,
    state: &mut ConnectionDialogState,
    profiles: &[Profile],
    actions: &mut Vec<Action>,
) {
    if !state.open {
        return;
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
            "mqtt://host:port for TCP, mqtts://host:port for TLS (the server certificate is verified)",
        );
        field_ui(ui, "Username", &mut state.draft.username, "optional", "User name sent in CONNECT");
        let label = ui.label("Password");
        ui.add(egui::TextEdit::singleline(&mut state.password).password(true).hint_text("not saved"))
            .labelled_by(label.id)
            .on_hover_text("Used for this connection only; Meshscope never writes passwords to disk");
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
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let can_connect = !state.draft.broker_url.trim().is_empty();
        let connect = ui
            .add_enabled(can_connect, egui::Button::new("Connect"))
            .on_hover_text("Connect as a passive observer (Enter)");
        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
        if connect.clicked() || (enter && can_connect) {
            let password =
                (!state.password.is_empty()).then(|| std::mem::take(&mut state.password));
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
            .on_hover_text("Save everything but the password")
            .clicked()
        {
            actions.push(Action::SaveProfile(state.draft.clone()));
        }
        if profiles.iter().any(|p| p.name == state.draft.name)
            && ui.button("Delete profile").clicked()
        {
            actions.push(Action::DeleteProfile(state.draft.name.clone()));
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
