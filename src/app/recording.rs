//! The app's side of recording, replay and export: the recorder tap, the player, file dialogs and their actions.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::Ui;

use crate::ingest::Notify;
use crate::protocol::ConnectionState;
use crate::record::export::{self, ExportFormat};
use crate::record::player::{Player, PlayerStatus};
use crate::record::recorder::{RecorderOptions, RecorderStats, RecorderTap};
use crate::ui::replay_bar::{
    self, FilePurpose, RecordingMenuContext, RecordingUiState, recording_indicator_ui,
    recording_windows_ui, replay_bar_ui,
};
use crate::ui::{Action, ScreenshotRegion};

use super::MeshscopeApp;

/// Results of background jobs (a recording finished, an export written), for the notice line.
type Notices = Arc<Mutex<Vec<(String, bool)>>>;

/// Recording, replay and export state the app keeps.
#[derive(Default)]
pub(super) struct RecordingControl {
    /// Ingest offers every received message to it (see `ingest::run_with`).
    pub(super) tap: RecorderTap,
    pub(super) player: Option<Player>,
    ui: RecordingUiState,
    picked: Arc<Mutex<Vec<(FilePurpose, PathBuf)>>>,
    notices: Notices,
    /// Repaint request for the player's worker.
    pub(super) notify: Option<Notify>,
    /// The player's `model_resets` the views' caches were last dropped for.
    seen_model_resets: u64,
    /// The end of the first pass was told in the notice line.
    load_announced: bool,
}

impl RecordingControl {
    pub(super) fn new(notify: Option<Notify>) -> Self {
        let default_dir = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        RecordingControl {
            ui: RecordingUiState {
                default_dir,
                ..RecordingUiState::default()
            },
            notify,
            ..RecordingControl::default()
        }
    }
}

fn push_notice(notices: &Notices, text: String, is_error: bool) {
    if let Ok(mut n) = notices.lock() {
        n.push((text, is_error));
    }
}

fn recording_summary(stats: &RecorderStats) -> (String, bool) {
    let mut text = format!(
        "Recorded {} messages to {}",
        stats.written,
        stats.path.display()
    );
    if stats.lost > 0 {
        text.push_str(&format!("; {} lost (the disk did not keep up)", stats.lost));
    }
    if let Some(e) = &stats.write_error {
        text.push_str(&format!("; write failed: {e}"));
    }
    (text, stats.lost > 0 || stats.write_error.is_some())
}

impl MeshscopeApp {
    /// The time the views are drawn at: the wall clock live, the replay position while a recording is open.
    pub fn now_nanos(&self) -> u64 {
        self.model.clock().now_nanos()
    }

    /// The open recording's status (None when live).
    pub fn replay_status(&self) -> Option<PlayerStatus> {
        self.recording.player.as_ref().map(Player::status)
    }

    /// The running recording's counts (None when not recording).
    pub fn recording_stats(&self) -> Option<RecorderStats> {
        self.recording.tap.stats()
    }

    /// Waits (bounded) until the open recording's status satisfies `done`; for headless runs and tests.
    pub fn wait_for_replay(
        &self,
        deadline: std::time::Duration,
        done: impl FnMut(&PlayerStatus) -> bool,
    ) -> Option<(PlayerStatus, bool)> {
        self.recording
            .player
            .as_ref()
            .map(|p| p.wait_for(deadline, done))
    }

    /// Opens a recording: live observing stops, the model is emptied and refilled from the file.
    pub fn open_recording(&mut self, path: &Path) {
        self.close_recording();
        self.disconnect();
        self.stop_recording();
        match Player::open(path, self.model.clone(), self.recording.notify.clone()) {
            Ok(player) => {
                self.recording.player = Some(player);
                self.recording.seen_model_resets = 0;
                self.recording.load_announced = false;
                self.reset_view_caches();
                self.dialog.open = false;
                self.notice = Some((format!("Opening {}", path.display()), false));
            }
            Err(e) => self.notice = Some((format!("Cannot open {}: {e}", path.display()), true)),
        }
    }

    /// Closes the open recording (if any): the model is emptied and its clock is live again.
    pub(super) fn close_recording(&mut self) {
        if let Some(player) = self.recording.player.take() {
            // Joins the worker, which stops within one batch.
            player.close();
            self.reset_view_caches();
        }
    }

