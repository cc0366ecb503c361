//! A workflow as its author writes it: the ordered steps one event takes
//! per recipient (send, wait, send again if still unread, collect into a
//! digest), each with the conditions it runs under. Read from JSON once,
//! with every mistake named by its path (`steps[2].window`), and bounded:
//! a definition can't ask for unbounded work. The conditions are evaluated
//! here too, as pure functions of the trigger's data, the recipient's
//! profile and what earlier steps of the same run did; so a dry run
//! ([`preview`]) and the engine agree by construction.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::check::{check_clock, truncate, valid_key};
use super::{Channel, FieldError};

/// The channel a workflow run's row in the queue names.
pub const RUN_CHANNEL: &str = "workflow";

/// Most steps in one workflow.
pub const MAX_STEPS: usize = 32;
/// Most conditions in one step's `if`, counting those inside `any`.
pub const MAX_CONDITIONS: usize = 16;
/// Most values an `in` / `not_in` condition lists.
pub const MAX_IN_VALUES: usize = 100;
/// The longest delay a step may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(90 * 86_400);
/// The longest digest window.
pub const MAX_WINDOW: Duration = Duration::from_secs(31 * 86_400);
/// The most events one digest carries, and its default.
pub const MAX_EVENTS: usize = 1_000;
pub const DEFAULT_MAX_EVENTS: usize = 100;

super::word::word! {
    /// What a step does.
    StepType {
        Send = "send",
        Delay = "delay",
        Digest = "digest",
    }
}

super::word::word! {
    /// How a step with a `channels` list uses them.
    SendMode {
        /// Tries them in order until one is delivered.
        FirstSuccess = "first_success",
        /// Sends on every one.
        All = "all",
    }
}

super::word::word! {
    /// What a condition may ask of an earlier step in the same run.
    StepIs {
        Sent = "sent",
        Failed = "failed",
        /// Sent in-app and read by the recipient.
        Read = "read",
        /// Sent in-app and not (yet) read.
        NotRead = "not_read",
        Skipped = "skipped",
    }
}

super::word::word! {
    /// How a condition compares a field with its value.
    Op {
        Equals = "equals",
        NotEquals = "not_equals",
        In = "in",
        NotIn = "not_in",
        Exists = "exists",
        NotExists = "not_exists",
        Gt = "gt",
        Gte = "gte",
        Lt = "lt",
        Lte = "lte",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub id: String,
    /// All must hold for the step to run (`if` in JSON).
    pub when: Vec<Condition>,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Send {
        /// One channel (`channel`), or several (`channels` with `mode`).
        channels: Vec<Channel>,
        mode: Option<SendMode>,
        /// A template key, or inline parts per channel (`content`).
        template: Option<String>,
        content: Option<Map<String, Value>>,
    },
    Delay(Delay),
    Digest(Digest),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Delay {
    For(Duration),
    /// Until the time a template expression gives (`{{data.remind_at}}`).
    Until(String),
    /// Until the recipient's quiet hours end (at once outside them).
    QuietHoursEnd,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Digest {
    /// What else, besides the workflow and the recipient, one digest is
    /// per: a template expression (`{{data.thread_id}}`).
    pub key: Option<String>,
    pub window: Window,
    pub max_events: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Window {
    /// Open for this long from the first event.
    Fixed(Duration),
    /// Until the next time of day (minutes after midnight) in the
    /// recipient's timezone; on one weekday (0 = Monday) when given.
    Calendar { weekday: Option<u8>, minute: u16 },
    /// Until the next time a five-field cron expression matches, in the
    /// recipient's timezone.
    Cron(Box<croner::Cron>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Step {
        step: String,
        is: StepIs,
    },
    /// `path` starts at `data` or `recipient`.
    Field {
        path: Vec<String>,
        op: Op,
        value: Value,
    },
    /// At least one holds.
    Any(Vec<Condition>),
}

/// What an earlier step of the run did, as far as is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Not run yet, or not known (a dry run).
    Unknown,
    Skipped,
    Failed,
    Sent {
        in_app: bool,
        read: bool,
    },
}

/// Three-valued: a condition on a step whose outcome is not known yet is
/// neither true nor false.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    Yes,
    No,
    Depends,
}

/// What a run knows when it decides whether a step runs.
pub struct Facts<'a> {
    pub data: &'a Value,
    pub recipient: &'a Value,
    pub steps: &'a HashMap<String, StepOutcome>,
}

impl Workflow {
    /// Reads a definition (`{"steps": [...]}`; `name` and `description`
    /// are the resource's and ignored here). Every mistake is listed.
    pub fn parse(v: &Value) -> Result<Workflow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(steps) = v.get("steps").and_then(Value::as_array) else {
            return Err(vec![FieldError::new("steps", "must be a list of steps")]);
        };
        if steps.is_empty() || steps.len() > MAX_STEPS {
            errors.push(FieldError::new(
                "steps",
                format!("must hold 1 to {MAX_STEPS} steps"),
            ));
        }
        let mut out: Vec<Step> = Vec::new();
        let mut ids: Vec<&str> = Vec::new();
        for (i, s) in steps.iter().take(MAX_STEPS).enumerate() {
            let at = format!("steps[{i}]");
            if let Some(id) = s.get("id").and_then(Value::as_str) {
                if ids.contains(&id) {
                    errors.push(FieldError::new(
                        format!("{at}.id"),
                        format!("`{id}` names an earlier step too"),
                    ));
                }
                ids.push(id);
            }
            if let Some(step) = parse_step(&at, s, &out, &mut errors) {
                out.push(step);
            }
        }
        let digests = steps
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str) == Some(StepType::Digest.as_str()))
            .count();
        if digests > 1 {
            errors.push(FieldError::new("steps", "may hold one digest step at most"));
        }
        if errors.is_empty() {
            Ok(Workflow { steps: out })
        } else {
            Err(errors)
        }
    }
}

