//! missive: a self-hosted, multi-channel notification dispatcher.
//!
//! The modules are layers, lowest first; each uses only those below it
//! (docs/architecture.md has the rule, every module's layer and the life
//! of one notification):
//!
//! - `util`, `private_files`: small helpers on the standard library;
//! - `telemetry`: W3C trace context (inert unless tracing is exported);
//! - `domain`: the shared words (types, their parsing, input checks);
//! - `config`: loading and checking the configuration;
//! - `render`, `flow`: templates to content; admission and pacing rules;
//! - `store`: the database, one trait per aggregate, SQLite and PostgreSQL;
//! - `service` (with `inbox`, `channels`, `metrics`): what the front ends do;
//! - `dispatch`: the workers (claim, send, record);
//! - `http` (the API) and `console`: thin adapters over `service`;
//! - `app`: wiring and running it all; `main.rs` is the CLI;
//! - `ops`: the operators' tools (`doctor`, `backup`, logging, readiness
//!   for systemd).

pub mod private_files;
pub mod util;

pub mod telemetry;

pub mod domain;

pub mod config;

pub mod flow;
pub mod render;

pub mod store;

pub mod channels;
pub mod inbox;
pub mod metrics;
pub mod service;

pub mod dispatch;

pub mod console;
pub mod http;

pub mod app;

pub mod ops;

#[cfg(test)]
mod architecture;

pub use app::{bootstrap_admin_key, channels, signing_secret};
pub use app::{App, Role};
pub use config::Config;
