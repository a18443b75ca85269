//! The stateright model of Backtrack: `init`/`actions`/`step` from [`super::step`], the
//! properties of [`super::properties`], and the words a trace is told in.

use stateright::{Model, Property as SrProperty};

use super::config::BacktrackConfig;
use super::properties::{self as p, Verdict, key_name, value_name, values_name};
use super::state::{
    BacktrackState, F_ACK_AFTER_RESUME, F_ACK_KEPT, F_BACK_DONE, F_CACHE_REFILLED, F_COMMIT_RACED,
    F_EARLIEST_DONE, F_FORWARD_DONE, F_INFLIGHT_DROPPED, F_REJECTED, F_REJECTED_AT_STAKE,
    F_RESTART_DONE, Mode, physical,
};
use super::step::{self, Action};
use crate::checkable::{Checkable, Kind, Property};
use crate::table::{always_applies, witness};

/// The Backtrack model for one configuration.
#[derive(Clone, Debug)]
pub struct BacktrackModel {
    /// Its parameters (and mutant).
    pub cfg: BacktrackConfig,
}

impl BacktrackModel {
    /// A model of `cfg` (validate it first with [`BacktrackConfig::validate`]).
    pub fn new(cfg: BacktrackConfig) -> Self {
        BacktrackModel { cfg }
    }
}

/// One row of the property table.
type Row = crate::table::Row<BacktrackConfig, BacktrackState>;

fn flag(s: &BacktrackState, f: u16, what: &str) -> Verdict {
    witness(s.ghost.flags & f != 0, what)
}

fn back_done(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_BACK_DONE,
        "a backtrack to an earlier time completes and changes the data",
    )
}
fn cache_refilled(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_CACHE_REFILLED,
        "a reader caches the rewound state after a rewind that changed the data",
    )
}
fn inflight_dropped(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_INFLIGHT_DROPPED,
        "a backtrack drops a transaction in flight that has written",
    )
}
fn forward_done(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_FORWARD_DONE,
        "a backtrack forward, past the previous one's target but still into the past, \
         completes and changes the data",
    )
}
fn commit_raced(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_COMMIT_RACED,
        "a backtrack starts between a commit and its acknowledgement",
    )
}
fn ack_after_resume(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_ACK_AFTER_RESUME,
        "a commit is acknowledged after a backtrack",
    )
}
fn earliest_done(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_EARLIEST_DONE,
        "a backtrack with use_earliest goes to the earliest reachable time",
    )
}
fn rejected(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_REJECTED_AT_STAKE,
        "a backtrack request is rejected while a transaction with writes is in flight",
    )
}
fn pressed_inside(cfg: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    let inside = s.earliest > 0 && u16::from(s.earliest) + u16::from(cfg.window) > u16::from(s.t);
    witness(
        s.ghost.pressured_to > 0 && inside,
        "memory pressure moves the earliest reachable time inside the window",
    )
}
fn ack_kept(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_ACK_KEPT,
        "a write acknowledged after a backtrack is still visible a tick later",
    )
}
fn restart_done(_: &BacktrackConfig, s: &BacktrackState) -> Verdict {
    flag(
        s,
        F_RESTART_DONE,
        "a rewind crashes after rewinding a key, restarts and completes",
    )
}

