//! `/openapi.json`: served without a credential, and it documents every
//! route. The routes are found two ways besides the document: by reading
//! `src/http/*.rs` for route registrations, and by asking the live server
//! for every documented path.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

/// (path, method) of every route registered in `src/http/*.rs`: each
/// `#[utoipa::path(<method>, path = "...")]` handler and each plain
/// `.route("...", <method>(...)...)`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // `/metrics` is Prometheus's endpoint (OpenMetrics text behind its
        // own token), not part of the API the document describes.
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("metrics.rs") {
            continue;
        }
        let code: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (method, route) in annotated(&code) {
            found.insert((route, method));
        }
        for (route, methods) in plain_routes(&code) {
            assert!(
                !methods.is_empty(),
                "{}: no method found for .route(\"{route}\")",
                path.display()
            );
            for m in methods {
                found.insert((route.clone(), m));
            }
        }
    }
    found
}

/// The string literal at the start of `s` (after whitespace), if any.
fn literal(s: &str) -> Option<String> {
    let s = s.trim_start().strip_prefix('"')?;
    Some(s[..s.find('"')?].to_string())
}

/// The text up to the parenthesis that closes the one just opened.
fn until_close(s: &str) -> &str {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// `#[utoipa::path(get, path = "/x", ...)]` → ("get", "/x").
fn annotated(code: &str) -> Vec<(String, String)> {
    code.split("#[utoipa::path(")
        .skip(1)
        .map(|rest| {
            let attr = until_close(rest);
            let method = attr
                .split(|c: char| c == ',' || c.is_whitespace())
                .find(|t| !t.is_empty())
                .unwrap()
                .to_string();
            assert!(METHODS.contains(&method.as_str()), "{attr}");
            let path = attr.split_once("path =").expect(attr).1;
            (method, literal(path).expect(attr))
        })
        .collect()
}

/// `.route("/x", get(a).post(b))` → ("/x", ["get", "post"]).
fn plain_routes(code: &str) -> Vec<(String, Vec<String>)> {
    code.split(".route(")
        .skip(1)
        .filter_map(|rest| {
            let path = literal(rest)?;
            let args = until_close(rest);
            let methods = METHODS
                .iter()
                .filter(|m| {
                    args.match_indices(&format!("{m}(")).any(|(i, _)| {
                        i == 0 || !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                })
                .map(|m| m.to_string())
                .collect();
            Some((path, methods))
        })
        .collect()
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(m).is_some() {
                ops.insert((path.clone(), m.to_string()));
            }
        }
    }
    ops
}

async fn fetch_document(app: &TestApp) -> Value {
    // No Authorization header: the document is public.
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.expect("the document is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_route_and_every_listed_route_is_served() {
    let source = &routes_in_source();
    assert!(
        source.len() >= 30,
        "only {} routes found in src/http: {source:?}",
        source.len()
    );
    assert!(source.contains(&("/v1/notifications".into(), "post".into())));
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let doc = fetch_document(&app).await;
        let documented = operations(&doc);
        let missing: Vec<_> = source.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "routes not in /openapi.json: {missing:?}"
        );
        let unknown: Vec<_> = documented.difference(source).collect();
        assert!(
            unknown.is_empty(),
            "documented but not in src/http: {unknown:?}"
        );

        // Every documented (path, method) reaches a handler: not the
        // fallback's "no such route", not 405. Without a credential, so
        // nothing changes.
        for (path, method) in &documented {
            let concrete = path.replace("{n}", "1").replace(['{', '}'], "");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .client
                .request(m, app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert!(
                status != 405 && !body.contains("no such route"),
                "{method} {concrete}: {status} {body}"
            );
            if path == "/v1/receipts/twilio" {
                // Twilio's own signature, not a credential: refused.
                assert_eq!(status, 403, "{method} {concrete} needs Twilio's signature");
            } else if path.starts_with("/v1/") && path != "/v1/push/vapid-public-key" {
                assert_eq!(status, 401, "{method} {concrete} needs a credential");
            }
        }
        // The fallback is what the check above would see for a route that
        // is not served.
        let r = app
            .client
            .get(app.url("/v1/nothing-here"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.text().await.unwrap().contains("no such route"));
        app.stop().await;
    })
    .await;
}

#[test]
fn the_source_scan_finds_plain_routes_too() {
    let code = r#"
        Router::new()
            .route("/v1/a", get(list).post(create))
            .route(
                "/v1/a/{id}",
                delete(remove),
            )
        #[utoipa::path(
            put,
            path = "/v1/b/{id}",
            params(("id" = String, Path)),
        )]
    "#;
    assert_eq!(
        plain_routes(code),
        vec![
            ("/v1/a".into(), vec!["get".into(), "post".into()]),
            ("/v1/a/{id}".into(), vec!["delete".into()]),
        ]
    );
    assert_eq!(annotated(code), vec![("put".into(), "/v1/b/{id}".into())]);
}

