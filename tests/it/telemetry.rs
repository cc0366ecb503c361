//! OpenTelemetry tracing, end to end: the real binary exports OTLP/HTTP
//! (protobuf) to a collector in the test; a send's `traceparent` is the
//! parent of the accept span, the delivery attempts (in another process)
//! join the same trace, and the webhook request carries its context. Off,
//! nothing is exported and nothing is added.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use serde_json::{json, Value};

use crate::crash::{admin_key, child_env, spawn_child};
use crate::helpers::*;

/// One exported span, as the collector got it.
#[derive(Clone, Debug)]
struct Span {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    attrs: HashMap<String, String>,
    service: String,
}

/// An OTLP/HTTP collector on 127.0.0.1:0: every span it was sent, and how
/// many export requests came.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    requests: Arc<Mutex<usize>>,
}

fn text(attrs: &[KeyValue]) -> HashMap<String, String> {
    attrs
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

impl Collector {
    async fn start() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(0));
        let (s, r) = (spans.clone(), requests.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |body: Bytes| {
                let (s, r) = (s.clone(), r.clone());
                async move {
                    *r.lock().unwrap() += 1;
                    let req = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    for rs in req.resource_spans {
                        let resource = text(&rs.resource.map(|r| r.attributes).unwrap_or_default());
                        let service = resource.get("service.name").cloned().unwrap_or_default();
                        for ss in rs.scope_spans {
                            for sp in ss.spans {
                                s.lock().unwrap().push(Span {
                                    name: sp.name,
                                    trace_id: hex::encode(sp.trace_id),
                                    span_id: hex::encode(sp.span_id),
                                    parent: hex::encode(sp.parent_span_id),
                                    attrs: text(&sp.attributes),
                                    service: service.clone(),
                                });
                            }
                        }
                    }
                    (
                        [("content-type", "application/x-protobuf")],
                        ExportTraceServiceResponse::default().encode_to_vec(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Collector {
            url: format!("http://{addr}"),
            spans,
            requests,
        }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

/// A random W3C trace id and span id (hex).
fn ids() -> (String, String) {
    let u = uuid::Uuid::new_v4().simple().to_string();
    let s = uuid::Uuid::new_v4().simple().to_string();
    (u, s[..16].to_string())
}

async fn send(base: &str, key: &str, rx: &Receiver, traceparent: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/notifications"))
        .bearer_auth(key)
        .header("traceparent", traceparent)
        .json(&json!({"content": {"webhook": {"body": "{\"n\": 1}"}}, "to": [{"webhook_url": rx.url}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json().await.unwrap()
}

/// Accepted by an `api` process, sent by a `worker` process: one trace
/// from the caller's span to the webhook request. Both export only at
/// shutdown (a long batch delay), so the spans arriving proves the flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_caller_to_the_webhook_across_processes() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let collector = Collector::start().await;
        let traced = |port| {
            let mut env = child_env(&db, port);
            env.push((
                "MISSIVE__TELEMETRY__OTLP_ENDPOINT".into(),
                collector.url.clone(),
            ));
            env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "600000".into()));
            env
        };
        let api_port = free_port();
        let mut api = spawn_child(&db, &traced(api_port), api_port, &["api"], "api");
        api.wait_ready(Duration::from_secs(30)).await;
        let worker_port = free_port();
        let mut worker = spawn_child(
            &db,
            &traced(worker_port),
            worker_port,
            &["worker"],
            "worker",
        );

        let (trace_id, caller_span) = ids();
        let accepted = send(
            &api.base,
            &admin_key(&db),
            &rx,
            &format!("00-{trace_id}-{caller_span}-01"),
        )
        .await;
        let notification_id = accepted["id"].as_str().unwrap().to_string();
        let delivery_id = accepted["deliveries"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();

        let got = rx.wait_for(1, Duration::from_secs(15)).await;
        let tp = got[0].headers["traceparent"].to_str().unwrap().to_string();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(
            parts[1], trace_id,
            "the webhook request is in the caller's trace"
        );
        assert_eq!(parts[3], "01");
        assert!(
            collector.spans().is_empty(),
            "nothing is exported before the batch delay or shutdown"
        );

        worker.stop_gracefully(Duration::from_secs(30)).await;
        api.stop_gracefully(Duration::from_secs(30)).await;

        let spans = collector.spans();
        let one = |name: &str| {
            let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
            assert_eq!(found.len(), 1, "one `{name}` span in {spans:#?}");
            found[0].clone()
        };
        let accept = one("accept");
        assert_eq!(accept.trace_id, trace_id);
        assert_eq!(
            accept.parent, caller_span,
            "the caller's span is the parent"
        );
        assert_eq!(accept.attrs["notification_id"], notification_id);
        assert_eq!(accept.service, "missive");

        let deliver = one("deliver");
        assert_eq!(deliver.trace_id, trace_id);
        assert_eq!(
            deliver.parent, accept.span_id,
            "the attempt continues the accept span"
        );
        assert_eq!(deliver.attrs["delivery_id"], delivery_id);
        assert_eq!(deliver.attrs["notification_id"], notification_id);
        assert_eq!(deliver.attrs["channel"], "webhook");

        let provider = one("send");
        assert_eq!(provider.trace_id, trace_id);
        assert_eq!(provider.parent, deliver.span_id);
        assert_eq!(provider.attrs["delivery_id"], delivery_id);
        assert_eq!(
            parts[2], provider.span_id,
            "the webhook request's parent is the provider call's span"
        );
        assert!(
            spans.iter().all(|s| s.trace_id == trace_id),
            "only this trace: {spans:#?}"
        );
    })
    .await;
}

/// Without an endpoint (or with OTEL_SDK_DISABLED=true beside one),
/// nothing is exported and the webhook request has no `traceparent`,
/// even when the send came with one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_nothing_is_exported_and_nothing_added() {
    each_backend(|b| async move {
        let collector = Collector::start().await;
        for disabled in [false, true] {
            let db = TestDb::new(&b);
            let rx = Receiver::start().await;
            let port = free_port();
            let mut env = child_env(&db, port);
            env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "50".into()));
            if disabled {
                env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), collector.url.clone()));
                env.push(("OTEL_SDK_DISABLED".into(), "true".into()));
            }
            let label = if disabled { "disabled" } else { "off" };
            let mut child = spawn_child(&db, &env, port, &["serve"], label);
            child.wait_ready(Duration::from_secs(30)).await;
            let (trace_id, span_id) = ids();
            send(
                &child.base,
                &admin_key(&db),
                &rx,
                &format!("00-{trace_id}-{span_id}-01"),
            )
            .await;
            let got = rx.wait_for(1, Duration::from_secs(15)).await;
            assert!(
                got[0].headers.get("traceparent").is_none(),
                "{label}: {:?}",
                got[0].headers
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            child.stop_gracefully(Duration::from_secs(30)).await;
        }
        assert_eq!(*collector.requests.lock().unwrap(), 0);
    })
    .await;
}
