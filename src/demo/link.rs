//! One simulated participant's own broker connection: rumqttc v5 event loop, backoff, resubscribe, crash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode, Filter, LastWill, Packet, Publish, PublishProperties,
};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::rng::Rng;

/// Big enough for any demo payload and for whatever else shares the broker (rumqttc's default
/// 10 KiB would kill the event loop on the first larger message).
const MAX_PACKET_BYTES: u32 = 64 * 1024 * 1024;
/// Requests queued towards the event loop; the demo publishes with `try_publish` and never waits.
const REQUEST_CHANNEL_CAPACITY: usize = 512;
const RETRY_FIRST_MILLIS: u64 = 250;
const RETRY_MAX_MILLIS: u64 = 5_000;

/// How one participant connects.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Short name for log lines (`scout`, `emqx-a2a/triage`).
    pub label: String,
    pub client_id: String,
    /// Used instead of `client_id` when the broker refuses it (the embedded broker refuses `/`).
    pub fallback_client_id: Option<String>,
    pub clean_start: bool,
    pub session_expiry_secs: Option<u32>,
    pub will: Option<LastWill>,
    pub connect_user_properties: Vec<(String, String)>,
    pub keep_alive_secs: u64,
}

impl LinkConfig {
    pub fn new(label: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            client_id: client_id.into(),
            fallback_client_id: None,
            clean_start: true,
            session_expiry_secs: None,
            will: None,
            connect_user_properties: Vec::new(),
            keep_alive_secs: 15,
        }
    }
}

/// What the participant's logic sees from its connection.
// Each event moves once through a channel; boxing the publish would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum LinkEvent {
    /// A CONNACK accepted the connection (first time or after a reconnect); subscriptions are
    /// already re-sent. Republish presence here.
    Connected {
        session_present: bool,
    },
    Message(Publish),
}

#[derive(Debug, Default)]
struct Subscriptions {
    connected: bool,
    filters: Vec<Filter>,
}

/// A cloneable handle for publishing and (un)subscribing from any task of the participant.
#[derive(Clone)]
pub struct LinkHandle {
    client: AsyncClient,
    subscriptions: Arc<Mutex<Subscriptions>>,
    label: Arc<str>,
}

impl LinkHandle {
    /// Subscribes now when connected, and again after every reconnect that lost the session.
    pub fn subscribe(&self, filter: &str, qos: QoS) {
        self.subscribe_with(filter, qos, false);
    }

    /// As `subscribe`, with No Local (EMQX MCP RPC topics are shared by both directions).
    pub fn subscribe_no_local(&self, filter: &str, qos: QoS) {
        self.subscribe_with(filter, qos, true);
    }

    fn subscribe_with(&self, filter: &str, qos: QoS, no_local: bool) {
        let mut entry = Filter::new(filter, qos);
        entry.nolocal = no_local;
        let Ok(mut subscriptions) = self.subscriptions.lock() else {
            return;
        };
        subscriptions.filters.retain(|known| known.path != filter);
        subscriptions.filters.push(entry.clone());
        if subscriptions.connected
            && let Err(error) = self.client.try_subscribe_many(vec![entry])
        {
            tracing::debug!(participant = %self.label, %error, "demo: subscribe request dropped");
        }
    }

    pub fn unsubscribe(&self, filter: &str) {
        let Ok(mut subscriptions) = self.subscriptions.lock() else {
            return;
        };
        subscriptions.filters.retain(|known| known.path != filter);
        if subscriptions.connected
            && let Err(error) = self.client.try_unsubscribe(filter)
        {
            tracing::debug!(participant = %self.label, %error, "demo: unsubscribe request dropped");
        }
    }

    /// Queues a publish; never waits. Returns false when it was dropped (request queue full while
    /// the broker is away): the simulated caller then simply times out, as a real one would.
    pub fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
        properties: PublishProperties,
    ) -> bool {
        let payload: Bytes = payload.into();
        match self
            .client
            .try_publish_with_properties(topic, qos, retain, payload, properties)
        {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(participant = %self.label, topic, %error, "demo: publish dropped");
                false
            }
        }
    }

    /// Publish without MQTT 5 properties.
    pub fn publish_plain(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
    ) -> bool {
        self.publish(topic, qos, retain, payload, PublishProperties::default())
    }
}

/// The connection: the handle, the event stream and the task that polls rumqttc's event loop.
pub struct Link {
    handle: LinkHandle,
    events: mpsc::Receiver<LinkEvent>,
    poll_task: JoinHandle<()>,
}

