//! Accepting a notification: validate the request, resolve and render its
//! template for every recipient and channel, and commit the notification,
//! its deliveries and the Idempotency-Key record in one transaction. Used by
//! `POST /v1/notifications` and `missive send`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

use super::{AppState, Error};
use crate::domain::check::{
    check_email, check_link, check_phone, check_recipient_id, check_timezone, check_url,
    is_forbidden_char, truncate,
};
use crate::domain::receipt;
use crate::domain::{Category, Channel, FieldError, Locale, Priority, Reason, Status};
use crate::flow::admit;
use crate::flow::preferences::Preferences;
use crate::flow::quiet_hours::QuietHours;
use crate::render::{Compiled, Parts, Renderer, TemplateContent};
use crate::store::{
    Accept, AcceptOutcome, IdempotencyRecord, Kind, NewDelivery, NotificationRow, Store,
};
use crate::util::{new_id, now_ms, parse_rfc3339};

pub const MAX_RECIPIENTS: usize = 10_000;

/// A notification to send: a template (or inline content), recipients and
/// data.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The template's key; give this, `content` or `workflow`.
    #[serde(default)]
    pub template: Option<String>,
    /// Inline template sources, shaped like a template's `channels`.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, BTreeMap<String, String>>>)]
    pub content: Option<BTreeMap<String, Parts>>,
    /// 1 to 10,000 recipients.
    pub to: Vec<RecipientInput>,
    /// The template's data (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// Only these channels (default: every channel the template has).
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    /// `transactional` (default), `marketing` or `auth`.
    #[serde(default)]
    pub category: Option<String>,
    /// `high`, `normal` (default) or `low`.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    /// Repeats with this key to the same recipient and channel within the
    /// dedup window are suppressed.
    #[serde(default)]
    pub dedup_key: Option<String>,
    /// RFC 3339 time to send at (default: now); for a workflow, when its
    /// runs start.
    #[serde(default)]
    pub send_at: Option<String>,
    /// A workflow's key, instead of `template` or `content`: each
    /// recipient gets a run of the workflow's current version, whose steps
    /// name their own templates and channels. `deliveries` in the answer
    /// then lists the runs (channel `workflow`).
    #[serde(default)]
    pub workflow: Option<String>,
    /// With `workflow`: lets a later event cancel the runs this starts
    /// (`POST /v1/workflows/{key}/cancel`).
    #[serde(default)]
    pub cancel_key: Option<String>,
}

/// A recipient: a stored profile's `id`, addresses, or both (the
/// addresses given here win).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// A chat address: `NAME` or `NAME:TARGET`, NAME a provider of
    /// `channels.chat` (e.g. `ops`, `slack:C0123ABCD`,
    /// `telegram:-1001234567890`, `wecom:https://...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A topic's key, alone in its entry and the only entry in `to`: the
    /// send reaches every recipient subscribed to the topic when it is
    /// accepted, fanned out in the background.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl RecipientInput {
    /// Whether it gives an id or an address.
    pub fn names_someone(&self) -> bool {
        self.id.is_some()
            || self.email.is_some()
            || self.phone.is_some()
            || self.webhook_url.is_some()
            || self.chat.is_some()
    }

    fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_deref(),
            Channel::Sms => self.phone.as_deref(),
            Channel::Webhook => self.webhook_url.as_deref(),
            Channel::InApp | Channel::Push => self.id.as_deref(),
            Channel::Chat => self.chat.as_deref(),
        }
    }

    /// How the delivery log names this recipient: its id, else its address.
    fn label(&self) -> String {
        self.id
            .clone()
            .or_else(|| self.webhook_url.clone())
            .or_else(|| self.email.clone())
            .or_else(|| self.phone.clone())
            .or_else(|| self.chat.as_deref().map(crate::domain::chat::redact))
            .unwrap_or_default()
    }
}

pub use crate::store::{Accepted, DeliverySummary};

/// The answer to a send: the body, and whether it replays an earlier one.
pub struct SendAnswer {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
    /// (channel, reason) of each delivery this request suppressed, for
    /// the metrics; empty for a replay.
    pub suppressed: Vec<(Channel, Option<Reason>)>,
    /// The template the deliveries were rendered from (`None` for inline
    /// content or a replay), for the metrics.
    pub template: Option<String>,
}

pub struct Sender<'a> {
    pub store: &'a dyn Store,
    pub renderer: &'a Renderer,
    /// Channels this deployment can send on.
    pub enabled: &'a [Channel],
    pub idempotency_ttl_ms: i64,
    /// How long a `dedup_key` suppresses repeats.
    pub dedup_window_ms: i64,
    /// Frequency caps by category: (count, window ms).
    pub caps: &'a std::collections::BTreeMap<String, crate::domain::Rate>,
    /// Quiet hours for recipients whose profile has none.
    pub default_quiet_hours: Option<&'a QuietHours>,
    /// The workflow run whose step this send is.
    pub parent_run: Option<&'a str>,
}

