//! The shapes of the secrets missive is given or makes: the webhook
//! signing secret (`whsec_` + base64, Standard Webhooks) and the inbox
//! token key (base64 of 32 bytes or more). Config checks a secret with the
//! same function the channel or the inbox later decodes it with.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The key bytes of a `whsec_` secret, if it is one (24 bytes or more).
pub fn decode_webhook_secret(secret: &str) -> Option<Vec<u8>> {
    let b = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    (b.len() >= 24).then_some(b)
}

/// A new random `whsec_` secret (32 bytes).
pub fn generate_webhook_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The inbox token key's bytes: base64 of at least 32 bytes, URL-safe as
/// generated or standard as `openssl rand -base64 32` writes it, padded or
/// not.
pub fn decode_inbox_secret(secret: &str) -> Option<Vec<u8>> {
    let s = secret.trim().trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .ok()?;
    (bytes.len() >= 32).then_some(bytes)
}

/// A new random inbox token key, as stored.
pub fn generate_inbox_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}
