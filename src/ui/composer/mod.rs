//! The composer view: the catalogue of what can be called, the argument form (schema fields or raw JSON, MQTT properties), Send, and the calls with their partials, results and errors.
//!
//! The view owns the calls it started ([`CallLog`]): every frame it offers them the messages
//! the observer stored since the last frame and the time, and pushes the steps they ask for
//! as [`Action::SendCall`] (the app hands them to the session). Nothing is published except
//! from a click on Send, Re-run or Cancel.

pub mod calls;
pub mod form;

use egui::{RichText, Ui};
use serde_json::{Map, Value};

use crate::composer::call::{CallSpec, CallTarget, DEFAULT_TIMEOUT_MILLIS, SendOptions};
use crate::composer::catalogue::{Catalogue, CatalogueEntry, EntryKind};
use crate::composer::history::{CallLog, Template, Templates};
use crate::composer::{SchemaForm, ids};
use crate::model::Model;
use crate::protocol::{ConnectionState, Status};

use super::theme::Theme;
use super::{Action, ParticipantRef};
use calls::CallCommand;

/// The catalogue follows the mesh at most this often while messages stream in.
const CATALOGUE_REBUILD_NANOS: u64 = 500_000_000;

/// What is being composed for the selected entry.
#[derive(Debug)]
pub struct Draft {
    pub entry: CatalogueEntry,
    pub form: SchemaForm,
    /// The raw JSON editor's text (mirrors the form; edits go back to it).
    raw_text: String,
    raw_revision: u64,
    /// A2A message text, or a free-form request's payload.
    pub text: String,
    /// Free-form request: topic, reply topic, Correlation Data.
    pub topic: String,
    pub response_topic: String,
    pub correlation: String,
    pub qos: u8,
    pub expiry_text: String,
    pub content_type: String,
    pub user_properties: Vec<(String, String)>,
    pub timeout_text: String,
}

impl Draft {
    fn for_entry(entry: CatalogueEntry) -> Draft {
        let form = SchemaForm::new(entry.input_schema.as_ref());
        let correlation = ids::IdSource::new(ids::random_seed()).hex(16);
        Draft {
            raw_text: form.raw_text().to_owned(),
            raw_revision: form.revision(),
            form,
            entry,
            text: String::new(),
            topic: String::new(),
            response_topic: String::new(),
            correlation,
            qos: 1,
            expiry_text: String::new(),
            content_type: String::new(),
            user_properties: Vec::new(),
            timeout_text: format!("{}", DEFAULT_TIMEOUT_MILLIS / 1000),
        }
    }

    /// Fills the draft from a call sent before.
    fn load(&mut self, spec: &CallSpec) {
        if self.entry.target.takes_arguments() {
            self.form.set_value(spec.arguments.clone());
        }
        self.text = spec.text.clone();
        if let CallTarget::Mqtt5 {
            topic,
            response_topic,
            correlation,
        } = &spec.target
        {
            self.topic = topic.clone();
            self.response_topic = response_topic.clone();
            self.correlation = correlation.clone();
        }
        let options = &spec.options;
        self.qos = options.qos;
        self.expiry_text = options
            .message_expiry_secs
            .map(|s| s.to_string())
            .unwrap_or_default();
        self.content_type = options.content_type.clone().unwrap_or_default();
        self.user_properties = options.user_properties.clone();
        self.timeout_text = format!("{}", options.timeout_millis as f64 / 1000.0);
    }

