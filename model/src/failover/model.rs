//! The stateright model of writer failover: `init`/`actions`/`step` from [`super::step`], the
//! properties of [`super::properties`], symmetry from [`super::symmetry`], and the words a
//! trace is told in.

use stateright::{Model, Property as SrProperty};

use super::config::{FailoverConfig, Mutant};
use super::properties::{self as p, Verdict, inst_name, seg_name};
use super::state::{
    F_ACKED_AFTER_FAILOVER, F_ANNULLED, F_FAILOVER_DONE, F_STALE_REJECTED, FailoverState, Role,
    epoch_bit,
};
use super::step::{self, Action};
use super::symmetry;
use crate::checkable::{Checkable, Kind, Property};
use crate::quorum::config::MAX_LSN;
use crate::table::{always_applies, witness};

/// The failover model for one configuration.
#[derive(Clone, Debug)]
pub struct FailoverModel {
    /// Its parameters (and mutant).
    pub cfg: FailoverConfig,
}

impl FailoverModel {
    /// A model of `cfg` (validate it first with [`FailoverConfig::validate`]).
    pub fn new(cfg: FailoverConfig) -> Self {
        FailoverModel { cfg }
    }
}

/// One row of the property table.
type Row = crate::table::Row<FailoverConfig, FailoverState>;

fn flag(s: &FailoverState, f: u16, what: &str) -> Verdict {
    if s.ghost.flags & f != 0 {
        Ok(())
    } else {
        Err(format!("not yet: {what}"))
    }
}

fn failover_done(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    flag(s, F_FAILOVER_DONE, "a promoted instance opens the volume")
}
fn acked_after(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    flag(
        s,
        F_ACKED_AFTER_FAILOVER,
        "a commit is acknowledged after a failover",
    )
}
fn stale_rejected(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    flag(
        s,
        F_STALE_REJECTED,
        "a fenced segment rejects the old writer's write",
    )
}
fn annulled(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    flag(s, F_ANNULLED, "a recovery annuls a record a segment holds")
}
fn two_epochs_wrote(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let epochs = s.ghost.wrote.iter().filter(|&&w| w != 0).count();
    witness(
        epochs >= 2,
        "instances write at two different volume epochs",
    )
}
fn stray_copy_annulled(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let stray = s
        .segs
        .iter()
        .any(|x| (1..=MAX_LSN as u8).any(|l| x.rec(l) != 0 && s.annulled(l, x.rec(l))));
    witness(
        stray,
        "a segment holds a stray copy that a durable range annuls",
    )
}
fn allocated_to_lal(c: &FailoverConfig, s: &FailoverState) -> Verdict {
    let at_bound = s
        .insts
        .iter()
        .any(|w| w.role == Role::Writer && w.next_lsn > w.base && w.next_lsn - 1 == w.vdl + c.lal);
    witness(at_bound, "a writer allocates right up to VDL + LAL")
}
fn replica_multi_record_mtr(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let shown = s.insts.iter().any(|r| {
        r.role == Role::Replica
            && (1..=MAX_LSN as u8).any(|l| r.applied[usize::from(l) - 1] != 0 && !s.is_cpl(l))
    });
    witness(
        shown,
        "a replica shows a mini-transaction of several records",
    )
}
fn range_short_of_all(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let short = s.insts.iter().any(|w| {
        w.role == Role::Writer
            && s.trunc_of(w.epoch).is_some()
            && s.count(|x| x.trunc_epoch >= w.epoch) < s.segs.len()
    });
    witness(
        short,
        "a writer is open while some segment lacks its truncation range",
    )
}
fn recovery_kept_acked(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let kept = s.truncs.iter().any(|t| {
        (1..t.lo).any(|l| s.ghost.acked[usize::from(l) - 1] & (epoch_bit(t.epoch) - 1) != 0)
    });
    witness(
        kept,
        "a recovery keeps a commit acknowledged at an older epoch",
    )
}
fn acked_survives_failover(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let survived =
        s.ghost.flags & F_FAILOVER_DONE != 0 && s.ghost.acked.iter().any(|&a| a & 1 != 0);
    witness(
        survived,
        "a commit acknowledged at epoch 1 is still durable after a failover",
    )
}
fn orphan_committed(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    witness(
        s.ghost.orphan_commits != 0,
        "the old writer writes the commit of a transaction that was rolled back",
    )
}
fn rolled_back(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    if s.ghost.rolled_back != 0 {
        Ok(())
    } else {
        Err("not yet: a transaction active at a writer failure is rolled back".into())
    }
}
fn replica_read(_: &FailoverConfig, s: &FailoverState) -> Verdict {
    let ok = s
        .insts
        .iter()
        .any(|r| r.role == Role::Replica && r.follows >= 2 && r.applied.iter().any(|&e| e != 0));
    if ok {
        Ok(())
    } else {
        Err("not yet: a replica serves a read from the promoted writer's stream".into())
    }
}

