//! A client straight on hyper, for the webhook channel's one POST per
//! delivery. reqwest costs ~23,000 instructions a request beyond hyper's
//! own (its redirect layer prints and parses the URL again for every
//! request, even with redirects off, and each request builds a tower
//! stack): ~7 % of the server's under the peers' load. This client keeps
//! what matters of it: a keep-alive pool, HTTP/1.1 and h2 over rustls with
//! the Mozilla roots, no proxy, no redirects, one deadline for the whole
//! exchange, and the address rule on the resolver, on IP literals and on
//! the peer actually connected to ([`Guard`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::{HttpConnector, HttpInfo};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{answer, fail, global_only, Guard, Naming, Refused};
use crate::channels::{error_chain, Outcome, SendResult};

/// The system resolver, keeping only global addresses unless the guard
/// allows every address.
#[derive(Clone)]
struct Resolver(Arc<Guard>);

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
            if guard.allow_private {
                return Ok(addrs.into_iter());
            }
            Ok(global_only(host, addrs, &guard.setting)?.into_iter())
        })
    }
}

type Pool =
    hyper_util::client::legacy::Client<HttpsConnector<HttpConnector<Resolver>>, Full<Bytes>>;

/// A POST-only client under a [`Guard`], giving up after `timeout` on
/// connecting or on the whole exchange (sending and reading the answer).
pub struct Direct {
    pool: Pool,
    guard: Arc<Guard>,
    timeout: Duration,
    naming: Naming,
    user_agent: http::HeaderValue,
}

impl Direct {
    pub fn new(
        guard: Guard,
        timeout: Duration,
        naming: Naming,
        idle_per_host: usize,
    ) -> anyhow::Result<Direct> {
        let guard = Arc::new(guard);
        let mut http = HttpConnector::new_with_resolver(Resolver(guard.clone()));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let pool = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(idle_per_host)
            .build(tls);
        Ok(Direct {
            pool,
            guard,
            timeout,
            naming,
            user_agent: http::HeaderValue::from_static(concat!(
                "missive/",
                env!("CARGO_PKG_VERSION")
            )),
        })
    }

    /// POSTs `body` to `url` with `headers` under the address rule, and
    /// classifies the answer into `r` reading at most `limit` bytes of it
    /// (see [`super::Client::send`] and [`super::Client::answer`], which
    /// this matches error for error). On success the answer's start is
    /// returned.
    pub async fn post(
        &self,
        r: &mut SendResult,
        url: &url::Url,
        headers: &[(&'static str, &str)],
        body: String,
        limit: usize,
    ) -> Option<String> {
        if let Err(refused) = self.guard.check_url(url) {
            return fail(r, Outcome::Permanent, refused.to_string());
        }
        let request = match self.request(url, headers, body) {
            Ok(req) => req,
            Err(e) => return fail(r, Outcome::Permanent, format!("{url}: {e}")),
        };
        let exchange = async {
            let resp = match self.pool.request(request).await {
                Ok(resp) => resp,
                Err(e) => {
                    return match super::refusal(&e) {
                        Some(refused) => fail(r, Outcome::Permanent, refused.to_string()),
                        None => fail(r, Outcome::Transient, self.error(url, &e)),
                    };
                }
            };
            if let Err(refused) = self.check_peer(url, &resp) {
                return fail(r, Outcome::Permanent, refused.to_string());
            }
            match answer(r, resp, limit, self.naming).await {
                Ok(text) => Some(text),
                Err(e) => {
                    r.error = Some(e);
                    None
                }
            }
        };
        let Ok(done) = tokio::time::timeout(self.timeout, exchange).await else {
            let timed_out = self.naming.timeout(url, self.timeout);
            if r.status_code.is_none() {
                return fail(r, Outcome::Transient, timed_out);
            }
            // The answer came and was classified; only its body was cut
            // short, as a body that fails to read is.
            r.error = Some(format!("reading the answer: {timed_out}"));
            return None;
        };
        done
    }

    fn request(
        &self,
        url: &url::Url,
        headers: &[(&'static str, &str)],
        body: String,
    ) -> Result<http::Request<Full<Bytes>>, http::Error> {
        let mut b = http::Request::post(url.as_str())
            .header(http::header::USER_AGENT, self.user_agent.clone());
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        if let Some(tp) = crate::telemetry::current() {
            b = b.header(crate::telemetry::TRACEPARENT, tp);
        }
        b.body(Full::new(Bytes::from(body)))
    }

    /// The address connected to, judged as a last line behind the
    /// resolver.
    fn check_peer(&self, url: &url::Url, resp: &http::Response<Incoming>) -> Result<(), Refused> {
        let peer = resp.extensions().get::<HttpInfo>().map(|i| i.remote_addr());
        self.guard
            .check_addr(url.host_str().unwrap_or_default(), peer)
    }

    /// What failed, as reqwest words it, so the log reads the same for
    /// every channel.
    fn error(&self, url: &url::Url, e: &hyper_util::client::legacy::Error) -> String {
        match self.naming {
            Naming::Url => format!("error sending request for url ({url}): {}", error_chain(e)),
            Naming::Host => format!(
                "{}: error sending request: {}",
                super::host_of(url),
                error_chain(e)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_resolver_keeps_loopback_only_when_private_addresses_are_allowed() {
        use tower_service::Service;
        let name: Name = "localhost".parse().unwrap();
        let mut strict = Resolver(Arc::new(Guard::new(
            false,
            "channels.webhook.allow_private",
        )));
        let e = match strict.call(name.clone()).await {
            Ok(a) => panic!("localhost resolved to {:?}", a.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("loopback") && e.contains("localhost"), "{e}");
        let mut open = Resolver(Arc::new(Guard::new(true, "x")));
        let addrs: Vec<SocketAddr> = open.call(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
