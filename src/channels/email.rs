//! The email channel: providers `smtp` (SMTP through lettre) and `file`
//! (one .eml file per message under the data dir; the zero-config default).
//!
//! The channel builds the RFC 5322 message once (From, To, Reply-To,
//! Subject, Date, a Message-ID made from the delivery id so it is the same on
//! every retry, List-Unsubscribe for marketing mail, and a text and/or HTML
//! body) and hands it to a provider. Providers are kept in a list in
//! failover order; this version sends through the first one.
//!
//! SMTP sessions are lettre's `AsyncSmtpConnection`, pooled here rather than
//! by lettre's `AsyncSmtpTransport`: on tokio that transport has no read
//! timeout, and a send cancelled by the attempt timeout hands its
//! half-finished connection back to lettre's pool, where the next message
//! would read the previous one's replies. Here a timed-out session is dropped
//! (closed), one that answered an error is reset (RSET) before reuse, at most
//! `pool_size` sessions run at once, and sockets have Nagle's algorithm off.

use std::error::Error as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::io::{AsyncRead as _, AsyncWrite as _};
use lettre::address::{Address, Envelope};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use serde::{Deserialize, Deserializer};
use tokio::io::ReadBuf;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::failover::{Failover, ProviderStatus};
use super::outbox::Outbox;
use super::webhook::error_chain;
use super::{truncate, Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ChannelConfig, Config, ConfigError, ProviderConfig};
use crate::flow::provider_state::ProviderBoard;

/// Builds the email channel from `channels.email`. Always enabled: the
/// `file` provider needs no configuration.
pub fn build(cfg: &ChannelConfig, root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    Ok(Some(Arc::new(EmailChannel::new(cfg, root)?)))
}

// ---------------------------------------------------------------------------
// The channel
// ---------------------------------------------------------------------------

pub struct EmailChannel {
    /// In failover order; never empty.
    providers: Failover<Box<dyn EmailProvider>>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// List-Unsubscribe target for marketing mail, with `{recipient}`.
    unsubscribe: Option<String>,
    /// The right-hand side of Message-IDs: the From address's domain.
    message_id_domain: String,
    retry_schedule: Vec<Duration>,
    max_retry_after: Duration,
}

/// A message ready for a provider: built once, sent as is.
pub struct Outgoing {
    pub delivery_id: String,
    /// `<delivery_id@domain>`, with the angle brackets.
    pub message_id: String,
    pub envelope: Envelope,
    /// The whole message as lettre formats it (CRLF line ends, 7-bit).
    pub raw: Vec<u8>,
}

/// One way of sending mail (`channels.email.<name>`).
#[async_trait]
trait EmailProvider: Send + Sync {
    /// The provider's configured name (recorded on the attempt).
    fn name(&self) -> &str;
    /// Sends over the network (its sends in flight are bounded).
    fn remote(&self) -> bool {
        true
    }
    async fn send(&self, mail: &Outgoing) -> SendResult;
}

fn config_error(key: &'static str, value: &str, allowed: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        allowed: allowed.to_string(),
    }
}

