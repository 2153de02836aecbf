//! The bounded message store: every observed message once, compact, capped by count and by the heap it really holds, oldest evicted first.
//!
//! A message is kept as a [`StoredMessage`] of 88 bytes: its topic and decode note are shared
//! with every other message that has the same one (interned, and dropped from the intern table
//! with the last message using them), its MQTT 5 properties are one compact byte string decoded
//! on demand, and its sequence number is its position. Messages live in segments of
//! [`SEGMENT_SLOTS`], so the store grows without copying and holds at most two segments of slack.
//!
//! The bytes the store accounts are what the allocator really spends (see
//! [`allocation_bytes`]): slots by segment capacity, payload blocks, property encodings and the
//! intern tables. [`MessageStore::iter`] lends the stored messages; [`MessageStore::get`] and
//! [`MessageStore::iter_from`] lend a [`MessageRef`], which adds the sequence number and reads
//! like a [`RawMessage`].

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Arc;

use crate::protocol::raw::{allocation_bytes, arc_allocation_bytes, escape_invalid_utf8};
use crate::protocol::{Dialect, Properties, RawMessage};

use super::mesh::MessageTag;
use super::mesh::hash::FastSet;

/// Messages per segment: 88 KiB, under glibc's mmap threshold.
pub const SEGMENT_SLOTS: usize = 1024;

/// One message as the store keeps it.
#[derive(Debug)]
pub struct StoredMessage {
    pub raw: StoredRaw,
    pub tag: StoredTag,
}

/// Bytes of one stored message's slot in a segment.
pub const SLOT_BYTES: usize = std::mem::size_of::<StoredMessage>();

impl StoredMessage {
    /// Heap this message alone holds (its shared topic and note are the intern tables').
    fn heap_bytes(&self) -> usize {
        arc_allocation_bytes(self.raw.payload.len())
            + self
                .raw
                .properties
                .as_ref()
                .map_or(0, |p| allocation_bytes(p.len()))
    }

    /// Bytes accounted to this message: its slot, payload block and property encoding.
    pub fn accounted_bytes(&self) -> usize {
        SLOT_BYTES + self.heap_bytes()
    }
}

/// A stored message's MQTT side: [`RawMessage`]'s fields, with the topic shared and the
/// properties encoded (`props()` decodes them; `to_raw_message()` makes an owned copy).
#[derive(Debug)]
pub struct StoredRaw {
    pub received_at_nanos: u64,
    /// Topic bytes as delivered (may be non-UTF-8); shared by the messages on this topic.
    pub topic: Arc<[u8]>,
    pub payload: Arc<[u8]>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// `None`: the PUBLISH had no properties; else [`encode_properties`].
    properties: Option<Box<[u8]>>,
}

impl StoredRaw {
    /// The topic as UTF-8, or `None` when the broker delivered invalid UTF-8.
    pub fn topic_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.topic).ok()
    }

    /// The topic for display: valid UTF-8 as is, each invalid byte as `\xNN`.
    pub fn topic_lossy(&self) -> std::borrow::Cow<'_, str> {
        match std::str::from_utf8(&self.topic) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => std::borrow::Cow::Owned(escape_invalid_utf8(&self.topic)),
        }
    }

    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    /// Whether the PUBLISH carried properties (`props()` may still be empty).
    pub fn has_properties(&self) -> bool {
        self.properties.is_some()
    }

    /// The MQTT 5 properties, decoded (empty when there were none).
    pub fn props(&self) -> Properties {
        self.properties
            .as_deref()
            .map(decode_properties)
            .unwrap_or_default()
    }

    /// An owned copy, as the message was received.
    pub fn to_raw_message(&self) -> RawMessage {
        RawMessage {
            received_at_nanos: self.received_at_nanos,
            topic: Box::from(&*self.topic),
            payload: Arc::clone(&self.payload),
            qos: self.qos,
            retain: self.retain,
            dup: self.dup,
            properties: self
                .properties
                .as_deref()
                .map(|p| Box::new(decode_properties(p))),
        }
    }
}

/// What the raw view shows beside a stored message (the store's form of [`MessageTag`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTag {
    pub dialect: Dialect,
    /// Shared by the messages with the same note.
    pub note: Option<Arc<str>>,
}

