//! A recipient's opt-outs by channel and by category. `auth` messages
//! (sign-in codes, password resets) ignore them.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Preferences {
    #[serde(default)]
    pub channels: BTreeMap<String, bool>,
    #[serde(default)]
    pub categories: BTreeMap<String, bool>,
}

impl Preferences {
    pub fn from_json(s: &str) -> Preferences {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// Whether a message of `category` may go to this recipient on `channel`.
    pub fn allows(&self, channel: &str, category: &str) -> bool {
        category == "auth"
            || (self.channels.get(channel).copied().unwrap_or(true)
                && self.categories.get(category).copied().unwrap_or(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_outs_apply_except_to_auth() {
        let p = Preferences::from_json(
            r#"{"channels": {"sms": false}, "categories": {"marketing": false}}"#,
        );
        assert!(!p.allows("sms", "transactional"));
        assert!(!p.allows("email", "marketing"));
        assert!(p.allows("email", "transactional"));
        assert!(p.allows("sms", "auth"), "auth ignores preferences");
        assert!(Preferences::from_json("not json").allows("sms", "marketing"));
    }
}
