//! The observer session against real brokers (embedded mqtt5 and mosquitto): properties, `$`-topics, big payloads, restarts, commands.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use meshscope::broker::EmbeddedBroker;
use meshscope::mqtt::{
    self, BrokerUrl, OutgoingPublish, SessionCommand, SessionError, SessionHandle, SessionOptions,
};
use meshscope::protocol::{ConnectionState, Properties, RawMessage, SessionEvent};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use tokio::sync::mpsc;

use crate::support::{self, Mosquitto, PlainClient, WAIT};

/// The broker under test: the same test body runs against both.
enum TestBroker {
    Embedded {
        broker: Option<EmbeddedBroker>,
        addr: SocketAddr,
    },
    Mosquitto(Mosquitto),
}

impl TestBroker {
    async fn embedded() -> TestBroker {
        let broker = support::embedded_broker().await;
        let addr = broker.local_addr();
        TestBroker::Embedded {
            broker: Some(broker),
            addr,
        }
    }

    fn port(&self) -> u16 {
        match self {
            TestBroker::Embedded { addr, .. } => addr.port(),
            TestBroker::Mosquitto(m) => m.port(),
        }
    }

    fn url(&self) -> BrokerUrl {
        BrokerUrl::new(mqtt::Transport::Tcp, "127.0.0.1", self.port())
    }

    /// mqtt5 appends `x-mqtt-client-id` to the user properties it forwards.
    fn is_embedded(&self) -> bool {
        matches!(self, TestBroker::Embedded { .. })
    }

    /// Stops the broker abruptly for its clients (mosquitto: SIGKILL).
    async fn kill(&mut self) {
        match self {
            TestBroker::Embedded { broker, .. } => {
                if let Some(broker) = broker.take() {
                    broker.shutdown().await;
                }
            }
            TestBroker::Mosquitto(m) => tokio::task::block_in_place(|| m.kill()),
        }
    }

    /// Starts the broker again on the same port; returns once it accepts connections.
    async fn restart(&mut self) {
        match self {
            TestBroker::Embedded { broker, addr } => {
                let deadline = Instant::now() + WAIT;
                loop {
                    match EmbeddedBroker::start(*addr).await {
                        Ok(started) => {
                            *broker = Some(started);
                            return;
                        }
                        Err(error) if Instant::now() > deadline => {
                            panic!("embedded broker did not restart on {addr}: {error:#}")
                        }
                        // The port can stay busy for a moment after the old listener closed.
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }
            TestBroker::Mosquitto(m) => tokio::task::block_in_place(|| m.restart()),
        }
    }

    fn log(&self) -> String {
        match self {
            TestBroker::Embedded { .. } => String::new(),
            TestBroker::Mosquitto(m) => m.log(),
        }
    }
}

fn run_embedded<F: Future<Output = ()>>(body: impl FnOnce(TestBroker) -> F) {
    support::runtime().block_on(async {
        let broker = TestBroker::embedded().await;
        body(broker).await;
    });
}

fn run_mosquitto<F: Future<Output = ()>>(body: impl FnOnce(TestBroker) -> F) {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    support::runtime().block_on(body(TestBroker::Mosquitto(mosquitto)));
}

/// Spawns an observer session on the current runtime.
fn observe(broker: &TestBroker) -> (SessionHandle, mpsc::Receiver<SessionEvent>) {
    observe_with(broker, |_| {})
}

fn observe_with(
    broker: &TestBroker,
    adjust: impl FnOnce(&mut SessionOptions),
) -> (SessionHandle, mpsc::Receiver<SessionEvent>) {
    let mut options = SessionOptions::new(broker.url());
    adjust(&mut options);
    let (events_tx, events_rx) = mpsc::channel(4096);
    let handle = mqtt::spawn(&tokio::runtime::Handle::current(), options, events_tx);
    (handle, events_rx)
}

/// Every MQTT 5 property a PUBLISH can carry: non-UTF-8 correlation data, a repeated user
/// property key, non-ASCII text.
fn full_properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(300),
        topic_alias: None,
        response_topic: Some("replies/meshscope-test/inbox".into()),
        correlation_data: Some(Bytes::from_static(&[0x00, 0xff, 0xfe, b'c', b'-', 0x80])),
        user_properties: vec![
            ("trace".into(), "first".into()),
            ("MCP-COMPONENT-TYPE".into(), "mcp-server".into()),
            ("trace".into(), "second".into()),
            ("note".into(), "héllo ✓".into()),
        ],
        subscription_identifiers: Vec::new(),
        content_type: Some("application/json; charset=utf-8".into()),
    }
}

