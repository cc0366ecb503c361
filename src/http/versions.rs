//! What the API of every versioned resource (templates, workflows) shares:
//! the list entry, the version history, the `{n}` path parameter.

use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::store::Kind;
use crate::util::{opt_rfc3339, rfc3339};

/// A template or workflow in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedItem {
    pub key: String,
    pub name: String,
    pub current_version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339; set once archived.
    pub archived_at: Option<String>,
}

/// One version in a history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionItem {
    pub version: i64,
    pub name: String,
    /// Whether this version is the one in use.
    pub current: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// A template's or workflow's versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub items: Vec<VersionItem>,
}

/// Every resource of a kind, archived ones included.
pub async fn list(state: &AppState, kind: Kind) -> ApiResult<Vec<VersionedItem>> {
    Ok(state
        .store
        .list_versioned(kind, true)
        .await?
        .into_iter()
        .map(|t| VersionedItem {
            key: t.key,
            name: t.name,
            current_version: t.current_version,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
            archived_at: opt_rfc3339(t.archived_at),
        })
        .collect())
}

/// A resource's versions, newest first.
pub async fn history(state: &AppState, kind: Kind, key: &str) -> ApiResult<VersionList> {
    let current = state.versioned(kind, key, None).await?.version;
    let items = state
        .store
        .versions(kind, key)
        .await?
        .into_iter()
        .rev()
        .map(|v| VersionItem {
            version: v.version,
            name: v.name,
            current: v.version == current,
            created_at: rfc3339(v.created_at),
        })
        .collect();
    Ok(VersionList { items })
}

/// `{n}` in a version's path.
pub fn version_param(n: &str) -> ApiResult<i64> {
    n.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError::invalid("version", "must be a version number (1, 2, ...)"))
}
