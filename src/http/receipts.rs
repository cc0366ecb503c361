//! Receipts from providers: `POST /v1/receipts/twilio` (status
//! callbacks), `/v1/receipts/sendgrid` (the event webhook) and
//! `/v1/receipts/postmark` (delivery, bounce and spam complaint webhooks).
//! No API key: each is authenticated by its provider's own means (Twilio's
//! signature, a basic-auth secret in the URL registered with SendGrid or
//! Postmark). Bodies are read up to `receipts.max_body_bytes`. Each
//! receipt names missive's delivery id (see `channels::email::compose`'s
//! headers and the Twilio provider's StatusCallback); what it means is
//! `domain::receipt`'s, what it changes the store's.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::openapi::{Conflict, ReceiptErrors};
use super::AppState;
use crate::domain::receipt::{self, Source};
use crate::service::receipts::{basic_auth_matches, twilio_signed, Incoming, Tally};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(twilio))
        .routes(routes!(sendgrid))
        .routes(routes!(postmark))
}

/// What a call's receipts did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptAnswer {
    /// Receipts that moved their delivery to a new status.
    pub moved: usize,
    /// Receipts recorded in their delivery's log (moved or not).
    pub recorded: usize,
    /// Receipts naming no delivery here: acknowledged and ignored.
    pub unknown: usize,
}

impl From<Tally> for ReceiptAnswer {
    fn from(t: Tally) -> Self {
        ReceiptAnswer {
            moved: t.moved,
            recorded: t.recorded,
            unknown: t.unknown,
        }
    }
}

/// The answer to an email provider: 409 while a receipt names a delivery
/// whose outcome is still being written, so the provider sends the batch
/// again (the receipts already applied are not applied twice).
fn retry_early(t: Tally) -> ApiResult<Json<ReceiptAnswer>> {
    if t.early > 0 {
        return Err(ApiError::Conflict(format!(
            "{} receipt(s) name a delivery whose sending is still being recorded; send them again later",
            t.early
        )));
    }
    Ok(Json(t.into()))
}

/// The body, up to `receipts.max_body_bytes` (413 beyond).
async fn bounded(state: &AppState, body: Body) -> ApiResult<axum::body::Bytes> {
    let limit = state.config.receipts.max_body_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::TooLarge(format!(
            "the body is larger than receipts.max_body_bytes ({limit} bytes) allows, or was cut off"
        ))
    })
}

/// A Twilio status callback.
///
/// No API key: the `X-Twilio-Signature` must be Twilio's signature of
/// `{server.public_url}/v1/receipts/twilio?d=<delivery id>` and the form
/// parameters, made with the auth token of a `channels.sms` Twilio
/// provider (403 otherwise, and nothing changes). missive asks for these
/// callbacks itself (`StatusCallback`) when `server.public_url` is set.
/// `MessageStatus` `delivered` moves the delivery to `delivered`;
/// `undelivered`/`failed` to `undelivered`, or to `bounced` (the number
/// goes on the suppression list) for error codes that say the number
/// can't take messages (21211, 21614, 30005, 30006), or to `complained`
/// for 21610 (the recipient replied STOP).
#[utoipa::path(
    post,
    path = "/v1/receipts/twilio",
    operation_id = "twilio_receipt",
    tag = "receipts",
    security(("twilio_signature" = [])),
    params(("d" = String, Query, description = "The delivery id missive put in the callback URL.")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback parameters (MessageSid, MessageStatus, ErrorCode, ...)."),
    responses(
        (status = 200, description = "Acknowledged", body = ReceiptAnswer),
        ReceiptErrors
    )
)]
async fn twilio(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ReceiptAnswer>> {
    let tokens = state.twilio_tokens();
    let Some(public_url) = state.config.server.public_url.as_deref() else {
        return Err(ApiError::Forbidden(
            "Twilio receipts are not enabled here: set server.public_url (the URL Twilio calls back)"
                .into(),
        ));
    };
    if tokens.is_empty() {
        return Err(ApiError::Forbidden(
            "Twilio receipts are not enabled here: no channels.sms provider is of type twilio"
                .into(),
        ));
    }
    let bytes = bounded(&state, body).await?;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{public_url}{path}");
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if signature.is_empty() || !twilio_signed(&tokens, &url, &params, signature) {
        return Err(ApiError::Forbidden(format!(
            "the X-Twilio-Signature is missing or is not Twilio's signature of {url} and this body \
             under a configured auth token; check server.public_url matches the URL Twilio calls"
        )));
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let delivery = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "d")
            .map(|(_, v)| v.into_owned())
    });
    let status = param("MessageStatus").unwrap_or("");
    let code = param("ErrorCode");
    let mut incoming = Vec::new();
    match (delivery, receipt::twilio(status, code)) {
        (Some(id), Some(verdict)) if !id.is_empty() => {
            let mut detail = format!("MessageStatus={status}");
            for name in ["ErrorCode", "ErrorMessage", "MessageSid", "To"] {
                if let Some(v) = param(name).filter(|v| !v.is_empty()) {
                    detail.push_str(&format!(" {name}={v}"));
                }
            }
            incoming.push(Incoming {
                delivery_id: id,
                event: status.to_string(),
                verdict,
                detail,
            });
        }
        _ => tracing::debug!(status, "a Twilio callback with nothing to record"),
    }
    Ok(Json(state.receive(Source::Twilio, incoming).await?.into()))
}