/// Asserts `got` carries `sent` intact (the expiry may have been counted down by the broker).
fn assert_properties(broker: &TestBroker, sent: &PublishProperties, got: &RawMessage) {
    let topic = got.topic_lossy();
    let props = got.props();
    assert_eq!(
        props.payload_format_indicator, sent.payload_format_indicator,
        "{topic}"
    );
    let expiry = props
        .message_expiry_interval_secs
        .unwrap_or_else(|| panic!("{topic}: expiry lost"));
    let sent_expiry = sent.message_expiry_interval.unwrap_or(0);
    assert!(
        expiry <= sent_expiry && expiry + 30 >= sent_expiry,
        "{topic}: expiry {expiry}, sent {sent_expiry}"
    );
    assert_eq!(props.content_type, sent.content_type, "{topic}");
    assert_eq!(props.response_topic, sent.response_topic, "{topic}");
    assert_eq!(
        props.correlation_data.as_deref(),
        sent.correlation_data.as_deref(),
        "{topic}: correlation data bytes"
    );
    let mut user_properties = props.user_properties.clone();
    if broker.is_embedded() {
        // Added by the mqtt5 broker, at the end.
        assert_eq!(
            user_properties.last().map(|(k, _)| k.as_str()),
            Some("x-mqtt-client-id"),
            "{topic}"
        );
        user_properties.retain(|(k, _)| k != "x-mqtt-client-id");
    }
    assert_eq!(
        user_properties, sent.user_properties,
        "{topic}: user properties in order"
    );
}

fn is_state(event: &SessionEvent, pred: impl Fn(&ConnectionState) -> bool) -> bool {
    matches!(event, SessionEvent::State { state, .. } if pred(state))
}

async fn wait_stopped(events: &mut mpsc::Receiver<SessionEvent>) {
    let stopped = support::next_matching(events, WAIT, |e| {
        is_state(e, |s| matches!(s, ConnectionState::Stopped { .. }))
    })
    .await;
    assert!(stopped.is_some(), "the session should report Stopped");
}

// ---------------------------------------------------------------------------------------------
// retained and live messages, every property, `$`-topics, 5 MB

