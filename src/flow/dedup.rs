//! Deduplication scopes: what "the same message" means. A `dedup_key`, or
//! a template's rendered content, is the same for one recipient and
//! channel; the scope is a short hash of those, held for the dedup window
//! by the store (in the database, or in memory for SQLite's single
//! writer).

/// The deduplication scope of rendered content for one recipient and
/// channel (templates with `content_dedup`).
pub fn content_scope(content: &str, recipient: &str, channel: &str) -> String {
    scope("c", [content, recipient, channel])
}

/// The deduplication scope of a `dedup_key` for one recipient and channel.
pub fn dedup_scope(key: &str, recipient: &str, channel: &str) -> String {
    scope("k", [key, recipient, channel])
}

/// A short, fixed-length scope: a kind letter and 128 bits of SHA-256.
fn scope(kind: &str, parts: [&str; 3]) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    format!(
        "{kind}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&h.finalize()[..16])
    )
}
