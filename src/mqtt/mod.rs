//! The observer MQTT session (the only module that imports rumqttc): URLs, options, TLS, the session task.

mod checks;
mod convert;
mod options;
mod session;
mod tls;
mod url;

pub use options::{
    DEFAULT_KEEP_ALIVE_SECS, DEFAULT_MAX_PACKET_BYTES, MIN_KEEP_ALIVE_SECS, SessionOptions,
    unique_client_id,
};
pub use session::{OutgoingPublish, SessionCommand, SessionError, SessionHandle, spawn};
pub use tls::install_crypto_provider;
pub use url::{BrokerUrl, BrokerUrlError, Transport};

/// What an observer subscribes to. `#` does not match topics starting with `$`, so the
/// `$`-roots the dialects use are listed too (PROTOCOLS.md §0.2, §6).
pub const OBSERVER_FILTERS: [&str; 6] = [
    "#",
    "$a2a/#",
    "$mcp-server/#",
    "$mcp-client/#",
    "$mcp-rpc/#",
    "$mcp-rpc-endpoint/#",
];
