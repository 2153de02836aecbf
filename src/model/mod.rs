//! Pure state, no GUI and no clock: the message store, the mesh (presence, traces, stats) and the session log.

pub mod mesh;
pub mod session_log;
pub mod store;
pub mod topic_filter;

use crate::protocol::{RawMessage, SessionEvent};

pub use mesh::{Mesh, MeshConfig, MessageTag};
pub use session_log::SessionLog;
pub use store::{MessageStore, StoreCounters, StoreLimits, StoredMessage};

/// Limits and timeouts of a model, from the command line or settings.
#[derive(Debug, Clone, Default)]
pub struct ModelConfig {
    pub store: StoreLimits,
    pub mesh: MeshConfig,
}

/// Everything Meshscope knows about what it observed. Ingest writes, views read.
#[derive(Debug)]
pub struct Model {
    pub store: MessageStore,
    pub mesh: Mesh,
    pub session: SessionLog,
    /// Messages that reached the model (stored or evicted since).
    pub messages_total: u64,
    /// Messages lost before reaching the model (e.g. a full channel); counted, never silent.
    pub messages_dropped: u64,
    rate: RateMeter,
    revision: u64,
}

impl Model {
    pub fn new(config: ModelConfig) -> Self {
        Model {
            store: MessageStore::new(config.store),
            mesh: Mesh::new(config.mesh),
            session: SessionLog::default(),
            messages_total: 0,
            messages_dropped: 0,
            rate: RateMeter::default(),
            revision: 0,
        }
    }

    /// Bumps whenever anything a view shows may have changed.
    pub fn revision(&self) -> u64 {
        self.revision.wrapping_add(self.mesh.revision())
    }

    pub fn apply_event(&mut self, event: SessionEvent) {
        self.revision += 1;
        match event {
            SessionEvent::Message(raw) => self.apply_message(raw),
            other => self.session.record(other),
        }
    }

    pub fn apply_message(&mut self, raw: RawMessage) {
        self.revision += 1;
        self.messages_total += 1;
        self.rate.observe(raw.received_at_nanos);
        let tag = self.mesh.apply(&raw);
        self.store.push(raw, tag);
    }

    /// Advances time without a message: timeouts, stale presence, the rate meter.
    pub fn tick(&mut self, now_nanos: u64) {
        self.rate.observe_time(now_nanos);
        self.mesh.tick(now_nanos);
    }

    /// Messages per second over the last full second of receive time.
    pub fn messages_per_sec(&self) -> u64 {
        self.rate.per_sec()
    }
}

/// Counts messages per whole second of receive time; reports the last complete second.
#[derive(Debug, Default)]
struct RateMeter {
    current_sec: u64,
    current_count: u64,
    last_count: u64,
}

impl RateMeter {
    fn observe(&mut self, at_nanos: u64) {
        self.observe_time(at_nanos);
        self.current_count += 1;
    }

    fn observe_time(&mut self, at_nanos: u64) {
        let sec = at_nanos / 1_000_000_000;
        if sec > self.current_sec {
            self.last_count = if sec == self.current_sec + 1 {
                self.current_count
            } else {
                0
            };
            self.current_sec = sec;
            self.current_count = 0;
        }
    }

    fn per_sec(&self) -> u64 {
        self.last_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_reports_last_complete_second() {
        let mut rate = RateMeter::default();
        for i in 0..50 {
            rate.observe(10_000_000_000 + i * 10_000_000);
        }
        rate.observe_time(11_000_000_000);
        assert_eq!(rate.per_sec(), 50);
        rate.observe_time(13_000_000_000);
        assert_eq!(rate.per_sec(), 0);
    }
}