impl StoredTag {
    pub fn to_message_tag(&self) -> MessageTag {
        MessageTag {
            dialect: self.dialect,
            note: self.note.as_deref().map(Box::from),
        }
    }
}

/// A stored message with its sequence number, lent by [`MessageStore::get`] and
/// [`MessageStore::iter_from`]. Cheap to make; `raw` reads like a [`RawMessage`].
#[derive(Debug)]
pub struct MessageRef<'a> {
    /// Counts from 0 for the whole session, in arrival order (= the mesh's message index).
    pub seq: u64,
    pub raw: RawRef<'a>,
    pub tag: &'a StoredTag,
    pub stored: &'a StoredMessage,
}

impl MessageRef<'_> {
    pub fn accounted_bytes(&self) -> usize {
        self.stored.accounted_bytes()
    }
}

/// A stored message's MQTT side, borrowed: [`RawMessage`]'s fields and methods without its
/// allocations. Where an API takes `&RawMessage`, `&message.raw` derefs to one: an owned copy
/// made (and allocated) on first use, dropped with this `RawRef`.
#[derive(Debug)]
pub struct RawRef<'a> {
    pub received_at_nanos: u64,
    pub topic: &'a [u8],
    pub payload: &'a Arc<[u8]>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    stored: &'a StoredRaw,
    owned: OnceCell<RawMessage>,
}

impl<'a> RawRef<'a> {
    fn new(stored: &'a StoredRaw) -> Self {
        RawRef {
            received_at_nanos: stored.received_at_nanos,
            topic: &stored.topic,
            payload: &stored.payload,
            qos: stored.qos,
            retain: stored.retain,
            dup: stored.dup,
            stored,
            owned: OnceCell::new(),
        }
    }

    pub fn topic_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.topic).ok()
    }

    pub fn topic_lossy(&self) -> std::borrow::Cow<'a, str> {
        self.stored.topic_lossy()
    }

    pub fn payload_str(&self) -> Option<&'a str> {
        self.stored.payload_str()
    }

    pub fn has_properties(&self) -> bool {
        self.stored.has_properties()
    }

    /// The MQTT 5 properties, decoded (empty when there were none).
    pub fn props(&self) -> Properties {
        self.stored.props()
    }

    pub fn to_raw_message(&self) -> RawMessage {
        self.stored.to_raw_message()
    }
}

impl std::ops::Deref for RawRef<'_> {
    type Target = RawMessage;

    /// For APIs that take `&RawMessage`: an owned copy, made once (allocates).
    fn deref(&self) -> &RawMessage {
        self.owned.get_or_init(|| self.stored.to_raw_message())
    }
}

/// Caps of the store; whichever is reached first evicts the oldest messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_messages: usize,
    /// The memory budget, in bytes. The [`Model`](super::Model) spends it on the store and the
    /// mesh together: the store gets what the mesh leaves ([`MessageStore::set_reserved_bytes`]).
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
    /// Heap the store holds, as the allocator spends it (slots, payloads, properties, intern
    /// tables); never above `max_bytes` minus the reserved bytes once a push returns.
    pub stored_bytes: usize,
    pub evicted_messages: u64,
    /// Bytes of the evicted messages (slot, payload block, properties).
    pub evicted_bytes: u64,
    /// Messages refused outright because one alone is larger than the byte cap.
    pub refused_messages: u64,
}

/// Shared values (topics, notes): one `Arc` per distinct value, dropped with its last user.
#[derive(Debug)]
struct Interner<T: ?Sized> {
    set: FastSet<Arc<T>>,
    /// The values' own blocks (the table is counted from its capacity).
    values_bytes: usize,
    /// Table size at which values no message uses any more are swept out.
    sweep_at_len: usize,
}

/// Smallest table that is swept.
const SWEEP_MIN_LEN: usize = 1024;

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            set: FastSet::default(),
            values_bytes: 0,
            sweep_at_len: SWEEP_MIN_LEN,
        }
    }
}

