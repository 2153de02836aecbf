//! Recording, replay and export controls: the File menu, the path windows, the replay bar and the recording indicator.
//!
//! Everything here reads statuses and pushes `Action`s; the app owns the recorder, the player
//! and the file dialogs. Every path can be typed (the system dialog may be unavailable).

use std::path::{Path, PathBuf};

use egui::{RichText, Ui};

use crate::record::export::{ExportFormat, ExportWhat};
use crate::record::player::{
    MAX_SPEED_HUNDREDTHS, MIN_SPEED_HUNDREDTHS, PlayerPhase, PlayerStatus, ReplayCommand,
};
use crate::record::recorder::RecorderStats;

use super::theme::Theme;
use super::widgets::{format_bytes, format_count, time_of_day_utc};
use super::{Action, ScreenshotRegion};

/// The speeds offered, in hundredths of real time.
pub const SPEED_STEPS_HUNDREDTHS: [u32; 8] = [25, 50, 100, 200, 500, 1_000, 1_500, 2_000];

const NANOS_PER_MILLI: f64 = 1_000_000.0;

/// What a path picked in the system file dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilePurpose {
    OpenRecording,
    Record,
    Export(ExportFormat),
    Screenshot,
}

/// Which export the export window prepares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportChoice {
    SelectedTrace,
    #[default]
    AllTraces,
    Stats,
    /// The window as drawn, plots included (PNG).
    WindowPng,
    /// The timeline's time plots as drawn (PNG).
    PlotsPng,
}

impl ExportChoice {
    fn extension(self, format: ExportFormat) -> &'static str {
        match self {
            ExportChoice::WindowPng | ExportChoice::PlotsPng => "png",
            _ => format.extension(),
        }
    }
}

pub struct OpenWindow {
    pub path: String,
}

pub struct RecordWindow {
    pub path: String,
    pub redact: bool,
}

pub struct ExportWindow {
    pub path: String,
    pub choice: ExportChoice,
    pub format: ExportFormat,
}

/// The windows' fields between frames.
#[derive(Default)]
pub struct RecordingUiState {
    pub open: Option<OpenWindow>,
    pub record: Option<RecordWindow>,
    pub export: Option<ExportWindow>,
    /// Where default file names go (the home directory).
    pub default_dir: PathBuf,
}

impl RecordingUiState {
    /// A path the system dialog returned: it fills the field of the window that asked.
    pub fn set_picked(&mut self, purpose: FilePurpose, path: &Path) {
        let text = path.display().to_string();
        match purpose {
            FilePurpose::OpenRecording => {
                self.open
                    .get_or_insert(OpenWindow {
                        path: String::new(),
                    })
                    .path = text;
            }
            FilePurpose::Record => {
                if let Some(w) = &mut self.record {
                    w.path = text;
                }
            }
            FilePurpose::Export(format) => {
                if let Some(w) = &mut self.export {
                    w.path = text;
                    w.format = format;
                }
            }
            FilePurpose::Screenshot => {
                if let Some(w) = &mut self.export {
                    w.path = text;
                    if w.choice != ExportChoice::PlotsPng {
                        w.choice = ExportChoice::WindowPng;
                    }
                }
            }
        }
    }

    pub fn show_open_window(&mut self) {
        if self.open.is_none() {
            self.open = Some(OpenWindow {
                path: String::new(),
            });
        }
    }
}

/// What the File menu needs to know.
pub struct RecordingMenuContext<'a> {
    pub recording: Option<&'a RecorderStats>,
    pub replay: Option<&'a PlayerStatus>,
    pub selected_trace: Option<u64>,
    /// For default file names.
    pub now_nanos: u64,
}

