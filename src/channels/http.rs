//! What every outbound HTTP client shares: the rule for which addresses may
//! be reached ([`not_global`]), enforced on the address actually connected
//! to (a resolver that drops non-global answers, a check of IP literals
//! before sending, and a check of the peer once connected), reading an
//! answer only up to what is kept ([`read_capped`]), and what an answer or a
//! failed request means for the attempt ([`Client::send`],
//! [`Client::answer`]). It is one file so that the webhook channel and every
//! HTTP provider (Twilio, the SMS gateway, later ones) send, classify and
//! refuse the same way; they differ only in how errors name the target
//! ([`Naming`]) and how much of an answer they read.
//!
//! The rule: an address is refused when it lies in a block of the IANA
//! IPv4 or IPv6 special-purpose address registries that is not globally
//! reachable, in multicast, or (IPv6) outside global unicast `2000::/3`.
//! Forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64
//! `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the embedded address.
//! All of `2001::/23` (Teredo, benchmarking, ORCHID and the few anycast
//! services IANA marks global) is refused: none of it is a place to deliver
//! a notification to.

mod direct;

pub use direct::Direct;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{error_chain, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ConfigError, ProviderConfig};

/// How much of a provider's answer is read: more than is stored, so an
/// answer can be parsed (a Twilio message sid) before it is cut to
/// [`MAX_RESPONSE`].
pub const PROVIDER_READ_LIMIT: usize = 64 * 1024;

/// `ip` lies in `net/len`.
fn in_v4(ip: u32, net: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    ip & mask == u32::from_be_bytes(net) & mask
}

fn in_v6(ip: u128, net: Ipv6Addr, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    ip & mask == u128::from(net) & mask
}

/// IPv4 blocks that are not globally reachable, most specific first: the
/// network, its prefix length, and what it is.
const V4_BLOCKS: &[([u8; 4], u32, &str)] = &[
    ([255, 255, 255, 255], 32, "limited broadcast"),
    ([0, 0, 0, 0], 8, "this network"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared address space"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([192, 88, 99, 0], 24, "6to4 relay anycast"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved"),
];

/// `10.0.0.0/8 (private)`: a block as a refusal names it.
fn block_name(net: impl std::fmt::Display, len: u32, what: &str) -> String {
    format!("{net}/{len} ({what})")
}

fn v4_block(ip: Ipv4Addr) -> Option<String> {
    let n = u32::from(ip);
    V4_BLOCKS
        .iter()
        .find(|(net, len, _)| in_v4(n, *net, *len))
        .map(|(net, len, what)| block_name(Ipv4Addr::from(*net), *len, what))
}

/// An IPv6 network from its first three groups.
const fn v6(a: u16, b: u16, c: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)
}

/// IPv6 blocks refused outright, most specific first (checked after the
/// forms that embed an IPv4 address).
const V6_BLOCKS: &[(Ipv6Addr, u32, &str)] = &[
    (v6(0x64, 0xff9b, 1), 48, "local-use NAT64"),
    (v6(0x100, 0, 0), 64, "discard-only"),
    (v6(0x2001, 0, 0), 32, "Teredo"),
    (v6(0x2001, 0xdb8, 0), 32, "documentation"),
    (v6(0x2001, 0, 0), 23, "IETF protocol assignments"),
    (v6(0x3fff, 0, 0), 20, "documentation"),
    (v6(0xfc00, 0, 0), 7, "unique local"),
    (v6(0xfe80, 0, 0), 10, "link-local"),
    (v6(0xff00, 0, 0), 8, "multicast"),
];

/// Why `ip` may not be reached, naming the block it is in (and for forms
/// that carry an IPv4 address, the block of that address); `None` for a
/// globally reachable address.
pub fn not_global(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => v4_block(v4),
        IpAddr::V6(v6) => v6_block(v6),
    }
}

/// The address is globally reachable: see [`not_global`].
pub fn is_global(ip: IpAddr) -> bool {
    not_global(ip).is_none()
}

