//! What missive sends out over HTTP, seen from real receivers: addresses
//! that are not globally reachable are refused in every form (names, IPv6
//! forms that carry an IPv4 address) for webhooks and SMS providers alike;
//! answers are read only as far as they are kept, however much a receiver
//! sends; and a receiver that hangs holds only its share of the workers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::routing::any;
use serde_json::{json, Value};

use crate::helpers::*;

/// A receiver whose answer to every request is 200 and a body without end
/// (chunked, 64 KiB at a time, as fast as it is read).
struct Endless {
    url: String,
    /// Bytes handed to the connection so far.
    sent: Arc<AtomicU64>,
    /// Set when an answer's body is dropped: the client went away.
    closed: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Endless {
    async fn start() -> Endless {
        let sent = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let (s, c, n) = (sent.clone(), closed.clone(), requests.clone());
        let app = axum::Router::new().fallback(any(move || {
            let (sent, closed) = (s.clone(), c.clone());
            n.fetch_add(1, Ordering::SeqCst);
            async move {
                let guard = SetOnDrop(closed);
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                let body = futures::stream::unfold((guard, sent), move |(g, sent)| {
                    let chunk = chunk.clone();
                    async move {
                        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                        Some((Ok::<_, std::io::Error>(chunk), (g, sent)))
                    }
                });
                Body::from_stream(body)
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Endless {
            url: format!("http://{addr}/hook"),
            sent,
            closed,
            requests,
        }
    }

    /// Waits until the answer's connection is dropped by missive.
    async fn wait_closed(&self, deadline: Duration) {
        let closed = poll_until(deadline, || async {
            (self.closed.load(Ordering::SeqCst), ())
        })
        .await;
        assert!(
            closed.is_ok(),
            "missive kept reading the endless answer ({} bytes sent)",
            self.sent.load(Ordering::SeqCst)
        );
    }
}

fn delivery_id(accepted: &Value) -> String {
    accepted["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn port(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}

/// The process's resident memory in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_to_non_global_addresses_are_refused_in_every_form() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[channels.webhook]\nallow_private = false").await;
        let rx = Receiver::start().await;
        let p = port(&rx.url);
        for (url, rule) in [
            // A name that resolves to loopback: refused by the resolver.
            (format!("http://localhost:{p}/hook"), "(loopback)"),
            (format!("http://127.0.0.1:{p}/hook"), "127.0.0.0/8"),
            (format!("http://[::ffff:127.0.0.1]:{p}/hook"), "127.0.0.0/8"),
            (format!("http://[::127.0.0.1]:{p}/hook"), "::/96"),
            (format!("http://[64:ff9b::7f00:1]:{p}/hook"), "64:ff9b::/96"),
            (format!("http://[2002:7f00:1::]:{p}/hook"), "2002::/16"),
            (format!("http://[::1]:{p}/hook"), "::1/128"),
            (format!("http://[fd00::1]:{p}/hook"), "fc00::/7"),
            (format!("http://192.0.0.8:{p}/hook"), "192.0.0.0/24"),
            (format!("http://198.18.0.1:{p}/hook"), "198.18.0.0/15"),
            (format!("http://224.0.0.1:{p}/hook"), "224.0.0.0/4"),
        ] {
            let id = delivery_id(&app.send_webhook(&url, json!({"n": 1})).await);
            let d = app.wait_for_status(&id, "failed").await;
            let attempts = d["attempts"].as_array().unwrap();
            assert_eq!(attempts.len(), 1, "{url}: refused once, not retried: {d:#}");
            assert_eq!(attempts[0]["outcome"], "permanent", "{url}");
            let err = attempts[0]["error"].as_str().unwrap();
            assert!(
                err.contains(rule) && err.contains("channels.webhook.allow_private"),
                "{url}: {err}"
            );
        }
        assert_eq!(rx.count(), 0, "nothing may reach the local receiver");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_providers_on_private_addresses_are_refused_unless_allowed() {
    each_backend(|b| async move {
        let gw = Receiver::start().await;
        let p = port(&gw.url);
        let toml = format!(
            "[channels.sms]\nproviders = [\"gw\", \"tw\"]\nretry_schedule = [\"10ms\"]\n\
             [channels.sms.gw]\ntype = \"http\"\nurl = \"{}\"\n\
             [channels.sms.tw]\ntype = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\nbase_url = \"http://localhost:{p}\"\n",
            gw.url
        );
        let app = spawn_app_with(&b, &toml).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"sms": {"text": "hi"}}, "to": [{"phone": "+8613800000000"}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let id = delivery_id(&r.json().await.unwrap());
        let d = app.wait_for_status(&id, "failed").await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts[0]["provider"], "gw");
        assert_eq!(attempts[0]["outcome"], "permanent");
        let err = attempts[0]["error"].as_str().unwrap();
        assert!(
            err.contains("127.0.0.0/8") && err.contains("channels.sms.gw.allow_private"),
            "{err}"
        );
        assert_eq!(gw.count(), 0, "the gateway must not be reached");
        app.stop().await;

        // Twilio's base_url, by a name that resolves to loopback.
        let toml = format!(
            "[channels.sms]\nproviders = [\"tw\"]\nretry_schedule = [\"10ms\"]\n\
             [channels.sms.tw]\ntype = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\nbase_url = \"http://localhost:{p}\"\n"
        );
        let app = spawn_app_with(&b, &toml).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"sms": {"text": "hi"}}, "to": [{"phone": "+8613800000000"}]}),
            )
            .await;
        let id = delivery_id(&r.json().await.unwrap());
        let d = app.wait_for_status(&id, "failed").await;
        let err = d["attempts"][0]["error"].as_str().unwrap();
        assert!(
            err.contains("(loopback)") && err.contains("channels.sms.tw.allow_private"),
            "{err}"
        );
        assert_eq!(gw.count(), 0);
        app.stop().await;

        // Allowed explicitly, the same gateway is used.
        let toml = format!(
            "[channels.sms]\nproviders = [\"gw\"]\n[channels.sms.gw]\ntype = \"http\"\nallow_private = true\nurl = \"{}\"\n",
            gw.url
        );
        let app = spawn_app_with(&b, &toml).await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"sms": {"text": "hi"}}, "to": [{"phone": "+8613800000000"}]}),
            )
            .await;
        let id = delivery_id(&r.json().await.unwrap());
        app.wait_for_status(&id, "sent").await;
        assert_eq!(gw.count(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_webhook_answer_is_cut_at_4_kib_and_recorded_promptly() {
    each_backend(|b| async move {
        // The timeout is far away: only reading less can make this quick.
        let app = spawn_app_with(
            &b,
            "[channels.webhook]\ntimeout = \"40s\"\n[worker]\nlease = \"60s\"\nshutdown_grace = \"1s\"",
        )
        .await;
        let rx = Endless::start().await;
        let rss_before = rss_kib();
        let t0 = Instant::now();
        let id = delivery_id(&app.send_webhook(&rx.url, json!({"n": 1})).await);
        let d = app.wait_for_status(&id, "sent").await;
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(15), "recorded after {took:?}");
        let response = d["attempts"][0]["response"].as_str().unwrap();
        assert_eq!(response.len(), 4096);
        assert!(response.bytes().all(|c| c == b'x'));
        rx.wait_closed(Duration::from_secs(10)).await;
        let sent = rx.sent.load(Ordering::SeqCst);
        // What the sockets' buffers hold, not the answer's length.
        assert!(sent < 64 << 20, "{sent} bytes were sent before the cut");
        let grew = rss_kib().saturating_sub(rss_before);
        assert!(grew < 256 * 1024, "RSS grew by {grew} KiB");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_sms_gateway_answer_is_cut_and_recorded_promptly() {
    each_backend(|b| async move {
        let rx = Endless::start().await;
        let toml = format!(
            "[channels.sms]\nproviders = [\"gw\"]\ntimeout = \"40s\"\n[channels.sms.gw]\ntype = \"http\"\nallow_private = true\nurl = \"{}\"\n\
             [worker]\nlease = \"60s\"\nshutdown_grace = \"1s\"",
            rx.url
        );
        let app = spawn_app_with(&b, &toml).await;
        let t0 = Instant::now();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"sms": {"text": "hi"}}, "to": [{"phone": "+8613800000000"}]}),
            )
            .await;
        let id = delivery_id(&r.json().await.unwrap());
        let d = app.wait_for_status(&id, "sent").await;
        assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
        assert_eq!(d["attempts"][0]["response"].as_str().unwrap().len(), 4096);
        rx.wait_closed(Duration::from_secs(10)).await;
        assert_eq!(rx.requests.load(Ordering::SeqCst), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_only_its_share_of_the_workers() {
    each_backend(|b| async move {
        // 64 workers (the default), so a share of 32 per destination.
        let app = spawn_app_with(
            &b,
            "[channels.webhook]\ntimeout = \"40s\"\n[worker]\nlease = \"60s\"\nshutdown_grace = \"1s\"",
        )
        .await;
        let hanging =
            Receiver::start_with(vec![], Answer::status(200).delay(Duration::from_secs(300))).await;
        let healthy = Receiver::start().await;
        let to: Vec<Value> = (0..100)
            .map(|i| json!({"webhook_url": format!("{}?i={i}", hanging.url)}))
            .collect();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "to": to}),
            )
            .await;
        assert_eq!(r.status(), 202);
        hanging.wait_for(32, Duration::from_secs(20)).await;

        let t0 = Instant::now();
        let to: Vec<Value> = (0..20)
            .map(|i| json!({"webhook_url": format!("{}?i={i}", healthy.url)}))
            .collect();
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{}"}}, "to": to}),
            )
            .await;
        assert_eq!(r.status(), 202);
        healthy.wait_for(20, Duration::from_secs(15)).await;
        let took = t0.elapsed();
        // Without the bound, all 64 workers wait out the 40 s timeout.
        assert!(took < Duration::from_secs(15), "took {took:?}");
        assert_eq!(
            hanging.count(),
            32,
            "the hanging receiver holds exactly its share"
        );
        let waits = crate::metrics::scrape(&app).await.value(
            "missive_rate_limit_waits_total",
            &[
                ("channel", "webhook"),
                ("provider", ""),
                ("reason", "destination_busy"),
            ],
        );
        assert!(waits >= 1.0, "{waits}");
        app.stop().await;
    })
    .await;
}
