//! The `webpush` provider: Web Push to browsers' push services, with VAPID
//! (RFC 8292) and `aes128gcm` payload encryption (RFC 8291, RFC 8188).
//!
//! The cryptography is `ring`'s (already in the build through rustls):
//! ECDH P-256 for the per-message key agreement, AES-128-GCM, ECDSA P-256
//! for the VAPID JWT; the two HKDF steps are HMAC-SHA-256 (the `hmac`
//! crate). [`encrypt_with`] is the deterministic core, tested against
//! RFC 8291's worked example; [`encrypt`] adds a fresh salt and key pair.
//!
//! Requests go out through missive's own HTTP client under the SSRF guard
//! ([`Client::for_provider`]): a push endpoint is a URL a browser handed
//! us, so it is refused when it is not globally reachable (unless the
//! table's `allow_private` is set). Each device is its own request, all
//! sent at once; what
//! each one answered is one line of the attempt's answer. 404 and 410 mean
//! the subscription is gone: the device is removed.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::{PushOutcome, PushProvider};
use crate::channels::http::{classify_status, Client};
use crate::channels::providers::Provider;
use crate::channels::{Message, Outcome, SendResult};
use crate::config::{ConfigError, ProviderConfig};
use crate::store::DeviceRow;

/// The record size written in the header; one record holds the payload.
const RECORD_SIZE: u32 = 4096;
/// Header: salt (16), record size (4), key id length (1), key id (65).
const HEADER_BYTES: usize = 16 + 4 + 1 + 65;
/// The longest payload one 4096-byte message holds: the record less the
/// GCM tag and the padding delimiter, less the header (push services take
/// at most 4096 bytes of body).
pub const MAX_PAYLOAD: usize = RECORD_SIZE as usize - HEADER_BYTES - 16 - 1;
/// A VAPID JWT is valid this long (RFC 8292 allows at most 24 hours).
const JWT_LIFETIME_SECS: i64 = 12 * 3600;

type HmacSha256 = Hmac<Sha256>;

/// Decodes base64url, padded or not (browsers give it unpadded).
fn base64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// RFC 8291 §3.4 with the ECDH secret, both public keys and the salt
/// given: the whole `aes128gcm` body (header and one record).
pub fn encrypt_with(
    ecdh_secret: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    auth_secret: &[u8],
    salt: &[u8; 16],
    plaintext: &[u8],
) -> Result<Vec<u8>, String> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
    if plaintext.len() > MAX_PAYLOAD {
        return Err(format!(
            "the push payload is {} bytes; Web Push carries at most {MAX_PAYLOAD}",
            plaintext.len()
        ));
    }
    if as_public.len() != 65 {
        return Err("the server's public key is not 65 bytes".into());
    }
    let prk_key = hmac(auth_secret, &[ecdh_secret]);
    let ikm = hmac(&prk_key, &[b"WebPush: info\0", ua_public, as_public, &[1]]);
    let prk = hmac(salt, &[&ikm]);
    let cek = hmac(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce = hmac(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_128_GCM, &cek[..16]).map_err(|_| "AES key".to_string())?,
    );
    let mut record = Vec::with_capacity(plaintext.len() + 17);
    record.extend_from_slice(plaintext);
    record.push(2); // the last record's padding delimiter, no padding
    let nonce = Nonce::try_assume_unique_for_key(&nonce[..12]).map_err(|_| "nonce".to_string())?;
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut record)
        .map_err(|_| "encrypting the push payload failed".to_string())?;
    let mut body = Vec::with_capacity(HEADER_BYTES + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// Encrypts `plaintext` for a subscription (`p256dh`, `auth`, decoded)
/// with a fresh key pair and salt.
pub fn encrypt(ua_public: &[u8], auth_secret: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)
        .map_err(|_| "no randomness".to_string())?;
    let private =
        EphemeralPrivateKey::generate(&ECDH_P256, &rng).map_err(|_| "no randomness".to_string())?;
    let as_public = private
        .compute_public_key()
        .map_err(|_| "computing a public key".to_string())?;
    let as_public = as_public.as_ref().to_vec();
    let secret = agree_ephemeral(
        private,
        &UnparsedPublicKey::new(&ECDH_P256, ua_public),
        |s| s.to_vec(),
    )
    .map_err(|_| "the subscription's p256dh key is not a valid P-256 point".to_string())?;
    encrypt_with(
        &secret,
        ua_public,
        &as_public,
        auth_secret,
        &salt,
        plaintext,
    )
}

