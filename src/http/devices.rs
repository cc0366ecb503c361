//! A recipient's push devices: `PUT/GET /v1/recipients/{id}/devices` and
//! `DELETE /v1/recipients/{id}/devices/{device_id}`, with the scopes of
//! the recipient's profile; and `GET /v1/push/vapid-public-key`, open to
//! anyone, for the page that subscribes a browser.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Permission;
use super::error::{ApiError, ApiResult};
use super::inbox::InboxAuth;
use super::json::{put_answer, JsonBody};
use super::openapi::{AuthErrors, BodyErrors, Invalid, NotFound};
use super::recipients::{valid_id, IdParam};
use super::AppState;
use crate::service::devices::PutDeviceBody;
use crate::store::DeviceRow;
use crate::util::rfc3339;

/// The routes; with `inbox.cors_origins`, a page on those origins may
/// register its browser with the recipient's token, as it reads the inbox.
pub fn router(cors_origins: &[String]) -> OpenApiRouter<AppState> {
    let r = OpenApiRouter::new()
        .routes(routes!(put_device, list))
        .routes(routes!(remove))
        .routes(routes!(vapid_public_key));
    match super::inbox::cors(cors_origins) {
        Some(layer) => r.layer(layer),
        None => r,
    }
}

/// A stored device. A subscription's `auth` secret is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    /// `dev_` and 24 hex digits, derived from the recipient and the
    /// endpoint or token.
    pub id: String,
    /// `webpush`, `fcm` or `apns`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The subscription's public key (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p256dh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<DeviceRow> for Device {
    fn from(d: DeviceRow) -> Self {
        Device {
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
            id: d.id,
            kind: d.kind,
            endpoint: d.endpoint,
            p256dh: d.p256dh,
            token: d.token,
            platform: d.platform,
            app: d.app,
        }
    }
}

/// A recipient's devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// `{id}` and `{device_id}` in a device's path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct DeviceParams {
    /// The recipient's id.
    id: String,
    /// The device's id, as `PUT` and `GET .../devices` give it.
    device_id: String,
}

/// Add a device to a recipient, or replace it.
///
/// Scope `send`, or the recipient's own token (`POST
/// /v1/recipients/{id}/token`), so a browser or an app registers itself. A `webpush` device is a browser's subscription as
/// `PushSubscription.toJSON()` gives it (`endpoint`, `keys.p256dh`,
/// `keys.auth`), with `"kind": "webpush"`; `fcm` devices give the app's
/// registration `token`, `apns` devices its device token (hex digits).
/// `app` picks the push provider (the first of the device's kind whose
/// `apps` list it). The same endpoint or token again replaces the device
/// (its keys, platform, app). A recipient has at most 20 devices; the recipient must
/// be stored first (404 otherwise).
#[utoipa::path(
    put,
    path = "/v1/recipients/{id}/devices",
    operation_id = "put_device",
    tag = "push",
    security(("api_key" = []), ("inbox_token" = [])),
    params(IdParam),
    request_body = PutDeviceBody,
    responses(
        (status = 201, description = "Added", body = Device),
        (status = 200, description = "Replaced", body = Device),
        AuthErrors, BodyErrors, NotFound
    )
)]
async fn put_device(
    State(state): State<AppState>,
    caller: InboxAuth,
    Path(id): Path<String>,
    body: JsonBody<PutDeviceBody>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    caller.allow_for(&id, Permission::WriteRecipients)?;
    let (row, created) = state.put_device(&id, body.value).await?;
    Ok(put_answer(created, row.into()))
}

/// List a recipient's devices.
///
/// Scope `send` or `read`, or the recipient's own token. Oldest first; empty for a recipient with none,
/// 404 when there is no such recipient.
#[utoipa::path(
    get,
    path = "/v1/recipients/{id}/devices",
    operation_id = "list_devices",
    tag = "push",
    security(("api_key" = []), ("inbox_token" = [])),
    params(IdParam),
    responses(
        (status = 200, description = "The devices", body = DeviceList),
        AuthErrors, NotFound, Invalid
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: InboxAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceList>> {
    caller.allow_for(&id, Permission::ReadRecipients)?;
    valid_id(&id)?;
    let devices = state.devices(&id).await?;
    Ok(Json(DeviceList {
        devices: devices.into_iter().map(Device::from).collect(),
    }))
}

/// Remove a device.
///
/// Scope `send`, or the recipient's own token.
#[utoipa::path(
    delete,
    path = "/v1/recipients/{id}/devices/{device_id}",
    operation_id = "delete_device",
    tag = "push",
    security(("api_key" = []), ("inbox_token" = [])),
    params(DeviceParams),
    responses(
        (status = 204, description = "Removed"),
        AuthErrors, NotFound, Invalid
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: InboxAuth,
    Path((id, device_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.allow_for(&id, Permission::WriteRecipients)?;
    valid_id(&id)?;
    state.delete_device(&id, &device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The VAPID public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// The uncompressed P-256 public key, base64url: a page passes it as
    /// `applicationServerKey` to `pushManager.subscribe()`.
    pub public_key: String,
}

/// The VAPID public key for subscribing browsers.
///
/// No credential: a page fetches it to subscribe. 404 when the push
/// channel has no `webpush` provider.
#[utoipa::path(
    get,
    path = "/v1/push/vapid-public-key",
    operation_id = "vapid_public_key",
    tag = "push",
    responses(
        (status = 200, description = "The key", body = VapidPublicKey),
        NotFound
    )
)]
async fn vapid_public_key(State(state): State<AppState>) -> ApiResult<Json<VapidPublicKey>> {
    match state.vapid_public_key() {
        Some(k) => Ok(Json(VapidPublicKey { public_key: k })),
        None => Err(ApiError::from(crate::service::Error::NotFound(
            "the push channel has no webpush provider (channels.push.providers)".into(),
        ))),
    }
}
