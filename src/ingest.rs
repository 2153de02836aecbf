//! The decode -> apply pump shared by the GUI, headless and replay modes; never waits for a frame.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::model::{Model, ModelConfig};
use crate::protocol::SessionEvent;

/// Capacity of the session -> ingest channel. Full means backpressure on the socket, never a silent drop.
pub const EVENT_CHANNEL_CAPACITY: usize = 65_536;

/// Events applied under one lock; bounds how long a frame may wait for the model.
const MAX_BATCH: usize = 2_048;

/// How often time advances without messages (timeouts, stale presence).
const TICK_INTERVAL: Duration = Duration::from_millis(250);

/// The model shared between ingest (writer) and the views (readers). Locks are short.
#[derive(Clone)]
pub struct SharedModel(Arc<Mutex<Model>>);

impl SharedModel {
    pub fn new(config: ModelConfig) -> Self {
        SharedModel(Arc::new(Mutex::new(Model::new(config))))
    }

    /// Locks the model; a panic elsewhere while holding it does not make the data unreadable.
    pub fn lock(&self) -> MutexGuard<'_, Model> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Called after each applied batch (the GUI passes a repaint request; headless passes nothing).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

pub fn channel() -> (mpsc::Sender<SessionEvent>, mpsc::Receiver<SessionEvent>) {
    mpsc::channel(EVENT_CHANNEL_CAPACITY)
}

/// Applies a batch of events under one lock.
pub fn apply_batch(model: &SharedModel, batch: &mut Vec<SessionEvent>) {
    if batch.is_empty() {
        return;
    }
    let mut guard = model.lock();
    for event in batch.drain(..) {
        guard.apply_event(event);
    }
}

/// Runs until every sender is gone. Spawn it on the runtime: `runtime.spawn(run(...))`.
pub async fn run(
    model: SharedModel,
    mut events: mpsc::Receiver<SessionEvent>,
    notify: Option<Notify>,
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
                apply_batch(&model, &mut batch);
                if let Some(notify) = &notify {
                    notify();
                }
            }
            _ = ticker.tick() => {
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
    model.lock().tick(crate::now_nanos());
}
