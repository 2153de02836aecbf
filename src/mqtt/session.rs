//! The observer session task: owns the rumqttc event loop, reconnects with backoff, resubscribes, turns packets into `SessionEvent`s and carries out commands.
//!
//! Two tasks share one small `Tracker` behind a mutex:
//! - the *event-loop task* polls rumqttc (never cancelled while connected: a cancelled poll
//!   can lose a half-written packet), forwards messages with `send().await` (backpressure),
//!   reports states, acks and refusals, and reconnects with its own backoff;
//! - the *command task* validates commands and queues them into rumqttc's request channel.
//!
//! A broker that stops answering is caught by keep-alive: rumqttc pings every keep-alive and
//! fails when a ping is still unanswered at the next tick (one to two keep-alives after the
//! silence began); any packet read after a ping counts as its answer, so a flood queued ahead
//! of the PINGRESP does not pass for silence. Another client connecting with our client id
//! makes the broker close our connection (with DISCONNECT 0x8E, or silently on mosquitto 2.0
//! and the embedded broker); reconnecting with the same id would kick it off in turn, so the
//! session takes a fresh id, says so, and the two stop fighting (see `End`).
//!
//! rumqttc says which request it handled only by packet id (`Outgoing::Publish(pkid)`), in the
//! order requests were queued, so the tracker keeps the queued requests in that order. Queueing
//! and the clean-up after a lost connection both happen under the tracker lock, so the two
//! never disagree about which requests died with the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, DisconnectReasonCode, Filter, Packet, PublishProperties, RetainForwardRule,
};
use rumqttc::v5::{AsyncClient, ClientError, ConnectionError, Event, EventLoop, StateError};
use tokio::sync::{Notify, mpsc, watch};

use super::options::{PROTOCOL_MAX_PACKET_BYTES, SessionOptions, random_u64};
use super::{OBSERVER_FILTERS, checks, convert, tls};
use crate::protocol::{ConnectionState, Properties, SessionEvent};

/// Commands waiting for the session (the UI's `try_send` fails with `Busy` beyond this).
const COMMAND_QUEUE_CAPACITY: usize = 256;
/// Reconnect delays: 100, 200, 400, 800 ms, then 1 s at most (each jittered down by up to
/// 20 %), so a broker that returns is reached within about a second.
const BACKOFF_MILLIS: [u64; 5] = [100, 200, 400, 800, 1000];
/// A connection that lasted this long was healthy: the next backoff starts from the beginning.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);
/// A filter in flight each time the broker dropped us this many times is given up.
const MAX_FILTER_STRIKES: u8 = 3;
/// Fresh client ids taken (after takeovers) before a connection is stable again: past this,
/// the broker is closing every connection, not a colliding client.
const MAX_ID_SWITCHES: u32 = 3;
/// How long a stopping session waits for its DISCONNECT to be written.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);

/// What the app, the CLI and tests ask the session to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionCommand {
    Publish(OutgoingPublish),
    /// Subscribe (kept across reconnects). Shared (`$share/...`) and malformed filters are refused.
    Subscribe {
        filter: String,
        qos: u8,
    },
    Unsubscribe {
        filter: String,
    },
    /// Disconnect cleanly and stop (no reconnect); the session reports `Stopped`.
    Disconnect,
}

/// A message to publish, with every MQTT 5 property (`subscription_identifiers` are ignored:
/// a client must not send them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingPublish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub properties: Properties,
}

/// Why a command could not be handed to the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session is busy (its command queue is full); try again")]
    Busy,
    #[error("the session has stopped")]
    Stopped,
}

/// A handle on a running session. Cloneable; dropping every clone disconnects the session.
#[derive(Clone)]
pub struct SessionHandle {
    commands: mpsc::Sender<SessionCommand>,
    shared: Arc<Shared>,
}

