//! A small SMTP server over real TCP for the email tests and the benchmark:
//! greeting, EHLO/HELO, AUTH PLAIN/LOGIN (credentials recorded), MAIL, RCPT,
//! DATA (dot-unstuffed), RSET, NOOP, QUIT. Scriptable: the replies to DATA
//! are taken from a queue, then a default; RCPT can be refused for chosen
//! addresses. Tests get every message that reached DATA with its envelope
//! and the reply it got; the benchmark's counting sink keeps only
//! [`Arrivals`] by the delivery id in each Message-ID.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::{poll_until, Arrivals};

/// One message the server was sent.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// MAIL FROM address, without the angle brackets.
    pub from: String,
    pub to: Vec<String>,
    /// The DATA text, dot-unstuffed, CRLF line ends, without the final dot.
    pub data: String,
    /// The code the server answered the message with.
    pub reply: u16,
    pub at: Instant,
    /// Which connection (1, 2, ...) carried it.
    pub connection: usize,
}

#[derive(Default)]
struct State {
    /// False for the counting sink: messages and commands are not kept.
    keep: bool,
    data_script: VecDeque<u16>,
    data_default: u16,
    rcpt_refused: Vec<(String, u16)>,
    messages: Vec<ReceivedMail>,
    connections: usize,
    credentials: Vec<(String, String)>,
    commands: Vec<String>,
    /// When set, AUTH with other credentials is refused (535).
    required: Option<(String, String)>,
}

pub struct SmtpServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    arrivals: Arc<Arrivals>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The text of a reply with `code`.
fn reply_line(code: u16, n: usize) -> String {
    let text = match code {
        250 => format!("2.0.0 OK queued as m{n}"),
        421 => "4.3.2 service shutting down".into(),
        450 => "4.2.1 mailbox busy".into(),
        451 => "4.3.0 try again later".into(),
        452 => "4.5.3 insufficient storage".into(),
        550 => "5.1.1 mailbox unavailable".into(),
        552 => "5.3.4 message too big".into(),
        554 => "5.6.0 transaction failed".into(),
        c if c >= 500 => "5.0.0 refused".into(),
        c if c >= 400 => "4.0.0 not now".into(),
        _ => "OK".into(),
    };
    format!("{code} {text}\r\n")
}

impl SmtpServer {
    /// Answers DATA with the codes of `script` in order, then `default`.
    /// A code of 0 means: never answer (the client must time out).
    pub async fn start(script: Vec<u16>, default: u16) -> SmtpServer {
        Self::serve(State {
            keep: true,
            data_script: script.into(),
            data_default: default,
            ..State::default()
        })
        .await
    }

    /// A server that accepts everything and only counts
    /// [`SmtpServer::arrivals`].
    pub async fn counting() -> SmtpServer {
        Self::serve(State {
            data_default: 250,
            ..State::default()
        })
        .await
    }

    async fn serve(state: State) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(state));
        let arrivals = Arc::new(Arrivals::default());
        let (s, a) = (state.clone(), arrivals.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let number = {
                    let mut st = s.lock().unwrap();
                    st.connections += 1;
                    st.connections
                };
                let (s, a) = (s.clone(), a.clone());
                tokio::spawn(async move {
                    let _ = session(stream, s, a, number).await;
                });
            }
        });
        SmtpServer {
            port,
            state,
            arrivals,
            task,
        }
    }

    /// A server that accepts everything.
    pub async fn accepting() -> SmtpServer {
        Self::start(vec![], 250).await
    }

    /// Answers RCPT TO:<address> with `code` (e.g. 550).
    pub fn refuse_recipient(&self, address: &str, code: u16) {
        self.state
            .lock()
            .unwrap()
            .rcpt_refused
            .push((address.to_ascii_lowercase(), code));
    }

    /// Accepts AUTH with these credentials only; others get 535.
    pub fn require_credentials(&self, username: &str, password: &str) {
        self.state.lock().unwrap().required = Some((username.to_string(), password.to_string()));
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().messages.clone()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().messages.len()
    }

    /// Messages by the delivery id in their Message-ID.
    pub fn arrivals(&self) -> &Arc<Arrivals> {
        &self.arrivals
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// (username, password) of every successful AUTH.
    pub fn credentials(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().credentials.clone()
    }

    /// Every command line received, in order (AUTH payloads left out).
    pub fn commands(&self) -> Vec<String> {
        self.state.lock().unwrap().commands.clone()
    }

    /// Waits until at least `n` messages reached DATA.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<ReceivedMail> {
        match poll_until(deadline, || async { (self.count() >= n, ()) }).await {
            Ok(()) => self.messages(),
            Err(()) => panic!(
                "the SMTP server got {} messages, expected {n}",
                self.count()
            ),
        }
    }
}

/// The delivery id in a `Message-ID: <delivery_id@domain>` header line.
fn delivery_id_of_message_id(line: &str) -> Option<&str> {
    let (name, value) = line.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case("message-id") {
        return None;
    }
    let v = value.trim().strip_prefix('<')?;
    Some(v.split_once('@')?.0)
}

