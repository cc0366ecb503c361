//! The group-commit writer: accepted requests and attempts' outcomes wait
//! in a [`WriteQueue`] and writer tasks (one on SQLite, a few on
//! PostgreSQL, started by each backend) commit many of them in one
//! transaction. A 202 still means "on
//! disk", at a fraction of the cost of one commit per request. The
//! accepting transaction is written once for both backends; each backend's
//! [`Dialect`] claims deduplication scopes its own way. See
//! docs/decisions/0002-group-commit-and-one-sqlite-writer.md.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Pool, Transaction};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::dialect::{Dialect, Rows, RowsAffected, Write, INSERT_CHUNK};
use super::events::{self, Subscribed};
use super::handoff::{Grant, Handoff};
use super::stats::Tally;
use super::{
    Accept, AcceptOutcome, Claimed, Completion, IdempotencyKey, IdempotencyRecord, NewDelivery,
    NotificationRow, StoreError, StoreResult, Unavailable,
};
use crate::domain::event::{EventType, Mask};
use crate::domain::{Reason, Status};

/// What the writer tasks commit: accepted requests, and the outcomes of
/// attempts, both in the same transactions.
pub enum WriteJob {
    Accept(Box<Accept>, oneshot::Sender<StoreResult<AcceptOutcome>>),
    Complete(Vec<Completion>, i64, oneshot::Sender<StoreResult<()>>),
}

impl WriteJob {
    /// Rows it writes, to bound a batch.
    fn rows(&self) -> usize {
        match self {
            WriteJob::Accept(a, _) => a.deliveries.len() + 1,
            WriteJob::Complete(c, _, _) => c.len(),
        }
    }
}

/// Hands accepted requests and attempts' outcomes to the writer tasks,
/// which commit many of them in one transaction (group commit): a 202
/// still means "on disk", at a fraction of the cost of one commit per
/// request, and what finished is written in the same commit as what
/// arrived.
#[derive(Clone)]
pub struct WriteQueue {
    tx: mpsc::Sender<WriteJob>,
}

impl WriteQueue {
    pub fn new(capacity: usize) -> (WriteQueue, Arc<Mutex<mpsc::Receiver<WriteJob>>>) {
        let (tx, rx) = mpsc::channel(capacity);
        (WriteQueue { tx }, Arc::new(Mutex::new(rx)))
    }

