//! The chat channel: messages to chat rooms through providers `slack`
//! (chat.postMessage with a bot token) and `slack_webhook` (slack.rs),
//! `teams` (teams.rs), `feishu` (feishu.rs), `dingtalk` (dingtalk.rs),
//! `wecom` (wecom.rs), `telegram` (telegram.rs) and `file` (file.rs; the
//! zero-configuration default).
//!
//! Unlike email and SMS, where any provider can reach any address and the
//! list is a failover order, a chat address names its provider
//! (`NAME[:TARGET]`, src/domain/chat.rs): a Slack channel can't be reached
//! through a DingTalk robot. So this channel routes each send to the
//! provider its address names (an unknown name goes to the first `file`
//! provider, if one is listed) and keeps each provider's breaker, pause
//! and rate limit on its own, by address; the machinery is the same
//! `Failover` email and SMS use, one per provider. What the channel's
//! content is (a title, a text, Block Kit blocks) is read here once; each
//! provider's file says only how that becomes its request and how its
//! answer reads.

mod dingtalk;
mod feishu;
mod file;
mod slack;
mod teams;
mod telegram;
mod wecom;

pub use dingtalk::sign as dingtalk_sign;
pub use feishu::sign as feishu_sign;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::failover::{Failover, ProviderStatus};
use super::http::{Client, PROVIDER_READ_LIMIT};
use super::outbox::Outbox;
use super::providers::Provider;
use super::{truncate, Channel, Message, Outcome, SendResult, MAX_RESPONSE};
use crate::config::{ChannelConfig, Config, ConfigError, ProviderConfig, RateLimit};
use crate::domain::chat::split;
use crate::flow::provider_state::ProviderBoard;

const NAME: &str = crate::domain::Channel::Chat.as_str();

/// What a chat message is made of, read from the delivery's parts.
pub struct ChatMessage<'a> {
    pub title: Option<&'a str>,
    pub text: &'a str,
    /// Slack Block Kit JSON as rendered, if the template has it.
    pub blocks: Option<&'a str>,
}

impl<'a> ChatMessage<'a> {
    /// The parts of `content`; `text` is required.
    pub fn from_content(content: &'a serde_json::Map<String, Value>) -> Result<Self, String> {
        let part = |p: &str| match content.get(p) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.as_str()),
            _ => None,
        };
        let text = part("text").ok_or("the template has no chat text (chat.text)")?;
        Ok(ChatMessage {
            title: part("title"),
            text,
            blocks: part("blocks"),
        })
    }

    /// The Block Kit blocks, if any: a JSON array, else a clear error.
    pub fn blocks(&self) -> Result<Option<Value>, String> {
        let Some(b) = self.blocks else {
            return Ok(None);
        };
        match serde_json::from_str::<Value>(b) {
            Ok(v @ Value::Array(_)) => Ok(Some(v)),
            Ok(_) => {
                Err("chat.blocks must render to a JSON array of Slack Block Kit blocks".into())
            }
            Err(e) => Err(format!("chat.blocks is not valid JSON ({e})")),
        }
    }

    /// The title and the text as plain lines, for providers with no place
    /// of their own for a title.
    pub fn plain(&self) -> String {
        match self.title {
            Some(t) => format!("{t}\n\n{}", self.text),
            None => self.text.to_string(),
        }
    }
}

/// One configured chat provider.
#[async_trait]
pub trait ChatProvider: Provider {
    /// Sends `m` to `target` (the address's TARGET, if any).
    async fn send(
        &self,
        target: Option<&str>,
        m: &ChatMessage<'_>,
        msg: &Message<'_>,
    ) -> SendResult;
    /// Its rate limit holds per target (a channel, a robot) rather than
    /// for the whole provider.
    fn limit_per_target(&self) -> bool {
        true
    }
    /// It takes any address (the outbox).
    fn takes_any(&self) -> bool {
        false
    }
}

