//! The `file` provider: one `<delivery_id>.json` per message in the
//! outbox, the zero-configuration default. Writing, naming and the
//! attempt's result are the outbox's (shared with email); all that is the
//! SMS's is what the file holds.

use async_trait::async_trait;
use serde_json::json;

use super::SmsProvider;
use crate::channels::outbox::Outbox;
use crate::channels::{Message, SendResult};

/// Writes the number and the text, with the ids they belong to.
#[async_trait]
impl SmsProvider for Outbox {
    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult {
        let mut body = serde_json::to_vec_pretty(&json!({
            "to": to,
            "text": text,
            "delivery_id": msg.delivery_id,
            "notification_id": msg.notification_id,
        }))
        .expect("a JSON object serializes");
        body.push(b'\n');
        self.deliver(msg.delivery_id, "json", &body, "").await
    }
}
