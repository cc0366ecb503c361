//! Retention: the purge removes what finished before the cutoff, and a
//! notification only once none of its deliveries is left, so no delivery
//! outlives its notification (the database does not check that for it).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

const DAY: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_stays_while_any_of_its_deliveries_does() {
    each_backend(|backend| async move {
        let app = spawn_app(&backend).await;
        let rx = Receiver::start().await;
        let r = app
            .post(
                "/v1/notifications",
                &json!({"content": {"webhook": {"body": "{\"n\": 1}"}},
                        "to": [{"webhook_url": rx.url}, {"webhook_url": format!("{}?second", rx.url)}]}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let two: Value = r.json().await.unwrap();
        let one = app.send_webhook(&rx.url, json!({"n": 2})).await;
        let id = |v: &Value, i: usize| v["deliveries"][i]["id"].as_str().unwrap().to_string();
        let (kept, finished, alone) = (id(&two, 1), id(&two, 0), id(&one, 0));
        for d in [&kept, &finished, &alone] {
            app.wait_for_status(d, "sent").await;
        }
        rx.wait_for(3, Duration::from_secs(10)).await;

        // Ten days old, and one delivery of the first notification still
        // waiting for a retry.
        app.db
            .execute(&format!(
                "UPDATE deliveries SET created_at = created_at - {t}, updated_at = updated_at - {t}",
                t = 10 * DAY
            ))
            .await;
        app.db
            .execute(&format!(
                "UPDATE notifications SET created_at = created_at - {}",
                10 * DAY
            ))
            .await;
        let far = missive::util::now_ms() + 30 * DAY;
        app.db
            .execute(&format!(
                "UPDATE deliveries SET status = 'retrying', due_at = {far} WHERE id = '{kept}'"
            ))
            .await;

        let cutoff = missive::util::now_ms() - 7 * DAY;
        assert_eq!(app.state.store.purge_finished(cutoff).await.unwrap(), 2);
        let status = |path: String| {
            let app = &app;
            async move { app.get(&path).await.status().as_u16() }
        };
        assert_eq!(status(format!("/v1/deliveries/{finished}")).await, 404);
        assert_eq!(status(format!("/v1/deliveries/{alone}")).await, 404);
        assert_eq!(status(format!("/v1/deliveries/{kept}")).await, 200);
        let first = two["id"].as_str().unwrap();
        let n = app.get_json(&format!("/v1/notifications/{first}")).await;
        assert_eq!(n["id"], first, "kept while a delivery of it waits: {n}");
        let second = one["id"].as_str().unwrap();
        assert_eq!(status(format!("/v1/notifications/{second}")).await, 404);

        // Once its last delivery has finished (long ago), it goes too.
        app.db
            .execute(&format!(
                "UPDATE deliveries SET status = 'failed', due_at = NULL WHERE id = '{kept}'"
            ))
            .await;
        assert_eq!(app.state.store.purge_finished(cutoff).await.unwrap(), 1);
        assert_eq!(status(format!("/v1/deliveries/{kept}")).await, 404);
        assert_eq!(status(format!("/v1/notifications/{first}")).await, 404);
        app.stop().await;
    })
    .await;
}
