//! Views read the model and push `Action`s; only the app applies them (one file per view).

pub mod connection_dialog;
pub mod icon;
pub mod payload_view;
pub mod presence;
pub mod raw_view;
pub mod status_bar;
pub mod theme;
pub mod timeline;
pub mod widgets;

use crate::settings::Profile;

/// Everything a view may ask for. The app applies actions after the frame's views ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    OpenConnectionDialog,
    /// Connect with this profile; the password was typed in the dialog (never saved) or is empty.
    Connect { profile: Profile, password: Option<String> },
    Disconnect,
    SaveProfile(Profile),
    DeleteProfile(String),
    SavePayload { seq: u64 },
    CopyPayload { seq: u64 },
    SelectView(View),
    /// Show this participant's details (presence map, table).
    SelectParticipant(ParticipantRef),
    /// Show this trace's details (timeline, plots); `None` clears the selection.
    SelectTrace(Option<u64>),
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
}

impl View {
    pub const ALL: [View; 3] = [View::Presence, View::Timeline, View::Messages];

    pub fn title(self) -> &'static str {
        match self {
            View::Presence => "Presence",
            View::Timeline => "Timeline",
            View::Messages => "Messages",
        }
    }

    /// The keyboard shortcut that switches to it (Ctrl+1..3).
    pub fn key(self) -> egui::Key {
        match self {
            View::Presence => egui::Key::Num1,
            View::Timeline => egui::Key::Num2,
            View::Messages => egui::Key::Num3,
        }
    }
}
