//! Topics: named groups of stored recipients (create, list, delete;
//! subscribe and unsubscribe up to 10,000 at a call), and the fan-out of a
//! send to a topic. The send is accepted at once as one row in the queue
//! (channel `fanout`, see `send::plan_topic`); a worker that claims it
//! calls [`AppState::prepare_fanout_batch`] and [`AppState::write_fanout_batch`]
//! over and over: one keyset page of
//! subscribers admitted, rendered and committed by the same code as a
//! direct send, in the transaction that moves the fan-out's place on, and
//! only while the worker's claim holds. A crash repeats no batch and skips
//! none. See docs/decisions/0030-topics-fan-out-in-the-background.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::send::{run_row, RecipientInput, Resolved, SendRequest};
use super::{AppState, Error, Result};
use crate::domain::check::{check_recipient_id, valid_key};
use crate::domain::{FieldError, Priority, Status};
use crate::render::Parts;
use crate::store::topics::{Subscribed, TopicRow};
use crate::store::{Accept, AcceptOutcome, Accepted, Claimed, Fence, Kind, NotificationRow};
use crate::util::{now_ms, rfc3339};

/// The channel of a fan-out's row in the queue.
pub const FANOUT_CHANNEL: &str = "fanout";
/// Recipient ids one subscribe or unsubscribe call takes.
pub const MAX_SUBSCRIBERS_PER_CALL: usize = 10_000;

/// What a fan-out sends, fixed when the send is accepted (the fan-out
/// row's `recipient_data`); the rest is the notification's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FanoutSpec {
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<BTreeMap<String, Parts>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Subscribers when it was accepted.
    pub total: i64,
}

/// How far a fan-out has come (the fan-out row's `content`): the last
/// recipient id reached, and how many subscribers were reached.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FanoutPlace {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub done: i64,
}

impl FanoutPlace {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a place serialises")
    }

    pub fn parse(s: &str) -> FanoutPlace {
        serde_json::from_str(s).unwrap_or_default()
    }
}

/// One batch of a fan-out, read and built, not yet written.
pub struct FanoutBatch {
    accept: Accept,
    /// The last batch: writing it marks the fan-out `sent`.
    pub last: bool,
    /// The place the fan-out moves to when it is written.
    pub to: String,
}

/// What one batch did.
#[derive(Debug, PartialEq)]
pub enum Batch {
    /// Written; the fan-out goes on from this place.
    Moved(String),
    /// Written, and it was the last.
    Done,
    /// The fan-out is no longer this worker's (cancelled, or its lease
    /// ended): nothing written.
    Lost,
}

/// A topic to create or replace.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTopic {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 2,000 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// Recipient ids to subscribe or unsubscribe.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribers {
    /// 1 to 10,000 stored recipients' ids.
    pub recipients: Vec<String>,
}

/// A fan-out as the notification shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Fanout {
    pub topic: String,
    /// `pending` (not started, or waiting for `send_at`), `running`,
    /// `done`, `cancelled` or `failed` (why, in `error`).
    pub status: String,
    /// Subscribers reached so far: each has its deliveries (or runs).
    pub fanned_out: i64,
    /// Subscribers when the send was accepted (those who unsubscribe
    /// before their batch are not reached).
    pub total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Fanout {
    /// From the fan-out's row.
    pub fn of(row: &crate::store::DeliveryRow) -> Fanout {
        let spec: FanoutSpec = serde_json::from_str(&row.recipient_data).unwrap_or_default();
        let place = FanoutPlace::parse(&row.content);
        let status = match row.status.as_str() {
            "sent" => "done",
            "cancelled" => "cancelled",
            "failed" => "failed",
            _ if place.done > 0 || row.status == "sending" => "running",
            _ => "pending",
        };
        Fanout {
            topic: spec.topic,
            status: status.to_string(),
            fanned_out: place.done,
            total: spec.total,
            error: row.last_error.clone(),
        }
    }
}

fn check_topic_key(key: &str) -> Result<()> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(Error::invalid(
            "key",
            "must be 1 to 100 letters, digits, `-`, `_` or `.`",
        ))
    }
}

