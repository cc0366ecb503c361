//! Recurring schedules: a workflow triggered for the same recipients and
//! data whenever an expression (`weekly mon 09:00`, `daily 18:30`, a cron
//! expression) matches, in one timezone or in each recipient's. Saving one
//! works out when it fires next; the ticker ([`AppState::fire_due_schedules`])
//! triggers what is due and moves it on. A firing is keyed by (schedule,
//! timezone, due time), so processes that see it due together make one
//! notification; ticks missed while no process ran fire once, at start-up.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::send::{check_recipient, RecipientInput, SendRequest};
use super::templates::valid_key;
use super::{AppState, Error, Result};
use crate::domain::check::check_timezone;
use crate::domain::workflow::{parse_schedule, Window};
use crate::domain::FieldError;
use crate::metrics::Firing;
use crate::store::schedules::{Fired, ScheduleRow, TargetRow};
use crate::store::Kind;
use crate::util::now_ms;

/// Most recipients one schedule names.
pub const MAX_SCHEDULE_RECIPIENTS: usize = 1_000;
/// `timezone` meaning each recipient's own.
pub const RECIPIENT_TZ: &str = "recipient";
/// Whose idempotency keys firings use.
const FIRINGS: &str = "schedule";

/// A recurring schedule as `PUT` gives it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSchedule {
    /// The workflow to trigger.
    pub workflow: String,
    /// 1 to 1,000 recipients, as in a send's `to`.
    pub to: Vec<RecipientInput>,
    /// The trigger's data (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// `daily HH:MM`, `weekly <day> HH:MM` (mon … sun) or a five-field
    /// cron expression.
    pub schedule: String,
    /// An IANA timezone the times are in (default `UTC`), or `recipient`:
    /// each recipient's own (from its profile or its `to` entry, as the
    /// schedule is saved; `UTC` when it has none).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// When a window expression next matches after `after` (ms), in `tz`.
pub fn next_fire(window: &Window, after: i64, tz: &str) -> i64 {
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    let at = DateTime::from_timestamp_millis(after).unwrap_or_default();
    crate::flow::digest::closes_at(window, at, tz).timestamp_millis()
}

