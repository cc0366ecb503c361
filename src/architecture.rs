//! The layering rule, checked: each top-level module of `src/` may use
//! only the modules before it in [`LAYERS`], so nothing imports upward and
//! there is no cycle. docs/architecture.md explains the layers; this test
//! keeps the tree honest when code moves.

/// Every top-level module, lowest first.
pub const LAYERS: [&str; 17] = [
    "util",
    "private_files",
    "telemetry",
    "domain",
    "config",
    "flow",
    "render",
    "store",
    "inbox",
    "channels",
    "metrics",
    "service",
    "dispatch",
    "http",
    "console",
    "app",
    "ops",
];

/// The top-level modules a source text refers to as `crate::<module>`,
/// in code (comments are skipped), including `use crate::{a, b::c}`.
pub fn uses(source: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let code: String = source
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn no_module_uses_one_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
        let mut wrong = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for f in &files {
            let rel = f.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if ["lib", "main", "bin", "architecture"].contains(&top.as_str()) {
                continue;
            }
            let me = rank(&top).unwrap_or_else(|| {
                panic!("src/{top} is in no layer: add it to LAYERS and docs/architecture.md")
            });
            seen.insert(top.clone());
            for used in uses(&std::fs::read_to_string(f).unwrap()) {
                if used == top {
                    continue;
                }
                match rank(&used) {
                    Some(r) if r < me => {}
                    _ => wrong.push(format!("src/{} uses crate::{used}", rel.display())),
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "upward or unknown uses:\n{}",
            wrong.join("\n")
        );
        assert_eq!(seen.len(), LAYERS.len(), "a layer with no module: {seen:?}");
    }

    #[test]
    fn uses_are_read_from_code_not_comments() {
        let s = "use crate::{domain::FieldError, store};\n// crate::http\nlet x = crate::util::now_ms(); /// crate::app";
        let u: Vec<String> = uses(s).into_iter().collect();
        assert_eq!(u, ["domain", "store", "util"]);
    }
}