impl<T> Interner<T>
where
    T: ?Sized + Eq + Hash,
    for<'v> Arc<T>: From<&'v T>,
{
    fn intern(&mut self, value: &T) -> Arc<T> {
        if let Some(shared) = self.set.get(value) {
            return Arc::clone(shared);
        }
        if self.set.len() >= self.sweep_at_len {
            self.sweep();
        }
        let shared: Arc<T> = Arc::from(value);
        self.values_bytes += arc_allocation_bytes(std::mem::size_of_val(value));
        self.set.insert(Arc::clone(&shared));
        shared
    }

    /// Drops values only the table holds: `release` misses those whose last message went
    /// while someone else held a clone of the `Arc` (the fields are public). Amortised: the
    /// next sweep waits until the table has doubled.
    fn sweep(&mut self) {
        self.set.retain(|v| Arc::strong_count(v) > 1);
        self.values_bytes = self
            .set
            .iter()
            .map(|v| arc_allocation_bytes(std::mem::size_of_val(&**v)))
            .sum();
        self.sweep_at_len = (self.set.len() * 2).max(SWEEP_MIN_LEN);
    }

    /// Called before a user drops its `Arc`: the last user takes the value out of the table.
    fn release(&mut self, value: &Arc<T>) {
        // The table and the messages hold these `Arc`s: two means this is the last message
        // (unless someone cloned one: `sweep` catches those).
        if Arc::strong_count(value) == 2 && self.set.remove(&**value) {
            self.values_bytes -= arc_allocation_bytes(std::mem::size_of_val(&**value));
            if self.set.capacity() > 1024 && self.set.len() * 4 < self.set.capacity() {
                self.set.shrink_to(self.set.len() * 2);
            }
        }
    }

    fn bytes(&self) -> usize {
        self.values_bytes + hash_table_bytes(self.set.capacity(), std::mem::size_of::<Arc<T>>())
    }

    fn clear(&mut self) {
        *self = Interner::default();
    }
}

/// The allocation of a hashbrown table able to hold `capacity` entries of `entry_bytes`:
/// a power-of-two bucket count at most 7/8 full, one control byte per bucket plus a group.
pub fn hash_table_bytes(capacity: usize, entry_bytes: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    allocation_bytes(buckets * (entry_bytes + 1) + 16)
}

pub struct MessageStore {
    limits: StoreLimits,
    /// Oldest first. Every segment but the first and the last holds exactly `SEGMENT_SLOTS`
    /// (pushes go to the last, evictions take from the first), so a position finds its slot.
    segments: VecDeque<VecDeque<StoredMessage>>,
    len: usize,
    next_seq: u64,
    topics: Interner<[u8]>,
    notes: Interner<str>,
    /// Sum of the segments' capacities, in slots.
    slot_capacity: usize,
    /// Heap of the stored messages' own blocks (payloads, property encodings).
    messages_heap_bytes: usize,
    /// Bytes of the budget spent outside the store (the mesh).
    reserved_bytes: usize,
    counters: StoreCounters,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore")
            .field("limits", &self.limits)
            .field("next_seq", &self.next_seq)
            .field("reserved_bytes", &self.reserved_bytes)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl MessageStore {
    pub fn new(limits: StoreLimits) -> Self {
        MessageStore {
            limits,
            segments: VecDeque::new(),
            len: 0,
            next_seq: 0,
            topics: Interner::default(),
            notes: Interner::default(),
            slot_capacity: 0,
            messages_heap_bytes: 0,
            reserved_bytes: 0,
            counters: StoreCounters::default(),
        }
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: StoreLimits) {
        self.limits = limits;
        self.evict_to_fit();
    }

    /// Spends `bytes` of the byte budget elsewhere (the model's mesh); evicts to fit.
    pub fn set_reserved_bytes(&mut self, bytes: usize) {
        self.reserved_bytes = bytes;
        self.evict_to_fit();
    }

    pub fn reserved_bytes(&self) -> usize {
        self.reserved_bytes
    }

    /// What the store may hold: the budget less what is reserved.
    fn byte_cap(&self) -> usize {
        self.limits.max_bytes.saturating_sub(self.reserved_bytes)
    }

    /// Heap the store holds now, as the allocator spends it.
    fn held_bytes(&self) -> usize {
        self.slot_capacity * SLOT_BYTES
            + self.segments.capacity() * std::mem::size_of::<VecDeque<StoredMessage>>()
            + self.messages_heap_bytes
            + self.topics.bytes()
            + self.notes.bytes()
    }

    /// Stores a message, evicting the oldest as needed; returns its sequence number.
    pub fn push(&mut self, raw: RawMessage, tag: MessageTag) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let properties = raw.properties.as_deref().map(encode_properties);
        let own_bytes = SLOT_BYTES
            + arc_allocation_bytes(raw.payload.len())
            + properties.as_ref().map_or(0, |p| allocation_bytes(p.len()));
        if own_bytes > self.byte_cap() {
            // Keeping it would evict everything else and still break the cap: count it instead.
            self.counters.refused_messages += 1;
            self.counters.evicted_messages += 1;
            self.counters.evicted_bytes += own_bytes as u64;
            return seq;
        }
        // Room first (so a full store does not grow past its budget), then the message; what
        // it added beside itself (a new segment, a new topic) may evict a little more.
        while self.len > 0
            && (self.len >= self.limits.max_messages
                || self.held_bytes() + own_bytes > self.byte_cap())
        {
            self.pop_front();
        }
        let slot = StoredMessage {
            raw: StoredRaw {
                received_at_nanos: raw.received_at_nanos,
                topic: self.topics.intern(&raw.topic),
                payload: raw.payload,
                qos: raw.qos,
                retain: raw.retain,
                dup: raw.dup,
                properties,
            },
            tag: StoredTag {
                dialect: tag.dialect,
                note: tag.note.map(|n| self.notes.intern(&n)),
            },
        };
        self.messages_heap_bytes += slot.heap_bytes();
        self.push_slot(slot);
        self.evict_to_fit();
        seq
    }

