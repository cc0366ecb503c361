//! A bounded fuzz run of compile and render: random templates built from a
//! grammar of handlebars fragments (text, values, raw values, helpers,
//! blocks, inline partials and inclusions, deep nesting, stray tags) and
//! random data. Whatever comes in, compiling and rendering never panic,
//! every part's output stays within its limit, and each case finishes
//! within the render deadline (with slack for a loaded machine).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use super::*;

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "Hi ", "<b>", "&amp;", "\"", "'", "\n", "x", "{", "}", "\\{{x}}", "(",
        ])
        .prop_map(str::to_string),
        10 => prop::sample::select(vec![
            "{{x}}",
            "{{name}}",
            "{{{name}}}",
            "{{this}}",
            "{{@index}}",
            "{{@key}}",
            "{{../x}}",
            "{{missing}}",
            "{{default name \"friend\"}}",
            "{{{default name \"<i>\"}}}",
            "{{default missing 3}}",
            "{{json a}}",
            "{{json (default x \"y\")}}",
            "{{number n}}",
            "{{number n 2}}",
            "{{date t}}",
            "{{date t \"long\"}}",
            "{{date t \"%Q%\"}}",
            "{{date t tz=\"Nowhere/City\"}}",
            "{{lookup a 0}}",
            "{{lookup o \"k\"}}",
            "{{len a}}",
            "{{eq x name}}",
            "{{> p}}",
            "{{> q}}",
            "{{!-- a comment {{#if}} --}}",
            "{{{{raw}}}}{{x}}{{{{/raw}}}}",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "{{> nowhere}}",
            "{{> (lookup o \"k\")}}",
            "{{#if}}",
            "{{/each}}",
            "{{else}}",
            "{{",
            "}}",
            "{{*inline}}",
        ])
        .prop_map(str::to_string),
        1 => (1usize..120).prop_map(|k| format!("{}deep{}", "{{#if x}}".repeat(k), "{{/if}}".repeat(k))),
        1 => (1usize..30).prop_map(|k| format!(
            "{{{{json {}a{}}}}}",
            "(default ".repeat(k),
            " 1)".repeat(k)
        )),
    ]
}

fn template() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 1..6).prop_map(|v| v.concat()),
            3 => inner.clone().prop_map(|t| format!("{{{{#each a}}}}{t}{{{{/each}}}}")),
            2 => inner.clone().prop_map(|t| format!("{{{{#each o}}}}{t}{{{{/each}}}}")),
            2 => inner
                .clone()
                .prop_map(|t| format!("{{{{#each a as |v i|}}}}{t}{{{{v}}}}{{{{/each}}}}")),
            3 => (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("{{{{#if x}}}}{a}{{{{else}}}}{b}{{{{/if}}}}")),
            2 => inner.clone().prop_map(|t| format!("{{{{#with o}}}}{t}{{{{/with}}}}")),
            2 => inner.clone().prop_map(|t| format!("{{{{#unless x}}}}{t}{{{{/unless}}}}")),
            3 => inner
                .clone()
                .prop_map(|t| format!("{{{{#*inline \"p\"}}}}{t}{{{{/inline}}}}{{{{> p}}}}")),
            2 => inner
                .clone()
                .prop_map(|t| format!("{{{{#*inline \"q\"}}}}{t}{{{{/inline}}}}")),
            1 => inner.prop_map(|t| format!("{{{{#> p}}}}{t}{{{{/p}}}}")),
        ]
    })
}

fn text() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        "Bob <script>alert(1)</script>",
        "\"quoted\" & 'single'",
        "",
        "Ana",
        "2026-03-08T14:30:00Z",
        "12.5",
        "北京",
    ])
    .prop_map(|s| json!(s))
}

fn data() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        text(),
        any::<i32>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
    ];
    (
        prop::collection::vec(scalar.clone(), 0..40),
        scalar.clone(),
        text(),
        scalar.clone(),
        prop_oneof![text(), any::<i64>().prop_map(|n| json!(n))],
        scalar,
    )
        .prop_map(|(a, x, name, n, t, k)| {
            json!({"a": a, "x": x, "name": name, "n": n, "t": t, "o": {"k": k, "a": [1, 2]}})
        })
}

#[test]
fn random_templates_and_data_never_panic_and_stay_within_limits() {
    let limits = RenderConfig {
        timeout: Duration::from_millis(100),
        max_steps: 50_000,
        ..RenderConfig::default()
    };
    // Rendering runs on render threads with a large stack; so does this.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let r = Renderer::new(&limits);
            let mut runner = TestRunner::new(Config {
                cases: 300,
                failure_persistence: None,
                ..Config::default()
            });
            runner
                .run(
                    &(template(), template(), template(), data()),
                    |(html, text, body, data)| {
                        let started = Instant::now();
                        for (channel, part, source) in [
                            ("email", "html", html),
                            ("email", "text", text),
                            ("webhook", "body", body),
                        ] {
                            let content = content(json!({"channels": {channel: {part: source}}}));
                            let Ok(c) = Compiled::compile_with(&content, "content", 16 << 10)
                            else {
                                continue;
                            };
                            let rendered = r.inner.render_channel(
                                &c,
                                Channel::parse(channel).unwrap(),
                                Some("pt-BR"),
                                Some("Asia/Shanghai"),
                                data.clone(),
                            );
                            if let Ok(Some(parts)) = rendered {
                                let (max, _) = limits.max_output(channel, part);
                                prop_assert!(parts[part].len() <= max, "{channel}.{part}");
                            }
                        }
                        let took = started.elapsed();
                        // Three parts with a deadline each, plus compiling.
                        prop_assert!(
                            took < limits.timeout * 3 + Duration::from_secs(2),
                            "took {took:?}"
                        );
                        Ok(())
                    },
                )
                .unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
}

fn content(v: Value) -> TemplateContent {
    serde_json::from_value(v).unwrap()
}
