//! Email delivery end to end, against a real SMTP server over TCP
//! (missive-testkit's `SmtpServer`): the MIME message, encodings, List-Unsubscribe,
//! outcomes per SMTP reply, connection errors, timeouts, pooling and auth,
//! the file provider, and start-up checks of the settings.

use std::time::Duration;

use base64::Engine;
use missive::{App, Config, Role};
use serde_json::{json, Value};

use crate::helpers::*;

/// Settings sending through the test server; `email` goes into
/// `[channels.email]`, `smtp` into `[channels.email.smtp]`.
pub(crate) fn smtp_toml(port: u16, email: &str, smtp: &str) -> String {
    format!(
        "[channels.email]\nproviders = [\"smtp\"]\nretry_schedule = [\"10ms\", \"10ms\"]\nfrom = \"Shop <shop@example.com>\"\n{email}\n\
         [channels.email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n{smtp}\n"
    )
}

async fn smtp_app(b: &Backend, server: &SmtpServer) -> TestApp {
    spawn_app_with(b, &smtp_toml(server.port, "", "")).await
}

fn order_content() -> Value {
    json!({"email": {"subject": "Order {{id}} shipped", "html": "<p>Hi {{name}}</p>", "text": "Hi {{name}}"}})
}

/// Sends one email notification; returns the delivery id.
async fn send_email(
    app: &TestApp,
    content: Value,
    to: &str,
    data: Value,
    category: &str,
) -> String {
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": content, "to": [{"email": to}], "data": data, "category": category}),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{body:#}");
    assert_eq!(body["deliveries"][0]["channel"], "email", "{body:#}");
    body["deliveries"][0]["id"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------
// A little MIME reading, written here from the RFCs rather than shared with
// the code under test.
// ---------------------------------------------------------------------------

pub(crate) struct Mime {
    headers: Vec<(String, String)>,
    body: String,
}

impl Mime {
    pub(crate) fn parse(raw: &str) -> Mime {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                // Folded: continues the previous header (RFC 5322 2.2.3).
                headers.last_mut().unwrap().1.push_str(line);
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Mime {
            headers,
            body: body.to_string(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn content_type(&self) -> String {
        self.header("Content-Type")
            .unwrap_or("text/plain")
            .to_ascii_lowercase()
    }

    /// The parts of a multipart body.
    pub(crate) fn parts(&self) -> Vec<Mime> {
        let ct = self.header("Content-Type").unwrap();
        let boundary = ct
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("boundary="))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let delim = format!("--{boundary}");
        let mut parts = Vec::new();
        for chunk in self.body.split(&delim).skip(1) {
            if chunk.starts_with("--") {
                break; // the closing delimiter
            }
            let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
            let chunk = chunk.strip_suffix("\r\n").unwrap_or(chunk);
            parts.push(Mime::parse(chunk));
        }
        parts
    }

    /// The body with its Content-Transfer-Encoding undone.
    pub(crate) fn text(&self) -> String {
        match self
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .to_ascii_lowercase()
            .as_str()
        {
            "base64" => {
                let clean: String = self.body.chars().filter(|c| !c.is_whitespace()).collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(clean)
                        .unwrap(),
                )
                .unwrap()
            }
            "quoted-printable" => decode_qp(&self.body),
            _ => self.body.clone(),
        }
    }
}

fn hex(b: u8) -> u8 {
    (b as char).to_digit(16).unwrap() as u8
}

/// RFC 2045 6.7 quoted-printable.
fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); the space
/// between two adjacent encoded words is not part of the text.
fn decode_header(v: &str) -> String {
    fn word(t: &str) -> Option<String> {
        let inner = t.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut it = inner.splitn(3, '?');
        let charset = it.next()?;
        assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
        let enc = it.next()?;
        let text = it.next()?;
        let bytes = match enc {
            "b" | "B" => base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
            "q" | "Q" => {
                let b = text.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < b.len() {
                    match b[i] {
                        b'_' => out.push(b' '),
                        b'=' => {
                            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                            i += 2;
                        }
                        c => out.push(c),
                    }
                    i += 1;
                }
                out
            }
            other => panic!("encoding {other}"),
        };
        Some(String::from_utf8(bytes).unwrap())
    }
    let mut out = String::new();
    let mut prev_encoded = false;
    for (i, t) in v.split_whitespace().enumerate() {
        match word(t) {
            Some(w) => {
                if i > 0 && !prev_encoded {
                    out.push(' ');
                }
                out.push_str(&w);
                prev_encoded = true;
            }
            None => {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(t);
                prev_encoded = false;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_a_multipart_message_with_every_header() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = smtp_app(&b, &server).await;
        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            json!({"id": 1001, "name": "Ana & <Bob>"}),
            "transactional",
        )
        .await;
        let got = server.wait_for(1, Duration::from_secs(10)).await;
        let mail = &got[0];
        assert_eq!(mail.from, "shop@example.com");
        assert_eq!(mail.to, vec!["ana@example.com".to_string()]);
        assert!(mail.data.is_ascii(), "the message must be 7-bit");

        let m = Mime::parse(&mail.data);
        assert_eq!(m.header("Subject"), Some("Order 1001 shipped"));
        let from = m.header("From").unwrap();
        assert!(
            from.contains("Shop") && from.contains("<shop@example.com>"),
            "{from}"
        );
        assert_eq!(m.header("To"), Some("ana@example.com"));
        let message_id = format!("<{id}@example.com>");
        assert_eq!(m.header("Message-ID"), Some(message_id.as_str()));
        let date = m.header("Date").unwrap();
        let date = chrono::DateTime::parse_from_rfc2822(date)
            .unwrap_or_else(|e| panic!("Date {date:?}: {e}"));
        assert!((date.timestamp() - chrono::Utc::now().timestamp()).abs() < 60);
        assert!(m.header("MIME-Version").is_some());
        assert!(m.header("List-Unsubscribe").is_none());

        assert!(
            m.content_type().starts_with("multipart/alternative"),
            "{}",
            m.content_type()
        );
        let parts = m.parts();
        assert_eq!(parts.len(), 2, "{}", mail.data);
        assert!(
            parts[0].content_type().starts_with("text/plain"),
            "{}",
            parts[0].content_type()
        );
        assert!(parts[0].content_type().contains("charset=utf-8"));
        assert_eq!(parts[0].text(), "Hi Ana & <Bob>");
        assert!(
            parts[1].content_type().starts_with("text/html"),
            "{}",
            parts[1].content_type()
        );
        assert_eq!(parts[1].text(), "<p>Hi Ana &amp; &lt;Bob&gt;</p>");

        let d = app.wait_for_status(&id, "sent").await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{d:#}");
        let a = &attempts[0];
        assert_eq!(a["outcome"], "ok");
        assert_eq!(a["provider"], "smtp");
        assert_eq!(a["status_code"], 250);
        let response = a["response"].as_str().unwrap();
        assert!(response.starts_with("250 "), "{response}");
        assert!(
            response.contains(&format!("message-id={message_id}")),
            "{response}"
        );
        assert!(a["error"].is_null());
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_subjects_and_portuguese_text_arrive_encoded_and_intact() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = smtp_app(&b, &server).await;
        let content = json!({"email": {
            "subject": "订单 {{id}} 已发货",
            "text": "Olá, {{name}} — seu pedido {{id}} já saiu.",
            "html": "<p>Olá, {{name}} — seu pedido {{id}} já saiu.</p>",
        }});
        let id = send_email(
            &app,
            content,
            "joao@example.com",
            json!({"id": 1001, "name": "João"}),
            "transactional",
        )
        .await;
        let got = server.wait_for(1, Duration::from_secs(10)).await;
        let raw = &got[0].data;
        assert!(
            raw.is_ascii(),
            "headers and bodies must be encoded to 7-bit:\n{raw}"
        );
        let m = Mime::parse(raw);
        let subject = m.header("Subject").unwrap();
        assert!(
            subject.contains("=?utf-8?"),
            "the subject must be RFC 2047 encoded: {subject}"
        );
        assert_eq!(decode_header(subject), "订单 1001 已发货");
        let parts = m.parts();
        assert_eq!(parts[0].text(), "Olá, João — seu pedido 1001 já saiu.");
        assert_eq!(
            parts[1].text(),
            "<p>Olá, João — seu pedido 1001 já saiu.</p>"
        );
        let d = app.wait_for_status(&id, "sent").await;
        assert_eq!(d["content"]["subject"], "订单 1001 已发货");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketing_mail_carries_list_unsubscribe_and_transactional_does_not() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(
            &b,
            &smtp_toml(
                server.port,
                "unsubscribe = \"https://shop.example.com/unsubscribe?r={recipient}\"",
                "",
            ),
        )
        .await;
        let content = json!({"email": {"subject": "Sale", "text": "50% off"}});
        let id = send_email(
            &app,
            content.clone(),
            "ana@example.com",
            json!({}),
            "marketing",
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        let id2 = send_email(&app, content, "ana@example.com", json!({}), "transactional").await;
        app.wait_for_status(&id2, "sent").await;

        let got = server.wait_for(2, Duration::from_secs(10)).await;
        let marketing = got
            .iter()
            .map(|g| Mime::parse(&g.data))
            .find(|m| m.header("Message-ID").unwrap().contains(&id))
            .unwrap();
        assert_eq!(
            marketing.header("List-Unsubscribe"),
            Some("<https://shop.example.com/unsubscribe?r=ana%40example.com>")
        );
        assert_eq!(
            marketing.header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        // A single text part.
        assert!(
            marketing.content_type().starts_with("text/plain"),
            "{}",
            marketing.content_type()
        );
        assert_eq!(marketing.text().trim_end(), "50% off");

        let transactional = got
            .iter()
            .map(|g| Mime::parse(&g.data))
            .find(|m| m.header("Message-ID").unwrap().contains(&id2))
            .unwrap();
        assert!(transactional.header("List-Unsubscribe").is_none());
        assert!(transactional.header("List-Unsubscribe-Post").is_none());
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_reply_is_retried_until_sent() {
    each_backend(|b| async move {
        let server = SmtpServer::start(vec![451], 250).await;
        let app = smtp_app(&b, &server).await;
        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            json!({"id": 1, "name": "Ana"}),
            "transactional",
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = d["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 2, "{d:#}");
        assert_eq!(a[0]["outcome"], "transient");
        assert_eq!(a[0]["status_code"], 451);
        assert_eq!(a[0]["provider"], "smtp");
        assert_eq!(a[0]["response"], "451 4.3.0 try again later");
        assert!(
            a[0]["error"]
                .as_str()
                .unwrap()
                .contains("451 4.3.0 try again later"),
            "{:#}",
            a[0]
        );
        assert_eq!(a[1]["outcome"], "ok");
        assert_eq!(a[1]["status_code"], 250);
        // The same message both times: the Message-ID is stable across retries.
        let got = server.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got.iter().map(|g| g.reply).collect::<Vec<_>>(),
            vec![451, 250]
        );
        let ids: Vec<String> = got
            .iter()
            .map(|g| {
                Mime::parse(&g.data)
                    .header("Message-ID")
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[0], format!("<{id}@example.com>"));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_reply_fails_at_once() {
    each_backend(|b| async move {
        let server = SmtpServer::start(vec![], 550).await;
        let app = smtp_app(&b, &server).await;
        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            json!({"id": 1, "name": "Ana"}),
            "transactional",
        )
        .await;
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "permanent_error");
        let a = d["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 1, "{d:#}");
        assert_eq!(a[0]["outcome"], "permanent");
        assert_eq!(a[0]["status_code"], 550);
        assert_eq!(a[0]["response"], "550 5.1.1 mailbox unavailable");
        assert!(
            a[0]["error"].as_str().unwrap().contains("550"),
            "{:#}",
            a[0]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(server.count(), 1, "nothing more may be sent");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_fails_and_the_connection_is_reused_after_rset() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        server.refuse_recipient("gone@example.com", 550);
        let app = smtp_app(&b, &server).await;
        let data = json!({"id": 1, "name": "Ana"});
        let id = send_email(
            &app,
            order_content(),
            "gone@example.com",
            data.clone(),
            "transactional",
        )
        .await;
        let d = app.wait_for_status(&id, "failed").await;
        let a = &d["attempts"][0];
        assert_eq!(a["outcome"], "permanent");
        assert_eq!(a["status_code"], 550);
        assert!(a["error"].as_str().unwrap().contains("RCPT TO"), "{a:#}");

        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            data,
            "transactional",
        )
        .await;
        app.wait_for_status(&id, "sent").await;
        assert_eq!(
            server.count(),
            1,
            "only the accepted recipient reached DATA"
        );
        assert_eq!(server.connections(), 1, "{:?}", server.commands());
        assert!(
            server.commands().iter().any(|c| c == "RSET"),
            "{:?}",
            server.commands()
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_recorded_transient_error() {
    each_backend(|b| async move {
        // A port nothing listens on.
        let port = free_port();
        let app = spawn_app_with(&b, &smtp_toml(port, "", "")).await;
        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            json!({"id": 1, "name": "Ana"}),
            "transactional",
        )
        .await;
        // Two retries in the test schedule, then failed.
        let d = app.wait_for_status(&id, "failed").await;
        assert_eq!(d["reason"], "retries_exhausted", "{d:#}");
        let a = d["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 3, "{d:#}");
        for at in a {
            assert_eq!(at["outcome"], "transient", "{at:#}");
            assert_eq!(at["provider"], "smtp");
            assert!(at["status_code"].is_null());
            let e = at["error"].as_str().unwrap();
            assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
            assert!(e.to_lowercase().contains("refused"), "{e}");
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_hangs_times_out_and_its_connection_is_not_reused() {
    each_backend(|b| async move {
        // The first message gets no answer at all.
        let server = SmtpServer::start(vec![0], 250).await;
        let app = spawn_app_with(&b, &smtp_toml(server.port, "timeout = \"400ms\"", "")).await;
        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            json!({"id": 1, "name": "Ana"}),
            "transactional",
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = d["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 2, "{d:#}");
        assert_eq!(a[0]["outcome"], "transient");
        assert!(
            a[0]["error"].as_str().unwrap().contains("timed out"),
            "{:#}",
            a[0]
        );
        let ms = a[0]["duration_ms"].as_i64().unwrap();
        assert!((350..3000).contains(&ms), "took {ms} ms");
        assert_eq!(a[1]["outcome"], "ok");
        assert_eq!(
            server.connections(),
            2,
            "the timed-out session must be closed, not pooled"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticates_once_and_reuses_the_pooled_connection() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(
            &b,
            &smtp_toml(
                server.port,
                "",
                "username = \"missive\"\npassword = \"s3cret-pw\"\npool_size = 2",
            ),
        )
        .await;
        for n in 0..3 {
            let id = send_email(
                &app,
                order_content(),
                "ana@example.com",
                json!({"id": n, "name": "Ana"}),
                "transactional",
            )
            .await;
            let d = app.wait_for_status(&id, "sent").await;
            let text = d.to_string();
            assert!(
                !text.contains("s3cret-pw"),
                "the password must never be recorded: {text}"
            );
        }
        assert_eq!(server.count(), 3);
        assert_eq!(server.connections(), 1, "{:?}", server.commands());
        assert_eq!(
            server.credentials(),
            vec![("missive".to_string(), "s3cret-pw".to_string())]
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_provider_writes_an_eml_per_delivery() {
    each_backend(|b| async move {
        // The defaults: no SMTP, providers = ["file"].
        let app = spawn_app(&b).await;
        let id = send_email(
            &app,
            order_content(),
            "ana@example.com",
            json!({"id": 1001, "name": "Ana"}),
            "marketing",
        )
        .await;
        let d = app.wait_for_status(&id, "sent").await;
        let a = &d["attempts"][0];
        assert_eq!(a["provider"], "file");
        assert_eq!(a["outcome"], "ok");
        let message_id = format!("<{id}@localhost>");
        assert!(
            a["response"]
                .as_str()
                .unwrap()
                .contains(&format!("message-id={message_id}")),
            "{a:#}"
        );

        let path = app
            .db
            .dir
            .path()
            .join("outbox")
            .join("email")
            .join(format!("{id}.eml"));
        let raw =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let m = Mime::parse(&raw);
        assert_eq!(m.header("Subject"), Some("Order 1001 shipped"));
        assert_eq!(m.header("To"), Some("ana@example.com"));
        assert_eq!(m.header("Message-ID"), Some(message_id.as_str()));
        assert!(m.header("From").unwrap().contains("missive@localhost"));
        // The default unsubscribe target is a mailto:, with the recipient encoded.
        assert_eq!(
            m.header("List-Unsubscribe"),
            Some("<mailto:unsubscribe@localhost?subject=unsubscribe%20ana%40example.com>")
        );
        assert_eq!(m.parts().len(), 2);
        // Nothing half-written is left behind.
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![format!("{id}.eml")]);
        app.stop().await;
    })
    .await;
}

async fn start_error(b: &Backend, extra: &str) -> String {
    let db = TestDb::new(b);
    let cfg = Config::from_toml(&test_toml(&db, extra))
        .unwrap_or_else(|e| panic!("the config itself should read: {e}"));
    match App::build(cfg, Role::Serve).await {
        Ok(_) => panic!("start-up should fail with {extra}"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_stop_start_up_naming_the_key() {
    each_backend(|b| async move {
        let smtp = "[channels.email]\nproviders = [\"smtp\"]\n[channels.email.smtp]\n";
        let e = start_error(&b, &format!("{smtp}tls = \"sometimes\"")).await;
        assert!(e.contains("channels.email.smtp.tls"), "{e}");
        assert!(e.contains("sometimes"), "{e}");

        let e = start_error(&b, &format!("{smtp}port = 0")).await;
        assert!(e.contains("channels.email.smtp.port"), "{e}");

        // An unknown key is refused as the settings are read.
        let e = Config::from_toml(&format!("{smtp}hots = \"mail.example.com\""))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("channels.email.smtp.hots") && e.contains("channels.email.smtp.host"),
            "{e}"
        );

        let e = start_error(
            &b,
            &format!("{smtp}username = \"u\"\npassword = \"hunter2\"\npool_size = 0"),
        )
        .await;
        assert!(e.contains("channels.email.smtp.pool_size"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");

        let e = start_error(&b, "[channels.email]\nfrom = \"nobody\"").await;
        assert!(e.contains("channels.email.from"), "{e}");
    })
    .await;
}