impl EmailChannel {
    pub fn new(cfg: &ChannelConfig, root: &Config) -> anyhow::Result<EmailChannel> {
        let from: Mailbox = cfg.from.trim().parse().map_err(|e| {
            config_error(
                "channels.email.from",
                &cfg.from,
                format_args!("an address such as \"Shop <shop@example.com>\" ({e})"),
            )
        })?;
        let reply_to = match cfg
            .reply_to
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(r) => Some(r.parse::<Mailbox>().map_err(|e| {
                config_error(
                    "channels.email.reply_to",
                    r,
                    format_args!("an address such as \"Help <help@example.com>\", or empty ({e})"),
                )
            })?),
            None => None,
        };
        let unsubscribe = check_unsubscribe(&cfg.unsubscribe)?;
        let message_id_domain = from.email.domain().to_string();
        let mut providers: Vec<Box<dyn EmailProvider>> = Vec::new();
        for p in &cfg.providers {
            providers.push(match p.kind.as_str() {
                "smtp" => Box::new(SmtpProvider::new(p, cfg.timeout)?),
                "file" => Box::new(FileProvider(Outbox::new(p, root, "email")?)),
                other => anyhow::bail!(
                    "`{}.type` = {other:?} is not an email provider type (smtp, file)",
                    p.key
                ),
            });
        }
        if providers.is_empty() {
            anyhow::bail!("`channels.email.providers` is empty");
        }
        Ok(EmailChannel {
            providers: Failover::with_limits(
                providers,
                cfg.providers
                    .iter()
                    .map(|p| (p.name.clone(), p.rate_limit))
                    .collect(),
                cfg.breaker_threshold,
                cfg.breaker_cool_down,
            ),
            from,
            reply_to,
            unsubscribe,
            message_id_domain,
            retry_schedule: cfg.retry_schedule.clone(),
            max_retry_after: cfg.max_retry_after,
        })
    }

    /// The RFC 5322 message for `msg`, or why it can't be made (permanent).
    pub fn compose(&self, msg: &Message<'_>) -> Result<Outgoing, String> {
        let to: Address = msg
            .address
            .trim()
            .parse()
            .map_err(|e| format!("{:?} is not a valid email address ({e})", msg.address))?;
        let part = |k: &str| {
            msg.content
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        // A line break in a header would end it; the encoder escapes them,
        // but a subject is one line. Accepting refuses subjects with control
        // characters; one stored before that check still can't carry any
        // (CR, LF, VT, FF, NUL, C1 ...): each becomes a space.
        let subject = one_line(part("subject").unwrap_or(""));
        let message_id = format!("<{}@{}>", msg.delivery_id, self.message_id_domain);

        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .date_now();
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        if msg.category == "marketing" {
            if let Some(template) = &self.unsubscribe {
                let target = template.replace("{recipient}", &percent_encode(msg.recipient));
                b = b.raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{target}>"),
                ));
                if target.starts_with("https://") {
                    // RFC 8058 one-click unsubscribe.
                    b = b.raw_header(HeaderValue::new(
                        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                        "List-Unsubscribe=One-Click".to_string(),
                    ));
                }
            }
        }
        let built = match (part("text"), part("html")) {
            (Some(text), Some(html)) => b.multipart(MultiPart::alternative_plain_html(
                text.to_string(),
                html.to_string(),
            )),
            (None, Some(html)) => b.singlepart(SinglePart::html(html.to_string())),
            (text, None) => b.singlepart(SinglePart::plain(text.unwrap_or("").to_string())),
        }
        .map_err(|e| format!("building the message: {e}"))?;
        Ok(Outgoing {
            delivery_id: msg.delivery_id.to_string(),
            message_id,
            envelope: built.envelope().clone(),
            raw: built.formatted(),
        })
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &'static str {
        "email"
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    fn paused_until(&self) -> Option<i64> {
        self.providers.all_paused_until()
    }

    fn provider_limit(&self, attempt: i64) -> Option<(String, crate::config::RateLimit)> {
        self.providers
            .peek(attempt)
            .map(|(name, l)| (name.to_string(), l))
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        self.providers.status("email", |p| p.name().to_string())
    }

    fn destination(&self, _address: &str, attempt: i64) -> Option<String> {
        let p = self.providers.likely(attempt);
        p.remote().then(|| format!("email:{}", p.name()))
    }

    fn share_provider_state(&self, board: &Arc<ProviderBoard>) {
        self.providers
            .share(board, "email", |p| p.name().to_string());
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let (index, provider) = self.providers.pick(msg.attempt).await;
        match self.compose(msg) {
            Ok(mail) => {
                let result = provider.send(&mail).await;
                self.providers
                    .record(index, result.outcome, result.retry_after);
                result
            }
            Err(e) => SendResult::failed(provider.name(), e),
        }
    }
}

