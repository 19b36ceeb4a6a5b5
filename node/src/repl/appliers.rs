//! Parallel appliers and the horizon.
//!
//! Jobs arrive in seqno order. A worker takes the next job and waits until
//! the horizon reaches the job's `depends_seqno` (a TOI job waits for
//! `seqno - 1`: it runs alone), installs it, and marks its seqno finished.
//! The horizon is the largest seqno below which everything is finished.
//!
//! Why this cannot deadlock: workers take jobs in seqno order, so the
//! smallest unfinished seqno `m` is either being worked on or is the next
//! job taken. Everything below `m` is finished, so the horizon is `m - 1 >=
//! depends(m)` and `m` proceeds.
//!
//! Why results equal serial apply: two write-sets that touch the same key
//! are ordered by `depends_seqno` (certification records every key), so each
//! row's versions are installed in seqno order, and readers only see the
//! horizon's prefix.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tracing::error;
use trireme_certification::{RowOpKind, WriteSet};

use crate::repl::{Outcome, Replicator, SchemaChange};
use trireme_storage::codec;
use trireme_storage::{ApplyBatch, Store};

pub enum Job {
    WriteSet {
        seqno: u64,
        depends: u64,
        origin: u64,
        ws: WriteSet,
    },
    Toi {
        seqno: u64,
        origin: u64,
        trx_id: u64,
        db: Option<String>,
        sql: String,
        /// The origin's clock, see `Event::Toi`.
        time_us: i64,
    },
}

struct Progress {
    horizon: u64,
    finished_above: BTreeSet<u64>,
}

struct Shared {
    store: Arc<Store>,
    schema: Arc<dyn SchemaChange>,
    progress: Mutex<Progress>,
    advanced: Condvar,
    queue: Mutex<std::collections::VecDeque<Job>>,
    queued: Condvar,
    /// Jobs delivered but not yet finished (wsrep_local_recv_queue).
    pending: AtomicUsize,
    busy: AtomicUsize,
    max_busy: AtomicUsize,
    applied: AtomicUsize,
    /// Sum over applied write-sets of (seqno - horizon) when their apply
    /// started: the spread of concurrently applied seqnos.
    window_sum: std::sync::atomic::AtomicU64,
    apply_delay: Duration,
    repl: Weak<Replicator>,
    on_queue: std::sync::OnceLock<Box<dyn Fn(usize) + Send + Sync>>,
    shutdown: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn queue_changed(&self, len: usize) {
        if let Some(f) = self.on_queue.get() {
            f(len);
        }
    }
}

pub struct Appliers {
    shared: Arc<Shared>,
}

impl Appliers {
    pub fn start(
        threads: usize,
        store: Arc<Store>,
        repl: Weak<Replicator>,
        apply_delay: Duration,
        schema: Arc<dyn SchemaChange>,
    ) -> Appliers {
        let horizon = store.horizon();
        let shared = Arc::new(Shared {
            store,
            schema,
            progress: Mutex::new(Progress {
                horizon,
                finished_above: BTreeSet::new(),
            }),
            advanced: Condvar::new(),
            queue: Mutex::new(Default::default()),
            queued: Condvar::new(),
            pending: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            max_busy: AtomicUsize::new(0),
            applied: AtomicUsize::new(0),
            window_sum: std::sync::atomic::AtomicU64::new(0),
            apply_delay,
            repl,
            on_queue: std::sync::OnceLock::new(),
            shutdown: std::sync::atomic::AtomicBool::new(false),
        });
        for i in 0..threads.max(1) {
            let s = shared.clone();
            std::thread::Builder::new()
                .name(format!("applier-{i}"))
                .spawn(move || worker(s))
                .expect("spawning an applier thread");
        }
        Appliers { shared }
    }

    pub fn submit(&self, job: Job) {
        let len = self.shared.pending.fetch_add(1, Ordering::Relaxed) + 1;
        self.shared.queue_changed(len);
        self.shared.queue.lock().push_back(job);
        self.shared.queued.notify_one();
    }

