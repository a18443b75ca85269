//! Replaying a trace against the model: each step's action must be one the model can take in
//! the state reached so far, each recorded state must be the one the model computes, and every
//! property is judged on the way. The same code records a checker's counterexample as a trace,
//! so what `check --trace-out` writes always replays.

use std::fmt::Debug;
use std::hash::Hash;

use quorate_model::checkable::{Checkable, Kind};
use serde::Serialize;
use serde_json::Value;

use super::file::{TraceFile, TraceStep};

/// How a replay ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every step was enabled, every recorded state matched, nothing was violated.
    Valid {
        /// Whether the last state is quiescent (so `eventually` properties were judged too).
        quiescent: bool,
    },
    /// Step `step` (from 1) is not an action the model can take there.
    NotEnabled {
        /// The step.
        step: usize,
        /// Its action as the file gives it.
        action: Value,
        /// The actions that were enabled instead.
        enabled: Vec<Value>,
    },
    /// The state recorded after step `step` (0 = the initial state) is not the model's.
    StateMismatch {
        /// The step.
        step: usize,
        /// The first JSON path at which they differ, e.g. `regions[1].log`.
        path: String,
        /// The file's value there.
        file: Value,
        /// The model's value there.
        model: Value,
    },
    /// A property fails in the state after step `step` (0 = the initial state).
    Violates {
        /// The step.
        step: usize,
        /// The property.
        property: String,
        /// Its spec ID.
        spec_id: String,
        /// `always` or `eventually`.
        kind: String,
        /// Its explanation in the violating state.
        explanation: String,
    },
}

impl Outcome {
    /// The exit code `quorate trace replay` gives: 0 valid, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Valid { .. } => 0,
            _ => 1,
        }
    }
}

/// A replayed trace: the steps taken (with the model's words and states filled in) and how it
/// ended. `steps` stops at the step that ended it.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The initial state.
    pub init: Value,
    /// The initial state in ITF form.
    pub init_itf: Value,
    /// The steps the model took.
    pub steps: Vec<TraceStep>,
    /// How it ended.
    pub outcome: Outcome,
    /// For a trace of a named property: another property that failed on the way, first, at
    /// that step (the replay went on to the named one).
    pub earlier: Option<(usize, String)>,
}

fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("model states and actions serialise to JSON")
}

/// One step in the model's words: the action, its text, the changes, the lifelines, and the
/// state after it.
pub fn describe_step<M>(
    model: &M,
    before: &M::State,
    action: &M::Action,
    after: &M::State,
) -> TraceStep
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync + Serialize,
    M::Action: Clone + Debug + Send + Sync + Serialize,
{
    let (actor, to) = model.lifelines(before, action);
    TraceStep {
        action: json(action),
        text: Some(model.describe_action(before, action)),
        changes: model.describe_change(before, after),
        actor: Some(actor),
        to,
        fault: model.is_fault(action),
        state: Some(json(after)),
        itf: super::itf::to_itf(after).ok(),
    }
}

/// Every always-property (and every eventually-property, if `quiescent`) that fails in
/// `state`, in the model's order, as `(name, spec_id, kind, explanation)`.
fn violations<M>(
    model: &M,
    state: &M::State,
    quiescent: bool,
) -> Vec<(String, String, String, String)>
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync + Serialize,
    M::Action: Clone + Debug + Send + Sync + Serialize,
{
    model
        .props()
        .into_iter()
        .filter_map(|p| {
            let judged = match p.kind {
                Kind::Always => true,
                Kind::Eventually => quiescent,
                Kind::Sometimes => false,
            };
            (judged && !(p.condition)(model, state)).then(|| {
                (
                    p.name.to_string(),
                    p.spec_id.to_string(),
                    p.kind.as_str().to_string(),
                    (p.explain)(model, state),
                )
            })
        })
        .collect()
}

/// Whether no protocol (non-fault) action changes `state`.
fn quiescent<M>(model: &M, state: &M::State) -> bool
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync + Serialize,
    M::Action: Clone + Debug + Send + Sync + Serialize,
{
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions
        .into_iter()
        .all(|a| model.is_fault(&a) || model.next_state(state, a).is_none_or(|next| next == *state))
}

/// The first path at which two JSON values differ, with both values there.
pub fn first_difference(file: &Value, model: &Value, path: &str) -> Option<(String, Value, Value)> {
    match (file, model) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                first_difference(x, y, &sub)
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        _ if file == model => None,
        _ => Some((
            if path.is_empty() {
                "(the whole state)".into()
            } else {
                path.to_string()
            },
            file.clone(),
            model.clone(),
        )),
    }
}