    /// The call this draft describes, or what is wrong with it.
    pub fn to_spec(&self, check_arguments: bool) -> Result<CallSpec, String> {
        let mut target = self.entry.target.clone();
        if let CallTarget::Mqtt5 {
            topic,
            response_topic,
            correlation,
        } = &mut target
        {
            *topic = self.topic.trim().to_owned();
            *response_topic = self.response_topic.trim().to_owned();
            *correlation = self.correlation.clone();
        }
        let timeout_secs: f64 = self
            .timeout_text
            .trim()
            .parse()
            .map_err(|_| "Timeout: a number of seconds".to_owned())?;
        if !(timeout_secs.is_finite() && timeout_secs > 0.0 && timeout_secs <= 86_400.0) {
            return Err("Timeout: between 0 and 86400 seconds".to_owned());
        }
        let expiry = match self.expiry_text.trim() {
            "" => None,
            text => Some(
                text.parse::<u32>()
                    .map_err(|_| "Message expiry: whole seconds".to_owned())?,
            ),
        };
        let mut spec = CallSpec::new(target);
        spec.arguments = if self.entry.target.takes_arguments() {
            self.form.value().clone()
        } else {
            Value::Object(Map::new())
        };
        spec.text = self.text.clone();
        spec.input_schema = self.entry.input_schema.clone();
        spec.options = SendOptions {
            qos: self.qos,
            message_expiry_secs: expiry,
            content_type: Some(self.content_type.trim().to_owned()).filter(|c| !c.is_empty()),
            user_properties: self
                .user_properties
                .iter()
                .filter(|(k, _)| !k.is_empty())
                .cloned()
                .collect(),
            timeout_millis: (timeout_secs * 1000.0).round().max(1.0) as u64,
            fetch_card: false,
            validate: check_arguments,
        };
        Ok(spec)
    }
}

/// Everything the composer keeps between frames.
#[derive(Debug, Default)]
pub struct ComposerViewState {
    catalogue: Catalogue,
    catalogue_revision: Option<u64>,
    catalogue_built_at_nanos: u64,
    filter: String,
    selected_key: Option<String>,
    draft: Option<Draft>,
    calls: CallLog,
    selected_call: Option<u64>,
    /// The next stored message to offer the calls.
    scan_from_seq: Option<u64>,
    templates: Templates,
    template_name: String,
    /// A participant to select once the catalogue lists it (asked for by another view).
    pending_participant: Option<ParticipantRef>,
    notice: Option<String>,
}

impl ComposerViewState {
    /// Select a catalogue entry by key (e.g. `mqtt-agent-mcp:a2a/v1:echo`).
    pub fn select_entry(&mut self, key: &str) {
        if self.selected_key.as_deref() == Some(key) && self.draft.is_some() {
            return;
        }
        if let Some(entry) = self.catalogue.get(key).cloned() {
            self.selected_key = Some(key.to_owned());
            self.draft = Some(Draft::for_entry(entry));
            self.notice = None;
        }
    }

    /// Select what a participant offers (from the presence view's "Call").
    pub fn select_participant(&mut self, participant: &ParticipantRef) {
        self.pending_participant = Some(participant.clone());
        self.resolve_pending_participant();
    }

    fn resolve_pending_participant(&mut self) {
        let Some(p) = &self.pending_participant else {
            return;
        };
        let key = self
            .catalogue
            .for_participant(p.dialect, p.kind, &p.participant_id)
            .map(|e| e.key.clone());
        if let Some(key) = key {
            self.pending_participant = None;
            self.select_entry(&key);
        }
    }

    /// The app could not hand a call's steps to the session.
    pub fn send_failed(&mut self, call_key: u64, reason: &str, now_nanos: u64) {
        self.calls.send_failed(call_key, reason, now_nanos);
    }

