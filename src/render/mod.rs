//! Templates → per-channel content. Sources are compiled once per template
//! version and cached; rendering is strict (a variable missing from `data`
//! is an error). `html` parts escape HTML, helpers' output included;
//! every other part is written as is. Webhook bodies must render to valid
//! JSON; the `json` helper writes any value as JSON so data can't break the
//! body.
//!
//! Whoever can send inline `content` or preview a draft writes templates, so
//! nothing a template does may reach past its part: compiling refuses what
//! could not be rendered within bounds (a partial that includes itself, too
//! much nesting, too long a source; see [`check`]), and rendering runs on
//! threads of its own (see `pool`) within a deadline, a number of steps and
//! an output size per part (see `budget`, and `[render]` in the settings).
//! Compiled templates are cached within a byte budget (see `cache`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use handlebars::{
    template::TemplateElement, Context, Handlebars, RenderContext, RenderErrorReason, Renderable,
    Template,
};
use serde::{Deserialize, Serialize};

pub use crate::config::RenderConfig;
use crate::domain::Channel;
use cache::ByteCache;

mod budget;
mod cache;
pub mod check;
pub mod files;
#[cfg(test)]
mod fuzz;
pub mod helpers;
mod pool;
pub mod shared;

/// The parts of the channel named `channel` ([`Channel::parts`]), if it
/// is one.
pub fn known_parts(channel: &str) -> Option<&'static [&'static str]> {
    Channel::parse(channel).ok().map(Channel::parts)
}

pub type Parts = BTreeMap<String, String>;

/// A template's sources: parts per channel, and per-locale overrides of any
/// part.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateContent {
    /// Handlebars sources of each part, by channel.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    pub channels: BTreeMap<String, Parts>,
    /// Overrides of any part, by locale then channel.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>)]
    pub locales: BTreeMap<String, BTreeMap<String, Parts>>,
    /// Flow-control settings of this template.
    #[serde(default, skip_serializing_if = "TemplateSettings::is_empty")]
    pub settings: TemplateSettings,
    /// A stored layout (`PUT /v1/layouts/{key}`) that wraps this
    /// template's email `html` and `text` parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
}

/// Per-template flow control: a dedup window instead of the configured
/// one, deduplication by rendered content, and a frequency cap on this
/// template per recipient and channel.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    /// A duration such as `10m`: how long a `dedup_key` suppresses
    /// repeats of this template (default: `flow.dedup_window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_window: Option<String>,
    /// Suppress a repeat of the same rendered content to the same
    /// recipient and channel within the dedup window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub content_dedup: bool,
    /// At most this many of this template per recipient and channel, e.g.
    /// `5/1d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<String>,
}

impl TemplateSettings {
    pub fn is_empty(&self) -> bool {
        self == &TemplateSettings::default()
    }