/// A chat provider reached through a webhook URL, its own or the
/// address's target: Slack's incoming webhooks, Teams, Feishu, DingTalk and
/// WeCom hold the same settings and differ in what they post and how they
/// answer.
pub(crate) struct Robot {
    pub name: String,
    key: String,
    pub client: Client,
    /// Holds the robot's key or signature: never logged or recorded.
    url: Option<reqwest::Url>,
    /// The signing secret, for the types that sign (Feishu, DingTalk).
    pub secret: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RobotSettings {
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    allow_private: bool,
}

impl Robot {
    /// `signed`: whether the type takes a `secret`.
    pub fn new(p: &ProviderConfig, timeout: Duration, signed: bool) -> Result<Robot, ConfigError> {
        let s: RobotSettings = p.parse()?;
        if !signed && s.secret.is_some() {
            return Err(p.invalid("secret", "nothing: this type signs nothing"));
        }
        Ok(Robot {
            name: p.name.clone(),
            key: p.key.clone(),
            client: Client::for_provider(p, s.allow_private, timeout)?,
            url: url_setting(p, &s.url)?,
            secret: s
                .secret
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        })
    }

    /// Posts `body` as JSON to `url`: the result so far, and the answer's
    /// text (none when there was no answer; the result says why).
    pub async fn post(&self, url: &reqwest::Url, body: &Value) -> (SendResult, Option<String>) {
        let mut r = SendResult::new(&self.name, Outcome::Permanent);
        let request = self.client.http.post(url.clone());
        let answer = post_json(&self.client, &mut r, request, url, body).await;
        (r, answer)
    }

    /// Where to post: the address's target, or the robot's own URL; a
    /// failed send when there is neither.
    pub fn url(&self, target: Option<&str>) -> Result<reqwest::Url, SendResult> {
        webhook_url(self.url.as_ref(), target, &self.key)
            .map_err(|e| SendResult::failed(&self.name, e))
    }
}

/// A webhook URL for a send: the address's TARGET, else the provider's
/// own `url`. Errors never repeat a URL (it holds the robot's key).
pub(crate) fn webhook_url(
    own: Option<&reqwest::Url>,
    target: Option<&str>,
    key: &str,
) -> Result<reqwest::Url, String> {
    match target {
        Some(t) => match reqwest::Url::parse(t) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
                Ok(u)
            }
            _ => Err("the address's target is not an http(s) webhook URL".into()),
        },
        None => own.cloned().ok_or_else(|| {
            format!("the address gives no webhook URL and `{key}.url` is empty: give NAME:URL or set the url")
        }),
    }
}

/// A webhook URL setting (empty allowed): checked, never repeated in an
/// error.
pub(crate) fn url_setting(
    p: &ProviderConfig,
    value: &str,
) -> Result<Option<reqwest::Url>, ConfigError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match reqwest::Url::parse(v) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Ok(Some(u))
        }
        _ => Err(p.invalid(
            "url",
            "not an http(s) URL (the value is not shown: it holds the robot's key)",
        )),
    }
}

/// POSTs `body` as JSON and reads the answer: the HTTP status classified
/// into `r` (with Retry-After) and the body, or `None` when there is no
/// answer to read (`r` says why).
pub(crate) async fn post_json(
    client: &Client,
    r: &mut SendResult,
    request: reqwest::RequestBuilder,
    url: &reqwest::Url,
    body: &Value,
) -> Option<String> {
    let request = request
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    let resp = client.send(r, request, url).await?;
    match client.answer(r, resp, PROVIDER_READ_LIMIT).await {
        Ok(b) => Some(b),
        Err(e) => {
            r.error = Some(e);
            None
        }
    }
}

/// Keeps `body` as the attempt's answer, with `first` (what the provider
/// said, in short) before it so that it survives the cut.
pub(crate) fn keep(r: &mut SendResult, first: Option<String>, body: String) {
    r.response = Some(truncate(
        match first {
            Some(f) => format!("{f}\n{body}"),
            None => body,
        },
        MAX_RESPONSE,
    ));
}

