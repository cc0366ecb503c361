//! The HTTP listener: hyper's HTTP/1.1 server in an accept loop of our own,
//! so that
//! - a connection must finish its request line and headers within
//!   `server.header_read_timeout` or it is closed (slow or idle clients
//!   can't hold connections open),
//! - at most `server.max_connections` connections are open at once (more
//!   wait in the listen backlog until one closes),
//! - a stop closes idle keep-alive connections cleanly and lets in-flight
//!   requests finish before [`serve`] returns.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ServerConfig;

/// Serves `app` on `listener` until `stop` is cancelled, then stops
/// accepting, closes idle connections, and returns once every in-flight
/// request has been answered.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: &ServerConfig,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let connections = TaskTracker::new();
    let header_read_timeout = cfg.header_read_timeout;
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            _ = stop.cancelled() => break,
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, typically: wait for some
                        // to close rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed; trying again in 1 s");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = stop.cancelled() => break,
                        }
                    }
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = stop.cancelled() => None,
            };
            let result = match done {
                Some(r) => r,
                None => {
                    // Idle: closed now. Busy: the answer is finished first,
                    // sent with `Connection: close`.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Errors about one connection (the client went away before it was
/// accepted), as opposed to the listener's.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
