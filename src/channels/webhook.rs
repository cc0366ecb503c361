//! The webhook channel: a signed POST to the recipient's `webhook_url`,
//! following Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

use super::{truncate, Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::WebhookConfig;

/// `whsec_<base64>` → the key bytes, if well formed (at least 24 bytes).
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let b = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    (b.len() >= 24).then_some(b)
}

/// A new random `whsec_` secret (32 bytes).
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", B64.encode(bytes))
}

/// The `webhook-signature` header value.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// Addresses a notification must not reach unless allowed: loopback,
/// private, link-local, unspecified, CGNAT and unique-local ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

#[derive(Debug)]
struct PrivateAddress(String);

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is a private, loopback or link-local address; set channels.webhook.allow_private = true to allow it",
            self.0
        )
    }
}

impl std::error::Error for PrivateAddress {}

/// Resolves host names and drops private addresses, so a public name that
/// points inside the network is refused at connect time too (no DNS
/// rebinding around the check).
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() && !addrs.is_empty() {
                return Err(
                    Box::new(PrivateAddress(format!("{host} ({})", addrs[0].ip())))
                        as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

pub struct WebhookChannel {
    client: reqwest::Client,
    key: Vec<u8>,
    cfg: WebhookConfig,
}

impl WebhookChannel {
    pub fn new(cfg: WebhookConfig) -> anyhow::Result<Self> {
        let key = decode_secret(&cfg.signing_secret).ok_or_else(|| {
            anyhow::anyhow!("channels.webhook.signing_secret is not a valid whsec_ secret")
        })?;
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .pool_max_idle_per_host(256)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("missive/", env!("CARGO_PKG_VERSION")));
        if !cfg.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(WebhookChannel {
            client: builder.build()?,
            key,
            cfg,
        })
    }

    fn body(msg: &Message<'_>) -> String {
        match msg.content.get("body") {
            Some(serde_json::Value::String(b)) => b.clone(),
            _ => serde_json::Value::Object(msg.content.clone()).to_string(),
        }
    }

    /// Refuses literal private IPs and `localhost` before connecting (names
    /// are checked by the resolver).
    fn check_target(&self, url: &reqwest::Url) -> Result<(), String> {
        if self.cfg.allow_private {
            return Ok(());
        }
        let refused = match url.host() {
            Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost")
            }
            None => true,
        };
        if refused {
            return Err(PrivateAddress(url.host_str().unwrap_or("").to_string()).to_string());
        }
        Ok(())
    }
}

/// Maps an HTTP status to an outcome per DESIGN.md.
pub fn classify_status(code: u16) -> Outcome {
    match code {
        200..=299 => Outcome::Ok,
        408 | 429 | 500..=599 => Outcome::Transient,
        _ => Outcome::Permanent,
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = UNIX_EPOCH + Duration::from_secs(when.timestamp().max(0) as u64);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error and its causes on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn is_private_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(p) = c.downcast_ref::<PrivateAddress>() {
            return Some(p.to_string());
        }
        cur = c.source();
    }
    None
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.cfg.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.cfg.max_retry_after
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let mut result = SendResult::new("webhook", Outcome::Permanent);
        let url = match reqwest::Url::parse(msg.address) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
            _ => {
                result.error = Some(format!("{} is not an http(s) URL", msg.address));
                return result;
            }
        };
        if let Err(e) = self.check_target(&url) {
            result.error = Some(e);
            return result;
        }
        let body = Self::body(msg);
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let signature = sign(&self.key, msg.delivery_id, ts, &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg.delivery_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let code = resp.status().as_u16();
                result.status_code = Some(code);
                result.outcome = classify_status(code);
                result.retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                match resp.bytes().await {
                    Ok(b) => {
                        let text =
                            String::from_utf8_lossy(&b[..b.len().min(MAX_RESPONSE)]).into_owned();
                        result.response = Some(truncate(text, MAX_RESPONSE));
                    }
                    Err(e) => {
                        result.error = Some(format!("reading the answer: {}", error_chain(&e)))
                    }
                }
                if result.outcome != Outcome::Ok && result.error.is_none() {
                    result.error = Some(format!("receiver answered HTTP {code}"));
                }
            }
            Err(e) => {
                if let Some(refusal) = is_private_refusal(&e) {
                    result.outcome = Outcome::Permanent;
                    result.error = Some(refusal);
                } else if e.is_timeout() {
                    result.outcome = Outcome::Transient;
                    result.error = Some(format!(
                        "timed out after {}",
                        humantime::format_duration(self.cfg.timeout)
                    ));
                } else {
                    result.outcome = Outcome::Transient;
                    result.error = Some(error_chain(&e));
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // Example from the Standard Webhooks specification.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn private_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "fe80::1",
            "100.64.0.1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn statuses_classify_per_the_design() {
        assert_eq!(classify_status(204), Outcome::Ok);
        for c in [408, 429, 500, 503] {
            assert_eq!(classify_status(c), Outcome::Transient, "{c}");
        }
        for c in [400, 401, 404, 410, 422] {
            assert_eq!(classify_status(c), Outcome::Permanent, "{c}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        let later = chrono::DateTime::from_timestamp(1_700_000_010, 0)
            .unwrap()
            .to_rfc2822();
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
