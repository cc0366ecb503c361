//! The per-backend runner: every test runs on SQLite, and on PostgreSQL too
//! when MISSIVE_TEST_DATABASE_URL is set. One runner instead of a loop in
//! each test, so a failure always says which backend it was on, and one
//! backend's failure neither hides the other's result nor leaves its app
//! running (the body's guards are dropped when its future unwinds).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// Where a test's database lives.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The server's URL; each test makes its own schema in it.
    Postgres(String),
}

impl Backend {
    /// `sqlite` or `postgres`, as failures name it.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Backends to run a test on: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("MISSIVE_TEST_DATABASE_URL") {
        if !url.is_empty() {
            v.push(Backend::Postgres(url));
        }
    }
    v
}

/// Runs `test` once per backend, each run to its end even if an earlier
/// one failed; then panics naming every backend that failed and why.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut failures = Vec::new();
    for b in backends() {
        let name = b.name();
        if let Err(panic) = AssertUnwindSafe(test(b)).catch_unwind().await {
            failures.push(format!("on {name}: {}", message(&*panic)));
        }
    }
    if !failures.is_empty() {
        panic!("failed {}", failures.join("\nfailed "));
    }
}

/// The text a panic was raised with.
fn message(panic: &(dyn Any + Send)) -> &str {
    match panic.downcast_ref::<String>() {
        Some(s) => s,
        None => panic
            .downcast_ref::<&str>()
            .copied()
            .unwrap_or("(no message)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failure_names_its_backend_and_the_others_still_run() {
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let outcome = AssertUnwindSafe(each_backend(|b| {
            runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move { panic!("boom at {}", b.name()) }
        }))
        .catch_unwind()
        .await;
        let panic = outcome.expect_err("a failing body fails the test");
        let text = message(&*panic);
        assert!(
            text.starts_with("failed on sqlite: boom at sqlite"),
            "{text}"
        );
        assert_eq!(runs.into_inner(), backends().len());
    }
}
