//! Broker passwords in the OS keyring (Secret Service, Keychain, Credential Manager), off the UI thread; never on disk or in logs.
//!
//! One keyring item per profile: service [`SERVICE`], account [`SecretKey::account`] (profile
//! name, broker URL and user name), so renaming a profile or pointing it at another broker never
//! hands the old password to the new broker. Where there is no keyring (no D-Bus session bus, no
//! Secret Service, an unsupported platform) every call says so with [`SecretError::NoKeyring`] and
//! nothing is stored: the password is typed each time or read from an environment variable.
//!
//! The free functions block (a D-Bus round trip, or an unlock prompt a person has to answer).
//! Interactive code uses [`Keyring`]: one worker thread runs the calls and each call returns a
//! [`Pending`] polled without blocking and bounded by a deadline, so a keyring that hangs
//! cannot freeze the window.

use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::settings::Profile;

/// The service name of every Meshscope keyring item.
pub const SERVICE: &str = "meshscope";

/// What the connection dialog says where passwords cannot be kept.
pub const NO_KEYRING_MESSAGE: &str = "No OS keyring here: the password is not stored; type it each time or read it from an environment variable";

/// How long finding the keyring may take before Meshscope treats the machine as having none.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(10);

/// How long a store, look-up or removal may take: long enough for a person to answer the
/// keyring's unlock prompt.
pub const OPERATION_DEADLINE: Duration = Duration::from_secs(60);

/// Requests that may wait behind a slow keyring call before new ones are refused.
const WORKER_QUEUE_CAPACITY: usize = 16;

/// A password in memory. `Debug` prints `<redacted>`, there is no `Display`, and the bytes are
/// overwritten (best effort) when it is dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(password: impl Into<String>) -> Secret {
        Secret(password.into())
    }

    /// The password itself: hand it to the MQTT session, never to a formatter.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_string(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl From<String> for Secret {
    fn from(password: String) -> Secret {
        Secret(password)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keeps the writes from being optimised away as dead stores.
        std::hint::black_box(&bytes);
    }
}

/// Which keyring item holds a profile's password.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKey {
    pub profile_name: String,
    pub broker_url: String,
    pub username: String,
}

impl SecretKey {
    /// Surrounding spaces are dropped, as the app drops them when it connects.
    pub fn new(profile_name: &str, broker_url: &str, username: &str) -> SecretKey {
        SecretKey {
            profile_name: profile_name.trim().to_owned(),
            broker_url: broker_url.trim().to_owned(),
            username: username.trim().to_owned(),
        }
    }

    pub fn for_profile(profile: &Profile) -> SecretKey {
        SecretKey::new(&profile.name, &profile.broker_url, &profile.username)
    }

    /// The keyring account: a JSON array `["profile","broker URL","user"]`, readable in the
    /// desktop's password manager and unambiguous whatever the names contain.
    pub fn account(&self) -> String {
        serde_json::Value::from(vec![
            self.profile_name.as_str(),
            self.broker_url.as_str(),
            self.username.as_str(),
        ])
        .to_string()
    }
}

/// Where a password was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub service: &'static str,
    pub account: String,
}

/// What [`forget`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    Removed,
    /// There was nothing stored under that key (forgetting twice is not an error).
    NothingStored,
}

/// Keyring failures. None of them carries the password: messages are built from the
/// keyring's error text, never from the secret it was handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No keyring on this machine: nothing is stored, and that is not a fault.
    #[error("{NO_KEYRING_MESSAGE} ({reason})")]
    NoKeyring { reason: String },
    /// The keyring did not answer in time; the call may still finish in the background.
    #[error("the OS keyring did not answer within {waited_millis} ms")]
    TimedOut { waited_millis: u64 },
    /// The keyring is there but refused (locked, or its unlock prompt was dismissed).
    #[error("the OS keyring refused access: {reason}")]
    Refused { reason: String },
    #[error("the OS keyring failed: {reason}")]
    Failed { reason: String },
    /// Too many requests are queued behind a keyring call that has not finished.
    #[error("the OS keyring is still busy with earlier requests")]
    Busy,
    #[error("the keyring worker thread is gone")]
    WorkerGone,
}

