//! Workflow runs, moved on by the workers. A run is a row in the queue
//! (channel `workflow`) whose content is its [`Cursor`]; a worker that
//! claims it runs its steps in order as far as they can go now, then hands
//! the row back due when the run can go on: a delay's end, or a short look
//! later while a step waits for how a delivery turns out. Nothing is held
//! in memory between steps, so a process that dies mid-run loses nothing:
//! the lease ends and any process claims the run again.
//!
//! Exactly once: what a send step sends is accepted like any send, with an
//! idempotency key of its own (run, step, attempt), and the step's record
//! and the run's new place are written together only while this worker's
//! claim on the run holds. A worker that dies between the two is followed
//! by one whose send replays the first answer: same notification, same
//! deliveries, and the same decision, since a step already sent is not
//! decided again.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use crate::domain::workflow::{
    describe, holds, kind, one_failing, Action, Delay, Facts, SendMode, StepOutcome, Truth,
    Workflow,
};
use crate::domain::Channel;
use crate::flow::quiet_hours::QuietHours;
use crate::metrics::RunEvent;
use crate::service::send::SendRequest;
use crate::service::workflows::{recipient_facts, Cursor};
use crate::service::AppState;
use crate::store::runs::{ChildDelivery, Joined, RunMove, StepRecord};
use crate::store::{Accepted, Claimed, Kind, NotificationRow};
use crate::util::{now_ms, parse_rfc3339, rfc3339};

/// Whose idempotency keys a run's sends use.
const RUN_SENDS: &str = "workflow";
/// The first look, doubled each time, at a step waiting for a delivery.
const FIRST_LOOK: Duration = Duration::from_secs(1);
const LAST_LOOK: Duration = Duration::from_secs(60);

/// Moves a claimed run on as far as it can go now.
pub async fn advance(state: &AppState, row: &Claimed) {
    match step_on(state, row).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(run = %row.id, "the run was no longer held (cancelled, or its lease ended)")
        }
        Err(e) => tracing::warn!(
            run = %row.id, notification_id = %row.notification_id, error = %e,
            "a workflow run could not move on; it is tried again when its lease ends"
        ),
    }
}

/// What a step's deliveries say of it: sent (read, for in-app) once any
/// is sent, failed once all ended otherwise, unknown while any is under
/// way.
fn outcome_of(children: &[&ChildDelivery]) -> StepOutcome {
    // A receipt may have moved a sent delivery on (delivered, bounced, ...):
    // it was sent all the same.
    let sent: Vec<_> = children
        .iter()
        .filter(|d| crate::domain::Status::parse(&d.status).is_ok_and(|s| s.was_sent()))
        .collect();
    if !sent.is_empty() {
        let in_app: Vec<_> = sent
            .iter()
            .filter(|d| d.channel == Channel::InApp.as_str())
            .collect();
        return StepOutcome::Sent {
            in_app: !in_app.is_empty(),
            read: in_app.iter().any(|d| d.read),
        };
    }
    let ended = children
        .iter()
        .all(|d| matches!(d.status.as_str(), "failed" | "suppressed" | "cancelled"));
    if ended {
        StepOutcome::Failed
    } else {
        StepOutcome::Unknown
    }
}

struct Run<'a> {
    state: &'a AppState,
    row: &'a Claimed,
    n: NotificationRow,
    data: Value,
    cursor: Cursor,
    records: Vec<StepRecord>,
    now: i64,
    /// Each step's kind, for the metrics.
    kinds: Vec<&'static str>,
}

/// Puts a step's record in place of the one it had.
fn put(records: &mut Vec<StepRecord>, r: StepRecord) {
    records.retain(|x| x.step != r.step);
    records.push(r);
}