/// `2026-11-23T08:31:14Z` → `20261123-083114`, for file names.
pub fn file_stamp_utc(at_nanos: u64) -> String {
    let secs = at_nanos / 1_000_000_000;
    let (year, month, day) = crate::civil::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The File menu's entries (the app puts them in its menu bar).
pub fn recording_menu_ui(
    ui: &mut Ui,
    state: &mut RecordingUiState,
    context: &RecordingMenuContext<'_>,
    actions: &mut Vec<Action>,
) {
    if ui
        .button("Open recording…  (Ctrl+O)")
        .on_hover_text("A Meshscope recording or a peers-mesh capture (JSONL); you can also drop it on the window")
        .clicked()
    {
        state.show_open_window();
        ui.close();
    }
    if ui
        .add_enabled(
            context.replay.is_some(),
            egui::Button::new("Close recording"),
        )
        .clicked()
    {
        actions.push(Action::CloseRecording);
        ui.close();
    }
    ui.separator();
    if context.recording.is_some() {
        if ui.button("Stop recording").clicked() {
            actions.push(Action::StopRecording);
            ui.close();
        }
    } else if ui
        .add_enabled(
            context.replay.is_none(),
            egui::Button::new("Start recording…"),
        )
        .on_hover_text("Record what the broker carries to a JSONL file")
        .on_disabled_hover_text("Close the recording first: a replay has nothing live to record")
        .clicked()
    {
        let name = format!("meshscope-{}.jsonl", file_stamp_utc(context.now_nanos));
        state.record = Some(RecordWindow {
            path: state.default_dir.join(name).display().to_string(),
            redact: true,
        });
        ui.close();
    }
    ui.separator();
    if ui.button("Export traces or stats…").clicked() {
        let choice = if context.selected_trace.is_some() {
            ExportChoice::SelectedTrace
        } else {
            ExportChoice::AllTraces
        };
        state.export = Some(ExportWindow {
            path: export_path(
                &state.default_dir,
                choice,
                ExportFormat::Json,
                context.now_nanos,
            ),
            choice,
            format: ExportFormat::Json,
        });
        ui.close();
    }
}

fn export_path(dir: &Path, choice: ExportChoice, format: ExportFormat, now_nanos: u64) -> String {
    let what = match choice {
        ExportChoice::SelectedTrace => "trace",
        ExportChoice::AllTraces => "traces",
        ExportChoice::Stats => "stats",
        ExportChoice::WindowPng => "window",
        ExportChoice::PlotsPng => "latency-plots",
    };
    dir.join(format!(
        "meshscope-{what}-{}.{}",
        file_stamp_utc(now_nanos),
        choice.extension(format)
    ))
    .display()
    .to_string()
}

/// A labelled path field with a Browse button; returns true when Enter was pressed in it.
fn path_row_ui(
    ui: &mut Ui,
    path: &mut String,
    purpose: FilePurpose,
    actions: &mut Vec<Action>,
) -> bool {
    ui.horizontal(|ui| {
        let label = ui.label("File");
        let response = ui
            .add(egui::TextEdit::singleline(path).desired_width(380.0))
            .labelled_by(label.id);
        if ui
            .button("Browse…")
            .on_hover_text("Choose with the system file dialog")
            .clicked()
        {
            actions.push(Action::BrowseFile(purpose));
        }
        response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
    })
    .inner
}

fn typed_path(text: &str) -> Option<PathBuf> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| PathBuf::from(trimmed))
}

