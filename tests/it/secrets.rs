//! Passwords in a real OS keyring (a throwaway D-Bus session bus and gnome-keyring per test, driven from child processes), the no-keyring fallback, and never a password in the settings file.
//!
//! The keyring crate finds the Secret Service through the process-wide
//! `DBUS_SESSION_BUS_ADDRESS`, and tests run as threads of one process, so every keyring call
//! runs in a child process: this test binary re-run on the ignored test [`keyring_child`],
//! with the bus address (or none) and the scenario in its environment.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use meshscope::secrets::{
    self, Forgotten, Keyring, NO_KEYRING_MESSAGE, PROBE_DEADLINE, Secret, SecretError, SecretKey,
};
use meshscope::settings::{Profile, Settings};
use meshscope::ui::Action;
use meshscope::ui::connection_dialog::{
    ConnectionDialogState, KeyringAvailability, connection_dialog_ui,
};

use crate::support::unique;

/// The environment variable naming the child's scenario (unset: the child test does nothing).
const SCENARIO_VAR: &str = "MESHSCOPE_TEST_KEYRING_SCENARIO";
const PROFILE_VAR: &str = "MESHSCOPE_TEST_KEYRING_PROFILE";
const BROKER_VAR: &str = "MESHSCOPE_TEST_KEYRING_BROKER";
const USER_VAR: &str = "MESHSCOPE_TEST_KEYRING_USER";
const PASSWORD_VAR: &str = "MESHSCOPE_TEST_KEYRING_PASSWORD";
const SETTINGS_VAR: &str = "MESHSCOPE_TEST_KEYRING_SETTINGS";
const LOG_VAR: &str = "MESHSCOPE_TEST_KEYRING_LOG";

/// A child scenario, start to exit, including a keyring that never answers.
const CHILD_DEADLINE: Duration = Duration::from_secs(90);
/// How long the daemons may take to come up.
const DAEMON_DEADLINE: Duration = Duration::from_secs(15);
/// "No keyring" must be known well within the probe deadline when there is no bus at all.
const NO_BUS_BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The tests (parent side).

#[test]
fn remembered_password_is_in_the_os_keyring_across_processes_until_forgotten() {
    let Some(bus) = SessionBus::start(true) else {
        return;
    };
    let case = Case::new("roundtrip");
    let password = format!("pw-{}", unique("roundtrip"));

    case.child(&bus.env(), "remember", &password);
    assert_eq!(
        bus.secret_tool_lookup(&case.key()).as_deref(),
        Some(password.as_str()),
        "another program (secret-tool) finds the password in the Secret Service"
    );
    case.child(&bus.env(), "recall", &password);
    case.child(&bus.env(), "forget", "removed");
    assert_eq!(
        bus.secret_tool_lookup(&case.key()),
        None,
        "the item is gone"
    );
    case.child(&bus.env(), "recall", "");
    case.child(&bus.env(), "forget", "nothing");
}

#[test]
fn without_any_dbus_there_is_no_keyring_and_nothing_hangs() {
    let case = Case::new("nobus");
    let started_at = Instant::now();
    case.child(&ChildEnv::NoBus, "no-keyring", "");
    // The child itself checks its calls took less than NO_BUS_BOUND; this bounds the process.
    assert!(started_at.elapsed() < CHILD_DEADLINE);
}

#[test]
fn a_bus_without_a_secret_service_is_no_keyring() {
    let Some(bus) = SessionBus::start(false) else {
        return;
    };
    Case::new("nosecrets").child(&bus.env(), "no-keyring", "");
}

#[test]
fn a_keyring_that_never_answers_is_given_up_on_in_bounded_time() {
    let dir = TempDir::new("blackhole");
    let socket = dir.path().join("bus");
    // Bound and never accepted: connecting succeeds, and no byte ever comes back.
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let env = ChildEnv::Bus {
        address: format!("unix:path={}", socket.display()),
    };
    Case::new("blackhole").child(&env, "unanswered", "");
}

