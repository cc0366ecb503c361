//! Checks of what callers send, as pure functions from a string to a
//! message saying what is wrong: addresses, links, ids, timezones, clocks (a locale is a `Locale`).
//! The API, the console, the CLI and config all call these, so a value is
//! judged the same way wherever it enters.

pub fn check_url(s: &str) -> Result<(), String> {
    // The URL parser drops tabs and line breaks silently; the address is
    // stored and shown as given, so refuse them instead.
    if s.chars().any(is_forbidden_char) {
        return Err("must be an http:// or https:// URL without control characters".into());
    }
    match crate::util::parse_url(s) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err("must be an http:// or https:// URL with a host".into()),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

/// One plain mailbox (`local@domain`), parsed as the email channel will
/// parse it: no display name, no list, no quoted local part, no control
/// characters or whitespace, and a domain with a dot.
pub fn check_email(s: &str) -> Result<(), String> {
    const MSG: &str = "must be one email address such as ana@example.com (no name, list or spaces)";
    if s.len() > 254
        || s.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, ',' | ';' | '<' | '>' | '"' | '(' | ')' | '\\')
        })
    {
        return Err(MSG.into());
    }
    let addr: lettre::Address = s.parse().map_err(|_| MSG.to_string())?;
    let domain = addr.domain();
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(MSG.into());
    }
    Ok(())
}

/// A recipient id: 1 to 255 bytes, no control characters (C0, DEL, C1)
/// and no line or paragraph separators, so an id can't break a header, a
/// log line or a URL it is put in.
pub fn check_recipient_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 255 {
        return Err("must be 1 to 255 characters".into());
    }
    if s.chars().any(is_forbidden_char) {
        return Err("must not contain control characters (CR, LF, tab, NUL, ...)".into());
    }
    Ok(())
}

/// Control characters (C0, DEL, C1, which includes VT and FF) and the
/// Unicode line and paragraph separators.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// A link a recipient may click (in-app `action_url`): an absolute
/// `http://` or `https://` URL with a host, or a path on the front end's
/// own site starting with a single `/`. Anything else (`javascript:`,
/// `data:`, `//other.host`, `/\other.host`) could run script or leave
/// the site, so it is refused.
pub fn check_link(s: &str) -> Result<(), String> {
    const MSG: &str =
        "must be an http:// or https:// URL, or a path starting with / (such as /orders/7)";
    if s.chars().any(|c| is_forbidden_char(c) || c == '\\') {
        return Err(format!("{MSG}; it has a control character or a backslash"));
    }
    if let Some(rest) = s.strip_prefix('/') {
        return if rest.starts_with('/') {
            Err(format!("{MSG}; `//` would leave the site"))
        } else {
            Ok(())
        };
    }
    match crate::util::parse_url(s) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(()),
        _ => Err(MSG.into()),
    }
}

pub fn check_phone(s: &str) -> Result<(), String> {
    let digits = s.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
    {
        Ok(())
    } else {
        Err("must be an E.164 number such as +8613800000000".into())
    }
}

pub fn check_timezone(s: &str) -> Result<(), String> {
    s.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| "not an IANA timezone such as Asia/Shanghai or America/New_York".into())
}

/// "HH:MM", 00:00 to 23:59.
pub fn check_clock(s: &str) -> Result<(), String> {
    let ok = s.len() == 5
        && s.as_bytes()[2] == b':'
        && s[..2].parse::<u32>().is_ok_and(|h| h < 24)
        && s[3..].parse::<u32>().is_ok_and(|m| m < 60);
    if ok {
        Ok(())
    } else {
        Err("must be a 24-hour time such as 22:00".into())
    }
}

/// A template key (or a locale folder name): 1 to 100 letters, digits,
/// `-`, `_` or `.`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// `s` cut to at most `max` characters, for quoting a value in a message.
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert!(check_url("https://erp.example.com/hooks").is_ok());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url("https://erp.example.com/h\r\nX-Injected: 1").is_err());
        assert!(check_url("https://erp.example.com/h\t").is_err());
        assert!(check_email("ana@example.com").is_ok());
        assert!(check_email("ana.example.com").is_err());
        assert!(check_phone("+8613800000000").is_ok());
        assert!(check_phone("13800000000").is_err());
        assert!(check_phone("+86 138 0000 0000").is_err());
    }

    #[test]
    fn an_email_address_is_one_plain_mailbox() {
        for ok in [
            "ana@example.com",
            "a.b+tag@mail.example.co",
            "user@[1.2.3.4]",
        ] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a@b.c,evil@x.example",
            "a@b.c;evil@x.example",
            "Ana <ana@example.com>",
            "ana@example.com\r\nBcc: x@evil.example",
            "ana@example.com\u{b}",
            "\"a,b\"@example.com",
            "ana@localhost",
            "ana@@example.com",
            " ana@example.com",
            "ana(comment)@example.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recipient_ids_hold_no_control_characters() {
        assert!(check_recipient_id("u_42").is_ok());
        assert!(check_recipient_id("用户-7@team").is_ok());
        for bad in [
            "",
            "u\r\nx",
            "u\nx",
            "u\u{b}",
            "u\u{c}",
            "u\0",
            "u\u{85}",
            "u\u{2028}",
            "u\t",
        ] {
            assert!(check_recipient_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_recipient_id(&"x".repeat(256)).is_err());
    }

    #[test]
    fn links_are_http_or_a_path_on_the_site() {
        for ok in [
            "/orders/7",
            "/",
            "https://shop.example/o?id=7#x",
            "http://127.0.0.1:3000/a",
        ] {
            assert!(check_link(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(document.domain)",
            "JAVASCRIPT:alert(1)",
            "java\tscript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//evil.example/x",
            "/\\evil.example/x",
            "orders/7",
            "https://",
            "mailto:a@b.c",
        ] {
            assert!(check_link(bad).is_err(), "{bad:?}");
        }
    }
}