impl SecretError {
    /// True when the machine has no keyring (as opposed to a keyring that failed).
    pub fn is_no_keyring(&self) -> bool {
        matches!(self, SecretError::NoKeyring { .. })
    }
}

/// Checks that the platform keyring can be reached. Blocks: see [`Keyring::probe`].
pub fn probe() -> Result<(), SecretError> {
    store_ready()
}

/// Stores `password` for `key`, replacing what was there. Blocks: see [`Keyring::remember`].
pub fn remember(key: &SecretKey, password: &Secret) -> Result<Stored, SecretError> {
    let account = key.account();
    let entry = entry(&account)?;
    entry.set_password(password.expose()).map_err(map_error)?;
    Ok(Stored {
        service: SERVICE,
        account,
    })
}

/// The password stored for `key`, or `None`. Blocks: see [`Keyring::recall`].
pub fn recall(key: &SecretKey) -> Result<Option<Secret>, SecretError> {
    let entry = entry(&key.account())?;
    match entry.get_password() {
        Ok(password) => Ok(Some(Secret::from(password))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map_error(e)),
    }
}

/// Removes the password stored for `key`. Blocks: see [`Keyring::forget`].
pub fn forget(key: &SecretKey) -> Result<Forgotten, SecretError> {
    let entry = entry(&key.account())?;
    match entry.delete_credential() {
        Ok(()) => Ok(Forgotten::Removed),
        Err(keyring::Error::NoEntry) => Ok(Forgotten::NothingStored),
        // Several items match (made by another tool, or a race): remove them all.
        Err(keyring::Error::Ambiguous(entries)) => {
            for duplicate in entries {
                match duplicate.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => {}
                    Err(e) => return Err(map_error(e)),
                }
            }
            Ok(Forgotten::Removed)
        }
        Err(e) => Err(map_error(e)),
    }
}

/// The platform store is set up once per process; its failure means there is no keyring.
fn store_ready() -> Result<(), SecretError> {
    match keyring::Entry::store_status() {
        Ok(()) => Ok(()),
        Err(e) => Err(SecretError::NoKeyring {
            reason: describe(e),
        }),
    }
}

fn entry(account: &str) -> Result<keyring::Entry, SecretError> {
    store_ready()?;
    keyring::Entry::new(SERVICE, account).map_err(map_error)
}

fn map_error(error: keyring::Error) -> SecretError {
    match error {
        keyring::Error::NoDefaultStore => match store_ready() {
            Err(no_keyring) => no_keyring,
            Ok(()) => SecretError::Failed {
                reason: "the keyring store is not set up".into(),
            },
        },
        keyring::Error::NoStorageAccess(e) => SecretError::Refused {
            reason: e.to_string(),
        },
        other => SecretError::Failed {
            reason: describe(&other),
        },
    }
}

