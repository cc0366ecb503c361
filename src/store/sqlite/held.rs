//! Deduplication scopes held on SQLite, in memory.
//!
//! A durable "is this scope held?" keyed by scope is a B-tree of random
//! keys: every claim dirties a page of its own in every commit group, and
//! each dirty page is a 4 KiB WAL frame to checksum, write and checkpoint.
//! On SQLite that was most of what deduplication cost. So there each claim
//! is appended to `dedup_log` (ordered by `seq`: an append touches the
//! table's last page) in the transaction that stores its delivery, and
//! each process answers "is it held?" from this map of the log's
//! unexpired scopes. Every accepting transaction first reads the rows
//! appended since it last looked (under SQLite's write lock, so nothing can
//! be appended in between), which keeps processes sharing the file (`missive
//! send`, a second `serve`) in agreement. What a transaction claims enters
//! the map only once it has committed. See
//! docs/decisions/0010-sqlite-dedup-scopes-in-memory.md.

use std::collections::HashMap;

/// A scope as 16 bytes. Scopes are a kind letter (`k` for a dedup_key,
/// `c` for content) and 128 bits of SHA-256 in base64: those bits are the
/// key, inverted for `c` so the kinds stay apart. Anything else (none is
/// made today) is hashed. Two scopes share a key with odds of 2^-128.
type Key = [u8; 16];

fn key(scope: &str) -> Key {
    use base64::Engine;
    let mut k = [0u8; 16];
    if let (Some(kind @ (b'k' | b'c')), 23) = (scope.as_bytes().first(), scope.len()) {
        let mut buf = [0u8; 18];
        if base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(&scope.as_bytes()[1..], &mut buf)
            .is_ok_and(|n| n == 16)
        {
            k.copy_from_slice(&buf[..16]);
            if *kind == b'c' {
                k.iter_mut().for_each(|b| *b = !*b);
            }
            return k;
        }
    }
    use sha2::{Digest, Sha256};
    k.copy_from_slice(&Sha256::digest(scope.as_bytes())[..16]);
    k
}

/// The unexpired scopes of `dedup_log` as one process has read them, and
/// the claims of the transaction in progress.
#[derive(Debug, Default)]
pub struct HeldScopes {
    /// Scope -> the latest expiry (Unix ms) of a claim on it.
    until: HashMap<Key, i64>,
    /// Every log row up to this `seq` is in `until`.
    seen: i64,
    /// The size of `until` after expired scopes were last dropped.
    kept: usize,
    /// Claimed by the open transaction, with the last `seq` it appended.
    pending: Vec<(Key, i64)>,
    pending_seq: Option<i64>,
}

impl HeldScopes {
    /// The last log row this process has read.
    pub fn seen(&self) -> i64 {
        self.seen
    }

    /// Takes in a committed log row (read from the table); one that has
    /// already expired at `now` is only counted as seen.
    pub fn note(&mut self, seq: i64, scope: &str, expires_at: i64, now: i64) {
        if expires_at > now {
            self.hold(key(scope), expires_at);
        }
        self.seen = self.seen.max(seq);
    }

    /// Every log row up to `seq` has been read.
    pub fn note_seen(&mut self, seq: i64) {
        self.seen = self.seen.max(seq);
    }

    fn hold(&mut self, k: Key, expires_at: i64) {
        let e = self.until.entry(k).or_insert(expires_at);
        *e = (*e).max(expires_at);
    }

    /// Whether a committed claim holds `scope` at `now`.
    pub fn holds(&self, scope: &str, now: i64) -> bool {
        self.until.get(&key(scope)).is_some_and(|&e| e > now)
    }

    /// Forgets what an unfinished transaction claimed (it rolled back, or
    /// its commit failed).
    pub fn discard_pending(&mut self) {
        self.pending.clear();
        self.pending_seq = None;
    }