    fn push_slot(&mut self, slot: StoredMessage) {
        match self.segments.back_mut() {
            Some(last) if last.len() < SEGMENT_SLOTS => {
                let before = last.capacity();
                last.push_back(slot);
                self.slot_capacity += last.capacity() - before;
            }
            _ => {
                // The first segment grows as needed (a small store stays small); later ones
                // are whole.
                let mut segment = if self.segments.is_empty() {
                    VecDeque::new()
                } else {
                    VecDeque::with_capacity(SEGMENT_SLOTS)
                };
                segment.push_back(slot);
                self.slot_capacity += segment.capacity();
                self.segments.push_back(segment);
            }
        }
        self.len += 1;
    }

    /// Evicts the oldest while a cap is exceeded.
    fn evict_to_fit(&mut self) {
        while self.len > 0
            && (self.len > self.limits.max_messages || self.held_bytes() > self.byte_cap())
        {
            self.pop_front();
        }
        if self.len == 0 && self.held_bytes() > self.byte_cap() {
            // Empty, yet the kept segment and tables break the cap: let them go too.
            self.clear();
        }
        self.counters.stored_messages = self.len;
        self.counters.stored_bytes = self.held_bytes();
    }

    fn pop_front(&mut self) {
        let more_segments = self.segments.len() > 1;
        let Some(first) = self.segments.front_mut() else {
            return;
        };
        let Some(slot) = first.pop_front() else {
            return;
        };
        if first.is_empty() && more_segments {
            let capacity = first.capacity();
            self.segments.pop_front();
            self.slot_capacity -= capacity;
        }
        self.len -= 1;
        let heap = slot.heap_bytes();
        self.messages_heap_bytes -= heap;
        self.topics.release(&slot.raw.topic);
        if let Some(note) = &slot.tag.note {
            self.notes.release(note);
        }
        self.counters.evicted_messages += 1;
        self.counters.evicted_bytes += (SLOT_BYTES + heap) as u64;
        self.counters.stored_messages = self.len;
        self.counters.stored_bytes = self.held_bytes();
    }