/// Checks a channel's rendered parts for what the channel could not send
/// safely: links a recipient clicks and the email subject (a header line).
/// `label` is how the request names the channels (`content` inline,
/// `channels` for a stored template).
pub fn check_rendered(
    label: &str,
    channel: Channel,
    parts: &crate::render::Parts,
) -> Result<(), FieldError> {
    match channel {
        Channel::InApp => {
            if let Some(url) = parts.get("action_url").filter(|u| !u.is_empty()) {
                check_link(url).map_err(|m| {
                    FieldError::new(
                        format!("{label}.in_app.action_url"),
                        format!(
                            "renders to {:?}, which is not allowed: {m}",
                            truncate(url, 80)
                        ),
                    )
                })?;
            }
        }
        Channel::Email => {
            if let Some(subject) = parts.get("subject") {
                if subject.chars().any(is_forbidden_char) {
                    return Err(FieldError::new(
                        format!("{label}.email.subject"),
                        "renders with a control character (line break, tab, VT, FF, ...), which a subject line can't hold; remove it from the template or the data",
                    ));
                }
            }
        }
        Channel::Push => {
            if let Some(data) = parts.get("data").filter(|d| !d.trim().is_empty()) {
                if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(data) {
                    return Err(FieldError::new(
                        format!("{label}.push.data"),
                        format!("must render to JSON, but it does not ({e}); use {{{{json name}}}} to write values"),
                    ));
                }
            }
            if let Some(url) = parts.get("action_url").filter(|u| !u.is_empty()) {
                check_link(url).map_err(|m| {
                    FieldError::new(
                        format!("{label}.push.action_url"),
                        format!(
                            "renders to {:?}, which is not allowed: {m}",
                            truncate(url, 80)
                        ),
                    )
                })?;
            }
        }
        Channel::Sms | Channel::Webhook | Channel::Chat => {}
    }
    Ok(())
}

pub(crate) fn check_recipient(i: usize, r: &RecipientInput, errors: &mut Vec<FieldError>) {
    if let Some(topic) = &r.topic {
        if !crate::domain::check::valid_key(topic) {
            errors.push(
                FieldError::new(
                    format!("to[{i}].topic"),
                    "must be a topic's key: 1 to 100 letters, digits, `-`, `_` or `.`",
                )
                .for_recipient(i),
            );
        }
        if r.names_someone() || r.locale.is_some() || r.timezone.is_some() {
            errors.push(
                FieldError::new(
                    format!("to[{i}]"),
                    "a topic entry gives `topic` only; each subscriber's profile gives its addresses, locale and timezone",
                )
                .for_recipient(i),
            );
        }
        return;
    }
    let mut field = |name: &str, v: &Option<String>, check: fn(&str) -> Result<(), String>| {
        if let Some(v) = v {
            if let Err(m) = check(v) {
                errors.push(FieldError::new(format!("to[{i}].{name}"), m).for_recipient(i));
            }
        }
    };
    field("webhook_url", &r.webhook_url, check_url);
    field("email", &r.email, check_email);
    field("phone", &r.phone, check_phone);
    field("chat", &r.chat, crate::domain::chat::check);
    field("timezone", &r.timezone, check_timezone);
    field("locale", &r.locale, Locale::check);
    field("id", &r.id, check_recipient_id);
    if !r.names_someone() {
        errors.push(
            FieldError::new(
                format!("to[{i}]"),
                "give an id or an address (webhook_url, email, phone, chat)",
            )
            .for_recipient(i),
        );
    }
}

impl<'a> Sender<'a> {
    /// A sender with the settings of `cfg` (idempotency, dedup, caps,
    /// quiet hours), for the channels in `enabled`.
    pub fn new(
        store: &'a dyn Store,
        renderer: &'a Renderer,
        enabled: &'a [Channel],
        cfg: &'a crate::config::Config,
    ) -> Self {
        Sender {
            store,
            renderer,
            enabled,
            idempotency_ttl_ms: cfg.maintenance.idempotency_ttl.as_millis() as i64,
            dedup_window_ms: cfg.flow.dedup_window.as_millis() as i64,
            caps: &cfg.flow.frequency_caps,
            default_quiet_hours: cfg.flow.quiet_hours.as_ref(),
            parent_run: None,
        }
    }
}

impl AppState {
    /// A sender with this app's store, renderer, channels and settings.
    pub fn sender(&self) -> Sender<'_> {
        Sender::new(
            self.store.as_ref(),
            &self.renderer,
            &self.enabled_channels,
            &self.config,
        )
    }

    /// Accepts a send (validate, plan, commit; the store's writer hands
    /// what is due to this process's workers) and counts it. `idempotency`
    /// is (api key id, key, request hash).
    pub async fn send(
        &self,
        req: SendRequest,
        key_id: Option<&str>,
        idempotency: Option<(&str, &str, &str)>,
    ) -> Result<SendAnswer, Error> {
        let sender = self.sender();
        let to_topic = req.to.iter().any(|r| r.topic.is_some());
        let runs = match &req.workflow {
            Some(_) if !to_topic => req.to.len(),
            _ => 0,
        };
        let answer = sender.send(req, key_id, idempotency).await?;
        self.counted(&answer, runs);
        Ok(answer)
    }

    /// Counts an accepted send, and the `runs` a workflow trigger started.
    pub fn counted(&self, answer: &SendAnswer, runs: usize) {
        self.metrics.accepted(
            answer.replayed,
            answer.template.as_deref(),
            &answer.suppressed,
        );
        if runs > 0 && !answer.replayed {
            self.metrics
                .runs(crate::metrics::RunEvent::Started, runs as u64);
        }
    }
}

