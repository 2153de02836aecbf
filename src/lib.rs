//! Meshscope: a native inspector for AI-agent meshes over MQTT 5 (library; `main.rs` is thin).

pub mod allocator;
pub mod app;
pub mod broker;
pub mod civil;
pub mod cli;
pub mod composer;
pub mod demo;
pub mod headless;
pub mod ingest;
pub mod model;
pub mod mqtt;
pub mod protocol;
pub mod record;
pub mod report;
pub mod secrets;
pub mod settings;
pub mod ui;

/// The receive clock: Unix epoch nanoseconds. Called only where messages enter the process.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
