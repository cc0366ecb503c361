//! The `smtp` provider: SMTP through lettre.
//!
//! SMTP sessions are lettre's `AsyncSmtpConnection`, pooled here rather than
//! by lettre's `AsyncSmtpTransport`: on tokio that transport has no read
//! timeout, and a send cancelled by the attempt timeout hands its
//! half-finished connection back to lettre's pool, where the next message
//! would read the previous one's replies. Here a timed-out session is dropped
//! (closed), one that answered an error is reset (RSET) before reuse, at most
//! `pool_size` sessions run at once, and sockets have Nagle's algorithm off.
//! It is a file of its own because the pool, the session's failure
//! classification and the TLS stream adapter belong to SMTP alone.

use std::error::Error as _;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::io::{AsyncRead as _, AsyncWrite as _};
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

use super::{EmailProvider, Outgoing};
use crate::channels::providers::Provider;
use crate::channels::{error_chain, truncate, Outcome, SendResult, MAX_RESPONSE};
use crate::config::ProviderConfig;

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
pub struct SmtpProvider {
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
    pub fn new(p: &ProviderConfig, timeout: Duration) -> anyhow::Result<SmtpProvider> {
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
            (no_username, _) => {
                let (missing, given) = if no_username {
                    ("username", "password")
                } else {
                    ("password", "username")
                };
                let allowed = format!("set with {given} (both, or neither for no authentication)");
                return Err(p.invalid(missing, allowed).into());
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

    /// Checks the server without sending: connect, EHLO, STARTTLS (when
    /// configured) and AUTH (when credentials are set), then QUIT. The
    /// answer says what was done, or which step failed and how.
    pub async fn check(&self) -> Result<String, String> {
        let steps = match (&self.tls, self.credentials.is_some()) {
            (TlsMode::StartTls(_), true) => "EHLO, STARTTLS and AUTH",
            (TlsMode::StartTls(_), false) => "EHLO and STARTTLS (no AUTH: no username set)",
            (TlsMode::Wrapper(_), true) => "TLS, EHLO and AUTH",
            (TlsMode::Wrapper(_), false) => "TLS and EHLO (no AUTH: no username set)",
            (TlsMode::None, true) => "EHLO and AUTH (no TLS: tls = \"none\")",
            (TlsMode::None, false) => "EHLO (no TLS, no AUTH)",
        };
        let connected = tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| {
                format!(
                    "{}:{}: no answer within {}",
                    self.host,
                    self.port,
                    humantime::format_duration(self.timeout)
                )
            })?;
        match connected {
            Ok(mut conn) => {
                let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
                Ok(format!("{}:{}: {steps} succeeded", self.host, self.port))
            }
            Err(f) => Err(f.error),
        }
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

impl Provider for SmtpProvider {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl EmailProvider for SmtpProvider {
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
}
