//! Statements shared by both backends. The schemas are the same column for
//! column, so these are written once and expanded for each backend's
//! database type by [`store_impl!`]; the backend supplies only what differs
//! (claiming, waking, connecting).

use super::{Accept, AcceptOutcome, StoreError, StoreResult};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Rows of one multi-row INSERT (kept well under both backends' parameter
/// limits: deliveries have 15 columns).
pub const INSERT_CHUNK: usize = 500;

pub const DELIVERY_COLUMNS: &str = "id, notification_id, template_key, recipient, recipient_data, channel, category, address, \
     content, status, reason, priority, attempts, due_at, last_error, provider, created_at, updated_at";

/// The ids of up to `$4` deliveries due at `$3`, high priority first: one
/// index range per priority (0 high, 1 normal, 2 low), so rows scheduled for
/// later never slow a claim. `$hint` is SQLite's INDEXED BY, `$lock` is
/// PostgreSQL's FOR UPDATE SKIP LOCKED.
macro_rules! due_in_priority {
    ($hint:literal, $lock:literal) => {
        concat!(
            "SELECT id FROM (SELECT id FROM deliveries",
            $hint,
            " WHERE status IN ('queued', 'scheduled', 'retrying', 'sending') \
             AND priority = 0 AND due_at <= $3 ORDER BY due_at LIMIT $4",
            $lock,
            ") p0 \
             UNION ALL SELECT id FROM (SELECT id FROM deliveries",
            $hint,
            " WHERE status IN ('queued', 'scheduled', 'retrying', 'sending') \
             AND priority = 1 AND due_at <= $3 ORDER BY due_at LIMIT $4",
            $lock,
            ") p1 \
             UNION ALL SELECT id FROM (SELECT id FROM deliveries",
            $hint,
            " WHERE status IN ('queued', 'scheduled', 'retrying', 'sending') \
             AND priority = 2 AND due_at <= $3 ORDER BY due_at LIMIT $4",
            $lock,
            ") p2 \
             LIMIT $4"
        )
    };
}

/// The earliest `due_at` of any waiting delivery: the smallest of each
/// priority's first row.
macro_rules! next_due_sql {
    ($hint:literal) => {
        concat!(
            "SELECT MIN(d) FROM (SELECT (SELECT due_at FROM deliveries", $hint, " WHERE status IN ('queued', 'scheduled', 'retrying', 'sending') \
             AND priority = p.n ORDER BY due_at LIMIT 1) AS d FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) p) m"
        )
    };
}

pub type AcceptJob = (Accept, oneshot::Sender<StoreResult<AcceptOutcome>>);

/// Hands accepted requests to the writer tasks, which commit many of them in
/// one transaction (group commit): a 202 still means "on disk", at a
/// fraction of the cost of one commit per request.
#[derive(Clone)]
pub struct AcceptQueue {
    tx: mpsc::Sender<AcceptJob>,
}

impl AcceptQueue {
    pub fn new(capacity: usize) -> (AcceptQueue, Arc<Mutex<mpsc::Receiver<AcceptJob>>>) {
        let (tx, rx) = mpsc::channel(capacity);
        (AcceptQueue { tx }, Arc::new(Mutex::new(rx)))
    }

    pub async fn submit(&self, accept: Accept) -> StoreResult<AcceptOutcome> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((accept, tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Takes one job, then whatever else is waiting, up to a bound on rows.
pub async fn next_batch(rx: &Mutex<mpsc::Receiver<AcceptJob>>) -> Option<Vec<AcceptJob>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut rows = first.0.deliveries.len() + 1;
    let mut batch = vec![first];
    while batch.len() < 512 && rows < 20_000 {
        match rx.try_recv() {
            Ok(job) => {
                rows += job.0.deliveries.len() + 1;
                batch.push(job);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Raises a recipient's inbox token generation; returns the new one.
pub const INBOX_TOKEN_REVOKE: &str = "INSERT INTO inbox_token_generations (recipient, generation) VALUES ($1, 1) \
     ON CONFLICT (recipient) DO UPDATE SET generation = inbox_token_generations.generation + 1 RETURNING generation";

/// Expands to `impl Store for $store` over database `$db`, with the shared
/// statements and the backend's own items (`backend`, `claim`, `next_due`,
/// `wakeups`)
/// given in braces; `MIGRATOR` must name the backend's migrations. `$store` must have `reader()`, `writer()`,
/// `accept_queue`, `NOTIFY: Option<&'static str>` (a statement run in
/// the same transaction as new work, to wake other processes),
/// `PURGE_SCOPES` (deletes deduplication claims that expired by `$1`),
/// `claim_scopes` (claims deduplication scopes inside the accepting
/// transaction, returning the ids of the deliveries that won theirs) and
/// `inbox_channel()` (the NOTIFY channel a new inbox message is announced
/// on, in the transaction that stores it; `None` where there is none) and
/// `writes_ready()` (what readiness adds to the database answering).
macro_rules! store_impl {
    ($store:ty, $db:ty, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            $($specific)*

            async fn ready(&self) -> StoreResult<bool> {
                self.writes_ready().await?;
                let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(self.reader())
                    .await?;
                Ok(applied as usize >= MIGRATOR.iter().count())
            }

            async fn count_active_keys(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
                    .fetch_one(self.reader()).await?)
            }

            async fn insert_key(&self, k: &ApiKeyRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&k.id).bind(&k.name).bind(&k.prefix).bind(&k.key_hash).bind(&k.scopes).bind(k.created_at)
                    .execute(self.writer()).await?;
                Ok(())
            }

            async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>> {
                Ok(sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE key_hash = $1")
                    .bind(hash).fetch_optional(self.reader()).await?)
            }

            async fn list_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
                Ok(sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys ORDER BY created_at, id")
                    .fetch_all(self.reader()).await?)
            }

            async fn revoke_key(&self, id: &str, now: i64) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now).bind(id).execute(self.writer()).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn touch_key(&self, id: &str, now: i64) -> StoreResult<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(now).bind(id).execute(self.writer()).await?;
                Ok(())
            }

            async fn session_insert(&self, s: &ConsoleSessionRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO console_sessions (id, key_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&s.id).bind(&s.key_id).bind(&s.csrf).bind(s.created_at).bind(s.expires_at)
                    .execute(self.writer()).await?;
                Ok(())
            }

            async fn session_get(&self, id: &str, now: i64) -> StoreResult<Option<SessionView>> {
                Ok(sqlx::query_as::<_, SessionView>(
                    "SELECT s.key_id, k.name AS key_name, k.scopes, s.csrf, s.expires_at \
                     FROM console_sessions s JOIN api_keys k ON k.id = s.key_id \
                     WHERE s.id = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL")
                    .bind(id).bind(now).fetch_optional(self.reader()).await?)
            }

            async fn session_delete(&self, id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM console_sessions WHERE id = $1").bind(id).execute(self.writer()).await?;
                Ok(())
            }

            async fn delivery_counts(&self, since: i64) -> StoreResult<Vec<StatusCount>> {
                Ok(sqlx::query_as::<_, StatusCount>(const_format::concatcp!(
                    "SELECT status, channel, COUNT(*) AS n FROM deliveries", <$store>::BY_CREATED, " WHERE created_at >= $1 \
                     GROUP BY status, channel ORDER BY status, channel"))
                    .bind(since).fetch_all(self.reader()).await?)
            }

            async fn deliveries_per_minute(&self, since: i64) -> StoreResult<Vec<MinuteCount>> {
                Ok(sqlx::query_as::<_, MinuteCount>(const_format::concatcp!(
                    "SELECT created_at / 60000 AS minute, status, channel, COUNT(*) AS n FROM deliveries", <$store>::BY_CREATED, " \
                     WHERE created_at >= $1 GROUP BY created_at / 60000, status, channel ORDER BY minute, status, channel"))
                    .bind(since).fetch_all(self.reader()).await?)
            }

            async fn queue_depth(&self, now: i64) -> StoreResult<Vec<QueueDepth>> {
                Ok(sqlx::query_as::<_, QueueDepth>(
                    "SELECT status, COUNT(*) AS n, MIN(CASE WHEN due_at <= $1 THEN due_at END) AS oldest_due \
                     FROM deliveries WHERE status IN ('queued', 'scheduled', 'retrying', 'sending') \
                     GROUP BY status ORDER BY status")
                    .bind(now).fetch_all(self.reader()).await?)
            }

            async fn setting_init(&self, name: &str, value: &str) -> StoreResult<(String, bool)> {
                let r = sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name).bind(value).execute(self.writer()).await?;
                let stored = sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = $1")
                    .bind(name).fetch_one(self.writer()).await?;
                Ok((stored, r.rows_affected() == 1))
            }

            async fn get_template(&self, key: &str, version: Option<i64>) -> StoreResult<Option<TemplateRow>> {
                Ok(sqlx::query_as::<_, TemplateRow>(
                    "SELECT t.key, v.name, v.version, v.content, t.created_at, t.updated_at, t.archived_at \
                     FROM templates t JOIN template_versions v ON v.template_key = t.key \
                     AND v.version = COALESCE($2, t.current_version) WHERE t.key = $1")
                    .bind(key).bind(version).fetch_optional(self.reader()).await?)
            }

            async fn put_template(&self, key: &str, name: &str, content: &str, now: i64) -> StoreResult<(i64, bool)> {
                let mut tx = self.writer().begin().await?;
                let current: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(
                    "SELECT v.version, v.name, v.content, t.archived_at FROM templates t \
                     JOIN template_versions v ON v.template_key = t.key AND v.version = t.current_version \
                     WHERE t.key = $1")
                    .bind(key).fetch_optional(&mut *tx).await?;
                let version = match current {
                    Some((v, n, c, archived)) if n == name && c == content => {
                        if archived.is_some() {
                            sqlx::query("UPDATE templates SET archived_at = NULL, updated_at = $2 WHERE key = $1")
                                .bind(key).bind(now).execute(&mut *tx).await?;
                            tx.commit().await?;
                        }
                        return Ok((v, false));
                    }
                    Some(_) => {
                        let max: i64 = sqlx::query_scalar("SELECT MAX(version) FROM template_versions WHERE template_key = $1")
                            .bind(key).fetch_one(&mut *tx).await?;
                        max + 1
                    }
                    None => {
                        sqlx::query("INSERT INTO templates (key, name, current_version, created_at, updated_at) VALUES ($1, $2, 1, $3, $3) \
                                     ON CONFLICT (key) DO NOTHING")
                            .bind(key).bind(name).bind(now).execute(&mut *tx).await?;
                        1
                    }
                };
                sqlx::query("INSERT INTO template_versions (template_key, version, name, content, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(key).bind(version).bind(name).bind(content).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE templates SET name = $2, current_version = $3, updated_at = $4, archived_at = NULL WHERE key = $1")
                    .bind(key).bind(name).bind(version).bind(now).execute(&mut *tx).await?;
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
                    "SELECT version, name, content, created_at FROM template_versions WHERE template_key = $1 ORDER BY version")
                    .bind(key).fetch_all(self.reader()).await?)
            }

            async fn activate_template_version(&self, key: &str, version: i64, now: i64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "UPDATE templates SET current_version = $2, updated_at = $3, archived_at = NULL, \
                     name = (SELECT name FROM template_versions WHERE template_key = $1 AND version = $2) \
                     WHERE key = $1 AND EXISTS (SELECT 1 FROM template_versions WHERE template_key = $1 AND version = $2)")
                    .bind(key).bind(version).bind(now).execute(self.writer()).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn archive_template(&self, key: &str, now: i64) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE templates SET archived_at = $2, updated_at = $2 WHERE key = $1 AND archived_at IS NULL")
                    .bind(key).bind(now).execute(self.writer()).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn put_recipient(&self, r: &RecipientRow) -> StoreResult<bool> {
                let existed: Option<i64> = sqlx::query_scalar("SELECT created_at FROM recipients WHERE id = $1")
                    .bind(&r.id).fetch_optional(self.writer()).await?;
                sqlx::query(
                    "INSERT INTO recipients (id, email, phone, webhook_url, locale, timezone, preferences, quiet_hours, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO UPDATE SET email = excluded.email, \
                     phone = excluded.phone, webhook_url = excluded.webhook_url, locale = excluded.locale, timezone = excluded.timezone, \
                     preferences = excluded.preferences, quiet_hours = excluded.quiet_hours, updated_at = excluded.updated_at")
                    .bind(&r.id).bind(&r.email).bind(&r.phone).bind(&r.webhook_url).bind(&r.locale).bind(&r.timezone)
                    .bind(&r.preferences).bind(&r.quiet_hours).bind(r.updated_at)
                    .execute(self.writer()).await?;
                Ok(existed.is_none())
            }

            async fn get_recipients(&self, ids: &[String]) -> StoreResult<Vec<RecipientRow>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks($crate::store::common::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("SELECT * FROM recipients WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(id.clone());
                    }
                    q.push(")");
                    out.extend(q.build_query_as::<RecipientRow>().fetch_all(self.reader()).await?);
                }
                Ok(out)
            }

            async fn delete_recipient(&self, id: &str) -> StoreResult<$crate::store::ErasedRecipient> {
                let mut tx = self.writer().begin().await?;
                let profile = sqlx::query("DELETE FROM recipients WHERE id = $1").bind(id).execute(&mut *tx).await?;
                let messages = sqlx::query("DELETE FROM inbox_messages WHERE recipient = $1").bind(id).execute(&mut *tx).await?;
                let token_generation: i64 = sqlx::query_scalar($crate::store::common::INBOX_TOKEN_REVOKE).bind(id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok($crate::store::ErasedRecipient {
                    profile: profile.rows_affected() == 1,
                    messages: messages.rows_affected(),
                    token_generation,
                })
            }

            async fn inbox_token_generation(&self, recipient: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<_, i64>("SELECT generation FROM inbox_token_generations WHERE recipient = $1")
                    .bind(recipient).fetch_optional(self.reader()).await?.unwrap_or(0))
            }

            async fn revoke_inbox_tokens(&self, recipient: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar($crate::store::common::INBOX_TOKEN_REVOKE).bind(recipient).fetch_one(self.writer()).await?)
            }

            async fn find_idempotency(&self, api_key_id: &str, key: &str, now: i64) -> StoreResult<Option<IdempotencyRecord>> {
                Ok(sqlx::query_as::<_, IdempotencyRecord>(
                    "SELECT request_hash, response_status, response_body FROM idempotency_keys \
                     WHERE api_key_id = $1 AND idem_key = $2 AND expires_at > $3")
                    .bind(api_key_id).bind(key).bind(now).fetch_optional(self.reader()).await?)
            }

            async fn accept(&self, accept: Accept) -> StoreResult<AcceptOutcome> {
                self.accept_queue.submit(accept).await
            }

            async fn get_notification(&self, id: &str) -> StoreResult<Option<NotificationRow>> {
                Ok(sqlx::query_as::<_, NotificationRow>("SELECT * FROM notifications WHERE id = $1")
                    .bind(id).fetch_optional(self.reader()).await?)
            }

            async fn deliveries_of(&self, notification_id: &str) -> StoreResult<Vec<DeliveryRow>> {
                Ok(sqlx::query_as::<_, DeliveryRow>(
                    const_format::concatcp!("SELECT ", DELIVERY_COLUMNS, " FROM deliveries WHERE notification_id = $1 ORDER BY id"))
                    .bind(notification_id).fetch_all(self.reader()).await?)
            }

            async fn list_deliveries(&self, f: &DeliveryFilter, before_id: Option<&str>, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(const_format::concatcp!("SELECT ", DELIVERY_COLUMNS, " FROM deliveries WHERE 1 = 1"));
                if let Some(v) = &f.status { q.push(" AND status = ").push_bind(v.clone()); }
                Self::push_filter(&mut q, f);
                if let Some(v) = before_id { q.push(" AND id < ").push_bind(v.to_string()); }
                q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
                Ok(q.build_query_as::<DeliveryRow>().fetch_all(self.reader()).await?)
            }

            async fn get_delivery(&self, id: &str) -> StoreResult<Option<DeliveryRow>> {
                Ok(sqlx::query_as::<_, DeliveryRow>(
                    const_format::concatcp!("SELECT ", DELIVERY_COLUMNS, " FROM deliveries WHERE id = $1"))
                    .bind(id).fetch_optional(self.reader()).await?)
            }

            async fn attempts_of(&self, delivery_id: &str) -> StoreResult<Vec<AttemptRow>> {
                Ok(sqlx::query_as::<_, AttemptRow>("SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY number")
                    .bind(delivery_id).fetch_all(self.reader()).await?)
            }

            async fn retry_delivery(&self, id: &str, note: &str, now: i64) -> StoreResult<Transition> {
                let mut tx = self.writer().begin().await?;
                // As in retry_failed: the audit entry takes the next attempt
                // number, and the new retry cycle starts after it.
                let row = sqlx::query_as::<_, DeliveryRow>(const_format::concatcp!(
                    "UPDATE deliveries SET status = 'queued', reason = NULL, due_at = $2, attempts = attempts + 1, \
                     retry_base = attempts + 1, last_error = NULL, updated_at = $2 WHERE id = $1 AND status = 'failed' RETURNING ",
                    DELIVERY_COLUMNS))
                    .bind(id).bind(now).fetch_optional(&mut *tx).await?;
                if let Some(r) = &row {
                    Self::audit_requeued(&mut tx, &[(r.id.clone(), r.attempts)], note, now).await?;
                    if let Some(sql) = Self::NOTIFY { sqlx::query(sql).execute(&mut *tx).await?; }
                }
                tx.commit().await?;
                self.transition(id, row).await
            }

            async fn cancel_delivery(&self, id: &str, now: i64) -> StoreResult<Transition> {
                let row = sqlx::query_as::<_, DeliveryRow>(const_format::concatcp!(
                    "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by request', due_at = NULL, updated_at = $2 \
                     WHERE id = $1 AND status IN ('queued', 'scheduled', 'retrying') RETURNING ", DELIVERY_COLUMNS))
                    .bind(id).bind(now).fetch_optional(self.writer()).await?;
                self.transition(id, row).await
            }

            async fn cancel_notification(&self, notification_id: &str, now: i64) -> StoreResult<u64> {
                Ok(self.cancel_notification_channels(notification_id, now).await?.len() as u64)
            }

            async fn cancel_notification_channels(&self, notification_id: &str, now: i64) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar::<_, String>(
                    "UPDATE deliveries SET status = 'cancelled', reason = 'cancelled by request', due_at = NULL, updated_at = $2 \
                     WHERE notification_id = $1 AND status IN ('queued', 'scheduled', 'retrying') RETURNING channel")
                    .bind(notification_id).bind(now).fetch_all(self.writer()).await?)
            }


            async fn retry_failed(&self, f: &DeliveryFilter, note: &str, now: i64) -> StoreResult<u64> {
                let mut tx = self.writer().begin().await?;
                // The audit entry takes the next attempt number; the new retry
                // cycle starts after it.
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "UPDATE deliveries SET status = 'queued', reason = NULL, last_error = NULL, due_at = ");
                q.push_bind(now).push(", updated_at = ").push_bind(now)
                    .push(", attempts = attempts + 1, retry_base = attempts + 1 WHERE status = 'failed'");
                Self::push_filter(&mut q, f);
                q.push(" RETURNING id, attempts");
                let requeued: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
                Self::audit_requeued(&mut tx, &requeued, note, now).await?;
                if !requeued.is_empty() {
                    if let Some(sql) = Self::NOTIFY { sqlx::query(sql).execute(&mut *tx).await?; }
                }
                tx.commit().await?;
                Ok(requeued.len() as u64)
            }

            async fn complete(&self, completions: &[Completion], now: i64) -> StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                for chunk in completions.chunks($crate::store::common::INSERT_CHUNK) {
                    // One statement for the chunk: VALUES columns are
                    // column1.. in both SQLite and PostgreSQL.
                    let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE deliveries SET status = v.column3, reason = v.column4, \
                        due_at = v.column5, attempts = attempts + 1, last_error = v.column6, provider = v.column7, \
                        updated_at = v.column8, claim_token = NULL FROM (");
                    q.push_values(chunk, |mut b, c| {
                        b.push_bind(c.delivery_id.clone()).push_bind(c.claim_token.clone()).push_bind(c.status)
                            .push_bind(c.reason.clone()).push_bind(c.due_at).push_bind(c.last_error())
                            .push_bind(c.attempt.provider.clone()).push_bind(now);
                    });
                    q.push(") AS v WHERE deliveries.id = v.column1 AND deliveries.claim_token = v.column2");
                    q.build().execute(&mut *tx).await?;

                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO delivery_attempts (delivery_id, number, provider, started_at, duration_ms, outcome, status_code, response, error) ");
                    q.push_values(chunk, |mut b, c| {
                        let a = &c.attempt;
                        b.push_bind(a.delivery_id.clone()).push_bind(a.number).push_bind(a.provider.clone())
                            .push_bind(a.started_at).push_bind(a.duration_ms).push_bind(a.outcome.clone())
                            .push_bind(a.status_code).push_bind(a.response.clone()).push_bind(a.error.clone());
                    });
                    q.push(" ON CONFLICT (delivery_id, number) DO NOTHING");
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn take_tokens(&self, name: &str, per_ms: f64, burst: f64, want: i64, now: i64) -> StoreResult<i64> {
                let mut tx = self.writer().begin_with(Self::BEGIN_WRITE).await?;
                sqlx::query("INSERT INTO rate_buckets (name, tokens, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(name).bind(burst).bind(now).execute(&mut *tx).await?;
                let (tokens, updated_at): (f64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT tokens, updated_at FROM rate_buckets WHERE name = $1{}", Self::LOCK_ROW)))
                    .bind(name).fetch_one(&mut *tx).await?;
                let available = (tokens + (now - updated_at).max(0) as f64 * per_ms).min(burst);
                let granted = (available.floor() as i64).clamp(0, want);
                sqlx::query("UPDATE rate_buckets SET tokens = $2, updated_at = $3 WHERE name = $1")
                    .bind(name).bind(available - granted as f64).bind(now.max(updated_at)).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(granted)
            }

            async fn provider_states(&self) -> StoreResult<Vec<ProviderStateRow>> {
                Ok(sqlx::query_as::<_, ProviderStateRow>("SELECT key, paused_until, open_until FROM provider_state ORDER BY key")
                    .fetch_all(self.reader()).await?)
            }

            async fn provider_pause(&self, key: &str, until: i64, now: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO provider_state (key, paused_until, updated_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at, paused_until = CASE \
                             WHEN provider_state.paused_until > excluded.paused_until THEN provider_state.paused_until \
                             ELSE excluded.paused_until END")
                    .bind(key).bind(until).bind(now).execute(self.writer()).await?;
                Ok(())
            }

            async fn provider_breaker(&self, key: &str, open_until: Option<i64>, now: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO provider_state (key, open_until, updated_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (key) DO UPDATE SET open_until = excluded.open_until, updated_at = excluded.updated_at")
                    .bind(key).bind(open_until).bind(now).execute(self.writer()).await?;
                Ok(())
            }

            async fn provider_claim_probe(&self, key: &str, seen: i64, lease_until: i64, now: i64) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE provider_state SET open_until = $3, updated_at = $4 \
                                     WHERE key = $1 AND open_until = $2 AND open_until <= $4")
                    .bind(key).bind(seen).bind(lease_until).bind(now).execute(self.writer()).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn defer(&self, token: &str, waits: &[(String, i64)], reason: &str, now: i64) -> StoreResult<()> {
                let mut tx = self.writer().begin().await?;
                for chunk in waits.chunks($crate::store::common::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE deliveries SET status = 'scheduled', reason = ");
                    q.push_bind(reason.to_string()).push(", due_at = v.column2, claim_token = NULL, updated_at = ").push_bind(now).push(" FROM (");
                    q.push_values(chunk, |mut b, (id, due)| {
                        b.push_bind(id.clone()).push_bind(*due);
                    });
                    q.push(") AS v WHERE deliveries.id = v.column1 AND deliveries.claim_token = ").push_bind(token.to_string());
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn release(&self, token: &str, now: i64) -> StoreResult<u64> {
                let r = sqlx::query(
                    "UPDATE deliveries SET status = CASE WHEN attempts > retry_base THEN 'retrying' ELSE 'queued' END, \
                     due_at = $2, claim_token = NULL, updated_at = $2 WHERE claim_token = $1 AND status = 'sending'")
                    .bind(token).bind(now).execute(self.writer()).await?;
                Ok(r.rows_affected())
            }

            async fn inbox_insert(&self, m: &NewInboxMessage, event: &str) -> StoreResult<Option<InboxMessage>> {
                let mut tx = self.writer().begin().await?;
                let stored = sqlx::query_as::<_, InboxMessage>(
                    "INSERT INTO inbox_messages (id, recipient, delivery_id, notification_id, title, body, action_url, data, category, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE((SELECT data FROM notifications WHERE id = $4), '{}'), $8, $9) \
                     ON CONFLICT (delivery_id) DO NOTHING RETURNING *")
                    .bind(&m.id).bind(&m.recipient).bind(&m.delivery_id).bind(&m.notification_id).bind(&m.title)
                    .bind(&m.body).bind(&m.action_url).bind(&m.category).bind(m.created_at)
                    .fetch_optional(&mut *tx).await?;
                if stored.is_some() {
                    if let Some(channel) = self.inbox_channel() {
                        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(event).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn inbox_list(&self, recipient: &str, unread_only: bool, before_id: Option<&str>, limit: i64) -> StoreResult<Vec<InboxMessage>> {
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT * FROM inbox_messages WHERE recipient = ");
                q.push_bind(recipient.to_string()).push(" AND archived_at IS NULL");
                if unread_only { q.push(" AND read_at IS NULL"); }
                if let Some(v) = before_id { q.push(" AND id < ").push_bind(v.to_string()); }
                q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
                Ok(q.build_query_as::<InboxMessage>().fetch_all(self.reader()).await?)
            }

            async fn inbox_unread_count(&self, recipient: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM inbox_messages WHERE recipient = $1 AND archived_at IS NULL AND read_at IS NULL")
                    .bind(recipient).fetch_one(self.reader()).await?)
            }

            async fn inbox_after(&self, recipient: &str, after_id: &str, limit: i64) -> StoreResult<Vec<InboxMessage>> {
                Ok(sqlx::query_as::<_, InboxMessage>(
                    "SELECT * FROM inbox_messages WHERE recipient = $1 AND archived_at IS NULL AND id > $2 ORDER BY id LIMIT $3")
                    .bind(recipient).bind(after_id).bind(limit).fetch_all(self.reader()).await?)
            }

            async fn inbox_get(&self, recipient: &str, id: &str) -> StoreResult<Option<InboxMessage>> {
                Ok(sqlx::query_as::<_, InboxMessage>("SELECT * FROM inbox_messages WHERE recipient = $1 AND id = $2")
                    .bind(recipient).bind(id).fetch_optional(self.reader()).await?)
            }

            async fn inbox_mark_read(&self, recipient: &str, id: &str, now: i64) -> StoreResult<Option<(InboxMessage, bool)>> {
                let changed = sqlx::query_as::<_, InboxMessage>(
                    "UPDATE inbox_messages SET read_at = $3 WHERE recipient = $1 AND id = $2 \
                     AND archived_at IS NULL AND read_at IS NULL RETURNING *")
                    .bind(recipient).bind(id).bind(now).fetch_optional(self.writer()).await?;
                if let Some(m) = changed {
                    return Ok(Some((m, true)));
                }
                Ok(sqlx::query_as::<_, InboxMessage>(
                    "SELECT * FROM inbox_messages WHERE recipient = $1 AND id = $2 AND archived_at IS NULL")
                    .bind(recipient).bind(id).fetch_optional(self.writer()).await?.map(|m| (m, false)))
            }

            async fn inbox_mark_all_read(&self, recipient: &str, now: i64) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar::<_, String>(
                    "UPDATE inbox_messages SET read_at = $2 WHERE recipient = $1 AND archived_at IS NULL AND read_at IS NULL RETURNING id")
                    .bind(recipient).bind(now).fetch_all(self.writer()).await?)
            }

            async fn inbox_archive(&self, recipient: &str, id: &str, now: i64) -> StoreResult<bool> {
                let r = sqlx::query("UPDATE inbox_messages SET archived_at = $3 WHERE recipient = $1 AND id = $2 AND archived_at IS NULL")
                    .bind(recipient).bind(id).bind(now).execute(self.writer()).await?;
                Ok(r.rows_affected() == 1)
            }

            async fn purge_idempotency(&self, now: i64) -> StoreResult<u64> {
                sqlx::query(Self::PURGE_SCOPES).bind(now).execute(self.writer()).await?;
                sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1").bind(now).execute(self.writer()).await?;
                Ok(sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                    .bind(now).execute(self.writer()).await?.rows_affected())
            }

            async fn purge_finished(&self, before: i64) -> StoreResult<u64> {
                let mut tx = self.writer().begin().await?;
                let finished = "SELECT id FROM deliveries WHERE status IN ('sent', 'failed', 'suppressed', 'cancelled') AND updated_at < $1";
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM delivery_attempts WHERE delivery_id IN ({finished})")))
                    .bind(before).execute(&mut *tx).await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM deliveries WHERE id IN ({finished})")))
                    .bind(before).execute(&mut *tx).await?.rows_affected();
                sqlx::query("DELETE FROM notifications WHERE created_at < $1 AND NOT EXISTS \
                             (SELECT 1 FROM deliveries d WHERE d.notification_id = notifications.id)")
                    .bind(before).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(n)
            }
        }

        impl $store {
            /// Writes an operator's re-queue of each (delivery id, attempt
            /// number it took) in that delivery's attempt log, with `note`
            /// saying who and how.
            async fn audit_requeued(
                tx: &mut sqlx::Transaction<'_, $db>,
                requeued: &[(String, i64)],
                note: &str,
                now: i64,
            ) -> StoreResult<()> {
                for chunk in requeued.chunks($crate::store::common::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO delivery_attempts (delivery_id, number, provider, started_at, duration_ms, outcome, error) ");
                    q.push_values(chunk, |mut b, (id, number)| {
                        b.push_bind(id.clone()).push_bind(*number).push_bind("operator").push_bind(now)
                            .push_bind(0i64).push_bind("requeued").push_bind(note.to_string());
                    });
                    q.push(" ON CONFLICT (delivery_id, number) DO NOTHING");
                    q.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// ` AND …` for each of the list filters except `status`.
            fn push_filter(q: &mut sqlx::QueryBuilder<$db>, f: &DeliveryFilter) {
                if let Some(v) = &f.channel { q.push(" AND channel = ").push_bind(v.clone()); }
                if let Some(v) = &f.recipient { q.push(" AND recipient = ").push_bind(v.clone()); }
                if let Some(v) = &f.template { q.push(" AND template_key = ").push_bind(v.clone()); }
                if let Some(v) = &f.notification { q.push(" AND notification_id = ").push_bind(v.clone()); }
                // Ids are time-ordered, so a time range is also an id range
                // (widened by ID_TIME_SLACK_MS): newest first then reads the
                // primary key (or (status, id)) from the range's end instead
                // of sorting every row of the range.
                if let Some(v) = f.since {
                    q.push(" AND created_at >= ").push_bind(v);
                    q.push(" AND id >= ").push_bind($crate::util::id_floor(v - $crate::util::ID_TIME_SLACK_MS));
                }
                if let Some(v) = f.until {
                    q.push(" AND created_at < ").push_bind(v);
                    q.push(" AND id < ").push_bind($crate::util::id_floor(v + $crate::util::ID_TIME_SLACK_MS));
                }
            }

            async fn transition(&self, id: &str, changed: Option<DeliveryRow>) -> StoreResult<Transition> {
                use $crate::store::Store;
                Ok(match changed {
                    Some(row) => Transition::Done(row),
                    None => match self.get_delivery(id).await? {
                        Some(row) => Transition::WrongStatus(row.status),
                        None => Transition::NotFound,
                    },
                })
            }

            /// Commits a batch of accepted requests in one transaction. If the
            /// batch fails, each is tried alone so one bad request can't sink
            /// the others.
            ///
            /// A failure that is the database's (disk full, no connection)
            /// fails the whole group at once, without trying each request
            /// alone: each would wait for and fail the same way. It is
            /// returned, so the writer knows writes are failing.
            async fn write_accepts(
                pool: &sqlx::Pool<$db>,
                held: &mut $crate::store::held::HeldScopes,
                batch: Vec<$crate::store::common::AcceptJob>,
            ) -> Result<(), $crate::store::Unavailable> {
                let accepts: Vec<&Accept> = batch.iter().map(|(a, _)| a).collect();
                match Self::accept_tx(pool, held, &accepts).await {
                    Ok(outcomes) => {
                        for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                        Ok(())
                    }
                    Err(e) if e.unavailable().is_some() => {
                        let kind = e.unavailable().expect("checked above");
                        tracing::warn!(error = %e, size = batch.len(), "accepted requests could not be written");
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.shared().expect("checked above")));
                        }
                        Err(kind)
                    }
                    Err(e) if batch.len() == 1 => {
                        let (_, reply) = batch.into_iter().next().unwrap();
                        let _ = reply.send(Err(e));
                        Ok(())
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, size = batch.len(), "batched accept failed; retrying one by one");
                        let mut failing = Ok(());
                        for (accept, reply) in batch {
                            let r = Self::accept_tx(pool, held, &[&accept]).await.map(|mut v| v.remove(0));
                            match r.as_ref().map_err(|e| e.unavailable()) {
                                Err(Some(kind)) => failing = Err(kind),
                                Ok(_) => failing = Ok(()),
                                Err(None) => {}
                            }
                            let _ = reply.send(r);
                        }
                        failing
                    }
                }
            }

            /// Claims each delivery's deduplication scope for its window
            /// (the backend's `claim_scopes`) and applies frequency caps.
            /// Deliveries whose scope is already held (by an earlier send, or
            /// earlier in this batch) become `suppressed`/`duplicate`; returns
            /// the changed accepts (None where nothing changed).
            async fn dedup_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                held: &mut $crate::store::held::HeldScopes,
                accepts: &[&Accept],
            ) -> StoreResult<Vec<Option<Accept>>> {
                let now = $crate::util::now_ms();
                let mut seen = std::collections::HashSet::new();
                let mut claims: Vec<(&str, &str, i64)> = Vec::new();
                for a in accepts {
                    for d in &a.deliveries {
                        if let Some((scope, until)) = &d.dedup {
                            if seen.insert(scope.as_str()) {
                                claims.push((scope.as_str(), d.id.as_str(), *until));
                            }
                        }
                    }
                }
                let capped = Self::caps_tx(tx, accepts, now).await?;
                if claims.is_empty() && capped.is_empty() {
                    return Ok(vec![None; accepts.len()]);
                }
                let won = Self::claim_scopes(tx, held, &claims, now).await?;
                let why = |d: &NewDelivery| -> Option<&'static str> {
                    if d.dedup.is_some() && !won.contains(&d.id) {
                        Some("duplicate")
                    } else if capped.contains(&d.id) {
                        Some("frequency_cap")
                    } else {
                        None
                    }
                };
                Ok(accepts
                    .iter()
                    .map(|a| {
                        if !a.deliveries.iter().any(|d| why(d).is_some()) {
                            return None;
                        }
                        let mut a = (*a).clone();
                        for (d, summary) in a.deliveries.iter_mut().zip(a.answer.deliveries.iter_mut()) {
                            if let Some(reason) = why(d) {
                                d.status = "suppressed";
                                d.reason = Some(reason.into());
                                d.due_at = None;
                                summary.status = "suppressed".into();
                                summary.reason = Some(reason.into());
                            }
                        }
                        Some(a)
                    })
                    .collect())
            }

            /// Applies frequency caps: counts each capped recipient, channel
            /// and category's deliveries inside the window (under a lock on
            /// PostgreSQL, under SQLite's single writer otherwise) and
            /// returns the ids of the deliveries over the cap.
            async fn caps_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                accepts: &[&Accept],
                now: i64,
            ) -> StoreResult<std::collections::HashSet<String>> {
                let mut over = std::collections::HashSet::new();
                // Counts so far per (recipient, channel, category), including
                // this batch.
                let mut counts: std::collections::HashMap<(String, String, String), i64> = std::collections::HashMap::new();
                for a in accepts {
                    let category = &a.notification.category;
                    for d in &a.deliveries {
                        let Some((limit, window, template)) = &d.cap else { continue };
                        let (limit, window) = (*limit, *window);
                        if d.status == "suppressed" {
                            continue;
                        }
                        // A template's own cap counts that template only.
                        let scope = match template {
                            Some(t) => format!("{category}\t{t}"),
                            None => category.clone(),
                        };
                        let k = (d.recipient.clone(), d.channel.clone(), scope);
                        let count = match counts.get(&k) {
                            Some(c) => *c,
                            None => {
                                if let Some(sql) = Self::CAP_LOCK {
                                    sqlx::query(sql).bind(format!("cap\t{}\t{}\t{}", k.0, k.1, k.2)).execute(&mut **tx).await?;
                                }
                                sqlx::query_scalar::<_, i64>(
                                    "SELECT COUNT(*) FROM deliveries WHERE recipient = $1 AND channel = $2 AND category = $3 \
                                     AND created_at > $4 AND status NOT IN ('suppressed', 'cancelled') \
                                     AND ($5 IS NULL OR template_key = $5)")
                                    .bind(&k.0).bind(&k.1).bind(category).bind(now - window).bind(template.clone())
                                    .fetch_one(&mut **tx).await?
                            }
                        };
                        if count >= limit {
                            over.insert(d.id.clone());
                            counts.insert(k, count);
                        } else {
                            counts.insert(k, count + 1);
                        }
                    }
                }
                Ok(over)
            }

            /// `held` is the writer task's own: what it claims enters it only
            /// once the transaction has committed.
            async fn accept_tx(
                pool: &sqlx::Pool<$db>,
                held: &mut $crate::store::held::HeldScopes,
                accepts: &[&Accept],
            ) -> StoreResult<Vec<AcceptOutcome>> {
                held.discard_pending();
                let mut tx = pool.begin_with(Self::BEGIN_WRITE).await?;
                let mut outcomes = Vec::with_capacity(accepts.len());
                let mut fresh: Vec<&Accept> = Vec::with_capacity(accepts.len());
                for a in accepts {
                    if let Some((key_id, key, rec, expires_at)) = &a.idempotency {
                        let n = a.notification.created_at;
                        let r = sqlx::query(
                            "INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, response_status, response_body, created_at, expires_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (api_key_id, idem_key) DO UPDATE SET \
                             request_hash = excluded.request_hash, response_status = excluded.response_status, \
                             response_body = excluded.response_body, created_at = excluded.created_at, expires_at = excluded.expires_at \
                             WHERE idempotency_keys.expires_at <= $6")
                            .bind(key_id).bind(key).bind(&rec.request_hash).bind(rec.response_status)
                            .bind(&rec.response_body).bind(n).bind(expires_at)
                            .execute(&mut *tx).await?;
                        if r.rows_affected() == 0 {
                            let existing = sqlx::query_as::<_, IdempotencyRecord>(
                                "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2")
                                .bind(key_id).bind(key).fetch_one(&mut *tx).await?;
                            outcomes.push(AcceptOutcome::Existing(existing));
                            continue;
                        }
                    }
                    outcomes.push(AcceptOutcome::Created(String::new()));
                    fresh.push(a);
                }
                let deduped = Self::dedup_tx(&mut tx, held, &fresh).await?;
                // Final answers: after deduplication, and stored with the
                // Idempotency-Key when one was given.
                let mut created = fresh.iter().zip(&deduped);
                for outcome in outcomes.iter_mut() {
                    if let AcceptOutcome::Created(body) = outcome {
                        let (a, changed) = created.next().expect("one fresh accept per created outcome");
                        match changed {
                            None => *body = a.answer_json.clone(),
                            Some(c) => {
                                *body = serde_json::to_string(&c.answer).expect("answers serialise");
                                if let Some((key_id, key, _, _)) = &a.idempotency {
                                    sqlx::query("UPDATE idempotency_keys SET response_body = $3 WHERE api_key_id = $1 AND idem_key = $2")
                                        .bind(key_id).bind(key).bind(body.as_str()).execute(&mut *tx).await?;
                                }
                            }
                        }
                    }
                }
                let fresh: Vec<&Accept> = fresh.iter().zip(&deduped).map(|(a, d)| d.as_ref().unwrap_or(*a)).collect();
                // Everything new in as few statements as the parameter limits allow.
                for chunk in fresh.chunks($crate::store::common::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO notifications (id, template_key, template_version, data, category, priority, locale, dedup_key, send_at, api_key_id, created_at) ");
                    q.push_values(chunk, |mut b, a| {
                        let n = &a.notification;
                        b.push_bind(n.id.clone()).push_bind(n.template_key.clone()).push_bind(n.template_version)
                            .push_bind(n.data.clone()).push_bind(n.category.clone()).push_bind(n.priority.clone())
                            .push_bind(n.locale.clone()).push_bind(n.dedup_key.clone()).push_bind(n.send_at)
                            .push_bind(n.api_key_id.clone()).push_bind(n.created_at);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let rows: Vec<(&NotificationRow, &NewDelivery)> =
                    fresh.iter().flat_map(|a| a.deliveries.iter().map(move |d| (&a.notification, d))).collect();
                for chunk in rows.chunks($crate::store::common::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO deliveries (id, notification_id, template_key, recipient, recipient_data, channel, category, address, content, \
                         status, reason, priority, due_at, created_at, updated_at, attempts) ");
                    q.push_values(chunk, |mut b, (n, d)| {
                        b.push_bind(d.id.clone()).push_bind(n.id.clone()).push_bind(d.template_key.clone())
                            .push_bind(d.recipient.clone()).push_bind(d.recipient_data.clone()).push_bind(d.channel.clone())
                            .push_bind(n.category.clone()).push_bind(d.address.clone()).push_bind(d.content.clone()).push_bind(d.status)
                            .push_bind(d.reason.clone()).push_bind(d.priority).push_bind(d.due_at)
                            .push_bind(n.created_at).push_bind(n.created_at).push_unseparated(", 0");
                    });
                    q.build().execute(&mut *tx).await?;
                }
                if !fresh.is_empty() {
                    if let Some(sql) = Self::NOTIFY { sqlx::query(sql).execute(&mut *tx).await?; }
                }
                tx.commit().await?;
                held.commit_pending($crate::util::now_ms());
                Ok(outcomes)
            }
        }
    };
}