fn v6_block(ip: Ipv6Addr) -> Option<String> {
    let n = u128::from(ip);
    let low32 = Ipv4Addr::from((n & 0xffff_ffff) as u32);
    let embedded =
        |form: &str, v4: Ipv4Addr| v4_block(v4).map(|b| format!("{form} embedding {v4}, in {b}"));
    if n == 0 {
        return Some("::/128 (unspecified)".into());
    }
    if n == 1 {
        return Some("::1/128 (loopback)".into());
    }
    if in_v6(n, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96) {
        return embedded("::ffff:0:0/96 (IPv4-mapped)", low32);
    }
    if in_v6(n, Ipv6Addr::UNSPECIFIED, 96) {
        // Deprecated, and never routed as such: refused whatever it holds.
        return Some(
            embedded("::/96 (IPv4-compatible)", low32)
                .unwrap_or_else(|| "::/96 (IPv4-compatible, deprecated)".into()),
        );
    }
    if in_v6(n, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        return embedded("64:ff9b::/96 (NAT64)", low32);
    }
    if in_v6(n, Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        let v4 = Ipv4Addr::from(((n >> 80) & 0xffff_ffff) as u32);
        return embedded("2002::/16 (6to4)", v4);
    }
    if let Some((net, len, what)) = V6_BLOCKS.iter().find(|(net, len, _)| in_v6(n, *net, *len)) {
        return Some(block_name(net, *len, what));
    }
    if !in_v6(n, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return Some("outside 2000::/3 (not global unicast)".into());
    }
    None
}

/// A connection refused by the address rule.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The host as written, and the address it came to.
    pub target: String,
    pub rule: String,
    /// The setting that would allow it.
    pub setting: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused to connect to {}: {} is not globally reachable; set {} = true to allow private addresses",
            self.target, self.rule, self.setting
        )
    }
}

impl std::error::Error for Refused {}

/// The refusal behind a request error, if the address rule caused it.
pub fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        cur = c.source();
    }
    None
}

/// Resolves names with the system resolver and keeps only globally
/// reachable addresses, so a public name pointing inside the network is
/// refused when connecting (no DNS rebinding around a check of the URL).
struct GlobalOnly {
    setting: String,
}

impl Resolve for GlobalOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let setting = self.setting.clone();
        Box::pin(async move {
            let host = name.as_str();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
            let kept = global_only(host, addrs, &setting)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The globally reachable ones of the addresses `host` resolved to, or
/// the refusal of the first when there is none (an empty answer stays
/// empty: the connector reports it).
fn global_only(
    host: &str,
    addrs: Vec<SocketAddr>,
    setting: &str,
) -> Result<Vec<SocketAddr>, Refused> {
    let mut refused = None;
    let mut kept = Vec::with_capacity(addrs.len());
    for a in addrs {
        match not_global(a.ip()) {
            None => kept.push(a),
            Some(rule) => {
                refused.get_or_insert((a.ip(), rule));
            }
        }
    }
    match refused {
        Some((ip, rule)) if kept.is_empty() => Err(Refused {
            target: format!("{host} ({ip})"),
            rule,
            setting: setting.to_string(),
        }),
        _ => Ok(kept),
    }
}

/// Where a client may connect.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Everything may be reached (the operator said so).
    pub allow_private: bool,
    /// The setting named in refusals, e.g. `channels.webhook.allow_private`.
    pub setting: String,
}

impl Guard {
    pub fn new(allow_private: bool, setting: impl Into<String>) -> Guard {
        Guard {
            allow_private,
            setting: setting.into(),
        }
    }

    /// A client builder with no redirects and, unless private addresses are
    /// allowed, the resolver that drops them and no proxy (through a proxy
    /// the address connected to would be the proxy's, not the target's).
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("missive/", env!("CARGO_PKG_VERSION")));
        if self.allow_private {
            builder
        } else {
            builder.no_proxy().dns_resolver(Arc::new(GlobalOnly {
                setting: self.setting.clone(),
            }))
        }
    }

    /// Checks a URL before sending: an IP literal never reaches the
    /// resolver, so it is judged here.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        if self.allow_private {
            return Ok(());
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        match not_global(ip) {
            None => Ok(()),
            Some(rule) => Err(Refused {
                target: url.host_str().unwrap_or_default().to_string(),
                rule,
                setting: self.setting.clone(),
            }),
        }
    }

    /// Checks the peer of an answer, as a last line behind the resolver.
    pub fn check_peer(&self, resp: &reqwest::Response) -> Result<(), Refused> {
        self.check_addr(
            resp.url().host_str().unwrap_or_default(),
            resp.remote_addr(),
        )
    }

    /// Checks `peer`, the address connected to for `host`.
    pub fn check_addr(&self, host: &str, peer: Option<SocketAddr>) -> Result<(), Refused> {
        if self.allow_private {
            return Ok(());
        }
        match peer.and_then(|a| Some((a, not_global(a.ip())?))) {
            None => Ok(()),
            Some((addr, rule)) => Err(Refused {
                target: format!("{host} ({})", addr.ip()),
                rule,
                setting: self.setting.clone(),
            }),
        }
    }
}

