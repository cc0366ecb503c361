//! OpenTelemetry traces over OTLP (http/protobuf or gRPC), off unless an
//! endpoint is set: `telemetry.otlp_endpoint`, else the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`.
//! The settings win over the variables; the rest of `OTEL_*` applies as
//! the OpenTelemetry SDK reads it (service name and resource attributes,
//! headers, sampler, `OTEL_SDK_DISABLED`).

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use crate::config::{OtlpProtocol, TelemetryConfig};

/// What the service is called when OTEL_SERVICE_NAME and
/// OTEL_RESOURCE_ATTRIBUTES don't say.
pub const SERVICE_NAME: &str = "missive";

/// How long one export may take unless OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT
/// says (milliseconds).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest collector answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// Where and how spans go, once settings and variables are combined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub protocol: OtlpProtocol,
    /// From the settings (a base URL); `None`: the library reads the
    /// OTEL_* endpoint variables.
    pub endpoint: Option<String>,
}

/// The export the settings and `env` ask for; `None` when tracing is off.
pub fn resolve(
    cfg: &TelemetryConfig,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<Export>> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let from_env = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    if cfg.otlp_endpoint.is_none() && !from_env {
        return Ok(None);
    }
    let protocol = match cfg.otlp_protocol {
        Some(p) => p,
        None => match [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .into_iter()
        .find_map(|k| var(k).map(|v| (k, v)))
        {
            None => OtlpProtocol::HttpProtobuf,
            Some((k, v)) => OtlpProtocol::parse(&v).with_context(|| {
                format!("{k}={v:?} is not supported: \"http/protobuf\" or \"grpc\"")
            })?,
        },
    };
    Ok(Some(Export {
        protocol,
        endpoint: cfg.otlp_endpoint.clone(),
    }))
}

/// The exporting tracer provider. Needs a Tokio runtime (the exporters'
/// requests run on it).
pub fn provider(export: &Export) -> anyhow::Result<SdkTracerProvider> {
    let exporter = match export.protocol {
        OtlpProtocol::HttpProtobuf => {
            let client = Collector {
                http: reqwest::Client::builder()
                    .timeout(timeout())
                    .build()
                    .context("the OTLP HTTP client")?,
                rt: tokio::runtime::Handle::try_current()
                    .context("OTLP export needs a Tokio runtime")?,
            };
            let mut b = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_http_client(client);
            if let Some(e) = &export.endpoint {
                // A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
                b = b.with_endpoint(format!("{}/v1/traces", e.trim_end_matches('/')));
            }
            b.build()
        }
        OtlpProtocol::Grpc => {
            let mut b = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc);
            if let Some(e) = &export.endpoint {
                b = b.with_endpoint(e.clone());
            }
            b.build()
        }
    }
    .context("building the OTLP span exporter")?;
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let mut resource = Resource::builder();
    if !named {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    Ok(SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(exporter)
        .build())
}

fn timeout() -> Duration {
    [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .into_iter()
    .find_map(|k| std::env::var(k).ok()?.trim().parse::<u64>().ok())
    .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
}

/// The collector's HTTP client: the SDK exports from a thread of its own,
/// so each request runs on the process's Tokio runtime and the thread
/// waits for its answer.
#[derive(Debug)]
struct Collector {
    http: reqwest::Client,
    rt: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for Collector {
    async fn send_bytes(
        &self,
        request: ::http::Request<Bytes>,
    ) -> Result<::http::Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let sent = self.rt.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut resp = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut read = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                let room = MAX_ANSWER.saturating_sub(read.len());
                read.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    break;
                }
            }
            let mut answer = ::http::Response::builder()
                .status(resp.status())
                .body(Bytes::from(read))?;
            *answer.headers_mut() = resp.headers().clone();
            Ok::<_, HttpError>(answer)
        });
        sent.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn off_unless_an_endpoint_is_set() {
        let none = TelemetryConfig::default();
        assert_eq!(resolve(&none, env(&[])).unwrap(), None);
        assert_eq!(
            resolve(&none, env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])).unwrap(),
            None
        );
        let e = resolve(
            &none,
            env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.protocol, OtlpProtocol::Grpc);
        assert_eq!(e.endpoint, None);
        let e = resolve(
            &none,
            env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/v1/traces",
            )]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.protocol, OtlpProtocol::HttpProtobuf);
    }

    #[test]
    fn settings_win_and_the_sdk_can_be_disabled() {
        let cfg = TelemetryConfig {
            otlp_endpoint: Some("http://c:4318".into()),
            otlp_protocol: Some(OtlpProtocol::HttpProtobuf),
        };
        let e = resolve(&cfg, env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]))
            .unwrap()
            .unwrap();
        assert_eq!(e.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(e.endpoint.as_deref(), Some("http://c:4318"));
        assert_eq!(
            resolve(&cfg, env(&[("OTEL_SDK_DISABLED", "TRUE")])).unwrap(),
            None
        );
        let only_endpoint = TelemetryConfig {
            otlp_protocol: None,
            ..cfg
        };
        let e = resolve(
            &only_endpoint,
            env(&[
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.protocol, OtlpProtocol::Grpc);
        let err = resolve(
            &only_endpoint,
            env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("OTEL_EXPORTER_OTLP_PROTOCOL"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn both_exporters_build() {
        for protocol in [OtlpProtocol::HttpProtobuf, OtlpProtocol::Grpc] {
            let p = provider(&Export {
                protocol,
                endpoint: Some("http://127.0.0.1:9".into()),
            })
            .unwrap();
            tokio::task::spawn_blocking(move || p.shutdown())
                .await
                .unwrap()
                .unwrap();
        }
    }
}
