//! Receipts and the suppression list end to end: a local Twilio that checks
//! the StatusCallback missive asks for, then callbacks signed here (from
//! Twilio's documented scheme, not with missive's code) and forged ones;
//! email through the real SMTP test server carrying the correlation
//! headers, then SendGrid- and Postmark-shaped events; the address on the
//! list, and the next send to it suppressed without reaching the server;
//! the list managed over the API and the console; bounds on bodies.

use std::time::Duration;

use base64::Engine;
use hmac::Mac;
use serde_json::{json, Value};

use crate::console::ConsoleClient;
use crate::email::smtp_toml;
use crate::helpers::*;
use crate::sms::{send_sms, with_from, FakeTwilio, PHONE, TOKEN};

const PUBLIC: &str = "https://missive.example.com";
pub(crate) const SG_SECRET: &str = "sg-receipts-secret";
const PM_SECRET: &str = "pm-receipts-secret";

/// Twilio's X-Twilio-Signature of `url` and `params`, made as its
/// documentation says.
fn twilio_sign(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts a Twilio status callback for `delivery`, signed with `token`
/// (or with `signature` as given, when `Some`).
async fn twilio_callback(
    app: &TestApp,
    delivery: &str,
    params: &[(&str, &str)],
    token: &str,
    signature: Option<&str>,
) -> reqwest::Response {
    let path = format!("/v1/receipts/twilio?d={delivery}");
    let signed = twilio_sign(token, &format!("{PUBLIC}{path}"), params);
    let mut req = app.client.post(app.url(&path)).form(params);
    match signature {
        Some("") => {}
        Some(s) => req = req.header("X-Twilio-Signature", s),
        None => req = req.header("X-Twilio-Signature", signed),
    }
    req.send().await.unwrap()
}

fn callback_params<'a>(status: &'a str, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", crate::sms::SID),
        ("ApiVersion", "2010-04-01"),
        ("ErrorCode", code),
        ("From", crate::sms::FROM),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("MessageStatus", status),
        ("SmsStatus", status),
        ("To", PHONE),
    ]
}

