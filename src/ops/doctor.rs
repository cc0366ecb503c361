//! `missive doctor`: checks what a deployment needs, without changing or
//! sending anything: the configuration, the database (reachable, migrated
//! to this binary's version, writable, free disk), the data dir's modes,
//! the clock, the webhook signing secret and every configured provider
//! (SMTP up to AUTH, Twilio's credentials with a read-only call, the
//! settings and keys of the others). Each check is ok, warn or fail, with
//! what to do about it; any failure makes the command exit non-zero.
//!
//! The doctor never creates the database, runs no migration and writes no
//! row: the writability check is a write transaction rolled back.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::migrate::Migrator;
use sqlx::Connection;

use crate::config::{Backend, ChannelConfig, Config};
use crate::store::dialect::Engine;

/// How long connecting to the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Free space under which the database's filesystem fails the check, and
/// under which it is a warning.
const DISK_FAIL_BYTES: u64 = 100 << 20;
const DISK_WARN_BYTES: u64 = 1 << 30;
/// Clock difference with PostgreSQL that is a warning, and a failure.
const SKEW_WARN_MS: i64 = 1_000;
const SKEW_FAIL_MS: i64 = 10_000;
/// Files looked at under the data dir at most (the outboxes can be large).
const MAX_WALK: usize = 100_000;
/// Wrong-mode files named in one check.
const MAX_NAMED: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Check {
    /// What was checked, e.g. `database`, `channels.email.smtp`.
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a warning or a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, name: &str, status: Status, detail: String, fix: Option<String>) {
        self.checks.push(Check {
            name: name.to_string(),
            status,
            detail,
            fix,
        });
    }

    fn ok(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Status::Ok, detail.into(), None);
    }

    fn warn(&mut self, name: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Warn, detail.into(), Some(fix.into()));
    }

    fn fail(&mut self, name: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Fail, detail.into(), Some(fix.into()));
    }

    /// The worst status of all checks.
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    pub fn failed(&self) -> bool {
        self.worst() == Status::Fail
    }

    /// The checklist as text; `quiet` leaves out the checks that passed.
    pub fn text(&self, quiet: bool) -> String {
        let mut out = String::new();
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            if quiet && c.status == Status::Ok {
                continue;
            }
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                c.status.label(),
                c.name,
                c.detail
            ));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("{:<4}  {:<width$}  fix: {fix}\n", "", ""));
            }
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        if !quiet || self.worst() != Status::Ok {
            out.push_str(&format!(
                "\n{} ok, {} warn, {} failed\n",
                count(Status::Ok),
                count(Status::Warn),
                count(Status::Fail)
            ));
        }
        out
    }

    /// The checklist as JSON: `{"status": worst, "checks": [...]}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.worst(),
            "checks": self.checks,
        })
    }
}

/// The report when the configuration itself could not be read.
pub fn config_failed(error: &str) -> Report {
    let mut r = Report::default();
    r.fail(
        "config",
        error.to_string(),
        "correct the setting named (config/default.toml documents every key; MISSIVE__SECTION__KEY variables override the file)",
    );
    r
}

/// Runs every check; `source` says where the configuration came from.
pub async fn run(cfg: &Config, source: &str) -> Report {
    let mut r = Report::default();
    config(&mut r, cfg, source);
    data_dir(&mut r, cfg);
    disk(&mut r, cfg);
    let mut conn = database(&mut r, cfg).await;
    clock(&mut r);
    if let Some(Conn::Postgres(c)) = conn.as_mut() {
        clock_pg(&mut r, c).await;
    }
    if !cfg.webhook.signing_secret.is_empty() {
        webhook_secret(&mut r, cfg);
    } else if let Some(c) = conn.as_mut() {
        webhook_secret_stored(&mut r, cfg, c).await;
    }
    providers(&mut r, cfg).await;
    if let Some(c) = conn {
        c.close().await;
    }
    r
}