impl Sender<'_> {
    /// Validates, renders and commits. `idempotency` is (api key id, key,
    /// request hash).
    pub async fn send(
        &self,
        req: SendRequest,
        api_key_id: Option<&str>,
        idempotency: Option<(&str, &str, &str)>,
    ) -> Result<SendAnswer, Error> {
        let now = now_ms();
        if let Some((key_id, key, hash)) = idempotency {
            if let Some(rec) = self.store.find_idempotency(key_id, key, now).await? {
                return self.replay(rec, hash).await;
            }
        }
        let topic = req.to.iter().find_map(|r| r.topic.clone());
        let plan = match &req.workflow {
            _ if topic.is_some() => {
                self.plan_topic(&req, topic.as_deref().unwrap_or_default(), now)
                    .await?
            }
            Some(key) => self.plan_runs(&req, key, now).await?,
            None => {
                // Resolving, admitting and rendering: a step of the accept
                // in an exported trace.
                let render = crate::telemetry::step(|| tracing::info_span!("render"), None);
                async {
                    let (tpl, template_key, template_version) = self.resolve_template(&req).await?;
                    let to = self.with_profiles(&req.to).await?;
                    self.plan(
                        &req,
                        &to,
                        &tpl,
                        template_key.as_deref(),
                        template_version,
                        now,
                    )
                    .await
                }
                .instrument(render)
                .await?
            }
        };
        let Plan {
            mut notification,
            deliveries,
            answer,
        } = plan;
        // Its deliveries' attempts continue the accepting span's trace
        // (None unless tracing is exported).
        notification.traceparent = crate::telemetry::current();
        if notification.traceparent.is_some() {
            tracing::Span::current().record("notification_id", notification.id.as_str());
        }
        // The answer before deduplication; the store settles the final one.
        let body = serde_json::to_string(&answer).map_err(anyhow::Error::from)?;
        let planned_len = body.len();
        let planned = suppressed(&answer);
        let idem = idempotency.map(|(key_id, key, hash)| {
            (
                key_id.to_string(),
                key.to_string(),
                IdempotencyRecord {
                    request_hash: hash.to_string(),
                    response_status: 202,
                    response_body: body.clone(),
                },
                now + self.idempotency_ttl_ms,
            )
        });
        notification.api_key_id = api_key_id.map(str::to_string);
        let template = notification.template_key.clone();
        match self
            .store
            .accept(Accept {
                notification,
                deliveries,
                idempotency: idem,
                answer,
                answer_json: body,
                fence: None,
            })
            .await?
        {
            AcceptOutcome::Created(body) => Ok(SendAnswer {
                status: 202,
                // Deduplication and caps only ever add suppressions, which
                // lengthen the answer: an answer of the planned length is
                // the planned one, and only a changed one is read again.
                suppressed: if body.len() == planned_len {
                    planned
                } else {
                    serde_json::from_str::<Accepted>(&body)
                        .map(|a| suppressed(&a))
                        .unwrap_or_default()
                },
                body,
                replayed: false,
                template,
            }),
            AcceptOutcome::Existing(rec) => {
                self.replay(rec, idempotency.map(|(_, _, h)| h).unwrap_or_default())
                    .await
            }
            AcceptOutcome::Lost => Err(Error::Internal(anyhow::anyhow!(
                "a send without a fan-out's fence was not written"
            ))),
        }
    }

    /// Each `to` entry with an `id` takes the stored profile's addresses and
    /// settings, with the entry's own fields overriding them; the profile's
    /// preferences and quiet hours come along.
    pub(crate) async fn with_profiles(
        &self,
        to: &[RecipientInput],
    ) -> Result<Vec<Resolved>, Error> {
        let mut ids: Vec<String> = to.iter().filter_map(|r| r.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let profiles: HashMap<String, crate::store::RecipientRow> = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store
                .get_recipients(&ids)
                .await?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect()
        };
        Ok(to
            .iter()
            .map(|r| match r.id.as_ref().and_then(|id| profiles.get(id)) {
                None => Resolved {
                    input: r.clone(),
                    preferences: Preferences::default(),
                    quiet_hours: None,
                    stored: false,
                },
                Some(p) => Resolved::with_profile(r, p),
            })
            .collect())
    }

    async fn resolve_template(
        &self,
        req: &SendRequest,
    ) -> Result<(Arc<Compiled>, Option<String>, Option<i64>), Error> {
        match (&req.template, &req.content) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "content",
                "give either `template` or `content`, not both",
            )),
            (None, None) => Err(Error::invalid(
                "template",
                "give a stored template's key, or inline `content`",
            )),
            (None, Some(channels)) => {
                let content = TemplateContent {
                    channels: channels.clone(),
                    locales: BTreeMap::new(),
                    settings: Default::default(),
                    layout: None,
                };
                let compiled = self.renderer.inline(&content).await.map_err(|errs| {
                    Error::Invalid(errs.into_iter().map(FieldError::from).collect())
                })?;
                Ok((compiled, None, None))
            }
            (Some(key), None) => {
                let row = self
                    .store
                    .get_version(Kind::Template, key, None)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid("template", format!("there is no template `{key}`"))
                    })?;
                if row.archived_at.is_some() {
                    return Err(Error::invalid(
                        "template",
                        format!("template `{key}` is archived"),
                    ));
                }
                let compiled = super::layouts::stored_template(
                    self.store,
                    self.renderer,
                    &row.key,
                    row.version,
                    &row.content,
                )
                .await?;
                Ok((compiled, Some(row.key), Some(row.version)))
            }
        }
    }

    async fn plan(
        &self,
        req: &SendRequest,
        to: &[Resolved],
        tpl: &Arc<Compiled>,
        template_key: Option<&str>,
        template_version: Option<i64>,
        now: i64,
    ) -> Result<Plan, Error> {
        let prepared = self.prepare(req, to, tpl)?;
        let notification_id = new_id();
        let (deliveries, answer, reachable) = self
            .build(
                req,
                &prepared,
                to,
                tpl,
                template_key,
                &notification_id,
                now,
                false,
            )
            .await?;
        let Prepared {
            data,
            category,
            priority,
            send_at,
            channels,
            ..
        } = prepared;
        if !reachable {
            return Err(Error::invalid(
                "to",
                if channels.is_empty() {
                    "the template has no content for any enabled channel; name `channels` or add content".to_string()
                } else {
                    format!(
                        "no recipient has an address for {}",
                        Channel::join(&channels)
                    )
                },
            ));
        }
        let notification = NotificationRow {
            id: notification_id.clone(),
            template_key: template_key.map(str::to_string),
            template_version,
            data: data.to_string(),
            category: category.to_string(),
            priority: priority.to_string(),
            locale: req.locale.clone(),
            dedup_key: req.dedup_key.clone(),
            send_at,
            api_key_id: None,
            created_at: now,
            parent_run: self.parent_run.map(str::to_string),
            ..Default::default()
        };
        Ok(Plan {
            notification,
            deliveries,
            answer: Accepted {
                id: notification_id,
                deliveries: answer,
                replayed: false,
                ..Default::default()
            },
        })
    }

    /// Checks what a send to recipients decides once (its fields, the
    /// channels asked for, the ids in `to`) and the channels it goes on.
    pub(crate) fn prepare(
        &self,
        req: &SendRequest,
        to: &[Resolved],
        tpl: &Arc<Compiled>,
    ) -> Result<Prepared, Error> {
        let mut errors = Vec::new();
        let Common {
            data,
            category,
            priority,
            send_at,
        } = common(req, &mut errors);
        if req.cancel_key.is_some() {
            errors.push(FieldError::new("cancel_key", "goes with `workflow` only"));
        }
        let mut asked = Vec::new();
        if let Some(chs) = &req.channels {
            if chs.is_empty() {
                errors.push(FieldError::new(
                    "channels",
                    "leave it out to use every channel the template has, or name some",
                ));
            }
            for (i, c) in chs.iter().enumerate() {
                let field = || format!("channels[{i}]");
                match Channel::parse(c) {
                    Err(_) => errors.push(FieldError::new(
                        field(),
                        format!("unknown channel; channels are {}", Channel::names()),
                    )),
                    Ok(c) if !self.enabled.contains(&c) => errors.push(FieldError::new(
                        field(),
                        format!(
                            "channel `{c}` is not enabled here; enabled: {}",
                            Channel::join(self.enabled)
                        ),
                    )),
                    Ok(c) if c != Channel::Webhook && !tpl.channels().contains(&c) => errors.push(
                        FieldError::new(field(), format!("the template has no `{c}` content")),
                    ),
                    Ok(c) => asked.push(c),
                }
            }
        }
        // An id refers to a stored recipient. One that isn't stored, with no
        // address given inline, reaches nobody (most likely a typo or a
        // profile never stored), except through the in-app inbox, which
        // needs nothing but the id: allowed when in-app is asked for by
        // name, or is the only channel the template has.
        let inbox_only = match &req.channels {
            Some(chs) => chs.iter().any(|c| Channel::parse(c) == Ok(Channel::InApp)),
            None => {
                let mut has = tpl.channels().iter().filter(|c| self.enabled.contains(c));
                has.next() == Some(&Channel::InApp) && has.next().is_none()
            }
        };
        for (i, (r, resolved)) in req.to.iter().zip(to).enumerate() {
            let Some(id) = &r.id else { continue };
            let inline = r.email.is_some()
                || r.phone.is_some()
                || r.webhook_url.is_some()
                || r.chat.is_some();
            if !resolved.stored && !inline && !inbox_only && check_recipient_id(id).is_ok() {
                errors.push(
                    FieldError::new(
                        format!("to[{i}].id"),
                        format!(
                            "there is no recipient with this id; store it with PUT /v1/recipients/{id}, give an address inline (email, phone, webhook_url, chat), or name \"channels\": [\"in_app\"] to send to its inbox only"
                        ),
                    )
                    .for_recipient(i),
                );
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let label = if req.content.is_some() {
            "content"
        } else {
            "channels"
        };
        let channels: Vec<Channel> = match &req.channels {
            Some(_) => asked,
            None => tpl
                .channels()
                .iter()
                .filter(|c| self.enabled.contains(c))
                .copied()
                .collect(),
        };
        Ok(Prepared {
            data,
            category,
            priority,
            send_at,
            channels,
            label,
        })
    }

    /// Each recipient's deliveries on each channel: admitted (address,
    /// opt-outs, the suppression list), rendered, scheduled (quiet hours)
    /// and given their dedup scope and cap; and whether anyone was
    /// reachable. A render error refuses the send, except in a topic's
    /// fan-out (`fanout`), where it fails that recipient's delivery: the
    /// send was accepted long before.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn build(
        &self,
        req: &SendRequest,
        prepared: &Prepared,
        to: &[Resolved],
        tpl: &Arc<Compiled>,
        template_key: Option<&str>,
        notification_id: &str,
        now: i64,
        fanout: bool,
    ) -> Result<(Vec<NewDelivery>, Vec<DeliverySummary>, bool), Error> {
        let Prepared {
            data,
            category,
            priority,
            send_at,
            channels,
            label,
        } = prepared;
        let (data, category, priority, send_at, label) =
            (data, *category, *priority, *send_at, *label);
        let (status0, due_at) = match send_at {
            Some(t) if t > now => (Status::Scheduled, t),
            _ => (Status::Queued, now),
        };
        let listed = self.listed(to, channels).await?;
        // Content depends on the channel, locale and timezone only: render
        // each combination once.
        type Rendered = Result<Option<String>, FieldError>;
        let mut rendered: HashMap<(Channel, Option<String>, Option<String>), Rendered> =
            HashMap::new();
        let mut deliveries = Vec::with_capacity(to.len() * channels.len().max(1));
        let mut answer = Vec::with_capacity(deliveries.capacity());
        let mut reachable = false;
        for (i, resolved) in to.iter().enumerate() {
            let r = &resolved.input;
            let locale = req.locale.clone().or_else(|| r.locale.clone());
            let recipient = r.label();
            let recipient_data = serde_json::to_string(r).map_err(anyhow::Error::from)?;
            for &channel in channels {
                let id = new_id();
                let address = r.address(channel);
                let on_list = address.and_then(|a| {
                    listed
                        .get(&(channel, receipt::listed_address(channel, a)))
                        .copied()
                });
                let admitted = admit::admit(
                    address.is_some(),
                    &resolved.preferences,
                    on_list,
                    channel,
                    category,
                );
                // Reached, even if deliberately not sent: still a 202.
                reachable |= address.is_some();
                let (status, reason, content, due) = match admitted {
                    Err(reason) => (
                        Status::Suppressed,
                        Some(reason.to_string()),
                        "{}".to_string(),
                        None,
                    ),
                    Ok(()) => {
                        let key = (channel, locale.clone(), r.timezone.clone());
                        let content = match rendered.get(&key) {
                            Some(c) => c.clone(),
                            None => {
                                let c = match self
                                    .renderer
                                    .render_channel(
                                        tpl,
                                        channel,
                                        locale.as_deref(),
                                        r.timezone.as_deref(),
                                        data,
                                    )
                                    .await
                                {
                                    Err(e) => Err(FieldError::new(e.field, e.message)),
                                    Ok(None) => Ok(None),
                                    Ok(Some(parts)) => {
                                        check_rendered(label, channel, &parts).map(|_| {
                                            Some(serde_json::to_string(&parts).unwrap_or_default())
                                        })
                                    }
                                };
                                rendered.insert(key, c.clone());
                                c
                            }
                        };
                        match content {
                            Err(e) if !fanout => {
                                return Err(Error::Invalid(vec![e.for_recipient(i)]))
                            }
                            // Accepted long before: this recipient's
                            // delivery fails, the others go on.
                            Err(e) => (
                                Status::Failed,
                                Some(
                                    truncate(&format!("{}: {}", e.field, e.message), 200)
                                        .to_string(),
                                ),
                                "{}".to_string(),
                                None,
                            ),
                            Ok(content) => {
                                let content = match content {
                                    Some(c) => c,
                                    // A webhook without a body part gets an envelope.
                                    None => serde_json::json!({"body": serde_json::json!({
                                        "notification_id": notification_id,
                                        "template": template_key,
                                        "recipient": r,
                                        "data": data,
                                    }).to_string()})
                                    .to_string(),
                                };
                                let (status, reason, due) = admit::schedule(
                                    status0,
                                    due_at,
                                    resolved.quiet_hours.as_ref().or(self.default_quiet_hours),
                                    r.timezone.as_deref(),
                                    category,
                                    priority,
                                );
                                (status, reason.map(|r| r.to_string()), content, Some(due))
                            }
                        }
                    }
                };
                let address = address.unwrap_or_default().to_string();
                let window = tpl
                    .settings
                    .dedup_window_ms()
                    .unwrap_or(self.dedup_window_ms);
                let dedup = admit::dedup(
                    status,
                    req.dedup_key.as_deref(),
                    tpl.settings.content_dedup,
                    &content,
                    &recipient,
                    channel,
                    now,
                    window,
                );
                let cap = admit::cap(tpl.settings.cap(), template_key, self.caps, category);
                answer.push(DeliverySummary {
                    id: id.clone(),
                    recipient: recipient.clone(),
                    channel: channel.to_string(),
                    status: status.to_string(),
                    reason: reason.clone(),
                });
                deliveries.push(NewDelivery {
                    id,
                    template_key: template_key.map(str::to_string),
                    recipient: recipient.clone(),
                    recipient_data: recipient_data.clone(),
                    channel: channel.to_string(),
                    address,
                    content,
                    status: status.as_str(),
                    reason,
                    priority: priority.rank(),
                    due_at: due,
                    dedup,
                    cap,
                });
            }
        }
        Ok((deliveries, answer, reachable))
    }
}

