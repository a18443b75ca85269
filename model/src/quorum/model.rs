//! The stateright model of the storage quorum: `init`/`actions`/`step` from [`super::step`],
//! the properties of [`super::properties`], symmetry from [`super::symmetry`], and the words a
//! trace is told in.

use stateright::{Model, Property as SrProperty};

use super::config::{Messages, QuorumConfig};
use super::properties::{self as p, Verdict, seg_name, set_name};
use super::state::{
    F_ACKED_AZ_DOWN, F_FINALIZED, F_RECOVERED, F_REVERTED, Net, QuorumState, WriterMode,
};
use super::step::{self, Action};
use super::symmetry;
use crate::checkable::{Checkable, Kind, Property};
use crate::table::always_applies;

/// The storage-quorum model for one configuration.
#[derive(Clone, Debug)]
pub struct QuorumModel {
    /// Its parameters (and mutant).
    pub cfg: QuorumConfig,
}

impl QuorumModel {
    /// A model of `cfg` (validate it first with [`QuorumConfig::validate`]).
    pub fn new(cfg: QuorumConfig) -> Self {
        QuorumModel { cfg }
    }
}

/// One row of the property table.
type Row = crate::table::Row<QuorumConfig, QuorumState>;

fn flag(s: &QuorumState, f: u16, what: &str) -> Verdict {
    if s.ghost.flags & f != 0 {
        Ok(())
    } else {
        Err(format!("not yet: {what}"))
    }
}

macro_rules! witness {
    ($name:ident, $what:expr, |$cfg:ident, $s:ident| $cond:expr) => {
        fn $name($cfg: &QuorumConfig, $s: &QuorumState) -> Verdict {
            let _ = &$cfg;
            if $cond {
                Ok(())
            } else {
                Err(format!("not yet: {}", $what))
            }
        }
    };
}

witness!(commit_acked, "a commit is acknowledged", |c, s| s
    .ghost
    .acked
    != 0);
fn acked_az_down(_: &QuorumConfig, s: &QuorumState) -> Verdict {
    flag(
        s,
        F_ACKED_AZ_DOWN,
        "a commit acknowledged while an AZ is down",
    )
}
fn az1_read(c: &QuorumConfig, s: &QuorumState) -> Verdict {
    let no_write_quorum = !s
        .mem()
        .cfg
        .is_write_quorum(s.up_set(), c.write_quorum, u16::MAX);
    let last = s.max_acked();
    let ok = last > 0
        && no_write_quorum
        && p::servable_reads(c, s)
            .iter()
            .any(|r| r.rp >= last && r.got == r.want);
    if ok {
        Ok(())
    } else {
        Err("not yet: a read of the last acknowledged commit with no write quorum up".into())
    }
}
fn finalized(_: &QuorumConfig, s: &QuorumState) -> Verdict {
    flag(s, F_FINALIZED, "a membership change completes")
}
fn reverted(_: &QuorumConfig, s: &QuorumState) -> Verdict {
    flag(s, F_REVERTED, "a membership change is reverted")
}
fn read_served(c: &QuorumConfig, s: &QuorumState) -> Verdict {
    if p::servable_reads(c, s).iter().any(|r| r.got == r.want) {
        Ok(())
    } else {
        Err("not yet: a segment serves a read".into())
    }
}
fn recovered(_: &QuorumConfig, s: &QuorumState) -> Verdict {
    flag(s, F_RECOVERED, "a writer recovery reopens the volume")
}
witness!(
    vdl_behind_vcl,
    "VDL below VCL (a consistency point matters)",
    |c, s| s.writer.vdl < s.writer.vcl
);
witness!(gap_held, "a segment holds a record above a gap", |c, s| s
    .segs
    .iter()
    .any(|x| !x.lost
        && (x.scl as usize + 2..=super::config::MAX_LSN)
            .any(|l| x.holds(l as u8))));
witness!(
    stale_writer,
    "the writer works with a stale membership epoch",
    |c, s| s.writer.mode == WriterMode::Open
        && s.writer.mem_epoch < s.control.mem.epoch
        && s.writer.next_lsn <= c.lsns
);
witness!(
    annulled_copy,
    "a segment holds a record annulled by a range it has not installed",
    |c, s| s.segs.iter().any(|x| !x.lost
        && (1..=super::config::MAX_LSN as u8).any(|l| x.holds(l)
            && s.control
                .truncs
                .iter()
                .any(|t| t.epoch > x.vol_epoch && t.annuls(l, x.rec(l)))))
);
witness!(
    gc_with_view,
    "GC advanced while a read view is open",
    |c, s| s.writer.reads.view.is_some() && s.writer.reads.gc_point > 0
);
witness!(
    dual_in_force,
    "a dual quorum configuration in force",
    |c, s| s.control.mem.cfg.dual
);

