//! What every protocol's conformance and replay tests share: the invariant check on the
//! implementation's lifted state, the seeded proptest runner, and the loading of a committed
//! counterexample.

#![allow(dead_code)]

use std::path::PathBuf;

use quorate::trace::TraceFile;
use quorate_model::checkable::Kind;

/// The first `always` property among `props` (a protocol's `all_properties()`) that
/// `evaluate` (its `evaluate(name, cfg, state)` on one state) says is violated, with why.
pub fn first_violation(
    props: Vec<(&'static str, &'static str, Kind, &'static str)>,
    evaluate: impl Fn(&str) -> Option<Result<(), String>>,
) -> Option<(&'static str, String)> {
    props
        .into_iter()
        .filter(|p| p.2 == Kind::Always)
        .find_map(|p| match evaluate(p.0) {
            Some(Err(why)) => Some((p.0, why)),
            _ => None,
        })
}

/// The committed counterexample of `mutant` (`checks/regressions/<protocol>/<mutant>.json`)
/// and its actions.
pub fn load_trace<A: serde::de::DeserializeOwned>(
    protocol: &str,
    mutant: &str,
) -> (TraceFile, Vec<A>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(protocol)
        .join(format!("{mutant}.json"));
    let file = TraceFile::read(&path).unwrap_or_else(|e| {
        panic!(
            "{e}\nEvery mutant needs its counterexample: run `cargo build --release -p quorate \
             && bash checks/regressions/generate.sh`"
        )
    });
    assert_eq!(file.mutant.as_deref(), Some(mutant), "{}", path.display());
    let actions = file
        .steps
        .iter()
        .map(|s| {
            serde_json::from_value(s.action.clone())
                .unwrap_or_else(|e| panic!("{}: not a {protocol} action: {e}", path.display()))
        })
        .collect();
    (file, actions)
}

/// The seed of this run: `QUORATE_SEED` if set, else a fixed one, so CI is repeatable and a
/// failure is reproduced by its seed.
pub fn seed() -> u64 {
    std::env::var("QUORATE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_201)
}

/// A proptest runner of `cases` cases on the run's seed (returned with it), persisting shrunk
/// failures to `file` (relative to `checks/`, committed).
pub fn seeded_runner(cases: u32, file: &'static str) -> (u64, proptest::test_runner::TestRunner) {
    use proptest::test_runner::{
        Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner,
    };
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..Config::default()
    };
    (seed, TestRunner::new_with_rng(config, rng))
}