/// The open, record and export windows (whichever are open).
pub fn recording_windows_ui(
    ctx: &egui::Context,
    state: &mut RecordingUiState,
    selected_trace: Option<u64>,
    actions: &mut Vec<Action>,
) {
    if let Some(window) = &mut state.open {
        let mut open = true;
        let mut go = false;
        egui::Window::new("Open recording")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("A Meshscope recording or a peers-mesh capture (JSONL). Live observing stops while it is open.");
                go = path_row_ui(ui, &mut window.path, FilePurpose::OpenRecording, actions);
                go |= ui
                    .add_enabled(typed_path(&window.path).is_some(), egui::Button::new("Open"))
                    .clicked();
            });
        if go && let Some(path) = typed_path(&window.path) {
            actions.push(Action::OpenRecording(path));
            state.open = None;
        } else if !open {
            state.open = None;
        }
    }

    if let Some(window) = &mut state.record {
        let mut open = true;
        let mut go = false;
        egui::Window::new("Start recording")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                go = path_row_ui(ui, &mut window.path, FilePurpose::Record, actions);
                if typed_path(&window.path).is_some_and(|p| p.exists()) {
                    ui.label(RichText::new("This file exists and will be replaced.").color(Theme::TEXT_WARNING));
                }
                ui.checkbox(&mut window.redact, "Redact secrets")
                    .on_hover_text(
                        "Replace the values of user properties such as a2a-authorization, or whose key \
                         contains authorization, password, secret, token, api-key, cookie or credential",
                    );
                go |= ui
                    .add_enabled(typed_path(&window.path).is_some(), egui::Button::new("Record"))
                    .clicked();
            });
        if go && let Some(path) = typed_path(&window.path) {
            actions.push(Action::StartRecording {
                path,
                redact: window.redact,
            });
            state.record = None;
        } else if !open {
            state.record = None;
        }
    }

    if let Some(window) = &mut state.export {
        let mut open = true;
        let mut go = false;
        egui::Window::new("Export")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                let extension_before = window.choice.extension(window.format);
                ui.horizontal(|ui| {
                    ui.add_enabled_ui(selected_trace.is_some(), |ui| {
                        ui.radio_value(
                            &mut window.choice,
                            ExportChoice::SelectedTrace,
                            "Selected trace",
                        )
                        .on_disabled_hover_text("Select a trace in the timeline first");
                    });
                    ui.radio_value(&mut window.choice, ExportChoice::AllTraces, "All traces");
                    ui.radio_value(
                        &mut window.choice,
                        ExportChoice::Stats,
                        "Per-operation stats",
                    );
                    ui.radio_value(&mut window.choice, ExportChoice::WindowPng, "Window as PNG")
                        .on_hover_text("The window as it is drawn, plots included");
                    ui.radio_value(
                        &mut window.choice,
                        ExportChoice::PlotsPng,
                        "Latency plots as PNG",
                    )
                    .on_hover_text(
                        "The timeline's latency, throughput and error-rate plots as drawn \
                         (show the Timeline with its plots first)",
                    );
                });
                if !matches!(
                    window.choice,
                    ExportChoice::WindowPng | ExportChoice::PlotsPng
                ) {
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut window.format, ExportFormat::Json, "JSON");
                        ui.radio_value(&mut window.format, ExportFormat::Csv, "CSV");
                    });
                }
                let extension = window.choice.extension(window.format);
                if extension != extension_before {
                    let stem = window
                        .path
                        .trim_end_matches(&format!(".{extension_before}"))
                        .to_owned();
                    window.path = format!("{stem}.{extension}");
                }
                let purpose = match window.choice {
                    ExportChoice::WindowPng | ExportChoice::PlotsPng => FilePurpose::Screenshot,
                    _ => FilePurpose::Export(window.format),
                };
                go = path_row_ui(ui, &mut window.path, purpose, actions);
                let possible = typed_path(&window.path).is_some()
                    && (window.choice != ExportChoice::SelectedTrace || selected_trace.is_some());
                go |= ui
                    .add_enabled(possible, egui::Button::new("Export"))
                    .clicked();
                go &= possible;
            });
        if go && let Some(path) = typed_path(&window.path) {
            let what = match window.choice {
                ExportChoice::SelectedTrace => Some(ExportWhat::Traces {
                    trace_ids: Some(selected_trace.into_iter().collect()),
                }),
                ExportChoice::AllTraces => Some(ExportWhat::Traces { trace_ids: None }),
                ExportChoice::Stats => Some(ExportWhat::Stats),
                ExportChoice::WindowPng => None,
                ExportChoice::PlotsPng => None,
            };
            actions.push(match what {
                Some(what) => Action::Export {
                    what,
                    format: window.format,
                    path,
                },
                // Taken on a later frame, once this window is gone.
                None => Action::SaveScreenshot {
                    path,
                    region: if window.choice == ExportChoice::PlotsPng {
                        ScreenshotRegion::LatencyPlots
                    } else {
                        ScreenshotRegion::Window
                    },
                },
            });
            state.export = None;
        } else if !open {
            state.export = None;
        }
    }
}