/// The start of an answer's body.
#[derive(Debug, Default)]
pub struct Capped {
    pub bytes: Vec<u8>,
    /// More was sent than was read.
    pub truncated: bool,
}

impl Capped {
    /// The bytes as text (invalid UTF-8 replaced), at most `max` bytes.
    pub fn text(&self, max: usize) -> String {
        super::truncate(String::from_utf8_lossy(&self.bytes).into_owned(), max)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads at most `max` bytes of an answer's body, frame by frame, and
/// then stops: the rest is never read, and dropping the body closes the
/// connection. On an error, what was read so far comes with it.
pub async fn read_capped<B>(body: &mut B, max: usize) -> Result<Capped, (Capped, BoxError)>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    use http_body_util::BodyExt;
    let mut out = Capped::default();
    while out.bytes.len() < max {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(chunk) = frame.into_data() else {
                    continue;
                };
                let room = max - out.bytes.len();
                if chunk.len() > room {
                    out.truncated = true;
                }
                out.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            None => return Ok(out),
            Some(Err(e)) => return Err((out, e.into())),
        }
    }
    out.truncated = true;
    Ok(out)
}

/// Classifies an answer into `r` (status code, outcome, Retry-After)
/// and reads up to `limit` bytes of its body; the rest is never read,
/// and dropping the response closes the connection on it. When reading
/// fails, what was read is kept as `r.response` and the error returned.
async fn answer<B>(
    r: &mut SendResult,
    resp: http::Response<B>,
    limit: usize,
    naming: Naming,
) -> Result<String, String>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let code = resp.status().as_u16();
    r.status_code = Some(code);
    r.outcome = classify_status(code);
    r.retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let mut body = resp.into_body();
    match read_capped(&mut body, limit).await {
        Ok(body) => Ok(body.text(limit)),
        Err((body, e)) => {
            r.response = Some(body.text(MAX_RESPONSE));
            let error = match (naming, e.downcast::<reqwest::Error>()) {
                (Naming::Host, Ok(e)) => error_chain(&(*e).without_url()),
                (_, Ok(e)) => error_chain(&*e),
                (_, Err(e)) => error_chain(&*e),
            };
            Err(format!("reading the answer: {error}"))
        }
    }
}

/// Maps an HTTP status to an outcome (README, "Receiving webhooks"): 2xx sent; 408, 429 and
/// 5xx worth another try; any other answer final.
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

/// How a failed request names where it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// The error as reqwest words it, URL included: a webhook URL is the
    /// recipient's own address, and the one to look at.
    Url,
    /// `host[:port]: ` and the error without its URL: a provider's URL may
    /// carry a key in its query.
    Host,
}

impl Naming {
    fn error(self, url: &reqwest::Url, e: reqwest::Error) -> String {
        match self {
            Naming::Url => error_chain(&e),
            Naming::Host => format!("{}: {}", host_of(url), error_chain(&e.without_url())),
        }
    }

    fn timeout(self, url: &reqwest::Url, timeout: Duration) -> String {
        let after = format!("timed out after {}", humantime::format_duration(timeout));
        match self {
            Naming::Url => after,
            Naming::Host => format!("{}: {after}", host_of(url)),
        }
    }
}

/// `host[:port]` of a URL, for error messages.
fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// An `http(s)://` URL with a host, or an error for `<key>.<field>`.
pub fn http_url(p: &ProviderConfig, field: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
    match reqwest::Url::parse(value.trim()) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Ok(u),
        _ => Err(p.invalid(field, format!("{value:?} is not an http(s) URL"))),
    }
}

/// An HTTP client, the address rule it connects under, its timeout and how
/// its errors name the target.
pub struct Client {
    pub http: reqwest::Client,
    guard: Guard,
    timeout: Duration,
    naming: Naming,
}

impl Client {
    /// A client under `guard` (see [`Guard::client_builder`]) that gives up
    /// on connecting or on a whole request after `timeout`, and keeps at
    /// most `idle_per_host` idle connections a host.
    pub fn new(
        guard: Guard,
        timeout: Duration,
        naming: Naming,
        idle_per_host: usize,
    ) -> reqwest::Result<Client> {
        Client::build(guard, timeout, naming, idle_per_host, false)
    }

