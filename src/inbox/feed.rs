//! One open stream's events: first the messages it missed (stored after
//! its Last-Event-ID, oldest first, read from the database), then live
//! events from the hub. SSE and WebSocket both read this.
//!
//! The stream is subscribed before the replay is read, so nothing stored
//! in between is lost; a live message the replay already sent is skipped.
//! It ends when the client falls behind (it reconnects and catches up),
//! when its token expires, when its credential stops holding (a revoked
//! key, a deleted recipient: checked every
//! [`crate::domain::RECHECK_EVERY`]), or when the process stops.
//!
//! Replay goes by id, and an id is made just before its message is stored:
//! two workers storing for one recipient in the same instant may commit
//! out of id order, so a client that reconnects in exactly that instant can
//! miss the earlier one on the stream (it is in the REST list).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::hub::Subscription;
use super::{Event, EventKind, Inbox};
use crate::util::now_ms;

/// Messages read from the database at a time while replaying.
const REPLAY_PAGE: i64 = 200;

/// Why a feed ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The client fell more than `inbox.buffer` events behind.
    Lagged,
    TokenExpired,
    /// The key or token that opened it was revoked (or its recipient
    /// deleted).
    Revoked,
    Shutdown,
    /// Reading the replay failed.
    Error,
}

/// Says whether the credential that opened a stream still holds.
pub type Guard = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

pub enum Item {
    Event(Arc<Event>),
    End(End),
}

struct State {
    inbox: Arc<Inbox>,
    recipient: String,
    sub: Subscription,
    /// The replay's position while it lasts.
    replay_after: Option<String>,
    replayed: HashSet<String>,
    pending: VecDeque<Arc<Event>>,
    /// Unix ms when the token that opened the stream expires.
    expires_at: Option<i64>,
    guard: Guard,
    recheck: tokio::time::Interval,
    done: bool,
}

/// The events for one stream of `recipient`. The last item is always an
/// [`Item::End`] saying why it stopped.
pub fn feed(
    inbox: Arc<Inbox>,
    recipient: String,
    sub: Subscription,
    last_event_id: Option<String>,
    expires_at: Option<i64>,
    guard: Guard,
) -> BoxStream<'static, Item> {
    let every = crate::domain::RECHECK_EVERY;
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = State {
        inbox,
        recipient,
        sub,
        replay_after: last_event_id,
        replayed: HashSet::new(),
        pending: VecDeque::new(),
        expires_at,
        guard,
        recheck,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let item = st.next().await;
        if matches!(item, Item::End(_)) {
            st.done = true;
        }
        Some((item, st))
    })
    .boxed()
}

impl State {
    async fn next(&mut self) -> Item {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Item::Event(e);
            }
            if let Some(after) = self.replay_after.take() {
                match self
                    .inbox
                    .store()
                    .inbox_after(&self.recipient, &after, REPLAY_PAGE)
                    .await
                {
                    Ok(page) => {
                        if let Some(last) = page.last() {
                            if page.len() as i64 == REPLAY_PAGE {
                                self.replay_after = Some(last.id.clone());
                            }
                        }
                        for m in page {
                            self.replayed.insert(m.id.clone());
                            self.pending.push_back(Arc::new(Event::message(&m)));
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "replaying missed inbox messages failed; closing the stream");
                        return Item::End(End::Error);
                    }
                }
            }
            let expires_at = self.expires_at;
            let expiry = async {
                match expires_at {
                    Some(t) => {
                        tokio::time::sleep(Duration::from_millis((t - now_ms()).max(0) as u64))
                            .await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.sub.rx.recv() => match r {
                    Ok(e) => {
                        let seen = e.kind == EventKind::Message
                            && e.id.as_ref().is_some_and(|id| self.replayed.contains(id));
                        if !seen {
                            return Item::Event(e);
                        }
                    }
                    Err(RecvError::Lagged(_)) => return Item::End(End::Lagged),
                    Err(RecvError::Closed) => return Item::End(End::Shutdown),
                },
                _ = expiry => return Item::End(End::TokenExpired),
                _ = self.recheck.tick() => {
                    if !(self.guard)().await {
                        return Item::End(End::Revoked);
                    }
                }
                _ = self.inbox.shutdown().cancelled() => return Item::End(End::Shutdown),
            }
        }
    }
}