#[test]
fn dialog_keeps_the_password_in_the_keyring_and_never_in_the_settings_file() {
    let Some(bus) = SessionBus::start(true) else {
        return;
    };
    let case = Case::new("dialog");
    let password = format!("pw-{}", unique("dialog"));

    // Type it, tick "Remember", save: the keyring has it, the settings file does not.
    case.child(&bus.env(), "dialog-remember", &password);
    let settings_text = std::fs::read_to_string(case.settings_path()).expect("settings saved");
    assert!(
        !settings_text.contains(&password),
        "the password must never reach the settings file: {settings_text}"
    );
    assert!(settings_text.contains("\"remember_password\": true"));
    assert_eq!(
        bus.secret_tool_lookup(&case.key()).as_deref(),
        Some(password.as_str())
    );

    // A new process: choosing the profile fills the password in; clearing the box forgets it.
    case.child(&bus.env(), "dialog-recall-then-untick", &password);
    assert_eq!(bus.secret_tool_lookup(&case.key()), None);
    let settings_text = std::fs::read_to_string(case.settings_path()).expect("settings saved");
    assert!(settings_text.contains("\"remember_password\": false"));
    assert!(!settings_text.contains(&password));

    // Remember again, then delete the profile: the item goes with it.
    case.child(&bus.env(), "dialog-remember", &password);
    assert!(bus.secret_tool_lookup(&case.key()).is_some());
    case.child(&bus.env(), "dialog-delete", &password);
    assert_eq!(bus.secret_tool_lookup(&case.key()), None);
}

#[test]
fn dialog_without_a_keyring_disables_remember_and_stores_nothing() {
    let case = Case::new("dialog-nobus");
    let password = format!("pw-{}", unique("dialog-nobus"));
    case.child(&ChildEnv::NoBus, "dialog-no-keyring", &password);
    let settings_text = std::fs::read_to_string(case.settings_path()).expect("settings saved");
    assert!(!settings_text.contains(&password), "{settings_text}");
    assert!(settings_text.contains("\"remember_password\": false"));
}

// ---------------------------------------------------------------------------------------------
// The child side: one scenario per run, in a process whose environment names its own bus.

#[test]
#[ignore = "run by the secrets tests as a child process with its own D-Bus environment"]
fn keyring_child() {
    let Ok(scenario) = std::env::var(SCENARIO_VAR) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let key = SecretKey::new(&var(PROFILE_VAR), &var(BROKER_VAR), &var(USER_VAR));
    let password = var(PASSWORD_VAR);
    // Everything logged at any level, Meshscope's and its libraries' (keyring, zbus, via
    // `log` too), goes to a file checked below: a process of its own may set the global logger.
    let log_path = PathBuf::from(var(LOG_VAR));
    let log_file = std::fs::File::create(&log_path).expect("trace log");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(std::sync::Mutex::new(log_file))
        .with_ansi(false)
        .init();
    let keyring = Keyring::start();
    match scenario.as_str() {
        "remember" => {
            let stored = keyring
                .remember(key.clone(), Secret::new(password.clone()))
                .wait()
                .expect("remember");
            assert_eq!(stored.service, "meshscope");
            assert_eq!(stored.account, key.account());
        }
        "recall" => {
            let recalled = keyring.recall(key).wait().expect("recall");
            let expected = (!password.is_empty()).then(|| password.clone());
            assert_eq!(recalled.map(Secret::into_string), expected);
        }
        "forget" => {
            let forgotten = keyring.forget(key).wait().expect("forget");
            let expected = match password.as_str() {
                "removed" => Forgotten::Removed,
                _ => Forgotten::NothingStored,
            };
            assert_eq!(forgotten, expected);
        }
        "no-keyring" => child_no_keyring(&keyring, &key),
        "unanswered" => child_unanswered(&keyring, &key),
        "dialog-remember" => child_dialog_remember(&key, &password),
        "dialog-recall-then-untick" => child_dialog_recall_then_untick(&key, &password),
        "dialog-delete" => child_dialog_delete(&key),
        "dialog-no-keyring" => child_dialog_no_keyring(&key, &password),
        other => panic!("unknown scenario {other}"),
    }
    let logged = std::fs::read_to_string(&log_path).expect("read the trace log");
    if password.starts_with("pw-") {
        assert!(
            !logged.contains(&password),
            "the password reached the logs:\n{logged}"
        );
    }
    if scenario == "remember" || scenario.starts_with("dialog-remember") {
        // The capture works: the keyring library's own debug lines are in it.
        assert!(
            logged.contains("creating entry with service meshscope"),
            "nothing captured from the keyring library:\n{logged}"
        );
    }
    println!(
        "scenario {scenario} done ({} bytes of trace logs)",
        logged.len()
    );
}

