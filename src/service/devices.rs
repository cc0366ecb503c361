//! A recipient's devices for the push channel, as the API changes them:
//! a browser's Web Push subscription (endpoint and keys, as
//! `PushSubscription.toJSON()` gives them) or an app's FCM / APNs token.
//! Bounded in number per recipient and in size per field; a device's id
//! is derived from the recipient and the endpoint or token, so the same
//! subscription stored again replaces its keys instead of adding a device.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{AppState, Error, Result};
use crate::domain::check::check_recipient_id;
use crate::domain::FieldError;
use crate::store::{DeviceRow, PutDevice};
use crate::util::now_ms;

/// The most devices one recipient may have.
pub const MAX_DEVICES: usize = 20;
/// The longest push endpoint URL taken (browsers' are under 1 KB).
pub const MAX_ENDPOINT_BYTES: usize = 2048;
/// The longest FCM or APNs token taken.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// The longest APNs device token taken (Apple's are 64 hex digits).
pub const MAX_APNS_TOKEN: usize = crate::channels::push::apns::MAX_DEVICE_TOKEN;
/// The longest `platform` or `app`.
pub const MAX_LABEL_BYTES: usize = 255;

/// A Web Push subscription's keys, base64url as the browser gives them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The subscription's P-256 public key: 65 bytes, base64url.
    pub p256dh: String,
    /// The subscription's authentication secret: 16 bytes, base64url.
    pub auth: String,
}

/// A device to add (or replace: the same endpoint or token again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutDeviceBody {
    /// `webpush`, `fcm` or `apns`.
    pub kind: String,
    /// `webpush`: the subscription's endpoint URL.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `webpush`: the subscription's keys.
    #[serde(default)]
    pub keys: Option<PushKeys>,
    /// `fcm`, `apns`: the registration or device token.
    #[serde(default)]
    pub token: Option<String>,
    /// Free text, e.g. `android`, `ios`, `chrome`.
    #[serde(default)]
    pub platform: Option<String>,
    /// The app (its bundle id or package name). A device goes to the
    /// first push provider of its kind whose `apps` list this app (or
    /// that lists none).
    #[serde(default)]
    pub app: Option<String>,
    /// Ignored: `PushSubscription.toJSON()` has it (usually null).
    #[serde(default, rename = "expirationTime")]
    #[schema(value_type = Option<i64>)]
    pub expiration_time: Option<serde_json::Value>,
}

/// Decodes base64url (padded or not).
pub fn base64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn check_key(errors: &mut Vec<FieldError>, field: &str, v: &str, len: usize, what: &str) {
    match base64url(v) {
        Some(b) if b.len() == len && (len != 65 || b[0] == 4) => {}
        _ => errors.push(FieldError::new(
            field,
            format!("must be {what}, base64url-encoded, as PushSubscription.getKey() gives it"),
        )),
    }
}

/// Checks a device, naming every field that is not valid; the row to
/// store when it is.
fn validate(recipient: &str, b: PutDeviceBody, now: i64) -> Result<DeviceRow> {
    let mut errors = Vec::new();
    if let Err(m) = check_recipient_id(recipient) {
        errors.push(FieldError::new("id", m));
    }
    let mut label = |field: &str, v: &Option<String>| {
        if let Some(v) = v {
            if v.is_empty() || v.len() > MAX_LABEL_BYTES || v.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    field,
                    format!("1 to {MAX_LABEL_BYTES} bytes of text with no control characters"),
                ));
            }
        }
    };
    label("platform", &b.platform);
    label("app", &b.app);
    let mut row = DeviceRow {
        recipient: recipient.to_string(),
        kind: b.kind.clone(),
        platform: b.platform,
        app: b.app,
        created_at: now,
        updated_at: now,
        ..DeviceRow::default()
    };
    let identity = match b.kind.as_str() {
        "webpush" => {
            if b.token.is_some() {
                errors.push(FieldError::new(
                    "token",
                    "a webpush device has an endpoint and keys, not a token",
                ));
            }
            match b.endpoint.as_deref() {
                None => errors.push(FieldError::new(
                    "endpoint",
                    "required for kind webpush: the subscription's endpoint URL",
                )),
                Some(e) if e.len() > MAX_ENDPOINT_BYTES => errors.push(FieldError::new(
                    "endpoint",
                    format!("at most {MAX_ENDPOINT_BYTES} bytes"),
                )),
                Some(e) => match url::Url::parse(e) {
                    Ok(u)
                        if (u.scheme() == "https" || u.scheme() == "http")
                            && u.host_str().is_some()
                            && u.username().is_empty()
                            && u.password().is_none() => {}
                    _ => errors.push(FieldError::new(
                        "endpoint",
                        "must be an http(s) URL (push services' are https)",
                    )),
                },
            }
            match &b.keys {
                None => errors.push(FieldError::new(
                    "keys",
                    "required for kind webpush: { \"p256dh\": ..., \"auth\": ... }",
                )),
                Some(k) => {
                    check_key(
                        &mut errors,
                        "keys.p256dh",
                        &k.p256dh,
                        65,
                        "an uncompressed P-256 public key (65 bytes)",
                    );
                    check_key(&mut errors, "keys.auth", &k.auth, 16, "a 16-byte secret");
                }
            }
            row.endpoint = b.endpoint;
            row.p256dh = b.keys.as_ref().map(|k| k.p256dh.clone());
            row.auth = b.keys.map(|k| k.auth);
            row.endpoint.clone().unwrap_or_default()
        }
        "fcm" | "apns" => {
            if b.endpoint.is_some() || b.keys.is_some() {
                errors.push(FieldError::new(
                    if b.endpoint.is_some() {
                        "endpoint"
                    } else {
                        "keys"
                    },
                    format!("a {} device has a token, not an endpoint or keys", b.kind),
                ));
            }
            match b.token.as_deref() {
                None => errors.push(FieldError::new(
                    "token",
                    format!("required for kind {}", b.kind),
                )),
                Some(t)
                    if t.is_empty()
                        || t.len() > MAX_TOKEN_BYTES
                        || !t.bytes().all(|c| c.is_ascii_graphic()) =>
                {
                    errors.push(FieldError::new(
                        "token",
                        format!("1 to {MAX_TOKEN_BYTES} printable ASCII characters"),
                    ))
                }
                // APNs device tokens are hex (64 digits today); they go
                // into the request's path.
                Some(t)
                    if b.kind == "apns"
                        && (t.len() > MAX_APNS_TOKEN
                            || !t.bytes().all(|c| c.is_ascii_hexdigit())) =>
                {
                    errors.push(FieldError::new(
                        "token",
                        format!("an APNs device token: 1 to {MAX_APNS_TOKEN} hex digits"),
                    ))
                }
                Some(_) => {}
            }
            row.token = b.token;
            row.token.clone().unwrap_or_default()
        }
        _ => {
            errors.push(FieldError::new("kind", "must be one of webpush, fcm, apns"));
            String::new()
        }
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    row.id = device_id(recipient, &row.kind, &identity);
    Ok(row)
}

