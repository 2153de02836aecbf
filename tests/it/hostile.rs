//! Hostile and broken input through real brokers (and a misbehaving one) into the real session, ingest and model: every case ends as a stored message with a note, never a panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use meshscope::model::{Model, ModelConfig, StoredMessage};
use meshscope::protocol::{ConnectionState, Dialect};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Connect, ConnectReturnCode, Disconnect, DisconnectProperties, DisconnectReasonCode,
    Packet, PingResp, Publish, PublishProperties, SubAck, SubscribeReasonCode,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, watch};

use crate::faults::{Observer, is_connected, is_disconnected, stored_on};
use crate::support::{self, PlainClient, WAIT};

/// An MQTT 5 client on a bare socket: writes whatever bytes a packet holds (a non-UTF-8 topic
/// too), which no well-behaved client library would send.
pub struct RawClient {
    stream: TcpStream,
    read_buf: BytesMut,
}

impl RawClient {
    /// Connects (clean start) and waits for the CONNACK; panics if the broker refuses.
    pub async fn connect(port: u16, client_id: &str) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect the raw client");
        stream.set_nodelay(true).expect("nodelay");
        let mut client = RawClient {
            stream,
            read_buf: BytesMut::with_capacity(4096),
        };
        let connect = Connect {
            keep_alive: 60,
            client_id: client_id.to_string(),
            clean_start: true,
            properties: None,
        };
        client
            .send(&Packet::Connect(connect, None, None))
            .await
            .expect("send CONNECT");
        match client.read_packet(WAIT).await {
            Some(Packet::ConnAck(_)) => client,
            other => panic!("raw client {client_id}: expected CONNACK, got {other:?}"),
        }
    }

    pub async fn send(&mut self, packet: &Packet) -> std::io::Result<()> {
        self.send_bytes(&encode(packet)).await
    }

    /// Writes bytes as they are (for packets the codec would refuse to build).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// A QoS 0 PUBLISH with a topic given as bytes.
    pub async fn publish(
        &mut self,
        topic: &[u8],
        payload: impl Into<Bytes>,
        properties: Option<PublishProperties>,
    ) -> std::io::Result<()> {
        self.send(&Packet::Publish(publish_packet(topic, payload, properties)))
            .await
    }

    /// The next packet within `deadline`; `None` on timeout or when the peer closed the socket.
    pub async fn read_packet(&mut self, deadline: Duration) -> Option<Packet> {
        read_packet(&mut self.stream, &mut self.read_buf, deadline).await
    }
}

fn encode(packet: &Packet) -> BytesMut {
    let mut out = BytesMut::new();
    packet.write(&mut out, None).expect("encode a packet");
    out
}

fn publish_packet(
    topic: &[u8],
    payload: impl Into<Bytes>,
    properties: Option<PublishProperties>,
) -> Publish {
    Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Bytes::copy_from_slice(topic),
        pkid: 0,
        payload: payload.into(),
        properties,
    }
}

async fn read_packet(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    deadline: Duration,
) -> Option<Packet> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if !buf.is_empty()
            && let Ok(packet) = Packet::read(buf, None)
        {
            return Some(packet);
        }
        match tokio::time::timeout_at(until, stream.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
}

fn props(f: impl FnOnce(&mut PublishProperties)) -> Option<PublishProperties> {
    let mut p = PublishProperties::default();
    f(&mut p);
    Some(p)
}

/// The stored message on exactly `topic` (the newest).
fn stored<'m>(model: &'m Model, topic: &[u8]) -> Option<&'m StoredMessage> {
    model.store.iter().rev().find(|m| &*m.raw.topic == topic)
}