impl Sender<'_> {
    /// The addresses of `to` on `channels` that are on the suppression
    /// list, with their reasons. One read, and none when no channel is
    /// one whose addresses the list holds.
    async fn listed(
        &self,
        to: &[Resolved],
        channels: &[Channel],
    ) -> Result<HashMap<(Channel, String), Reason>, Error> {
        let mut pairs = Vec::new();
        for &c in channels
            .iter()
            .filter(|c| receipt::LISTED_CHANNELS.contains(c))
        {
            for r in to {
                if let Some(a) = r.input.address(c) {
                    pairs.push((c.to_string(), receipt::listed_address(c, a)));
                }
            }
        }
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        pairs.sort();
        pairs.dedup();
        let rows = self.store.suppressed_among(&pairs).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, a, r)| {
                let reason = Reason::parse(&r).ok().filter(|r| r.is_listed())?;
                Some(((Channel::parse(&c).ok()?, a), reason))
            })
            .collect())
    }
}

impl Sender<'_> {
    /// A workflow's trigger: one run per recipient, each a row in the queue
    /// (channel `workflow`) due when the runs start. The steps are checked
    /// when the workflow is saved; what they send is admitted (preferences,
    /// quiet hours, caps, dedup) when each step runs.
    async fn plan_runs(&self, req: &SendRequest, key: &str, now: i64) -> Result<Plan, Error> {
        let (
            Common {
                data,
                category,
                priority,
                send_at,
            },
            version,
        ) = self.check_runs(req, key).await?;
        let notification_id = new_id();
        let (status, due_at) = match send_at {
            Some(t) if t > now => (Status::Scheduled, t),
            _ => (Status::Queued, now),
        };
        let mut deliveries = Vec::with_capacity(req.to.len());
        let mut answer = Vec::with_capacity(req.to.len());
        for r in &req.to {
            let (d, a) = run_row(r, key, status, priority, due_at)?;
            deliveries.push(d);
            answer.push(a);
        }
        let notification = NotificationRow {
            id: notification_id.clone(),
            data: data.to_string(),
            category: category.to_string(),
            priority: priority.to_string(),
            locale: req.locale.clone(),
            send_at,
            created_at: now,
            workflow_key: Some(key.to_string()),
            workflow_version: version,
            cancel_key: req.cancel_key.clone(),
            ..Default::default()
        };
        Ok(Plan {
            notification,
            deliveries,
            answer: Accepted {
                id: notification_id,
                deliveries: answer,
                replayed: false,
                ..Default::default()
            },
        })
    }

    /// Checks a workflow trigger: its fields, and that the workflow
    /// exists and is not archived; its current version.
    async fn check_runs(
        &self,
        req: &SendRequest,
        key: &str,
    ) -> Result<(Common, Option<i64>), Error> {
        let mut errors = Vec::new();
        let common = common(req, &mut errors);
        for (field, given) in [
            ("template", req.template.is_some()),
            ("content", req.content.is_some()),
            ("channels", req.channels.is_some()),
            ("dedup_key", req.dedup_key.is_some()),
        ] {
            if given {
                errors.push(FieldError::new(
                    field,
                    "leave it out with `workflow`: the workflow's steps name their templates and channels",
                ));
            }
        }
        if let Some(k) = &req.cancel_key {
            if k.is_empty() || k.len() > 255 {
                errors.push(FieldError::new("cancel_key", "must be 1 to 255 characters"));
            }
        }
        for (i, r) in req.to.iter().enumerate() {
            if !r.names_someone() && r.topic.is_none() {
                errors.push(
                    FieldError::new(format!("to[{i}]"), "give an id or an address")
                        .for_recipient(i),
                );
            }
        }
        let version = match self.store.get_version(Kind::Workflow, key, None).await? {
            None => {
                errors.push(FieldError::new(
                    "workflow",
                    format!("there is no workflow `{key}`"),
                ));
                None
            }
            Some(w) if w.archived_at.is_some() => {
                errors.push(FieldError::new(
                    "workflow",
                    format!("workflow `{key}` is archived"),
                ));
                None
            }
            Some(w) => Some(w.version),
        };
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        Ok((common, version))
    }
}