/// Checks a subscribe or unsubscribe call's ids; they come back without
/// repeats.
fn check_ids(ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() || ids.len() > MAX_SUBSCRIBERS_PER_CALL {
        return Err(Error::invalid(
            "recipients",
            format!(
                "give 1 to {MAX_SUBSCRIBERS_PER_CALL} recipient ids (got {}); split a longer list into several calls",
                ids.len()
            ),
        ));
    }
    let errors: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            check_recipient_id(id)
                .err()
                .map(|m| FieldError::new(format!("recipients[{i}]"), m))
        })
        .take(100)
        .collect();
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

impl AppState {
    /// Creates or replaces a topic; true if it was new.
    pub async fn put_topic(&self, key: &str, t: PutTopic) -> Result<(TopicRow, bool)> {
        check_topic_key(key)?;
        let mut errors = Vec::new();
        let name = t.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        if t.description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 2_000)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let now = now_ms();
        let row = TopicRow {
            key: key.to_string(),
            name: name.to_string(),
            description: t.description,
            created_at: now,
            updated_at: now,
        };
        let created = self.store.put_topic(&row).await?;
        let row = self.topic(key).await?;
        Ok((row, created))
    }

    pub async fn topic(&self, key: &str) -> Result<TopicRow> {
        check_topic_key(key)?;
        self.store
            .get_topic(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no topic {key}")))
    }

    pub async fn delete_topic(&self, key: &str) -> Result<()> {
        check_topic_key(key)?;
        if self.store.delete_topic(key).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("there is no topic {key}")))
        }
    }

    /// Subscribes stored recipients; how many were new. An id that names
    /// no stored recipient refuses the whole call (422 naming each such
    /// `recipients[i]`), as a send to one does (decision 0011).
    pub async fn subscribe(&self, key: &str, ids: &[String]) -> Result<u64> {
        check_topic_key(key)?;
        let unique = check_ids(ids)?;
        match self.store.subscribe(key, &unique, now_ms()).await? {
            Subscribed::Added(n) => Ok(n),
            Subscribed::NoTopic => Err(Error::NotFound(format!("there is no topic {key}"))),
            Subscribed::Unknown(unknown) => {
                let unknown: std::collections::HashSet<&str> =
                    unknown.iter().map(String::as_str).collect();
                Err(Error::Invalid(
                    ids.iter()
                        .enumerate()
                        .filter(|(_, id)| unknown.contains(id.as_str()))
                        .take(100)
                        .map(|(i, id)| {
                            FieldError::new(
                                format!("recipients[{i}]"),
                                format!("there is no recipient with this id; store it first with PUT /v1/recipients/{id}"),
                            )
                        })
                        .collect(),
                ))
            }
        }
    }

    /// Unsubscribes; how many were subscribed. Ids not subscribed (or not
    /// stored) are no error: the call is idempotent.
    pub async fn unsubscribe(&self, key: &str, ids: &[String]) -> Result<u64> {
        check_topic_key(key)?;
        let unique = check_ids(ids)?;
        self.store
            .unsubscribe(key, &unique)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no topic {key}")))
    }

    /// One batch of a claimed fan-out (`row`), from its place `from` (the
    /// row's content as this worker last wrote it): the next subscribers
    /// after `from`'s id, admitted and rendered as a direct send's
    /// recipients are, ready to be committed by [`AppState::write_fanout_batch`]
    /// with the row's move to the new place (or to `sent` after the last).
    /// Nothing is written here, so the next batch can be read and built
    /// while the one before it commits: its fence starts from the place the
    /// one before moves to, so it writes nothing unless that one committed.
    pub async fn prepare_fanout_batch(
        &self,
        row: &Claimed,
        n: &NotificationRow,
        spec: &FanoutSpec,
        from: &str,
    ) -> Result<FanoutBatch> {
        let limit = self.config.worker.fanout_batch;
        let lease = self.config.worker.lease;
        let place = FanoutPlace::parse(from);
        let subscribers = self
            .store
            .subscriber_batch(
                &spec.topic,
                place.after.as_deref(),
                n.created_at,
                limit as i64,
            )
            .await?;
        let last = subscribers.len() < limit;
        let now = now_ms();
        let inputs: Vec<RecipientInput> = subscribers
            .iter()
            .map(|p| RecipientInput {
                id: Some(p.id.clone()),
                ..Default::default()
            })
            .collect();
        let (deliveries, summaries) = if inputs.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            self.batch_deliveries(n, spec, &subscribers, inputs, now)
                .await?
        };
        let to = FanoutPlace {
            after: subscribers
                .last()
                .map(|p| p.id.clone())
                .or(place.after.clone()),
            done: place.done + subscribers.len() as i64,
        }
        .to_json();
        let accept = Accept {
            notification: n.clone(),
            deliveries,
            idempotency: None,
            answer: Accepted {
                id: n.id.clone(),
                deliveries: summaries,
                ..Default::default()
            },
            answer_json: String::new(),
            fence: Some(Fence {
                row_id: row.id.clone(),
                token: row.claim_token.clone(),
                from: from.to_string(),
                to: to.clone(),
                lease_until: (!last).then(|| now + lease.as_millis() as i64),
            }),
        };
        Ok(FanoutBatch { accept, last, to })
    }

    /// Commits a batch from [`AppState::prepare_fanout_batch`], only while
    /// the claim holds and the row is still at the batch's starting place.
    pub async fn write_fanout_batch(&self, batch: FanoutBatch) -> Result<Batch> {
        let FanoutBatch { accept, last, to } = batch;
        Ok(match self.store.accept(accept).await? {
            AcceptOutcome::Created(_) if last => Batch::Done,
            AcceptOutcome::Created(_) => Batch::Moved(to),
            AcceptOutcome::Existing(_) | AcceptOutcome::Lost => Batch::Lost,
        })
    }

    /// The deliveries (or workflow runs) of one batch of subscribers.
    async fn batch_deliveries(
        &self,
        n: &NotificationRow,
        spec: &FanoutSpec,
        profiles: &[crate::store::RecipientRow],
        inputs: Vec<RecipientInput>,
        now: i64,
    ) -> Result<(
        Vec<crate::store::NewDelivery>,
        Vec<crate::store::DeliverySummary>,
    )> {
        if let Some(key) = &spec.workflow {
            let priority = Priority::parse(&n.priority).unwrap_or(Priority::Normal);
            let (status, due_at) = match n.send_at {
                Some(t) if t > now => (Status::Scheduled, t),
                _ => (Status::Queued, now),
            };
            let mut deliveries = Vec::with_capacity(inputs.len());
            let mut summaries = Vec::with_capacity(inputs.len());
            for r in &inputs {
                let (d, s) = run_row(r, key, status, priority, due_at)?;
                deliveries.push(d);
                summaries.push(s);
            }
            return Ok((deliveries, summaries));
        }
        let req = SendRequest {
            template: n.template_key.clone(),
            content: spec.content.clone(),
            data: serde_json::from_str(&n.data).ok(),
            channels: spec.channels.clone(),
            category: Some(n.category.clone()),
            priority: Some(n.priority.clone()),
            locale: n.locale.clone(),
            dedup_key: n.dedup_key.clone(),
            send_at: n.send_at.map(rfc3339),
            ..Default::default()
        };
        let to: Vec<Resolved> = inputs
            .iter()
            .zip(profiles)
            .map(|(r, p)| Resolved::with_profile(r, p))
            .collect();
        let req = SendRequest { to: inputs, ..req };
        let sender = self.sender();
        // The template's version the send was accepted with.
        let tpl = match (&n.template_key, n.template_version, &spec.content) {
            (Some(key), Some(version), _) => {
                let v = self
                    .store
                    .get_version(Kind::Template, key, Some(version))
                    .await?
                    .ok_or_else(|| {
                        Error::invalid("template", format!("template `{key}` v{version} is gone"))
                    })?;
                super::layouts::stored_template(
                    self.store.as_ref(),
                    &self.renderer,
                    &v.key,
                    v.version,
                    &v.content,
                )
                .await?
            }
            (_, _, Some(channels)) => self
                .renderer
                .inline(&crate::render::TemplateContent {
                    channels: channels.clone(),
                    locales: BTreeMap::new(),
                    settings: Default::default(),
                    layout: None,
                })
                .await
                .map_err(|errs| Error::Invalid(errs.into_iter().map(FieldError::from).collect()))?,
            _ => return Err(Error::invalid("template", "the send has no template")),
        };
        let prepared = sender.prepare(&req, &to, &tpl)?;
        let (deliveries, summaries, _) = sender
            .build(
                &req,
                &prepared,
                &to,
                &tpl,
                n.template_key.as_deref(),
                &n.id,
                now,
                true,
            )
            .await?;
        Ok((deliveries, summaries))
    }
}
