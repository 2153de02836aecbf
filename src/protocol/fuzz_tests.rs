//! Seeded mutation fuzzer over every decoder and the model's apply, from the corpus in `tests/corpus/` (test-only).
//!
//! Each iteration takes a corpus message (a recording line: the peers-mesh capture, the demo
//! mesh, hand-written hostile cases, and any regression saved later), mutates its topic,
//! payload and properties (bit flips, truncation, splicing, deep nesting, huge numbers, wrong
//! JSON types, non-UTF-8 bytes, property floods), and runs it through `protocol::decode`,
//! `protocol::decode_reply_as` for every dialect and a small-capped `Model`. It asserts no
//! panic and the model's invariants (every message gets a tag, a decode error is noted, every
//! table within its cap, counters consistent).
//!
//! `MESHSCOPE_FUZZ_ITERS` (default 10 000, a few seconds), `MESHSCOPE_FUZZ_SECS` (run for a
//! time instead) and `MESHSCOPE_FUZZ_SEED` (default fixed, so CI is repeatable) run it long:
//! `MESHSCOPE_FUZZ_SECS=600 MESHSCOPE_FUZZ_SEED=$RANDOM cargo test --release --lib fuzz`.
//! A failing input is written to `target/fuzz-findings/` as a recording line: fix the bug,
//! then move the line into `tests/corpus/regressions.jsonl`.
//!
//! It uses `crate::model` and `crate::record` (to apply and to read the corpus): allowed in
//! this test module only; the decoders themselves stay free of both.

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Dialect, Properties, RawMessage, decode, decode_reply_as};
use crate::model::{MeshConfig, Model, ModelConfig, StoreLimits};

const SECOND_NANOS: u64 = 1_000_000_000;

/// The fuzzer's seeded choices, drawn from the crate's generator (the demo's).
struct Rng(crate::demo::rng::Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(crate::demo::rng::Rng::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }

    /// True with probability 1 / `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every message of every `*.jsonl` file in `tests/corpus/`.
fn load_corpus() -> Vec<RawMessage> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut corpus = Vec::new();
    for file in files {
        let reader = std::io::BufReader::new(std::fs::File::open(&file).expect("open corpus"));
        for (n, line) in crate::record::read_jsonl(reader).enumerate() {
            match line {
                Ok(raw) => corpus.push(raw),
                Err(e) => panic!("{}: line {}: {e}", file.display(), n + 1),
            }
        }
    }
    corpus
}

// ---------------------------------------------------------------------------------------------
// mutations

/// Bytes that matter to JSON, UTF-8 and topics.
const INTERESTING_BYTES: &[u8] = &[
    0, b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', b'/', b'+', b'#', b'$', b' ', 0x7f, 0x80,
    0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf8, 0xff,
];

const HUGE_NUMBERS: &[&str] = &[
    "1e999999",
    "-1e999999",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "1.7976931348623157e309",
    "0.000000000000000000000000000000000000000000000000001",
    "123456789012345678901234567890123456789012345678901234567890",
    "-0",
    "NaN",
    "Infinity",
];

/// Keys and values the decoders look for in user properties.
const USER_PROPERTY_KEYS: &[&str] = &[
    "a2a-method",
    "a2a-status",
    "a2a-status-source",
    "a2a-authorization",
    "MCP-COMPONENT-TYPE",
    "MCP-MQTT-CLIENT-ID",
    "MCP-META",
    "correlationId",
    "x-mqtt-client-id",
];
const USER_PROPERTY_VALUES: &[&str] = &[
    "online",
    "offline",
    "lwt",
    "agent",
    "mcp-server",
    "mcp-client",
    "message/send",
    "SendMessage",
    "",
    "\u{0}",
    "🦀",
];

fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, donors: &[RawMessage]) {
    match rng.below(10) {
        // Flip one to eight bits.
        0 if !data.is_empty() => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(data.len());
                data[at] ^= 1 << rng.below(8);
            }
        }
        // An interesting byte somewhere.
        1 if !data.is_empty() => {
            let at = rng.below(data.len());
            data[at] = *rng.pick(INTERESTING_BYTES);
        }
        // Truncate.
        2 if !data.is_empty() => {
            let len = rng.below(data.len());
            data.truncate(len);
        }
        // Insert random bytes.
        3 => {
            let at = rng.below(data.len() + 1);
            let len = 1 + rng.below(16);
            let inserted = rng.bytes(len);
            data.splice(at..at, inserted);
        }
        // Duplicate a slice (repetition drives parsers into odd states).
        4 if !data.is_empty() => {
            let from = rng.below(data.len());
            let to = from + rng.below(data.len() - from).min(256);
            let slice = data[from..to].to_vec();
            let at = rng.below(data.len() + 1);
            for _ in 0..1 + rng.below(4) {
                data.splice(at..at, slice.iter().copied());
            }
        }
        // Splice: our head, another message's tail.
        5 => {
            let donor = &rng.pick(donors).payload;
            let keep = rng.below(data.len() + 1);
            let from = rng.below(donor.len() + 1);
            data.truncate(keep);
            data.extend_from_slice(&donor[from..]);
        }
        // Delete a slice.
        6 if !data.is_empty() => {
            let from = rng.below(data.len());
            let to = from + rng.below(data.len() - from + 1);
            data.drain(from..to);
        }
        // A digit run becomes a huge number.
        7 => {
            if let Some(at) = data.iter().position(|b| b.is_ascii_digit()) {
                let end = data[at..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(data.len(), |n| at + n);
                data.splice(at..end, rng.pick(HUGE_NUMBERS).bytes());
            }
        }
        // A lone surrogate or an invalid escape inside a string.
        8 => {
            if let Some(at) = data.iter().position(|b| *b == b'"') {
                let escape: &[u8] = match rng.below(4) {
                    0 => br"\ud800",
                    1 => br"\udfff\ud800",
                    2 => br"\x41",
                    _ => br"\u12",
                };
                data.splice(at + 1..at + 1, escape.iter().copied());
            }
        }
        _ => {
            let at = rng.below(data.len() + 1);
            data.insert(at, *rng.pick(INTERESTING_BYTES));
        }
    }
}

/// A JSON-aware mutation: a random node of the parsed payload gets another type or a hostile
/// value; or the whole payload is wrapped very deep.
fn mutate_json(rng: &mut Rng, payload: &[u8]) -> Option<Vec<u8>> {
    if rng.one_in(12) {
        // Deep nesting, up to 100 000 levels, arrays or objects, closed or not.
        let depth = match rng.below(4) {
            0 => 63 + rng.below(4),
            1 => 100 + rng.below(1000),
            _ => 1000 + rng.below(99_001),
        };
        let (open, close): (&[u8], &[u8]) = if rng.one_in(2) {
            (b"[", b"]")
        } else {
            (b"{\"a\":", b"}")
        };
        let mut out = Vec::with_capacity(depth * (open.len() + 1) + payload.len());
        for _ in 0..depth {
            out.extend_from_slice(open);
        }
        out.extend_from_slice(if payload.is_empty() { b"1" } else { payload });
        if !rng.one_in(4) {
            for _ in 0..depth {
                out.extend_from_slice(close);
            }
        }
        return Some(out);
    }
    let mut value: Value = serde_json::from_slice(payload).ok()?;
    let mut nodes = 0usize;
    count_nodes(&value, &mut nodes);
    let target = rng.below(nodes.max(1));
    let mut seen = 0usize;
    replace_node(&mut value, target, &mut seen, rng);
    serde_json::to_vec(&value).ok()
}

fn count_nodes(value: &Value, n: &mut usize) {
    *n += 1;
    match value {
        Value::Array(items) => items.iter().for_each(|v| count_nodes(v, n)),
        Value::Object(map) => map.values().for_each(|v| count_nodes(v, n)),
        _ => {}
    }
}

fn replace_node(value: &mut Value, target: usize, seen: &mut usize, rng: &mut Rng) -> bool {
    if *seen == target {
        *value = hostile_value(rng, value);
        return true;
    }
    *seen += 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace_node(v, target, seen, rng)),
        Value::Object(map) => map.values_mut().any(|v| replace_node(v, target, seen, rng)),
        _ => false,
    }
}