/// One recipient's run of workflow `key`: its row in the queue (channel
/// `workflow`) and how the answer shows it.
pub(crate) fn run_row(
    r: &RecipientInput,
    key: &str,
    status: Status,
    priority: Priority,
    due_at: i64,
) -> Result<(NewDelivery, DeliverySummary), Error> {
    let id = new_id();
    let recipient = r.label();
    Ok((
        NewDelivery {
            id: id.clone(),
            template_key: None,
            recipient: recipient.clone(),
            recipient_data: serde_json::to_string(r).map_err(anyhow::Error::from)?,
            channel: crate::domain::workflow::RUN_CHANNEL.to_string(),
            address: key.to_string(),
            content: super::workflows::Cursor::start(r).to_json(),
            status: status.as_str(),
            reason: None,
            priority: priority.rank(),
            due_at: Some(due_at),
            dedup: None,
            cap: None,
        },
        DeliverySummary {
            id,
            recipient,
            channel: crate::domain::workflow::RUN_CHANNEL.to_string(),
            status: status.to_string(),
            reason: None,
        },
    ))
}

impl Sender<'_> {
    /// A send to a topic: checked and rendered once as a send to one
    /// recipient with no profile would be (the template, its channels, a
    /// trial render in the request's locale), or checked as a workflow's
    /// trigger; then one row in the queue (channel `fanout`, its id the
    /// notification's) that the workers fan out in batches of subscribers.
    async fn plan_topic(&self, req: &SendRequest, topic: &str, now: i64) -> Result<Plan, Error> {
        let mut errors = Vec::new();
        common(req, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        if self.store.get_topic(topic).await?.is_none() {
            return Err(Error::Invalid(vec![FieldError::new(
                "to[0].topic",
                format!("there is no topic `{topic}`; create it with PUT /v1/topics/{topic}"),
            )
            .for_recipient(0)]));
        }
        let notification_id = new_id();
        let (mut notification, priority) = match &req.workflow {
            Some(key) => {
                let (c, version) = self.check_runs(req, key).await?;
                (
                    NotificationRow {
                        data: c.data.to_string(),
                        category: c.category.to_string(),
                        priority: c.priority.to_string(),
                        send_at: c.send_at,
                        workflow_key: Some(key.to_string()),
                        workflow_version: version,
                        cancel_key: req.cancel_key.clone(),
                        ..Default::default()
                    },
                    c.priority,
                )
            }
            None => {
                let (tpl, template_key, template_version) = self.resolve_template(req).await?;
                let p = self.prepare(req, &[], &tpl)?;
                if p.channels.is_empty() {
                    return Err(Error::invalid(
                        "channels",
                        "the template has no content for any enabled channel; name `channels` or add content",
                    ));
                }
                for &channel in &p.channels {
                    let parts = self
                        .renderer
                        .render_channel(&tpl, channel, req.locale.as_deref(), None, &p.data)
                        .await
                        .map_err(|e| Error::Invalid(vec![FieldError::new(e.field, e.message)]))?;
                    if let Some(parts) = &parts {
                        check_rendered(p.label, channel, parts)
                            .map_err(|e| Error::Invalid(vec![e]))?;
                    }
                }
                (
                    NotificationRow {
                        template_key,
                        template_version,
                        data: p.data.to_string(),
                        category: p.category.to_string(),
                        priority: p.priority.to_string(),
                        dedup_key: req.dedup_key.clone(),
                        send_at: p.send_at,
                        parent_run: self.parent_run.map(str::to_string),
                        ..Default::default()
                    },
                    p.priority,
                )
            }
        };
        notification.id = notification_id.clone();
        notification.locale = req.locale.clone();
        notification.created_at = now;
        let total = self.store.count_subscribers(topic, Some(now)).await?;
        let spec = super::topics::FanoutSpec {
            topic: topic.to_string(),
            channels: req.channels.clone(),
            content: req.content.clone(),
            workflow: req.workflow.clone(),
            total,
        };
        let (status, due_at) = match notification.send_at {
            Some(t) if t > now => (Status::Scheduled, t),
            _ => (Status::Queued, now),
        };
        let row = NewDelivery {
            id: notification_id.clone(),
            template_key: notification.template_key.clone(),
            recipient: format!("topic:{topic}"),
            recipient_data: serde_json::to_string(&spec).map_err(anyhow::Error::from)?,
            channel: super::topics::FANOUT_CHANNEL.to_string(),
            address: topic.to_string(),
            content: super::topics::FanoutPlace::default().to_json(),
            status: status.as_str(),
            reason: None,
            priority: priority.rank(),
            due_at: Some(due_at),
            dedup: None,
            cap: None,
        };
        Ok(Plan {
            notification,
            deliveries: vec![row],
            answer: Accepted {
                id: notification_id,
                deliveries: Vec::new(),
                replayed: false,
                recipients: Some("pending".to_string()),
                topic: Some(topic.to_string()),
                total: Some(total),
            },
        })
    }
}

