//! `missive backup PATH`: a consistent copy of the SQLite database, made
//! with `VACUUM INTO` on a connection of its own while `serve` may be
//! running (it reads one snapshot; writers go on meanwhile). The copy is
//! written next to PATH under a temporary name, made 0600, synced, checked
//! with `PRAGMA quick_check` and then moved to PATH, so PATH is never a
//! half-written file. An existing PATH is kept unless `force`.
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Connection;

use crate::config::{Backend, DatabaseConfig};

/// What a finished backup wrote.
#[derive(Debug)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
}

/// The message for a PostgreSQL database: the tool to use instead.
pub fn postgres_advice(db: &DatabaseConfig) -> String {
    let schema = db
        .schema
        .as_deref()
        .map(|s| format!(" --schema={s}"))
        .unwrap_or_default();
    format!(
        "`missive backup` copies SQLite databases; this one is PostgreSQL ({}). Back it up with pg_dump, e.g.\n    pg_dump --format=custom{schema} --file=missive.dump 'postgres://USER@HOST/DB'\nand restore with pg_restore.",
        crate::config::redact_url(&db.url)
    )
}

/// The owner of `path` when it is not the user running this command: a
/// SQLite connection opened by another user (root, typically) may create
/// the database's -wal and -shm files as that user, which the service then
/// can't open. `None` when the file is missing or is this user's.
pub fn foreign_owner(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(path).ok()?.uid();
    // SAFETY: geteuid has no preconditions and can't fail.
    let me = unsafe { libc::geteuid() };
    (owner != me).then_some(owner)
}

/// Copies the SQLite database of `db` to `dest`.
pub async fn sqlite(db: &DatabaseConfig, dest: &Path, force: bool) -> anyhow::Result<Backup> {
    if db.backend != Backend::Sqlite {
        bail!("{}", postgres_advice(db));
    }
    let opts = SqliteConnectOptions::from_str(&db.url)?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let source = opts.get_filename().to_path_buf();
    if !source.exists() {
        bail!(
            "there is no database at {} (database.url); nothing to back up",
            source.display()
        );
    }
    if let Some(owner) = foreign_owner(&source) {
        bail!(
            "{} belongs to uid {owner}: run the backup as that user (e.g. `sudo -u missive missive backup ...`), so no file of the database is made by another",
            source.display()
        );
    }
    if dest.exists() && !force {
        bail!(
            "{} exists; choose another path or pass --force to replace it",
            dest.display()
        );
    }
    if same_file(&source, dest) {
        bail!("{} is the database itself", dest.display());
    }
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let name = dest
        .file_name()
        .with_context(|| format!("{} names no file", dest.display()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.{}.partial", uuid::Uuid::new_v4().simple()));
    let result = copy(opts, &tmp).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let placed = if force {
        std::fs::rename(&tmp, dest)
    } else {
        // No-clobber: linking fails if something appeared at `dest` since.
        std::fs::hard_link(&tmp, dest).and_then(|()| std::fs::remove_file(&tmp))
    };
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("moving the copy to {}", dest.display()));
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    let bytes = std::fs::metadata(dest)?.len();
    Ok(Backup {
        path: dest.to_path_buf(),
        bytes,
    })
}

/// `VACUUM INTO tmp`, then 0600, fsync and a quick check of the copy.
async fn copy(opts: SqliteConnectOptions, tmp: &Path) -> anyhow::Result<()> {
    // Made empty and 0600 first: SQLite writes into it with that mode.
    crate::private_files::create_file(tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    crate::store::sqlite::configure_library();
    let mut conn = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .context("opening the database")?;
    let target = tmp.to_string_lossy().into_owned();
    sqlx::query("VACUUM INTO ?")
        .bind(&target)
        .execute(&mut conn)
        .await
        .context("VACUUM INTO")?;
    conn.close().await.ok();
    crate::private_files::tighten(tmp)?;
    std::fs::File::open(tmp)?.sync_all()?;
    let copy = SqliteConnectOptions::new()
        .filename(tmp)
        .read_only(true)
        .create_if_missing(false);
    let mut c = sqlx::SqliteConnection::connect_with(&copy).await?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut c)
        .await?;
    c.close().await.ok();
    if check != "ok" {
        bail!("the copy failed SQLite's check: {check}");
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