fn speed_text(speed_hundredths: u32) -> String {
    let speed = f64::from(speed_hundredths) / 100.0;
    if speed_hundredths.is_multiple_of(100) {
        format!("{speed:.0}x")
    } else {
        format!("{speed}x")
    }
}

fn seconds_text(nanos: u64) -> String {
    let secs = nanos as f64 / 1e9;
    if secs < 600.0 {
        format!("{secs:.1} s")
    } else {
        format!("{:.0} min {:02.0} s", (secs / 60.0).floor(), secs % 60.0)
    }
}

/// The replay bar: progress while opening, then play/pause, speed, the scrubber and the position.
pub fn replay_bar_ui(ui: &mut Ui, status: &PlayerStatus, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        let name = status
            .path
            .file_name()
            .map_or_else(|| status.path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut tip = format!("{}\n{}", status.path.display(), format_bytes(status.file_bytes));
        if let Some(h) = &status.header {
            if let Some(broker) = &h.broker {
                tip.push_str(&format!("\nrecorded from {broker}"));
            }
            if let Some(by) = &h.created_by {
                tip.push_str(&format!("\nby {by}"));
            }
        }
        ui.label(RichText::new(format!("Replay: {name}")).strong()).on_hover_text(tip);
        if ui.button("Close recording").on_hover_text("Close the recording and go back to live").clicked() {
            actions.push(Action::CloseRecording);
        }
        ui.separator();

        let ready = status.is_ready();
        let span = status.start_nanos.zip(status.end_nanos);
        let play_text = if status.playing { "Pause" } else { "Play" };
        if ui
            .add_enabled(ready && span.is_some(), egui::Button::new(play_text))
            .on_hover_text("Play the recording in receive time (from the start when at the end)")
            .clicked()
        {
            actions.push(Action::Replay(ReplayCommand::TogglePlay));
        }
        let speed_label = ui.label("Replay speed");
        let mut speed = status.speed_hundredths.clamp(MIN_SPEED_HUNDREDTHS, MAX_SPEED_HUNDREDTHS);
        egui::ComboBox::from_id_salt("replay_speed")
            .selected_text(speed_text(speed))
            .width(64.0)
            .show_ui(ui, |ui| {
                for step in SPEED_STEPS_HUNDREDTHS {
                    ui.selectable_value(&mut speed, step, speed_text(step));
                }
            })
            .response
            .labelled_by(speed_label.id);
        if speed != status.speed_hundredths {
            actions.push(Action::Replay(ReplayCommand::SetSpeed { speed_hundredths: speed }));
        }

        match (&status.phase, span) {
            (PlayerPhase::Loading, _) => {
                let progress = status.progress().unwrap_or(0.0);
                ui.add(
                    egui::ProgressBar::new(progress)
                        .desired_width(ui.available_width().min(480.0))
                        .text(format!(
                            "Opening {:.0} %  ({} messages, {} of {})",
                            progress * 100.0,
                            format_count(status.messages_applied),
                            format_bytes(status.bytes_read),
                            format_bytes(status.file_bytes)
                        )),
                );
            }
            (PlayerPhase::Failed(reason), _) => {
                ui.label(RichText::new(format!("Could not read on: {reason}")).color(Theme::TEXT_ERROR));
            }
            (_, None) => {
                ui.label(RichText::new("No messages in this file").color(Theme::TEXT_WARNING));
            }
            (_, Some((start, end))) => {
                let span_nanos = end.saturating_sub(start);
                let position_text = format!(
                    "{}  +{} / {}",
                    time_of_day_utc(status.position_nanos),
                    seconds_text(status.position_nanos.saturating_sub(start)),
                    seconds_text(span_nanos)
                );
                let text_width = 240.0;
                let scrub_label = ui.label("Replay position");
                let mut offset_millis = status.position_nanos.saturating_sub(start) as f64 / NANOS_PER_MILLI;
                let span_millis = span_nanos as f64 / NANOS_PER_MILLI;
                ui.spacing_mut().slider_width = (ui.available_width() - text_width).max(120.0);
                let response = ui
                    .add(
                        egui::Slider::new(&mut offset_millis, 0.0..=span_millis.max(0.001))
                            .show_value(false)
                            .smart_aim(false),
                    )
                    .labelled_by(scrub_label.id)
                    .on_hover_text("Drag to move through the recording; earlier positions rebuild the model from the start");
                if response.changed() {
                    let offset_nanos = (offset_millis * NANOS_PER_MILLI).round().max(0.0) as u64;
                    actions.push(Action::Replay(ReplayCommand::Seek {
                        position_nanos: start.saturating_add(offset_nanos).min(end),
                    }));
                }
                ui.label(RichText::new(position_text).monospace());
                if let Some(progress) = status.progress() {
                    ui.add(
                        egui::ProgressBar::new(progress)
                            .desired_width(120.0)
                            .text(format!("rebuilding {:.0} %", progress * 100.0)),
                    );
                }
            }
        }
        if status.unreadable_lines > 0 {
            ui.label(
                RichText::new(format!("{} unreadable lines skipped", format_count(status.unreadable_lines)))
                    .color(Theme::TEXT_WARNING),
            )
            .on_hover_text(status.first_unreadable.clone().unwrap_or_default());
        }
    });
}

