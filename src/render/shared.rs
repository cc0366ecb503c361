//! Shared email layouts and handlebars partials, stored as versioned
//! resources and named by templates: `"layout": "brand"` wraps a
//! template's email `html` and `text` parts, and `{{> footer}}` includes a
//! stored partial. Both are resolved at their current version each time a
//! template is compiled, and composed into the template's own sources
//! (every stored partial it reaches becomes an inline partial of each part
//! that uses it), so the checks and bounds of
//! docs/decisions/0013-templates-within-bounds.md hold for the whole: a
//! partial that includes itself through others is refused, naming the chain.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{locale_chain, TemplateContent, TemplateError};

/// Where a layout puts the template's part.
pub const CONTENT_MARK: &str = "{{{content}}}";

/// How many stored partials one template may reach.
pub const MAX_PARTIALS: usize = 32;

/// A layout's `html` and `text`, each with one [`CONTENT_MARK`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutParts {
    /// Wraps the template's `email.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Wraps the template's `email.text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl LayoutParts {
    fn get(&self, part: &str) -> Option<&str> {
        match part {
            "html" => self.html.as_deref(),
            "text" => self.text.as_deref(),
            _ => None,
        }
    }

    fn each(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [("html", &self.html), ("text", &self.text)]
            .into_iter()
            .filter_map(|(p, s)| s.as_deref().map(|s| (p, s)))
    }
}

/// A stored layout: the wrapper of email `html` and `text`, with
/// per-locale overrides.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutContent {
    #[serde(flatten)]
    pub parts: LayoutParts,
    /// Overrides of `html` or `text`, by locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locales: BTreeMap<String, LayoutParts>,
}

impl LayoutContent {
    /// Every source with the field that names it.
    fn sources(&self) -> impl Iterator<Item = (String, &str)> {
        let base = self.parts.each().map(|(p, s)| (p.to_string(), s));
        let per = self
            .locales
            .iter()
            .flat_map(|(l, ps)| ps.each().map(move |(p, s)| (format!("locales.{l}.{p}"), s)));
        base.chain(per)
    }

