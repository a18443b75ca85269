//! A segment whose log is damaged while it is down must not come back with the damage, on the
//! nodes of the one runtime: its restart finds the damage (the record checksums catch even a
//! change that leaves the record decodable, one digit of an SCL), the node stays down, and the
//! storage service treats its disk as lost, which is the model's `DiskLoss`: nothing
//! acknowledged goes with it (the other segments hold it, and every `always` property holds
//! on the nodes), and its replacement is the membership change the model checks.

use quorate_impl::durable::RecoverError;
use quorate_impl::quorum::actors::fast::FastDriver;
use quorate_model::quorum::model::{all_properties, evaluate};
use quorate_model::quorum::{Action, QuorumConfig};

const HEADER_BYTES: usize = 12;

/// Where each frame's payload starts and ends in `log`.
fn payloads(log: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER_BYTES <= log.len() {
        let len = u32::from_le_bytes(log[at..at + 4].try_into().unwrap()) as usize;
        out.push((at + HEADER_BYTES, at + HEADER_BYTES + len));
        at += HEADER_BYTES + len;
    }
    out
}

/// Damage that stays decodable: the last record's SCL one less (or one more).
fn change_a_digit(log: &mut [u8]) {
    let (from, to) = *payloads(log).last().expect("the segment logged");
    let text = std::str::from_utf8(&log[from..to]).unwrap().to_string();
    let k = from + text.find("\"scl\":").expect("a segment record has an SCL") + 6;
    log[k] = if log[k] == b'0' { b'1' } else { log[k] - 1 };
    assert!(
        serde_json::from_slice::<serde_json::Value>(&log[from..to]).is_ok(),
        "the damage leaves the record decodable"
    );
}

#[test]
fn a_damaged_segment_is_lost_and_nothing_acknowledged_goes_with_it() {
    let mut cfg = QuorumConfig::base();
    for (k, v) in [
        ("lsns", "2"),
        ("crashes", "1"),
        ("az_outages", "0"),
        ("disk_losses", "1"),
    ] {
        cfg.set(k, v).unwrap();
    }
    // One digit changed, then a byte flipped at several places: every one must be caught.
    let damages: Vec<Option<usize>> = [None]
        .into_iter()
        .chain([0, 5, 13, 40, 99].map(Some))
        .collect();
    for damage in damages {
        let (mut d, mut s) = FastDriver::<quorate_impl::durable::MemDisk>::new(&cfg, 1).unwrap();
        let mut script = vec![Action::WriteMtr];
        script.extend((0..6).flat_map(|seg| (1..=2).map(move |lsn| Action::Deliver { seg, lsn })));
        script.push(Action::Crash { seg: 0 });
        for a in &script {
            s = d.step(&s, a).unwrap().expect("enabled");
        }
        assert_eq!(s.ghost.acked, 0b10, "the commit at LSN 2 is acknowledged");
        let log = &mut d.sim.hosts[0].disk_mut().durable;
        match damage {
            None => change_a_digit(log),
            Some(at) => {
                let at = at % log.len();
                log[at] ^= 0x20;
            }
        }
        let err = d.sim.hosts[0].start().err();
        assert!(
            matches!(err, Some(RecoverError::Damaged(_))),
            "damage {damage:?}: the restart must find it, got {err:?}"
        );
        assert!(!d.sim.hosts[0].runs(), "a damaged node does not run");
        // The storage service reports the disk lost: the model's DiskLoss.
        s = d
            .step(&s, &Action::DiskLoss { seg: 0 })
            .unwrap()
            .expect("a disk loss is enabled");
        let lifted = d.lift(&s);
        assert!(
            lifted.segs[0].lost && !lifted.segs[0].up,
            "segment 0 is lost"
        );
        assert_eq!(
            lifted.holders(2).count_ones(),
            5,
            "the other five still hold the commit"
        );
        for (name, _, kind, _) in all_properties() {
            if kind == quorate_model::checkable::Kind::Always {
                let v = evaluate(name, &cfg, &lifted).unwrap();
                assert!(v.is_ok(), "damage {damage:?}: {name}: {v:?}");
            }
        }
    }
}