/// The application server's VAPID key pair and contact.
pub struct Vapid {
    key: EcdsaKeyPair,
    subject: String,
}

impl Vapid {
    /// From a PKCS#8 document (as [`Vapid::generate`] makes).
    pub fn from_pkcs8(der: &[u8], subject: &str) -> Result<Vapid, String> {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|e| format!("not a P-256 PKCS#8 key ({e})"))?;
        Ok(Vapid {
            key,
            subject: subject.to_string(),
        })
    }

    /// From the raw keys as `web-push generate-vapid-keys` prints them
    /// (base64url: a 32-byte private key, a 65-byte public key).
    pub fn from_raw(private: &str, public: &str, subject: &str) -> Result<Vapid, String> {
        let private = base64url(private.trim()).filter(|k| k.len() == 32);
        let public = base64url(public.trim()).filter(|k| k.len() == 65);
        let (Some(private), Some(public)) = (private, public) else {
            return Err(
                "vapid_private_key must be 32 bytes and vapid_public_key 65 bytes, base64url"
                    .into(),
            );
        };
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &private,
            &public,
            &SystemRandom::new(),
        )
        .map_err(|e| format!("the keys are not a P-256 key pair ({e})"))?;
        Ok(Vapid {
            key,
            subject: subject.to_string(),
        })
    }

    /// A new key pair as a PKCS#8 document.
    pub fn generate() -> Result<Vec<u8>, String> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| "generating a VAPID key failed".to_string())
    }

    /// The public key, base64url: the `applicationServerKey` browsers
    /// subscribe with and the `k` of the Authorization header.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_key().as_ref())
    }

    /// `vapid t=<JWT>, k=<public key>` for a request to `endpoint`, the
    /// JWT's audience the endpoint's origin, valid from `now` (Unix s).
    pub fn authorization(&self, endpoint: &reqwest::Url, now: i64) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now + JWT_LIFETIME_SECS,
            "sub": self.subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| "signing the VAPID JWT failed".to_string())?;
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            URL_SAFE_NO_PAD.encode(sig.as_ref()),
            self.public_key()
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Raw base64url keys; empty: the key generated under the data dir.
    #[serde(default)]
    vapid_private_key: String,
    #[serde(default)]
    vapid_public_key: String,
    /// `mailto:` or `https:` contact for push services.
    #[serde(default)]
    subject: String,
    /// How long a push service keeps a message for an offline device.
    #[serde(default = "default_ttl")]
    ttl: String,
    /// `very-low`, `low`, `normal` or `high`.
    #[serde(default = "default_urgency")]
    urgency: String,
    #[serde(default)]
    allow_private: bool,
}

fn default_ttl() -> String {
    "1d".into()
}

fn default_urgency() -> String {
    "normal".into()
}

pub struct WebPush {
    name: String,
    client: Client,
    vapid: Vapid,
    ttl: u64,
    urgency: String,
}

