//! Templates and their versions: every change adds a version, and one of
//! them is current.

use async_trait::async_trait;

use super::dialect::{Dialect, Engine, RowsAffected};
use super::{StoreResult, TemplateRow, TemplateSummary, TemplateVersionRow};

/// Versioned templates.
#[async_trait]
pub trait Templates: Send + Sync + 'static {
    async fn get_template(
        &self,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<TemplateRow>>;

    /// Adds a version unless `content` equals the current one. Returns the
    /// current version and whether it is new.
    async fn put_template(
        &self,
        key: &str,
        name: &str,
        content: &str,
        now: i64,
    ) -> StoreResult<(i64, bool)>;

    async fn list_templates(&self, include_archived: bool) -> StoreResult<Vec<TemplateSummary>>;

    async fn template_versions(&self, key: &str) -> StoreResult<Vec<TemplateVersionRow>>;

    /// Makes version `version` current again (rollback). False if the
    /// template or version does not exist.
    async fn activate_template_version(
        &self,
        key: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<bool>;

    /// Archives a template: it stays readable but can't be sent with.
    async fn archive_template(&self, key: &str, now: i64) -> StoreResult<bool>;
}

#[async_trait]
impl<S, D> Templates for S
where
    S: Engine<Db = D>,
    D: Dialect,
{
    async fn get_template(
        &self,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<TemplateRow>> {
        Ok(sqlx::query_as::<_, TemplateRow>(
            "SELECT t.key, v.name, v.version, v.content, t.created_at, t.updated_at, t.archived_at \
             FROM templates t JOIN template_versions v ON v.template_key = t.key \
             AND v.version = COALESCE($2, t.current_version) WHERE t.key = $1")
            .bind(key).bind(version).fetch_optional(self.reader()).await?)
    }

    async fn put_template(
        &self,
        key: &str,
        name: &str,
        content: &str,
        now: i64,
    ) -> StoreResult<(i64, bool)> {
        let mut tx = self.writer().begin().await?;
        let current: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT v.version, v.name, v.content, t.archived_at FROM templates t \
             JOIN template_versions v ON v.template_key = t.key AND v.version = t.current_version \
             WHERE t.key = $1",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let version = match current {
            Some((v, n, c, archived)) if n == name && c == content => {
                if archived.is_some() {
                    sqlx::query(
                        "UPDATE templates SET archived_at = NULL, updated_at = $2 WHERE key = $1",
                    )
                    .bind(key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }
                return Ok((v, false));
            }
            Some(_) => {
                let max: i64 = sqlx::query_scalar(
                    "SELECT MAX(version) FROM template_versions WHERE template_key = $1",
                )
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
                max + 1
            }
            None => {
                sqlx::query(
                    "INSERT INTO templates (key, name, current_version, created_at, \
                     updated_at) VALUES ($1, $2, 1, $3, $3) ON CONFLICT (key) DO \
                     NOTHING",
                )
                .bind(key)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                1
            }
        };
        sqlx::query(
            "INSERT INTO template_versions (template_key, version, name, content, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key)
        .bind(version)
        .bind(name)
        .bind(content)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE templates SET name = $2, current_version = $3, updated_at = $4, \
             archived_at = NULL WHERE key = $1",
        )
        .bind(key)
        .bind(name)
        .bind(version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((version, true))
    }

    async fn list_templates(&self, include_archived: bool) -> StoreResult<Vec<TemplateSummary>> {
        Ok(sqlx::query_as::<_, TemplateSummary>(
            "SELECT key, name, current_version, created_at, updated_at, archived_at FROM templates \
             WHERE $1 OR archived_at IS NULL ORDER BY key")
            .bind(include_archived).fetch_all(self.reader()).await?)
    }

    async fn template_versions(&self, key: &str) -> StoreResult<Vec<TemplateVersionRow>> {
        Ok(sqlx::query_as::<_, TemplateVersionRow>(
            "SELECT version, name, content, created_at FROM template_versions WHERE \
             template_key = $1 ORDER BY version",
        )
        .bind(key)
        .fetch_all(self.reader())
        .await?)
    }

    async fn activate_template_version(
        &self,
        key: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE templates SET current_version = $2, updated_at = $3, archived_at = NULL, \
             name = (SELECT name FROM template_versions WHERE template_key = $1 AND version = \
             $2) WHERE key = $1 AND EXISTS (SELECT 1 FROM template_versions WHERE \
             template_key = $1 AND version = $2)",
        )
        .bind(key)
        .bind(version)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn archive_template(&self, key: &str, now: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE templates SET archived_at = $2, updated_at = $2 WHERE key \
             = $1 AND archived_at IS NULL",
        )
        .bind(key)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
