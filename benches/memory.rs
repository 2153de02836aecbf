//! Memory: heap per stored message beyond its payload, opening a 1 000 000-message recording under the default budget, and peak RSS during a flood.
//!
//! `cargo bench --bench memory` runs three parts; `MESHSCOPE_MEMORY_PART=overhead|open|flood`
//! runs one. Heap is counted by this binary's global allocator as glibc really spends it
//! (`malloc_usable_size` + its 8-byte header, so malloc's rounding is included), beside the RSS.
//! The open part runs in a child process so its peak RSS (`VmHWM`) is its own.
//! Knobs: `MESHSCOPE_FLOOD_SECS` (60), `MESHSCOPE_FLOOD_BUDGET_MIB` (64), `MESHSCOPE_OPEN_MESSAGES` (1 000 000),
//! `MESHSCOPE_BENCH_BUDGET_MIB` (the open part's budget; default: the model's default, 512 MiB).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use meshscope::broker::EmbeddedBroker;
use meshscope::ingest::{self, SharedModel};
use meshscope::model::{MessageStore, Model, ModelConfig, StoreLimits};
use meshscope::mqtt::{self, SessionOptions};
use meshscope::protocol::{Properties, RawMessage};
use meshscope::record::player::Player;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, MqttOptions};

unsafe extern "C" {
    /// glibc: the usable size of a block from `malloc` (its chunk minus the 8-byte header).
    fn malloc_usable_size(ptr: *mut std::ffi::c_void) -> usize;
}

/// Counts the heap the process holds, as malloc spends it (rounding and header included).
struct CountingAllocator;

static LIVE_HEAP_BYTES: AtomicIsize = AtomicIsize::new(0);
static PEAK_HEAP_BYTES: AtomicIsize = AtomicIsize::new(0);

fn spent(ptr: *mut u8) -> isize {
    // SAFETY: `ptr` is a live block from the system allocator (glibc malloc).
    (unsafe { malloc_usable_size(ptr.cast()) } + 8) as isize
}