/// What every send checks the same way, a workflow's trigger too.
struct Common {
    data: Value,
    category: Category,
    priority: Priority,
    send_at: Option<i64>,
}

/// Checks the fields every send has: `to`'s length and each entry, `data`,
/// `category`, `priority` (auth is always high), `locale`, `dedup_key`,
/// `send_at`.
fn common(req: &SendRequest, errors: &mut Vec<FieldError>) -> Common {
    if req.to.is_empty() || req.to.len() > MAX_RECIPIENTS {
        errors.push(FieldError::new(
            "to",
            format!("give 1 to {MAX_RECIPIENTS} recipients"),
        ));
    } else if req.to.len() > 1 && req.to.iter().any(|r| r.topic.is_some()) {
        errors.push(FieldError::new(
            "to",
            "a send to a topic has that topic as its only `to` entry; send to each topic (or to other recipients) in a request of its own",
        ));
    }
    let data = req
        .data
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if !data.is_object() {
        errors.push(FieldError::new("data", "must be a JSON object"));
    }
    let category = match &req.category {
        None => Category::Transactional,
        Some(c) => Category::parse(c).unwrap_or_else(|m| {
            errors.push(FieldError::new("category", m));
            Category::Transactional
        }),
    };
    let mut priority = match &req.priority {
        None => Priority::Normal,
        Some(p) => Priority::parse(p).unwrap_or_else(|m| {
            errors.push(FieldError::new("priority", m));
            Priority::Normal
        }),
    };
    if category == Category::Auth {
        priority = Priority::High;
    }
    if let Some(Err(m)) = req.locale.as_deref().map(Locale::check) {
        errors.push(FieldError::new("locale", m));
    }
    if let Some(k) = &req.dedup_key {
        if k.is_empty() || k.len() > 255 {
            errors.push(FieldError::new("dedup_key", "must be 1 to 255 characters"));
        }
    }
    let send_at = match &req.send_at {
        None => None,
        Some(s) => match parse_rfc3339(s) {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new(
                    "send_at",
                    "must be an RFC 3339 time such as 2026-12-01T09:00:00Z",
                ));
                None
            }
        },
    };
    for (i, r) in req.to.iter().enumerate() {
        check_recipient(i, r, errors);
    }
    Common {
        data,
        category,
        priority,
        send_at,
    }
}

