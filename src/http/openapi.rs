//! `GET /openapi.json`: the OpenAPI 3.1 document of this API. It is made
//! from the handlers' `#[utoipa::path]` annotations and the request and
//! response types the handlers use, registered with the router in the
//! same `routes!` call, so what is served and what is documented are one
//! list.
//!
//! Error answers are shared response components (one per status, all a
//! `Problem`); a route names the ones it can give with the sets below.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{FieldError, Problem};
use super::AppState;

/// Security scheme of API keys.
pub const API_KEY: &str = "api_key";
/// Security scheme of recipient inbox tokens.
pub const INBOX_TOKEN: &str = "inbox_token";
/// Security scheme of Twilio's status callbacks.
pub const TWILIO_SIGNATURE: &str = "twilio_signature";
/// Security scheme of the email providers' event webhooks.
pub const RECEIPT_SECRET: &str = "receipt_secret";

/// Error answers: (status, response component name, description).
const PROBLEMS: [(u16, &str, &str); 9] = [
    (
        401,
        "Unauthorized",
        "No credential, or one that is not valid, has expired or has been revoked.",
    ),
    (
        403,
        "Forbidden",
        "The API key lacks the scope this route needs (or the inbox token is for another recipient).",
    ),
    (404, "NotFound", "There is no such resource."),
    (
        409,
        "Conflict",
        "The resource's state does not allow this, or the Idempotency-Key was used with another body.",
    ),
    (
        413,
        "TooLarge",
        "The body is larger than `server.max_body_bytes`.",
    ),
    (
        415,
        "UnsupportedMediaType",
        "The body is not sent with `Content-Type: application/json`.",
    ),
    (
        422,
        "InvalidInput",
        "The request is not valid; `errors` names each field.",
    ),
    (
        429,
        "TooManyRequests",
        "Over the API key's rate limit (wait `Retry-After` seconds), or over a limit on open streams.",
    ),
    (
        503,
        "ServiceUnavailable",
        "The database can't do it now: its disk is full (`store-full`) or it does not answer (`database-unavailable`). Nothing was done; try again after `Retry-After` seconds.",
    ),
];

fn problem_refs(codes: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    codes
        .iter()
        .filter_map(|code| {
            let (_, name, _) = PROBLEMS.iter().find(|(c, _, _)| c == code)?;
            Some((code.to_string(), Ref::from_response_name(*name).into()))
        })
        .collect()
}

macro_rules! problem_sets {
    ($($(#[$doc:meta])* $name:ident: [$($code:literal),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problem_refs(&[$($code),+])
            }
        }
    )+};
}

problem_sets! {
    /// 401, 403, 429, 503: every route that takes a credential.
    AuthErrors: [401, 403, 429, 503];
    /// 413, 415, 422: every route that takes a JSON body.
    BodyErrors: [413, 415, 422];
    NotFound: [404];
    Conflict: [409];
    Invalid: [422];
    /// 401, 403, 413, 422, 503: the providers' receipt endpoints.
    ReceiptErrors: [401, 403, 413, 422, 503];
}

/// The document's parts that no route brings: info, security schemes and
/// the error responses.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "missive",
        description = "A self-hosted, multi-channel notification dispatcher. Every `/v1` route takes an API key in `Authorization: Bearer <key>`; each route's description names the scope it needs (`send`, `templates`, `read` or `admin`; `admin` implies all). Errors are `application/problem+json`."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Shared)
)]
struct Base;

struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("msv_...")
                    .description(Some(
                        "An API key (`missive keys create`). Keys have scopes: `send` (send, cancel, recipients, inbox changes), `templates` (manage templates), `read` (deliveries, notifications, providers, templates), `admin` (everything, plus retrying and cancelling deliveries).",
                    ))
                    .build(),
            ),
        );
        c.add_security_scheme(
            INBOX_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A recipient token from `POST /v1/recipients/{id}/token`; it opens that recipient's inbox only. Streams also take it as `?token=`.",
                    ))
                    .build(),
            ),
        );
        c.add_security_scheme(
            TWILIO_SIGNATURE,
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "X-Twilio-Signature",
                    "Twilio's signature of the callback, made with the auth token of a `channels.sms` Twilio provider.",
                ),
            )),
        );
        c.add_security_scheme(
            RECEIPT_SECRET,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Basic auth whose password is `receipts.<source>_secret` (any user name), as the provider sends it when the URL registered with it is `https://missive:<secret>@host/...`.",
                    ))
                    .build(),
            ),
        );
        for (code, name, description) in PROBLEMS {
            let mut response = ResponseBuilder::new().description(description).content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
            if code == 429 || code == 503 {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait before trying again."))
                        .build(),
                );
            }
            c.responses
                .insert(name.to_string(), response.build().into());
        }
    }
}

/// The document's starting point, to which the routes add themselves.
pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    super::routes(&[]).into_openapi()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve))
}

/// This API's OpenAPI 3.1 document.
///
/// No credential needed.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
