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
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
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
    /// (trace id, span id) of each span it links to.
    links: Vec<(String, String)>,
}

/// An OTLP collector on 127.0.0.1:0 (HTTP/protobuf or gRPC): every span
/// it was sent, and how many export requests came.
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

/// What a collector keeps of one export request.
#[derive(Clone, Default)]
struct Sink {
    spans: Arc<Mutex<Vec<Span>>>,
    requests: Arc<Mutex<usize>>,
}

impl Sink {
    fn take(&self, req: ExportTraceServiceRequest) {
        *self.requests.lock().unwrap() += 1;
        for rs in req.resource_spans {
            let resource = text(&rs.resource.map(|r| r.attributes).unwrap_or_default());
            let service = resource.get("service.name").cloned().unwrap_or_default();
            for ss in rs.scope_spans {
                for sp in ss.spans {
                    self.spans.lock().unwrap().push(Span {
                        name: sp.name,
                        trace_id: hex::encode(sp.trace_id),
                        span_id: hex::encode(sp.span_id),
                        parent: hex::encode(sp.parent_span_id),
                        attrs: text(&sp.attributes),
                        service: service.clone(),
                        links: sp
                            .links
                            .iter()
                            .map(|l| (hex::encode(&l.trace_id), hex::encode(&l.span_id)))
                            .collect(),
                    });
                }
            }
        }
    }