pub(crate) const ROWS: &[Row] = &[
    Row {
        name: "a1_acked_readable",
        spec_id: "A1",
        kind: Kind::Always,
        check: p::a1_acked_readable,
        doc: "every acknowledged commit is live and every read quorum holds each LSN up to it",
        applies: always_applies,
    },
    Row {
        name: "a2_vdl_sound",
        spec_id: "A2",
        kind: Kind::Always,
        check: p::a2_vdl_sound,
        doc: "VDL <= VCL, VDL is a consistency point, and every LSN <= VCL reached a write quorum",
        applies: always_applies,
    },
    Row {
        name: "a3_scl_sound",
        spec_id: "A3",
        kind: Kind::Always,
        check: p::a3_scl_sound,
        doc: "every live LSN at or below a segment's SCL is in its records",
        applies: always_applies,
    },
    Row {
        name: "a4_monotone",
        spec_id: "A4",
        kind: Kind::Always,
        check: p::a4_monotone,
        doc: "PGCL, VCL and VDL never move backwards",
        applies: always_applies,
    },
    Row {
        name: "a5_epochs_checked",
        spec_id: "A5",
        kind: Kind::Always,
        check: p::a5_epochs_checked,
        doc: "segments accept only requests at their membership epoch and a current volume epoch",
        applies: always_applies,
    },
    Row {
        name: "a6_no_resurrection",
        spec_id: "A6",
        kind: Kind::Always,
        check: p::a6_no_resurrection,
        doc: "no segment that knows a truncation range holds a record it annuls",
        applies: always_applies,
    },
    Row {
        name: "a7_read_sound",
        spec_id: "A7",
        kind: Kind::Always,
        check: p::a7_read_sound,
        doc: "a read at rp comes from a segment with SCL >= rp >= GC point and returns exactly the live records <= rp",
        applies: always_applies,
    },
    Row {
        name: "a8_gc_below_read_points",
        spec_id: "A8",
        kind: Kind::Always,
        check: p::a8_gc_below_read_points,
        doc: "the GC point never passes an open read view's read point (PGMRPL)",
        applies: always_applies,
    },
    Row {
        name: "a9_quorums_intersect",
        spec_id: "A9",
        kind: Kind::Always,
        check: p::a9_quorums_intersect,
        doc: "every write quorum of the previous configuration meets every read quorum of the current one",
        applies: always_applies,
    },
    Row {
        name: "l1_writes_complete",
        spec_id: "L1",
        kind: Kind::Eventually,
        check: p::l1_writes_complete,
        doc: "with a write quorum up, every LSN is allocated and VDL reaches the last consistency point",
        applies: always_applies,
    },
    Row {
        name: "l2_repair_completes",
        spec_id: "L2",
        kind: Kind::Eventually,
        check: p::l2_repair_completes,
        doc: "every up member ends holding every acknowledged LSN (gossip repair)",
        applies: |c| c.gossip,
    },
    Row {
        name: "l3_membership_settles",
        spec_id: "L3",
        kind: Kind::Eventually,
        check: p::l3_membership_settles,
        doc: "with every surviving segment up, a membership change ends finalized or reverted",
        applies: |c| c.member_changes > 0,
    },
    Row {
        name: "l4_scl_converges",
        spec_id: "L4",
        kind: Kind::Eventually,
        check: p::l4_scl_converges,
        doc: "with a write quorum up, every reachable member ends with SCL = PGCL",
        applies: always_applies,
    },
    Row {
        name: "a1s_commit_acked",
        spec_id: "A1.s1",
        kind: Kind::Sometimes,
        check: commit_acked,
        doc: "a commit is acknowledged",
        applies: always_applies,
    },
    Row {
        name: "a1s_acked_with_az_down",
        spec_id: "A1.s2",
        kind: Kind::Sometimes,
        check: acked_az_down,
        doc: "a commit is acknowledged while a whole AZ is down",
        applies: |c| c.az_outages > 0,
    },
    Row {
        name: "a2s_vdl_behind_vcl",
        spec_id: "A2.s1",
        kind: Kind::Sometimes,
        check: vdl_behind_vcl,
        doc: "VDL is below VCL: a consistency point holds VDL back",
        applies: |c| c.mtr_len > 1 && c.lsns > 1,
    },
    Row {
        name: "a3s_gap_held",
        spec_id: "A3.s1",
        kind: Kind::Sometimes,
        check: gap_held,
        doc: "a segment holds a record above a gap in its chain",
        applies: |c| c.lsns > 1,
    },
    Row {
        name: "a4s_writer_recovered",
        spec_id: "A4.s1",
        kind: Kind::Sometimes,
        check: recovered,
        doc: "a crashed writer's recovery reopens the volume",
        applies: |c| c.writer_crashes > 0,
    },
    Row {
        name: "a5s_stale_writer",
        spec_id: "A5.s1",
        kind: Kind::Sometimes,
        check: stale_writer,
        doc: "the writer sends with a stale membership epoch",
        applies: |c| c.member_changes > 0,
    },
    Row {
        name: "a6s_annulled_copy",
        spec_id: "A6.s1",
        kind: Kind::Sometimes,
        check: annulled_copy,
        doc: "a truncation annuls a record some segment still holds",
        applies: |c| c.writer_crashes > 0,
    },
    Row {
        name: "a7s_read_served",
        spec_id: "A7.s1",
        kind: Kind::Sometimes,
        check: read_served,
        doc: "a segment serves a read",
        applies: always_applies,
    },
    Row {
        name: "a7s_az1_read_without_write_quorum",
        spec_id: "A7.s2",
        kind: Kind::Sometimes,
        check: az1_read,
        doc: "under AZ+1 a read of the last acknowledged commit succeeds while no write quorum is up",
        applies: |c| c.az_outages > 0 && c.crashes + c.disk_losses > 0,
    },
    Row {
        name: "a8s_gc_with_view_open",
        spec_id: "A8.s1",
        kind: Kind::Sometimes,
        check: gc_with_view,
        doc: "GC advances while a read view is open",
        applies: |c| c.reads,
    },
    Row {
        name: "a9s_dual_quorum",
        spec_id: "A9.s1",
        kind: Kind::Sometimes,
        check: dual_in_force,
        doc: "a dual quorum configuration is in force",
        applies: |c| c.member_changes > 0 && !c.has(super::config::Mutant::NoDualQuorum),
    },
    Row {
        name: "l3s_change_completes",
        spec_id: "L3.s1",
        kind: Kind::Sometimes,
        check: finalized,
        doc: "a membership change completes",
        applies: |c| c.member_changes > 0,
    },
    Row {
        name: "l3s_change_reverted",
        spec_id: "L3.s2",
        kind: Kind::Sometimes,
        check: reverted,
        doc: "a membership change is reverted",
        applies: |c| c.member_changes > 0,
    },
];

