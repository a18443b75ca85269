//! The stateright model of the Global Database: `init`/`actions`/`step` from [`super::step`],
//! the properties of [`super::properties`], and the words a trace is told in.

use stateright::{Model, Property as SrProperty};

use super::config::{Fencing, GlobalConfig, Mutant};
use super::properties::{self as p, Verdict, region_name};
use super::state::{
    F_ACK_UNREPLICATED, F_FAILOVER_LOST_DATA, F_FENCED_LIVE, F_HALF_TXN_DROPPED, F_LOST_WITHIN_RPO,
    F_REBUILD_CUT, F_REJOINED, F_RESUMED, F_SPLIT_BRAIN, F_SWITCHOVER_CANCELLED, F_SWITCHOVER_DONE,
    GlobalState, Op, Rec, Role,
};
use super::step::{self, Action};
use crate::checkable::{Checkable, Kind, Property};
use crate::table::{always_applies, witness};

/// The Global Database model for one configuration.
#[derive(Clone, Debug)]
pub struct GlobalModel {
    /// Its parameters (and mutant).
    pub cfg: GlobalConfig,
}

impl GlobalModel {
    /// A model of `cfg` (validate it first with [`GlobalConfig::validate`]).
    pub fn new(cfg: GlobalConfig) -> Self {
        GlobalModel { cfg }
    }
}

/// One row of the property table.
type Row = crate::table::Row<GlobalConfig, GlobalState>;

fn flag(s: &GlobalState, f: u16, what: &str) -> Verdict {
    if s.ghost.flags & f != 0 {
        Ok(())
    } else {
        Err(format!("not yet: {what}"))
    }
}

fn switchover_done(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(s, F_SWITCHOVER_DONE, "a switchover completes")
}
fn switchover_cancelled(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(s, F_SWITCHOVER_CANCELLED, "a switchover is cancelled")
}
fn failover_lost_data(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_FAILOVER_LOST_DATA,
        "a failover completes and loses an acknowledged commit",
    )
}
fn rejoined(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(s, F_REJOINED, "the old primary rejoins as a secondary")
}
fn resumed(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_RESUMED,
        "a commit blocks on the RPO gate for lag and is later acknowledged",
    )
}
fn fenced_live(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_FENCED_LIVE,
        "a fence stops an old primary that is still running",
    )
}
fn rebuild_cut(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(s, F_REBUILD_CUT, "a rebuild cuts a secondary's log back")
}
fn ack_unreplicated(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_ACK_UNREPLICATED,
        "with the gate on, a commit is acknowledged before any other region holds it",
    )
}
fn split_brain(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_SPLIT_BRAIN,
        "the unfenced old primary acknowledges after the new one",
    )
}

fn switchover_carried_ack(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let e = s.gepoch;
    let ok = e >= 2
        && s.ghost.by_switchover & (1 << (e - 1)) != 0
        && s.ghost.acked.iter().any(|&a| a == e - 1);
    witness(ok, "a switchover carries a commit acknowledged before it")
}
fn secondary_lags(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let p = s.prim();
    let ok = s
        .regions
        .iter()
        .any(|x| x.role == Role::Secondary && !x.log.is_empty() && x.log.len() < p.log.len());
    witness(
        ok,
        "a secondary holds part of the primary's log, not all of it",
    )
}
fn snapshot_saved(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    witness(
        s.ghost.snapshot != 0,
        "a rejoining old primary's snapshot saves a commit the new primary lacks",
    )
}
fn lost_within_rpo(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_LOST_WITHIN_RPO,
        "a failover that owes the RPO bound loses an acknowledged commit",
    )
}
fn half_txn_dropped(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    flag(
        s,
        F_HALF_TXN_DROPPED,
        "a failover drops a data record whose commit never arrived",
    )
}
fn lsn_at_two_epochs(_: &GlobalConfig, s: &GlobalState) -> Verdict {
    let ok = s.regions.iter().any(|x| {
        s.regions.iter().any(|y| {
            x.log
                .iter()
                .zip(y.log.iter())
                .any(|(c, d)| c.gepoch != d.gepoch)
        })
    });
    witness(ok, "two regions hold different epochs' records at one LSN")
}