fn parse_step(at: &str, v: &Value, before: &[Step], errors: &mut Vec<FieldError>) -> Option<Step> {
    let Some(o) = v.as_object() else {
        errors.push(FieldError::new(at, "must be an object"));
        return None;
    };
    let n = errors.len();
    let field = |name: &str| format!("{at}.{name}");
    let id = match o.get("id").and_then(Value::as_str) {
        Some(id) if valid_step_id(id) => id.to_string(),
        _ => {
            errors.push(FieldError::new(
                field("id"),
                "must be 1 to 64 lowercase letters, digits, `-` or `_`",
            ));
            String::new()
        }
    };
    let kind = word(o, at, "type", StepType::parse, StepType::names, errors);
    let allowed: &[&str] = match kind {
        Some(StepType::Send) => &[
            "id", "type", "if", "channel", "channels", "mode", "template", "content",
        ],
        Some(StepType::Delay) => &["id", "type", "if", "for", "until"],
        Some(StepType::Digest) => &[
            "id",
            "type",
            "if",
            "key",
            "window",
            "schedule",
            "max_events",
        ],
        None => &[],
    };
    if kind.is_some() {
        for k in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
            errors.push(FieldError::new(
                field(k),
                "is not a field of this step type",
            ));
        }
    }
    let when = match o.get("if") {
        None => Vec::new(),
        Some(c) => parse_conditions(&field("if"), c, before, errors),
    };
    let action = match kind? {
        StepType::Send => parse_send(at, o, errors),
        StepType::Delay => parse_delay(at, o, errors),
        StepType::Digest => parse_digest(at, o, errors),
    };
    (errors.len() == n).then_some(Step { id, when, action })
}

fn valid_step_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn parse_send(at: &str, o: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Action {
    let field = |name: &str| format!("{at}.{name}");
    let channel = |path: String, v: &Value, errors: &mut Vec<FieldError>| match v
        .as_str()
        .map(Channel::parse)
    {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            errors.push(FieldError::new(path, e));
            None
        }
        None => {
            errors.push(FieldError::new(path, "must be a channel name"));
            None
        }
    };
    let (channels, mode) = match (o.get("channel"), o.get("channels")) {
        (Some(c), None) => {
            if o.contains_key("mode") {
                errors.push(FieldError::new(
                    field("mode"),
                    "goes with `channels`, not `channel`",
                ));
            }
            (
                channel(field("channel"), c, errors).into_iter().collect(),
                None,
            )
        }
        (None, Some(Value::Array(list)))
            if !list.is_empty() && list.len() <= Channel::ALL.len() =>
        {
            let mut cs: Vec<Channel> = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let path = format!("{at}.channels[{i}]");
                if let Some(c) = channel(path.clone(), c, errors) {
                    if cs.contains(&c) {
                        errors.push(FieldError::new(path, "is listed twice"));
                    }
                    cs.push(c);
                }
            }
            let mode = word(o, at, "mode", SendMode::parse, SendMode::names, errors);
            (cs, mode)
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                field("channels"),
                format!("must list 1 to {} channels", Channel::ALL.len()),
            ));
            (Vec::new(), None)
        }
        _ => {
            errors.push(FieldError::new(
                at,
                "needs exactly one of `channel` and `channels`",
            ));
            (Vec::new(), None)
        }
    };
    let template = match o.get("template") {
        None => None,
        Some(Value::String(k)) if valid_key(k) => Some(k.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                field("template"),
                "must be a template key: 1 to 100 letters, digits, `-`, `_` or `.`",
            ));
            None
        }
    };
    let content = match o.get("content") {
        None => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                field("content"),
                "must be parts per channel",
            ));
            None
        }
    };
    if o.contains_key("template") == o.contains_key("content") {
        errors.push(FieldError::new(
            at,
            "needs exactly one of `template` and `content`",
        ));
    }
    Action::Send {
        channels,
        mode,
        template,
        content,
    }
}