const ROWS: &[Row] = &[
    Row {
        name: "b1_no_lost_ack",
        spec_id: "B1",
        kind: Kind::Always,
        check: p::b1_no_lost_ack,
        doc: "no truncation range of a later epoch covers an acknowledged commit",
        applies: always_applies,
    },
    Row {
        name: "b2_one_writer_per_epoch",
        spec_id: "B2",
        kind: Kind::Always,
        check: p::b2_one_writer_per_epoch,
        doc: "at most one instance writes at each volume epoch",
        applies: always_applies,
    },
    Row {
        name: "b3_stale_fenced",
        spec_id: "B3",
        kind: Kind::Always,
        check: p::b3_stale_fenced,
        doc: "no segment accepts a write from an epoch older than its fence",
        applies: always_applies,
    },
    Row {
        name: "b4_lsn_unique",
        spec_id: "B4",
        kind: Kind::Always,
        check: p::b4_lsn_unique,
        doc: "all live copies of an LSN were written by the same incarnation",
        applies: always_applies,
    },
    Row {
        name: "b5_allocation_bounded",
        spec_id: "B5",
        kind: Kind::Always,
        check: p::b5_allocation_bounded,
        doc: "writers allocate at most VDL + LAL, and epoch-e LSNs lie above every range of epoch <= e",
        applies: always_applies,
    },
    Row {
        name: "b6_recovered_vdl_at_cpl",
        spec_id: "B6",
        kind: Kind::Always,
        check: p::b6_recovered_vdl_at_cpl,
        doc: "every recovered VDL is a consistency point: MTRs are wholly kept or wholly annulled",
        applies: always_applies,
    },
    Row {
        name: "b7_replica_no_phantom",
        spec_id: "B7",
        kind: Kind::Always,
        check: p::b7_replica_no_phantom,
        doc: "replicas apply only records at or below the VDL they know, never later annulled",
        applies: always_applies,
    },
    Row {
        name: "b8_replica_whole_mtrs",
        spec_id: "B8",
        kind: Kind::Always,
        check: p::b8_replica_whole_mtrs,
        doc: "no replica shows part of a mini-transaction",
        applies: always_applies,
    },
    Row {
        name: "b9_truncation_before_writes",
        spec_id: "B9",
        kind: Kind::Always,
        check: p::b9_truncation_before_writes,
        doc: "an open writer's truncation range is installed at a write quorum",
        applies: always_applies,
    },
    Row {
        name: "b10_recovery_keeps_acked",
        spec_id: "B10",
        kind: Kind::Always,
        check: p::b10_recovery_keeps_acked,
        doc: "each recovered VDL is at least every commit acknowledged at an older epoch",
        applies: always_applies,
    },
    Row {
        name: "b11_acked_durable",
        spec_id: "B11",
        kind: Kind::Always,
        check: p::b11_acked_durable,
        doc: "every record of an acknowledged mini-transaction is on a write quorum, as written",
        applies: always_applies,
    },
    Row {
        name: "f1_writer_elected",
        spec_id: "F1",
        kind: Kind::Eventually,
        check: p::f1_writer_elected,
        doc: "with a write quorum up and an instance alive, the endpoint ends at an open writer",
        applies: always_applies,
    },
    Row {
        name: "f2_active_txns_rolled_back",
        spec_id: "F2",
        kind: Kind::Eventually,
        check: p::f2_active_txns_rolled_back,
        doc: "every transaction active when its writer failed ends rolled back by the open writer",
        applies: |c| c.txn_mtrs > 1,
    },
    Row {
        name: "f2a_orphan_never_acked",
        spec_id: "F2a",
        kind: Kind::Always,
        check: p::f2a_orphan_never_acked,
        doc: "a transaction active when its writer failed is never acknowledged",
        applies: |c| c.txn_mtrs > 1,
    },
    Row {
        name: "f1s_failover_completes",
        spec_id: "F1.s1",
        kind: Kind::Sometimes,
        check: failover_done,
        doc: "a failover completes: a promoted instance opens the volume at a new epoch",
        applies: |c| c.writer_failures > 0,
    },
    Row {
        name: "b1s_acked_after_failover",
        spec_id: "B1.s1",
        kind: Kind::Sometimes,
        check: acked_after,
        doc: "a commit is acknowledged after a failover",
        // The new writer allocates above its range (recovered VDL + LAL), so it has LSNs left
        // to write only when the workload goes past LAL.
        applies: |c| c.writer_failures > 0 && c.lsns > c.lal,
    },
    Row {
        name: "b3s_stale_write_rejected",
        spec_id: "B3.s1",
        kind: Kind::Sometimes,
        check: stale_rejected,
        doc: "a fenced segment rejects the old writer's write",
        applies: |c| c.writer_failures > 0 && !c.has(Mutant::NoFencing),
    },
    Row {
        name: "b6s_record_annulled",
        spec_id: "B6.s1",
        kind: Kind::Sometimes,
        check: annulled,
        doc: "a recovery annuls a record that a segment holds",
        applies: |c| c.writer_failures > 0 && !c.has(Mutant::NoTruncation),
    },
    Row {
        name: "b7s_replica_read_after_promotion",
        spec_id: "B7.s1",
        kind: Kind::Sometimes,
        check: replica_read,
        doc: "a replica serves a read from the promoted writer's stream",
        applies: |c| c.writer_failures > 0 && c.replicas > 0,
    },
    Row {
        name: "f2s_txn_rolled_back",
        spec_id: "F2.s1",
        kind: Kind::Sometimes,
        check: rolled_back,
        doc: "a transaction active at a writer failure is rolled back",
        applies: |c| c.txn_mtrs > 1 && c.writer_failures > 0 && !c.has(Mutant::NoUndo),
    },
    Row {
        name: "b2s_two_epochs_write",
        spec_id: "B2.s1",
        kind: Kind::Sometimes,
        check: two_epochs_wrote,
        doc: "instances write at two different volume epochs",
        applies: |c| c.writer_failures > 0 && c.lsns > c.lal,
    },
    Row {
        name: "b4s_stray_copy_annulled",
        spec_id: "B4.s1",
        kind: Kind::Sometimes,
        check: stray_copy_annulled,
        doc: "a segment still holds a stray copy that a durable range annuls",
        applies: |c| c.writer_failures > 0 && !c.has(Mutant::NoTruncation),
    },
    Row {
        name: "b5s_allocated_to_lal",
        spec_id: "B5.s1",
        kind: Kind::Sometimes,
        check: allocated_to_lal,
        doc: "a writer allocates right up to VDL + LAL",
        applies: |c| c.lsns >= c.lal,
    },
    Row {
        name: "b8s_replica_shows_multi_record_mtr",
        spec_id: "B8.s1",
        kind: Kind::Sometimes,
        check: replica_multi_record_mtr,
        doc: "a replica shows a mini-transaction of several records",
        applies: |c| c.replicas > 0 && c.mtr_len > 1 && c.lsns > 1,
    },
    Row {
        name: "b9s_range_short_of_all_segments",
        spec_id: "B9.s1",
        kind: Kind::Sometimes,
        check: range_short_of_all,
        doc: "a writer is open while some segment lacks its truncation range",
        applies: |c| c.writer_failures > 0 && !c.has(Mutant::NoTruncation),
    },
    Row {
        name: "b10s_recovery_keeps_acked",
        spec_id: "B10.s1",
        kind: Kind::Sometimes,
        check: recovery_kept_acked,
        doc: "a recovery keeps a commit acknowledged at an older epoch",
        applies: |c| c.writer_failures > 0 && !c.has(Mutant::NoTruncation),
    },
    Row {
        name: "b11s_acked_survives_failover",
        spec_id: "B11.s1",
        kind: Kind::Sometimes,
        check: acked_survives_failover,
        doc: "a commit acknowledged at epoch 1 is still durable after a failover",
        applies: |c| c.writer_failures > 0,
    },
    Row {
        name: "f2as_rolled_back_txn_commit_written",
        spec_id: "F2a.s1",
        kind: Kind::Sometimes,
        check: orphan_committed,
        doc: "the cut-off old writer writes the commit of a transaction that was rolled back",
        applies: |c| c.txn_mtrs > 1 && c.writer_failures > 0 && c.partitions,
    },
];

