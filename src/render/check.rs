//! Checks on a part's source before and after handlebars parses it, so that
//! what is accepted can be rendered within bounds:
//!
//! - before parsing: a cheap scan of the `{{…}}` tags bounds how deeply
//!   blocks and subexpressions nest (the parser and the renderer both
//!   recurse on nesting), and names an unclosed or mismatched block in
//!   words a template author knows;
//! - after parsing: a walk of the template tree finds every inline partial
//!   (`{{#*inline "p"}}`) and every inclusion (`{{> p}}`), and refuses a
//!   partial that includes itself (directly or through others), a partial
//!   that is not defined, a name computed at render time, partial blocks,
//!   and nesting (blocks, subexpressions and partials included within each
//!   other) deeper than [`MAX_NESTING`]. Each inline partial is then made to
//!   start with a step marker, so that every inclusion is charged to the
//!   render budget.

use std::collections::HashMap;

use handlebars::template::{Parameter, TemplateElement};
use handlebars::Template;

/// How deeply blocks, subexpressions and partial inclusions may nest.
pub const MAX_NESTING: usize = 100;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Open,
    Close,
}

#[derive(Debug)]
struct BlockTag<'a> {
    kind: Kind,
    name: &'a str,
    text: &'a str,
    line: usize,
}

/// The block tags of a source, and how deeply parentheses nest in a tag.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    blocks: Vec<BlockTag<'a>>,
    max_parens: usize,
}

fn find(s: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    if from >= s.len() {
        return None;
    }
    s[from..]
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}

/// Scans the `{{…}}` tags of `source`: escaped tags (`\{{`), comments and
/// raw blocks are skipped, as handlebars does.
pub(crate) fn scan(source: &str) -> Scan<'_> {
    let b = source.as_bytes();
    let mut blocks = Vec::new();
    let mut max_parens = 0;
    let mut i = 0;
    let mut line = 1;
    let mut counted = 0;
    while let Some(pos) = find(b, i, b"{{") {
        line += b[counted..pos].iter().filter(|c| **c == b'\n').count();
        counted = pos;
        let backslashes = b[..pos].iter().rev().take_while(|c| **c == b'\\').count();
        if backslashes % 2 == 1 {
            i = pos + 2;
            continue;
        }
        if b[pos..].starts_with(b"{{{{") {
            // A raw block: its content is text.
            let Some(open_end) = find(b, pos + 4, b"}}}}") else {
                break;
            };
            i = open_end + 4;
            if !b[pos..].starts_with(b"{{{{/") {
                if let Some(close) = find(b, i, b"{{{{/") {
                    i = find(b, close, b"}}}}").map(|e| e + 4).unwrap_or(b.len());
                }
            }
            continue;
        }
        if b[pos..].starts_with(b"{{!--") || b[pos..].starts_with(b"{{~!--") {
            i = find(b, pos + 4, b"--").map_or(b.len(), |e| {
                find(b, e, b"}}").map(|e| e + 2).unwrap_or(b.len())
            });
            continue;
        }
        if b[pos..].starts_with(b"{{!") || b[pos..].starts_with(b"{{~!") {
            i = find(b, pos + 3, b"}}").map(|e| e + 2).unwrap_or(b.len());
            continue;
        }
        let mut j = pos + 2;
        let mut quote = None;
        let mut parens = 0usize;
        while j < b.len() {
            let c = b[j];
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                }
            } else {
                match c {
                    b'"' | b'\'' => quote = Some(c),
                    b'(' => {
                        parens += 1;
                        max_parens = max_parens.max(parens);
                    }
                    b')' => parens = parens.saturating_sub(1),
                    b'}' if b.get(j + 1) == Some(&b'}') => break,
                    _ => {}
                }
            }
            j += 1;
        }
        let end = (j + 2).min(b.len());
        let end = if b.get(pos + 2) == Some(&b'{') && b.get(end) == Some(&b'}') {
            end + 1
        } else {
            end
        };
        let inner = source[pos + 2..j.min(b.len())]
            .trim_start_matches('{')
            .trim_start_matches('~')
            .trim_end_matches('~')
            .trim();
        let tag = |kind, name| BlockTag {
            kind,
            name,
            text: &source[pos..end],
            line,
        };
        if let Some(rest) = inner.strip_prefix('#') {
            let rest = rest.trim_start_matches(['>', '*']);
            blocks.push(tag(Kind::Open, word(rest)));
        } else if let Some(rest) = inner.strip_prefix('^') {
            if !rest.trim().is_empty() {
                blocks.push(tag(Kind::Open, word(rest)));
            }
        } else if let Some(rest) = inner.strip_prefix('/') {
            blocks.push(tag(Kind::Close, word(rest)));
        }
        i = end;
    }
    Scan { blocks, max_parens }
}