    fn collector(self, url: String) -> Collector {
        Collector {
            url,
            spans: self.spans,
            requests: self.requests,
        }
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.take(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    /// OTLP over HTTP with protobuf bodies.
    async fn start() -> Collector {
        let sink = Sink::default();
        let s = sink.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |body: Bytes| {
                let s = s.clone();
                async move {
                    s.take(ExportTraceServiceRequest::decode(body).expect("OTLP protobuf"));
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
        sink.collector(format!("http://{addr}"))
    }

    /// OTLP over gRPC.
    async fn start_grpc() -> Collector {
        let sink = Sink::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(sink.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap()
        });
        sink.collector(format!("http://{addr}"))
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
        // Claiming and recording are batch steps in traces of their own,
        // each linked to the spans of the deliveries it touched.
        let claim = one("claim");
        assert_ne!(claim.trace_id, trace_id);
        assert_eq!(claim.attrs["deliveries"], "1");
        assert_eq!(
            claim.links,
            vec![(trace_id.clone(), accept.span_id.clone())],
            "the claim links to the span that accepted the delivery"
        );
        let record = one("record");
        assert_ne!(record.trace_id, trace_id);
        assert_eq!(record.attrs["deliveries"], "1");
        assert_eq!(
            record.links,
            vec![(trace_id.clone(), deliver.span_id.clone())],
            "the record links to the attempt it wrote"
        );
        let render = one("render");
        assert_eq!(render.trace_id, trace_id);
        assert_eq!(render.parent, accept.span_id);
        let in_trace: Vec<&str> = spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            in_trace.len(),
            4,
            "accept, render, deliver and send in the caller's trace: {spans:#?}"
        );
    })
    .await;
}

/// Over gRPC, a send to a topic: the fan-out continues the accept span in
/// the background, and each subscriber's delivery continues the fan-out,
/// so one trace holds the request, the fan-out and every attempt. Then a
/// workflow trigger: the run's step continues the accept, and what the
/// step sends continues the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_with_a_fan_out_and_a_workflow_run_in_the_callers_traces() {
    each_backend(|b| async move {
        let db = TestDb::new(&b);
        let rx = Receiver::start().await;
        let collector = Collector::start_grpc().await;
        let port = free_port();
        let mut env = child_env(&db, port);
        env.push((
            "MISSIVE__TELEMETRY__OTLP_ENDPOINT".into(),
            collector.url.clone(),
        ));
        env.push(("MISSIVE__TELEMETRY__OTLP_PROTOCOL".into(), "grpc".into()));
        env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "600000".into()));
        let mut child = spawn_child(&db, &env, port, &["serve"], "grpc");
        child.wait_ready(Duration::from_secs(30)).await;
        let key = admin_key(&db);
        let http = reqwest::Client::new();
        for id in ["a", "b"] {
            let r = http
                .put(format!("{}/v1/recipients/{id}", child.base))
                .bearer_auth(&key)
                .json(&json!({"webhook_url": rx.url}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
        let r = http
            .put(format!("{}/v1/topics/team", child.base))
            .bearer_auth(&key)
            .json(&json!({"name": "Team"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let r = http
            .post(format!("{}/v1/topics/team/subscribers", child.base))
            .bearer_auth(&key)
            .json(&json!({"recipients": ["a", "b"]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());

        let (trace_id, caller_span) = ids();
        let r = http
            .post(format!("{}/v1/notifications", child.base))
            .bearer_auth(&key)
            .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
            .json(&json!({"content": {"webhook": {"body": "{}"}}, "to": [{"topic": "team"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let got = rx.wait_for(2, Duration::from_secs(15)).await;
        for g in &got {
            let tp = g.headers["traceparent"].to_str().unwrap();
            assert_eq!(tp.split('-').nth(1), Some(trace_id.as_str()), "{tp}");
        }

        // A workflow trigger: its run's step sends in the caller's trace.
        for (path, body) in [
            (
                "/v1/templates/note",
                json!({"channels": {"webhook": {"body": "{}"}}}),
            ),
            (
                "/v1/workflows/notify",
                json!({"steps": [{"id": "hook", "type": "send", "channel": "webhook", "template": "note"}]}),
            ),
        ] {
            let r = http
                .put(format!("{}{path}", child.base))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
        let (run_trace, run_caller) = ids();
        let r = http
            .post(format!("{}/v1/notifications", child.base))
            .bearer_auth(&key)
            .header("traceparent", format!("00-{run_trace}-{run_caller}-01"))
            .json(&json!({"workflow": "notify", "to": [{"webhook_url": rx.url}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let got = rx.wait_for(3, Duration::from_secs(15)).await;
        let tp = got[2].headers["traceparent"].to_str().unwrap();
        assert_eq!(tp.split('-').nth(1), Some(run_trace.as_str()), "{tp}");
        child.stop_gracefully(Duration::from_secs(30)).await;

        let spans = collector.spans();
        assert!(*collector.requests.lock().unwrap() > 0);
        let in_trace = |trace: &str, name: &str| -> Vec<Span> {
            spans
                .iter()
                .filter(|s| s.name == name && s.trace_id == trace)
                .cloned()
                .collect()
        };
        let named = |name: &str| in_trace(&trace_id, name);
        let accept = named("accept");
        assert_eq!(accept.len(), 1, "{spans:#?}");
        assert_eq!(accept[0].parent, caller_span);
        let fanout = named("fanout");
        assert_eq!(fanout.len(), 1, "{spans:#?}");
        assert_eq!(
            fanout[0].parent, accept[0].span_id,
            "the fan-out continues the accept"
        );
        let deliver = named("deliver");
        assert_eq!(deliver.len(), 2, "{spans:#?}");
        for d in &deliver {
            assert_eq!(
                d.parent, fanout[0].span_id,
                "each subscriber's attempt continues the fan-out"
            );
            assert_eq!(d.attrs["channel"], "webhook");
        }
        assert_eq!(named("send").len(), 2, "{spans:#?}");

        let in_run = |name: &str| in_trace(&run_trace, name);
        let accept = in_run("accept");
        assert_eq!(accept.len(), 1, "{spans:#?}");
        assert_eq!(accept[0].parent, run_caller);
        let run = in_run("workflow_run");
        assert!(!run.is_empty(), "{spans:#?}");
        assert!(run.iter().all(|r| r.parent == accept[0].span_id));
        let deliver = in_run("deliver");
        assert_eq!(deliver.len(), 1, "{spans:#?}");
        assert!(
            run.iter().any(|r| r.span_id == deliver[0].parent),
            "the step's delivery continues the run's step: {spans:#?}"
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
