//! The decode -> apply pump shared by the GUI, headless and replay modes; never waits for a frame.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::model::{Model, ModelConfig};
use crate::protocol::SessionEvent;
use crate::record::recorder::RecorderTap;

/// Capacity of the session -> ingest channel. Full means backpressure on the socket, never a silent drop.
/// Four batches: enough slack to keep ingest busy, and only ~4 MiB of small messages waiting
/// outside the memory budget in a flood (65 536 held ~28 MiB there).
pub const EVENT_CHANNEL_CAPACITY: usize = 8_192;

/// Events applied under one lock; bounds how long a frame may wait for the model.
const MAX_BATCH: usize = 2_048;

/// How often time advances without messages (timeouts, stale presence).
const TICK_INTERVAL: Duration = Duration::from_millis(250);

/// The model shared between ingest (writer) and the views (readers), with the clock it is
/// seen by. Locks are short.
#[derive(Clone)]
pub struct SharedModel {
    model: Arc<Mutex<Model>>,
    clock: Clock,
}

impl SharedModel {
    pub fn new(config: ModelConfig) -> Self {
        SharedModel {
            model: Arc::new(Mutex::new(Model::new(config))),
            clock: Clock::default(),
        }
    }

    /// Locks the model; a panic elsewhere while holding it does not make the data unreadable.
    pub fn lock(&self) -> MutexGuard<'_, Model> {
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The time the model is seen at: the wall clock live, the replay position during a replay.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// "Now" for the views and the ticker. Live it is the receive clock ([`crate::now_nanos`]);
/// while a recording is open it is the replay position, so timeouts, staleness and sliding
/// windows behave as they did when the messages arrived.
#[derive(Clone, Default, Debug)]
pub struct Clock(Arc<AtomicU64>);

/// The value of a live clock (a replay position is never 0: that would be 1970).
const LIVE: u64 = 0;

impl Clock {
    pub fn now_nanos(&self) -> u64 {
        match self.0.load(Ordering::Acquire) {
            LIVE => crate::now_nanos(),
            position => position,
        }
    }

    /// The replay position, or `None` when live.
    pub fn replay_position_nanos(&self) -> Option<u64> {
        match self.0.load(Ordering::Acquire) {
            LIVE => None,
            position => Some(position),
        }
    }

    pub fn is_replay(&self) -> bool {
        self.replay_position_nanos().is_some()
    }

    /// Switches to (or moves) the replay position.
    pub fn set_replay_position(&self, at_nanos: u64) {
        self.0.store(at_nanos.max(1), Ordering::Release);
    }

    /// Back to the wall clock.
    pub fn set_live(&self) {
        self.0.store(LIVE, Ordering::Release);
    }
}

/// Called after each applied batch (the GUI passes a repaint request; headless passes nothing).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

pub fn channel() -> (mpsc::Sender<SessionEvent>, mpsc::Receiver<SessionEvent>) {
    mpsc::channel(EVENT_CHANNEL_CAPACITY)
}

/// Longest stretch ingest holds the model lock: a frame that wants the model waits at most
/// about this long, however big the batch and however slow the machine.
pub const MAX_LOCK_HOLD: Duration = Duration::from_millis(2);
/// Events applied between looks at the clock.
const EVENTS_PER_CLOCK_CHECK: usize = 64;

/// Applies a batch of events, under one lock unless that would hold it over [`MAX_LOCK_HOLD`]:
/// then the lock is let go between events for the window to take.
pub fn apply_batch(model: &SharedModel, batch: &mut Vec<SessionEvent>) {
    if batch.is_empty() {
        return;
    }
    let mut guard = model.lock();
    let mut held_since = std::time::Instant::now();
    for (i, event) in batch.drain(..).enumerate() {
        guard.apply_event(event);
        if i % EVENTS_PER_CLOCK_CHECK == EVENTS_PER_CLOCK_CHECK - 1
            && held_since.elapsed() >= MAX_LOCK_HOLD
        {
            drop(guard);
            std::thread::yield_now();
            guard = model.lock();
            held_since = std::time::Instant::now();
        }
    }
}

/// [`run_with`] on a thread of its own (with its own single-threaded runtime), so decoding
/// and applying never take a worker from the session, the embedded broker or the demo mesh on
/// the shared runtime. Ends when every sender is gone.
pub fn spawn_thread(
    model: SharedModel,
    events: mpsc::Receiver<SessionEvent>,
    notify: Option<Notify>,
    recorder: Option<RecorderTap>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("meshscope-ingest".into())
        .spawn(move || runtime.block_on(run_with(model, events, notify, recorder)))
}

/// Runs until every sender is gone. Spawn it on the runtime: `runtime.spawn(run(...))`.
pub async fn run(model: SharedModel, events: mpsc::Receiver<SessionEvent>, notify: Option<Notify>) {
    run_with(model, events, notify, None).await;
}

/// [`run`], with a recorder tap: while a recording runs, every received message is offered
/// to it before decoding (it never waits for the disk).
///
/// While the model's clock is a replay position (a recording is open) live events are not
/// applied and time does not tick here: the player owns the model then.
pub async fn run_with(
    model: SharedModel,
    mut events: mpsc::Receiver<SessionEvent>,
    notify: Option<Notify>,
    recorder: Option<RecorderTap>,
) {
    let mut ticker = tokio::time::interval(TICK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            received = events.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    break;
                }
                if let Some(recorder) = &recorder {
                    recorder.offer_batch(&batch);
                }
                if model.clock().is_replay() {
                    batch.clear();
                    continue;
                }
                apply_batch(&model, &mut batch);
                if let Some(notify) = &notify {
                    notify();
                }
            }
            _ = ticker.tick() => {
                if model.clock().is_replay() {
                    continue;
                }
                let changed = {
                    let mut guard = model.lock();
                    let before = guard.revision();
                    guard.tick(crate::now_nanos());
                    before != guard.revision()
                };
                if changed && let Some(notify) = &notify {
                    notify();
                }
            }
        }
    }
    if !model.clock().is_replay() {
        model.lock().tick(crate::now_nanos());
    }
}
