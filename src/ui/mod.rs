//! Views read the model and push `Action`s; only the app applies them (one file per view).

pub mod connection_dialog;
pub mod icon;
pub mod payload_view;
pub mod raw_view;
pub mod status_bar;
pub mod theme;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Messages,
}

impl View {
    pub const ALL: [View; 1] = [View::Messages];

    pub fn title(self) -> &'static str {
        match self {
            View::Messages => "Messages",
        }
    }
}
