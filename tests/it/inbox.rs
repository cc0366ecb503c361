//! The in-app channel and inbox: messages stored by the worker, the REST
//! inbox, recipient tokens, and live streams over real SSE and WebSocket
//! clients. Two real processes on PostgreSQL for the cross-instance path.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::crash::{admin_key, child_env, spawn_child, start_serve};
use crate::helpers::*;

/// How long a test waits for an event that should come.
const DEADLINE: Duration = Duration::from_secs(10);

/// One Server-Sent Event.
#[derive(Clone, Debug, Default)]
struct Frame {
    event: String,
    id: Option<String>,
    data: String,
}

impl Frame {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// A real SSE client: reqwest's streaming body, parsed into frames.
struct SseClient {
    resp: reqwest::Response,
    buf: String,
    closed: bool,
}

impl SseClient {
    /// Opens `url`, asserting 200 and the event-stream type.
    async fn open(req: reqwest::RequestBuilder) -> SseClient {
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.status(),
            200,
            "opening the stream: {:?}",
            resp.text().await
        );
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        SseClient {
            resp,
            buf: String::new(),
            closed: false,
        }
    }

    /// The next frame with data (comments and `retry:` skipped), or None if
    /// none comes `within` or the stream ends.
    async fn next(&mut self, within: Duration) -> Option<Frame> {
        let end = Instant::now() + within;
        loop {
            while let Some(at) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..at + 2).collect();
                let mut f = Frame::default();
                let mut has_data = false;
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        f.event = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        f.id = Some(v.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if has_data {
                            f.data.push('\n');
                        }
                        f.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        has_data = true;
                    }
                }
                if has_data {
                    if f.event.is_empty() {
                        f.event = "message".into();
                    }
                    return Some(f);
                }
            }
            if self.closed {
                return None;
            }
            let left = end.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(_) => self.closed = true,
            }
        }
    }

    /// The next frame, which must come within the deadline.
    async fn expect(&mut self, what: &str) -> Frame {
        match self.next(DEADLINE).await {
            Some(f) => f,
            None => panic!(
                "no {what} event within {DEADLINE:?} (stream closed: {})",
                self.closed
            ),
        }
    }

    /// Asserts nothing but heartbeats arrives for `d`.
    async fn expect_quiet(&mut self, d: Duration) {
        if let Some(f) = self.next(d).await {
            panic!("expected no event, got {f:?}");
        }
    }
}

fn stream_url(base: &str, recipient: &str, token: &str) -> String {
    format!("{base}/v1/recipients/{recipient}/inbox/stream?token={token}")
}

/// A token for `recipient`, made with the app's admin key.
async fn token_for(client: &reqwest::Client, base: &str, key: &str, recipient: &str) -> String {
    let r = client
        .post(format!("{base}/v1/recipients/{recipient}/token"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["recipient"], recipient);
    body["token"].as_str().unwrap().to_string()
}

fn in_app_request(recipient: &str, data: Value) -> Value {
    json!({
        "content": {"in_app": {"title": "Hi {{name}}", "body": "Order {{order}} shipped", "action_url": "/orders/{{order}}"}},
        "to": [{"id": recipient}],
        "data": data,
    })
}

/// Sends one in-app notification through `base`; returns its delivery id.
async fn send_in_app(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    recipient: &str,
    data: Value,
) -> String {
    let r = client
        .post(format!("{base}/v1/notifications"))
        .bearer_auth(key)
        .json(&in_app_request(recipient, data))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["deliveries"][0]["channel"], "in_app");
    body["deliveries"][0]["id"].as_str().unwrap().to_string()
}

impl TestApp {
    async fn token(&self, recipient: &str) -> String {
        token_for(&self.client, &self.base, &self.key, recipient).await
    }

    async fn send_in_app(&self, recipient: &str, data: Value) -> String {
        send_in_app(&self.client, &self.base, &self.key, recipient, data).await
    }

    /// Sends one and waits until it is stored, so messages are stored in
    /// the order they are sent (workers store concurrently otherwise).
    async fn send_stored(&self, recipient: &str, data: Value) -> String {
        let delivery = self.send_in_app(recipient, data).await;
        self.wait_for_status(&delivery, "sent").await;
        delivery
    }

    async fn sse(&self, recipient: &str, token: &str) -> SseClient {
        SseClient::open(self.client.get(stream_url(&self.base, recipient, token))).await
    }

    /// The inbox as the admin key sees it, once it holds `n` messages.
    async fn inbox_with(&self, recipient: &str, n: usize) -> Value {
        let path = format!("/v1/recipients/{recipient}/inbox?limit=500");
        match poll_until(DEADLINE, || async {
            let v = self.get_json(&path).await;
            (v["items"].as_array().unwrap().len() >= n, v)
        })
        .await
        {
            Ok(v) => v,
            Err(v) => panic!("the inbox never held {n} messages: {v:#}"),
        }
    }

