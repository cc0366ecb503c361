//! What every versioned resource (templates, workflows) shares: read a
//! version or say which of the two is missing, roll back or forward,
//! archive.

use super::{AppState, Error, Result};
use crate::store::{Kind, Versioned};
use crate::util::now_ms;

impl AppState {
    /// A resource's version (`None`: the current one), or which of the two
    /// is missing.
    pub async fn versioned(
        &self,
        kind: Kind,
        key: &str,
        version: Option<i64>,
    ) -> Result<Versioned> {
        let t = self.store.get_version(kind, key, version).await?;
        let noun = kind.noun();
        match (t, version) {
            (Some(t), _) => Ok(t),
            (None, Some(n)) if self.store.get_version(kind, key, None).await?.is_some() => Err(
                Error::NotFound(format!("{noun} `{key}` has no version {n}")),
            ),
            (None, _) => Err(Error::NotFound(format!("there is no {noun} `{key}`"))),
        }
    }

    /// Makes version `n` the one in use; returns the resource as it is now.
    pub async fn activate(&self, kind: Kind, key: &str, n: i64) -> Result<Versioned> {
        self.versioned(kind, key, Some(n)).await?;
        self.store.activate_version(kind, key, n, now_ms()).await?;
        self.versioned(kind, key, None).await
    }

    /// Archives a resource: it can no longer be used; its history is kept.
    pub async fn archive(&self, kind: Kind, key: &str) -> Result<()> {
        self.versioned(kind, key, None).await?;
        self.store.archive_versioned(kind, key, now_ms()).await?;
        Ok(())
    }
}
