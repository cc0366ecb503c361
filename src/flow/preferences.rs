//! A recipient's opt-outs by channel and by category. `auth` messages
//! (sign-in codes, password resets) ignore them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Category, Channel};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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
    pub fn allows(&self, channel: Channel, category: Category) -> bool {
        category == Category::Auth
            || (self.channels.get(channel.as_str()).copied().unwrap_or(true)
                && self
                    .categories
                    .get(category.as_str())
                    .copied()
                    .unwrap_or(true))
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
        assert!(!p.allows(Channel::Sms, Category::Transactional));
        assert!(!p.allows(Channel::Email, Category::Marketing));
        assert!(p.allows(Channel::Email, Category::Transactional));
        assert!(
            p.allows(Channel::Sms, Category::Auth),
            "auth ignores preferences"
        );
        let any = Preferences::from_json("not json");
        assert!(any.allows(Channel::Sms, Category::Marketing));
    }
}
