//! Helpers templates can use beyond handlebars' own (`if`, `unless`, `each`,
//! `with`, `eq`, `ne`, `gt`, `lt`, `and`, `or`, `not`, `lookup`):
//!
//! - `{{json value}}`: the value as JSON (for webhook bodies).
//! - `{{date value}}`, `{{date value "long"}}`, `{{date value "%d/%m %H:%M"}}`:
//!   a time (RFC 3339 text, or Unix seconds) in the recipient's timezone and
//!   locale. Presets: `short` (default), `long`, `datetime`, `time`; anything
//!   else is a strftime pattern. `tz="Asia/Shanghai"` overrides the zone.
//! - `{{number value}}`, `{{number value 2}}`: digits grouped and the decimal
//!   mark as the recipient's locale writes them (`1,234.5`, `1.234,5`).
//! - `{{default value "fallback"}}`: the value, or the fallback when it is
//!   missing, null or empty (strict rendering allows the missing value here).
//!
//! The recipient's timezone and locale reach helpers through the reserved
//! `_missive` key of the render context.
//!
//! Helpers write their text HTML-escaped in `html` parts (as `{{name}}`
//! is), and as is where the template asks for raw output (`{{{default x
//! "y"}}}`) or in parts that are not HTML.

use chrono::{DateTime, TimeZone, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};

/// Writes a helper's text, HTML-escaped when the registry escapes and the
/// template did not ask for raw output (`{{{…}}}`); a helper called as a
/// subexpression is never escaped (its value goes to the outer helper).
fn write(r: &Handlebars, rc: &RenderContext, out: &mut dyn Output, text: &str) -> HelperResult {
    if rc.is_disable_escape() {
        out.write(text)?;
    } else {
        out.write(&r.get_escape_fn()(text))?;
    }
    Ok(())
}
use serde_json::Value;

pub const CONTEXT_KEY: &str = "_missive";

pub fn register(hb: &mut Handlebars<'static>) {
    hb.register_helper("json", Box::new(json));
    hb.register_helper("date", Box::new(date));
    hb.register_helper("number", Box::new(number));
    hb.register_helper("default", Box::new(default));
}

/// (timezone, locale) from the render context.
fn recipient_settings(ctx: &Context) -> (Option<String>, Option<String>) {
    let m = ctx.data().get(CONTEXT_KEY);
    let get = |k: &str| {
        m.and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (get("timezone"), get("locale"))
}

/// The language of a locale tag (`pt-BR` → `pt`), English when unknown.
fn language(locale: Option<&str>) -> String {
    locale
        .unwrap_or("en")
        .split(['-', '_'])
        .next()
        .unwrap_or("en")
        .to_string()
}

fn missing(h: &Helper, name: &'static str, idx: usize) -> Result<Value, RenderErrorReason> {
    let p = h
        .param(idx)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(name, idx))?;
    if p.is_value_missing() {
        let path = p.relative_path().cloned().unwrap_or_else(|| "value".into());
        return Err(RenderErrorReason::MissingVariable(Some(path)));
    }
    Ok(p.value().clone())
}

fn json(
    h: &Helper,
    r: &Handlebars,
    _: &Context,
    rc: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let v = missing(h, "json", 0)?;
    write(
        r,
        rc,
        out,
        &serde_json::to_string(&v).map_err(RenderErrorReason::from)?,
    )
}

fn default(
    h: &Helper,
    r: &Handlebars,
    _: &Context,
    rc: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let value = h
        .param(0)
        .filter(|p| !p.is_value_missing())
        .map(|p| p.value().clone());
    let usable = match &value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => Some(v.clone()),
    };
    let chosen = match usable {
        Some(v) => v,
        None => missing(h, "default", 1)?,
    };
    let text = match chosen {
        Value::String(s) => s,
        other => other.to_string(),
    };
    write(r, rc, out, &text)
}

/// Parses RFC 3339 text or Unix seconds.
fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single()),
        _ => None,
    }
}

fn chrono_locale(locale: Option<&str>) -> chrono::Locale {
    let tag = locale.unwrap_or("en-US").replace('-', "_");
    chrono::Locale::try_from(tag.as_str())
        .or_else(|_| {
            let lang = tag.split('_').next().unwrap_or("en");
            let guess = match lang {
                "zh" => "zh_CN",
                "pt" => "pt_BR",
                "en" => "en_US",
                "es" => "es_ES",
                "fr" => "fr_FR",
                "de" => "de_DE",
                "ja" => "ja_JP",
                other => other,
            };
            chrono::Locale::try_from(guess)
        })
        .unwrap_or(chrono::Locale::en_US)
}

/// A preset's pattern for a language.
fn preset(name: &str, lang: &str) -> Option<&'static str> {
    Some(match (name, lang) {
        ("short", "zh" | "ja") => "%Y-%m-%d",
        ("short", "en") => "%b %-d, %Y",
        ("short", _) => "%d/%m/%Y",
        ("long", "zh" | "ja") => "%Y年%-m月%-d日",
        ("long", "en") => "%B %-d, %Y",
        ("long", "pt" | "es") => "%-d de %B de %Y",
        ("long", _) => "%-d %B %Y",
        ("datetime", "zh" | "ja") => "%Y-%m-%d %H:%M",
        ("datetime", "en") => "%b %-d, %Y %-I:%M %p",
        ("datetime", _) => "%d/%m/%Y %H:%M",
        ("time", "en") => "%-I:%M %p",
        ("time", _) => "%H:%M",
        _ => return None,
    })
}