fn child_no_keyring(keyring: &Keyring, key: &SecretKey) {
    let started_at = Instant::now();
    let probe = keyring.probe().wait();
    assert!(
        matches!(&probe, Err(e) if e.is_no_keyring()),
        "probe: {probe:?}"
    );
    let stored = keyring
        .remember(key.clone(), Secret::new("never-stored"))
        .wait();
    assert!(matches!(&stored, Err(e) if e.is_no_keyring()), "{stored:?}");
    let recalled = keyring.recall(key.clone()).wait();
    assert!(
        matches!(&recalled, Err(e) if e.is_no_keyring()),
        "{recalled:?}"
    );
    let forgotten = keyring.forget(key.clone()).wait();
    assert!(
        matches!(&forgotten, Err(e) if e.is_no_keyring()),
        "{forgotten:?}"
    );
    let elapsed = started_at.elapsed();
    assert!(elapsed < NO_BUS_BOUND, "took {elapsed:?}");
    let message = stored.expect_err("no keyring").to_string();
    assert!(message.starts_with(NO_KEYRING_MESSAGE), "{message}");
    assert!(!message.contains("never-stored"), "{message}");
    println!("no keyring known in {} ms: {message}", elapsed.as_millis());
}

fn child_unanswered(keyring: &Keyring, key: &SecretKey) {
    let deadline = Duration::from_millis(1500);
    let started_at = Instant::now();
    let probe = keyring.probe_within(deadline).wait();
    assert!(
        matches!(probe, Err(SecretError::TimedOut { .. })),
        "{probe:?}"
    );
    assert!(started_at.elapsed() < deadline + Duration::from_secs(1));
    // Later calls queue behind the stuck one and are bounded too: poll never blocks.
    let mut recall = keyring.recall(key.clone());
    let polled_at = Instant::now();
    assert!(recall.poll().is_none());
    assert!(polled_at.elapsed() < Duration::from_millis(100));
    // The dialog treats a keyring that does not answer as no keyring: nothing is stored.
    let mut dialog = DialogHarness::start(&Settings::default(), None);
    let availability = dialog.wait_keyring_known(PROBE_DEADLINE + Duration::from_secs(5));
    assert!(
        matches!(availability, Availability::Missing),
        "{availability:?}"
    );
    let remember = dialog.harness.get_by_label("Remember in the OS keyring");
    assert!(remember.accesskit_node().is_disabled());
    println!("gave up after {} ms", started_at.elapsed().as_millis());
}

fn child_dialog_remember(key: &SecretKey, password: &str) {
    let settings_path = PathBuf::from(std::env::var(SETTINGS_VAR).expect("settings path"));
    let mut dialog = DialogHarness::start(&Settings::default(), Some(settings_path.clone()));
    assert!(matches!(
        dialog.wait_keyring_known(PROBE_DEADLINE),
        Availability::Available
    ));
    dialog.type_into("Profile name", &key.profile_name);
    dialog.type_into("Broker URL", &key.broker_url);
    dialog.type_into("Username", &key.username);
    dialog.type_into("Password", password);
    dialog
        .harness
        .get_by_label("Remember in the OS keyring")
        .click();
    dialog.harness.run();
    assert!(dialog.harness.state().dialog.draft.remember_password);
    dialog.harness.get_by_label("Save profile").click();
    dialog.harness.run();
    dialog.wait_idle();
    let status = dialog.status();
    assert_eq!(status.as_deref(), Some("Password kept in the OS keyring"));

    let debug = format!("{:?}", dialog.harness.state().dialog);
    assert!(
        !debug.contains(password),
        "Debug shows the password: {debug}"
    );
    let saved = Settings::load(&settings_path).expect("load");
    assert_eq!(saved.profiles.len(), 1);
    assert!(saved.profiles[0].remember_password);
    let text = std::fs::read_to_string(&settings_path).expect("read");
    assert!(!text.contains(password), "{text}");
    let recalled = secrets::recall(key)
        .expect("recall")
        .map(Secret::into_string);
    assert_eq!(recalled.as_deref(), Some(password));
}