/// Every property of the protocol (whatever the config), as `(name, spec_id, kind, doc)`.
pub fn all_properties() -> Vec<(&'static str, &'static str, Kind, &'static str)> {
    crate::table::all_properties(ROWS)
}

/// Evaluate the property named `name` (for tests and the reference implementation).
pub fn evaluate(name: &str, cfg: &QuorumConfig, s: &QuorumState) -> Option<Verdict> {
    crate::table::evaluate(ROWS, name, cfg, s)
}

crate::table::property_shims!(QuorumModel, QuorumState, ROWS; 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25);

impl Model for QuorumModel {
    type State = QuorumState;
    type Action = Action;

    fn init_states(&self) -> Vec<QuorumState> {
        vec![step::init(&self.cfg)]
    }

    fn actions(&self, state: &QuorumState, actions: &mut Vec<Action>) {
        step::actions(&self.cfg, state, actions);
    }

    fn next_state(&self, state: &QuorumState, action: Action) -> Option<QuorumState> {
        step::step(&self.cfg, state, &action)
    }

    fn format_action(&self, action: &Action) -> String {
        format!("{action:?}")
    }

    /// For stateright's own checkers and Explorer: the always and sometimes properties
    /// (stateright's `eventually` has different, path-based semantics, so L1-L4 stay ours).
    fn properties(&self) -> Vec<SrProperty<Self>> {
        crate::table::stateright_properties(self)
    }
}

impl Checkable for QuorumModel {
    fn props(&self) -> Vec<Property<Self>> {
        crate::table::props(ROWS, &self.cfg, CONDITIONS, EXPLAINS)
    }

