//! Versioned resources (templates, workflows, layouts, partials): every change adds an
//! immutable version, one of which is current; a resource can be rolled
//! back to any version and archived. One set of statements serves every
//! kind, each kind with its own pair of tables.

use async_trait::async_trait;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::{StoreResult, VersionRow, Versioned, VersionedSummary};

/// What kind of versioned resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Template,
    Workflow,
    Layout,
    Partial,
}

/// The statements of one kind, written once for every kind.
struct Sql {
    get: &'static str,
    current: &'static str,
    max: &'static str,
    create: &'static str,
    add_version: &'static str,
    set_current: &'static str,
    unarchive: &'static str,
    list: &'static str,
    versions: &'static str,
    activate: &'static str,
    archive: &'static str,
}

macro_rules! sql {
    ($t:literal, $v:literal, $fk:literal) => {
        Sql {
            get: concat!(
                "SELECT t.key, v.name, v.version, v.content, t.created_at, t.updated_at, \
                 t.archived_at FROM ",
                $t,
                " t JOIN ",
                $v,
                " v ON v.",
                $fk,
                " = t.key \
                 AND v.version = COALESCE($2, t.current_version) WHERE t.key = $1"
            ),
            current: concat!(
                "SELECT v.version, v.name, v.content, t.archived_at FROM ",
                $t,
                " t JOIN ",
                $v,
                " v ON v.",
                $fk,
                " = t.key AND v.version = t.current_version \
                 WHERE t.key = $1"
            ),
            max: concat!("SELECT MAX(version) FROM ", $v, " WHERE ", $fk, " = $1"),
            create: concat!(
                "INSERT INTO ",
                $t,
                " (key, name, current_version, created_at, updated_at) \
                 VALUES ($1, $2, 1, $3, $3) ON CONFLICT (key) DO NOTHING"
            ),
            add_version: concat!(
                "INSERT INTO ",
                $v,
                " (",
                $fk,
                ", version, name, content, created_at) \
                 VALUES ($1, $2, $3, $4, $5)"
            ),
            set_current: concat!(
                "UPDATE ",
                $t,
                " SET name = $2, current_version = $3, updated_at = $4, \
                 archived_at = NULL WHERE key = $1"
            ),
            unarchive: concat!(
                "UPDATE ",
                $t,
                " SET archived_at = NULL, updated_at = $2 WHERE key = $1"
            ),
            list: concat!(
                "SELECT key, name, current_version, created_at, updated_at, archived_at FROM ",
                $t,
                " WHERE $1 OR archived_at IS NULL ORDER BY key"
            ),
            versions: concat!(
                "SELECT version, name, content, created_at FROM ",
                $v,
                " WHERE ",
                $fk,
                " = $1 ORDER BY version"
            ),
            activate: concat!(
                "UPDATE ",
                $t,
                " SET current_version = $2, updated_at = $3, archived_at = NULL, \
                 name = (SELECT name FROM ",
                $v,
                " WHERE ",
                $fk,
                " = $1 AND version = $2) \
                 WHERE key = $1 AND EXISTS (SELECT 1 FROM ",
                $v,
                " WHERE ",
                $fk,
                " = $1 AND version = $2)"
            ),
            archive: concat!(
                "UPDATE ",
                $t,
                " SET archived_at = $2, updated_at = $2 WHERE key = $1 \
                 AND archived_at IS NULL"
            ),
        }
    };
}

static TEMPLATES: Sql = sql!("templates", "template_versions", "template_key");
static WORKFLOWS: Sql = sql!("workflows", "workflow_versions", "workflow_key");
static LAYOUTS: Sql = sql!("layouts", "layout_versions", "layout_key");
static PARTIALS: Sql = sql!("partials", "partial_versions", "partial_key");

impl Kind {
    fn sql(self) -> &'static Sql {
        match self {
            Kind::Template => &TEMPLATES,
            Kind::Workflow => &WORKFLOWS,
            Kind::Layout => &LAYOUTS,
            Kind::Partial => &PARTIALS,
        }
    }

    /// How messages name a resource of this kind.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Template => "template",
            Kind::Workflow => "workflow",
            Kind::Layout => "layout",
            Kind::Partial => "partial",
        }
    }
}

/// Versioned resources of every [`Kind`].
#[async_trait]
pub trait Versions: Send + Sync + 'static {
    /// A version (`None`: the current one).
    async fn get_version(
        &self,
        kind: Kind,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<Versioned>>;

    /// Adds a version unless `name` and `content` equal the current one's
    /// (which, if archived, is brought back). Returns the current version
    /// and whether it is new.
    async fn put_version(
        &self,
        kind: Kind,
        key: &str,
        name: &str,
        content: &str,
        now: i64,
    ) -> StoreResult<(i64, bool)>;

    async fn list_versioned(
        &self,
        kind: Kind,
        include_archived: bool,
    ) -> StoreResult<Vec<VersionedSummary>>;

    /// Every version, oldest first.
    async fn versions(&self, kind: Kind, key: &str) -> StoreResult<Vec<VersionRow>>;

    /// Makes version `version` current again (rollback). False if the
    /// resource or version does not exist.
    async fn activate_version(
        &self,
        kind: Kind,
        key: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<bool>;

    /// Archives a resource: it stays readable but can't be used.
    async fn archive_versioned(&self, kind: Kind, key: &str, now: i64) -> StoreResult<bool>;
}

#[async_trait]
impl<S, D> Versions for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn get_version(
        &self,
        kind: Kind,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<Versioned>> {
        Ok(sqlx::query_as::<_, Versioned>(kind.sql().get)
            .bind(key)
            .bind(version)
            .fetch_optional(self.reader())
            .await?)
    }

    async fn put_version(
        &self,
        kind: Kind,
        key: &str,
        name: &str,
        content: &str,
        now: i64,
    ) -> StoreResult<(i64, bool)> {
        let sql = kind.sql();
        let mut tx = self.begin_write().await?;
        let current: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(sql.current)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let version = match current {
            Some((v, n, c, archived)) if n == name && c == content => {
                if archived.is_some() {
                    sqlx::query(sql.unarchive)
                        .bind(key)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                return Ok((v, false));
            }
            Some(_) => {
                let max: i64 = sqlx::query_scalar(sql.max)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                max + 1
            }
            None => {
                sqlx::query(sql.create)
                    .bind(key)
                    .bind(name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                1
            }
        };
        sqlx::query(sql.add_version)
            .bind(key)
            .bind(version)
            .bind(name)
            .bind(content)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql.set_current)
            .bind(key)
            .bind(name)
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((version, true))
    }

    async fn list_versioned(
        &self,
        kind: Kind,
        include_archived: bool,
    ) -> StoreResult<Vec<VersionedSummary>> {
        Ok(sqlx::query_as::<_, VersionedSummary>(kind.sql().list)
            .bind(include_archived)
            .fetch_all(self.reader())
            .await?)
    }

    async fn versions(&self, kind: Kind, key: &str) -> StoreResult<Vec<VersionRow>> {
        Ok(sqlx::query_as::<_, VersionRow>(kind.sql().versions)
            .bind(key)
            .fetch_all(self.reader())
            .await?)
    }

    async fn activate_version(
        &self,
        kind: Kind,
        key: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(kind.sql().activate)
            .bind(key)
            .bind(version)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn archive_versioned(&self, kind: Kind, key: &str, now: i64) -> StoreResult<bool> {
        let r = sqlx::query(kind.sql().archive)
            .bind(key)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