impl WebPush {
    /// `generated`: the generated key (base64 PKCS#8), used when the table
    /// gives none.
    pub fn new(
        p: &ProviderConfig,
        timeout: Duration,
        generated: Option<&str>,
    ) -> anyhow::Result<WebPush> {
        let s: Settings = p.parse()?;
        let subject = s.subject.trim();
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(p
                .invalid(
                    "subject",
                    "a mailto: or https: URL push services can reach you at, e.g. \"mailto:ops@example.com\"",
                )
                .into());
        }
        let vapid = match (s.vapid_private_key.trim(), s.vapid_public_key.trim()) {
            ("", "") => {
                use base64::engine::general_purpose::STANDARD;
                let der = generated
                    .and_then(|g| STANDARD.decode(g.trim()).ok())
                    .ok_or_else(|| anyhow::anyhow!("`{}`: no VAPID key was generated", p.key))?;
                Vapid::from_pkcs8(&der, subject)
                    .map_err(|e| anyhow::anyhow!("the generated VAPID key: {e}"))?
            }
            ("", _) => return Err(p.invalid("vapid_private_key", "set it with vapid_public_key, or neither (a key is generated)").into()),
            (_, "") => return Err(p.invalid("vapid_public_key", "set it with vapid_private_key (base64url, 65 bytes), or neither (a key is generated)").into()),
            (private, public) => Vapid::from_raw(private, public, subject).map_err(|e| {
                ConfigError::Read(format!(
                    "`{}.vapid_private_key` is not valid: {e} (the value is not shown: it is a secret)",
                    p.key
                ))
            })?,
        };
        let ttl = humantime::parse_duration(s.ttl.trim())
            .map_err(|_| p.invalid("ttl", "a duration such as \"1d\" or \"4h\""))?
            .as_secs();
        if !["very-low", "low", "normal", "high"].contains(&s.urgency.as_str()) {
            return Err(p
                .invalid("urgency", "one of very-low, low, normal, high")
                .into());
        }
        Ok(WebPush {
            name: p.name.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            vapid,
            ttl,
            urgency: s.urgency,
        })
    }

    /// Sends `payload` to one device: its outcome, status, Retry-After and
    /// a short line for the attempt's answer.
    async fn one(&self, d: &DeviceRow, payload: &[u8]) -> (SendResult, String) {
        let mut r = SendResult::new(&self.name, Outcome::Ok);
        let endpoint = match d.endpoint.as_deref().map(reqwest::Url::parse) {
            Some(Ok(u)) => u,
            _ => {
                r.outcome = Outcome::Permanent;
                return (r, "no valid endpoint".into());
            }
        };
        let keys = (
            d.p256dh.as_deref().and_then(base64url),
            d.auth.as_deref().and_then(base64url),
        );
        let (Some(p256dh), Some(auth)) = keys else {
            r.outcome = Outcome::Permanent;
            return (r, "no valid keys".into());
        };
        let body = match encrypt(&p256dh, &auth, payload) {
            Ok(b) => b,
            Err(e) => {
                r.outcome = Outcome::Permanent;
                return (r, e);
            }
        };
        let auth = match self
            .vapid
            .authorization(&endpoint, chrono::Utc::now().timestamp())
        {
            Ok(a) => a,
            Err(e) => {
                r.outcome = Outcome::Permanent;
                return (r, e);
            }
        };
        let request = self
            .client
            .http
            .post(endpoint.clone())
            .header("authorization", auth)
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", self.ttl.to_string())
            .header("urgency", &self.urgency)
            .body(body);
        let Some(resp) = self.client.send(&mut r, request, &endpoint).await else {
            let e = r.error.clone().unwrap_or_default();
            return (r, e);
        };
        let answer = self
            .client
            .answer(&mut r, resp, 1024)
            .await
            .unwrap_or_default();
        let code = r.status_code.unwrap_or_default();
        r.outcome = outcome(code);
        let mut line = format!("HTTP {code}");
        let answer = answer.trim();
        if !answer.is_empty() && r.outcome != Outcome::Ok {
            line.push_str(": ");
            line.push_str(&answer.chars().take(200).collect::<String>());
        }
        (r, line)
    }
}

/// What a push service's status says: 404/410 the subscription is gone
/// (permanent; the device is removed), 429 and 5xx transient, 400 and 413
/// permanent (a bad request or a payload too large won't improve).
pub fn outcome(code: u16) -> Outcome {
    match code {
        404 | 410 | 400 | 413 => Outcome::Permanent,
        c => classify_status(c),
    }
}