fn hostile_value(rng: &mut Rng, old: &Value) -> Value {
    match rng.below(11) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => Value::from(rng.next() as i64),
        3 => Value::from(f64::from_bits(rng.next())),
        4 => Value::String("x".repeat(rng.below(70_000))),
        5 => Value::String(String::new()),
        6 => Value::Array(vec![old.clone(), old.clone()]),
        7 => Value::Array(Vec::new()),
        8 => serde_json::json!({ "nested": old }),
        9 => Value::String(old.to_string()),
        _ => serde_json::json!({}),
    }
}

/// Topic levels the dialects route on.
const TOPIC_LEVELS: &[&[u8]] = &[
    b"mcp",
    b"tools",
    b"call",
    b"card",
    b"stream",
    b"servers",
    b"clients",
    b"responses",
    b"agents",
    b"tasks",
    b"inbox",
    b"result",
    b"$a2a",
    b"v1",
    b"discovery",
    b"request",
    b"reply",
    b"$mcp-server",
    b"$mcp-rpc",
    b"presence",
    b"openmas",
    b"+",
    b"#",
];

fn mutate_topic(rng: &mut Rng, topic: &mut Vec<u8>, donors: &[RawMessage]) {
    let mut levels: Vec<Vec<u8>> = topic.split(|b| *b == b'/').map(<[u8]>::to_vec).collect();
    match rng.below(9) {
        // A level from another topic (ids, kinds and namespaces meet in new combinations).
        0 | 1 => {
            let donor = &rng.pick(donors).topic;
            let donor_levels: Vec<&[u8]> = donor.split(|b| *b == b'/').collect();
            let level = rng.pick(&donor_levels).to_vec();
            let at = rng.below(levels.len());
            levels[at] = level;
        }
        2 if levels.len() > 1 => {
            let at = rng.below(levels.len());
            levels.remove(at);
        }
        3 => {
            let at = rng.below(levels.len() + 1);
            let level = if rng.one_in(2) {
                Vec::new()
            } else {
                rng.pick(TOPIC_LEVELS).to_vec()
            };
            levels.insert(at, level);
        }
        4 => {
            let at = rng.below(levels.len());
            let mut level = std::mem::take(&mut levels[at]);
            mutate_bytes(rng, &mut level, donors);
            levels[at] = level;
        }
        5 => {
            let at = rng.below(levels.len());
            levels[at] = "n".repeat(rng.below(5_000)).into_bytes();
        }
        6 => {
            // Many levels.
            let n = rng.below(2_000);
            levels.extend(std::iter::repeat_n(b"a".to_vec(), n));
        }
        7 => {
            // Non-UTF-8 somewhere.
            let at = rng.below(levels.len());
            levels[at].push(*rng.pick(&[0xff, 0xc3, 0xed, 0x80]));
        }
        _ => {
            if let Some(first) = levels.first_mut() {
                if first.first() == Some(&b'$') {
                    first.remove(0);
                } else {
                    first.insert(0, b'$');
                }
            }
        }
    }
    *topic = levels.join(&b'/');
}

fn mutate_properties(rng: &mut Rng, props: &mut Properties, donors: &[RawMessage]) {
    match rng.below(10) {
        0 => {
            props.response_topic = if props.response_topic.is_some() && rng.one_in(2) {
                None
            } else {
                let donor = rng.pick(donors);
                Some(
                    donor
                        .props()
                        .response_topic
                        .clone()
                        .unwrap_or_else(|| donor.topic_lossy().into_owned()),
                )
            };
        }
        1 => {
            props.correlation_data = match rng.below(4) {
                0 => None,
                1 => Some(Vec::new()),
                2 => rng.pick(donors).props().correlation_data.clone(),
                _ => {
                    let len = rng.below(40);
                    Some(rng.bytes(len))
                }
            };
        }
        2 | 3 => {
            let key = rng.pick(USER_PROPERTY_KEYS).to_string();
            let value = rng.pick(USER_PROPERTY_VALUES).to_string();
            let at = rng.below(props.user_properties.len() + 1);
            props.user_properties.insert(at, (key, value));
        }
        4 if !props.user_properties.is_empty() => {
            let at = rng.below(props.user_properties.len());
            props.user_properties.remove(at);
        }
        5 => {
            // A property flood, duplicate keys included.
            let n = 100 + rng.below(5_000);
            for i in 0..n {
                props
                    .user_properties
                    .push((format!("k{}", i % 13), "v".repeat(i % 50)));
            }
        }
        6 => props.payload_format_indicator = Some(rng.below(3) as u8),
        7 => {
            props.content_type =
                Some((*rng.pick(&["application/json", "text/plain", "", "x\u{0}y"])).to_string())
        }
        8 => props.message_expiry_interval_secs = Some(rng.next() as u32),
        _ => *props = rng.pick(donors).props().clone(),
    }
}

