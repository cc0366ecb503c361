//! What one part may cost to render: a deadline, a number of steps (loop
//! iterations and partial inclusions) and a number of output bytes.
//!
//! A render runs on one render thread from start to end, so the budget of
//! the part being rendered lives in a thread-local that the `each` helper,
//! the step marker at the start of every inline partial, and the output all
//! charge. Every stretch of work between two charges is bounded by the size
//! of one template body, so the deadline is seen promptly. Outside a budget
//! (rendering an operator's own provider template, say) nothing is charged.

use std::cell::RefCell;
use std::time::Instant;

use handlebars::{
    to_json, BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult,
    JsonValue, Output, RenderContext, RenderError, RenderErrorReason, Renderable,
};

/// The name of the helper a compiled inline partial starts with.
pub(crate) const STEP_HELPER: &str = "_missive_step";

/// Which limit a render went over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Exceeded {
    Time,
    Steps,
    Output,
}

struct Budget {
    deadline: Instant,
    steps_left: u64,
    exceeded: Option<Exceeded>,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Runs `f` with a budget on this thread; returns its result and the limit
/// it went over, if any.
pub(crate) fn with_budget<T>(
    deadline: Instant,
    steps: u64,
    f: impl FnOnce() -> T,
) -> (T, Option<Exceeded>) {
    BUDGET.with(|b| {
        *b.borrow_mut() = Some(Budget {
            deadline,
            steps_left: steps,
            exceeded: None,
        })
    });
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            BUDGET.with(|b| b.borrow_mut().take());
        }
    }
    let _clear = Clear;
    let out = f();
    let exceeded = BUDGET.with(|b| b.borrow().as_ref().and_then(|b| b.exceeded));
    (out, exceeded)
}

fn over(what: Exceeded) -> RenderError {
    BUDGET.with(|b| {
        if let Some(b) = b.borrow_mut().as_mut() {
            b.exceeded.get_or_insert(what);
        }
    });
    RenderErrorReason::Other("over the render budget".into()).into()
}

/// Charges one step and looks at the clock.
pub(crate) fn step() -> Result<(), RenderError> {
    let state = BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let b = b.as_mut()?;
        if b.exceeded.is_some() {
            return b.exceeded;
        }
        if b.steps_left == 0 {
            return Some(Exceeded::Steps);
        }
        b.steps_left -= 1;
        (Instant::now() > b.deadline).then_some(Exceeded::Time)
    });
    match state {
        Some(e) => Err(over(e)),
        None => Ok(()),
    }
}

fn check_time() -> Result<(), Exceeded> {
    BUDGET.with(|b| match b.borrow().as_ref() {
        Some(b) if b.exceeded.is_some() => Err(b.exceeded.unwrap()),
        Some(b) if Instant::now() > b.deadline => Err(Exceeded::Time),
        _ => Ok(()),
    })
}

/// Output that refuses to grow past `max` bytes, and looks at the clock on
/// every write.
pub(crate) struct BoundedOutput {
    buf: String,
    max: usize,
}

impl BoundedOutput {
    pub(crate) fn new(max: usize) -> Self {
        BoundedOutput {
            buf: String::new(),
            max,
        }
    }

    pub(crate) fn into_string(self) -> String {
        self.buf
    }
}

impl Output for BoundedOutput {
    fn write(&mut self, seg: &str) -> Result<(), std::io::Error> {
        let fail = |e: Exceeded| {
            let _ = over(e);
            std::io::Error::other("over the render budget")
        };
        if self.buf.len().saturating_add(seg.len()) > self.max {
            return Err(fail(Exceeded::Output));
        }
        check_time().map_err(fail)?;
        self.buf.push_str(seg);
        Ok(())
    }
}

/// Marks one partial inclusion (every compiled inline partial starts with
/// it); writes nothing.
pub(crate) fn step_helper(
    _: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    _: &mut dyn Output,
) -> HelperResult {
    step()
}

/// Handlebars' own `each`, charging one step per iteration.
#[derive(Clone, Copy)]
pub(crate) struct CountingEach;

impl HelperDef for CountingEach {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("each", 0))?;
        let Some(t) = h.template() else {
            return Ok(());
        };
        let items: Vec<(JsonValue, &JsonValue)> = match value.value() {
            JsonValue::Array(list) if !list.is_empty() || h.inverse().is_none() => list
                .iter()
                .enumerate()
                .map(|(i, v)| (to_json(i), v))
                .collect(),
            JsonValue::Object(obj) if !obj.is_empty() || h.inverse().is_none() => {
                obj.iter().map(|(k, v)| (to_json(k), v)).collect()
            }
            _ => {
                return if let Some(else_template) = h.inverse() {
                    else_template.render(r, ctx, rc, out)
                } else if r.strict_mode() {
                    Err(RenderError::strict_error(value.relative_path()))
                } else {
                    Ok(())
                };
            }
        };
        let is_object = value.value().is_object();
        let mut block = BlockContext::new();
        if let Some(p) = value.context_path() {
            block.base_path_mut().clone_from(p);
        } else {
            block.set_base_value(value.value().clone());
        }
        rc.push_block(block);
        let base_path = value.context_path();
        let len = items.len();
        for (i, (key, v)) in items.into_iter().enumerate() {
            step()?;
            if let Some(block) = rc.block_mut() {
                block.set_local_var("first", to_json(i == 0));
                block.set_local_var("last", to_json(i == len - 1));
                block.set_local_var("index", to_json(i));
                if is_object {
                    block.set_local_var("key", key.clone());
                }
                let segment = match &key {
                    JsonValue::String(k) => k.clone(),
                    _ => i.to_string(),
                };
                match base_path {
                    Some(p) => {
                        let mut path = p.clone();
                        path.push(segment);
                        *block.base_path_mut() = path;
                    }
                    None => block.set_base_value(v.clone()),
                }
                let mut params = BlockParams::new();
                if let Some(name) = h.block_param() {
                    match base_path {
                        Some(_) => params.add_path(name, Vec::new())?,
                        None => params.add_value(name, v.clone())?,
                    }
                    block.set_block_params(params);
                } else if let Some((name, key_name)) = h.block_param_pair() {
                    match base_path {
                        Some(_) => params.add_path(name, Vec::new())?,
                        None => params.add_value(name, v.clone())?,
                    }
                    params.add_value(key_name, key.clone())?;
                    block.set_block_params(params);
                }
            }
            t.render(r, ctx, rc, out)?;
        }
        rc.pop_block();
        Ok(())
    }
}
