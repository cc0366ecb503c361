//! Fakes shared by missive's integration tests and its benchmark, kept out
//! of the product: a recording HTTP receiver, an SMTP sink, a guard for a
//! child process, and the runner that repeats a test on every database
//! backend. Nothing here knows missive's own types, so the product can be
//! reshaped without touching the fakes.

mod backend;
mod child;
mod receiver;
mod smtp;

use std::future::Future;
use std::time::{Duration, Instant};

pub use backend::{backends, each_backend, Backend};
pub use child::ChildGuard;
pub use receiver::{Answer, Arrivals, Received, Receiver};
pub use smtp::{ReceivedMail, SmtpServer};

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0 to find a free port")
        .port()
}

/// Polls `f` until it says done or the deadline passes; returns the last
/// value either way (Err on timeout).
pub async fn poll_until<T, F, Fut>(deadline: Duration, mut f: F) -> Result<T, T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (bool, T)>,
{
    let end = Instant::now() + deadline;
    loop {
        let (done, v) = f().await;
        if done {
            return Ok(v);
        }
        if Instant::now() > end {
            return Err(v);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
