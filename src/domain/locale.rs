//! A locale tag such as `zh-CN`: not a closed set like the other words,
//! so a newtype whose `parse` is the one check of its shape.

/// A checked locale tag: 1 to 35 ASCII letters, digits, `-` or `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Locale(String);

impl Locale {
    pub fn parse(s: &str) -> Result<Locale, String> {
        Locale::check(s).map(|()| Locale(s.to_string()))
    }

    /// [`Locale::parse`]'s check alone, for input that is only validated.
    pub fn check(s: &str) -> Result<(), String> {
        if !s.is_empty()
            && s.len() <= 35
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            Ok(())
        } else {
            Err("must be a locale tag such as zh-CN or pt-BR".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_are_tags() {
        for ok in ["zh-CN", "pt_BR", "de"] {
            assert_eq!(Locale::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "zh CN", "de/../x", &"a".repeat(36)] {
            assert_eq!(
                Locale::parse(bad).unwrap_err(),
                "must be a locale tag such as zh-CN or pt-BR"
            );
        }
    }
}