fn note_of(model: &Model, topic: &[u8]) -> String {
    stored(model, topic)
        .and_then(|m| m.tag.note.as_deref())
        .unwrap_or("(no note)")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// hostile payloads and properties through real brokers

/// One hostile message and what the raw view must say about it.
struct Case {
    what: &'static str,
    topic: String,
    payload: Vec<u8>,
    properties: Option<PublishProperties>,
    /// Every one of these is in the stored message's note.
    note_contains: Vec<&'static str>,
}

fn case(
    what: &'static str,
    topic: String,
    payload: impl Into<Vec<u8>>,
    properties: Option<PublishProperties>,
    note_contains: &[&'static str],
) -> Case {
    Case {
        what,
        topic,
        payload: payload.into(),
        properties,
        note_contains: note_contains.to_vec(),
    }
}

/// The cases a real broker forwards. `ns` is a unique MQTT.Agent namespace, `p` a unique prefix.
fn hostile_cases(ns: &str, p: &str) -> Vec<Case> {
    let big = meshscope::protocol::json::MAX_DECODE_BYTES + 1;
    let mut big_json = vec![b' '; big];
    big_json[0] = b'{';
    big_json[big - 1] = b'}';
    let thousands: Vec<(String, String)> = (0..5_000)
        .map(|i| (format!("k{}", i % 10), format!("value {i}")))
        .collect();
    vec![
        case(
            "invalid UTF-8 payload on a dialect topic",
            format!("{ns}/mcp/tools/echo/call"),
            b"{\"call_id\":\"c\xff\xfe\"}".to_vec(),
            None,
            &["payload is not UTF-8"],
        ),
        case(
            "payload declared UTF-8 that is not",
            format!("{p}/declared-text"),
            b"caf\xc3 au lait".to_vec(),
            props(|x| x.payload_format_indicator = Some(1)),
            &["declared UTF-8 (Payload Format Indicator 1) but is not valid UTF-8"],
        ),
        case(
            "16 MB payload",
            format!("{ns}/mcp/tools/big/call"),
            big_json,
            None,
            &["over the decode limit of 16777216 bytes"],
        ),
        case(
            "JSON nested 100 000 levels (arrays)",
            format!("{ns}/mcp/tools/deep/call"),
            format!(
                "{{\"call_id\":\"d\",\"arguments\":{}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            None,
            &["JSON nested deeper than 64 levels"],
        ),
        case(
            "JSON nested 100 000 levels (objects, JSON-RPC)",
            format!("$a2a/v1/request/{p}/unit/deep"),
            format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)),
            props(|x| {
                x.response_topic = Some(format!("$a2a/v1/reply/{p}/unit/me/x"));
                x.correlation_data = Some(Bytes::from_static(b"deep"));
            }),
            &["JSON nested deeper than 64 levels"],
        ),
        case(
            "5 000 user properties",
            format!("{p}/props"),
            "x",
            props(|x| x.user_properties = thousands),
            &["user properties (unusually many)"],
        ),
        case(
            "server card with wrong field types",
            format!("{ns}/mcp/servers/srv/card"),
            r#"{"version":"1","server":"srv","tools":5}"#,
            None,
            &["tools"],
        ),
        case(
            "agent status with a wrong type",
            format!("{ns}/agents/agent-b/status"),
            r#"{"status":true}"#,
            None,
            &["status"],
        ),
        case(
            "EMQX A2A card that is an array",
            format!("$a2a/v1/discovery/{p}/unit/agent"),
            "[1,2,3]",
            None,
            &["expected a JSON object"],
        ),
        case(
            "response for a call nobody made",
            format!("{ns}/mcp/clients/scout/responses"),
            r#"{"call_id":"call_nobody","status":"ok","result":{}}"#,
            None,
            &["orphan response (request not seen)"],
        ),
        case(
            "reply with Correlation Data nobody asked for",
            format!("{p}/rpc/reply"),
            "42",
            props(|x| x.correlation_data = Some(Bytes::from_static(b"nobody-asked"))),
            &["orphan response (request not seen)"],
        ),
        case(
            "a request",
            format!("{p}/rpc/request"),
            "[1, 2]",
            props(|x| {
                x.response_topic = Some(format!("{p}/rpc/reply"));
                x.correlation_data = Some(Bytes::from_static(b"dup-key"));
            }),
            &[],
        ),
        case(
            "another request with the same correlation key while the first waits",
            format!("{p}/rpc/request2"),
            "[3, 4]",
            props(|x| {
                x.response_topic = Some(format!("{p}/rpc/reply"));
                x.correlation_data = Some(Bytes::from_static(b"dup-key"));
            }),
            &["reused while trace #"],
        ),
    ]
}

async fn hostile_payloads_end_as_noted_messages(port: u16, broker: &str) {
    let observer = Observer::start(port, ModelConfig::default(), |_| {});
    assert!(observer.wait_for(WAIT, is_connected).await);
    let p = support::unique("hostile");
    let ns = format!("{p}/ns");
    let mut publisher = PlainClient::connect(port, &support::unique("pub")).await;
    // Subscribed: a retained probe comes back.
    let probe = format!("{p}/probe");
    publisher
        .publish(&probe, "probe", QoS::AtLeastOnce, true, None)
        .await;
    assert!(observer.wait_for(WAIT, |m| stored_on(m, &probe)).await);

    let cases = hostile_cases(&ns, &p);
    let mut report = Vec::new();
    for case in &cases {
        let started = Instant::now();
        publisher
            .publish(
                &case.topic,
                case.payload.clone(),
                QoS::AtLeastOnce,
                false,
                case.properties.clone(),
            )
            .await;
        let seen = observer
            .wait_for(Duration::from_secs(30), |m| stored_on(m, &case.topic))
            .await;
        assert!(seen, "{broker}: {} never reached the model", case.what);
        let model = observer.model.lock();
        let note = note_of(&model, case.topic.as_bytes());
        for expected in &case.note_contains {
            assert!(
                note.contains(expected),
                "{broker}: {}: note {note:?} lacks {expected:?}",
                case.what
            );
        }
        let message = stored(&model, case.topic.as_bytes()).expect("stored");
        assert_eq!(
            message.raw.payload.len(),
            case.payload.len(),
            "{broker}: {}: the payload is kept whole",
            case.what
        );
        report.push(format!(
            "{} ({} B, {} ms): {}",
            case.what,
            case.payload.len(),
            started.elapsed().as_millis(),
            note
        ));
    }
    // The user properties arrived, all of them (the embedded broker adds its own).
    {
        let model = observer.model.lock();
        let many = stored(&model, format!("{p}/props").as_bytes()).expect("stored");
        assert!(many.raw.props().user_properties.len() >= 5_000);
        // Still connected, nothing dropped, the session never restarted.
        assert!(is_connected(&model), "{:?}", model.session.current());
        assert_eq!(model.session.gaps().len(), 0);
        assert_eq!(model.messages_dropped, 0);
    }
    println!("hostile input via {broker}:\n  {}", report.join("\n  "));
    publisher.disconnect().await;
}

#[test]
fn hostile_payloads_through_mosquitto_end_as_noted_messages() {
    // mosquitto's default message_size_limit (0: the protocol's 256 MB) takes the 16 MB payload.
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    support::runtime().block_on(hostile_payloads_end_as_noted_messages(
        mosquitto.port(),
        "mosquitto",
    ));
}

#[test]
fn hostile_payloads_through_the_embedded_broker_end_as_noted_messages() {
    support::runtime().block_on(async {
        let broker = support::embedded_broker().await;
        hostile_payloads_end_as_noted_messages(broker.local_addr().port(), "embedded broker").await;
        broker.shutdown().await;
    });
}

// ---------------------------------------------------------------------------------------------
// non-UTF-8 topics: refused by real brokers, sent by a misbehaving one

/// Publishes a non-UTF-8 topic with a raw client: the broker must close that client's
/// connection and forward nothing; a good message after it still arrives.
async fn a_broker_refuses_non_utf8_topics(port: u16, broker: &str) {
    let observer = Observer::start(port, ModelConfig::default(), |_| {});
    assert!(observer.wait_for(WAIT, is_connected).await);
    let p = support::unique("badtopic");
    let mut good = PlainClient::connect(port, &support::unique("pub")).await;
    let probe = format!("{p}/probe");
    good.publish(&probe, "p", QoS::AtLeastOnce, true, None)
        .await;
    assert!(observer.wait_for(WAIT, |m| stored_on(m, &probe)).await);

    let mut raw = RawClient::connect(port, &support::unique("raw")).await;
    let mut bad_topic = format!("{p}/").into_bytes();
    bad_topic.extend_from_slice(b"\xff\xfe/x");
    let _ = raw.publish(&bad_topic, "bad", None).await;
    // The broker answers a malformed packet by closing (MQTT 5 §1.5.4): with a DISCONNECT
    // (reason 0x81 or 0x80) or by closing the socket.
    let answer = raw.read_packet(WAIT).await;
    assert!(
        matches!(answer, None | Some(Packet::Disconnect(_))),
        "{broker}: expected the connection closed, got {answer:?}"
    );
    let after = format!("{p}/after");
    good.publish(&after, "a", QoS::AtLeastOnce, true, None)
        .await;
    assert!(observer.wait_for(WAIT, |m| stored_on(m, &after)).await);
    {
        let model = observer.model.lock();
        assert!(
            stored(&model, &bad_topic).is_none(),
            "{broker} forwarded a non-UTF-8 topic"
        );
    }
    good.disconnect().await;
}

#[test]
fn mosquitto_refuses_non_utf8_topics() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    support::runtime().block_on(a_broker_refuses_non_utf8_topics(
        mosquitto.port(),
        "mosquitto",
    ));
    assert!(
        mosquitto.log().contains("malformed packet"),
        "{}",
        mosquitto.log()
    );
}

