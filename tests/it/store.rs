//! The store: the live pipeline (broker -> session -> ingest -> store) under a burst larger than its caps, and its byte accounting against the heap it really holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshscope::ingest::{self, SharedModel};
use meshscope::model::{MessageStore, MessageTag, Model, ModelConfig, StoreLimits};
use meshscope::mqtt::{self, SessionOptions};
use meshscope::protocol::{Dialect, RawMessage};
use rumqttc::v5::mqttbytes::QoS;

use crate::support::{self, PlainClient, WAIT};

/// Polls the shared model until `done` holds or the deadline passes (the model has no waiters).
fn wait_model(
    model: &SharedModel,
    deadline: Duration,
    mut done: impl FnMut(&meshscope::model::Model) -> bool,
) -> bool {
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if done(&model.lock()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done(&model.lock())
}

#[test]
fn store_caps_hold_under_a_burst_and_evictions_are_counted() {
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    let port = broker.local_addr().port();
    let cap_messages = 1_000;
    let model = SharedModel::new(ModelConfig {
        store: StoreLimits {
            max_messages: cap_messages,
            max_bytes: 400 * 1024,
        },
        ..ModelConfig::default()
    });
    let (events, receiver) = ingest::channel();
    runtime.spawn(ingest::run(model.clone(), receiver, None));
    let options = SessionOptions::new(format!("mqtt://127.0.0.1:{port}").parse().unwrap());
    let _session = mqtt::spawn(runtime.handle(), options, events);
    assert!(
        wait_model(&model, WAIT, |m| m
            .session
            .connected_since_nanos()
            .is_some()),
        "observer connected"
    );

    let burst = 5_000u64;
    let topic = support::unique("burst");
    runtime.block_on(async {
        let mut publisher = PlainClient::connect(port, &support::unique("pub")).await;
        for i in 0..burst {
            let payload = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(100));
            publisher
                .publish(
                    &format!("{topic}/{}", i % 7),
                    payload,
                    QoS::AtLeastOnce,
                    false,
                    None,
                )
                .await;
        }
        publisher.disconnect().await;
    });
    assert!(
        wait_model(&model, Duration::from_secs(30), |m| m.messages_total
            >= burst),
        "every message of the burst reached the model (got {})",
        model.lock().messages_total
    );
    let m = model.lock();
    let counters = m.store.counters();
    assert!(
        counters.stored_messages <= cap_messages,
        "count cap holds: {counters:?}"
    );
    assert!(
        counters.stored_bytes <= 400 * 1024,
        "byte cap holds: {counters:?}"
    );
    assert_eq!(
        counters.stored_messages as u64 + counters.evicted_messages,
        m.messages_total,
        "every message is either stored or counted as evicted"
    );
    assert!(counters.evicted_messages >= burst - cap_messages as u64);
    // The newest survive, the oldest went first.
    let newest = m.store.iter().next_back().expect("store not empty");
    assert!(
        newest
            .raw
            .payload_str()
            .unwrap_or("")
            .contains(&format!("\"n\":{}", burst - 1))
    );
    drop(m);
    runtime.block_on(broker.shutdown());
}

// ---------------------------------------------------------------------------------------------
// The store's byte accounting against the heap it really holds, counted by this binary's
// allocator (per thread, only while a test asks: the other tests run in parallel).

mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    unsafe extern "C" {
        /// glibc: the usable size of a block from `malloc` (its chunk less the 8-byte header).
        fn malloc_usable_size(ptr: *mut std::ffi::c_void) -> usize;
    }

    thread_local! {
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
    }

    /// What malloc spends on the block: its chunk, header and rounding included.
    fn spent(ptr: *mut u8) -> i64 {
        // SAFETY: `ptr` is a live block of the system allocator (glibc malloc).
        (unsafe { malloc_usable_size(ptr.cast()) } + 8) as i64
    }

    fn add(bytes: i64) {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
        }
    }

    pub struct ThreadCounting;

    unsafe impl GlobalAlloc for ThreadCounting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as is.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                add(spent(ptr));
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded as is.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                add(spent(ptr));
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            add(-spent(ptr));
            // SAFETY: forwarded as is.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let old = spent(ptr);
            // SAFETY: forwarded as is.
            let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
            if !new_ptr.is_null() {
                add(spent(new_ptr) - old);
            }
            new_ptr
        }
    }

    #[global_allocator]
    static ALLOCATOR: ThreadCounting = ThreadCounting;

    /// Heap this thread allocated and did not free while `f` ran (blocks it freed that were
    /// allocated before count negative).
    pub fn held_by<T>(f: impl FnOnce() -> T) -> (T, i64) {
        let before = LIVE_BYTES.with(Cell::get);
        COUNTING.with(|c| c.set(true));
        let out = f();
        COUNTING.with(|c| c.set(false));
        (out, LIVE_BYTES.with(Cell::get) - before)
    }
}

