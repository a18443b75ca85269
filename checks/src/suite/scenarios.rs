//! Scenarios: hand-written traces in `scenarios/` beside the suite file (`checks/scenarios/`),
//! each stating the outcome replay must give (`expect`: a valid run, a violation, or a step the
//! model cannot take). The suite replays every one, so documented behaviours and documented
//! impossibilities stay true as the models change.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::registry::Protocol;
use crate::trace::{TraceFile, meets, outcome_words, replay_with};

/// The result of replaying one scenario.
#[derive(Clone, Debug)]
pub struct ScenarioResult {
    /// The file name, e.g. `global-switchover-rpo0.json`.
    pub name: String,
    /// Its protocol (empty when the file could not be read).
    pub protocol: String,
    /// What it expects.
    pub expected: String,
    /// What replay gave.
    pub got: String,
    /// Whether they agree.
    pub ok: bool,
    /// Why not, when they do not.
    pub reason: Option<String>,
    /// Wall time of the replay.
    pub seconds: f64,
}

/// The scenario files beside the suite file `suite`, sorted by name; none if the directory is
/// missing.
pub fn find(suite: &Path) -> Vec<PathBuf> {
    let dir = suite
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Replay one scenario and judge it.
pub fn run_one(path: &Path, protocols: &[&dyn Protocol]) -> ScenarioResult {
    let t = Instant::now();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut r = ScenarioResult {
        name,
        protocol: String::new(),
        expected: "-".to_string(),
        got: "-".to_string(),
        ok: false,
        reason: None,
        seconds: 0.0,
    };
    let file = match TraceFile::read(path) {
        Ok(f) => f,
        Err(e) => {
            r.got = "unreadable".to_string();
            r.reason = Some(e);
            return r;
        }
    };
    r.protocol = file.protocol.clone();
    let Some(expect) = file.expect.clone() else {
        r.reason = Some("the scenario states no `expect`; add one (specs/trace-format.md)".into());
        return r;
    };
    r.expected = expect.to_string();
    match replay_with(protocols, &file) {
        Ok(replayed) => {
            r.got = outcome_words(&replayed.outcome);
            r.ok = meets(&replayed.outcome, &expect);
            if !r.ok {
                r.reason = Some(format!(
                    "expected {expect}, got {}; `quorate trace replay {}` shows why",
                    r.got,
                    path.display()
                ));
            }
        }
        Err(e) => {
            r.got = "not replayable".to_string();
            r.reason = Some(e.0);
        }
    }
    r.seconds = t.elapsed().as_secs_f64();
    r
}