/// The delivery id of a message: the first Message-ID among its headers.
fn delivery_id(data: &str) -> Option<&str> {
    data.lines()
        .take_while(|l| !l.is_empty())
        .find_map(delivery_id_of_message_id)
}

fn angle_addr(arg: &str) -> String {
    let a = arg.trim();
    let a = a.split_once('<').map(|(_, r)| r).unwrap_or(a);
    let a = a.split_once('>').map(|(l, _)| l).unwrap_or(a);
    a.trim().to_string()
}

fn b64(s: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Keeps a command line (an AUTH line without its payload) if the server
/// keeps what it is sent.
fn record_command(state: &Mutex<State>, cmd: &str, upper: &str, verb: &str) {
    let mut st = state.lock().unwrap();
    if !st.keep {
        return;
    }
    let line = if verb == "AUTH" {
        upper
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        cmd.to_string()
    };
    st.commands.push(line);
}

async fn session(
    stream: TcpStream,
    state: Arc<Mutex<State>>,
    arrivals: Arc<Arrivals>,
    number: usize,
) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 test.local ESMTP missive-test\r\n")
        .await?;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']).to_string();
        let upper = cmd.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_string();
        record_command(&state, &cmd, &upper, &verb);
        match verb.as_str() {
            "EHLO" => {
                w.write_all(b"250-test.local greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250 AUTH PLAIN LOGIN\r\n")
                    .await?
            }
            "HELO" => w.write_all(b"250 test.local\r\n").await?,
            "AUTH" => {
                let args: Vec<&str> = cmd.split_whitespace().collect();
                let mech = args.get(1).map(|m| m.to_ascii_uppercase()).unwrap_or_default();
                let creds = match mech.as_str() {
                    "PLAIN" => {
                        let payload = match args.get(2) {
                            Some(p) => p.to_string(),
                            None => {
                                w.write_all(b"334 \r\n").await?;
                                line.clear();
                                r.read_line(&mut line).await?;
                                line.trim().to_string()
                            }
                        };
                        let decoded = b64(&payload);
                        let mut it = decoded.split('\0');
                        let _authz = it.next();
                        Some((it.next().unwrap_or("").to_string(), it.next().unwrap_or("").to_string()))
                    }
                    "LOGIN" => {
                        let user = match args.get(2) {
                            Some(u) => b64(u),
                            None => {
                                w.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                                line.clear();
                                r.read_line(&mut line).await?;
                                b64(&line)
                            }
                        };
                        w.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                        line.clear();
                        r.read_line(&mut line).await?;
                        Some((user, b64(&line)))
                    }
                    _ => None,
                };
                let refused = {
                    let st = state.lock().unwrap();
                    matches!((&st.required, &creds), (Some(want), Some(got)) if want != got)
                };
                match creds {
                    Some(_) if refused => {
                        w.write_all(b"535 5.7.8 authentication credentials invalid\r\n")
                            .await?
                    }
                    Some(c) => {
                        state.lock().unwrap().credentials.push(c);
                        w.write_all(b"235 2.7.0 Authentication successful\r\n").await?
                    }
                    None => w.write_all(b"504 5.5.4 mechanism not supported\r\n").await?,
                }
            }
            "MAIL" => {
                from = angle_addr(&cmd[4..]);
                to.clear();
                w.write_all(b"250 2.1.0 sender OK\r\n").await?
            }
            "RCPT" => {
                let addr = angle_addr(&cmd[4..]);
                let refused = state
                    .lock()
                    .unwrap()
                    .rcpt_refused
                    .iter()
                    .find(|(a, _)| *a == addr.to_ascii_lowercase())
                    .map(|(_, c)| *c);
                match refused {
                    Some(code) => w.write_all(reply_line(code, 0).as_bytes()).await?,
                    None => {
                        to.push(addr);
                        w.write_all(b"250 2.1.5 recipient OK\r\n").await?
                    }
                }
            }
            "DATA" => {
                if to.is_empty() {
                    w.write_all(b"554 5.5.1 no valid recipients\r\n").await?;
                    continue;
                }
                w.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    match line.strip_prefix('.') {
                        Some(rest) => data.push_str(rest),
                        None => data.push_str(&line),
                    }
                }
                let at = Instant::now();
                arrivals.record(delivery_id(&data), at);
                let (code, n) = {
                    let mut st = state.lock().unwrap();
                    let code = st.data_script.pop_front().unwrap_or(st.data_default);
                    if st.keep {
                        st.messages.push(ReceivedMail {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                            reply: code,
                            at,
                            connection: number,
                        });
                    }
                    (code, st.messages.len())
                };
                from.clear();
                to.clear();
                if code == 0 {
                    // Hang: read (and ignore) until the client goes away.
                    let mut sink = Vec::new();
                    let _ = tokio::io::AsyncReadExt::read_to_end(&mut r, &mut sink).await;
                    return Ok(());
                }
                w.write_all(reply_line(code, n).as_bytes()).await?;
                if code == 421 {
                    return Ok(());
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                w.write_all(b"250 2.0.0 reset\r\n").await?
            }
            "NOOP" => w.write_all(b"250 2.0.0 OK\r\n").await?,
            "QUIT" => {
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => w.write_all(b"502 5.5.2 command not recognised\r\n").await?,
        }
    }
}