impl Scan<'_> {
    /// How deeply blocks nest (a stray closing tag closes nothing).
    pub(crate) fn max_block_nesting(&self) -> usize {
        let mut depth = 0usize;
        let mut max = 0;
        for t in &self.blocks {
            match t.kind {
                Kind::Open => {
                    depth += 1;
                    max = max.max(depth);
                }
                Kind::Close => depth = depth.saturating_sub(1),
            }
        }
        max
    }

    pub(crate) fn max_parens(&self) -> usize {
        self.max_parens
    }

    /// An unclosed or mismatched block, in words.
    fn block_problem(&self) -> Option<String> {
        let mut open: Vec<&BlockTag> = Vec::new();
        for t in &self.blocks {
            match t.kind {
                Kind::Open => open.push(t),
                Kind::Close => match open.pop() {
                    Some(o) if o.name == t.name => {}
                    Some(o) => {
                        return Some(format!(
                            "line {}: `{}` closes `{}` opened at line {}",
                            t.line,
                            short(t.text),
                            short(o.text),
                            o.line
                        ))
                    }
                    None => {
                        return Some(format!(
                            "line {}: `{}` closes a block that was never opened",
                            t.line,
                            short(t.text)
                        ))
                    }
                },
            }
        }
        open.pop().map(|o| {
            format!(
                "unclosed `{}` opened at line {}: close it with `{{{{/{}}}}}`",
                short(o.text),
                o.line,
                o.name
            )
        })
    }
}

fn word(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .find(|c: char| c.is_whitespace() || c == '}' || c == '(' || c == '~')
        .unwrap_or(s.len());
    &s[..end]
}

