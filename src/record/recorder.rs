//! The background recorder: raw messages to a JSONL recording on a writer thread that never slows ingest.
//!
//! Ingest calls [`RecorderTap::offer_batch`] with the events it received, before decoding. The
//! tap clones each message (the payload is shared, not copied) into a bounded channel; a writer
//! thread redacts, serialises and writes them through a `BufWriter`. When the channel is full
//! (the disk cannot keep up) or the file cannot be written, the message is counted as lost:
//! ingest never waits for the disk. Every message offered is either written or lost, so
//! `received == written + lost` once the recording is finished.
//!
//! Redaction (on by default): the value of every user property whose key, compared without
//! case, is `a2a-authorization` or contains one of [`SECRET_KEY_PARTS`] is replaced by
//! [`REDACTED`]. Topics, payloads and the other properties are recorded as they arrived (the
//! decoders need them; no dialect carries a credential there).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use serde::Serialize;

use crate::protocol::{RawMessage, SessionEvent};

use super::{RecordingHeader, write_line};

/// Messages waiting for the writer; beyond this the disk is not keeping up and messages are lost (counted).
pub const DEFAULT_CHANNEL_CAPACITY: usize = 65_536;

/// Payload bytes waiting for the writer; beyond this messages are lost (counted) rather than
/// pinning payloads the store has already evicted.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;

/// What a redacted user property value becomes.
pub const REDACTED: &str = "[redacted]";

/// A user property key containing one of these (lower case) carries a secret.
pub const SECRET_KEY_PARTS: &[&str] = &[
    "authorization",
    "password",
    "passwd",
    "secret",
    "token",
    "api-key",
    "api_key",
    "apikey",
    "cookie",
    "credential",
    "private-key",
    "private_key",
];

/// The writer's output buffer: large writes, few syscalls.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// How to record.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Replace secret user property values with [`REDACTED`] (default on; `--no-redact` turns it off).
    pub redact: bool,
    /// Written to the header, informative.
    pub broker: Option<String>,
    pub channel_capacity: usize,
    /// Payload bytes allowed to wait for the writer.
    pub max_queued_bytes: usize,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            redact: true,
            broker: None,
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
        }
    }
}

/// Is this user property key one whose value is redacted?
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "a2a-authorization" || SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// Redacts secret user property values in place; returns how many were redacted.
pub fn redact(raw: &mut RawMessage) -> usize {
    let Some(props) = raw.properties.as_deref_mut() else {
        return 0;
    };
    let mut redacted = 0;
    for (key, value) in &mut props.user_properties {
        if is_secret_key(key) && value != REDACTED {
            *value = REDACTED.to_owned();
            redacted += 1;
        }
    }
    redacted
}

/// Counts of a recording, live or finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecorderStats {
    pub path: PathBuf,
    /// Messages ingest offered while recording.
    pub received: u64,
    pub written: u64,
    /// Dropped because the writer was behind (channel full) or the file could not be written.
    pub lost: u64,
    /// User property values replaced by [`REDACTED`].
    pub redacted_values: u64,
    /// Bytes handed to the file (including the header).
    pub bytes_written: u64,
    /// The first write error, after which every further message is lost (counted).
    pub write_error: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    written: AtomicU64,
    lost: AtomicU64,
    redacted_values: AtomicU64,
    bytes_written: AtomicU64,
    /// Payload bytes handed to the writer and not yet written.
    queued_bytes: AtomicU64,
    write_error: Mutex<Option<String>>,
}

/// One recording in progress: the bounded channel to its writer thread.
pub struct Recorder {
    path: PathBuf,
    sender: SyncSender<RawMessage>,
    counters: Arc<Counters>,
    writer: Option<JoinHandle<()>>,
    max_queued_bytes: u64,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    #[serde(flatten)]
    header: &'a RecordingHeader,
    /// Informative: whether secret user property values were redacted.
    redacted: bool,
}

