//! Flow control rules as plain functions: rates and caps (`rate`), quiet
//! hours (`quiet_hours`), and what a recipient's preferences allow
//! (`preferences`). The dispatcher and the accept path apply them; these
//! modules only decide.

pub mod breaker;
pub mod preferences;
pub mod quiet_hours;
pub mod rate;
