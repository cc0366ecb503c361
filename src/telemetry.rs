//! W3C trace context between the parts of one notification's life: the
//! `traceparent` a sender gives, the accept span, the deliveries' attempt
//! spans (later, maybe in another process: the context is stored with
//! each delivery) and the HTTP requests an attempt makes.
//!
//! All of it is inert unless `ops::logging` installed an OpenTelemetry
//! exporter ([`enable`]): then no context is read, stored or sent, and
//! what goes out is byte for byte what it was without tracing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Link, Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header's name (lower case, as HTTP/2 wants it).
pub const TRACEPARENT: &str = "traceparent";

/// The longest `traceparent` read: version 00 is 55 characters; later
/// versions may append fields, which are ignored.
pub const MAX_TRACEPARENT: usize = 256;

/// The most links a batch span keeps (the SDK's default limit).
pub const MAX_LINKS: usize = 128;

static ON: AtomicBool = AtomicBool::new(false);
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Spans are exported from now on through `tracer` (called once the
/// exporter is installed).
pub fn enable(tracer: SdkTracer) {
    let _ = TRACER.set(tracer);
    ON.store(true, Ordering::Release);
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Acquire)
}

/// The trace context a `traceparent` value names, or `None` when it is
/// not a valid one (an invalid header is ignored, as the W3C spec says).
pub fn parse(traceparent: &str) -> Option<opentelemetry::Context> {
    if traceparent.len() > MAX_TRACEPARENT {
        return None;
    }
    let carrier = HashMap::from([(TRACEPARENT.to_string(), traceparent.trim().to_string())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `traceparent` (when telemetry is on and the value is valid) the
/// parent of `span`, which must not have been entered yet.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if !enabled() {
        return;
    }
    if let Some(cx) = traceparent.and_then(parse) {
        let _ = span.set_parent(cx);
    }
}

/// The `traceparent` of the current span: `None` when telemetry is off or
/// there is no exported span.
pub fn current() -> Option<String> {
    if !enabled() {
        return None;
    }
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// A span for a step `span` runs in when tracing is exported, so the step
/// shows in the trace (`Span::none()` otherwise: log lines stay as they
/// were). Its parent is `traceparent` when given (a stored context: the
/// step runs in another task or process than the one that stored it).
pub fn step(span: impl FnOnce() -> tracing::Span, traceparent: Option<&str>) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let span = span();
    set_parent(&span, traceparent);
    span
}

/// Exports one span for a batch operation on many deliveries (claiming
/// them, recording their attempts), from `started` to now: in a trace of
/// its own, since it belongs to no single delivery, linked to each
/// member's span (`traceparent`s; the first [`MAX_LINKS`] valid ones),
/// with the batch's size and, when it failed, its error. Nothing when
/// tracing is off or the batch was empty.
pub fn batch_span<'a>(
    name: &'static str,
    started: SystemTime,
    members: impl IntoIterator<Item = Option<&'a str>>,
    count: usize,
    error: Option<&str>,
) {
    let Some(tracer) = TRACER.get().filter(|_| enabled() && count > 0) else {
        return;
    };
    let links: Vec<Link> = members
        .into_iter()
        .flatten()
        .filter_map(parse)
        .take(MAX_LINKS)
        .map(|cx| Link::with_context(cx.span().span_context().clone()))
        .collect();
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Internal)
        .with_start_time(started)
        .with_links(links)
        .with_attributes([KeyValue::new("deliveries", count as i64)])
        .start_with_context(tracer, &opentelemetry::Context::new());
    if let Some(e) = error {
        span.set_status(Status::error(e.to_string()));
    }
    span.end();
}

/// `request` with the current span's `traceparent` when telemetry is on;
/// unchanged otherwise.
pub fn inject(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match current() {
        Some(tp) => request.header(TRACEPARENT, tp),
        None => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_parses_and_a_bad_one_does_not() {
        let cx = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_remote());
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            &"0".repeat(MAX_TRACEPARENT + 1),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn off_means_no_context_is_read_or_sent() {
        // Nothing in the unit tests enables telemetry.
        assert!(!enabled());
        assert_eq!(current(), None);
        assert!(step(|| tracing::info_span!("x"), None).is_none());
        let req = inject(reqwest::Client::new().get("http://127.0.0.1:9/"))
            .build()
            .unwrap();
        assert!(req.headers().get(TRACEPARENT).is_none());
    }
}
