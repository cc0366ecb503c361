//! Every admission and pacing decision, in one place. Accept calls
//! `admit` (suppressed? quiet hours? which dedup scope and cap?), built on
//! `preferences`, `quiet_hours` and `dedup`; the dispatcher calls `pace`
//! (the shared send-rate limits), `destinations` (a share of sends in
//! flight per destination) and, through the channels' failover, `breaker`.
//! The rules are plain functions taking time as an input. The state they
//! share between processes lives in the database and is reached through
//! traits the store implements: `pace::Buckets` and
//! `provider_state::SharedState` (providers' pauses and open breakers).
//! That is flow's I/O half, named as such, so flow stays below the store.

pub mod admit;
pub mod breaker;
pub mod dedup;
pub mod destinations;
pub mod digest;
pub mod pace;
pub mod preferences;
pub mod provider_state;
pub mod quiet_hours;