impl Provider for WebPush {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl PushProvider for WebPush {
    async fn send(
        &self,
        _msg: &Message<'_>,
        payload: &Value,
        devices: &[DeviceRow],
    ) -> PushOutcome {
        let payload = payload.to_string();
        let mut out = PushOutcome::new(&self.name);
        let (web, other): (Vec<&DeviceRow>, Vec<&DeviceRow>) =
            devices.iter().partition(|d| d.kind == "webpush");
        for d in other {
            out.skip(d, "not a webpush device (no provider for it here)");
        }
        // All devices at once: the whole send then takes at most one
        // timeout, well inside the worker's lease.
        let answers =
            futures::future::join_all(web.iter().map(|d| self.one(d, payload.as_bytes()))).await;
        for (d, (r, line)) in web.into_iter().zip(answers) {
            let gone = matches!(r.status_code, Some(404 | 410));
            out.add(d, r, line, gone);
        }
        out
    }

    fn device_kind(&self) -> Option<&str> {
        Some("webpush")
    }

    fn vapid_public_key(&self) -> Option<String> {
        Some(self.vapid.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    /// RFC 8291 Appendix A, byte for byte.
    #[test]
    fn encryption_matches_rfc_8291s_example() {
        let salt: [u8; 16] = b("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(
            &b("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"),
            &b("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
            &b("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"),
            &b("BTBZMqHH6r4Tts7J_aSIgg"),
            &salt,
            b"When I grow up, I want to be a watermelon",
        )
        .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
        let too_big = vec![b'x'; MAX_PAYLOAD + 1];
        assert!(encrypt_with(&[0; 32], &[4; 65], &[4; 65], &[0; 16], &salt, &too_big).is_err());
    }

    #[test]
    fn the_vapid_jwt_is_signed_for_the_endpoints_origin() {
        use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
        let v = Vapid::from_pkcs8(&Vapid::generate().unwrap(), "mailto:ops@example.com").unwrap();
        let url = reqwest::Url::parse("https://push.example.com:8443/wpush/abc?x=1").unwrap();
        let h = v.authorization(&url, 1_000).unwrap();
        let (t, k) = h
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(k, v.public_key());
        let (signed, sig) = t.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, b(k))
            .verify(signed.as_bytes(), &b(sig))
            .unwrap();
        let claims: Value = serde_json::from_slice(&b(signed.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.com:8443");
        assert_eq!(claims["exp"], 1_000 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert_eq!(outcome(410), Outcome::Permanent);
        assert_eq!(outcome(429), Outcome::Transient);
        assert_eq!(outcome(413), Outcome::Permanent);
        assert_eq!(outcome(503), Outcome::Transient);
        assert_eq!(outcome(201), Outcome::Ok);
    }

    fn provider(extra: &str) -> anyhow::Result<WebPush> {
        let cfg = crate::config::Config::from_toml(&format!(
            "[channels.push]\nproviders = [\"webpush\"]\n[channels.push.webpush]\n{extra}"
        ))
        .unwrap();
        let generated = crate::channels::push::new_key().unwrap();
        WebPush::new(
            &cfg.push.providers[0],
            Duration::from_secs(1),
            Some(&generated),
        )
    }

    #[test]
    fn configured_keys_must_be_a_pair_and_a_subject_is_required() {
        // RFC 8291's application server key pair is a valid P-256 pair.
        let private = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
        let public = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
        let p = provider(&format!(
            "subject = \"mailto:a@example.com\"\nvapid_private_key = \"{private}\"\nvapid_public_key = \"{public}\""
        ))
        .unwrap();
        assert_eq!(p.vapid.public_key(), public);
        let other = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        let e = provider(&format!(
            "subject = \"mailto:a@example.com\"\nvapid_private_key = \"{private}\"\nvapid_public_key = \"{other}\""
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("channels.push.webpush.vapid_private_key"), "{e}");
        assert!(!e.contains(private), "the key is not repeated: {e}");
        let e = provider(&format!(
            "subject = \"mailto:a@example.com\"\nvapid_private_key = \"{private}\""
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("channels.push.webpush.vapid_public_key"), "{e}");
        let e = provider("").err().unwrap().to_string();
        assert!(e.contains("channels.push.webpush.subject"), "{e}");
        let e = provider("subject = \"mailto:a@example.com\"\nurgency = \"now\"")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("channels.push.webpush.urgency"), "{e}");
    }
}