/// A `to` entry with its stored profile applied.
pub struct Resolved {
    pub input: RecipientInput,
    pub preferences: Preferences,
    pub quiet_hours: Option<QuietHours>,
    /// Whether `input.id` names a stored profile.
    pub stored: bool,
}

impl Resolved {
    /// `r` with the stored profile `p` (its id's) applied: `r`'s own
    /// fields override the profile's.
    pub fn with_profile(r: &RecipientInput, p: &crate::store::RecipientRow) -> Resolved {
        Resolved {
            input: RecipientInput {
                id: r.id.clone(),
                email: r.email.clone().or_else(|| p.email.clone()),
                phone: r.phone.clone().or_else(|| p.phone.clone()),
                webhook_url: r.webhook_url.clone().or_else(|| p.webhook_url.clone()),
                chat: r.chat.clone().or_else(|| p.chat.clone()),
                locale: r.locale.clone().or_else(|| p.locale.clone()),
                timezone: r.timezone.clone().or_else(|| p.timezone.clone()),
                topic: None,
            },
            preferences: Preferences::from_json(&p.preferences),
            quiet_hours: p.quiet_hours.as_deref().and_then(QuietHours::from_json),
            stored: true,
        }
    }
}

struct Plan {
    notification: NotificationRow,
    deliveries: Vec<NewDelivery>,
    answer: Accepted,
}

