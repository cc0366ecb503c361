//! What the shared statements need from a backend, as two traits: a
//! [`Dialect`] is the sqlx database (SQLite or PostgreSQL) with what its
//! SQL does differently, an [`Engine`] is one backend's store (its pools,
//! its writer queue, its way of waking other processes).
//!
//! Each aggregate's statements are written once, generic over `D: Dialect`.
//! sqlx needs many bounds for that (every bound value encodes, every read
//! column decodes, a connection is an executor), and Rust only carries a
//! trait's own supertraits and associated-type bounds to its users, not
//! other `where` clauses. So the bounds are stated on the associated types
//! of [`Values`], pinned to the Rust types (`I64 = i64`, …): a function
//! that names `D: Dialect` gets them all, and no `where` list is repeated.

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use futures::stream::BoxStream;
use sqlx::migrate::Migrator;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder,
    Transaction, Type,
};

use super::handoff::Handoff;
use super::writer::WriteQueue;
use super::StoreResult;
use crate::config::Backend;

/// Rows of one multi-row INSERT (kept well under both backends' parameter
/// limits: deliveries have 15 columns).
pub const INSERT_CHUNK: usize = 500;

/// The row counts a `VALUES` list is padded up to, with rows of NULLs
/// that the statement drops (`WHERE column1 IS NOT NULL`: the first
/// column of every write is a key, never NULL). A statement is prepared
/// once per text and kept in the connection's cache, and a `VALUES`
/// list's text depends on its row count: with every count its own text,
/// batches of each size missed the cache and were parsed again (~8 % of
/// the server's instructions under a saturating load, by callgrind). Now
/// a write of any size is one of twelve texts, at most a third of it
/// padding.
pub const VALUES_SIZES: [usize; 12] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];

/// The most rows one `VALUES` statement carries: a larger write is
/// split ([`Write::pieces`]).
pub const VALUES_PIECE: usize = VALUES_SIZES[VALUES_SIZES.len() - 1];

pub const DELIVERY_COLUMNS: &str =
    "id, notification_id, template_key, recipient, recipient_data, channel, category, address, \
     content, status, reason, priority, attempts, due_at, last_error, provider, created_at, \
     updated_at";

/// The statuses of a delivery waiting for a worker: PostgreSQL's waiting
/// rows' index condition. A query that also names one waiting status
/// written out (`status = 'sending' AND …`) reads either backend's index
/// with it.
pub(super) const WAITING: &str = "status IN ('queued', 'scheduled', 'retrying', 'sending')";

/// The same statuses as SQLite's waiting rows' index names them:
/// equalities, not `IN`. SQLite evaluates a partial index's condition for
/// every row an INSERT or UPDATE writes, and for an `IN` list of more than
/// two values it builds a throwaway b-tree of the list each time. SQLite
/// reads that index for a query that repeats this condition, or that names
/// one of its statuses written out (which implies it); a status bound as a
/// parameter, or read from another table, implies nothing.
pub(super) const WAITING_EQUALITIES: &str =
    "(status = 'queued' OR status = 'scheduled' OR status = 'retrying' OR status = 'sending')";

/// The statuses of a waiting delivery, one by one.
const WAITING_EACH: [&str; 4] = ["queued", "scheduled", "retrying", "sending"];

/// How the waiting rows' index is laid out. PostgreSQL's is `(priority,
/// due_at)`: one range per priority. SQLite's is `(status, priority,
/// due_at)`, the one index the claim and the console's queue depth share
/// (docs/decisions/0041-one-index-for-waiting-deliveries-on-sqlite.md):
/// one range per status and priority.
#[derive(Clone, Copy)]
pub enum DueIndex {
    ByPriority,
    ByStatusAndPriority,
}

