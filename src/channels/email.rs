//! The email channel: providers `smtp` (lettre) and `file` (.eml files).

use std::sync::Arc;

use crate::config::{ChannelConfig, Config};

use super::Channel;

/// Builds the email channel from `channels.email`.
pub fn build(_cfg: &ChannelConfig, _root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    Ok(None)
}
