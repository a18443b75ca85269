//! The writer (database instance): allocates LSNs in mini-transactions, learns each segment's
//! SCL from its acks, computes PGCL, VCL and VDL with the model's writer functions
//! (`quorate_model::quorum::writer`), and acknowledges commits once VDL covers them.
//!
//! Its memory is volatile: a crash loses the acks, the consistency points it knew and its
//! consistency points. The next incarnation learns what it needs from a read quorum.

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::config::MAX_SEGMENTS;
use quorate_model::quorum::state::{Lsn, Trunc, Writer, WriterMode};
use quorate_model::quorum::writer;

use super::wire::Msg;

/// What the writer knows of one segment from its latest ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckInfo {
    /// The segment's SCL.
    pub scl: Lsn,
    /// The LSNs it holds.
    pub held: u16,
    /// Its membership epoch.
    pub mem_epoch: u8,
    /// Its volume epoch.
    pub vol_epoch: u8,
}

/// The writer instance.
#[derive(Clone, Debug)]
pub struct WriterNode {
    /// Its state, in the model's terms.
    pub w: Writer,
    /// The latest ack of each connected segment: what its consistency points count.
    pub acks: [Option<AckInfo>; MAX_SEGMENTS],
    /// The latest ack heard from each segment by this incarnation, connected or not: what it
    /// decides retransmissions by (a down segment keeps its records).
    pub heard: [Option<AckInfo>; MAX_SEGMENTS],
    /// Consistency points it knows: those it allocated, and those its recovery read.
    pub cpls: u16,
    /// Truncation ranges (from the metadata service).
    pub truncs: Vec<Trunc>,
}

impl WriterNode {
    /// The first writer of a new volume, knowing the configuration `w`.
    pub fn new(w: Writer) -> Self {
        WriterNode {
            w,
            acks: [None; MAX_SEGMENTS],
            heard: [None; MAX_SEGMENTS],
            cpls: 0,
            truncs: Vec::new(),
        }
    }

    /// A crash. The model keeps the dead incarnation's epochs, configuration and allocation
    /// point in its state (`next_lsn` is only ever raised by the next `Open`); everything the
    /// instance had learned is gone.
    pub fn crashed(&self) -> Self {
        let mut w = self.w;
        w.mode = WriterMode::Crashed;
        w.pgcl = 0;
        w.vcl = 0;
        w.vdl = 0;
        WriterNode::new(w)
    }

    /// Fold in a message from a segment.
    pub fn on_msg(&mut self, msg: &Msg) {
        if let Msg::Ack {
            slot,
            scl,
            held,
            mem_epoch,
            vol_epoch,
        } = *msg
        {
            let info = Some(AckInfo {
                scl,
                held,
                mem_epoch,
                vol_epoch,
            });
            self.acks[usize::from(slot)] = info;
            self.heard[usize::from(slot)] = info;
        }
    }

    /// The connection to segment `slot` broke (it crashed or its AZ went down): its acks no
    /// longer count.
    pub fn disconnected(&mut self, slot: u8) {
        self.acks[usize::from(slot)] = None;
    }

    /// The PGCL its acks prove, with the model's rule.
    pub fn provable_pgcl(&self, cfg: &QuorumConfig) -> Lsn {
        let scls = self
            .acks
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
            .filter(|(_, a)| writer::counts_ack(cfg, &self.w, a.mem_epoch, a.vol_epoch))
            .map(|(i, a)| (i, a.scl));
        writer::pgcl_from_scls(cfg, scls, self.w.next_lsn.saturating_sub(1), &self.w.cfg)
    }

    /// Recompute the consistency points; returns the commits newly covered by VDL (bit
    /// `l-1`), to acknowledge to clients.
    pub fn advance(&mut self, cfg: &QuorumConfig) -> u16 {
        if self.w.mode != WriterMode::Open {
            return 0;
        }
        let old = self.w;
        let proven = self.provable_pgcl(cfg);
        self.w = writer::advance_to(cfg, old, proven, self.cpls, &self.truncs);
        writer::newly_acked(old.vdl, self.w.vdl, self.cpls, &self.truncs)
    }
}
