//! The threads templates are compiled and rendered on: a few plain threads
//! with a large stack, fed through a channel, so that a heavy template never
//! holds one of the threads answering requests (and `/healthz` keeps
//! answering), and so that nesting, already bounded at compile time, is far
//! from any stack limit. A panic in a job is caught and reported to its
//! caller; the thread carries on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Stack of each render thread. Nesting is bounded well below what this
/// holds; the memory is only reserved, not used, until it is needed.
const STACK_BYTES: usize = 64 << 20;

struct Pool {
    jobs: mpsc::Sender<Job>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("render-{i}"))
                .stack_size(STACK_BYTES)
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("starting a render thread");
        }
        Pool { jobs: tx }
    })
}

/// The job panicked.
#[derive(Debug)]
pub(crate) struct Panicked;

/// Runs `f` here, a panic in it logged and returned as [`Panicked`].
pub(crate) fn catching<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %what, "a template job panicked");
        Panicked
    })
}

/// Runs `f` on a render thread and waits for its result.
pub(crate) async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Panicked> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(catching(f));
    });
    #[cfg(test)]
    SUBMITTED_HERE.with(|n| n.set(n.get() + 1));
    if pool().jobs.send(job).is_err() {
        return Err(Panicked);
    }
    rx.await.unwrap_or(Err(Panicked))
}

#[cfg(test)]
thread_local! {
    static SUBMITTED_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Jobs this thread has sent to the render threads.
#[cfg(test)]
pub(crate) fn submitted_here() -> usize {
    SUBMITTED_HERE.with(|n| n.get())
}
