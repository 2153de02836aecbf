//! Shared test harness: real brokers on loopback (embedded and mosquitto), event waiting, a plain client.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meshscope::broker::EmbeddedBroker;
use meshscope::protocol::{ConnackInfo, ConnectionState, RawMessage, SessionEvent};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::mpsc;

/// How long a broker may take to start accepting connections.
const BROKER_START_DEADLINE: Duration = Duration::from_secs(10);

/// The default deadline tests use when they wait for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(10);

/// A tokio runtime like the app's: multi-thread with 2 workers (the machine has 2 cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build tokio runtime")
}

/// The embedded broker on a free loopback port (call inside the test's runtime).
pub async fn embedded_broker() -> EmbeddedBroker {
    EmbeddedBroker::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("start the embedded broker")
}

/// A name no other test (or earlier run) uses: for client ids and topic prefixes.
/// Only `[a-z0-9-]`, so the embedded broker accepts it as a client id.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = meshscope::now_nanos() % 1_000_000_000_000;
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// A free TCP port on 127.0.0.1 (bound and released; the OS does not hand it out again soon).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A loopback port where connections are refused and which nobody else can take while the
/// returned guard lives: the local end of an open connection (a released `free_port` could be
/// handed to another test's broker).
pub fn refused_port() -> (impl Drop, u16) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let port = client.local_addr().expect("local addr").port();
    (Box::new((listener, client, server)), port)
}

// ---------------------------------------------------------------------------------------------
// mosquitto

/// A real `mosquitto` on a free 127.0.0.1 port, with its own config in a temp directory.
/// Killed (SIGKILL) on drop.
pub struct Mosquitto {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// Starts mosquitto, or returns `None` (printing why) when it is not installed.
/// Panics when the `CI` environment variable is set and mosquitto is missing: CI must run these.
pub fn mosquitto() -> Option<Mosquitto> {
    mosquitto_with("", &[])
}

/// Like [`mosquitto`], with extra lines appended to the generated `mosquitto.conf` and extra
/// files (name, contents) written beside it first. `{dir}` in `extra_conf` is replaced by the
/// broker's temp directory, e.g. `mosquitto_with("acl_file {dir}/acl", &[("acl", "...")])`.
pub fn mosquitto_with(extra_conf: &str, files: &[(&str, &str)]) -> Option<Mosquitto> {
    let Some(binary) = find_mosquitto() else {
        if std::env::var_os("CI").is_some() {
            panic!("mosquitto is not installed but CI is set: CI must run the mosquitto tests");
        }
        eprintln!("skipped: mosquitto not installed");
        return None;
    };
    Some(Mosquitto::start(binary, extra_conf, files))
}

fn find_mosquitto() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("mosquitto"))
                .collect()
        })
        .unwrap_or_default();
    for dir in [
        "/usr/sbin",
        "/usr/local/sbin",
        "/opt/homebrew/sbin",
        "/usr/bin",
    ] {
        candidates.push(Path::new(dir).join("mosquitto"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

impl Mosquitto {
    fn start(binary: PathBuf, extra_conf: &str, files: &[(&str, &str)]) -> Mosquitto {
        let dir = std::env::temp_dir().join(unique("meshscope-mosquitto"));
        std::fs::create_dir_all(&dir).expect("create mosquitto temp dir");
        for (name, contents) in files {
            std::fs::write(dir.join(name), contents).expect("write a mosquitto file");
        }
        // A port can be taken between probing and mosquitto binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let conf = format!(
                "# written by meshscope's test harness\n\
                 listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 max_queued_messages 100000\n\
                 set_tcp_nodelay true\n\
                 log_dest stderr\n\
                 log_type error\n\
                 log_type warning\n\
                 log_type notice\n\
                 log_type information\n\
                 connection_messages true\n\
                 {extra}\n",
                extra = extra_conf.replace("{dir}", &dir.display().to_string()),
            );
            std::fs::write(dir.join("mosquitto.conf"), conf).expect("write mosquitto.conf");
            let mut broker = Mosquitto {
                binary: binary.clone(),
                dir: dir.clone(),
                port,
                child: None,
            };
            if broker.spawn_and_wait().is_ok() {
                return broker;
            }
        }
        panic!(
            "mosquitto did not start; log: {}",
            std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default()
        );
    }

    /// Spawns mosquitto with the written config and waits until its port accepts connections.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        // The log goes to stderr, into a file we open: mosquitto started as root drops to the
        // `mosquitto` user and could not open a log file in our temp directory itself.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("mosquitto.log"))
            .map_err(|e| format!("cannot open the mosquitto log: {e}"))?;
        let mut child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mosquitto exited with {status}: {}", self.log()));
            }
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if started.elapsed() > BROKER_START_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                return Err("mosquitto did not accept connections in time".into());
            }
            std::thread::sleep(Duration::from_millis(10)); // polling the port, with a deadline
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }

    /// Kills the broker abruptly (SIGKILL: clients see the connection drop) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the broker if it runs, then starts it again on the same port and waits until it
    /// accepts connections. Retained messages do not survive (persistence is off).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + BROKER_START_DEADLINE;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(error) if Instant::now() > deadline => {
                    panic!("mosquitto did not restart on port {}: {error}", self.port)
                }
                // The port may still be held briefly by the old process's sockets.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// waiting for session events