    /// Records what the open transaction claims, up to log row `last_seq`;
    /// it is held once [`commit_pending`](Self::commit_pending) says the
    /// transaction committed.
    pub fn claim_pending(&mut self, claims: &[(&str, i64)], last_seq: i64) {
        self.pending
            .extend(claims.iter().map(|(s, e)| (key(s), *e)));
        self.pending_seq = Some(last_seq);
    }

    /// The open transaction committed: its claims are held.
    pub fn commit_pending(&mut self, now: i64) {
        for (k, e) in std::mem::take(&mut self.pending) {
            self.hold(k, e);
        }
        if let Some(seq) = self.pending_seq.take() {
            self.seen = self.seen.max(seq);
        }
        self.drop_expired(now);
    }

    /// Drops expired scopes once the map has doubled since the last time,
    /// so the work is spread over the claims that grew it.
    fn drop_expired(&mut self, now: i64) {
        if self.until.len() >= (2 * self.kept).max(1024) {
            self.until.retain(|_, e| *e > now);
            self.kept = self.until.len();
        }
    }

    /// How many scopes are in memory (expired ones not yet dropped too).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.until.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_held_until_its_latest_expiry() {
        let mut h = HeldScopes::default();
        h.note(1, "kAAAAAAAAAAAAAAAAAAAAAA", 100, 0);
        h.note(2, "kAAAAAAAAAAAAAAAAAAAAAA", 50, 0);
        // Read back already expired: seen, not held.
        h.note(3, "kBBBBBBBBBBBBBBBBBBBBBB", 100, 100);
        assert!(h.holds("kAAAAAAAAAAAAAAAAAAAAAA", 99));
        assert!(!h.holds("kAAAAAAAAAAAAAAAAAAAAAA", 100));
        assert!(!h.holds("kBBBBBBBBBBBBBBBBBBBBBB", 0));
        assert_eq!(h.len(), 1);
        assert_eq!(h.seen(), 3);
    }

    #[test]
    fn claims_are_held_only_after_their_transaction_commits() {
        let mut h = HeldScopes::default();
        h.claim_pending(&[("kA", 100)], 7);
        assert!(!h.holds("kA", 0), "held before commit");
        assert_eq!(h.seen(), 0);
        h.discard_pending();
        h.commit_pending(0);
        assert!(!h.holds("kA", 0), "a rolled-back claim is held");
        assert_eq!(h.seen(), 0);
        h.claim_pending(&[("kA", 100)], 7);
        h.commit_pending(0);
        assert!(h.holds("kA", 0));
        assert_eq!(h.seen(), 7);
    }

    #[test]
    fn scopes_of_each_kind_and_shape_stay_apart() {
        let mut h = HeldScopes::default();
        let k = crate::flow::dedup::dedup_scope("order-1", "u_1", "sms");
        let c = crate::flow::dedup::content_scope("order-1", "u_1", "sms");
        h.note(1, &k, 10, 0);
        assert!(h.holds(&k, 0));
        assert!(!h.holds(&c, 0), "a content scope is held by a key scope");
        assert!(!h.holds(
            &crate::flow::dedup::dedup_scope("order-1", "u_1", "email"),
            0
        ));
        // The same bits under the other kind letter are another scope.
        assert!(!h.holds(&format!("c{}", &k[1..]), 0));
        // Scopes of another shape are hashed, and still exact.
        h.note(2, "kA", 10, 0);
        assert!(h.holds("kA", 0));
        assert!(!h.holds("kB", 0));
        assert!(!h.holds(&"k".repeat(40), 0));
    }

    #[test]
    fn expired_scopes_are_dropped_as_the_map_grows() {
        let mut h = HeldScopes::default();
        for i in 0..1100 {
            h.note(i, &format!("k{i}"), 10, 0);
        }
        h.claim_pending(&[("klive", 1_000)], 1100);
        h.commit_pending(20);
        assert!(h.holds("klive", 20));
        assert!(h.len() < 10, "{} scopes kept", h.len());
        // Below twice the kept size nothing is scanned again.
        for i in 0..100 {
            h.note(2000 + i, &format!("j{i}"), 10, 0);
        }
        h.commit_pending(20);
        assert!(h.len() > 100);
    }
}