    pub async fn submit(&self, accept: Accept) -> StoreResult<AcceptOutcome> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(WriteJob::Accept(Box::new(accept), tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Records attempts and the next state of each delivery.
    pub async fn complete(&self, completions: Vec<Completion>, now: i64) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(WriteJob::Complete(completions, now, tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// A writer task's connection, kept from one batch to the next while jobs
/// keep coming: giving a pooled connection back costs a task hand-off and
/// a ping (a round trip to the database) before the next taker has it,
/// per transaction. It goes back to the pool
/// when the queue runs dry (an idle connection is checked before its next
/// use) and when another task asks for the write connection (`wanted`:
/// SQLite's only one); it is closed after a failed write.
pub struct WriterConn<D: Dialect> {
    pool: Pool<D>,
    conn: Option<PoolConnection<D>>,
    wanted: Option<Arc<AtomicBool>>,
}

impl<D: Dialect> WriterConn<D> {
    pub fn new(pool: Pool<D>, wanted: Option<Arc<AtomicBool>>) -> Self {
        WriterConn {
            pool,
            conn: None,
            wanted,
        }
    }

    async fn get(&mut self) -> StoreResult<&mut D::Connection> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("taken above"))
    }

    pub(super) fn give_back(&mut self) {
        self.conn = None;
    }

    /// Closes the connection: a write failed on it, and may have left it
    /// in a transaction or broken. The pool opens another.
    fn discard(&mut self) {
        if let Some(c) = &mut self.conn {
            c.close_on_drop();
        }
        self.conn = None;
    }
}

/// The writer task: commits batches of jobs until the queue closes.
/// `after` hears how each batch went.
pub async fn run_writer<D: Dialect>(
    rx: Arc<Mutex<mpsc::Receiver<WriteJob>>>,
    mut conn: WriterConn<D>,
    mut held: D::Held,
    handoff: Arc<Handoff>,
    subs: Arc<Subscribed>,
    mut after: impl FnMut(Result<(), Unavailable>),
) {
    loop {
        let batch = match waiting_batch(&rx) {
            Some(batch) => batch,
            None => {
                conn.give_back();
                match next_batch(&rx).await {
                    Some(batch) => batch,
                    None => break,
                }
            }
        };
        if conn
            .wanted
            .as_ref()
            .is_some_and(|w| w.swap(false, Ordering::Relaxed))
        {
            conn.give_back();
        }
        // Boxed as `Send` here, where the compiler can see it is.
        let write: Pin<Box<dyn Future<Output = Result<(), Unavailable>> + Send + '_>> =
            Box::pin(write_batch(&mut conn, &mut held, &handoff, &subs, batch));
        after(write.await);
        // A batch written on this thread may not have waited for anything:
        // let the requests it answered run before the next one (a task it
        // woke waits in this thread's queue, some of it where no other
        // thread takes it from). Where every batch waits for the database
        // (PostgreSQL), a yield only costs.
        if D::WRITES_ON_THIS_THREAD {
            tokio::task::yield_now().await;
        }
    }
}

/// The jobs already waiting, without waiting for one (`None` if there are
/// none, or another writer is taking them).
fn waiting_batch(rx: &Mutex<mpsc::Receiver<WriteJob>>) -> Option<Vec<WriteJob>> {
    let mut rx = rx.try_lock().ok()?;
    let first = rx.try_recv().ok()?;
    Some(fill_batch(&mut rx, first))
}

/// Takes one job, then whatever else is waiting, up to a bound on rows.
async fn next_batch(rx: &Mutex<mpsc::Receiver<WriteJob>>) -> Option<Vec<WriteJob>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    Some(fill_batch(&mut rx, first))
}

fn fill_batch(rx: &mut mpsc::Receiver<WriteJob>, first: WriteJob) -> Vec<WriteJob> {
    let mut rows = first.rows();
    let mut batch = vec![first];
    while batch.len() < 512 && rows < 20_000 {
        match rx.try_recv() {
            Ok(job) => {
                rows += job.rows();
                batch.push(job);
            }
            Err(_) => break,
        }
    }
    batch
}

impl WriteJob {
    /// Gives the job its answer: the accepted request's outcome (`None` for
    /// outcomes recorded), or the error.
    fn answer(self, r: StoreResult<Option<AcceptOutcome>>) {
        match self {
            WriteJob::Accept(_, reply) => {
                let _ = reply.send(r.map(|o| o.expect("an accepted request has an outcome")));
            }
            WriteJob::Complete(_, _, reply) => {
                let _ = reply.send(r.map(|_| ()));
            }
        }
    }
}

/// Commits a batch of jobs in one transaction. If the batch fails, each
/// job is tried alone so one bad request can't sink the others.
///
/// A failure that is the database's (disk full, no connection)
/// fails the whole group at once, without trying each job
/// alone: each would wait for and fail the same way. It is
/// returned, so the writer knows writes are failing.
pub(crate) async fn write_batch<D: Dialect>(
    conn: &mut WriterConn<D>,
    held: &mut D::Held,
    handoff: &Arc<Handoff>,
    subs: &Subscribed,
    mut batch: Vec<WriteJob>,
) -> Result<(), Unavailable> {
    let all: Vec<&WriteJob> = batch.iter().collect();
    match write_jobs(conn, held, handoff, subs, &all).await {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for job in batch {
                let outcome = match job {
                    WriteJob::Accept(..) => outcomes.next(),
                    WriteJob::Complete(..) => None,
                };
                job.answer(Ok(outcome));
            }
            Ok(())
        }
        Err(e) if e.unavailable().is_some() => {
            let kind = e.unavailable().expect("checked above");
            tracing::warn!(error = %e, size = batch.len(), "writes could not be made");
            for job in batch {
                job.answer(Err(e.shared().expect("checked above")));
            }
            Err(kind)
        }
        Err(e) if batch.len() == 1 => {
            batch.pop().expect("one job").answer(Err(e));
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, size = batch.len(), "batched write failed; retrying one by one");
            let mut failing = Ok(());
            for job in batch {
                let r = write_jobs(conn, held, handoff, subs, &[&job])
                    .await
                    .map(|mut v| v.pop());
                match r.as_ref().map_err(|e| e.unavailable()) {
                    Err(Some(kind)) => failing = Err(kind),
                    Ok(_) => failing = Ok(()),
                    Err(None) => {}
                }
                job.answer(r);
            }
            failing
        }
    }
}

