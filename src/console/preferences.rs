//! The recipient's own side: a preference page (`/p/{token}`) and RFC 8058
//! one-click unsubscribe (`/u/{token}`), opened by a signed preference link
//! instead of a login. A link opens the preferences of the recipient it was
//! made for and nothing else, until it expires or the recipient's tokens
//! are revoked. Server-rendered, in English or Chinese, usable without
//! JavaScript: every control has a label, the page is one form, and the
//! answer to a save is a redirect to the page with a status line.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::domain::{Category, Channel};
use crate::flow::preferences::Preferences;
use crate::inbox::token::PreferenceClaims;
use crate::inbox::VerifyError;
use crate::service::AppState;
use crate::util::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/p/{token}", get(show).post(save))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
}

/// The languages the page speaks.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Lang {
    En,
    Zh,
}

impl Lang {
    fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("zh") {
            Some(Lang::Zh)
        } else if t.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// `?lang=`, else the recipient's locale, else the browser's first
    /// language we speak, else English.
    fn pick(query: Option<&str>, recipient: Option<&str>, headers: &HeaderMap) -> Lang {
        query
            .and_then(Lang::from_tag)
            .or_else(|| recipient.and_then(Lang::from_tag))
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.split(',')
                            .filter_map(|t| Lang::from_tag(t.split(';').next().unwrap_or("")))
                            .next()
                    })
            })
            .unwrap_or(Lang::En)
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    fn channel(self, c: Channel) -> &'static str {
        match c {
            Channel::Email => self.t("Email", "电子邮件"),
            Channel::Sms => self.t("Text messages (SMS)", "短信"),
            Channel::Push => self.t("Push notifications", "推送通知"),
            Channel::Chat => self.t("Chat messages", "聊天消息"),
            Channel::InApp => self.t("Messages in the app", "应用内消息"),
            _ => c.as_str(),
        }
    }

    fn category(self, c: Category) -> &'static str {
        match c {
            Category::Transactional => self.t("Account and order updates", "账户和订单通知"),
            Category::Marketing => self.t("News and offers", "新闻和优惠"),
            Category::Auth => self.t("Sign-in and security codes", "登录和安全验证码"),
        }
    }
}

/// The channels a recipient may turn off here: those this instance sends
/// on that reach a person (webhooks reach systems).
fn channels(state: &AppState) -> Vec<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .filter(|c| *c != Channel::Webhook && state.enabled_channels.contains(c))
        .collect()
}

/// The most topics the page lists.
const MAX_TOPICS: usize = 50;

const CATEGORIES: [Category; 2] = [Category::Transactional, Category::Marketing];

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;color:#111;background:#fff;max-width:36rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.5rem}fieldset{border:1px solid #767676;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}\
legend{font-weight:600;padding:0 .25rem}label{display:block;padding:.35rem 0}\
input[type=checkbox]{width:1.1rem;height:1.1rem;margin-right:.5rem;vertical-align:-.15rem}\
button{font:inherit;padding:.5rem 1.25rem;border:0;border-radius:6px;background:#0b57d0;color:#fff;cursor:pointer}\
button:focus,input:focus,a:focus{outline:3px solid #e37400;outline-offset:2px}\
.status{padding:.5rem 1rem;border-radius:6px;background:#e6f4ea;color:#0d652d}.note{color:#444}";

fn page(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (STYLE) }
            }
            body { main { (body) } }
        }
    }
}

/// The answer to a link that is not (or no longer) valid.
/// Why a link opens nothing.
enum Refusal {
    /// Altered, cut short, or not a preference link.
    Invalid,
    Expired,
    /// Revoked, or its recipient is gone.
    Revoked,
    /// The database can't answer.
    Unavailable,
}

impl From<VerifyError> for Refusal {
    fn from(e: VerifyError) -> Refusal {
        use crate::inbox::token::TokenError;
        match e {
            VerifyError::Token(TokenError::Expired) => Refusal::Expired,
            VerifyError::Token(TokenError::Revoked) => Refusal::Revoked,
            VerifyError::Token(_) => Refusal::Invalid,
            VerifyError::Store(_) => Refusal::Unavailable,
        }
    }
}