async fn observes_everything(broker: TestBroker) {
    let prefix = support::unique("observe");
    let mut publisher = PlainClient::connect(broker.port(), &support::unique("pub")).await;
    let props = full_properties();

    // Retained before the observer exists: replayed at subscribe time, RETAIN set.
    let retained_topic = format!("{prefix}/card");
    let a2a_topic = format!("$a2a/v1/discovery/{prefix}/agent-1");
    publisher
        .publish(
            &retained_topic,
            "{\"retained\":true}",
            QoS::AtLeastOnce,
            true,
            Some(props.clone()),
        )
        .await;
    publisher
        .publish(
            &a2a_topic,
            "{\"name\":\"agent-1\"}",
            QoS::AtLeastOnce,
            true,
            Some(props.clone()),
        )
        .await;

    let (session, mut events) = observe(&broker);
    let connack = support::wait_connected(&mut events, WAIT)
        .await
        .expect("the session connects");
    assert!(!connack.session_present, "clean start");

    let retained = support::next_on_topic(&mut events, WAIT, &retained_topic)
        .await
        .expect("the retained message is replayed");
    assert!(retained.retain, "replayed retained messages keep RETAIN");
    assert_eq!(&*retained.payload, b"{\"retained\":true}");
    assert_properties(&broker, &props, &retained);

    let a2a = support::next_on_topic(&mut events, WAIT, &a2a_topic)
        .await
        .expect("a retained `$a2a/...` message is replayed (`$a2a/#` subscribed)");
    assert!(a2a.retain);
    assert_properties(&broker, &props, &a2a);

    // Live: both subscriptions are in place now.
    let live_topic = format!("{prefix}/live");
    publisher
        .publish(
            &live_topic,
            "live",
            QoS::AtLeastOnce,
            false,
            Some(props.clone()),
        )
        .await;
    let live = support::next_on_topic(&mut events, WAIT, &live_topic)
        .await
        .expect("a live message arrives");
    assert!(!live.retain);
    assert_eq!(live.qos, 1);
    assert_properties(&broker, &props, &live);
    assert!(live.received_at_nanos >= retained.received_at_nanos);

    // Retain-As-Published: a live retained publish keeps RETAIN for the observer.
    let live_retained_topic = format!("{prefix}/presence");
    publisher
        .publish(&live_retained_topic, "online", QoS::AtMostOnce, true, None)
        .await;
    let live_retained = support::next_on_topic(&mut events, WAIT, &live_retained_topic)
        .await
        .expect("a live retained message arrives");
    assert!(
        live_retained.retain,
        "Retain-As-Published keeps RETAIN on live forwards"
    );
    if !broker.is_embedded() {
        assert!(
            live_retained.properties.is_none(),
            "no properties means None"
        );
    }

    // Every `$`-root the dialects use is subscribed.
    for root in [
        "$mcp-server",
        "$mcp-client",
        "$mcp-rpc",
        "$mcp-rpc-endpoint",
        "$a2a",
    ] {
        let topic = format!("{root}/{prefix}/x");
        publisher
            .publish(
                &topic,
                root.as_bytes().to_vec(),
                QoS::ExactlyOnce,
                false,
                None,
            )
            .await;
        let got = support::next_on_topic(&mut events, WAIT, &topic)
            .await
            .unwrap_or_else(|| panic!("{topic} arrives"));
        assert_eq!(&*got.payload, root.as_bytes());
        assert_eq!(got.qos, 2);
    }

    // Zero-length retained = delete: live subscribers still get the empty message.
    publisher
        .publish(&retained_topic, Vec::new(), QoS::AtLeastOnce, true, None)
        .await;
    let cleared = support::next_on_topic(&mut events, WAIT, &retained_topic)
        .await
        .expect("the clearing message arrives");
    assert!(cleared.payload.is_empty());

    // A 5 MB payload (far over rumqttc's 10 KiB default limit).
    let big: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let big_topic = format!("{prefix}/big");
    publisher
        .publish(&big_topic, big.clone(), QoS::AtLeastOnce, false, None)
        .await;
    let got = support::next_on_topic(&mut events, WAIT, &big_topic)
        .await
        .expect("the 5 MB message arrives");
    assert_eq!(got.payload.len(), big.len());
    assert!(got.payload[..] == big[..], "5 MB payload intact");

    session
        .send(SessionCommand::Disconnect)
        .await
        .expect("disconnect");
    wait_stopped(&mut events).await;
    publisher.disconnect().await;
}

#[test]
fn observes_retained_live_dollar_and_big_messages_embedded() {
    run_embedded(observes_everything);
}

#[test]
fn observes_retained_live_dollar_and_big_messages_mosquitto() {
    run_mosquitto(observes_everything);
}

// ---------------------------------------------------------------------------------------------
// broker killed and restarted on the same port