const ROWS: &[Row] = &[
    Row {
        name: "d1_backtrack_shows_target",
        spec_id: "D1",
        kind: Kind::Always,
        check: p::d1_backtrack_shows_target,
        doc: "after a backtrack the cluster and every reader show S(t') with E <= t' <= t <= now",
        applies: always_applies,
    },
    Row {
        name: "d2_inflight_dropped",
        spec_id: "D2",
        kind: Kind::Always,
        check: p::d2_inflight_dropped,
        doc: "no write of a transaction in flight at a backtrack's start is visible",
        applies: always_applies,
    },
    Row {
        name: "d3_non_destructive",
        spec_id: "D3",
        kind: Kind::Always,
        check: p::d3_non_destructive,
        doc: "a later backtrack to any reachable time, back or forward, finds what the cluster showed then",
        applies: always_applies,
    },
    Row {
        name: "d4_no_ack_during_backtrack",
        spec_id: "D4",
        kind: Kind::Always,
        check: p::d4_no_ack_during_backtrack,
        doc: "no commit is acknowledged during a backtrack, and a transaction in flight at its start never is",
        applies: always_applies,
    },
    Row {
        name: "d5_guards",
        spec_id: "D5",
        kind: Kind::Always,
        check: p::d5_guards,
        doc: "no accepted backtrack asked for the future, before the clone, before E without use_earliest, or with binlog and no force",
        applies: always_applies,
    },
    Row {
        name: "d6_window_kept",
        spec_id: "D6",
        kind: Kind::Always,
        check: p::d6_window_kept,
        doc: "the buffer covers [E, now), and E enters the window only under memory pressure",
        applies: always_applies,
    },
    Row {
        name: "d7_acked_after_resume_kept",
        spec_id: "D7",
        kind: Kind::Always,
        check: p::d7_acked_after_resume_kept,
        doc: "a commit acknowledged after a backtrack stays visible until overwritten or rewound",
        applies: always_applies,
    },
    Row {
        name: "l1_backtrack_returns",
        spec_id: "L1",
        kind: Kind::Eventually,
        check: p::l1_backtrack_returns,
        doc: "a backtrack returns the cluster to normal service",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "l2_restarted_rewind_converges",
        spec_id: "L2",
        kind: Kind::Eventually,
        check: p::l2_restarted_rewind_converges,
        doc: "a rewind that crashed restarts and ends on the backtrack's target",
        applies: |c| c.backtracks > 0 && c.crashes > 0,
    },
    Row {
        name: "d1s_backtrack_completes",
        spec_id: "D1.s1",
        kind: Kind::Sometimes,
        check: back_done,
        doc: "a backtrack to an earlier time completes and changes the data",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "d1s_reader_caches_rewound_state",
        spec_id: "D1.s2",
        kind: Kind::Sometimes,
        check: cache_refilled,
        doc: "a reader caches the rewound state after a backtrack",
        applies: |c| c.backtracks > 0 && c.readers > 0,
    },
    Row {
        name: "d2s_inflight_dropped",
        spec_id: "D2.s1",
        kind: Kind::Sometimes,
        check: inflight_dropped,
        doc: "a backtrack drops a transaction in flight that has written",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "d3s_forward_backtrack_completes",
        spec_id: "D3.s1",
        kind: Kind::Sometimes,
        check: forward_done,
        doc: "a backtrack forward, past the previous one's target but into the past, completes",
        applies: |c| c.backtracks > 1,
    },
    Row {
        name: "d4s_commit_races_backtrack",
        spec_id: "D4.s2",
        kind: Kind::Sometimes,
        check: commit_raced,
        doc: "a backtrack starts between a commit and its acknowledgement",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "d4s_ack_after_backtrack",
        spec_id: "D4.s1",
        kind: Kind::Sometimes,
        check: ack_after_resume,
        doc: "a commit is acknowledged after a backtrack resumed",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "d5s_use_earliest_completes",
        spec_id: "D5.s1",
        kind: Kind::Sometimes,
        check: earliest_done,
        doc: "a backtrack with use_earliest goes to the earliest reachable time and completes",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "d5s_rejected",
        spec_id: "D5.s2",
        kind: Kind::Sometimes,
        check: rejected,
        doc: "a backtrack is rejected while a transaction with writes is in flight, which goes on",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "d6s_pressure_inside_window",
        spec_id: "D6.s1",
        kind: Kind::Sometimes,
        check: pressed_inside,
        doc: "memory pressure moves the earliest reachable time inside the window",
        applies: |c| c.pressure > 0,
    },
    Row {
        name: "d7s_ack_kept",
        spec_id: "D7.s1",
        kind: Kind::Sometimes,
        check: ack_kept,
        doc: "a write acknowledged after a backtrack is still visible a tick later",
        applies: |c| c.backtracks > 0,
    },
    Row {
        name: "l2s_restart_completes",
        spec_id: "L2.s1",
        kind: Kind::Sometimes,
        check: restart_done,
        doc: "a rewind crashes after rewinding a key, restarts and completes",
        applies: |c| c.backtracks > 0 && c.crashes > 0,
    },
];