impl Run<'_> {
    fn step_record(
        &self,
        step: usize,
        id: &str,
        state: &str,
        detail: Option<String>,
    ) -> StepRecord {
        StepRecord {
            step: step as i64,
            step_id: id.to_string(),
            state: state.to_string(),
            detail,
            notification_id: None,
            attempt: 0,
            updated_at: self.now,
        }
    }

    fn record(
        &mut self,
        step: usize,
        id: &str,
        state: &str,
        detail: Option<String>,
        nid: Option<String>,
        attempt: i64,
    ) {
        let r = StepRecord {
            step: step as i64,
            step_id: id.to_string(),
            state: state.to_string(),
            detail,
            notification_id: nid,
            attempt,
            updated_at: self.now,
        };
        put(&mut self.records, r);
    }

    /// The run's new place, with the `records` this pass changed.
    fn move_to(
        &self,
        records: &[StepRecord],
        changed: &[usize],
        status: &'static str,
        due_at: Option<i64>,
        cursor: Cursor,
    ) -> RunMove {
        RunMove {
            run_id: self.row.id.clone(),
            token: self.row.claim_token.clone(),
            cursor: cursor.to_json(),
            status,
            due_at,
            error: None,
            records: records
                .iter()
                .filter(|r| changed.contains(&(r.step as usize)))
                .cloned()
                .collect(),
        }
    }

    /// Writes the run's new place and the records this pass changed.
    async fn moved(
        self,
        changed: &[usize],
        status: &'static str,
        due_at: Option<i64>,
        cursor: Cursor,
        error: Option<String>,
    ) -> anyhow::Result<bool> {
        let mut m = self.move_to(&self.records, changed, status, due_at, cursor);
        m.error = error;
        let moved = self.state.store.move_run(&m, self.now).await?;
        if moved {
            self.counted(&m, false);
        }
        Ok(moved)
    }

    /// Counts a move that was written: its steps, and the run's end.
    fn counted(&self, m: &RunMove, merged: bool) {
        let metrics = &self.state.metrics;
        for r in &m.records {
            let kind = self.kinds.get(r.step as usize).copied().unwrap_or("other");
            let outcome = if merged && kind == "digest" {
                "merged"
            } else {
                r.state.as_str()
            };
            metrics.step(kind, outcome);
        }
        match m.status {
            "sent" => metrics.runs(RunEvent::Completed, 1),
            "failed" => metrics.runs(RunEvent::Failed, 1),
            _ => {}
        }
    }

    /// Sends a step's message on `channels`; the notification's answer,
    /// or why it could not be sent (a recipient with no address for the
    /// channel, a template that no longer renders…).
    async fn send(
        &self,
        step: usize,
        attempt: usize,
        channels: &[Channel],
        template: &Option<String>,
        content: &Option<serde_json::Map<String, Value>>,
    ) -> anyhow::Result<Result<Accepted, String>> {
        let state = self.state;
        let mut sender = state.sender();
        sender.parent_run = Some(&self.row.id);
        let req = SendRequest {
            template: template.clone(),
            content: match content {
                Some(m) => Some(serde_json::from_value(Value::Object(m.clone()))?),
                None => None,
            },
            to: vec![self.cursor.to.clone()],
            data: Some(self.data.clone()),
            channels: Some(channels.iter().map(|c| c.to_string()).collect()),
            category: Some(self.n.category.clone()),
            priority: Some(self.n.priority.clone()),
            locale: self.n.locale.clone(),
            ..Default::default()
        };
        let key = format!("{}:{step}:{attempt}", self.row.id);
        match sender.send(req, None, Some((RUN_SENDS, &key, "run"))).await {
            Ok(answer) => {
                state.metrics.accepted(
                    answer.replayed,
                    answer.template.as_deref(),
                    &answer.suppressed,
                );
                Ok(Ok(serde_json::from_str(&answer.body)?))
            }
            // What the send refuses is the step's outcome; a database
            // that can't answer is not: the run is tried again.
            Err(e) => Ok(Err(e.refusal()?)),
        }
    }

    /// Whether step `step` sent something before (a pass that died
    /// before writing its record): then its condition held.
    async fn sent_before(&self, step: usize) -> anyhow::Result<bool> {
        let key = format!("{}:{step}:0", self.row.id);
        Ok(self
            .state
            .store
            .find_idempotency(RUN_SENDS, &key, self.now)
            .await?
            .is_some())
    }
}