    pub fn calls(&self) -> &CallLog {
        &self.calls
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn selected_entry_key(&self) -> Option<&str> {
        self.selected_key.as_deref()
    }

    pub fn draft(&self) -> Option<&Draft> {
        self.draft.as_ref()
    }

    pub fn draft_mut(&mut self) -> Option<&mut Draft> {
        self.draft.as_mut()
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Saved templates (e.g. loaded from the settings file by the app).
    pub fn set_templates(&mut self, templates: Templates) {
        self.templates = templates;
    }

    fn refresh_catalogue(&mut self, model: &Model, now_nanos: u64) {
        let revision = model.mesh.revision();
        let stale = self.catalogue_revision != Some(revision);
        let due = now_nanos.saturating_sub(self.catalogue_built_at_nanos)
            >= CATALOGUE_REBUILD_NANOS
            || self.catalogue.entries.is_empty();
        if stale && due {
            self.catalogue.rebuild(&model.mesh);
            self.catalogue_revision = Some(revision);
            self.catalogue_built_at_nanos = now_nanos;
            self.resolve_pending_participant();
            // A selected entry keeps its draft; its status and schema follow the mesh.
            if let (Some(draft), Some(key)) = (&mut self.draft, &self.selected_key)
                && let Some(entry) = self.catalogue.get(key)
            {
                draft.entry.status = entry.status;
                if let CallTarget::EmqxMcp { server_id, .. } = &mut draft.entry.target
                    && let CallTarget::EmqxMcp {
                        server_id: fresh, ..
                    } = &entry.target
                {
                    *server_id = fresh.clone();
                }
            }
        }
    }

    /// Offers the calls what the observer stored since the last frame, then the time.
    fn pump(&mut self, model: &Model, now_nanos: u64, actions: &mut Vec<Action>) {
        let next = model.store.next_seq();
        if self.calls.wants_messages(now_nanos) {
            let from = self
                .scan_from_seq
                .unwrap_or(next)
                .max(model.store.first_seq());
            for stored in model.store.iter_from(from) {
                for (call_key, steps) in self.calls.on_message(&stored.raw, now_nanos) {
                    actions.push(Action::SendCall { call_key, steps });
                }
            }
        }
        self.scan_from_seq = Some(next);
        for (call_key, steps) in self.calls.on_tick(now_nanos) {
            actions.push(Action::SendCall { call_key, steps });
        }
    }

    fn start(
        &mut self,
        entry_key: &str,
        spec: CallSpec,
        me: &str,
        now_nanos: u64,
        actions: &mut Vec<Action>,
    ) {
        let (call_key, steps) =
            self.calls
                .start(entry_key, spec, me, ids::random_seed(), now_nanos);
        self.selected_call = Some(call_key);
        // Steps can be empty: a call refused before sending (it shows why).
        actions.push(Action::SendCall { call_key, steps });
    }

    fn run_call_command(
        &mut self,
        command: CallCommand,
        me: Option<&str>,
        now_nanos: u64,
        actions: &mut Vec<Action>,
    ) {
        match command {
            CallCommand::Select(key) => self.selected_call = Some(key),
            CallCommand::Cancel(key) => {
                let steps = self.calls.cancel(key, now_nanos);
                actions.push(Action::SendCall {
                    call_key: key,
                    steps,
                });
            }
            CallCommand::Rerun(key) => {
                let Some(me) = me else {
                    self.notice = Some("Not connected to a broker".to_owned());
                    return;
                };
                if let Some(logged) = self.calls.get(key) {
                    let (entry_key, spec) = (logged.entry_key.clone(), logged.call.spec().clone());
                    self.start(&entry_key, spec, me, now_nanos, actions);
                }
            }
            CallCommand::Edit(key) => {
                if let Some(logged) = self.calls.get(key) {
                    let (entry_key, spec) = (logged.entry_key.clone(), logged.call.spec().clone());
                    self.select_entry(&entry_key);
                    if let Some(draft) = &mut self.draft
                        && draft.entry.key == entry_key
                    {
                        draft.load(&spec);
                    }
                }
            }
            CallCommand::ClearFinished => {
                self.calls.clear_finished();
                if self
                    .selected_call
                    .is_some_and(|k| self.calls.get(k).is_none())
                {
                    self.selected_call = None;
                }
            }
        }
    }
}

/// Meshscope's own client id while connected live (calls are sent as it).
fn own_client_id(model: &Model) -> Option<&str> {
    match model.session.current() {
        Some(ConnectionState::Connected { client_id, .. }) => Some(client_id.as_str()),
        _ => None,
    }
}

/// The whole view: catalogue, form, calls.
pub fn composer_view_ui(
    ui: &mut Ui,
    model: &Model,
    state: &mut ComposerViewState,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    state.refresh_catalogue(model, now_nanos);
    state.pump(model, now_nanos, actions);
    let me = own_client_id(model).map(str::to_owned);
    egui::Panel::left("composer_catalogue")
        .resizable(true)
        .default_size(280.0)
        .min_size(200.0)
        .show(ui, |ui| catalogue_ui(ui, state));
    egui::Panel::right("composer_calls")
        .resizable(true)
        .default_size(440.0)
        .min_size(300.0)
        .show(ui, |ui| {
            let mut command = calls::call_list_ui(ui, &state.calls, state.selected_call, now_nanos);
            if let Some(key) = state.selected_call
                && let Some(c) =
                    calls::call_details_ui(ui, model, &state.calls, key, now_nanos, actions)
            {
                command = Some(c);
            }
            if let Some(command) = command {
                state.run_call_command(command, me.as_deref(), now_nanos, actions);
            }
        });
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical()
            .id_salt("composer_form_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                draft_ui(ui, state, me.as_deref(), now_nanos, actions);
            });
    });
}

