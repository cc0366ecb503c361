//! PostgreSQL: for many instances on one database. Claiming uses
//! `FOR UPDATE SKIP LOCKED`, so workers in any number of processes take
//! disjoint batches; new work wakes every process through LISTEN/NOTIFY.
//!
//! The statements are shared ([`super::dialect`]); this module opens the
//! pool, starts the writer tasks and listens, and says what PostgreSQL
//! does its own way ([`Dialect`] for `Postgres`).

use std::str::FromStr;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgSslMode};
use sqlx::Postgres;
use std::collections::HashSet;

use super::dialect::{
    due_in_priority, next_due_sql, push_unnest, Dialect, DueIndex, Engine, Rows, Write,
    INSERT_CHUNK,
};
use super::events::Subscribed;
use super::handoff::Handoff;
use super::writer::{run_writer, WriteQueue, WriterConn};
use super::StoreResult;
use crate::config::{Backend, DatabaseConfig};
use sqlx::migrate::Migrator;
use std::sync::LazyLock;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The LISTEN/NOTIFY channel. Notifications carry no payload: they only say
/// "look at the queue".
const WAKE_CHANNEL: &str = "missive_wake";

/// The LISTEN/NOTIFY channel for inbox changes (see [`inbox_channel`]).
/// Payloads are small (a recipient id and message ids, see
/// `crate::inbox::Announcement`); each process loads what its streams need.
const INBOX_CHANNEL: &str = "missive_inbox";

/// NOTIFY reaches every session of the database whatever its schema, so
/// deployments in different schemas of one database use channels of their
/// own: `missive_inbox_<schema>` (hashed if that is over PostgreSQL's 63
/// bytes).
pub fn inbox_channel(schema: Option<&str>) -> String {
    match schema {
        None => INBOX_CHANNEL.to_string(),
        Some(s) if INBOX_CHANNEL.len() + 1 + s.len() <= 63 => format!("{INBOX_CHANNEL}_{s}"),
        Some(s) => {
            use sha2::Digest;
            format!(
                "{INBOX_CHANNEL}_{}",
                &hex::encode(sha2::Sha256::digest(s.as_bytes()))[..16]
            )
        }
    }
}

/// How long a pooled connection may sit idle and still be handed out
/// without a ping.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

pub struct PgStore {
    pool: PgPool,
    write_queue: WriteQueue,
    handoff: Arc<Handoff>,
    subscribed: Arc<Subscribed>,
    inbox_channel: String,
}

impl PgStore {
    pub async fn open(cfg: &DatabaseConfig) -> StoreResult<Self> {
        let mut opts = plain_on_loopback(&cfg.url, PgConnectOptions::from_str(&cfg.url)?);
        if let Some(schema) = &cfg.schema {
            // Make the schema with a plain connection first, then point every
            // pooled connection at it.
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&admin)
            .await?;
            admin.close().await;
            opts = opts.options([("search_path", schema.as_str())]);
        }
        // Transactions that write accepted requests and outcomes at once
        // (`database.writers`): two keep one batch filling while the other
        // commits; with four, batches were smaller and the database spent
        // more per delivery (decision 0024).
        let writers = cfg.writers.max(1);
        let size = cfg.max_connections.max(writers as u32 + 2);
        // Open every connection up front: a new connection costs a TLS
        // handshake (tens of ms), which must not land on a request.
        let pool = PgPoolOptions::new()
            .max_connections(size)
            .min_connections(size)
            // A connection in steady use goes back to work without a
            // ping: the ping is a round trip to the database before every
            // statement, and a broken connection fails its statement just
            // the same. One idle for a while is pinged first, so one that
            // died meanwhile (a restarted database, a dropped idle link) is
            // replaced before a request lands on it.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(cfg.acquire_timeout)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let (write_queue, rx) = WriteQueue::new(4096);
        let handoff = Arc::new(Handoff::default());
        let subscribed = Arc::new(Subscribed::default());
        for _ in 0..writers {
            // The pool holds two connections more than the writers keep.
            let conn = WriterConn::new(pool.clone(), None);
            tokio::spawn(run_writer::<Postgres>(
                rx.clone(),
                conn,
                (),
                handoff.clone(),
                subscribed.clone(),
                |_| {},
            ));
        }
        Ok(PgStore {
            pool,
            write_queue,
            handoff,
            subscribed,
            inbox_channel: inbox_channel(cfg.schema.as_deref()),
        })
    }
}