    pub fn counters(&self) -> StoreCounters {
        self.counters
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sequence number the next message will get (= messages pushed so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Oldest sequence number still stored.
    pub fn first_seq(&self) -> u64 {
        self.next_seq - self.len as u64
    }

    /// The slot at `position` (0 = oldest stored).
    fn slot(&self, position: usize) -> Option<&StoredMessage> {
        let first = self.segments.front()?;
        if position < first.len() {
            return first.get(position);
        }
        let rest = position - first.len();
        self.segments
            .get(1 + rest / SEGMENT_SLOTS)?
            .get(rest % SEGMENT_SLOTS)
    }

    fn view(&self, position: usize) -> Option<MessageRef<'_>> {
        let stored = self.slot(position)?;
        Some(MessageRef {
            seq: self.first_seq() + position as u64,
            raw: RawRef::new(&stored.raw),
            tag: &stored.tag,
            stored,
        })
    }

    pub fn get(&self, seq: u64) -> Option<MessageRef<'_>> {
        let position = usize::try_from(seq.checked_sub(self.first_seq())?).ok()?;
        self.view(position)
    }

    /// Messages with `seq >= from_seq`, oldest first.
    pub fn iter_from(&self, from_seq: u64) -> impl DoubleEndedIterator<Item = MessageRef<'_>> {
        let skip = usize::try_from(from_seq.saturating_sub(self.first_seq()))
            .unwrap_or(usize::MAX)
            .min(self.len);
        // Every position below `len` has a message.
        (skip..self.len).filter_map(move |p| self.view(p))
    }

    /// The stored messages, oldest first (the first has `first_seq()`).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &StoredMessage> {
        self.segments.iter().flatten()
    }

    pub fn clear(&mut self) {
        self.segments = VecDeque::new();
        self.len = 0;
        self.slot_capacity = 0;
        self.messages_heap_bytes = 0;
        self.topics.clear();
        self.notes.clear();
        self.counters.stored_messages = 0;
        self.counters.stored_bytes = 0;
    }
}

// ---------------------------------------------------------------------------------------------
// The compact encoding of MQTT 5 properties: one byte string, fields in order, each a tag (the
// MQTT property identifier) then its value; lengths and numbers as LEB128 varints.

const PAYLOAD_FORMAT: u8 = 0x01;
const MESSAGE_EXPIRY: u8 = 0x02;
const CONTENT_TYPE: u8 = 0x03;
const RESPONSE_TOPIC: u8 = 0x08;
const CORRELATION_DATA: u8 = 0x09;
const SUBSCRIPTION_ID: u8 = 0x0b;
const USER_PROPERTY: u8 = 0x26;

