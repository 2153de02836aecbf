//! Views read the model and push `Action`s; only the app applies them (one file per view).

pub mod composer;
pub mod connection_dialog;
pub mod icon;
pub mod payload_view;
pub mod presence;
pub mod raw_matches;
pub mod raw_view;
pub mod replay_bar;
pub mod status_bar;
pub mod theme;
pub mod timeline;
pub mod widgets;

use crate::settings::Profile;

/// Everything a view may ask for. The app applies actions after the frame's views ran.
/// What a PNG export shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScreenshotRegion {
    /// The whole window.
    #[default]
    Window,
    /// The timeline's latency, throughput and error-rate plots (they must be on screen).
    LatencyPlots,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    OpenConnectionDialog,
    /// Connect with this profile; the password was typed in the dialog (never saved) or is empty.
    /// `Debug` prints it as `<redacted>`.
    Connect {
        profile: Profile,
        password: Option<crate::secrets::Secret>,
    },
    Disconnect,
    SaveProfile(Profile),
    DeleteProfile(String),
    SavePayload {
        seq: u64,
    },
    CopyPayload {
        seq: u64,
    },
    SelectView(View),
    /// Show this participant's details (presence map, table).
    SelectParticipant(ParticipantRef),
    /// Show this trace's details (timeline, plots); `None` clears the selection.
    SelectTrace(Option<u64>),
    /// Open this recording (or peers-mesh capture) and replay it; live observing stops.
    OpenRecording(std::path::PathBuf),
    /// Close the open recording and go back to live.
    CloseRecording,
    /// Record what the broker carries to this file (`redact`: secret user property values).
    StartRecording {
        path: std::path::PathBuf,
        redact: bool,
    },
    StopRecording,
    /// Play, pause, speed or seek the open recording.
    Replay(crate::record::player::ReplayCommand),
    Export {
        what: crate::record::export::ExportWhat,
        format: crate::record::export::ExportFormat,
        path: std::path::PathBuf,
    },
    /// Ask the system file dialog for a path (the window that asked gets it).
    BrowseFile(replay_bar::FilePurpose),
    /// Save the window as it is drawn, or one part of it, as a PNG file.
    SaveScreenshot {
        path: std::path::PathBuf,
        region: ScreenshotRegion,
    },
    /// Carry out a composer call's steps (subscribe, publish, unsubscribe) in order, as
    /// Meshscope's own client; on failure tell the composer (`send_failed`).
    SendCall {
        call_key: u64,
        steps: Vec<crate::composer::Step>,
    },
    /// Open the composer on what this participant offers.
    OpenComposer(ParticipantRef),
}

/// Names one participant of the mesh model (its identity is dialect + kind + id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParticipantRef {
    pub dialect: crate::protocol::Dialect,
    pub kind: crate::protocol::ParticipantKind,
    pub participant_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    Presence,
    Timeline,
    #[default]
    Messages,
    Composer,
}

impl View {
    pub const ALL: [View; 4] = [
        View::Presence,
        View::Timeline,
        View::Messages,
        View::Composer,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Presence => "Presence",
            View::Timeline => "Timeline",
            View::Messages => "Messages",
            View::Composer => "Composer",
        }
    }

    /// The keyboard shortcut that switches to it (Ctrl+1..4).
    pub fn key(self) -> egui::Key {
        match self {
            View::Presence => egui::Key::Num1,
            View::Timeline => egui::Key::Num2,
            View::Messages => egui::Key::Num3,
            View::Composer => egui::Key::Num4,
        }
    }
}
