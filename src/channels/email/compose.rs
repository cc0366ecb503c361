//! Making the message: the RFC 5322 text of one email (From, To,
//! Reply-To, Subject, Date, a Message-ID made from the delivery id so it is
//! the same on every retry, List-Unsubscribe for marketing mail, and a text
//! and/or HTML body), and the checks of the settings that go into its
//! headers. It is built once per attempt, before a provider is involved, so
//! every provider sends the same bytes and a message that can't be made
//! fails permanently without counting against a provider.

use lettre::address::{Address, Envelope};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::channels::Message;
use crate::config::{ChannelConfig, ConfigError};

/// A message ready for a provider: built once, sent as is.
pub struct Outgoing {
    pub delivery_id: String,
    /// `<delivery_id@domain>`, with the angle brackets.
    pub message_id: String,
    pub envelope: Envelope,
    /// The whole message as lettre formats it (CRLF line ends, 7-bit).
    pub raw: Vec<u8>,
}

/// The channel's header settings, checked.
pub struct Composer {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// List-Unsubscribe target for marketing mail, with `{recipient}`.
    unsubscribe: Option<String>,
    /// The right-hand side of Message-IDs: the From address's domain.
    message_id_domain: String,
}

fn config_error(key: &'static str, value: &str, allowed: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        allowed: allowed.to_string(),
    }
}

impl Composer {
    /// Reads `channels.email.from`, `reply_to` and `unsubscribe`.
    pub fn new(cfg: &ChannelConfig) -> Result<Composer, ConfigError> {
        let from: Mailbox = cfg.from.trim().parse().map_err(|e| {
            config_error(
                "channels.email.from",
                &cfg.from,
                format_args!("an address such as \"Shop <shop@example.com>\" ({e})"),
            )
        })?;
        let reply_to = match cfg
            .reply_to
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(r) => Some(r.parse::<Mailbox>().map_err(|e| {
                config_error(
                    "channels.email.reply_to",
                    r,
                    format_args!("an address such as \"Help <help@example.com>\", or empty ({e})"),
                )
            })?),
            None => None,
        };
        let unsubscribe = check_unsubscribe(&cfg.unsubscribe)?;
        let message_id_domain = from.email.domain().to_string();
        Ok(Composer {
            from,
            reply_to,
            unsubscribe,
            message_id_domain,
        })
    }

    /// The RFC 5322 message for `msg`, or why it can't be made (permanent).
    pub fn compose(&self, msg: &Message<'_>) -> Result<Outgoing, String> {
        let to: Address = msg
            .address
            .trim()
            .parse()
            .map_err(|e| format!("{:?} is not a valid email address ({e})", msg.address))?;
        let part = |k: &str| {
            msg.content
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        // A line break in a header would end it; the encoder escapes them,
        // but a subject is one line. Accepting refuses subjects with control
        // characters; one stored before that check still can't carry any
        // (CR, LF, VT, FF, NUL, C1 ...): each becomes a space.
        let subject = one_line(part("subject").unwrap_or(""));
        let message_id = format!("<{}@{}>", msg.delivery_id, self.message_id_domain);

        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .date_now();
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        // The delivery id, so a provider's receipt names the delivery:
        // our own header, and the ones SendGrid (unique_args, echoed in
        // every event) and Postmark (metadata, echoed in every webhook)
        // read and strip. Ids are UUIDs: nothing here needs escaping.
        for (name, value) in receipt_headers(msg.delivery_id) {
            b = b.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        }
        if msg.category == "marketing" {
            let target = match (msg.list_unsubscribe, &self.unsubscribe) {
                (Some(url), _) => Some(url.to_string()),
                (None, Some(template)) => {
                    Some(template.replace("{recipient}", &percent_encode(msg.recipient)))
                }
                (None, None) => None,
            };
            if let Some(target) = target {
                b = b.raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{target}>"),
                ));
                if target.starts_with("https://") {
                    // RFC 8058 one-click unsubscribe.
                    b = b.raw_header(HeaderValue::new(
                        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                        "List-Unsubscribe=One-Click".to_string(),
                    ));
                }
            }
        }
        let built = match (part("text"), part("html")) {
            (Some(text), Some(html)) => b.multipart(MultiPart::alternative_plain_html(
                text.to_string(),
                html.to_string(),
            )),
            (None, Some(html)) => b.singlepart(SinglePart::html(html.to_string())),
            (text, None) => b.singlepart(SinglePart::plain(text.unwrap_or("").to_string())),
        }
        .map_err(|e| format!("building the message: {e}"))?;
        Ok(Outgoing {
            delivery_id: msg.delivery_id.to_string(),
            message_id,
            envelope: built.envelope().clone(),
            raw: built.formatted(),
        })
    }
}

