//! The in-app channel: stores the message in the recipient's inbox (its
//! address is the recipient id) and pushes it to their open streams. The
//! delivery is sent once the message is stored; a retried or reclaimed
//! delivery finds its message there and stores no second one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{error_chain, Channel, Message, Outcome, SendResult};
use crate::inbox::Inbox;
use crate::store::NewInboxMessage;
use crate::util::{new_id, now_ms};

pub const NAME: &str = crate::domain::Channel::InApp.as_str();

/// Waits before retrying after a database error (then the delivery fails).
const RETRY_SCHEDULE: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];

pub struct InAppChannel {
    inbox: Arc<Inbox>,
}

impl InAppChannel {
    pub fn new(inbox: Arc<Inbox>) -> Self {
        InAppChannel { inbox }
    }
}

/// The inbox message for a delivery, from its rendered `in_app` parts.
pub fn new_message(msg: &Message<'_>, id: String, now: i64) -> NewInboxMessage {
    let part = |name: &str| {
        msg.content
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    NewInboxMessage {
        id,
        recipient: msg.address.to_string(),
        delivery_id: msg.delivery_id.to_string(),
        notification_id: msg.notification_id.to_string(),
        title: part("title"),
        body: part("body"),
        action_url: part("action_url"),
        category: msg.category.to_string(),
        created_at: now,
    }
}

/// What the inbox must never hold: a link that is not http(s) or a path
/// on the front end's own site (see `accept::check_link`).
pub fn check_message(m: &NewInboxMessage) -> Result<(), String> {
    match m.action_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => crate::domain::check::check_link(url).map_err(|e| format!("action_url {e}")),
        None => Ok(()),
    }
}

#[async_trait]
impl Channel for InAppChannel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn retry_schedule(&self) -> &[Duration] {
        &RETRY_SCHEDULE
    }

    fn max_retry_after(&self) -> Duration {
        Duration::ZERO
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let mut result = SendResult::new("inbox", Outcome::Ok);
        if msg.address.is_empty() {
            result.outcome = Outcome::Permanent;
            result.error = Some("an in-app delivery needs a recipient id".into());
            return result;
        }
        let m = new_message(msg, new_id(), now_ms());
        // Checked when accepted too; this catches content accepted before
        // that check, so no inbox ever shows a `javascript:` link.
        if let Err(e) = check_message(&m) {
            result.outcome = Outcome::Permanent;
            result.error = Some(e);
            return result;
        }
        match self.inbox.deliver(&m).await {
            Ok(true) => result.response = Some(format!("stored as inbox message {}", m.id)),
            Ok(false) => result.response = Some("already stored by an earlier attempt".into()),
            Err(e) => {
                result.outcome = Outcome::Transient;
                result.error = Some(format!("storing the inbox message: {}", error_chain(&e)));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_takes_the_rendered_parts() {
        let content =
            serde_json::json!({"title": "Hi Ana", "body": "Order 7", "action_url": "/o/7"});
        let content = content.as_object().unwrap();
        let msg = Message {
            delivery_id: "d1",
            notification_id: "n1",
            recipient: "u_1",
            category: "marketing",
            attempt: 1,
            address: "u_1",
            content,
            list_unsubscribe: None,
        };
        let m = new_message(&msg, "m1".into(), 42);
        assert_eq!(
            (
                m.recipient.as_str(),
                m.delivery_id.as_str(),
                m.category.as_str()
            ),
            ("u_1", "d1", "marketing")
        );
        assert_eq!(
            (
                m.title.as_deref(),
                m.body.as_deref(),
                m.action_url.as_deref()
            ),
            (Some("Hi Ana"), Some("Order 7"), Some("/o/7"))
        );
        let empty = serde_json::Map::new();
        let m = new_message(
            &Message {
                content: &empty,
                list_unsubscribe: None,
                ..msg
            },
            "m2".into(),
            42,
        );
        assert_eq!((m.title, m.body), (None, None));
    }

    #[test]
    fn a_script_link_is_never_stored() {
        let msg = |url: &str| {
            let content = serde_json::json!({"title": "Hi", "action_url": url});
            let m = Message {
                delivery_id: "d1",
                notification_id: "n1",
                recipient: "u_1",
                category: "transactional",
                attempt: 1,
                address: "u_1",
                content: content.as_object().unwrap(),
                list_unsubscribe: None,
            };
            new_message(&m, "m1".into(), 1)
        };
        for bad in [
            "javascript:alert(1)",
            " javascript:alert(1)",
            "JaVaScRiPt:x",
            "data:text/html,x",
            "//evil.example/x",
            "/\\evil.example",
            "vbscript:x",
        ] {
            assert!(
                check_message(&msg(bad)).unwrap_err().contains("action_url"),
                "{bad}"
            );
        }
        for good in [
            "/orders/7",
            "https://shop.example/o/7",
            "http://localhost:3000/x",
            "",
        ] {
            assert!(check_message(&msg(good)).is_ok(), "{good}");
        }
    }
}