/// Every property of the protocol (whatever the config), as `(name, spec_id, kind, doc)`.
pub fn all_properties() -> Vec<(&'static str, &'static str, Kind, &'static str)> {
    crate::table::all_properties(ROWS)
}

/// Evaluate the property named `name` (for tests and the reference implementation).
pub fn evaluate(name: &str, cfg: &FailoverConfig, s: &FailoverState) -> Option<Verdict> {
    crate::table::evaluate(ROWS, name, cfg, s)
}

crate::table::property_shims!(FailoverModel, FailoverState, ROWS; 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27);

impl Model for FailoverModel {
    type State = FailoverState;
    type Action = Action;

    fn init_states(&self) -> Vec<FailoverState> {
        vec![step::init(&self.cfg)]
    }

    fn actions(&self, state: &FailoverState, actions: &mut Vec<Action>) {
        step::actions(&self.cfg, state, actions);
    }

    fn next_state(&self, state: &FailoverState, action: Action) -> Option<FailoverState> {
        step::step(&self.cfg, state, &action)
    }

    fn format_action(&self, action: &Action) -> String {
        format!("{action:?}")
    }

    /// For stateright's own checkers and Explorer: the always and sometimes properties.
    fn properties(&self) -> Vec<SrProperty<Self>> {
        crate::table::stateright_properties(self)
    }
}

