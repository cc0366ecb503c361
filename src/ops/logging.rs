//! Log lines on stderr: readable text (coloured only when stderr is a
//! terminal and `NO_COLOR` is unset) or one JSON object per line. Which
//! events are written is RUST_LOG's choice (default `info,sqlx=warn`);
//! `--quiet` keeps warnings and errors only. Every line about a delivery
//! is inside its `deliver` span, so it carries the delivery's and its
//! notification's ids (JSON: under `"span"`).
//!
//! With an OTLP endpoint set (`ops::otlp`), missive's spans at info level
//! are exported as OpenTelemetry traces too, whatever RUST_LOG says; without
//! one the subscriber is the same as ever and costs nothing more.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

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

/// Spans being exported; [`Tracing::shutdown`] sends what is buffered.
#[must_use = "shut down to send the last spans"]
pub struct Tracing(Option<SdkTracerProvider>);

impl Tracing {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.0.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (waits at
    /// most the export timeout).
    pub async fn shutdown(self) {
        let Some(provider) = self.0 else { return };
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "flushing the last spans failed");
        }
    }
}

/// Installs the process's subscriber, with the OTLP exporter when
/// `telemetry` (or the OTEL_* variables) name an endpoint. Needs a Tokio
/// runtime when it does.
pub fn init_with_telemetry(
    format: LogFormat,
    quiet: bool,
    telemetry: &TelemetryConfig,
) -> anyhow::Result<Tracing> {
    let Some(export) = super::otlp::resolve(telemetry, |k| std::env::var(k).ok())? else {
        init(format, quiet);
        return Ok(Tracing(None));
    };
    let provider = super::otlp::provider(&export)?;
    let tracer = provider.tracer("missive");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target("missive", tracing::Level::INFO));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.with_target(false).with_ansi(colour()).boxed(),
        LogFormat::Json => lines
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(lines.with_filter(filter(quiet)))
        .with(spans)
        .try_init();
    if installed.is_ok() {
        crate::telemetry::enable(provider.tracer("missive"));
    }
    tracing::info!(protocol = ?export.protocol, "exporting traces over OTLP");
    Ok(Tracing(Some(provider)))
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