    /// The model was emptied (a recording opened or closed, or rebuilt for a backward seek):
    /// its revisions and sequence numbers restart, so the views drop what they derived from
    /// it. The user's filters and grouping stay.
    fn reset_view_caches(&mut self) {
        let filter = self.timeline.filter().clone();
        let group_by = self.timeline.group_by();
        let follow = self.timeline.follow_live();
        self.timeline = crate::ui::timeline::TimelineViewState::default();
        self.timeline.set_filter(filter);
        self.timeline.set_group_by(group_by);
        self.timeline.set_follow_live(follow);
        let raw_filter = self.raw.filter_text.clone();
        self.raw.set_filter(&raw_filter);
        self.raw.selected_seq = None;
    }

    /// The timeline's state (headless tests look at its axis and rows).
    pub fn timeline_state(&self) -> &crate::ui::timeline::TimelineViewState {
        &self.timeline
    }

    fn stop_recording(&mut self) {
        if let Some(recorder) = self.recording.tap.stop() {
            let notices = Arc::clone(&self.recording.notices);
            // Finishing waits for the writer to drain and flush: not on the UI thread.
            let spawned = std::thread::Builder::new()
                .name("meshscope-recorder-finish".into())
                .spawn(move || {
                    let (text, is_error) = recording_summary(&recorder.finish());
                    push_notice(&notices, text, is_error);
                });
            if let Err(e) = spawned {
                self.notice = Some((format!("Could not finish the recording: {e}"), true));
            }
        }
    }