/// What a send decides once for all its recipients.
pub(crate) struct Prepared {
    pub data: Value,
    pub category: Category,
    pub priority: Priority,
    pub send_at: Option<i64>,
    pub channels: Vec<Channel>,
    /// How the request names its channels (`content` or `channels`).
    pub label: &'static str,
}

impl Sender<'_> {
    /// The answer to a repeated Idempotency-Key: the first answer's
    /// notification and deliveries, marked `replayed`, with each delivery's
    /// status as it is now (a replay long after the first answer must not
    /// say `queued` of a delivery that has since failed).
    async fn replay(&self, rec: IdempotencyRecord, hash: &str) -> Result<SendAnswer, Error> {
        if rec.request_hash != hash {
            return Err(Error::Conflict(
                "this Idempotency-Key was used with a different request body; use a new key for a new request".into(),
            ));
        }
        let body = match serde_json::from_str::<Accepted>(&rec.response_body) {
            Ok(mut answer) => {
                // A send to a topic answered with no deliveries (they are
                // made later, maybe a million): nothing to read.
                let now: HashMap<String, crate::store::DeliveryRow> =
                    if answer.deliveries.is_empty() {
                        HashMap::new()
                    } else {
                        self.store
                            .deliveries_of(&answer.id)
                            .await?
                            .into_iter()
                            .map(|d| (d.id.clone(), d))
                            .collect()
                    };
                for d in &mut answer.deliveries {
                    if let Some(row) = now.get(&d.id) {
                        d.status = row.status.clone();
                        d.reason = row.reason.clone();
                    }
                }
                answer.replayed = true;
                serde_json::to_string(&answer).map_err(anyhow::Error::from)?
            }
            // Not an answer this version wrote: give it back as it was.
            Err(_) => rec.response_body,
        };
        Ok(SendAnswer {
            status: rec.response_status as u16,
            body,
            replayed: true,
            suppressed: Vec::new(),
            template: None,
        })
    }
}

/// The (channel, reason) of an answer's suppressed deliveries.
fn suppressed(answer: &Accepted) -> Vec<(Channel, Option<Reason>)> {
    answer
        .deliveries
        .iter()
        .filter(|d| d.status == Status::Suppressed.as_str())
        .filter_map(|d| {
            let reason = d.reason.as_deref().and_then(|r| Reason::parse(r).ok());
            Some((Channel::parse(&d.channel).ok()?, reason))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_subjects_and_links_are_checked_by_their_part() {
        let parts = |k: &str, v: &str| crate::render::Parts::from([(k.to_string(), v.to_string())]);
        let e = check_rendered(
            "content",
            Channel::InApp,
            &parts("action_url", "javascript:alert(1)"),
        )
        .unwrap_err();
        assert_eq!(e.field, "content.in_app.action_url");
        let e = check_rendered(
            "channels",
            Channel::Email,
            &parts("subject", "Hi\u{b}there"),
        )
        .unwrap_err();
        assert_eq!(e.field, "channels.email.subject");
        assert!(check_rendered(
            "content",
            Channel::Email,
            &parts("subject", "订单 7 已发货")
        )
        .is_ok());
        assert!(check_rendered("content", Channel::Sms, &parts("text", "a\nb")).is_ok());
    }
}
