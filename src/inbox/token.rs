//! Recipient tokens: what a browser holds to open one recipient's inbox.
//!
//! `mit1.<base64url(recipient id)>.<expiry, Unix ms>.<generation>.<base64url(HMAC-SHA256)>`,
//! signed with a secret made on first start and kept in the `settings`
//! table (so every instance on the database accepts every other's tokens).
//! The MAC covers a purpose label too, so the key can't be made to sign
//! anything else. A token is not an API key: the key check never accepts
//! it, and it grants its recipient's inbox only, until it expires or its
//! recipient's token generation moves past the one it carries (deleting
//! the recipient, or revoking its tokens). Tokens made before generations
//! existed have no generation part and count as generation 0.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How every token starts, so it is told from an API key (`msv_...`) at a
/// glance.
pub const PREFIX: &str = "mit1.";

/// Signed along with the claims.
const PURPOSE: &[u8] = b"missive inbox token v1\n";

/// The signing key.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    /// From the secret (see [`crate::domain::secrets::decode_inbox_secret`]).
    pub fn from_secret(secret: &str) -> Option<TokenKey> {
        crate::domain::secrets::decode_inbox_secret(secret).map(TokenKey)
    }
}

pub use crate::domain::secrets::generate_inbox_secret as generate_secret;

/// What a valid token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub recipient: String,
    /// Unix ms.
    pub expires_at: i64,
    /// The recipient's token generation when it was signed.
    pub generation: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this is not an inbox token")]
    Malformed,
    #[error("the inbox token's signature does not match; it was altered or made elsewhere")]
    BadSignature,
    #[error("the inbox token has expired; ask for a new one")]
    Expired,
    #[error("the inbox token has been revoked (its recipient was deleted or its tokens revoked)")]
    Revoked,
}

fn mac(key: &TokenKey, body: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
    mac.update(PURPOSE);
    mac.update(body.as_bytes());
    mac
}

/// A token for `recipient`, valid until `expires_at` (Unix ms) while the
/// recipient's token generation stays at `generation`.
pub fn sign(key: &TokenKey, recipient: &str, expires_at: i64, generation: i64) -> String {
    let body = format!(
        "{}.{expires_at}.{generation}",
        B64.encode(recipient.as_bytes())
    );
    let sig = mac(key, &body).finalize().into_bytes();
    format!("{PREFIX}{body}.{}", B64.encode(sig))
}

/// Checks the signature (in constant time), then the expiry. The
/// generation is the caller's to check against the stored one.
pub fn verify(key: &TokenKey, token: &str, now_ms: i64) -> Result<Claims, TokenError> {
    let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let (body, sig) = rest.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (recipient, expiry) = body.split_once('.').ok_or(TokenError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    mac(key, body)
        .verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
    // Signed by us from here on: the parts are as we wrote them.
    let (expiry, generation) = expiry.split_once('.').unwrap_or((expiry, "0"));
    let expires_at: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
    let generation: i64 = generation.parse().map_err(|_| TokenError::Malformed)?;
    let recipient = B64
        .decode(recipient)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenError::Malformed)?;
    if now_ms >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(Claims {
        recipient,
        expires_at,
        generation,
    })
}

/// How every preference link's token starts.
pub const PREFERENCES_PREFIX: &str = "mpt1.";

/// Signed along with a preference link's claims: an inbox token is not a
/// preference link, nor the other way round.
const PREFERENCES_PURPOSE: &[u8] = b"missive preference link v1\n";

/// What a valid preference link says: whose preferences it opens, and
/// (for an unsubscribe link) which category it turns off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferenceClaims {
    pub recipient: String,
    pub category: Option<String>,
    /// Unix ms.
    pub expires_at: i64,
    pub generation: i64,
}

fn preferences_mac(key: &TokenKey, body: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
    mac.update(PREFERENCES_PURPOSE);
    mac.update(body.as_bytes());
    mac
}

/// `mpt1.<base64url(recipient)>.<base64url(category)>.<expiry>.<generation>.<MAC>`.
pub fn sign_preferences(
    key: &TokenKey,
    recipient: &str,
    category: Option<&str>,
    expires_at: i64,
    generation: i64,
) -> String {
    let body = format!(
        "{}.{}.{expires_at}.{generation}",
        B64.encode(recipient.as_bytes()),
        B64.encode(category.unwrap_or("").as_bytes())
    );
    let sig = preferences_mac(key, &body).finalize().into_bytes();
    format!("{PREFERENCES_PREFIX}{body}.{}", B64.encode(sig))
}

