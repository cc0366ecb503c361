//! A recipient's chat address: `NAME` or `NAME:TARGET`, where NAME is a
//! provider of `channels.chat` (a Slack workspace's bot, a DingTalk robot,
//! a Telegram bot, ...) and TARGET what that provider sends to: a Slack
//! channel, a Telegram chat id, or a robot's webhook URL. One string, like
//! the other addresses, so it is stored, overridden inline and shown the
//! same way; which provider a NAME is can only be known from the settings,
//! so that is checked when sending.
//!
//! A webhook URL in an address usually carries the robot's key, so the
//! address is shown redacted wherever it is not needed in full
//! ([`redact`]).

/// Longest chat address.
pub const MAX_LEN: usize = 2048;

/// The provider's name and the target, if any.
pub fn split(address: &str) -> (&str, Option<&str>) {
    match address.split_once(':') {
        Some((name, target)) => (name, Some(target)),
        None => (address, None),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks a chat address as it enters (a send, a profile).
pub fn check(s: &str) -> Result<(), String> {
    const FORM: &str = "must be NAME or NAME:TARGET, NAME a chat provider of channels.chat \
                        (e.g. ops, or slack:C0123ABCD, telegram:-1001234567890, \
                        wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)";
    if s.len() > MAX_LEN {
        return Err(format!("must be at most {MAX_LEN} bytes"));
    }
    if s.chars().any(super::check::is_forbidden_char) {
        return Err(format!("{FORM}; it has a control character"));
    }
    let (name, target) = split(s);
    if !is_name(name) {
        return Err(FORM.into());
    }
    match target {
        None => Ok(()),
        Some(t) if t.trim().is_empty() || t.trim() != t => Err(format!(
            "{FORM}; the target is empty or has spaces around it"
        )),
        Some(t) if t.starts_with("//") => Err(format!(
            "{FORM}; a webhook URL goes after the provider's name"
        )),
        Some(t) if t.starts_with("http://") || t.starts_with("https://") => {
            super::check::check_url(t).map_err(|m| format!("the webhook URL {m}"))
        }
        Some(_) => Ok(()),
    }
}

/// The address as logs and lists show it: a webhook URL target keeps its
/// scheme and host only (its path or query usually holds the robot's key).
pub fn redact(address: &str) -> String {
    match split(address) {
        (name, Some(t)) if t.starts_with("http://") || t.starts_with("https://") => {
            match url::Url::parse(t) {
                Ok(u) => format!(
                    "{name}:{}://{}/…",
                    u.scheme(),
                    u.host_str().unwrap_or_default()
                ),
                Err(_) => format!("{name}:…"),
            }
        }
        _ => address.to_string(),
    }
}

/// A delivery's address as the delivery log shows it: a chat address
/// redacted, any other as it is.
pub fn shown(channel: &str, address: &str) -> String {
    if channel == super::Channel::Chat.as_str() {
        redact(address)
    } else {
        address.to_string()
    }
}

/// A recipient as a send gave it (JSON), as the delivery log shows it:
/// its chat address redacted.
pub fn shown_recipient(recipient_data: &str) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(recipient_data).unwrap_or(serde_json::Value::Null);
    if let Some(serde_json::Value::String(c)) = v.get_mut("chat") {
        *c = redact(c);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_a_name_and_an_optional_target() {
        assert_eq!(split("ops"), ("ops", None));
        assert_eq!(split("slack:C0123"), ("slack", Some("C0123")));
        assert_eq!(
            split("wecom:https://h.example/send?key=k"),
            ("wecom", Some("https://h.example/send?key=k"))
        );
        for ok in [
            "ops",
            "slack:#alerts",
            "telegram:-1001234567890",
            "telegram:@channel_name",
            "dingtalk:https://oapi.dingtalk.com/robot/send?access_token=abc",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "https://hooks.slack.com/services/T/B/X",
            "bad name:x",
            "ops:",
            "ops: C1",
            "ops:x\ny",
            "wecom:https://",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was taken");
        }
        assert!(check(&format!("ops:{}", "x".repeat(MAX_LEN))).is_err());
    }

    #[test]
    fn webhook_urls_lose_their_keys_when_shown() {
        assert_eq!(
            redact("wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cret"),
            "wecom:https://qyapi.weixin.qq.com/…"
        );
        assert_eq!(
            redact("hook:https://hooks.slack.com/services/T0/B0/s3cret"),
            "hook:https://hooks.slack.com/…"
        );
        assert_eq!(redact("slack:C0123"), "slack:C0123");
        assert_eq!(redact("ops"), "ops");
        assert_eq!(
            shown_recipient(r#"{"id": "u1", "chat": "d:https://h.example/s?access_token=k"}"#),
            serde_json::json!({"id": "u1", "chat": "d:https://h.example/…"})
        );
    }
}
