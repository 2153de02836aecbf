//! The player: opens a recording through the ingest path on a background thread, then replays it in time.
//!
//! Opening reads the whole file in batches and applies them with [`ingest::apply_batch`], the
//! path live traffic takes, with each message's recorded receive time; the model's [`Clock`]
//! follows the messages, so the views show the recording as if live. The model's store keeps
//! its memory budget (oldest evicted, counted) whatever the file's size.
//!
//! Then the recording can be replayed: play, pause, a speed from 0.25x to 20x, and seeking to
//! any receive time. The position is a receive time; the model holds every message received at
//! or before it and is ticked at it (timeouts and staleness happen as they did live). Seeking
//! forward reads on; seeking backward rebuilds the model from the start of the file (the model
//! cannot be rewound), with progress. Commands are coalesced: dragging a scrubber while a
//! rebuild runs does not queue rebuilds.
//!
//! [`Clock`]: crate::ingest::Clock

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ingest::{self, Notify, SharedModel};
use crate::model::{Model, ModelConfig};
use crate::protocol::{RawMessage, SessionEvent};

use super::{JsonlReader, RecordErrorKind, RecordingHeader, read_jsonl};

/// Slowest and fastest replay, in hundredths of real time.
pub const MIN_SPEED_HUNDREDTHS: u32 = 25;
pub const MAX_SPEED_HUNDREDTHS: u32 = 2_000;
/// Real time.
pub const NORMAL_SPEED_HUNDREDTHS: u32 = 100;

/// Messages applied under one model lock (the same bound as live ingest).
const BATCH_MESSAGES: usize = 2_048;
/// How often the position moves while playing.
const PLAY_FRAME: Duration = Duration::from_millis(16);
const READ_BUFFER_BYTES: usize = 1 << 20;

/// What the replay bar (or a test) asks the player to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCommand {
    /// Plays from the position (from the start when at the end).
    Play,
    Pause,
    TogglePlay,
    /// Speed in hundredths of real time (25 = 0.25x, 2000 = 20x); clamped to that range.
    SetSpeed {
        speed_hundredths: u32,
    },
    /// Moves the position to this receive time (clamped to the recording's span).
    Seek {
        position_nanos: u64,
    },
}

/// Where the player is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlayerPhase {
    /// The first pass: the whole file goes into the model.
    #[default]
    Loading,
    /// A backward seek: the model is rebuilt from the start of the file up to the position.
    Rebuilding,
    Ready,
    /// The file could not be read on (the model keeps what was read).
    Failed(String),
}

/// What the replay bar shows. A snapshot, copied out under a short lock.
#[derive(Debug, Clone, Default)]
pub struct PlayerStatus {
    pub path: PathBuf,
    pub phase: PlayerPhase,
    pub file_bytes: u64,
    /// Bytes read by the current pass.
    pub bytes_read: u64,
    /// Earliest and latest receive time in the file, once the first pass is done.
    pub start_nanos: Option<u64>,
    pub end_nanos: Option<u64>,
    /// The replay position (during the first pass: the latest receive time read so far).
    pub position_nanos: u64,
    /// The latest receive time applied to the model (trails the position during a rebuild).
    pub model_time_nanos: u64,
    pub playing: bool,
    pub speed_hundredths: u32,
    /// Messages in the file, once the first pass is done.
    pub messages_in_file: Option<u64>,
    /// Messages applied to the model (those received at or before the position).
    pub messages_applied: u64,
    /// Lines that could not be read (skipped), and the first one's error.
    pub unreadable_lines: u64,
    pub first_unreadable: Option<String>,
    pub header: Option<RecordingHeader>,
    /// How long the first pass took.
    pub load_millis: Option<u64>,
    /// Times the model was emptied to be rebuilt (backward seeks). The model's revisions and
    /// sequence numbers restart then: views drop what they cached when this changes.
    pub model_resets: u64,
}

impl PlayerStatus {
    /// The progress of a load or rebuild in `[0, 1]`; `None` when there is nothing to wait for.
    pub fn progress(&self) -> Option<f32> {
        match self.phase {
            PlayerPhase::Loading => Some(if self.file_bytes == 0 {
                0.0
            } else {
                (self.bytes_read as f64 / self.file_bytes as f64).clamp(0.0, 1.0) as f32
            }),
            PlayerPhase::Rebuilding => {
                let start = self.start_nanos.unwrap_or(0);
                let span = self.position_nanos.saturating_sub(start);
                let done = self.model_time_nanos.saturating_sub(start);
                Some(if span == 0 {
                    1.0
                } else {
                    (done as f64 / span as f64).clamp(0.0, 1.0) as f32
                })
            }
            PlayerPhase::Ready | PlayerPhase::Failed(_) => None,
        }
    }