fn add_live(bytes: isize) {
    let live = LIVE_HEAP_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_HEAP_BYTES.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add_live(spent(ptr));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add_live(spent(ptr));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_HEAP_BYTES.fetch_sub(spent(ptr), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = spent(ptr);
        // SAFETY: forwarded as is.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            LIVE_HEAP_BYTES.fetch_sub(old, Ordering::Relaxed);
            add_live(spent(new_ptr));
        }
        new_ptr
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn live_heap() -> i64 {
    LIVE_HEAP_BYTES.load(Ordering::Relaxed) as i64
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds this process has used (user + system, all threads): steadier than wall time
/// on a shared machine.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15: 11 and 12 after the state.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Realistic small messages: MCP calls and responses with the SDK's properties, ~200 B payloads.
fn message(i: u64) -> RawMessage {
    let call_id = format!("call_m{:07x}_{:08}", i / 2, i / 2);
    let (topic, payload, props) = if i.is_multiple_of(2) {
        (
            format!("a2a/v1/mcp/tools/tool{}/call", i % 40),
            format!(
                "{{\"call_id\":\"{call_id}\",\"arguments\":{{\"q\":\"station {}\"}},\"client\":\"scout\",\"timestamp\":\"2026-11-23T10:00:00.000Z\",\"response_topic\":\"a2a/v1/mcp/clients/scout/responses\"}}",
                i % 97
            ),
            Some(Box::new(Properties {
                response_topic: Some("a2a/v1/mcp/clients/scout/responses".into()),
                correlation_data: Some(call_id.clone().into_bytes()),
                ..Properties::default()
            })),
        )
    } else {
        (
            "a2a/v1/mcp/clients/scout/responses".to_owned(),
            format!(
                "{{\"call_id\":\"{call_id}\",\"status\":\"ok\",\"result\":{{\"temp\":21.5,\"unit\":\"C\"}},\"elapsed_ms\":{}}}",
                i % 900
            ),
            Some(Box::new(Properties {
                correlation_data: Some(call_id.into_bytes()),
                ..Properties::default()
            })),
        )
    };
    RawMessage {
        received_at_nanos: 1_800_000_000_000_000_000 + i * 100_000,
        topic: topic.into_bytes().into_boxed_slice(),
        payload: Arc::from(payload.into_bytes()),
        qos: 1,
        retain: false,
        dup: false,
        properties: props,
    }
}

fn capture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/peers-mesh/capture.jsonl")
}

/// The peers-mesh capture (real SDK traffic, every MQTT 5 property the peers send).
fn capture() -> Vec<RawMessage> {
    let file = std::fs::File::open(capture_path()).expect("peers-mesh capture");
    meshscope::record::read_jsonl(std::io::BufReader::new(file))
        .filter_map(Result::ok)
        .collect()
}

/// The capture repeated to the `i`-th message, shifted in time by whole capture periods and
/// with its correlation data made unique per round (so pairing sees fresh calls, as live).
fn capture_message(capture: &[RawMessage], period_nanos: u64, i: u64) -> RawMessage {
    let round = i / capture.len() as u64;
    let mut raw = capture[(i % capture.len() as u64) as usize].clone();
    raw.received_at_nanos += round * period_nanos;
    raw.payload = Arc::from(raw.payload.to_vec());
    if let Some(props) = raw.properties.as_deref_mut()
        && let Some(data) = props.correlation_data.as_mut()
    {
        data.extend_from_slice(format!("#{round}").as_bytes());
    }
    raw
}

fn capture_period_nanos(capture: &[RawMessage]) -> u64 {
    let first = capture
        .iter()
        .map(|m| m.received_at_nanos)
        .min()
        .unwrap_or(0);
    let last = capture
        .iter()
        .map(|m| m.received_at_nanos)
        .max()
        .unwrap_or(0);
    last - first + 1_000_000_000
}

struct Overhead {
    heap_total: f64,
    heap_per_message: f64,
    rss_per_message: f64,
    accounted_per_message: f64,
    topics_average: f64,
    payloads_average: f64,
    push_nanos: f64,
}

/// Pushes `count` messages made by `make` into a store with no caps and measures what it holds
/// beyond the payloads: the heap the allocator counts, the RSS, and the store's own accounting.
fn store_overhead(count: u64, make: &dyn Fn(u64) -> RawMessage) -> Overhead {
    let mut store = MessageStore::new(StoreLimits {
        max_messages: usize::MAX,
        max_bytes: usize::MAX,
    });
    let mut payload_bytes = 0u64;
    let mut topic_bytes = 0u64;
    let heap_before = live_heap();
    let rss_before = status_kib("VmRSS:");
    let mut push_time = Duration::ZERO;
    for i in 0..count {
        // Made here, one at a time: what the store keeps of it is all that stays allocated.
        let raw = make(i);
        payload_bytes += raw.payload.len() as u64;
        topic_bytes += raw.topic.len() as u64;
        let pushed = Instant::now();
        store.push(raw, Default::default());
        push_time += pushed.elapsed();
    }
    let heap = (live_heap() - heap_before) as f64;
    let rss = (status_kib("VmRSS:").saturating_sub(rss_before) * 1024) as f64;
    let accounted = store.counters().stored_bytes as f64;
    let n = count as f64;
    let payloads = payload_bytes as f64;
    let result = Overhead {
        heap_total: heap,
        heap_per_message: (heap - payloads) / n,
        rss_per_message: (rss - payloads) / n,
        accounted_per_message: (accounted - payloads) / n,
        topics_average: topic_bytes as f64 / n,
        push_nanos: push_time.as_nanos() as f64 / n,
        payloads_average: payloads / n,
    };
    drop(store);
    result
}

/// The whole model (store + mesh): the heap it holds beyond payloads, and the mesh's share
/// (the model's heap minus `store_heap`, what the store alone held for the same messages).
fn model_overhead(count: u64, make: &dyn Fn(u64) -> RawMessage, store_heap: f64) -> MeshFigures {
    let mut model = Model::new(ModelConfig {
        store: StoreLimits {
            max_messages: usize::MAX,
            max_bytes: usize::MAX,
        },
        ..ModelConfig::default()
    });
    let mut payload_bytes = 0u64;
    let heap_before = live_heap();
    for i in 0..count {
        let raw = make(i);
        payload_bytes += raw.payload.len() as u64;
        model.apply_message(raw);
    }
    let heap = (live_heap() - heap_before) as f64;
    let traces = model.mesh.trace_count();
    let per_message = (heap - payload_bytes as f64) / count as f64;
    // What is not the store is the mesh (traces, index, presence, stats).
    let mesh_heap = heap - store_heap;
    let result = MeshFigures {
        per_message,
        mesh_per_trace: mesh_heap / traces.max(1) as f64,
        traces,
        mesh_heap,
        mesh_estimate: mesh_estimate(&model),
    };
    drop(model);
    result
}

struct MeshFigures {
    per_message: f64,
    mesh_per_trace: f64,
    traces: usize,
    mesh_heap: f64,
    mesh_estimate: Option<f64>,
}

fn mesh_estimate(model: &Model) -> Option<f64> {
    Some(model.mesh_bytes_estimate() as f64)
}

fn overhead_part() {
    const N: u64 = 1_000_000;
    let synthetic = |i| message(i);
    let capture = capture();
    let period = capture_period_nanos(&capture);
    let real = |i| capture_message(&capture, period, i);
    for (name, make) in [
        ("MCP calls", &synthetic as &dyn Fn(u64) -> RawMessage),
        ("peers-mesh capture", &real),
    ] {
        let o = store_overhead(N, make);
        println!(
            "| bytes per stored message beyond payload, store, {name} | {:.0} B heap ({:.0} B RSS) | store accounts {:.0} B ({:+.1} % of heap); topics average {:.0} B, payloads {:.0} B; {:.0} ns a push | <= 250 B |",
            o.heap_per_message,
            o.rss_per_message,
            o.accounted_per_message,
            (o.accounted_per_message - o.heap_per_message)
                / (o.heap_per_message + o.payloads_average)
                * 100.0,
            o.topics_average,
            o.payloads_average,
            o.push_nanos,
        );
        let f = model_overhead(N, make, o.heap_total);
        println!(
            "| bytes per stored message beyond payload, store + mesh, {name} | {:.0} B heap | {} traces, mesh {:.0} MiB ({:.0} B per trace){} | |",
            f.per_message,
            f.traces,
            f.mesh_heap / 1048576.0,
            f.mesh_per_trace,
            f.mesh_estimate.map_or(String::new(), |e| format!(
                "; the model estimates it {:.0} MiB ({:+.0} %)",
                e / 1048576.0,
                (e - f.mesh_heap) / f.mesh_heap * 100.0
            )),
        );
    }
}

/// Writes the capture repeated to `count` messages as a Meshscope recording.
fn write_recording(path: &Path, count: u64) {
    let capture = capture();
    let period = capture_period_nanos(&capture);
    let first = capture.iter().map(|m| m.received_at_nanos).min();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create recording"));
    meshscope::record::write_header(
        &meshscope::record::RecordingHeader::new(first, None),
        &mut out,
    )
    .expect("write");
    for i in 0..count {
        meshscope::record::write_line(&capture_message(&capture, period, i), &mut out, i + 1)
            .expect("write");
    }
    out.flush().expect("flush");
}

/// Opens a recording of `MESHSCOPE_OPEN_MESSAGES` messages (in this process, which the parent
/// started for a clean peak RSS) with the model's default budget and prints time and memory.
fn open_part_child(path: &Path, count: u64) {
    let mut config = ModelConfig::default();
    if let Some(budget_mib) = std::env::var("MESHSCOPE_BENCH_BUDGET_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        config.store.max_bytes = budget_mib * 1024 * 1024;
    }
    let budget = config.store.max_bytes as u64;
    let hwm_before = status_kib("VmHWM:");
    let heap_before = live_heap();
    let model = SharedModel::new(config);
    let started = Instant::now();
    let cpu_before = cpu_secs();
    let player = Player::open(path, model.clone(), None).expect("open the recording");
    let (status, ready) = player.wait_for(Duration::from_secs(3600), |s| s.is_ready());
    let open_secs = started.elapsed().as_secs_f64();
    let open_cpu_secs = cpu_secs() - cpu_before;
    assert!(ready, "{status:?}");
    let hwm = status_kib("VmHWM:");
    let peak_heap = PEAK_HEAP_BYTES.load(Ordering::Relaxed) as i64;
    let heap = live_heap() - heap_before;
    let m = model.lock();
    let c = m.store.counters();
    println!(
        "| open a {count}-message recording ({:.0} MiB), budget {:.0} MiB | {open_secs:.1} s ({:.0} k msg/s; {open_cpu_secs:.1} s CPU), peak RSS {:.0} MiB (before {:.0} MiB) | model heap {:.0} MiB (peak heap {:.0} MiB); store {} messages, {:.0} MiB accounted, {} evicted; {} traces | peak RSS <= budget: {} |",
        mib(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)),
        mib(budget),
        count as f64 / open_secs / 1000.0,
        hwm as f64 / 1024.0,
        hwm_before as f64 / 1024.0,
        mib(heap.max(0) as u64),
        mib(peak_heap.max(0) as u64),
        c.stored_messages,
        mib(c.stored_bytes as u64),
        c.evicted_messages,
        m.mesh.trace_count(),
        hwm * 1024 <= budget,
    );
    assert_eq!(m.messages_total, count, "every message was applied");
}

