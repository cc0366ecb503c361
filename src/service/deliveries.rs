//! What an operator does to deliveries, from the API, the console or the
//! CLI: read the log through one filter, retry, cancel, replay the failed
//! ones. Each is the store's change plus what follows it in this process
//! (waking the workers, counting in the metrics).

use serde::Deserialize;
use utoipa::IntoParams;

use super::{AppState, Error, Result};
use crate::domain::{Channel, FieldError, Status};
use crate::store::{DeliveryFilter, Transition};
use crate::util::{now_ms, parse_rfc3339};

/// Filters of the delivery log. Unknown parameters are refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// One delivery status, e.g. `failed`.
    pub status: Option<String>,
    pub channel: Option<String>,
    /// A recipient id (or address).
    pub recipient: Option<String>,
    /// A template key.
    pub template: Option<String>,
    /// A notification id.
    pub notification: Option<String>,
    /// RFC 3339; created at or after.
    pub since: Option<String>,
    /// RFC 3339; created before.
    pub until: Option<String>,
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn time_param(name: &str, v: &Option<String>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let s = v.as_ref()?;
    let t = parse_rfc3339(s);
    if t.is_none() {
        errors.push(FieldError::new(
            name,
            "must be an RFC 3339 time such as 2026-11-23T09:00:00Z",
        ));
    }
    t
}

impl ListQuery {
    pub fn filter(&self) -> Result<(DeliveryFilter, i64), Error> {
        let mut errors = Vec::new();
        if let Some(s) = &self.status {
            if let Err(m) = Status::parse(s) {
                errors.push(FieldError::new("status", m));
            }
        }
        let since = time_param("since", &self.since, &mut errors);
        let until = time_param("until", &self.until, &mut errors);
        let limit = match &self.limit {
            None => 50,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new("limit", "must be a number from 1 to 500"));
                    50
                }
            },
        };
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let f = DeliveryFilter {
            status: self.status.clone(),
            channel: self.channel.clone(),
            recipient: self.recipient.clone(),
            template: self.template.clone(),
            notification: self.notification.clone(),
            since,
            until,
        };
        Ok((f, limit))
    }
}

/// What an operator does to deliveries, from the API or the console: the
/// store's change plus what follows it in this process (waking the
/// workers, counting in the metrics).
impl AppState {
    /// Puts a failed delivery back in the queue, with `note` (who did it)
    /// in its attempt log.
    pub async fn retry_delivery(&self, id: &str, note: &str) -> Result<Transition> {
        let t = self.store.retry_delivery(id, note, now_ms()).await?;
        if matches!(t, Transition::Done(_)) {
            self.store.handoff().queued();
        }
        Ok(t)
    }

    /// Cancels a queued, scheduled or retrying delivery.
    pub async fn cancel_delivery(&self, id: &str) -> Result<Transition> {
        let t = self.store.cancel_delivery(id, now_ms()).await?;
        if let Transition::Done(d) = &t {
            if let Ok(c) = Channel::parse(&d.channel) {
                self.metrics.cancelled(c, d.template_key.as_deref(), 1);
            }
        }
        Ok(t)
    }

    /// Re-queues every failed delivery `filter` matches (the dead-letter
    /// replay), with `note` in each one's attempt log; returns how many.
    pub async fn replay_failed(&self, filter: &DeliveryFilter, note: &str) -> Result<u64> {
        let n = self.store.retry_failed(filter, note, now_ms()).await?;
        if n > 0 {
            self.store.handoff().queued();
        }
        Ok(n)
    }

    /// Cancels every delivery of a notification that has not started
    /// sending; returns how many.
    pub async fn cancel_notification(&self, id: &str) -> Result<u64> {
        let Some(n) = self.store.get_notification(id).await? else {
            return Err(Error::NotFound(format!("there is no notification {id}")));
        };
        let channels = self
            .store
            .cancel_notification_channels(id, now_ms())
            .await?;
        for c in channels.iter().filter_map(|c| Channel::parse(c).ok()) {
            self.metrics.cancelled(c, n.template_key.as_deref(), 1);
        }
        let runs = channels
            .iter()
            .filter(|c| *c == crate::domain::workflow::RUN_CHANNEL)
            .count();
        if runs > 0 {
            self.metrics
                .runs(crate::metrics::RunEvent::Cancelled, runs as u64);
        }
        Ok(channels.len() as u64)
    }
}