    /// Applies a certified write-set on the calling thread (the delivery
    /// thread) when no job is queued or running and its dependencies are
    /// applied: on an idle node this saves waking an applier thread, and the
    /// origin's COMMIT then wakes once, with its write-set already visible.
    /// Under load (anything pending, or, the caller's check, more events
    /// waiting to be certified) jobs go through the queue, so they apply in
    /// parallel and certification of the next event is not delayed.
    /// Returns the write-set when it must be queued instead.
    pub fn apply_if_idle(&self, seqno: u64, depends: u64, ws: WriteSet) -> Result<(), WriteSet> {
        let s = &self.shared;
        // Only the delivery thread adds jobs, so nothing can be queued
        // between this check and the apply below.
        if s.pending.load(Ordering::Acquire) != 0 || !s.apply_delay.is_zero() {
            return Err(ws);
        }
        let h = s.progress.lock().horizon;
        if h < depends {
            return Err(ws);
        }
        apply_counted(s, &ws, seqno, h);
        finish(s, seqno);
        Ok(())
    }

    /// Marks a seqno finished without applying anything (failed
    /// certification, skipped events).
    pub fn finish(&self, seqno: u64) {
        finish(&self.shared, seqno);
    }

    /// Restarts the horizon after a state transfer or recovery.
    pub fn reset(&self, horizon: u64) {
        let mut p = self.shared.progress.lock();
        p.horizon = horizon;
        p.finished_above.retain(|s| *s > horizon);
        self.shared.store.reset_horizon(horizon);
        self.shared.advanced.notify_all();
    }

    /// Lets the workers exit once the queue is empty.
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.queued.notify_all();
    }

    /// Blocks until the horizon reaches `seqno`.
    pub fn wait_horizon(&self, seqno: u64) {
        wait_for(&self.shared, seqno);
    }

    /// Calls `f` with the receive-queue length whenever it changes (flow
    /// control). Set once, before events flow.
    pub fn on_queue_change(&self, f: Box<dyn Fn(usize) + Send + Sync>) {
        let _ = self.shared.on_queue.set(f);
    }

    /// Write-sets delivered and not yet applied.
    pub fn queue_len(&self) -> usize {
        self.shared.pending.load(Ordering::Relaxed)
    }

    /// Most write-sets ever being applied at the same moment.
    pub fn max_concurrency(&self) -> usize {
        self.shared.max_busy.load(Ordering::Relaxed)
    }

    pub fn applied_count(&self) -> usize {
        self.shared.applied.load(Ordering::Relaxed)
    }

    /// Galera's wsrep_apply_window: the average distance between the
    /// highest and lowest seqno being applied when a write-set starts.
    pub fn apply_window(&self) -> f64 {
        let n = self.shared.applied.load(Ordering::Relaxed);
        if n == 0 {
            return 0.0;
        }
        self.shared.window_sum.load(Ordering::Relaxed) as f64 / n as f64
    }
}

fn finish(s: &Shared, seqno: u64) {
    let mut p = s.progress.lock();
    if seqno <= p.horizon {
        return;
    }
    p.finished_above.insert(seqno);
    let mut h = p.horizon;
    while p.finished_above.remove(&(h + 1)) {
        h += 1;
    }
    if h != p.horizon {
        p.horizon = h;
        s.store.advance_horizon(h);
        s.advanced.notify_all();
    }
}

fn wait_for(s: &Shared, seqno: u64) {
    let mut p = s.progress.lock();
    while p.horizon < seqno {
        s.advanced.wait(&mut p);
    }
}

fn worker(s: Arc<Shared>) {
    // An applier that panicked would stall the horizon forever; this node
    // must stop instead (DESIGN.md: apply failures stop the node).
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&s)));
    if r.is_err() {
        error!("an applier panicked; this node stops");
        std::process::exit(70);
    }
}