fn short(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

/// A parse error in words: an unclosed or mismatched block by name and
/// line, otherwise the line and column with a short message.
pub(crate) fn describe_compile_error(
    source: &str,
    scan: &Scan,
    e: &handlebars::TemplateError,
) -> String {
    if let Some(problem) = scan.block_problem() {
        return problem;
    }
    use handlebars::TemplateErrorReason as R;
    let what = match e.reason() {
        R::MismatchingClosedHelper(open, close) | R::MismatchingClosedDecorator(open, close) => {
            format!("`{{{{/{close}}}}}` closes `{{{{#{open}}}}}`")
        }
        R::InvalidSyntax(_) => "not valid handlebars".to_string(),
        R::InvalidParam(p) => format!("`{}` is not a valid parameter", short(p)),
        other => other.to_string(),
    };
    match e.pos() {
        Some((line, col)) => {
            let near: String = source
                .lines()
                .nth(line.saturating_sub(1))
                .map(|l| l.chars().skip(col.saturating_sub(1)).take(30).collect())
                .unwrap_or_default();
            if near.trim().is_empty() {
                format!("line {line}, column {col}: {what}")
            } else {
                format!("line {line}, column {col}: {what} at `{}`", short(&near))
            }
        }
        None => what,
    }
}

/// One template body: the part itself (node 0) or an inline partial.
struct Node {
    name: String,
    /// Partials included, with the nesting depth they are included at.
    includes: Vec<(String, usize)>,
    /// How deeply the body nests, partials aside.
    depth: usize,
}

struct Walk {
    nodes: Vec<Node>,
    defined: HashMap<String, usize>,
}

fn too_deep() -> String {
    format!(
        "blocks, subexpressions and partials are nested more than {MAX_NESTING} deep; flatten the template"
    )
}

/// Refuses a walk deeper than [`MAX_NESTING`], by nesting or by steps.
fn within_nesting(depth: usize, walk: usize) -> Result<(), String> {
    if depth > MAX_NESTING || walk > MAX_NESTING {
        return Err(too_deep());
    }
    Ok(())
}

impl Walk {
    fn template(
        &mut self,
        t: &Template,
        node: usize,
        depth: usize,
        walk: usize,
    ) -> Result<(), String> {
        within_nesting(depth, walk)?;
        let n = &mut self.nodes[node];
        n.depth = n.depth.max(depth);
        for e in &t.elements {
            self.element(e, node, depth, walk + 1)?;
        }
        Ok(())
    }

    fn element(
        &mut self,
        e: &TemplateElement,
        node: usize,
        depth: usize,
        walk: usize,
    ) -> Result<(), String> {
        within_nesting(depth, walk)?;
        match e {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => Ok(()),
            TemplateElement::Expression(ht)
            | TemplateElement::HtmlExpression(ht)
            | TemplateElement::HelperBlock(ht) => {
                self.param(&ht.name, node, depth, walk)?;
                for p in ht.params.iter().chain(ht.hash.values()) {
                    self.param(p, node, depth, walk)?;
                }
                for t in ht.template.iter().chain(ht.inverse.iter()) {
                    self.template(t, node, depth + 1, walk + 1)?;
                }
                Ok(())
            }
            TemplateElement::DecoratorExpression(dt) => Err(format!(
                "`{{{{*{}}}}}`: decorators are not supported",
                dt.name.as_name().unwrap_or("…")
            )),
            TemplateElement::DecoratorBlock(dt) => {
                let kind = dt.name.as_name().unwrap_or("…");
                if kind != "inline" {
                    return Err(format!(
                        "`{{{{#*{kind}}}}}` is not supported; an inline partial is written {{{{#*inline \"name\"}}}}…{{{{/inline}}}}"
                    ));
                }
                let name = match dt.params.first() {
                    Some(Parameter::Literal(serde_json::Value::String(s))) => s.clone(),
                    _ => {
                        return Err(
                            "an inline partial needs a quoted name: {{#*inline \"name\"}}…{{/inline}}"
                                .into(),
                        )
                    }
                };
                if self.defined.contains_key(&name) {
                    return Err(format!("partial `{name}` is defined more than once"));
                }
                let id = self.nodes.len();
                self.nodes.push(Node {
                    name: name.clone(),
                    includes: Vec::new(),
                    depth: 0,
                });
                self.defined.insert(name, id);
                if let Some(body) = &dt.template {
                    self.template(body, id, 0, walk + 1)?;
                }
                Ok(())
            }
            TemplateElement::PartialExpression(dt) => {
                let name = match &dt.name {
                    Parameter::Literal(serde_json::Value::String(s)) => s.clone(),
                    Parameter::Name(_) | Parameter::Path(_) => {
                        dt.name.as_name().unwrap_or_default().to_string()
                    }
                    _ => {
                        return Err(
                            "a partial's name must be written out, as in {{> name}}, not computed"
                                .into(),
                        )
                    }
                };
                for p in dt.params.iter().chain(dt.hash.values()) {
                    self.param(p, node, depth, walk)?;
                }
                self.nodes[node].includes.push((name, depth));
                Ok(())
            }
            TemplateElement::PartialBlock(dt) => Err(format!(
                "partial blocks (`{{{{#> {0}}}}}…{{{{/{0}}}}}`) are not supported; include the partial with `{{{{> {0}}}}}`",
                dt.name.as_name().unwrap_or("name")
            )),
            _ => Err("this kind of tag is not supported".into()),
        }
    }

    fn param(
        &mut self,
        p: &Parameter,
        node: usize,
        depth: usize,
        walk: usize,
    ) -> Result<(), String> {
        match p {
            Parameter::Subexpression(s) => self.element(s.as_element(), node, depth + 1, walk + 1),
            _ => Ok(()),
        }
    }

    /// A chain of partials that includes its own start, as names.
    fn cycle(&self, targets: &[Vec<usize>]) -> Option<Vec<usize>> {
        // 0 unvisited, 1 on the current path, 2 done.
        let mut state = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (n, ref mut next)) = stack.last_mut() {
                if let Some(&t) = targets[n].get(*next) {
                    *next += 1;
                    match state[t] {
                        0 => {
                            state[t] = 1;
                            stack.push((t, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|(s, _)| *s == t).unwrap_or(0);
                            let mut path: Vec<usize> =
                                stack[from..].iter().map(|(s, _)| *s).collect();
                            path.push(t);
                            return Some(path);
                        }
                        _ => {}
                    }
                } else {
                    state[n] = 2;
                    stack.pop();
                }
            }
        }
        None
    }

    /// How deeply `node` nests with its partials expanded; `None` past the
    /// limit.
    fn expanded_depth(
        &self,
        node: usize,
        targets: &[Vec<usize>],
        memo: &mut [Option<usize>],
        chain: usize,
    ) -> Option<usize> {
        if chain > MAX_NESTING {
            return None;
        }
        if let Some(d) = memo[node] {
            return Some(d);
        }
        let mut d = self.nodes[node].depth;
        for (i, (_, at)) in self.nodes[node].includes.iter().enumerate() {
            let inner = self.expanded_depth(targets[node][i], targets, memo, chain + 1)?;
            d = d.max(at + 1 + inner);
            if d > MAX_NESTING {
                return None;
            }
        }
        memo[node] = Some(d);
        Some(d)
    }
}

