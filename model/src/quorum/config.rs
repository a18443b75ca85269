//! Parameters of the storage-quorum model: quorum geometry, workload size, fault budgets and
//! the deliberate bug (mutant) planted, with named presets and `--set KEY=VALUE` overrides.

use crate::mutants::mutants;
/// The most segments (members plus spares) the bit-set encoding holds.
pub const MAX_SEGMENTS: usize = 12;
/// The most writer crashes (each recovery leaves one truncation range in the state).
pub const MAX_WRITER_CRASHES: usize = 4;
/// The highest LSN the record encoding holds.
pub const MAX_LSN: usize = 8;

/// How records travel from the writer to the segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Messages {
    /// A sent record may land on any segment at any later time, any number of times (so loss,
    /// duplication and reordering are all implicit, and unbounded). Every message is idempotent,
    /// so for safety this loses nothing, at ~300x fewer states (`state-space.md`).
    Instant,
    /// An explicit multiset of in-flight write messages (each carrying its LSN, volume epoch and
    /// membership epoch), with bounded loss and duplication and writer retransmission.
    Explicit,
}

/// Which composition of the actors a check explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Composition {
    /// The fast composition (`step`): one input to one actor, then every message it causes
    /// delivered at once; records in flight as `messages` says.
    Fast,
    /// The actor model (`actor_model`): every message an envelope in an explicit network,
    /// each delivery a step; `loss > 0` lets the network lose any message, `duplicate > 0`
    /// deliver one again.
    Actors,
}

mutants! {
    protocol "quorum";
    /// Ma1: write quorum 3/6, read quorum 3/6 (quorums need not intersect).
    W3r3 => (
        "w3r3",
        "Ma1",
        "a1_acked_readable",
        "write quorum 3/6 with read quorum 3/6: a read quorum can miss an acknowledged commit",
    ),
    /// Ma2: write quorum 4/6, read quorum 2/6.
    W4r2 => (
        "w4r2",
        "Ma2",
        "a1_acked_readable",
        "write quorum 4/6 with read quorum 2/6: a read quorum can miss an acknowledged commit",
    ),
    /// Ma3: replace a member in one step, with no dual quorum set: the new member hydrates
    /// outside the configuration while the writer keeps writing to the old set, then the
    /// configuration flips.
    NoDualQuorum => (
        "no-dual-quorum",
        "Ma3",
        "a1_acked_readable",
        "membership change in one step: writes acknowledged while the new member hydrates \
         are on too few members of the new set",
    ),
    /// Ma4: finalize a membership change before the new member has hydrated.
    FinalizeBeforeHydration => (
        "finalize-before-hydration",
        "Ma4",
        "a1_acked_readable",
        "the membership change is finalized before the new member has hydrated",
    ),
    /// Ma5: segments accept requests whatever membership epoch they carry.
    IgnoreMembershipEpoch => (
        "ignore-membership-epoch",
        "Ma5",
        "a5_epochs_checked",
        "segments accept writes with a stale membership epoch, so a writer with an old \
         configuration reaches a false quorum",
    ),
    /// Ma6: a segment accepts a gossiped record without checking its truncation ranges.
    GossipIgnoresTruncation => (
        "gossip-ignores-truncation",
        "Ma6",
        "a6_no_resurrection",
        "gossip copies a record annulled by a truncation range into a segment that knows the range",
    ),
    /// Ma7: a read is served by a segment whose SCL is below the read point.
    ReadBelowScl => (
        "read-below-scl",
        "Ma7",
        "a7_read_sound",
        "a read is served by a segment whose SCL is below the read point",
    ),
    /// Ma8: the writer sets VDL to VCL, ignoring consistency points.
    VdlNotAtCpl => (
        "vdl-not-at-cpl",
        "Ma8",
        "a2_vdl_sound",
        "VDL follows VCL instead of the highest consistency point at or below it",
    ),
    /// Ma9: a segment advances its SCL to the highest record it holds, across gaps.
    SclSkipsGaps => (
        "scl-skips-gaps",
        "Ma9",
        "a3_scl_sound",
        "a segment's SCL jumps to its highest record across a gap",
    ),
    /// Ma10: the writer recomputes PGCL from the segments it can reach now instead of keeping
    /// the highest value proven so far.
    PgclNotMonotone => (
        "pgcl-not-monotone",
        "Ma10",
        "a4_monotone",
        "PGCL is recomputed from the segments reachable now and can move backwards",
    ),
    /// Ma11: the literal dual-phase read rule: a joining member counts toward a read quorum of
    /// the new set before it has hydrated.
    LiteralDualRead => (
        "literal-dual-read",
        "Ma11",
        "a9_quorums_intersect",
        "the literal dual-phase read rule counts an un-hydrated new member toward a read quorum",
    ),
    /// Ma12: garbage collection advances to VDL, ignoring the read points of open read views.
    GcIgnoresReaders => (
        "gc-ignores-readers",
        "Ma12",
        "a8_gc_below_read_points",
        "garbage collection advances past the read point of an open read view",
    ),
}