fn parse_delay(at: &str, o: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Action {
    let field = |name: &str| format!("{at}.{name}");
    let delay = match (o.get("for"), o.get("until")) {
        (Some(v), None) => duration(&field("for"), v, MAX_DELAY, errors).map(Delay::For),
        (None, Some(Value::String(s))) if s == "quiet_hours_end" => Some(Delay::QuietHoursEnd),
        (None, Some(Value::String(s))) if is_expression(s) => Some(Delay::Until(s.clone())),
        (None, Some(_)) => {
            errors.push(FieldError::new(
                field("until"),
                "must be a template expression such as {{data.remind_at}}, or quiet_hours_end",
            ));
            None
        }
        _ => {
            errors.push(FieldError::new(
                at,
                "needs exactly one of `for` and `until`",
            ));
            None
        }
    };
    Action::Delay(delay.unwrap_or(Delay::For(Duration::ZERO)))
}

fn parse_digest(at: &str, o: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Action {
    let field = |name: &str| format!("{at}.{name}");
    let key = match o.get("key") {
        None => None,
        Some(Value::String(s)) if is_expression(s) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                field("key"),
                "must be a template expression such as {{data.thread_id}}",
            ));
            None
        }
    };
    let window = match (o.get("window"), o.get("schedule")) {
        (Some(v), None) => duration(&field("window"), v, MAX_WINDOW, errors).map(Window::Fixed),
        (None, Some(v)) => match v.as_str().map(parse_schedule) {
            Some(Ok(w)) => Some(w),
            Some(Err(e)) => {
                errors.push(FieldError::new(field("schedule"), e));
                None
            }
            None => {
                errors.push(FieldError::new(field("schedule"), SCHEDULE_FORM));
                None
            }
        },
        _ => {
            errors.push(FieldError::new(
                at,
                "needs exactly one of `window` and `schedule`",
            ));
            None
        }
    };
    let max_events = match o.get("max_events") {
        None => DEFAULT_MAX_EVENTS,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_EVENTS as u64).contains(&n) => n as usize,
            _ => {
                errors.push(FieldError::new(
                    field("max_events"),
                    format!("must be a whole number from 1 to {MAX_EVENTS}"),
                ));
                DEFAULT_MAX_EVENTS
            }
        },
    };
    Action::Digest(Digest {
        key,
        window: window.unwrap_or(Window::Fixed(Duration::ZERO)),
        max_events,
    })
}

const SCHEDULE_FORM: &str = "must be `daily HH:MM`, `weekly <day> HH:MM` (mon … sun) or a \
     five-field cron expression such as `0 9 * * 1-5`, in the recipient's timezone, that \
     matches at least once a year";
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The word in field `name` of `o` (at `at`), or an error naming the
/// words allowed.
fn word<T>(
    o: &Map<String, Value>,
    at: &str,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
    names: fn() -> String,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let r = match o.get(name) {
        Some(Value::String(s)) => parse(s),
        Some(_) => Err(format!("must be one of {}", names())),
        None => Err(format!("is required: one of {}", names())),
    };
    r.map_err(|e| errors.push(FieldError::new(format!("{at}.{name}"), e)))
        .ok()
}

/// `daily 09:00`, `weekly mon 09:00`, or a cron expression.
pub fn parse_schedule(s: &str) -> Result<Window, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let (weekday, clock) = match words.as_slice() {
        ["daily", clock] => (None, *clock),
        ["weekly", day, clock] => match WEEKDAYS.iter().position(|d| d.eq_ignore_ascii_case(day)) {
            Some(d) => (Some(d as u8), *clock),
            None => return Err(SCHEDULE_FORM.into()),
        },
        fields if fields.len() == 5 && s.len() <= 100 => return parse_cron(s),
        _ => return Err(SCHEDULE_FORM.into()),
    };
    check_clock(clock).map_err(|_| SCHEDULE_FORM.to_string())?;
    let minute = clock[..2].parse::<u16>().unwrap() * 60 + clock[3..].parse::<u16>().unwrap();
    Ok(Window::Calendar { weekday, minute })
}

