//! The `file` providers' outbox: one file per message in a directory
//! (`DATA_DIR/outbox/<channel>` unless set), written under a temporary name
//! and renamed, so a reader never sees half a message. Messages are 0600
//! and new directories 0700: they hold addresses and content.
//!
//! The outbox is itself the provider (named, and local: its sends are not
//! bounded as a destination) and turns a write into the attempt's result,
//! so each channel's file.rs only says what bytes a message becomes.

use std::path::PathBuf;

use serde::Deserialize;

use super::providers::Provider;
use super::{truncate, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{Config, ConfigError, ProviderConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Empty: DATA_DIR/outbox/<channel>.
    #[serde(default)]
    dir: String,
}

pub struct Outbox {
    pub name: String,
    pub dir: PathBuf,
}

impl Outbox {
    pub fn new(p: &ProviderConfig, root: &Config, channel: &str) -> Result<Outbox, ConfigError> {
        let s: Settings = p.parse()?;
        let dir = match s.dir.trim() {
            "" => root.data_dir.join("outbox").join(channel),
            d => PathBuf::from(d),
        };
        Ok(Outbox {
            name: p.name.clone(),
            dir,
        })
    }

    /// Writes `<id>.<ext>` as an attempt: sent, with the path and `note` as
    /// the answer, or a transient failure (a full or read-only disk may
    /// recover; retries end it anyway).
    pub async fn deliver(&self, id: &str, ext: &str, bytes: &[u8], note: &str) -> SendResult {
        match self.write(id, ext, bytes).await {
            Ok(path) => SendResult {
                response: Some(truncate(
                    format!("wrote {}{note}", path.display()),
                    MAX_RESPONSE,
                )),
                ..SendResult::new(&self.name, Outcome::Ok)
            },
            Err(e) => SendResult {
                error: Some(format!("writing to {}: {e}", self.dir.display())),
                ..SendResult::new(&self.name, Outcome::Transient)
            },
        }
    }

    /// Writes `<id>.<ext>`; a delivery id that is not file-name safe has its
    /// other characters replaced. Creates the directory on first use.
    async fn write(&self, id: &str, ext: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let stem: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.dir.join(format!("{stem}.{ext}"));
        let tmp = self.dir.join(format!(
            ".{stem}.{ext}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        tokio::fs::DirBuilder::new()
            .recursive(true)
            .mode(crate::private_files::DIR_MODE)
            .create(&self.dir)
            .await?;
        {
            use tokio::io::AsyncWriteExt;
            let mut f = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::private_files::FILE_MODE)
                .open(&tmp)
                .await?;
            f.write_all(bytes).await?;
            f.flush().await?;
        }
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        Ok(path)
    }
}

impl Provider for Outbox {
    fn name(&self) -> &str {
        &self.name
    }

    fn remote(&self) -> bool {
        false
    }
}
