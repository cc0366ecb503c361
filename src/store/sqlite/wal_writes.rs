//! A VFS over SQLite's own ("unix") that writes a commit's WAL frames to
//! the file in one call (one for each 120 KiB), where SQLite makes two per
//! frame (its 24-byte header, then the page). Under load a commit group
//! holds about twenty frames, so the writer made some forty `pwrite`s a
//! commit, each a trip through the kernel's write path for a few
//! kilobytes; now it makes one.
//! See docs/decisions/0046-a-commits-wal-frames-in-one-write.md.
//!
//! Only the WAL file is wrapped, and only its writes wait: contiguous
//! writes gather in memory until the page of the commit frame (the frame
//! whose header carries the database size) is written, and are written
//! then, before SQLite goes on to make the commit visible in the WAL
//! index. So a commit has reached the file (the operating system) when
//! SQLite says it is committed, as without this VFS; any other call on the
//! file (a read, a sync, a size, a write elsewhere) first writes what has
//! gathered, so SQLite never sees the file differ from what it wrote. What
//! a rolled-back transaction left gathered (frames a large transaction
//! spilled before it failed) is dropped, never written
//! ([`forget_uncommitted`]). The database file and the shared-memory
//! index are SQLite's own, untouched, so locks are shared with
//! connections on the default VFS.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

/// The VFS's name, to open a connection with.
pub const NAME: &CStr = c"missive-wal";

/// Most bytes gathered before they are written anyway.
const MOST_GATHERED: usize = 1 << 20;

/// Most bytes passed on in one write: SQLite's own writes are below 128
/// KiB (it takes any more as a short write, a full disk).
const MOST_WRITTEN: usize = 120 << 10;

/// Registers the VFS (once; not as the default) and says whether it can
/// be used.
pub fn register() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: sqlite3_initialize may be called any number of times;
        // the default VFS lives as long as the process.
        unsafe {
            if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
                return false;
            }
            let real = ffi::sqlite3_vfs_find(ptr::null());
            if real.is_null() {
                return false;
            }
            let mut vfs: ffi::sqlite3_vfs = *real;
            vfs.szOsFile = (file_offset() + (*real).szOsFile as usize) as c_int;
            vfs.pNext = ptr::null_mut();
            vfs.zName = NAME.as_ptr();
            vfs.pAppData = real.cast();
            vfs.xOpen = Some(open);
            // Kept for the process's life, as SQLite requires of a
            // registered VFS.
            let vfs = Box::leak(Box::new(vfs));
            ffi::sqlite3_vfs_register(vfs, 0) == ffi::SQLITE_OK
        }
    })
}

/// A WAL file: SQLite's `sqlite3_file` first (its methods are
/// [`METHODS`]), the underlying file's own right after this struct.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// Bytes written but not yet passed on, for the file from `at`.
    gathered: Vec<u8>,
    at: i64,
    /// The last write was a commit frame's header: the next (its page)
    /// ends the commit.
    commit_next: bool,
    /// Writes passed on to the file.
    writes: u64,
}

/// Where the underlying file starts in the memory SQLite gives `open`.
const fn file_offset() -> usize {
    std::mem::size_of::<WalFile>().next_multiple_of(16)
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = (*vfs).pAppData as *mut ffi::sqlite3_vfs;
    let real_open = (*real_vfs).xOpen.expect("every VFS opens");
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // The database file and the rest are the underlying VFS's own,
        // in memory at least as large as it asks for.
        return real_open(real_vfs, name, file, flags, out_flags);
    }
    let real = file
        .cast::<u8>()
        .add(file_offset())
        .cast::<ffi::sqlite3_file>();
    (*file).pMethods = ptr::null();
    let rc = real_open(real_vfs, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        if !(*real).pMethods.is_null() {
            if let Some(close) = (*(*real).pMethods).xClose {
                close(real);
            }
        }
        return rc;
    }
    ptr::write(
        file.cast::<WalFile>(),
        WalFile {
            base: ffi::sqlite3_file { pMethods: &METHODS },
            real,
            gathered: Vec::new(),
            at: 0,
            commit_next: false,
            writes: 0,
        },
    );
    ffi::SQLITE_OK
}