/// Every property of the protocol (whatever the config), as `(name, spec_id, kind, doc)`.
pub fn all_properties() -> Vec<(&'static str, &'static str, Kind, &'static str)> {
    crate::table::all_properties(ROWS)
}

/// Evaluate the property named `name` (for tests and the reference implementation).
pub fn evaluate(name: &str, cfg: &BacktrackConfig, s: &BacktrackState) -> Option<Verdict> {
    crate::table::evaluate(ROWS, name, cfg, s)
}

crate::table::property_shims!(BacktrackModel, BacktrackState, ROWS; 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);

impl Model for BacktrackModel {
    type State = BacktrackState;
    type Action = Action;

    fn init_states(&self) -> Vec<BacktrackState> {
        vec![step::init(&self.cfg)]
    }

    fn actions(&self, state: &BacktrackState, actions: &mut Vec<Action>) {
        step::actions(&self.cfg, state, actions);
    }

    fn next_state(&self, state: &BacktrackState, action: Action) -> Option<BacktrackState> {
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

impl Checkable for BacktrackModel {
    fn props(&self) -> Vec<Property<Self>> {
        crate::table::props(ROWS, &self.cfg, CONDITIONS, EXPLAINS)
    }

    fn is_fault(&self, action: &Action) -> bool {
        action.is_environment()
    }

    fn describe_action(&self, s: &BacktrackState, a: &Action) -> String {
        describe_action(&self.cfg, s, a)
    }

    fn describe_change(&self, before: &BacktrackState, after: &BacktrackState) -> Vec<String> {
        describe_change(&self.cfg, before, after)
    }
}

/// `actor: action` in protocol words.
pub fn describe_action(cfg: &BacktrackConfig, s: &BacktrackState, a: &Action) -> String {
    let open = s.open.map_or(0, |o| o.id);
    match *a {
        Action::Begin => format!("client: begin T{}", s.begun + 1),
        Action::Write { key } => format!("client: T{open} writes {}", key_name(usize::from(key))),
        Action::Commit => format!("client: commit T{open}"),
        Action::Ack => format!(
            "client: the acknowledgement of T{} arrives",
            s.pending.map_or(0, |o| o.id)
        ),
        Action::Abort => format!("client: roll back T{open}"),
        Action::Tick => format!("clock: t = {}", s.t + 1),
        Action::Evict => format!(
            "buffer: evict t={}, older than the {}-tick window",
            s.earliest, cfg.window
        ),
        Action::Pressure => format!("fault: memory pressure evicts t={} early", s.earliest),
        Action::Backtrack {
            to,
            use_earliest,
            force,
        } => {
            let mut opts = Vec::new();
            if use_earliest {
                opts.push("use earliest");
            }
            if force {
                opts.push("force");
            }
            let opts = if opts.is_empty() {
                String::new()
            } else {
                format!(" ({})", opts.join(", "))
            };
            format!("operator: backtrack to t={to}{opts} at t={}", s.t)
        }
        Action::ApplyKey { key } => {
            let k = usize::from(key);
            let v = match (s.mode, s.rewind_left) {
                (Mode::Applying { target, .. }, _) => target[k],
                (_, Some((target, _))) => target[k],
                _ => s.db[k],
            };
            format!("cluster: rewind {} to {}", key_name(k), value_name(v))
        }
        Action::Crash => "fault: the cluster crashes mid-rewind".into(),
        Action::Restart => "cluster: restart the rewind from the start".into(),
        Action::Resume if cfg.has(super::config::Mutant::ReadersKeepCache) => {
            "cluster: rewind done; resume (readers keep their caches)".into()
        }
        Action::Resume => "cluster: rewind done; readers drop their caches; resume".into(),
        Action::Read { reader } => format!("reader {}: read", reader + 1),
    }
}

/// What changed between two states, one short line per change.
pub fn describe_change(
    cfg: &BacktrackConfig,
    b: &BacktrackState,
    a: &BacktrackState,
) -> Vec<String> {
    let mut out = Vec::new();
    if a.db != b.db {
        out.push(format!("data {}", values_name(cfg, &a.db)));
    }
    if a.open != b.open {
        out.push(match a.open {
            Some(o) if o.wrote == 0 => format!("T{} open", o.id),
            Some(o) => {
                let keys: Vec<_> = (0..usize::from(cfg.keys))
                    .filter(|k| o.wrote & (1 << k) != 0)
                    .map(key_name)
                    .collect();
                format!("T{} open, wrote {} (not visible yet)", o.id, keys.join(" "))
            }
            None => "no transaction open".into(),
        });
    }
    let phase = |m: &Mode| match *m {
        Mode::Normal => (0, 0),
        Mode::Applying { to, .. } => (1, to),
        Mode::Crashed { to, .. } => (2, to),
    };
    if phase(&a.mode) != phase(&b.mode) {
        out.push(match a.mode {
            Mode::Normal => "cluster serving".into(),
            Mode::Applying { to, target, .. } => format!(
                "cluster paused, rewinding to t={to}: {}",
                values_name(cfg, &target)
            ),
            Mode::Crashed { to, .. } => format!("cluster down mid-rewind to t={to}"),
        });
    }
    if a.t != b.t {
        let tau = usize::from(b.t);
        out.push(format!(
            "buffer records t={tau}: {}{}",
            values_name(cfg, &physical(b)),
            if a.consistent & (1 << tau) != 0 {
                " (consistent)"
            } else {
                " (not consistent: a transaction or a rewind in flight)"
            }
        ));
    }
    if a.earliest != b.earliest {
        out.push(format!("earliest reachable time E = {}", a.earliest));
    }
    if a.hist != b.hist && a.t == b.t && a.earliest == b.earliest {
        let h: Vec<_> = (usize::from(a.earliest)..usize::from(a.t))
            .map(|t| {
                format!(
                    "t={t}: {}",
                    a.hist[t].map_or("-".into(), |v| values_name(cfg, &v))
                )
            })
            .collect();
        out.push(format!("buffer now {}", h.join(", ")));
    }
    for r in 0..usize::from(cfg.readers) {
        if a.caches[r] != b.caches[r] {
            out.push(match a.caches[r] {
                Some(c) => format!("reader {} caches {}", r + 1, values_name(cfg, &c)),
                None => format!("reader {} cache dropped", r + 1),
            });
        }
    }
    let newly = a.ghost.acked & !b.ghost.acked;
    for x in 0..8 {
        if newly & (1 << x) != 0 {
            out.push(format!("client: T{} acknowledged", x + 1));
        }
    }
    let unacked = a.ghost.unacked & !b.ghost.unacked;
    for x in 0..8 {
        if unacked & (1 << x) != 0 {
            out.push(format!(
                "T{} committed, but its connection is closed: never acknowledged",
                x + 1
            ));
        }
    }
    let dropped = a.ghost.dropped & !b.ghost.dropped;
    for x in 0..8 {
        if dropped & (1 << x) != 0 {
            out.push(format!("T{} was in flight: dropped", x + 1));
        }
    }
    let flags = a.ghost.flags & !b.ghost.flags;
    if flags & F_REJECTED != 0 {
        out.push("backtrack rejected; nothing changes".into());
    }
    if a.ghost.last != b.ghost.last && a.ghost.last.some {
        let l = &a.ghost.last;
        out.push(format!(
            "backtrack accepted: asked t={}, rewinding to the consistent time t={}",
            l.asked, l.to
        ));
    }
    out
}