/// Checks an email webhook's basic-auth secret.
fn authenticate(state: &AppState, source: Source, headers: &HeaderMap) -> ApiResult<()> {
    let secret = state.receipt_secret(source);
    if secret.is_empty() {
        return Err(ApiError::Unauthorized(format!(
            "{source} receipts are not enabled here: set receipts.{source}_secret and give it \
             as the basic-auth password"
        )));
    }
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if basic_auth_matches(header, secret) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!(
            "give receipts.{source}_secret as the basic-auth password: register the URL as \
             https://missive:<secret>@<host>/v1/receipts/{source}"
        )))
    }
}

/// The JSON body: `{"field": "body"}` errors when it is not JSON.
fn json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid("body", format!("not valid JSON: {e}")))
}

/// A string field of an event, if present and a string or number.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `name=value` for each of `keys` the event has, space separated.
fn words(v: &Value, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| {
            text(v, k)
                .filter(|t| !t.is_empty())
                .map(|t| format!("{k}={t}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A SendGrid event webhook call.
///
/// No API key: basic auth with `receipts.sendgrid_secret` as the password
/// (register `https://missive:<secret>@<host>/v1/receipts/sendgrid`);
/// 401 without it, or while it is not set. The body is SendGrid's JSON
/// array of events; each names its delivery by the `missive_delivery`
/// unique arg missive puts in every message's `X-SMTPAPI` header. Events:
/// `delivered` → `delivered`; `bounce` → `bounced` (the address goes on
/// the suppression list), or `undelivered` when its `type` is `blocked`;
/// `dropped` → `undelivered`; `spamreport` → `complained` (listed).
/// Other events are ignored. 409 when an event names a delivery whose
/// sending is still being recorded: SendGrid sends the batch again later,
/// and what was applied is not applied twice.
#[utoipa::path(
    post,
    path = "/v1/receipts/sendgrid",
    operation_id = "sendgrid_receipt",
    tag = "receipts",
    security(("receipt_secret" = [])),
    request_body(content = Vec<Object>, description = "SendGrid's events."),
    responses(
        (status = 200, description = "Acknowledged", body = ReceiptAnswer),
        ReceiptErrors, Conflict
    )
)]
async fn sendgrid(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ReceiptAnswer>> {
    authenticate(&state, Source::SendGrid, &headers)?;
    let body = json(&bounded(&state, body).await?)?;
    let Value::Array(events) = body else {
        return Err(ApiError::invalid(
            "body",
            "must be SendGrid's JSON array of events",
        ));
    };
    let mut incoming = Vec::new();
    for ev in &events {
        let (Some(id), Some(event)) = (text(ev, "missive_delivery"), text(ev, "event")) else {
            continue;
        };
        let kind = text(ev, "type");
        let Some(verdict) = receipt::sendgrid(&event, kind.as_deref()) else {
            continue;
        };
        incoming.push(Incoming {
            delivery_id: id,
            event,
            verdict,
            detail: words(
                ev,
                &[
                    "type",
                    "status",
                    "reason",
                    "response",
                    "bounce_classification",
                    "sg_event_id",
                    "sg_message_id",
                ],
            ),
        });
    }
    retry_early(state.receive(Source::SendGrid, incoming).await?)
}

/// A Postmark webhook call.
///
/// No API key: basic auth with `receipts.postmark_secret` as the password
/// (register `https://missive:<secret>@<host>/v1/receipts/postmark` for
/// the Delivery, Bounce and Spam Complaint webhooks); 401 without it, or
/// while it is not set. The delivery is named by the `missive_delivery`
/// metadata missive puts in every message (`X-PM-Metadata-missive_delivery`).
/// `RecordType` `Delivery` → `delivered`; `Bounce` → `bounced` (listed) for
/// `HardBounce`, `BadEmailAddress` and `ManuallyDeactivated`, `complained`
/// (listed) for `SpamComplaint`, recorded only for auto-replies and
/// notices, else `undelivered`; `SpamComplaint` → `complained` (listed).
/// 409 when the delivery's sending is still being recorded: Postmark
/// sends it again later.
#[utoipa::path(
    post,
    path = "/v1/receipts/postmark",
    operation_id = "postmark_receipt",
    tag = "receipts",
    security(("receipt_secret" = [])),
    request_body(content = Object, description = "Postmark's webhook record."),
    responses(
        (status = 200, description = "Acknowledged", body = ReceiptAnswer),
        ReceiptErrors, Conflict
    )
)]
async fn postmark(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ReceiptAnswer>> {
    authenticate(&state, Source::Postmark, &headers)?;
    let records = match json(&bounded(&state, body).await?)? {
        Value::Array(v) => v,
        v @ Value::Object(_) => vec![v],
        _ => {
            return Err(ApiError::invalid(
                "body",
                "must be Postmark's JSON webhook record",
            ))
        }
    };
    let mut incoming = Vec::new();
    for rec in &records {
        let id = rec
            .get("Metadata")
            .and_then(|m| text(m, "missive_delivery"));
        let (Some(id), Some(record_type)) = (id, text(rec, "RecordType")) else {
            continue;
        };
        let kind = text(rec, "Type");
        let Some(verdict) = receipt::postmark(&record_type, kind.as_deref()) else {
            continue;
        };
        incoming.push(Incoming {
            delivery_id: id,
            event: kind.unwrap_or_else(|| record_type.clone()),
            verdict,
            detail: words(
                rec,
                &[
                    "RecordType",
                    "Type",
                    "TypeCode",
                    "Description",
                    "Details",
                    "MessageID",
                ],
            ),
        });
    }
    retry_early(state.receive(Source::Postmark, incoming).await?)
}
