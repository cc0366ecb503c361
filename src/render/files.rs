//! Templates kept as files (`templates/<key>/<channel>.<part>[.<locale>].hbs`),
//! read into the same content a `PUT /v1/templates/{key}` carries, for
//! `missive templates import` and the shipped examples.

use std::collections::BTreeMap;
use std::path::Path;

use super::{known_parts, TemplateContent};
use crate::domain::check::valid_key;

/// Reads `DIR/<key>/<channel>.<part>[.<locale>].hbs` files into one
/// template per folder.
pub fn read_dir(dir: &Path) -> anyhow::Result<BTreeMap<String, TemplateContent>> {
    let mut out = BTreeMap::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
    {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let key = entry.file_name().to_string_lossy().to_string();
        if !valid_key(&key) {
            anyhow::bail!(
                "{}: a template folder name may hold letters, digits, '-', '_' and '.'",
                entry.path().display()
            );
        }
        let mut content = TemplateContent::default();
        let mut files: Vec<_> = std::fs::read_dir(entry.path())?.collect::<Result<_, _>>()?;
        files.sort_by_key(|f| f.file_name());
        for f in files {
            let fname = f.file_name().to_string_lossy().to_string();
            let Some(stem) = fname.strip_suffix(".hbs") else {
                continue;
            };
            let mut bits = stem.splitn(3, '.');
            let (Some(channel), Some(part)) = (bits.next(), bits.next()) else {
                anyhow::bail!(
                    "{}: name files <channel>.<part>[.<locale>].hbs",
                    f.path().display()
                );
            };
            if !known_parts(channel).is_some_and(|p| p.contains(&part)) {
                anyhow::bail!(
                    "{}: `{channel}.{part}` is not a known channel part",
                    f.path().display()
                );
            }
            let source = std::fs::read_to_string(f.path())?;
            let source = source.strip_suffix('\n').unwrap_or(&source).to_string();
            let slot = match bits.next() {
                None => content.channels.entry(channel.to_string()).or_default(),
                Some(locale) => content
                    .locales
                    .entry(locale.to_string())
                    .or_default()
                    .entry(channel.to_string())
                    .or_default(),
            };
            slot.insert(part.to_string(), source);
        }
        out.insert(key, content);
    }
    Ok(out)
}