async fn reconnects_after_restart(mut broker: TestBroker) {
    let prefix = support::unique("restart");
    let (session, mut events) = observe(&broker);
    support::wait_connected(&mut events, WAIT)
        .await
        .expect("the session connects");

    // Subscribed: a retained marker published now is seen (live or replayed).
    {
        let mut publisher = PlainClient::connect(broker.port(), &support::unique("pub")).await;
        let before = format!("{prefix}/before");
        publisher
            .publish(&before, "1", QoS::AtLeastOnce, true, None)
            .await;
        support::next_on_topic(&mut events, WAIT, &before)
            .await
            .expect("message before the restart");
        publisher.disconnect().await;
    }

    broker.kill().await;
    let lost = support::next_matching(&mut events, WAIT, |e| {
        is_state(e, |s| matches!(s, ConnectionState::Disconnected { .. }))
    })
    .await
    .expect("the session reports the lost connection");
    if let SessionEvent::State {
        state:
            ConnectionState::Disconnected {
                reason,
                retry_in_millis,
                ..
            },
        ..
    } = &lost
    {
        assert!(!reason.is_empty());
        let retry = retry_in_millis.expect("it retries");
        assert!(retry <= 1000, "backoff is capped at 1 s: {retry}");
    }

    // While the broker is gone, a publish fails with a reason instead of vanishing.
    session
        .try_send(SessionCommand::Publish(OutgoingPublish {
            topic: format!("{prefix}/while-down"),
            payload: b"x".to_vec(),
            ..OutgoingPublish::default()
        }))
        .expect("queue the publish");
    let failed = support::next_matching(
        &mut events,
        WAIT,
        |e| matches!(e, SessionEvent::CommandFailed { what, .. } if what.contains("while-down")),
    )
    .await;
    assert!(
        failed.is_some(),
        "a publish while disconnected is reported as failed"
    );

    // Let a few retries fail, so the backoff has grown before the broker returns.
    let mut states: Vec<ConnectionState> = Vec::new();
    while states
        .iter()
        .filter(|s| matches!(s, ConnectionState::Disconnected { .. }))
        .count()
        < 4
    {
        match support::next_matching(&mut events, WAIT, |e| {
            matches!(e, SessionEvent::State { .. })
        })
        .await
        {
            Some(SessionEvent::State { state, .. }) => states.push(state),
            _ => panic!("no retries while the broker is down; states so far: {states:?}"),
        }
    }

    broker.restart().await;
    let back_at = Instant::now();

    // Published after the restart, retained: the observer gets it as soon as it has
    // resubscribed (replayed) or, if it already has, live.
    let after = format!("{prefix}/after");
    let mut publisher = PlainClient::connect(broker.port(), &support::unique("pub")).await;
    publisher
        .publish(&after, "2", QoS::AtLeastOnce, true, None)
        .await;
    let mut seen_after = None;
    let deadline = Duration::from_secs(10);
    while seen_after.is_none() {
        match support::next_matching(&mut events, deadline, |_| true).await {
            Some(SessionEvent::State { state, .. }) => states.push(state),
            Some(SessionEvent::Message(m)) if &*m.topic == after.as_bytes() => {
                seen_after = Some(back_at.elapsed())
            }
            Some(_) => {}
            None => panic!(
                "no message after the restart; states: {states:?}\nbroker log:\n{}",
                broker.log()
            ),
        }
    }
    let resubscribed_after = seen_after.unwrap_or_default();
    println!(
        "reconnected and resubscribed {} ms after the broker returned",
        resubscribed_after.as_millis()
    );
    assert!(
        resubscribed_after < Duration::from_secs(2),
        "resubscribed {resubscribed_after:?} after the broker returned (budget 2 s)"
    );
    let first_lost = states
        .iter()
        .position(|s| matches!(s, ConnectionState::Disconnected { .. }));
    let connected_again = states
        .iter()
        .rposition(|s| matches!(s, ConnectionState::Connected { .. }));
    assert!(
        matches!((first_lost, connected_again), (Some(l), Some(c)) if l < c),
        "states show Disconnected then Connected: {states:?}"
    );
    assert!(
        states
            .iter()
            .any(|s| matches!(s, ConnectionState::Connecting { attempt, .. } if *attempt > 1)),
        "attempts are counted: {states:?}"
    );

    session
        .send(SessionCommand::Disconnect)
        .await
        .expect("disconnect");
    wait_stopped(&mut events).await;
    publisher.disconnect().await;
}