/// A database on this host is reached without TLS unless the URL (or
/// `PGSSLMODE`) asks for it: traffic over loopback or a Unix socket never
/// leaves the kernel, and TLS there only costs CPU on both sides (about a
/// third of the database's and a quarter of missive's per delivery). An
/// explicit `sslmode` is always kept. See
/// docs/decisions/0024-no-tls-to-a-database-on-loopback.md.
fn plain_on_loopback(url: &str, opts: PgConnectOptions) -> PgConnectOptions {
    let asked = url::Url::parse(url).is_ok_and(|u| {
        u.query_pairs()
            .any(|(k, _)| k == "sslmode" || k == "ssl-mode")
    }) || std::env::var_os("PGSSLMODE").is_some();
    if asked || !matches!(opts.get_ssl_mode(), PgSslMode::Prefer) {
        return opts;
    }
    let host = opts.get_host();
    let loopback = host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        opts.ssl_mode(PgSslMode::Disable)
    } else {
        opts
    }
}

impl Dialect for Postgres {
    type Held = ();
    const NOTIFY: Option<&'static str> = Some("SELECT pg_notify('missive_wake', '')");
    const BY_CREATED: &'static str = "";
    /// Serialises frequency-cap checks of one recipient, channel and
    /// category across transactions and processes, until commit.
    const CAP_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(hashtext($1))");
    const BEGIN_WRITE: &'static str = "BEGIN";
    const LOCK_ROW: &'static str = " FOR UPDATE";
    const PURGE_SCOPES: &'static str = "DELETE FROM dedup_keys WHERE expires_at <= $1";

    /// Claims deduplication scopes (scope, delivery id, expiry) with one
    /// upsert per chunk: a row lock per scope decides between concurrent
    /// transactions of every process. Returns the winning delivery ids.
    async fn claim_scopes(
        tx: &mut sqlx::Transaction<'_, Postgres>,
        _held: &mut (),
        claims: &[(&str, &str, i64)],
        now: i64,
    ) -> StoreResult<HashSet<String>> {
        let mut won = HashSet::new();
        for chunk in claims.chunks(INSERT_CHUNK) {
            let mut q = sqlx::QueryBuilder::<Postgres>::new(
                "INSERT INTO dedup_keys (scope, delivery_id, expires_at) ",
            );
            q.push_values(chunk, |mut b, (scope, id, until)| {
                b.push_bind(scope.to_string())
                    .push_bind(id.to_string())
                    .push_bind(*until);
            });
            q.push(
                " ON CONFLICT (scope) DO UPDATE SET delivery_id = excluded.delivery_id, \
                 expires_at = excluded.expires_at WHERE dedup_keys.expires_at <= ",
            )
            .push_bind(now);
            let claimed = q.build().execute(&mut **tx).await?.rows_affected();
            if claimed as usize == chunk.len() {
                // The usual case: no duplicates, nothing to look up.
                won.extend(chunk.iter().map(|(_, id, _)| id.to_string()));
                continue;
            }
            // Some scopes were held: see which ones are ours now.
            let mut q = sqlx::QueryBuilder::<Postgres>::new(
                "SELECT delivery_id FROM dedup_keys WHERE scope IN (",
            );
            let mut sep = q.separated(", ");
            for (scope, _, _) in chunk {
                sep.push_bind(scope.to_string());
            }
            q.push(")");
            let rows: Vec<(String,)> = q.build_query_as().fetch_all(&mut **tx).await?;
            won.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(won)
    }

    /// [`Dialect::run_writes`]' one statement: alone, it needs no BEGIN
    /// and COMMIT.
    async fn write_alone(
        conn: &mut sqlx::PgConnection,
        writes: Vec<Write<'_>>,
        notify: bool,
    ) -> StoreResult<()> {
        Self::run_writes(conn, writes, notify).await
    }

    /// One statement for every write (each a data-modifying `WITH`
    /// query) and the NOTIFY: one round trip to the database, however far
    /// away it is.
    const CONCURRENT_WRITERS: bool = true;
    const STATS_SHARDS: i64 = 8;

    async fn run_writes(
        conn: &mut sqlx::PgConnection,
        writes: Vec<Write<'_>>,
        notify: bool,
    ) -> StoreResult<()> {
        if writes.is_empty() && !notify {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<Postgres>::new("");
        for (i, w) in writes.into_iter().enumerate() {
            q.push(if i == 0 { "WITH " } else { ", " });
            q.push(format!("w{i} AS ("));
            w.push(&mut q);
            q.push(")");
        }
        q.push(if notify {
            " SELECT pg_notify('missive_wake', '')"
        } else {
            " SELECT 1"
        });
        q.build().execute(conn).await?;
        Ok(())
    }

    fn push_rows(q: &mut sqlx::QueryBuilder<Postgres>, rows: Rows<'_>) {
        q.push("SELECT * FROM ");
        push_unnest(q, rows);
    }

    fn push_rows_from(q: &mut sqlx::QueryBuilder<Postgres>, rows: Rows<'_>) {
        push_unnest(q, rows);
    }

    /// Due rows in priority order; SKIP LOCKED so workers in any number of
    /// processes take disjoint batches.
    fn claim_sql() -> &'static str {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE deliveries d SET status = 'sending', due_at = $1, claim_token = $2, updated_at = $3 \
                 WHERE d.id IN ({}) RETURNING d.id, d.notification_id, d.recipient, d.channel, d.category, d.address, d.content, d.attempts, d.retry_base, d.claim_token, d.traceparent, d.template_key, d.created_at",
                due_in_priority::<Postgres>(DueIndex::ByPriority, "", " FOR UPDATE SKIP LOCKED")
            )
        });
        &SQL
    }

    fn next_due_sql() -> &'static str {
        static SQL: LazyLock<String> =
            LazyLock::new(|| next_due_sql::<Postgres>(DueIndex::ByPriority, ""));
        &SQL
    }
}