impl SessionHandle {
    /// Queues a command without waiting (for the UI thread). Outcomes arrive as events
    /// (`Published`, `CommandFailed`, `SubscribeRefused`, `State`).
    pub fn try_send(&self, command: SessionCommand) -> Result<(), SessionError> {
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(SessionError::Stopped);
        }
        self.commands.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SessionError::Busy,
            mpsc::error::TrySendError::Closed(_) => SessionError::Stopped,
        })
    }

    /// Queues a command, waiting while the command queue is full.
    pub async fn send(&self, command: SessionCommand) -> Result<(), SessionError> {
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(SessionError::Stopped);
        }
        self.commands
            .send(command)
            .await
            .map_err(|_| SessionError::Stopped)
    }

    /// The client id this session connects with (a fresh one after another client took our
    /// session over; see [`ConnectionState::Disconnected`]).
    pub fn client_id(&self) -> String {
        self.shared.client_id().to_string()
    }

    /// True once the session has ended (stopped, or its event receiver was dropped).
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("client_id", &self.shared.client_id())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// Starts the session on `runtime`: it connects, subscribes (when `options.observe`),
/// reconnects after any failure, and sends everything it sees to `events` (waiting when the
/// channel is full; it ends when the receiver is dropped).
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    options: SessionOptions,
    events: mpsc::Sender<SessionEvent>,
) -> SessionHandle {
    tls::install_crypto_provider();
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        tracker: Mutex::new(Tracker::default()),
        request_taken: Notify::new(),
        stopped: AtomicBool::new(false),
        stop: stop_tx,
        client_id: Mutex::new(Arc::from(options.client_id.as_str())),
    });
    let handle = SessionHandle {
        commands,
        shared: Arc::clone(&shared),
    };
    let broker = options.broker.to_string();

    let mqtt_options = match options.to_mqtt_options() {
        Ok(mqtt_options) => mqtt_options,
        Err(reason) => {
            // Bad settings (unreadable CA file, ...): retrying cannot help until they change.
            shared.stopped.store(true, Ordering::Release);
            runtime.spawn(async move {
                let at_nanos = crate::now_nanos();
                let _ = events
                    .send(SessionEvent::State {
                        at_nanos,
                        state: ConnectionState::Disconnected {
                            broker: broker.clone(),
                            reason,
                            retry_in_millis: None,
                        },
                    })
                    .await;
                let _ = events
                    .send(SessionEvent::State {
                        at_nanos,
                        state: ConnectionState::Stopped { broker },
                    })
                    .await;
            });
            return handle;
        }
    };

    let (client, eventloop) =
        AsyncClient::new(mqtt_options, super::options::REQUEST_QUEUE_CAPACITY);

    // The filters to hold; invalid extra filters are reported once the task runs.
    let mut refused_at_start = Vec::new();
    {
        let mut tracker = shared.lock();
        if options.observe {
            let wanted = OBSERVER_FILTERS
                .iter()
                .map(|f| f.to_string())
                .chain(options.extra_filters.iter().cloned());
            for filter in wanted {
                match checks::check_filter(&filter) {
                    Ok(()) => tracker.want(filter, 2),
                    Err(reason) => refused_at_start.push((filter, reason)),
                }
            }
        }
    }

    let commander = Commander {
        client: client.clone(),
        shared: Arc::clone(&shared),
        events: events.clone(),
    };
    runtime.spawn(commander.run(command_rx));
    let session = EventLoopTask {
        eventloop,
        client,
        shared: Arc::clone(&shared),
        events: events.clone(),
        stop: stop_rx,
        broker: broker.clone(),
        client_id: options.client_id.clone(),
        configured_client_id: options.client_id.clone(),
        host: options.broker.host.clone(),
        rng_state: random_u64() | 1,
        ping_unanswered: false,
    };
    let task = runtime.spawn(session.run(refused_at_start));
    // A bug (here or in rumqttc) must not end the session silently: report it as a stop.
    runtime.spawn(async move {
        if let Err(error) = task.await
            && error.is_panic()
        {
            shared.stopped.store(true, Ordering::Release);
            shared.stop.send_replace(true);
            tracing::error!(%broker, "observer session panicked");
            let at_nanos = crate::now_nanos();
            let reason = "internal error: the session task panicked".to_string();
            let _ = events
                .send(SessionEvent::State {
                    at_nanos,
                    state: ConnectionState::Disconnected {
                        broker: broker.clone(),
                        reason,
                        retry_in_millis: None,
                    },
                })
                .await;
            let _ = events
                .send(SessionEvent::State {
                    at_nanos,
                    state: ConnectionState::Stopped { broker },
                })
                .await;
        }
    });
    handle
}

// ---------------------------------------------------------------------------------------------
// shared state

struct Shared {
    tracker: Mutex<Tracker>,
    /// Signalled whenever the event loop took a request off rumqttc's queue (room for more).
    request_taken: Notify,
    stopped: AtomicBool,
    /// Set by `Disconnect` (or when every handle is gone): the event loop stops.
    stop: watch::Sender<bool>,
    /// The id we connect with; replaced after a session takeover.
    client_id: Mutex<Arc<str>>,
}

