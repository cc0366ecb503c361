//! The `file` provider: one `<delivery_id>.eml` per message in the outbox,
//! the zero-configuration default. Writing, naming and the attempt's result
//! are the outbox's (shared with SMS); all that is email's is the file's
//! extension and the Message-ID in the answer.

use async_trait::async_trait;

use super::{EmailProvider, Outgoing};
use crate::channels::outbox::Outbox;
use crate::channels::SendResult;

#[async_trait]
impl EmailProvider for Outbox {
    async fn send(&self, mail: &Outgoing) -> SendResult {
        let note = format!("; message-id={}", mail.message_id);
        self.deliver(&mail.delivery_id, "eml", &mail.raw, &note)
            .await
    }
}