#[test]
fn reconnects_and_resubscribes_after_restart_embedded() {
    run_embedded(reconnects_after_restart);
}

#[test]
fn reconnects_and_resubscribes_after_restart_mosquitto() {
    run_mosquitto(reconnects_after_restart);
}

// ---------------------------------------------------------------------------------------------
// commands: publish with properties, subscribe refusals, unsubscribe, disconnect

/// `refused_filter` is one the broker refuses: in its SUBACK, or by dropping the connection
/// each time it is asked (then the session gives the filter up after a few tries).
async fn carries_out_commands(broker: TestBroker, refused_filter: String) {
    let prefix = support::unique("cmd");
    let mut subscriber = PlainClient::connect(broker.port(), &support::unique("sub")).await;
    subscriber.subscribe(&format!("{prefix}/#")).await;

    let (session, mut events) = observe(&broker);
    support::wait_connected(&mut events, WAIT)
        .await
        .expect("the session connects");

    // Publish with every property, at each QoS: the plain subscriber receives it intact and
    // the session reports it as published.
    let properties = Properties {
        payload_format_indicator: Some(1),
        message_expiry_interval_secs: Some(120),
        content_type: Some("application/json".into()),
        response_topic: Some(format!("{prefix}/reply")),
        correlation_data: Some(vec![0xde, 0xad, 0x00, 0xbe, 0xef]),
        user_properties: vec![
            ("k".into(), "1".into()),
            ("z".into(), "last?".into()),
            ("k".into(), "2".into()),
        ],
        subscription_identifiers: Vec::new(),
    };
    for qos in [0u8, 1, 2] {
        let topic = format!("{prefix}/request/qos{qos}");
        session
            .try_send(SessionCommand::Publish(OutgoingPublish {
                topic: topic.clone(),
                payload: format!("{{\"qos\":{qos}}}").into_bytes(),
                qos,
                retain: false,
                properties: properties.clone(),
            }))
            .expect("queue publish");
        // The observer sees its own publish too (No Local is off); that may come before or
        // after the acknowledgement.
        let (mut published, mut echoed) = (false, false);
        while !(published && echoed) {
            match support::next_matching(&mut events, WAIT, |_| true).await {
                Some(SessionEvent::Published { topic: t, .. }) if t == topic => published = true,
                Some(SessionEvent::Message(m)) if &*m.topic == topic.as_bytes() => echoed = true,
                Some(SessionEvent::CommandFailed { what, reason, .. }) => {
                    panic!("QoS {qos}: {what} failed: {reason}")
                }
                Some(_) => {}
                None => panic!("QoS {qos}: published {published}, echoed {echoed}"),
            }
        }
        let got = subscriber
            .next_on_topic(WAIT, &topic)
            .await
            .unwrap_or_else(|| panic!("the subscriber gets {topic}"));
        assert_eq!(&got.payload[..], format!("{{\"qos\":{qos}}}").as_bytes());
        let props = got.properties.expect("properties");
        assert_eq!(props.payload_format_indicator, Some(1));
        assert!(
            props
                .message_expiry_interval
                .is_some_and(|s| s <= 120 && s > 90)
        );
        assert_eq!(props.content_type.as_deref(), Some("application/json"));
        assert_eq!(props.response_topic, properties.response_topic);
        assert_eq!(
            props.correlation_data.as_deref(),
            Some(&[0xde, 0xad, 0x00, 0xbe, 0xef][..])
        );
        let mut user = props.user_properties.clone();
        user.retain(|(k, _)| k != "x-mqtt-client-id");
        assert_eq!(user, properties.user_properties);
    }

    // A bad publish is reported, and the session carries on.
    session
        .try_send(SessionCommand::Publish(OutgoingPublish {
            topic: format!("{prefix}/+/wild"),
            ..OutgoingPublish::default()
        }))
        .expect("queue");
    let failed = support::next_matching(&mut events, WAIT, |e| {
        matches!(e, SessionEvent::CommandFailed { .. })
    })
    .await;
    assert!(
        matches!(&failed, Some(SessionEvent::CommandFailed { reason, .. }) if reason.contains("wildcard")),
        "{failed:?}"
    );

    // Malformed and shared filters are refused with a reason; not fatal.
    for bad in ["a/#/b", "$share/group/a/#"] {
        session
            .try_send(SessionCommand::Subscribe {
                filter: bad.into(),
                qos: 1,
            })
            .expect("queue");
        let refused = support::next_matching(
            &mut events,
            WAIT,
            |e| matches!(e, SessionEvent::SubscribeRefused { filter, .. } if filter == bad),
        )
        .await;
        assert!(refused.is_some(), "{bad} is refused");
    }

    // A filter the broker refuses (set up per broker).
    let forbidden = refused_filter;
    session
        .try_send(SessionCommand::Subscribe {
            filter: forbidden.clone(),
            qos: 1,
        })
        .expect("queue");
    let refused = support::next_matching(
        &mut events,
        WAIT,
        |e| matches!(e, SessionEvent::SubscribeRefused { filter, .. } if *filter == forbidden),
    )
    .await;
    match &refused {
        Some(SessionEvent::SubscribeRefused { reason, .. }) => {
            assert!(reason.contains("broker"), "the broker refused it: {reason}")
        }
        other => panic!("the broker's refusal is reported: {other:?}"),
    }

    // Still (or again) connected and observing after the refusals, and staying so. Retained,
    // so it arrives even if the session is still reconnecting.
    let probe = format!("{prefix}/still-here");
    subscriber
        .publish(&probe, "ok", QoS::AtLeastOnce, true, None)
        .await;
    support::next_on_topic(&mut events, WAIT, &probe)
        .await
        .expect("the session still observes after refusals");
    let later = support::drain_for(&mut events, Duration::from_millis(300)).await;
    assert!(
        !later
            .iter()
            .any(|e| is_state(e, |s| !matches!(s, ConnectionState::Connected { .. }))),
        "the session stays connected once the refused filter is dropped: {later:?}"
    );

    // Disconnect: Stopped, and the handle refuses further commands.
    session
        .send(SessionCommand::Disconnect)
        .await
        .expect("disconnect");
    wait_stopped(&mut events).await;
    let deadline = Instant::now() + WAIT;
    while !session.is_stopped() && Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        session.try_send(SessionCommand::Unsubscribe { filter: "#".into() }),
        Err(SessionError::Stopped)
    );
    subscriber.disconnect().await;
}

