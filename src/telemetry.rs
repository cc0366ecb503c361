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

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header's name (lower case, as HTTP/2 wants it).
pub const TRACEPARENT: &str = "traceparent";

/// The longest `traceparent` read: version 00 is 55 characters; later
/// versions may append fields, which are ignored.
pub const MAX_TRACEPARENT: usize = 256;

static ON: AtomicBool = AtomicBool::new(false);

/// Spans are exported from now on (called once the exporter is installed).
pub fn enable() {
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
        let req = inject(reqwest::Client::new().get("http://127.0.0.1:9/"))
            .build()
            .unwrap();
        assert!(req.headers().get(TRACEPARENT).is_none());
    }
}