    fn symmetry(&self) -> bool {
        self.cfg.symmetry
    }

    fn representative(&self, state: &QuorumState) -> QuorumState {
        symmetry::representative(self.cfg.azs, state)
    }

    fn canonical(&self, state: QuorumState) -> QuorumState {
        symmetry::canonical(self.cfg.azs, state)
    }

    fn is_fault(&self, action: &Action) -> bool {
        action.is_environment()
    }

    fn describe_action(&self, s: &QuorumState, a: &Action) -> String {
        describe_action(&self.cfg, s, a)
    }

    fn describe_change(&self, before: &QuorumState, after: &QuorumState) -> Vec<String> {
        describe_change(&self.cfg, before, after)
    }

    /// Records travel from the writer to a segment, and gossip from segment to segment.
    fn lifelines(&self, s: &QuorumState, a: &Action) -> (String, Option<String>) {
        let name = |i: u8| seg_name(&self.cfg, usize::from(i));
        match *a {
            Action::Deliver { seg, .. } | Action::Retransmit { seg, .. } => {
                ("writer".into(), Some(name(seg)))
            }
            Action::DeliverMsg { msg } => ("writer".into(), Some(name(msg.dst))),
            Action::Gossip { from, to, .. } => (name(from), Some(name(to))),
            Action::InstallTrunc { seg } => ("recovery".into(), Some(name(seg))),
            _ => (
                crate::checkable::actor_of(&describe_action(&self.cfg, s, a)),
                None,
            ),
        }
    }
}

/// `actor: action` in protocol words.
pub fn describe_action(cfg: &QuorumConfig, s: &QuorumState, a: &Action) -> String {
    let name = |i: u8| seg_name(cfg, usize::from(i));
    match *a {
        Action::WriteMtr => {
            let first = s.writer.next_lsn;
            let last = (first + cfg.mtr_len - 1).min(cfg.lsns);
            format!(
                "writer: allocate MTR LSN {first}..={last} (CPL {last}) and send it at epochs mem {} / vol {}",
                s.writer.mem_epoch, s.writer.vol_epoch
            )
        }
        Action::Deliver { seg, lsn } => format!("{}: receive and store LSN {lsn}", name(seg)),
        Action::DeliverMsg { msg } => format!(
            "{}: receive LSN {} (epochs mem {} / vol {})",
            name(msg.dst),
            msg.lsn,
            msg.mem_epoch,
            msg.vol_epoch
        ),
        Action::Retransmit { seg, lsn } => format!("writer: resend LSN {lsn} to {}", name(seg)),
        Action::Gossip { from, to, lsn } => {
            format!("{}: gossip LSN {lsn} to {}", name(from), name(to))
        }
        Action::WriterRefresh => format!("writer: learn membership epoch {}", s.control.mem.epoch),
        Action::MemBegin { f, g } => format!(
            "control plane: begin replacing {} by {} (membership epoch {} -> {})",
            name(f),
            name(g),
            s.control.mem.epoch,
            s.control.mem.epoch + 1
        ),
        Action::MemFinalize => "control plane: finalize the membership change".into(),
        Action::MemRevert => "control plane: revert the membership change".into(),
        Action::RecoveryRead { quorum } => format!(
            "recovery: new writer reads SCLs from read quorum {}",
            set_name(cfg, quorum)
        ),
        Action::InstallTrunc { seg } => format!(
            "recovery: {} installs the truncation ranges of volume epoch {}",
            name(seg),
            s.writer.vol_epoch
        ),
        Action::Open => {
            "recovery: truncation at a write quorum, repair done; open for writes".into()
        }
        Action::OpenView => format!("client: open a read view at VDL {}", s.writer.vdl),
        Action::CloseView => "client: close the read view".into(),
        Action::Lose { msg } => format!("network: lose LSN {} to {}", msg.lsn, name(msg.dst)),
        Action::Duplicate { msg } => {
            format!("network: duplicate LSN {} to {}", msg.lsn, name(msg.dst))
        }
        Action::Crash { seg } => format!("fault: {} crashes", name(seg)),
        Action::Restart { seg } => format!("fault: {} restarts", name(seg)),
        Action::DiskLoss { seg } => format!("fault: {} loses its disk", name(seg)),
        Action::AzOutage { az } => format!("fault: AZ {} goes down", (b'A' + az) as char),
        Action::WriterCrash => "fault: the writer crashes".into(),
    }
}

