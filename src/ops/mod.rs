//! The operators' tools: what `missive doctor` checks, `missive backup`,
//! how log lines are written (and spans exported), and telling systemd
//! the service is ready.

pub mod backup;
pub mod doctor;
pub mod logging;
pub mod notify;
pub mod otlp;