fn refused(lang: Lang, why: Refusal) -> Response {
    let (status, en, zh) = match why {
        Refusal::Expired => (
            StatusCode::GONE,
            "This link has expired. Use the link in a newer message.",
            "此链接已过期，请使用较新消息中的链接。",
        ),
        Refusal::Revoked => (
            StatusCode::GONE,
            "This link is no longer valid. Use the link in a newer message.",
            "此链接已失效，请使用较新消息中的链接。",
        ),
        Refusal::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Your preferences can't be shown right now. Please try again in a minute.",
            "暂时无法显示您的偏好设置，请稍后再试。",
        ),
        Refusal::Invalid => (
            StatusCode::NOT_FOUND,
            "This link is not valid. Check that it was copied whole.",
            "此链接无效，请确认已完整复制。",
        ),
    };
    let title = lang.t("Notification preferences", "通知偏好设置");
    (
        status,
        axum::response::Html(
            page(lang, title, html! { h1 { (title) } p { (lang.t(en, zh)) } }).into_string(),
        ),
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

/// A valid link's claims and its recipient's profile, or the page that
/// says why not.
async fn open(
    state: &AppState,
    token: &str,
    lang_query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(PreferenceClaims, crate::store::RecipientRow, Lang), Response> {
    let fallback = Lang::pick(lang_query, None, headers);
    let claims = state
        .inbox
        .verify_preference_token(token)
        .await
        .map_err(|e| refused(fallback, e.into()))?;
    let row = match state.recipient(&claims.recipient).await {
        Ok(r) => r,
        Err(crate::service::Error::NotFound(_)) => return Err(refused(fallback, Refusal::Revoked)),
        Err(_) => return Err(refused(fallback, Refusal::Unavailable)),
    };
    let lang = Lang::pick(lang_query, row.locale.as_deref(), headers);
    Ok((claims, row, lang))
}

async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (claims, row, lang) = match open(&state, &token, q.lang.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let prefs = Preferences::from_json(&row.preferences);
    let mut topics = Vec::new();
    for key in state
        .store
        .topics_of(&row.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .take(MAX_TOPICS)
    {
        let name = match state.store.get_topic(&key).await {
            Ok(Some(t)) if !t.name.is_empty() => t.name,
            _ => key.clone(),
        };
        topics.push((key, name));
    }
    let title = lang.t("Notification preferences", "通知偏好设置");
    let unsubscribe_from = claims
        .category
        .as_deref()
        .and_then(|c| Category::parse(c).ok());
    let body = html! {
        h1 { (title) }
        @if q.saved.is_some() {
            p.status role="status" { (lang.t("Your preferences are saved.", "您的偏好设置已保存。")) }
        }
        p.note { (lang.t("Choose how and about what we may contact you. Changes apply to the next message.", "选择我们可以通过哪些方式、就哪些内容联系您。更改将从下一条消息起生效。")) }
        @if let Some(c) = unsubscribe_from {
            p { (lang.t("To stop receiving", "如不想再收到")) " “" (lang.category(c)) "”" (lang.t(", clear its box below and save.", "，请取消勾选下方对应选项并保存。")) }
        }
        form method="post" action={ "/p/" (token) "?lang=" (lang.code()) } {
            fieldset {
                legend { (lang.t("Ways to reach you", "联系方式")) }
                @for c in channels(&state) {
                    @let id = format!("channel-{}", c.as_str());
                    input type="hidden" name="shown" value={ "channel." (c.as_str()) };
                    label for=(id) {
                        input type="checkbox" id=(id) name={ "channel." (c.as_str()) } value="on"
                            checked[prefs.channels.get(c.as_str()).copied().unwrap_or(true)];
                        (lang.channel(c))
                    }
                }
            }
            fieldset {
                legend { (lang.t("What we send you", "消息类型")) }
                @for c in CATEGORIES {
                    @let id = format!("category-{}", c.as_str());
                    input type="hidden" name="shown" value={ "category." (c.as_str()) };
                    label for=(id) {
                        input type="checkbox" id=(id) name={ "category." (c.as_str()) } value="on"
                            checked[prefs.categories.get(c.as_str()).copied().unwrap_or(true)];
                        (lang.category(c))
                    }
                }
                p.note { (lang.category(Category::Auth)) (lang.t(" are always sent.", "始终会发送。")) }
            }
            @if !topics.is_empty() {
                fieldset {
                    legend { (lang.t("Topics you follow", "您关注的主题")) }
                    @for (i, (key, name)) in topics.iter().enumerate() {
                        @let id = format!("topic-{i}");
                        input type="hidden" name="shown" value={ "topic." (key) };
                        label for=(id) {
                            input type="checkbox" id=(id) name={ "topic." (key) } value="on" checked;
                            (name)
                        }
                    }
                }
            }
                        button type="submit" { (lang.t("Save", "保存")) }
        }
        p.note {
            @if lang == Lang::Zh { a href={ "/p/" (token) "?lang=en" } lang="en" { "English" } }
            @else { a href={ "/p/" (token) "?lang=zh" } lang="zh-CN" { "中文" } }
        }
    };
    axum::response::Html(page(lang, title, body).into_string()).into_response()
}

async fn save(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (claims, row, lang) = match open(&state, &token, q.lang.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if fields.len() > 256 {
        return (StatusCode::BAD_REQUEST, "too many fields").into_response();
    }
    let mut prefs = Preferences::from_json(&row.preferences);
    let on = |name: &str| fields.iter().any(|(k, v)| k == name && v == "on");
    let shown = |name: &str| fields.iter().any(|(k, v)| k == "shown" && v == name);
    for c in channels(&state) {
        let name = format!("channel.{}", c.as_str());
        if shown(&name) {
            prefs.channels.insert(c.as_str().to_string(), on(&name));
        }
    }
    for c in CATEGORIES {
        let name = format!("category.{}", c.as_str());
        if shown(&name) {
            prefs.categories.insert(c.as_str().to_string(), on(&name));
        }
    }
    if let Err(r) = store_preferences(&state, &claims.recipient, &prefs, lang).await {
        return r;
    }
    // Topics left: each one shown and cleared (only this recipient's own
    // subscription can be touched).
    let me = [claims.recipient.clone()];
    for (_, v) in fields.iter().filter(|(k, _)| k == "shown") {
        if let Some(topic) = v.strip_prefix("topic.") {
            if !on(v) {
                if let Err(e) = state.store.unsubscribe(topic, &me).await {
                    tracing::warn!(error = %e, "a preference page could not leave a topic");
                    return refused(lang, Refusal::Unavailable);
                }
            }
        }
    }
    tracing::info!(recipient = %claims.recipient, "preferences changed from a preference link");
    Redirect::to(&format!("/p/{token}?lang={}&saved=1", lang.code())).into_response()
}

async fn store_preferences(
    state: &AppState,
    recipient: &str,
    prefs: &Preferences,
    lang: Lang,
) -> Result<(), Response> {
    let json = serde_json::to_string(prefs).unwrap_or_else(|_| "{}".into());
    match state
        .store
        .set_preferences(recipient, &json, now_ms())
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(refused(lang, Refusal::Revoked)),
        Err(e) => {
            tracing::warn!(error = %e, "a preference page could not save");
            Err(refused(lang, Refusal::Unavailable))
        }
    }
}

/// What a GET of an unsubscribe link shows: one button (mail scanners
/// follow links; only a POST changes anything).
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (claims, _, lang) = match open(&state, &token, q.lang.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let what = unsubscribe_target(lang, &claims);
    let title = lang.t("Unsubscribe", "退订");
    let body = html! {
        h1 { (title) }
        p { (lang.t("Stop receiving: ", "不再接收：")) (what) }
        form method="post" action={ "/u/" (token) "?lang=" (lang.code()) } {
            input type="hidden" name="List-Unsubscribe" value="One-Click";
            button type="submit" { (lang.t("Unsubscribe", "退订")) }
        }
        p { a href={ "/p/" (token) "?lang=" (lang.code()) } { (lang.t("Or choose what you receive", "或选择您要接收的内容")) } }
    };
    axum::response::Html(page(lang, title, body).into_string()).into_response()
}

fn unsubscribe_target(lang: Lang, claims: &PreferenceClaims) -> &'static str {
    match claims
        .category
        .as_deref()
        .and_then(|c| Category::parse(c).ok())
    {
        Some(c) => lang.category(c),
        None => lang.channel(Channel::Email),
    }
}

/// RFC 8058 one-click unsubscribe: turns the link's category off (or, for
/// a link without one, email).
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (claims, row, lang) = match open(&state, &token, q.lang.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut prefs = Preferences::from_json(&row.preferences);
    match claims
        .category
        .as_deref()
        .and_then(|c| Category::parse(c).ok())
    {
        Some(Category::Auth) => {}
        Some(c) => {
            prefs.categories.insert(c.as_str().to_string(), false);
        }
        None => {
            prefs
                .channels
                .insert(Channel::Email.as_str().to_string(), false);
        }
    }
    if let Err(r) = store_preferences(&state, &claims.recipient, &prefs, lang).await {
        return r;
    }
    tracing::info!(recipient = %claims.recipient, category = ?claims.category, "unsubscribed through a one-click link");
    let title = lang.t("Unsubscribed", "已退订");
    let body = html! {
        h1 { (title) }
        p.status role="status" { (lang.t("You will no longer receive: ", "您将不再收到：")) (unsubscribe_target(lang, &claims)) }
        p { a href={ "/p/" (token) "?lang=" (lang.code()) } { (lang.t("Change your preferences", "更改偏好设置")) } }
    };
    axum::response::Html(page(lang, title, body).into_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_query_the_profile_then_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            "fr-FR, zh-TW;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::pick(None, None, &h), Lang::Zh);
        assert_eq!(Lang::pick(None, Some("en-GB"), &h), Lang::En);
        assert_eq!(Lang::pick(Some("zh"), Some("en-GB"), &h), Lang::Zh);
        assert_eq!(Lang::pick(Some("xx"), None, &HeaderMap::new()), Lang::En);
    }
}
