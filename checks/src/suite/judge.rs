//! Judging a suite run: a pure function from (entries, their results, the protocols'
//! declarations) to verdicts, so every rule is unit-tested with canned reports.
//!
//! Rules: an entry matches when a `pass` entry's report exits 0, or a `violation` entry's named
//! property is violated with a non-empty trace; pins (`states_unique`, `trace_len`) must be
//! equal. Suite-wide: every `always` property of a protocol in the suite must be violated by
//! some mutant entry's run (otherwise it may be vacuous or untested), and every mutant the
//! protocol declares must have an entry (otherwise a planted bug goes unchecked).

use crate::registry::{Protocol, UsageError};
use crate::report::{Report, Status};

use super::file::{Entry, Expect};

/// What the suite needs to know about a protocol: plain data, so tests can make it up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolInfo {
    /// Name.
    pub name: String,
    /// Config names.
    pub configs: Vec<String>,
    /// `(name, spec_id, kind)` of every property.
    pub properties: Vec<(String, String, String)>,
    /// Mutant names.
    pub mutants: Vec<String>,
}

impl ProtocolInfo {
    /// The declarations of `p`.
    pub fn of(p: &dyn Protocol) -> Self {
        ProtocolInfo {
            name: p.name().to_string(),
            configs: p.configs().iter().map(|c| c.name.to_string()).collect(),
            properties: p
                .properties()
                .iter()
                .map(|x| {
                    (
                        x.name.to_string(),
                        x.spec_id.to_string(),
                        x.kind.to_string(),
                    )
                })
                .collect(),
            mutants: p.mutants().iter().map(|m| m.name.to_string()).collect(),
        }
    }

    /// The spec ID of property `name`, or the name itself when unknown.
    pub fn spec_id<'a>(&'a self, name: &'a str) -> &'a str {
        self.properties
            .iter()
            .find(|(n, _, _)| n == name)
            .map_or(name, |(_, s, _)| s.as_str())
    }
}

/// The result of running one entry: its report, or why the check could not run.
pub type RunResult = Result<Report, String>;

/// The verdict on one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryVerdict {
    /// Whether the entry matches its expectation and pins.
    pub ok: bool,
    /// A short word for what happened: `pass`, `violates A1,B2`, `incomplete`, `unwitnessed`,
    /// `error`.
    pub got: String,
    /// Why it does not match (empty when it does).
    pub reasons: Vec<String>,
}

/// The verdict on a whole suite run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// One verdict per entry, in order.
    pub entries: Vec<EntryVerdict>,
    /// Suite-wide failures (kills, mutant coverage).
    pub problems: Vec<String>,
}

impl Judgement {
    /// Whether the suite passes: every entry matches and nothing suite-wide fails.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.entries.iter().all(|e| e.ok)
    }

    /// How many entries do not match.
    pub fn failed(&self) -> usize {
        self.entries.iter().filter(|e| !e.ok).count()
    }
}