/// One mutated message from the corpus.
fn mutant(rng: &mut Rng, corpus: &[RawMessage], at_nanos: u64) -> RawMessage {
    let mut raw = rng.pick(corpus).clone();
    raw.received_at_nanos = at_nanos;
    for _ in 0..1 + rng.below(3) {
        match rng.below(10) {
            0..=3 => {
                let mut payload = raw.payload.to_vec();
                mutate_bytes(rng, &mut payload, corpus);
                raw.payload = Arc::from(payload);
            }
            4 | 5 => {
                if let Some(payload) = mutate_json(rng, &raw.payload) {
                    raw.payload = Arc::from(payload);
                }
            }
            6 | 7 => {
                let mut topic = raw.topic.to_vec();
                mutate_topic(rng, &mut topic, corpus);
                raw.topic = topic.into_boxed_slice();
            }
            8 => {
                let mut props = raw.properties.take().map(|p| *p).unwrap_or_default();
                mutate_properties(rng, &mut props, corpus);
                raw.properties = (!props.is_empty()).then(|| Box::new(props));
            }
            _ => {
                raw.retain = rng.one_in(2);
                raw.dup = rng.one_in(4);
                raw.qos = rng.below(4) as u8;
            }
        }
    }
    raw
}

// ---------------------------------------------------------------------------------------------
// the run

/// Small caps, so a short run reaches every eviction path.
fn fuzz_model_config() -> ModelConfig {
    ModelConfig {
        store: StoreLimits {
            max_messages: 2_000,
            max_bytes: 8 << 20,
        },
        mesh: MeshConfig {
            request_timeout_nanos: 5 * SECOND_NANOS,
            stale_after_nanos: 10 * SECOND_NANOS,
            max_traces: 300,
            max_partials_per_trace: 8,
            max_participants: 64,
            max_history_per_participant: 8,
            max_stats_rows: 32,
            max_edges: 32,
            window_nanos: 10 * SECOND_NANOS,
            max_window_samples: 16,
            dedupe_window_nanos: SECOND_NANOS,
            max_interned_strings: 256,
        },
    }
}

/// What one run found and reached.
#[derive(Debug, Default)]
struct Findings {
    iterations: u64,
    decode_errors: u64,
    per_dialect: [u64; 8],
    notes: std::collections::BTreeMap<String, u64>,
    slowest: Duration,
    slowest_input_bytes: usize,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| {
        let v = v.trim();
        v.strip_prefix("0x")
            .map_or_else(|| v.parse().ok(), |hex| u64::from_str_radix(hex, 16).ok())
    })
}

/// Writes a failing input where a human finds it, as a corpus line.
fn save_finding(raw: &RawMessage, seed: u64, iteration: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{seed:x}-{iteration}.jsonl"));
    if let Ok(mut file) = std::fs::File::create(&path) {
        let _ = crate::record::write_line(raw, &mut file, 1);
        let _ = file.flush();
    }
    path
}