const ROWS: &[Row] = &[
    Row {
        name: "c1_switchover_keeps_acked",
        spec_id: "C1",
        kind: Kind::Always,
        check: p::c1_switchover_keeps_acked,
        doc: "after a switchover, every commit acknowledged before it is in the new primary's log",
        applies: always_applies,
    },
    Row {
        name: "c2_single_writer",
        spec_id: "C2",
        kind: Kind::Always,
        check: p::c2_single_writer,
        doc: "one writable region (during a switchover, and always with reliable fencing), one acknowledging region per epoch, and with reliable fencing no ack at an older epoch after a newer one",
        applies: always_applies,
    },
    Row {
        name: "c3_secondary_prefix",
        spec_id: "C3",
        kind: Kind::Always,
        check: p::c3_secondary_prefix,
        doc: "every secondary's log is a prefix of the primary's",
        applies: always_applies,
    },
    Row {
        name: "c4_rejoin_from_new_primary",
        spec_id: "C4",
        kind: Kind::Always,
        check: p::c4_rejoin_from_new_primary,
        doc: "a rejoined old primary's log is a prefix of the new primary's, and what it lost is in its snapshot",
        applies: always_applies,
    },
    Row {
        name: "c5_rpo_bound",
        spec_id: "C5",
        kind: Kind::Always,
        check: p::c5_rpo_bound,
        doc: "with the RPO gate on, a failover loses only commits younger than the RPO at the last ack",
        applies: |c| c.rpo > 0,
    },
    Row {
        name: "c5a_gate_at_ack",
        spec_id: "C5a",
        kind: Kind::Always,
        check: p::c5a_gate_at_ack,
        doc: "with the RPO gate on, every acknowledgement happens while some secondary holds every commit at least the RPO old",
        applies: |c| c.rpo > 0,
    },
    Row {
        name: "c6_promoted_at_commit_boundary",
        spec_id: "C6",
        kind: Kind::Always,
        check: p::c6_promoted_at_commit_boundary,
        doc: "a primary promoted by a failover starts on a commit boundary",
        applies: |c| c.txn_records > 1,
    },
    Row {
        name: "c7_lsn_epoch_unique",
        spec_id: "C7",
        kind: Kind::Always,
        check: p::c7_lsn_epoch_unique,
        doc: "an (LSN, epoch) names one record everywhere, and LSNs below a new primary's start are never rewritten",
        applies: always_applies,
    },
    Row {
        name: "g1_switchover_ends",
        spec_id: "G1",
        kind: Kind::Eventually,
        check: p::g1_switchover_ends,
        doc: "a switchover ends, completed or cancelled",
        applies: |c| c.switchovers > 0,
    },
    Row {
        name: "g2_old_primary_rejoins",
        spec_id: "G2",
        kind: Kind::Eventually,
        check: p::g2_old_primary_rejoins,
        doc: "a returned old primary ends as a secondary",
        applies: |c| c.failovers > 0,
    },
    Row {
        name: "g3_blocked_commits_resume",
        spec_id: "G3",
        kind: Kind::Eventually,
        check: p::g3_blocked_commits_resume,
        doc: "a reachable primary ends with every commit acknowledged: blocked commits resume once lag heals",
        applies: always_applies,
    },
    Row {
        name: "g1s_switchover_completes",
        spec_id: "G1.s1",
        kind: Kind::Sometimes,
        check: switchover_done,
        doc: "a switchover completes",
        applies: |c| c.switchovers > 0,
    },
    Row {
        name: "g1s_switchover_cancelled",
        spec_id: "G1.s2",
        kind: Kind::Sometimes,
        check: switchover_cancelled,
        doc: "a switchover is cancelled",
        applies: |c| c.switchovers > 0,
    },
    Row {
        name: "c5s_failover_loses_data",
        spec_id: "C5.s1",
        kind: Kind::Sometimes,
        check: failover_lost_data,
        doc: "a failover completes and loses an acknowledged commit",
        applies: |c| c.failovers > 0,
    },
    Row {
        name: "g2s_old_primary_rejoins",
        spec_id: "G2.s1",
        kind: Kind::Sometimes,
        check: rejoined,
        doc: "the old primary rejoins as a secondary",
        applies: |c| c.failovers > 0,
    },
    Row {
        name: "g3s_commit_blocked_then_acked",
        spec_id: "G3.s1",
        kind: Kind::Sometimes,
        check: resumed,
        doc: "a commit the RPO gate holds back for lag (not for a partition) is later acknowledged",
        applies: |c| c.rpo > 0,
    },
    Row {
        name: "c2s_split_brain",
        spec_id: "C2.s1",
        kind: Kind::Sometimes,
        check: split_brain,
        doc: "under best-effort fencing (gate off), the old primary acknowledges after the new one (split brain)",
        // With the RPO gate on, a cut-off old primary hears no lag reports and blocks: the
        // gate itself rules split-brain acknowledgements out.
        applies: |c| c.fencing == Fencing::BestEffort && c.failovers > 0 && c.rpo == 0,
    },
    Row {
        name: "c2s_fence_stops_live_primary",
        spec_id: "C2.s2",
        kind: Kind::Sometimes,
        check: fenced_live,
        doc: "under reliable fencing, a fence stops an old primary that is cut off but still running (C2 is at stake, not vacuous)",
        applies: |c| c.fencing == Fencing::Reliable && c.failovers > 0 && c.partitions > 0,
    },
    Row {
        name: "c1s_switchover_carries_ack",
        spec_id: "C1.s1",
        kind: Kind::Sometimes,
        check: switchover_carried_ack,
        doc: "a switchover carries a commit acknowledged before it",
        applies: |c| c.switchovers > 0,
    },
    Row {
        name: "c3s_secondary_lags",
        spec_id: "C3.s1",
        kind: Kind::Sometimes,
        check: secondary_lags,
        doc: "a secondary holds part of the primary's log, not all of it",
        applies: |c| c.txns > 1,
    },
    Row {
        name: "c3s_rebuild_cuts_back",
        spec_id: "C3.s2",
        kind: Kind::Sometimes,
        check: rebuild_cut,
        doc: "a rebuild cuts a secondary's log back to the new primary's",
        applies: |c| c.failovers > 0 && c.regions > 2,
    },
    Row {
        name: "c4s_snapshot_saves_lost_commit",
        spec_id: "C4.s1",
        kind: Kind::Sometimes,
        check: snapshot_saved,
        doc: "a rejoining old primary's snapshot saves a commit the new primary lacks",
        applies: |c| c.failovers > 0,
    },
    Row {
        name: "c5s_loss_within_rpo",
        spec_id: "C5.s2",
        kind: Kind::Sometimes,
        check: lost_within_rpo,
        doc: "a failover that owes the RPO bound loses an acknowledged commit",
        applies: |c| c.failovers > 0 && c.rpo > 0,
    },
    Row {
        name: "c5as_ack_before_replication",
        spec_id: "C5a.s1",
        kind: Kind::Sometimes,
        check: ack_unreplicated,
        doc: "with the RPO gate on, a commit is acknowledged before any other region holds it (the gate is not synchronous replication)",
        applies: |c| c.rpo > 0,
    },
    Row {
        name: "c6s_half_txn_dropped",
        spec_id: "C6.s1",
        kind: Kind::Sometimes,
        check: half_txn_dropped,
        doc: "a failover drops a data record whose commit never arrived",
        applies: |c| c.failovers > 0 && c.txn_records > 1,
    },
    Row {
        name: "c7s_lsn_at_two_epochs",
        spec_id: "C7.s1",
        kind: Kind::Sometimes,
        check: lsn_at_two_epochs,
        doc: "two regions hold different epochs' records at one LSN",
        applies: |c| c.failovers > 0,
    },
];