/// An error's text without the secret bytes two of keyring's variants carry.
fn describe(error: &keyring::Error) -> String {
    match error {
        keyring::Error::BadEncoding(_) => "the stored password is not valid UTF-8".into(),
        keyring::Error::BadDataFormat(_, _) => "the stored secret is malformed".into(),
        keyring::Error::Ambiguous(entries) => {
            format!("{} keyring items match this profile", entries.len())
        }
        keyring::Error::PlatformFailure(e) => e.to_string(),
        keyring::Error::NoStorageAccess(e) => e.to_string(),
        other => other.to_string(),
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The keyring calls of an interactive program: one worker thread runs them in order; each
/// call returns at once with a [`Pending`] result.
#[derive(Clone)]
pub struct Keyring {
    jobs: mpsc::SyncSender<Job>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keyring")
    }
}

impl Keyring {
    /// Starts the worker thread (it ends when the last `Keyring` clone is dropped).
    pub fn start() -> Keyring {
        let (jobs, queue) = mpsc::sync_channel::<Job>(WORKER_QUEUE_CAPACITY);
        let spawned = std::thread::Builder::new()
            .name("meshscope-keyring".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job();
                }
            });
        if let Err(e) = spawned {
            // Every call then reports `WorkerGone`: no keyring, nothing stored.
            tracing::warn!("keyring worker thread not started: {e}");
        }
        Keyring { jobs }
    }

    /// Whether the keyring can be reached, within [`PROBE_DEADLINE`].
    pub fn probe(&self) -> Pending<()> {
        self.probe_within(PROBE_DEADLINE)
    }

    pub fn probe_within(&self, deadline: Duration) -> Pending<()> {
        self.submit(deadline, probe)
    }

    pub fn remember(&self, key: SecretKey, password: Secret) -> Pending<Stored> {
        self.submit(OPERATION_DEADLINE, move || remember(&key, &password))
    }

    pub fn recall(&self, key: SecretKey) -> Pending<Option<Secret>> {
        self.submit(OPERATION_DEADLINE, move || recall(&key))
    }

    pub fn forget(&self, key: SecretKey) -> Pending<Forgotten> {
        self.submit(OPERATION_DEADLINE, move || forget(&key))
    }

    fn submit<T: Send + 'static>(
        &self,
        deadline: Duration,
        work: impl FnOnce() -> Result<T, SecretError> + Send + 'static,
    ) -> Pending<T> {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            // The asker may have given up (deadline passed, dialog closed): nothing to do then.
            let _ = reply.send(work());
        });
        let started_at = Instant::now();
        let state = match self.jobs.try_send(job) {
            Ok(()) => PendingState::Waiting(result),
            Err(mpsc::TrySendError::Full(_)) => PendingState::Ready(Err(SecretError::Busy)),
            Err(mpsc::TrySendError::Disconnected(_)) => {
                PendingState::Ready(Err(SecretError::WorkerGone))
            }
        };
        Pending {
            state,
            started_at,
            deadline,
        }
    }
}

/// A keyring call running on the worker: [`Pending::poll`] never blocks, [`Pending::wait`]
/// blocks at most until the deadline. Either gives [`SecretError::TimedOut`] past it.
pub struct Pending<T> {
    state: PendingState<T>,
    started_at: Instant,
    deadline: Duration,
}

enum PendingState<T> {
    Waiting(mpsc::Receiver<Result<T, SecretError>>),
    Ready(Result<T, SecretError>),
    Taken,
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("elapsed_millis", &self.started_at.elapsed().as_millis())
            .field("deadline_millis", &self.deadline.as_millis())
            .finish()
    }
}

impl<T> Pending<T> {
    /// The result once there is one (then `None` on later calls); `None` while it runs.
    pub fn poll(&mut self) -> Option<Result<T, SecretError>> {
        let outcome = match &self.state {
            PendingState::Taken => return None,
            PendingState::Ready(_) => None,
            PendingState::Waiting(result) => match result.try_recv() {
                Ok(outcome) => Some(outcome),
                Err(mpsc::TryRecvError::Disconnected) => Some(Err(SecretError::WorkerGone)),
                Err(mpsc::TryRecvError::Empty) if self.started_at.elapsed() >= self.deadline => {
                    Some(Err(self.timed_out()))
                }
                Err(mpsc::TryRecvError::Empty) => return None,
            },
        };
        match std::mem::replace(&mut self.state, PendingState::Taken) {
            PendingState::Ready(ready) => Some(ready),
            _ => outcome,
        }
    }