#[test]
fn carries_out_commands_embedded() {
    support::runtime().block_on(async {
        // Quota: the six observer filters fit, a seventh is refused in the SUBACK.
        let broker = EmbeddedBroker::start_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), |c| {
            c.with_max_subscriptions_per_client(mqtt::OBSERVER_FILTERS.len())
        })
        .await
        .expect("start the embedded broker");
        let addr = broker.local_addr();
        let broker = TestBroker::Embedded {
            broker: Some(broker),
            addr,
        };
        carries_out_commands(broker, "meshscope-over-quota/#".into()).await;
    });
}

#[test]
fn carries_out_commands_mosquitto() {
    // mosquitto grants every filter in its SUBACK (ACLs only filter deliveries), but it drops
    // the connection of a client subscribing to more than 200 levels.
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let deep = format!("{}#", "deep/".repeat(250));
    support::runtime().block_on(carries_out_commands(TestBroker::Mosquitto(mosquitto), deep));
}

// ---------------------------------------------------------------------------------------------
// settings that cannot work stop the session with a reason

#[test]
fn unusable_settings_stop_with_a_reason() {
    support::runtime().block_on(async {
        let mut options = SessionOptions::new("mqtts://127.0.0.1:1".parse().expect("url"));
        options.ca_file = Some("/nonexistent/meshscope-ca.pem".into());
        let (tx, mut events) = mpsc::channel(16);
        let session = mqtt::spawn(&tokio::runtime::Handle::current(), options, tx);
        let first = support::next_matching(&mut events, WAIT, |_| true).await;
        assert!(
            matches!(&first, Some(SessionEvent::State { state: ConnectionState::Disconnected { reason, retry_in_millis: None, .. }, .. }) if reason.contains("CA file")),
            "{first:?}"
        );
        wait_stopped(&mut events).await;
        assert!(session.is_stopped());
    });
}