/// Writes `jobs` in one transaction ([`accept_tx`]); the accepted
/// requests' outcomes, in order.
async fn write_jobs<D: Dialect>(
    conn: &mut WriterConn<D>,
    held: &mut D::Held,
    handoff: &Arc<Handoff>,
    subs: &Subscribed,
    jobs: &[&WriteJob],
) -> StoreResult<Vec<AcceptOutcome>> {
    let mut accepts = Vec::with_capacity(jobs.len());
    let mut completions = Vec::new();
    for job in jobs {
        match job {
            WriteJob::Accept(a, _) => accepts.push(a.as_ref()),
            WriteJob::Complete(c, now, _) => completions.push((c.as_slice(), *now)),
        }
    }
    let r = accept_tx(conn, held, handoff, subs, &accepts, &completions).await;
    if r.is_err() {
        conn.discard();
    }
    r
}

/// Claims each delivery's deduplication scope for its window
/// (the backend's `claim_scopes`) and applies frequency caps.
/// Deliveries whose scope is already held (by an earlier send, or
/// earlier in this batch) become `suppressed`/`duplicate`; returns
/// the changed accepts (None where nothing changed).
async fn dedup_tx<D: Dialect>(
    tx: &mut Transaction<'_, D>,
    held: &mut D::Held,
    accepts: &[&Accept],
) -> StoreResult<Vec<Option<Accept>>> {
    let now = crate::util::now_ms();
    let mut seen = HashSet::new();
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
    let capped = caps_tx(tx, accepts, now).await?;
    if claims.is_empty() && capped.is_empty() {
        return Ok(vec![None; accepts.len()]);
    }
    let won = D::claim_scopes(tx, held, &claims, now).await?;
    let why = |d: &NewDelivery| -> Option<Reason> {
        if d.dedup.is_some() && !won.contains(&d.id) {
            Some(Reason::Duplicate)
        } else if capped.contains(&d.id) {
            Some(Reason::FrequencyCap)
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
                    d.status = Status::Suppressed.as_str();
                    d.reason = Some(reason.to_string());
                    d.due_at = None;
                    summary.status = Status::Suppressed.to_string();
                    summary.reason = Some(reason.to_string());
                }
            }
            Some(a)
        })
        .collect())
}

/// A recipient's deliveries on a channel in a category (and template,
/// `$5`, when the cap is the template's own) since `$4` that count
/// against a cap: those a cap applied to when accepted (`capped = 1`, the
/// cap index's condition; docs/decisions/0048-the-cap-index-holds-only-capped-deliveries.md),
/// in every status but `suppressed` and `cancelled`. The rows in flight
/// are counted apart, from the waiting rows' index: PostgreSQL's cap index
/// leaves them out (docs/decisions/0042-postgresql-filter-indexes-leave-out-rows-in-flight.md).
pub(super) const CAP_COUNT: &str = const_format::concatcp!(
    "SELECT (SELECT COUNT(*) FROM deliveries WHERE recipient = $1 AND channel = $2 AND \
     category = $3 AND created_at > $4 AND capped = 1 AND status <> 'sending' AND status NOT \
     IN ('suppressed', 'cancelled') AND ($5 IS NULL OR template_key = $5)) + (SELECT COUNT(*) \
     FROM deliveries WHERE status = 'sending' AND ",
    super::dialect::WAITING,
    " AND recipient = $1 AND channel = $2 AND category = $3 AND created_at > $4 AND capped = 1 \
     AND ($5 IS NULL OR template_key = $5))"
);