    pub fn speed(&self) -> f64 {
        f64::from(self.speed_hundredths) / 100.0
    }

    /// Loaded, and not rebuilding.
    pub fn is_ready(&self) -> bool {
        self.phase == PlayerPhase::Ready
    }
}

type StatusCell = Arc<(Mutex<PlayerStatus>, Condvar)>;

fn lock_status(cell: &StatusCell) -> MutexGuard<'_, PlayerStatus> {
    cell.0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open recording. Dropping it (or [`Player::close`]) stops the worker, empties the model and
/// puts its clock back to live.
pub struct Player {
    commands: Option<Sender<ReplayCommand>>,
    status: StatusCell,
    worker: Option<JoinHandle<()>>,
    model: SharedModel,
}

impl Player {
    /// Opens `path` into `model`: empties the model, switches its clock to replay and starts
    /// reading on a background thread (`notify` is called after each applied batch).
    pub fn open(path: &Path, model: SharedModel, notify: Option<Notify>) -> io::Result<Player> {
        let file = File::open(path)?;
        let file_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a directory", path.display()),
            ));
        }
        let status: StatusCell = Arc::new((
            Mutex::new(PlayerStatus {
                path: path.to_owned(),
                file_bytes,
                speed_hundredths: NORMAL_SPEED_HUNDREDTHS,
                ..PlayerStatus::default()
            }),
            Condvar::new(),
        ));
        // The clock first: from here on live ingest leaves the model alone.
        model.clock().set_replay_position(1);
        let previous = reset(&model);
        let (commands, receiver) = std::sync::mpsc::channel();
        let worker = Worker {
            path: path.to_owned(),
            model: model.clone(),
            notify,
            status: Arc::clone(&status),
            commands: receiver,
            source: Some(Source::new(file)),
            first_pass: true,
            failed: false,
            failure: None,
            started: Instant::now(),
            start_nanos: None,
            end_nanos: None,
            position_nanos: 0,
            target_nanos: u64::MAX,
            model_time_nanos: 0,
            ticked_at_nanos: None,
            playing: false,
            last_frame: Instant::now(),
            speed_hundredths: NORMAL_SPEED_HUNDREDTHS,
            applied: 0,
            model_resets: 0,
            messages_in_file: None,
            unreadable_lines: 0,
            first_unreadable: None,
        };
        let spawned = std::thread::Builder::new()
            .name("meshscope-player".into())
            .spawn(move || {
                drop(previous);
                worker.run();
            });
        let worker = match spawned {
            Ok(worker) => worker,
            Err(e) => {
                model.clock().set_live();
                return Err(e);
            }
        };
        Ok(Player {
            commands: Some(commands),
            status,
            worker: Some(worker),
            model,
        })
    }

    pub fn send(&self, command: ReplayCommand) {
        if let Some(commands) = &self.commands {
            // The worker only stops when the player is dropped.
            let _ = commands.send(command);
        }
    }

    pub fn status(&self) -> PlayerStatus {
        lock_status(&self.status).clone()
    }

    /// Waits until `done` holds for the status (or `deadline` passes); returns the last status
    /// seen and whether `done` held. For headless use and tests: the UI polls [`Player::status`].
    pub fn wait_for(
        &self,
        deadline: Duration,
        mut done: impl FnMut(&PlayerStatus) -> bool,
    ) -> (PlayerStatus, bool) {
        let until = Instant::now() + deadline;
        let mut guard = lock_status(&self.status);
        loop {
            if done(&guard) {
                return (guard.clone(), true);
            }
            let now = Instant::now();
            if now >= until {
                return (guard.clone(), false);
            }
            guard = match self.status.1.wait_timeout(guard, until - now) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Stops the worker, empties the model and puts its clock back to live.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Dropping the sender ends the worker within one batch.
        self.commands = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
            drop_in_background(reset(&self.model));
            self.model.clock().set_live();
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Replaces the model by an empty one with the same limits and returns the old one: freeing a
/// million messages takes a while, so callers drop it outside the lock, off the UI thread.
#[must_use = "drop the old model off the UI thread"]
fn reset(model: &SharedModel) -> Model {
    let mut guard = model.lock();
    let config = ModelConfig {
        store: guard.store.limits(),
        mesh: guard.mesh.config().clone(),
    };
    std::mem::replace(&mut *guard, Model::new(config))
}

/// Frees a model on a short-lived thread (inline if no thread can be started).
fn drop_in_background(model: Model) {
    // When no thread can be started, the closure (and the model) is dropped right here.
    let _ = std::thread::Builder::new()
        .name("meshscope-model-drop".into())
        .spawn(move || drop(model));
}

/// A `Read` that counts the bytes it hands out (the progress of a pass).
struct CountingRead {
    file: File,
    bytes: Arc<AtomicU64>,
}

impl Read for CountingRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The file being read, with the first message beyond the target held back.
struct Source {
    reader: JsonlReader<BufReader<CountingRead>>,
    bytes: Arc<AtomicU64>,
    pending: Option<RawMessage>,
    eof: bool,
}

impl Source {
    fn new(file: File) -> Source {
        let bytes = Arc::new(AtomicU64::new(0));
        let counting = CountingRead {
            file,
            bytes: Arc::clone(&bytes),
        };
        Source {
            reader: read_jsonl(BufReader::with_capacity(READ_BUFFER_BYTES, counting)),
            bytes,
            pending: None,
            eof: false,
        }
    }

    /// Messages after `target_nanos` are held back, so the caller is caught up.
    fn caught_up(&self, target_nanos: u64) -> bool {
        self.eof
            || self
                .pending
                .as_ref()
                .is_some_and(|m| m.received_at_nanos > target_nanos)
    }
}

struct Worker {
    path: PathBuf,
    model: SharedModel,
    notify: Option<Notify>,
    status: StatusCell,
    commands: Receiver<ReplayCommand>,
    source: Option<Source>,
    first_pass: bool,
    failed: bool,
    failure: Option<String>,
    started: Instant,
    start_nanos: Option<u64>,
    end_nanos: Option<u64>,
    position_nanos: u64,
    /// Messages received at or before this are to be in the model.
    target_nanos: u64,
    /// The latest receive time applied.
    model_time_nanos: u64,
    ticked_at_nanos: Option<u64>,
    playing: bool,
    last_frame: Instant,
    speed_hundredths: u32,
    applied: u64,
    model_resets: u64,
    messages_in_file: Option<u64>,
    unreadable_lines: u64,
    first_unreadable: Option<String>,
}

enum Wait {
    Continue,
    Stop,
}

impl Worker {
    fn run(mut self) {
        loop {
            if let Wait::Stop = self.take_commands() {
                return;
            }
            self.advance_play();
            if let Err(e) = self.feed() {
                tracing::error!("replay of {}: {e}", self.path.display());
                self.failed = true;
                self.failure = Some(format!("reading the file failed: {e}"));
                self.playing = false;
            }
            self.publish();
        }
    }

    fn has_work(&self) -> bool {
        !self.failed
            && (self.first_pass
                || self
                    .source
                    .as_ref()
                    .is_some_and(|s| !s.caught_up(self.target_nanos))
                || self.ticked_at_nanos != Some(self.target_nanos))
    }

    /// Takes every waiting command; blocks only when there is nothing else to do.
    fn take_commands(&mut self) -> Wait {
        let first = if self.has_work() {
            match self.commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return Wait::Stop,
            }
        } else if self.playing {
            match self.commands.recv_timeout(PLAY_FRAME) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Wait::Stop,
            }
        } else {
            match self.commands.recv() {
                Ok(c) => Some(c),
                Err(_) => return Wait::Stop,
            }
        };
        if let Some(command) = first {
            self.handle(command);
            loop {
                match self.commands.try_recv() {
                    Ok(c) => self.handle(c),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Wait::Stop,
                }
            }
        }
        Wait::Continue
    }

    fn handle(&mut self, command: ReplayCommand) {
        match command {
            ReplayCommand::SetSpeed { speed_hundredths } => {
                self.speed_hundredths =
                    speed_hundredths.clamp(MIN_SPEED_HUNDREDTHS, MAX_SPEED_HUNDREDTHS);
            }
            // Nothing to move through before the file is read, or after it failed.
            _ if self.first_pass || self.failed => {}
            ReplayCommand::Pause => self.playing = false,
            ReplayCommand::Play => self.play(),
            ReplayCommand::TogglePlay => {
                if self.playing {
                    self.playing = false;
                } else {
                    self.play();
                }
            }
            ReplayCommand::Seek { position_nanos } => self.seek(position_nanos),
        }
    }

    fn play(&mut self) {
        let (Some(start), Some(end)) = (self.start_nanos, self.end_nanos) else {
            return;
        };
        if self.position_nanos >= end {
            self.seek(start);
        }
        self.playing = true;
        self.last_frame = Instant::now();
    }

    fn seek(&mut self, position_nanos: u64) {
        let (Some(start), Some(end)) = (self.start_nanos, self.end_nanos) else {
            return;
        };
        let position = position_nanos.clamp(start, end);
        if position < self.model_time_nanos {
            // The model holds later messages: rebuild it from the start of the file.
            match File::open(&self.path) {
                Ok(file) => {
                    // Freed here, on the worker, after the lock is released.
                    drop(reset(&self.model));
                    self.model_resets += 1;
                    self.source = Some(Source::new(file));
                    self.model_time_nanos = start;
                    self.applied = 0;
                    self.ticked_at_nanos = None;
                }
                Err(e) => {
                    tracing::error!("replay: cannot reopen {}: {e}", self.path.display());
                    self.failed = true;
                    self.failure = Some(format!("cannot reopen the file: {e}"));
                    return;
                }
            }
        }
        self.position_nanos = position;
        self.target_nanos = position;
        self.last_frame = Instant::now();
    }

    fn advance_play(&mut self) {
        if !self.playing {
            return;
        }
        let Some(end) = self.end_nanos else {
            return;
        };
        let now = Instant::now();
        let elapsed_nanos = now.duration_since(self.last_frame).as_nanos() as f64;
        self.last_frame = now;
        let step = (elapsed_nanos * f64::from(self.speed_hundredths) / 100.0) as u64;
        self.position_nanos = self.position_nanos.saturating_add(step).min(end);
        self.target_nanos = self.position_nanos;
        if self.position_nanos >= end {
            self.playing = false;
        }
    }

    /// The next message of the file; unreadable lines are skipped (counted on the first pass).
    fn next_message(&mut self) -> io::Result<Option<RawMessage>> {
        let Some(source) = self.source.as_mut() else {
            return Ok(None);
        };
        if let Some(raw) = source.pending.take() {
            return Ok(Some(raw));
        }
        loop {
            match source.reader.next() {
                None => return Ok(None),
                Some(Ok(raw)) => return Ok(Some(raw)),
                Some(Err(e)) => {
                    let text = e.to_string();
                    if let RecordErrorKind::Io(io) = e.kind
                        && io.kind() != io::ErrorKind::InvalidData
                    {
                        return Err(io);
                    }
                    if self.first_pass {
                        self.unreadable_lines += 1;
                        if self.unreadable_lines <= 10 {
                            tracing::warn!("{}: {text}", self.path.display());
                        }
                        self.first_unreadable.get_or_insert(text);
                    }
                }
            }
        }
    }

    /// Applies at most one batch of messages up to the target, through the ingest path.
    fn feed(&mut self) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let target = if self.first_pass {
            u64::MAX
        } else {
            self.target_nanos
        };
        let mut batch = Vec::new();
        if self.source.as_ref().is_some_and(|s| !s.caught_up(target)) {
            batch.reserve(BATCH_MESSAGES);
            while batch.len() < BATCH_MESSAGES {
                let Some(raw) = self.next_message()? else {
                    if let Some(source) = self.source.as_mut() {
                        source.eof = true;
                    }
                    break;
                };
                if raw.received_at_nanos > target {
                    if let Some(source) = self.source.as_mut() {
                        source.pending = Some(raw);
                    }
                    break;
                }
                let at = raw.received_at_nanos;
                self.model_time_nanos = self.model_time_nanos.max(at);
                if self.first_pass {
                    self.start_nanos = Some(self.start_nanos.map_or(at, |s| s.min(at)));
                }
                batch.push(SessionEvent::Message(raw));
            }
        }
        self.applied += batch.len() as u64;
        let applied_some = !batch.is_empty();
        ingest::apply_batch(&self.model, &mut batch);
        let caught_up = self.source.as_ref().is_none_or(|s| s.caught_up(target));
        if caught_up && self.first_pass {
            self.first_pass = false;
            self.messages_in_file = Some(self.applied);
            self.end_nanos = self.start_nanos.map(|_| self.model_time_nanos);
            self.position_nanos = self.model_time_nanos;
            self.target_nanos = self.model_time_nanos;
            let elapsed = self.started.elapsed();
            tracing::info!(
                "opened {}: {} messages in {:.2} s",
                self.path.display(),
                self.applied,
                elapsed.as_secs_f64()
            );
        }
        if caught_up && !self.first_pass {
            if self.ticked_at_nanos != Some(self.target_nanos) && self.end_nanos.is_some() {
                self.model.lock().tick(self.target_nanos);
            }
            self.ticked_at_nanos = Some(self.target_nanos);
            if self.end_nanos.is_some() {
                self.model.clock().set_replay_position(self.position_nanos);
            }
        } else if applied_some {
            self.model
                .clock()
                .set_replay_position(self.model_time_nanos);
        }
        if (applied_some || caught_up)
            && let Some(notify) = &self.notify
        {
            notify();
        }
        Ok(())
    }

    fn publish(&mut self) {
        let header = if self.first_pass {
            self.source
                .as_ref()
                .and_then(|s| s.reader.header().cloned())
        } else {
            None
        };
        let caught_up = !self.first_pass
            && self
                .source
                .as_ref()
                .is_none_or(|s| s.caught_up(self.target_nanos));
        {
            let mut status = lock_status(&self.status);
            status.phase = if self.failed {
                PlayerPhase::Failed(
                    self.failure
                        .clone()
                        .unwrap_or_else(|| "the file could not be read".into()),
                )
            } else if self.first_pass {
                PlayerPhase::Loading
            } else if caught_up {
                PlayerPhase::Ready
            } else {
                PlayerPhase::Rebuilding
            };
            status.bytes_read = self
                .source
                .as_ref()
                .map_or(0, |s| s.bytes.load(Ordering::Relaxed));
            status.start_nanos = self.start_nanos.filter(|_| !self.first_pass);
            status.end_nanos = self.end_nanos;
            status.position_nanos = if self.first_pass {
                self.model_time_nanos
            } else {
                self.position_nanos
            };
            status.model_time_nanos = self.model_time_nanos;
            status.playing = self.playing;
            status.speed_hundredths = self.speed_hundredths;
            status.messages_in_file = self.messages_in_file;
            status.messages_applied = self.applied;
            status.model_resets = self.model_resets;
            status.unreadable_lines = self.unreadable_lines;
            status.first_unreadable = self.first_unreadable.clone();
            if header.is_some() {
                status.header = header;
            }
            if status.load_millis.is_none() && !self.first_pass {
                status.load_millis = Some(self.started.elapsed().as_millis() as u64);
            }
        }
        self.status.1.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    const WAIT: Duration = Duration::from_secs(20);
    const MILLI: u64 = 1_000_000;
    const T0: u64 = 1_800_000_000_000_000_000;

    /// `count` messages, one per millisecond from T0, and a bad line in the middle.
    fn recording(name: &str, count: u64) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "meshscope-player-{name}-{}-{}.jsonl",
            std::process::id(),
            crate::now_nanos()
        ));
        let mut out = Vec::new();
        super::super::write_header(&RecordingHeader::new(Some(T0), None), &mut out).unwrap();
        for i in 0..count {
            let raw = RawMessage::new(T0 + i * MILLI, &format!("t/{i}"), b"x".to_vec());
            super::super::write_line(&raw, &mut out, i + 1).unwrap();
            if i == count / 2 {
                out.extend_from_slice(b"{garbage\n");
            }
        }
        std::fs::write(&path, out).unwrap();
        path
    }

    fn messages(model: &SharedModel) -> u64 {
        model.lock().messages_total
    }

    #[test]
    fn opens_then_seeks_back_and_forth_and_plays_to_the_end() {
        let path = recording("seek", 5_000);
        let model = SharedModel::new(ModelConfig::default());
        model
            .lock()
            .apply_message(RawMessage::new(5, "live/leftover", b"x".to_vec()));
        let player = Player::open(&path, model.clone(), None).unwrap();
        assert!(model.clock().is_replay());
        let (status, ok) = player.wait_for(WAIT, PlayerStatus::is_ready);
        assert!(ok, "{status:?}");
        assert_eq!(status.messages_in_file, Some(5_000));
        assert_eq!(status.unreadable_lines, 1);
        assert_eq!(status.start_nanos, Some(T0));
        assert_eq!(status.end_nanos, Some(T0 + 4_999 * MILLI));
        assert_eq!(status.position_nanos, T0 + 4_999 * MILLI);
        assert_eq!(status.header.and_then(|h| h.started_at_nanos), Some(T0));
        assert_eq!(messages(&model), 5_000, "the live leftover is gone");
        assert_eq!(model.clock().now_nanos(), T0 + 4_999 * MILLI);

        // Backward: rebuilt up to the position, inclusive.
        player.send(ReplayCommand::Seek {
            position_nanos: T0 + 1_000 * MILLI,
        });
        let (status, ok) = player.wait_for(WAIT, |s| {
            s.is_ready() && s.position_nanos == T0 + 1_000 * MILLI
        });
        assert!(ok, "{status:?}");
        assert_eq!(status.messages_applied, 1_001);
        assert_eq!(messages(&model), 1_001);
        assert_eq!(model.clock().now_nanos(), T0 + 1_000 * MILLI);

        // Forward: reads on.
        player.send(ReplayCommand::Seek {
            position_nanos: T0 + 3_000 * MILLI + 1,
        });
        let (status, ok) = player.wait_for(WAIT, |s| {
            s.is_ready() && s.position_nanos == T0 + 3_000 * MILLI + 1
        });
        assert!(ok, "{status:?}");
        assert_eq!(messages(&model), 3_001);

        // Clamped to the span.
        player.send(ReplayCommand::Seek { position_nanos: 0 });
        let (_, ok) = player.wait_for(WAIT, |s| s.is_ready() && s.position_nanos == T0);
        assert!(ok);
        assert_eq!(messages(&model), 1);

        // 5 s of recording at 20x: about 0.25 s; play stops at the end.
        player.send(ReplayCommand::SetSpeed {
            speed_hundredths: 5_000,
        });
        player.send(ReplayCommand::Play);
        let (status, ok) = player.wait_for(WAIT, |s| s.playing);
        assert!(ok, "{status:?}");
        assert_eq!(status.speed_hundredths, MAX_SPEED_HUNDREDTHS);
        let started = Instant::now();
        let (status, ok) = player.wait_for(WAIT, |s| {
            !s.playing && s.is_ready() && Some(s.position_nanos) == s.end_nanos
        });
        assert!(ok, "{status:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(messages(&model), 5_000);

        player.close();
        assert!(!model.clock().is_replay());
        assert_eq!(messages(&model), 0);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn pause_holds_the_position() {
        let path = recording("pause", 2_000);
        let model = SharedModel::new(ModelConfig::default());
        let player = Player::open(&path, model.clone(), None).unwrap();
        assert!(player.wait_for(WAIT, PlayerStatus::is_ready).1);
        player.send(ReplayCommand::Seek { position_nanos: T0 });
        player.send(ReplayCommand::SetSpeed {
            speed_hundredths: 25,
        });
        player.send(ReplayCommand::Play);
        // At 0.25x, 2 s of recording take 8 s: wait until it moved, then pause.
        let (_, ok) = player.wait_for(WAIT, |s| s.playing && s.position_nanos > T0 + 5 * MILLI);
        assert!(ok);
        player.send(ReplayCommand::Pause);
        let (paused, ok) = player.wait_for(WAIT, |s| !s.playing && s.is_ready());
        assert!(ok);
        assert!(paused.position_nanos < T0 + 1_999 * MILLI);
        // Nothing moves while paused: a later command round trip sees the same position.
        player.send(ReplayCommand::SetSpeed {
            speed_hundredths: 100,
        });
        let (later, ok) = player.wait_for(WAIT, |s| s.speed_hundredths == 100);
        assert!(ok);
        assert_eq!(later.position_nanos, paused.position_nanos);
        let at_pause = (paused.position_nanos - T0) / MILLI + 1;
        assert_eq!(messages(&model), at_pause);
        drop(player);
        assert!(!model.clock().is_replay());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_missing_file_or_a_directory_is_an_error() {
        let model = SharedModel::new(ModelConfig::default());
        assert!(Player::open(Path::new("/nonexistent/x.jsonl"), model.clone(), None).is_err());
        assert!(Player::open(&std::env::temp_dir(), model.clone(), None).is_err());
        assert!(!model.clock().is_replay());
    }
}