#[test]
fn an_unreachable_broker_is_retried_with_backoff() {
    support::runtime().block_on(async {
        // Nothing listens on this port.
        let (_guard, port) = support::refused_port();
        let url = BrokerUrl::new(mqtt::Transport::Tcp, "127.0.0.1", port);
        let (tx, mut events) = mpsc::channel(64);
        let session = mqtt::spawn(
            &tokio::runtime::Handle::current(),
            SessionOptions::new(url),
            tx,
        );
        let mut retries = Vec::new();
        while retries.len() < 4 {
            match support::next_matching(&mut events, WAIT, |e| {
                is_state(e, |s| matches!(s, ConnectionState::Disconnected { .. }))
            })
            .await
            {
                Some(SessionEvent::State {
                    state:
                        ConnectionState::Disconnected {
                            reason,
                            retry_in_millis,
                            ..
                        },
                    ..
                }) => {
                    assert!(reason.contains("refused"), "{reason}");
                    retries.push(retry_in_millis.expect("retrying"));
                }
                other => panic!("expected retries, got {other:?}"),
            }
        }
        // 100, 200, 400, 800 ms, each jittered down by at most 20 %.
        for (retry, base) in retries.iter().zip([100u64, 200, 400, 800]) {
            assert!(*retry <= base && *retry >= base * 8 / 10, "{retries:?}");
        }
        session
            .send(SessionCommand::Disconnect)
            .await
            .expect("stop");
        wait_stopped(&mut events).await;
    });
}

// ---------------------------------------------------------------------------------------------
// 64 MB, and the session's life ending from either side