/// A five-field cron expression that matches at least once in every year
/// (so a window always closes): it must match within a year of two
/// starting points, one of them in a leap year.
fn parse_cron(s: &str) -> Result<Window, String> {
    use chrono::{TimeZone, Utc};
    let cron: croner::Cron = s.parse().map_err(|_| SCHEDULE_FORM.to_string())?;
    for start in [
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0),
        Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0),
    ] {
        let start = start.single().expect("a valid date");
        match cron.find_next_occurrence(&start, true) {
            Ok(t) if t - start <= chrono::Duration::days(366) => {}
            _ => return Err(SCHEDULE_FORM.into()),
        }
    }
    Ok(Window::Cron(Box::new(cron)))
}

/// A duration such as `30m` or `1h 30m`, from 1 s to `max`.
fn duration(
    path: &str,
    v: &Value,
    max: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<Duration> {
    let parsed = v.as_str().and_then(|s| humantime::parse_duration(s).ok());
    match parsed {
        Some(d) if d >= Duration::from_secs(1) && d <= max => Some(d),
        _ => {
            errors.push(FieldError::new(
                path,
                format!(
                    "must be a duration such as 30m or 1h, from 1s to {}",
                    humantime::format_duration(max)
                ),
            ));
            None
        }
    }
}

/// One `{{…}}` expression and nothing around it.
fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.len() <= 200
        && t.starts_with("{{")
        && t.ends_with("}}")
        && !t[2..t.len() - 2].trim().is_empty()
        && !t[2..t.len() - 2].contains("{{")
}

fn parse_conditions(
    at: &str,
    v: &Value,
    before: &[Step],
    errors: &mut Vec<FieldError>,
) -> Vec<Condition> {
    let Some(list) = v.as_array() else {
        errors.push(FieldError::new(
            at,
            "must be a list of conditions (all must hold)",
        ));
        return Vec::new();
    };
    let mut count = 0;
    let out = list
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            parse_condition(&format!("{at}[{i}]"), c, before, 0, &mut count, errors)
        })
        .collect();
    if count > MAX_CONDITIONS {
        errors.push(FieldError::new(
            at,
            format!("may hold {MAX_CONDITIONS} conditions at most"),
        ));
    }
    out
}

fn parse_condition(
    at: &str,
    v: &Value,
    before: &[Step],
    depth: usize,
    count: &mut usize,
    errors: &mut Vec<FieldError>,
) -> Option<Condition> {
    *count += 1;
    let field = |name: &str| format!("{at}.{name}");
    let o = match v.as_object() {
        Some(o) => o,
        None => {
            errors.push(FieldError::new(at, "must be an object"));
            return None;
        }
    };
    if let Some(any) = o.get("any") {
        if o.len() > 1 || depth > 0 {
            errors.push(FieldError::new(at, "`any` stands alone, one level deep"));
            return None;
        }
        let Some(list) = any.as_array().filter(|l| !l.is_empty()) else {
            errors.push(FieldError::new(
                field("any"),
                "must be a list of conditions (one must hold)",
            ));
            return None;
        };
        let inner: Vec<Condition> = list
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                parse_condition(
                    &format!("{at}.any[{i}]"),
                    c,
                    before,
                    depth + 1,
                    count,
                    errors,
                )
            })
            .collect();
        return (inner.len() == list.len()).then_some(Condition::Any(inner));
    }
    if let Some(step) = o.get("step") {
        let step = step.as_str().unwrap_or_default();
        let target = before.iter().find(|s| s.id == step);
        let is = word(o, at, "is", StepIs::parse, StepIs::names, errors)?;
        let Some(target) = target else {
            errors.push(FieldError::new(
                field("step"),
                "must name an earlier step of this workflow",
            ));
            return None;
        };
        match (&target.action, is) {
            (Action::Send { channels, .. }, StepIs::Read | StepIs::NotRead)
                if !channels.contains(&Channel::InApp) =>
            {
                errors.push(FieldError::new(
                    field("is"),
                    format!(
                        "`{}` sends no in_app message, so it is never read",
                        target.id
                    ),
                ));
                return None;
            }
            (Action::Send { .. }, _) => {}
            (_, StepIs::Skipped) => {}
            _ => {
                errors.push(FieldError::new(
                    field("step"),
                    "only a send step is sent, failed or read; any step may be skipped",
                ));
                return None;
            }
        }
        if o.len() > 2 {
            errors.push(FieldError::new(
                at,
                "a step condition has `step` and `is` only",
            ));
            return None;
        }
        return Some(Condition::Step {
            step: step.to_string(),
            is,
        });
    }
    let path: Vec<String> = match o.get("field").and_then(Value::as_str) {
        Some(p) => p.split('.').map(str::to_string).collect(),
        None => {
            errors.push(FieldError::new(
                at,
                "needs `field` (data.… or recipient.…), `step`, or `any`",
            ));
            return None;
        }
    };
    if path.len() < 2
        || !["data", "recipient"].contains(&path[0].as_str())
        || path.iter().any(String::is_empty)
        || path.len() > 16
    {
        errors.push(FieldError::new(
            field("field"),
            "must be a path such as data.order.total or recipient.locale",
        ));
        return None;
    }
    let op = word(o, at, "op", Op::parse, Op::names, errors)?;
    let value = o.get("value").cloned().unwrap_or(Value::Null);
    let ok = match op {
        Op::Exists | Op::NotExists => !o.contains_key("value"),
        Op::In | Op::NotIn => value
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.len() <= MAX_IN_VALUES),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => value.is_number() || value.is_string(),
        Op::Equals | Op::NotEquals => o.contains_key("value"),
    };
    if !ok {
        let want = match op {
            Op::Exists | Op::NotExists => "takes no `value`".to_string(),
            Op::In | Op::NotIn => format!("needs a `value` listing 1 to {MAX_IN_VALUES} values"),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => "needs a number or string `value`".to_string(),
            Op::Equals | Op::NotEquals => "needs a `value`".to_string(),
        };
        errors.push(FieldError::new(
            field("op"),
            format!("`{}` {want}", op.as_str()),
        ));
        return None;
    }
    if o.keys()
        .any(|k| !["field", "op", "value"].contains(&k.as_str()))
    {
        errors.push(FieldError::new(
            at,
            "a field condition has `field`, `op` and `value` only",
        ));
        return None;
    }
    Some(Condition::Field { path, op, value })
}