/// `s` with every control character (and Unicode line or paragraph
/// separator) replaced by a space: a value fit for one header line.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if crate::domain::check::is_forbidden_char(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Checks `channels.email.unsubscribe`: empty (no header), or a mailto:,
/// http:// or https:// URL, where `{recipient}` may appear.
fn check_unsubscribe(raw: &str) -> Result<Option<String>, ConfigError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let allowed = "a mailto:, http:// or https:// URL ({recipient} is replaced), or empty for no List-Unsubscribe header";
    let sample = t.replace("{recipient}", "r");
    let ok = (t.starts_with("mailto:") || t.starts_with("http://") || t.starts_with("https://"))
        && !t.contains(|c: char| {
            c.is_whitespace() || c.is_control() || c == '<' || c == '>' || !c.is_ascii()
        })
        && url::Url::parse(&sample).is_ok();
    if !ok {
        return Err(config_error("channels.email.unsubscribe", t, allowed));
    }
    Ok(Some(t.to_string()))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any
/// recipient id or address is safe in a URL or a mailto: query.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Accepts a string, a number or a bool as a string: environment variables
/// such as `MISSIVE__CHANNELS__EMAIL__SMTP__PASSWORD=12345` arrive typed.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Str(String),
        Int(i64),
        Uint(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => s,
        Scalar::Int(i) => i.to_string(),
        Scalar::Uint(u) => u.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
    })
}

// ---------------------------------------------------------------------------
// file: one .eml per message
// ---------------------------------------------------------------------------

/// Writes `<delivery_id>.eml` to the outbox.
struct FileProvider(Outbox);

#[async_trait]
impl EmailProvider for FileProvider {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn remote(&self) -> bool {
        false
    }

    async fn send(&self, mail: &Outgoing) -> SendResult {
        let mut r = SendResult::new(&self.0.name, Outcome::Ok);
        match self.0.write(&mail.delivery_id, "eml", &mail.raw).await {
            Ok(path) => {
                r.response = Some(truncate(
                    format!("wrote {}; message-id={}", path.display(), mail.message_id),
                    MAX_RESPONSE,
                ));
            }
            Err(e) => {
                // A full disk or a permission fixed later: worth retrying.
                r.outcome = Outcome::Transient;
                r.error = Some(format!("writing to {}: {e}", self.0.dir.display()));
            }
        }
        r
    }
}

// ---------------------------------------------------------------------------
// smtp
// ---------------------------------------------------------------------------