#[test]
fn the_embedded_broker_refuses_non_utf8_topics() {
    support::runtime().block_on(async {
        let broker = support::embedded_broker().await;
        a_broker_refuses_non_utf8_topics(broker.local_addr().port(), "embedded broker").await;
        broker.shutdown().await;
    });
}

/// A misbehaving MQTT 5 broker on a loopback socket: it accepts any CONNECT, grants every
/// SUBSCRIBE, answers pings, and writes whatever bytes the test gives it to the connected
/// client (non-UTF-8 topics, broken property strings) — what real brokers refuse to forward.
struct HostileBroker {
    port: u16,
    /// Bytes to write to the current connection.
    to_client: mpsc::UnboundedSender<Vec<u8>>,
    /// SUBSCRIBE packets received, over all connections.
    subscribes: watch::Receiver<usize>,
    connections: Arc<AtomicUsize>,
    /// The client id of every CONNECT, in order.
    client_ids: Arc<Mutex<Vec<String>>>,
}

impl HostileBroker {
    async fn start() -> HostileBroker {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (to_client, outbox) = mpsc::unbounded_channel::<Vec<u8>>();
        let outbox = Arc::new(Mutex::new(outbox));
        let (subscribed_tx, subscribes) = watch::channel(0usize);
        let subscribed_tx = Arc::new(subscribed_tx);
        let connections = Arc::new(AtomicUsize::new(0));
        let client_ids = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::clone(&connections);
        let ids = Arc::clone(&client_ids);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                let outbox = Arc::clone(&outbox);
                let subscribed = Arc::clone(&subscribed_tx);
                let ids = Arc::clone(&ids);
                tokio::spawn(async move {
                    // One client at a time gets the test's bytes.
                    let mut outbox = outbox.lock().await;
                    serve_hostile(stream, &mut outbox, &subscribed, &ids).await;
                });
            }
        });
        HostileBroker {
            port,
            to_client,
            subscribes,
            connections,
            client_ids,
        }
    }

    fn send(&self, bytes: impl Into<Vec<u8>>) {
        self.to_client
            .send(bytes.into())
            .expect("the hostile broker runs");
    }

    async fn wait_subscribes(&mut self, at_least: usize) {
        tokio::time::timeout(WAIT, self.subscribes.wait_for(|n| *n >= at_least))
            .await
            .expect("the observer subscribes")
            .expect("the hostile broker runs");
    }
}

