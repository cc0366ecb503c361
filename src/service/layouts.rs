//! Shared layouts and partials as the API and the console change them, and
//! their resolution when a template is saved, previewed or sent: a
//! template's layout and the stored partials it reaches are read at their
//! current version and composed into it (see [`crate::render::shared`]).

use std::sync::Arc;

use serde_json::Value;

use super::{AppState, Error, Result};
use crate::domain::FieldError;
use crate::render::shared::{
    self, compose, layout_sources, partial_sources, partial_wants, wanted, LayoutContent,
    PartialContent, Shared, MAX_PARTIALS,
};
use crate::render::{parse_stored, Compiled, Renderer, TemplateContent, TemplateError};
use crate::store::{Kind, Store};
use crate::util::now_ms;

fn invalid(errs: Vec<TemplateError>) -> Error {
    Error::Invalid(errs.into_iter().map(FieldError::from).collect())
}

/// The errors of a check compile of a layout or partial, named by the
/// resource's own field rather than the scratch template's.
fn renamed(errs: Vec<TemplateError>, field: &str) -> Error {
    invalid(
        errs.into_iter()
            .map(|e| TemplateError {
                field: field.to_string(),
                message: e.message,
            })
            .collect(),
    )
}

fn unreadable(kind: Kind, key: &str) -> Error {
    Error::invalid(
        kind.noun(),
        format!("the stored {} `{key}` is unreadable", kind.noun()),
    )
}

/// A layout's current version, or why a template can't use it.
async fn current_layout(store: &dyn Store, key: &str) -> Result<(i64, LayoutContent)> {
    let row = store
        .get_version(Kind::Layout, key, None)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "layout",
                format!("there is no layout `{key}`; store it with PUT /v1/layouts/{key}"),
            )
        })?;
    if row.archived_at.is_some() {
        return Err(Error::invalid(
            "layout",
            format!("layout `{key}` is archived"),
        ));
    }
    let content = serde_json::from_str(&row.content).map_err(|_| unreadable(Kind::Layout, key))?;
    Ok((row.version, content))
}

/// Reads every stored partial reachable from `names` (through each
/// other), at its current version, into `into`. `field` names what
/// included them.
async fn add_partials(
    store: &dyn Store,
    mut names: Vec<String>,
    into: &mut Shared,
    field: &str,
) -> Result<()> {
    names.reverse();
    while let Some(name) = names.pop() {
        if into.partials.contains_key(&name) {
            continue;
        }
        if into.partials.len() >= MAX_PARTIALS {
            return Err(Error::invalid(
                field,
                format!("reaches more than {MAX_PARTIALS} stored partials"),
            ));
        }
        let row = store.get_version(Kind::Partial, &name, None).await?;
        let Some(row) = row.filter(|r| r.archived_at.is_none()) else {
            return Err(Error::invalid(
                field,
                format!(
                    "partial `{name}` is not defined; define it inline with {{{{#*inline \"{name}\"}}}}…{{{{/inline}}}} or store it with PUT /v1/partials/{name}"
                ),
            ));
        };
        let content: PartialContent =
            serde_json::from_str(&row.content).map_err(|_| unreadable(Kind::Partial, &name))?;
        let mut more = partial_wants(&content);
        more.reverse();
        names.extend(more);
        into.partials.insert(name, (row.version, content));
    }
    Ok(())
}

/// The layout and stored partials a template names, at their current
/// versions.
pub async fn resolve(store: &dyn Store, content: &TemplateContent, label: &str) -> Result<Shared> {
    let mut shared = Shared::default();
    if let Some(key) = &content.layout {
        let (version, layout) = current_layout(store, key).await?;
        shared.layout = Some((key.clone(), version, layout));
    }
    let names = wanted(content, shared.layout.as_ref().map(|(_, _, l)| l));
    add_partials(store, names, &mut shared, label).await?;
    Ok(shared)
}

/// Compiles a template's content with its layout and partials (as a save
/// or a draft preview does): each part must parse on its own first, so a
/// syntax error points into the template's own lines.
pub async fn compile_template(
    store: &dyn Store,
    renderer: &Renderer,
    content: &TemplateContent,
    label: &str,
) -> Result<Arc<Compiled>> {
    if content.layout.is_none() && wanted(content, None).is_empty() {
        return renderer.compile(content, label).await.map_err(invalid);
    }
    renderer
        .check_syntax(content, label)
        .await
        .map_err(invalid)?;
    let shared = resolve(store, content, label).await?;
    renderer
        .compile(&compose(content, &shared), label)
        .await
        .map_err(invalid)
}

/// The compiled form of a stored template version, with the current
/// versions of what it names; a template that names no layout and no
/// partial costs no lookup.
pub async fn stored_template(
    store: &dyn Store,
    renderer: &Renderer,
    key: &str,
    version: i64,
    text: &str,
) -> Result<Arc<Compiled>> {
    if !shared::may_use_shared(text) {
        return renderer.stored(key, version, text).await.map_err(invalid);
    }
    let parsed = parse_stored(text).map_err(invalid)?;
    let shared = resolve(store, &parsed, "channels").await?;
    if shared.is_empty() {
        return renderer.stored(key, version, text).await.map_err(invalid);
    }
    renderer
        .stored_shared(key, version, &parsed, &shared)
        .await
        .map_err(invalid)
}

