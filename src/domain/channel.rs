//! The channels missive sends on and the parts each one's content is made
//! of: the one list of both, which templates, metrics, preferences,
//! config and the console all read.

super::word::word! {
    /// A channel a delivery goes out on.
    Channel {
        Email = "email",
        Sms = "sms",
        Webhook = "webhook",
        InApp = "in_app",
        Chat = "chat",
        Push = "push",
    }
}

impl Channel {
    /// The parts a template gives this channel.
    pub const fn parts(self) -> &'static [&'static str] {
        match self {
            Channel::Email => &["subject", "html", "text"],
            Channel::Sms => &["text"],
            Channel::Webhook => &["body"],
            Channel::InApp => &["title", "body", "action_url"],
            // `blocks`: Slack Block Kit JSON; the other providers make
            // their own card or markdown from `title` and `text`.
            Channel::Chat => &["title", "text", "blocks"],
            // `data`: JSON; `badge` and `sound` pass through for the
            // platforms that have them.
            Channel::Push => &[
                "title",
                "body",
                "data",
                "image",
                "action_url",
                "badge",
                "sound",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_what_they_write() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(*c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(
            Channel::parse("pigeon").unwrap_err(),
            "must be one of email, sms, webhook, in_app, chat, push"
        );
        assert_eq!(Channel::Email.parts(), ["subject", "html", "text"]);
    }
}