async fn step_on(state: &AppState, row: &Claimed) -> anyhow::Result<bool> {
    let now = now_ms();
    let store = state.store.as_ref();
    let n = store
        .get_notification(&row.notification_id)
        .await?
        .context("the run's notification is gone")?;
    let (key_name, version) = n
        .workflow_key
        .clone()
        .zip(n.workflow_version)
        .context("the run's notification names no workflow")?;
    let w = store
        .get_version(Kind::Workflow, &key_name, Some(version))
        .await?
        .context("the run's workflow version is gone")?;
    let cursor: Cursor =
        serde_json::from_str(&row.content).context("the run's place is unreadable")?;
    let data: Value = serde_json::from_str(&n.data).unwrap_or_else(|_| json!({}));
    let records = store.run_steps(&row.id).await?;
    let mut run = Run {
        state,
        row,
        n,
        data,
        cursor,
        records,
        now,
        kinds: Vec::new(),
    };
    let wf = match serde_json::from_str::<Value>(&w.content)
        .ok()
        .and_then(|v| Workflow::parse(&v).ok())
    {
        Some(wf) => wf,
        None => {
            let c = run.cursor.clone();
            return run
                .moved(
                    &[],
                    "failed",
                    None,
                    c,
                    Some(format!(
                        "workflow `{key_name}` version {version} no longer reads"
                    )),
                )
                .await;
        }
    };
    run.kinds = wf.steps.iter().map(|s| kind(&s.action)).collect();
    let sender = state.sender();
    let resolved = sender
        .with_profiles(std::slice::from_ref(&run.cursor.to))
        .await?;
    let recipient = recipient_facts(&resolved[0].input);
    let quiet_hours = resolved[0]
        .quiet_hours
        .clone()
        .or_else(|| state.config.flow.quiet_hours.clone());
    let timezone = resolved[0].input.timezone.clone();

    let ids: Vec<String> = run
        .records
        .iter()
        .filter_map(|r| r.notification_id.clone())
        .collect();
    let children = store.run_children(&ids).await?;
    let mut outcomes: HashMap<String, StepOutcome> = HashMap::new();
    for r in &run.records {
        let o = match r.state.as_str() {
            "skipped" => StepOutcome::Skipped,
            "failed" => StepOutcome::Failed,
            "done" => match &r.notification_id {
                Some(nid) => outcome_of(
                    &children
                        .iter()
                        .filter(|d| &d.notification_id == nid)
                        .collect::<Vec<_>>(),
                ),
                None => StepOutcome::Sent {
                    in_app: false,
                    read: false,
                },
            },
            _ => StepOutcome::Unknown,
        };
        outcomes.insert(r.step_id.clone(), o);
    }

    // Past a closed digest, the steps render with its events.
    let digest = wf
        .steps
        .iter()
        .enumerate()
        .find_map(|(j, s)| match &s.action {
            Action::Digest(d) => Some((j, d.max_events)),
            _ => None,
        });
    if let Some((j, max)) = digest {
        let closed = run
            .records
            .iter()
            .any(|r| r.step == j as i64 && r.state == "done");
        if closed && j < run.cursor.step {
            let (events, count) = store.digest_events(&row.id, max as i64).await?;
            let events: Vec<Value> = events
                .iter()
                .map(|e| serde_json::from_str(e).unwrap_or(Value::Null))
                .collect();
            if let Some(o) = run.data.as_object_mut() {
                o.insert("events".into(), Value::Array(events));
                o.insert("count".into(), json!(count));
            }
        }
    }

    let mut changed: Vec<usize> = Vec::new();
    let mut i = run.cursor.step;
    loop {
        let Some(step) = wf.steps.get(i) else {
            let c = Cursor {
                step: i,
                to: run.cursor.to.clone(),
                ..Default::default()
            };
            return run.moved(&changed, "sent", None, c, None).await;
        };
        let prior = run.records.iter().find(|r| r.step == i as i64).cloned();
        let waiting = prior.as_ref().is_some_and(|r| r.state == "waiting");
        // A step already under way (waiting on a delivery or a delay) or
        // already sent is not decided again.
        let decided =
            waiting || (matches!(step.action, Action::Send { .. }) && run.sent_before(i).await?);
        if !decided {
            let facts = Facts {
                data: &run.data,
                recipient: &recipient,
                steps: &outcomes,
            };
            match holds(&step.when, &facts) {
                Truth::Yes => {}
                Truth::Depends => return wait(run, &changed, i).await,
                Truth::No => {
                    let because = one_failing(&step.when, &facts).map(describe);
                    run.record(i, &step.id, "skipped", because, None, 0);
                    changed.push(i);
                    outcomes.insert(step.id.clone(), StepOutcome::Skipped);
                    i += 1;
                    continue;
                }
            }
        }
        match &step.action {
            Action::Send {
                channels,
                mode,
                template,
                content,
            } => {
                if *mode != Some(SendMode::FirstSuccess) {
                    match run.send(i, 0, channels, template, content).await? {
                        Ok(a) => {
                            let o = if a.deliveries.iter().all(|d| d.status == "suppressed") {
                                StepOutcome::Failed
                            } else {
                                StepOutcome::Unknown
                            };
                            outcomes.insert(step.id.clone(), o);
                            run.record(i, &step.id, "done", None, Some(a.id), 0);
                        }
                        Err(why) => {
                            outcomes.insert(step.id.clone(), StepOutcome::Failed);
                            run.record(i, &step.id, "failed", Some(why), None, 0);
                        }
                    }
                    changed.push(i);
                    i += 1;
                    continue;
                }
                // Channels in order until one is delivered.
                let mut attempt = 0usize;
                let mut why = Vec::new();
                if let Some(p) = prior.as_ref().filter(|_| waiting) {
                    attempt = p.attempt as usize;
                    let nid = p.notification_id.clone().unwrap_or_default();
                    let mine: Vec<&ChildDelivery> = children
                        .iter()
                        .filter(|d| d.notification_id == nid)
                        .collect();
                    match outcome_of(&mine) {
                        StepOutcome::Sent { .. } => {
                            let detail = format!("delivered by {}", channels[attempt]);
                            outcomes.insert(step.id.clone(), outcome_of(&mine));
                            run.record(
                                i,
                                &step.id,
                                "done",
                                Some(detail),
                                Some(nid),
                                attempt as i64,
                            );
                            changed.push(i);
                            i += 1;
                            continue;
                        }
                        StepOutcome::Unknown => return wait(run, &changed, i).await,
                        _ => {
                            why.push(format!("{} failed", channels[attempt]));
                            attempt += 1;
                        }
                    }
                }
                loop {
                    let Some(&channel) = channels.get(attempt) else {
                        outcomes.insert(step.id.clone(), StepOutcome::Failed);
                        run.record(
                            i,
                            &step.id,
                            "failed",
                            Some(why.join("; ")),
                            None,
                            attempt as i64,
                        );
                        changed.push(i);
                        i += 1;
                        break;
                    };
                    match run.send(i, attempt, &[channel], template, content).await? {
                        Ok(a) if a.deliveries.iter().any(|d| d.status != "suppressed") => {
                            run.record(
                                i,
                                &step.id,
                                "waiting",
                                Some(format!("trying {channel}")),
                                Some(a.id),
                                attempt as i64,
                            );
                            changed.push(i);
                            run.cursor.looks = 0;
                            return wait(run, &changed, i).await;
                        }
                        Ok(_) => why.push(format!("{channel} suppressed")),
                        Err(e) => why.push(format!("{channel}: {e}")),
                    }
                    attempt += 1;
                }
            }
            Action::Delay(d) => {
                if waiting {
                    let until = run.cursor.until.unwrap_or(now);
                    if until > now {
                        return wait_until(run, &changed, i, until).await;
                    }
                    run.record(
                        i,
                        &step.id,
                        "done",
                        Some(format!("waited until {}", rfc3339(until))),
                        None,
                        0,
                    );
                    changed.push(i);
                    i += 1;
                    continue;
                }
                let until = match d {
                    Delay::For(d) => Ok(now + d.as_millis() as i64),
                    Delay::Until(expr) => {
                        let ctx = json!({"data": run.data, "recipient": recipient});
                        match crate::render::render_text(expr, &ctx) {
                            Ok(s) => parse_rfc3339(s.trim()).ok_or_else(|| {
                                format!(
                                    "{expr} gave `{}`, not an RFC 3339 time",
                                    crate::domain::check::truncate(s.trim(), 64)
                                )
                            }),
                            Err(e) => Err(format!("{expr} could not be read: {e}")),
                        }
                    }
                    Delay::QuietHoursEnd => {
                        Ok(quiet_end(quiet_hours.as_ref(), timezone.as_deref(), now))
                    }
                };
                match until {
                    Ok(t) if t > now => {
                        run.record(
                            i,
                            &step.id,
                            "waiting",
                            Some(format!("until {}", rfc3339(t))),
                            None,
                            0,
                        );
                        changed.push(i);
                        return wait_until(run, &changed, i, t).await;
                    }
                    Ok(_) => run.record(i, &step.id, "done", Some("no wait".into()), None, 0),
                    // A wait that can't be read ends the run: the steps
                    // after it were meant for later, not for now.
                    Err(why) => {
                        run.record(i, &step.id, "failed", Some(why.clone()), None, 0);
                        changed.push(i);
                        let c = Cursor {
                            step: i,
                            to: run.cursor.to.clone(),
                            ..Default::default()
                        };
                        return run.moved(&changed, "failed", None, c, Some(why)).await;
                    }
                }
                changed.push(i);
                i += 1;
            }
            Action::Digest(d) => {
                if waiting {
                    let until = run.cursor.until.unwrap_or(now);
                    if until > now {
                        return wait_until(run, &changed, i, until).await;
                    }
                    // Closed with this move; the next pass, due at once,
                    // reads every event the digest got.
                    let detail = format!("collected until {}", rfc3339(until));
                    run.record(i, &step.id, "done", Some(detail), None, 0);
                    changed.push(i);
                    let c = Cursor {
                        step: i + 1,
                        to: run.cursor.to.clone(),
                        ..Default::default()
                    };
                    let m = run.move_to(&run.records, &changed, "scheduled", Some(now), c);
                    let Some(events) = store.close_digest(&m, now).await? else {
                        return Ok(false);
                    };
                    run.counted(&m, false);
                    state.metrics.digest_closed(events);
                    return Ok(true);
                }
                let key = match &d.key {
                    None => String::new(),
                    Some(expr) => {
                        let ctx = json!({"data": run.data, "recipient": recipient});
                        match crate::render::render_text(expr, &ctx) {
                            Ok(k) => crate::domain::check::truncate(k.trim(), 255).to_string(),
                            Err(e) => {
                                let why = format!("the digest key {expr} could not be read: {e}");
                                run.record(i, &step.id, "failed", Some(why), None, 0);
                                changed.push(i);
                                outcomes.insert(step.id.clone(), StepOutcome::Failed);
                                i += 1;
                                continue;
                            }
                        }
                    }
                };
                let tz: chrono_tz::Tz = timezone
                    .as_deref()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(chrono_tz::UTC);
                let opened_at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
                let closes =
                    crate::flow::digest::closes_at(&d.window, opened_at, tz).timestamp_millis();
                let event = serde_json::to_string(&run.data).unwrap_or_else(|_| "{}".into());
                changed.push(i);
                // Opening it: this run collects until the window closes.
                let mut records = run.records.clone();
                let detail = format!("collecting until {}", rfc3339(closes));
                put(
                    &mut records,
                    run.step_record(i, &step.id, "waiting", Some(detail)),
                );
                let c = Cursor {
                    step: i,
                    until: Some(closes),
                    to: run.cursor.to.clone(),
                    ..Default::default()
                };
                let opened = run.move_to(&records, &changed, "scheduled", Some(closes), c);
                // Joining one: the event goes to the open digest, and this
                // run ends here.
                let merged = |owner: String| {
                    let mut records = run.records.clone();
                    let detail = format!("merged into the digest of run {owner}");
                    put(
                        &mut records,
                        run.step_record(i, &step.id, "done", Some(detail)),
                    );
                    let c = Cursor {
                        step: wf.steps.len(),
                        to: run.cursor.to.clone(),
                        ..Default::default()
                    };
                    run.move_to(&records, &changed, "sent", None, c)
                };
                let scope = (key_name.as_str(), run.row.recipient.as_str(), key.as_str());
                return Ok(
                    match store
                        .join_digest(scope, &event, closes, &opened, &merged, now)
                        .await?
                    {
                        None => false,
                        Some(Joined::Opened) => {
                            run.counted(&opened, false);
                            true
                        }
                        Some(Joined::Merged(owner)) => {
                            run.counted(&merged(owner), true);
                            true
                        }
                    },
                );
            }
        }
    }
}

