//! The lowest layer: the words missive's other modules share, as types
//! with one way to parse them and one way to write them, and the checks of
//! what a caller sends. Nothing here does I/O or knows about HTTP, the
//! database or a provider, so every layer above may use it.

pub mod check;
pub mod field;
pub mod rate;
pub mod secrets;

use std::time::Duration;

use serde::Deserialize;

pub use field::FieldError;
pub use rate::Rate;

/// A notification's category: what preferences, caps and quiet hours key on.
pub const CATEGORIES: [&str; 3] = ["transactional", "marketing", "auth"];
/// A notification's priority, most urgent first.
pub const PRIORITIES: [&str; 3] = ["high", "normal", "low"];
/// An API key's scopes (`admin` holds every other).
pub const SCOPES: [&str; 4] = ["send", "templates", "read", "admin"];

/// How long a verified credential (API key, console session) is trusted
/// without asking the database again: a revocation takes effect within
/// this, on every instance.
pub const CREDENTIAL_CACHE_TTL: Duration = Duration::from_secs(4);
/// How often an open stream checks that its credential still holds.
pub const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// A daily quiet window, `"HH:MM"` to `"HH:MM"` in the recipient's
/// timezone (the window itself is decided in `flow::quiet_hours`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl QuietHours {
    pub fn from_json(s: &str) -> Option<QuietHours> {
        serde_json::from_str(s).ok()
    }
}
