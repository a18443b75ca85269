//! Same seed, same run, byte for byte: every seed is run twice and the two event logs must be
//! identical (as madsim's and FoundationDB's determinism checks do), while different seeds
//! must give different runs (so the check is not passing on a constant).

use quorate_impl::quorum::sim::run_seeded;
use quorate_model::quorum::QuorumConfig;

fn cfg() -> QuorumConfig {
    let mut cfg = QuorumConfig::base();
    for (k, v) in [
        ("lsns", "4"),
        ("member_changes", "0"),
        ("reads", "true"),
        ("crashes", "3"),
        ("writer_crashes", "2"),
        ("messages", "explicit"),
        ("loss", "2"),
        ("duplicate", "1"),
    ] {
        cfg.set(k, v).unwrap();
    }
    cfg
}

#[test]
fn a_seed_fixes_the_run() {
    let cfg = cfg();
    let mut logs = Vec::new();
    for seed in 0..50u64 {
        let a = run_seeded(&cfg, seed, 200);
        let b = run_seeded(&cfg, seed, 200);
        let (la, lb) = (a.cluster.log().join("\n"), b.cluster.log().join("\n"));
        assert_eq!(
            la, lb,
            "seed {seed}: two runs differ. Reproduce with: cargo test --release -p quorate-impl \
             --test determinism"
        );
        assert!(a.events > 10, "seed {seed}: only {} events", a.events);
        logs.push(la);
    }
    logs.sort();
    logs.dedup();
    assert!(
        logs.len() > 40,
        "only {} distinct runs of 50 seeds",
        logs.len()
    );
}