fn default_host() -> String {
    "localhost".into()
}
fn default_port() -> u16 {
    587
}
fn default_tls() -> String {
    "starttls".into()
}
fn default_pool_size() -> u32 {
    4
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpSettings {
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_tls")]
    tls: String,
    #[serde(default, deserialize_with = "lenient_string")]
    username: String,
    #[serde(default, deserialize_with = "lenient_string")]
    password: String,
    #[serde(default = "default_pool_size")]
    pool_size: u32,
}

enum TlsMode {
    None,
    /// Plain connect, then STARTTLS (required).
    StartTls(TlsParameters),
    /// TLS from the first byte (usually port 465).
    Wrapper(TlsParameters),
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// A pooled connection idle longer than this is checked with NOOP first.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(2);
/// And one idle longer than this is closed: servers drop idle sessions.
const MAX_IDLE: Duration = Duration::from_secs(60);

// No Debug: the credentials must never be printed.
struct SmtpProvider {
    name: String,
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    pool_size: usize,
    /// At most `pool_size` SMTP sessions at once.
    permits: Semaphore,
    idle: Mutex<Vec<Idle>>,
}

/// What went wrong in one SMTP session.
struct Failure {
    outcome: Outcome,
    code: Option<u16>,
    /// The server's reply, `"451 4.3.0 try again later"`.
    reply: Option<String>,
    error: String,
    /// Nothing of the message was sent yet (MAIL, RCPT or DATA failed).
    before_content: bool,
    /// The server answered and the session can go on after RSET.
    resettable: bool,
    /// No answer or 421: a pooled connection may have been closed by the
    /// server while idle.
    dead_connection: bool,
}

impl Failure {
    fn from_lettre(
        stage: &str,
        before_content: bool,
        e: lettre::transport::smtp::Error,
    ) -> Failure {
        if let Some(code) = e.status() {
            let code = u16::from(code);
            let text = e.source().map(|s| s.to_string()).unwrap_or_default();
            let reply = format!("{code} {text}").trim_end().to_string();
            Failure {
                outcome: if e.is_permanent() {
                    Outcome::Permanent
                } else {
                    Outcome::Transient
                },
                code: Some(code),
                error: format!("the server answered {stage} with {reply}"),
                reply: Some(reply),
                before_content,
                resettable: code != 421,
                dead_connection: code == 421,
            }
        } else {
            Failure {
                outcome: Outcome::Transient,
                code: None,
                reply: None,
                error: if e.is_timeout() {
                    format!("{stage}: timed out")
                } else {
                    format!("{stage}: {}", error_chain(&e))
                },
                before_content,
                resettable: false,
                dead_connection: true,
            }
        }
    }

    /// No connection: nothing was said yet.
    fn network(stage: &str, error: String) -> Failure {
        Failure {
            outcome: Outcome::Transient,
            code: None,
            reply: None,
            error: format!("{stage}: {error}"),
            before_content: true,
            resettable: false,
            dead_connection: false,
        }
    }

    /// This server can't take this message; the session itself is fine.
    fn unsendable(error: &str) -> Failure {
        Failure {
            resettable: true,
            ..Failure::other(Outcome::Permanent, error.to_string())
        }
    }

    fn other(outcome: Outcome, error: String) -> Failure {
        Failure {
            outcome,
            code: None,
            reply: None,
            error,
            before_content: true,
            resettable: false,
            dead_connection: false,
        }
    }
}

/// lettre's TLS stream (futures-io) seen as a tokio stream, so a TLS
/// connection over our own socket can be handed to
/// `AsyncSmtpConnection::connect_with_transport`.
#[allow(deprecated)]
#[derive(Debug)]
struct FuturesIo(AsyncNetworkStream);

impl tokio::io::AsyncRead for FuturesIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let dst = buf.initialize_unfilled();
        match Pin::new(&mut self.0).poll_read(cx, dst) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for FuturesIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

impl AsyncTokioStream for FuturesIo {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

fn reply_text(r: &Response) -> String {
    r.message().collect::<Vec<_>>().join(" ")
}

impl SmtpProvider {
    fn new(p: &ProviderConfig, timeout: Duration) -> anyhow::Result<SmtpProvider> {
        let s: SmtpSettings = p.parse()?;
        let host = s.host.trim().to_string();
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(p.invalid("host", "a host name or IP address").into());
        }
        if s.port == 0 {
            return Err(p.invalid("port", "a port from 1 to 65535").into());
        }
        if s.pool_size == 0 || s.pool_size > 1000 {
            return Err(p
                .invalid("pool_size", format!("{} given; 1 to 1000", s.pool_size))
                .into());
        }
        let tls_params = || {
            TlsParameters::new(host.clone())
                .map_err(|e| anyhow::anyhow!("`{}.tls`: setting up TLS for {host}: {e}", p.key))
        };
        let tls = match s.tls.trim().to_ascii_lowercase().as_str() {
            "none" => TlsMode::None,
            "starttls" => TlsMode::StartTls(tls_params()?),
            "tls" => TlsMode::Wrapper(tls_params()?),
            _ => {
                return Err(p
                    .invalid("tls", format!("{:?} given; \"none\", \"starttls\" (upgrade after connecting) or \"tls\" (TLS from the start)", s.tls))
                    .into())
            }
        };
        let credentials = match (s.username.is_empty(), s.password.is_empty()) {
            (true, true) => None,
            (false, false) => Some(Credentials::new(s.username, s.password)),
            (true, false) => {
                return Err(p
                    .invalid(
                        "username",
                        "set with password (both, or neither for no authentication)",
                    )
                    .into())
            }
            (false, true) => {
                return Err(p
                    .invalid(
                        "password",
                        "set with username (both, or neither for no authentication)",
                    )
                    .into())
            }
        };
        Ok(SmtpProvider {
            name: p.name.clone(),
            host,
            port: s.port,
            tls,
            credentials,
            hello: ClientId::default(),
            timeout,
            pool_size: s.pool_size as usize,
            permits: Semaphore::new(s.pool_size as usize),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A TCP connection with Nagle's algorithm off: lettre writes a message
    /// and its final dot separately, and with Nagle on the dot waits for the
    /// server's delayed ACK (40 ms a message on Linux).
    async fn tcp(&self) -> Result<TcpStream, Failure> {
        let stage = format!("connecting to {}:{}", self.host, self.port);
        let addrs = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| Failure::network(&stage, e.to_string()))?;
        let mut last = None;
        for addr in addrs {
            match tokio::time::timeout(self.timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some("timed out".to_string()),
            }
        }
        Err(Failure::network(
            &stage,
            last.unwrap_or_else(|| "the name resolves to no address".into()),
        ))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let tcp = self.tcp().await?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            TlsMode::Wrapper(params) => {
                #[allow(deprecated)]
                let mut s = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                s.upgrade_tls(params.clone())
                    .await
                    .map_err(|e| Failure::from_lettre("the TLS handshake", true, e))?;
                Box::new(FuturesIo(s))
            }
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(|e| Failure::from_lettre("the greeting or EHLO", true, e))?;
        if let TlsMode::StartTls(params) = &self.tls {
            if !conn.can_starttls() {
                return Err(Failure::other(
                    Outcome::Transient,
                    format!(
                        "{}:{} does not offer STARTTLS (channels.email.{}.tls = \"starttls\")",
                        self.host, self.port, self.name
                    ),
                ));
            }
            conn.starttls(params.clone(), &self.hello)
                .await
                .map_err(|e| Failure::from_lettre("STARTTLS", true, e))?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(|e| Failure::from_lettre("AUTH", true, e))?;
        }
        Ok(conn)
    }

    /// An idle pooled connection that still answers, if there is one.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let idle = self.idle.lock().unwrap().pop()?;
            let age = idle.since.elapsed();
            if age > MAX_IDLE {
                continue; // dropped: closed
            }
            let mut conn = idle.conn;
            if age > CHECK_IDLE_AFTER && !conn.test_connected().await {
                continue;
            }
            return Some(conn);
        }
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap();
        if idle.len() < self.pool_size {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// One mail transaction on `conn`.
    async fn transaction(
        conn: &mut AsyncSmtpConnection,
        mail: &Outgoing,
    ) -> Result<Response, Failure> {
        let mut params = Vec::new();
        let ascii = mail
            .envelope
            .from()
            .into_iter()
            .chain(mail.envelope.to())
            .all(|a| AsRef::<str>::as_ref(a).is_ascii());
        if !ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(Failure::unsendable(
                    "the address is not ASCII and the server does not offer SMTPUTF8",
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !mail.raw.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(Failure::unsendable(
                    "the message is not 7-bit and the server does not offer 8BITMIME",
                ));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        conn.command(Mail::new(mail.envelope.from().cloned(), params))
            .await
            .map_err(|e| Failure::from_lettre("MAIL FROM", true, e))?;
        for to in mail.envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![]))
                .await
                .map_err(|e| Failure::from_lettre("RCPT TO", true, e))?;
        }
        conn.command(Data)
            .await
            .map_err(|e| Failure::from_lettre("DATA", true, e))?;
        conn.message(&mail.raw)
            .await
            .map_err(|e| Failure::from_lettre("the message", false, e))
    }

    async fn deliver(&self, mail: &Outgoing) -> Result<Response, Failure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut fresh_only = false;
        loop {
            let pooled = if fresh_only { None } else { self.reuse().await };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) => c,
                None => self.connect().await?,
            };
            match Self::transaction(&mut conn, mail).await {
                Ok(resp) => {
                    self.park(conn);
                    return Ok(resp);
                }
                Err(f) => {
                    if f.resettable && conn.command(Rset).await.is_ok() {
                        self.park(conn);
                    }
                    // A pooled connection the server had closed: nothing was
                    // sent, so try once more on a new one.
                    if reused && f.dead_connection && f.before_content {
                        fresh_only = true;
                        continue;
                    }
                    return Err(f);
                }
            }
        }
    }
}

