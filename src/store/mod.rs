//! Storage: one [`Store`] trait, implemented for SQLite ([`sqlite`]) and
//! PostgreSQL ([`postgres`]), chosen once from the database URL.
//!
//! [`Store`] is the sum of one trait per aggregate ([`Queue`],
//! [`Attempts`], [`Receipts`] (and the suppression list), [`Versions`] (templates, workflows), [`Runs`],
//! [`Schedules`], [`Recipients`], [`Topics`], [`Keys`], [`Inbox`],
//! [`Flow`], [`Upkeep`]), each in its own file with its statements, so a
//! reader finds an aggregate's SQL next to its methods. `Arc<dyn Store>` is
//! what the rest of missive holds; `use crate::store::prelude::*;` brings
//! every aggregate's methods into scope. The store is also what flow's
//! shared state is kept in: it implements [`Buckets`] (rate limits) and
//! [`SharedState`] (providers' pauses and breakers), so `Arc<dyn Store>`
//! is handed to flow as either.
//!
//! Both backends share the schema (times are Unix milliseconds, ids are
//! UUIDv7 text, JSON is text), so each statement is written once, in code
//! generic over the backend's [`Dialect`](dialect::Dialect); the backends
//! supply only what differs (connecting, claiming, waking). See
//! docs/decisions/0015-store-code-without-macros.md.

pub mod attempts;
pub mod dialect;
pub mod events;
pub mod flow;
pub mod handoff;
pub mod inbox;
pub mod keys;
pub mod postgres;
pub mod queue;
pub mod receipts;
pub mod recipients;
mod rows;
pub mod runs;
pub mod schedules;
pub mod sqlite;
pub mod stats;
pub mod topics;
pub mod upkeep;
pub mod versions;
pub mod writer;

use std::sync::Arc;

pub use attempts::Attempts;
pub use events::Endpoints;
pub use flow::Flow;
pub use handoff::Handoff;
pub use inbox::Inbox;
pub use keys::Keys;
pub use queue::Queue;
pub use receipts::Receipts;
pub use recipients::Recipients;
pub use rows::*;
pub use runs::Runs;
pub use schedules::Schedules;
pub use stats::Stats;
pub use topics::Topics;
pub use upkeep::Upkeep;
pub use versions::{Kind, Versions};

use crate::config::{Backend, DatabaseConfig};
use crate::flow::pace::Buckets;
use crate::flow::provider_state::SharedState;

/// Every aggregate's trait in one import: `use crate::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        Attempts, Endpoints, Flow, Inbox, Keys, Queue, Receipts, Recipients, Runs, Schedules,
        Stats, Store, Topics, Upkeep, Versions,
    };
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database writer has stopped")]
    WriterGone,
    /// A group of accepted requests failed for a reason that is not theirs
    /// (the disk is full, the database does not answer): each of them gets
    /// this copy of the error.
    #[error("{1}")]
    Unavailable(Unavailable, String),
}

/// Why the database can't do what was asked right now, when that is a
/// passing state of the database rather than a fault of the request: the
/// caller should try again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Writes fail for lack of space (SQLite's SQLITE_FULL or an I/O
    /// error writing the file, PostgreSQL's disk_full).
    Full,
    /// The database does not answer: no connection within
    /// `database.acquire_timeout`, a connection lost, or the server
    /// shutting down or starting.
    Down,
}

impl StoreError {
    /// Whether this is a passing state of the database (see
    /// [`Unavailable`]) rather than an error of the request or of missive.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            StoreError::Db(e) => unavailable(e),
            StoreError::Unavailable(kind, _) => Some(*kind),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => unavailable(e),
            StoreError::Migrate(_) | StoreError::WriterGone => None,
        }
    }

    /// A copy for each request of a failed group, when the failure is the
    /// database's (see [`StoreError::unavailable`]).
    pub fn shared(&self) -> Option<StoreError> {
        self.unavailable()
            .map(|kind| StoreError::Unavailable(kind, self.to_string()))
    }
}

/// Classifies an SQLite result code: see [`StoreError::unavailable`].
pub fn sqlite_unavailable(code: i64) -> Option<Unavailable> {
    // Extended result codes keep the primary code in the low byte.
    match code & 0xff {
        // SQLITE_IOERR, SQLITE_FULL
        10 | 13 => Some(Unavailable::Full),
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CANTOPEN
        5 | 6 | 14 => Some(Unavailable::Down),
        _ => None,
    }
}

/// Classifies a driver error: see [`StoreError::unavailable`].
pub fn unavailable(e: &sqlx::Error) -> Option<Unavailable> {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Some(Unavailable::Down),
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                sqlite_unavailable(db.code()?.parse().ok()?)
            } else {
                let state = db.code()?;
                match &*state {
                    // disk_full
                    "53100" => Some(Unavailable::Full),
                    // too_many_connections, admin_shutdown, crash_shutdown,
                    // cannot_connect_now, and every connection exception
                    "53300" | "57P01" | "57P02" | "57P03" => Some(Unavailable::Down),
                    s if s.starts_with("08") => Some(Unavailable::Down),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// Delivery statuses, as the API shows them and the rows store them:
/// [`Status`](crate::domain::Status)'s spellings.
pub mod status {
    use crate::domain::Status;

    pub const QUEUED: &str = Status::Queued.as_str();
    pub const SCHEDULED: &str = Status::Scheduled.as_str();
    pub const SENDING: &str = Status::Sending.as_str();
    pub const RETRYING: &str = Status::Retrying.as_str();
    pub const SENT: &str = Status::Sent.as_str();
    pub const FAILED: &str = Status::Failed.as_str();
    pub const SUPPRESSED: &str = Status::Suppressed.as_str();
    pub const CANCELLED: &str = Status::Cancelled.as_str();
    pub const ALL: [&str; Status::ALL.len()] = {
        let mut all = [""; Status::ALL.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = Status::ALL[i].as_str();
            i += 1;
        }
        all
    };
}

/// The whole store: every aggregate. Implemented for anything that
/// implements them all, so each backend only implements the parts.
pub trait Store:
    Queue
    + Attempts
    + Endpoints
    + Receipts
    + Versions
    + Runs
    + Schedules
    + Stats
    + Recipients
    + Topics
    + Keys
    + Inbox
    + Flow
    + Upkeep
    + Buckets
    + SharedState
{
}

impl<S> Store for S where
    S: Queue
        + Attempts
        + Endpoints
        + Receipts
        + Versions
        + Runs
        + Schedules
        + Stats
        + Recipients
        + Topics
        + Keys
        + Inbox
        + Flow
        + Upkeep
        + Buckets
        + SharedState
{
}

/// Opens the database named by the config, creating and migrating it.
pub async fn open(cfg: &DatabaseConfig) -> StoreResult<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match cfg.backend {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::open(cfg).await?),
        Backend::Postgres => Arc::new(postgres::PgStore::open(cfg).await?),
    };
    store.refresh_subscribed().await?;
    Ok(store)
}
