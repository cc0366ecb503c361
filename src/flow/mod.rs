//! Flow control rules as plain functions: rates and caps (`rate`), quiet
//! hours (`quiet_hours`), and what a recipient's preferences allow
//! (`preferences`). The dispatcher and the accept path apply them; these
//! modules only decide. `provider_state` shares providers' pauses and
//! open breakers between processes.

pub mod admit;
pub mod breaker;
pub mod dedup;
pub mod destinations;
pub mod pace;
pub mod preferences;
pub mod provider_state;
pub mod quiet_hours;