fn config(r: &mut Report, cfg: &Config, source: &str) {
    r.ok("config", format!("parsed and valid ({source})"));
    let loopback = cfg.server.bind.ip().is_loopback();
    if !loopback && cfg.server.metrics_token.is_empty() {
        r.warn(
            "config.metrics",
            format!(
                "/metrics is open to anyone who reaches {} (server.metrics_token is empty)",
                cfg.server.bind
            ),
            "set server.metrics_token (from the environment: MISSIVE__SERVER__METRICS_TOKEN), or keep the port on a private network",
        );
    }
    if cfg
        .server
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        && !cfg.console.secure_cookie
    {
        r.warn(
            "config.console",
            "server.public_url is https but the console's session cookie is not marked Secure",
            "set console.secure_cookie = true",
        );
    }
}

/// The data dir 0700 and every file in it 0600, owned by this user.
fn data_dir(r: &mut Report, cfg: &Config) {
    let dir = &cfg.data_dir;
    let name = "data_dir";
    let meta = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => {
            return r.fail(
                name,
                format!("{} is not a directory", dir.display()),
                "point data_dir at a directory",
            )
        }
        Err(e) => {
            return r.fail(
                name,
                format!("{}: {e}", dir.display()),
                "run `missive migrate` as the service's user (it creates the data dir 0700), or correct data_dir",
            )
        }
    };
    // SAFETY: geteuid has no preconditions and can't fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        r.warn(
            "data_dir.owner",
            format!(
                "{} belongs to uid {}, and this command runs as uid {me}",
                dir.display(),
                meta.uid()
            ),
            "run missive (and the doctor) as the data dir's owner, e.g. `sudo -u missive missive doctor`",
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        r.fail(
            name,
            format!(
                "{} is {mode:03o}: other users can reach the database and secrets in it",
                dir.display()
            ),
            format!("chmod 700 {}", dir.display()),
        );
    }
    let mut wide = Vec::new();
    let mut files = 0usize;
    let mut stack = vec![dir.clone()];
    let mut truncated = false;
    let mut seen = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK {
                truncated = true;
                break;
            }
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            let p = e.path();
            let mode = m.permissions().mode() & 0o777;
            if m.is_dir() {
                if mode & 0o077 != 0 {
                    wide.push((p.clone(), mode));
                }
                stack.push(p);
            } else if m.is_file() {
                files += 1;
                if mode & 0o077 != 0 {
                    wide.push((p, mode));
                }
            }
        }
        if truncated {
            break;
        }
    }
    if wide.is_empty() {
        if mode & 0o077 == 0 {
            r.ok(
                name,
                format!(
                    "{} is 0700 and its {files} files are 0600{}",
                    dir.display(),
                    if truncated {
                        format!(" (the first {MAX_WALK} entries looked at)")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        return;
    }
    wide.sort();
    let named: Vec<String> = wide
        .iter()
        .take(MAX_NAMED)
        .map(|(p, m)| format!("{} ({m:03o})", p.display()))
        .collect();
    let more = wide.len().saturating_sub(MAX_NAMED);
    let paths: Vec<String> = wide
        .iter()
        .take(MAX_NAMED)
        .map(|(p, _)| p.display().to_string())
        .collect();
    r.fail(
        "data_dir.files",
        format!(
            "readable by other users: {}{}",
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
        format!(
            "chmod go-rwx {} (missive writes 0600 files and 0700 dirs; these were made or changed by something else)",
            paths.join(" ")
        ),
    );
}

/// The SQLite file's path, if the database is SQLite.
fn sqlite_path(cfg: &Config) -> Option<PathBuf> {
    if cfg.database.backend != Backend::Sqlite {
        return None;
    }
    sqlx::sqlite::SqliteConnectOptions::from_str(&cfg.database.url)
        .ok()
        .map(|o| o.get_filename().to_path_buf())
}

/// Free space on the data dir's filesystem and the SQLite file's.
fn disk(r: &mut Report, cfg: &Config) {
    let mut places = vec![("disk.data_dir", cfg.data_dir.clone())];
    if let Some(db) = sqlite_path(cfg) {
        let dir = db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        places.push(("disk.database", dir));
    }
    let mut checked = Vec::new();
    for (name, dir) in places {
        let Some((free, total, dev)) = statvfs(&dir) else {
            continue;
        };
        if checked.contains(&dev) {
            continue;
        }
        checked.push(dev);
        let pct = if total > 0 {
            free as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let detail = format!(
            "{} free of {} ({pct:.0} %) on the filesystem of {}",
            bytes(free),
            bytes(total),
            dir.display()
        );
        if free < DISK_FAIL_BYTES {
            r.fail(
                name,
                detail,
                "free space now: at a full disk sends are refused (503 store-full); lower maintenance.retention or grow the filesystem",
            );
        } else if free < DISK_WARN_BYTES || (pct < 5.0 && free < 10 * DISK_WARN_BYTES) {
            r.warn(
                name,
                detail,
                "free space soon, or lower maintenance.retention",
            );
        } else {
            r.ok(name, detail);
        }
    }
    if let (Some(db), Some(max)) = (sqlite_path(cfg), cfg.database.sqlite_max_bytes) {
        if let Ok(m) = std::fs::metadata(&db) {
            if m.len() * 10 > max * 9 {
                r.warn(
                    "disk.sqlite_max_bytes",
                    format!(
                        "the database holds {} of the {} database.sqlite_max_bytes allows",
                        bytes(m.len()),
                        bytes(max)
                    ),
                    "raise database.sqlite_max_bytes or lower maintenance.retention",
                );
            }
        }
    }
}

/// (free bytes for this user, total bytes, filesystem id) of `dir`'s
/// filesystem.
fn statvfs(dir: &Path) -> Option<(u64, u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `s` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let frsize = s.f_frsize as u64;
    Some((
        s.f_bavail as u64 * frsize,
        s.f_blocks as u64 * frsize,
        s.f_fsid as u64,
    ))
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A connection the later checks share.
enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Conn {
    async fn close(self) {
        let _ = match self {
            Conn::Sqlite(c) => c.close().await,
            Conn::Postgres(c) => c.close().await,
        };
    }

    /// A stored setting (the `settings` table), if it is there.
    async fn setting(&mut self, name: &str) -> Option<String> {
        let q = "SELECT value FROM settings WHERE name = $1";
        match self {
            Conn::Sqlite(c) => sqlx::query_scalar(q)
                .bind(name)
                .fetch_optional(c)
                .await
                .ok()
                .flatten(),
            Conn::Postgres(c) => sqlx::query_scalar(q)
                .bind(name)
                .fetch_optional(c)
                .await
                .ok()
                .flatten(),
        }
    }
}

/// Connects without creating anything, then checks the migrations and
/// that the database takes writes. Returns the connection when it is
/// migrated, for the later checks.
async fn database(r: &mut Report, cfg: &Config) -> Option<Conn> {
    let url = crate::config::redact_url(&cfg.database.url);
    let mut conn = match cfg.database.backend {
        Backend::Sqlite => {
            let path = sqlite_path(cfg)?;
            if !path.exists() {
                r.fail(
                    "database",
                    format!("there is no database at {}", path.display()),
                    "run `missive migrate` as the service's user (or start missive once), or correct database.url",
                );
                return None;
            }
            if let Some(owner) = crate::ops::backup::foreign_owner(&path) {
                r.fail(
                    "database",
                    format!(
                        "{} belongs to uid {owner}, not to the user running the doctor; not opened (its -wal and -shm files could be made by the wrong user)",
                        path.display()
                    ),
                    "run the doctor as the service's user, e.g. `sudo -u missive missive doctor`",
                );
                return None;
            }
            let opts = match sqlx::sqlite::SqliteConnectOptions::from_str(&cfg.database.url) {
                Ok(o) => o
                    .create_if_missing(false)
                    .busy_timeout(Duration::from_secs(5)),
                Err(e) => {
                    r.fail("database", format!("{url}: {e}"), "correct database.url");
                    return None;
                }
            };
            crate::store::sqlite::configure_library();
            match tokio::time::timeout(CONNECT_TIMEOUT, sqlx::SqliteConnection::connect_with(&opts))
                .await
            {
                Ok(Ok(c)) => Conn::Sqlite(c),
                Ok(Err(e)) => {
                    r.fail(
                        "database",
                        format!("opening {}: {e}", path.display()),
                        "check the file's owner and mode (0600, the service's user)",
                    );
                    return None;
                }
                Err(_) => {
                    r.fail(
                        "database",
                        format!("opening {} took over 10 s", path.display()),
                        "check the disk",
                    );
                    return None;
                }
            }
        }
        Backend::Postgres => {
            let mut opts = match sqlx::postgres::PgConnectOptions::from_str(&cfg.database.url) {
                Ok(o) => o,
                Err(e) => {
                    r.fail("database", format!("{url}: {e}"), "correct database.url");
                    return None;
                }
            };
            if let Some(schema) = &cfg.database.schema {
                opts = opts.options([("search_path", schema.as_str())]);
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(&opts))
                .await
            {
                Ok(Ok(c)) => Conn::Postgres(c),
                Ok(Err(e)) => {
                    r.fail(
                        "database",
                        format!("connecting to {url}: {e}"),
                        "check that PostgreSQL runs and that database.url (host, port, user, password, database) is right",
                    );
                    return None;
                }
                Err(_) => {
                    r.fail(
                        "database",
                        format!("connecting to {url}: no answer within 10 s"),
                        "check the host, the port and any firewall between",
                    );
                    return None;
                }
            }
        }
    };
    r.ok("database", format!("reachable: {url}"));
    let migrated = match &mut conn {
        Conn::Sqlite(c) => {
            let applied = sqlx::query_as::<_, (i64, Vec<u8>, bool)>(
                "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(c)
            .await;
            migrations(
                r,
                <crate::store::sqlite::SqliteStore as Engine>::migrator(),
                applied,
            )
        }
        Conn::Postgres(c) => {
            let applied = sqlx::query_as::<_, (i64, Vec<u8>, bool)>(
                "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(c)
            .await;
            migrations(
                r,
                <crate::store::postgres::PgStore as Engine>::migrator(),
                applied,
            )
        }
    };
    if !migrated {
        conn.close().await;
        return None;
    }
    writable(r, &mut conn).await;
    Some(conn)
}

/// Compares the applied migrations with this binary's.
fn migrations(
    r: &mut Report,
    migrator: &Migrator,
    applied: sqlx::Result<Vec<(i64, Vec<u8>, bool)>>,
) -> bool {
    let name = "database.migrations";
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .collect();
    let latest = known.iter().map(|m| m.version).max().unwrap_or(0);
    let applied = match applied {
        Ok(a) if !a.is_empty() => a,
        Ok(_) | Err(_) => {
            r.fail(
                name,
                "not migrated: the database has none of missive's tables",
                "run `missive migrate` (or start missive once: it migrates on start)",
            );
            return false;
        }
    };
    if let Some((v, _, _)) = applied.iter().find(|(_, _, ok)| !ok) {
        r.fail(
            name,
            format!("migration {v} failed part-way"),
            "restore the last backup, or repair the database by hand before starting missive",
        );
        return false;
    }
    let newest = applied.iter().map(|a| a.0).max().unwrap_or(0);
    if newest > latest {
        r.fail(
            name,
            format!("the database is at version {newest}, newer than this binary knows ({latest})"),
            "run the newer missive binary that migrated it",
        );
        return false;
    }
    for m in &known {
        if let Some((_, sum, _)) = applied.iter().find(|a| a.0 == m.version) {
            if sum.as_slice() != &*m.checksum {
                r.fail(
                    name,
                    format!(
                        "migration {} ({}) differs from this binary's",
                        m.version, m.description
                    ),
                    "run the missive release that made this database, or restore a backup",
                );
                return false;
            }
        }
    }
    let missing: Vec<i64> = known
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.iter().any(|a| a.0 == *v))
        .collect();
    if !missing.is_empty() {
        r.fail(
            name,
            format!(
                "{} migration(s) not applied: the database is at version {newest}, this binary at {latest}",
                missing.len()
            ),
            "run `missive migrate` (or start missive: it migrates on start)",
        );
        return false;
    }
    r.ok(name, format!("at the current version ({latest})"));
    true
}

/// A write transaction, rolled back: the database takes writes.
async fn writable(r: &mut Report, conn: &mut Conn) {
    let name = "database.writable";
    match conn {
        Conn::Sqlite(c) => {
            let res = async {
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *c).await?;
                sqlx::query("ROLLBACK").execute(&mut *c).await?;
                Ok::<_, sqlx::Error>(())
            }
            .await;
            match res {
                Ok(()) => r.ok(name, "a write transaction can begin"),
                Err(e) => r.fail(
                    name,
                    format!("a write transaction could not begin: {e}"),
                    "check the owner and mode of the database file, its -wal and -shm files and its directory (the service's user, 0600), and that the disk is not read-only",
                ),
            }
        }
        Conn::Postgres(c) => {
            let res = sqlx::query_as::<_, (bool, bool)>(
                "SELECT pg_is_in_recovery(), has_table_privilege('deliveries', 'INSERT, UPDATE, DELETE')",
            )
            .fetch_one(&mut *c)
            .await;
            match res {
                Ok((false, true)) => r.ok(name, "a primary, and the user may write missive's tables"),
                Ok((true, _)) => r.fail(
                    name,
                    "the server is a read-only standby",
                    "point database.url at the primary",
                ),
                Ok((false, false)) => r.fail(
                    name,
                    "the user may not insert, update and delete in missive's tables",
                    "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ... TO the user in database.url, or use the user that migrated",
                ),
                Err(e) => r.fail(name, format!("checking privileges: {e}"), "check the user's rights"),
            }
        }
    }
}

/// This host's time; on PostgreSQL, compared with the server's.
fn clock(r: &mut Report) {
    let now = chrono::Local::now();
    let zone = std::env::var("TZ")
        .ok()
        .filter(|z| !z.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .or_else(|| {
            std::fs::read_link("/etc/localtime").ok().map(|p| {
                let s = p.display().to_string();
                s.split("zoneinfo/").nth(1).unwrap_or(&s).to_string()
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let local = format!(
        "{} ({zone}, UTC{}); missive keeps and compares times in UTC",
        now.format("%Y-%m-%d %H:%M:%S"),
        now.format("%:z")
    );
    r.ok("clock", local);
}

/// The skew between this host and PostgreSQL, measured at the midpoint of
/// the round trip.
async fn pg_skew(c: &mut sqlx::PgConnection) -> sqlx::Result<(i64, i64)> {
    let before = crate::util::now_ms();
    let server: i64 =
        sqlx::query_scalar("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint")
            .fetch_one(c)
            .await?;
    let after = crate::util::now_ms();
    Ok((server - (before + after) / 2, after - before))
}

async fn clock_pg(r: &mut Report, c: &mut sqlx::PgConnection) {
    let name = "clock.database";
    match pg_skew(c).await {
        Ok((skew, rtt)) => {
            let detail = format!(
                "PostgreSQL's clock is {} ms {} this host's (round trip {rtt} ms)",
                skew.abs(),
                if skew >= 0 { "ahead of" } else { "behind" }
            );
            let fix = "run NTP (chrony or systemd-timesyncd) on this host and on the database server: leases, schedules and rate limits compare times across them";
            if skew.abs() >= SKEW_FAIL_MS {
                r.fail(name, detail, fix);
            } else if skew.abs() >= SKEW_WARN_MS {
                r.warn(name, detail, fix);
            } else {
                r.ok(name, detail);
            }
        }
        Err(e) => r.warn(
            name,
            format!("reading PostgreSQL's clock: {e}"),
            "check the connection",
        ),
    }
}

/// The webhook signing secret: configured and valid, or stored.
fn webhook_secret(r: &mut Report, cfg: &Config) {
    let name = "channels.webhook.signing_secret";
    let check = |secret: &str| {
        let mut w = cfg.webhook.clone();
        w.signing_secret = secret.to_string();
        crate::channels::webhook::WebhookChannel::new(w).map(|_| ())
    };
    match check(&cfg.webhook.signing_secret) {
        Ok(()) => r.ok(name, "configured (whsec_, valid)"),
        Err(e) => r.fail(
            name,
            e.to_string(),
            "set a Standard Webhooks secret: \"whsec_\" and base64 of random bytes",
        ),
    }
}

async fn webhook_secret_stored(r: &mut Report, cfg: &Config, conn: &mut Conn) {
    let name = "channels.webhook.signing_secret";
    match conn.setting("webhook_signing_secret").await {
        Some(s) => {
            let mut w = cfg.webhook.clone();
            w.signing_secret = s;
            match crate::channels::webhook::WebhookChannel::new(w) {
                Ok(_) => r.ok(name, "generated on first start and stored in the database"),
                Err(e) => r.fail(
                    name,
                    format!("the stored secret is not valid: {e}"),
                    "set channels.webhook.signing_secret (or signing_secret_file) to a whsec_ secret",
                ),
            }
        }
        None => r.warn(
            name,
            "not configured and not generated yet",
            "start missive once (it generates one), or set channels.webhook.signing_secret_file",
        ),
    }
}

/// Every configured provider, checked without sending.
async fn providers(r: &mut Report, cfg: &Config) {
    for p in &cfg.email.providers {
        report(
            r,
            &p.key,
            crate::channels::email::check(p, &cfg.email).await,
            "the SMTP server, username and password",
        );
    }
    for p in &cfg.sms.providers {
        report(
            r,
            &p.key,
            crate::channels::sms::check(p, &cfg.sms).await,
            "the provider's settings and credentials",
        );
    }
    chat(r, cfg).await;
    push(r, cfg, &cfg.push);
}

fn report(r: &mut Report, name: &str, res: Result<String, String>, what: &str) {
    match res {
        Ok(d) => r.ok(name, d),
        Err(e) => r.fail(name, e, format!("check {what} under [{name}]")),
    }
}

async fn chat(r: &mut Report, cfg: &Config) {
    for p in &cfg.chat.providers {
        let res = crate::channels::chat::check(p, &cfg.chat, cfg).await;
        report(r, &p.key, res, "the bot's token and settings");
    }
}

fn push(r: &mut Report, cfg: &Config, push: &ChannelConfig) {
    let generated = if crate::channels::push::needs_generated_key(push) {
        let path = cfg.data_dir.join(crate::channels::push::VAPID_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(k) => Some(k),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                r.warn(
                    "channels.push.vapid",
                    format!("no VAPID key yet ({} is missing)", path.display()),
                    "start missive once: it generates the key and writes it there",
                );
                return;
            }
            Err(e) => {
                r.fail(
                    "channels.push.vapid",
                    format!("{}: {e}", path.display()),
                    "make the file readable by the service's user (0600)",
                );
                return;
            }
        }
    } else {
        None
    };
    for p in &push.providers {
        report(
            r,
            &p.key,
            crate::channels::push::check(p, push, generated.as_deref()),
            "the subject and the VAPID keys",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_reads_as_text_and_json() {
        let mut r = Report::default();
        r.ok("config", "parsed");
        r.warn("disk.data_dir", "900.0 MiB free", "free space");
        assert!(!r.failed());
        assert_eq!(r.worst(), Status::Warn);
        r.fail("channels.email.smtp", "AUTH: 535", "check the password");
        assert!(r.failed());
        let text = r.text(false);
        assert!(text.contains("ok    config"), "{text}");
        assert!(
            text.contains("FAIL  channels.email.smtp  AUTH: 535"),
            "{text}"
        );
        assert!(text.contains("fix: check the password"), "{text}");
        assert!(text.contains("1 ok, 1 warn, 1 failed"), "{text}");
        let quiet = r.text(true);
        assert!(!quiet.contains("parsed"), "{quiet}");
        assert!(quiet.contains("AUTH: 535"), "{quiet}");
        let j = r.json();
        assert_eq!(j["status"], "fail");
        assert_eq!(j["checks"][1]["status"], "warn");
        assert!(j["checks"][0].get("fix").is_none());
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        let (free, total, _) = statvfs(Path::new("/")).unwrap();
        assert!(free <= total && total > 0);
    }
}