    /// Applies the recording, replay and export actions.
    pub(super) fn apply_recording_action(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::OpenRecording(path) => self.open_recording(&path),
            Action::CloseRecording => {
                self.close_recording();
                self.notice = Some(("Recording closed; connect to observe live".into(), false));
            }
            Action::StartRecording { path, redact } => {
                let broker = match self.model.lock().session.current() {
                    Some(ConnectionState::Connected { broker, .. }) => Some(broker.clone()),
                    _ => None,
                };
                let options = RecorderOptions {
                    redact,
                    broker,
                    ..RecorderOptions::default()
                };
                match self.recording.tap.start(&path, options) {
                    Ok(()) => {
                        self.notice = Some((format!("Recording to {}", path.display()), false))
                    }
                    Err(e) => {
                        self.notice =
                            Some((format!("Cannot record to {}: {e}", path.display()), true));
                    }
                }
            }
            Action::StopRecording => self.stop_recording(),
            Action::Replay(command) => {
                if let Some(player) = &self.recording.player {
                    player.send(command);
                }
            }
            Action::Export { what, format, path } => {
                let model = self.model.clone();
                let now_nanos = self.now_nanos();
                let notices = Arc::clone(&self.recording.notices);
                let spawned = std::thread::Builder::new()
                    .name("meshscope-export".into())
                    .spawn(move || {
                        match export::export_to_file(&model, &what, format, now_nanos, &path) {
                            Ok(rows) => {
                                push_notice(
                                    &notices,
                                    format!("Exported {rows} rows to {}", path.display()),
                                    false,
                                );
                            }
                            Err(e) => push_notice(
                                &notices,
                                format!("Export to {} failed: {e}", path.display()),
                                true,
                            ),
                        }
                    });
                if let Err(e) = spawned {
                    self.notice = Some((format!("Could not start the export: {e}"), true));
                }
            }
            Action::BrowseFile(purpose) => self.browse(purpose),
            Action::SaveScreenshot { path, region } => {
                let crop = match region {
                    ScreenshotRegion::Window => None,
                    ScreenshotRegion::LatencyPlots => {
                        match self.timeline.time_plots_rect(ctx.cumulative_pass_nr()) {
                            Some(rect) => Some((rect, ctx.pixels_per_point())),
                            None => {
                                self.notice = Some((
                                    "The latency plots are not on screen: open the Timeline \
                                     (Ctrl+2) with its plots shown, then export again"
                                        .into(),
                                    true,
                                ));
                                return;
                            }
                        }
                    }
                };
                let notices = Arc::clone(&self.recording.notices);
                let repaint = ctx.clone();
                // The integration calls back with the pixels once the next frame is painted.
                ctx.request_screenshot(move |image| {
                    let spawned = std::thread::Builder::new()
                        .name("meshscope-png".into())
                        .spawn(move || {
                            let written = match crop {
                                None => write_png(&image, &path),
                                Some((rect, pixels_per_point)) => {
                                    match crop_image(&image, rect, pixels_per_point) {
                                        Some(part) => write_png(&part, &path),
                                        None => Err(std::io::Error::other(
                                            "the plots were outside the captured window",
                                        )),
                                    }
                                }
                            };
                            match written {
                                Ok(()) => push_notice(
                                    &notices,
                                    format!("Saved the window to {}", path.display()),
                                    false,
                                ),
                                Err(e) => push_notice(
                                    &notices,
                                    format!("Could not save {}: {e}", path.display()),
                                    true,
                                ),
                            }
                            repaint.request_repaint();
                        });
                    if let Err(e) = spawned {
                        tracing::error!("could not start the PNG writer: {e}");
                    }
                });
            }
            _ => {}
        }
    }

    /// The system file dialog on the runtime (never on the UI thread); with no portal it returns
    /// nothing and the typed path stays.
    fn browse(&mut self, purpose: FilePurpose) {
        let picked = Arc::clone(&self.recording.picked);
        self.runtime.spawn(async move {
            let dialog = rfd::AsyncFileDialog::new();
            let file = match purpose {
                FilePurpose::OpenRecording => {
                    dialog
                        .add_filter("Recordings (JSONL)", &["jsonl", "json", "txt"])
                        .pick_file()
                        .await
                }
                FilePurpose::Record => {
                    dialog
                        .add_filter("Recordings (JSONL)", &["jsonl"])
                        .set_file_name("meshscope.jsonl")
                        .save_file()
                        .await
                }
                FilePurpose::Screenshot => {
                    dialog
                        .add_filter("PNG image", &["png"])
                        .set_file_name("meshscope-window.png")
                        .save_file()
                        .await
                }
                FilePurpose::Export(format) => {
                    let name = match format {
                        ExportFormat::Json => "meshscope-export.json",
                        ExportFormat::Csv => "meshscope-export.csv",
                    };
                    dialog.set_file_name(name).save_file().await
                }
            };
            if let Some(file) = file
                && let Ok(mut slot) = picked.lock()
            {
                slot.push((purpose, file.path().to_owned()));
            }
        });
    }

    /// The File menu's entries.
    pub(super) fn recording_menu_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let recording = self.recording.tap.stats();
        let replay = self.replay_status();
        let context = RecordingMenuContext {
            recording: recording.as_ref(),
            replay: replay.as_ref(),
            selected_trace: self.timeline.selected_trace(),
            now_nanos: crate::now_nanos(),
        };
        replay_bar::recording_menu_ui(ui, &mut self.recording.ui, &context, actions);
    }

    /// The replay bar and recording indicator (bottom panels), the path windows, dropped files,
    /// Ctrl+O, and results from the background jobs.
    pub(super) fn recording_panels_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let ctx = ui.ctx().clone();
        if let Ok(mut picked) = self.recording.picked.lock() {
            for (purpose, path) in picked.drain(..) {
                self.recording.ui.set_picked(purpose, &path);
            }
        }
        if let Some((text, is_error)) = self.recording.notices.lock().ok().and_then(|mut n| n.pop())
        {
            self.notice = Some((text, is_error));
        }
        let dropped = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .find(|p| !p.as_os_str().is_empty())
        });
        if let Some(path) = dropped {
            actions.push(Action::OpenRecording(path));
        }
        let open = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::O);
        if ctx.input_mut(|i| i.consume_shortcut(&open)) {
            self.recording.ui.show_open_window();
        }
        if let Some(status) = self.replay_status() {
            if let Some(millis) = status.load_millis
                && !self.recording.load_announced
            {
                self.recording.load_announced = true;
                let messages = status.messages_in_file.unwrap_or(0);
                let mut text = format!(
                    "Opened {} messages in {:.1} s",
                    crate::ui::widgets::format_count(messages),
                    millis as f64 / 1000.0
                );
                if status.unreadable_lines > 0 {
                    text.push_str(&format!(
                        "; {} unreadable lines skipped",
                        status.unreadable_lines
                    ));
                }
                self.notice = Some((text, status.unreadable_lines > 0));
            }
            if status.model_resets != self.recording.seen_model_resets {
                self.recording.seen_model_resets = status.model_resets;
                self.reset_view_caches();
            }
            egui::Panel::bottom("replay_bar").show(ui, |ui| replay_bar_ui(ui, &status, actions));
            if status.playing || status.progress().is_some() {
                ctx.request_repaint();
            }
        }
        if let Some(stats) = self.recording.tap.stats() {
            egui::Panel::bottom("recording_indicator")
                .show(ui, |ui| recording_indicator_ui(ui, &stats, actions));
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
        recording_windows_ui(
            &ctx,
            &mut self.recording.ui,
            self.timeline.selected_trace(),
            actions,
        );
    }
}

