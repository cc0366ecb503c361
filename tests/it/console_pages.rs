//! What keeps the console fast on a large log: time filters read an id
//! range, and the overview's last-day counts are kept between loads.

use serde_json::json;

use crate::helpers::*;
use crate::webhook::urlencode;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_range_of_one_millisecond_finds_the_deliveries_made_in_it() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let receiver = Receiver::start().await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let r = app.send_webhook(&receiver.url, json!({"n": n})).await;
            ids.push(r["deliveries"][0]["id"].as_str().unwrap().to_string());
        }
        for id in &ids {
            let row = app.state.store.get_delivery(id).await.unwrap().unwrap();
            let path = format!(
                "/v1/deliveries?since={}&until={}",
                urlencode(&rfc3339(row.created_at)),
                urlencode(&rfc3339(row.created_at + 1))
            );
            let items = app.get_json(&path).await["items"]
                .as_array()
                .unwrap()
                .clone();
            assert!(
                items.iter().any(|d| d["id"] == id.as_str()),
                "{id} (created at {}) not in {path}: {items:?}",
                row.created_at
            );
            for d in &items {
                let other = d["id"].as_str().unwrap();
                let created = app
                    .state
                    .store
                    .get_delivery(other)
                    .await
                    .unwrap()
                    .unwrap()
                    .created_at;
                assert_eq!(created, row.created_at, "{other} is outside {path}");
            }
        }
        app.stop().await;
    })
    .await;
}

/// Signs in to the console; returns the `missive_session=…` cookie.
async fn console_cookie(app: &TestApp) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(app.url("/console/login"))
        .form(&[("key", app.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "console sign-in");
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The big number of the overview card titled `title`.
fn card(html: &str, title: &str) -> i64 {
    let at = html
        .find(&format!("<h2>{title}</h2>"))
        .unwrap_or_else(|| panic!("no card {title:?} in {html}"));
    let rest = &html[at..];
    let start = rest.find("<p class=\"big\">").unwrap() + "<p class=\"big\">".len();
    rest[start..start + rest[start..].find('<').unwrap()]
        .parse()
        .unwrap()
}

async fn overview(app: &TestApp, cookie: &str) -> String {
    let r = app
        .client
        .get(app.url("/console"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_keeps_the_days_counts_and_counts_the_hour_live() {
    each_backend(|b| async move {
        let app = spawn_app_with(&b, "[console]\nday_counts_max_age = \"1h\"\n").await;
        let receiver = Receiver::start().await;
        let cookie = console_cookie(&app).await;
        app.send_webhook(&receiver.url, json!({"n": 1})).await;
        let first = overview(&app, &cookie).await;
        assert_eq!(card(&first, "Last 24 hours"), 1);
        assert_eq!(card(&first, "Last hour"), 1);

        app.send_webhook(&receiver.url, json!({"n": 2})).await;
        let second = overview(&app, &cookie).await;
        assert_eq!(
            card(&second, "Last hour"),
            2,
            "the hour is counted on every load"
        );
        assert_eq!(
            card(&second, "Last 24 hours"),
            1,
            "the day's count is kept for an hour"
        );
        app.stop().await;

        // "0s": the day is counted on every load too.
        let app = spawn_app_with(&b, "[console]\nday_counts_max_age = \"0s\"\n").await;
        let cookie = console_cookie(&app).await;
        app.send_webhook(&receiver.url, json!({"n": 1})).await;
        assert_eq!(card(&overview(&app, &cookie).await, "Last 24 hours"), 1);
        app.send_webhook(&receiver.url, json!({"n": 2})).await;
        assert_eq!(card(&overview(&app, &cookie).await, "Last 24 hours"), 2);
        app.stop().await;
    })
    .await;
}