impl Checkable for FailoverModel {
    fn props(&self) -> Vec<Property<Self>> {
        crate::table::props(ROWS, &self.cfg, CONDITIONS, EXPLAINS)
    }

    fn symmetry(&self) -> bool {
        self.cfg.symmetry
    }

    fn representative(&self, state: &FailoverState) -> FailoverState {
        symmetry::representative(self.cfg.azs, state)
    }

    fn canonical(&self, state: FailoverState) -> FailoverState {
        symmetry::canonical(self.cfg.azs, state)
    }

    fn is_fault(&self, action: &Action) -> bool {
        action.is_environment()
    }

    fn describe_action(&self, s: &FailoverState, a: &Action) -> String {
        describe_action(&self.cfg, s, a)
    }

    fn describe_change(&self, before: &FailoverState, after: &FailoverState) -> Vec<String> {
        describe_change(&self.cfg, before, after)
    }

    /// Gossip goes from segment to segment; fences and truncation ranges from the recovering
    /// instance to a segment.
    fn lifelines(&self, s: &FailoverState, a: &Action) -> (String, Option<String>) {
        let seg = |i: u8| seg_name(&self.cfg, usize::from(i));
        match *a {
            Action::Gossip { from, to, .. } => (seg(from), Some(seg(to))),
            Action::Fence { seg: g } | Action::WriteTrunc { seg: g } => {
                (inst_name(usize::from(s.endpoint)), Some(seg(g)))
            }
            _ => (
                crate::checkable::actor_of(&describe_action(&self.cfg, s, a)),
                None,
            ),
        }
    }
}