/// Applies frequency caps: counts each capped recipient, channel
/// and category's deliveries inside the window (under a lock on
/// PostgreSQL, under SQLite's single writer otherwise) and
/// returns the ids of the deliveries over the cap.
async fn caps_tx<D: Dialect>(
    tx: &mut Transaction<'_, D>,
    accepts: &[&Accept],
    now: i64,
) -> StoreResult<HashSet<String>> {
    let mut over = HashSet::new();
    // Counts so far per (recipient, channel, category), including
    // this batch.
    let mut counts: HashMap<(String, String, String), i64> = HashMap::new();
    for a in accepts {
        let category = &a.notification.category;
        for d in &a.deliveries {
            let Some((limit, window, template)) = &d.cap else {
                continue;
            };
            let (limit, window) = (*limit, *window);
            if d.status == Status::Suppressed.as_str() {
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
                    if let Some(sql) = D::CAP_LOCK {
                        sqlx::query(sql)
                            .bind(format!("cap\t{}\t{}\t{}", k.0, k.1, k.2))
                            .execute(&mut **tx)
                            .await?;
                    }
                    sqlx::query_scalar::<_, i64>(CAP_COUNT)
                        .bind(&k.0)
                        .bind(&k.1)
                        .bind(category)
                        .bind(now - window)
                        .bind(template.clone())
                        .fetch_one(&mut **tx)
                        .await?
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

/// Records attempts and the next state of each delivery: one UPDATE and
/// one INSERT per chunk. A delivery whose claim was lost (its lease ended
/// and another worker claimed it) is left as the new claim has it; its
/// attempt is recorded all the same. The status events the outcomes make
/// (for the types in `mask`) come first: they read the claims as they were.
fn complete_rows<'a>(
    writes: &mut Vec<Write<'a>>,
    mask: Mask,
    completions: &'a [Completion],
    now: i64,
) {
    if !mask.is_empty() {
        events::completion_events(writes, mask, completions, now);
    }
    for chunk in completions.chunks(INSERT_CHUNK) {
        let mut rows = Rows::default();
        for c in chunk {
            rows.row()
                .text(&c.delivery_id)
                .text(&c.claim_token)
                .text(c.status)
                .text(&c.reason)
                .int(c.due_at)
                .text(c.last_error())
                .text(&c.attempt.provider)
                .int(now);
        }
        writes.push(Write::from(
            "UPDATE deliveries SET status = v.column3, reason = v.column4, due_at = v.column5, \
             attempts = attempts + 1, last_error = v.column6, provider = v.column7, updated_at \
             = v.column8, claim_token = NULL FROM ",
            rows,
            " WHERE deliveries.id = v.column1 AND deliveries.claim_token = v.column2",
        ));

        let mut rows = Rows::default();
        for c in chunk {
            let a = &c.attempt;
            rows.row()
                .text(&a.delivery_id)
                .int(a.number)
                .text(&a.provider)
                .int(a.started_at)
                .int(a.duration_ms)
                .text(&a.outcome)
                .int(a.status_code)
                .text(&a.response)
                .text(&a.error);
        }
        writes.push(Write::insert(
            "INSERT INTO delivery_attempts (delivery_id, number, provider, started_at, \
             duration_ms, outcome, status_code, response, error) ",
            rows,
            " ON CONFLICT (delivery_id, number) DO NOTHING",
        ));
    }
}

/// Takes the Idempotency-Keys of `accepts` (all but the `lost` ones) in
/// two statements whatever their number: one upsert of every key (a key
/// whose earlier use has expired is taken over) and one read of the
/// records of the keys it could not take. Returns, per accept, the record
/// that answers it instead when its key was in use: by an earlier request,
/// or by an earlier accept of this batch (which sees that accept's
/// record as it was written, as a later transaction would).
async fn idempotency_tx<D: Dialect>(
    tx: &mut Transaction<'_, D>,
    accepts: &[&Accept],
    lost: &[bool],
) -> StoreResult<Vec<Option<IdempotencyRecord>>> {
    let mut answers: Vec<Option<IdempotencyRecord>> = vec![None; accepts.len()];
    let keyed: Vec<(usize, &IdempotencyKey)> = accepts
        .iter()
        .zip(lost)
        .enumerate()
        .filter(|(_, (_, lost))| !**lost)
        .filter_map(|(i, (a, _))| a.idempotency.as_ref().map(|k| (i, k)))
        .collect();
    if keyed.is_empty() {
        return Ok(answers);
    }
    // The first use of each key in the batch tries to take it; a later
    // one answers from the record the first left.
    let mut first: HashSet<(&str, &str)> = HashSet::with_capacity(keyed.len());
    let mut tries: Vec<(usize, &IdempotencyKey)> = keyed
        .iter()
        .filter(|(_, (key_id, key, _, _))| first.insert((key_id.as_str(), key.as_str())))
        .copied()
        .collect();
    // In key order, so writers taking overlapping keys side by side lock
    // them in the same order (no deadlock).
    tries.sort_unstable_by(|(_, a), (_, b)| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut took: HashSet<(String, String)> = HashSet::with_capacity(tries.len());
    for chunk in tries.chunks(INSERT_CHUNK) {
        let mut rows = Rows::default();
        for (i, (key_id, key, rec, expires_at)) in chunk {
            rows.row()
                .text(key_id)
                .text(key)
                .text(&rec.request_hash)
                .int(rec.response_status)
                .text(&rec.response_body)
                .int(accepts[*i].notification.created_at)
                .int(*expires_at);
        }
        let mut q = sqlx::QueryBuilder::<D>::new(
            "INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, \
             response_status, response_body, created_at, expires_at) ",
        );
        D::push_rows(&mut q, rows);
        q.push(
            " ON CONFLICT (api_key_id, idem_key) DO UPDATE SET request_hash = \
             excluded.request_hash, response_status = excluded.response_status, \
             response_body = excluded.response_body, created_at = excluded.created_at, \
             expires_at = excluded.expires_at WHERE idempotency_keys.expires_at <= \
             excluded.created_at RETURNING api_key_id, idem_key",
        );
        let rows: Vec<KeyRow> = q.build_query_as().fetch_all(&mut **tx).await?;
        took.extend(rows.into_iter().map(|r| (r.api_key_id, r.idem_key)));
    }
    let tried: HashSet<usize> = tries.iter().map(|(i, _)| *i).collect();
    let taken_by_another: Vec<usize> = keyed
        .iter()
        .filter(|(i, (key_id, key, _, _))| {
            !(tried.contains(i) && took.contains(&(key_id.clone(), key.clone())))
        })
        .map(|(i, _)| *i)
        .collect();
    if taken_by_another.is_empty() {
        return Ok(answers);
    }
    let mut records: HashMap<(String, String), IdempotencyRecord> = HashMap::new();
    let mut wanted: Vec<(&str, &str)> = taken_by_another
        .iter()
        .filter_map(|i| accepts[*i].idempotency.as_ref())
        .map(|(key_id, key, _, _)| (key_id.as_str(), key.as_str()))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    for chunk in wanted.chunks(INSERT_CHUNK) {
        let mut q = sqlx::QueryBuilder::<D>::new(
            "SELECT api_key_id, idem_key, request_hash, response_status, response_body FROM \
             idempotency_keys WHERE ",
        );
        for (n, (key_id, key)) in chunk.iter().enumerate() {
            if n > 0 {
                q.push(" OR ");
            }
            q.push("(api_key_id = ")
                .push_bind(key_id.to_string())
                .push(" AND idem_key = ")
                .push_bind(key.to_string())
                .push(")");
        }
        let rows: Vec<KeyedRecord> = q.build_query_as().fetch_all(&mut **tx).await?;
        records.extend(rows.into_iter().map(|r| {
            (
                (r.api_key_id, r.idem_key),
                IdempotencyRecord {
                    request_hash: r.request_hash,
                    response_status: r.response_status,
                    response_body: r.response_body,
                },
            )
        }));
    }
    for i in taken_by_another {
        let (key_id, key, _, _) = accepts[i].idempotency.as_ref().expect("keyed");
        answers[i] = Some(
            records
                .get(&(key_id.clone(), key.clone()))
                .cloned()
                .ok_or(StoreError::Db(sqlx::Error::RowNotFound))?,
        );
    }
    Ok(answers)
}

/// A key the upsert took.
#[derive(sqlx::FromRow)]
struct KeyRow {
    api_key_id: String,
    idem_key: String,
}

/// A key in use, with its record.
#[derive(sqlx::FromRow)]
struct KeyedRecord {
    api_key_id: String,
    idem_key: String,
    request_hash: String,
    response_status: i64,
    response_body: String,
}

/// Writes a batch with nothing to read first: on the writer's own
/// connection where the backend keeps one ([`Dialect::write_held`]), else
/// through the pool's. When the own connection found the write lock taken,
/// most often by this process's pool connection (a claim, an API write),
/// it is tried again once the writer holds that connection; only if the
/// lock is still taken (another process's) does the batch go through the
/// pool's.
pub(super) async fn write_plain<D: Dialect>(
    conn: &mut WriterConn<D>,
    held: &mut D::Held,
    writes: Vec<Write<'_>>,
    notify: bool,
) -> StoreResult<()> {
    let writes = match D::write_held(held, writes) {
        Ok(r) => return r,
        Err(writes) => writes,
    };
    let pooled = conn.get().await?;
    match D::write_held(held, writes) {
        Ok(r) => r,
        Err(writes) => D::write_alone(pooled, writes, notify).await,
    }
}

/// Writes accepted requests and attempts' outcomes in one transaction.
/// `held` is the writer task's own: what it claims enters it only
/// once the transaction has committed. Deliveries due now are written
/// claimed for this process's workers, as many as they have room for, and
/// handed to them after the commit (`handoff`).
async fn accept_tx<D: Dialect>(
    conn: &mut WriterConn<D>,
    held: &mut D::Held,
    handoff: &Arc<Handoff>,
    subs: &Subscribed,
    accepts: &[&Accept],
    completions: &[(&[Completion], i64)],
) -> StoreResult<Vec<AcceptOutcome>> {
    D::discard_pending(held);
    let mask = subs.mask();
    // Outcomes that may complete a notification someone wants to hear of:
    // read after they are written, in their transaction.
    let completing: Vec<&str> = completions
        .iter()
        .filter(|(c, _)| events::may_complete(mask, c))
        .flat_map(|(c, _)| c.iter().map(|c| c.delivery_id.as_str()))
        .collect();
    // Requests that may be finished as they are written (a delivery
    // suppressed at once, or one a dedup scope or a cap may suppress),
    // where someone wants to hear of finished notifications.
    let completes_at_accept = mask.has(EventType::NotificationCompleted);
    // Nothing to read before writing (no Idempotency-Key, deduplication
    // or cap): the writes go to the database at once, as a transaction of
    // their own.
    let plain = completing.is_empty()
        && !(completes_at_accept && accepts.iter().any(|a| may_finish_at_accept(a)))
        && accepts.iter().all(|a| {
            a.idempotency.is_none()
                && a.fence.is_none()
                && a.deliveries
                    .iter()
                    .all(|d| d.dedup.is_none() && d.cap.is_none())
        });
    if plain {
        let outcomes = accepts
            .iter()
            .map(|a| AcceptOutcome::Created(a.answer_json.clone()))
            .collect();
        let written = Written::new::<D>(handoff, mask, accepts, completions);
        write_plain(conn, held, written.writes, written.waiting).await?;
        D::commit_pending(held, crate::util::now_ms());
        written.after.hand_over(handoff);
        if written.events {
            subs.written();
        }
        return Ok(outcomes);
    }
    let mut tx = conn.get().await?.begin_with(D::BEGIN_WRITE).await?;
    // A fan-out's batch goes on only while its row is where it started.
    let mut lost = vec![false; accepts.len()];
    for (a, lost) in accepts.iter().zip(lost.iter_mut()) {
        if let Some(f) = &a.fence {
            let moved = sqlx::query(
                "UPDATE deliveries SET content = $3, status = $4, due_at = $5, claim_token = \
                 $6, updated_at = $7 WHERE id = $1 AND claim_token = $2 AND status = 'sending' \
                 AND content = $8",
            )
            .bind(&f.row_id)
            .bind(&f.token)
            .bind(&f.to)
            .bind(match f.lease_until {
                Some(_) => Status::Sending.as_str(),
                None => Status::Sent.as_str(),
            })
            .bind(f.lease_until)
            .bind(f.lease_until.map(|_| f.token.clone()))
            .bind(crate::util::now_ms())
            .bind(&f.from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            *lost = moved == 0;
        }
    }
    let taken = idempotency_tx(&mut tx, accepts, &lost).await?;
    let mut outcomes = Vec::with_capacity(accepts.len());
    let mut fresh: Vec<&Accept> = Vec::with_capacity(accepts.len());
    for ((a, lost), taken) in accepts.iter().zip(lost).zip(taken) {
        if lost {
            outcomes.push(AcceptOutcome::Lost);
        } else if let Some(existing) = taken {
            outcomes.push(AcceptOutcome::Existing(existing));
        } else {
            outcomes.push(AcceptOutcome::Created(String::new()));
            fresh.push(a);
        }
    }
    let deduped = dedup_tx(&mut tx, held, &fresh).await?;
    // Final answers: after deduplication, and stored with the
    // Idempotency-Key when one was given.
    let mut created = fresh.iter().zip(&deduped);
    for outcome in outcomes.iter_mut() {
        if let AcceptOutcome::Created(body) = outcome {
            let (a, changed) = created
                .next()
                .expect("one fresh accept per created outcome");
            match changed {
                None => *body = a.answer_json.clone(),
                Some(c) => {
                    *body = serde_json::to_string(&c.answer).expect("answers serialise");
                    if let Some((key_id, key, _, _)) = &a.idempotency {
                        sqlx::query(
                            "UPDATE idempotency_keys SET response_body = $3 WHERE \
                             api_key_id = $1 AND idem_key = $2",
                        )
                        .bind(key_id)
                        .bind(key)
                        .bind(body.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
    }
    let fresh: Vec<&Accept> = fresh
        .iter()
        .zip(&deduped)
        .map(|(a, d)| d.as_ref().unwrap_or(*a))
        .collect();
    let written = Written::new::<D>(handoff, mask, &fresh, completions);
    D::run_writes(&mut tx, written.writes, written.waiting).await?;
    let mut events = written.events;
    if !completing.is_empty() {
        let now = crate::util::now_ms();
        events |= events::notifications_completed(&mut tx, &completing, now).await?;
    }
    if completes_at_accept {
        let finished: Vec<&str> = fresh
            .iter()
            .filter(|a| may_finish_at_accept(a))
            .flat_map(|a| a.deliveries.iter().map(|d| d.id.as_str()))
            .collect();
        if !finished.is_empty() {
            let now = crate::util::now_ms();
            events |= events::notifications_completed(&mut tx, &finished, now).await?;
        }
    }
    tx.commit().await?;
    D::commit_pending(held, crate::util::now_ms());
    written.after.hand_over(handoff);
    if events {
        subs.written();
    }
    Ok(outcomes)
}

/// Whether an accepted request may leave its notification finished as it
/// is written: a delivery suppressed at once, or one that deduplication or
/// a cap may suppress in the transaction.
fn may_finish_at_accept(a: &Accept) -> bool {
    a.deliveries.iter().any(|d| {
        d.dedup.is_some() || d.cap.is_some() || Status::parse(d.status).is_ok_and(|s| s.is_final())
    })
}

/// What an accepting transaction writes, and what follows its commit.
struct Written<'a> {
    writes: Vec<Write<'a>>,
    /// Whether it leaves work in the table: other processes' workers hear
    /// of work only this one's can't take.
    waiting: bool,
    after: AfterCommit,
    /// Whether it may write status events.
    events: bool,
}

/// The deliveries written claimed, handed to the workers once committed.
struct AfterCommit {
    grant: Option<Grant>,
    handed: Vec<Claimed>,
    waiting: bool,
}

impl AfterCommit {
    fn hand_over(self, handoff: &Handoff) {
        if let Some(g) = self.grant {
            g.hand_over(self.handed);
        }
        if self.waiting {
            handoff.queued();
        }
    }
}

impl<'a> Written<'a> {
    /// The notifications and deliveries of `fresh` (the first `grant.n`
    /// deliveries due now written claimed for the workers) and the
    /// outcomes of `completions`, in as few statements as the parameter
    /// limits allow.
    fn new<D: Dialect>(
        handoff: &Arc<Handoff>,
        mask: Mask,
        fresh: &[&'a Accept],
        completions: &[(&'a [Completion], i64)],
    ) -> Written<'a> {
        let mut writes = Vec::new();
        // A fan-out's batch belongs to a notification written before.
        let new: Vec<&&Accept> = fresh.iter().filter(|a| a.fence.is_none()).collect();
        for chunk in new.chunks(INSERT_CHUNK) {
            let mut rows = Rows::default();
            for a in chunk {
                let n = &a.notification;
                rows.row()
                    .text(&n.id)
                    .text(&n.template_key)
                    .int(n.template_version)
                    .text(&n.data)
                    .text(&n.category)
                    .text(&n.priority)
                    .text(&n.locale)
                    .text(&n.dedup_key)
                    .int(n.send_at)
                    .text(&n.api_key_id)
                    .int(n.created_at)
                    .text(&n.workflow_key)
                    .int(n.workflow_version)
                    .text(&n.cancel_key)
                    .text(&n.parent_run);
            }
            writes.push(Write::insert(
                "INSERT INTO notifications (id, template_key, template_version, data, \
                 category, priority, locale, dedup_key, send_at, api_key_id, created_at, \
                 workflow_key, workflow_version, cancel_key, parent_run) ",
                rows,
                "",
            ));
        }
        let rows: Vec<(&NotificationRow, &NewDelivery)> = fresh
            .iter()
            .flat_map(|a| a.deliveries.iter().map(move |d| (&a.notification, d)))
            .collect();
        // The first `grant.n` deliveries due now go to the workers claimed.
        let now = crate::util::now_ms();
        let due_now =
            |d: &NewDelivery| d.status == Status::Queued.as_str() && d.due_at <= Some(now);
        let grant = handoff.reserve(rows.iter().filter(|(_, d)| due_now(d)).count(), now);
        let mut handed = Vec::with_capacity(grant.as_ref().map_or(0, |g| g.n));
        let mut waiting = false;
        let claimed: Vec<bool> = rows
            .iter()
            .map(|(n, d)| {
                let take = grant.as_ref().is_some_and(|g| handed.len() < g.n) && due_now(d);
                match &grant {
                    Some(g) if take => handed.push(Claimed::fresh(n, d, &g.token)),
                    _ => waiting |= Status::parse(d.status).is_ok_and(|s| s.is_waiting()),
                }
                take
            })
            .collect();
        for (chunk, claimed) in rows.chunks(INSERT_CHUNK).zip(claimed.chunks(INSERT_CHUNK)) {
            let mut rows = Rows::default();
            for ((n, d), claimed) in chunk.iter().zip(claimed) {
                let (status, due_at, token) = match &grant {
                    Some(g) if *claimed => (
                        Status::Sending.as_str(),
                        Some(g.lease_until),
                        Some(g.token.clone()),
                    ),
                    _ => (d.status, d.due_at, None),
                };
                rows.row()
                    .text(&d.id)
                    .text(&n.id)
                    .text(&d.template_key)
                    .text(&d.recipient)
                    .text(&d.recipient_data)
                    .text(&d.channel)
                    .text(&n.category)
                    .text(&d.address)
                    .text(&d.content)
                    .text(status)
                    .text(&d.reason)
                    .int(d.priority)
                    .int(due_at)
                    .text(token)
                    .int(n.created_at)
                    .int(n.created_at)
                    .int(0)
                    .text(&n.traceparent)
                    .int(i64::from(d.cap.is_some()));
            }
            writes.push(Write::insert(
                "INSERT INTO deliveries (id, notification_id, template_key, recipient, \
                 recipient_data, channel, category, address, content, status, reason, \
                 priority, due_at, claim_token, created_at, updated_at, attempts, \
                 traceparent, capped) ",
                rows,
                "",
            ));
        }
        let before = writes.len();
        for (c, now) in completions {
            complete_rows(&mut writes, mask, c, *now);
        }
        // The outcomes (and the statistics after them) are a group of
        // their own: its row counts vary apart from the accepted ones'.
        if let Some(w) = writes.get_mut(before) {
            w.set_apart();
        }
        let events = !mask.is_empty() && writes.len() > before;
        // The statistics of what this transaction finishes: one row per key.
        let mut tally = Tally::default();
        for (_, d) in &rows {
            if d.status == Status::Suppressed.as_str() {
                tally.accepted(d, now);
            }
        }
        for (cs, at) in completions {
            for c in cs.iter() {
                tally.outcome(c, *at);
            }
        }
        writes.extend(tally.write(D::STATS_SHARDS));
        Written {
            events,
            writes,
            waiting,
            after: AfterCommit {
                grant,
                handed,
                waiting,
            },
        }
    }
}
