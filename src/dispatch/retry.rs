//! What happens to a delivery after an attempt: plain functions, so the
//! rules are tested without a server.

use std::time::Duration;

use crate::domain::{Outcome, Reason, Status};

/// The delivery's next state after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Next {
    pub status: Status,
    pub reason: Option<Reason>,
    /// When a retrying delivery may be claimed again (ms since the epoch).
    pub due_at: Option<i64>,
}

/// `attempt` is the number of the attempt just made within the current
/// cycle (1 for the first; a manual retry starts a new cycle). `jitter` is
/// a factor in [-1, 1] scaling ±20 % of the wait.
pub fn next_after(
    outcome: Outcome,
    attempt: usize,
    schedule: &[Duration],
    retry_after: Option<Duration>,
    max_retry_after: Duration,
    now_ms: i64,
    jitter: f64,
) -> Next {
    match outcome {
        Outcome::Ok => Next {
            status: Status::Sent,
            reason: None,
            due_at: None,
        },
        Outcome::Permanent => Next {
            status: Status::Failed,
            reason: Some(Reason::PermanentError),
            due_at: None,
        },
        Outcome::Transient => match schedule.get(attempt.saturating_sub(1)) {
            None => Next {
                status: Status::Failed,
                reason: Some(Reason::RetriesExhausted),
                due_at: None,
            },
            Some(base) => {
                let wait = retry_wait(*base, retry_after, max_retry_after, jitter);
                Next {
                    status: Status::Retrying,
                    reason: None,
                    due_at: Some(now_ms + wait.as_millis() as i64),
                }
            }
        },
    }
}

/// The scheduled wait with ±20 % jitter, but never less than what the
/// provider asked for in Retry-After (itself capped at `max_retry_after`).
pub fn retry_wait(
    base: Duration,
    retry_after: Option<Duration>,
    max_retry_after: Duration,
    jitter: f64,
) -> Duration {
    let jitter = jitter.clamp(-1.0, 1.0);
    let scheduled = base.mul_f64(1.0 + 0.2 * jitter);
    match retry_after {
        Some(asked) => scheduled.max(asked.min(max_retry_after)),
        None => scheduled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(30)];
    const MAX: Duration = Duration::from_secs(3600);

    #[test]
    fn success_and_permanent_failure_are_final() {
        assert_eq!(
            next_after(Outcome::Ok, 1, &S, None, MAX, 0, 0.0).status,
            Status::Sent
        );
        let n = next_after(Outcome::Permanent, 1, &S, None, MAX, 0, 0.0);
        assert_eq!(
            (n.status, n.reason),
            (Status::Failed, Some(Reason::PermanentError))
        );
    }

    #[test]
    fn transient_failures_follow_the_schedule_then_fail() {
        let n = next_after(Outcome::Transient, 1, &S, None, MAX, 1_000, 0.0);
        assert_eq!((n.status, n.due_at), (Status::Retrying, Some(6_000)));
        let n = next_after(Outcome::Transient, 2, &S, None, MAX, 1_000, 0.0);
        assert_eq!(n.due_at, Some(31_000));
        let n = next_after(Outcome::Transient, 3, &S, None, MAX, 1_000, 0.0);
        assert_eq!(
            (n.status, n.reason),
            (Status::Failed, Some(Reason::RetriesExhausted))
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(retry_wait(S[0], None, MAX, 1.0), Duration::from_secs(6));
        assert_eq!(retry_wait(S[0], None, MAX, -1.0), Duration::from_secs(4));
        assert_eq!(retry_wait(S[0], None, MAX, 7.0), Duration::from_secs(6));
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        assert_eq!(
            retry_wait(S[0], Some(Duration::from_secs(60)), MAX, 0.0),
            Duration::from_secs(60)
        );
        assert_eq!(
            retry_wait(S[0], Some(Duration::from_secs(1)), MAX, 0.0),
            Duration::from_secs(5)
        );
        assert_eq!(
            retry_wait(S[0], Some(Duration::from_secs(86_400)), MAX, 0.0),
            MAX
        );
    }
}