unsafe fn wal<'a>(f: *mut ffi::sqlite3_file) -> &'a mut WalFile {
    &mut *f.cast::<WalFile>()
}

unsafe fn real_methods(w: &WalFile) -> &'static ffi::sqlite3_io_methods {
    &*(*w.real).pMethods
}

/// Passes what has gathered on to the file.
unsafe fn flush(w: &mut WalFile) -> c_int {
    w.commit_next = false;
    if w.gathered.is_empty() {
        return ffi::SQLITE_OK;
    }
    let write = real_methods(w).xWrite.expect("a file writes");
    let mut rc = ffi::SQLITE_OK;
    let mut at = w.at;
    for piece in w.gathered.chunks(MOST_WRITTEN) {
        w.writes += 1;
        rc = write(w.real, piece.as_ptr().cast(), piece.len() as c_int, at);
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += piece.len() as i64;
    }
    w.gathered.clear();
    if w.gathered.capacity() > MOST_GATHERED {
        w.gathered.shrink_to(MOST_GATHERED);
    }
    rc
}

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    len: c_int,
    at: i64,
) -> c_int {
    let w = wal(f);
    if !w.gathered.is_empty() && at != w.at + w.gathered.len() as i64 {
        let rc = flush(w);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    let commit_next = std::mem::take(&mut w.commit_next);
    if w.gathered.is_empty() {
        w.at = at;
    }
    let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len.max(0) as usize);
    w.gathered.extend_from_slice(bytes);
    if commit_next || w.gathered.len() >= MOST_GATHERED {
        return flush(w);
    }
    // A frame header (24 bytes) whose second word, the database's size in
    // pages after the commit, is not zero: its page ends the commit.
    w.commit_next = bytes.len() == 24 && bytes[4..8] != [0, 0, 0, 0];
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    // What is still gathered belongs to no commit (see `forget_uncommitted`).
    let w = wal(f);
    let close = real_methods(w).xClose.expect("a file closes");
    let rc = close(w.real);
    ptr::drop_in_place(w);
    (*f).pMethods = ptr::null();
    rc
}

/// Drops what `db`'s WAL file has gathered and not written: frames of a
/// transaction that was rolled back (a commit writes all it gathered).
/// They must not reach the file later, over frames another connection
/// has committed there since, so this is called after every rollback on a
/// connection opened with this VFS (a commit leaves nothing gathered).
///
/// # Safety
/// `db` is an open connection, not in use on another thread.
pub unsafe fn forget_uncommitted(db: *mut ffi::sqlite3) {
    if let Some(w) = wal_of(db) {
        w.gathered.clear();
        w.commit_next = false;
    }
}

/// `db`'s WAL file, when it is open through this VFS.
unsafe fn wal_of<'a>(db: *mut ffi::sqlite3) -> Option<&'a mut WalFile> {
    let mut file: *mut ffi::sqlite3_file = ptr::null_mut();
    let rc = ffi::sqlite3_file_control(
        db,
        c"main".as_ptr(),
        ffi::SQLITE_FCNTL_JOURNAL_POINTER,
        (&mut file as *mut *mut ffi::sqlite3_file).cast(),
    );
    (rc == ffi::SQLITE_OK && !file.is_null() && ptr::eq((*file).pMethods, &METHODS))
        .then(|| wal(file))
}

/// The rest of the methods: what has gathered is written, then the
/// underlying file's method is called.
macro_rules! passed_on {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(f: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            let w = wal(f);
            let rc = flush(w);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            match real_methods(w).$method {
                Some(m) => m(w.real $(, $arg)*),
                None => $missing,
            }
        }
    };
}