impl Shared {
    fn client_id(&self) -> Arc<str> {
        Arc::clone(
            &self
                .client_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Tracker> {
        // A panic elsewhere must not take the session down with it.
        self.tracker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
struct PendingPublish {
    topic: String,
    qos: u8,
}

/// Bookkeeping shared by the two tasks.
#[derive(Default)]
struct Tracker {
    connected: bool,
    /// The broker's Maximum Packet Size from the last CONNACK.
    broker_max_packet_bytes: Option<u32>,
    /// Subscriptions to hold across reconnects, in the order they were asked for.
    desired: Vec<(String, u8)>,
    /// Times the connection died while a SUBSCRIBE for the filter was unanswered.
    strikes: HashMap<String, u8>,
    /// Requests queued into rumqttc but not yet handled, in queue order.
    queued_publishes: VecDeque<PendingPublish>,
    queued_subscribes: VecDeque<String>,
    /// A publish rumqttc parked on a packet-id collision; it is sent later with this id.
    collided: Option<(u16, PendingPublish)>,
    /// Sent and waiting for the broker's acknowledgement, by packet id.
    inflight_publishes: HashMap<u16, PendingPublish>,
    inflight_subscribes: HashMap<u16, String>,
}

impl Tracker {
    fn want(&mut self, filter: String, qos: u8) {
        match self.desired.iter_mut().find(|(f, _)| *f == filter) {
            Some(entry) => entry.1 = qos,
            None => self.desired.push((filter, qos)),
        }
    }
}

/// A request for rumqttc, kept whole so it can be retried when the queue is full.
enum Request {
    Publish {
        topic: String,
        payload: Bytes,
        qos: u8,
        retain: bool,
        properties: Option<PublishProperties>,
    },
    Subscribe {
        filter: String,
        qos: u8,
    },
    Unsubscribe {
        filter: String,
    },
}

/// rumqttc's request queue took nothing (full, or the event loop is gone).
struct QueueFull;

fn qos_of(qos: u8) -> QoS {
    match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The observer's subscription options: non-shared, Retain-As-Published, retained messages sent
/// on every subscribe, our own publishes included.
fn observer_filter(filter: &str, qos: u8) -> Filter {
    let mut f = Filter::new(filter, qos_of(qos));
    f.nolocal = false;
    f.preserve_retain = true;
    f.retain_forward_rule = RetainForwardRule::OnEverySubscribe;
    f
}

/// Queues `request` into rumqttc and records it, under the tracker lock (see the module doc).
fn queue_locked(
    client: &AsyncClient,
    tracker: &mut Tracker,
    request: &Request,
) -> Result<(), QueueFull> {
    let sent = match request {
        Request::Publish {
            topic,
            payload,
            qos,
            retain,
            properties,
        } => {
            let sent = match properties {
                Some(props) => client.try_publish_with_properties(
                    topic.clone(),
                    qos_of(*qos),
                    *retain,
                    payload.clone(),
                    props.clone(),
                ),
                None => client.try_publish(topic.clone(), qos_of(*qos), *retain, payload.clone()),
            };
            if sent.is_ok() {
                tracker.queued_publishes.push_back(PendingPublish {
                    topic: topic.clone(),
                    qos: *qos,
                });
            }
            sent
        }
        Request::Subscribe { filter, qos } => {
            let sent = client.try_subscribe_many([observer_filter(filter, *qos)]);
            if sent.is_ok() {
                tracker.queued_subscribes.push_back(filter.clone());
            }
            sent
        }
        Request::Unsubscribe { filter } => client.try_unsubscribe(filter.clone()),
    };
    // rumqttc's error does not tell a full queue from a closed one; `Shared::stopped` does.
    sent.map_err(|_: ClientError| QueueFull)
}

// ---------------------------------------------------------------------------------------------
// the command task

struct Commander {
    client: AsyncClient,
    shared: Arc<Shared>,
    events: mpsc::Sender<SessionEvent>,
}

impl Commander {
    async fn run(self, mut commands: mpsc::Receiver<SessionCommand>) {
        while let Some(command) = commands.recv().await {
            if self.shared.stopped.load(Ordering::Acquire) {
                break;
            }
            match command {
                SessionCommand::Publish(publish) => {
                    let topic = publish.topic.clone();
                    if let Err(reason) = self.publish(publish).await {
                        self.fail(format!("publish to {topic}"), reason).await;
                    }
                }
                SessionCommand::Subscribe { filter, qos } => self.subscribe(filter, qos).await,
                SessionCommand::Unsubscribe { filter } => self.unsubscribe(filter).await,
                SessionCommand::Disconnect => break,
            }
        }
        // Disconnect, or every handle is gone: stop the event loop. While connected it sends
        // DISCONNECT when it reaches this request; otherwise the stop flag ends it.
        self.shared.stop.send_replace(true);
        let _ = self.client.disconnect().await;
    }

    async fn fail(&self, what: String, reason: String) {
        let _ = self
            .events
            .send(SessionEvent::CommandFailed {
                at_nanos: crate::now_nanos(),
                what,
                reason,
            })
            .await;
    }

    async fn publish(&self, publish: OutgoingPublish) -> Result<(), String> {
        checks::check_topic(&publish.topic, "topic")?;
        if publish.qos > 2 {
            return Err(format!("QoS {} does not exist (0, 1 or 2)", publish.qos));
        }
        let props = &publish.properties;
        if let Some(topic) = &props.response_topic {
            checks::check_topic(topic, "response topic")?;
        }
        if let Some(content_type) = &props.content_type {
            checks::check_string(content_type, "content type")?;
        }
        if let Some(data) = &props.correlation_data {
            checks::check_binary(data, "correlation data")?;
        }
        for (key, value) in &props.user_properties {
            checks::check_string(key, "user property name")?;
            checks::check_string(value, "user property value")?;
        }
        let properties = convert::properties_to_wire(props);
        let estimated_bytes = estimate_publish_bytes(&publish);
        let request = Request::Publish {
            topic: publish.topic,
            payload: Bytes::from(publish.payload),
            qos: publish.qos,
            retain: publish.retain,
            properties,
        };
        self.queue(request, Some(estimated_bytes)).await
    }

    async fn subscribe(&self, filter: String, qos: u8) {
        if let Err(reason) = checks::check_filter(&filter) {
            let _ = self
                .events
                .send(SessionEvent::SubscribeRefused {
                    at_nanos: crate::now_nanos(),
                    filter,
                    reason,
                })
                .await;
            return;
        }
        if qos > 2 {
            self.fail(
                format!("subscribe to {filter}"),
                format!("QoS {qos} does not exist (0, 1 or 2)"),
            )
            .await;
            return;
        }
        {
            let mut tracker = self.shared.lock();
            tracker.want(filter.clone(), qos);
            tracker.strikes.remove(&filter);
        }
        let what = format!("subscribe to {filter}");
        if let Err(reason) = self.queue(Request::Subscribe { filter, qos }, None).await {
            self.fail(what, reason).await;
        }
    }

    async fn unsubscribe(&self, filter: String) {
        self.shared.lock().desired.retain(|(f, _)| *f != filter);
        let what = format!("unsubscribe from {filter}");
        if let Err(reason) = self.queue(Request::Unsubscribe { filter }, None).await {
            self.fail(what, reason).await;
        }
    }

    /// Queues a request while connected, waiting for room in rumqttc's queue. Publishing needs a
    /// connection; (un)subscribing while disconnected only changes the filters the next
    /// connection subscribes to.
    async fn queue(&self, request: Request, publish_bytes: Option<usize>) -> Result<(), String> {
        loop {
            {
                let mut tracker = self.shared.lock();
                if !tracker.connected {
                    return match request {
                        Request::Publish { .. } => Err("not connected to the broker".into()),
                        _ => Ok(()),
                    };
                }
                if let Some(bytes) = publish_bytes {
                    let limit = tracker
                        .broker_max_packet_bytes
                        .map_or(PROTOCOL_MAX_PACKET_BYTES, |m| m as usize)
                        .min(PROTOCOL_MAX_PACKET_BYTES);
                    if bytes > limit {
                        return Err(format!(
                            "the message is about {bytes} bytes; the broker accepts packets up to {limit} bytes"
                        ));
                    }
                }
                if queue_locked(&self.client, &mut tracker, &request).is_ok() {
                    return Ok(());
                }
            }
            if self.shared.stopped.load(Ordering::Acquire) {
                return Err("the session has stopped".into());
            }
            // Room appears when the event loop takes a request; the timer covers a lost wake-up.
            tokio::select! {
                _ = self.shared.request_taken.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }
}

/// An upper estimate of a PUBLISH packet's size, to refuse what the broker would refuse
/// (a too-large packet makes rumqttc drop the whole connection).
fn estimate_publish_bytes(publish: &OutgoingPublish) -> usize {
    let p = &publish.properties;
    let props = 2
        + 5
        + p.content_type.as_ref().map_or(0, |s| s.len() + 3)
        + p.response_topic.as_ref().map_or(0, |s| s.len() + 3)
        + p.correlation_data.as_ref().map_or(0, |s| s.len() + 3)
        + p.user_properties
            .iter()
            .map(|(k, v)| k.len() + v.len() + 5)
            .sum::<usize>()
        + 4;
    5 + 2 + publish.topic.len() + 2 + props + publish.payload.len()
}

// ---------------------------------------------------------------------------------------------
// the event-loop task

struct EventLoopTask {
    eventloop: EventLoop,
    client: AsyncClient,
    shared: Arc<Shared>,
    events: mpsc::Sender<SessionEvent>,
    stop: watch::Receiver<bool>,
    broker: String,
    /// The id connected with now (changes after a takeover).
    client_id: String,
    /// The id from the options: fresh ids after a takeover are derived from it.
    configured_client_id: String,
    host: String,
    rng_state: u64,
    /// We pinged and nothing has arrived since (see `handle_event`).
    ping_unanswered: bool,
}

/// How a connected period ended.
enum End {
    Lost(String),
    /// The broker handed our session to another client with the same id (reason 0x8E), with
    /// the broker's reason string if it sent one.
    TakenOver(Option<String>),
    /// The broker closed the connection without a DISCONNECT saying why.
    ClosedSilently(String),
    Stopped,
    ReceiverGone,
}

/// The event receiver is gone: the session ends.
struct ReceiverGone;

impl EventLoopTask {
    async fn run(mut self, refused_at_start: Vec<(String, String)>) {
        let ended = self.run_inner(refused_at_start).await;
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.stop.send_replace(true);
        self.shared.lock().connected = false;
        if ended.is_ok() {
            let state = ConnectionState::Stopped {
                broker: self.broker.clone(),
            };
            let _ = self.emit_state(state).await;
        }
        tracing::debug!(broker = %self.broker, "observer session ended");
    }

    /// Runs until stopped (`Ok`) or until nobody listens (`Err`).
    async fn run_inner(
        &mut self,
        refused_at_start: Vec<(String, String)>,
    ) -> Result<(), ReceiverGone> {
        for (filter, reason) in refused_at_start {
            self.emit(SessionEvent::SubscribeRefused {
                at_nanos: crate::now_nanos(),
                filter,
                reason,
            })
            .await?;
        }
        let mut attempt: u32 = 0;
        let mut backoff_step: usize = 0;
        // Connections the broker closed with no reason given, in a row, each taken back at
        // once (see `End::ClosedSilently`).
        let mut silent_closes: u32 = 0;
        // The next attempt goes out without waiting (the first after a silent close).
        let mut retry_at_once = false;
        // Client ids given up since the last stable connection.
        let mut id_switches: u32 = 0;
        loop {
            attempt += 1;
            self.emit_state(ConnectionState::Connecting {
                broker: self.broker.clone(),
                attempt,
            })
            .await?;

            let reason = match self.connect().await? {
                Connect::Stopped => return Ok(()),
                Connect::Failed(reason) => {
                    // The broker is really away (restarting, unreachable): no collision.
                    silent_closes = 0;
                    reason
                }
                Connect::Connected(connack) => {
                    let accepted_at_first_try = attempt == 1;
                    attempt = 0;
                    let connected_at = Instant::now();
                    let end = self.connected(connack).await;
                    let lived = connected_at.elapsed();
                    if lived >= STABLE_CONNECTION {
                        backoff_step = 0;
                        id_switches = 0;
                    }
                    match end {
                        End::Stopped => return Ok(()),
                        End::ReceiverGone => {
                            self.disconnect_politely().await;
                            return Err(ReceiverGone);
                        }
                        End::Lost(reason) => {
                            silent_closes = 0;
                            reason
                        }
                        End::TakenOver(broker_words) => {
                            silent_closes = 0;
                            id_switches += 1;
                            let (old, fresh) = self.take_fresh_client_id();
                            let broker_words = broker_words
                                .filter(|w| !w.is_empty())
                                .map(|w| format!(" (the broker says: {w})"))
                                .unwrap_or_default();
                            format!(
                                "session taken over: another client connected with our client \
                                 id `{old}` and the broker disconnected us (reason 0x8E)\
                                 {broker_words}; reconnecting as `{fresh}` so the two clients \
                                 do not keep kicking each other off"
                            )
                        }
                        // Brokers that close the older of two connections with one client id
                        // without a DISCONNECT (mosquitto 2.0, the embedded one) look like
                        // this: closed, taken back by an immediate retry (a broker that died
                        // cannot be back that fast), closed again soon after.
                        End::ClosedSilently(reason)
                            if silent_closes > 0
                                && accepted_at_first_try
                                && lived < STABLE_CONNECTION
                                && id_switches < MAX_ID_SWITCHES =>
                        {
                            silent_closes = 0;
                            id_switches += 1;
                            let (old, fresh) = self.take_fresh_client_id();
                            format!(
                                "the broker closed our connection {} ms after taking us back, \
                                 the second time in a row, with no reason given ({reason}): \
                                 another client probably uses our client id `{old}` (a broker \
                                 closes the older of two connections with one id); \
                                 reconnecting as `{fresh}` so the two clients do not keep \
                                 kicking each other off",
                                lived.as_millis()
                            )
                        }
                        End::ClosedSilently(reason) => {
                            silent_closes = 1;
                            retry_at_once = id_switches < MAX_ID_SWITCHES;
                            reason
                        }
                    }
                }
            };

            self.connection_lost().await?;
            if *self.stop.borrow() {
                return Ok(());
            }
            let delay = if std::mem::take(&mut retry_at_once) {
                Duration::ZERO
            } else {
                backoff_step += 1;
                self.backoff(backoff_step - 1)
            };
            self.emit_state(ConnectionState::Disconnected {
                broker: self.broker.clone(),
                reason,
                retry_in_millis: Some(delay.as_millis() as u64),
            })
            .await?;
            tokio::select! {
                _ = self.stop.wait_for(|stop| *stop) => return Ok(()),
                _ = self.events.closed() => return Err(ReceiverGone),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Polls until the CONNACK (or a failure), giving way to a stop request.
    async fn connect(&mut self) -> Result<Connect, ReceiverGone> {
        loop {
            let polled = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => return Ok(Connect::Stopped),
                _ = self.events.closed() => return Err(ReceiverGone),
                polled = self.eventloop.poll() => polled,
            };
            let at_nanos = crate::now_nanos();
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                    return Ok(Connect::Connected(connack));
                }
                // Nothing else should come before the CONNACK; handle it like any event.
                Ok(event) => {
                    if let Some(End::ReceiverGone) = self.handle_event(event, at_nanos).await {
                        return Err(ReceiverGone);
                    }
                }
                Err(error) => return Ok(Connect::Failed(self.describe(&error))),
            }
        }
    }

    /// Runs a connection: resubscribes, then forwards everything until it ends.
    async fn connected(&mut self, connack: ConnAck) -> End {
        self.ping_unanswered = false;
        let info = convert::connack_info(&connack);
        let refusals = {
            let mut tracker = self.shared.lock();
            tracker.connected = true;
            tracker.broker_max_packet_bytes = info.max_packet_size;
            // Clean start: the broker kept nothing; subscribe to every filter again.
            let desired = tracker.desired.clone();
            let mut refusals = Vec::new();
            for (filter, qos) in desired {
                let request = Request::Subscribe {
                    filter: filter.clone(),
                    qos,
                };
                if queue_locked(&self.client, &mut tracker, &request).is_err() {
                    refusals.push((
                        filter,
                        "the request queue was full at reconnect".to_string(),
                    ));
                }
            }
            refusals
        };
        let client_id = info
            .assigned_client_id
            .clone()
            .unwrap_or_else(|| self.client_id.clone());
        let state = ConnectionState::Connected {
            broker: self.broker.clone(),
            client_id,
            connack: info,
        };
        if self.emit_state(state).await.is_err() {
            return End::ReceiverGone;
        }
        for (filter, reason) in refusals {
            let event = SessionEvent::SubscribeRefused {
                at_nanos: crate::now_nanos(),
                filter,
                reason,
            };
            if self.emit(event).await.is_err() {
                return End::ReceiverGone;
            }
        }

        loop {
            // An idle connection still returns from `poll` at every keep-alive ping, so a
            // dropped receiver is noticed within one keep-alive even with no traffic.
            if self.events.is_closed() {
                return End::ReceiverGone;
            }
            let polled = self.eventloop.poll().await;
            // The receive clock: stamped where the packet leaves the event loop.
            let at_nanos = crate::now_nanos();
            match polled {
                Ok(event) => {
                    if let Some(end) = self.handle_event(event, at_nanos).await {
                        return end;
                    }
                }
                Err(error) => {
                    return match session_taken_over(&error) {
                        Some(broker_words) => End::TakenOver(broker_words),
                        None if closed_without_reason(&error) => {
                            End::ClosedSilently(self.describe(&error))
                        }
                        None => End::Lost(self.describe(&error)),
                    };
                }
            }
        }
    }

    /// Another client connected with our client id and the broker gave it our session.
    /// Reconnecting with the same id would kick that client off, which (if it reconnects too)
    /// kicks us off again, forever; so the next attempt uses a fresh id. Returns the old and
    /// the fresh id.
    fn take_fresh_client_id(&mut self) -> (String, String) {
        let old = self.client_id.clone();
        let fresh = fresh_client_id(&self.configured_client_id);
        self.eventloop.options.set_client_id(fresh.clone());
        self.client_id = fresh.clone();
        *self
            .shared
            .client_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::from(fresh.as_str());
        tracing::warn!(%old, %fresh, "observer session taken over by another client");
        (old, fresh)
    }

    /// One event from rumqttc. `Some(end)` ends the connection.
    async fn handle_event(&mut self, event: Event, at_nanos: u64) -> Option<End> {
        // Any packet the broker sent after our ping proves it alive. rumqttc only counts the
        // PINGRESP, which a broker queues behind the messages it is still sending: under a
        // flood the reply can take longer than a keep-alive, and rumqttc would drop a healthy
        // connection. Events come in the order rumqttc read or wrote them, so packets read
        // before the ping (still buffered) do not count. A broker that stops answering sends
        // nothing at all, and the next ping tick still catches it.
        match event {
            Event::Outgoing(Outgoing::PingReq) => self.ping_unanswered = true,
            Event::Incoming(_) if self.ping_unanswered => {
                self.ping_unanswered = false;
                self.eventloop.state.await_pingresp = false;
            }
            _ => {}
        }
        let mut out: Vec<SessionEvent> = Vec::new();
        match event {
            Event::Incoming(Packet::Publish(publish)) => {
                let message = convert::raw_message(&publish, at_nanos);
                if self.emit(SessionEvent::Message(message)).await.is_err() {
                    return Some(End::ReceiverGone);
                }
                return None;
            }
            Event::Incoming(Packet::SubAck(suback)) => {
                let mut tracker = self.shared.lock();
                if let Some(filter) = tracker.inflight_subscribes.remove(&suback.pkid) {
                    let result = match suback.return_codes.first() {
                        Some(code) => convert::subscribe_result(code).map(|_| ()),
                        None => Err("the broker's SUBACK carried no reason code".to_string()),
                    };
                    match result {
                        Ok(()) => {
                            tracker.strikes.remove(&filter);
                        }
                        Err(mut reason) => {
                            if let Some(text) = suback
                                .properties
                                .as_ref()
                                .and_then(|p| p.reason_string.as_deref())
                            {
                                reason = format!("{reason}: {text}");
                            }
                            // Refused: asking again on every reconnect would only repeat it.
                            tracker.desired.retain(|(f, _)| *f != filter);
                            out.push(SessionEvent::SubscribeRefused {
                                at_nanos,
                                filter,
                                reason,
                            });
                        }
                    }
                }
            }
            Event::Incoming(Packet::PubAck(puback)) => {
                let pending = self.shared.lock().inflight_publishes.remove(&puback.pkid);
                if let Some(pending) = pending {
                    out.push(publish_outcome(
                        pending,
                        convert::puback_result(&puback.reason),
                        at_nanos,
                    ));
                }
            }
            Event::Incoming(Packet::PubRec(pubrec)) => {
                if let Err(reason) = convert::pubrec_result(&pubrec.reason) {
                    let pending = self.shared.lock().inflight_publishes.remove(&pubrec.pkid);
                    if let Some(pending) = pending {
                        out.push(publish_outcome(pending, Err(reason), at_nanos));
                    }
                }
            }
            Event::Incoming(Packet::PubComp(pubcomp)) => {
                let pending = self.shared.lock().inflight_publishes.remove(&pubcomp.pkid);
                if let Some(pending) = pending {
                    out.push(publish_outcome(
                        pending,
                        convert::pubcomp_result(&pubcomp.reason),
                        at_nanos,
                    ));
                }
            }
            Event::Incoming(_) => {}
            Event::Outgoing(outgoing) => {
                self.shared.request_taken.notify_one();
                let mut tracker = self.shared.lock();
                match outgoing {
                    Outgoing::Publish(pkid) => {
                        let pending = match tracker.collided.take() {
                            Some((parked, pending)) if parked == pkid => Some(pending),
                            other => {
                                tracker.collided = other;
                                tracker.queued_publishes.pop_front()
                            }
                        };
                        if let Some(pending) = pending {
                            if pending.qos == 0 {
                                out.push(publish_outcome(pending, Ok(()), at_nanos));
                            } else {
                                tracker.inflight_publishes.insert(pkid, pending);
                            }
                        }
                    }
                    Outgoing::AwaitAck(pkid) => {
                        if let Some(pending) = tracker.queued_publishes.pop_front() {
                            tracker.collided = Some((pkid, pending));
                        }
                    }
                    Outgoing::Subscribe(pkid) => {
                        if let Some(filter) = tracker.queued_subscribes.pop_front() {
                            tracker.inflight_subscribes.insert(pkid, filter);
                        }
                    }
                    Outgoing::Disconnect if *self.stop.borrow() => {
                        // Our DISCONNECT is written and flushed: done.
                        return Some(End::Stopped);
                    }
                    _ => {}
                }
            }
        }
        for event in out {
            if self.emit(event).await.is_err() {
                return Some(End::ReceiverGone);
            }
        }
        None
    }

    /// After a failure: delivers what rumqttc had already read, then fails every request that
    /// died with the connection (see the module doc) and counts strikes against filters whose
    /// SUBSCRIBE was unanswered.
    async fn connection_lost(&mut self) -> Result<(), ReceiverGone> {
        let now = crate::now_nanos();
        // Packets read in the same batch as the failure wait in rumqttc's buffer; they were
        // received, so they are delivered (and acks applied) before anything is declared lost.
        let buffered: Vec<Event> = self.eventloop.state.events.drain(..).collect();
        for event in buffered {
            if let Some(End::ReceiverGone) = self.handle_event(event, now).await {
                return Err(ReceiverGone);
            }
        }
        let mut out = Vec::new();
        {
            let mut tracker = self.shared.lock();
            tracker.connected = false;
            // rumqttc moved unsent requests into `pending` and would replay them after a
            // reconnect only for a resumed session; ours never is. Take whatever is still in
            // its queue too, under the lock, so the tracker and rumqttc agree.
            self.eventloop.clean();
            self.eventloop.pending.clear();
            let queued = std::mem::take(&mut tracker.queued_publishes);
            let parked = tracker.collided.take().map(|(_, pending)| pending);
            for pending in queued.into_iter().chain(parked) {
                out.push(publish_outcome(
                    pending,
                    Err("the connection was lost before the message was sent".into()),
                    now,
                ));
            }
            let mut inflight: Vec<(u16, PendingPublish)> =
                tracker.inflight_publishes.drain().collect();
            inflight.sort_by_key(|(pkid, _)| *pkid);
            for (_, pending) in inflight {
                out.push(publish_outcome(
                    pending,
                    Err(
                        "the connection was lost before the broker acknowledged the message".into(),
                    ),
                    now,
                ));
            }
            tracker.queued_subscribes.clear();
            let unanswered: Vec<String> = tracker
                .inflight_subscribes
                .drain()
                .map(|(_, f)| f)
                .collect();
            for filter in unanswered {
                let strikes = tracker.strikes.entry(filter.clone()).or_insert(0);
                *strikes += 1;
                if *strikes >= MAX_FILTER_STRIKES {
                    tracker.strikes.remove(&filter);
                    tracker.desired.retain(|(f, _)| *f != filter);
                    out.push(SessionEvent::SubscribeRefused {
                        at_nanos: now,
                        filter,
                        reason: format!(
                            "the broker closed the connection each time this filter was subscribed ({MAX_FILTER_STRIKES} times); not subscribing to it again"
                        ),
                    });
                }
            }
        }
        for event in out {
            self.emit(event).await?;
        }
        Ok(())
    }

    /// The event receiver is gone: send DISCONNECT (briefly) so the broker does not wait for a
    /// keep-alive to notice.
    async fn disconnect_politely(&mut self) {
        self.shared.stop.send_replace(true);
        if self.client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(DISCONNECT_GRACE, async {
            loop {
                match self.eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }

    /// The delay before the next attempt: the step's base, jittered down by up to 20 %.
    fn backoff(&mut self, step: usize) -> Duration {
        let base = BACKOFF_MILLIS[step.min(BACKOFF_MILLIS.len() - 1)];
        // xorshift64: cheap, and different per session.
        let mut x = self.rng_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng_state = x;
        let jitter = x % 201; // 0..=200 per mille
        Duration::from_millis(base - base * jitter / 1000)
    }

    fn describe(&self, error: &ConnectionError) -> String {
        describe_connection_error(error, &self.host)
    }

    // `&mut self`: the task is `Send` but not `Sync` (rumqttc's event loop), so no `&self`
    // may be held across an await.
    async fn emit(&mut self, event: SessionEvent) -> Result<(), ReceiverGone> {
        self.events.send(event).await.map_err(|_| ReceiverGone)
    }

    async fn emit_state(&mut self, state: ConnectionState) -> Result<(), ReceiverGone> {
        self.emit(SessionEvent::State {
            at_nanos: crate::now_nanos(),
            state,
        })
        .await
    }
}

enum Connect {
    Connected(ConnAck),
    Failed(String),
    Stopped,
}

fn publish_outcome(
    pending: PendingPublish,
    result: Result<(), String>,
    at_nanos: u64,
) -> SessionEvent {
    match result {
        Ok(()) => SessionEvent::Published {
            at_nanos,
            topic: pending.topic,
        },
        Err(reason) => SessionEvent::CommandFailed {
            at_nanos,
            what: format!("publish to {}", pending.topic),
            reason,
        },
    }
}

/// `Some(reason string)` when the broker closed our connection because another client
/// connected with our client id.
fn session_taken_over(error: &ConnectionError) -> Option<Option<String>> {
    match error {
        ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code: DisconnectReasonCode::SessionTakenOver,
            reason_string,
        }) => Some(reason_string.clone()),
        _ => None,
    }
}

/// The broker closed the connection (end of stream, reset) without a DISCONNECT.
fn closed_without_reason(error: &ConnectionError) -> bool {
    use std::io::ErrorKind as K;
    let closed = |io: &std::io::Error| {
        matches!(
            io.kind(),
            K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
        )
    };
    match error {
        ConnectionError::MqttState(StateError::ConnectionAborted) => true,
        ConnectionError::MqttState(StateError::Io(io)) | ConnectionError::Io(io) => closed(io),
        // A reset while reading a packet surfaces as a read error.
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::v5::mqttbytes::Error::Io(io),
        )) => closed(io),
        _ => false,
    }
}

/// `<configured>-<6 hex>`: recognisably ours, different from every id used before.
fn fresh_client_id(configured: &str) -> String {
    // Keep the id within the 128 bytes some brokers allow (the embedded one among them).
    let mut base_len = configured.len().min(100);
    while !configured.is_char_boundary(base_len) {
        base_len -= 1;
    }
    format!(
        "{}-{:06x}",
        &configured[..base_len],
        random_u64() & 0xff_ffff
    )
}

/// A connection failure in words for the status bar.
pub(crate) fn describe_connection_error(error: &ConnectionError, host: &str) -> String {
    if let Some(words) = tls::describe_tls_failure(error, host) {
        return words;
    }
    match error {
        ConnectionError::ConnectionRefused(code) => refusal_words(code),
        ConnectionError::Timeout(_) => {
            "the broker did not answer the connection attempt in time".to_string()
        }
        ConnectionError::Io(io) => describe_io(io, host),
        ConnectionError::MqttState(state) => match state {
            StateError::Io(io) => {
                tls::describe_tls_failure(io, host).unwrap_or_else(|| describe_io(io, host))
            }
            StateError::ConnectionAborted => "the broker closed the connection".to_string(),
            StateError::AwaitPingResp => {
                "the broker stopped answering (no reply to keep-alive pings)".to_string()
            }
            StateError::ServerDisconnect {
                reason_code,
                reason_string,
            } => convert::disconnect_words(*reason_code, reason_string.as_deref()),
            StateError::IncomingPacketTooLarge { pkt_size, max } => {
                format!("the broker sent a {pkt_size}-byte packet, over our limit of {max} bytes")
            }
            // TLS alerts after the handshake (TLS 1.3 reports a missing client certificate
            // this way) surface as read errors.
            StateError::Deserialization(e) => tls::describe_tls_failure(e, host)
                .unwrap_or_else(|| format!("the broker sent a packet we could not read: {e}")),
            StateError::OutgoingPacketTooLarge { pkt_size, max } => {
                format!("a {pkt_size}-byte packet exceeded the broker's limit of {max} bytes")
            }
            StateError::ConnFail { reason } => refusal_words(reason),
            other => format!("protocol error: {other}"),
        },
        ConnectionError::NotConnAck(packet) => {
            format!("the broker answered CONNECT with something else: {packet:?}")
        }
        ConnectionError::RequestsDone => "the session was closed".to_string(),
        ConnectionError::Websocket(ws) => describe_websocket(ws, host),
        ConnectionError::ResponseValidation(problem) => format!(
            "{host} accepted the WebSocket but not as MQTT ({}); is the URL's path the broker's MQTT endpoint?",
            websocket_validation_words(&problem.to_string())
        ),
        ConnectionError::InvalidUrl(problem) => {
            format!("the WebSocket URL is not usable: {problem}")
        }
        ConnectionError::WsConnect(problem) => {
            format!("the WebSocket request could not be built: {problem}")
        }
        ConnectionError::Tls(problem) => format!("TLS set-up failed: {problem}"),
    }
}

fn describe_io(io: &std::io::Error, host: &str) -> String {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::ConnectionRefused => format!("connection refused by {host} (is the broker running?)"),
        K::ConnectionReset => "the connection was reset".to_string(),
        K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            "the broker closed the connection".to_string()
        }
        K::TimedOut => format!("connecting to {host} timed out"),
        K::NotFound => format!("cannot resolve the host name {host}"),
        K::AddrNotAvailable => format!("{host} is not reachable"),
        _ => {
            let text = io.to_string();
            if text.contains("failed to lookup") || text.contains("Name or service not known") {
                format!("cannot resolve the host name {host}")
            } else {
                format!("network error: {text}")
            }
        }
    }
}

/// A WebSocket failure (rumqttc passes tungstenite's error, a crate we do not name): the
/// socket error underneath when there is one, else words from its message.
fn describe_websocket(error: &(dyn std::error::Error + 'static), host: &str) -> String {
    let mut current = error.source();
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return describe_io(io, host);
        }
        current = e.source();
    }
    let text = error.to_string();
    if let Some(status) = text.strip_prefix("HTTP error: ") {
        return match status.split_whitespace().next() {
            Some("404") => format!(
                "{host} has no WebSocket endpoint at this path (HTTP {status}); check the URL's path (the default is /mqtt)"
            ),
            Some("401" | "403") => format!(
                "{host} refused the WebSocket upgrade (HTTP {status}); the endpoint wants other credentials or headers"
            ),
            _ => format!("{host} answered the WebSocket upgrade with HTTP {status}"),
        };
    }
    if text.contains("closed") {
        return "the broker closed the connection".to_string();
    }
    if text.contains("Handshake") || text.contains("HTTP format") || text.contains("httparse") {
        return format!(
            "{host} did not answer as a WebSocket server ({text}); is this port MQTT over WebSockets? Plain MQTT ports need mqtt://"
        );
    }
    format!("WebSocket error: {text}")
}

/// rumqttc's subprotocol check in words (its own message is empty for some cases).
fn websocket_validation_words(text: &str) -> String {
    let detail = text
        .strip_prefix("Websocket response validation error:")
        .unwrap_or(text)
        .trim();
    if detail.is_empty() {
        "it did not agree to the `mqtt` subprotocol".to_string()
    } else {
        detail.to_string()
    }
}

/// A CONNACK refusal in words, with what to check for the credential refusals.
fn refusal_words(code: &rumqttc::v5::mqttbytes::v5::ConnectReturnCode) -> String {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as C;
    match code {
        C::BadUserNamePassword => {
            "the broker refused the connection: bad username or password (not authorised)"
                .to_string()
        }
        // mosquitto answers a wrong password, and missing credentials, this way.
        C::NotAuthorized => "the broker refused the connection: not authorised (check the username and password; the broker may also refuse this user or client id)".to_string(),
        _ => convert::connect_refusal_words(code),
    }
}
