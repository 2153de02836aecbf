//! Live ingest against `mosquitto_sub`: the same flood, one receiver at a time, rates side by side.
//!
//! `cargo bench --bench ingest_flood` floods the embedded broker (and mosquitto when installed)
//! with small JSON messages from our own publisher, and measures the rate `mosquitto_sub`
//! receives and the rate Meshscope's live ingest (decode, pairing, model on) applies.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meshscope::broker::EmbeddedBroker;
use meshscope::ingest::{self, SharedModel};
use meshscope::model::ModelConfig;
use meshscope::mqtt::{self, SessionCommand, SessionOptions};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

/// Messages per flood (`INGEST_FLOOD_MESSAGES` overrides it, e.g. for a profiler run).
const DEFAULT_MESSAGES: u64 = 200_000;
/// A receiver that has seen nothing for this long has seen everything it will.
const IDLE_END: Duration = Duration::from_secs(3);

#[derive(Clone, Copy)]
struct Rate {
    received: u64,
    per_sec: f64,
}

fn messages() -> u64 {
    std::env::var("INGEST_FLOOD_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES)
}

/// `INGEST_FLOOD_ONLY=embedded|mosquitto|meshscope|mosquitto_sub` (comma-separated) limits the
/// run to those brokers and receivers, for profiling one of them.
fn wanted(what: &str) -> bool {
    match std::env::var("INGEST_FLOOD_ONLY") {
        Ok(only) => {
            let parts: Vec<&str> = only.split(',').map(str::trim).collect();
            let brokers = ["embedded", "mosquitto"];
            let receivers = ["meshscope", "mosquitto_sub"];
            let group: &[&str] = if brokers.contains(&what) {
                &brokers
            } else {
                &receivers
            };
            // A group not named at all is not limited.
            !parts.iter().any(|p| group.contains(p)) || parts.contains(&what)
        }
        Err(_) => true,
    }
}

fn payload(i: u64) -> Vec<u8> {
    // ~205 B, like the reference measurement in DESIGN.md.
    format!(
        "{{\"call_id\":\"call_{i:010}\",\"status\":\"ok\",\"result\":{{\"temp\":21.5,\"unit\":\"C\",\"station\":\"north-{}\"}},\"elapsed_ms\":{},\"pad\":\"{}\"}}",
        i % 17,
        i % 900,
        "x".repeat(90)
    )
    .into_bytes()
}

/// Our own fast publisher: QoS 0, as fast as the socket takes it.
async fn flood(port: u16, topic_root: &str) {
    let mut options = MqttOptions::new(
        format!("bench-pub-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_outgoing_inflight_upper_limit(100);
    let (client, mut eventloop) = AsyncClient::new(options, 10_000);
    let driver = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    for i in 0..messages() {
        let topic = format!("{topic_root}/{}", i % 16);
        if client
            .publish(topic, QoS::AtMostOnce, false, payload(i))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = client.disconnect().await;
    let _ = driver.await;
}

fn which(binary: &str) -> Option<String> {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| format!("{dir}/{binary}"))
        .find(|p| std::path::Path::new(p).exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn start_mosquitto(binary: &str) -> Option<(Child, u16)> {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("meshscope-bench-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")).ok()?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Some((child, port));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// `mosquitto_sub` on the flood's topics: counts the lines it prints, timing first to last.
fn run_mosquitto_sub(runtime: &tokio::runtime::Runtime, sub: &str, port: u16, root: &str) -> Rate {
    let mut child = match Command::new(sub)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-V",
            "mqttv5",
            "-q",
            "0",
            "-t",
            &format!("{root}/#"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            return Rate {
                received: 0,
                per_sec: 0.0,
            };
        }
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = None;
        let mut last = Instant::now();
        let mut count = 0u64;
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if line == b"p" {
                let _ = tx.send(());
                continue;
            }
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
            count += 1;
        }
        (count, first.map(|f| last.duration_since(f)))
    });
    // mosquitto_sub subscribes asynchronously: probe until a message gets through.
    let ready = probe_until(runtime, port, root, || rx.try_recv().is_ok());
    if !ready {
        let _ = child.kill();
        return Rate {
            received: 0,
            per_sec: 0.0,
        };
    }
    runtime.block_on(flood(port, root));
    // Let the tail arrive, then stop the subscriber (its stdout closes and the reader ends).
    std::thread::sleep(IDLE_END);
    let _ = child.kill();
    let _ = child.wait();
    let (count, span) = reader.join().unwrap_or((0, None));
    let received = count;
    Rate {
        received,
        per_sec: span.map_or(0.0, |s| received as f64 / s.as_secs_f64().max(1e-9)),
    }
}

/// Publishes a probe every 50 ms until `seen` says a subscriber got one (subscriptions are asynchronous).
fn probe_until(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    root: &str,
    mut seen: impl FnMut() -> bool,
) -> bool {
    runtime.block_on(async {
        let mut options = MqttOptions::new(
            format!("bench-probe-{}", std::process::id()),
            "127.0.0.1",
            port,
        );
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let driver = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        let mut ready = false;
        for _ in 0..200 {
            let _ = client
                .publish(
                    format!("{root}/probe"),
                    QoS::AtMostOnce,
                    false,
                    b"p".to_vec(),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if seen() {
                ready = true;
                break;
            }
        }
        let _ = client.disconnect().await;
        driver.abort();
        ready
    })
}

/// Meshscope's live pipeline: session -> ingest -> decode + apply -> store.
fn run_meshscope(runtime: &tokio::runtime::Runtime, port: u16, root: &str) -> Rate {
    let model = SharedModel::new(ModelConfig::default());
    let (events, receiver) = ingest::channel();
    // As the app runs it: on its own thread.
    let pump = ingest::spawn_thread(model.clone(), receiver, None, None).expect("ingest thread");
    let options = SessionOptions::new(format!("mqtt://127.0.0.1:{port}").parse().expect("url"));
    // The real observer subscriptions (`#` and the `$` roots); the broker carries only the flood.
    let session = mqtt::spawn(runtime.handle(), options, events);
    if !probe_until(runtime, port, root, || model.lock().messages_total > 0) {
        eprintln!("Meshscope never received a probe on port {port}");
    }
    let probes = model.lock().messages_total;
    runtime.block_on(flood(port, root));
    let mut last_total = 0;
    let mut last_change = Instant::now();
    loop {
        let total = model.lock().messages_total;
        if total != last_total {
            last_total = total;
            last_change = Instant::now();
        } else if last_change.elapsed() > IDLE_END {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let m = model.lock();
    let (first, last) = match (m.store.iter().next(), m.store.iter().next_back()) {
        (Some(_), Some(b)) => (
            m.store
                .iter()
                .find(|x| !x.raw.topic.ends_with(b"/probe"))
                .map_or(0, |x| x.raw.received_at_nanos),
            b.raw.received_at_nanos,
        ),
        _ => (0, 0),
    };
    let received = m.messages_total - probes;
    drop(m);
    let _ = session.try_send(SessionCommand::Disconnect);
    drop(session);
    // The ingest thread ends by itself once the session is gone.
    drop(pump);
    let span_secs = (last.saturating_sub(first)) as f64 / 1e9;
    Rate {
        received,
        per_sec: received as f64 / span_secs.max(1e-9),
    }
}

fn report(broker: &str, sub: Rate, ours: Rate) {
    let ratio = if sub.per_sec > 0.0 {
        ours.per_sec / sub.per_sec * 100.0
    } else {
        0.0
    };
    let messages = messages();
    println!(
        "| {broker} | {:>9.0} msg/s ({} of {messages}) | {:>9.0} msg/s ({} of {messages}) | {ratio:>5.1} % | >= 95 % |",
        ours.per_sec, ours.received, sub.per_sec, sub.received
    );
}

const NOT_RUN: Rate = Rate {
    received: 0,
    per_sec: 0.0,
};

/// Both receivers (those wanted) on one broker, one after the other.
fn measure(
    runtime: &tokio::runtime::Runtime,
    broker: &str,
    sub: &str,
    port: u16,
    roots: [&str; 2],
) {
    let sub_rate = if wanted("mosquitto_sub") {
        run_mosquitto_sub(runtime, sub, port, roots[0])
    } else {
        NOT_RUN
    };
    let ours = if wanted("meshscope") {
        run_meshscope(runtime, port, roots[1])
    } else {
        NOT_RUN
    };
    report(broker, sub_rate, ours);
}

fn main() {
    // As the app does first thing (`src/main.rs`).
    meshscope::allocator::limit_arenas();
    meshscope::mqtt::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let Some(sub) = which("mosquitto_sub") else {
        eprintln!(
            "mosquitto_sub is not installed (apt-get install -y mosquitto-clients): nothing to compare with"
        );
        return;
    };
    println!("| broker | Meshscope live ingest | mosquitto_sub | ratio | budget |");
    println!("| --- | --- | --- | --- | --- |");
    if wanted("embedded") {
        let broker = runtime
            .block_on(EmbeddedBroker::start(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                0,
            ))))
            .expect("embedded broker");
        let port = broker.local_addr().port();
        measure(
            &runtime,
            "embedded (mqtt5)",
            &sub,
            port,
            ["bench/a", "bench/b"],
        );
        runtime.block_on(broker.shutdown());
    }

    if !wanted("mosquitto") {
        return;
    }
    if let Some(binary) = which("mosquitto") {
        if let Some((mut child, port)) = start_mosquitto(&binary) {
            measure(&runtime, "mosquitto", &sub, port, ["bench/c", "bench/d"]);
            let _ = child.kill();
            let _ = child.wait();
        }
    } else {
        eprintln!("mosquitto is not installed: only the embedded broker was measured");
    }
}
