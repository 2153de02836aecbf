//! The one integration test binary (links once): real brokers on loopback, headless UI.

mod cli;
mod composer;
mod demo;
mod faults;
mod fixture;
mod hostile;
mod presence_view;
mod record;
mod report;
mod secrets;
mod session;
mod store;
#[allow(dead_code)]
mod support;
mod timeline_view;
mod transport;
mod ui;