/// Whether every condition holds.
pub fn holds(conditions: &[Condition], facts: &Facts) -> Truth {
    let mut truth = Truth::Yes;
    for c in conditions {
        match one(c, facts) {
            Truth::No => return Truth::No,
            Truth::Depends => truth = Truth::Depends,
            Truth::Yes => {}
        }
    }
    truth
}

fn one(c: &Condition, facts: &Facts) -> Truth {
    let yes = |b: bool| if b { Truth::Yes } else { Truth::No };
    match c {
        Condition::Any(list) => {
            let mut truth = Truth::No;
            for c in list {
                match one(c, facts) {
                    Truth::Yes => return Truth::Yes,
                    Truth::Depends => truth = Truth::Depends,
                    Truth::No => {}
                }
            }
            truth
        }
        Condition::Step { step, is } => {
            match (
                facts
                    .steps
                    .get(step)
                    .copied()
                    .unwrap_or(StepOutcome::Unknown),
                is,
            ) {
                (StepOutcome::Unknown, _) => Truth::Depends,
                (o, StepIs::Skipped) => yes(o == StepOutcome::Skipped),
                (o, StepIs::Failed) => yes(o == StepOutcome::Failed),
                (o, StepIs::Sent) => yes(matches!(o, StepOutcome::Sent { .. })),
                (o, StepIs::Read) => yes(matches!(
                    o,
                    StepOutcome::Sent {
                        in_app: true,
                        read: true
                    }
                )),
                (o, StepIs::NotRead) => yes(matches!(
                    o,
                    StepOutcome::Sent {
                        in_app: true,
                        read: false
                    }
                )),
            }
        }
        Condition::Field { path, op, value } => {
            let root = if path[0] == "data" {
                facts.data
            } else {
                facts.recipient
            };
            let found = path[1..].iter().try_fold(root, |v, k| match v {
                Value::Object(m) => m.get(k),
                Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            });
            let found = found.filter(|v| !v.is_null());
            yes(match (op, found) {
                (Op::Exists, f) => f.is_some(),
                (Op::NotExists, f) => f.is_none(),
                (Op::Equals, Some(f)) => same(f, value),
                (Op::NotEquals, f) => !f.is_some_and(|f| same(f, value)),
                (Op::In, Some(f)) => value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| same(f, v))),
                (Op::NotIn, f) => !f.is_some_and(|f| {
                    value
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| same(f, v)))
                }),
                (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Some(f)) => match order(f, value) {
                    Some(o) => match op {
                        Op::Gt => o.is_gt(),
                        Op::Gte => o.is_ge(),
                        Op::Lt => o.is_lt(),
                        _ => o.is_le(),
                    },
                    None => false,
                },
                (_, None) => false,
            })
        }
    }
}

/// Equal as JSON, with 1 and 1.0 the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Numbers by value, strings (ISO times among them) by their text; other
/// pairs are not ordered.
fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// One step in a dry run: whether it would run, and if not or not
/// surely, why (the condition, as written).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepPreview {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What it does, in a few words.
    pub summary: String,
    pub runs: Truth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