    /// [`Client::new`], speaking HTTP/2 only when `http2` is set (APNs:
    /// h2 negotiated over TLS, or with prior knowledge on a plain-http
    /// base URL).
    fn build(
        guard: Guard,
        timeout: Duration,
        naming: Naming,
        idle_per_host: usize,
        http2: bool,
    ) -> reqwest::Result<Client> {
        let mut builder = guard.client_builder();
        if http2 {
            builder = builder.http2_prior_knowledge();
        }
        let http = builder
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(idle_per_host)
            .build()?;
        Ok(Client {
            http,
            guard,
            timeout,
            naming,
        })
    }

    /// A provider's client: only globally reachable addresses unless its
    /// `allow_private` is set, and errors that name the host only.
    pub fn for_provider(
        p: &ProviderConfig,
        allow_private: bool,
        timeout: Duration,
    ) -> Result<Client, ConfigError> {
        let guard = Guard::new(allow_private, format!("{}.allow_private", p.key));
        Client::new(guard, timeout, Naming::Host, usize::MAX)
            .map_err(|e| ConfigError::Read(format!("`{}`: its HTTP client: {e}", p.key)))
    }

    /// [`Client::for_provider`] over HTTP/2 only (APNs takes nothing else).
    pub fn for_provider_http2(
        p: &ProviderConfig,
        allow_private: bool,
        timeout: Duration,
    ) -> Result<Client, ConfigError> {
        let guard = Guard::new(allow_private, format!("{}.allow_private", p.key));
        Client::build(guard, timeout, Naming::Host, usize::MAX, true)
            .map_err(|e| ConfigError::Read(format!("`{}`: its HTTP client: {e}", p.key)))
    }

    /// Sends `request` to `url` under the address rule: an IP literal is
    /// judged before sending, names by the resolver, and the peer once
    /// connected. A refusal is permanent (a setting to change, not a
    /// failure to wait out); any other failure to get an answer transient.
    /// On failure `r` says why and there is no answer.
    pub async fn send(
        &self,
        r: &mut SendResult,
        request: reqwest::RequestBuilder,
        url: &reqwest::Url,
    ) -> Option<reqwest::Response> {
        let sent = match self.guard.check_url(url) {
            Ok(()) => crate::telemetry::inject(request).send().await,
            Err(refused) => return fail(r, Outcome::Permanent, refused.to_string()),
        };
        match sent {
            Ok(resp) => match self.guard.check_peer(&resp) {
                Ok(()) => Some(resp),
                Err(refused) => fail(r, Outcome::Permanent, refused.to_string()),
            },
            Err(e) => match refusal(&e) {
                Some(refused) => fail(r, Outcome::Permanent, refused.to_string()),
                None if e.is_timeout() => {
                    let error = self.naming.timeout(url, self.timeout);
                    fail(r, Outcome::Transient, error)
                }
                None => fail(r, Outcome::Transient, self.naming.error(url, e)),
            },
        }
    }

    /// See [`answer`].
    pub async fn answer(
        &self,
        r: &mut SendResult,
        resp: reqwest::Response,
        limit: usize,
    ) -> Result<String, String> {
        answer(r, http::Response::from(resp), limit, self.naming).await
    }
}