impl Link {
    /// Starts connecting in the background; events arrive on `next_event`.
    pub fn start(host: &str, port: u16, config: LinkConfig, rng: Rng) -> Self {
        let mut options = MqttOptions::new(config.client_id.clone(), host, port);
        // rumqttc panics below 5 s.
        options.set_keep_alive(Duration::from_secs(config.keep_alive_secs.max(5)));
        options.set_clean_start(config.clean_start);
        options.set_request_channel_capacity(REQUEST_CHANNEL_CAPACITY);
        // The default inflight limit preallocates ~14 MB per client.
        options.set_outgoing_inflight_upper_limit(100);
        if let Some(will) = config.will.clone() {
            options.set_last_will(will);
        }
        if config.session_expiry_secs.is_some() {
            options.set_session_expiry_interval(config.session_expiry_secs);
        }
        if !config.connect_user_properties.is_empty() {
            options.set_user_properties(config.connect_user_properties.clone());
        }
        // Small request/response packets: without TCP_NODELAY, Nagle plus delayed ACKs add
        // ~40 ms to every reply (measured: echo p50 43 ms instead of ~1 ms).
        let mut network = options.network_options();
        network.set_tcp_nodelay(true);
        options.set_network_options(network);
        // Last: anything that replaces the connect properties would reset it.
        options.set_max_packet_size(Some(MAX_PACKET_BYTES));

        let (client, event_loop) = AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY);
        let label: Arc<str> = Arc::from(config.label.as_str());
        let handle = LinkHandle {
            client,
            subscriptions: Arc::new(Mutex::new(Subscriptions::default())),
            label,
        };
        let (events_tx, events) = mpsc::channel(1024);
        let poll_task = tokio::spawn(poll_loop(
            event_loop,
            handle.clone(),
            config,
            events_tx,
            rng,
        ));
        Self {
            handle,
            events,
            poll_task,
        }
    }

    pub fn handle(&self) -> LinkHandle {
        self.handle.clone()
    }

    /// The next event; `None` once the connection task has ended.
    pub async fn next_event(&mut self) -> Option<LinkEvent> {
        self.events.recv().await
    }

    /// Graceful leave: a DISCONNECT after everything already queued (so no Last Will), then waits
    /// briefly for the event loop to send it.
    pub async fn close(self) {
        let Self {
            handle,
            mut events,
            mut poll_task,
        } = self;
        // Not connected (broker away, backing off): there is nobody to say goodbye to.
        let connected = handle
            .subscriptions
            .lock()
            .map(|subscriptions| subscriptions.connected)
            .unwrap_or(false);
        if !connected || handle.client.try_disconnect().is_err() {
            poll_task.abort();
            return;
        }
        // Keep draining events: the poll task ends early (dropping the socket, which would fire
        // the Will) if it cannot hand an event over.
        let deadline = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut poll_task => return,
                _ = events.recv() => {}
                _ = &mut deadline => break,
            }
        }
        poll_task.abort();
    }

    /// Abrupt loss: stop polling and drop the socket without DISCONNECT, so the broker fires the
    /// Last Will (a crashed process looks exactly like this on the wire).
    pub fn crash(self) {
        self.poll_task.abort();
    }
}

async fn poll_loop(
    mut event_loop: rumqttc::v5::EventLoop,
    handle: LinkHandle,
    config: LinkConfig,
    events_tx: mpsc::Sender<LinkEvent>,
    mut rng: Rng,
) {
    let mut retry_in_millis = RETRY_FIRST_MILLIS;
    let mut using_fallback_id = false;
    let mut was_connected = false;
    let mut leaving = false;
    loop {
        match event_loop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                retry_in_millis = RETRY_FIRST_MILLIS;
                let filters = match handle.subscriptions.lock() {
                    Ok(mut subscriptions) => {
                        subscriptions.connected = true;
                        if connack.session_present {
                            Vec::new()
                        } else {
                            subscriptions.filters.clone()
                        }
                    }
                    Err(_) => Vec::new(),
                };
                if !filters.is_empty()
                    && let Err(error) = handle.client.try_subscribe_many(filters)
                {
                    tracing::warn!(participant = %config.label, %error, "demo: resubscribe failed");
                }
                if was_connected {
                    tracing::info!(participant = %config.label, "demo: reconnected");
                } else {
                    tracing::debug!(participant = %config.label, client_id = %event_loop.options.client_id(), "demo: connected");
                }
                was_connected = true;
                let event = LinkEvent::Connected {
                    session_present: connack.session_present,
                };
                if events_tx.send(event).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if events_tx.send(LinkEvent::Message(publish)).await.is_err() {
                    return;
                }
            }
            // Keep reading until the broker closes the connection: dropping the socket now,
            // with PUBACKs still unread, makes the kernel send a reset instead of a close, and
            // a broker that sees the reset before the DISCONNECT publishes the Last Will.
            Ok(Event::Outgoing(Outgoing::Disconnect)) => leaving = true,
            Ok(_) => {}
            Err(_) if leaving => return,
            Err(error) => {
                if let Ok(mut subscriptions) = handle.subscriptions.lock() {
                    subscriptions.connected = false;
                }
                if events_tx.is_closed() {
                    return;
                }
                let refused_id = matches!(
                    error,
                    ConnectionError::ConnectionRefused(
                        ConnectReturnCode::ClientIdentifierNotValid
                            | ConnectReturnCode::BadClientId
                    )
                );
                if refused_id
                    && !using_fallback_id
                    && let Some(fallback) = config.fallback_client_id.clone()
                {
                    tracing::info!(
                        participant = %config.label,
                        refused = %config.client_id,
                        fallback = %fallback,
                        "demo: broker refused the client id (it contains '/'); retrying with a '/'-free form"
                    );
                    event_loop.options.set_client_id(fallback);
                    using_fallback_id = true;
                    continue;
                }
                tracing::debug!(participant = %config.label, %error, retry_in_millis, "demo: connection lost");
                // rumqttc reconnects on the next poll with no delay at all: back off here.
                let jitter_millis = rng.range(0, retry_in_millis / 4);
                tokio::time::sleep(Duration::from_millis(retry_in_millis + jitter_millis)).await;
                retry_in_millis = (retry_in_millis * 2).min(RETRY_MAX_MILLIS);
            }
        }
    }
}
