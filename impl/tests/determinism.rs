//! Same seed, same run, byte for byte: every seed is run twice and the two event logs must be
//! identical (as madsim's and FoundationDB's determinism checks do), while different seeds
//! must give different runs (so the check is not passing on a constant).

use quorate_impl::quorum::actors::Round;
use quorate_model::quorum::QuorumConfig;

fn cfg() -> QuorumConfig {
    let mut cfg = QuorumConfig::preset("ci").unwrap();
    for (k, v) in [("lsns", "3"), ("crashes", "3"), ("writer_crashes", "2")] {
        cfg.set(k, v).unwrap();
    }
    cfg
}

/// Run every seed of 0..50 twice with `run` (the event log and the number of events): the two
/// logs must be identical, every run must do something, and the seeds must give different
/// runs.
fn assert_deterministic(what: &str, run: impl Fn(u64) -> (String, usize)) {
    let mut logs = Vec::new();
    for seed in 0..50u64 {
        let (la, events) = run(seed);
        let (lb, _) = run(seed);
        assert_eq!(
            la, lb,
            "seed {seed}: two {what} runs differ. Reproduce with: cargo test --release -p \
             quorate-impl --test determinism"
        );
        assert!(events > 10, "seed {seed}: only {events} events");
        logs.push(la);
    }
    logs.sort();
    logs.dedup();
    assert!(
        logs.len() > 40,
        "only {} distinct {what} runs of 50 seeds",
        logs.len()
    );
}

/// The storage quorum's actors on the one runtime: deliveries, losses, duplicates, timers,
/// faults and requests, all chosen by the seed; every node's I/O log is compared.
#[test]
fn a_seed_fixes_the_run() {
    let cfg = cfg();
    assert_deterministic("quorum", |seed| {
        let mut r: Round = Round::new(&cfg, seed);
        r.run(400).unwrap();
        let logs = r.sim.logs();
        let events = logs.iter().map(Vec::len).sum();
        (format!("{logs:?}"), events)
    });
}

/// The same for the failover cluster: writer failures (crash or partition), recoveries,
/// replicas, segment and AZ faults, all chosen by the seed.
#[test]
fn a_seed_fixes_the_failover_run() {
    use quorate_model::failover::FailoverConfig;
    let mut cfg = FailoverConfig::base();
    for (k, v) in [
        ("lsns", "4"),
        ("writer_failures", "2"),
        ("seg_crashes", "2"),
        ("replica_crashes", "1"),
        ("az_outages", "1"),
    ] {
        cfg.set(k, v).unwrap();
    }
    assert_deterministic("failover", |seed| {
        let r = quorate_impl::failover::sim::run_seeded(&cfg, seed, 200);
        (r.cluster.log().join("\n"), r.events)
    });
}

/// The same for the Global Database: switchovers, failovers, outages and partitions, the RPO
/// gate, all chosen by the seed.
#[test]
fn a_seed_fixes_the_global_run() {
    use quorate_model::global::GlobalConfig;
    let mut cfg = GlobalConfig::base();
    for (k, v) in [
        ("regions", "3"),
        ("rpo", "2"),
        ("max_time", "5"),
        ("failovers", "2"),
        ("outages", "2"),
    ] {
        cfg.set(k, v).unwrap();
    }
    assert_deterministic("global", |seed| {
        let r = quorate_impl::global::sim::run_seeded(&cfg, seed, 200);
        (r.cluster.log().join("\n"), r.events)
    });
}

/// The same for Backtrack: transactions, backtracks, crashed rewinds, pressure and reads,
/// all chosen by the seed.
#[test]
fn a_seed_fixes_the_backtrack_run() {
    use quorate_model::backtrack::BacktrackConfig;
    let mut cfg = BacktrackConfig::base();
    for (k, v) in [
        ("keys", "2"),
        ("max_time", "6"),
        ("backtracks", "3"),
        ("crashes", "2"),
        ("pressure", "1"),
        ("readers", "2"),
    ] {
        cfg.set(k, v).unwrap();
    }
    assert_deterministic("backtrack", |seed| {
        let r = quorate_impl::backtrack::sim::run_seeded(&cfg, seed, 200);
        (r.cluster.log().join("\n"), r.events)
    });
}