/// What changed between two states, one short line per change.
pub fn describe_change(cfg: &QuorumConfig, b: &QuorumState, a: &QuorumState) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (x, y)) in b.segs.iter().zip(a.segs.iter()).enumerate() {
        let n = seg_name(cfg, i);
        if x.up != y.up || x.lost != y.lost {
            out.push(format!(
                "{n} {}",
                if y.lost {
                    "lost"
                } else if y.up {
                    "up"
                } else {
                    "down"
                }
            ));
        }
        if x.recs != y.recs {
            let held: Vec<_> = (1..=cfg.lsns.max(a.max_allocated()))
                .filter(|&l| y.holds(l))
                .collect();
            out.push(format!("{n} holds LSNs {held:?}"));
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
        if x.mem_epoch != y.mem_epoch && !y.spare {
            out.push(format!(
                "{n} membership epoch {} -> {}",
                x.mem_epoch, y.mem_epoch
            ));
        }
        if x.vol_epoch != y.vol_epoch && !x.spare {
            out.push(format!(
                "{n} volume epoch {} -> {}",
                x.vol_epoch, y.vol_epoch
            ));
        }
    }
    let (w0, w1) = (&b.writer, &a.writer);
    if w0.mode != w1.mode {
        out.push(format!("writer {:?}", w1.mode));
    }
    if (w0.pgcl, w0.vcl, w0.vdl) != (w1.pgcl, w1.vcl, w1.vdl) {
        out.push(format!(
            "writer PGCL {} VCL {} VDL {}",
            w1.pgcl, w1.vcl, w1.vdl
        ));
    }
    if w0.next_lsn != w1.next_lsn {
        out.push(format!("writer next LSN {}", w1.next_lsn));
    }
    if w0.vol_epoch != w1.vol_epoch {
        out.push(format!("writer volume epoch {}", w1.vol_epoch));
    }
    if (w0.mem_epoch, w0.cfg) != (w1.mem_epoch, w1.cfg) {
        out.push(format!(
            "writer knows membership epoch {} {}",
            w1.mem_epoch,
            cfg_name(cfg, &w1.cfg)
        ));
    }
    if b.control.mem.cfg != a.control.mem.cfg || b.control.mem.epoch != a.control.mem.epoch {
        out.push(format!(
            "membership epoch {}: {}",
            a.control.mem.epoch,
            cfg_name(cfg, &a.control.mem.cfg)
        ));
    }
    match (b.control.mem.change, a.control.mem.change) {
        (Some(c0), Some(c1)) if !c0.hydrated && c1.hydrated => {
            out.push(format!(
                "{} hydrated (SCL >= {})",
                seg_name(cfg, usize::from(c1.g)),
                c1.target
            ));
        }
        (None, Some(c)) => out.push(format!(
            "{} joins, must hydrate to LSN {}",
            seg_name(cfg, usize::from(c.g)),
            c.target
        )),
        _ => {}
    }
    if b.control.truncs != a.control.truncs
        && let Some(t) = a.control.truncs.last()
    {
        out.push(format!(
            "truncation range {}..={} at volume epoch {}",
            t.lo, t.hi, t.epoch
        ));
    }
    if b.ghost.acked != a.ghost.acked {
        let acked: Vec<_> = (1..=16u8)
            .filter(|l| a.ghost.acked & (1 << (l - 1)) != 0)
            .collect();
        out.push(format!("client: commits acknowledged at LSNs {acked:?}"));
    }
    if b.writer.reads != a.writer.reads {
        out.push(format!(
            "read view {} GC point {}",
            a.writer
                .reads
                .view
                .map_or("closed".into(), |v| format!("at {v}")),
            a.writer.reads.gc_point
        ));
    }
    if let (Net::Explicit { msgs: m0 }, Net::Explicit { msgs: m1 }) = (&b.net, &a.net)
        && m0.len() != m1.len()
    {
        out.push(format!("{} messages in flight", m1.len()));
    }
    if cfg.messages == Messages::Explicit && b.budget.loss != a.budget.loss {
        out.push(format!("loss budget left {}", a.budget.loss));
    }
    out
}

fn cfg_name(cfg: &QuorumConfig, c: &super::state::Cfg) -> String {
    c.sets()
        .iter()
        .map(|&q| set_name(cfg, q))
        .collect::<Vec<_>>()
        .join(" + ")
}