/// `actor: action` in protocol words.
pub fn describe_action(cfg: &FailoverConfig, s: &FailoverState, a: &Action) -> String {
    let seg = |i: u8| seg_name(cfg, usize::from(i));
    let ep = usize::from(s.endpoint);
    let who = inst_name(ep);
    let epoch = s.insts.get(ep).map_or(0, |x| x.epoch);
    match *a {
        Action::WriteMtr { inst } => {
            let w = &s.insts[usize::from(inst)];
            let first = w.next_lsn;
            let last = (first + cfg.mtr_len - 1).min(cfg.lsns);
            let what = match (cfg.txn_mtrs, w.open_txn) {
                (1, _) => "",
                (_, 0) => " (a transaction's body)",
                _ => " (its commit)",
            };
            format!(
                "{}: write MTR LSN {first}..={last}{what} at epoch {}{}",
                inst_name(usize::from(inst)),
                w.epoch,
                if w.cut_off {
                    " (cut off from the control plane)"
                } else {
                    ""
                }
            )
        }
        Action::Deliver {
            seg: g,
            lsn,
            epoch: e,
        } => format!("{}: receive LSN {lsn} written at epoch {e}", seg(g)),
        Action::Gossip { from, to, lsn } => {
            format!("{}: gossip LSN {lsn} to {}", seg(from), seg(to))
        }
        Action::Promote => {
            "control plane: the writer is gone; promote the best replica".to_string()
        }
        Action::GetEpoch => format!("{who}: get volume epoch from the metadata service"),
        Action::Fence { seg: g } => format!("{who}: fence {} at epoch {epoch}", seg(g)),
        Action::ReadScl { quorum } => {
            let names: Vec<_> = (0..s.segs.len())
                .filter(|&k| quorum & (1 << k) != 0)
                .map(|k| seg_name(cfg, k))
                .collect();
            format!("{who}: read SCLs from {{{}}}", names.join(","))
        }
        Action::WriteTrunc { seg: g } => format!(
            "{who}: install the epoch-{epoch} truncation range on {}",
            seg(g)
        ),
        Action::Open => format!("{who}: repair done, range at a write quorum; open for writes"),
        Action::Undo => {
            format!("{who}: roll back the transactions active when the old writer failed")
        }
        Action::Sync { replica } => format!(
            "{}: learn the writer's VDL from the stream",
            inst_name(usize::from(replica))
        ),
        Action::Apply { replica } => format!(
            "{}: apply the next mini-transaction",
            inst_name(usize::from(replica))
        ),
        Action::WriterCrash => format!("fault: writer {who} crashes"),
        Action::WriterPartition => {
            format!("fault: writer {who} is cut off from the control plane (still running)")
        }
        Action::RecoveryCrash => format!("fault: {who} crashes during recovery"),
        Action::ReplicaCrash { replica } => {
            format!("fault: {} crashes", inst_name(usize::from(replica)))
        }
        Action::SegCrash { seg: g } => format!("fault: {} crashes", seg(g)),
        Action::AzOutage { az } => format!("fault: AZ {} goes down", (b'A' + az) as char),
        Action::RestartInstance { inst } => {
            format!("{}: restarts as a replica", inst_name(usize::from(inst)))
        }
        Action::SegRestart { seg: g } => format!("{}: restarts", seg(g)),
    }
}