/// The header SendGrid reads `unique_args` from and Postmark its
/// metadata, each naming the delivery as `missive_delivery`, and missive's
/// own. Receipts are matched to deliveries by this id (see
/// src/http/receipts.rs).
pub fn receipt_headers(delivery_id: &str) -> [(&'static str, String); 3] {
    [
        ("X-Missive-Delivery", delivery_id.to_string()),
        (
            "X-SMTPAPI",
            serde_json::json!({"unique_args": {"missive_delivery": delivery_id}}).to_string(),
        ),
        ("X-PM-Metadata-missive_delivery", delivery_id.to_string()),
    ]
}

/// `s` with every control character (and Unicode line or paragraph
/// separator) replaced by a space: a value fit for one header line.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if crate::domain::check::is_forbidden_char(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Checks `channels.email.unsubscribe`: empty (no header), or a mailto:,
/// http:// or https:// URL, where `{recipient}` may appear.
fn check_unsubscribe(raw: &str) -> Result<Option<String>, ConfigError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let allowed = "a mailto:, http:// or https:// URL ({recipient} is replaced), or empty for no List-Unsubscribe header";
    let sample = t.replace("{recipient}", "r");
    let ok = (t.starts_with("mailto:") || t.starts_with("http://") || t.starts_with("https://"))
        && !t.contains(|c: char| {
            c.is_whitespace() || c.is_control() || c == '<' || c == '>' || !c.is_ascii()
        })
        && url::Url::parse(&sample).is_ok();
    if !ok {
        return Err(config_error("channels.email.unsubscribe", t, allowed));
    }
    Ok(Some(t.to_string()))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any
/// recipient id or address is safe in a URL or a mailto: query.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn composer(extra: &str) -> Composer {
        let cfg = crate::config::Config::from_toml(extra).unwrap();
        Composer::new(&cfg.email).unwrap()
    }

    fn content(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    fn compose(
        ch: &Composer,
        category: &str,
        c: &serde_json::Map<String, serde_json::Value>,
    ) -> String {
        let msg = Message {
            delivery_id: "0190-abc",
            notification_id: "n1",
            recipient: "u 42@x",
            category,
            attempt: 1,
            address: "ana@example.com",
            content: c,
            list_unsubscribe: None,
        };
        String::from_utf8(ch.compose(&msg).unwrap().raw).unwrap()
    }

    #[test]
    fn both_parts_make_a_multipart_alternative() {
        let ch = composer(
            "[channels.email]\nfrom = \"Shop <shop@example.com>\"\nreply_to = \"help@example.com\"",
        );
        let c =
            content(serde_json::json!({"subject": "Hi", "text": "plain", "html": "<p>html</p>"}));
        let raw = compose(&ch, "transactional", &c);
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(raw.contains("Message-ID: <0190-abc@example.com>"), "{raw}");
        assert!(raw.contains("Reply-To: help@example.com"), "{raw}");
        assert!(raw.contains("Date: "), "{raw}");
        assert!(!raw.contains("List-Unsubscribe"), "{raw}");
    }

    #[test]
    fn every_mail_names_its_delivery_for_receipts() {
        let raw = compose(
            &composer(""),
            "transactional",
            &content(serde_json::json!({"text": "x"})),
        );
        assert!(raw.contains("X-Missive-Delivery: 0190-abc\r\n"), "{raw}");
        assert!(
            raw.contains("X-SMTPAPI: {\"unique_args\":{\"missive_delivery\":\"0190-abc\"}}\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("X-PM-Metadata-missive_delivery: 0190-abc\r\n"),
            "{raw}"
        );
    }

    #[test]
    fn one_part_is_sent_alone() {
        let ch = composer("");
        let raw = compose(
            &ch,
            "transactional",
            &content(serde_json::json!({"html": "<b>x</b>"})),
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8") && !raw.contains("multipart"),
            "{raw}"
        );
        assert!(
            raw.contains("Subject: \r\n") || raw.contains("Subject:\r\n"),
            "{raw}"
        );
        let raw = compose(
            &ch,
            "transactional",
            &content(serde_json::json!({"subject": "s", "text": "t"})),
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8") && !raw.contains("multipart"),
            "{raw}"
        );
    }

    #[test]
    fn marketing_mail_gets_list_unsubscribe() {
        let ch =
            composer("[channels.email]\nunsubscribe = \"https://example.com/u?r={recipient}\"");
        let raw = compose(&ch, "marketing", &content(serde_json::json!({"text": "t"})));
        assert!(
            raw.contains("List-Unsubscribe: <https://example.com/u?r=u%2042%40x>"),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
        let ch = composer("");
        let raw = compose(&ch, "marketing", &content(serde_json::json!({"text": "t"})));
        assert!(
            raw.contains(
                "List-Unsubscribe: <mailto:unsubscribe@localhost?subject=unsubscribe%20u%2042%40x>"
            ),
            "{raw}"
        );
        assert!(!raw.contains("List-Unsubscribe-Post"), "{raw}");
    }

    #[test]
    fn non_ascii_subjects_are_encoded() {
        let ch = composer("");
        let raw = compose(
            &ch,
            "transactional",
            &content(serde_json::json!({"subject": "订单 7 已发货", "text": "Olá"})),
        );
        assert!(raw.is_ascii());
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
    }

    #[test]
    fn control_characters_never_reach_the_subject_header() {
        let ch = composer("");
        let raw = compose(
            &ch,
            "transactional",
            &content(
                serde_json::json!({"subject": "a\u{b}b\u{c}c\r\nBcc: x@evil.example\u{0}\u{85}\u{2028}d", "text": "t"}),
            ),
        );
        let subject = raw
            .split("\r\n")
            .find(|l| l.starts_with("Subject:"))
            .unwrap();
        assert_eq!(subject, "Subject: a b c  Bcc: x@evil.example   d", "{raw}");
        assert!(!raw.contains('\u{b}') && !raw.contains('\u{c}'), "{raw}");
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    #[test]
    fn a_bad_address_is_refused() {
        let ch = composer("");
        let c = content(serde_json::json!({"text": "t"}));
        let msg = Message {
            delivery_id: "d",
            notification_id: "n",
            recipient: "r",
            category: "auth",
            attempt: 1,
            address: "not an address",
            content: &c,
            list_unsubscribe: None,
        };
        assert!(ch.compose(&msg).is_err());
    }
}