/// Names a note for the coverage table: each part up to its detail, words that carry ids or
/// numbers replaced by `…`.
fn note_class(note: &str) -> String {
    note.split("; ")
        .map(|part| {
            let cut = part.find(['`', ':', '(']).unwrap_or(part.len());
            part[..cut]
                .split_whitespace()
                .map(|w| {
                    if w.chars()
                        .any(|c| c.is_ascii_digit() || c == '_' || c == '-')
                    {
                        "…"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs `iterations` inputs, or for `duration` when given (whichever ends first).
fn run(seed: u64, iterations: u64, duration: Option<Duration>) -> Findings {
    let corpus = load_corpus();
    assert!(
        corpus.len() >= 100,
        "the corpus holds {} messages",
        corpus.len()
    );
    let config = fuzz_model_config();
    let mut model = Model::new(config.clone());
    let mut rng = Rng::new(seed);
    let mut now = 1_800_000_000 * SECOND_NANOS;
    let mut findings = Findings::default();
    let until = duration.map(|d| Instant::now() + d);
    for iteration in 0..iterations {
        if until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        // Receive times move on, sometimes by a lot (timeouts, staleness), sometimes back (a
        // wall clock stepped by NTP).
        now = match rng.below(50) {
            0 => now.saturating_add(rng.below(120) as u64 * SECOND_NANOS),
            1 => now.saturating_sub(rng.below(5) as u64 * SECOND_NANOS),
            _ => now + rng.below(50_000_000) as u64,
        };
        let raw = if iteration < corpus.len() as u64 {
            // The corpus itself first, unmutated.
            let mut raw = corpus[iteration as usize].clone();
            raw.received_at_nanos = now;
            raw
        } else {
            mutant(&mut rng, &corpus, now)
        };
        let started = Instant::now();
        let checked = catch_unwind(AssertUnwindSafe(|| check_one(&mut model, &raw, &config)));
        let took = started.elapsed();
        match checked {
            Ok(Ok(outcome)) => {
                findings.iterations += 1;
                if outcome.decode_error {
                    findings.decode_errors += 1;
                }
                findings.per_dialect[Dialect::ALL
                    .iter()
                    .position(|d| *d == outcome.dialect)
                    .unwrap_or(7)] += 1;
                if let Some(note) = outcome.note {
                    *findings.notes.entry(note_class(&note)).or_default() += 1;
                }
            }
            Ok(Err(broken)) => {
                let path = save_finding(&raw, seed, iteration);
                panic!(
                    "seed {seed:#x}, iteration {iteration}: invariant broken: {broken}\ninput saved to {}",
                    path.display()
                );
            }
            Err(_) => {
                let path = save_finding(&raw, seed, iteration);
                panic!(
                    "seed {seed:#x}, iteration {iteration}: panic (message above); input saved to {}",
                    path.display()
                );
            }
        }
        if took > findings.slowest {
            findings.slowest = took;
            findings.slowest_input_bytes = raw.payload.len() + raw.topic.len();
        }
        if rng.one_in(64) {
            model.tick(now);
        }
    }
    findings
}

struct Checked {
    decode_error: bool,
    dialect: Dialect,
    note: Option<String>,
}

/// Decodes and applies one message; `Err` names a broken invariant.
fn check_one(model: &mut Model, raw: &RawMessage, config: &ModelConfig) -> Result<Checked, String> {
    let decoded = decode(raw);
    let decode_error = decoded.is_err();
    let issue = matches!(&decoded, Ok(obs) if obs.issue.is_some());
    // Decoding is a pure function of the message.
    let again = decode(raw);
    if format!("{decoded:?}") != format!("{again:?}") {
        return Err("decode is not deterministic".into());
    }
    for dialect in Dialect::ALL {
        let _ = decode_reply_as(dialect, raw);
    }
    let before = model.mesh.counters().messages;
    let seq = model.store.next_seq();
    let refused_before = model.store.counters().refused_messages;
    model.apply_message(raw.clone());
    let mesh = model.mesh.counters();
    if mesh.messages != before + 1 || model.store.next_seq() != seq + 1 {
        return Err("the message was not counted and stored once".into());
    }
    let tag = model
        .store
        .get(seq)
        .map(|m| (m.tag.dialect, m.tag.note.as_deref().map(str::to_string)));
    let Some((dialect, note)) = tag else {
        // Refused at once (larger than the whole store): counted, never silent.
        if model.store.counters().refused_messages == refused_before + 1 {
            return Ok(Checked {
                decode_error,
                dialect: Dialect::Raw,
                note: None,
            });
        }
        return Err("the message has no stored tag".into());
    };
    if (decode_error || issue) && note.is_none() {
        return Err(format!("a decode problem without a note: {decoded:?}"));
    }
    if let Err(e) = &decoded
        && dialect != e.dialect
    {
        return Err("the tag's dialect differs from the decode error's".into());
    }
    let limits = &config.mesh;
    if model.mesh.trace_count() > limits.max_traces {
        return Err(format!("{} traces over the cap", model.mesh.trace_count()));
    }
    if model.mesh.participant_count() > limits.max_participants {
        return Err(format!(
            "{} participants over the cap",
            model.mesh.participant_count()
        ));
    }
    let store = model.store.counters();
    if store.stored_messages > config.store.max_messages
        || store.stored_bytes > config.store.max_bytes
    {
        return Err(format!("store over its caps: {store:?}"));
    }
    if store.stored_messages as u64 + store.evicted_messages != model.store.next_seq() {
        return Err(format!("store counts do not add up: {store:?}"));
    }
    if mesh.per_dialect.iter().sum::<u64>() != mesh.messages || mesh.undecoded > mesh.messages {
        return Err(format!("mesh counters do not add up: {mesh:?}"));
    }
    // The read accessors views use hold up too (cheap enough every 16th message).
    if mesh.messages.is_multiple_of(16) {
        for t in model.mesh.traces() {
            if t.partials.len() > limits.max_partials_per_trace {
                return Err(format!("trace {} over the partials cap", t.trace_id));
            }
            if t.request_at_nanos.is_none() && t.outcome != crate::model::mesh::Outcome::Orphan {
                return Err(format!(
                    "trace {} has no request yet is {:?}",
                    t.trace_id, t.outcome
                ));
            }
            let _ = (
                t.latency_micros(),
                t.first_partial_micros(),
                t.partials_in_order(),
            );
        }
        let now = raw.received_at_nanos;
        // Past the cap, new keys fold into one `(other)` row (and edge) per dialect.
        let folded = Dialect::ALL.len();
        if model.mesh.stats(now).len() > limits.max_stats_rows + folded {
            return Err("stats rows over the cap".into());
        }
        if model.mesh.edges().len() > limits.max_edges + folded {
            return Err("edges over the cap".into());
        }
        let participants = model.mesh.participants();
        if participants
            .windows(2)
            .any(|w| w[0].sort_key() > w[1].sort_key())
        {
            return Err("participants out of order".into());
        }
    }
    Ok(Checked {
        decode_error,
        dialect,
        note,
    })
}

#[test]
fn decoders_and_model_survive_mutated_corpus_input() {
    let seed = env_u64("MESHSCOPE_FUZZ_SEED").unwrap_or(0x6d65_7368_6675_7a7a);
    let duration = env_u64("MESHSCOPE_FUZZ_SECS").map(Duration::from_secs);
    let iterations = env_u64("MESHSCOPE_FUZZ_ITERS").unwrap_or(if duration.is_some() {
        u64::MAX
    } else {
        10_000
    });
    let started = Instant::now();
    let findings = run(seed, iterations, duration);
    let took = started.elapsed();
    println!(
        "fuzz: seed {seed:#x}, {} iterations in {:.1} s ({:.0}/s), {} decode errors; \
         slowest input {} ms ({} B); per dialect {:?}",
        findings.iterations,
        took.as_secs_f64(),
        findings.iterations as f64 / took.as_secs_f64().max(1e-9),
        findings.decode_errors,
        findings.slowest.as_millis(),
        findings.slowest_input_bytes,
        Dialect::ALL
            .iter()
            .zip(findings.per_dialect)
            .map(|(d, n)| format!("{}={n}", d.as_str()))
            .collect::<Vec<_>>()
    );
    for (note, count) in &findings.notes {
        println!("fuzz note {count:>8}  {note}");
    }
    // Every dialect was reached, and the run produced both clean decodes and errors.
    assert!(
        findings.per_dialect.iter().all(|n| *n > 0),
        "every dialect reached: {:?}",
        findings.per_dialect
    );
    assert!(findings.decode_errors > 0 && findings.decode_errors < findings.iterations);
    // A pathological input (quadratic blow-up) would show here; the bound is generous for
    // a debug build on a loaded two-core machine.
    assert!(
        findings.slowest < Duration::from_secs(5),
        "an input took {:?}",
        findings.slowest
    );
}

#[test]
fn the_corpus_reads_and_covers_every_dialect() {
    let corpus = load_corpus();
    let mut seen = std::collections::BTreeSet::new();
    for raw in &corpus {
        match decode(raw) {
            Ok(obs) => seen.insert(obs.dialect),
            Err(e) => seen.insert(e.dialect),
        };
    }
    assert_eq!(seen.len(), Dialect::ALL.len(), "{seen:?}");
}