/// The ids of up to `$4` deliveries due at `$3`, high priority first: one
/// index range per priority (0 high, 1 normal, 2 low), so rows scheduled for
/// later never slow a claim. With the status first in the index, each
/// priority's earliest `$4` is the earliest `$4` of its statuses' earliest
/// `$4` each. `hint` is SQLite's INDEXED BY, `lock` is PostgreSQL's FOR
/// UPDATE SKIP LOCKED.
pub fn due_in_priority<D: Dialect>(index: DueIndex, hint: &str, lock: &str) -> String {
    let waiting = D::WAITING;
    let range = |p: u8, status: &str| {
        format!(
            "SELECT id, due_at FROM deliveries{hint} WHERE {status}{waiting} \
             AND priority = {p} AND due_at <= $3 ORDER BY due_at LIMIT $4{lock}"
        )
    };
    let one = |p: u8| match index {
        DueIndex::ByPriority => format!("SELECT id FROM ({}) p{p}", range(p, "")),
        DueIndex::ByStatusAndPriority => {
            let each: Vec<String> = WAITING_EACH
                .iter()
                .map(|s| {
                    format!(
                        "SELECT id, due_at FROM ({})",
                        range(p, &format!("status = '{s}' AND "))
                    )
                })
                .collect();
            format!(
                "SELECT id FROM (SELECT id, due_at FROM ({}) ORDER BY due_at LIMIT $4) p{p}",
                each.join(" UNION ALL ")
            )
        }
    };
    format!(
        "{} UNION ALL {} UNION ALL {} LIMIT $4",
        one(0),
        one(1),
        one(2)
    )
}

/// The earliest `due_at` of any waiting delivery: the smallest of the first
/// row of each range [`due_in_priority`] reads.
pub fn next_due_sql<D: Dialect>(index: DueIndex, hint: &str) -> String {
    let (status, statuses) = match index {
        DueIndex::ByPriority => ("", String::new()),
        DueIndex::ByStatusAndPriority => (
            "status = s.s AND ",
            format!(
                ", ({}) s",
                WAITING_EACH
                    .iter()
                    .map(|s| format!("SELECT '{s}' AS s"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ")
            ),
        ),
    };
    let waiting = D::WAITING;
    format!(
        "SELECT MIN(d) FROM (SELECT (SELECT due_at FROM deliveries{hint} WHERE {status}{waiting} \
         AND priority = p.n ORDER BY due_at LIMIT 1) AS d FROM (SELECT 0 AS n UNION ALL SELECT 1 \
         UNION ALL SELECT 2) p{statuses}) m"
    )
}

/// One column of [`Rows`].
pub enum Col<'a> {
    Text(Vec<Option<Cow<'a, str>>>),
    Int(Vec<Option<i64>>),
}

/// The values of a multi-row statement, gathered column by column, for
/// [`Dialect::push_rows`] and [`Dialect::push_rows_from`]. Text is
/// borrowed from what is written where it can be: the writer's batch
/// outlives its statements, and a copy of every column of every row
/// (~25 a delivery) was an allocation and a free on the writer's path.
#[derive(Default)]
pub struct Rows<'a> {
    cols: Vec<Col<'a>>,
    len: usize,
}

/// Fills one row of [`Rows`], its columns in order.
pub struct Row<'r, 'a> {
    rows: &'r mut Rows<'a>,
    at: usize,
}

/// A text value of a [`Row`]: borrowed (`&str`, `&String`,
/// `&Option<String>`) or owned (`String`, `Option<String>`).
pub trait Text<'a> {
    fn text(self) -> Option<Cow<'a, str>>;
}

impl<'a> Text<'a> for &'a str {
    fn text(self) -> Option<Cow<'a, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl<'a> Text<'a> for &'a String {
    fn text(self) -> Option<Cow<'a, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl<'a> Text<'a> for String {
    fn text(self) -> Option<Cow<'a, str>> {
        Some(Cow::Owned(self))
    }
}

impl<'a> Text<'a> for Option<&'a str> {
    fn text(self) -> Option<Cow<'a, str>> {
        self.map(Cow::Borrowed)
    }
}

impl<'a> Text<'a> for &'a Option<String> {
    fn text(self) -> Option<Cow<'a, str>> {
        self.as_deref().map(Cow::Borrowed)
    }
}

impl<'a> Text<'a> for Option<String> {
    fn text(self) -> Option<Cow<'a, str>> {
        self.map(Cow::Owned)
    }
}