/// Resolves `{"$ref": "#/components/..."}`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            resolve(doc, doc.pointer(pointer).unwrap_or_else(|| panic!("{r}")))
        }
        None => v,
    }
}

/// (properties, required) of an object schema, following `allOf`.
fn properties(doc: &Value, schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = resolve(doc, schema);
    let mut props: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut required: BTreeSet<String> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r) = properties(doc, part);
        props.extend(p);
        required.extend(r);
    }
    (props, required)
}

/// The body the document describes for `method path` answering `status`.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    let response = resolve(doc, &op["responses"][status]);
    let content = response["content"].as_object().unwrap_or_else(|| {
        panic!("{method} {path} {status} has no content: {response:#}");
    });
    &content.values().next().unwrap()["schema"]
}

/// Every key of `body` is a documented property and every required
/// property is there.
fn assert_matches(doc: &Value, schema: &Value, body: &Value, what: &str) {
    let (props, required) = properties(doc, schema);
    assert!(!props.is_empty(), "{what}: no properties in {schema:#}");
    let keys: BTreeSet<String> = body.as_object().unwrap().keys().cloned().collect();
    let undocumented: Vec<_> = keys.difference(&props).collect();
    assert!(
        undocumented.is_empty(),
        "{what}: undocumented {undocumented:?}"
    );
    let absent: Vec<_> = required.difference(&keys).collect();
    assert!(absent.is_empty(), "{what}: required but absent {absent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_bodies_errors_and_security() {
    let b = &backends()[0];
    let app = spawn_app(b).await;
    let doc = fetch_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "SendRequest",
        "RecipientInput",
        "Accepted",
        "Notification",
        "Delivery",
        "DeliveryDetail",
        "DeliveryPage",
        "Attempt",
        "PutTemplate",
        "Template",
        "PutRecipient",
        "Recipient",
        "Message",
        "Problem",
        "FieldError",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    let bearer = &doc["components"]["securitySchemes"]["api_key"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert!(bearer["description"]
        .as_str()
        .unwrap()
        .contains("templates"));

    let send = &doc["paths"]["/v1/notifications"]["post"];
    assert_eq!(
        send["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SendRequest"
    );
    assert!(send["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
    let list = &doc["paths"]["/v1/deliveries"]["get"];
    let query: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        query.contains(&"status") && query.contains(&"cursor"),
        "{query:?}"
    );

    let mut operation_ids = BTreeSet::new();
    for (path, method) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        let responses = op["responses"].as_object().unwrap();
        let id = op["operationId"].as_str().unwrap();
        assert!(
            operation_ids.insert(id.to_string()),
            "operationId {id} twice"
        );
        // Each `{name}` of the path is one path parameter, and no more.
        let in_path: Vec<&str> = path
            .split('{')
            .skip(1)
            .map(|s| s.split('}').next().unwrap())
            .collect();
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, in_path, "{method} {path}");
        // Open routes: outside /v1, and the VAPID public key (a page
        // fetches it to subscribe a browser).
        if !path.starts_with("/v1/") || path == "/v1/push/vapid-public-key" {
            assert!(op.get("security").is_none(), "{method} {path}");
            continue;
        }
        // A credential and its scope.
        assert!(
            op["security"].as_array().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no security"
        );
        if path.starts_with("/v1/receipts/") {
            // Providers call these with their own credential (a signature,
            // a basic-auth secret), never an API key with a scope.
            let schemes: Vec<&str> = op["security"][0]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert!(
                schemes == ["twilio_signature"] || schemes == ["receipt_secret"],
                "{method} {path}: {schemes:?}"
            );
            for code in ["401", "403", "413", "422", "503"] {
                assert!(responses.contains_key(code), "{method} {path}: no {code}");
            }
            continue;
        }
        let text = format!("{} {}", op["summary"], op["description"]);
        assert!(
            ["`send`", "`read`", "`templates`", "`admin`"]
                .iter()
                .any(|s| text.contains(s)),
            "{method} {path} names no scope: {text}"
        );
        for code in ["401", "403", "429", "503"] {
            assert!(responses.contains_key(code), "{method} {path}: no {code}");
        }
        if op.get("requestBody").is_some() {
            for code in ["413", "415", "422"] {
                assert!(responses.contains_key(code), "{method} {path}: no {code}");
            }
        }
        let creates = method == "put" || path.ends_with("/token");
        if path.contains('{') && !creates && !path.contains("/inbox") {
            assert!(responses.contains_key("404"), "{method} {path}: no 404");
        }
        // Errors are problem+json.
        let problem = resolve(&doc, &responses["401"]);
        assert_eq!(
            problem["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_the_documented_schemas() {
    each_backend(|b| async move {
        let app = spawn_app(&b).await;
        let doc = fetch_document(&app).await;
        let rx = Receiver::start().await;

        let r = app
            .put(
                "/v1/templates/hello",
                &json!({"channels": {"webhook": {"body": "{\"hi\": \"{{name}}\"}"}}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        let schema = response_schema(&doc, "put", "/v1/templates/{key}", "201");
        assert_matches(&doc, schema, &body, "PUT template");

        let template = app.get_json("/v1/templates/hello").await;
        let schema = response_schema(&doc, "get", "/v1/templates/{key}", "200");
        assert_matches(&doc, schema, &template, "template");

        let r = app
            .put(
                "/v1/recipients/u_1",
                &json!({"webhook_url": rx.url, "quiet_hours": {"start": "22:00", "end": "07:00"}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let recipient: Value = r.json().await.unwrap();
        let schema = response_schema(&doc, "get", "/v1/recipients/{id}", "200");
        assert_matches(&doc, schema, &recipient, "recipient");

        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "hello", "to": [{"id": "u_1"}], "data": {"name": "Ada"}}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let schema = response_schema(&doc, "post", "/v1/notifications", "202");
        assert_matches(&doc, schema, &accepted, "accepted");
        let summary = &accepted["deliveries"][0];
        assert_matches(
            &doc,
            &json!({"$ref": "#/components/schemas/DeliverySummary"}),
            summary,
            "delivery summary",
        );
        let id = summary["id"].as_str().unwrap();
        let delivery = app.wait_for_status(id, "sent").await;

        // A replay (same Idempotency-Key) carries `replayed`, documented.
        let body = json!({"template": "hello", "to": [{"id": "u_1"}], "data": {"name": "Bo"}});
        for _ in 0..2 {
            let r = app
                .client
                .post(app.url("/v1/notifications"))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "schema-replay")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            let answer: Value = r.json().await.unwrap();
            assert_matches(
                &doc,
                response_schema(&doc, "post", "/v1/notifications", "202"),
                &answer,
                "replayed answer",
            );
        }

        let schema = response_schema(&doc, "get", "/v1/deliveries/{id}", "200");
        assert_matches(&doc, schema, &delivery, "delivery");
        assert_matches(
            &doc,
            &json!({"$ref": "#/components/schemas/Attempt"}),
            &delivery["attempts"][0],
            "attempt",
        );

        let n = accepted["id"].as_str().unwrap();
        let notification = app.get_json(&format!("/v1/notifications/{n}")).await;
        let schema = response_schema(&doc, "get", "/v1/notifications/{id}", "200");
        assert_matches(&doc, schema, &notification, "notification");
        assert_matches(
            &doc,
            &json!({"$ref": "#/components/schemas/Delivery"}),
            &notification["deliveries"][0],
            "listed delivery",
        );

        let page = app.get_json("/v1/deliveries").await;
        let schema = response_schema(&doc, "get", "/v1/deliveries", "200");
        assert_matches(&doc, schema, &page, "delivery page");

        let r = app
            .post(
                "/v1/notifications",
                &json!({"template": "hello", "to": [{"id": 7}]}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let problem: Value = r.json().await.unwrap();
        let schema = response_schema(&doc, "post", "/v1/notifications", "422");
        assert_matches(&doc, schema, &problem, "problem");
        app.stop().await;
    })
    .await;
}

/// `missive openapi` prints the served document, without a server, a
/// database or even a configuration that loads (client generators run it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_command_prints_the_served_document() {
    let env = [
        // Neither is looked at: a bad setting would stop any other command.
        (
            "MISSIVE__SERVER__BIND".to_string(),
            "not an address".to_string(),
        ),
        (
            "MISSIVE__DATABASE__URL".to_string(),
            "postgres://nobody@127.0.0.1:1/none".to_string(),
        ),
    ];
    let run = crate::crash::run_cmd(&env, &["openapi"]).await;
    assert!(run.status.success(), "`missive openapi` failed: {run}");
    assert!(run.stdout.ends_with("}\n"), "one document and a newline");
    let printed: Value = serde_json::from_str(&run.stdout).expect("the output is JSON");
    let app = spawn_app(&Backend::Sqlite).await;
    let served = fetch_document(&app).await;
    assert_eq!(printed, served, "the printed document is the served one");
    assert!(printed["paths"]["/v1/notifications"]["post"].is_object());

    // The same bad setting does stop a command that reads the configuration.
    let run = crate::crash::run_cmd(&env, &["migrate"]).await;
    assert!(!run.status.success(), "{run}");
}