/// The next event matching `pred` within `deadline` (others are skipped), or `None`.
pub async fn next_matching(
    rx: &mut mpsc::Receiver<SessionEvent>,
    deadline: Duration,
    mut pred: impl FnMut(&SessionEvent) -> bool,
) -> Option<SessionEvent> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Some(event)) if pred(&event) => return Some(event),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

/// The next message matching `pred` within `deadline` (other events are skipped).
pub async fn next_message(
    rx: &mut mpsc::Receiver<SessionEvent>,
    deadline: Duration,
    mut pred: impl FnMut(&RawMessage) -> bool,
) -> Option<RawMessage> {
    match next_matching(
        rx,
        deadline,
        |e| matches!(e, SessionEvent::Message(m) if pred(m)),
    )
    .await
    {
        Some(SessionEvent::Message(message)) => Some(message),
        _ => None,
    }
}

/// The next message on exactly `topic`.
pub async fn next_on_topic(
    rx: &mut mpsc::Receiver<SessionEvent>,
    deadline: Duration,
    topic: &str,
) -> Option<RawMessage> {
    next_message(rx, deadline, |m| &*m.topic == topic.as_bytes()).await
}

/// Waits for the next `Connected` state; returns its CONNACK facts.
pub async fn wait_connected(
    rx: &mut mpsc::Receiver<SessionEvent>,
    deadline: Duration,
) -> Option<ConnackInfo> {
    match next_matching(rx, deadline, |e| {
        matches!(
            e,
            SessionEvent::State {
                state: ConnectionState::Connected { .. },
                ..
            }
        )
    })
    .await
    {
        Some(SessionEvent::State {
            state: ConnectionState::Connected { connack, .. },
            ..
        }) => Some(connack),
        _ => None,
    }
}

/// Collects every event that arrives within `window` (for asserting on what did not happen).
pub async fn drain_for(
    rx: &mut mpsc::Receiver<SessionEvent>,
    window: Duration,
) -> Vec<SessionEvent> {
    let until = tokio::time::Instant::now() + window;
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(until, rx.recv()).await {
        events.push(event);
    }
    events
}

// ---------------------------------------------------------------------------------------------
// a plain rumqttc client (publisher / independent subscriber)

/// A plain MQTT 5 client for tests: publishes, subscribes and collects what it receives.
/// Not reconnecting: after a broker restart, connect a new one.
pub struct PlainClient {
    pub client: AsyncClient,
    /// Every PUBLISH it receives.
    pub messages: mpsc::UnboundedReceiver<Publish>,
    /// Every other incoming packet (acks), and `None` once the connection ended.
    acks: mpsc::UnboundedReceiver<Option<Packet>>,
    task: tokio::task::JoinHandle<()>,
}