/// The recording indicator: where it goes, how much is written, and losses in red.
pub fn recording_indicator_ui(ui: &mut Ui, stats: &RecorderStats, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter()
            .circle_filled(dot.center(), 5.0, Theme::RECORDING);
        ui.label(RichText::new("Recording").strong())
            .on_hover_text(stats.path.display().to_string());
        ui.label(format!(
            "{} messages, {}",
            format_count(stats.written),
            format_bytes(stats.bytes_written)
        ));
        if stats.redacted_values > 0 {
            ui.label(
                RichText::new(format!("{} redacted", format_count(stats.redacted_values)))
                    .color(Theme::TEXT_MUTED),
            )
            .on_hover_text("Secret user property values replaced by [redacted]");
        }
        let lost = RichText::new(format!("lost {}", format_count(stats.lost)));
        ui.label(if stats.lost > 0 {
            lost.color(Theme::TEXT_ERROR)
        } else {
            lost
        })
        .on_hover_text("Messages the disk could not take in time (counted, never silent)");
        if let Some(e) = &stats.write_error {
            ui.label(RichText::new(format!("write failed: {e}")).color(Theme::TEXT_ERROR));
        }
        if ui.button("Stop recording").clicked() {
            actions.push(Action::StopRecording);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stamps_are_utc_dates() {
        assert_eq!(file_stamp_utc(0), "19700101-000000");
        // 2026-11-23T08:31:14Z
        assert_eq!(file_stamp_utc(1_795_422_674_000_000_000), "20261123-083114");
        // 2000-02-29T23:59:59Z
        assert_eq!(file_stamp_utc(951_868_799_000_000_000), "20000229-235959");
    }

    #[test]
    fn speeds_read_well() {
        assert_eq!(speed_text(25), "0.25x");
        assert_eq!(speed_text(100), "1x");
        assert_eq!(speed_text(2_000), "20x");
        assert_eq!(seconds_text(61_500_000_000), "61.5 s");
    }
}