    /// Blocks until the result or the deadline (tests, command-line tools; never the UI).
    pub fn wait(mut self) -> Result<T, SecretError> {
        match std::mem::replace(&mut self.state, PendingState::Taken) {
            PendingState::Ready(ready) => ready,
            PendingState::Taken => Err(SecretError::WorkerGone),
            PendingState::Waiting(result) => {
                let left = self.deadline.saturating_sub(self.started_at.elapsed());
                match result.recv_timeout(left) {
                    Ok(outcome) => outcome,
                    Err(mpsc::RecvTimeoutError::Timeout) => Err(self.timed_out()),
                    Err(mpsc::RecvTimeoutError::Disconnected) => Err(SecretError::WorkerGone),
                }
            }
        }
    }

    /// How long the call has been running.
    pub fn elapsed(&self) -> Duration {
        self.started_at.elapsed()
    }

    fn timed_out(&self) -> SecretError {
        SecretError::TimedOut {
            waited_millis: u64::try_from(self.started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("hunter2-very-secret");
        let text = format!("{secret:?} {secret:#?} {:?}", Some(secret.clone()));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"));
        assert_eq!(secret.expose(), "hunter2-very-secret");
        assert_eq!(secret.into_string(), "hunter2-very-secret");
    }

    #[test]
    fn account_names_profile_broker_and_user_unambiguously() {
        let key = SecretKey::new(" prod ", "mqtts://broker.example:8883", "ops");
        assert_eq!(
            key.account(),
            r#"["prod","mqtts://broker.example:8883","ops"]"#
        );
        // A separator inside a name cannot make two keys collide.
        let a = SecretKey::new("a\",\"b", "c", "");
        let b = SecretKey::new("a", "b\",\"c", "");
        assert_ne!(a.account(), b.account());
        let profile = Profile {
            name: "prod".into(),
            broker_url: "mqtts://broker.example:8883 ".into(),
            username: "ops".into(),
            ..Profile::default()
        };
        assert_eq!(SecretKey::for_profile(&profile), key);
    }

    #[test]
    fn errors_never_carry_the_secret_bytes() {
        let secret = b"hunter2-very-secret".to_vec();
        for error in [
            keyring::Error::BadEncoding(secret.clone()),
            keyring::Error::BadDataFormat(secret.clone(), Box::new(std::io::Error::other("x"))),
        ] {
            let mapped = map_error(error);
            let text = format!("{mapped} {mapped:?}");
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("104, 117"), "bytes of the secret: {text}");
        }
    }

    #[test]
    fn no_keyring_says_what_the_ui_shows() {
        let error = SecretError::NoKeyring {
            reason: "no session bus".into(),
        };
        assert!(error.is_no_keyring());
        assert!(error.to_string().starts_with(NO_KEYRING_MESSAGE));
        assert!(!SecretError::TimedOut { waited_millis: 5 }.is_no_keyring());
    }

    #[test]
    fn a_call_that_never_answers_times_out_without_blocking_poll() {
        let keyring = Keyring::start();
        let (release, gate) = mpsc::channel::<()>();
        // Occupies the worker the way a hung D-Bus call would.
        let mut stuck = keyring.submit(Duration::from_millis(200), move || {
            let _ = gate.recv();
            Ok(())
        });
        let polled_at = Instant::now();
        assert!(stuck.poll().is_none());
        assert!(polled_at.elapsed() < Duration::from_millis(100));
        let queued = keyring.submit(Duration::from_millis(50), || Ok(7));
        assert!(matches!(queued.wait(), Err(SecretError::TimedOut { .. })));
        let waited_at = Instant::now();
        let outcome = loop {
            if let Some(outcome) = stuck.poll() {
                break outcome;
            }
            assert!(
                waited_at.elapsed() < Duration::from_secs(5),
                "poll never gave up"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(matches!(outcome, Err(SecretError::TimedOut { .. })));
        assert!(stuck.poll().is_none(), "a result is handed out once");
        release.send(()).unwrap();
        // The worker is free again.
        assert_eq!(
            keyring.submit(Duration::from_secs(5), || Ok(8)).wait(),
            Ok(8)
        );
    }
}
