//! missive's integration tests: one binary, real parts (HTTP receivers on
//! port 0, the real binary for CLI and crash tests). Every test runs on
//! SQLite, and on PostgreSQL too when MISSIVE_TEST_DATABASE_URL is set.

mod helpers;

mod api_errors;
mod authz;
mod browser;
mod chat;
mod cli;
mod console;
mod console_pages;
mod crash;
mod email;
mod events;
mod flow;
mod idempotency;
mod inbox;
mod layouts;
mod metrics;
mod mobile_push;
mod multi_process;
mod openapi;
mod ops;
mod outbound;
mod preferences;
mod push;
mod receipts;
mod recipients;
mod render_limits;
mod retention;
mod schedules;
mod server;
mod sms;
mod startup;
mod stats;
mod store_faults;
mod telemetry;
mod templates;
mod topics;
mod webhook;
mod workflow_runs;
mod workflows;