fn status_dot_ui(ui: &mut Ui, status: Status) {
    let colour = match status {
        Status::Online => Theme::STATUS_ONLINE,
        Status::Offline => Theme::STATUS_OFFLINE,
        Status::Stale => Theme::STATUS_STALE,
        Status::Unknown => Theme::STATUS_UNKNOWN,
    };
    let (rect, response) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.0, colour);
    response.on_hover_text(status.as_str());
}

fn catalogue_ui(ui: &mut Ui, state: &mut ComposerViewState) {
    ui.heading("Call");
    ui.horizontal(|ui| {
        let label = ui.label("Find");
        ui.add(
            egui::TextEdit::singleline(&mut state.filter)
                .hint_text("tool, agent, server")
                .desired_width(180.0),
        )
        .labelled_by(label.id);
    });
    let needle = state.filter.trim().to_lowercase();
    let mut clicked = None;
    egui::ScrollArea::vertical()
        .id_salt("composer_catalogue_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let mut last_heading: Option<String> = None;
            for entry in &state.catalogue.entries {
                if !needle.is_empty()
                    && !entry.name.to_lowercase().contains(&needle)
                    && !entry.group.to_lowercase().contains(&needle)
                {
                    continue;
                }
                let heading = format!("{} / {}", entry.dialect.label(), entry.group);
                if last_heading.as_ref() != Some(&heading) {
                    ui.add_space(4.0);
                    ui.label(
                        RichText::new(&heading)
                            .small()
                            .color(Theme::dialect(entry.dialect)),
                    );
                    last_heading = Some(heading);
                }
                ui.horizontal(|ui| {
                    status_dot_ui(ui, entry.status);
                    let selected = state.selected_key.as_deref() == Some(entry.key.as_str());
                    let mut response = ui.selectable_label(selected, &entry.name);
                    let mut hover = entry.description.clone().unwrap_or_default();
                    if !entry.skills.is_empty() {
                        hover.push_str(&format!("\nskills: {}", entry.skills.join(", ")));
                    }
                    if !hover.is_empty() {
                        response = response.on_hover_text(hover);
                    }
                    if response.clicked() {
                        clicked = Some(entry.key.clone());
                    }
                    if entry.streaming {
                        ui.label(RichText::new("streams").small().color(Theme::TEXT_MUTED));
                    }
                });
            }
        });
    if let Some(key) = clicked {
        state.select_entry(&key);
    }
}

