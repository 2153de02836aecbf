//! The simulated demo mesh: agents speaking the real dialects over a real broker.
//!
//! Every participant has its own broker connection (`link.rs`) and speaks its dialect's wire
//! format as PROTOCOLS.md and the `peers-mesh` fixture show it, quirks included:
//! - `cs_mcp`: MQTT.Agent MCP server `research-tools` and its caller `scout`;
//! - `cs_a2a`: MQTT.Agent A2A agents `ops-desk` → `planner` → `researcher` (calls MCP) + `writer`
//!   (the abrupt one: it drops its connection now and then, its Last Will fires, it returns);
//! - `emqx_a2a`: EMQX A2A agents `triage` (delegates to `summarizer`) and the `helpdesk` requester;
//! - `emqx_mcp`: EMQX MCP server `acme/fleet/telemetry` and the `fleet-dashboard` client;
//! - `openmas`: OpenMAS `om-planner` → `om-calculator`;
//! - `plain`: a plain MQTT 5 request/response pair and a raw telemetry publisher.

mod cs_a2a;
mod cs_mcp;
mod emqx_a2a;
mod emqx_mcp;
mod link;
mod openmas;
mod plain;
pub(crate) mod rng;
mod wire;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::Publish;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// What the demo connects to and how it behaves.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub host: String,
    pub port: u16,
    /// Drives every latency, error and id; the same seed gives the same mesh behaviour.
    pub seed: u64,
    /// MQTT.Agent namespace (`{ns}/mcp/...`, `{ns}/agents/...`, `{ns}/tasks/...`).
    pub namespace: String,
    /// When the abrupt agent (`writer`) first drops its connection; `None` = seeded, 20-40 s.
    pub first_drop_after_millis: Option<u64>,
    /// How long the abrupt agent stays away; `None` = seeded, 5-12 s.
    pub downtime_millis: Option<u64>,
    /// Turns the abrupt agent's drops off (it then stays online).
    pub abrupt_drops: bool,
}

impl DemoOptions {
    pub const DEFAULT_SEED: u64 = 0x6d65_7368_7363_6f70;

    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            seed: Self::DEFAULT_SEED,
            namespace: "a2a/v1".to_owned(),
            first_drop_after_millis: None,
            downtime_millis: None,
            abrupt_drops: true,
        }
    }
}

/// Runs every simulated participant until `shutdown` turns true (or its sender is dropped); then
/// each participant announces it is leaving (offline cards, empty presence) and disconnects
/// gracefully. A participant whose broker vanishes reconnects with backoff; nothing here panics on
/// what arrives from the wire.
pub async fn run(options: DemoOptions, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    anyhow::ensure!(!options.host.is_empty(), "demo: empty broker host");
    anyhow::ensure!(options.port != 0, "demo: broker port 0");
    let namespace = options.namespace.trim().trim_matches('/');
    let namespace = if namespace.is_empty() {
        "a2a/v1"
    } else {
        namespace
    }
    .to_owned();
    let ctx = Ctx {
        options: Arc::new(DemoOptions {
            namespace,
            ..options
        }),
        shutdown,
    };
    tracing::info!(
        broker = %format!("{}:{}", ctx.options.host, ctx.options.port),
        seed = ctx.options.seed,
        "demo mesh starting"
    );

    let mut participants = JoinSet::new();
    participants.spawn(cs_mcp::run_server(ctx.clone()));
    participants.spawn(cs_mcp::run_scout(ctx.clone()));
    participants.spawn(cs_a2a::run_agent(ctx.clone(), cs_a2a::Role::OpsDesk));
    participants.spawn(cs_a2a::run_agent(ctx.clone(), cs_a2a::Role::Planner));
    participants.spawn(cs_a2a::run_agent(ctx.clone(), cs_a2a::Role::Researcher));
    participants.spawn(cs_a2a::run_agent(ctx.clone(), cs_a2a::Role::Writer));
    participants.spawn(emqx_a2a::run_responder(
        ctx.clone(),
        emqx_a2a::Responder::Triage,
    ));
    participants.spawn(emqx_a2a::run_responder(
        ctx.clone(),
        emqx_a2a::Responder::Summarizer,
    ));
    participants.spawn(emqx_a2a::run_helpdesk(ctx.clone()));
    participants.spawn(emqx_mcp::run_server(ctx.clone()));
    participants.spawn(emqx_mcp::run_client(ctx.clone()));
    participants.spawn(openmas::run_calculator(ctx.clone()));
    participants.spawn(openmas::run_planner(ctx.clone()));
    participants.spawn(plain::run_calc_service(ctx.clone()));
    participants.spawn(plain::run_rpc_client(ctx.clone()));
    participants.spawn(plain::run_telemetry(ctx.clone()));

    while let Some(joined) = participants.join_next().await {
        if let Err(error) = joined
            && error.is_panic()
        {
            tracing::error!(%error, "demo participant panicked");
        }
    }
    tracing::info!("demo mesh stopped");
    Ok(())
}