async fn delivery(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/v1/deliveries/{id}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_callbacks_are_checked_and_move_the_delivery_forward_only() {
    each_backend(|b| async move {
        let tw = FakeTwilio::start(vec![]).await;
        let cfg = format!(
            "{}\n[server]\npublic_url = \"{PUBLIC}/\"\n",
            tw.toml(&with_from(), TOKEN)
        );
        let app = spawn_app_with(&b, &cfg).await;
        let id = send_sms(&app, "Code {{code}}", json!({"code": "1"})).await;
        app.wait_for_status(&id, "sent").await;
        // missive asked Twilio to call back with this delivery's id.
        let got = tw.requests();
        assert_eq!(
            got[0].form.get("StatusCallback").map(String::as_str),
            Some(format!("{PUBLIC}/v1/receipts/twilio?d={id}").as_str()),
            "{:?}",
            got[0].form
        );

        // Forged, missing, or signed with another token: 403, nothing changes.
        let delivered = callback_params("delivered", "");
        for (token, sig) in [
            (TOKEN, Some("bm90IGEgc2lnbmF0dXJl")),
            (TOKEN, Some("")),
            ("another-account-token", None),
        ] {
            let r = twilio_callback(&app, &id, &delivered, token, sig).await;
            assert_eq!(r.status(), 403, "{sig:?}");
            let p: Value = r.json().await.unwrap();
            assert!(
                p["detail"].as_str().unwrap().contains("X-Twilio-Signature"),
                "{p}"
            );
        }
        // Signed, but for another delivery than the URL names.
        let path = format!("/v1/receipts/twilio?d={id}");
        let other = twilio_sign(
            TOKEN,
            &format!("{PUBLIC}/v1/receipts/twilio?d=x"),
            &delivered,
        );
        let r = app
            .client
            .post(app.url(&path))
            .header("X-Twilio-Signature", other)
            .form(&delivered)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let d = delivery(&app, &id).await;
        assert_eq!(d["status"], "sent");
        assert_eq!(d["receipts"], json!([]));

        // Twilio's intermediate `sent` is noted; `delivered` moves it.
        let r = twilio_callback(&app, &id, &callback_params("sent", ""), TOKEN, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"moved": 0, "recorded": 1, "unknown": 0})
        );
        let r = twilio_callback(&app, &id, &delivered, TOKEN, None).await;
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"moved": 1, "recorded": 1, "unknown": 0})
        );
        let d = delivery(&app, &id).await;
        assert_eq!(d["status"], "delivered");
        let receipts = d["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), 2, "{d:#}");
        assert_eq!(receipts[1]["source"], "twilio");
        assert_eq!(receipts[1]["event"], "delivered");
        assert_eq!(receipts[1]["moved"], true);
        assert!(
            receipts[1]["detail"]
                .as_str()
                .unwrap()
                .contains("MessageSid=SM0123456789abcdef0123456789abcdef"),
            "{d:#}"
        );
        // The same callback again changes nothing and adds nothing.
        let r = twilio_callback(&app, &id, &delivered, TOKEN, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            delivery(&app, &id).await["receipts"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // A second message to the number fails for good: unknown handset.
        let id2 = send_sms(&app, "Code {{code}}", json!({"code": "2"})).await;
        app.wait_for_status(&id2, "sent").await;
        let r = twilio_callback(
            &app,
            &id2,
            &callback_params("undelivered", "30005"),
            TOKEN,
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
        let d = delivery(&app, &id2).await;
        assert_eq!(d["status"], "bounced", "{d:#}");
        assert!(
            d["last_error"]
                .as_str()
                .unwrap()
                .contains("ErrorCode=30005"),
            "{d:#}"
        );
        // A late `delivered` does not undo the bounce.
        twilio_callback(&app, &id2, &delivered, TOKEN, None).await;
        let d = delivery(&app, &id2).await;
        assert_eq!(d["status"], "bounced");
        assert_eq!(d["receipts"][1]["moved"], false, "{d:#}");

        // The number is on the list; the next send to it is suppressed
        // without calling Twilio.
        let s = app
            .get_json(&format!(
                "/v1/suppressions/sms/{}",
                PHONE.replace('+', "%2B")
            ))
            .await;
        assert_eq!(s["reason"], "bounced");
        assert_eq!(s["source"], "twilio");
        assert_eq!(s["delivery_id"], id2.as_str());
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"sms": {"text": "hi"}}, "to": [{"phone": PHONE}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["deliveries"][0]["status"], "suppressed", "{body:#}");
        assert_eq!(body["deliveries"][0]["reason"], "bounced", "{body:#}");
        assert_eq!(tw.requests().len(), 2);

        // A signed callback for a delivery that is not here: acknowledged.
        let r = twilio_callback(&app, "0190000-gone", &delivered, TOKEN, None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["unknown"], 1);
        app.stop().await;
    })
    .await;
}

pub(crate) fn email_config(port: u16) -> String {
    format!(
        "{}\n[receipts]\nsendgrid_secret = \"{SG_SECRET}\"\npostmark_secret = \"{PM_SECRET}\"\nmax_body_bytes = 4096\n",
        smtp_toml(port, "", "")
    )
}

/// Sends one email to each of `to` in one notification; their delivery ids.
async fn send_emails(app: &TestApp, to: &[&str]) -> Vec<Value> {
    let to: Vec<Value> = to.iter().map(|a| json!({"email": a})).collect();
    let r = app
        .post(
            "/v1/notifications",
            &json!({"content": {"email": {"subject": "Hi", "text": "Hello"}}, "to": to}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    body["deliveries"].as_array().unwrap().clone()
}

pub(crate) async fn post_events(
    app: &TestApp,
    source: &str,
    auth: Option<(&str, &str)>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/receipts/{source}")))
        .json(body);
    if let Some((user, password)) = auth {
        req = req.basic_auth(user, Some(password));
    }
    req.send().await.unwrap()
}

/// The header `name` of a received message, unfolded.
fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    let head = &data[..data.find("\r\n\r\n").unwrap_or(data.len())];
    head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_events_move_deliveries_and_list_bounced_addresses() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &email_config(server.port)).await;
        let sent = send_emails(&app, &["ana@example.com", "Bo@Example.com"]).await;
        let (ana, bo) = (
            sent[0]["id"].as_str().unwrap().to_string(),
            sent[1]["id"].as_str().unwrap().to_string(),
        );
        app.wait_for_status(&ana, "sent").await;
        app.wait_for_status(&bo, "sent").await;
        // Each message names its delivery in missive's and the providers' headers.
        let mails = server.wait_for(2, Duration::from_secs(10)).await;
        for (id, address) in [(&ana, "ana@example.com"), (&bo, "Bo@Example.com")] {
            let m = mails
                .iter()
                .find(|m| m.to.iter().any(|t| t == address))
                .unwrap_or_else(|| panic!("no mail to {address}"));
            assert_eq!(header(&m.data, "X-Missive-Delivery"), Some(id.as_str()));
            let api: Value =
                serde_json::from_str(header(&m.data, "X-SMTPAPI").unwrap()).unwrap();
            assert_eq!(api["unique_args"]["missive_delivery"], id.as_str());
            assert_eq!(
                header(&m.data, "X-PM-Metadata-missive_delivery"),
                Some(id.as_str())
            );
        }

        let events = json!([
            {"email": "ana@example.com", "event": "processed", "missive_delivery": ana},
            {"email": "ana@example.com", "event": "delivered", "response": "250 2.0.0 OK",
             "sg_event_id": "ev1", "missive_delivery": ana},
            {"email": "bo@example.com", "event": "bounce", "type": "bounce", "status": "5.1.1",
             "reason": "550 5.1.1 The email account does not exist", "missive_delivery": bo},
            {"email": "ana@example.com", "event": "open", "missive_delivery": ana},
            {"email": "x@example.com", "event": "delivered", "missive_delivery": "0190000-not-ours"},
            {"email": "y@example.com", "event": "delivered"}
        ]);
        // Without the secret, or with another: 401, nothing applied.
        for auth in [None, Some(("missive", "wrong")), Some(("missive", PM_SECRET))] {
            let r = post_events(&app, "sendgrid", auth, &events).await;
            assert_eq!(r.status(), 401, "{auth:?}");
        }
        assert_eq!(delivery(&app, &ana).await["status"], "sent");

        let r = post_events(&app, "sendgrid", Some(("missive", SG_SECRET)), &events).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"moved": 2, "recorded": 2, "unknown": 1})
        );
        assert_eq!(delivery(&app, &ana).await["status"], "delivered");
        let d = delivery(&app, &bo).await;
        assert_eq!(d["status"], "bounced");
        assert!(d["receipts"][0]["detail"].as_str().unwrap().contains("550 5.1.1"), "{d:#}");

        // Late and repeated events: the bounce stays.
        let late = json!([{"event": "delivered", "missive_delivery": bo}]);
        post_events(&app, "sendgrid", Some(("missive", SG_SECRET)), &late).await;
        assert_eq!(delivery(&app, &bo).await["status"], "bounced");
        // A complaint outranks delivered, and lists that address too.
        let spam = json!([{"event": "spamreport", "email": "ana@example.com", "missive_delivery": ana}]);
        post_events(&app, "sendgrid", Some(("missive", SG_SECRET)), &spam).await;
        assert_eq!(delivery(&app, &ana).await["status"], "complained");

        let list = app.get_json("/v1/suppressions?channel=email").await;
        let items = list["items"].as_array().unwrap();
        let listed: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|s| {
                (
                    s["address"].as_str().unwrap(),
                    s["reason"].as_str().unwrap(),
                    s["source"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("ana@example.com", "complained", "sendgrid"),
                ("bo@example.com", "bounced", "sendgrid")
            ]
        );

        // The next mail to Bo is suppressed without reaching the server;
        // one to someone else in the same request goes.
        let before = server.count();
        let next = send_emails(&app, &["BO@example.com", "cy@example.com"]).await;
        assert_eq!(next[0]["status"], "suppressed", "{next:?}");
        assert_eq!(next[0]["reason"], "bounced", "{next:?}");
        app.wait_for_status(next[1]["id"].as_str().unwrap(), "sent").await;
        let mails = server.messages();
        assert_eq!(mails.len(), before + 1);
        assert!(
            !mails[before..].iter().any(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case("bo@example.com"))),
            "a suppressed address was sent to"
        );
        // Counted by source and outcome.
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            "missive_receipts_total{source=\"sendgrid\",outcome=\"delivered\"} 1",
            "missive_receipts_total{source=\"sendgrid\",outcome=\"bounced\"} 1",
            "missive_receipts_total{source=\"sendgrid\",outcome=\"complained\"} 1",
            "missive_receipts_total{source=\"sendgrid\",outcome=\"unknown\"} 1",
            "missive_suppression_list_additions_total{channel=\"email\"} 2",
            "missive_suppressions_total{channel=\"email\",reason=\"bounced\"} 1",
        ] {
            assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
        }
        let d = delivery(&app, next[0]["id"].as_str().unwrap()).await;
        assert_eq!((d["status"].as_str(), d["attempts"].as_array().map(Vec::len)), (Some("suppressed"), Some(0)));
        // And in the delivery statistics: each move beside the sends it
        // follows, which alone make the total.
        let report = app.get_json("/v1/stats?group_by=channel&window=1h").await;
        let email = report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == "email")
            .unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(
            email["counts"],
            json!({"sent": 3, "delivered": 1, "bounced": 1, "complained": 1, "suppressed": 1}),
            "{report:#}"
        );
        assert_eq!(email["total"], 4, "{report:#}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postmark_webhooks_move_deliveries_and_list_addresses() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &email_config(server.port)).await;
        let sent = send_emails(&app, &["dee@example.com", "eve@example.com", "fay@example.com"]).await;
        let ids: Vec<String> = sent.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
        for id in &ids {
            app.wait_for_status(id, "sent").await;
        }
        let auth = Some(("missive", PM_SECRET));
        let r = post_events(
            &app,
            "postmark",
            Some(("missive", SG_SECRET)),
            &json!({"RecordType": "Delivery", "Metadata": {"missive_delivery": ids[0]}}),
        )
        .await;
        assert_eq!(r.status(), 401);

        let delivery_rec = json!({"RecordType": "Delivery", "MessageID": "pm-1", "Recipient": "dee@example.com",
            "Details": "Test delivery webhook details", "Metadata": {"missive_delivery": ids[0]}});
        let hard = json!({"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1,
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": "eve@example.com", "Metadata": {"missive_delivery": ids[1]}});
        let soft = json!({"RecordType": "Bounce", "Type": "SoftBounce", "TypeCode": 4096,
            "Description": "Mailbox full", "Email": "fay@example.com", "Metadata": {"missive_delivery": ids[2]}});
        let complaint = json!({"RecordType": "SpamComplaint", "Type": "SpamComplaint", "TypeCode": 512,
            "Email": "dee@example.com", "Metadata": {"missive_delivery": ids[0]}});
        let open = json!({"RecordType": "Open", "Metadata": {"missive_delivery": ids[0]}});
        for rec in [&delivery_rec, &hard, &soft, &open] {
            let r = post_events(&app, "postmark", auth, rec).await;
            assert_eq!(r.status(), 200, "{rec}");
        }
        assert_eq!(delivery(&app, &ids[0]).await["status"], "delivered");
        let d = delivery(&app, &ids[1]).await;
        assert_eq!(d["status"], "bounced");
        assert_eq!(d["receipts"][0]["event"], "HardBounce");
        assert_eq!(delivery(&app, &ids[2]).await["status"], "undelivered");
        post_events(&app, "postmark", auth, &complaint).await;
        assert_eq!(delivery(&app, &ids[0]).await["status"], "complained");

        // Hard bounce and complaint are listed; the soft bounce is not.
        let list = app.get_json("/v1/suppressions").await;
        let listed: Vec<(&str, &str)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["address"].as_str().unwrap(), s["reason"].as_str().unwrap()))
            .collect();
        assert_eq!(listed, [("dee@example.com", "complained"), ("eve@example.com", "bounced")]);
        let next = send_emails(&app, &["eve@example.com", "dee@example.com", "fay@example.com"]).await;
        let reasons: Vec<(&str, Option<&str>)> = next
            .iter()
            .map(|d| (d["status"].as_str().unwrap(), d["reason"].as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("suppressed", Some("bounced")),
                ("suppressed", Some("complained")),
                ("queued", None)
            ]
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_bodies_are_bounded_and_checked() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &email_config(server.port)).await;
        let auth = Some(("missive", SG_SECRET));
        // Over receipts.max_body_bytes (4096 here): 413.
        let big: Vec<Value> = (0..100)
            .map(|i| json!({"event": "delivered", "missive_delivery": format!("id-{i}")}))
            .collect();
        let r = post_events(&app, "sendgrid", auth, &json!(big)).await;
        assert_eq!(r.status(), 413);
        assert!(r.text().await.unwrap().contains("receipts.max_body_bytes"));
        // Not JSON, not an array: 422 naming the body.
        let r = app
            .client
            .post(app.url("/v1/receipts/sendgrid"))
            .basic_auth("missive", Some(SG_SECRET))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "body", "{p}");
        let r = post_events(&app, "sendgrid", auth, &json!({"event": "delivered"})).await;
        assert_eq!(r.status(), 422);
        // Twilio receipts are off without server.public_url and a Twilio provider.
        let r = app
            .client
            .post(app.url("/v1/receipts/twilio?d=x"))
            .form(&[("MessageStatus", "delivered")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("server.public_url"));
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressions_are_managed_over_the_api_with_scopes() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let rx = Receiver::start().await;
        // Added by hand: 201, then 200; email addresses kept lower-case.
        let r = app
            .put(
                "/v1/suppressions/email/Ana@Example.com",
                &json!({"reason": "complained", "detail": "asked us by phone"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let s: Value = r.json().await.unwrap();
        assert_eq!((s["address"].as_str(), s["source"].as_str()), (Some("ana@example.com"), Some("api")));
        let r = app
            .put("/v1/suppressions/email/ana@example.com", &json!({"reason": "bounced"}))
            .await;
        assert_eq!(r.status(), 200);
        for n in ["+15005550001", "+15005550002", "+15005550003"] {
            let r = app
                .put(&format!("/v1/suppressions/sms/{}", n.replace('+', "%2B")), &json!({"reason": "bounced"}))
                .await;
            assert_eq!(r.status(), 201);
        }

        // Bad input names the field.
        for (path, body, field) in [
            ("/v1/suppressions/webhook/x", json!({"reason": "bounced"}), "channel"),
            ("/v1/suppressions/email/not-an-address", json!({"reason": "bounced"}), "address"),
            ("/v1/suppressions/email/ana@example.com", json!({"reason": "whim"}), "reason"),
            ("/v1/suppressions/email/ana@example.com", json!({}), "reason"),
        ] {
            let r = app.put(path, &body).await;
            assert_eq!(r.status(), 422, "{path} {body}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], field, "{p}");
        }
        let r = app.get("/v1/suppressions?channel=in_app").await;
        assert_eq!(r.status(), 422);
        let r = app.get("/v1/suppressions?limit=0").await;
        assert_eq!(r.status(), 422);

        // Pages, by channel and address.
        let first = app.get_json("/v1/suppressions?channel=sms&limit=2").await;
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let rest = app
            .get_json(&format!("/v1/suppressions?channel=sms&limit=2&cursor={}", cursor.replace('+', "%2B")))
            .await;
        assert_eq!(rest["items"][0]["address"], "+15005550003");
        assert_eq!(rest["next_cursor"], Value::Null);
        assert_eq!(app.get_json("/v1/suppressions?reason=bounced").await["items"].as_array().unwrap().len(), 4);

        // A send to the address is suppressed; another channel is not.
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"email": {"subject": "s", "text": "t"}, "webhook": {"body": "{}"}},
                        "to": [{"email": "ANA@example.com", "webhook_url": rx.url}]}),
            )
            .await;
        let body: Value = r.json().await.unwrap();
        let by_channel = |c: &str| {
            body["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["channel"] == c)
                .cloned()
                .unwrap()
        };
        assert_eq!(by_channel("email")["reason"], "bounced", "{body:#}");
        assert_eq!(by_channel("webhook")["status"], "queued", "{body:#}");

        // Scopes: `read` lists but does not change; `send` does neither.
        let read = crate::authz::make_key(&app, "read").await;
        let send = crate::authz::make_key(&app, "send").await;
        let get = |key: &str| {
            app.client
                .get(app.url("/v1/suppressions"))
                .bearer_auth(key.to_string())
                .send()
        };
        assert_eq!(get(&read).await.unwrap().status(), 200);
        assert_eq!(get(&send).await.unwrap().status(), 403);
        let r = app
            .client
            .delete(app.url("/v1/suppressions/email/ana@example.com"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);

        // Removed: 204, then 404; sends go to it again.
        let del = || app.client.delete(app.url("/v1/suppressions/email/ana@example.com")).bearer_auth(&app.key).send();
        assert_eq!(del().await.unwrap().status(), 204);
        assert_eq!(del().await.unwrap().status(), 404);
        assert_eq!(app.get("/v1/suppressions/email/ana@example.com").await.status(), 404);
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"email": {"subject": "s", "text": "t"}}, "to": [{"email": "ana@example.com"}]}),
            )
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["deliveries"][0]["status"], "queued", "{body:#}");
        app.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_adds_and_removes_suppressions() {
    let b = &backends()[0];
    let app = spawn_app(b).await;
    let c = ConsoleClient::new(&app);
    c.sign_in(&app.key).await;
    let csrf = c.csrf().await;
    let r = c
        .submit(
            "/console/suppressions",
            &[
                ("csrf", &csrf),
                ("channel", "email"),
                ("address", "Gus@Example.com"),
                ("reason", "bounced"),
                ("detail", "typo domain"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let (status, html) = c.page("/console/suppressions").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("gus@example.com") && html.contains("typo domain"),
        "{html}"
    );
    let s = app.get_json("/v1/suppressions/email/gus@example.com").await;
    assert_eq!(s["source"], "console");
    // A read-only key sees the list but no forms to change it.
    let read = crate::authz::make_key(&app, "read").await;
    let rc = ConsoleClient::new(&app);
    rc.sign_in(&read).await;
    let (status, html) = rc.page("/console/suppressions?channel=email").await;
    assert_eq!(status, 200);
    assert!(html.contains("gus@example.com") && !html.contains("/console/suppressions/remove"));
    let rcsrf = rc.csrf().await;
    let r = rc
        .submit(
            "/console/suppressions/remove",
            &[
                ("csrf", &rcsrf),
                ("channel", "email"),
                ("address", "gus@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // The admin removes it.
    let r = c
        .submit(
            "/console/suppressions/remove",
            &[
                ("csrf", &csrf),
                ("channel", "email"),
                ("address", "gus@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.get("/v1/suppressions/email/gus@example.com")
            .await
            .status(),
        404
    );
    let (_, html) = c.page("/console/suppressions").await;
    assert!(html.contains("No suppressed addresses."), "{html}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_beats_the_outcome_is_kept_and_its_retry_moves_the_delivery() {
    each_backend(|b| async move {
        let server = SmtpServer::accepting().await;
        let app = spawn_app_with(&b, &email_config(server.port)).await;
        let sent = send_emails(&app, &["hal@example.com"]).await;
        let id = sent[0]["id"].as_str().unwrap().to_string();
        app.wait_for_status(&id, "sent").await;
        // As if the provider's receipt came before the outcome was written
        // (a lease far ahead, so no worker claims it again meanwhile).
        app.db
            .execute(&format!(
                "UPDATE deliveries SET status = 'sending', due_at = 99999999999999 WHERE id = '{id}'"
            ))
            .await;
        let bounce = json!([{"event": "bounce", "type": "bounce", "reason": "550 no such user",
                             "missive_delivery": id}]);
        let auth = Some(("missive", SG_SECRET));
        // Recorded, and 409: SendGrid sends the batch again later.
        let r = post_events(&app, "sendgrid", auth, &bounce).await;
        assert_eq!(r.status(), 409);
        let d = delivery(&app, &id).await;
        assert_eq!(d["status"], "sending");
        assert_eq!(d["receipts"][0]["moved"], false);
        // The address is bad whatever the delivery's status says.
        assert_eq!(
            app.get_json("/v1/suppressions/email/hal@example.com").await["reason"],
            "bounced"
        );
        app.db
            .execute(&format!(
                "UPDATE deliveries SET status = 'sent', due_at = NULL WHERE id = '{id}'"
            ))
            .await;
        // SendGrid retries the same event: now it moves, and the move is recorded.
        let r = post_events(&app, "sendgrid", auth, &bounce).await;
        assert_eq!(r.json::<Value>().await.unwrap()["moved"], 1);
        let d = delivery(&app, &id).await;
        assert_eq!(d["status"], "bounced");
        assert_eq!(d["receipts"].as_array().unwrap().len(), 2, "{d:#}");
        // Once more: nothing to move, nothing recorded.
        let r = post_events(&app, "sendgrid", auth, &bounce).await;
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"moved": 0, "recorded": 0, "unknown": 0})
        );
        assert_eq!(
            delivery(&app, &id).await["receipts"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        app.stop().await;
    })
    .await;
}
