//! The raw view's list of matching messages: a plain range when nothing is filtered, else
//! sequence numbers in fixed-size chunks (growing never copies), filled a bounded slice per frame.

use std::collections::VecDeque;

use crate::model::Model;
use crate::model::topic_filter::TopicFilter;

/// Sequence numbers per chunk of a filtered list.
const CHUNK_SEQS: usize = 4_096;
/// Stored messages a frame looks at, at most, when filling a filtered list (~5 ms of work
/// is ~400 000 topics; this keeps a frame's share near 1 ms).
pub const SCAN_PER_FRAME: usize = 100_000;

/// Which stored messages the table shows, oldest first.
#[derive(Debug)]
pub struct Matches {
    filter: TopicFilter,
    /// Unfiltered: every stored message, `first_seq..end_seq` (nothing to keep).
    everything: Option<(u64, u64)>,
    /// Filtered: the matching sequence numbers; every chunk but the last is full.
    chunks: VecDeque<Vec<u64>>,
    /// Entries of the first chunk already dropped (evicted from the store).
    head: usize,
    len: usize,
    /// The next stored message to look at.
    scanned_to_seq: u64,
    /// The scan has reached the newest stored message.
    caught_up: bool,
}

impl Matches {
    pub fn new(filter: TopicFilter) -> Matches {
        Matches {
            everything: matches!(filter, TopicFilter::All).then_some((0, 0)),
            filter,
            chunks: VecDeque::new(),
            head: 0,
            len: 0,
            scanned_to_seq: 0,
            caught_up: true,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the list covers every stored message (a filtered scan may take a few frames).
    pub fn is_caught_up(&self) -> bool {
        self.caught_up
    }

    /// The sequence number of the `index`-th match.
    pub fn get(&self, index: usize) -> Option<u64> {
        if index >= self.len {
            return None;
        }
        if let Some((first, _)) = self.everything {
            return Some(first + index as u64);
        }
        let at = self.head + index;
        self.chunks
            .get(at / CHUNK_SEQS)?
            .get(at % CHUNK_SEQS)
            .copied()
    }

    /// Where `seq` is in the list, if it matches.
    pub fn position(&self, seq: u64) -> Option<usize> {
        if let Some((first, end)) = self.everything {
            return (first..end).contains(&seq).then(|| (seq - first) as usize);
        }
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid) {
                Some(s) if s < seq => low = mid + 1,
                _ => high = mid,
            }
        }
        (self.get(low) == Some(seq)).then_some(low)
    }

    /// Brings the list up to date with the store: drops evicted messages, looks at up to
    /// `max_scan` new ones.
    pub fn refresh(&mut self, model: &Model, max_scan: usize) {
        let (first, next) = (model.store.first_seq(), model.store.next_seq());
        if let Some(range) = &mut self.everything {
            *range = (first, next.max(first));
            self.len = (range.1 - range.0) as usize;
            self.caught_up = true;
            return;
        }
        while self.get(0).is_some_and(|s| s < first) {
            self.head += 1;
            self.len -= 1;
            if self.head == CHUNK_SEQS || self.len == 0 {
                self.chunks.pop_front();
                self.head = 0;
            }
        }
        let from = self.scanned_to_seq.max(first);
        let mut scanned = 0;
        let mut last_seen = None;
        for message in model.store.iter_from(from).take(max_scan) {
            scanned += 1;
            last_seen = Some(message.seq);
            if self.filter.matches(&message.raw.topic_lossy()) {
                self.push(message.seq);
            }
        }
        self.scanned_to_seq = last_seen.map_or(from, |s| s + 1);
        self.caught_up = scanned < max_scan || self.scanned_to_seq >= next;
    }

    fn push(&mut self, seq: u64) {
        match self.chunks.back_mut() {
            Some(chunk) if chunk.len() < CHUNK_SEQS => chunk.push(seq),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_SEQS);
                chunk.push(seq);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, StoreLimits};
    use crate::protocol::RawMessage;
    use std::sync::Arc;

    fn model_with(topics: &[&str], max_messages: usize) -> Model {
        let mut model = Model::new(ModelConfig {
            store: StoreLimits {
                max_messages,
                max_bytes: 64 << 20,
            },
            ..ModelConfig::default()
        });
        for (i, topic) in topics.iter().enumerate() {
            model.apply_message(RawMessage {
                received_at_nanos: 1_000 + i as u64,
                topic: Box::from(topic.as_bytes()),
                payload: Arc::from(&b"x"[..]),
                qos: 0,
                retain: false,
                dup: false,
                properties: None,
            });
        }
        model
    }

    #[test]
    fn unfiltered_is_the_stored_range_and_follows_eviction() {
        let topics: Vec<String> = (0..50).map(|i| format!("t/{i}")).collect();
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let model = model_with(&refs, 20);
        let mut matches = Matches::new(TopicFilter::All);
        matches.refresh(&model, 1);
        assert!(matches.is_caught_up());
        assert_eq!(matches.len(), 20);
        assert_eq!(matches.get(0), Some(30));
        assert_eq!(matches.get(19), Some(49));
        assert_eq!(matches.get(20), None);
        assert_eq!(matches.position(35), Some(5));
        assert_eq!(matches.position(29), None);
    }

    #[test]
    fn filtered_lists_fill_in_slices_span_chunks_and_drop_evicted() {
        // 3 chunks' worth of matches, every other message.
        let topics: Vec<String> = (0..(3 * CHUNK_SEQS + 100) * 2)
            .map(|i| {
                if i % 2 == 0 {
                    format!("keep/{i}")
                } else {
                    format!("other/{i}")
                }
            })
            .collect();
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let mut model = model_with(&refs, usize::MAX);
        let mut matches = Matches::new(TopicFilter::parse("keep/#"));
        let mut frames = 0;
        loop {
            matches.refresh(&model, 1_000);
            frames += 1;
            if matches.is_caught_up() {
                break;
            }
        }
        assert!(frames >= topics.len() / 1_000, "{frames} slices");
        assert_eq!(matches.len(), 3 * CHUNK_SEQS + 100);
        for index in [
            0,
            1,
            CHUNK_SEQS - 1,
            CHUNK_SEQS,
            2 * CHUNK_SEQS + 7,
            matches.len() - 1,
        ] {
            let seq = matches.get(index).unwrap();
            assert_eq!(seq, 2 * index as u64);
            assert_eq!(matches.position(seq), Some(index));
        }
        assert_eq!(matches.position(1), None, "a non-matching message");

        // Evict the oldest 2 * CHUNK_SEQS + 10 messages: their matches go, the rest keep order.
        let mut small = Matches::new(TopicFilter::parse("keep/#"));
        let mut limits = model.store.limits();
        limits.max_messages = topics.len() - (2 * CHUNK_SEQS + 10);
        model.store.set_limits(limits);
        small.refresh(&model, usize::MAX);
        matches.refresh(&model, usize::MAX);
        assert_eq!(matches.len(), small.len());
        for index in 0..matches.len() {
            assert_eq!(matches.get(index), small.get(index));
        }
        assert_eq!(matches.get(0), Some(2 * CHUNK_SEQS as u64 + 10));
    }
}