fn open_part() {
    let count: u64 = std::env::var("MESHSCOPE_OPEN_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let path =
        std::env::temp_dir().join(format!("meshscope-bench-open-{}.jsonl", std::process::id()));
    write_recording(&path, count);
    let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env("MESHSCOPE_MEMORY_PART", "open-child")
        .env("MESHSCOPE_OPEN_PATH", &path)
        .env("MESHSCOPE_OPEN_MESSAGES", count.to_string())
        .status();
    let _ = std::fs::remove_file(&path);
    assert!(status.is_ok_and(|s| s.success()), "the open part failed");
}

/// One flood in this (child) process: `MESHSCOPE_FLOOD_BROKER=embedded` runs the broker in
/// this process (as the demo does), `mosquitto` uses an external one (RSS is then Meshscope's
/// and the publisher's alone).
fn flood_child() {
    let secs: u64 = std::env::var("MESHSCOPE_FLOOD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let budget_mib: usize = std::env::var("MESHSCOPE_FLOOD_BUDGET_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    meshscope::mqtt::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let external = std::env::var("MESHSCOPE_FLOOD_BROKER").as_deref() == Ok("mosquitto");
    let (broker, mut mosquitto, port) = if external {
        let (child, port) = start_mosquitto().expect("mosquitto starts");
        (None, Some(child), port)
    } else {
        let broker = runtime
            .block_on(EmbeddedBroker::start(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                0,
            ))))
            .expect("broker");
        let port = broker.local_addr().port();
        (Some(broker), None, port)
    };
    let model = SharedModel::new(ModelConfig {
        store: StoreLimits {
            max_messages: usize::MAX,
            max_bytes: budget_mib * 1024 * 1024,
        },
        ..ModelConfig::default()
    });
    let (events, receiver) = ingest::channel();
    // As the app runs it.
    let _ingest = ingest::spawn_thread(model.clone(), receiver, None, None).expect("ingest thread");
    let _session = mqtt::spawn(
        runtime.handle(),
        SessionOptions::new(format!("mqtt://127.0.0.1:{port}").parse().expect("url")),
        events,
    );
    let baseline_kib = status_kib("VmRSS:");
    let started = Instant::now();
    runtime.block_on(async {
        let mut options = MqttOptions::new("memory-flood", "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_outgoing_inflight_upper_limit(100);
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        let driver = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        let mut i = 0u64;
        while started.elapsed() < Duration::from_secs(secs) {
            let m = message(i);
            if client
                .publish(
                    String::from_utf8_lossy(&m.topic).into_owned(),
                    QoS::AtMostOnce,
                    false,
                    m.payload.to_vec(),
                )
                .await
                .is_err()
            {
                break;
            }
            i += 1;
        }
        let _ = client.disconnect().await;
        driver.abort();
    });
    let m = model.lock();
    let c = m.store.counters();
    println!(
        "| {secs} s flood through {}, budget {budget_mib} MiB | peak RSS {} MiB (baseline {} MiB) | {} received, {} stored ({} MiB), mesh ~{} MiB, {} evicted | model within budget: {}; peak RSS within budget: {} |",
        if external {
            "mosquitto"
        } else {
            "the embedded broker, in this process"
        },
        status_kib("VmHWM:") / 1024,
        baseline_kib / 1024,
        m.messages_total,
        c.stored_messages,
        c.stored_bytes / 1024 / 1024,
        m.mesh_bytes_estimate() / 1024 / 1024,
        c.evicted_messages,
        m.memory_bytes() <= budget_mib * 1024 * 1024,
        status_kib("VmHWM:") * 1024 <= (budget_mib * 1024 * 1024) as u64,
    );
    drop(m);
    if let Some(broker) = broker {
        runtime.block_on(broker.shutdown());
    }
    if let Some(child) = &mut mosquitto {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The flood through each broker, each in its own child process (its peak RSS its own).
fn flood_part() {
    let mut brokers = vec!["embedded"];
    if which("mosquitto").is_some() {
        brokers.insert(0, "mosquitto");
    }
    for broker in brokers {
        let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .env("MESHSCOPE_MEMORY_PART", "flood-child")
            .env("MESHSCOPE_FLOOD_BROKER", broker)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "the {broker} flood failed"
        );
    }
}

fn which(binary: &str) -> Option<String> {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| format!("{dir}/{binary}"))
        .find(|p| std::path::Path::new(p).exists())
}

/// mosquitto on a free loopback port (no persistence), as `benches/ingest_flood.rs` runs it.
fn start_mosquitto() -> Option<(std::process::Child, u16)> {
    let binary = which("mosquitto")?;
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()?;
    let dir = std::env::temp_dir().join(format!("meshscope-memory-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .ok()?;
    let child = std::process::Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Some((child, port));
        }
        // Polling a port that is not open yet: nothing to wait on.
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn main() {
    // As the app does first thing (`src/main.rs`).
    meshscope::allocator::limit_arenas();
    let part = std::env::var("MESHSCOPE_MEMORY_PART").unwrap_or_default();
    if part == "flood-child" {
        flood_child();
        return;
    }
    if part == "open-child" {
        let path = PathBuf::from(std::env::var_os("MESHSCOPE_OPEN_PATH").expect("path"));
        let count = std::env::var("MESHSCOPE_OPEN_MESSAGES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        open_part_child(&path, count);
        return;
    }
    println!("| measure | figure | detail | budget |");
    println!("| --- | --- | --- | --- |");
    if part.is_empty() || part == "overhead" {
        overhead_part();
    }
    if part.is_empty() || part == "open" {
        open_part();
    }
    if part.is_empty() || part == "flood" {
        flood_part();
    }
}