/// When the recipient's quiet hours end (now, outside them).
fn quiet_end(q: Option<&QuietHours>, tz: Option<&str>, now: i64) -> i64 {
    let tz: chrono_tz::Tz = tz.and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::UTC);
    let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
    q.and_then(|q| q.until(tz, at))
        .map_or(now, |t| t.timestamp_millis())
}

/// Hands the run back to look at step `i` again soon: 1 s, then doubling
/// up to a minute while the delivery it waits for is under way.
async fn wait(run: Run<'_>, changed: &[usize], i: usize) -> anyhow::Result<bool> {
    let look = (FIRST_LOOK * 2u32.saturating_pow(run.cursor.looks.min(6))).min(LAST_LOOK);
    let c = Cursor {
        step: i,
        looks: run.cursor.looks + 1,
        until: None,
        to: run.cursor.to.clone(),
    };
    let due = run.now + look.as_millis() as i64;
    run.moved(changed, "scheduled", Some(due), c, None).await
}

/// Hands the run back due at `until` (a delay's end).
async fn wait_until(run: Run<'_>, changed: &[usize], i: usize, until: i64) -> anyhow::Result<bool> {
    let c = Cursor {
        step: i,
        looks: 0,
        until: Some(until),
        to: run.cursor.to.clone(),
    };
    run.moved(changed, "scheduled", Some(until), c, None).await
}