async fn carries_a_64_mb_message(broker: TestBroker) {
    let topic = format!("{}/huge", support::unique("huge"));
    let (session, mut events) = observe(&broker);
    support::wait_connected(&mut events, WAIT)
        .await
        .expect("the session connects");
    let mut publisher = PlainClient::connect(broker.port(), &support::unique("pub")).await;
    // Retained: it reaches the observer whether or not its subscriptions are done yet.
    let huge: Vec<u8> = (0..64 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    publisher
        .publish(&topic, huge.clone(), QoS::AtLeastOnce, true, None)
        .await;
    let got = support::next_on_topic(&mut events, Duration::from_secs(60), &topic)
        .await
        .expect("the 64 MB message arrives");
    assert_eq!(got.payload.len(), huge.len());
    assert!(got.payload[..] == huge[..], "64 MB payload intact");
    session
        .send(SessionCommand::Disconnect)
        .await
        .expect("disconnect");
    wait_stopped(&mut events).await;
    publisher.disconnect().await;
}

#[test]
fn carries_a_64_mb_message_embedded() {
    run_embedded(carries_a_64_mb_message);
}

#[test]
fn carries_a_64_mb_message_mosquitto() {
    run_mosquitto(carries_a_64_mb_message);
}

#[test]
fn dropping_the_event_receiver_or_every_handle_ends_the_session() {
    run_embedded(|broker| async move {
        // The receiver goes away: the session notices at its next event and ends.
        let (session, mut events) = observe(&broker);
        support::wait_connected(&mut events, WAIT)
            .await
            .expect("the session connects");
        drop(events);
        let mut publisher = PlainClient::connect(broker.port(), &support::unique("pub")).await;
        let deadline = Instant::now() + WAIT;
        while !session.is_stopped() {
            assert!(Instant::now() < deadline, "the session did not end");
            // Traffic wakes the session so it notices; polled with a deadline.
            publisher
                .publish("meshscope/wake", "x", QoS::AtMostOnce, false, None)
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            session.try_send(SessionCommand::Disconnect),
            Err(SessionError::Stopped)
        );

        // Every handle dropped: the session disconnects and says so.
        let (session, mut events) = observe(&broker);
        support::wait_connected(&mut events, WAIT)
            .await
            .expect("the session connects");
        drop(session);
        wait_stopped(&mut events).await;
        publisher.disconnect().await;
    });
}

// ---------------------------------------------------------------------------------------------
// TLS: server verified against a CA file, mutual TLS with a client certificate

#[test]
fn tls_with_a_ca_file_and_a_client_certificate_mosquitto() {
    let Some(pki) = support::test_pki() else {
        return;
    };
    let Some(mosquitto) = support::mosquitto_with(&pki.mosquitto_conf(true), &[]) else {
        return;
    };
    let port = mosquitto.port();
    support::runtime().block_on(async {
        let url: BrokerUrl = format!("mqtts://127.0.0.1:{port}").parse().expect("url");
        let spawn = |adjust: &dyn Fn(&mut SessionOptions)| {
            let mut options = SessionOptions::new(url.clone());
            adjust(&mut options);
            let (tx, rx) = mpsc::channel(256);
            (mqtt::spawn(&tokio::runtime::Handle::current(), options, tx), rx)
        };

        // The right CA and a client certificate: connected, observing.
        let (session, mut events) = spawn(&|o| {
            o.ca_file = Some(pki.ca_cert.clone());
            o.client_cert = Some(pki.client_cert.clone());
            o.client_key = Some(pki.client_key.clone());
        });
        support::wait_connected(&mut events, WAIT)
            .await
            .unwrap_or_else(|| panic!("TLS session connects; log:\n{}", mosquitto.log()));
        session
            .send(SessionCommand::Publish(OutgoingPublish {
                topic: "meshscope/tls/hello".into(),
                payload: b"over TLS".to_vec(),
                qos: 1,
                ..OutgoingPublish::default()
            }))
            .await
            .expect("publish");
        let echoed = support::next_on_topic(&mut events, WAIT, "meshscope/tls/hello")
            .await
            .expect("the observer sees its own publish over TLS");
        assert_eq!(&*echoed.payload, b"over TLS");
        session
            .send(SessionCommand::Disconnect)
            .await
            .expect("stop");
        wait_stopped(&mut events).await;

        // The system roots do not know the test CA: refused, in words.
        let (session, mut events) = spawn(&|o| {
            o.client_cert = Some(pki.client_cert.clone());
            o.client_key = Some(pki.client_key.clone());
        });
        let lost = support::next_matching(&mut events, WAIT, |e| {
            is_state(e, |s| matches!(s, ConnectionState::Disconnected { .. }))
        })
        .await;
        assert!(
            matches!(&lost, Some(SessionEvent::State { state: ConnectionState::Disconnected { reason, .. }, .. }) if reason.contains("unknown CA")),
            "{lost:?}"
        );
        session
            .send(SessionCommand::Disconnect)
            .await
            .expect("stop");
        wait_stopped(&mut events).await;

        // The right CA but no client certificate: the server ends the handshake.
        let (session, mut events) = spawn(&|o| o.ca_file = Some(pki.ca_cert.clone()));
        let lost = support::next_matching(&mut events, WAIT, |e| {
            is_state(e, |s| matches!(s, ConnectionState::Disconnected { .. }))
        })
        .await;
        assert!(
            matches!(&lost, Some(SessionEvent::State { state: ConnectionState::Disconnected { reason, .. }, .. }) if reason.contains("requires a client certificate")),
            "{lost:?}"
        );
        session
            .send(SessionCommand::Disconnect)
            .await
            .expect("stop");
        wait_stopped(&mut events).await;
    });
}