/// Replay `file`'s steps on `model`.
pub fn replay<M>(model: &M, file: &TraceFile) -> Replayed
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync + Serialize,
    M::Action: Clone + Debug + Send + Sync + Serialize,
{
    let inits = model.init_states();
    let mut state = match &file.init {
        Some(want) => match inits.iter().find(|s| json(*s) == *want) {
            Some(s) => s.clone(),
            None => {
                let model_init = json(&inits[0]);
                let (path, f, m) = first_difference(want, &model_init, "").unwrap_or((
                    "(the whole state)".into(),
                    want.clone(),
                    model_init.clone(),
                ));
                return Replayed {
                    init: model_init,
                    init_itf: Value::Null,
                    steps: Vec::new(),
                    earlier: None,
                    outcome: Outcome::StateMismatch {
                        step: 0,
                        path,
                        file: f,
                        model: m,
                    },
                };
            }
        },
        None => inits[0].clone(),
    };
    let init = json(&state);
    let init_itf = super::itf::to_itf(&state).unwrap_or(Value::Null);
    let mut steps = Vec::new();
    let mut earlier: Option<(usize, Outcome)> = None;
    let end = |steps, outcome, earlier: &Option<(usize, Outcome)>| Replayed {
        init: init.clone(),
        init_itf: init_itf.clone(),
        steps,
        outcome,
        earlier: earlier.as_ref().and_then(|(k, o)| match o {
            Outcome::Violates { property, .. } => Some((*k, property.clone())),
            _ => None,
        }),
    };
    let last = file.steps.len();
    // A trace of a named violated property (what `check --trace-out` writes) is replayed until
    // that property fails: another may fail earlier on its way (a mutant's geometry, say, from
    // the start), and is reported beside it. If the named one never fails, the first other
    // failure is the outcome, so nothing is hidden.
    let only = file
        .property
        .as_ref()
        .filter(|p| p.status == "violated")
        .map(|p| p.name.as_str());
    // The verdict on a state: `Some` ends the replay.
    let mut judge = |state: &M::State, n: usize, eventually: bool| -> Option<Outcome> {
        let fails = violations(model, state, eventually);
        let outcome = |(property, spec_id, kind, explanation): (String, String, String, String)| {
            Outcome::Violates {
                step: n,
                property,
                spec_id,
                kind,
                explanation,
            }
        };
        match only {
            None => fails.into_iter().next().map(outcome),
            Some(named) => {
                let (mine, others): (Vec<_>, Vec<_>) =
                    fails.into_iter().partition(|f| f.0 == named);
                if earlier.is_none()
                    && let Some(o) = others.into_iter().next()
                {
                    earlier = Some((n, outcome(o)));
                }
                mine.into_iter().next().map(outcome)
            }
        }
    };
    if let Some(o) = judge(&state, 0, last == 0 && quiescent(model, &state)) {
        return end(steps, o, &None).with_earlier(earlier);
    }
    let mut actions = Vec::new();
    for (i, want) in file.steps.iter().enumerate() {
        let n = i + 1;
        actions.clear();
        model.actions(&state, &mut actions);
        let mut enabled = Vec::new();
        let mut taken = None;
        for a in &actions {
            let Some(next) = model.next_state(&state, a.clone()) else {
                continue;
            };
            let aj = json(a);
            if taken.is_none() && aj == want.action {
                taken = Some((a.clone(), next));
            }
            enabled.push(aj);
        }
        let Some((action, next)) = taken else {
            return end(
                steps,
                Outcome::NotEnabled {
                    step: n,
                    action: want.action.clone(),
                    enabled,
                },
                &earlier,
            );
        };
        let step = describe_step(model, &state, &action, &next);
        if let (Some(file_state), Some(model_state)) = (&want.state, &step.state)
            && let Some((path, f, m)) = first_difference(file_state, model_state, "")
        {
            steps.push(step);
            return end(
                steps,
                Outcome::StateMismatch {
                    step: n,
                    path,
                    file: f,
                    model: m,
                },
                &earlier,
            );
        }
        steps.push(step);
        state = next;
        let judge_eventually = n == last && quiescent(model, &state);
        if let Some(o) = judge(&state, n, judge_eventually) {
            return end(steps, o, &None).with_earlier(earlier);
        }
    }
    let quiescent = quiescent(model, &state);
    match earlier {
        // The named property never failed; the first other failure is the outcome.
        Some((k, o)) => {
            steps.truncate(k);
            end(steps, o, &None)
        }
        None => end(steps, Outcome::Valid { quiescent }, &None),
    }
}

impl Replayed {
    fn with_earlier(mut self, earlier: Option<(usize, Outcome)>) -> Self {
        self.earlier = earlier.and_then(|(k, o)| match o {
            Outcome::Violates { property, .. } => Some((k, property)),
            _ => None,
        });
        self
    }
}

/// Record a checker's trace (`init`, then `(action, state)` steps) as trace-file steps.
pub fn record<M>(
    model: &M,
    init: &M::State,
    path: &[(M::Action, M::State)],
) -> (Value, Vec<TraceStep>)
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync + Serialize,
    M::Action: Clone + Debug + Send + Sync + Serialize,
{
    let mut before = init;
    let mut steps = Vec::with_capacity(path.len());
    for (action, after) in path {
        steps.push(describe_step(model, before, action, after));
        before = after;
    }
    (json(init), steps)
}
