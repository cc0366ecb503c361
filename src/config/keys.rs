//! Every key a config file or a `MISSIVE__` variable sets must be one that
//! `config/default.toml` lists, so a typo stops start-up (naming the key,
//! where it came from and the nearest valid one) instead of being ignored.
//!
//! Free-form maps are the tables that are empty in the defaults (e.g.
//! `flow.frequency_caps`, an HTTP provider's `headers`): any key goes in
//! them. A channel with `providers` may also have provider tables of the
//! operator's own naming; those are checked against the table of their
//! `type`.

use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Provider, Source};

/// Keys any provider table may set besides its type's own.
const PROVIDER_EXTRAS: [&str; 3] = ["type", "rate_limit", "rate_burst"];

/// One message per unknown key, or `Ok` when all are known (or the sources
/// can't be read, which extraction then reports).
pub(super) fn check(fig: &Figment, defaults: &str) -> Result<(), Vec<String>> {
    let Ok(known) = Figment::from(Toml::string(defaults)).data() else {
        return Ok(());
    };
    let known = known.into_values().next().unwrap_or_default();
    let Ok(data) = fig.data() else {
        return Ok(());
    };
    let mut found = Vec::new();
    for dict in data.values() {
        walk(dict, &known, &mut Vec::new(), &mut found);
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(found.into_iter().map(|u| u.message(fig, &known)).collect())
}

struct Unknown {
    /// The full path, one entry per level.
    path: Vec<String>,
    section: bool,
    /// A leaf inside it, for where it came from.
    value: Value,
    /// Names valid at its level.
    siblings: Vec<String>,
}

fn walk(dict: &Dict, known: &Dict, path: &mut Vec<String>, found: &mut Vec<Unknown>) {
    let providers = known.contains_key("providers").then(|| providers(dict));
    for (k, v) in dict {
        path.push(k.clone());
        match known.get(k) {
            // An empty table is a map of the operator's keys.
            Some(Value::Dict(_, t)) if t.is_empty() => {}
            Some(Value::Dict(_, t)) => {
                if let Value::Dict(_, d) = v {
                    if providers.is_some() {
                        walk_provider(d, t, path, found);
                    } else {
                        walk(d, t, path, found);
                    }
                }
                // A value where a table belongs: extraction reports it.
            }
            Some(_) => {}
            None => match (&providers, v) {
                (Some(listed), Value::Dict(_, d))
                    if listed.contains(k) || d.contains_key("type") =>
                {
                    let kind = d.get("type").and_then(|t| t.as_str()).unwrap_or(k.as_str());
                    // An unknown type is reported by the channel's checks.
                    if let Some(Value::Dict(_, t)) = known.get(kind) {
                        walk_provider(d, t, path, found);
                    }
                }
                _ => {
                    let mut siblings: Vec<String> = known.keys().cloned().collect();
                    if let Some(listed) = &providers {
                        siblings.extend(listed.iter().cloned());
                    }
                    found.push(Unknown {
                        path: path.clone(),
                        section: matches!(v, Value::Dict(..)),
                        value: v.clone(),
                        siblings,
                    });
                }
            },
        }
        path.pop();
    }
}

/// A provider table: its type's keys plus [`PROVIDER_EXTRAS`].
fn walk_provider(dict: &Dict, known: &Dict, path: &mut Vec<String>, found: &mut Vec<Unknown>) {
    let mut with_extras = known.clone();
    for extra in PROVIDER_EXTRAS {
        with_extras
            .entry(extra.to_string())
            .or_insert(Value::from(String::new()));
    }
    walk(dict, &with_extras, path, found);
}

/// The names a channel's `providers` lists (an array or a comma-separated
/// string).
fn providers(dict: &Dict) -> Vec<String> {
    match dict.get("providers") {
        Some(Value::Array(_, items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(_, s)) => s
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|p| p.trim().trim_matches('"').to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

impl Unknown {
    fn message(&self, fig: &Figment, known: &Dict) -> String {
        let key = self.path.join(".");
        let what = if self.section { "section" } else { "setting" };
        let mut m = format!("unknown {what} `{key}`");
        if let Some(from) = self.source(fig) {
            m.push_str(&format!(" ({from})"));
        }
        match self.suggestion(known) {
            Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
            None => m.push_str("; every setting is listed in config/default.toml"),
        }
        m
    }

    /// `in FILE` or `from MISSIVE__...`, found from a leaf under the key.
    fn source(&self, fig: &Figment) -> Option<String> {
        let mut value = &self.value;
        let mut path = self.path.clone();
        while let Value::Dict(_, d) = value {
            let (k, v) = d.iter().next()?;
            path.push(k.clone());
            value = v;
        }
        let md = fig.get_metadata(value.tag())?;
        match &md.source {
            Some(Source::File(p)) => Some(format!("in {}", p.display())),
            _ if md.name.contains("environment") => Some(format!(
                "from MISSIVE__{}",
                path.iter()
                    .map(|p| p.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join("__")
            )),
            _ => None,
        }
    }

    /// The nearest name at the same level, else a known key anywhere whose
    /// last part is near (`[webhook]` → `channels.webhook`).
    fn suggestion(&self, known: &Dict) -> Option<String> {
        let name = self.path.last()?;
        let limit = (name.chars().count() / 3).max(2);
        let parent = &self.path[..self.path.len() - 1];
        let near = self
            .siblings
            .iter()
            .map(|s| (distance(name, s), s))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d);
        if let Some((_, s)) = near {
            let mut p = parent.to_vec();
            p.push(s.clone());
            return Some(p.join("."));
        }
        let mut all = Vec::new();
        paths(known, &mut Vec::new(), &mut all);
        all.into_iter()
            .filter_map(|p| {
                let d = distance(name, p.last()?);
                (d <= limit).then_some((d, p.len(), p.join(".")))
            })
            .min()
            .map(|(_, _, p)| p)
    }
}

/// Every key path the defaults have, tables included.
fn paths(t: &Dict, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in t {
        prefix.push(k.clone());
        out.push(prefix.clone());
        if let Value::Dict(_, inner) = v {
            paths(inner, prefix, out);
        }
        prefix.pop();
    }
}

/// Edit distance counting a swap of neighbours as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::distance;
    use crate::config::Config;

    fn refused(toml: &str) -> String {
        Config::from_toml(toml)
            .map(|_| ())
            .expect_err(toml)
            .to_string()
    }

    #[test]
    fn an_unknown_key_is_named_with_the_nearest_valid_one() {
        let e = refused("[channels.webhook]\nallow_privat = true");
        assert!(
            e.contains("unknown setting `channels.webhook.allow_privat`")
                && e.contains("did you mean `channels.webhook.allow_private`?"),
            "{e}"
        );
        let e = refused("[servr]\nbind = \"127.0.0.1:1\"");
        assert!(
            e.contains("unknown section `servr`") && e.contains("did you mean `server`?"),
            "{e}"
        );
        let e = refused("[webhook]\nallow_private = true");
        assert!(e.contains("did you mean `channels.webhook`?"), "{e}");
        let e = refused("datadir = \"x\"\n[worker]\nconcurency = 4");
        assert!(
            e.contains("`datadir`; did you mean `data_dir`?")
                && e.contains("`worker.concurency`; did you mean `worker.concurrency`?"),
            "both are named: {e}"
        );
        let e = refused("[inbox]\nzzzzzzzzzz = 1");
        assert!(e.contains("config/default.toml"), "{e}");
    }

    #[test]
    fn provider_tables_are_checked_against_their_type() {
        let e = refused("[channels.email.smtp]\nhots = \"mail\"");
        assert!(
            e.contains("did you mean `channels.email.smtp.host`?"),
            "{e}"
        );
        let e = refused("[channels.email.smpt]\nhost = \"mail\"");
        assert!(
            e.contains("unknown section `channels.email.smpt`")
                && e.contains("did you mean `channels.email.smtp`?"),
            "{e}"
        );
        let e = refused(
            "[channels.email]\nproviders = [\"relay\"]\n[channels.email.relay]\ntype = \"smtp\"\nhost = \"m\"\npasword = \"x\"",
        );
        assert!(
            e.contains("did you mean `channels.email.relay.password`?"),
            "{e}"
        );
    }

    #[test]
    fn maps_and_named_providers_take_any_key() {
        Config::from_toml(
            "[flow]\nfrequency_caps = { marketing = \"5/1d\" }\n\
             [channels.sms]\nproviders = \"gw, file\"\n\
             [channels.sms.gw]\ntype = \"http\"\nurl = \"https://sms.example/send\"\nrate_limit = \"1/s\"\n\
             [channels.sms.gw.headers]\nX-Api-Key = \"k\"\n\
             [channels.email.spare]\ntype = \"file\"\ndir = \"/tmp/x\"\n\
             [channels.email.smtp]\nrate_burst = 3",
        )
        .unwrap();
    }

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(distance("servr", "server"), 1);
        assert_eq!(distance("sevrer", "server"), 1);
        assert_eq!(distance("allow_privat", "allow_private"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("bind", "bind"), 0);
    }
}
