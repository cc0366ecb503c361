//! The `file` provider: one `<delivery_id>.json` per message in the
//! outbox (DATA_DIR/outbox/chat unless set), the zero-configuration
//! default. It takes any address, whole, so a deployment with no chat
//! provider still shows what would have been sent and where.

use async_trait::async_trait;
use serde_json::json;

use super::{ChatMessage, ChatProvider};
use crate::channels::outbox::Outbox;
use crate::channels::{Message, SendResult};

#[async_trait]
impl ChatProvider for Outbox {
    async fn send(
        &self,
        target: Option<&str>,
        m: &ChatMessage<'_>,
        msg: &Message<'_>,
    ) -> SendResult {
        let blocks = m
            .blocks
            .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap_or_else(|_| json!(b)));
        let mut body = serde_json::to_vec_pretty(&json!({
            "to": target.unwrap_or(msg.address),
            "title": m.title,
            "text": m.text,
            "blocks": blocks,
            "delivery_id": msg.delivery_id,
            "notification_id": msg.notification_id,
        }))
        .expect("a JSON object serializes");
        body.push(b'\n');
        self.deliver(msg.delivery_id, "json", &body, "").await
    }

    fn takes_any(&self) -> bool {
        true
    }
}