    /// Checks the settings; errors name `settings.<field>`.
    pub fn check(&self) -> Result<(), Vec<TemplateError>> {
        let mut errors = Vec::new();
        if let Some(w) = &self.dedup_window {
            if humantime::parse_duration(w)
                .map(|d| d.is_zero())
                .unwrap_or(true)
            {
                errors.push(TemplateError {
                    field: "settings.dedup_window".into(),
                    message: "a duration such as 10m or 24h".into(),
                });
            }
        }
        if let Some(c) = &self.frequency_cap {
            if let Err(m) = crate::domain::Rate::parse(c) {
                errors.push(TemplateError {
                    field: "settings.frequency_cap".into(),
                    message: m,
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn dedup_window_ms(&self) -> Option<i64> {
        self.dedup_window
            .as_deref()
            .and_then(|w| humantime::parse_duration(w).ok())
            .map(|d| d.as_millis() as i64)
    }

    pub fn cap(&self) -> Option<crate::domain::Rate> {
        self.frequency_cap
            .as_deref()
            .and_then(|c| crate::domain::Rate::parse(c).ok())
    }
}

/// A problem with a template or its rendering, naming where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateError {
    pub field: String,
    pub message: String,
}

impl From<TemplateError> for crate::domain::FieldError {
    fn from(e: TemplateError) -> Self {
        crate::domain::FieldError::new(e.field, e.message)
    }
}

type PartKey = (String, String, String); // (locale or "", channel, part)

pub struct Compiled {
    parts: HashMap<PartKey, Template>,
    pub settings: TemplateSettings,
    channels: Vec<Channel>,
    /// How errors name the channels: `channels` (stored) or `content` (inline).
    label: String,
    /// No part has a block, a partial or a decorator: rendering one costs
    /// no more than reading its source and the values it names.
    flat: bool,
}

/// Compiles and renders templates on the render threads, within the limits
/// of `[render]`, keeping compiled templates in byte-bounded caches.
#[derive(Clone)]
pub struct Renderer {
    inner: Arc<Inner>,
}

struct Inner {
    text: Handlebars<'static>,
    html: Handlebars<'static>,
    limits: RenderConfig,
    cache: Mutex<ByteCache<(String, i64, String), Arc<Compiled>>>,
    inline_cache: Mutex<ByteCache<String, Arc<Compiled>>>,
}

fn registry(escape_html: bool) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    if !escape_html {
        hb.register_escape_fn(handlebars::no_escape);
    }
    hb.register_helper("each", Box::new(budget::CountingEach));
    hb.register_helper(budget::STEP_HELPER, Box::new(budget::step_helper));
    crate::render::helpers::register(&mut hb);
    hb
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new(&RenderConfig::default())
    }
}

/// Where to look for a part, best first: the locale, its language, the default.
fn locale_chain(locale: Option<&str>) -> Vec<String> {
    let mut chain = Vec::new();
    if let Some(l) = locale.filter(|l| !l.is_empty()) {
        chain.push(l.to_string());
        if let Some((lang, _)) = l.split_once(['-', '_']) {
            chain.push(lang.to_string());
        }
    }
    chain.push(String::new());
    chain
}

/// `1048576` → `1 MiB`.
fn size(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The element every compiled inline partial starts with.
fn step_element() -> &'static handlebars::template::TemplateElement {
    static STEP: std::sync::OnceLock<handlebars::template::TemplateElement> =
        std::sync::OnceLock::new();
    STEP.get_or_init(|| {
        Template::compile(&format!("{{{{{}}}}}", budget::STEP_HELPER))
            .expect("the step marker compiles")
            .elements
            .remove(0)
    })
}

/// A stored template's content, or why it can't be read.
pub fn parse_stored(content: &str) -> Result<TemplateContent, Vec<TemplateError>> {
    serde_json::from_str(content).map_err(|e| {
        vec![TemplateError {
            field: "template".into(),
            message: format!("stored template is unreadable: {e}"),
        }]
    })
}

/// Parses a source within the size and nesting bounds, without the checks
/// that need every partial it includes to be there.
fn parse_only(source: &str, max_source: usize) -> Result<Template, String> {
    if source.len() > max_source {
        return Err(format!(
            "is {} long; a part may be at most {} (render.max_source_bytes)",
            size(source.len()),
            size(max_source)
        ));
    }
    let scan = check::scan(source);
    if scan.max_block_nesting() > check::MAX_NESTING {
        return Err(format!(
            "blocks are nested more than {} deep; flatten the template",
            check::MAX_NESTING
        ));
    }
    if scan.max_parens() > check::MAX_NESTING / 4 {
        return Err(format!(
            "subexpressions are nested more than {} deep",
            check::MAX_NESTING / 4
        ));
    }
    Template::compile(source).map_err(|e| check::describe_compile_error(source, &scan, &e))
}

/// Compiles one part's source, refusing what could not be rendered within
/// bounds (see [`check`]).
fn compile_part(source: &str, max_source: usize) -> Result<Template, String> {
    let mut t = parse_only(source, max_source)?;
    check::analyse(&mut t, step_element())?;
    Ok(t)
}

impl Compiled {
    /// Compiles every part with the default limits; see [`Compiled::compile_with`].
    pub fn compile(content: &TemplateContent, label: &str) -> Result<Compiled, Vec<TemplateError>> {
        Self::compile_with(content, label, RenderConfig::default().max_source_bytes)
    }

    /// Compiles every part; errors name `<label>.<channel>.<part>` (label is
    /// `channels` for stored templates, `content` for inline ones) or
    /// `locales.<locale>.<channel>.<part>`, with line and column.
    pub fn compile_with(
        content: &TemplateContent,
        label: &str,
        max_source: usize,
    ) -> Result<Compiled, Vec<TemplateError>> {
        let mut parts = HashMap::new();
        let mut errors = Vec::new();
        let mut add = |locale: &str,
                       channel: &str,
                       part_map: &Parts,
                       field: String,
                       errors: &mut Vec<TemplateError>| {
            let Some(allowed) = known_parts(channel) else {
                errors.push(TemplateError {
                    field,
                    message: format!(
                        "unknown channel `{channel}`; channels are {}",
                        Channel::names()
                    ),
                });
                return;
            };
            for (part, source) in part_map {
                let field = format!("{field}.{part}");
                if !allowed.contains(&part.as_str()) {
                    errors.push(TemplateError {
                        field,
                        message: format!(
                            "unknown part `{part}` for {channel}; its parts are {}",
                            allowed.join(", ")
                        ),
                    });
                    continue;
                }
                match compile_part(source, max_source) {
                    Ok(t) => {
                        parts.insert((locale.to_string(), channel.to_string(), part.clone()), t);
                    }
                    Err(message) => errors.push(TemplateError { field, message }),
                }
            }
        };
        for (channel, p) in &content.channels {
            add("", channel, p, format!("{label}.{channel}"), &mut errors);
        }
        for (locale, channels) in &content.locales {
            for (channel, p) in channels {
                add(
                    locale,
                    channel,
                    p,
                    format!("locales.{locale}.{channel}"),
                    &mut errors,
                );
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Every name was checked above, so each parses.
        let mut channels = Vec::new();
        let named = content.locales.values().flat_map(|per| per.keys());
        for c in content.channels.keys().chain(named) {
            match Channel::parse(c) {
                Ok(c) if !channels.contains(&c) => channels.push(c),
                _ => {}
            }
        }
        content.settings.check()?;
        let flat = parts.values().all(|t| flat(&t.elements));
        Ok(Compiled {
            flat,
            parts,
            channels,
            label: label.to_string(),
            settings: content.settings.clone(),
        })
    }

    /// Channels the template has content for.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
}

fn crashed(field: &str) -> Vec<TemplateError> {
    vec![TemplateError {
        field: field.into(),
        message: "could not be compiled (an internal error, logged)".into(),
    }]
}

/// The charge of a cached compiled template whose key and source are `n`
/// bytes.
fn cost(n: usize) -> usize {
    n.saturating_mul(cache::COMPILED_FACTOR).saturating_add(512)
}

impl Renderer {
    pub fn new(limits: &RenderConfig) -> Renderer {
        Renderer {
            inner: Arc::new(Inner {
                text: registry(false),
                html: registry(true),
                limits: limits.clone(),
                cache: Mutex::new(ByteCache::new(limits.template_cache_bytes)),
                inline_cache: Mutex::new(ByteCache::new(limits.inline_cache_bytes)),
            }),
        }
    }

    /// Compiles `content` (a draft, or a template being saved) on a render
    /// thread.
    pub async fn compile(
        &self,
        content: &TemplateContent,
        label: &str,
    ) -> Result<Arc<Compiled>, Vec<TemplateError>> {
        let content = content.clone();
        let label = label.to_string();
        let max = self.inner.limits.max_source_bytes;
        pool::run(move || Compiled::compile_with(&content, &label, max).map(Arc::new))
            .await
            .unwrap_or_else(|_| Err(crashed("channels")))
    }

    /// The compiled form of a stored template version, from the cache.
    pub async fn stored(
        &self,
        key: &str,
        version: i64,
        content: &str,
    ) -> Result<Arc<Compiled>, Vec<TemplateError>> {
        let cache_key = (key.to_string(), version, String::new());
        if let Some(c) = self.inner.cache.lock().unwrap().get(&cache_key) {
            return Ok(c);
        }
        let parsed = parse_stored(content)?;
        let compiled = self.compile(&parsed, "channels").await?;
        let charge = cost(key.len() + content.len());
        self.inner
            .cache
            .lock()
            .unwrap()
            .insert(cache_key, compiled.clone(), charge);
        Ok(compiled)
    }

    /// The compiled form of a stored template version with the layout and
    /// partials it names (see [`shared`]), cached under their versions too.
    pub async fn stored_shared(
        &self,
        key: &str,
        version: i64,
        content: &TemplateContent,
        shared: &shared::Shared,
    ) -> Result<Arc<Compiled>, Vec<TemplateError>> {
        let cache_key = (key.to_string(), version, shared.fingerprint());
        if let Some(c) = self.inner.cache.lock().unwrap().get(&cache_key) {
            return Ok(c);
        }
        let composed = shared::compose(content, shared);
        let size = serde_json::to_string(&composed).map_or(0, |t| t.len());
        let compiled = self.compile(&composed, "channels").await?;
        let charge = cost(key.len() + cache_key.2.len() + size);
        self.inner
            .cache
            .lock()
            .unwrap()
            .insert(cache_key, compiled.clone(), charge);
        Ok(compiled)
    }

    /// Checks that every part of `content` parses, on its own (before any
    /// layout or partial is composed in, so errors point into the
    /// template's own lines).
    pub async fn check_syntax(
        &self,
        content: &TemplateContent,
        label: &str,
    ) -> Result<(), Vec<TemplateError>> {
        let content = content.clone();
        let label = label.to_string();
        let max = self.inner.limits.max_source_bytes;
        pool::run(move || {
            let mut errors = Vec::new();
            for (channel, parts) in &content.channels {
                for (part, source) in parts {
                    if let Err(message) = parse_only(source, max) {
                        errors.push(TemplateError {
                            field: format!("{label}.{channel}.{part}"),
                            message,
                        });
                    }
                }
            }
            for (locale, chs) in &content.locales {
                for (channel, parts) in chs {
                    for (part, source) in parts {
                        if let Err(message) = parse_only(source, max) {
                            errors.push(TemplateError {
                                field: format!("locales.{locale}.{channel}.{part}"),
                                message,
                            });
                        }
                    }
                }
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        })
        .await
        .unwrap_or_else(|_| Err(crashed("channels")))
    }

    /// Checks that each named source (of a layout or partial) parses on
    /// its own.
    pub async fn check_sources(
        &self,
        sources: Vec<(String, String)>,
    ) -> Result<(), Vec<TemplateError>> {
        let max = self.inner.limits.max_source_bytes;
        pool::run(move || {
            let errors: Vec<TemplateError> = sources
                .iter()
                .filter_map(|(field, source)| {
                    parse_only(source, max).err().map(|message| TemplateError {
                        field: field.clone(),
                        message,
                    })
                })
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        })
        .await
        .unwrap_or_else(|_| Err(crashed("source")))
    }

    /// The compiled form of inline content (`content` in a send request),
    /// cached by its text so a client sending the same content each time
    /// compiles it once.
    pub async fn inline(
        &self,
        content: &TemplateContent,
    ) -> Result<Arc<Compiled>, Vec<TemplateError>> {
        let text = serde_json::to_string(content).unwrap_or_default();
        if let Some(c) = self.inner.inline_cache.lock().unwrap().get(&text) {
            return Ok(c);
        }
        let compiled = self.compile(content, "content").await?;
        let charge = cost(text.len() * 2);
        self.inner
            .inline_cache
            .lock()
            .unwrap()
            .insert(text, compiled.clone(), charge);
        Ok(compiled)
    }

    /// Bytes charged to the inline cache.
    pub fn inline_cache_bytes(&self) -> usize {
        self.inner.inline_cache.lock().unwrap().used()
    }

    /// Renders every part of `channel` for `locale` (falling back to its
    /// language, then the default), on a render thread and within the
    /// limits of `[render]`. `Ok(None)` if the template has no content for
    /// the channel.
    pub async fn render_channel(
        &self,
        tpl: &Arc<Compiled>,
        channel: Channel,
        locale: Option<&str>,
        timezone: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<Option<Parts>, TemplateError> {
        let failed = |_| {
            Err(TemplateError {
                field: format!("{}.{channel}", tpl.label),
                message: "could not be rendered (an internal error, logged)".into(),
            })
        };
        // A flat template over small data renders in less time than the
        // hand-off to a render thread takes: here.
        if tpl.flat && small(data) {
            return pool::catching(|| {
                self.inner
                    .render_channel(tpl, channel, locale, timezone, data.clone())
            })
            .unwrap_or_else(failed);
        }
        let inner = self.inner.clone();
        let tpl = tpl.clone();
        let (locale, timezone, data) = (
            locale.map(str::to_string),
            timezone.map(str::to_string),
            data.clone(),
        );
        pool::run(move || {
            inner.render_channel(&tpl, channel, locale.as_deref(), timezone.as_deref(), data)
        })
        .await
        .unwrap_or_else(failed)
    }
}

/// Whether elements are only text, comments and expressions (each bounded
/// by the source's nesting limit): no loops, partials or decorators.
fn flat(elements: &[TemplateElement]) -> bool {
    elements.iter().all(|e| {
        matches!(
            e,
            TemplateElement::RawString(_)
                | TemplateElement::Comment(_)
                | TemplateElement::Expression(_)
                | TemplateElement::HtmlExpression(_)
        )
    })
}

/// Data a flat template renders from on the calling thread: at most
/// [`SMALL_NODES`] values and [`SMALL_BYTES`] of strings and keys, so
/// copying it into the render context is as cheap as the hand-off it saves.
fn small(data: &serde_json::Value) -> bool {
    fn walk(v: &serde_json::Value, nodes: &mut usize, bytes: &mut usize) -> bool {
        *nodes += 1;
        if *nodes > SMALL_NODES || *bytes > SMALL_BYTES {
            return false;
        }
        match v {
            serde_json::Value::String(s) => {
                *bytes += s.len();
                *bytes <= SMALL_BYTES
            }
            serde_json::Value::Array(a) => a.iter().all(|v| walk(v, nodes, bytes)),
            serde_json::Value::Object(o) => o.iter().all(|(k, v)| {
                *bytes += k.len();
                walk(v, nodes, bytes)
            }),
            _ => true,
        }
    }
    walk(data, &mut 0, &mut 0)
}

const SMALL_NODES: usize = 256;
const SMALL_BYTES: usize = 16 << 10;

impl Inner {
    fn render_channel(
        &self,
        tpl: &Compiled,
        channel: Channel,
        locale: Option<&str>,
        timezone: Option<&str>,
        mut data: serde_json::Value,
    ) -> Result<Option<Parts>, TemplateError> {
        let allowed = channel.parts();
        if let Some(obj) = data.as_object_mut() {
            obj.insert(
                crate::render::helpers::CONTEXT_KEY.into(),
                serde_json::json!({"locale": locale, "timezone": timezone}),
            );
        }
        // The data is the caller's copy: the context takes it as it is.
        let ctx = Context::from(data);
        let chain = locale_chain(locale);
        let mut out = Parts::new();
        for part in allowed {
            let found = chain.iter().find_map(|l| {
                tpl.parts
                    .get(&(l.clone(), channel.to_string(), part.to_string()))
                    .map(|t| (l, t))
            });
            let Some((l, t)) = found else { continue };
            let registry = if *part == "html" {
                &self.html
            } else {
                &self.text
            };
            let (max_bytes, max_key) = self.limits.max_output(channel.as_str(), part);
            let deadline = std::time::Instant::now() + self.limits.timeout;
            let (rendered, exceeded) = budget::with_budget(deadline, self.limits.max_steps, || {
                let mut rc = RenderContext::new(None);
                let mut output = budget::BoundedOutput::new(max_bytes);
                t.render(registry, &ctx, &mut rc, &mut output)
                    .map(|()| output.into_string())
            });
            // What an error names: built only when there is one.
            let where_ = || {
                if l.is_empty() {
                    format!("{channel}.{part}")
                } else {
                    format!("{channel}.{part} ({l})")
                }
            };
            let part_field = || {
                if l.is_empty() {
                    format!("{}.{channel}.{part}", tpl.label)
                } else {
                    format!("locales.{l}.{channel}.{part}")
                }
            };
            if let Some(limit) = exceeded {
                let where_ = where_();
                let message = match limit {
                    budget::Exceeded::Output => format!(
                        "{where_} renders to more than {} ({max_key})",
                        size(max_bytes)
                    ),
                    budget::Exceeded::Time => format!(
                        "{where_} took longer than {} to render (render.timeout)",
                        humantime::format_duration(self.limits.timeout)
                    ),
                    budget::Exceeded::Steps => format!(
                        "{where_} takes more than {} loop iterations and partial inclusions to render (render.max_steps)",
                        self.limits.max_steps
                    ),
                };
                return Err(TemplateError {
                    field: part_field(),
                    message,
                });
            }
            let rendered = rendered.map_err(|e| match e.reason() {
                RenderErrorReason::MissingVariable(Some(name)) => TemplateError {
                    field: format!("data.{name}"),
                    message: format!("`{name}` is used by {} but missing from data", where_()),
                },
                other => TemplateError {
                    field: "data".into(),
                    message: format!("{}: {other}", where_()),
                },
            })?;
            out.insert(part.to_string(), rendered);
        }
        if out.is_empty() {
            return Ok(None);
        }
        if channel == Channel::Webhook {
            if let Some(body) = out.get("body") {
                if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(body) {
                    return Err(TemplateError {
                        field: format!("{}.webhook.body", tpl.label),
                        message: format!("webhook.body must render to JSON, but it does not ({e}); use {{{{json name}}}} to write values"),
                    });
                }
            }
        }
        if channel == Channel::Chat {
            if let Some(blocks) = out.get("blocks").filter(|b| !b.trim().is_empty()) {
                if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(blocks) {
                    return Err(TemplateError {
                        field: format!("{}.chat.blocks", tpl.label),
                        message: format!("chat.blocks (Slack Block Kit) must render to JSON, but it does not ({e}); use {{{{json name}}}} to write values"),
                    });
                }
            }
        }
        Ok(Some(out))
    }
}

/// Renders a one-off text template (no HTML escaping, strict, with the
/// `json` helper), e.g. a provider's request body. Compile errors and
/// missing variables come back as a message.
pub fn render_text(source: &str, data: &serde_json::Value) -> Result<String, String> {
    thread_local! {
        static TEXT: Handlebars<'static> = registry(false);
    }
    TEXT.with(|hb| hb.render_template(source, data).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(v: serde_json::Value) -> TemplateContent {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn renders_strictly_and_names_the_missing_variable() {
        let r = Renderer::default();
        let c = Compiled::compile(
            &content(json!({"channels": {"sms": {"text": "Hi {{name}}"}}})),
            "channels",
        )
        .unwrap();
        let ok = r
            .inner
            .render_channel(&c, Channel::Sms, None, None, json!({"name": "Ana"}))
            .unwrap()
            .unwrap();
        assert_eq!(ok["text"], "Hi Ana");
        let err = r
            .inner
            .render_channel(&c, Channel::Sms, None, None, json!({}))
            .unwrap_err();
        assert_eq!(err.field, "data.name");
    }

    #[test]
    fn html_escapes_text_does_not() {
        let r = Renderer::default();
        let c = Compiled::compile(
            &content(json!({"channels": {"email": {"subject": "{{x}}", "html": "<p>{{x}}</p>", "text": "{{x}}"}}})),
            "channels",
        )
        .unwrap();
        let p = r
            .inner
            .render_channel(&c, Channel::Email, None, None, json!({"x": "<b>&"}))
            .unwrap()
            .unwrap();
        assert_eq!(p["html"], "<p>&lt;b&gt;&amp;</p>");
        assert_eq!(p["text"], "<b>&");
        assert_eq!(p["subject"], "<b>&");
    }

    #[test]
    fn webhook_bodies_must_be_json_and_the_json_helper_keeps_them_so() {
        let r = Renderer::default();
        let c = Compiled::compile(
            &content(json!({"channels": {"webhook": {"body": "{\"n\": {{json n}} }"}}})),
            "channels",
        )
        .unwrap();
        let p = r
            .inner
            .render_channel(
                &c,
                Channel::Webhook,
                None,
                None,
                json!({"n": "a \"quoted\" name"}),
            )
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&p["body"]).unwrap();
        assert_eq!(v["n"], "a \"quoted\" name");
        let bad = Compiled::compile(
            &content(json!({"channels": {"webhook": {"body": "{\"n\": {{n}} }"}}})),
            "channels",
        )
        .unwrap();
        let e = r
            .inner
            .render_channel(&bad, Channel::Webhook, None, None, json!({"n": "text"}))
            .unwrap_err();
        assert!(e.message.contains("JSON"), "{e:?}");
        let e = r
            .inner
            .render_channel(&c, Channel::Webhook, None, None, json!({}))
            .unwrap_err();
        assert_eq!(e.field, "data.n");
    }

    #[test]
    fn compile_errors_name_channel_part_line_and_column() {
        let e = Compiled::compile(
            &content(json!({"channels": {"sms": {"text": "ok\n{{#if x}}never closed"}}})),
            "channels",
        )
        .err()
        .unwrap();
        assert_eq!(e[0].field, "channels.sms.text");
        assert!(e[0].message.contains("line"), "{:?}", e[0]);
        let e = Compiled::compile(
            &content(json!({"channels": {"fax": {"text": "x"}}})),
            "channels",
        )
        .err()
        .unwrap();
        assert_eq!(e[0].field, "channels.fax");
    }

    #[test]
    fn locale_falls_back_to_language_then_default() {
        let r = Renderer::default();
        let c = Compiled::compile(
            &content(json!({"channels": {"sms": {"text": "Shipped"}}, "locales": {"zh": {"sms": {"text": "已发货"}}}})),
            "channels",
        )
        .unwrap();
        let d = json!({});
        assert_eq!(
            r.inner
                .render_channel(&c, Channel::Sms, Some("zh-TW"), None, d.clone())
                .unwrap()
                .unwrap()["text"],
            "已发货"
        );
        assert_eq!(
            r.inner
                .render_channel(&c, Channel::Sms, Some("pt-BR"), None, d.clone())
                .unwrap()
                .unwrap()["text"],
            "Shipped"
        );
        assert_eq!(
            r.inner
                .render_channel(&c, Channel::Sms, None, None, d.clone())
                .unwrap()
                .unwrap()["text"],
            "Shipped"
        );
    }

    fn one(channel: &str, part: &str, source: &str) -> TemplateContent {
        content(json!({"channels": {channel: {part: source}}}))
    }

    fn compile_err(channel: &str, part: &str, source: &str) -> TemplateError {
        Compiled::compile(&one(channel, part, source), "channels")
            .err()
            .expect("refused")
            .remove(0)
    }

    fn render_one(
        r: &Renderer,
        channel: &str,
        part: &str,
        source: &str,
        data: serde_json::Value,
    ) -> Result<String, TemplateError> {
        let c = Compiled::compile(&one(channel, part, source), "channels").unwrap();
        r.inner
            .render_channel(&c, Channel::parse(channel).unwrap(), None, None, data)
            .map(|p| p.unwrap()[part].clone())
    }

    #[test]
    fn recursive_partials_are_refused_naming_the_part_and_the_chain() {
        let e = compile_err("sms", "text", "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}");
        assert_eq!(e.field, "channels.sms.text");
        assert_eq!(e.message, "partial `p` includes itself (p → p)");
        let e = compile_err(
            "email",
            "html",
            "{{#*inline \"a\"}}<b>{{#if x}}{{> b}}{{/if}}</b>{{/inline}}{{#*inline \"b\"}}{{> a}}{{/inline}}{{> a}}",
        );
        assert_eq!(e.field, "channels.email.html");
        assert_eq!(e.message, "partial `a` includes itself (a → b → a)");
        let e = compile_err("sms", "text", "{{> nowhere}}");
        assert!(
            e.message.contains("partial `nowhere` is not defined"),
            "{e:?}"
        );
        let e = compile_err("sms", "text", "{{> (lookup this \"p\")}}");
        assert!(e.message.contains("written out"), "{e:?}");
        let e = compile_err(
            "sms",
            "text",
            "{{#*inline \"p\"}}x{{/inline}}{{#> p}}fallback{{/p}}",
        );
        assert!(e.message.contains("partial blocks"), "{e:?}");
        let e = compile_err(
            "sms",
            "text",
            "{{#*inline \"p\"}}x{{/inline}}{{#*inline \"p\"}}y{{/inline}}{{> p}}",
        );
        assert!(e.message.contains("defined more than once"), "{e:?}");

        // Partials that don't include themselves still work.
        let r = Renderer::default();
        let out = render_one(
            &r,
            "sms",
            "text",
            "{{#*inline \"item\"}}[{{this}}]{{/inline}}{{#*inline \"list\"}}{{#each items}}{{> item}}{{/each}}{{/inline}}{{> list}}",
            json!({"items": ["a", "b"]}),
        )
        .unwrap();
        assert_eq!(out, "[a][b]");
    }

    #[test]
    fn nesting_and_source_size_are_bounded_before_parsing() {
        let deep = format!("{}x{}", "{{#if a}}".repeat(5000), "{{/if}}".repeat(5000));
        let e = compile_err("sms", "text", &deep);
        assert!(e.message.contains("nested more than"), "{e:?}");
        let parens = format!(
            "{{{{default {}x{} \"y\"}}}}",
            "(default ".repeat(200),
            " 1)".repeat(200)
        );
        let e = compile_err("sms", "text", &parens);
        assert!(e.message.contains("nested more than"), "{e:?}");
        // A chain of partials, each within the last, deeper than the bound.
        let mut chain = String::new();
        for i in 0..(check::MAX_NESTING + 5) {
            chain.push_str(&format!(
                "{{{{#*inline \"p{i}\"}}}}{{{{> p{}}}}}{{{{/inline}}}}",
                i + 1
            ));
        }
        chain.push_str(&format!(
            "{{{{#*inline \"p{}\"}}}}end{{{{/inline}}}}{{{{> p0}}}}",
            check::MAX_NESTING + 5
        ));
        let e = compile_err("sms", "text", &chain);
        assert!(e.message.contains("nested more than"), "{e:?}");
        let big = "x".repeat(300_000);
        let e = Compiled::compile_with(&one("sms", "text", &big), "content", 262_144)
            .err()
            .unwrap()
            .remove(0);
        assert_eq!(e.field, "content.sms.text");
        assert!(
            e.message
                .contains("at most 256 KiB (render.max_source_bytes)"),
            "{e:?}"
        );
    }

    #[test]
    fn output_steps_and_time_are_bounded_per_part() {
        let items: Vec<u32> = (0..150).collect();
        let nested = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}x{{/each}}{{/each}}{{/each}}{{/each}}";
        let r = Renderer::default();
        let started = std::time::Instant::now();
        let e = render_one(&r, "sms", "text", nested, json!({"a": items})).unwrap_err();
        assert_eq!(e.field, "channels.sms.text");
        assert_eq!(
            e.message,
            "sms.text renders to more than 64 KiB (render.max_sms_text_bytes)"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));

        let limits = RenderConfig {
            max_steps: 1000,
            ..RenderConfig::default()
        };
        let r = Renderer::new(&limits);
        let e = render_one(
            &r,
            "webhook",
            "body",
            "{{#each a}}{{/each}}1",
            json!({"a": vec![0; 1001]}),
        )
        .unwrap_err();
        assert!(e.message.contains("(render.max_steps)"), "{e:?}");
        assert!(render_one(
            &r,
            "webhook",
            "body",
            "{{#each a}}{{/each}}1",
            json!({"a": vec![0; 999]})
        )
        .is_ok());
        // Partial inclusions count as steps too: 10^6 inclusions, no loop.
        let mut fan = String::new();
        for i in 0..6 {
            fan.push_str(&format!(
                "{{{{#*inline \"p{i}\"}}}}{}{{{{/inline}}}}",
                format!("{{{{> p{}}}}}", i + 1).repeat(10)
            ));
        }
        fan.push_str("{{#*inline \"p6\"}}{{/inline}}{{> p0}}1");
        let e = render_one(&r, "webhook", "body", &fan, json!({})).unwrap_err();
        assert!(e.message.contains("(render.max_steps)"), "{e:?}");

        // Work that writes nothing is stopped by the clock.
        let limits = RenderConfig {
            timeout: std::time::Duration::from_millis(100),
            max_steps: u64::MAX,
            ..RenderConfig::default()
        };
        let r = Renderer::new(&limits);
        let started = std::time::Instant::now();
        let silent = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}{{/each}}{{/each}}{{/each}}{{/each}}1";
        let e = render_one(
            &r,
            "webhook",
            "body",
            silent,
            json!({"a": (0..150).collect::<Vec<_>>()}),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "webhook.body took longer than 100ms to render (render.timeout)"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn flat_templates_over_small_data_render_on_the_calling_thread_within_the_same_bounds() {
        let flat = |src: &str| {
            Compiled::compile(&one("sms", "text", src), "content")
                .unwrap()
                .flat
        };
        assert!(flat(
            "Hi {{name}}, {{date at \"%Y\"}} {{default x \"-\"}} {{!-- note --}}"
        ));
        assert!(!flat("{{#each a}}x{{/each}}"));
        assert!(!flat("{{#if a}}x{{/if}}"));
        assert!(!flat("{{#*inline \"p\"}}x{{/inline}}{{> p}}"));
        assert!(small(&json!({"name": "Ada", "items": [1, 2, 3]})));
        assert!(!small(&json!({"items": vec![0; 300]})));
        assert!(!small(&json!({"name": "x".repeat(20_000)})));

        // Rendered here, the output bound still holds and the error reads
        // as it does from a render thread.
        let limits = RenderConfig {
            max_output: vec![("sms.text", "render.max_sms_text_bytes", 100)],
            ..RenderConfig::default()
        };
        let r = Renderer::new(&limits);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let render = |source: &str, data: serde_json::Value| {
            let c = Arc::new(Compiled::compile(&one("sms", "text", source), "content").unwrap());
            rt.block_on(r.render_channel(&c, Channel::Sms, None, None, &data))
                .map(|p| p.unwrap()["text"].clone())
        };
        let before = pool::submitted_here();
        let e = render(&"{{s}}".repeat(20), json!({"s": "0123456789"})).unwrap_err();
        assert_eq!(e.field, "content.sms.text");
        assert!(e.message.contains("(render.max_sms_text_bytes)"), "{e:?}");
        assert_eq!(
            render("{{s}}!", json!({"s": "0123456789"})).unwrap(),
            "0123456789!"
        );
        assert_eq!(pool::submitted_here(), before, "rendered on this thread");
        // A loop, or large data, goes to a render thread.
        assert_eq!(
            render("{{#each a}}{{this}}{{/each}}", json!({"a": [1, 2]})).unwrap(),
            "12"
        );
        assert_eq!(pool::submitted_here(), before + 1);
        render("{{s}}", json!({"s": "y".repeat(20_000)})).unwrap_err();
        assert_eq!(pool::submitted_here(), before + 2);
    }

    #[test]
    fn each_behaves_as_handlebars_own() {
        let r = Renderer::default();
        let out = render_one(
            &r,
            "sms",
            "text",
            "{{#each list}}{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}={{this}}/{{../k}};{{/each}}\
             {{#each obj}}{{@key}}:{{this}}@{{@index}},{{/each}}\
             {{#each list as |v i|}}{{i}}{{v}}{{/each}}\
             {{#each obj as |v k|}}{{k}}{{v}}{{/each}}\
             {{#each empty}}never{{else}}none{{/each}}\
             {{#each rows}}{{name}}{{/each}}",
            json!({"list": ["a", "b", "c"], "k": "K", "obj": {"x": 1, "y": 2}, "empty": [],
                   "rows": [{"name": "r1"}, {"name": "r2"}]}),
        )
        .unwrap();
        assert_eq!(out, "0F=a/K;1=b/K;2L=c/K;x:1@0,y:2@1,0a1b2cx1y2noner1r2");
        let e =
            render_one(&r, "sms", "text", "{{#each nothing}}x{{/each}}", json!({})).unwrap_err();
        assert_eq!(e.field, "data.nothing");
    }

    #[test]
    fn every_helper_escapes_in_html_parts_unless_asked_for_raw() {
        let r = Renderer::default();
        let hostile = "Bob <script>\"x\" & 'y'</script>";
        let data = json!({"name": hostile, "n": hostile, "list": [hostile], "obj": {"k": hostile},
                          "t": "2026-03-08T14:30:00Z", "empty": ""});
        for (source, want) in [
            ("{{default name \"friend\"}}", "Bob &lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/script&gt;"),
            ("{{default empty \"<i>\"}}", "&lt;i&gt;"),
            ("{{json name}}", "&quot;Bob &lt;script&gt;\\&quot;x\\&quot; &amp; &#x27;y&#x27;&lt;/script&gt;&quot;"),
            ("{{lookup list 0}}", "Bob &lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/script&gt;"),
            ("{{lookup obj \"k\"}}", "Bob &lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/script&gt;"),
            ("{{json (default name \"x\")}}", "&quot;Bob &lt;script&gt;\\&quot;x\\&quot; &amp; &#x27;y&#x27;&lt;/script&gt;&quot;"),
            ("{{date t \"<%Y>\"}}", "&lt;2026&gt;"),
        ] {
            let out = render_one(&r, "email", "html", source, data.clone()).unwrap();
            assert_eq!(out, want, "{source}");
            assert!(!out.contains('<'), "{source}: {out}");
        }
        let e = render_one(&r, "email", "html", "{{number n}}", data.clone()).unwrap_err();
        assert!(e.message.contains("is not a number"), "{e:?}");
        // Raw where the template asks for it, and in parts that are not HTML.
        assert_eq!(
            render_one(
                &r,
                "email",
                "html",
                "{{{default name \"x\"}}}",
                data.clone()
            )
            .unwrap(),
            hostile
        );
        assert_eq!(
            render_one(&r, "email", "text", "{{default name \"x\"}}", data.clone()).unwrap(),
            hostile
        );
        // A date format chrono can't write is an error, not a panic.
        let e = render_one(&r, "sms", "text", "{{date t \"%Q\"}}", data).unwrap_err();
        assert!(e.message.contains("not a valid format"), "{e:?}");
    }

    #[test]
    fn shipped_templates_escape_hostile_data_in_html() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let templates = files::read_dir(&dir).unwrap();
        assert!(templates.len() >= 3);
        let r = Renderer::default();
        let h = "Bob <script>alert(\"x\")</script> & 'q'";
        let data = json!({"name": h, "order_id": h, "code": h, "tracking_url": h, "reset_url": h,
                          "minutes": h, "hours": h, "currency": h, "total": 1234.5,
                          "shipped_at": "2026-11-23T09:00:00Z"});
        for (key, content) in &templates {
            let c = Compiled::compile(content, "channels").unwrap();
            for locale in [None, Some("zh-CN")] {
                for channel in c.channels() {
                    let parts = r
                        .inner
                        .render_channel(&c, *channel, locale, Some("Asia/Shanghai"), data.clone())
                        .unwrap_or_else(|e| panic!("{key} {channel}: {e:?}"))
                        .unwrap();
                    if let Some(html) = parts.get("html") {
                        assert!(!html.contains("<script"), "{key} {locale:?}: {html}");
                        assert!(html.contains("&lt;script&gt;"), "{key} {locale:?}: {html}");
                    }
                }
            }
        }
    }

    #[test]
    fn compile_errors_say_which_block_is_unclosed_or_mismatched() {
        let e = compile_err("email", "html", "<p>\nHi\n{{#if name}}{{name}}\n</p>");
        assert_eq!(e.field, "channels.email.html");
        assert_eq!(
            e.message,
            "unclosed `{{#if name}}` opened at line 3: close it with `{{/if}}`"
        );
        let e = compile_err("sms", "text", "{{#if a}}\n{{#each xs}}x\n{{/if}}");
        assert_eq!(
            e.message,
            "line 3: `{{/if}}` closes `{{#each xs}}` opened at line 2"
        );
        let e = compile_err("sms", "text", "ok {{/if}}");
        assert_eq!(
            e.message,
            "line 1: `{{/if}}` closes a block that was never opened"
        );
        // Escaped tags and comments are not blocks.
        assert!(Compiled::compile(
            &one(
                "sms",
                "text",
                "\\{{#if}} {{!-- {{#if x}} --}} {{! {{/each}} }}"
            ),
            "c"
        )
        .is_ok());
        let e = compile_err("sms", "text", "line one\nthen {{foo bar=}}");
        assert!(e.message.starts_with("line 2, column"), "{e:?}");
        assert!(!e.message.contains("expected"), "{e:?}");
    }

    #[test]
    fn the_inline_cache_is_bounded_by_bytes() {
        let limits = RenderConfig {
            inline_cache_bytes: 4 << 20,
            ..RenderConfig::default()
        };
        let r = Renderer::new(&limits);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..20 {
                let big = format!("{i} {}", "x".repeat(200_000));
                r.inline(&one("sms", "text", &big)).await.unwrap();
                assert!(
                    r.inline_cache_bytes() <= 4 << 20,
                    "{}",
                    r.inline_cache_bytes()
                );
            }
            assert!(r.inline_cache_bytes() > 2 << 20, "it still caches");
        });
    }
}