/// Checks partials and nesting (see the module's comment), then makes every
/// inline partial start with the step marker `step`.
pub(crate) fn analyse(t: &mut Template, step: &TemplateElement) -> Result<(), String> {
    let mut w = Walk {
        nodes: vec![Node {
            name: String::new(),
            includes: Vec::new(),
            depth: 0,
        }],
        defined: HashMap::new(),
    };
    w.template(t, 0, 0, 0)?;
    let mut targets = Vec::with_capacity(w.nodes.len());
    for n in &w.nodes {
        let mut ts = Vec::with_capacity(n.includes.len());
        for (name, _) in &n.includes {
            match w.defined.get(name) {
                Some(&id) => ts.push(id),
                None => {
                    return Err(format!(
                        "partial `{name}` is not defined; define it in this part with {{{{#*inline \"{name}\"}}}}…{{{{/inline}}}}"
                    ))
                }
            }
        }
        targets.push(ts);
    }
    if let Some(path) = w.cycle(&targets) {
        let names: Vec<&str> = path.iter().map(|n| w.nodes[*n].name.as_str()).collect();
        return Err(format!(
            "partial `{}` includes itself ({})",
            names[0],
            names.join(" → ")
        ));
    }
    let mut memo = vec![None; w.nodes.len()];
    if w.expanded_depth(0, &targets, &mut memo, 0).is_none() {
        return Err(too_deep());
    }
    mark_partials(t, step);
    Ok(())
}

fn mark_partials(t: &mut Template, step: &TemplateElement) {
    for e in &mut t.elements {
        match e {
            TemplateElement::HelperBlock(ht) => {
                for t in ht.template.iter_mut().chain(ht.inverse.iter_mut()) {
                    mark_partials(t, step);
                }
            }
            TemplateElement::DecoratorBlock(dt) => {
                if let Some(body) = dt.template.as_mut() {
                    mark_partials(body, step);
                    let at = body.mapping.first().cloned();
                    body.elements.insert(0, step.clone());
                    if let Some(at) = at {
                        body.mapping.insert(0, at);
                    }
                }
            }
            _ => {}
        }
    }
}