/// A device's id: the same recipient, kind and endpoint (or token) is the
/// same device.
pub fn device_id(recipient: &str, kind: &str, identity: &str) -> String {
    let mut h = Sha256::new();
    for part in [recipient, kind, identity] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    format!("dev_{}", hex::encode(&h.finalize()[..12]))
}

impl AppState {
    /// Adds a device to a stored recipient, or replaces it; returns it as
    /// stored and whether it is new.
    pub async fn put_device(&self, recipient: &str, b: PutDeviceBody) -> Result<(DeviceRow, bool)> {
        let row = validate(recipient, b, now_ms())?;
        let field = if row.kind == "webpush" {
            "endpoint"
        } else {
            "token"
        };
        let created = match self.store.put_device(&row, MAX_DEVICES).await? {
            PutDevice::Created => true,
            PutDevice::Replaced => false,
            PutDevice::NoRecipient => {
                return Err(Error::NotFound(format!(
                    "there is no recipient {recipient}; store it first with PUT /v1/recipients/{recipient}"
                )))
            }
            PutDevice::Full => {
                return Err(Error::invalid(
                    field,
                    format!(
                        "the recipient has {MAX_DEVICES} devices, the most it may have: delete one first (DELETE /v1/recipients/{recipient}/devices/{{device_id}})"
                    ),
                ))
            }
        };
        let stored = self
            .store
            .list_devices(recipient)
            .await?
            .into_iter()
            .find(|d| d.id == row.id)
            .unwrap_or(row);
        Ok((stored, created))
    }

    /// The VAPID public key browsers subscribe with, when the push channel
    /// has a `webpush` provider.
    pub fn vapid_public_key(&self) -> Option<String> {
        self.channels
            .get(crate::channels::push::NAME)
            .and_then(|c| c.vapid_public_key())
    }

    /// A stored recipient's devices, oldest first; `NotFound` when there
    /// is no such recipient.
    pub async fn devices(&self, recipient: &str) -> Result<Vec<DeviceRow>> {
        self.recipient(recipient).await?;
        Ok(self.store.list_devices(recipient).await?)
    }

    /// Removes a device; `NotFound` when the recipient has no such device.
    pub async fn delete_device(&self, recipient: &str, id: &str) -> Result<()> {
        if self.store.delete_device(recipient, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "recipient {recipient} has no device {id}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> PutDeviceBody {
        serde_json::from_value(v).unwrap()
    }

    fn fields(e: Error) -> Vec<String> {
        match e {
            Error::Invalid(errs) => errs.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_subscription_is_checked_and_keeps_its_id() {
        let key = URL_SAFE_NO_PAD.encode([4u8; 65]);
        let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
        let ok = serde_json::json!({"kind": "webpush", "endpoint": "https://push.example/x",
            "keys": {"p256dh": key, "auth": auth}, "expirationTime": null});
        let a = validate("u1", body(ok.clone()), 1).unwrap();
        let b = validate("u1", body(ok), 2).unwrap();
        assert_eq!(a.id, b.id);
        assert!(a.id.starts_with("dev_"));
        let bad = serde_json::json!({"kind": "webpush", "endpoint": "ftp://x",
            "keys": {"p256dh": "AAAA", "auth": auth}});
        assert_eq!(
            fields(validate("u1", body(bad), 1).unwrap_err()),
            ["endpoint", "keys.p256dh"]
        );
        let e = validate("u1", body(serde_json::json!({"kind": "fcm"})), 1).unwrap_err();
        assert_eq!(fields(e), ["token"]);
        let e = validate("u1", body(serde_json::json!({"kind": "pager"})), 1).unwrap_err();
        assert_eq!(fields(e), ["kind"]);
    }
}