#[async_trait]
impl EmailProvider for SmtpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, mail: &Outgoing) -> SendResult {
        let mut r = SendResult::new(&self.name, Outcome::Transient);
        // The whole attempt, waiting for a connection included. On timeout
        // the session's future is dropped, which closes its connection.
        match tokio::time::timeout(self.timeout, self.deliver(mail)).await {
            Ok(Ok(resp)) => {
                r.outcome = Outcome::Ok;
                let code = u16::from(resp.code());
                r.status_code = Some(code);
                r.response = Some(truncate(
                    format!(
                        "{code} {}; message-id={}",
                        reply_text(&resp),
                        mail.message_id
                    ),
                    MAX_RESPONSE,
                ));
            }
            Ok(Err(f)) => {
                r.outcome = f.outcome;
                r.status_code = f.code;
                r.response = f.reply.map(|s| truncate(s, MAX_RESPONSE));
                r.error = Some(truncate(f.error, MAX_RESPONSE));
            }
            Err(_) => {
                r.error = Some(format!(
                    "timed out after {} sending to {}:{}",
                    humantime::format_duration(self.timeout),
                    self.host,
                    self.port
                ));
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(extra: &str) -> anyhow::Result<EmailChannel> {
        let cfg = Config::from_toml(extra)?;
        EmailChannel::new(&cfg.email, &cfg)
    }

    fn content(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    fn compose(
        ch: &EmailChannel,
        category: &str,
        c: &serde_json::Map<String, serde_json::Value>,
    ) -> String {
        let msg = Message {
            delivery_id: "0190-abc",
            notification_id: "n1",
            recipient: "u 42@x",
            category,
            attempt: 1,
            address: "ana@example.com",
            content: c,
        };
        String::from_utf8(ch.compose(&msg).unwrap().raw).unwrap()
    }

    #[test]
    fn both_parts_make_a_multipart_alternative() {
        let ch = channel(
            "[channels.email]\nfrom = \"Shop <shop@example.com>\"\nreply_to = \"help@example.com\"",
        )
        .unwrap();
        let c =
            content(serde_json::json!({"subject": "Hi", "text": "plain", "html": "<p>html</p>"}));
        let raw = compose(&ch, "transactional", &c);
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.contains("Message-ID: <0190-abc@example.com>"), "{raw}");
        assert!(raw.contains("Reply-To: help@example.com"), "{raw}");
        assert!(raw.contains("Date: "), "{raw}");
        assert!(!raw.contains("List-Unsubscribe"), "{raw}");
    }

    #[test]
    fn one_part_is_sent_alone() {
        let ch = channel("").unwrap();
        let raw = compose(
            &ch,
            "transactional",
            &content(serde_json::json!({"html": "<b>x</b>"})),
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8") && !raw.contains("multipart"),
            "{raw}"
        );
        assert!(
            raw.contains("Subject: \r\n") || raw.contains("Subject:\r\n"),
            "{raw}"
        );
        let raw = compose(
            &ch,
            "transactional",
            &content(serde_json::json!({"subject": "s", "text": "t"})),
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8") && !raw.contains("multipart"),
            "{raw}"
        );
    }

    #[test]
    fn marketing_mail_gets_list_unsubscribe() {
        let ch = channel("[channels.email]\nunsubscribe = \"https://example.com/u?r={recipient}\"")
            .unwrap();
        let raw = compose(&ch, "marketing", &content(serde_json::json!({"text": "t"})));
        assert!(
            raw.contains("List-Unsubscribe: <https://example.com/u?r=u%2042%40x>"),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
        let ch = channel("").unwrap();
        let raw = compose(&ch, "marketing", &content(serde_json::json!({"text": "t"})));
        assert!(
            raw.contains(
                "List-Unsubscribe: <mailto:unsubscribe@localhost?subject=unsubscribe%20u%2042%40x>"
            ),
            "{raw}"
        );
        assert!(!raw.contains("List-Unsubscribe-Post"), "{raw}");
    }

    #[test]
    fn non_ascii_subjects_are_encoded() {
        let ch = channel("").unwrap();
        let raw = compose(
            &ch,
            "transactional",
            &content(serde_json::json!({"subject": "订单 7 已发货", "text": "Olá"})),
        );
        assert!(raw.is_ascii());
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
    }

    #[test]
    fn control_characters_never_reach_the_subject_header() {
        let ch = channel("").unwrap();
        let raw = compose(
            &ch,
            "transactional",
            &content(
                serde_json::json!({"subject": "a\u{b}b\u{c}c\r\nBcc: x@evil.example\u{0}\u{85}\u{2028}d", "text": "t"}),
            ),
        );
        let subject = raw
            .split("\r\n")
            .find(|l| l.starts_with("Subject:"))
            .unwrap();
        assert_eq!(subject, "Subject: a b c  Bcc: x@evil.example   d", "{raw}");
        assert!(!raw.contains('\u{b}') && !raw.contains('\u{c}'), "{raw}");
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    #[test]
    fn a_bad_address_is_refused() {
        let ch = channel("").unwrap();
        let c = content(serde_json::json!({"text": "t"}));
        let msg = Message {
            delivery_id: "d",
            notification_id: "n",
            recipient: "r",
            category: "auth",
            attempt: 1,
            address: "not an address",
            content: &c,
        };
        assert!(ch.compose(&msg).is_err());
    }

    #[test]
    fn bad_settings_name_their_key() {
        let cases = [
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\ntls = \"sometimes\"", "channels.email.smtp.tls"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nport = 0", "channels.email.smtp.port"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nhots = \"x\"", "channels.email.smtp"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\npool_size = 0", "channels.email.smtp.pool_size"),
            ("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nusername = \"u\"", "channels.email.smtp.password"),
            ("[channels.email]\nfrom = \"not an address\"", "channels.email.from"),
            ("[channels.email]\nreply_to = \"@@\"", "channels.email.reply_to"),
            ("[channels.email]\nunsubscribe = \"ftp://x\"", "channels.email.unsubscribe"),
            ("[channels.email.file]\nfolder = \"x\"", "channels.email.file"),
        ];
        for (toml, key) in cases {
            let e = format!(
                "{:#}",
                channel(toml)
                    .err()
                    .unwrap_or_else(|| panic!("{toml} should fail"))
            );
            assert!(e.contains(key), "{toml}: {e}");
        }
        let e = format!(
            "{:#}",
            channel("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\nusername = \"u\"\npassword = \"hunter2\"\nport = 0")
                .err()
                .unwrap()
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[tokio::test]
    async fn the_futures_io_adapter_reads_and_writes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf.repeat(2000)).await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        #[allow(deprecated)]
        let mut io = FuturesIo(AsyncNetworkStream::use_existing_tokio1(Box::new(tcp)));
        assert_eq!(io.peer_addr().unwrap(), addr);
        io.write_all(b"hello").await.unwrap();
        io.flush().await.unwrap();
        let mut got = Vec::new();
        io.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello".repeat(2000));
        io.shutdown().await.unwrap();
    }

    #[test]
    fn numbers_are_accepted_as_passwords() {
        assert!(channel("[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\ntls = \"none\"\nusername = \"u\"\npassword = 12345").is_ok());
    }
}