fn child_dialog_recall_then_untick(key: &SecretKey, password: &str) {
    let settings_path = PathBuf::from(std::env::var(SETTINGS_VAR).expect("settings path"));
    let settings = Settings::load(&settings_path).expect("load");
    let mut dialog = DialogHarness::start(&Settings::default(), Some(settings_path.clone()));
    dialog.harness.state_mut().settings = settings;
    // Choose the saved profile: its password comes back from the keyring.
    dialog.harness.get_by_label("Saved profile").click();
    dialog.harness.run();
    dialog.harness.get_by_label(&key.profile_name).click();
    dialog.harness.run();
    dialog.wait_idle();
    assert_eq!(dialog.harness.state().dialog.password, password);
    assert_eq!(
        dialog.status().as_deref(),
        Some("Password filled in from the OS keyring")
    );
    let remember = dialog.harness.get_by_label("Remember in the OS keyring");
    assert!(!remember.accesskit_node().is_disabled());
    remember.click();
    dialog.harness.run();
    dialog.wait_idle();
    assert_eq!(
        dialog.status().as_deref(),
        Some("Password removed from the OS keyring")
    );
    assert!(!dialog.harness.state().dialog.draft.remember_password);
    let saved = Settings::load(&settings_path).expect("load");
    assert!(
        !saved.profiles[0].remember_password,
        "the flag follows the box"
    );
    assert_eq!(secrets::recall(key).expect("recall"), None);
    // What was recalled still connects (this once); only the keyring copy is gone.
    dialog.harness.get_by_label("Connect").click();
    dialog.harness.run();
    let connect = dialog.harness.state().actions.iter().find_map(|a| match a {
        Action::Connect { password, .. } => Some(password.as_ref().map(|p| p.expose().to_owned())),
        _ => None,
    });
    assert_eq!(connect, Some(Some(password.to_owned())));
}

fn child_dialog_delete(key: &SecretKey) {
    let settings_path = PathBuf::from(std::env::var(SETTINGS_VAR).expect("settings path"));
    let settings = Settings::load(&settings_path).expect("load");
    let profile = settings.profiles[0].clone();
    assert!(profile.remember_password);
    let mut dialog = DialogHarness::start(&settings, Some(settings_path.clone()));
    dialog.harness.state_mut().dialog.open_with(profile);
    dialog.harness.run();
    dialog.wait_idle();
    dialog.harness.get_by_label("Delete profile").click();
    dialog.harness.run();
    dialog.wait_idle();
    assert_eq!(
        dialog.status().as_deref(),
        Some("Password removed from the OS keyring")
    );
    assert!(
        Settings::load(&settings_path)
            .expect("load")
            .profiles
            .is_empty()
    );
    assert_eq!(secrets::recall(key).expect("recall"), None);
}

fn child_dialog_no_keyring(key: &SecretKey, password: &str) {
    let settings_path = PathBuf::from(std::env::var(SETTINGS_VAR).expect("settings path"));
    let started_at = Instant::now();
    let mut dialog = DialogHarness::start(&Settings::default(), Some(settings_path.clone()));
    assert!(matches!(
        dialog.wait_keyring_known(NO_BUS_BOUND),
        Availability::Missing
    ));
    assert!(started_at.elapsed() < NO_BUS_BOUND);
    let remember = dialog.harness.get_by_label("Remember in the OS keyring");
    assert!(remember.accesskit_node().is_disabled());
    assert!(dialog.harness.query_by_label(NO_KEYRING_MESSAGE).is_some());
    dialog.type_into("Profile name", &key.profile_name);
    dialog.type_into("Broker URL", &key.broker_url);
    dialog.type_into("Password", password);
    // A disabled box does not tick.
    dialog
        .harness
        .get_by_label("Remember in the OS keyring")
        .click();
    dialog.harness.run();
    dialog.harness.get_by_label("Save profile").click();
    dialog.harness.run();
    assert!(!dialog.harness.state().dialog.keyring.is_busy());
    let saved = Settings::load(&settings_path).expect("load");
    assert!(!saved.profiles[0].remember_password);
    // The fallback: the typed password is used for this connection only.
    dialog.harness.get_by_label("Connect").click();
    dialog.harness.run();
    let connect = dialog.harness.state().actions.iter().find_map(|a| match a {
        Action::Connect { password, .. } => Some(password.as_ref().map(|p| p.expose().to_owned())),
        _ => None,
    });
    assert_eq!(connect, Some(Some(password.to_owned())));
}

// ---------------------------------------------------------------------------------------------
// The dialog under kittest, with the app's handling of profile actions (save to a file).

struct DialogState {
    dialog: ConnectionDialogState,
    settings: Settings,
    settings_path: Option<PathBuf>,
    actions: Vec<Action>,
}

#[derive(Debug)]
enum Availability {
    Available,
    Missing,
}

struct DialogHarness {
    harness: Harness<'static, DialogState>,
}

