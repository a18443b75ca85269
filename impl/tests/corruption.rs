//! A segment whose log is corrupted while it is down comes back as lost, in the simulated
//! cluster: it reports the damage, no longer votes or serves, and nothing acknowledged is
//! lost (the other segments hold it, and the model's A1 still holds). Its
//! replacement is the membership change the model checks (`MemBegin` with a spare).

use quorate_impl::quorum::Cluster;
use quorate_model::quorum::model::evaluate;
use quorate_model::quorum::step::init;
use quorate_model::quorum::{Action, QuorumConfig};

#[test]
fn a_corrupted_segment_is_lost_and_nothing_acknowledged_goes_with_it() {
    let mut cfg = QuorumConfig::base();
    for (k, v) in [("lsns", "2"), ("crashes", "1"), ("az_outages", "0")] {
        cfg.set(k, v).unwrap();
    }
    // Flip a byte at several places of A1's log, one run each: every one must be caught.
    for offset in [0, 5, 13, 40, 99] {
        let mut c2 = Cluster::new(&cfg);
        for a in [Action::WriteMtr]
            .into_iter()
            .chain((0..6).flat_map(|seg| (1..=2).map(move |lsn| Action::Deliver { seg, lsn })))
            .chain([Action::Crash { seg: 0 }])
        {
            assert!(c2.apply(&a));
        }
        assert!(c2.corrupt_disk(0, offset));
        assert!(c2.apply(&Action::Restart { seg: 0 }));
        assert_eq!(c2.acked(), 0b10, "the commit at LSN 2 is acknowledged");
        let lost = c2
            .log()
            .iter()
            .any(|l| l.starts_with("segment 0 lost on restart: damaged log"));
        assert!(lost, "the damage is reported: {:?}", c2.log());
        let s = c2.lift(&init(&cfg));
        assert!(s.segs[0].lost && !s.segs[0].up, "A1 is lost");
        assert_eq!(
            s.holders(2).count_ones(),
            5,
            "the other five still hold the commit"
        );
        // A1 (every acknowledged commit is in every read quorum) reads only what the cluster
        // keeps (the other invariants also read the model's history variables).
        let v = evaluate("a1_acked_readable", &cfg, &s).unwrap();
        assert!(v.is_ok(), "A1: {v:?}");
    }
}