fn work(s: &Arc<Shared>) {
    let s = s.clone();
    loop {
        let job = {
            let mut q = s.queue.lock();
            loop {
                if let Some(j) = q.pop_front() {
                    break j;
                }
                // Only an explicit shutdown ends a worker. (The replicator's
                // strong count says nothing here: it is still zero while the
                // replicator is being built, when workers already run.)
                if s.shutdown.load(Ordering::Acquire) {
                    return;
                }
                s.queued.wait_for(&mut q, Duration::from_millis(500));
            }
        };
        match job {
            Job::WriteSet {
                seqno,
                depends,
                origin,
                ws,
            } => {
                wait_for(&s, depends);
                let h = s.progress.lock().horizon;
                if !s.apply_delay.is_zero() {
                    std::thread::sleep(s.apply_delay);
                }
                apply_counted(&s, &ws, seqno, h);
                finish(&s, seqno);
                let len = s.pending.fetch_sub(1, Ordering::Relaxed) - 1;
                s.queue_changed(len);
                if let Some(r) = s.repl.upgrade() {
                    r.job_done(origin, ws.trx_id, Outcome::Committed(seqno));
                }
            }
            Job::Toi {
                seqno,
                origin,
                trx_id,
                db,
                sql,
                time_us,
            } => {
                wait_for(&s, seqno.saturating_sub(1));
                // Version-1 events carried no clock (0): they keep the
                // applier's, as before.
                let now = match time_us {
                    0 => trireme_storage::value::DateTime::now(),
                    us => trireme_storage::value::DateTime::from_unix_micros(us),
                };
                let result = s.schema.apply(&s.store, &sql, db.as_deref(), seqno, now);
                if let Err(e) = &result {
                    tracing::info!(seqno, error = %e, "replicated DDL failed (on every node alike)");
                }
                // On disk, the catalog lands with this seqno as the horizon,
                // so a restart never runs the statement twice.
                if let Err(e) = s.store.persist_catalog(seqno) {
                    fatal(
                        seqno,
                        &format!("the storage engine refused the catalog ({e})"),
                    );
                }
                finish(&s, seqno);
                let len = s.pending.fetch_sub(1, Ordering::Relaxed) - 1;
                s.queue_changed(len);
                if let Some(r) = s.repl.upgrade() {
                    r.job_done(origin, trx_id, Outcome::Toi(result));
                }
            }
        }
    }
}

/// Applies `ws` at `seqno` with the bookkeeping behind the apply status
/// variables; `horizon` is the horizon when the apply started.
fn apply_counted(s: &Shared, ws: &WriteSet, seqno: u64, horizon: u64) {
    s.window_sum
        .fetch_add(seqno.saturating_sub(horizon), Ordering::Relaxed);
    let now = s.busy.fetch_add(1, Ordering::AcqRel) + 1;
    s.max_busy.fetch_max(now, Ordering::Relaxed);
    apply_write_set(&s.store, ws, seqno);
    s.busy.fetch_sub(1, Ordering::AcqRel);
    s.applied.fetch_add(1, Ordering::Relaxed);
}

/// Installs a certified write-set's row versions at `seqno`.
///
/// A write-set that passed certification must apply: a missing table or an
/// undecodable row here means this node diverged from the others, and the
/// only safe answer is to stop the node (DESIGN.md: an apply failure never
/// reaches a client; it stops the node).
pub fn apply_write_set(store: &Store, ws: &WriteSet, seqno: u64) {
    let cat = store.catalog();
    // One batch per write-set: on disk its versions land atomically.
    let mut batch = ApplyBatch::new();
    for op in &ws.ops {
        let Some((db, name)) = op.table.split_once('.') else {
            fatal(seqno, &format!("bad table name {:?}", op.table));
        };
        let Some(table) = cat.table(db, name) else {
            fatal(seqno, &format!("table {} missing", op.table));
        };
        let row = match op.kind {
            RowOpKind::Delete => None,
            RowOpKind::Insert | RowOpKind::Update => match codec::decode_row(&op.row) {
                Ok(r) if r.len() == table.def.columns.len() => Some(r.into()),
                Ok(r) => fatal(
                    seqno,
                    &format!(
                        "row of {} has {} columns, table has {}",
                        op.table,
                        r.len(),
                        table.def.columns.len()
                    ),
                ),
                Err(e) => fatal(seqno, &e.to_string()),
            },
        };
        match (op.kind, row) {
            (RowOpKind::Insert, Some(r)) => table.install_new_into(&mut batch, &op.pk, seqno, r),
            (_, row) => table.install_into(&mut batch, &op.pk, seqno, row),
        }
    }
    // The stored horizon is the one already reached: every seqno up to it
    // has landed, whatever order appliers commit in.
    if let Err(e) = batch.commit(Some(store.horizon())) {
        fatal(
            seqno,
            &format!("the storage engine refused the write ({e})"),
        );
    }
}

fn fatal(seqno: u64, what: &str) -> ! {
    crate::state::diverged(
        seqno,
        &format!("cannot apply a certified write-set ({what})"),
    )
}
