//! The result of one check, independent of the protocol: what `quorate check` prints as text and
//! as JSON (the JSON shape is part of the CLI contract, see `README.md`).

use serde::Serialize;

/// Outcome of one property after a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// An `always`/`eventually` property held in every (quiescent) state of a complete search.
    Holds,
    /// A state violating the property was found; `trace` leads to it.
    Violated,
    /// A `sometimes` property was witnessed; `trace` leads to a witness.
    Witnessed,
    /// A `sometimes` property was never witnessed in a complete search (a vacuity failure).
    Unwitnessed,
    /// The search stopped early (state or time limit, Ctrl-C) before the property was settled.
    Unknown,
}

/// One step of a trace, ready to print.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `actor: action`, e.g. `writer: send LSN 2 (MTR 1) at membership epoch 1`.
    pub action: String,
    /// Short lines naming what the step changed.
    pub changes: Vec<String>,
}

/// A property's result.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    /// e.g. `a1_acked_readable`.
    pub name: String,
    /// e.g. `A1`.
    pub spec_id: String,
    /// `always`, `sometimes` or `eventually`.
    pub kind: String,
    /// The verdict.
    pub status: Status,
    /// For a violation or witness: a shortest path from an initial state: `"0. initial state"`,
    /// then one entry per step, each `"<n>. <actor>: <action>"`. Empty otherwise.
    pub trace: Vec<String>,
    /// The same steps with their state changes (text output uses these).
    #[serde(skip)]
    pub steps: Vec<Step>,
    /// For a violation or witness: the property's explanation in the last state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The same trace as the model's JSON: the initial state and every step with its action
    /// and state (what `--trace-out` writes).
    #[serde(skip)]
    pub recorded: Option<(serde_json::Value, Vec<crate::trace::TraceStep>)>,
}

/// The report of one `quorate check` run. Serialises to the contract's JSON object.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Protocol name, e.g. `quorum`.
    pub protocol: String,
    /// Config name, e.g. `ci`.
    pub config: String,
    /// Mutant name, or null.
    pub mutant: Option<String>,
    /// The effective parameters after `--set` overrides, as `key=value` strings.
    pub parameters: Vec<String>,
    /// `bfs` or `dfs`.
    pub strategy: String,
    /// Worker threads used.
    pub threads: usize,
    /// Whether symmetry reduction was applied.
    pub symmetry: bool,
    /// Whether the whole reachable state space was explored.
    pub complete: bool,
    /// Distinct states (after symmetry reduction) discovered.
    pub states_unique: u64,
    /// States generated, counting duplicates (successors computed plus initial states).
    pub states_total: u64,
    /// Length of the longest shortest path (BFS depth) reached, in steps.
    pub max_depth: u64,
    /// Wall time of the search.
    pub seconds: f64,
    /// Peak resident memory of the process in bytes, when the OS reports it.
    pub peak_memory_bytes: Option<u64>,
    /// Every property of the protocol, in the protocol's order.
    pub properties: Vec<PropertyReport>,
}

impl Report {
    /// The contract's exit code: 0 when the search is complete, every always/eventually property
    /// holds and every sometimes property is witnessed; 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        let all_good = self
            .properties
            .iter()
            .all(|p| matches!(p.status, Status::Holds | Status::Witnessed));
        if self.complete && all_good { 0 } else { 1 }
    }
}