fn date(
    h: &Helper,
    r: &Handlebars,
    ctx: &Context,
    rc: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let v = missing(h, "date", 0)?;
    let t = parse_time(&v).ok_or_else(|| {
        RenderErrorReason::Other(format!("date: {v} is not an RFC 3339 time or Unix seconds"))
    })?;
    let (tz, locale) = recipient_settings(ctx);
    let tz = h
        .hash_get("tz")
        .and_then(|p| p.value().as_str().map(str::to_string))
        .or(tz);
    let tz: chrono_tz::Tz = match tz {
        Some(name) => name
            .parse()
            .map_err(|_| RenderErrorReason::Other(format!("date: unknown timezone {name}")))?,
        None => chrono_tz::UTC,
    };
    let lang = language(locale.as_deref());
    let format = h
        .param(1)
        .and_then(|p| p.value().as_str())
        .unwrap_or("short");
    let pattern = preset(format, &lang).unwrap_or(format);
    let local = t.with_timezone(&tz);
    // An unknown `%` directive makes chrono's Display fail: an error, not a
    // panic.
    let mut text = String::new();
    std::fmt::Write::write_fmt(
        &mut text,
        format_args!(
            "{}",
            local.format_localized(pattern, chrono_locale(locale.as_deref()))
        ),
    )
    .map_err(|_| RenderErrorReason::Other(format!("date: {pattern:?} is not a valid format")))?;
    write(r, rc, out, &text)
}

/// Groups digits and sets the decimal mark for a language.
pub fn format_number(value: f64, decimals: Option<usize>, lang: &str) -> String {
    let (group, point) = match lang {
        "pt" | "de" | "es" | "it" | "id" | "tr" | "nl" => (".", ","),
        "fr" | "ru" | "pl" | "cs" | "sv" | "nb" | "fi" => ("\u{202f}", ","),
        _ => (",", "."),
    };
    let text = match decimals {
        Some(d) => format!("{:.*}", d, value.abs()),
        None => {
            let s = format!("{}", value.abs());
            s
        }
    };
    let (int, frac) = text
        .split_once('.')
        .map(|(a, b)| (a.to_string(), Some(b.to_string())))
        .unwrap_or((text, None));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(group);
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}{point}{f}"),
        None => format!("{sign}{grouped}"),
    }
}

fn number(
    h: &Helper,
    r: &Handlebars,
    ctx: &Context,
    rc: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let v = missing(h, "number", 0)?;
    let n = match &v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| RenderErrorReason::Other(format!("number: {v} is not a number")))?;
    let decimals = h
        .param(1)
        .and_then(|p| p.value().as_u64())
        .map(|d| d.min(10) as usize);
    let (_, locale) = recipient_settings(ctx);
    let lang = language(locale.as_deref());
    write(r, rc, out, &format_number(n, decimals, &lang))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(src: &str, data: Value) -> Result<String, String> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        register(&mut hb);
        hb.render_template(src, &data).map_err(|e| e.to_string())
    }

    #[test]
    fn dates_follow_the_recipients_timezone_and_locale() {
        let at = "2026-03-08T14:30:00Z";
        let d = |tz: &str, locale: &str, fmt: &str| {
            render(
                &format!("{{{{date t {fmt}}}}}"),
                json!({"t": at, "_missive": {"timezone": tz, "locale": locale}}),
            )
            .unwrap()
        };
        assert_eq!(d("Asia/Shanghai", "zh-CN", "\"long\""), "2026年3月8日");
        assert_eq!(d("Asia/Shanghai", "zh-CN", "\"time\""), "22:30");
        // New York switched to daylight time that morning: UTC-4.
        assert_eq!(
            d("America/New_York", "en-US", "\"datetime\""),
            "Mar 8, 2026 10:30 AM"
        );
        assert_eq!(
            d("America/Sao_Paulo", "pt-BR", "\"long\""),
            "8 de março de 2026"
        );
        assert_eq!(
            render("{{date t \"%H:%M\" tz=\"UTC\"}}", json!({"t": 1772980200})).unwrap(),
            "14:30"
        );
        assert!(render("{{date t}}", json!({"t": "yesterday"})).is_err());
    }

    #[test]
    fn numbers_use_the_locales_marks() {
        assert_eq!(format_number(1234567.891, Some(2), "en"), "1,234,567.89");
        assert_eq!(format_number(1234567.891, Some(2), "pt"), "1.234.567,89");
        assert_eq!(format_number(-1000.0, None, "en"), "-1,000");
        assert_eq!(format_number(999.0, Some(0), "en"), "999");
        assert_eq!(
            render(
                "{{number n 1}}",
                json!({"n": 1234.56, "_missive": {"locale": "pt-BR"}})
            )
            .unwrap(),
            "1.234,6"
        );
    }

    #[test]
    fn default_fills_missing_values_even_in_strict_mode() {
        assert_eq!(
            render("{{default name \"friend\"}}", json!({})).unwrap(),
            "friend"
        );
        assert_eq!(
            render("{{default name \"friend\"}}", json!({"name": ""})).unwrap(),
            "friend"
        );
        assert_eq!(
            render("{{default name \"friend\"}}", json!({"name": "Ana"})).unwrap(),
            "Ana"
        );
        assert!(render("{{name}}", json!({})).is_err());
    }

    #[test]
    fn conditionals_and_loops_work() {
        let out = render(
            "{{#if vip}}VIP {{/if}}{{#each items}}{{this}};{{/each}}{{#if (eq status \"paid\")}} paid{{/if}}",
            json!({"vip": true, "items": ["a", "b"], "status": "paid"}),
        )
        .unwrap();
        assert_eq!(out, "VIP a;b; paid");
    }
}
