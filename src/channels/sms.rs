//! The SMS channel: providers `twilio`, `http` and `file`.

use std::sync::Arc;

use crate::config::{ChannelConfig, Config};

use super::Channel;

/// Builds the SMS channel from `channels.sms`.
pub fn build(_cfg: &ChannelConfig, _root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    Ok(None)
}