impl Recorder {
    /// Creates (truncates) `path`, writes the header and starts the writer thread.
    pub fn start(path: &Path, options: RecorderOptions) -> io::Result<Recorder> {
        let file = File::create(path)?;
        let mut out = CountingWriter {
            inner: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            bytes: 0,
        };
        let header = RecordingHeader::new(Some(crate::now_nanos()), options.broker.clone());
        serde_json::to_writer(
            &mut out,
            &HeaderOut {
                header: &header,
                redacted: options.redact,
            },
        )?;
        out.write_all(b"\n")?;
        out.flush()?;
        let counters = Arc::new(Counters::default());
        counters.bytes_written.store(out.bytes, Ordering::Relaxed);
        let (sender, receiver) = std::sync::mpsc::sync_channel(options.channel_capacity.max(1));
        let writer_counters = Arc::clone(&counters);
        let redact_on = options.redact;
        let writer = std::thread::Builder::new()
            .name("meshscope-recorder".into())
            .spawn(move || write_loop(receiver, out, writer_counters, redact_on))?;
        Ok(Recorder {
            path: path.to_owned(),
            sender,
            counters,
            writer: Some(writer),
            max_queued_bytes: options.max_queued_bytes as u64,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands one message to the writer without ever waiting; counts it lost when the writer is behind.
    pub fn offer(&self, raw: &RawMessage) {
        let c = &self.counters;
        c.received.fetch_add(1, Ordering::Relaxed);
        let bytes = raw.payload.len() as u64;
        let queued = c.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        // One message alone may exceed the cap: it goes through when nothing else waits.
        if queued > 0 && queued + bytes > self.max_queued_bytes {
            c.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            c.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.sender.try_send(raw.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                c.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
                c.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> RecorderStats {
        let c = &self.counters;
        RecorderStats {
            path: self.path.clone(),
            received: c.received.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            redacted_values: c.redacted_values.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            write_error: lock(&c.write_error).clone(),
        }
    }

    /// Stops taking messages, lets the writer write what it holds, flushes and closes the file.
    /// Blocks until the writer is done (call it off the UI thread).
    pub fn finish(mut self) -> RecorderStats {
        let Recorder { sender, writer, .. } = &mut self;
        // Dropping the only sender ends the writer's loop once the channel is drained.
        let (replacement, _) = std::sync::mpsc::sync_channel(1);
        drop(std::mem::replace(sender, replacement));
        if let Some(writer) = writer.take()
            && writer.join().is_err()
        {
            let mut error = lock(&self.counters.write_error);
            error.get_or_insert_with(|| "the recorder's writer thread panicked".into());
        }
        self.stats()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let (replacement, _) = std::sync::mpsc::sync_channel(1);
            drop(std::mem::replace(&mut self.sender, replacement));
            let _ = writer.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_loop(
    receiver: Receiver<RawMessage>,
    mut out: CountingWriter<BufWriter<File>>,
    counters: Arc<Counters>,
    redact_on: bool,
) {
    let mut failed = false;
    let mut seq = 0u64;
    let fail = |e: io::Error, failed: &mut bool| {
        *failed = true;
        lock(&counters.write_error).get_or_insert_with(|| e.to_string());
        tracing::error!("recording: write failed, further messages are lost (counted): {e}");
    };
    loop {
        // Drain without waiting; flush only when idle, so a busy recording writes big blocks
        // and a quiet one is on disk within moments.
        let mut raw = match receiver.try_recv() {
            Ok(raw) => raw,
            Err(TryRecvError::Empty) => {
                if !failed && let Err(e) = out.flush() {
                    fail(e, &mut failed);
                }
                counters.bytes_written.store(out.bytes, Ordering::Relaxed);
                match receiver.recv() {
                    Ok(raw) => raw,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        counters
            .queued_bytes
            .fetch_sub(raw.payload.len() as u64, Ordering::Relaxed);
        if failed {
            counters.lost.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if redact_on {
            let n = redact(&mut raw);
            if n > 0 {
                counters
                    .redacted_values
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        seq += 1;
        match write_line(&raw, &mut out, seq) {
            Ok(()) => {
                counters.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                counters.lost.fetch_add(1, Ordering::Relaxed);
                fail(e, &mut failed);
            }
        }
    }
    if !failed && let Err(e) = out.flush() {
        fail(e, &mut failed);
    }
    counters.bytes_written.store(out.bytes, Ordering::Relaxed);
}

/// The switch ingest looks at: a recording may start and stop at any time, from any thread.
#[derive(Clone, Default)]
pub struct RecorderTap(Arc<Mutex<Option<Recorder>>>);

impl RecorderTap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts recording to `path`. Refused while a recording is already running.
    pub fn start(&self, path: &Path, options: RecorderOptions) -> io::Result<()> {
        let mut slot = lock(&self.0);
        if let Some(running) = slot.as_ref() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("already recording to {}", running.path().display()),
            ));
        }
        *slot = Some(Recorder::start(path, options)?);
        Ok(())
    }

    /// Detaches the running recording (ingest stops offering at once); finish it with
    /// [`Recorder::finish`], off the UI thread.
    pub fn stop(&self) -> Option<Recorder> {
        lock(&self.0).take()
    }

    /// The running recording's counts, if one is running.
    pub fn stats(&self) -> Option<RecorderStats> {
        lock(&self.0).as_ref().map(Recorder::stats)
    }

    pub fn is_recording(&self) -> bool {
        lock(&self.0).is_some()
    }

    /// Called by ingest with each batch of events, before decoding.
    pub fn offer_batch(&self, events: &[SessionEvent]) {
        let slot = lock(&self.0);
        if let Some(recorder) = slot.as_ref() {
            for event in events {
                if let SessionEvent::Message(raw) = event {
                    recorder.offer(raw);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Properties;

    fn with_props(ts: u64, user: &[(&str, &str)]) -> RawMessage {
        let mut raw = RawMessage::new(ts, "a/b", b"{}".to_vec());
        raw.properties = Some(Box::new(Properties {
            user_properties: user
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Properties::default()
        }));
        raw
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "meshscope-recorder-{name}-{}-{}.jsonl",
            std::process::id(),
            crate::now_nanos()
        ))
    }

    #[test]
    fn secret_keys_are_recognised_without_case() {
        for key in [
            "a2a-authorization",
            "Authorization",
            "x-api-key",
            "PASSWORD",
            "refresh_token",
            "Cookie",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "a2a-status",
            "MCP-COMPONENT-TYPE",
            "correlationId",
            "x-mqtt-client-id",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn records_every_message_redacted_and_reads_back() {
        let path = temp_path("basic");
        let tap = RecorderTap::new();
        tap.start(&path, RecorderOptions::default()).unwrap();
        assert!(
            tap.start(&path, RecorderOptions::default()).is_err(),
            "one recording at a time"
        );
        let events: Vec<SessionEvent> = (0..1000u64)
            .map(|i| {
                SessionEvent::Message(with_props(
                    i + 1,
                    &[
                        ("a2a-authorization", "Bearer s3cret"),
                        ("a2a-status", "online"),
                    ],
                ))
            })
            .collect();
        tap.offer_batch(&events);
        let stats = tap.stop().unwrap().finish();
        assert!(!tap.is_recording());
        assert_eq!((stats.received, stats.written, stats.lost), (1000, 1000, 0));
        assert_eq!(stats.redacted_values, 1000);
        assert_eq!(stats.write_error, None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(stats.bytes_written, text.len() as u64);
        assert!(!text.contains("s3cret"));
        assert!(text.lines().next().unwrap().contains("\"redacted\":true"));
        let back: Vec<RawMessage> = super::super::read_jsonl(text.as_bytes())
            .map(Result::unwrap)
            .collect();
        assert_eq!(back.len(), 1000);
        assert_eq!(
            back[7].props().user_property("a2a-authorization"),
            Some(REDACTED)
        );
        assert_eq!(back[7].props().user_property("a2a-status"), Some("online"));
        assert_eq!(back[7].received_at_nanos, 8);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn opt_out_keeps_secrets() {
        let path = temp_path("noredact");
        let recorder = Recorder::start(
            &path,
            RecorderOptions {
                redact: false,
                ..RecorderOptions::default()
            },
        )
        .unwrap();
        recorder.offer(&with_props(1, &[("authorization", "Bearer keep")]));
        let stats = recorder.finish();
        assert_eq!((stats.written, stats.redacted_values), (1, 0));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Bearer keep"));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_writer_that_cannot_keep_up_loses_and_counts_instead_of_blocking() {
        let path = temp_path("behind");
        // One slot: the writer cannot serialise 4 KiB messages as fast as they are offered.
        let recorder = Recorder::start(
            &path,
            RecorderOptions {
                channel_capacity: 1,
                ..RecorderOptions::default()
            },
        )
        .unwrap();
        let payload: Arc<[u8]> = Arc::from(vec![b'"'; 4096]);
        let started = std::time::Instant::now();
        for i in 0..20_000u64 {
            let mut raw = RawMessage::new(i, "t", Arc::clone(&payload));
            raw.qos = 1;
            recorder.offer(&raw);
        }
        let offer_time = started.elapsed();
        let stats = recorder.finish();
        assert_eq!(stats.received, 20_000);
        assert_eq!(stats.received, stats.written + stats.lost);
        assert!(stats.lost > 0, "{stats:?}");
        let lines = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
        assert_eq!(lines, stats.written + 1, "header + written lines");
        assert!(
            offer_time < std::time::Duration::from_secs(5),
            "offering must not wait for the disk"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn queued_payload_bytes_are_bounded() {
        let path = temp_path("bytes");
        let recorder = Recorder::start(
            &path,
            RecorderOptions {
                max_queued_bytes: 1_000_000,
                ..RecorderOptions::default()
            },
        )
        .unwrap();
        // 1000 x 100 KB offered at once: at most ~10 can wait at a time, the rest are lost.
        let payload: Arc<[u8]> = Arc::from(vec![b'a'; 100_000]);
        for i in 0..1_000u64 {
            recorder.offer(&RawMessage::new(i, "big", Arc::clone(&payload)));
        }
        let stats = recorder.finish();
        assert_eq!(stats.received, 1_000);
        assert_eq!(stats.received, stats.written + stats.lost);
        assert!(stats.lost > 0 && stats.written >= 10, "{stats:?}");
        assert_eq!(lines_after_header(&path), stats.written);
        let _ = std::fs::remove_file(&path);
    }

    fn lines_after_header(path: &Path) -> u64 {
        std::fs::read_to_string(path).unwrap().lines().count() as u64 - 1
    }

    #[test]
    fn an_unwritable_file_is_an_error_at_start() {
        let path = Path::new("/dev/full");
        if path.exists() {
            let e = Recorder::start(path, RecorderOptions::default())
                .err()
                .unwrap();
            assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected, got {e}");
        }
        assert!(
            Recorder::start(
                Path::new("/nonexistent-dir/x.jsonl"),
                RecorderOptions::default()
            )
            .is_err()
        );
    }
}