/// What every participant task gets.
#[derive(Clone)]
struct Ctx {
    options: Arc<DemoOptions>,
    shutdown: watch::Receiver<bool>,
}

impl Ctx {
    fn ns(&self) -> &str {
        &self.options.namespace
    }

    fn rng(&self, label: &str) -> rng::Rng {
        rng::Rng::for_participant(self.options.seed, label)
    }

    fn start_link(&self, config: link::LinkConfig, rng: &mut rng::Rng) -> link::Link {
        link::Link::start(&self.options.host, self.options.port, config, rng.fork())
    }

    /// Resolves once shutdown is asked for (or nobody can ask any more).
    async fn stopped(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|stop| *stop).await;
    }

    /// Sleeps, or returns false early when shutdown is asked for.
    async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = self.stopped() => false,
        }
    }
}

/// Callers waiting for a reply keyed by a correlation key (call id, task id, JSON-RPC id…).
struct Waiters<K> {
    waiting: Arc<Mutex<HashMap<K, oneshot::Sender<Publish>>>>,
}

impl<K> Clone for Waiters<K> {
    fn clone(&self) -> Self {
        Self {
            waiting: Arc::clone(&self.waiting),
        }
    }
}

impl<K: Eq + Hash + Clone> Waiters<K> {
    fn new() -> Self {
        Self {
            waiting: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn register(&self, key: K) -> oneshot::Receiver<Publish> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(key, tx);
        }
        rx
    }

    fn forget(&self, key: &K) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(key);
        }
    }

    /// Hands a reply to its waiter; false when nobody waits (late or unknown reply).
    fn complete(&self, key: &K, publish: Publish) -> bool {
        let sender = self
            .waiting
            .lock()
            .ok()
            .and_then(|mut waiting| waiting.remove(key));
        match sender {
            Some(sender) => sender.send(publish).is_ok(),
            None => false,
        }
    }

    /// Waits for the reply to `key`, at most `limit`; forgets the key either way.
    async fn wait(
        &self,
        key: &K,
        reply: oneshot::Receiver<Publish>,
        limit: Duration,
    ) -> Option<Publish> {
        let outcome = tokio::time::timeout(limit, reply).await;
        self.forget(key);
        outcome.ok().and_then(Result::ok)
    }
}

/// Callers consuming a stream of replies per key (EMQX A2A: many replies share one Correlation Data).
struct Streams<K> {
    streams: Arc<Mutex<HashMap<K, mpsc::Sender<Publish>>>>,
}

impl<K> Clone for Streams<K> {
    fn clone(&self) -> Self {
        Self {
            streams: Arc::clone(&self.streams),
        }
    }
}

impl<K: Eq + Hash + Clone> Streams<K> {
    fn new() -> Self {
        Self {
            streams: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn register(&self, key: K) -> mpsc::Receiver<Publish> {
        let (tx, rx) = mpsc::channel(64);
        if let Ok(mut streams) = self.streams.lock() {
            streams.insert(key, tx);
        }
        rx
    }

    fn forget(&self, key: &K) {
        if let Ok(mut streams) = self.streams.lock() {
            streams.remove(key);
        }
    }

    /// Hands one reply to the stream's consumer; false when nobody listens under that key.
    fn route(&self, key: &K, publish: Publish) -> bool {
        let sender = self
            .streams
            .lock()
            .ok()
            .and_then(|streams| streams.get(key).cloned());
        match sender {
            Some(sender) => sender.try_send(publish).is_ok(),
            None => false,
        }
    }
}

/// Reaps finished handler tasks so a long demo does not accumulate them.
fn reap(tasks: &mut JoinSet<()>) {
    while tasks.try_join_next().is_some() {}
}

/// Sleeps until `at`, or forever when there is nothing scheduled (a `select!` arm that never fires).
pub(crate) async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