/// An HTTP failure with no provider-specific words: `<who> answered HTTP n`.
pub(crate) fn http_error(r: &mut SendResult, who: &str) {
    if r.outcome != Outcome::Ok && r.error.is_none() {
        let code = r.status_code.unwrap_or_default();
        r.error = Some(format!("{who} answered HTTP {code}"));
    }
}

/// Reads a robot's answer (DingTalk's and WeCom's `errcode`, Feishu's
/// `code`, each read by its provider) into `r`. Code 0 on a 2xx is sent.
/// A code in `too_fast` is transient, after its wait unless the answer
/// gave a Retry-After; a code in `busy` is transient; any other code is
/// permanent (an HTTP error keeps its own class). An answer without a code
/// is transient on a 2xx, and otherwise the HTTP error it was.
pub(crate) fn robot_answer(
    r: &mut SendResult,
    who: &str,
    code: Option<(i64, Option<String>)>,
    too_fast: &[(i64, Duration)],
    busy: &[i64],
) {
    let http = r.status_code.unwrap_or_default();
    match code {
        Some((0, _)) if r.outcome == Outcome::Ok => {}
        Some((code, words)) => {
            if let Some((_, wait)) = too_fast.iter().find(|(c, _)| *c == code) {
                r.outcome = Outcome::Transient;
                r.retry_after = r.retry_after.or(Some(*wait));
            } else if busy.contains(&code) {
                r.outcome = Outcome::Transient;
            } else if r.outcome == Outcome::Ok {
                r.outcome = Outcome::Permanent;
            }
            let words = words.unwrap_or_default();
            r.error = Some(format!("{who} error {code}: {words} (HTTP {http})"));
        }
        None => {
            if r.outcome == Outcome::Ok {
                r.outcome = Outcome::Transient;
                r.error = Some(format!("{who} answered HTTP {http} without a code"));
            }
            http_error(r, who);
        }
    }
}

/// Checks one `channels.chat` provider without posting (`missive
/// doctor`): a Slack bot's token with `auth.test`, a Telegram bot's with
/// `getMe`; the robots' webhooks have no call that does not post, so only
/// their settings are checked.
pub async fn check(
    p: &ProviderConfig,
    cfg: &ChannelConfig,
    root: &Config,
) -> Result<String, String> {
    let not_contacted =
        |kind: &str| format!("{kind} settings valid; not contacted (any request would post)");
    match p.kind.as_str() {
        "file" => Outbox::new(p, root, NAME)
            .map(|_| "writes JSON files to the outbox (nothing to contact)".into())
            .map_err(|e| e.to_string()),
        "slack" => {
            slack::SlackBot::new(p, cfg.timeout)
                .map_err(|e| e.to_string())?
                .check()
                .await
        }
        "telegram" => {
            telegram::Telegram::new(p, cfg.timeout)
                .map_err(|e| e.to_string())?
                .check()
                .await
        }
        "slack_webhook" => slack::SlackWebhook::new(p, cfg.timeout)
            .map(|_| not_contacted("Slack webhook"))
            .map_err(|e| e.to_string()),
        "teams" => teams::Teams::new(p, cfg.timeout)
            .map(|_| not_contacted("Teams"))
            .map_err(|e| e.to_string()),
        "feishu" => feishu::Feishu::new(p, cfg.timeout)
            .map(|_| not_contacted("Feishu"))
            .map_err(|e| e.to_string()),
        "dingtalk" => dingtalk::DingTalk::new(p, cfg.timeout)
            .map(|_| not_contacted("DingTalk"))
            .map_err(|e| e.to_string()),
        "wecom" => wecom::WeCom::new(p, cfg.timeout)
            .map(|_| not_contacted("WeCom"))
            .map_err(|e| e.to_string()),
        other => Err(format!(
            "`{}.type`: unknown chat provider type `{other}`",
            p.key
        )),
    }
}