fn varint_len(mut value: u64) -> usize {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn bytes_len(bytes: &[u8]) -> usize {
    varint_len(bytes.len() as u64) + bytes.len()
}

/// The properties as one exact-size byte string (order of user properties kept).
fn encode_properties(p: &Properties) -> Box<[u8]> {
    let len = p.payload_format_indicator.map_or(0, |_| 2)
        + p.message_expiry_interval_secs.map_or(0, |_| 5)
        + p.content_type
            .as_ref()
            .map_or(0, |s| 1 + bytes_len(s.as_bytes()))
        + p.response_topic
            .as_ref()
            .map_or(0, |s| 1 + bytes_len(s.as_bytes()))
        + p.correlation_data.as_ref().map_or(0, |d| 1 + bytes_len(d))
        + p.user_properties
            .iter()
            .map(|(k, v)| 1 + bytes_len(k.as_bytes()) + bytes_len(v.as_bytes()))
            .sum::<usize>()
        + p.subscription_identifiers
            .iter()
            .map(|&i| 1 + varint_len(i as u64))
            .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    if let Some(indicator) = p.payload_format_indicator {
        out.extend_from_slice(&[PAYLOAD_FORMAT, indicator]);
    }
    if let Some(secs) = p.message_expiry_interval_secs {
        out.push(MESSAGE_EXPIRY);
        out.extend_from_slice(&secs.to_le_bytes());
    }
    if let Some(s) = &p.content_type {
        out.push(CONTENT_TYPE);
        put_bytes(&mut out, s.as_bytes());
    }
    if let Some(s) = &p.response_topic {
        out.push(RESPONSE_TOPIC);
        put_bytes(&mut out, s.as_bytes());
    }
    if let Some(d) = &p.correlation_data {
        out.push(CORRELATION_DATA);
        put_bytes(&mut out, d);
    }
    for (k, v) in &p.user_properties {
        out.push(USER_PROPERTY);
        put_bytes(&mut out, k.as_bytes());
        put_bytes(&mut out, v.as_bytes());
    }
    for &i in &p.subscription_identifiers {
        out.push(SUBSCRIPTION_ID);
        put_varint(&mut out, i as u64);
    }
    out.into_boxed_slice()
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn array4(&mut self) -> Option<[u8; 4]> {
        let (&b, rest) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = rest;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    fn text(&mut self) -> Option<String> {
        // Encoded from `String`s, so valid UTF-8; lossy rather than trusting it.
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// The inverse of [`encode_properties`]; total (stops at anything it did not write).
fn decode_properties(bytes: &[u8]) -> Properties {
    let mut p = Properties::default();
    let mut r = Reader { bytes };
    while let Some(tag) = r.byte() {
        let read = match tag {
            PAYLOAD_FORMAT => r.byte().map(|b| p.payload_format_indicator = Some(b)),
            MESSAGE_EXPIRY => r
                .array4()
                .map(|b| p.message_expiry_interval_secs = Some(u32::from_le_bytes(b))),
            CONTENT_TYPE => r.text().map(|s| p.content_type = Some(s)),
            RESPONSE_TOPIC => r.text().map(|s| p.response_topic = Some(s)),
            CORRELATION_DATA => r.bytes().map(|d| p.correlation_data = Some(d.to_vec())),
            USER_PROPERTY => r
                .text()
                .and_then(|k| Some((k, r.text()?)))
                .map(|kv| p.user_properties.push(kv)),
            SUBSCRIPTION_ID => r
                .varint()
                .and_then(|i| usize::try_from(i).ok())
                .map(|i| p.subscription_identifiers.push(i)),
            _ => None,
        };
        if read.is_none() {
            break;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(store.get(1).is_none());
        assert_eq!(store.get(4).map(|m| m.raw.received_at_nanos), Some(4));
        assert!(store.get(5).is_none());
        let seqs: Vec<u64> = store.iter_from(3).map(|m| m.seq).collect();
        assert_eq!(seqs, vec![3, 4]);
        let back: Vec<u64> = store.iter_from(0).rev().map(|m| m.seq).collect();
        assert_eq!(back, vec![4, 3, 2]);
        let times: Vec<u64> = store.iter().map(|m| m.raw.received_at_nanos).collect();
        assert_eq!(times, vec![2, 3, 4]);
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

    fn full_properties(i: u64) -> Properties {
        Properties {
            payload_format_indicator: Some(1),
            message_expiry_interval_secs: Some(3600 + i as u32),
            content_type: Some("application/json".into()),
            response_topic: Some(format!("reply/{i}")),
            correlation_data: Some(vec![0, 0xff, i as u8, b'x']),
            user_properties: vec![
                ("k".into(), "v1".into()),
                ("k".into(), "v2".into()),
                (String::new(), "ü".repeat(200)),
            ],
            subscription_identifiers: vec![1, 300, 268_435_455],
        }
    }

    #[test]
    fn messages_read_back_as_received_across_segments() {
        let mut store = MessageStore::new(StoreLimits {
            max_messages: 2 * SEGMENT_SLOTS + 10,
            max_bytes: usize::MAX,
        });
        let make = |i: u64| {
            let mut raw = RawMessage::new(i * 10, &format!("t/{}", i % 7), vec![i as u8; 3]);
            raw.qos = (i % 3) as u8;
            raw.retain = i.is_multiple_of(2);
            raw.dup = i.is_multiple_of(5);
            raw.properties = match i % 3 {
                0 => None,
                1 => Some(Box::default()),
                _ => Some(Box::new(full_properties(i))),
            };
            raw
        };
        let total = 3 * SEGMENT_SLOTS as u64 + 17;
        for i in 0..total {
            let note = i
                .is_multiple_of(4)
                .then(|| format!("note {}", i % 8).into_boxed_str());
            store.push(
                make(i),
                MessageTag {
                    dialect: Dialect::ALL[(i % 8) as usize],
                    note,
                },
            );
        }
        assert_eq!(store.len(), 2 * SEGMENT_SLOTS + 10);
        assert_eq!(store.first_seq(), total - store.len() as u64);
        for m in store.iter_from(0) {
            let i = m.seq;
            assert_eq!(m.raw.to_raw_message(), make(i), "message {i}");
            assert_eq!(m.raw.props(), *make(i).props());
            assert_eq!(m.tag.dialect, Dialect::ALL[(i % 8) as usize]);
            assert_eq!(
                m.tag.note.as_deref().map(str::to_owned),
                i.is_multiple_of(4).then(|| format!("note {}", i % 8))
            );
            // `&m.raw` stands in for `&RawMessage` (an owned copy, made once).
            let owned: &RawMessage = &m.raw;
            assert_eq!(owned.topic_str(), m.raw.topic_str());
        }
        for seq in [store.first_seq(), store.first_seq() + 1023, total - 1] {
            assert_eq!(
                store.get(seq).map(|m| m.raw.received_at_nanos),
                Some(seq * 10)
            );
        }
        // Topics and notes are shared, and leave the tables with their last message.
        assert_eq!(store.topics.set.len(), 7);
        assert_eq!(store.notes.set.len(), 2);
        store.set_limits(StoreLimits {
            max_messages: 1,
            max_bytes: usize::MAX,
        });
        assert_eq!(store.topics.set.len(), 1);
        assert_eq!(
            store.notes.set.len(),
            usize::from((total - 1).is_multiple_of(4))
        );
        assert_eq!(store.segments.len(), 1);
    }

    #[test]
    fn properties_decode_is_total_on_truncated_encodings() {
        let encoded = encode_properties(&full_properties(7));
        assert_eq!(decode_properties(&encoded), full_properties(7));
        for cut in 0..encoded.len() {
            let _ = decode_properties(&encoded[..cut]);
        }
        assert_eq!(decode_properties(&[0xee, 1, 2]), Properties::default());
        assert_eq!(
            decode_properties(&[
                SUBSCRIPTION_ID,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0x01
            ]),
            Properties::default()
        );
    }

    #[test]
    fn accounting_returns_to_the_empty_store_and_a_slot_stays_small() {
        const { assert!(SLOT_BYTES <= 88) };
        let mut store = MessageStore::new(StoreLimits {
            max_messages: usize::MAX,
            max_bytes: usize::MAX,
        });
        for i in 0..5_000u64 {
            let mut raw = RawMessage::new(i, &format!("t/{i}"), vec![0u8; (i % 300) as usize]);
            raw.properties = Some(Box::new(full_properties(i)));
            store.push(raw, tag());
        }
        let counters = store.counters();
        assert!(counters.stored_bytes > 5_000 * SLOT_BYTES);
        store.set_limits(StoreLimits {
            max_messages: 0,
            max_bytes: usize::MAX,
        });
        assert!(store.is_empty());
        let evicted = store.counters().evicted_bytes as usize;
        let left = store.counters().stored_bytes;
        // What is left is the one segment kept and the intern tables' capacity.
        assert!(left <= SEGMENT_SLOTS * SLOT_BYTES + 64 * 1024, "{left}");
        assert!(
            evicted <= counters.stored_bytes,
            "{evicted} > {}",
            counters.stored_bytes
        );
        assert_eq!(store.topics.values_bytes, 0);
    }

    #[test]
    fn reserved_bytes_shrink_the_store() {
        let mut store = MessageStore::new(StoreLimits {
            max_messages: usize::MAX,
            max_bytes: 1 << 20,
        });
        for i in 0..10_000u64 {
            store.push(RawMessage::new(i, "a", vec![0u8; 100]), tag());
        }
        let full = store.len();
        store.set_reserved_bytes(1 << 19);
        assert!(store.counters().stored_bytes <= 1 << 19);
        assert!(store.len() < full * 2 / 3, "{} of {full}", store.len());
        store.set_reserved_bytes(2 << 20);
        assert!(store.is_empty());
        store.push(RawMessage::new(1, "a", vec![0u8; 100]), tag());
        assert!(
            store.is_empty(),
            "nothing fits when the reserve takes the budget"
        );
        assert_eq!(store.counters().refused_messages, 1);
    }
}
