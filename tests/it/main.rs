//! The one integration test binary (links once): real brokers on loopback, headless UI.

#[allow(dead_code)]
mod support;
mod session;
mod demo;
mod store;
mod ui;
mod fixture;
mod report;
mod presence_view;
mod timeline_view;
mod cli;
mod record;
mod composer;