/// Everything that shapes one storage-quorum model instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuorumConfig {
    /// Availability zones.
    pub azs: u8,
    /// Segments per AZ (members of the protection group = `azs * segments_per_az`).
    pub segments_per_az: u8,
    /// Segments whose SCL must reach an LSN, in every quorum set, before it is durable.
    pub write_quorum: u8,
    /// Segments of one quorum set a read (or recovery) must reach.
    pub read_quorum: u8,
    /// Highest LSN the writer may allocate (the workload).
    pub lsns: u8,
    /// Records per mini-transaction; the last record of each is a consistency point (CPL).
    pub mtr_len: u8,
    /// LSN allocation limit: no LSN is allocated above VDL + LAL.
    pub lal: u8,
    /// How records travel.
    pub messages: Messages,
    /// Explicit mode: write messages that may be lost.
    pub loss: u8,
    /// Explicit mode: write messages that may be duplicated.
    pub duplicate: u8,
    /// Transient segment crashes (durable records survive a restart).
    pub crashes: u8,
    /// Permanent disk losses (the segment is gone; its records too).
    pub disk_losses: u8,
    /// Whole-AZ outages (every segment of one AZ down in one step).
    pub az_outages: u8,
    /// Membership changes started (each replaces one member by a spare).
    pub member_changes: u8,
    /// Writer crashes (each followed by volume recovery with a truncation range).
    pub writer_crashes: u8,
    /// Segments repair gaps by gossip with peers.
    pub gossip: bool,
    /// Client read views, reads from one segment, and garbage collection.
    pub reads: bool,
    /// Symmetry reduction (segments within an AZ, and AZs).
    pub symmetry: bool,
    /// Which composition of the actors to explore.
    pub composition: Composition,
    /// The planted bug, if any.
    pub mutant: Option<Mutant>,
}

pub use crate::params::Preset;