    async fn ws(&self, recipient: &str, token: &str) -> WsClient {
        let url = format!(
            "{}/v1/recipients/{recipient}/inbox/ws?token={token}",
            self.base.replace("http://", "ws://")
        );
        let (ws, resp) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the WebSocket opens");
        assert_eq!(resp.status(), 101);
        ws
    }
}

type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text frame (pings skipped), within the deadline.
async fn ws_next(ws: &mut WsClient) -> Value {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => panic!("no WebSocket frame within {DEADLINE:?}"),
            Ok(Some(Ok(WsMessage::Text(t)))) => return serde_json::from_str(&t).unwrap(),
            Ok(Some(Ok(WsMessage::Close(f)))) => panic!("the WebSocket closed: {f:?}"),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("the WebSocket ended: {other:?}"),
        }
    }
}

async fn ws_send(ws: &mut WsClient, v: Value) {
    ws.send(WsMessage::Text(v.to_string().into()))
        .await
        .unwrap();
}

fn assert_problem(status: u16, r: &reqwest::Response) {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_receives_the_message_once_it_is_stored() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let token = app.token("u_1").await;
        let mut sse = app.sse("u_1", &token).await;

        // Another recipient's message never reaches this stream.
        app.send_in_app("u_2", json!({"name": "Bo", "order": 1}))
            .await;
        let started = Instant::now();
        let delivery = app
            .send_in_app("u_1", json!({"name": "Ana", "order": 7}))
            .await;
        let f = sse.expect("message").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(f.event, "message");
        let m = f.json();
        assert_eq!(f.id.as_deref(), m["id"].as_str());
        assert_eq!(m["recipient"], "u_1");
        assert_eq!(m["title"], "Hi Ana");
        assert_eq!(m["body"], "Order 7 shipped");
        assert_eq!(m["action_url"], "/orders/7");
        assert_eq!(m["data"], json!({"name": "Ana", "order": 7}));
        assert_eq!(m["category"], "transactional");
        assert_eq!(m["delivery_id"], delivery.as_str());
        assert!(m["created_at"].is_string() && m["read_at"].is_null());

        // The delivery is sent, and says where the message went.
        let d = app.wait_for_status(&delivery, "sent").await;
        assert_eq!(d["attempts"][0]["provider"], "inbox");
        sse.expect_quiet(Duration::from_millis(300)).await;

        // Stopping the server ends open streams instead of waiting on them.
        let t0 = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), app.stop())
            .await
            .expect("stops with a stream open");
        assert!(t0.elapsed() < Duration::from_secs(10));
        let end = sse.next(Duration::from_secs(5)).await;
        assert!(
            end.is_none() || end.as_ref().unwrap().event == "end",
            "{end:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delivery_stores_one_message() {
    use missive::channels::in_app::InAppChannel;
    use missive::channels::{Channel, Message, Outcome};
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let delivery = app
            .send_in_app("u_1", json!({"name": "Ana", "order": 1}))
            .await;
        app.wait_for_status(&delivery, "sent").await;
        // The same delivery sent again (a reclaimed lease, a retry).
        let channel = InAppChannel::new(app.state.inbox.clone());
        let content = json!({"title": "Hi Ana", "body": "again"});
        let d = app.get_json(&format!("/v1/deliveries/{delivery}")).await;
        let msg = Message {
            delivery_id: &delivery,
            notification_id: d["notification_id"].as_str().unwrap(),
            recipient: "u_1",
            category: "transactional",
            attempt: 2,
            address: "u_1",
            content: content.as_object().unwrap(),
            list_unsubscribe: None,
        };
        let r = channel.send(&msg).await;
        assert_eq!(r.outcome, Outcome::Ok);
        let inbox = app.inbox_with("u_1", 1).await;
        assert_eq!(inbox["items"].as_array().unwrap().len(), 1);
        assert_eq!(inbox["items"][0]["body"], "Order 1 shipped");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_last_event_id_replays_exactly_what_was_missed() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let token = app.token("u_1").await;
        let mut sse = app.sse("u_1", &token).await;
        app.send_in_app("u_1", json!({"name": "Ana", "order": 1}))
            .await;
        let first = sse.expect("message").await.id.unwrap();
        drop(sse);

        // Three more while the tab is away.
        for order in 2..=4 {
            app.send_stored("u_1", json!({"name": "Ana", "order": order}))
                .await;
        }

        // EventSource's reconnect: the Last-Event-ID header.
        let mut sse = SseClient::open(
            app.client
                .get(stream_url(&app.base, "u_1", &token))
                .header("Last-Event-ID", &first),
        )
        .await;
        let mut replayed = vec![];
        for _ in 0..3 {
            let f = sse.expect("replayed").await;
            replayed.push((
                f.id.clone().unwrap(),
                f.json()["action_url"].as_str().unwrap().to_string(),
            ));
        }
        let urls: Vec<&str> = replayed.iter().map(|(_, u)| u.as_str()).collect();
        assert_eq!(
            urls,
            ["/orders/2", "/orders/3", "/orders/4"],
            "oldest first"
        );
        sse.expect_quiet(Duration::from_millis(500)).await;

        // Live messages follow the replay on the same stream.
        app.send_in_app("u_1", json!({"name": "Ana", "order": 5}))
            .await;
        assert_eq!(sse.expect("live").await.json()["action_url"], "/orders/5");

        // A page's first connection passes it as a query parameter.
        let url = format!(
            "{}&last_event_id={}",
            stream_url(&app.base, "u_1", &token),
            replayed[1].0
        );
        let mut sse2 = SseClient::open(app.client.get(url)).await;
        assert_eq!(
            sse2.expect("replayed").await.json()["action_url"],
            "/orders/4"
        );
        assert_eq!(
            sse2.expect("replayed").await.json()["action_url"],
            "/orders/5"
        );
        sse2.expect_quiet(Duration::from_millis(300)).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_marks_read_and_the_other_tabs_see_it() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let token = app.token("u_1").await;
        let mut ws = app.ws("u_1", &token).await;
        // The second tab holds the token in the Authorization header.
        let url = format!("{}/v1/recipients/u_1/inbox/stream", app.base);
        let mut sse = SseClient::open(app.client.get(url).bearer_auth(&token)).await;

        app.send_in_app("u_1", json!({"name": "Ana", "order": 1}))
            .await;
        let frame = ws_next(&mut ws).await;
        assert_eq!(frame["type"], "message");
        assert_eq!(frame["message"]["title"], "Hi Ana");
        let id = frame["message"]["id"].as_str().unwrap().to_string();
        assert_eq!(sse.expect("message").await.id.as_deref(), Some(id.as_str()));

        ws_send(&mut ws, json!({"type": "read", "id": id})).await;
        let read = sse.expect("read").await;
        assert_eq!(read.event, "read");
        assert_eq!(read.id, None, "read events don't move Last-Event-ID");
        assert_eq!(read.json(), json!({"ids": [id], "all": false}));
        assert_eq!(
            ws_next(&mut ws).await,
            json!({"type": "read", "ids": [id], "all": false})
        );
        let inbox = app.get_json("/v1/recipients/u_1/inbox").await;
        assert_eq!(inbox["unread_count"], 0);
        assert!(inbox["items"][0]["read_at"].is_string());

        // read_all, and a command that can't be done.
        app.send_in_app("u_1", json!({"name": "Ana", "order": 2}))
            .await;
        app.send_in_app("u_1", json!({"name": "Ana", "order": 3}))
            .await;
        for _ in 0..2 {
            assert_eq!(ws_next(&mut ws).await["type"], "message");
            assert_eq!(sse.expect("message").await.event, "message");
        }
        ws_send(&mut ws, json!({"type": "read_all"})).await;
        let read = sse.expect("read").await.json();
        assert_eq!(
            (read["all"].clone(), read["ids"].as_array().unwrap().len()),
            (json!(true), 2)
        );
        assert_eq!(ws_next(&mut ws).await["all"], true);
        assert_eq!(
            app.get_json("/v1/recipients/u_1/inbox").await["unread_count"],
            0
        );
        ws_send(&mut ws, json!({"type": "read", "id": "nope"})).await;
        assert_eq!(ws_next(&mut ws).await["type"], "error");
        ws_send(&mut ws, json!({"type": "delete"})).await;
        assert_eq!(ws_next(&mut ws).await["type"], "error");

        // REST changes reach the streams too.
        app.send_in_app("u_1", json!({"name": "Ana", "order": 4}))
            .await;
        let id4 = ws_next(&mut ws).await["message"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        sse.expect("message").await;
        let r = app
            .post(&format!("/v1/recipients/u_1/inbox/{id4}/read"), &json!({}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            ws_next(&mut ws).await,
            json!({"type": "read", "ids": [id4], "all": false})
        );
        assert_eq!(sse.expect("read").await.json()["ids"], json!([id4]));

        ws.close(None).await.unwrap();
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_inbox_lists_pages_counts_and_changes() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        for order in 1..=5 {
            app.send_stored("u_1", json!({"name": "Ana", "order": order}))
                .await;
        }
        app.send_stored("u_2", json!({"name": "Bo", "order": 99}))
            .await;
        let all = app.inbox_with("u_1", 5).await;
        assert_eq!(all["unread_count"], 5);
        let urls: Vec<&str> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["action_url"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                "/orders/5",
                "/orders/4",
                "/orders/3",
                "/orders/2",
                "/orders/1"
            ],
            "newest first, u_1 only"
        );

        // Cursor pagination.
        let mut seen = vec![];
        let mut path = "/v1/recipients/u_1/inbox?limit=2".to_string();
        loop {
            let page = app.get_json(&path).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|m| m["id"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/recipients/u_1/inbox?limit=2&cursor={c}"),
                None => break,
            }
        }
        let ids: Vec<String> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(seen, ids);

        // Read one; the unread filter and count follow.
        let r = app
            .post(
                &format!("/v1/recipients/u_1/inbox/{}/read", ids[1]),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let m: Value = r.json().await.unwrap();
        assert!(m["read_at"].is_string());
        let again: Value = app
            .post(
                &format!("/v1/recipients/u_1/inbox/{}/read", ids[1]),
                &json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            again["read_at"], m["read_at"],
            "reading twice keeps the first time"
        );
        let unread = app.get_json("/v1/recipients/u_1/inbox?unread=true").await;
        assert_eq!(unread["unread_count"], 4);
        assert_eq!(unread["items"].as_array().unwrap().len(), 4);
        assert!(unread["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"] != ids[1].as_str()));

        // Archive: gone from the list and the count; twice is 404.
        let r = app
            .client
            .delete(app.url(&format!("/v1/recipients/u_1/inbox/{}", ids[0])))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = app
            .client
            .delete(app.url(&format!("/v1/recipients/u_1/inbox/{}", ids[0])))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_problem(404, &r);
        let inbox = app.get_json("/v1/recipients/u_1/inbox").await;
        assert_eq!(
            (
                inbox["items"].as_array().unwrap().len(),
                inbox["unread_count"].clone()
            ),
            (4, json!(3))
        );

        // Read all.
        let r: Value = app
            .post("/v1/recipients/u_1/inbox/read-all", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["marked_read"], 3);
        assert_eq!(
            app.get_json("/v1/recipients/u_1/inbox").await["unread_count"],
            0
        );
        assert_eq!(
            app.get_json("/v1/recipients/u_2/inbox").await["unread_count"],
            1,
            "other recipients untouched"
        );

        // Unknown ids, another recipient's message, bad parameters.
        assert_problem(
            404,
            &app.post("/v1/recipients/u_1/inbox/nope/read", &json!({}))
                .await,
        );
        let u2 = app.get_json("/v1/recipients/u_2/inbox").await["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_problem(
            404,
            &app.post(&format!("/v1/recipients/u_1/inbox/{u2}/read"), &json!({}))
                .await,
        );
        assert_problem(422, &app.get("/v1/recipients/u_1/inbox?limit=0").await);
        assert_problem(422, &app.get("/v1/recipients/u_1/inbox?unread=maybe").await);

        // Scopes: `read` looks, `send` changes.
        let (read_key, _) =
            missive::service::auth::create_key(app.state.store.as_ref(), "reader", "read")
                .await
                .unwrap();
        let r = app
            .client
            .get(app.url("/v1/recipients/u_1/inbox"))
            .bearer_auth(&read_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = app
            .client
            .post(app.url("/v1/recipients/u_1/inbox/read-all"))
            .bearer_auth(&read_key)
            .send()
            .await
            .unwrap();
        assert_problem(403, &r);
        let (tpl_key, _) =
            missive::service::auth::create_key(app.state.store.as_ref(), "templates", "templates")
                .await
                .unwrap();
        let r = app
            .client
            .get(app.url("/v1/recipients/u_1/inbox"))
            .bearer_auth(&tpl_key)
            .send()
            .await
            .unwrap();
        assert_problem(403, &r);
        app.stop().await;
    })
    .await;
}