/// Sets `r` to a failure and gives no answer.
fn fail<T>(r: &mut SendResult, outcome: Outcome, error: String) -> Option<T> {
    r.outcome = outcome;
    r.error = Some(error);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(ip: &str) -> Option<String> {
        not_global(ip.parse().unwrap())
    }

    /// Each address must be refused under a rule naming `block`.
    fn refused(cases: &[(&str, &str)]) {
        for (ip, block) in cases {
            let r = rule(ip).unwrap_or_else(|| panic!("{ip} was taken as global"));
            assert!(r.contains(block), "{ip}: {r} should name {block}");
        }
    }

    #[test]
    fn ipv4_special_purpose_blocks_are_refused() {
        refused(&[
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0/8"),
            ("10.255.255.255", "10.0.0.0/8"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.254", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.0.9", "127.0.0.0/8"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.1", "192.0.0.0/24"),
            ("192.0.0.170", "192.0.0.0/24"),
            ("192.0.2.10", "192.0.2.0/24"),
            ("192.88.99.1", "192.88.99.0/24"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.9", "203.0.113.0/24"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.250", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.254", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
        ]);
    }

    #[test]
    fn ipv4_neighbours_of_the_blocks_are_global() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.98.255",
            "192.167.255.255",
            "192.169.0.0",
            "192.175.48.1",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "203.0.112.255",
            "223.255.255.255",
        ] {
            assert_eq!(rule(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv6_special_purpose_blocks_are_refused() {
        refused(&[
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("100::", "100::/64"),
            ("100::ffff:ffff:ffff:ffff", "100::/64"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("64:ff9b:1:ffff::808:808", "64:ff9b:1::/48"),
            ("2001::1", "2001::/32 (Teredo)"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
            ("2001:2::1", "2001::/23"),
            ("2001:1::1", "2001::/23"),
            ("2001:10::1", "2001::/23"),
            ("2001:1ff::1", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("2001:db8:ffff::1", "2001:db8::/32"),
            ("3fff::1", "3fff::/20"),
            ("fc00::1", "fc00::/7"),
            ("fd12:3456::1", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("febf::1", "fe80::/10"),
            ("ff02::1", "ff00::/8"),
            ("ff0e::1", "ff00::/8"),
            ("5f00::1", "2000::/3"),
            ("4000::1", "2000::/3"),
            ("fec0::1", "2000::/3"),
        ]);
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4_address() {
        refused(&[
            ("::ffff:127.0.0.1", "127.0.0.0/8"),
            ("::ffff:10.0.0.1", "10.0.0.0/8"),
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
            ("::127.0.0.1", "::/96 (IPv4-compatible) embedding 127.0.0.1"),
            ("::10.1.2.3", "10.0.0.0/8"),
            ("::8.8.8.8", "::/96"),
            (
                "64:ff9b::7f00:1",
                "64:ff9b::/96 (NAT64) embedding 127.0.0.1",
            ),
            ("64:ff9b::a00:1", "10.0.0.0/8"),
            ("64:ff9b::c612:1", "198.18.0.0/15"),
            ("2002:7f00:1::", "2002::/16 (6to4) embedding 127.0.0.1"),
            ("2002:a00:1::1", "10.0.0.0/8"),
            ("2002:c0a8:101::", "192.168.0.0/16"),
            ("2002:e000:1::", "224.0.0.0/4"),
        ]);
        for ip in [
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700::1111",
            "2a00:1450:4001:81a::200e",
            "2001:200::1",
            "2620:4f:8000::1",
            "3fff:1000::1",
        ] {
            assert_eq!(rule(ip), None, "{ip}");
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

    #[test]
    fn literal_urls_are_checked_and_names_left_to_the_resolver() {
        let g = Guard::new(false, "channels.webhook.allow_private");
        for u in [
            "http://127.0.0.1:8080/",
            "http://[::ffff:127.0.0.1]:1/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let e = g.check_url(&u.parse().unwrap()).unwrap_err().to_string();
            assert!(
                e.contains("127.0.0.0/8") && e.contains("channels.webhook.allow_private"),
                "{u}: {e}"
            );
        }
        assert!(g.check_url(&"http://8.8.8.8/".parse().unwrap()).is_ok());
        assert!(g.check_url(&"http://example.com/".parse().unwrap()).is_ok());
        let open = Guard::new(true, "x");
        assert!(open
            .check_url(&"http://127.0.0.1/".parse().unwrap())
            .is_ok());
    }

    #[test]
    fn the_peer_connected_to_is_judged_too() {
        let g = Guard::new(false, "channels.webhook.allow_private");
        let e = g
            .check_addr("hooks.example", Some("10.1.2.3:443".parse().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hooks.example (10.1.2.3)") && e.contains("10.0.0.0/8"),
            "{e}"
        );
        assert!(g
            .check_addr("hooks.example", Some("8.8.8.8:443".parse().unwrap()))
            .is_ok());
        let open = Guard::new(true, "x");
        assert!(open
            .check_addr("h", Some("127.0.0.1:1".parse().unwrap()))
            .is_ok());
    }

    #[test]
    fn a_name_with_only_non_global_answers_is_refused_and_mixed_ones_keep_the_global() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let public: SocketAddr = "8.8.8.8:0".parse().unwrap();
        let e = global_only("h.example", vec![local], "s")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("h.example (127.0.0.1)") && e.contains("s = true"),
            "{e}"
        );
        assert_eq!(
            global_only("h", vec![local, public], "s").unwrap(),
            vec![public]
        );
        assert!(global_only("h", vec![], "s").unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_resolver_drops_non_global_answers() {
        let r = GlobalOnly {
            setting: "channels.webhook.allow_private".into(),
        };
        let e = match r.resolve("localhost".parse().unwrap()).await {
            Ok(a) => panic!("localhost resolved to {:?}", a.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("loopback") && e.contains("localhost"), "{e}");
    }
}
