//! What the observer session needs to connect: broker, identity, credentials, TLS files, limits.

use std::fmt;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::PathBuf;
use std::time::Duration;

use rumqttc::v5::MqttOptions;

use super::url::{BrokerUrl, Transport};

/// Default keep-alive: a silent broker is noticed within about 1.5 × this.
pub const DEFAULT_KEEP_ALIVE_SECS: u16 = 10;
/// rumqttc refuses (panics on) keep-alives under 5 s; shorter requests are raised to this.
pub const MIN_KEEP_ALIVE_SECS: u16 = 5;
/// Default incoming packet limit: 256 MiB, so 64 MB messages arrive.
pub const DEFAULT_MAX_PACKET_BYTES: usize = 256 * 1024 * 1024;
/// The largest packet MQTT can express (the remaining-length field's maximum plus header).
pub const PROTOCOL_MAX_PACKET_BYTES: usize = 268_435_455 + 5;
/// How many requests (publish, subscribe, ...) may wait for the event loop.
pub(crate) const REQUEST_QUEUE_CAPACITY: usize = 1024;
/// Seconds allowed for TCP + TLS + CONNACK per attempt.
const CONNECT_TIMEOUT_SECS: u64 = 10;

/// How to connect the observer session. `Debug` never prints the password.
#[derive(Clone)]
pub struct SessionOptions {
    pub broker: BrokerUrl,
    /// Never reuse another participant's id: the broker would kick that client off.
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM file with the CA certificate(s) to trust instead of the system roots (TLS only).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and private key for mutual TLS (both or neither).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Raised to [`MIN_KEEP_ALIVE_SECS`] when lower.
    pub keep_alive_secs: u16,
    /// The incoming packet limit announced to the broker (bigger messages are not delivered).
    pub max_packet_bytes: usize,
    /// Subscribe to [`super::OBSERVER_FILTERS`] and `extra_filters` on every connect.
    pub observe: bool,
    pub extra_filters: Vec<String>,
}

impl SessionOptions {
    /// An observer of `broker` with a fresh unique client id (`meshscope-<12 hex>`), keep-alive
    /// 10 s, incoming packets up to 256 MiB, observing on.
    pub fn new(broker: BrokerUrl) -> Self {
        SessionOptions {
            broker,
            client_id: unique_client_id(),
            username: None,
            password: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            keep_alive_secs: DEFAULT_KEEP_ALIVE_SECS,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            observe: true,
            extra_filters: Vec::new(),
        }
    }

    /// The keep-alive actually used.
    pub fn effective_keep_alive_secs(&self) -> u16 {
        self.keep_alive_secs.max(MIN_KEEP_ALIVE_SECS)
    }

    /// The rumqttc options for these settings (TLS configuration built from the files).
    pub(crate) fn to_mqtt_options(&self) -> Result<MqttOptions, String> {
        let transport = self.broker.transport;
        if !transport.is_tls()
            && (self.ca_file.is_some() || self.client_cert.is_some() || self.client_key.is_some())
        {
            let tls_scheme = if transport.is_websocket() {
                "wss://"
            } else {
                "mqtts://"
            };
            return Err(format!(
                "TLS files were given but {} is not a TLS URL (use {tls_scheme})",
                self.broker
            ));
        }
        let mut options = MqttOptions::new(
            self.client_id.clone(),
            rumqttc_broker_addr(&self.broker),
            self.broker.port,
        );
        options.set_keep_alive(Duration::from_secs(u64::from(
            self.effective_keep_alive_secs(),
        )));
        // Observer sessions are throwaway: clean start, nothing kept when we go away.
        options.set_clean_start(true);
        options.set_session_expiry_interval(None);
        match (&self.username, &self.password) {
            (Some(user), password) => {
                options.set_credentials(user.clone(), password.clone().unwrap_or_default());
            }
            (None, Some(_)) => return Err("a password was given without a username".into()),
            (None, None) => {}
        }
        options.set_request_channel_capacity(REQUEST_QUEUE_CAPACITY);
        options.set_connection_timeout(CONNECT_TIMEOUT_SECS);
        // The default (u16::MAX) preallocates ~14 MB and ~5 ms per client.
        options.set_outgoing_inflight_upper_limit(100);
        // Last: `set_connect_properties` would reset it. Without it, packets over 10 KiB kill
        // the event loop.
        let max_packet = self.max_packet_bytes.clamp(1024, PROTOCOL_MAX_PACKET_BYTES);
        options.set_max_packet_size(Some(u32::try_from(max_packet).unwrap_or(u32::MAX)));
        match transport {
            Transport::Tcp => {}
            Transport::Ws => {
                options.set_transport(rumqttc::Transport::Ws);
            }
            Transport::Tls => {
                let tls = super::tls::client_config(self)?;
                options.set_transport(rumqttc::Transport::tls_with_config(tls.into()));
            }
            Transport::Wss => {
                // The same verifier as mqtts:// (CA file or system roots, client certificate).
                let tls = super::tls::client_config(self)?;
                options.set_transport(rumqttc::Transport::wss_with_config(tls.into()));
            }
        }
        Ok(options)
    }
}