/// A scratch template that uses every part of a layout or a partial, to
/// check the whole compiles (recursion, nesting) before it is stored.
fn scratch(layout: Option<&str>, partial: Option<&str>) -> TemplateContent {
    let body = partial.map_or_else(|| "x".to_string(), |p| format!("{{{{> {p}}}}}"));
    let mut email = crate::render::Parts::new();
    email.insert("html".into(), body.clone());
    email.insert("text".into(), body);
    let mut content = TemplateContent::default();
    content.channels.insert("email".into(), email);
    content.layout = layout.map(str::to_string);
    content
}

/// Saves a new version of a layout if it is well formed and what it
/// includes exists. Returns (version, whether it is new).
pub async fn save_layout(
    store: &dyn Store,
    renderer: &Renderer,
    key: &str,
    name: &str,
    content: &LayoutContent,
) -> Result<(i64, bool)> {
    check_key(key)?;
    content.check().map_err(invalid)?;
    renderer
        .check_sources(layout_sources(content))
        .await
        .map_err(invalid)?;
    let mut shared = Shared {
        layout: Some((key.to_string(), 0, content.clone())),
        ..Shared::default()
    };
    add_partials(
        store,
        wanted(&scratch(None, None), Some(content)),
        &mut shared,
        "html",
    )
    .await?;
    renderer
        .compile(&compose(&scratch(Some(key), None), &shared), "channels")
        .await
        .map_err(|e| renamed(e, "html"))?;
    let text = serde_json::to_string(content).expect("layout content serialises");
    Ok(store
        .put_version(Kind::Layout, key, name, &text, now_ms())
        .await?)
}

/// Saves a new version of a partial if it parses and every partial it
/// includes exists; one that would include itself, directly or through
/// others, is refused naming the chain.
pub async fn save_partial(
    store: &dyn Store,
    renderer: &Renderer,
    key: &str,
    name: &str,
    content: &PartialContent,
) -> Result<(i64, bool)> {
    check_key(key)?;
    content.check().map_err(invalid)?;
    renderer
        .check_sources(partial_sources(content))
        .await
        .map_err(invalid)?;
    let mut shared = Shared::default();
    shared
        .partials
        .insert(key.to_string(), (0, content.clone()));
    add_partials(store, partial_wants(content), &mut shared, "source").await?;
    renderer
        .compile(&compose(&scratch(None, Some(key)), &shared), "channels")
        .await
        .map_err(|e| renamed(e, "source"))?;
    let text = serde_json::to_string(content).expect("partial content serialises");
    Ok(store
        .put_version(Kind::Partial, key, name, &text, now_ms())
        .await?)
}

fn check_key(key: &str) -> Result<()> {
    if super::templates::valid_key(key) {
        Ok(())
    } else {
        Err(Error::invalid(
            "key",
            "1 to 100 letters, digits, '-', '_' or '.'",
        ))
    }
}

impl AppState {
    /// The templates whose current version names this layout or partial
    /// directly, by key: what a change to it shows in.
    pub async fn used_by(&self, kind: Kind, key: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for t in self.store.list_versioned(Kind::Template, false).await? {
            let Some(v) = self.store.get_version(Kind::Template, &t.key, None).await? else {
                continue;
            };
            let Ok(content) = serde_json::from_str::<TemplateContent>(&v.content) else {
                continue;
            };
            let uses = match kind {
                Kind::Layout => content.layout.as_deref() == Some(key),
                _ => wanted(&content, None).iter().any(|n| n == key),
            };
            if uses {
                out.push(t.key);
            }
        }
        Ok(out)
    }

    /// Renders a layout around the given email parts (or a placeholder),
    /// with the data given, as a template using it would render.
    pub async fn preview_layout(
        &self,
        key: &str,
        version: Option<i64>,
        html: Option<String>,
        text: Option<String>,
        locale: Option<&str>,
        data: &Value,
    ) -> Result<crate::render::Parts> {
        let row = self.versioned(Kind::Layout, key, version).await?;
        let layout: LayoutContent =
            serde_json::from_str(&row.content).map_err(|_| unreadable(Kind::Layout, key))?;
        let mut content = scratch(Some(key), None);
        let email = content
            .channels
            .get_mut("email")
            .expect("scratch has email");
        email.insert(
            "html".into(),
            html.unwrap_or_else(|| "<p>The template's content goes here.</p>".into()),
        );
        email.insert(
            "text".into(),
            text.unwrap_or_else(|| "The template's content goes here.".into()),
        );
        let mut shared = Shared {
            layout: Some((key.to_string(), row.version, layout)),
            ..Shared::default()
        };
        let names = wanted(&content, shared.layout.as_ref().map(|(_, _, l)| l));
        add_partials(self.store.as_ref(), names, &mut shared, "content").await?;
        self.renderer
            .check_syntax(&content, "content")
            .await
            .map_err(invalid)?;
        let compiled = self
            .renderer
            .compile(&compose(&content, &shared), "content")
            .await
            .map_err(invalid)?;
        let parts = self
            .renderer
            .render_channel(&compiled, crate::domain::Channel::Email, locale, None, data)
            .await
            .map_err(|e| invalid(vec![e]))?
            .unwrap_or_default();
        Ok(parts)
    }
}