/// What changed between two states, one short line per change.
pub fn describe_change(cfg: &FailoverConfig, b: &FailoverState, a: &FailoverState) -> Vec<String> {
    let mut out = Vec::new();
    let held = |x: &super::state::Seg| -> String {
        let v: Vec<String> = (1..=MAX_LSN as u8)
            .filter(|&l| x.rec(l) != 0)
            .map(|l| format!("{l}@e{}", x.rec(l)))
            .collect();
        format!("[{}]", v.join(" "))
    };
    for (i, (x, y)) in b.segs.iter().zip(a.segs.iter()).enumerate() {
        let n = seg_name(cfg, i);
        if x.up != y.up {
            out.push(format!("{n} {}", if y.up { "up" } else { "down" }));
        }
        if x.recs != y.recs {
            out.push(format!("{n} holds {}", held(y)));
        }
        if x.scl != y.scl {
            // With no new record, only a truncation range it now knows can raise the SCL.
            let why = if y.scl > x.scl && x.recs == y.recs {
                " (a truncation range counts its LSNs as present)"
            } else {
                ""
            };
            out.push(format!("{n} SCL {} -> {}{why}", x.scl, y.scl));
        }
        if x.fence != y.fence {
            out.push(format!("{n} fenced at epoch {}", y.fence));
        }
        if x.trunc_epoch != y.trunc_epoch {
            out.push(format!(
                "{n} ranges installed up to epoch {}",
                y.trunc_epoch
            ));
        }
    }
    for (i, (x, y)) in b.insts.iter().zip(a.insts.iter()).enumerate() {
        let n = inst_name(i);
        if x.role != y.role || x.cut_off != y.cut_off {
            out.push(format!(
                "{n} {:?}{}",
                y.role,
                if y.cut_off { " (cut off)" } else { "" }
            ));
        }
        if x.epoch != y.epoch && y.epoch != 0 {
            out.push(format!("{n} epoch {}", y.epoch));
        }
        if (x.pgcl, x.vdl) != (y.pgcl, y.vdl) && y.role == Role::Writer {
            out.push(format!("{n} PGCL {} VDL {}", y.pgcl, y.vdl));
        }
        if x.open_txn != y.open_txn && y.role == Role::Writer {
            out.push(match y.open_txn {
                0 => format!("{n} has no transaction open"),
                b => format!("{n} has a transaction open (body ends at LSN {b})"),
            });
        }
        if x.next_lsn != y.next_lsn && y.role == Role::Writer {
            out.push(format!("{n} next LSN {}", y.next_lsn));
        }
        if (x.known_vdl, x.follows) != (y.known_vdl, y.follows) && y.role == Role::Replica {
            out.push(format!(
                "{n} knows VDL {} (writer epoch {})",
                y.known_vdl, y.follows
            ));
        }
        if x.applied != y.applied {
            let v: Vec<_> = (1..=MAX_LSN as u8)
                .filter(|&l| y.applied[usize::from(l) - 1] != 0)
                .collect();
            out.push(format!("{n} cache shows LSNs {v:?}"));
        }
    }
    if b.endpoint != a.endpoint {
        out.push(format!(
            "endpoint routes to {}",
            inst_name(usize::from(a.endpoint))
        ));
    }
    if b.truncs != a.truncs
        && let Some(t) = a.truncs.last()
    {
        out.push(format!(
            "truncation range {}..={} at epoch {} (recovered VDL {})",
            t.lo,
            t.hi,
            t.epoch,
            t.lo - 1
        ));
    }
    if b.ghost.acked != a.ghost.acked {
        for l in 1..=MAX_LSN as u8 {
            let (x, y) = (
                b.ghost.acked[usize::from(l) - 1],
                a.ghost.acked[usize::from(l) - 1],
            );
            if x != y {
                out.push(format!(
                    "client: commit at LSN {l} acknowledged (epoch {})",
                    (y & !x).trailing_zeros() + 1
                ));
            }
        }
    }
    let newly_rolled_back = a.ghost.rolled_back & !b.ghost.rolled_back;
    for l in (1..=MAX_LSN as u8).filter(|l| newly_rolled_back & (1 << (l - 1)) != 0) {
        out.push(format!(
            "transaction with body ending at LSN {l} rolled back"
        ));
    }
    if b.txn_done & !a.txn_done != 0 {
        out.push("a transaction's commit record is annulled: it is in progress again".into());
    }
    if b.ghost.flags & F_STALE_REJECTED == 0 && a.ghost.flags & F_STALE_REJECTED != 0 {
        out.push("a fenced segment rejected a stale write".into());
    }
    out
}