/// Check every name an entry uses against the protocols' declarations, before anything runs:
/// a misspelt name is a bad suite file (exit 2), not a failing check.
pub fn validate(entries: &[Entry], infos: &[ProtocolInfo], file: &str) -> Result<(), UsageError> {
    for e in entries {
        let fail = |msg: String| Err(UsageError(format!("{file}: {}: {msg}", e.label())));
        let Some(info) = infos.iter().find(|i| i.name == e.protocol) else {
            let known: Vec<_> = infos.iter().map(|i| i.name.as_str()).collect();
            return fail(format!(
                "unknown protocol '{}'; known: {}",
                e.protocol,
                known.join(", ")
            ));
        };
        if !info.configs.is_empty() && !info.configs.contains(&e.config) {
            return fail(format!(
                "unknown config '{}' for protocol {}; known: {}",
                e.config,
                info.name,
                info.configs.join(", ")
            ));
        }
        if let Some(m) = &e.mutant
            && !info.mutants.contains(m)
        {
            return fail(format!(
                "unknown mutant '{m}' for protocol {}; known: {}",
                info.name,
                info.mutants.join(", ")
            ));
        }
        if let Some(p) = &e.property
            && !info.properties.iter().any(|(n, _, _)| n == p)
        {
            let known: Vec<_> = info.properties.iter().map(|(n, _, _)| n.as_str()).collect();
            return fail(format!(
                "unknown property '{p}' for protocol {}; known: {}",
                info.name,
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Judge a run: `results[i]` is the outcome of `entries[i]`.
pub fn judge(entries: &[Entry], results: &[RunResult], infos: &[ProtocolInfo]) -> Judgement {
    judge_tier(entries, results, infos, &[])
}

/// Judge a run of the CI tier: as [`judge`], with `held` the full-tier entries that did not
/// run. Their protocols are judged too, and a mutant or a kill found only among them is a
/// problem of the CI tier, named as such.
pub fn judge_tier(
    entries: &[Entry],
    results: &[RunResult],
    infos: &[ProtocolInfo],
    held: &[Entry],
) -> Judgement {
    let verdicts = entries
        .iter()
        .zip(results)
        .map(|(e, r)| judge_entry(e, r, infos))
        .collect();
    let mut problems = Vec::new();
    if entries.len() != results.len() {
        problems.push(format!(
            "{} entries but {} results (the run was cut short)",
            entries.len(),
            results.len()
        ));
    }

    let mut seen: Vec<&str> = Vec::new();
    for e in entries.iter().chain(held) {
        if !seen.contains(&e.protocol.as_str()) {
            seen.push(&e.protocol);
        }
    }
    for info in seen
        .iter()
        .filter_map(|n| infos.iter().find(|i| i.name == *n))
    {
        for (prop, spec, kind) in &info.properties {
            if kind != "always" {
                continue;
            }
            let killed = entries.iter().zip(results).any(|(e, r)| {
                e.protocol == info.name
                    && e.mutant.is_some()
                    && r.as_ref()
                        .is_ok_and(|r| status_of(r, prop) == Some(Status::Violated))
            });
            let held_mutants = held
                .iter()
                .any(|e| e.protocol == info.name && e.mutant.is_some());
            if !killed && held_mutants {
                problems.push(format!(
                    "no mutant of the CI tier kills {}/{prop} ({spec}): add a CI-tier mutant entry whose run violates it",
                    info.name
                ));
            } else if !killed {
                problems.push(format!(
                    "no mutant kills {}/{prop} ({spec}): add a mutant entry whose run violates it",
                    info.name
                ));
            }
        }
        for m in &info.mutants {
            let covered = entries
                .iter()
                .any(|e| e.protocol == info.name && e.mutant.as_deref() == Some(m.as_str()));
            let in_full = held
                .iter()
                .any(|e| e.protocol == info.name && e.mutant.as_deref() == Some(m.as_str()));
            if !covered && in_full {
                problems.push(format!(
                    "mutant {}/{m} has entries only in the full tier: add one to the CI tier, which must catch every mutant",
                    info.name
                ));
            } else if !covered {
                problems.push(format!(
                    "mutant {}/{m} has no suite entry: add one expecting the violation it causes",
                    info.name
                ));
            }
        }
    }

    Judgement {
        entries: verdicts,
        problems,
    }
}

fn status_of(report: &Report, property: &str) -> Option<Status> {
    report
        .properties
        .iter()
        .find(|p| p.name == property)
        .map(|p| p.status)
}

/// `got` for a report: what a reader wants to see in one word or two.
pub fn got(report: &Report, info: Option<&ProtocolInfo>) -> String {
    let violated: Vec<_> = report
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .map(|p| info.map_or(p.spec_id.as_str(), |i| i.spec_id(&p.name)))
        .collect();
    if !violated.is_empty() {
        format!("violates {}", violated.join(","))
    } else if report
        .properties
        .iter()
        .any(|p| p.status == Status::Unwitnessed)
    {
        "unwitnessed".to_string()
    } else if !report.complete {
        "incomplete".to_string()
    } else {
        "pass".to_string()
    }
}

fn judge_entry(e: &Entry, result: &RunResult, infos: &[ProtocolInfo]) -> EntryVerdict {
    let report = match result {
        Ok(r) => r,
        Err(msg) => {
            return EntryVerdict {
                ok: false,
                got: "error".to_string(),
                reasons: vec![format!("the check did not run: {msg}")],
            };
        }
    };
    let info = infos.iter().find(|i| i.name == e.protocol);
    let mut reasons = Vec::new();

    match e.expect {
        Expect::Pass => {
            if report.exit_code() != 0 {
                reasons.push(why_not_pass(report));
            }
        }
        Expect::Violation => {
            let name = e.property.as_deref().unwrap_or_default();
            match report.properties.iter().find(|p| p.name == name) {
                None => reasons.push(format!("the report has no property '{name}'")),
                Some(p) if p.status != Status::Violated => reasons.push(format!(
                    "expected {name} ({}) violated, got {}",
                    p.spec_id,
                    status_word(p.status)
                )),
                Some(p) if p.trace.is_empty() => reasons.push(format!(
                    "{name} ({}) is violated but the report has no counterexample trace",
                    p.spec_id
                )),
                Some(p) => {
                    if let Some(pin) = e.trace_len {
                        // Steps, not counting step 0 (the initial state).
                        let len = p.trace.len().saturating_sub(1) as u64;
                        if len != pin {
                            reasons.push(format!(
                                "trace_len pin: expected {pin}, got {len} (shortest counterexample of {name})"
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(pin) = e.states_unique
        && report.states_unique != pin
    {
        reasons.push(format!(
                "states_unique pin: expected {pin}, got {} (update the pin if the model change is intended)",
                report.states_unique
            ));
    }

    EntryVerdict {
        ok: reasons.is_empty(),
        got: got(report, info),
        reasons,
    }
}

fn why_not_pass(report: &Report) -> String {
    let of = |status: Status| -> Vec<String> {
        report
            .properties
            .iter()
            .filter(|p| p.status == status)
            .map(|p| format!("{} ({})", p.name, p.spec_id))
            .collect()
    };
    let mut parts = Vec::new();
    let violated = of(Status::Violated);
    if !violated.is_empty() {
        parts.push(format!("violated: {}", violated.join(", ")));
    }
    let unwitnessed = of(Status::Unwitnessed);
    if !unwitnessed.is_empty() {
        parts.push(format!("unwitnessed: {}", unwitnessed.join(", ")));
    }
    if !report.complete {
        parts.push("the search was incomplete".to_string());
    }
    if parts.is_empty() {
        parts.push("the check did not exit 0".to_string());
    }
    format!("expected pass; {}", parts.join("; "))
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Holds => "holds",
        Status::Violated => "violated",
        Status::Witnessed => "witnessed",
        Status::Unwitnessed => "unwitnessed",
        Status::Unknown => "unknown",
    }
}