/// What rumqttc wants as the broker address. TCP: it joins host and port with `:` for the
/// socket, so an IPv6 literal needs brackets. TLS: the host is also the TLS server name, which
/// must not have them. WebSockets: the whole URL (`ws://host:port/path`), from which rumqttc
/// takes host, port, path and the TLS server name itself.
fn rumqttc_broker_addr(broker: &BrokerUrl) -> String {
    match broker.transport {
        Transport::Tcp if broker.host.contains(':') => format!("[{}]", broker.host),
        Transport::Tcp | Transport::Tls => broker.host.clone(),
        Transport::Ws | Transport::Wss => broker.to_string(),
    }
}

impl fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionOptions")
            .field("broker", &self.broker.to_string())
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("keep_alive_secs", &self.keep_alive_secs)
            .field("max_packet_bytes", &self.max_packet_bytes)
            .field("observe", &self.observe)
            .field("extra_filters", &self.extra_filters)
            .finish()
    }
}

/// `meshscope-` and 12 hex digits, different on every call (and across processes).
pub fn unique_client_id() -> String {
    format!("meshscope-{:012x}", random_u64() & 0xffff_ffff_ffff)
}

/// A random 64-bit number from std's per-process random hash keys, the clock and a counter
/// (no RNG crate needed for ids and jitter).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(crate::now_nanos());
    hasher.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> BrokerUrl {
        "mqtt://127.0.0.1:1883".parse().expect("url")
    }

    #[test]
    fn defaults_are_an_observer_with_a_unique_id() {
        let a = SessionOptions::new(url());
        let b = SessionOptions::new(url());
        assert_ne!(a.client_id, b.client_id);
        for id in [&a.client_id, &b.client_id] {
            let hex = id.strip_prefix("meshscope-").expect("prefix");
            assert_eq!(hex.len(), 12, "{id}");
            assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
        assert_eq!(a.keep_alive_secs, 10);
        assert_eq!(a.max_packet_bytes, 256 * 1024 * 1024);
        assert!(a.observe);
        assert!(a.extra_filters.is_empty());
    }

    #[test]
    fn debug_never_prints_the_password() {
        let mut options = SessionOptions::new(url());
        options.username = Some("alice".into());
        options.password = Some("hunter2-very-secret".into());
        let text = format!("{options:?} {options:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("alice"));
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn mqtt_options_raise_the_packet_limit_and_clamp_keep_alive() {
        let mut options = SessionOptions::new(url());
        options.keep_alive_secs = 1;
        let mqtt = options.to_mqtt_options().expect("options");
        assert_eq!(mqtt.max_packet_size(), Some(256 * 1024 * 1024));
        assert_eq!(mqtt.keep_alive(), Duration::from_secs(5));
        assert!(mqtt.clean_start());
        assert_eq!(mqtt.get_outgoing_inflight_upper_limit(), Some(100));
    }

    #[test]
    fn websocket_urls_become_websocket_transports() {
        let ws = SessionOptions::new("ws://127.0.0.1:9001/mqtt".parse().expect("url"));
        let mqtt = ws.to_mqtt_options().expect("options");
        assert!(matches!(mqtt.transport(), rumqttc::Transport::Ws));
        assert_eq!(mqtt.broker_address().0, "ws://127.0.0.1:9001/mqtt");
        // A bare ws:// URL gets port 80 and the /mqtt path.
        let bare = SessionOptions::new("ws://[::1]".parse().expect("url"));
        let mqtt = bare.to_mqtt_options().expect("options");
        assert_eq!(mqtt.broker_address().0, "ws://[::1]:80/mqtt");

        let mut wss = SessionOptions::new("wss://broker.example/ws?x=1".parse().expect("url"));
        wss.ca_file = Some("/nonexistent/ca.pem".into());
        let error = wss
            .to_mqtt_options()
            .expect_err("the CA file is read for wss too");
        assert!(error.contains("cannot read the CA file"), "{error}");
        wss.ca_file = None;
        if let Ok(mqtt) = wss.to_mqtt_options() {
            // (No system roots on this machine is the other possible outcome.)
            assert!(matches!(mqtt.transport(), rumqttc::Transport::Wss(_)));
            assert_eq!(mqtt.broker_address().0, "wss://broker.example:443/ws?x=1");
        }

        let mut ws_with_ca = ws.clone();
        ws_with_ca.ca_file = Some("/tmp/ca.pem".into());
        let error = ws_with_ca.to_mqtt_options().expect_err("not TLS");
        assert!(error.contains("use wss://"), "{error}");
    }

    #[test]
    fn tls_files_on_a_plain_url_or_password_without_user_are_refused() {
        let mut options = SessionOptions::new(url());
        options.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(options.to_mqtt_options().is_err());
        let mut options = SessionOptions::new(url());
        options.password = Some("x".into());
        assert!(options.to_mqtt_options().is_err());
    }
}