/// A stream that stops reading falls behind and is dropped; the other tab
/// and the queue don't wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_falls_behind_is_dropped_and_holds_up_nobody() {
    use missive::inbox::feed::{feed, End, Item};
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[inbox]\nbuffer = 2\n").await;
        let token = app.token("u_1").await;
        let mut fast = app.sse("u_1", &token).await;
        // The slow tab: a stream of this process that is never read.
        let sub = app.state.inbox.subscribe("u_1").unwrap();
        let always: missive::inbox::feed::Guard = std::sync::Arc::new(|| Box::pin(async { true }));
        let mut slow = feed(
            app.state.inbox.clone(),
            "u_1".into(),
            sub,
            None,
            None,
            always,
        );

        let mut deliveries = vec![];
        for order in 1..=5 {
            deliveries.push(
                app.send_in_app("u_1", json!({"name": "Ana", "order": order}))
                    .await,
            );
        }
        for _ in 0..5 {
            assert_eq!(fast.expect("message").await.event, "message");
        }
        for d in &deliveries {
            app.wait_for_status(d, "sent").await;
        }
        match slow.next().await {
            Some(Item::End(End::Lagged)) => {}
            Some(Item::Event(e)) => panic!("the slow stream should have been dropped, got {e:?}"),
            other => panic!(
                "expected the slow stream to end as lagged, got {:?}",
                other.map(|_| ())
            ),
        }
        assert!(slow.next().await.is_none());
        drop(slow);
        assert_eq!(app.state.inbox.connections(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_opens_one_recipients_inbox_and_nothing_else() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        app.send_in_app("u_1", json!({"name": "Ana", "order": 1}))
            .await;
        app.inbox_with("u_1", 1).await;
        let token = app.token("u_1").await;
        assert!(token.starts_with("mit1.") && !token.starts_with("msv_"));
        let get = |path: &str, t: &str| app.client.get(app.url(path)).bearer_auth(t).send();

        let r = get("/v1/recipients/u_1/inbox", &token).await.unwrap();
        assert_eq!(r.status(), 200);
        let id = r.json::<Value>().await.unwrap()["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // It may change its own inbox.
        let r = app
            .client
            .post(app.url(&format!("/v1/recipients/u_1/inbox/{id}/read")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        // Another recipient's inbox: 403, over every route.
        assert_problem(403, &get("/v1/recipients/u_2/inbox", &token).await.unwrap());
        assert_problem(
            403,
            &app.client
                .get(stream_url(&app.base, "u_2", &token))
                .send()
                .await
                .unwrap(),
        );
        let r = app
            .client
            .post(app.url("/v1/recipients/u_2/inbox/read-all"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(403, &r);
        // Nothing else in the API.
        for path in ["/v1/deliveries", "/v1/recipients/u_1", "/v1/templates"] {
            assert_problem(401, &get(path, &token).await.unwrap());
        }
        let r = app
            .client
            .post(app.url("/v1/notifications"))
            .bearer_auth(&token)
            .json(&in_app_request("u_1", json!({})))
            .send()
            .await
            .unwrap();
        assert_problem(401, &r);
        assert_problem(
            401,
            &app.client
                .post(app.url("/v1/recipients/u_1/token"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        );

        // Tampered: another character in the signature, or another recipient.
        let mut bytes = token.clone().into_bytes();
        let i = bytes.len() - 3;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_problem(
            401,
            &get("/v1/recipients/u_1/inbox", &tampered).await.unwrap(),
        );
        assert_problem(
            401,
            &app.client
                .get(stream_url(&app.base, "u_1", &tampered))
                .send()
                .await
                .unwrap(),
        );
        let other = app.token("u_2").await;
        let (_, sig) = token.rsplit_once('.').unwrap();
        let (other_body, _) = other.rsplit_once('.').unwrap();
        assert_problem(
            401,
            &get("/v1/recipients/u_2/inbox", &format!("{other_body}.{sig}"))
                .await
                .unwrap(),
        );
        assert_problem(
            401,
            &app.client
                .get(app.url("/v1/recipients/u_1/inbox"))
                .send()
                .await
                .unwrap(),
        );

        // Only `send` keys mint tokens.
        let (read_key, _) =
            missive::service::auth::create_key(app.state.store.as_ref(), "reader", "read")
                .await
                .unwrap();
        assert_problem(
            403,
            &app.client
                .post(app.url("/v1/recipients/u_1/token"))
                .bearer_auth(&read_key)
                .send()
                .await
                .unwrap(),
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_and_ends_its_stream() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[inbox]\ntoken_ttl = \"1500ms\"\n").await;
        let token = app.token("u_1").await;
        let mut sse = app.sse("u_1", &token).await;
        let mut ws = app.ws("u_1", &token).await;
        let t0 = Instant::now();
        let end = sse.expect("end").await;
        assert_eq!(end.event, "end");
        assert_eq!(end.json()["reason"], "token_expired");
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert_eq!(ws_closed(&mut ws, Duration::from_secs(5)).await, Some(4001));
        assert!(
            sse.next(Duration::from_secs(2)).await.is_none() && sse.closed,
            "the stream ends"
        );

        let r = app
            .client
            .get(app.url("/v1/recipients/u_1/inbox"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(401, &r);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("expired"),
            "{body}"
        );
        assert_problem(
            401,
            &app.client
                .get(stream_url(&app.base, "u_1", &token))
                .send()
                .await
                .unwrap(),
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_the_connection_limits_get_429() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[inbox]\nmax_connections = 3\nmax_connections_per_recipient = 2\nheartbeat = \"100ms\"\n").await;
        let t1 = app.token("u_1").await;
        let t2 = app.token("u_2").await;
        let t3 = app.token("u_3").await;
        let a = app.sse("u_1", &t1).await;
        let _ws = app.ws("u_1", &t1).await;

        // A third tab of u_1, over SSE or WebSocket.
        let r = app
            .client
            .get(stream_url(&app.base, "u_1", &t1))
            .send()
            .await
            .unwrap();
        assert_problem(429, &r);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("max_connections_per_recipient"),
            "{body}"
        );
        let url = format!(
            "{}/v1/recipients/u_1/inbox/ws?token={t1}",
            app.base.replace("http://", "ws://")
        );
        match tokio_tungstenite::connect_async(url.into_client_request().unwrap()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 429)
            }
            other => panic!("expected 429, got {:?}", other.map(|(_, r)| r.status())),
        }

        // The server's total.
        let _c = app.sse("u_2", &t2).await;
        let r = app
            .client
            .get(stream_url(&app.base, "u_3", &t3))
            .send()
            .await
            .unwrap();
        assert_problem(429, &r);
        assert_eq!(app.state.inbox.connections(), 3);

        // A closed tab frees its place (noticed at the next heartbeat).
        drop(a);
        let freed = poll_until(DEADLINE, || async {
            (app.state.inbox.connections() == 2, ())
        })
        .await;
        assert!(freed.is_ok(), "the closed stream was never released");
        let _d = app.sse("u_3", &t3).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins_only() {
    each_backend(|b| async move {
        let app = spawn_app_with(
            &b,
            "[inbox]\ncors_origins = [\"https://app.example.com\"]\n",
        )
        .await;
        let preflight = |origin: &'static str| {
            app.client
                .request(
                    reqwest::Method::OPTIONS,
                    app.url("/v1/recipients/u_1/inbox/stream"),
                )
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "GET")
                .header(
                    "Access-Control-Request-Headers",
                    "authorization,last-event-id",
                )
                .send()
        };
        let r = preflight("https://app.example.com").await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        let allowed = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("last-event-id"),
            "{allowed}"
        );
        let r = preflight("https://evil.example").await.unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none());

        let token = app.token("u_1").await;
        let r = app
            .client
            .get(app.url("/v1/recipients/u_1/inbox"))
            .bearer_auth(&token)
            .header("Origin", "https://app.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        app.stop().await;

        // By default no origin is allowed.
        let app = spawn_app(&b).await;
        let r = app
            .client
            .get(app.url("/v1/recipients/u_1/inbox"))
            .bearer_auth(&app.key)
            .header("Origin", "https://app.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        app.stop().await;
    })
    .await;
}

/// Two real processes on one PostgreSQL database: the stream is held by an
/// `api` process (no workers), the message is sent through and stored by a
/// `serve` process; NOTIFY carries it across.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stored_by_another_process_reaches_the_stream() {
    each_backend(|b| async move {
        if !matches!(b, Backend::Postgres(_)) {
            return;
        }
        let db = TestDb::new(&b);
        let api_port = free_port();
        let mut api = spawn_child(&db, &child_env(&db, api_port), api_port, &["api"], "api");
        api.wait_ready(Duration::from_secs(30)).await;
        let mut serve = start_serve(&db, &[], "serve").await;
        let key = admin_key(&db);
        let client = reqwest::Client::new();

        // A token made by one process is good at the other.
        let token = token_for(&client, &serve.base, &key, "u_1").await;
        let mut sse = SseClient::open(client.get(stream_url(&api.base, "u_1", &token))).await;
        let url = format!(
            "{}/v1/recipients/u_1/inbox/ws?token={token}",
            api.base.replace("http://", "ws://")
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

        let started = Instant::now();
        let delivery = send_in_app(
            &client,
            &serve.base,
            &key,
            "u_1",
            json!({"name": "Ana", "order": 7}),
        )
        .await;
        let f = sse.expect("message").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        let m = f.json();
        assert_eq!(
            (m["title"].as_str(), m["delivery_id"].as_str()),
            (Some("Hi Ana"), Some(delivery.as_str()))
        );
        assert_eq!(ws_next(&mut ws).await["message"]["id"], m["id"]);

        // A read through the other process reaches this one's streams too.
        let r = client
            .post(format!(
                "{}/v1/recipients/u_1/inbox/{}/read",
                serve.base,
                m["id"].as_str().unwrap()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(sse.expect("read").await.json()["ids"], json!([m["id"]]));
        assert_eq!(ws_next(&mut ws).await["type"], "read");
        // And a read on this process's WebSocket reaches the other's list.
        let delivery2 = send_in_app(
            &client,
            &serve.base,
            &key,
            "u_1",
            json!({"name": "Ana", "order": 8}),
        )
        .await;
        let m2 = ws_next(&mut ws).await["message"].clone();
        assert_eq!(m2["delivery_id"], delivery2.as_str());
        ws_send(&mut ws, json!({"type": "read", "id": m2["id"]})).await;
        assert_eq!(ws_next(&mut ws).await["type"], "read");
        let list: Value = client
            .get(format!("{}/v1/recipients/u_1/inbox", serve.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["unread_count"], 0);

        drop(ws);
        drop(sse);
        serve.stop_gracefully(Duration::from_secs(30)).await;
        api.stop_gracefully(Duration::from_secs(30)).await;
    })
    .await;
}

/// examples/inbox.html shows what a message carries as text and links only
/// to http(s) URLs and paths on its own site. Its link check is run in
/// Node when this machine has it; the rest is read from the page.
#[test]
fn the_example_inbox_shows_text_and_refuses_script_links() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/inbox.html"))
        .unwrap();
    let script = &page[page.find("<script>").unwrap()..];
    let code: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!code.contains(sink), "the page must not use {sink}");
    }
    let hrefs: Vec<&str> = code.lines().filter(|l| l.contains(".href =")).collect();
    assert_eq!(
        hrefs.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        vec!["title.href = link;"],
        "a link is set only from safeLink's answer"
    );
    assert!(code.contains("const link = safeLink(m.action_url);"));

    let start = page.find("function safeLink(url) {").unwrap();
    let end = start + page[start..].find("\n}\n").unwrap() + 3;
    let cases = [
        ("/orders/7", true),
        ("https://shop.example/o/7", true),
        ("http://127.0.0.1:3000/x", true),
        ("javascript:alert(document.domain)", false),
        (" javascript:alert(1)", false),
        ("JaVaScRiPt:alert(1)", false),
        ("java\tscript:alert(1)", false),
        ("data:text/html,<script>alert(1)</script>", false),
        ("//evil.example/x", false),
        ("/\\evil.example/x", false),
        ("", false),
    ];
    let js = format!(
        "{}\nconst cases = {};\nfor (const [u, ok] of cases) {{ if ((safeLink(u) !== null) !== ok) {{ console.log('wrong: ' + JSON.stringify(u)); process.exit(1); }} }}\nconsole.log('ok');\n",
        &page[start..end],
        serde_json::to_string(&cases).unwrap()
    );
    match std::process::Command::new("node")
        .arg("-e")
        .arg(&js)
        .output()
    {
        Ok(out) => assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
            "safeLink: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("node is not installed: safeLink's cases were not run"),
    }
}

/// How long a revocation may take to end a stream: the 5 s window, and
/// slack for a loaded machine.
const REVOKED_WITHIN: Duration = Duration::from_secs(8);

/// Waits for the WebSocket's close frame (other frames skipped); its code.
async fn ws_closed(ws: &mut WsClient, within: Duration) -> Option<u16> {
    let end = Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => panic!("the WebSocket did not close within {within:?}"),
            Ok(Some(Ok(WsMessage::Close(f)))) => return f.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(_) => return None,
        }
    }
}

/// A WebSocket opened with an API key in the Authorization header.
async fn ws_with_key(
    base: &str,
    recipient: &str,
    key: &str,
) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!(
        "{}/v1/recipients/{recipient}/inbox/ws",
        base.replace("http://", "ws://")
    )
    .into_client_request()
    .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_keys_streams_end_within_the_revocation_window() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let store = app.state.store.clone();
        let (key, row) = missive::service::auth::create_key(store.as_ref(), "tab", "read,send")
            .await
            .unwrap();
        let url = format!("{}/v1/recipients/u_1/inbox/stream", app.base);
        let mut sse = SseClient::open(app.client.get(&url).bearer_auth(&key)).await;
        let mut ws = ws_with_key(&app.base, "u_1", &key).await.unwrap();
        app.send_in_app("u_1", json!({"name": "Ana", "order": 1}))
            .await;
        sse.expect("message").await;
        assert_eq!(ws_next(&mut ws).await["type"], "message");

        // Revoked elsewhere (the CLI, another instance): this process's
        // cache still holds the key, and must let go within the window.
        let t0 = Instant::now();
        assert!(store
            .revoke_key(&row.id, missive::util::now_ms())
            .await
            .unwrap());
        let end = sse.next(REVOKED_WITHIN).await.expect("an end event");
        assert_eq!(
            (end.event.as_str(), end.json()["reason"].clone()),
            ("end", json!("revoked"))
        );
        assert_eq!(ws_closed(&mut ws, REVOKED_WITHIN).await, Some(4003));
        assert!(t0.elapsed() < REVOKED_WITHIN, "took {:?}", t0.elapsed());
        assert!(sse.next(Duration::from_secs(2)).await.is_none() && sse.closed);

        // read_all over the socket does nothing any more, and the key opens
        // no new stream.
        let _ = ws
            .send(WsMessage::Text(
                json!({"type": "read_all"}).to_string().into(),
            ))
            .await;
        assert!(ws_with_key(&app.base, "u_1", &key).await.is_err());
        assert_problem(
            401,
            &app.client.get(&url).bearer_auth(&key).send().await.unwrap(),
        );
        assert_eq!(
            app.get_json("/v1/recipients/u_1/inbox").await["unread_count"],
            1,
            "nothing was marked read"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_from_the_console_ends_its_websocket_at_once() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let (key, row) =
            missive::service::auth::create_key(app.state.store.as_ref(), "tab", "read,send")
                .await
                .unwrap();
        let mut ws = ws_with_key(&app.base, "u_1", &key).await.unwrap();
        app.send_in_app("u_1", json!({"name": "Ana", "order": 1}))
            .await;
        assert_eq!(ws_next(&mut ws).await["type"], "message");

        let admin = crate::console::ConsoleClient::new(&app);
        assert_eq!(admin.sign_in(&app.key).await.status(), 303);
        let csrf = admin.csrf().await;
        let t0 = Instant::now();
        let r = admin
            .submit(
                &format!("/console/keys/{}/revoke", row.id),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303);
        // The revoking process forgets the key at once: the next check
        // (every second) ends the socket.
        assert_eq!(ws_closed(&mut ws, REVOKED_WITHIN).await, Some(4003));
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "took {:?}",
            t0.elapsed()
        );
        let r = app
            .client
            .get(app.url("/v1/recipients/u_1/inbox"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_problem(401, &r);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_recipient_erases_its_inbox_and_ends_its_tokens() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let r = app
            .put("/v1/recipients/u_del", &json!({"email": "del@example.com"}))
            .await;
        assert_eq!(r.status(), 201);
        let token = app.token("u_del").await;
        let kept = app.token("u_keep").await;
        app.send_stored("u_del", json!({"name": "Ana", "order": 1}))
            .await;
        app.send_stored("u_del", json!({"name": "Ana", "order": 2}))
            .await;
        app.send_stored("u_keep", json!({"name": "Bo", "order": 3}))
            .await;
        let ids: Vec<String> = app.inbox_with("u_del", 2).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        // An archived message goes too.
        let r = app
            .client
            .delete(app.url(&format!("/v1/recipients/u_del/inbox/{}", ids[0])))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let mut sse = app.sse("u_del", &token).await;
        let mut ws = app.ws("u_del", &token).await;
        let mut other = app.sse("u_keep", &kept).await;

        let t0 = Instant::now();
        let r = app
            .client
            .delete(app.url("/v1/recipients/u_del"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let end = sse.next(REVOKED_WITHIN).await.expect("an end event");
        assert_eq!(end.json()["reason"], "revoked");
        assert_eq!(ws_closed(&mut ws, REVOKED_WITHIN).await, Some(4003));
        assert!(t0.elapsed() < REVOKED_WITHIN, "took {:?}", t0.elapsed());

        // The old token opens nothing.
        let r = app
            .client
            .get(app.url("/v1/recipients/u_del/inbox"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(401, &r);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("revoked"),
            "{body}"
        );
        assert_problem(
            401,
            &app.client
                .get(stream_url(&app.base, "u_del", &token))
                .send()
                .await
                .unwrap(),
        );
        // The messages are gone from the database, archived or not.
        for id in &ids {
            assert!(
                app.state
                    .store
                    .inbox_get("u_del", id)
                    .await
                    .unwrap()
                    .is_none(),
                "{b:?}: message {id} survived"
            );
        }
        let r = app.get("/v1/recipients/u_del").await;
        assert_eq!(r.status(), 404);
        let r = app
            .client
            .delete(app.url("/v1/recipients/u_del"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "nothing left to delete");

        // Another recipient keeps its stream, token and messages.
        other.expect_quiet(Duration::from_millis(300)).await;
        assert!(!other.closed);
        let r = app
            .client
            .get(app.url("/v1/recipients/u_keep/inbox"))
            .bearer_auth(&kept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap()["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // A recipient made again with the same id starts empty, and only a
        // token issued now opens it.
        let fresh = app.token("u_del").await;
        let r = app
            .client
            .get(app.url("/v1/recipients/u_del/inbox"))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["items"], json!([]));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_recipients_tokens_refuses_the_old_ones_only() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let old = app.token("u_1").await;
        let mut sse = app.sse("u_1", &old).await;
        let r = app
            .client
            .delete(app.url("/v1/recipients/u_1/token"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(
            sse.next(REVOKED_WITHIN).await.expect("an end event").json()["reason"],
            "revoked"
        );
        let inbox = |t: String| {
            let app = &app;
            async move {
                app.client
                    .get(app.url("/v1/recipients/u_1/inbox"))
                    .bearer_auth(t)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(inbox(old).await, 401);
        let new = app.token("u_1").await;
        assert_eq!(inbox(new.clone()).await, 200);
        // Revoked by another instance: this one's cached generation must
        // let go within the window.
        let mut sse = app.sse("u_1", &new).await;
        let t0 = Instant::now();
        app.state.store.revoke_inbox_tokens("u_1").await.unwrap();
        assert_eq!(
            sse.next(REVOKED_WITHIN).await.expect("an end event").json()["reason"],
            "revoked"
        );
        assert!(t0.elapsed() < REVOKED_WITHIN, "took {:?}", t0.elapsed());
        assert_eq!(inbox(new).await, 401);
        // A read-only key can't revoke them.
        let (read, _) = missive::service::auth::create_key(app.state.store.as_ref(), "r", "read")
            .await
            .unwrap();
        let r = app
            .client
            .delete(app.url("/v1/recipients/u_1/token"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_problem(403, &r);
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_outlive_the_header_read_timeout() {
    let b = &backends()[0];
    // The timeout bounds reading a request's headers, never an answer
    // that is still streaming.
    let app = spawn_app_with(b, "[server]\nheader_read_timeout = \"1s\"").await;
    let token = app.token("u_1").await;
    let mut ws = app.ws("u_1", &token).await;
    let mut sse = app.sse("u_1", &token).await;
    sse.expect_quiet(Duration::from_millis(2500)).await;
    app.send_in_app("u_1", json!({"name": "Ana", "order": 1}))
        .await;
    assert_eq!(sse.expect("message").await.event, "message");
    assert_eq!(ws_next(&mut ws).await["type"], "message");
    ws.close(None).await.unwrap();
    app.stop().await;
}