/// Builds the chat channel from `channels.chat`.
pub fn build(cfg: &ChannelConfig, root: &Config) -> anyhow::Result<Option<Arc<dyn Channel>>> {
    let mut providers: Vec<Box<dyn ChatProvider>> = Vec::new();
    for p in &cfg.providers {
        let provider: Box<dyn ChatProvider> = match p.kind.as_str() {
            "file" => Box::new(Outbox::new(p, root, NAME)?),
            "slack" => Box::new(slack::SlackBot::new(p, cfg.timeout)?),
            "slack_webhook" => Box::new(slack::SlackWebhook::new(p, cfg.timeout)?),
            "teams" => Box::new(teams::Teams::new(p, cfg.timeout)?),
            "feishu" => Box::new(feishu::Feishu::new(p, cfg.timeout)?),
            "dingtalk" => Box::new(dingtalk::DingTalk::new(p, cfg.timeout)?),
            "wecom" => Box::new(wecom::WeCom::new(p, cfg.timeout)?),
            "telegram" => Box::new(telegram::Telegram::new(p, cfg.timeout)?),
            other => anyhow::bail!("`{}.type`: unknown chat provider type `{other}`", p.key),
        };
        providers.push(provider);
    }
    if providers.is_empty() {
        anyhow::bail!("`channels.chat.providers` is empty: give at least one provider, or file");
    }
    Ok(Some(Arc::new(ChatChannel::new(providers, cfg))))
}

/// The chat channel: each send goes to the provider its address names.
pub struct ChatChannel {
    /// One per provider (so each keeps its own breaker and pause), in the
    /// order of `channels.chat.providers`.
    providers: Vec<Failover<Box<dyn ChatProvider>>>,
    names: Vec<String>,
    limits: Vec<Option<RateLimit>>,
    retry_schedule: Vec<Duration>,
    max_retry_after: Duration,
}

impl ChatChannel {
    pub fn new(providers: Vec<Box<dyn ChatProvider>>, cfg: &ChannelConfig) -> ChatChannel {
        let names = providers.iter().map(|p| p.name().to_string()).collect();
        let limits = cfg.providers.iter().map(|p| p.rate_limit).collect();
        ChatChannel {
            providers: providers
                .into_iter()
                .map(|p| Failover::new(vec![p], cfg.breaker_threshold, cfg.breaker_cool_down))
                .collect(),
            names,
            limits,
            retry_schedule: cfg.retry_schedule.clone(),
            max_retry_after: cfg.max_retry_after,
        }
    }

    /// The provider `address` goes to, and its target.
    fn route<'a>(&self, address: &'a str) -> Option<(usize, Option<&'a str>)> {
        let (name, target) = split(address);
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Some((i, target));
        }
        // The outbox takes what no provider is named for, whole.
        self.providers
            .iter()
            .position(|f| f.likely(1).takes_any())
            .map(|i| (i, Some(address)))
    }
}

/// A short tag of a target, for a rate-limit bucket's name: the target
/// itself may be a URL holding a key, and buckets are stored.
fn tag(target: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(target.as_bytes())[..6])
}

