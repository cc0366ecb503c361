//! The HTTP listener over raw sockets: a client that doesn't finish its
//! headers is cut off, open connections are bounded, and a stop (SIGTERM to
//! the real binary) says not-ready first, keeps serving for the drain
//! period, then closes kept-alive connections cleanly and exits 0.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::crash::start_serve;
use crate::helpers::*;

/// How a raw connection ended, as seen by a reader.
#[derive(Debug, PartialEq)]
enum Ended {
    /// The server closed it (FIN), after sending these bytes.
    Closed(Vec<u8>),
    /// The server reset it.
    Reset,
    /// Still open at the deadline.
    Open,
}

/// Reads until the server closes the connection or `within` passes.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Ended {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return Ended::Open,
            Ok(Ok(0)) => return Ended::Closed(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => return Ended::Reset,
        }
    }
}

/// One HTTP/1.1 answer read off a raw connection: (status, body). Needs a
/// Content-Length (every answer used here has one).
async fn read_answer(s: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..at]).to_string();
            let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("the answer has a Content-Length");
            if got.len() >= at + 4 + len {
                let body = String::from_utf8_lossy(&got[at + 4..at + 4 + len]).to_string();
                return Some((status, body));
            }
        }
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

async fn get_on(s: &mut TcpStream, path: &str) -> Option<(u16, String)> {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: missive\r\n\r\n").as_bytes())
        .await
        .ok()?;
    read_answer(s, Duration::from_secs(10)).await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_finish_its_headers_is_cut_off() {
    let b = &backends()[0];
    let app = spawn_app_with(b, "[server]\nheader_read_timeout = \"1s\"").await;
    // Slowloris: a request line and one header, then nothing; and a
    // connection that never sends a byte.
    let mut partial = TcpStream::connect(addr(&app)).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: missive\r\nX-a: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    let t0 = Instant::now();
    // Generous against a loaded machine: 1 s configured, 15 s allowed.
    let ended = read_until_closed(&mut partial, Duration::from_secs(15)).await;
    let took = t0.elapsed();
    assert_ne!(
        ended,
        Ended::Open,
        "the half-sent request was still open after 15 s"
    );
    assert!(
        took >= Duration::from_millis(900),
        "cut off before the timeout: {took:?}"
    );
    if let Ended::Closed(bytes) = &ended {
        // Nothing at all, or a 408: never an answer to the request.
        let text = String::from_utf8_lossy(bytes);
        assert!(
            bytes.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    assert_ne!(
        read_until_closed(&mut silent, Duration::from_secs(15)).await,
        Ended::Open,
        "the silent connection was still open"
    );

    // A client that sends its request in time is answered as ever, also
    // when the headers come in pieces within the timeout.
    let mut ok = TcpStream::connect(addr(&app)).await.unwrap();
    ok.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ok.write_all(b"Host: missive\r\n\r\n").await.unwrap();
    let (status, body) = read_answer(&mut ok, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(status, 200, "{body}");
    let r = app.get("/v1/deliveries").await;
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_bounded() {
    let b = &backends()[0];
    let app = spawn_app_with(
        b,
        "[server]\nmax_connections = 2\nheader_read_timeout = \"60s\"",
    )
    .await;
    // Two connections take both places...
    let mut first = TcpStream::connect(addr(&app)).await.unwrap();
    assert_eq!(get_on(&mut first, "/healthz").await.map(|a| a.0), Some(200));
    let second = TcpStream::connect(addr(&app)).await.unwrap();
    // ...so a third waits (in the listen backlog) without an answer...
    let mut third = TcpStream::connect(addr(&app)).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: missive\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut third, Duration::from_secs(2)).await,
        None,
        "a third connection was served while two were open"
    );
    // ...until one closes.
    drop(second);
    let (status, _) = read_answer(&mut third, Duration::from_secs(15))
        .await
        .expect("the waiting connection is served once a place is free");
    assert_eq!(status, 200);
    drop(first);
    drop(third);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_says_not_ready_then_drains_then_closes_cleanly() {
    let b = &backends()[0];
    let db = TestDb::new(b);
    const DRAIN: Duration = Duration::from_secs(6);
    let mut child = start_serve(
        &db,
        &[
            ("MISSIVE__SERVER__SHUTDOWN_DRAIN", "6s"),
            ("MISSIVE__SERVER__HEADER_READ_TIMEOUT", "60s"),
        ],
        "drain",
    )
    .await;
    let host = child.base.trim_start_matches("http://").to_string();
    // A kept-alive client, with one answer behind it.
    let mut kept = TcpStream::connect(&host).await.unwrap();
    assert_eq!(get_on(&mut kept, "/healthz").await.map(|a| a.0), Some(200));

    let t0 = Instant::now();
    child.sigterm();
    // Not ready at once, on a new connection: the listener still accepts.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let ready = poll_until(Duration::from_secs(4), || async {
        let r = client.get(child.url("/readyz")).send().await;
        let status = r.as_ref().map(|r| r.status().as_u16()).ok();
        (status == Some(503), status)
    })
    .await;
    assert!(
        ready.is_ok(),
        "/readyz never answered 503 after SIGTERM: {ready:?}"
    );
    assert!(t0.elapsed() < DRAIN, "503 only after {:?}", t0.elapsed());
    let body = client
        .get(child.url("/readyz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("shutting down"), "{body}");

    // The kept-alive connection is still answered normally during the drain.
    let answer = get_on(&mut kept, "/healthz").await;
    assert!(t0.elapsed() < DRAIN, "the drain ended before the check");
    assert_eq!(answer.map(|a| a.0), Some(200));

    // After the drain the idle kept-alive connection is closed cleanly
    // (FIN, not a reset), and the process exits 0.
    let ended = read_until_closed(&mut kept, DRAIN + Duration::from_secs(30)).await;
    assert_eq!(ended, Ended::Closed(Vec::new()));
    assert!(
        t0.elapsed() >= DRAIN - Duration::from_millis(500),
        "closed before the drain ended: {:?}",
        t0.elapsed()
    );
    match child.wait_exit(Duration::from_secs(30)).await {
        Some(st) => assert!(st.success(), "exited with {st}:\n{}", child.stderr()),
        None => panic!("did not exit after the drain:\n{}", child.stderr()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_cuts_the_drain_short() {
    let b = &backends()[0];
    let db = TestDb::new(b);
    let mut child = start_serve(&db, &[("MISSIVE__SERVER__SHUTDOWN_DRAIN", "10m")], "cut").await;
    child.sigterm();
    let client = reqwest::Client::new();
    let not_ready = poll_until(Duration::from_secs(10), || async {
        let r = client.get(child.url("/readyz")).send().await;
        (r.map(|r| r.status() == 503).unwrap_or(false), ())
    })
    .await;
    assert!(not_ready.is_ok(), "/readyz never answered 503");
    assert!(
        child.try_exit().is_none(),
        "exited during a 10 minute drain"
    );
    child.stop_gracefully(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_when_the_stop_begins_is_answered() {
    let b = &backends()[0];
    let app = spawn_app(b).await;
    let rx = Receiver::start().await;
    let body = serde_json::json!({
        "content": {"webhook": {"body": "{}"}},
        "to": [{"webhook_url": rx.url}],
    })
    .to_string();
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let head = format!(
        "POST /v1/notifications HTTP/1.1\r\nHost: missive\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        app.key,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // `100 Continue`: the request is in the handler's hands, waiting for
    // its body.
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("100 Continue within 10 s")
            .unwrap();
        assert!(n > 0, "closed before 100 Continue");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // The stop begins (no drain in tests) and waits for the request...
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "stopped with a request in flight");
    // ...which is still read to its end and answered.
    s.write_all(body.as_bytes()).await.unwrap();
    let (status, answer) = read_answer(&mut s, Duration::from_secs(15))
        .await
        .expect("an answer to the request in flight");
    assert_eq!(status, 202, "{answer}");
    tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("stops once the request is answered")
        .unwrap();
}
