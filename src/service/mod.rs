//! What more than one front end does, as plain functions on [`AppState`]:
//! accept a send (`send`), cancel, retry and replay deliveries
//! (`deliveries`), save and preview templates (`templates`), read,
//! activate and archive any versioned resource (`versions`), save and
//! dry-run workflows (`workflows`), keep recurring schedules and fire them
//! (`schedules`),
//! upsert and erase recipients (`recipients`), keep topics and fan out
//! a send to one (`topics`), create, revoke and verify
//! keys and open console sessions (`auth`). The API (`http`), the console
//! and the CLI parse their input, call these, and map [`Error`] to their
//! own answer. Nothing here knows about HTTP.

pub mod auth;
pub mod deliveries;
pub mod delivery_stats;
pub mod devices;
pub mod endpoints;
mod error;
pub mod layouts;
pub mod receipts;
pub mod recipients;
pub mod schedules;
pub mod send;
pub mod stats;
pub mod templates;
pub mod topics;
pub mod versions;
pub mod workflows;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use error::{Error, Result};

use crate::channels::Channels;
use crate::config::Config;
use crate::domain::Channel;
use crate::flow::provider_state::ProviderBoard;
use crate::inbox::Inbox;
use crate::metrics::Metrics;
use crate::render::Renderer;
use crate::store::Store;

/// Everything a request, a page or a command needs, built once by
/// `App::build`. Cloned for every request (axum's `State`, each
/// middleware), so it is one shared pointer: one count to change, not one
/// per part.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl AppState {
    pub fn new(parts: Parts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What an [`AppState`] shares.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub renderer: Arc<Renderer>,
    pub config: Arc<Config>,
    /// Channels this deployment can send on.
    pub enabled_channels: Arc<Vec<Channel>>,
    pub keys: Arc<auth::KeyCache>,
    pub inbox: Arc<Inbox>,
    /// This process's channels (provider and circuit-breaker state).
    pub channels: Arc<Channels>,
    /// Providers' pauses and breakers shared with other processes.
    pub providers: Arc<ProviderBoard>,
    /// This app's metrics (`GET /metrics`).
    pub metrics: Arc<Metrics>,
    /// The console overview's last-day counts, kept between loads.
    pub day_counts: Arc<stats::DayCounts>,
    /// Cancelled once the process begins to stop: `/readyz` answers 503
    /// while requests are still served.
    pub stopping: CancellationToken,
}