/// Every property of the protocol (whatever the config), as `(name, spec_id, kind, doc)`.
pub fn all_properties() -> Vec<(&'static str, &'static str, Kind, &'static str)> {
    crate::table::all_properties(ROWS)
}

/// Evaluate the property named `name` (for tests and the reference implementation).
pub fn evaluate(name: &str, cfg: &GlobalConfig, s: &GlobalState) -> Option<Verdict> {
    crate::table::evaluate(ROWS, name, cfg, s)
}

crate::table::property_shims!(GlobalModel, GlobalState, ROWS; 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25);

impl Model for GlobalModel {
    type State = GlobalState;
    type Action = Action;

    fn init_states(&self) -> Vec<GlobalState> {
        vec![step::init(&self.cfg)]
    }

    fn actions(&self, state: &GlobalState, actions: &mut Vec<Action>) {
        step::actions(&self.cfg, state, actions);
    }

    fn next_state(&self, state: &GlobalState, action: Action) -> Option<GlobalState> {
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

impl Checkable for GlobalModel {
    fn props(&self) -> Vec<Property<Self>> {
        crate::table::props(ROWS, &self.cfg, CONDITIONS, EXPLAINS)
    }

    fn is_fault(&self, action: &Action) -> bool {
        action.is_environment()
    }

    fn describe_action(&self, s: &GlobalState, a: &Action) -> String {
        describe_action(&self.cfg, s, a)
    }

    fn describe_change(&self, before: &GlobalState, after: &GlobalState) -> Vec<String> {
        describe_change(before, after)
    }

    /// Replication and rebuilds carry the primary's log to a secondary.
    fn lifelines(&self, s: &GlobalState, a: &Action) -> (String, Option<String>) {
        match *a {
            Action::Replicate { region } | Action::Rebuild { region } => (
                region_name(usize::from(s.primary)),
                Some(region_name(usize::from(region))),
            ),
            _ => (
                crate::checkable::actor_of(&describe_action(&self.cfg, s, a)),
                None,
            ),
        }
    }
}

fn rec_name(c: &Rec) -> String {
    match (c.txn, c.commit) {
        (0, _) => format!("MARKER@e{}", c.gepoch),
        (x, true) => format!("T{x}@e{}", c.gepoch),
        (x, false) => format!("T{x}-data@e{}", c.gepoch),
    }
}

/// `actor: action` in protocol words.
pub fn describe_action(cfg: &GlobalConfig, s: &GlobalState, a: &Action) -> String {
    let prim = region_name(usize::from(s.primary));
    match *a {
        Action::Write { region } => {
            let x = &s.regions[usize::from(region)];
            let open = x.log.last().filter(|c| !c.is_boundary()).map(|c| c.txn);
            let what = match open {
                Some(t) => format!("commit T{t}"),
                None if cfg.txn_records == 1 => format!("commit T{}", s.begun + 1),
                None => format!("write T{}'s data", s.begun + 1),
            };
            format!(
                "{}: {what} at epoch {}{}",
                region_name(usize::from(region)),
                x.gepoch,
                if usize::from(region) != usize::from(s.primary) {
                    " (old primary, not fenced)"
                } else {
                    ""
                }
            )
        }
        Action::Replicate { region } => {
            let x = &s.regions[usize::from(region)];
            let next = s.prim().log.get(x.log.len()).map_or("-".into(), rec_name);
            format!(
                "{}: replicate {next} from {prim}",
                region_name(usize::from(region))
            )
        }
        Action::Tick => format!("clock: t = {}", s.t + 1),
        Action::SwitchoverStart { target } => format!(
            "operator: switch over from {prim} to {}{}",
            region_name(usize::from(target)),
            if cfg.has(Mutant::SyncThenReadOnly) {
                ""
            } else {
                " (primary goes read-only)"
            }
        ),
        Action::Drain => {
            if cfg.has(Mutant::SyncThenReadOnly) {
                match s.op {
                    Op::Switchover { synced: false, .. } => {
                        "control plane: the target is caught up".to_string()
                    }
                    _ => format!("{prim}: goes read-only"),
                }
            } else {
                format!("{prim}: drained; append the MARKER")
            }
        }
        Action::SwitchoverPromote => match s.op {
            Op::Switchover { target, .. } => format!(
                "control plane: promote {} at epoch {}; {prim} becomes a secondary",
                region_name(usize::from(target)),
                s.gepoch + 1
            ),
            _ => "control plane: promote".into(),
        },
        Action::SwitchoverCancel => "operator: cancel the switchover".into(),
        Action::FailoverStart => "operator: fail over (allow data loss)".into(),
        Action::Fence { ok } => format!(
            "control plane: fence {prim}{}",
            if ok { "" } else { " - the fence fails" }
        ),
        Action::FailoverPromote => match s.op {
            Op::Failover { target, .. } => format!(
                "control plane: promote {} from its last commit",
                region_name(usize::from(target))
            ),
            _ => "control plane: promote".into(),
        },
        Action::Rebuild { region } => format!(
            "{}: rebuilt to {prim}'s point",
            region_name(usize::from(region))
        ),
        Action::Rejoin { region } => format!(
            "{}: snapshot its tail, new volume, rejoin as a secondary",
            region_name(usize::from(region))
        ),
        Action::Outage { region } => {
            format!("fault: {} goes down", region_name(usize::from(region)))
        }
        Action::Return { region } => format!("{}: comes back", region_name(usize::from(region))),
        Action::Partition { region } => format!(
            "fault: {} is cut off (still running)",
            region_name(usize::from(region))
        ),
        Action::Heal { region } => format!("{}: partition heals", region_name(usize::from(region))),
    }
}

/// What changed between two states, one short line per change.
pub fn describe_change(b: &GlobalState, a: &GlobalState) -> Vec<String> {
    let mut out = Vec::new();
    for (r, (x, y)) in b.regions.iter().zip(a.regions.iter()).enumerate() {
        let n = region_name(r);
        if x.role != y.role {
            out.push(format!("{n} {:?}", y.role));
        }
        if x.up != y.up {
            out.push(format!("{n} {}", if y.up { "up" } else { "down" }));
        }
        if x.cut_off != y.cut_off {
            out.push(format!(
                "{n} {}",
                if y.cut_off { "cut off" } else { "reachable" }
            ));
        }
        if x.writable != y.writable {
            out.push(format!(
                "{n} {}",
                if y.writable { "writable" } else { "read-only" }
            ));
        }
        if x.log != y.log {
            let v: Vec<_> = y.log.iter().map(rec_name).collect();
            out.push(format!("{n} log [{}]", v.join(" ")));
        }
    }
    if a.gepoch != b.gepoch {
        out.push(format!("global epoch {}", a.gepoch));
    }
    if a.primary != b.primary {
        out.push(format!(
            "primary is {}",
            region_name(usize::from(a.primary))
        ));
    }
    for x in 0..a.ghost.acked.len() {
        if b.ghost.acked[x] == 0 && a.ghost.acked[x] != 0 {
            out.push(format!(
                "client: T{} acknowledged at epoch {} (t = {})",
                x + 1,
                a.ghost.acked[x],
                a.t
            ));
        }
    }
    if b.ghost.snapshot != a.ghost.snapshot {
        let v: Vec<_> = (0..8)
            .filter(|i| a.ghost.snapshot & (1 << i) != 0)
            .map(|i| format!("T{}", i + 1))
            .collect();
        out.push(format!("snapshot holds {}", v.join(" ")));
    }
    let newly = a.ghost.flags & !b.ghost.flags;
    if newly & super::state::F_BLOCKED != 0 {
        out.push("RPO gate: commits blocked, every secondary lags too far".into());
    }
    if newly & super::state::F_ACK_PAST_GATE != 0 {
        out.push("acknowledged past the RPO gate: every secondary lags too far".into());
    }
    if newly & F_SPLIT_BRAIN != 0 {
        out.push("split brain: an older epoch acknowledged after a newer one".into());
    }
    out
}