async fn serve_hostile(
    mut stream: TcpStream,
    outbox: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    subscribed: &watch::Sender<usize>,
    client_ids: &Mutex<Vec<String>>,
) {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        tokio::select! {
            read = stream.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                while let Ok(packet) = Packet::read(&mut buf, None) {
                    let reply = match packet {
                        Packet::Connect(connect, ..) => {
                            client_ids.lock().await.push(connect.client_id);
                            Some(Packet::ConnAck(ConnAck {
                            session_present: false,
                            code: ConnectReturnCode::Success,
                            properties: None,
                        }))
                        }
                        Packet::Subscribe(subscribe) => {
                            subscribed.send_modify(|n| *n += 1);
                            Some(Packet::SubAck(SubAck {
                                pkid: subscribe.pkid,
                                return_codes: subscribe
                                    .filters
                                    .iter()
                                    .map(|f| SubscribeReasonCode::Success(f.qos))
                                    .collect(),
                                properties: None,
                            }))
                        }
                        Packet::PingReq(_) => Some(Packet::PingResp(PingResp)),
                        Packet::Disconnect(_) => return,
                        _ => None,
                    };
                    if let Some(reply) = reply
                        && stream.write_all(&encode(&reply)).await.is_err()
                    {
                        return;
                    }
                }
            }
            bytes = outbox.recv() => {
                let Some(bytes) = bytes else { return };
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[test]
fn non_utf8_topics_from_a_misbehaving_broker_are_stored_with_a_note() {
    support::runtime().block_on(async {
        let mut broker = HostileBroker::start().await;
        let observer = Observer::start(broker.port, ModelConfig::default(), |_| {});
        assert!(observer.wait_for(WAIT, is_connected).await);
        broker
            .wait_subscribes(meshscope::mqtt::OBSERVER_FILTERS.len())
            .await;

        let dialect_topic = b"a2a/v1/mcp/tools/\xff\xfe/call".to_vec();
        let raw_topic = b"sensors/caf\xc3/temp".to_vec();
        for (topic, payload) in [
            (&dialect_topic, &br#"{"call_id":"c1","arguments":{}}"#[..]),
            (&raw_topic, &b"21.5"[..]),
        ] {
            broker.send(encode(&Packet::Publish(publish_packet(
                topic,
                payload.to_vec(),
                None,
            ))));
        }
        // A PUBLISH with a user property that is not UTF-8 is a malformed packet: the session
        // must drop that connection, say why, and come back (not spin).
        let mut poisoned = encode(&Packet::Publish(publish_packet(
            b"sensors/poison",
            "x",
            props(|x| x.user_properties = vec![("KEYX".into(), "v".into())]),
        )))
        .to_vec();
        let at = poisoned
            .windows(4)
            .position(|w| w == b"KEYX")
            .expect("the key's bytes");
        poisoned[at..at + 4].copy_from_slice(b"\xff\xfe\xfd\xfc");

        let both = observer
            .wait_for(WAIT, |m| {
                stored(m, &dialect_topic).is_some() && stored(m, &raw_topic).is_some()
            })
            .await;
        assert!(both, "both non-UTF-8 topics reach the model");
        {
            let model = observer.model.lock();
            for topic in [&dialect_topic, &raw_topic] {
                let message = stored(&model, topic).expect("stored");
                assert_eq!(message.tag.dialect, Dialect::Raw);
                assert_eq!(message.tag.note.as_deref(), Some("topic is not UTF-8"));
            }
            assert_eq!(
                stored(&model, &dialect_topic)
                    .map(|m| m.raw.topic_lossy().into_owned())
                    .as_deref(),
                Some("a2a/v1/mcp/tools/\\xff\\xfe/call"),
                "shown with the invalid bytes escaped"
            );
        }

        broker.send(poisoned);
        assert!(
            observer.wait_for(WAIT, is_disconnected).await,
            "a malformed packet drops the connection"
        );
        let reason = match observer.state() {
            Some(ConnectionState::Disconnected { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(
            observer.wait_for(WAIT, is_connected).await,
            "the session comes back after a malformed packet"
        );
        let connections = broker.connections.load(Ordering::Relaxed);
        assert_eq!(connections, 2, "one reconnect, no busy loop");
        println!(
            "misbehaving broker: non-UTF-8 topics stored with the note 'topic is not UTF-8'; \
             a non-UTF-8 user property: '{reason}', reconnected"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// a client id that collides with ours

/// Another client that uses the observer's client id and, like most client libraries,
/// reconnects at once whenever its connection is closed.
struct Intruder {
    connects: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Intruder {
    fn start(port: u16, client_id: String) -> Intruder {
        let connects = Arc::new(AtomicUsize::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let count = Arc::clone(&connects);
        let task = tokio::spawn(async move {
            while !*stopped.borrow() {
                let mut client = RawClient::connect(port, &client_id).await;
                count.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    // Closed by the broker (another connection took the id): reconnect.
                    _ = client.read_packet(Duration::from_secs(3600)) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        });
        Intruder {
            connects,
            stop,
            task,
        }
    }

    fn connects(&self) -> usize {
        self.connects.load(Ordering::Relaxed)
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

/// The observer connects as `our_id`; an intruder that always reconnects connects with the
/// same id. The broker closes the older connection each time (mosquitto 2.0 and the embedded
/// broker without a DISCONNECT, so the session sees a bare close): the observer must come
/// back under a fresh id after the second close in a row, leaving the intruder alone.
async fn a_colliding_client_id_is_not_fought_over(port: u16, broker: &str) -> String {
    let our_id = support::unique("meshscope-collide");
    let id = our_id.clone();
    let observer = Observer::start(port, ModelConfig::default(), move |options| {
        options.client_id = id;
    });
    assert!(observer.wait_for(WAIT, is_connected).await);
    assert_eq!(observer.session.client_id(), our_id);

    let intruder = Intruder::start(port, our_id.clone());
    let switched = observer
        .wait_for(WAIT, |m| {
            matches!(m.session.current(),
                Some(ConnectionState::Connected { client_id, .. }) if *client_id != our_id)
        })
        .await;
    let reasons: Vec<String> = {
        let model = observer.model.lock();
        assert!(
            switched,
            "{broker}: the observer moves to a fresh id; session log {:#?}",
            model.session.entries()
        );
        model
            .session
            .entries()
            .iter()
            .filter_map(|(_, note)| match note {
                meshscope::model::session_log::SessionNote::State(
                    ConnectionState::Disconnected { reason, .. },
                ) => Some(reason.clone()),
                _ => None,
            })
            .collect()
    };
    let fresh_id = observer.session.client_id();
    assert!(
        fresh_id.starts_with(&our_id) && fresh_id != our_id,
        "{fresh_id}"
    );
    let last = reasons.last().cloned().unwrap_or_default();
    assert!(
        last.contains("probably uses our client id") && last.contains(&fresh_id),
        "{broker}: the reason says what happened: {reasons:#?}"
    );
    assert_eq!(
        reasons.len(),
        2,
        "{broker}: two closes, then peace: {reasons:#?}"
    );

    // The intruder is left alone: it was kicked once only, and its connection still works
    // (a message it publishes reaches the observer).
    let marker = format!("{our_id}/intruder-still-here");
    let mut probe = RawClient::connect(port, &support::unique("probe")).await;
    probe
        .publish(marker.as_bytes(), "1", None)
        .await
        .expect("publish");
    assert!(observer.wait_for(WAIT, |m| stored_on(m, &marker)).await);
    assert_eq!(
        intruder.connects(),
        2,
        "{broker}: the intruder was kicked once"
    );
    intruder.stop().await;
    last
}

#[test]
fn a_colliding_client_id_on_mosquitto_is_not_fought_over() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let reason = support::runtime().block_on(a_colliding_client_id_is_not_fought_over(
        mosquitto.port(),
        "mosquitto",
    ));
    let log = mosquitto.log();
    let takeovers = log
        .matches("already connected, closing old connection")
        .count();
    assert_eq!(
        takeovers, 3,
        "three takeovers in the broker's log, then none:\n{log}"
    );
    println!("client id collision on mosquitto: {reason}");
}

#[test]
fn a_colliding_client_id_on_the_embedded_broker_is_not_fought_over() {
    support::runtime().block_on(async {
        let broker = support::embedded_broker().await;
        let reason =
            a_colliding_client_id_is_not_fought_over(broker.local_addr().port(), "embedded broker")
                .await;
        println!("client id collision on the embedded broker: {reason}");
        broker.shutdown().await;
    });
}

#[test]
fn a_session_taken_over_disconnect_moves_to_a_fresh_client_id_at_once() {
    support::runtime().block_on(async {
        let mut broker = HostileBroker::start().await;
        let our_id = support::unique("meshscope-taken");
        let id = our_id.clone();
        let observer = Observer::start(broker.port, ModelConfig::default(), move |options| {
            options.client_id = id;
        });
        assert!(observer.wait_for(WAIT, is_connected).await);
        broker
            .wait_subscribes(meshscope::mqtt::OBSERVER_FILTERS.len())
            .await;
        // What EMQX, HiveMQ and newer mosquitto send the older connection.
        let mut disconnect = Disconnect::new(DisconnectReasonCode::SessionTakenOver);
        disconnect.properties = Some(DisconnectProperties {
            session_expiry_interval: None,
            reason_string: Some("another client connected with this client id".into()),
            user_properties: Vec::new(),
            server_reference: None,
        });
        broker.send(encode(&Packet::Disconnect(disconnect)));
        assert!(observer.wait_for(WAIT, is_disconnected).await);
        let reason = match observer.state() {
            Some(ConnectionState::Disconnected { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(
            reason.contains("session taken over")
                && reason.contains("0x8E")
                && reason.contains("the broker says: another client connected"),
            "{reason}"
        );
        assert!(observer.wait_for(WAIT, is_connected).await);
        let ids = broker.client_ids.lock().await.clone();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(ids[0], our_id);
        assert!(ids[1].starts_with(&our_id) && ids[1] != our_id, "{ids:?}");
        assert!(
            reason.contains(&ids[1]),
            "the reason names the new id: {reason}"
        );
        println!("DISCONNECT 0x8E: {reason}");
    });
}

// ---------------------------------------------------------------------------------------------
// a million distinct topics

/// Distinct topics published: `MESHSCOPE_TOPICS`, else a million in CI and 200 000 on a
/// workstation (a debug build takes ~45 s for the million on two idle cores).
fn distinct_topics() -> u64 {
    std::env::var("MESHSCOPE_TOPICS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::var_os("CI").is_some() {
            1_000_000
        } else {
            200_000
        })
}

/// The store budget of the million-topic session.
const TOPICS_STORE_BYTES: usize = 64 * 1024 * 1024;
/// Messages published before waiting for the observer to have them all (below mosquitto's
/// per-client queue of 100 000, so the broker drops nothing).
const TOPICS_BATCH: u64 = 20_000;

#[test]
#[ignore = "run in a child process by a_million_distinct_topics_stay_within_bounds"]
fn million_topics_child() {
    let Some(mosquitto) = support::mosquitto() else {
        return;
    };
    let total = distinct_topics();
    support::runtime().block_on(async {
        let mut config = ModelConfig::default();
        config.store.max_bytes = TOPICS_STORE_BYTES;
        let mesh_limits = config.mesh.clone();
        let observer = Observer::start(mosquitto.port(), config, |_| {});
        assert!(observer.wait_for(WAIT, is_connected).await);
        let p = support::unique("topics");
        let probe = format!("{p}/probe");
        let mut probe_client = PlainClient::connect(mosquitto.port(), &support::unique("m")).await;
        probe_client
            .publish(&probe, "p", QoS::AtLeastOnce, true, None)
            .await;
        assert!(observer.wait_for(WAIT, |m| stored_on(m, &probe)).await);
        let rss_start_kib = crate::faults::proc_status_kib("VmRSS").unwrap_or(0);
        let total_before = observer.model.lock().messages_total;

        // Every topic distinct, four shapes: raw telemetry, plain MQTT 5 requests each with its
        // own Response Topic and no Correlation Data (weakly paired), and MQTT.Agent calls to
        // a different tool each time (a new participant each).
        let mut socket = RawClient::connect(mosquitto.port(), &support::unique("topics")).await;
        let started = Instant::now();
        let mut batch = Vec::new();
        let mut sent = 0u64;
        while sent < total {
            batch.clear();
            let end = (sent + TOPICS_BATCH).min(total);
            for i in sent..end {
                match i % 4 {
                    0 | 1 => crate::faults::encode_publish_qos0(
                        &mut batch,
                        format!("{p}/raw/{i}").as_bytes(),
                        b"1",
                    ),
                    2 => batch.extend_from_slice(&encode(&Packet::Publish(publish_packet(
                        format!("{p}/req/{i}").as_bytes(),
                        "[1]",
                        props(|x| x.response_topic = Some(format!("{p}/reply/{i}"))),
                    )))),
                    _ => crate::faults::encode_publish_qos0(
                        &mut batch,
                        format!("{p}/ns/mcp/tools/t{i}/call").as_bytes(),
                        format!("{{\"call_id\":\"c{i}\",\"arguments\":{{}}}}").as_bytes(),
                    ),
                }
            }
            socket.send_bytes(&batch).await.expect("publish a batch");
            sent = end;
            let arrived = observer
                .wait_for(Duration::from_secs(60), |m| {
                    m.messages_total - total_before >= sent
                })
                .await;
            assert!(arrived, "{sent} messages should have arrived");
        }
        let took = started.elapsed();
        let peak_kib = crate::faults::proc_status_kib("VmHWM").unwrap_or(0);
        probe_client.disconnect().await;
        let model = observer.model.lock();
        let counters = model.store.counters();
        let mesh = model.mesh.counters().clone();
        println!(
            "million topics: {total} distinct topics in {:.1} s ({:.0} msg/s through mosquitto, \
             session, ingest and model); store budget {} MiB: {} stored ({:.1} MiB), {} evicted; \
             participants {} (cap {}, {} refused with a note), traces {} (cap {}, {} evicted), \
             RSS at start {} MiB, VmHWM {} MiB (growth {} MiB)",
            took.as_secs_f64(),
            total as f64 / took.as_secs_f64(),
            TOPICS_STORE_BYTES >> 20,
            counters.stored_messages,
            counters.stored_bytes as f64 / 1048576.0,
            counters.evicted_messages,
            model.mesh.participant_count(),
            mesh_limits.max_participants,
            mesh.participants_dropped,
            model.mesh.trace_count(),
            mesh_limits.max_traces,
            mesh.traces_evicted,
            rss_start_kib >> 10,
            peak_kib >> 10,
            peak_kib.saturating_sub(rss_start_kib) >> 10,
        );
        assert_eq!(
            model.messages_total - total_before,
            total,
            "every message arrived"
        );
        assert!(counters.stored_bytes <= TOPICS_STORE_BYTES);
        assert!(model.mesh.participant_count() <= mesh_limits.max_participants);
        assert!(model.mesh.trace_count() <= mesh_limits.max_traces);
        if total >= 100_000 {
            assert!(
                mesh.participants_dropped > 0 && mesh.traces_evicted > 0,
                "{mesh:?}"
            );
            let refused = model
                .store
                .iter()
                .rev()
                .find(|m| m.raw.topic.ends_with(b"/call"))
                .and_then(|m| m.tag.note.as_deref())
                .unwrap_or_default()
                .to_string();
            assert!(
                refused.contains("participant table full"),
                "a call to a participant over the cap is noted: {refused:?}"
            );
        }
    });
}

#[test]
fn a_million_distinct_topics_stay_within_bounds() {
    if support::mosquitto().is_none() {
        return;
    }
    crate::faults::run_child_test("hostile::million_topics_child", "million topics: ");
}