fn draft_ui(
    ui: &mut Ui,
    state: &mut ComposerViewState,
    me: Option<&str>,
    now_nanos: u64,
    actions: &mut Vec<Action>,
) {
    let Some(draft) = &mut state.draft else {
        ui.label(RichText::new("Pick a tool or an agent on the left.").color(Theme::TEXT_MUTED));
        ui.label(
            RichText::new(
                "Calls go out as Meshscope's own client, in the dialect the tool or agent speaks; \
                 the request and its replies show on the timeline like any other trace.",
            )
            .color(Theme::TEXT_MUTED),
        );
        return;
    };
    let entry = draft.entry.clone();
    ui.horizontal(|ui| {
        status_dot_ui(ui, entry.status);
        ui.heading(format!("{} ({})", entry.name, entry.group));
    });
    ui.label(RichText::new(entry.dialect.label()).color(Theme::dialect(entry.dialect)));
    if let Some(description) = &entry.description {
        ui.add(egui::Label::new(RichText::new(description).color(Theme::TEXT_MUTED)).wrap());
    }
    if !entry.skills.is_empty() {
        ui.label(
            RichText::new(format!("Skills: {}", entry.skills.join(", "))).color(Theme::TEXT_MUTED),
        );
    }
    ui.separator();

    match entry.kind {
        EntryKind::Tool => {
            ui.label(RichText::new("Arguments").strong());
            form::schema_form_ui(ui, &mut draft.form);
            egui::CollapsingHeader::new("Raw JSON")
                .id_salt("composer_raw")
                .show(ui, |ui| {
                    if draft.raw_revision != draft.form.revision() {
                        draft.raw_text = draft.form.raw_text().to_owned();
                    }
                    let label = ui.label(
                        RichText::new("Arguments as JSON (kept in sync with the fields)").small(),
                    );
                    let response = ui
                        .add(
                            egui::TextEdit::multiline(&mut draft.raw_text)
                                .id_salt("composer_raw_text")
                                .font(egui::TextStyle::Monospace)
                                .desired_rows(6)
                                .desired_width(f32::INFINITY),
                        )
                        .labelled_by(label.id);
                    if response.changed() {
                        draft.form.set_raw(draft.raw_text.clone());
                    }
                    if let Some(error) = draft.form.raw_error() {
                        ui.label(RichText::new(error).color(Theme::TEXT_ERROR).small());
                    }
                    draft.raw_revision = draft.form.revision();
                });
        }
        EntryKind::Server => {
            ui.label(
                RichText::new("Send opens Meshscope's own MCP session (initialize, tools/list); the tools join the catalogue.")
                    .color(Theme::TEXT_MUTED),
            );
        }
        EntryKind::Agent => {
            let label = ui.label(RichText::new("Message").strong());
            ui.add(
                egui::TextEdit::multiline(&mut draft.text)
                    .id_salt("composer_message")
                    .desired_rows(3)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        }
        EntryKind::FreeForm => free_form_ui(ui, draft, me),
    }

    egui::CollapsingHeader::new("MQTT 5 properties")
        .id_salt("composer_props")
        .show(ui, |ui| properties_ui(ui, draft));

    ui.separator();
    let valid = !entry.target.takes_arguments() || draft.form.is_valid();
    let mut request = None;
    ui.horizontal(|ui| {
        let can_send = me.is_some();
        let send = ui.add_enabled(
            can_send && valid,
            egui::Button::new(RichText::new("Send").strong()),
        );
        let send = if !can_send {
            send.on_disabled_hover_text("Not connected to a broker")
        } else if !valid {
            send.on_disabled_hover_text(draft.form.problems().join("\n"))
        } else {
            send.on_hover_text("Publish the request as Meshscope's own client")
        };
        let mut check = None;
        if send.clicked() {
            check = Some(true);
        }
        if can_send
            && !valid
            && ui
                .button("Send anyway")
                .on_hover_text("Send arguments that do not match the schema")
                .clicked()
        {
            check = Some(false);
        }
        if let Some(check) = check {
            request = Some(draft.to_spec(check));
        }
    });
    match (request, me) {
        (Some(Ok(spec)), Some(me)) => {
            state.notice = None;
            state.start(&entry.key, spec, me, now_nanos, actions);
        }
        (Some(Err(problem)), _) => state.notice = Some(problem),
        _ => {}
    }
    if let Some(notice) = &state.notice {
        ui.label(RichText::new(notice).color(Theme::TEXT_ERROR));
    }
    if let Some(draft) = &mut state.draft {
        templates_ui(ui, &mut state.templates, &mut state.template_name, draft);
    }
}

fn free_form_ui(ui: &mut Ui, draft: &mut Draft, me: Option<&str>) {
    egui::Grid::new("composer_free_form")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("Topic");
            ui.add(
                egui::TextEdit::singleline(&mut draft.topic)
                    .hint_text("requests/math/add")
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Response topic");
            let suggestion = me
                .map(|id| format!("meshscope/replies/{id}"))
                .unwrap_or_default();
            ui.add(
                egui::TextEdit::singleline(&mut draft.response_topic)
                    .hint_text("empty: publish only")
                    .desired_width(360.0),
            )
            .labelled_by(label.id)
            .on_hover_text("Where replies are expected; subscribed before the request goes out");
            if draft.response_topic.is_empty()
                && !suggestion.is_empty()
                && ui.small_button("Use own").clicked()
            {
                draft.response_topic = suggestion;
            }
            ui.end_row();
            let label = ui.label("Correlation Data");
            ui.add(egui::TextEdit::singleline(&mut draft.correlation).desired_width(360.0))
                .labelled_by(label.id);
            ui.end_row();
        });
    let label = ui.label(RichText::new("Payload").strong());
    ui.add(
        egui::TextEdit::multiline(&mut draft.text)
            .id_salt("composer_payload")
            .font(egui::TextStyle::Monospace)
            .desired_rows(5)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(label.id);
}

fn properties_ui(ui: &mut Ui, draft: &mut Draft) {
    egui::Grid::new("composer_properties").num_columns(2).spacing([10.0, 6.0]).show(ui, |ui| {
        let label = ui.label("QoS");
        ui.horizontal(|ui| {
            for qos in 0..=2u8 {
                ui.radio_value(&mut draft.qos, qos, qos.to_string());
            }
        })
        .response
        .labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Message expiry (s)");
        ui.add(egui::TextEdit::singleline(&mut draft.expiry_text).hint_text("none").desired_width(80.0)).labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Content type");
        ui.add(egui::TextEdit::singleline(&mut draft.content_type).hint_text("none").desired_width(200.0))
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Timeout (s)");
        ui.add(egui::TextEdit::singleline(&mut draft.timeout_text).desired_width(80.0))
            .labelled_by(label.id)
            .on_hover_text("Without a reply or partial for this long the call times out (partials extend it)");
        ui.end_row();
    });
    ui.label("User properties");
    let mut remove = None;
    for (i, (key, value)) in draft.user_properties.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(key)
                    .hint_text("name")
                    .desired_width(140.0),
            );
            ui.add(
                egui::TextEdit::singleline(value)
                    .hint_text("value")
                    .desired_width(200.0),
            );
            if ui.small_button("Remove").clicked() {
                remove = Some(i);
            }
        });
    }
    if let Some(i) = remove {
        draft.user_properties.remove(i);
    }
    if ui.small_button("Add user property").clicked() {
        draft.user_properties.push((String::new(), String::new()));
    }
}

