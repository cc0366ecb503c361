//! The lowest layer: the words missive's other modules share, as types
//! with one way to parse them and one way to write them, and the checks of
//! what a caller sends. Nothing here does I/O or knows about HTTP, the
//! database or a provider, so every layer above may use it.

mod word;

pub mod channel;
pub mod chat;
pub mod check;
pub mod event;
pub mod field;
pub mod locale;
pub mod outcome;
pub mod priority;
pub mod rate;
pub mod reason;
pub mod receipt;
pub mod secrets;
pub mod status;
pub mod workflow;

use std::time::Duration;

use serde::Deserialize;

pub use channel::Channel;
pub use field::FieldError;
pub use locale::Locale;
pub use outcome::Outcome;
pub use priority::{Category, Priority};
pub use rate::Rate;
pub use reason::Reason;
pub use status::Status;

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