/// The presets, in `list` order. Together the focused ones cover every feature; see
/// `specs/quorum.md` for why no single config carries all of them at 3 LSNs.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "default",
        doc: "3 LSNs in 2 MTRs under AZ+1 (AZ outage + crash), writer crash with truncation, gossip, read views and GC",
        sets: &["reads=true", "member_changes=0"],
    },
    Preset {
        name: "ci",
        doc: "every feature at 2 LSNs in 1 MTR: crash, writer crash, membership change, read views and GC; catches every mutant",
        sets: &["lsns=2", "az_outages=0", "reads=true"],
    },
    Preset {
        name: "membership",
        doc: "membership change, finalize or revert, during an AZ outage, 3 LSNs in 2 MTRs",
        sets: &["crashes=0", "writer_crashes=0"],
    },
    Preset {
        name: "disk",
        doc: "a permanent disk loss replaced by a membership change, with a crash, 2 LSNs",
        sets: &[
            "lsns=2",
            "disk_losses=1",
            "az_outages=0",
            "writer_crashes=0",
        ],
    },
    Preset {
        name: "messages",
        doc: "explicit write messages with loss 2 and duplication 1 (reordering is free), 2 LSNs in 1 MTR",
        sets: &[
            "lsns=2",
            "messages=explicit",
            "loss=2",
            "duplicate=1",
            "member_changes=0",
            "writer_crashes=0",
            "crashes=0",
            "az_outages=0",
        ],
    },
    Preset {
        name: "actors",
        doc: "the actor model (every message in flight, any order): 3 segments in 3 AZs, write 2/3, read 2/3, 1 LSN, a segment crash; about 25 s",
        sets: &[
            "composition=actors",
            "messages=explicit",
            "azs=3",
            "segments_per_az=1",
            "write_quorum=2",
            "read_quorum=2",
            "lsns=1",
            "mtr_len=1",
            "lal=1",
            "member_changes=0",
            "writer_crashes=0",
            "az_outages=0",
        ],
    },
    Preset {
        name: "actors-recovery",
        doc: "the actor model: 2 segments in 2 AZs, write 2/2, read 1/2, 1 LSN, a writer crash and its recovery; about 20 s",
        sets: &[
            "composition=actors",
            "messages=explicit",
            "azs=2",
            "segments_per_az=1",
            "write_quorum=2",
            "read_quorum=1",
            "lsns=1",
            "mtr_len=1",
            "lal=1",
            "member_changes=0",
            "crashes=0",
            "az_outages=0",
        ],
    },
    Preset {
        name: "actors-disk",
        doc: "the actor model: 3 segments in 3 AZs, write 2/3, read 2/3, 1 LSN, a permanent disk loss reported while acks are in flight; about 15 s",
        sets: &[
            "composition=actors",
            "messages=explicit",
            "azs=3",
            "segments_per_az=1",
            "write_quorum=2",
            "read_quorum=2",
            "lsns=1",
            "mtr_len=1",
            "lal=1",
            "member_changes=0",
            "crashes=0",
            "disk_losses=1",
            "writer_crashes=0",
            "az_outages=0",
        ],
    },
    Preset {
        name: "deep",
        doc: "every feature at 3 LSNs (AZ+1, membership, writer crash, reads): a long local run, hours",
        sets: &["reads=true"],
    },
];

impl QuorumConfig {
    /// The base every preset starts from: Aurora's geometry (6 segments over 3 AZs, 4/6 writes,
    /// 3/6 reads), 3 LSNs in 2 MTRs, instant messages, AZ+1, one membership change, one writer
    /// crash, gossip on, reads off, symmetry on.
    pub fn base() -> Self {
        QuorumConfig {
            azs: 3,
            segments_per_az: 2,
            write_quorum: 4,
            read_quorum: 3,
            lsns: 3,
            mtr_len: 2,
            lal: 2,
            messages: Messages::Instant,
            loss: 0,
            duplicate: 0,
            crashes: 1,
            disk_losses: 0,
            az_outages: 1,
            member_changes: 1,
            writer_crashes: 1,
            gossip: true,
            reads: false,
            symmetry: true,
            composition: Composition::Fast,
            mutant: None,
        }
    }

    /// A preset by name, or an error naming the known ones.
    pub fn preset(name: &str) -> Result<Self, String> {
        crate::params::preset("quorum", PRESETS, name, Self::base(), Self::set)
    }

