//! Log lines on stderr: readable text (coloured only when stderr is a
//! terminal and `NO_COLOR` is unset) or one JSON object per line. Which
//! events are written is RUST_LOG's choice (default `info,sqlx=warn`);
//! `--quiet` keeps warnings and errors only. Every line about a delivery
//! is inside its `deliver` span, so it carries the delivery's and its
//! notification's ids (JSON: under `"span"`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What is logged when RUST_LOG is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// The filter: warnings and errors only when `quiet`, else RUST_LOG or
/// [`DEFAULT_FILTER`].
pub fn filter(quiet: bool) -> EnvFilter {
    if quiet {
        return EnvFilter::new("warn");
    }
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Whether text lines get ANSI colours: only on a terminal, and never with
/// `NO_COLOR` set.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's subscriber (once; later calls do nothing).
pub fn init(format: LogFormat, quiet: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(quiet))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).with_ansi(colour()).try_init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