impl<'a> Rows<'a> {
    /// Starts the next row.
    pub fn row(&mut self) -> Row<'_, 'a> {
        self.len += 1;
        Row { rows: self, at: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the last `n` rows off: only they move.
    fn take_back(&mut self, n: usize) -> Rows<'a> {
        let at = self.len - n;
        let cols = self
            .cols
            .iter_mut()
            .map(|c| match c {
                Col::Text(v) => Col::Text(v.split_off(at)),
                Col::Int(v) => Col::Int(v.split_off(at)),
            })
            .collect();
        self.len = at;
        Rows { cols, len: n }
    }

    /// Row by row, each value in column order (for `VALUES`).
    fn into_row_major(self) -> impl Iterator<Item = Vec<Value<'a>>> {
        let mut cols: Vec<Box<dyn Iterator<Item = Value<'a>> + 'a>> = self
            .cols
            .into_iter()
            .map(|c| -> Box<dyn Iterator<Item = Value<'a>> + 'a> {
                match c {
                    Col::Text(v) => Box::new(v.into_iter().map(Value::Text)),
                    Col::Int(v) => Box::new(v.into_iter().map(Value::Int)),
                }
            })
            .collect();
        (0..self.len).map(move |_| {
            cols.iter_mut()
                .map(|c| c.next().expect("every column has a value per row"))
                .collect()
        })
    }