    fn for_locale(&self, locale: &str, part: &str) -> Option<&str> {
        for l in locale_chain(Some(locale)) {
            let found = if l.is_empty() {
                self.parts.get(part)
            } else {
                self.locales.get(&l).and_then(|ps| ps.get(part))
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Checks the shape: at least one part, and each source has the
    /// content mark exactly once.
    pub fn check(&self) -> Result<(), Vec<TemplateError>> {
        let mut errors = Vec::new();
        if self.parts.html.is_none() && self.parts.text.is_none() {
            errors.push(TemplateError {
                field: "html".into(),
                message: "give `html`, `text` or both, each with {{{content}}} where the template's part goes".into(),
            });
        }
        for (field, source) in self.sources() {
            let n = source.matches(CONTENT_MARK).count();
            if n != 1 {
                errors.push(TemplateError {
                    field,
                    message: format!(
                        "must contain {CONTENT_MARK} exactly once (where the template's part goes); it has it {n} times"
                    ),
                });
            }
        }
        for l in self.locales.keys() {
            if let Err(m) = crate::domain::locale::Locale::check(l) {
                errors.push(TemplateError {
                    field: format!("locales.{l}"),
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
}

/// A stored partial: a handlebars source, with per-locale overrides.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialContent {
    pub source: String,
    /// Overrides of `source`, by locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locales: BTreeMap<String, String>,
}

impl PartialContent {
    fn sources(&self) -> impl Iterator<Item = (String, &str)> {
        std::iter::once(("source".to_string(), self.source.as_str())).chain(
            self.locales
                .iter()
                .map(|(l, s)| (format!("locales.{l}"), s.as_str())),
        )
    }

    fn for_locale(&self, locale: &str) -> &str {
        for l in locale_chain(Some(locale)) {
            if l.is_empty() {
                break;
            }
            if let Some(s) = self.locales.get(&l) {
                return s;
            }
        }
        &self.source
    }

    pub fn check(&self) -> Result<(), Vec<TemplateError>> {
        let errors: Vec<TemplateError> = self
            .locales
            .keys()
            .filter_map(|l| {
                crate::domain::locale::Locale::check(l)
                    .err()
                    .map(|m| TemplateError {
                        field: format!("locales.{l}"),
                        message: m,
                    })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// What a template names, resolved: its layout and every stored partial it
/// reaches, each at the version found.
#[derive(Clone, Debug, Default)]
pub struct Shared {
    pub layout: Option<(String, i64, LayoutContent)>,
    pub partials: BTreeMap<String, (i64, PartialContent)>,
}

impl Shared {
    pub fn is_empty(&self) -> bool {
        self.layout.is_none() && self.partials.is_empty()
    }

    /// Names every resource and version composed in, e.g.
    /// `layout brand@3, footer@2`: a compiled template is cached under it,
    /// so a new version of either is used from the next send on.
    pub fn fingerprint(&self) -> String {
        let mut s = String::new();
        if let Some((k, v, _)) = &self.layout {
            s.push_str(&format!("layout {k}@{v}"));
        }
        for (k, (v, _)) in &self.partials {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(&format!("{k}@{v}"));
        }
        s
    }
}

/// Whether a stored template's text may name a layout or a partial; false
/// means it certainly names neither, so sending it needs no lookup.
pub fn may_use_shared(text: &str) -> bool {
    text.contains("\"layout\"") || text.contains("{{>") || text.contains("{{~>")
}

/// The partials a source includes with `{{> name}}`, in order of first use.
pub fn partial_refs(source: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("{{") {
        rest = &rest[i + 2..];
        let r = rest.strip_prefix('~').unwrap_or(rest);
        let Some(r) = r.strip_prefix('>') else {
            continue;
        };
        let r = r.trim_start();
        let end = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')))
            .unwrap_or(r.len());
        let name = &r[..end];
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The inline partials a source defines (`{{#*inline "name"}}`).
fn inline_defs(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(i) = rest.find("#*inline") {
        rest = rest[i + 8..].trim_start();
        if let Some(r) = rest.strip_prefix('"') {
            if let Some(end) = r.find('"') {
                out.insert(r[..end].to_string());
            }
        }
    }
    out
}

/// Every template source, with its locale and channel.
fn template_sources(content: &TemplateContent) -> impl Iterator<Item = (&str, &str)> {
    let base = content
        .channels
        .iter()
        .flat_map(|(c, ps)| ps.values().map(move |s| (c.as_str(), s.as_str())));
    let per = content.locales.values().flat_map(|chs| {
        chs.iter()
            .flat_map(|(c, ps)| ps.values().map(move |s| (c.as_str(), s.as_str())))
    });
    base.chain(per)
}

/// The stored partials a template's own sources (and its layout's) name
/// and do not define inline.
pub fn wanted(content: &TemplateContent, layout: Option<&LayoutContent>) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |source: &str| {
        let defined = inline_defs(source);
        for name in partial_refs(source) {
            if !defined.contains(&name) && !out.contains(&name) {
                out.push(name);
            }
        }
    };
    for (_, s) in template_sources(content) {
        add(s);
    }
    if let Some(l) = layout {
        for (_, s) in l.sources() {
            add(s);
        }
    }
    out
}

/// The partials a stored partial names in any of its sources.
pub fn partial_wants(p: &PartialContent) -> Vec<String> {
    let mut out = Vec::new();
    for (_, s) in p.sources() {
        let defined = inline_defs(s);
        for name in partial_refs(s) {
            if !defined.contains(&name) && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Every source of a layout or partial with the field naming it, for
/// checking each on its own.
pub fn layout_sources(l: &LayoutContent) -> Vec<(String, String)> {
    l.sources().map(|(f, s)| (f, s.to_string())).collect()
}

pub fn partial_sources(p: &PartialContent) -> Vec<(String, String)> {
    p.sources().map(|(f, s)| (f, s.to_string())).collect()
}

/// A template's content with its layout and stored partials composed into
/// every part. Locales that only the layout or a partial has get parts of
/// their own, so a `zh` render uses the `zh` footer even where the
/// template itself has no `zh` text.
pub fn compose(content: &TemplateContent, shared: &Shared) -> TemplateContent {
    if shared.is_empty() {
        return content.clone();
    }
    let layout = shared.layout.as_ref().map(|(_, _, l)| l);
    let mut shared_locales: BTreeSet<&str> = BTreeSet::new();
    if let Some(l) = layout {
        shared_locales.extend(l.locales.keys().map(String::as_str));
    }
    for (_, p) in shared.partials.values() {
        shared_locales.extend(p.locales.keys().map(String::as_str));
    }
    let mut locales: BTreeSet<&str> = content.locales.keys().map(String::as_str).collect();
    locales.extend(shared_locales.iter().copied());

    // Every channel and part the template has in any locale.
    let mut parts: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (c, ps) in &content.channels {
        parts.extend(ps.keys().map(|p| (c.as_str(), p.as_str())));
    }
    for chs in content.locales.values() {
        for (c, ps) in chs {
            parts.extend(ps.keys().map(|p| (c.as_str(), p.as_str())));
        }
    }

    let own = |locale: &str, c: &str, p: &str| -> Option<&String> {
        if locale.is_empty() {
            content.channels.get(c).and_then(|ps| ps.get(p))
        } else {
            content
                .locales
                .get(locale)
                .and_then(|chs| chs.get(c))
                .and_then(|ps| ps.get(p))
        }
    };

    let mut out = TemplateContent {
        channels: BTreeMap::new(),
        locales: BTreeMap::new(),
        settings: content.settings.clone(),
        layout: content.layout.clone(),
    };
    for (c, p) in &parts {
        if let Some(s) = own("", c, p) {
            out.channels
                .entry(c.to_string())
                .or_default()
                .insert(p.to_string(), compose_source(s, "", c, p, layout, shared));
        }
    }
    for locale in locales {
        let chain = locale_chain(Some(locale));
        // A locale of the layout's or a partial's own makes a difference
        // only where it is in this locale's chain.
        let shared_differs = chain
            .iter()
            .any(|l| !l.is_empty() && shared_locales.contains(l.as_str()));
        for (c, p) in &parts {
            let explicit = own(locale, c, p);
            if explicit.is_none() && !shared_differs {
                continue;
            }
            let Some(s) = chain.iter().find_map(|l| own(l, c, p)) else {
                continue;
            };
            let composed = compose_source(s, locale, c, p, layout, shared);
            out.locales
                .entry(locale.to_string())
                .or_default()
                .entry(c.to_string())
                .or_default()
                .insert(p.to_string(), composed);
        }
    }
    out
}

/// One part's source with its layout around it (email `html` and `text`)
/// and the stored partials it reaches defined in front of it.
fn compose_source(
    source: &str,
    locale: &str,
    channel: &str,
    part: &str,
    layout: Option<&LayoutContent>,
    shared: &Shared,
) -> String {
    let mut body = source.to_string();
    if channel == "email" {
        if let Some(wrap) = layout.and_then(|l| l.for_locale(locale, part)) {
            body = wrap.replacen(CONTENT_MARK, source, 1);
        }
    }
    let defined = inline_defs(&body);
    // The stored partials this part reaches, through each other too.
    let mut reach: Vec<String> = Vec::new();
    let mut queue: Vec<String> = partial_refs(&body)
        .into_iter()
        .filter(|n| !defined.contains(n))
        .collect();
    while let Some(name) = queue.pop() {
        if reach.contains(&name) {
            continue;
        }
        let Some((_, p)) = shared.partials.get(&name) else {
            continue;
        };
        queue.extend(partial_refs(p.for_locale(locale)));
        reach.push(name);
    }
    if reach.is_empty() {
        return body;
    }
    let mut prelude = String::new();
    for name in reach.iter().filter(|n| !defined.contains(*n)) {
        let (_, p) = &shared.partials[name];
        prelude.push_str(&format!(
            "{{{{#*inline \"{name}\"}}}}{}{{{{/inline}}}}",
            p.for_locale(locale)
        ));
    }
    prelude + &body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(v: serde_json::Value) -> TemplateContent {
        serde_json::from_value(v).unwrap()
    }

    fn partial(source: &str, locales: &[(&str, &str)]) -> PartialContent {
        PartialContent {
            source: source.into(),
            locales: locales
                .iter()
                .map(|(l, s)| (l.to_string(), s.to_string()))
                .collect(),
        }
    }

    #[test]
    fn partial_refs_finds_names_once_in_order() {
        assert_eq!(
            partial_refs("{{> b}} x {{~> a ~}} {{>b}} {{name}} {{#if x}}{{> c.d}}{{/if}}"),
            vec!["b", "a", "c.d"]
        );
        assert!(partial_refs("{{{content}}} {{x}}").is_empty());
    }

    #[test]
    fn wanted_leaves_out_inline_partials() {
        let c = content(json!({"channels": {"email": {
            "html": "{{#*inline \"own\"}}o{{/inline}}{{> own}}{{> footer}}",
            "subject": "{{> greeting}}"
        }}}));
        assert_eq!(wanted(&c, None), vec!["footer", "greeting"]);
    }

    #[test]
    fn a_layout_wraps_email_html_and_text_and_nothing_else() {
        let c = content(json!({"layout": "brand", "channels": {
            "email": {"subject": "Hi", "html": "<p>{{name}}</p>", "text": "Hello {{name}}"},
            "sms": {"text": "sms {{name}}"}
        }}));
        let shared = Shared {
            layout: Some((
                "brand".into(),
                1,
                LayoutContent {
                    parts: LayoutParts {
                        html: Some("<main>{{{content}}}</main>".into()),
                        text: None,
                    },
                    locales: BTreeMap::new(),
                },
            )),
            partials: BTreeMap::new(),
        };
        let out = compose(&c, &shared);
        assert_eq!(
            out.channels["email"]["html"],
            "<main><p>{{name}}</p></main>"
        );
        assert_eq!(out.channels["email"]["text"], "Hello {{name}}");
        assert_eq!(out.channels["email"]["subject"], "Hi");
        assert_eq!(out.channels["sms"]["text"], "sms {{name}}");
        assert!(out.locales.is_empty());
    }

    #[test]
    fn partials_are_defined_where_used_per_locale_and_through_each_other() {
        let c =
            content(json!({"channels": {"sms": {"text": "{{> sig}}"}, "email": {"subject": "s"}}}));
        let mut partials = BTreeMap::new();
        partials.insert("sig".to_string(), (2, partial("-- {{> team}}", &[])));
        partials.insert("team".to_string(), (1, partial("Team", &[("zh", "团队")])));
        let shared = Shared {
            layout: None,
            partials,
        };
        assert_eq!(shared.fingerprint(), "sig@2, team@1");
        let out = compose(&c, &shared);
        let base = &out.channels["sms"]["text"];
        assert!(
            base.contains("{{#*inline \"team\"}}Team{{/inline}}"),
            "{base}"
        );
        assert!(
            base.contains("{{#*inline \"sig\"}}-- {{> team}}{{/inline}}"),
            "{base}"
        );
        assert!(base.ends_with("{{> sig}}"));
        // The subject uses no partial and is left alone.
        assert_eq!(out.channels["email"]["subject"], "s");
        // `zh` gets a part of its own with the zh partial.
        let zh = &out.locales["zh"]["sms"]["text"];
        assert!(zh.contains("团队"), "{zh}");
        // ...and the compiled whole renders in both.
        let compiled =
            std::sync::Arc::new(crate::render::Compiled::compile(&out, "channels").unwrap());
        let r = crate::render::Renderer::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let zh = rt
            .block_on(r.render_channel(
                &compiled,
                crate::domain::Channel::Sms,
                Some("zh-CN"),
                None,
                &json!({}),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(zh["text"], "-- 团队");
        let en = rt
            .block_on(r.render_channel(
                &compiled,
                crate::domain::Channel::Sms,
                Some("en"),
                None,
                &json!({}),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(en["text"], "-- Team");
    }

    #[test]
    fn recursion_through_stored_partials_is_refused_naming_the_chain() {
        let c = content(json!({"channels": {"sms": {"text": "{{> a}}"}}}));
        let mut partials = BTreeMap::new();
        partials.insert("a".to_string(), (1, partial("A {{> b}}", &[])));
        partials.insert("b".to_string(), (1, partial("B {{> a}}", &[])));
        let out = compose(
            &c,
            &Shared {
                layout: None,
                partials,
            },
        );
        let Err(errs) = crate::render::Compiled::compile(&out, "channels") else {
            panic!("a partial that includes itself compiled");
        };
        assert_eq!(errs[0].field, "channels.sms.text");
        assert!(errs[0].message.contains("includes itself"), "{errs:?}");
    }

    #[test]
    fn a_layout_needs_its_mark_once_per_source() {
        let l: LayoutContent = serde_json::from_value(json!({
            "html": "<b>{{{content}}}</b>{{{content}}}",
            "locales": {"zh": {"text": "none"}}
        }))
        .unwrap();
        let errs = l.check().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["html", "locales.zh.text"]);
    }
}