impl Engine for PgStore {
    type Db = Postgres;
    const BACKEND: Backend = Backend::Postgres;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn inbox_channel(&self) -> Option<&str> {
        Some(&self.inbox_channel)
    }

    /// Nothing to add: readiness is the database answering.
    async fn writes_ready(&self) -> StoreResult<()> {
        Ok(())
    }

    fn write_queue(&self) -> &WriteQueue {
        &self.write_queue
    }

    fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    fn subscribed(&self) -> &Subscribed {
        &self.subscribed
    }

    async fn listen_wakeups(&self) -> StoreResult<Option<BoxStream<'static, ()>>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(WAKE_CHANNEL).await?;
        // A dropped connection is re-established by the listener; the
        // worker's poll covers anything sent while it was away.
        Ok(Some(listener.into_stream().map(|_| ()).boxed()))
    }

    async fn listen_inbox(&self) -> StoreResult<Option<BoxStream<'static, String>>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.inbox_channel).await?;
        // The stream ends on an error the listener can't recover from; the
        // caller listens again.
        Ok(Some(
            listener
                .into_stream()
                .take_while(|n| futures::future::ready(n.is_ok()))
                .filter_map(|n| futures::future::ready(n.ok().map(|n| n.payload().to_string())))
                .boxed(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{inbox_channel, plain_on_loopback, PgStore, PING_AFTER_IDLE};
    use crate::config::{Backend, DatabaseConfig};
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    use sqlx::Connection;
    use std::time::Duration;

    /// A store in a schema of its own (dropped by [`drop_schema`]).
    async fn test_store(url: &str) -> (PgStore, String) {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let store = PgStore::open(&DatabaseConfig {
            url: url.to_string(),
            backend: Backend::Postgres,
            max_connections: 3,
            schema: Some(schema.clone()),
            sqlite_full_sync: false,
            sqlite_checkpoint_interval: None,
            sqlite_max_bytes: None,
            acquire_timeout: Duration::from_secs(5),
            writers: 1,
        })
        .await
        .unwrap();
        (store, schema)
    }

    async fn drop_schema(url: &str, schema: &str) {
        let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
    }

    /// Connections are handed out without a ping while in steady use, so
    /// one that sat idle must be pinged first: here the database drops
    /// every pooled connection while the pool is idle (a restart, a
    /// dropped idle link), and each query after still gets a live one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_dropped_while_idle_are_replaced_before_use() {
        let Ok(url) = std::env::var("MISSIVE_TEST_DATABASE_URL") else {
            return;
        };
        let (store, schema) = test_store(&url).await;
        let pool = store.pool.clone();
        let mut held = Vec::new();
        let mut pids = Vec::new();
        for _ in 0..pool.size() {
            let mut c = pool.acquire().await.unwrap();
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            pids.push(pid);
            held.push(c);
        }
        assert_eq!(pids.len(), 3);
        drop(held);
        // Back in the pool (returning is a task of its own), then dropped.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        for pid in &pids {
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(&mut admin)
                .await
                .unwrap();
        }
        tokio::time::sleep(PING_AFTER_IDLE + Duration::from_millis(300)).await;
        for i in 0..pids.len() {
            let one: i32 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("query {i} after the drop: {e}"));
            assert_eq!(one, 1);
        }
        pool.close().await;
        admin.close().await.unwrap();
        drop_schema(&url, &schema).await;
    }

    /// The log filtered by recipient or channel, and a frequency cap's
    /// count, read the indexes that leave out the rows in flight, and the
    /// rows in flight from the waiting rows' index (as on a table too
    /// large to scan: sequential scans off).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_and_caps_read_the_indexes_without_the_rows_in_flight() {
        let Ok(url) = std::env::var("MISSIVE_TEST_DATABASE_URL") else {
            return;
        };
        let (store, schema) = test_store(&url).await;
        let mut conn = store.pool.acquire().await.unwrap();
        /// The plan of `sql` for `args`, prepared as the store prepares it
        /// (a statement with parameters).
        async fn explain(
            conn: &mut sqlx::PgConnection,
            sql: &str,
            types: &str,
            args: &str,
        ) -> String {
            use sqlx::Row;
            let name = format!("q_{}", uuid::Uuid::new_v4().simple());
            let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "SET enable_seqscan = off; PREPARE {name}({types}) AS {sql}; \
                 EXPLAIN EXECUTE {name}({args})"
            )))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            rows.iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
        let by = |recipient: bool| crate::store::DeliveryFilter {
            recipient: recipient.then(|| "u_1".to_string()),
            channel: (!recipient).then(|| "sms".to_string()),
            ..Default::default()
        };
        for (recipient, index) in [
            (true, "deliveries_recipient"),
            (false, "deliveries_channel"),
        ] {
            let q = crate::store::queue::list_query::<sqlx::Postgres>(&by(recipient), None, 50);
            let p = explain(
                &mut conn,
                q.sql().as_str(),
                "text, bigint, text, bigint",
                "'x', 50, 'x', 50",
            )
            .await;
            assert!(
                p.contains(&format!("Index Scan Backward using {index}")),
                "{p}"
            );
            assert!(p.contains("deliveries_waiting"), "{p}");
            assert!(!p.contains("Seq Scan"), "{p}");
        }
        let p = explain(
            &mut conn,
            crate::store::writer::CAP_COUNT,
            "text, text, text, bigint, text",
            "'u_1', 'sms', 'marketing', 0, NULL",
        )
        .await;
        assert!(p.contains("deliveries_cap"), "{p}");
        assert!(p.contains("deliveries_waiting"), "{p}");
        assert!(!p.contains("Seq Scan"), "{p}");
        drop(conn);
        store.pool.close().await;
        drop_schema(&url, &schema).await;
    }

    fn mode(url: &str) -> PgSslMode {
        plain_on_loopback(url, url.parse::<PgConnectOptions>().unwrap()).get_ssl_mode()
    }

    #[test]
    fn loopback_goes_without_tls_unless_asked() {
        if std::env::var_os("PGSSLMODE").is_some() {
            return;
        }
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://postgres@127.0.0.2/test",
            "postgres://postgres@localhost/test",
            "postgres://postgres@[::1]:5432/test",
            "postgres:///test?host=/var/run/postgresql",
        ] {
            assert!(matches!(mode(url), PgSslMode::Disable), "{url}");
        }
        for url in [
            "postgres://postgres@db.example.com/test",
            "postgres://postgres@10.0.0.5/test",
        ] {
            assert!(matches!(mode(url), PgSslMode::Prefer), "{url}");
        }
        for url in [
            "postgres://postgres@127.0.0.1/test?sslmode=prefer",
            "postgres://postgres@localhost/test?sslmode=require",
        ] {
            assert!(!matches!(mode(url), PgSslMode::Disable), "{url}");
        }
    }

    #[test]
    fn each_schema_has_its_own_inbox_channel() {
        assert_eq!(inbox_channel(None), "missive_inbox");
        assert_eq!(inbox_channel(Some("tenant_a")), "missive_inbox_tenant_a");
        let long = inbox_channel(Some(&"s".repeat(60)));
        assert!(
            long.len() <= 63 && long.starts_with("missive_inbox_"),
            "{long}"
        );
        assert_ne!(long, inbox_channel(Some(&"s".repeat(61))));
    }
}