fn templates_ui(ui: &mut Ui, templates: &mut Templates, name: &mut String, draft: &mut Draft) {
    egui::CollapsingHeader::new("Templates")
        .id_salt("composer_templates")
        .show(ui, |ui| {
            let key = draft.entry.key.clone();
            let mut load = None;
            let mut delete = None;
            for template in templates.for_entry(&key) {
                ui.horizontal(|ui| {
                    ui.label(&template.name);
                    if ui.small_button("Load").clicked() {
                        load = Some(template.clone());
                    }
                    if ui.small_button("Delete").clicked() {
                        delete = Some(template.name.clone());
                    }
                });
            }
            if let Some(template) = load {
                if draft.entry.target.takes_arguments() {
                    draft.form.set_value(template.arguments);
                }
                draft.text = template.text;
            }
            if let Some(template) = delete {
                templates.remove(&key, &template);
            }
            ui.horizontal(|ui| {
                let label = ui.label("Template name");
                ui.add(egui::TextEdit::singleline(name).desired_width(160.0))
                    .labelled_by(label.id);
                if ui
                    .add_enabled(!name.trim().is_empty(), egui::Button::new("Save template"))
                    .clicked()
                {
                    templates.save(
                        &key,
                        Template {
                            name: name.trim().to_owned(),
                            arguments: draft.form.value().clone(),
                            text: draft.text.clone(),
                        },
                    );
                    name.clear();
                }
            });
        });
}