/// Which steps would run for this data and recipient. A step that depends
/// on how an earlier one turns out (sent, read…) is `depends`; a step
/// that would not run counts as skipped for the steps after it.
pub fn preview(wf: &Workflow, data: &Value, recipient: &Value) -> Vec<StepPreview> {
    let mut outcomes = HashMap::new();
    let mut out = Vec::with_capacity(wf.steps.len());
    for s in &wf.steps {
        let facts = Facts {
            data,
            recipient,
            steps: &outcomes,
        };
        let runs = holds(&s.when, &facts);
        let because = match runs {
            Truth::Yes => None,
            _ => s.when.iter().find(|c| one(c, &facts) == runs).map(describe),
        };
        if runs == Truth::No {
            outcomes.insert(s.id.clone(), StepOutcome::Skipped);
        }
        out.push(StepPreview {
            id: s.id.clone(),
            kind: kind(&s.action),
            summary: summary(&s.action),
            runs,
            because,
        });
    }
    out
}

/// A step's type, as written.
pub fn kind(a: &Action) -> &'static str {
    match a {
        Action::Send { .. } => StepType::Send.as_str(),
        Action::Delay(_) => StepType::Delay.as_str(),
        Action::Digest(_) => StepType::Digest.as_str(),
    }
}

/// What a step does, in a few words, for a dry run and the console.
pub fn summary(a: &Action) -> String {
    match a {
        Action::Send {
            channels,
            mode,
            template,
            ..
        } => {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            let how = match mode {
                Some(SendMode::FirstSuccess) => {
                    format!("{}, until one is delivered", names.join(" then "))
                }
                Some(SendMode::All) => format!("{}, on every one", names.join(" and ")),
                None => names.join(", "),
            };
            match template {
                Some(t) => format!("send {how} with template `{t}`"),
                None => format!("send {how} with inline content"),
            }
        }
        Action::Delay(Delay::For(d)) => format!("wait {}", humantime::format_duration(*d)),
        Action::Delay(Delay::Until(e)) => format!("wait until {e}"),
        Action::Delay(Delay::QuietHoursEnd) => "wait until the recipient's quiet hours end".into(),
        Action::Digest(d) => {
            let window = match &d.window {
                Window::Fixed(w) => format!(
                    "for {} from the first event",
                    humantime::format_duration(*w)
                ),
                Window::Calendar { weekday, minute } => {
                    let at = format!("{:02}:{:02}", minute / 60, minute % 60);
                    match weekday {
                        Some(w) => format!("until {} {at}", WEEKDAYS[*w as usize]),
                        None => format!("until {at}"),
                    }
                }
                Window::Cron(c) => format!("until cron `{}` matches", c.pattern),
            };
            let per = d
                .key
                .as_ref()
                .map(|k| format!(" per {k}"))
                .unwrap_or_default();
            format!(
                "collect events{per} {window} (the recipient's time), up to {}",
                d.max_events
            )
        }
    }
}

/// The first of `conditions` that does not hold, to say why a step was
/// skipped.
pub fn one_failing<'a>(conditions: &'a [Condition], facts: &Facts) -> Option<&'a Condition> {
    conditions.iter().find(|c| one(c, facts) == Truth::No)
}

