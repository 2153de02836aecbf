//! Every colour Meshscope draws with, as semantic tokens (views never write a literal colour).

use egui::Color32;

use crate::protocol::Dialect;

pub struct Theme;

impl Theme {
    pub const STATUS_ONLINE: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
    pub const STATUS_STALE: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
    pub const STATUS_OFFLINE: Color32 = Color32::from_rgb(0xe5, 0x53, 0x4b);
    pub const STATUS_UNKNOWN: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);

    pub const CONNECTION_CONNECTED: Color32 = Self::STATUS_ONLINE;
    pub const CONNECTION_CONNECTING: Color32 = Self::STATUS_STALE;
    pub const CONNECTION_DOWN: Color32 = Self::STATUS_OFFLINE;

    pub const TEXT_MUTED: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);
    pub const TEXT_WARNING: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
    pub const TEXT_ERROR: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);

    pub const JSON_KEY: Color32 = Color32::from_rgb(0x79, 0xc0, 0xff);
    pub const JSON_STRING: Color32 = Color32::from_rgb(0xa5, 0xd6, 0xa7);
    pub const JSON_NUMBER: Color32 = Color32::from_rgb(0xff, 0xb8, 0x6c);
    pub const JSON_LITERAL: Color32 = Color32::from_rgb(0xd2, 0xa8, 0xff);

    pub const BROKER_ADDED: Color32 = Self::TEXT_MUTED;

    pub const ICON_BACKGROUND: Color32 = Color32::from_rgb(0x12, 0x1a, 0x2b);

    /// One hue per dialect, for badges and table cells.
    pub fn dialect(dialect: Dialect) -> Color32 {
        match dialect {
            Dialect::MqttAgentMcp => Color32::from_rgb(0x58, 0xa6, 0xff),
            Dialect::MqttAgentA2a => Color32::from_rgb(0x39, 0xc5, 0xcf),
            Dialect::EmqxMcp => Color32::from_rgb(0xbc, 0x8c, 0xff),
            Dialect::EmqxA2a => Color32::from_rgb(0xff, 0x7b, 0x72),
            Dialect::OpenMas => Color32::from_rgb(0xe3, 0xb3, 0x41),
            Dialect::Mqtt5Rpc => Color32::from_rgb(0x7e, 0xe7, 0x87),
            Dialect::JsonRpc => Color32::from_rgb(0xf0, 0x88, 0x3e),
            Dialect::Raw => Self::TEXT_MUTED,
        }
    }

    /// The app's visuals: dark, with a slightly blue panel fill.
    pub fn apply(ctx: &egui::Context) {
        ctx.set_visuals(egui::Visuals::dark());
    }
}
