//! The JSON trace file (`specs/trace-format.md`): what `quorate check --trace-out` writes and
//! what `quorate trace show|replay` and the suite's scenarios read.
//!
//! A trace names its protocol, config, parameter overrides and mutant, so that it can be replayed
//! against exactly the model that produced it. Each step holds the action as the model
//! serialises it (the part replay matches on) and, optionally, the state after it (which replay
//! compares) and the words a person reads (which replay ignores and recomputes). A hand-written
//! scenario needs only `protocol` and the actions.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `format` every trace file carries.
pub const FORMAT: &str = "quorate-trace/1";

/// One trace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The protocol, e.g. `global`.
    pub protocol: String,
    /// The config preset; the protocol's default config when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `key=value` overrides applied to the config, as `--set` does. `check --trace-out`
    /// writes every settable parameter, so the file stays valid if a preset changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
    /// The planted mutant, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
    /// What the trace shows, in a sentence or two (scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The outcome replay must give (scenarios; the suite compares it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The property the checker reported for this trace; replay goes on to a violated one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<PropertyNote>,
    /// The initial state, as the model serialises it; replay checks it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Value>,
    /// The steps, in order (the initial state is not a step).
    pub steps: Vec<TraceStep>,
}

/// One step of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceStep {
    /// The action, as the model serialises it: `"Tick"` or `{"Write": {"region": 0}}`.
    pub action: Value,
    /// `actor: action` in protocol words (ignored by replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// What the step changed, one short line each (ignored by replay).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// The acting lifeline (ignored by replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The receiving lifeline, when the step carries something to another actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A fault, the clock or an operator command rather than protocol progress.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fault: bool,
    /// The state after the step; replay checks it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The state after the step in ITF form (filled by replay, never read or written).
    #[serde(skip)]
    pub itf: Option<Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The property a checked trace leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyNote {
    /// e.g. `c5a_gate_at_ack`.
    pub name: String,
    /// e.g. `C5a`.
    pub spec_id: String,
    /// `always`, `eventually` or `sometimes`.
    pub kind: String,
    /// `violated` or `witnessed`.
    pub status: String,
}

/// What replaying a scenario must give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expect {
    /// Every step is enabled, the states match, and no property is violated.
    Valid,
    /// The trace is a run of the model and violates `property` (at `step`, when given).
    Violates {
        /// The property's name.
        property: String,
        /// The step at which it first fails (0 = the initial state).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<usize>,
    },
    /// Step `step` (from 1) is not a step the model can take: the scenario is impossible.
    NotEnabled {
        /// The first step the model cannot take.
        step: usize,
    },
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Valid => f.write_str("valid"),
            Expect::Violates {
                property,
                step: Some(n),
            } => write!(f, "violates {property} at step {n}"),
            Expect::Violates { property, .. } => write!(f, "violates {property}"),
            Expect::NotEnabled { step } => write!(f, "step {step} not enabled"),
        }
    }
}

impl TraceFile {
    /// Read and parse a trace file; the error is one line naming the file and what is wrong.
    pub fn read(path: &Path) -> Result<TraceFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read trace file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parse a trace from JSON text.
    pub fn parse(text: &str) -> Result<TraceFile, String> {
        let file: TraceFile = serde_json::from_str(text).map_err(|e| {
            format!("not a quorate trace ({e}); the format is in specs/trace-format.md")
        })?;
        if file.format != FORMAT {
            return Err(format!(
                "format is '{}', expected '{FORMAT}' (specs/trace-format.md)",
                file.format
            ));
        }
        Ok(file)
    }

    /// The `(key, value)` pairs of `parameters`; an entry without `=` is an error.
    pub fn sets(&self) -> Result<Vec<(String, String)>, String> {
        self.parameters
            .iter()
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| format!("parameter '{p}' is not KEY=VALUE"))
            })
            .collect()
    }

    /// Pretty JSON with a trailing newline. States are written compactly, one line each, so
    /// that the steps stay readable in an editor and a diff.
    pub fn to_json(&self) -> String {
        let mut copy = self.clone();
        let mut states = Vec::new();
        let mut park = |v: &mut Option<Value>| {
            if let Some(state) = v.take() {
                *v = Some(Value::String(format!("\u{1}state{}\u{1}", states.len())));
                states.push(serde_json::to_string(&state).expect("a state serialises"));
            }
        };
        park(&mut copy.init);
        for step in &mut copy.steps {
            park(&mut step.state);
        }
        let mut s = serde_json::to_string_pretty(&copy).expect("a trace serialises");
        for (i, state) in states.iter().enumerate() {
            // The placeholder is a JSON string, quoted and with its control bytes escaped.
            let placeholder = format!("\"\\u0001state{i}\\u0001\"");
            s = s.replacen(&placeholder, state, 1);
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_scenario_parses() {
        let f = TraceFile::parse(
            r#"{"format": "quorate-trace/1", "protocol": "global",
                "expect": {"outcome": "not-enabled", "step": 2},
                "steps": [{"action": "Tick"}, {"action": {"Write": {"region": 1}}}]}"#,
        )
        .unwrap();
        assert_eq!(f.expect, Some(Expect::NotEnabled { step: 2 }));
        assert_eq!(f.steps.len(), 2);
        assert_eq!(TraceFile::parse(&f.to_json()).unwrap(), f, "round trip");
    }

    #[test]
    fn states_are_written_one_per_line_and_read_back() {
        let mut f = TraceFile::parse(
            r#"{"format": "quorate-trace/1", "protocol": "p", "init": {"a": [1, 2]},
                "steps": [{"action": "Tick", "state": {"a": [1, 3]}}]}"#,
        )
        .unwrap();
        let text = f.to_json();
        assert!(text.contains(r#""init": {"a":[1,2]}"#), "{text}");
        assert!(text.contains(r#""state": {"a":[1,3]}"#), "{text}");
        assert_eq!(TraceFile::parse(&text).unwrap(), f);
        f.init = None;
        assert_eq!(TraceFile::parse(&f.to_json()).unwrap(), f);
    }

    #[test]
    fn mistakes_are_named() {
        let e = TraceFile::parse(r#"{"format": "quorate-trace/1", "protocol": "x", "step": []}"#)
            .unwrap_err();
        assert!(e.contains("unknown field `step`"), "{e}");
        let e = TraceFile::parse(r#"{"format": "v0", "protocol": "x", "steps": []}"#).unwrap_err();
        assert!(e.contains("expected 'quorate-trace/1'"), "{e}");
    }
}