/// A condition as an author would write it, for messages.
pub fn describe(c: &Condition) -> String {
    match c {
        Condition::Step { step, is } => format!("step {step} is {}", is.as_str()),
        Condition::Field { path, op, value } => match op {
            Op::Exists | Op::NotExists => format!("{} {}", path.join("."), op.as_str()),
            _ => format!(
                "{} {} {}",
                path.join("."),
                op.as_str(),
                truncate(&value.to_string(), 80)
            ),
        },
        Condition::Any(list) => format!(
            "any of ({})",
            list.iter().map(describe).collect::<Vec<_>>().join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Workflow {
        Workflow::parse(&v).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn errors(v: Value) -> Vec<(String, String)> {
        Workflow::parse(&v)
            .expect_err("refused")
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn escalation() -> Value {
        json!({"steps": [
            {"id": "inapp", "type": "send", "channel": "in_app", "template": "comment"},
            {"id": "wait", "type": "delay", "for": "30m"},
            {"id": "email", "type": "send", "channel": "email", "template": "comment",
             "if": [{"step": "inapp", "is": "not_read"}]},
            {"id": "sms", "type": "send", "channels": ["sms", "webhook"], "mode": "first_success",
             "content": {"sms": {"text": "hi"}},
             "if": [{"field": "data.priority", "op": "equals", "value": "high"}]}
        ]})
    }

    #[test]
    fn a_definition_reads_into_its_steps() {
        let wf = parse(escalation());
        assert_eq!(wf.steps.len(), 4);
        assert_eq!(
            wf.steps[1].action,
            Action::Delay(Delay::For(Duration::from_secs(1800)))
        );
        assert_eq!(
            wf.steps[2].when,
            vec![Condition::Step {
                step: "inapp".into(),
                is: StepIs::NotRead
            }]
        );
        match &wf.steps[3].action {
            Action::Send { channels, mode, .. } => {
                assert_eq!(channels, &[Channel::Sms, Channel::Webhook]);
                assert_eq!(*mode, Some(SendMode::FirstSuccess));
            }
            a => panic!("{a:?}"),
        }
        let digest = parse(json!({"steps": [
            {"id": "collect", "type": "digest", "key": "{{data.thread_id}}", "schedule": "weekly mon 09:30", "max_events": 20},
            {"id": "send", "type": "send", "channel": "email", "template": "weekly"}
        ]}));
        assert_eq!(
            digest.steps[0].action,
            Action::Digest(Digest {
                key: Some("{{data.thread_id}}".into()),
                window: Window::Calendar {
                    weekday: Some(0),
                    minute: 9 * 60 + 30
                },
                max_events: 20,
            })
        );
    }

    #[test]
    fn mistakes_are_named_by_their_path() {
        let e = errors(json!({"steps": [
            {"id": "a", "type": "send", "channel": "pigeon", "template": "t"},
            {"id": "a", "type": "delay", "for": "forever"},
            {"id": "c", "type": "send", "channel": "email", "template": "t"},
            {"id": "d", "type": "digest", "window": "1h", "max_events": 5000, "colour": "red"},
            {"id": "e", "type": "send", "channel": "sms", "template": "t", "if": [
                {"step": "z", "is": "sent"},
                {"field": "order.total", "op": "gt", "value": 3},
                {"step": "c", "is": "read"}
            ]},
            {"id": "f", "type": "wait"}
        ]}));
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "steps[0].channel",
                "steps[1].id",
                "steps[1].for",
                "steps[3].colour",
                "steps[3].max_events",
                "steps[4].if[0].step",
                "steps[4].if[1].field",
                "steps[4].if[2].is",
                "steps[5].type",
            ],
            "{e:#?}"
        );
        assert!(e[0].1.contains("email, sms, webhook, in_app"), "{}", e[0].1);
        assert!(e[7].1.contains("never read"), "{}", e[7].1);
        assert_eq!(errors(json!({"steps": []}))[0].0, "steps");
        assert_eq!(errors(json!({}))[0].0, "steps");
    }

    #[test]
    fn a_definition_is_bounded() {
        let many: Vec<Value> = (0..=MAX_STEPS)
            .map(|i| json!({"id": format!("s{i}"), "type": "delay", "for": "1s"}))
            .collect();
        assert_eq!(errors(json!({"steps": many}))[0].0, "steps");
        let conds: Vec<Value> = (0..=MAX_CONDITIONS)
            .map(|_| json!({"field": "data.x", "op": "exists"}))
            .collect();
        let e = errors(json!({"steps": [{"id": "a", "type": "delay", "for": "1s", "if": conds}]}));
        assert_eq!(e[0].0, "steps[0].if");
        let e = errors(json!({"steps": [
            {"id": "a", "type": "delay", "for": "91d"},
            {"id": "b", "type": "digest", "window": "32d"},
            {"id": "c", "type": "digest", "window": "1h"},
            {"id": "d", "type": "delay", "if": [{"any": [{"any": [{"field": "data.x", "op": "exists"}]}]}], "for": "1s"}
        ]}));
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "steps[0].for",
                "steps[1].window",
                "steps[3].if[0].any[0]",
                "steps"
            ],
            "{e:#?}"
        );
        let e = errors(json!({"steps": [{"id": "a", "type": "delay", "until": "tomorrow"}]}));
        assert_eq!(e[0].0, "steps[0].until");
        let e =
            errors(json!({"steps": [{"id": "a", "type": "digest", "schedule": "daily 25:00"}]}));
        assert_eq!(e[0].0, "steps[0].schedule");
    }

    #[test]
    fn conditions_on_data_and_recipient() {
        let steps = HashMap::new();
        let data = json!({"priority": "high", "total": 120, "tags": ["vip"], "none": null});
        let recipient = json!({"locale": "zh-CN"});
        let facts = Facts {
            data: &data,
            recipient: &recipient,
            steps: &steps,
        };
        let check = |c: Value| {
            let wf =
                parse(json!({"steps": [{"id": "s", "type": "delay", "for": "1s", "if": [c]}]}));
            holds(&wf.steps[0].when, &facts)
        };
        use Truth::*;
        assert_eq!(
            check(json!({"field": "data.priority", "op": "equals", "value": "high"})),
            Yes
        );
        assert_eq!(
            check(json!({"field": "data.priority", "op": "not_equals", "value": "high"})),
            No
        );
        assert_eq!(
            check(json!({"field": "data.total", "op": "equals", "value": 120.0})),
            Yes
        );
        assert_eq!(
            check(json!({"field": "data.total", "op": "gt", "value": 100})),
            Yes
        );
        assert_eq!(
            check(json!({"field": "data.total", "op": "lte", "value": 100})),
            No
        );
        assert_eq!(
            check(json!({"field": "data.total", "op": "gt", "value": "100"})),
            No
        );
        assert_eq!(
            check(json!({"field": "data.tags.0", "op": "in", "value": ["vip", "gold"]})),
            Yes
        );
        assert_eq!(
            check(json!({"field": "data.missing", "op": "not_in", "value": ["x"]})),
            Yes
        );
        assert_eq!(check(json!({"field": "data.none", "op": "exists"})), No);
        assert_eq!(
            check(json!({"field": "data.none", "op": "not_exists"})),
            Yes
        );
        assert_eq!(
            check(json!({"field": "recipient.locale", "op": "equals", "value": "zh-CN"})),
            Yes
        );
        assert_eq!(
            check(json!({"any": [
                {"field": "data.priority", "op": "equals", "value": "low"},
                {"field": "recipient.locale", "op": "in", "value": ["zh-CN", "en"]}
            ]})),
            Yes
        );
    }

    #[test]
    fn conditions_on_earlier_steps_wait_for_their_outcome() {
        let wf = parse(escalation());
        let data = json!({"priority": "low"});
        let recipient = json!({});
        let email = &wf.steps[2].when;
        let with = |o: StepOutcome| {
            let steps = HashMap::from([("inapp".to_string(), o)]);
            holds(
                email,
                &Facts {
                    data: &data,
                    recipient: &recipient,
                    steps: &steps,
                },
            )
        };
        assert_eq!(with(StepOutcome::Unknown), Truth::Depends);
        assert_eq!(
            with(StepOutcome::Sent {
                in_app: true,
                read: false
            }),
            Truth::Yes
        );
        assert_eq!(
            with(StepOutcome::Sent {
                in_app: true,
                read: true
            }),
            Truth::No
        );
        assert_eq!(with(StepOutcome::Failed), Truth::No);

        let p = preview(&wf, &data, &recipient);
        let runs: Vec<(&str, Truth)> = p.iter().map(|s| (s.id.as_str(), s.runs)).collect();
        assert_eq!(
            runs,
            [
                ("inapp", Truth::Yes),
                ("wait", Truth::Yes),
                ("email", Truth::Depends),
                ("sms", Truth::No)
            ]
        );
        assert_eq!(p[2].because.as_deref(), Some("step inapp is not_read"));
        assert_eq!(
            p[3].because.as_deref(),
            Some("data.priority equals \"high\"")
        );
        assert_eq!(
            serde_json::to_value(&p[3]).unwrap(),
            json!({"id": "sms", "type": "send",
                   "summary": "send sms then webhook, until one is delivered with inline content",
                   "runs": "no", "because": "data.priority equals \"high\""})
        );
        assert_eq!(p[1].summary, "wait 30m");
    }

    #[test]
    fn summaries_name_windows_in_the_authors_words() {
        let wf = parse(json!({"steps": [
            {"id": "d1", "type": "digest", "key": "{{data.thread}}", "schedule": "weekly mon 09:00"},
            {"id": "s", "type": "send", "channel": "email", "template": "weekly"}
        ]}));
        assert_eq!(
            summary(&wf.steps[0].action),
            "collect events per {{data.thread}} until mon 09:00 (the recipient's time), up to 100"
        );
        assert_eq!(
            summary(&wf.steps[1].action),
            "send email with template `weekly`"
        );
        let wf = parse(json!({"steps": [
            {"id": "d1", "type": "digest", "schedule": "0 9 * * 1-5", "max_events": 5},
            {"id": "q", "type": "delay", "until": "quiet_hours_end"}
        ]}));
        assert_eq!(
            summary(&wf.steps[0].action),
            "collect events until cron `0 9 * * 1-5` matches (the recipient's time), up to 5"
        );
        assert_eq!(
            summary(&wf.steps[1].action),
            "wait until the recipient's quiet hours end"
        );
    }
}