/// The part of a screenshot under `rect` (in points), clamped to the image; `None` when
/// nothing of it is inside.
pub fn crop_image(
    image: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
) -> Option<egui::ColorImage> {
    let [width, height] = image.size;
    let to_px =
        |v: f32, limit: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(limit);
    let (x0, x1) = (to_px(rect.min.x, width), to_px(rect.max.x, width));
    let (y0, y1) = (to_px(rect.min.y, height), to_px(rect.max.y, height));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for row in y0..y1 {
        pixels.extend_from_slice(&image.pixels[row * width + x0..row * width + x1]);
    }
    Some(egui::ColorImage::new([x1 - x0, y1 - y0], pixels))
}

/// Writes an image (a screenshot) as an 8-bit RGBA PNG.
pub fn write_png(image: &egui::ColorImage, path: &Path) -> std::io::Result<()> {
    let [width, height] = image.size;
    let too_big = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "image too large");
    let width = u32::try_from(width).map_err(|_| too_big())?;
    let height = u32::try_from(height).map_err(|_| too_big())?;
    let mut rgba = Vec::with_capacity(image.pixels.len() * 4);
    for pixel in &image.pixels {
        rgba.extend_from_slice(&pixel.to_srgba_unmultiplied());
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(&rgba)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_the_region_in_pixels_and_clamps_it() {
        // 10 x 6 pixels, each pixel's red = x, green = y.
        let pixels: Vec<egui::Color32> = (0..6u8)
            .flat_map(|y| (0..10u8).map(move |x| egui::Color32::from_rgb(x, y, 0)))
            .collect();
        let image = egui::ColorImage::new([10, 6], pixels);
        // Points (1, 1)-(3, 2) at 2 pixels per point: pixels x 2..6, y 2..4.
        let part = crop_image(
            &image,
            egui::Rect::from_min_max(egui::pos2(1.0, 1.0), egui::pos2(3.0, 2.0)),
            2.0,
        )
        .unwrap();
        assert_eq!(part.size, [4, 2]);
        assert_eq!(part.pixels[0], egui::Color32::from_rgb(2, 2, 0));
        assert_eq!(part.pixels[7], egui::Color32::from_rgb(5, 3, 0));
        // Partly outside: clamped to the image.
        let part = crop_image(
            &image,
            egui::Rect::from_min_max(egui::pos2(8.0, -3.0), egui::pos2(20.0, 4.0)),
            1.0,
        )
        .unwrap();
        assert_eq!(part.size, [2, 4]);
        assert_eq!(part.pixels[0], egui::Color32::from_rgb(8, 0, 0));
        // Wholly outside or empty: nothing.
        let outside = egui::Rect::from_min_max(egui::pos2(11.0, 0.0), egui::pos2(12.0, 1.0));
        assert!(crop_image(&image, outside, 1.0).is_none());
        assert!(crop_image(&image, egui::Rect::NOTHING, 1.0).is_none());
    }

    #[test]
    fn png_round_trips_the_pixels() {
        let size = [7, 3];
        let pixels: Vec<egui::Color32> = (0..21u8)
            .map(|i| egui::Color32::from_rgb(i * 10, 255 - i, i))
            .collect();
        let image = egui::ColorImage::new(size, pixels.clone());
        let path = std::env::temp_dir().join(format!(
            "meshscope-png-{}-{}.png",
            std::process::id(),
            crate::now_nanos()
        ));
        write_png(&image, &path).unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (7, 3));
        assert_eq!(info.color_type, png::ColorType::Rgba);
        let back: Vec<egui::Color32> = buf[..info.buffer_size()]
            .chunks_exact(4)
            .map(|p| egui::Color32::from_rgba_unmultiplied(p[0], p[1], p[2], p[3]))
            .collect();
        assert_eq!(back, pixels);
        let _ = std::fs::remove_file(&path);
        assert!(write_png(&image, Path::new("/nonexistent-dir/x.png")).is_err());
    }
}
