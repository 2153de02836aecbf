//! The embedded MQTT 5 broker (mqtt5 crate) on loopback, for the demo, tests and `meshscope broker`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use mqtt5::broker::config::{BrokerConfig, StorageBackend, StorageConfig};
use mqtt5::broker::{BrokerShutdownHandle, MqttBroker};
use tokio::task::JoinHandle;

/// The default bind address of `meshscope broker`: loopback only, the usual MQTT port.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1883);

/// Largest packet the embedded broker accepts and forwards: 256 MiB, so 64 MB payloads pass.
pub const MAX_PACKET_BYTES: usize = 256 * 1024 * 1024;

/// How long `shutdown` waits for the broker to close its connections before it gives up.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(6);

/// An in-process MQTT 5 broker (the `mqtt5` crate) running on the caller's tokio runtime.
///
/// What it does: `$`-topics (`$a2a/...`, `$mcp-...`) are subscribed and delivered, retained
/// messages keep their properties, Retain-As-Published, wills (with delay), shared
/// subscriptions, packets up to [`MAX_PACKET_BYTES`], anonymous clients. Sessions and retained
/// messages live in memory only (nothing is written to disk).
///
/// Quirks a client must know:
/// - **client ids containing `/` are refused** (CONNACK "client identifier not valid"); ids
///   longer than 128 bytes are refused too. Meshscope's own ids (`meshscope-<hex>`) are fine.
/// - it adds a user property `x-mqtt-client-id` (the publisher's client id) at the end of the
///   user properties of every message it forwards; show it as added by the broker.
///
/// Dropping it without [`EmbeddedBroker::shutdown`] also stops it (the run task is signalled),
/// but only `shutdown` waits until the connections are closed.
pub struct EmbeddedBroker {
    local_addr: SocketAddr,
    shutdown: BrokerShutdownHandle,
    run_task: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts the broker on `bind` (port 0 picks a free port; see [`EmbeddedBroker::local_addr`]).
    /// Must be called inside a tokio runtime; the broker runs on that runtime.
    pub async fn start(bind: SocketAddr) -> anyhow::Result<EmbeddedBroker> {
        Self::start_with(bind, |config| config).await
    }

    /// Like [`EmbeddedBroker::start`], with a last word on the mqtt5 configuration (tests use it to
    /// set quotas or ACLs). `adjust` receives Meshscope's configuration and returns the one to use.
    pub async fn start_with(
        bind: SocketAddr,
        adjust: impl FnOnce(BrokerConfig) -> BrokerConfig,
    ) -> anyhow::Result<EmbeddedBroker> {
        // mqtt5 turns on rustls's `ring` provider; pin it as the process default before any
        // TLS client is built, or rumqttc's TLS connect finds two providers and panics.
        crate::mqtt::install_crypto_provider();

        let config = adjust(base_config(bind));
        let mut broker = MqttBroker::with_config(config)
            .await
            .with_context(|| format!("cannot start the embedded broker on {bind}"))?;
        let local_addr = broker
            .local_addr()
            .with_context(|| format!("the embedded broker on {bind} has no TCP listener"))?;
        let shutdown = broker.shutdown_handle();
        let mut ready = broker.ready_receiver();
        let run_task = tokio::spawn(async move {
            if let Err(error) = broker.run().await {
                tracing::error!(%error, "embedded broker stopped with an error");
            }
        });
        // `run` recovers sessions and starts its accept loop before it reports ready; waiting
        // here means a client connecting right after `start` returns is accepted at once.
        let became_ready = tokio::time::timeout(Duration::from_secs(10), async {
            while !*ready.borrow_and_update() {
                if ready.changed().await.is_err() {
                    return false;
                }
            }
            true
        })
        .await;
        if !matches!(became_ready, Ok(true)) {
            shutdown.shutdown();
            anyhow::bail!("the embedded broker on {local_addr} did not become ready");
        }
        tracing::info!(%local_addr, "embedded broker listening");
        Ok(EmbeddedBroker {
            local_addr,
            shutdown,
            run_task: Some(run_task),
        })
    }

    /// The address the broker listens on (the real port when it was started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `mqtt://127.0.0.1:<port>`: the URL clients use to reach this broker.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.local_addr)
    }

    /// Stops accepting, closes every client connection (their wills fire as for any lost
    /// client) and waits until the broker has finished.
    pub async fn shutdown(mut self) {
        self.shutdown.shutdown();
        if let Some(task) = self.run_task.take()
            && tokio::time::timeout(SHUTDOWN_WAIT, task).await.is_err()
        {
            tracing::warn!(local_addr = %self.local_addr, "embedded broker was slow to shut down");
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if self.run_task.is_some() {
            self.shutdown.shutdown();
        }
    }
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Meshscope's broker configuration: loopback (or `bind`), memory storage, big packets, no
/// per-client rate or subscription limits.
fn base_config(bind: SocketAddr) -> BrokerConfig {
    // Memory storage stays *on*: switching persistence off breaks sessions and Will Delay.
    let storage = StorageConfig::default()
        .with_backend(StorageBackend::Memory)
        .with_persistence(true)
        .with_max_queued_bytes_per_client(MAX_PACKET_BYTES);
    let mut config = BrokerConfig::default()
        .with_bind_address(bind)
        .with_storage(storage)
        .with_max_packet_size(MAX_PACKET_BYTES)
        .with_max_subscriptions_per_client(0)
        .with_max_retained_messages(0)
        .with_max_retained_message_size(0);
    config.max_message_rate_per_client = 0;
    config.max_bandwidth_per_client = 0;
    config.max_outbound_rate_per_client = 0;
    config
}

/// `meshscope broker`: runs the embedded broker until Ctrl-C, printing where it listens.
pub async fn run_until_ctrl_c(bind: SocketAddr) -> anyhow::Result<()> {
    let broker = EmbeddedBroker::start(bind).await?;
    println!(
        "meshscope broker listening on {} (Ctrl-C to stop)",
        broker.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    println!("stopping the broker");
    broker.shutdown().await;
    Ok(())
}
