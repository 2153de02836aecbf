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

/// Trace timeline and latency plots.
impl Theme {
    pub const SPAN_OK: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
    pub const SPAN_ERROR: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
    pub const SPAN_TIMEOUT: Color32 = Color32::from_rgb(0xe3, 0x8b, 0x29);
    pub const SPAN_PENDING: Color32 = Color32::from_rgb(0x58, 0xa6, 0xff);
    pub const SPAN_CANCELLED: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);
    pub const SPAN_ORPHAN: Color32 = Color32::from_rgb(0xbc, 0x8c, 0xff);
    /// Ticks for streamed partials on a bar.
    pub const SPAN_PARTIAL: Color32 = Color32::from_rgb(0xf0, 0xf6, 0xfc);
    /// A response that arrived after its request had timed out.
    pub const SPAN_LATE_RESPONSE: Color32 = Color32::from_rgb(0xff, 0xd3, 0x3d);
    /// The observer was disconnected: nothing seen here.
    pub const GAP_FILL: Color32 = Color32::from_rgba_premultiplied(0x40, 0x18, 0x18, 0x60);
    pub const GAP_BORDER: Color32 = Color32::from_rgb(0x8e, 0x3b, 0x3b);
    pub const NOW_LINE: Color32 = Color32::from_rgb(0x58, 0xa6, 0xff);
    pub const AXIS_TICK: Color32 = Color32::from_rgb(0x30, 0x36, 0x3d);
    pub const ROW_SELECTED: Color32 = Color32::from_rgb(0x1f, 0x3a, 0x5f);
    pub const ROW_HOVER: Color32 = Color32::from_rgb(0x21, 0x26, 0x2d);
    pub const ROW_STRIPE: Color32 = Color32::from_rgb(0x16, 0x1b, 0x22);
    pub const GROUP_HEADER: Color32 = Color32::from_rgb(0x1c, 0x23, 0x33);
    pub const NESTING_GUIDE: Color32 = Color32::from_rgb(0x44, 0x4c, 0x56);
    pub const LATENCY_P50: Color32 = Color32::from_rgb(0x79, 0xc0, 0xff);
    pub const LATENCY_P95: Color32 = Color32::from_rgb(0xd2, 0xa8, 0xff);
    pub const LATENCY_P99: Color32 = Color32::from_rgb(0xff, 0x7b, 0x72);
    pub const POINT_OK: Color32 = Color32::from_rgba_premultiplied(0x3f, 0xb9, 0x50, 0xc0);
    pub const POINT_ERROR: Color32 = Self::SPAN_ERROR;
    pub const POINT_TIMEOUT: Color32 = Self::SPAN_TIMEOUT;
    pub const POINT_SELECTED: Color32 = Color32::from_rgb(0xff, 0xff, 0xff);
    pub const THROUGHPUT: Color32 = Color32::from_rgb(0x58, 0xa6, 0xff);
    pub const ERROR_RATE: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
    pub const HISTOGRAM_BAR: Color32 = Color32::from_rgb(0x38, 0x8b, 0xfd);

    /// A trace's bar colour by how it ended.
    pub fn outcome(outcome: crate::model::mesh::Outcome) -> Color32 {
        use crate::model::mesh::Outcome;
        match outcome {
            Outcome::Pending => Self::SPAN_PENDING,
            Outcome::Ok => Self::SPAN_OK,
            Outcome::Error => Self::SPAN_ERROR,
            Outcome::Timeout => Self::SPAN_TIMEOUT,
            Outcome::Cancelled => Self::SPAN_CANCELLED,
            Outcome::Orphan => Self::SPAN_ORPHAN,
        }
    }
}

/// The presence map (canvas, nodes, call edges).
impl Theme {
    pub const MAP_BACKGROUND: Color32 = Color32::from_rgb(0x0d, 0x11, 0x17);
    pub const MAP_GRID_DOT: Color32 = Color32::from_rgb(0x1c, 0x22, 0x2b);
    /// The thin ring that separates a node from the edges under it.
    pub const MAP_NODE_OUTLINE: Color32 = Color32::from_rgb(0x0d, 0x11, 0x17);
    pub const MAP_SELECTION: Color32 = Color32::from_rgb(0xf0, 0xf6, 0xfc);
    pub const MAP_HOVER: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);
    pub const MAP_LABEL: Color32 = Color32::from_rgb(0xe6, 0xed, 0xf3);
    pub const MAP_LABEL_MUTED: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);
    /// A label's backdrop, so it stays readable over edges.
    pub const MAP_LABEL_BACKDROP: Color32 =
        Color32::from_rgba_premultiplied(0x0d, 0x11, 0x17, 0xc8);
    /// Call edges by error rate: none, some (~10 %), most (≥ 50 %).
    pub const MAP_EDGE_OK: Color32 = Color32::from_rgb(0x4d, 0x6a, 0x8f);
    pub const MAP_EDGE_WARN: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
    pub const MAP_EDGE_ERROR: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
    /// A tool's tie to its server.
    pub const MAP_MEMBER_LINE: Color32 = Color32::from_rgb(0x30, 0x36, 0x3d);
    pub const MAP_PULSE: Color32 = Color32::from_rgb(0xa5, 0xf3, 0xfc);
    /// The halo behind a server and its tools.
    pub const MAP_GROUP_FILL: Color32 = Color32::from_rgba_premultiplied(0x10, 0x16, 0x20, 0x90);
    pub const MAP_GROUP_STROKE: Color32 = Color32::from_rgb(0x26, 0x2c, 0x36);
    pub const MAP_BADGE_TEXT: Color32 = Color32::from_rgb(0x0d, 0x11, 0x17);
    pub const MAP_ENDPOINT: Color32 = Color32::from_rgb(0x6e, 0x76, 0x81);
    pub const MAP_OVERLAY_FILL: Color32 = Color32::from_rgba_premultiplied(0x16, 0x1b, 0x22, 0xe6);
    pub const MAP_OVERLAY_STROKE: Color32 = Color32::from_rgb(0x30, 0x36, 0x3d);
}

/// Recording and replay.
impl Theme {
    /// The recording indicator's dot.
    pub const RECORDING: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
}
