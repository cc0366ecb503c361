//! What the FCM and APNs providers share: reading a key file (bounded, and
//! never repeated in an error), taking the DER out of a PEM block, and
//! assembling a signed JWT.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

use crate::config::{ConfigError, ProviderConfig};

/// The largest key file read: a service-account JSON file is about 2.4 KB,
/// an APNs `.p8` key about 250 bytes.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads the file `<key>.<field>` names, at most [`MAX_KEY_FILE`] bytes.
/// Errors name the setting and the path, never what the file holds.
pub fn read_key_file(p: &ProviderConfig, field: &str, path: &str) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let path = path.trim();
    if path.is_empty() {
        return Err(p.invalid(field, "required: the path of the key file"));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| p.invalid(field, format!("{path:?} is not a readable file ({e})")))?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| p.invalid(field, format!("{path:?} could not be read as text ({e})")))?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(p.invalid(
            field,
            format!("{path:?} is larger than {MAX_KEY_FILE} bytes: not a key file"),
        ));
    }
    Ok(text)
}

/// The DER of the first `-----BEGIN PRIVATE KEY-----` block (PKCS#8), as
/// service-account files and APNs `.p8` keys hold it.
pub fn pkcs8_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN PRIVATE KEY-----")? + "-----BEGIN PRIVATE KEY-----".len();
    let end = start + pem[start..].find("-----END PRIVATE KEY-----")?;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok().filter(|d| !d.is_empty())
}

/// `header.claims.signature`, base64url without padding; `sign` signs the
/// first two parts joined by a dot.
pub fn jwt(
    header: &Value,
    claims: &Value,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<String, String> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// A template's `badge` as a count (APNs' `badge`, Android's
/// `notification_count`): only a non-negative whole number is one (for
/// Web Push a badge is an image URL).
pub fn badge_count(payload: &Value) -> Option<u32> {
    payload
        .get("badge")
        .and_then(Value::as_str)
        .and_then(|b| b.trim().parse::<u32>().ok())
}

/// The string parts of the payload by name.
pub fn part<'a>(payload: &'a Value, name: &str) -> Option<&'a str> {
    payload.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_and_badges_are_read() {
        let pem = "junk\n-----BEGIN PRIVATE KEY-----\nAQID\nBA==\n-----END PRIVATE KEY-----\n";
        assert_eq!(pkcs8_der(pem).unwrap(), vec![1, 2, 3, 4]);
        assert!(pkcs8_der("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----").is_none());
        assert!(pkcs8_der("no key").is_none());
        // A JSON string's "\n" escapes are real newlines once parsed.
        let v: Value = serde_json::from_str(
            r#"{"k": "-----BEGIN PRIVATE KEY-----\nAQID\nBA==\n-----END PRIVATE KEY-----\n"}"#,
        )
        .unwrap();
        assert_eq!(
            pkcs8_der(v["k"].as_str().unwrap()).unwrap(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(badge_count(&serde_json::json!({"badge": "3"})), Some(3));
        assert_eq!(
            badge_count(&serde_json::json!({"badge": "https://x/b.png"})),
            None
        );
        let t = jwt(
            &serde_json::json!({"alg": "none"}),
            &serde_json::json!({}),
            |_| Ok(vec![0xff]),
        )
        .unwrap();
        assert_eq!(t, "eyJhbGciOiJub25lIn0.e30._w");
    }
}
