//! The bounded message store: every observed message once, capped by count and bytes, oldest evicted first.

use std::collections::VecDeque;

use crate::protocol::RawMessage;

use super::mesh::MessageTag;

/// One stored message with its decode tag; `seq` counts from 0 for the whole session.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub seq: u64,
    pub raw: RawMessage,
    pub tag: MessageTag,
}

impl StoredMessage {
    /// Bytes accounted to this message: its payload plus what the store spends beside it.
    pub fn accounted_bytes(&self) -> usize {
        self.raw.payload.len() + self.raw.overhead_bytes() + std::mem::size_of::<StoredMessage>()
            - std::mem::size_of::<RawMessage>()
            + self.tag.note.as_ref().map_or(0, |n| n.len())
    }
}

/// Caps of the store; whichever is reached first evicts the oldest messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_messages: usize,
    pub max_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_messages: 2_000_000,
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreCounters {
    pub stored_messages: usize,
    pub stored_bytes: usize,
    pub evicted_messages: u64,
    pub evicted_bytes: u64,
    /// Messages refused outright because one alone is larger than the byte cap.
    pub refused_messages: u64,
}

#[derive(Debug)]
pub struct MessageStore {
    limits: StoreLimits,
    messages: VecDeque<StoredMessage>,
    next_seq: u64,
    counters: StoreCounters,
}

impl MessageStore {
    pub fn new(limits: StoreLimits) -> Self {
        MessageStore {
            limits,
            messages: VecDeque::new(),
            next_seq: 0,
            counters: StoreCounters::default(),
        }
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: StoreLimits) {
        self.limits = limits;
        self.evict_to_fit(0);
    }

    /// Stores a message, evicting the oldest as needed; returns its sequence number.
    pub fn push(&mut self, raw: RawMessage, tag: MessageTag) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let message = StoredMessage { seq, raw, tag };
        let bytes = message.accounted_bytes();
        if bytes > self.limits.max_bytes {
            // Keeping it would evict everything else and still break the cap: count it instead.
            self.counters.refused_messages += 1;
            self.counters.evicted_messages += 1;
            self.counters.evicted_bytes += bytes as u64;
            return seq;
        }
        self.evict_to_fit(bytes);
        self.counters.stored_bytes += bytes;
        self.messages.push_back(message);
        self.counters.stored_messages = self.messages.len();
        seq
    }

    fn evict_to_fit(&mut self, incoming_bytes: usize) {
        while !self.messages.is_empty()
            && (self.messages.len() + usize::from(incoming_bytes > 0) > self.limits.max_messages
                || self.counters.stored_bytes + incoming_bytes > self.limits.max_bytes)
        {
            if let Some(old) = self.messages.pop_front() {
                let bytes = old.accounted_bytes();
                self.counters.stored_bytes -= bytes;
                self.counters.evicted_messages += 1;
                self.counters.evicted_bytes += bytes as u64;
            }
        }
        self.counters.stored_messages = self.messages.len();
    }

    pub fn counters(&self) -> StoreCounters {
        self.counters
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Sequence number the next message will get (= messages pushed so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Oldest sequence number still stored.
    pub fn first_seq(&self) -> u64 {
        self.messages.front().map_or(self.next_seq, |m| m.seq)
    }

    pub fn get(&self, seq: u64) -> Option<&StoredMessage> {
        let first = self.first_seq();
        if seq < first {
            return None;
        }
        let index = usize::try_from(seq - first).ok()?;
        self.messages.get(index).filter(|m| m.seq == seq)
    }

    /// Messages with `seq >= from_seq`, oldest first.
    pub fn iter_from(&self, from_seq: u64) -> impl Iterator<Item = &StoredMessage> {
        let skip = from_seq.saturating_sub(self.first_seq());
        self.messages
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &StoredMessage> {
        self.messages.iter()
    }

    pub fn clear(&mut self) {
        self.messages.clear();
        self.counters.stored_bytes = 0;
        self.counters.stored_messages = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Dialect;

    fn tag() -> MessageTag {
        MessageTag {
            dialect: Dialect::Raw,
            note: None,
        }
    }

    #[test]
    fn count_cap_evicts_oldest_and_counts() {
        let mut store = MessageStore::new(StoreLimits {
            max_messages: 3,
            max_bytes: usize::MAX,
        });
        for i in 0..5u64 {
            store.push(RawMessage::new(i, "t", vec![1u8; 10]), tag());
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.first_seq(), 2);
        assert_eq!(store.counters().evicted_messages, 2);
        assert_eq!(store.get(1).map(|m| m.seq), None);
        assert_eq!(store.get(4).map(|m| m.raw.received_at_nanos), Some(4));
        let seqs: Vec<u64> = store.iter_from(3).map(|m| m.seq).collect();
        assert_eq!(seqs, vec![3, 4]);
    }

    #[test]
    fn byte_cap_holds_and_oversized_message_is_refused_not_fatal() {
        let mut store = MessageStore::new(StoreLimits {
            max_messages: usize::MAX,
            max_bytes: 10_000,
        });
        for i in 0..100u64 {
            store.push(RawMessage::new(i, "a/b", vec![0u8; 900]), tag());
            assert!(store.counters().stored_bytes <= 10_000);
        }
        assert!(store.counters().evicted_messages > 80);
        store.push(RawMessage::new(100, "big", vec![0u8; 20_000]), tag());
        assert_eq!(store.counters().refused_messages, 1);
        assert!(
            !store.is_empty(),
            "refusing one huge message must not wipe the store"
        );
    }
}