impl DialogHarness {
    fn start(settings: &Settings, settings_path: Option<PathBuf>) -> DialogHarness {
        let mut dialog = ConnectionDialogState::default();
        dialog.open_with(Profile::default());
        let harness = Harness::builder()
            .with_size(egui::vec2(900.0, 700.0))
            .build_ui_state(
                |ui, state: &mut DialogState| {
                    let mut actions = Vec::new();
                    connection_dialog_ui(
                        ui,
                        &mut state.dialog,
                        &state.settings.profiles,
                        &mut actions,
                    );
                    // What the app does with the profile actions.
                    for action in &actions {
                        match action {
                            Action::SaveProfile(profile) => state.settings.upsert(profile.clone()),
                            Action::DeleteProfile(name) => state.settings.remove(name),
                            _ => continue,
                        }
                        if let Some(path) = &state.settings_path {
                            state.settings.save(path).expect("save settings");
                        }
                    }
                    state.actions.extend(actions);
                },
                DialogState {
                    dialog,
                    settings: settings.clone(),
                    settings_path,
                    actions: Vec::new(),
                },
            );
        let mut dialog = DialogHarness { harness };
        dialog.harness.run();
        dialog
    }

    fn type_into(&mut self, label: &str, text: &str) {
        self.harness.get_by_label(label).click();
        self.harness.run();
        self.harness.get_by_label(label).type_text(text);
        self.harness.run();
    }