impl AppState {
    /// Creates or replaces schedule `id`; returns it with its targets and
    /// whether it is new. A paused schedule stays paused.
    pub async fn save_schedule(
        &self,
        id: &str,
        req: PutSchedule,
    ) -> Result<(ScheduleRow, Vec<TargetRow>, bool)> {
        let mut errors = Vec::new();
        if !valid_key(id) {
            errors.push(FieldError::new(
                "id",
                "1 to 100 letters, digits, '-', '_' or '.'",
            ));
        }
        match self
            .store
            .get_version(Kind::Workflow, &req.workflow, None)
            .await?
        {
            None => errors.push(FieldError::new(
                "workflow",
                format!("there is no workflow `{}`", req.workflow),
            )),
            Some(w) if w.archived_at.is_some() => errors.push(FieldError::new(
                "workflow",
                format!("workflow `{}` is archived", req.workflow),
            )),
            Some(_) => {}
        }
        if req.to.is_empty() || req.to.len() > MAX_SCHEDULE_RECIPIENTS {
            errors.push(FieldError::new(
                "to",
                format!("give 1 to {MAX_SCHEDULE_RECIPIENTS} recipients"),
            ));
        }
        let to_topic = req.to.iter().any(|r| r.topic.is_some());
        if to_topic && req.to.len() > 1 {
            errors.push(FieldError::new(
                "to",
                "a schedule for a topic has that topic as its only `to` entry",
            ));
        }
        if to_topic && req.timezone.as_deref() == Some(RECIPIENT_TZ) {
            errors.push(FieldError::new(
                "timezone",
                "`recipient` needs each recipient named in `to`; a topic's firings use one timezone",
            ));
        }
        for (i, r) in req.to.iter().enumerate() {
            check_recipient(i, r, &mut errors);
            if !r.names_someone() && r.topic.is_none() {
                errors.push(FieldError::new(
                    format!("to[{i}]"),
                    "give an id or an address",
                ));
            }
        }
        let data = req
            .data
            .unwrap_or_else(|| Value::Object(Default::default()));
        if !data.is_object() {
            errors.push(FieldError::new("data", "must be a JSON object"));
        }
        let window = parse_schedule(&req.schedule)
            .map_err(|m| errors.push(FieldError::new("schedule", m)))
            .ok();
        let timezone = req.timezone.unwrap_or_else(|| "UTC".into());
        if timezone != RECIPIENT_TZ {
            if let Err(m) = check_timezone(&timezone) {
                errors.push(FieldError::new("timezone", format!("{m}, or `recipient`")));
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let window = window.expect("checked above");
        // The recipients by the timezone their times are in.
        let mut groups: BTreeMap<String, Vec<RecipientInput>> = BTreeMap::new();
        if timezone == RECIPIENT_TZ {
            let sender = self.sender();
            let resolved = sender.with_profiles(&req.to).await?;
            for (r, given) in resolved.iter().zip(&req.to) {
                let tz = r.input.timezone.clone().unwrap_or_else(|| "UTC".into());
                groups.entry(tz).or_default().push(given.clone());
            }
        } else {
            groups.insert(timezone.clone(), req.to.clone());
        }
        let now = now_ms();
        let existing = self.store.get_schedule(id).await?;
        let row = ScheduleRow {
            id: id.to_string(),
            workflow_key: req.workflow,
            recipients: serde_json::to_string(&req.to).map_err(anyhow::Error::from)?,
            data: data.to_string(),
            schedule: req.schedule.trim().to_string(),
            timezone,
            paused_at: existing.as_ref().and_then(|(s, _)| s.paused_at),
            created_at: existing.as_ref().map_or(now, |(s, _)| s.created_at),
            updated_at: now,
        };
        let targets: Vec<TargetRow> = groups
            .into_iter()
            .map(|(tz, to)| TargetRow {
                schedule_id: id.to_string(),
                next_fire_at: next_fire(&window, now, &tz),
                timezone: tz,
                recipients: serde_json::to_string(&to).unwrap_or_else(|_| "[]".into()),
                last_fired_at: None,
                last_notification: None,
                last_error: None,
            })
            .collect();
        let created = self.store.put_schedule(&row, &targets).await?;
        let (row, targets) = self.schedule(id).await?;
        Ok((row, targets, created))
    }

    /// A schedule with its targets, or 404.
    pub async fn schedule(&self, id: &str) -> Result<(ScheduleRow, Vec<TargetRow>)> {
        self.store
            .get_schedule(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no schedule `{id}`")))
    }

    /// Pauses a schedule, or resumes it: it fires next at its next time
    /// from now (what it missed while paused does not fire).
    pub async fn pause_schedule(&self, id: &str, pause: bool) -> Result<()> {
        let (s, targets) = self.schedule(id).await?;
        let now = now_ms();
        let next: Vec<(String, i64)> = match (pause, parse_schedule(&s.schedule)) {
            (false, Ok(w)) => targets
                .iter()
                .map(|t| (t.timezone.clone(), next_fire(&w, now, &t.timezone)))
                .collect(),
            _ => Vec::new(),
        };
        self.store
            .pause_schedule(id, pause.then_some(now), &next, now)
            .await?;
        Ok(())
    }

    /// Triggers every schedule due now and moves each on to its next time
    /// after now. Returns how many fired here.
    pub async fn fire_due_schedules(&self) -> anyhow::Result<usize> {
        let now = now_ms();
        let mut fired = 0;
        for t in self.store.due_targets(now, 100).await? {
            let Some((s, _)) = self.store.get_schedule(&t.schedule_id).await? else {
                continue;
            };
            let to: Vec<RecipientInput> = serde_json::from_str(&t.recipients).unwrap_or_default();
            let to_len = to.len();
            let req = SendRequest {
                workflow: Some(s.workflow_key.clone()),
                to,
                data: serde_json::from_str(&s.data).ok(),
                ..Default::default()
            };
            let key = format!("{}:{}:{}", s.id, t.timezone, t.next_fire_at);
            let sender = self.sender();
            let mut replayed = false;
            let (notification, error) =
                match sender.send(req, None, Some((FIRINGS, &key, "fire"))).await {
                    Ok(a) => {
                        replayed = a.replayed;
                        self.counted(&a, to_len);
                        let id = serde_json::from_str::<Value>(&a.body)
                            .ok()
                            .and_then(|v| v["id"].as_str().map(str::to_string));
                        (id, None)
                    }
                    Err(e) => (None, Some(e.refusal()?)),
                };
            if let Some(e) = &error {
                tracing::warn!(schedule = %s.id, error = %e, "a schedule could not trigger its workflow");
            }
            // Missed times are not made up: next is after now.
            let next = match parse_schedule(&s.schedule) {
                Ok(w) => next_fire(&w, now.max(t.next_fire_at), &t.timezone),
                Err(_) => i64::MAX,
            };
            let f = Fired {
                schedule_id: &s.id,
                timezone: &t.timezone,
                due: t.next_fire_at,
                next,
                notification,
                error,
            };
            let firing = if !self.store.fired(&f).await? || replayed {
                Firing::Duplicate
            } else if f.error.is_some() {
                Firing::Failed
            } else {
                fired += 1;
                Firing::Fired
            };
            self.metrics.firing(firing);
        }
        Ok(fired)
    }
}