    /// `column1, …, columnN`: what `VALUES` calls its columns.
    fn names(&self) -> String {
        (1..=self.cols.len())
            .map(|i| format!("column{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

enum Value<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
}

/// One value of a [`Write`], borrowed.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

impl<'a> Row<'_, 'a> {
    fn col(&mut self, new: impl FnOnce() -> Col<'a>) -> &mut Col<'a> {
        if self.rows.len == 1 {
            self.rows.cols.push(new());
        }
        self.at += 1;
        &mut self.rows.cols[self.at - 1]
    }

    pub fn text(mut self, v: impl Text<'a>) -> Self {
        match self.col(|| Col::Text(Vec::new())) {
            Col::Text(c) => c.push(v.text()),
            Col::Int(_) => unreachable!("a column keeps its type"),
        }
        self
    }

    pub fn int(mut self, v: impl Into<Option<i64>>) -> Self {
        match self.col(|| Col::Int(Vec::new())) {
            Col::Int(c) => c.push(v.into()),
            Col::Text(_) => unreachable!("a column keeps its type"),
        }
        self
    }
}

/// One multi-row write: `head`, the rows (an INSERT's values, or an
/// UPDATE's row source `v`), then `tail`.
pub struct Write<'a> {
    head: &'static str,
    rows: Rows<'a>,
    tail: &'static str,
    from: bool,
    /// Begins a new group of statements (see [`Write::set_apart`]).
    apart: bool,
}

impl<'a> Write<'a> {
    /// `INSERT INTO t (…) ` + the rows + `tail`.
    pub fn insert(head: &'static str, rows: Rows<'a>, tail: &'static str) -> Write<'a> {
        Write {
            head,
            rows,
            tail,
            from: false,
            apart: false,
        }
    }

    /// `UPDATE … FROM ` + the rows as `v` + `tail`.
    pub fn from(head: &'static str, rows: Rows<'a>, tail: &'static str) -> Write<'a> {
        Write {
            head,
            rows,
            tail,
            from: true,
            apart: false,
        }
    }

    /// Marks this write as the first of another group: where a backend
    /// sends several statements to the database together (SQLite's
    /// folding), a group starts a new sending, so the text sent depends
    /// on one group's row counts, not on every combination of them.
    pub fn set_apart(&mut self) {
        self.apart = true;
    }

    /// Whether this write (or piece) begins a group.
    pub fn is_apart(&self) -> bool {
        self.apart
    }

    /// This write as statements of at most [`VALUES_PIECE`] rows, in
    /// order (SQLite's `VALUES` lists; see [`VALUES_SIZES`]).
    pub fn pieces(mut self) -> Vec<Write<'a>> {
        let mut out = Vec::with_capacity(self.rows.len.div_ceil(VALUES_PIECE));
        // Taken off the back, so each split moves only its own rows (taken
        // off the front, every split moved all the rows behind it: in a
        // 4,000-row batch, the last values moved ~60 times). The last
        // piece is the short one, as before.
        let mut take = (self.rows.len.max(1) - 1) % VALUES_PIECE + 1;
        while self.rows.len > VALUES_PIECE {
            out.push(Write {
                head: self.head,
                rows: self.rows.take_back(take),
                tail: self.tail,
                from: self.from,
                apart: false,
            });
            take = VALUES_PIECE;
        }
        // The first piece, which begins a group if the write did.
        out.push(self);
        out.reverse();
        out
    }

    /// How many rows it writes.
    pub fn rows(&self) -> usize {
        self.rows.len
    }

    /// What [`Write::sqlite_text`] is made of: two pieces of the same
    /// shape have the same text, so a prepared statement can be looked up
    /// by it without the text being written out.
    pub fn shape(&self) -> Shape {
        Shape {
            head: Shape::of(self.head),
            tail: Shape::of(self.tail),
            from: self.from,
            width: self.rows.cols.len(),
            size: padded(self.rows.len),
        }
    }

    /// The text [`Write::push`] gives SQLite for this piece, each value a
    /// `?` (bound by [`Write::each_value`]).
    pub fn sqlite_text(&self, sql: &mut String) {
        let (open, close) = if self.from { ROWS_FROM } else { ROWS };
        sql.push_str(self.head);
        sql.push_str(open);
        values_list(sql, self.rows.cols.len(), self.rows.len, |s| s.push('?'));
        sql.push_str(close);
        sql.push_str(self.tail);
    }

    /// Its values row by row, in the order of [`Write::sqlite_text`]'s
    /// parameters; the padding's are not visited (an unbound parameter is
    /// NULL).
    pub fn each_value(&self, mut f: impl FnMut(ValueRef<'_>)) {
        for r in 0..self.rows.len {
            for c in &self.rows.cols {
                f(match c {
                    Col::Text(v) => ValueRef::Text(v[r].as_deref()),
                    Col::Int(v) => ValueRef::Int(v[r]),
                });
            }
        }
    }

    pub fn push<D: Dialect>(self, q: &mut QueryBuilder<D>) {
        q.push(self.head);
        if self.from {
            D::push_rows_from(q, self.rows);
        } else {
            D::push_rows(q, self.rows);
        }
        q.push(self.tail);
    }
}

/// A statement's text by what it is made of ([`Write::shape`],
/// [`Shape::text`]): fixed texts are told apart by where they are, which
/// is cheaper than hashing and comparing them (a 64-row insert's text is
/// several kilobytes). Two equal texts in different places are two shapes
/// for the same text, which costs a second prepared statement, not a
/// wrong one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    head: (usize, usize),
    tail: (usize, usize),
    from: bool,
    width: usize,
    size: usize,
}

impl Shape {
    /// A statement written out whole.
    pub fn text(sql: &'static str) -> Shape {
        Shape {
            head: Shape::of(sql),
            tail: (0, 0),
            from: false,
            width: 0,
            size: 0,
        }
    }

    fn of(s: &'static str) -> (usize, usize) {
        (s.as_ptr() as usize, s.len())
    }
}

/// A value that binds and reads back as itself.
pub trait Column<D: Database>: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D> {}

impl<D, T> Column<D> for T
where
    D: Database,
    T: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
{
}

/// Names for the Rust types the statements bind and read, so [`Dialect`]
/// can state their bounds where users of `D: Dialect` see them.
pub trait Values {
    type I64;
    type F64;
    type Bool;
    type Text;
    type OptI64;
    type OptText;
    type Index;
    type Str<'a>;
    type Conn<'c>;
}

/// The same names for every database: [`Dialect`] pins them, and checks
/// their bounds where a backend implements it.
impl<D: Database> Values for D {
    type I64 = i64;
    type F64 = f64;
    type Bool = bool;
    type Text = String;
    type OptI64 = Option<i64>;
    type OptText = Option<String>;
    type Index = usize;
    type Str<'a> = &'a str;
    type Conn<'c> = &'c mut D::Connection;
}

/// How many rows a statement changed: the backends' results have it under
/// one name but no shared trait.
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// A backend's database, with every bound the shared statements need and
/// what its SQL does its own way.
pub trait Dialect:
    Database<Arguments: IntoArguments<Self>, QueryResult: RowsAffected>
    + Values<
        I64 = i64,
        F64 = f64,
        Bool = bool,
        Text = String,
        OptI64 = Option<i64>,
        OptText = Option<String>,
        Index = usize,
    > + Values<
        I64: Column<Self>,
        F64: Column<Self>,
        Bool: Column<Self>,
        Text: Column<Self>,
        OptI64: Column<Self>,
        OptText: Column<Self>,
        Index: ColumnIndex<Self::Row>,
    > + for<'a> Values<Str<'a> = &'a str>
    + for<'a> Values<Str<'a>: Encode<'a, Self> + Type<Self> + ColumnIndex<Self::Row>>
    + for<'c> Values<Conn<'c> = &'c mut <Self as Database>::Connection>
    + for<'c> Values<Conn<'c>: Executor<'c, Database = Self>>
{
    /// What the accepting writer task keeps between its transactions
    /// (SQLite's held deduplication scopes).
    type Held: Default + Send + 'static;
    /// Run in the transaction that adds work, to wake other processes.
    const NOTIFY: Option<&'static str>;
    /// An index hint for counting deliveries by creation time.
    const BY_CREATED: &'static str;
    /// The waiting rows' index condition, as this backend's index names it
    /// ([`WAITING`] or [`WAITING_EQUALITIES`]): for a query that must repeat
    /// it to read the index.
    const WAITING: &'static str = WAITING;
    /// Whether the writer task writes batches on its own thread
    /// ([`Dialect::write_held`]), without waiting for anything.
    const WRITES_ON_THIS_THREAD: bool = false;
    /// Serialises frequency-cap checks of one key (`$1`) until commit.
    const CAP_LOCK: Option<&'static str>;
    /// Opens every transaction on the writer pool ([`Engine::begin_write`],
    /// and the writer task's). SQLite's takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then
    /// writes fails at once (`SQLITE_BUSY_SNAPSHOT`, which waits for
    /// nothing) if another connection committed in between, and the
    /// writer's own connection ([`Dialect::write_held`]) commits beside the
    /// pool's.
    const BEGIN_WRITE: &'static str;
    /// Appended to a SELECT that reads a row to update it.
    const LOCK_ROW: &'static str;
    /// Whether writers run side by side (PostgreSQL), so a read that
    /// decides a write must lock what it decides on; SQLite's one writer
    /// needs no lock.
    const CONCURRENT_WRITERS: bool = false;
    /// Rows each key of the delivery statistics is spread over, so
    /// writers that run side by side seldom wait for each other's.
    const STATS_SHARDS: i64 = 1;
    /// Deletes deduplication claims that expired by `$1`.
    const PURGE_SCOPES: &'static str;

    /// Claims due deliveries: `$1` lease end, `$2` token, `$3` now,
    /// `$4` limit; returns them as [`Claimed`](super::Claimed).
    fn claim_sql() -> &'static str;
    /// The earliest `due_at` among waiting deliveries.
    fn next_due_sql() -> &'static str;

    /// Claims deduplication scopes (scope, delivery id, expiry) inside the
    /// accepting transaction; returns the ids of the deliveries that won
    /// theirs.
    fn claim_scopes(
        tx: &mut Transaction<'_, Self>,
        held: &mut Self::Held,
        claims: &[(&str, &str, i64)],
        now: i64,
    ) -> impl Future<Output = StoreResult<HashSet<String>>> + Send;
    /// Appends `rows` to an `INSERT INTO t (…) `: a `VALUES` list here,
    /// padded to one of [`VALUES_SIZES`];
    /// PostgreSQL overrides it with one array per column, so the
    /// statement reads the same whatever the number of rows and is
    /// prepared and planned once per connection.
    fn push_rows(q: &mut QueryBuilder<Self>, rows: Rows<'_>) {
        q.push(ROWS.0);
        push_values(q, rows);
        q.push(ROWS.1);
    }
    /// Appends `rows` as a row source named `v` with columns
    /// `column1`…, for `UPDATE … FROM`.
    fn push_rows_from(q: &mut QueryBuilder<Self>, rows: Rows<'_>) {
        q.push(ROWS_FROM.0);
        push_values(q, rows);
        q.push(ROWS_FROM.1);
    }
    /// Runs `writes` (then [`Dialect::NOTIFY`] if `notify`) as a
    /// transaction of their own, for a batch with nothing to read first.
    fn write_alone(
        conn: &mut Self::Connection,
        writes: Vec<Write<'_>>,
        notify: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Runs `writes` as a transaction of their own on a connection the
    /// writer task keeps in `held`, where the backend keeps one (SQLite's,
    /// `sqlite::direct`); gives them back, for [`Dialect::write_alone`],
    /// where it doesn't or can't write them now.
    fn write_held<'a>(
        _held: &mut Self::Held,
        writes: Vec<Write<'a>>,
    ) -> Result<StoreResult<()>, Vec<Write<'a>>> {
        Err(writes)
    }
    /// Runs `writes` in order, then [`Dialect::NOTIFY`] if `notify`: here a
    /// statement for each of their [pieces](Write::pieces).
    fn run_writes(
        conn: &mut Self::Connection,
        writes: Vec<Write<'_>>,
        notify: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        async move {
            for w in writes.into_iter().flat_map(Write::pieces) {
                let mut q = QueryBuilder::<Self>::new("");
                w.push(&mut q);
                q.build().execute(&mut *conn).await?;
            }
            if let (true, Some(sql)) = (notify, Self::NOTIFY) {
                sqlx::query(sql).execute(&mut *conn).await?;
            }
            Ok(())
        }
    }
    /// An accepting transaction starts: forget what an unfinished one
    /// claimed.
    fn discard_pending(_held: &mut Self::Held) {}
    /// The accepting transaction committed at `now`.
    fn commit_pending(_held: &mut Self::Held, _now: i64) {}
}

/// `VALUES (…), (…)`, each value a bound parameter, then rows of NULLs
/// up to the next of [`VALUES_SIZES`]. The text is written
/// straight into a `String` beside the arguments, and the builder rebuilt
/// from the two: [`QueryBuilder`] formats every separator it is given
/// (`write!`), which cost ~2 % of the server's instructions under the
/// peers' load, for ~50 values a delivery.
fn push_values<D: Dialect>(q: &mut QueryBuilder<D>, rows: Rows<'_>) {
    use sqlx::{Arguments, Execute};
    let mut before = std::mem::replace(q, QueryBuilder::new(""));
    let mut query = before.build();
    let mut args = query
        .take_arguments()
        .expect("a builder's arguments are taken once")
        .unwrap_or_default();
    let mut sql = query.sql().as_str().to_owned();
    let (width, len) = (rows.cols.len(), rows.len);
    let mut values = rows.into_row_major().flatten().enumerate();
    // The padding's values are bound, not written as NULL: placeholders
    // are numbered, so the text matches the size's only if every row has
    // them.
    values_list(&mut sql, width, len, |sql| {
        match values.next() {
            Some((n, v)) => {
                debug_assert!(
                    n % width != 0 || matches!(v, Value::Text(Some(_)) | Value::Int(Some(_))),
                    "a row's first column is its key: a NULL would drop it as padding"
                );
                match v {
                    Value::Text(t) => args.add(t.map(Cow::into_owned)),
                    Value::Int(i) => args.add(i),
                }
            }
            None => args.add(None::<i64>),
        }
        .expect("text and integers always bind");
        args.format_placeholder(sql)
            .expect("writing to a String can't fail");
    });
    *q = QueryBuilder::with_arguments(sql, args);
}

/// What [`Dialect::push_rows`] writes around a `VALUES` list: the padding
/// rows (NULL in their first column) are left out.
pub const ROWS: (&str, &str) = ("SELECT * FROM (", ") WHERE column1 IS NOT NULL");
/// What [`Dialect::push_rows_from`] writes around a `VALUES` list.
pub const ROWS_FROM: (&str, &str) = ("(SELECT * FROM (", ") WHERE column1 IS NOT NULL) AS v");

/// `VALUES (…), (…)`: `len` rows of `width` parameters, then rows of
/// them up to the next of [`VALUES_SIZES`] (the padding), each written by
/// `placeholder`, row by row.
pub fn values_list(
    sql: &mut String,
    width: usize,
    len: usize,
    mut placeholder: impl FnMut(&mut String),
) {
    let size = padded(len);
    sql.reserve(8 + size * (width * 6 + 4));
    sql.push_str("VALUES ");
    for i in 0..size {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..width {
            if j > 0 {
                sql.push_str(", ");
            }
            placeholder(sql);
        }
        sql.push(')');
    }
}

/// The rows a `VALUES` list of `len` rows is padded to.
fn padded(len: usize) -> usize {
    VALUES_SIZES
        .iter()
        .copied()
        .find(|&s| s >= len)
        .unwrap_or(len)
}

/// `UNNEST($1::text[], $2::bigint[], …) AS v(column1, …)`: PostgreSQL's
/// row source for [`Dialect::push_rows`].
pub fn push_unnest(q: &mut QueryBuilder<sqlx::Postgres>, rows: Rows<'_>) {
    let names = rows.names();
    q.push("UNNEST(");
    let mut sep = "";
    for c in rows.cols {
        q.push(sep);
        sep = ", ";
        match c {
            Col::Text(v) => q
                .push_bind(
                    v.into_iter()
                        .map(|t| t.map(Cow::into_owned))
                        .collect::<Vec<_>>(),
                )
                .push("::text[]"),
            Col::Int(v) => q.push_bind(v).push("::bigint[]"),
        };
    }
    q.push(format!(") AS v({names})"));
}

/// One backend's store: what the shared statements run on.
pub trait Engine: Send + Sync + 'static {
    type Db: Database;
    const BACKEND: Backend;

    /// The backend's migrations.
    fn migrator() -> &'static Migrator;
    fn reader(&self) -> &Pool<Self::Db>;
    fn writer(&self) -> &Pool<Self::Db>;
    /// A transaction on the writer pool, begun with
    /// [`Dialect::BEGIN_WRITE`]: where every write transaction begins.
    fn begin_write(
        &self,
    ) -> impl Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send
    where
        Self::Db: Dialect,
    {
        self.writer().begin_with(<Self::Db as Dialect>::BEGIN_WRITE)
    }
    /// Where accepted requests wait for the group-commit writer.
    fn write_queue(&self) -> &WriteQueue;
    /// What the writer hands this process's workers.
    fn handoff(&self) -> &Arc<Handoff>;
    /// The event types enabled endpoints want, kept in memory.
    fn subscribed(&self) -> &super::events::Subscribed;
    /// The NOTIFY channel a new inbox message is announced on, in the
    /// transaction that stores it; `None` where there is none.
    fn inbox_channel(&self) -> Option<&str>;
    /// What readiness adds to the database answering.
    fn writes_ready(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// See [`Queue::wakeups`](super::Queue::wakeups).
    fn listen_wakeups(
        &self,
    ) -> impl Future<Output = StoreResult<Option<BoxStream<'static, ()>>>> + Send;
    /// See [`Inbox::inbox_events`](super::Inbox::inbox_events).
    fn listen_inbox(
        &self,
    ) -> impl Future<Output = StoreResult<Option<BoxStream<'static, String>>>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, from: usize) -> Rows<'static> {
        let mut rows = Rows::default();
        for i in from..from + n {
            rows.row().text(format!("d{i}")).int(i as i64);
        }
        rows
    }

    fn write(n: usize) -> Write<'static> {
        Write::insert(
            "INSERT INTO t (a, b) ",
            rows(n, 0),
            " ON CONFLICT DO NOTHING",
        )
    }

    #[test]
    fn a_write_of_any_size_is_one_of_twelve_statement_texts_split_in_order() {
        let mut texts = HashSet::new();
        for n in 1..=300 {
            let mut w = write(n);
            w.set_apart();
            let pieces = w.pieces();
            let sizes: Vec<usize> = pieces.iter().map(|p| p.rows.len).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|&s| s <= VALUES_PIECE), "{sizes:?}");
            assert!(
                sizes[..sizes.len() - 1].iter().all(|&s| s == VALUES_PIECE),
                "only the last piece is short: {sizes:?}"
            );
            let apart: Vec<bool> = pieces.iter().map(Write::is_apart).collect();
            assert!(apart[0] && !apart[1..].contains(&true), "{apart:?}");
            let mut next = 0;
            for p in pieces {
                let Col::Text(ids) = &p.rows.cols[0] else {
                    panic!("the first column is text")
                };
                for id in ids {
                    assert_eq!(id.as_deref(), Some(format!("d{next}").as_str()));
                    next += 1;
                }
                let mut q = QueryBuilder::<sqlx::Sqlite>::new("");
                p.push(&mut q);
                texts.insert(q.sql().as_str().to_owned());
            }
        }
        assert_eq!(texts.len(), VALUES_SIZES.len(), "one text per size");
    }

    #[test]
    fn pieces_of_one_shape_have_one_text_and_of_two_shapes_two() {
        let mut pieces: Vec<Write> = (1..=VALUES_PIECE).map(write).collect();
        pieces.push(Write::from(
            "UPDATE t SET b = v.column2 FROM ",
            rows(3, 0),
            "",
        ));
        pieces.push(Write::insert("INSERT INTO u (a, b) ", rows(3, 0), ""));
        let mut wide = Rows::default();
        wide.row().text(String::from("x")).int(1).int(2);
        pieces.push(Write::insert("INSERT INTO t (a, b) ", wide, ""));
        let text = |w: &Write| {
            let mut t = String::new();
            w.sqlite_text(&mut t);
            t
        };
        for a in &pieces {
            for b in &pieces {
                assert_eq!(
                    a.shape() == b.shape(),
                    text(a) == text(b),
                    "{} rows beside {}",
                    a.rows(),
                    b.rows()
                );
            }
        }
        assert_eq!(Shape::text("COMMIT"), Shape::text("COMMIT"));
        assert_ne!(Shape::text("BEGIN IMMEDIATE"), Shape::text("COMMIT"));
    }

    /// The padding rows are dropped by both forms, as SQLite runs them.
    #[tokio::test]
    async fn padding_rows_are_neither_inserted_nor_matched() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut total = 0;
        for n in [1, 5, 7, 13, 64, 65, 100] {
            let mut q = QueryBuilder::<sqlx::Sqlite>::new("");
            let w = Write::insert("INSERT INTO t (a, b) ", rows(n, total), "");
            for p in w.pieces() {
                p.push(&mut q);
                q.build().execute(&mut conn).await.unwrap();
                q = QueryBuilder::new("");
            }
            total += n;
            let (count, nulls): (i64, i64) =
                sqlx::query_as("SELECT COUNT(*), COUNT(*) - COUNT(a) FROM t")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            assert_eq!((count, nulls), (total as i64, 0), "after {n} rows");
        }
        // Every row's b becomes -b, and only those rows are touched.
        let mut q = QueryBuilder::<sqlx::Sqlite>::new("");
        let mut flip = Rows::default();
        for i in 0..5 {
            flip.row().text(format!("d{i}")).int(-(i as i64));
        }
        Write::from(
            "UPDATE t SET b = v.column2 FROM ",
            flip,
            " WHERE t.a = v.column1",
        )
        .push(&mut q);
        let done = q.build().execute(&mut conn).await.unwrap();
        assert_eq!(done.rows_affected(), 5);
        let sum: i64 =
            sqlx::query_scalar("SELECT SUM(b) FROM t WHERE a IN ('d1', 'd2', 'd3', 'd4')")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(sum, -10);
    }

    #[test]
    fn the_waiting_statuses_one_by_one_are_the_waiting_statuses() {
        let listed: Vec<String> = WAITING_EACH.iter().map(|s| format!("'{s}'")).collect();
        assert_eq!(WAITING, format!("status IN ({})", listed.join(", ")));
        let each: Vec<String> = WAITING_EACH
            .iter()
            .map(|s| format!("status = '{s}'"))
            .collect();
        assert_eq!(WAITING_EQUALITIES, format!("({})", each.join(" OR ")));
    }
}