passed_on!(x_read, xRead, (buf: *mut c_void, len: c_int, at: i64), ffi::SQLITE_IOERR_READ);
passed_on!(x_truncate, xTruncate, (size: i64), ffi::SQLITE_IOERR_TRUNCATE);
passed_on!(x_sync, xSync, (flags: c_int), ffi::SQLITE_IOERR_FSYNC);
passed_on!(x_file_size, xFileSize, (size: *mut i64), ffi::SQLITE_IOERR_FSTAT);
passed_on!(x_lock, xLock, (level: c_int), ffi::SQLITE_IOERR_LOCK);
passed_on!(x_unlock, xUnlock, (level: c_int), ffi::SQLITE_IOERR_UNLOCK);
passed_on!(x_check_reserved_lock, xCheckReservedLock, (out: *mut c_int), ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
passed_on!(x_file_control, xFileControl, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);
passed_on!(x_shm_map, xShmMap, (region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void), ffi::SQLITE_IOERR_SHMMAP);
passed_on!(x_shm_lock, xShmLock, (offset: c_int, n: c_int, flags: c_int), ffi::SQLITE_IOERR_SHMLOCK);
passed_on!(x_shm_unmap, xShmUnmap, (delete: c_int), ffi::SQLITE_OK);
passed_on!(x_fetch, xFetch, (at: i64, len: c_int, out: *mut *mut c_void), {
    *out = ptr::null_mut();
    ffi::SQLITE_OK
});
passed_on!(x_unfetch, xUnfetch, (at: i64, p: *mut c_void), ffi::SQLITE_OK);

unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    let w = wal(f);
    real_methods(w).xSectorSize.map_or(4096, |m| m(w.real))
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    let w = wal(f);
    real_methods(w)
        .xDeviceCharacteristics
        .map_or(0, |m| m(w.real))
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    let w = wal(f);
    if flush(w) == ffi::SQLITE_OK {
        if let Some(m) = real_methods(w).xShmBarrier {
            m(w.real)
        }
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

/// The name to open a connection with: this VFS's when it registered,
/// else SQLite's default.
pub fn vfs_name() -> *const c_char {
    if register() {
        NAME.as_ptr()
    } else {
        ptr::null()
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::*;

    struct Db(*mut ffi::sqlite3);

    impl Db {
        fn open(path: &std::path::Path, ours: bool) -> Db {
            let path = CString::new(path.to_str().unwrap()).unwrap();
            let mut db = ptr::null_mut();
            let vfs = if ours { vfs_name() } else { ptr::null() };
            assert!(!ours || !vfs.is_null(), "the VFS registers");
            // SAFETY: a C string and an out pointer.
            let rc = unsafe {
                ffi::sqlite3_open_v2(
                    path.as_ptr(),
                    &mut db,
                    ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
                    vfs,
                )
            };
            assert_eq!(rc, ffi::SQLITE_OK);
            let db = Db(db);
            db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 0");
            db
        }

        fn try_exec(&self, sql: &str) -> c_int {
            let sql = CString::new(sql).unwrap();
            // SAFETY: an open handle and a C string.
            unsafe {
                ffi::sqlite3_exec(self.0, sql.as_ptr(), None, ptr::null_mut(), ptr::null_mut())
            }
        }

        fn exec(&self, sql: &str) {
            assert_eq!(self.try_exec(sql), ffi::SQLITE_OK, "{sql}");
        }

        fn one(&self, sql: &str) -> String {
            let sql = CString::new(sql).unwrap();
            let mut stmt = ptr::null_mut();
            // SAFETY: an open handle; the statement is finalized below.
            unsafe {
                assert_eq!(
                    ffi::sqlite3_prepare_v2(self.0, sql.as_ptr(), -1, &mut stmt, ptr::null_mut()),
                    ffi::SQLITE_OK
                );
                assert_eq!(ffi::sqlite3_step(stmt), ffi::SQLITE_ROW);
                let v = CStr::from_ptr(ffi::sqlite3_column_text(stmt, 0).cast())
                    .to_string_lossy()
                    .into_owned();
                ffi::sqlite3_finalize(stmt);
                v
            }
        }

        /// Writes this connection's WAL file passed on, and what it holds
        /// back now.
        fn wal(&self) -> (u64, usize) {
            // SAFETY: an open handle on this thread.
            unsafe {
                wal_of(self.0)
                    .map(|w| (w.writes, w.gathered.len()))
                    .expect("our WAL")
            }
        }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            // SAFETY: opened above, statements finalized.
            unsafe { ffi::sqlite3_close(self.0) };
        }
    }

    fn insert(db: &Db, from: u32, n: u32) {
        insert_into(db, "t", from, n);
    }

    /// `n` rows of 300 bytes into `table` from key `from`.
    fn insert_into(db: &Db, table: &str, from: u32, n: u32) {
        db.exec(&format!(
            "WITH RECURSIVE s(k) AS (SELECT {from} UNION ALL SELECT k + 1 FROM s WHERE k < {}) \
             INSERT INTO {table} (k, v) SELECT k, printf('%0300d', k) FROM s",
            from + n - 1
        ));
    }

    fn setup(dir: &std::path::Path) -> (Db, Db) {
        let path = dir.join("w.db");
        let plain = Db::open(&path, false);
        plain.exec(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t (v)",
        );
        (Db::open(&path, true), plain)
    }

    #[test]
    fn a_commit_reaches_the_file_in_one_write_before_anyone_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, plain) = setup(dir.path());
        ours.exec("SELECT count(*) FROM t");
        let (before, _) = ours.wal();

        // Some thirty-odd frames: 200 rows of 300 bytes and their index.
        let size = || std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len());
        let size_before = size();
        ours.exec("BEGIN IMMEDIATE");
        insert(&ours, 1, 200);
        ours.exec("COMMIT");
        let (after, held) = ours.wal();
        let written = (size() - size_before) as usize;
        assert!(written > 30 * 4096, "{written} bytes");
        assert_eq!(
            (after - before) as usize,
            written.div_ceil(MOST_WRITTEN),
            "{written} bytes in as few writes as can hold them"
        );
        assert_eq!(held, 0, "nothing held back once committed");
        // Another connection, on SQLite's own VFS, reads it all.
        assert_eq!(plain.one("SELECT count(*) FROM t"), "200");
        assert_eq!(plain.one("PRAGMA integrity_check"), "ok");

        // Commits one after another, each one write; the other
        // connection's commits between them are kept.
        for i in 0..5 {
            ours.exec("BEGIN IMMEDIATE");
            insert(&ours, 1000 + i * 10, 10);
            ours.exec("COMMIT");
            plain.exec(&format!(
                "INSERT INTO t (k, v) VALUES ({}, 'plain')",
                5000 + i
            ));
        }
        assert_eq!(ours.wal().0 - after, 5);
        assert_eq!(plain.one("SELECT count(*) FROM t"), "255");
        assert_eq!(ours.one("SELECT count(*) FROM t WHERE v = 'plain'"), "5");

        // And once copied back into the database file and the log
        // restarted, a fresh connection finds everything.
        plain.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        drop((ours, plain));
        let again = Db::open(&dir.path().join("w.db"), false);
        assert_eq!(again.one("SELECT count(*) FROM t"), "255");
        assert_eq!(again.one("PRAGMA integrity_check"), "ok");
    }

    #[test]
    fn frames_a_rolled_back_transaction_spilled_never_overwrite_later_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, plain) = setup(dir.path());
        insert(&ours, 1, 10);
        // A cache of a few pages, so a large transaction spills frames
        // into the log before it ends.
        ours.exec("PRAGMA cache_size = 100");
        ours.exec("CREATE TABLE u (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
        // All in the database file: the rollback reads nothing back from
        // the log (which would write what is held back first).
        plain.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        ours.exec("BEGIN IMMEDIATE");
        insert_into(&ours, "u", 1, 2000);
        ours.exec("ROLLBACK");
        let (_, held) = ours.wal();
        assert!(
            held > 0,
            "spilled frames are still held back after the rollback"
        );
        // SAFETY: an open handle on this thread.
        unsafe { forget_uncommitted(ours.0) };
        assert_eq!(
            ours.wal().1,
            0,
            "what was held back ({held} bytes) is dropped"
        );

        // The other connection commits where the spilled frames were;
        // then this one commits after them.
        plain.exec("BEGIN IMMEDIATE");
        for k in 20_000..20_050 {
            plain.exec(&format!(
                "INSERT INTO t (k, v) VALUES ({k}, printf('%0300d', {k}))"
            ));
        }
        plain.exec("COMMIT");
        insert(&ours, 30_000, 5);
        for db in [&ours, &plain] {
            assert_eq!(db.one("SELECT count(*) FROM t"), "65");
            assert_eq!(db.one("PRAGMA integrity_check"), "ok");
        }
        drop((ours, plain));
        let again = Db::open(&dir.path().join("w.db"), false);
        assert_eq!(again.one("SELECT count(*) FROM t"), "65");
        assert_eq!(again.one("PRAGMA integrity_check"), "ok");
    }
}