    /// Frames until the keyring probe answered (the worker runs on its own thread).
    fn wait_keyring_known(&mut self, deadline: Duration) -> Availability {
        let started_at = Instant::now();
        loop {
            self.harness.step();
            match self.harness.state().dialog.keyring.availability() {
                KeyringAvailability::Available => return Availability::Available,
                KeyringAvailability::Unavailable { .. } => return Availability::Missing,
                _ => {}
            }
            assert!(
                started_at.elapsed() < deadline,
                "the keyring probe did not finish within {deadline:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Frames until no keyring call is in flight.
    fn wait_idle(&mut self) {
        let started_at = Instant::now();
        loop {
            self.harness.step();
            if !self.harness.state().dialog.keyring.is_busy() {
                self.harness.run();
                return;
            }
            assert!(
                started_at.elapsed() < secrets::OPERATION_DEADLINE,
                "keyring calls still running"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn status(&self) -> Option<String> {
        self.harness
            .state()
            .dialog
            .keyring
            .status()
            .map(|(text, _)| text.to_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes, the throwaway session bus and gnome-keyring.

/// The D-Bus environment a child gets.
enum ChildEnv {
    /// No `DBUS_SESSION_BUS_ADDRESS` and an empty runtime dir (no `$XDG_RUNTIME_DIR/bus`).
    NoBus,
    Bus {
        address: String,
    },
}

/// One test's names: a unique profile, and a folder for its settings and child logs.
struct Case {
    name: String,
    dir: TempDir,
}

impl Case {
    fn new(name: &str) -> Case {
        Case {
            name: unique(name),
            dir: TempDir::new(name),
        }
    }

    fn key(&self) -> SecretKey {
        SecretKey::new(&self.name, "mqtts://broker.example:8883", "ops")
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.path().join("config").join("settings.json")
    }

    /// Runs `scenario` in a child process and fails the test unless it passed.
    fn child(&self, env: &ChildEnv, scenario: &str, password: &str) {
        let home = self.dir.path().join("home");
        let runtime = self.dir.path().join("runtime");
        for dir in [&home, &runtime] {
            std::fs::create_dir_all(dir).expect("mkdir");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        let log_path = self.dir.path().join(format!("{scenario}.log"));
        let log = std::fs::File::create(&log_path).expect("child log");
        let key = self.key();
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                "--exact",
                "secrets::keyring_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SCENARIO_VAR, scenario)
            .env(PROFILE_VAR, &key.profile_name)
            .env(BROKER_VAR, &key.broker_url)
            .env(USER_VAR, &key.username)
            .env(PASSWORD_VAR, password)
            .env(SETTINGS_VAR, self.settings_path())
            .env(
                LOG_VAR,
                self.dir.path().join(format!("{scenario}-trace.log")),
            )
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("MESHSCOPE_CONFIG_DIR", self.dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        match env {
            ChildEnv::NoBus => command.env_remove("DBUS_SESSION_BUS_ADDRESS"),
            ChildEnv::Bus { address } => command.env("DBUS_SESSION_BUS_ADDRESS", address),
        };
        let mut child = command.spawn().expect("spawn the test binary");
        let status = wait_child(&mut child, CHILD_DEADLINE);
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        let Some(status) = status else {
            panic!("child {scenario} still running after {CHILD_DEADLINE:?}:\n{output}");
        };
        assert!(
            status.success() && output.contains("1 passed") && output.contains("done"),
            "child {scenario} failed ({status}):\n{output}"
        );
    }
}

/// Waits for `child` to exit; kills it at the deadline (`None` then).
fn wait_child(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let started_at = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if started_at.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private session bus (`dbus-daemon` with no service activation, so nothing starts by
/// itself), optionally with gnome-keyring's Secret Service on it, unlocked.
struct SessionBus {
    address: String,
    dir: TempDir,
    dbus: Child,
    keyring: Option<Child>,
}

impl SessionBus {
    /// `None` (test skipped) when the tools are missing, unless `CI` is set: then it panics.
    fn start(with_secret_service: bool) -> Option<SessionBus> {
        let mut tools = vec!["dbus-daemon", "dbus-send"];
        if with_secret_service {
            tools.extend(["gnome-keyring-daemon", "secret-tool"]);
        }
        let missing: Vec<&str> = tools.into_iter().filter(|t| !installed(t)).collect();
        if !missing.is_empty() {
            if std::env::var_os("CI").is_some() {
                panic!("{missing:?} not installed but CI is set: CI must run the keyring tests");
            }
            eprintln!(
                "skipped: {missing:?} not installed (packages dbus-daemon gnome-keyring libsecret-tools)"
            );
            return None;
        }
        let dir = TempDir::new("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(dir.path())).expect("bus config");
        // Its complaint that it may not raise the fd limit (not root here) is noise.
        let log = std::fs::File::create(dir.path().join("dbus-daemon.log")).expect("log");
        let mut dbus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start dbus-daemon");
        let stdout = dbus.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = rx
            .recv_timeout(DAEMON_DEADLINE)
            .expect("dbus-daemon prints its address")
            .trim()
            .to_owned();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon address: {address:?}"
        );
        let mut bus = SessionBus {
            address,
            dir,
            dbus,
            keyring: None,
        };
        if with_secret_service {
            bus.start_gnome_keyring();
        }
        Some(bus)
    }

    fn start_gnome_keyring(&mut self) {
        let home = self.dir.path().join("home");
        let runtime = self.dir.path().join("runtime");
        for dir in [&home, &runtime] {
            std::fs::create_dir_all(dir).expect("mkdir");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        let log_path = self.dir.path().join("gnome-keyring.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let mut daemon = self
            .isolated(Command::new("gnome-keyring-daemon"))
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start gnome-keyring-daemon");
        // The login keyring's password (created and unlocked with it); an empty one leaves
        // no login collection to store into.
        let mut stdin = daemon.stdin.take().expect("stdin");
        stdin
            .write_all(b"meshscope-test-keyring")
            .expect("unlock password");
        drop(stdin);
        self.keyring = Some(daemon);
        let started_at = Instant::now();
        while !self.name_has_owner("org.freedesktop.secrets") {
            if let Some(daemon) = self.keyring.as_mut()
                && let Ok(Some(status)) = daemon.try_wait()
            {
                panic!(
                    "gnome-keyring-daemon exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                started_at.elapsed() < DAEMON_DEADLINE,
                "gnome-keyring never took org.freedesktop.secrets: {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn env(&self) -> ChildEnv {
        ChildEnv::Bus {
            address: self.address.clone(),
        }
    }

    /// A command on this bus, with its home and runtime folders inside the test's folder.
    fn isolated(&self, mut command: Command) -> Command {
        let home = self.dir.path().join("home");
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("runtime"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        command
    }

    fn name_has_owner(&self, name: &str) -> bool {
        let output = self
            .isolated(Command::new("dbus-send"))
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&output.stdout).contains("boolean true")
    }

    /// The password libsecret's `secret-tool` finds for `key` (independent of Meshscope's code).
    fn secret_tool_lookup(&self, key: &SecretKey) -> Option<String> {
        let output = self
            .isolated(Command::new("secret-tool"))
            .args(["lookup", "service", "meshscope", "username"])
            .arg(key.account())
            .stdin(Stdio::null())
            .output()
            .expect("secret-tool");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.keyring.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}

/// A session bus listening in `dir`, anyone may own any name, and no service directories:
/// nothing is started on demand (gnome-keyring's activation file would otherwise start a
/// locked keyring in the "no Secret Service" test).
fn bus_config(dir: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir.display()
    )
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A folder removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(&format!("meshscope-keyring-{name}")));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