impl PlainClient {
    /// Connects to 127.0.0.1:`port` with `client_id` and waits for the CONNACK.
    pub async fn connect(port: u16, client_id: &str) -> PlainClient {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(Some(256 * 1024 * 1024));
        options.set_outgoing_inflight_upper_limit(100);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (message_tx, messages) = mpsc::unbounded_channel();
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = message_tx.send(publish);
                    }
                    Ok(Event::Incoming(packet)) => {
                        let _ = ack_tx.send(Some(packet));
                    }
                    Ok(Event::Outgoing(_)) => {}
                    Err(_) => {
                        let _ = ack_tx.send(None);
                        return;
                    }
                }
            }
        });
        let mut plain = PlainClient {
            client,
            messages,
            acks,
            task,
        };
        plain
            .wait_ack(|p| matches!(p, Packet::ConnAck(_)))
            .await
            .unwrap_or_else(|| panic!("plain client {client_id} did not connect to port {port}"));
        plain
    }

    async fn wait_ack(&mut self, mut pred: impl FnMut(&Packet) -> bool) -> Option<Packet> {
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(until, self.acks.recv()).await {
                Ok(Some(Some(packet))) if pred(&packet) => return Some(packet),
                Ok(Some(Some(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Publishes and, for QoS 1 and 2, waits until the broker acknowledged it (so a retained
    /// message is stored before the test goes on).
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: impl Into<bytes::Bytes>,
        qos: QoS,
        retain: bool,
        properties: Option<PublishProperties>,
    ) {
        let payload = payload.into();
        let sent = match properties {
            Some(props) => {
                self.client
                    .publish_with_properties(topic, qos, retain, payload, props)
                    .await
            }
            None => self.client.publish(topic, qos, retain, payload).await,
        };
        sent.expect("queue publish");
        let acked = match qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => self.wait_ack(|p| matches!(p, Packet::PubAck(_))).await,
            QoS::ExactlyOnce => self.wait_ack(|p| matches!(p, Packet::PubComp(_))).await,
        };
        assert!(acked.is_some(), "publish to {topic} was not acknowledged");
    }

    /// Subscribes (QoS 2, Retain-As-Published) and waits for the SUBACK.
    pub async fn subscribe(&mut self, filter: &str) {
        let mut f = rumqttc::v5::mqttbytes::v5::Filter::new(filter, QoS::ExactlyOnce);
        f.preserve_retain = true;
        self.client
            .subscribe_many([f])
            .await
            .expect("queue subscribe");
        assert!(
            self.wait_ack(|p| matches!(p, Packet::SubAck(_)))
                .await
                .is_some(),
            "no SUBACK for {filter}"
        );
    }

    /// The next PUBLISH this client receives on `topic`, within `deadline`.
    pub async fn next_on_topic(&mut self, deadline: Duration, topic: &str) -> Option<Publish> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            match tokio::time::timeout_at(until, self.messages.recv()).await {
                Ok(Some(publish)) if &publish.topic[..] == topic.as_bytes() => {
                    return Some(publish);
                }
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }

    /// Sends DISCONNECT and waits (briefly) for the connection to end.
    pub async fn disconnect(mut self) {
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}

impl Drop for PlainClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// test certificates (openssl CLI)

/// A throwaway PKI for TLS tests: a CA, a server certificate for `localhost` / 127.0.0.1 and a
/// client certificate, all PEM files in `dir` (readable by a mosquitto that dropped root).
pub struct TestPki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TestPki {
    /// mosquitto listener lines for TLS with these files; `require_client_cert` turns on
    /// mutual TLS.
    pub fn mosquitto_conf(&self, require_client_cert: bool) -> String {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
            self.ca_cert.display(),
            self.server_cert.display(),
            self.server_key.display(),
            require_client_cert
        )
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Generates a [`TestPki`] with the `openssl` command, or `None` (printing why) when it is not
/// installed; panics then if `CI` is set.
pub fn test_pki() -> Option<TestPki> {
    if Command::new("openssl").arg("version").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("openssl is not installed but CI is set: CI must run the TLS tests");
        }
        eprintln!("skipped: openssl not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(unique("meshscope-pki"));
    std::fs::create_dir_all(&dir).expect("create pki dir");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=meshscope test CA",
    ]);
    run(&ca);
    for (name, usage, san) in [
        (
            "server",
            "serverAuth",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        ),
        ("client", "clientAuth", ""),
    ] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let ext = format!("{name}.ext");
        let subject = format!("/CN=meshscope test {name}");
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        run(&req);
        std::fs::write(
            dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n{san}"),
        )
        .expect("write ext");
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }
    for entry in std::fs::read_dir(&dir).expect("read pki dir").flatten() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o644));
        }
        #[cfg(not(unix))]
        let _ = entry;
    }
    Some(TestPki {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        dir,
    })
}
