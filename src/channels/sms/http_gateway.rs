//! The `http` provider: a generic gateway, sent a request templated from
//! the settings. Its own file for what a template brings: checking the
//! templates at start-up with awkward sample data, rendering them per
//! message (percent-encoded in the URL) and headers that may hold
//! credentials. Sending and the outcome of an answer are
//! src/channels/http.rs's.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::SmsProvider;
use crate::channels::http::{http_url, Client, PROVIDER_READ_LIMIT};
use crate::channels::providers::Provider;
use crate::channels::{truncate, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ConfigError, ProviderConfig};
use crate::render::render_text;

fn default_method() -> String {
    "POST".into()
}

fn default_content_type() -> String {
    "application/json".into()
}

fn default_body() -> String {
    "{\"to\": {{json to}}, \"text\": {{json text}} }".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSettings {
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    url: String,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default = "default_body")]
    body: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `url` may be a private, loopback or link-local address.
    #[serde(default)]
    allow_private: bool,
}

/// A generic gateway: `method url` with `headers` and a body rendered from
/// the `body` template over `to`, `text` and `delivery_id`. The URL may use
/// the same variables; there they are percent-encoded.
pub struct HttpProvider {
    name: String,
    key: String,
    client: Client,
    method: reqwest::Method,
    url: String,
    body: String,
    /// May hold credentials: never logged or recorded.
    headers: reqwest::header::HeaderMap,
}

/// The variables the body template sees.
fn body_data(to: &str, text: &str, delivery_id: &str) -> Value {
    json!({"to": to, "text": text, "delivery_id": delivery_id})
}

/// The same, percent-encoded for use in a URL.
fn url_data(to: &str, text: &str, delivery_id: &str) -> Value {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    json!({"to": enc(to), "text": enc(text), "delivery_id": enc(delivery_id)})
}

impl HttpProvider {
    pub fn new(p: &ProviderConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let s: HttpSettings = p.parse()?;
        let method = match s.method.trim().to_ascii_uppercase().as_str() {
            "GET" => reqwest::Method::GET,
            "POST" => reqwest::Method::POST,
            "PUT" => reqwest::Method::PUT,
            "PATCH" => reqwest::Method::PATCH,
            _ => {
                return Err(p.invalid(
                    "method",
                    format!("{:?}: one of GET, POST, PUT, PATCH", s.method),
                ))
            }
        };
        let url = s.url.trim().to_string();
        if url.is_empty() {
            return Err(p.invalid("url", "required: the gateway's http(s) URL"));
        }
        // Sample data with a quote, a backslash and a line break, so a body
        // that pastes `{{text}}` into JSON instead of `{{json text}}` is
        // caught now rather than on the first message.
        let (to, text, id) = (
            "+15005550006",
            "Sample \"text\" \\ 验证码\nline 2",
            "00000000-0000-0000-0000-000000000000",
        );
        let sample_url =
            render_text(&url, &url_data(to, text, id)).map_err(|e| p.invalid("url", e))?;
        http_url(p, "url", &sample_url)?;
        let sample = render_text(&s.body, &body_data(to, text, id)).map_err(|e| {
            p.invalid(
                "body",
                format!("{e}; the template may use to, text and delivery_id"),
            )
        })?;
        let content_type = s.content_type.trim().to_string();
        if content_type.to_ascii_lowercase().contains("json") {
            if let Err(e) = serde_json::from_str::<Value>(&sample) {
                return Err(p.invalid(
                    "body",
                    format!("with content_type {content_type:?} it must render to JSON, but renders {sample:?} ({e}); write values with the json helper: {{{{json text}}}}"),
                ));
            }
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if !content_type.is_empty() {
            let v = reqwest::header::HeaderValue::from_str(&content_type).map_err(|_| {
                p.invalid(
                    "content_type",
                    format!("{content_type:?} is not a valid header value"),
                )
            })?;
            headers.insert(reqwest::header::CONTENT_TYPE, v);
        }
        for (k, v) in &s.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| p.invalid(&format!("headers.{k}"), "not a valid header name"))?;
            let mut value = reqwest::header::HeaderValue::from_str(v.trim())
                .map_err(|_| p.invalid(&format!("headers.{k}"), "not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(HttpProvider {
            name: p.name.clone(),
            key: p.key.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            method,
            url,
            body: s.body,
            headers,
        })
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait]
impl SmsProvider for HttpProvider {
    async fn send(&self, to: &str, text: &str, msg: &Message<'_>) -> SendResult {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let url = match render_text(&self.url, &url_data(to, text, msg.delivery_id))
            .map_err(|e| e.to_string())
            .and_then(|u| reqwest::Url::parse(&u).map_err(|e| e.to_string()))
        {
            Ok(u) => u,
            Err(e) => {
                r.error = Some(format!("`{}.url`: {e}", self.key));
                return r;
            }
        };
        let body = match render_text(&self.body, &body_data(to, text, msg.delivery_id)) {
            Ok(b) => b,
            Err(e) => {
                r.error = Some(format!("`{}.body`: {e}", self.key));
                return r;
            }
        };
        let mut request = self
            .client
            .http
            .request(self.method.clone(), url.clone())
            .headers(self.headers.clone());
        if !(body.is_empty() && self.method == reqwest::Method::GET) {
            request = request.body(body);
        }
        let Some(resp) = self.client.send(&mut r, request, &url).await else {
            return r;
        };
        let code = match self.client.answer(&mut r, resp, PROVIDER_READ_LIMIT).await {
            Ok(body) => {
                r.response = Some(truncate(body, MAX_RESPONSE));
                r.status_code.unwrap_or_default()
            }
            Err(e) => {
                r.error = Some(e);
                return r;
            }
        };
        if r.outcome != Outcome::Ok {
            r.error = Some(format!("gateway answered HTTP {code}"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variables_are_percent_encoded() {
        let u = render_text(
            "http://gw/s?to={{to}}&t={{text}}",
            &url_data("+861", "a b&c=验", "d"),
        )
        .unwrap();
        assert_eq!(u, "http://gw/s?to=%2B861&t=a+b%26c%3D%E9%AA%8C");
    }
}
