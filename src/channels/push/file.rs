//! The `file` provider: one `<delivery_id>.json` per push message in the
//! outbox (DATA_DIR/outbox/push unless set), the zero-configuration
//! default: the payload as a device would get it and the devices it would
//! go to.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{PushOutcome, PushProvider};
use crate::channels::outbox::Outbox;
use crate::channels::Message;
use crate::store::DeviceRow;

#[async_trait]
impl PushProvider for Outbox {
    async fn send(&self, msg: &Message<'_>, payload: &Value, devices: &[DeviceRow]) -> PushOutcome {
        let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
        let mut body = serde_json::to_vec_pretty(&json!({
            "to": msg.address,
            "devices": ids,
            "payload": payload,
            "delivery_id": msg.delivery_id,
            "notification_id": msg.notification_id,
        }))
        .expect("a JSON object serializes");
        body.push(b'\n');
        let r = self.deliver(msg.delivery_id, "json", &body, "").await;
        let mut out = PushOutcome::new(&self.name);
        out.add_whole(r);
        out
    }

    fn device_kind(&self) -> Option<&str> {
        None
    }
}
