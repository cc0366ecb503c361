//! A real HTTP server on 127.0.0.1:0 that answers POST /hook as scripted.
//! Tests keep every request to look at; the benchmark only counts arrivals
//! by `webhook-id` (keeping 100,000 bodies would cost it memory and CPU the
//! measured server competes for), so both modes share one [`Arrivals`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::task::JoinHandle;

use crate::poll_until;

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

/// How a receiver answers: a script of answers used in order, then one
/// answer for every later request.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: vec![],
            delay: Duration::ZERO,
            body: String::new(),
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Answer {
        self.delay = d;
        self
    }
    pub fn body(mut self, b: &str) -> Answer {
        self.body = b.into();
        self
    }

    fn response(&self) -> Response {
        let mut resp = (
            StatusCode::from_u16(self.status).unwrap(),
            self.body.clone(),
        )
            .into_response();
        for (k, v) in &self.headers {
            resp.headers_mut().insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        resp
    }
}

/// Arrivals by delivery id (a webhook's `webhook-id`, an email's
/// Message-ID): the first arrival of each, and what did not fit.
#[derive(Default)]
pub struct Arrivals {
    first: Mutex<HashMap<String, Instant>>,
    /// Arrivals whose id had been seen before (at-least-once retries).
    duplicates: AtomicUsize,
    /// Arrivals without an id.
    missing_id: AtomicUsize,
}

impl Arrivals {
    /// Records one arrival at `at`.
    pub fn record(&self, id: Option<&str>, at: Instant) {
        let Some(id) = id else {
            self.missing_id.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut first = self.first.lock().unwrap();
        if first.contains_key(id) {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            first.insert(id.to_string(), at);
        }
    }

    /// Distinct ids seen.
    pub fn distinct(&self) -> usize {
        self.first.lock().unwrap().len()
    }

    /// Each distinct id with its first arrival.
    pub fn first(&self) -> HashMap<String, Instant> {
        self.first.lock().unwrap().clone()
    }

    pub fn duplicates(&self) -> usize {
        self.duplicates.load(Ordering::Relaxed)
    }

    pub fn missing_id(&self) -> usize {
        self.missing_id.load(Ordering::Relaxed)
    }
}

struct Script {
    next: Vec<Answer>,
    then: Answer,
}

struct State {
    script: Mutex<Script>,
    /// None when only arrivals are counted.
    kept: Option<Mutex<Vec<Received>>>,
    arrivals: Arc<Arrivals>,
}

impl State {
    async fn hook(&self, headers: HeaderMap, body: Bytes) -> Response {
        let at = Instant::now();
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Kept before it is counted: whoever sees the count sees the request.
        if let Some(kept) = &self.kept {
            let body = String::from_utf8_lossy(&body).into_owned();
            kept.lock().unwrap().push(Received { headers, body, at });
        }
        self.arrivals.record(id.as_deref(), at);
        let answer = {
            let mut s = self.script.lock().unwrap();
            if s.next.is_empty() {
                s.then.clone()
            } else {
                s.next.remove(0)
            }
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        answer.response()
    }
}

/// The receiver; its server stops when the last clone is dropped.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<State>,
    _task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Receiver {
    /// Answers 200 to everything and keeps every request.
    pub async fn start() -> Receiver {
        Self::start_with(vec![], Answer::status(200)).await
    }

    /// Answers with `script` in order, then `then`; keeps every request.
    pub async fn start_with(script: Vec<Answer>, then: Answer) -> Receiver {
        Self::serve(script, then, Some(Mutex::default())).await
    }

    /// Answers 200 to everything and only counts [`Receiver::arrivals`].
    pub async fn counting() -> Receiver {
        Self::serve(vec![], Answer::status(200), None).await
    }

    async fn serve(
        next: Vec<Answer>,
        then: Answer,
        kept: Option<Mutex<Vec<Received>>>,
    ) -> Receiver {
        let state = Arc::new(State {
            script: Mutex::new(Script { next, then }),
            kept,
            arrivals: Arc::default(),
        });
        let s = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move { s.hook(headers, body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("webhook receiver stopped: {e}");
            }
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            state,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Every request so far (none for a counting receiver).
    pub fn received(&self) -> Vec<Received> {
        match &self.state.kept {
            Some(kept) => kept.lock().unwrap().clone(),
            None => vec![],
        }
    }

    /// Requests so far.
    pub fn count(&self) -> usize {
        let a = &self.state.arrivals;
        a.distinct() + a.duplicates() + a.missing_id()
    }

    pub fn arrivals(&self) -> &Arc<Arrivals> {
        &self.state.arrivals
    }

    /// Waits until at least `n` requests came; panics at the deadline.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<Received> {
        match poll_until(deadline, || async { (self.count() >= n, ()) }).await {
            Ok(()) => self.received(),
            Err(()) => panic!("receiver got {} requests, expected {n}", self.count()),
        }
    }
}