/// Checks a preference link's signature (in constant time), then its
/// expiry; the generation is the caller's to check.
pub fn verify_preferences(
    key: &TokenKey,
    token: &str,
    now_ms: i64,
) -> Result<PreferenceClaims, TokenError> {
    let rest = token
        .strip_prefix(PREFERENCES_PREFIX)
        .ok_or(TokenError::Malformed)?;
    let (body, sig) = rest.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    preferences_mac(key, body)
        .verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
    let mut it = body.split('.');
    let (Some(recipient), Some(category), Some(expiry), Some(generation), None) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err(TokenError::Malformed);
    };
    let text = |s: &str| {
        B64.decode(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(TokenError::Malformed)
    };
    let recipient = text(recipient)?;
    let category = Some(text(category)?).filter(|c| !c.is_empty());
    let expires_at: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
    let generation: i64 = generation.parse().map_err(|_| TokenError::Malformed)?;
    if now_ms >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(PreferenceClaims {
        recipient,
        category,
        expires_at,
        generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret(&generate_secret()).unwrap()
    }

    #[test]
    fn preference_links_verify_and_are_not_inbox_tokens() {
        let k = key();
        let t = sign_preferences(&k, "u.1 ü", Some("marketing"), 2_000, 4);
        assert_eq!(
            verify_preferences(&k, &t, 1_000),
            Ok(PreferenceClaims {
                recipient: "u.1 ü".into(),
                category: Some("marketing".into()),
                expires_at: 2_000,
                generation: 4,
            })
        );
        assert_eq!(verify_preferences(&k, &t, 2_000), Err(TokenError::Expired));
        let plain = sign_preferences(&k, "u", None, 2_000, 0);
        assert_eq!(verify_preferences(&k, &plain, 0).unwrap().category, None);
        // Another key, an altered claim, or an inbox token: refused.
        assert_eq!(
            verify_preferences(&key(), &t, 1_000),
            Err(TokenError::BadSignature)
        );
        let altered = t.replacen("bWFya2V0aW5n", "dHJhbnNhY3Rpb25hbA", 1);
        assert_ne!(altered, t);
        assert_eq!(
            verify_preferences(&k, &altered, 1_000),
            Err(TokenError::BadSignature)
        );
        let inbox = sign(&k, "u", 2_000, 0);
        assert_eq!(
            verify_preferences(&k, &inbox, 0),
            Err(TokenError::Malformed)
        );
        let forged = format!(
            "{PREFERENCES_PREFIX}{}",
            inbox.strip_prefix(PREFIX).unwrap()
        );
        assert!(verify_preferences(&k, &forged, 0).is_err());
        assert!(verify(&k, &t, 0).is_err());
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let k = key();
        let t = sign(&k, "u_1", 2_000, 3);
        assert!(t.starts_with(PREFIX));
        assert_eq!(
            verify(&k, &t, 1_999),
            Ok(Claims {
                recipient: "u_1".into(),
                expires_at: 2_000,
                generation: 3,
            })
        );
        assert_eq!(verify(&k, &t, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn recipient_ids_with_dots_and_unicode_survive() {
        let k = key();
        let t = sign(&k, "team.a/ü 1", 5_000, 0);
        assert_eq!(verify(&k, &t, 0).unwrap().recipient, "team.a/ü 1");
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let k = key();
        let t = sign(&k, "u_1", 2_000, 0);
        // Another recipient, a later expiry, a flipped signature character.
        let other = format!(
            "{PREFIX}{}.2000.0.{}",
            B64.encode("u_2"),
            t.rsplit('.').next().unwrap()
        );
        assert_eq!(verify(&k, &other, 0), Err(TokenError::BadSignature));
        let later = t.replace(".2000.", ".9999999999999.");
        assert_eq!(verify(&k, &later, 0), Err(TokenError::BadSignature));
        let newer = t.replace(".2000.0.", ".2000.1.");
        assert_eq!(verify(&k, &newer, 0), Err(TokenError::BadSignature));
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            verify(&k, &String::from_utf8(flipped).unwrap(), 0),
            Err(TokenError::BadSignature)
        );
        // Signed with another key.
        assert_eq!(verify(&key(), &t, 0), Err(TokenError::BadSignature));
    }

    #[test]
    fn the_signature_is_checked_before_the_expiry() {
        let k = key();
        let tampered = sign(&k, "u_1", 1_000, 0).replace(".1000.", ".1001.");
        assert_eq!(verify(&k, &tampered, 5_000), Err(TokenError::BadSignature));
    }

    #[test]
    fn tokens_without_a_generation_are_generation_0() {
        let k = key();
        let body = format!("{}.2000", B64.encode("u_1"));
        let sig = B64.encode(mac(&k, &body).finalize().into_bytes());
        let old = format!("{PREFIX}{body}.{sig}");
        assert_eq!(verify(&k, &old, 0).unwrap().generation, 0);
    }

    #[test]
    fn api_keys_and_junk_are_not_tokens() {
        let k = key();
        for junk in [
            "",
            "msv_abcdef",
            "mit1.",
            "mit1.a.b",
            "mit1.a.1.%%%",
            "Bearer mit1.x.1.y",
        ] {
            assert!(verify(&k, junk, 0).is_err(), "{junk}");
        }
    }

    #[test]
    fn short_or_bad_secrets_are_refused() {
        assert!(TokenKey::from_secret("c2hvcnQ").is_none());
        assert!(TokenKey::from_secret("not base64!").is_none());
        assert!(TokenKey::from_secret(&generate_secret()).is_some());
        // As `openssl rand -base64 32` writes it.
        assert!(TokenKey::from_secret("q+/zHjkNhsgyLeuS/4SzdPaB+7ZE2H8pq4pW0gS1aUw=\n").is_some());
    }
}