/// The peers-mesh capture (real SDK traffic: every MQTT 5 property the peers send).
fn capture() -> Vec<RawMessage> {
    let file = std::fs::File::open(crate::fixture::capture_path()).expect("capture");
    meshscope::record::read_jsonl(std::io::BufReader::new(file))
        .map(|m| m.expect("capture line"))
        .collect()
}

/// The capture's `i`-th message, repeated by rounds shifted in time, with fresh blocks (so
/// what the store keeps is allocated while counting) and correlation data unique per round.
fn capture_message(capture: &[RawMessage], i: usize) -> RawMessage {
    let round = (i / capture.len()) as u64;
    let mut raw = capture[i % capture.len()].clone();
    raw.received_at_nanos += round * 3_600_000_000_000;
    raw.payload = Arc::from(raw.payload.to_vec());
    if let Some(data) = raw
        .properties
        .as_deref_mut()
        .and_then(|p| p.correlation_data.as_mut())
    {
        data.extend_from_slice(format!("#{round}").as_bytes());
    }
    raw
}

fn note_tag(i: usize) -> MessageTag {
    MessageTag {
        dialect: Dialect::ALL[i % Dialect::ALL.len()],
        note: i
            .is_multiple_of(3)
            .then(|| format!("orphan response {}", i % 5).into_boxed_str()),
    }
}

#[test]
fn store_accounting_matches_the_heap_it_holds_and_stays_under_250_bytes_a_message() {
    let capture = capture();
    const MESSAGES: usize = 30_000;
    let mut payload_bytes = 0i64;
    let (store, heap) = heap::held_by(|| {
        let mut store = MessageStore::new(StoreLimits {
            max_messages: usize::MAX,
            max_bytes: usize::MAX,
        });
        for i in 0..MESSAGES {
            let raw = capture_message(&capture, i);
            payload_bytes += raw.payload.len() as i64;
            store.push(raw, note_tag(i));
        }
        store
    });
    let accounted = store.counters().stored_bytes as i64;
    let error = (accounted - heap) as f64 / heap as f64;
    eprintln!(
        "store: {MESSAGES} messages, heap {heap} B, accounted {accounted} B ({:+.2} %), {:.0} B a message beyond its payload",
        error * 100.0,
        (heap - payload_bytes) as f64 / MESSAGES as f64
    );
    assert!(
        error.abs() <= 0.03,
        "the store accounts {accounted} B for {heap} B of heap ({:+.1} %)",
        error * 100.0
    );
    let overhead = (heap - payload_bytes) / MESSAGES as i64;
    assert!(
        overhead <= 250,
        "{overhead} B a stored message beyond its payload (budget 250 B)"
    );

    // Evicting returns what was counted: a small cap leaves a small heap.
    let ((), freed) = heap::held_by(|| {
        let mut store = store;
        store.set_limits(StoreLimits {
            max_messages: usize::MAX,
            max_bytes: 1 << 20,
        });
        assert!(store.counters().stored_bytes <= 1 << 20);
        drop(store);
    });
    assert!(
        (freed + heap).abs() as f64 <= heap as f64 * 0.03,
        "dropping the store frees what it held ({freed} of {heap})"
    );
}

#[test]
fn model_with_its_mesh_stays_within_the_memory_budget() {
    let capture = capture();
    const BUDGET_BYTES: usize = 16 << 20;
    const MESSAGES: usize = 150_000;
    let ((model, largest_accounted), heap) = heap::held_by(|| {
        let mut model = Model::new(ModelConfig {
            store: StoreLimits {
                max_messages: usize::MAX,
                max_bytes: BUDGET_BYTES,
            },
            ..ModelConfig::default()
        });
        let mut largest_accounted = 0;
        for i in 0..MESSAGES {
            model.apply_message(capture_message(&capture, i));
            largest_accounted = largest_accounted.max(model.memory_bytes());
        }
        (model, largest_accounted)
    });
    let c = model.store.counters();
    let estimate = model.memory_bytes() as i64;
    eprintln!(
        "model: budget {BUDGET_BYTES} B, heap {heap} B, accounted {estimate} B (store {} B for {} messages, mesh estimate {} B for {} traces)",
        c.stored_bytes,
        c.stored_messages,
        model.mesh_bytes_estimate(),
        model.mesh.trace_count()
    );
    assert!(c.evicted_messages > 0, "the budget was reached: {c:?}");
    // A quarter of a budget this small is left to the rest of the process.
    assert!(
        largest_accounted <= BUDGET_BYTES * 3 / 4,
        "{largest_accounted}"
    );
    assert!(
        heap <= BUDGET_BYTES as i64,
        "the model holds {heap} B of heap, over its budget of {BUDGET_BYTES} B"
    );
    let error = (estimate - heap) as f64 / heap as f64;
    assert!(
        error.abs() <= 0.10,
        "the model accounts {estimate} B for {heap} B of heap ({:+.1} %)",
        error * 100.0
    );
}
