//! The observer session's history: connection states with their times, refused filters, failed commands.

use crate::protocol::{ConnectionState, SessionEvent};

/// At most this many entries are kept; older ones are dropped (counted).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionNote {
    State(ConnectionState),
    SubscribeRefused { filter: String, reason: String },
    CommandFailed { what: String, reason: String },
    Published { topic: String },
}

#[derive(Debug, Default)]
pub struct SessionLog {
    /// (receive-clock nanos, note), oldest first.
    entries: Vec<(u64, SessionNote)>,
    dropped_entries: u64,
    current: Option<ConnectionState>,
    connected_since_nanos: Option<u64>,
    published_count: u64,
}

impl SessionLog {
    pub fn record(&mut self, event: SessionEvent) {
        let (at_nanos, note) = match event {
            SessionEvent::Message(_) => return,
            SessionEvent::State { at_nanos, state } => {
                if matches!(state, ConnectionState::Connected { .. }) {
                    self.connected_since_nanos = Some(at_nanos);
                } else {
                    self.connected_since_nanos = None;
                }
                self.current = Some(state.clone());
                (at_nanos, SessionNote::State(state))
            }
            SessionEvent::SubscribeRefused {
                at_nanos,
                filter,
                reason,
            } => (at_nanos, SessionNote::SubscribeRefused { filter, reason }),
            SessionEvent::CommandFailed {
                at_nanos,
                what,
                reason,
            } => (at_nanos, SessionNote::CommandFailed { what, reason }),
            SessionEvent::Published { at_nanos, topic } => {
                self.published_count += 1;
                (at_nanos, SessionNote::Published { topic })
            }
        };
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.remove(0);
            self.dropped_entries += 1;
        }
        self.entries.push((at_nanos, note));
    }

    pub fn current(&self) -> Option<&ConnectionState> {
        self.current.as_ref()
    }

    pub fn connected_since_nanos(&self) -> Option<u64> {
        self.connected_since_nanos
    }

    pub fn entries(&self) -> &[(u64, SessionNote)] {
        &self.entries
    }

    pub fn published_count(&self) -> u64 {
        self.published_count
    }

    /// Spans of receive time during which the session was not connected: (from, to or None if ongoing).
    pub fn gaps(&self) -> Vec<(u64, Option<u64>)> {
        let mut gaps = Vec::new();
        let mut open: Option<u64> = None;
        for (at, note) in &self.entries {
            if let SessionNote::State(state) = note {
                match state {
                    ConnectionState::Connected { .. } => {
                        if let Some(from) = open.take() {
                            gaps.push((from, Some(*at)));
                        }
                    }
                    ConnectionState::Disconnected { .. } | ConnectionState::Stopped { .. } => {
                        open.get_or_insert(*at);
                    }
                    ConnectionState::Connecting { .. } => {}
                }
            }
        }
        if let Some(from) = open {
            gaps.push((from, None));
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(at_nanos: u64, state: ConnectionState) -> SessionEvent {
        SessionEvent::State { at_nanos, state }
    }

    #[test]
    fn gaps_span_disconnects() {
        let mut log = SessionLog::default();
        let b = || "b".to_string();
        log.record(state(
            1,
            ConnectionState::Connecting {
                broker: b(),
                attempt: 1,
            },
        ));
        log.record(state(
            2,
            ConnectionState::Connected {
                broker: b(),
                client_id: "c".into(),
                connack: Default::default(),
            },
        ));
        log.record(state(
            5,
            ConnectionState::Disconnected {
                broker: b(),
                reason: "x".into(),
                retry_in_millis: Some(100),
            },
        ));
        log.record(state(
            7,
            ConnectionState::Connected {
                broker: b(),
                client_id: "c".into(),
                connack: Default::default(),
            },
        ));
        log.record(state(
            9,
            ConnectionState::Disconnected {
                broker: b(),
                reason: "y".into(),
                retry_in_millis: None,
            },
        ));
        assert_eq!(log.gaps(), vec![(5, Some(7)), (9, None)]);
        assert_eq!(log.connected_since_nanos(), None);
    }
}
