//! Templates as the API, the console and `missive templates import` change
//! them: save (compile-check, then a new version unless nothing changed),
//! read a version, activate (roll back or forward), archive, and preview
//! (render every channel with given data, refusing what a send would).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{AppState, Error, Result};
use crate::domain::check::check_timezone;
pub use crate::domain::check::valid_key;
use crate::domain::FieldError;
use crate::render::{Parts, Renderer, TemplateContent};
use crate::store::{Kind, Store};
use crate::util::now_ms;

/// Saves a new version of `key` if `content` compiles and differs from the
/// current one. Returns (version, whether it is new).
pub async fn save(
    store: &dyn Store,
    renderer: &Renderer,
    key: &str,
    name: &str,
    content: &TemplateContent,
) -> Result<(i64, bool)> {
    if !valid_key(key) {
        return Err(Error::invalid(
            "key",
            "1 to 100 letters, digits, '-', '_' or '.'",
        ));
    }
    if content.channels.is_empty() {
        return Err(Error::invalid(
            "channels",
            "give content for at least one channel",
        ));
    }
    super::layouts::compile_template(store, renderer, content, "channels").await?;
    let text = serde_json::to_string(content).expect("template content serialises");
    Ok(store
        .put_version(Kind::Template, key, name, &text, now_ms())
        .await?)
}

/// What to render a preview with.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The template's data (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    #[serde(default)]
    pub locale: Option<String>,
    /// An IANA timezone for date helpers.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Default: the current version.
    #[serde(default)]
    pub version: Option<i64>,
    /// Unsaved content to preview instead of a stored version (the
    /// template need not exist yet): `channels`, `locales`, `settings` as in
    /// `PUT`.
    #[serde(default)]
    pub draft: Option<TemplateContent>,
}

/// A preview: the version rendered (none for a draft) and each channel's
/// parts.
pub struct Rendered {
    pub version: Option<i64>,
    pub channels: BTreeMap<String, Parts>,
}

impl AppState {
    /// Renders every channel of a version (or of an unsaved draft) with
    /// the request's data, without sending anything. What a send would
    /// refuse (a script link, a broken subject line) is the same error here.
    pub async fn preview_template(&self, key: &str, req: PreviewRequest) -> Result<Rendered> {
        if let Some(tz) = &req.timezone {
            check_timezone(tz).map_err(|m| Error::invalid("timezone", m))?;
        }
        let (version, compiled) = match req.draft {
            Some(draft) => {
                if req.version.is_some() {
                    return Err(Error::invalid(
                        "version",
                        "give either a version or a draft, not both",
                    ));
                }
                let c = super::layouts::compile_template(
                    self.store.as_ref(),
                    &self.renderer,
                    &draft,
                    "channels",
                )
                .await?;
                (None, c)
            }
            None => {
                let t = self.versioned(Kind::Template, key, req.version).await?;
                let c = super::layouts::stored_template(
                    self.store.as_ref(),
                    &self.renderer,
                    &t.key,
                    t.version,
                    &t.content,
                )
                .await?;
                (Some(t.version), c)
            }
        };
        let data = req.data.unwrap_or_else(|| json!({}));
        if !data.is_object() {
            return Err(Error::invalid("data", "must be a JSON object"));
        }
        let mut channels = BTreeMap::new();
        let mut errors = Vec::new();
        for &channel in compiled.channels() {
            match self
                .renderer
                .render_channel(
                    &compiled,
                    channel,
                    req.locale.as_deref(),
                    req.timezone.as_deref(),
                    &data,
                )
                .await
            {
                Ok(Some(parts)) => match super::send::check_rendered("channels", channel, &parts) {
                    Ok(()) => {
                        channels.insert(channel.to_string(), parts);
                    }
                    Err(e) => errors.push(e),
                },
                Ok(None) => {}
                Err(e) => errors.push(FieldError::new(
                    e.field,
                    format!("{channel}: {}", e.message),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        Ok(Rendered { version, channels })
    }
}
