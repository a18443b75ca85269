//! A database instance of the failover protocol (the writer, a replica, or one recovering
//! after promotion): the model's [`Inst`] and what the instance has heard, all volatile. Its
//! decisions are the model's ([`quorate_model::failover::instance`]); what this adds is the
//! knowledge those decisions are made on: the latest report of every segment it has heard
//! from, marked down while the segment does not answer.

use quorate_model::failover::config::MAX_SEGMENTS;
use quorate_model::failover::state::{Inst, Role, Seg};

use super::wire::Msg;

/// A running (or crashed) instance.
#[derive(Clone, Debug)]
pub struct InstanceNode {
    /// Its state in the model's terms.
    pub inst: Inst,
    /// The latest report of each segment (`None`: never heard from; `up: false`: it stopped
    /// answering after this report).
    reports: [Option<Seg>; MAX_SEGMENTS],
    /// Writer: it began its open transaction itself (not one it took over at open).
    pub begun_here: bool,
}

impl InstanceNode {
    /// An instance in state `inst`, having heard nothing yet.
    pub fn new(inst: Inst) -> Self {
        InstanceNode {
            inst,
            reports: [None; MAX_SEGMENTS],
            begun_here: false,
        }
    }

    /// The instance after a crash: everything volatile is gone; it keeps its promotion tier.
    pub fn crashed(&self) -> Self {
        InstanceNode::new(Inst {
            role: Role::Down,
            cut_off: false,
            ..Inst::replica(self.inst.tier)
        })
    }

    /// Whether it listens to segment reports (a writer, or an instance recovering).
    pub fn listens(&self) -> bool {
        matches!(self.inst.role, Role::Writer | Role::Recovering(_))
    }

    /// Fold in a segment's report (`az` from the placement it knows).
    pub fn on_report(&mut self, msg: &Msg, az: u8) {
        if let Msg::Report {
            slot,
            fence,
            trunc_epoch,
            scl,
            recs,
        } = msg
        {
            let mut seg = Seg {
                up: true,
                az,
                fence: *fence,
                trunc_epoch: *trunc_epoch,
                scl: *scl,
                ..Seg::default()
            };
            seg.recs.copy_from_slice(recs);
            self.reports[usize::from(*slot)] = Some(seg);
        }
    }

    /// Segment `slot` is unreachable (down): its last report stands for what it held, marked
    /// down. A writer counts no ack of a down segment (`rules::progress`); a recovery counts
    /// what its last report says it holds durably, as the model's instance does.
    pub fn lost_contact(&mut self, slot: usize) {
        if let Some(seg) = &mut self.reports[slot] {
            seg.up = false;
        }
    }

    /// The latest report of segment `slot`, if it is up (it answers).
    pub fn report_of(&self, slot: usize) -> Option<Seg> {
        self.reports.get(slot).copied().flatten().filter(|x| x.up)
    }

    /// Every segment it has heard from, as its last report shows it (a down one marked down).
    pub fn view(&self) -> Vec<Seg> {
        self.reports.iter().flatten().copied().collect()
    }
}