#[async_trait]
impl Channel for ChatChannel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn retry_schedule(&self) -> &[Duration] {
        &self.retry_schedule
    }

    fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    async fn send(&self, msg: &Message<'_>) -> SendResult {
        let Some((i, target)) = self.route(msg.address) else {
            let (name, _) = split(msg.address);
            // Recorded under the channel's name: an address's NAME is the
            // sender's to choose, not a bounded metrics label.
            return SendResult::failed(
                NAME,
                format!(
                    "no chat provider named `{name}`: channels.chat.providers lists {}",
                    self.names.join(", ")
                ),
            );
        };
        let (index, provider) = self.providers[i].pick(1).await;
        let m = match ChatMessage::from_content(msg.content) {
            Ok(m) => m,
            Err(e) => return SendResult::failed(provider.name(), e),
        };
        let result = provider.send(target, &m, msg).await;
        self.providers[i].record(index, result.outcome, result.retry_after);
        result
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        self.providers
            .iter()
            .flat_map(|f| f.status(NAME, |p| p.name().to_string()))
            .collect()
    }

    fn share_provider_state(&self, board: &Arc<ProviderBoard>) {
        for f in &self.providers {
            f.share(board, NAME, |p| p.name().to_string());
        }
    }

    /// When every provider is paused, the end of the first pause.
    fn paused_until(&self) -> Option<i64> {
        self.providers
            .iter()
            .map(|f| f.all_paused_until())
            .try_fold(i64::MAX, |first, until| Some(first.min(until?)))
    }

    fn routes_by_address(&self) -> bool {
        true
    }

    fn paused_until_for(&self, address: &str) -> Option<i64> {
        let (i, _) = self.route(address)?;
        self.providers[i].all_paused_until()
    }

    fn provider_limit(&self, address: &str, _attempt: i64) -> Option<(String, RateLimit)> {
        let (i, target) = self.route(address)?;
        let limit = self.limits.get(i).copied().flatten()?;
        let name = &self.names[i];
        match target {
            Some(t) if self.providers[i].likely(1).limit_per_target() => {
                Some((format!("{name}@{}", tag(t)), limit))
            }
            _ => Some((name.clone(), limit)),
        }
    }

    /// The provider's name: its sends in flight are bounded together.
    fn destination(&self, address: &str, _attempt: i64) -> Option<String> {
        let (i, _) = self.route(address)?;
        let p = self.providers[i].likely(1);
        p.remote().then(|| format!("{NAME}:{}", p.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(extra: &str) -> Result<Config, String> {
        Config::from_toml(extra).map_err(|e| e.to_string())
    }

    fn build_err(extra: &str) -> String {
        let cfg = chat(extra).unwrap();
        match build(&cfg.chat, &cfg) {
            Ok(_) => panic!("expected an error for {extra}"),
            Err(e) => format!("{e:#}"),
        }
    }

    fn content(parts: &[(&str, &str)]) -> serde_json::Map<String, Value> {
        parts
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect()
    }

    fn message<'a>(address: &'a str, content: &'a serde_json::Map<String, Value>) -> Message<'a> {
        Message {
            delivery_id: "d1",
            notification_id: "n1",
            recipient: "u1",
            category: "transactional",
            attempt: 1,
            address,
            content,
            list_unsubscribe: None,
        }
    }

    #[test]
    fn the_default_is_the_outbox_and_provider_settings_are_checked() {
        let cfg = chat("").unwrap();
        assert!(build(&cfg.chat, &cfg).unwrap().is_some());
        for (toml, key) in [
            ("[channels.chat]\nproviders = [\"slack\"]", "channels.chat.slack.token"),
            ("[channels.chat]\nproviders = [\"telegram\"]", "channels.chat.telegram.token"),
            (
                "[channels.chat]\nproviders = [\"telegram\"]\n[channels.chat.telegram]\ntoken = \"1:x\"\nparse_mode = \"bbcode\"",
                "channels.chat.telegram.parse_mode",
            ),
            (
                "[channels.chat]\nproviders = [\"ops\"]\n[channels.chat.ops]\ntype = \"dingtalk\"\nurl = \"ftp://robot?access_token=s3cret-key\"",
                "channels.chat.ops.url",
            ),
        ] {
            let e = build_err(toml);
            assert!(e.contains(key), "{toml}: {e}");
            assert!(!e.contains("s3cret-key"), "{e}");
        }
        let e = chat("[channels.chat]\nproviders = [\"x\"]\n[channels.chat.x]\ntype = \"irc\"")
            .unwrap_err();
        assert!(e.contains("channels.chat.x.type"), "{e}");
    }

    #[test]
    fn named_tables_take_their_types_limit_unless_they_set_one() {
        let c = chat(
            "[channels.chat]\nproviders = [\"ops\", \"dev\", \"dingtalk\"]\n\
             [channels.chat.ops]\ntype = \"dingtalk\"\n\
             [channels.chat.dev]\ntype = \"dingtalk\"\nrate_limit = \"5/min\"",
        )
        .unwrap();
        let limits: Vec<_> = c
            .chat
            .providers
            .iter()
            .map(|p| p.rate_limit.map(|l| (l.rate.count, l.rate.per.as_millis())))
            .collect();
        assert_eq!(
            limits,
            vec![Some((20, 60_000)), Some((5, 60_000)), Some((20, 60_000))]
        );
        let tg = chat("[channels.chat]\nproviders = [\"telegram\"]").unwrap();
        let l = tg.chat.providers[0].rate_limit.unwrap();
        assert_eq!(
            (l.rate.count, l.rate.per.as_millis(), l.burst),
            (30, 1000, 3)
        );
    }

    #[tokio::test]
    async fn addresses_pick_their_provider_and_unknown_names_go_to_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = chat(&format!(
            "[channels.chat]\nproviders = [\"file\", \"dingtalk\"]\n\
             [channels.chat.file]\ndir = {:?}\n\
             [channels.chat.dingtalk]\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=k\"",
            dir.path()
        ))
        .unwrap();
        let ch = build(&cfg.chat, &cfg).unwrap().unwrap();
        let c = content(&[("text", "hi")]);
        let r = ch.send(&message("ops:#alerts", &c)).await;
        assert_eq!((r.outcome, r.provider.as_str()), (Outcome::Ok, "file"));
        let written: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("d1.json")).unwrap()).unwrap();
        assert_eq!(written["to"], "ops:#alerts");
        assert_eq!(written["text"], "hi");
        // DingTalk's limit holds per robot: two robots, two buckets.
        let (a, _) = ch
            .provider_limit("dingtalk:https://a.example/?access_token=1", 1)
            .unwrap();
        let (b, _) = ch
            .provider_limit("dingtalk:https://b.example/?access_token=2", 1)
            .unwrap();
        assert!(
            a.starts_with("dingtalk@") && b.starts_with("dingtalk@") && a != b,
            "{a} {b}"
        );
        assert!(!a.contains("access_token"), "{a}");
        assert_eq!(ch.provider_limit("dingtalk", 1).unwrap().0, "dingtalk");
        assert_eq!(
            ch.destination("dingtalk", 1).as_deref(),
            Some("chat:dingtalk")
        );
        assert_eq!(ch.destination("ops", 1), None, "the outbox is local");
    }

    #[tokio::test]
    async fn without_an_outbox_an_unknown_name_fails_naming_the_providers() {
        let cfg = chat(
            "[channels.chat]\nproviders = [\"wecom\"]\n[channels.chat.wecom]\nurl = \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\"",
        )
        .unwrap();
        let ch = build(&cfg.chat, &cfg).unwrap().unwrap();
        let c = content(&[("text", "hi")]);
        let r = ch.send(&message("slack:C1", &c)).await;
        assert_eq!(
            (r.outcome, r.provider.as_str()),
            (Outcome::Permanent, "chat")
        );
        assert_eq!(
            r.error.as_deref(),
            Some("no chat provider named `slack`: channels.chat.providers lists wecom")
        );
        let r = ch
            .send(&message("wecom", &content(&[("title", "t")])))
            .await;
        assert_eq!(r.outcome, Outcome::Permanent);
        assert_eq!(
            r.error.as_deref(),
            Some("the template has no chat text (chat.text)")
        );
    }

    #[test]
    fn blocks_must_be_a_json_array() {
        let c = content(&[("text", "t"), ("blocks", "[{\"type\": \"divider\"}]")]);
        let m = ChatMessage::from_content(&c).unwrap();
        assert_eq!(m.blocks().unwrap().unwrap()[0]["type"], "divider");
        let c = content(&[("text", "t"), ("blocks", "{\"type\": \"divider\"}")]);
        let e = ChatMessage::from_content(&c).unwrap().blocks().unwrap_err();
        assert!(e.contains("JSON array"), "{e}");
        let c = content(&[("text", "t"), ("blocks", "[{")]);
        let e = ChatMessage::from_content(&c).unwrap().blocks().unwrap_err();
        assert!(e.starts_with("chat.blocks is not valid JSON"), "{e}");
    }
}
