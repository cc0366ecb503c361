//! Workflows as the API and the console change them: save (every step
//! read and bounded, and each send step's template checked to exist and to
//! have the channels the step sends on), and the dry run that says which
//! steps would run for given data and recipient.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::send::RecipientInput;
use super::templates::valid_key;
use super::{AppState, Error, Result};
use crate::domain::workflow::{preview, Action, StepPreview, Workflow};
use crate::domain::{Channel, FieldError};
use crate::render::{Parts, Renderer, TemplateContent};
use crate::store::{Kind, Store};
use crate::util::now_ms;

/// Most bytes a workflow's definition may take, as stored.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

/// The stored form of a definition: its description and steps, as the
/// author wrote them (serde_json's maps are ordered, so equal definitions
/// are equal text and an unchanged `PUT` keeps its version).
pub fn definition(description: Option<&str>, steps: Value) -> Value {
    let mut o = Map::new();
    if let Some(d) = description {
        o.insert("description".into(), Value::String(d.to_string()));
    }
    o.insert("steps".into(), steps);
    Value::Object(o)
}

/// Reads a definition and checks what it refers to: the templates its
/// send steps name and the inline content they carry.
pub async fn check(store: &dyn Store, renderer: &Renderer, def: &Value) -> Result<Workflow> {
    let wf = Workflow::parse(def).map_err(Error::Invalid)?;
    let mut errors = Vec::new();
    for (i, step) in wf.steps.iter().enumerate() {
        let Action::Send {
            channels,
            template,
            content,
            ..
        } = &step.action
        else {
            continue;
        };
        let at = format!("steps[{i}]");
        let has: Vec<Channel> = match (template, content) {
            (Some(key), _) => match store.get_version(Kind::Template, key, None).await? {
                None => {
                    errors.push(FieldError::new(
                        format!("{at}.template"),
                        format!("there is no template `{key}`"),
                    ));
                    continue;
                }
                Some(t) if t.archived_at.is_some() => {
                    errors.push(FieldError::new(
                        format!("{at}.template"),
                        format!("template `{key}` is archived"),
                    ));
                    continue;
                }
                Some(t) => {
                    match super::layouts::stored_template(
                        store, renderer, &t.key, t.version, &t.content,
                    )
                    .await
                    {
                        Ok(c) => c.channels().to_vec(),
                        Err(Error::Invalid(e)) => {
                            errors.extend(e);
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
            },
            (None, Some(parts)) => {
                let label = format!("{at}.content");
                let channels: BTreeMap<String, Parts> =
                    match serde_json::from_value(Value::Object(parts.clone())) {
                        Ok(c) => c,
                        Err(_) => {
                            errors.push(FieldError::new(
                                label,
                                "must be parts per channel, each part a template source",
                            ));
                            continue;
                        }
                    };
                let content = TemplateContent {
                    channels,
                    locales: BTreeMap::new(),
                    settings: Default::default(),
                    layout: None,
                };
                match renderer.compile(&content, &label).await {
                    Ok(c) => c.channels().to_vec(),
                    Err(e) => {
                        errors.extend(e.into_iter().map(FieldError::from));
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        for c in channels.iter().filter(|c| !has.contains(c)) {
            let whose = match template {
                Some(key) => format!("template `{key}`"),
                None => "the inline content".to_string(),
            };
            errors.push(FieldError::new(
                at.clone(),
                format!(
                    "sends on {} but {whose} has no {} parts",
                    c.as_str(),
                    c.as_str()
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(wf)
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Saves a new version of `key` if `def` is a valid workflow and differs
/// from the current one. Returns (version, whether it is new).
pub async fn save(
    store: &dyn Store,
    renderer: &Renderer,
    key: &str,
    name: &str,
    def: &Value,
) -> Result<(i64, bool)> {
    if !valid_key(key) {
        return Err(Error::invalid(
            "key",
            "1 to 100 letters, digits, '-', '_' or '.'",
        ));
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "1 to 200 characters"));
    }
    let text = serde_json::to_string(def).map_err(anyhow::Error::from)?;
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(Error::invalid(
            "steps",
            format!(
                "the definition takes {} bytes; the most is {MAX_DEFINITION_BYTES}",
                text.len()
            ),
        ));
    }
    check(store, renderer, def).await?;
    Ok(store
        .put_version(Kind::Workflow, key, name, &text, now_ms())
        .await?)
}

/// What to run a dry run with.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowPreviewRequest {
    /// The trigger's data (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// The recipient, as in a send's `to`: a stored profile's `id`,
    /// fields, or both.
    #[serde(default)]
    pub recipient: Option<RecipientInput>,
    /// Default: the current version.
    #[serde(default)]
    pub version: Option<i64>,
    /// An unsaved definition (`steps`, `description`) to try instead of a
    /// stored version; the workflow need not exist yet.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub draft: Option<Value>,
}

/// A dry run: the version tried (none for a draft) and each step.
pub struct DryRun {
    pub version: Option<i64>,
    pub steps: Vec<StepPreview>,
}

impl AppState {
    /// Which steps of a version (or a draft) would run for the request's
    /// data and recipient; nothing is sent or stored.
    pub async fn preview_workflow(&self, key: &str, req: WorkflowPreviewRequest) -> Result<DryRun> {
        let data = req.data.unwrap_or_else(|| json!({}));
        if !data.is_object() {
            return Err(Error::invalid("data", "must be a JSON object"));
        }
        let (version, wf) = match req.draft {
            Some(draft) => {
                if req.version.is_some() {
                    return Err(Error::invalid(
                        "version",
                        "give either a version or a draft, not both",
                    ));
                }
                (
                    None,
                    check(self.store.as_ref(), &self.renderer, &draft).await?,
                )
            }
            None => {
                let w = self.versioned(Kind::Workflow, key, req.version).await?;
                let def: Value = serde_json::from_str(&w.content).map_err(anyhow::Error::from)?;
                let wf = Workflow::parse(&def).map_err(Error::Invalid)?;
                (Some(w.version), wf)
            }
        };
        let recipient = match req.recipient {
            None => json!({}),
            Some(r) => {
                let sender = self.sender();
                let resolved = sender.with_profiles(std::slice::from_ref(&r)).await?;
                recipient_facts(&resolved[0].input)
            }
        };
        Ok(DryRun {
            version,
            steps: preview(&wf, &data, &recipient),
        })
    }
}

/// Where a run stands: the step it is at, how many times it has looked
/// at that step's delivery, when the step's delay ends, and the recipient.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cursor {
    pub step: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub looks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[serde(default)]
    pub to: RecipientInput,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Cursor {
    pub fn start(to: &RecipientInput) -> Cursor {
        Cursor {
            to: to.clone(),
            ..Default::default()
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a cursor serialises")
    }
}

/// What a condition's `recipient.…` path reads: the recipient's id,
/// addresses, locale and timezone, its stored profile applied.
pub fn recipient_facts(r: &RecipientInput) -> Value {
    serde_json::to_value(r).unwrap_or_else(|_| json!({}))
}

/// A run's status as the API and the console say it, from its row's:
/// `running`, `completed`, `failed` or `cancelled`.
pub fn run_status(row_status: &str) -> &'static str {
    match row_status {
        "sent" => "completed",
        "failed" => "failed",
        "cancelled" => "cancelled",
        _ => "running",
    }
}

/// Most runs `GET /v1/notifications/{id}` shows with their steps.
pub const MAX_RUNS_SHOWN: usize = 100;

/// A run as the notification shows it: its row, its workflow's steps
/// with what each did, and the deliveries each send step made.
pub struct RunState {
    pub row: crate::store::DeliveryRow,
    pub steps: Vec<StepState>,
}

pub struct StepState {
    pub id: String,
    pub kind: &'static str,
    pub summary: String,
    /// `pending`, `waiting`, `done`, `skipped`, `failed` or `cancelled`.
    pub state: String,
    /// When a pending or waiting step is next looked at.
    pub due_at: Option<i64>,
    pub detail: Option<String>,
    pub notification_id: Option<String>,
    pub deliveries: Vec<crate::store::DeliveryRow>,
}

impl AppState {
    /// The runs among a notification's rows (the first
    /// [`MAX_RUNS_SHOWN`]), each with its steps.
    pub async fn runs_of(
        &self,
        n: &crate::store::NotificationRow,
        rows: &[crate::store::DeliveryRow],
    ) -> Result<Vec<RunState>> {
        let (Some(key), Some(version)) = (&n.workflow_key, n.workflow_version) else {
            return Ok(Vec::new());
        };
        let wf = match self
            .store
            .get_version(Kind::Workflow, key, Some(version))
            .await?
        {
            Some(w) => serde_json::from_str::<Value>(&w.content)
                .ok()
                .and_then(|v| Workflow::parse(&v).ok()),
            None => None,
        };
        let Some(wf) = wf else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let runs = rows
            .iter()
            .filter(|r| r.channel == crate::domain::workflow::RUN_CHANNEL)
            .take(MAX_RUNS_SHOWN);
        for row in runs {
            let records = self.store.run_steps(&row.id).await?;
            let cursor: Option<Cursor> = serde_json::from_str(&row.content).ok();
            let at = cursor.map(|c| c.step).unwrap_or(0);
            let ended = matches!(row.status.as_str(), "sent" | "failed" | "cancelled");
            let mut steps = Vec::with_capacity(wf.steps.len());
            for (i, s) in wf.steps.iter().enumerate() {
                let rec = records.iter().find(|r| r.step == i as i64);
                let state = match rec {
                    Some(r) if r.state == "waiting" && row.status == "cancelled" => {
                        "cancelled".into()
                    }
                    Some(r) => r.state.clone(),
                    None if row.status == "cancelled" => "cancelled".into(),
                    None if ended => "not run".into(),
                    None => "pending".into(),
                };
                let due_at = (!ended && i == at).then_some(row.due_at).flatten();
                let deliveries = match rec.and_then(|r| r.notification_id.as_deref()) {
                    Some(nid) => self.store.deliveries_of(nid).await?,
                    None => Vec::new(),
                };
                steps.push(StepState {
                    id: s.id.clone(),
                    kind: crate::domain::workflow::kind(&s.action),
                    summary: crate::domain::workflow::summary(&s.action),
                    state,
                    due_at,
                    detail: rec.and_then(|r| r.detail.clone()),
                    notification_id: rec.and_then(|r| r.notification_id.clone()),
                    deliveries,
                });
            }
            out.push(RunState {
                row: row.clone(),
                steps,
            });
        }
        Ok(out)
    }
}
