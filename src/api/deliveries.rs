//! The delivery log: list with filters (newest first, cursor pagination),
//! one delivery with its content and attempts, retry and cancel.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, FieldError};
use super::AppState;
use crate::store::{status, DeliveryFilter, DeliveryRow, Transition};
use crate::util::{now_ms, opt_rfc3339, parse_rfc3339, rfc3339};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/deliveries", get(list))
        .route("/v1/deliveries/retry", post(retry_dead_letters))
        .route("/v1/deliveries/{id}", get(show))
        .route("/v1/deliveries/{id}/retry", post(retry))
        .route("/v1/deliveries/{id}/cancel", post(cancel))
}

const PRIORITY_NAMES: [&str; 3] = ["high", "normal", "low"];

/// A delivery as the API shows it.
pub fn delivery_json(d: &DeliveryRow, with_content: bool) -> Value {
    let waiting = matches!(d.status.as_str(), "queued" | "scheduled" | "retrying");
    let mut v = json!({
        "id": d.id,
        "notification_id": d.notification_id,
        "template": d.template_key,
        "recipient": d.recipient,
        "channel": d.channel,
        "category": d.category,
        "address": d.address,
        "status": d.status,
        "reason": d.reason,
        "priority": PRIORITY_NAMES.get(d.priority as usize).copied().unwrap_or("normal"),
        "attempts": d.attempts,
        "next_attempt_at": if waiting { opt_rfc3339(d.due_at) } else { None },
        "last_error": d.last_error,
        "provider": d.provider,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
    });
    if with_content {
        v["content"] = serde_json::from_str(&d.content).unwrap_or(Value::Null);
        v["recipient_data"] = serde_json::from_str(&d.recipient_data).unwrap_or(Value::Null);
    }
    v
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub recipient: Option<String>,
    pub template: Option<String>,
    pub notification: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<String>,
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
    pub fn filter(&self) -> Result<(DeliveryFilter, i64), ApiError> {
        let mut errors = Vec::new();
        if let Some(s) = &self.status {
            if !status::ALL.contains(&s.as_str()) {
                errors.push(FieldError::new(
                    "status",
                    format!("must be one of {}", status::ALL.join(", ")),
                ));
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
            return Err(ApiError::Invalid(errors));
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

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require("read")?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let (filter, limit) = q.filter()?;
    let rows = state
        .store
        .list_deliveries(&filter, q.cursor.as_deref(), limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|d| delivery_json(d, false))
        .collect();
    let next = if more {
        rows.get(limit as usize - 1).map(|d| d.id.clone())
    } else {
        None
    };
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require("read")?;
    let d = state
        .store
        .get_delivery(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no delivery {id}")))?;
    let attempts = state.store.attempts_of(&id).await?;
    let mut v = delivery_json(&d, true);
    v["attempt_count"] = json!(d.attempts);
    v["attempts"] = attempts
        .iter()
        .map(|a| {
            json!({
                "number": a.number,
                "provider": a.provider,
                "started_at": rfc3339(a.started_at),
                "duration_ms": a.duration_ms,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "response": a.response,
                "error": a.error,
            })
        })
        .collect();
    Ok(Json(v))
}

fn transition(id: &str, t: Transition, action: &str, allowed: &str) -> ApiResult<Json<Value>> {
    match t {
        Transition::Done(d) => Ok(Json(delivery_json(&d, false))),
        Transition::NotFound => Err(ApiError::NotFound(format!("there is no delivery {id}"))),
        Transition::WrongStatus(s) => Err(ApiError::Conflict(format!(
            "delivery {id} is {s}; only {allowed} deliveries can be {action}"
        ))),
    }
}

async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require("admin")?;
    let t = state.store.retry_delivery(&id, now_ms()).await?;
    if matches!(t, Transition::Done(_)) {
        state.wake.notify_one();
    }
    transition(&id, t, "retried", "failed")
}

/// Replays the dead-letter set: every failed delivery matching the list's
/// filters goes back to the queue.
async fn retry_dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require("admin")?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    if q.status.as_deref().is_some_and(|s| s != "failed") {
        return Err(ApiError::invalid(
            "status",
            "only failed deliveries can be retried; leave it out or use failed",
        ));
    }
    let (filter, _) = q.filter()?;
    let note = format!(
        "re-queued by POST /v1/deliveries/retry (API key {})",
        caller.key_id
    );
    let n = state.store.retry_failed(&filter, &note, now_ms()).await?;
    if n > 0 {
        state.wake.notify_one();
    }
    Ok(Json(json!({"requeued": n})))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require("admin")?;
    let t = state.store.cancel_delivery(&id, now_ms()).await?;
    if let Transition::Done(d) = &t {
        state.metrics.cancelled(&d.channel, 1);
    }
    transition(&id, t, "cancelled", "queued, scheduled or retrying")
}