    /// Every settable key with its meaning.
    pub const PARAMS: &'static [(&'static str, &'static str)] = &[
        ("azs", "availability zones (1-4)"),
        (
            "segments_per_az",
            "segments per AZ; members = azs x segments_per_az (<= 8)",
        ),
        (
            "write_quorum",
            "segments per quorum set whose SCL must reach an LSN (1..members)",
        ),
        (
            "read_quorum",
            "segments per quorum set a read or recovery must reach (1..members)",
        ),
        ("lsns", "highest LSN the writer allocates (1-8)"),
        (
            "mtr_len",
            "records per mini-transaction; the last is a consistency point (>= 1)",
        ),
        (
            "lal",
            "LSN allocation limit: no LSN above VDL + lal (>= mtr_len)",
        ),
        (
            "messages",
            "instant (implicit loss/dup/reorder) or explicit (bounded multiset)",
        ),
        (
            "loss",
            "explicit messages: how many write messages may be lost",
        ),
        (
            "duplicate",
            "explicit messages: how many write messages may be duplicated",
        ),
        ("crashes", "transient segment crashes (records survive)"),
        ("disk_losses", "permanent segment disk losses"),
        (
            "az_outages",
            "whole-AZ outages (all of one AZ's segments down at once)",
        ),
        (
            "member_changes",
            "membership changes (replace a member by a spare, dual quorum)",
        ),
        (
            "writer_crashes",
            "writer crashes, each followed by recovery with truncation",
        ),
        ("gossip", "segments fill gaps from peers (true/false)"),
        (
            "reads",
            "client read views, segment reads and GC (true/false)",
        ),
        (
            "symmetry",
            "symmetry reduction over segments in an AZ and over AZs (true/false)",
        ),
        (
            "composition",
            "fast (one input, then its messages at once) or actors (stateright's ActorModel: \
             every message in flight; loss/duplicate > 0 make the network lossy/duplicating)",
        ),
    ];

    /// Apply one `key=value` override.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        use crate::params::{flag, num};
        match key {
            "azs" => self.azs = num(key, value)?,
            "segments_per_az" => self.segments_per_az = num(key, value)?,
            "write_quorum" => self.write_quorum = num(key, value)?,
            "read_quorum" => self.read_quorum = num(key, value)?,
            "lsns" => self.lsns = num(key, value)?,
            "mtr_len" => self.mtr_len = num(key, value)?,
            "lal" => self.lal = num(key, value)?,
            "messages" => {
                self.messages = match value {
                    "instant" => Messages::Instant,
                    "explicit" => Messages::Explicit,
                    _ => {
                        return Err(format!(
                            "parameter 'messages' takes instant or explicit, got '{value}'"
                        ));
                    }
                }
            }
            "loss" => self.loss = num(key, value)?,
            "duplicate" => self.duplicate = num(key, value)?,
            "crashes" => self.crashes = num(key, value)?,
            "disk_losses" => self.disk_losses = num(key, value)?,
            "az_outages" => self.az_outages = num(key, value)?,
            "member_changes" => self.member_changes = num(key, value)?,
            "writer_crashes" => self.writer_crashes = num(key, value)?,
            "gossip" => self.gossip = flag(key, value)?,
            "reads" => self.reads = flag(key, value)?,
            "symmetry" => self.symmetry = flag(key, value)?,
            "composition" => {
                self.composition = match value {
                    "fast" => Composition::Fast,
                    "actors" => Composition::Actors,
                    _ => {
                        return Err(format!(
                            "parameter 'composition' takes fast or actors, got '{value}'"
                        ));
                    }
                }
            }
            _ => {
                let keys: Vec<_> = Self::PARAMS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown parameter '{key}' for protocol quorum; known: {}",
                    keys.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Plant a mutant. The geometry mutants fix the quorum sizes for Aurora's 6-segment layout.
    pub fn with_mutant(mut self, mutant: Option<Mutant>) -> Self {
        self.mutant = mutant;
        match mutant {
            Some(Mutant::W3r3) => {
                self.write_quorum = 3;
                self.read_quorum = 3;
            }
            Some(Mutant::W4r2) => {
                self.write_quorum = 4;
                self.read_quorum = 2;
            }
            _ => {}
        }
        self
    }

    /// Check the parameters fit the encoding and make sense; the error says how to fix them.
    pub fn validate(&self) -> Result<(), String> {
        let members = self.members();
        if !(1..=4).contains(&self.azs) {
            return Err(format!("azs={} is out of range; use 1-4", self.azs));
        }
        if self.segments_per_az == 0 || members > 8 {
            return Err(format!(
                "azs x segments_per_az = {members} members; use 1-8 members"
            ));
        }
        if self.write_quorum == 0 || usize::from(self.write_quorum) > members {
            return Err(format!(
                "write_quorum={} must be between 1 and the {members} members",
                self.write_quorum
            ));
        }
        if self.read_quorum == 0 || usize::from(self.read_quorum) > members {
            return Err(format!(
                "read_quorum={} must be between 1 and the {members} members",
                self.read_quorum
            ));
        }
        if self.lsns == 0 || usize::from(self.lsns) > MAX_LSN {
            return Err(format!(
                "lsns={} is out of range; use 1-{MAX_LSN}",
                self.lsns
            ));
        }
        if self.mtr_len == 0 {
            return Err("mtr_len must be at least 1".into());
        }
        if self.lal < self.mtr_len {
            return Err(format!(
                "lal={} is below mtr_len={}: no mini-transaction could ever be allocated; \
                 set lal >= mtr_len",
                self.lal, self.mtr_len
            ));
        }
        if self.composition == Composition::Actors && self.messages != Messages::Explicit {
            return Err(
                "composition=actors puts every message in an explicit network: set \
                 messages=explicit"
                    .into(),
            );
        }
        if self.messages == Messages::Instant && (self.loss > 0 || self.duplicate > 0) {
            return Err(
                "loss/duplicate budgets need messages=explicit (instant messages already \
                 model unbounded loss and duplication)"
                    .into(),
            );
        }
        if usize::from(self.writer_crashes) > MAX_WRITER_CRASHES {
            return Err(format!(
                "writer_crashes={} is out of range; use 0-{MAX_WRITER_CRASHES}",
                self.writer_crashes
            ));
        }
        // Each recovery may annul up to `lal` LSNs above what was allocated, and the writer
        // allocates above every range, so LSNs reach `lsns + writer_crashes x lal`.
        let top = usize::from(self.lsns) + usize::from(self.writer_crashes) * usize::from(self.lal);
        if top > MAX_LSN {
            return Err(format!(
                "lsns={} + writer_crashes={} x lal={} reaches LSN {top}, above the {MAX_LSN}                  LSNs a state holds; lower one of them",
                self.lsns, self.writer_crashes, self.lal
            ));
        }
        if members + usize::from(self.member_changes) > MAX_SEGMENTS {
            return Err(format!(
                "{members} members + {} spares exceed {MAX_SEGMENTS} segments; lower member_changes",
                self.member_changes
            ));
        }
        Ok(())
    }

    /// Members of the protection group (excluding spares).
    pub fn members(&self) -> usize {
        usize::from(self.azs) * usize::from(self.segments_per_az)
    }

    /// Segment slots: members, then one spare per allowed membership change.
    pub fn slots(&self) -> usize {
        self.members() + usize::from(self.member_changes)
    }

    /// The parameters as `key=value` strings, in [`Self::PARAMS`] order, then the mutant.
    pub fn describe(&self) -> Vec<String> {
        let messages = match self.messages {
            Messages::Instant => "instant",
            Messages::Explicit => "explicit",
        };
        let mut v = vec![
            format!("azs={}", self.azs),
            format!("segments_per_az={}", self.segments_per_az),
            format!("write_quorum={}", self.write_quorum),
            format!("read_quorum={}", self.read_quorum),
            format!("lsns={}", self.lsns),
            format!("mtr_len={}", self.mtr_len),
            format!("lal={}", self.lal),
            format!("messages={messages}"),
            format!("loss={}", self.loss),
            format!("duplicate={}", self.duplicate),
            format!("crashes={}", self.crashes),
            format!("disk_losses={}", self.disk_losses),
            format!("az_outages={}", self.az_outages),
            format!("member_changes={}", self.member_changes),
            format!("writer_crashes={}", self.writer_crashes),
            format!("gossip={}", self.gossip),
            format!("reads={}", self.reads),
            format!("symmetry={}", self.symmetry),
            format!(
                "composition={}",
                match self.composition {
                    Composition::Fast => "fast",
                    Composition::Actors => "actors",
                }
            ),
        ];
        if let Some(m) = self.mutant {
            v.push(format!("mutant={m}"));
        }
        v
    }

    /// Whether `m` is planted.
    pub fn has(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid() {
        for p in PRESETS {
            let cfg = QuorumConfig::preset(p.name).unwrap();
            cfg.validate().unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }

    #[test]
    fn bad_values_say_how_to_fix() {
        let mut cfg = QuorumConfig::base();
        assert!(
            cfg.set("write_quorum", "banana")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(cfg.set("no_such_key", "1").unwrap_err().contains("known:"));
        cfg.set("lal", "1").unwrap();
        assert!(cfg.validate().unwrap_err().contains("lal >= mtr_len"));
    }

    #[test]
    fn mutant_names_round_trip() {
        for m in Mutant::ALL {
            assert_eq!(m.name().parse::<Mutant>().unwrap(), m);
        }
        assert!("nope".parse::<Mutant>().is_err());
    }
}
