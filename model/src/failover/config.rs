//! Parameters of the failover model: geometry, workload, instances, fault budgets and the
//! planted bug (mutant), with named presets and `--set KEY=VALUE` overrides.

use crate::mutants::mutants;
use crate::quorum::config::MAX_LSN;

/// The most segments the model holds.
pub const MAX_SEGMENTS: usize = 8;
/// The most database instances (writer plus replicas).
pub const MAX_INSTANCES: usize = 3;
/// The highest volume epoch the encoding holds (epoch sets are `u8` bit sets).
pub const MAX_EPOCH: usize = 8;
/// The most truncation ranges (one per recovery read).
pub const MAX_TRUNCS: usize = 6;

mutants! {
    protocol "failover";
    /// Mb1: no fencing: recovery installs no epoch before reading, and segments accept
    /// requests of any volume epoch.
    NoFencing => (
        "no-fencing",
        "Mb1",
        "b3_stale_fenced",
        "recovery installs no epoch and segments accept any volume epoch, so a cut-off \
         old writer keeps writing into the new incarnation's log",
    ),
    /// Mb2: the literal 2018 order: read the SCLs before the new epoch is at a write quorum.
    FenceAfterRecoveryRead => (
        "fence-after-recovery-read",
        "Mb2",
        "b1_no_lost_ack",
        "the literal 2018 order: SCLs are read before the new epoch is at a write quorum, \
         so the old writer acknowledges a commit the recovery then truncates",
    ),
    /// Mb3: the recovered VDL is the highest SCL, ignoring consistency points.
    TruncateAtVcl => (
        "truncate-at-vcl",
        "Mb3",
        "b6_recovered_vdl_at_cpl",
        "the recovered VDL is the highest SCL, so a mini-transaction is cut in half",
    ),
    /// Mb4: the writer acknowledges a commit once its commit record reaches a write quorum,
    /// ignoring holes below it.
    AckOnCommitRecordQuorum => (
        "ack-on-commit-record-quorum",
        "Mb4",
        "b11_acked_durable",
        "a commit is acknowledged when its commit record reaches a write quorum, though \
         an earlier record of its chain has not",
    ),
    /// Mb5: recovery writes no truncation range and the new writer allocates from VDL + 1.
    NoTruncation => (
        "no-truncation",
        "Mb5",
        "b4_lsn_unique",
        "no truncation range: the new writer reuses LSNs an old stray record still holds",
    ),
    /// Mb6: a replica applies records above the VDL it knows.
    ReplicaAppliesAboveVdl => (
        "replica-applies-above-vdl",
        "Mb6",
        "b7_replica_no_phantom",
        "a replica applies records above its VDL, which recovery may then truncate",
    ),
    /// Mb7: segments keep installed truncation ranges in memory only; a restart forgets them.
    VolatileTruncation => (
        "volatile-truncation",
        "Mb7",
        "b9_truncation_before_writes",
        "segments forget installed truncation ranges on restart, so the open writer's range \
         falls below a write quorum",
    ),
    /// Mb8: the recovered VDL comes from the lowest SCL of the read quorum.
    RecoveryMinScl => (
        "recovery-min-scl",
        "Mb8",
        "b10_recovery_keeps_acked",
        "the recovered VDL comes from the lowest SCL of the read quorum and truncates an \
         acknowledged commit",
    ),
    /// Mb9: the metadata service hands the same volume epoch out twice.
    EpochReuse => (
        "epoch-reuse",
        "Mb9",
        "b2_one_writer_per_epoch",
        "the metadata service hands out the old writer's epoch again, so two instances \
         write at one epoch",
    ),
    /// Mb10: the writer allocates past VDL + LAL.
    IgnoreLal => (
        "ignore-lal",
        "Mb10",
        "b5_allocation_bounded",
        "the writer allocates LSNs past VDL + LAL, beyond any truncation range's reach",
    ),
    /// Mb11: a replica applies a mini-transaction record by record.
    ReplicaPartialMtr => (
        "replica-partial-mtr",
        "Mb11",
        "b8_replica_whole_mtrs",
        "a replica applies a mini-transaction record by record, showing half of it",
    ),
    /// Mb12: the new writer never rolls back the transactions active at the crash.
    NoUndo => (
        "no-undo",
        "Mb12",
        "f2_active_txns_rolled_back",
        "the new writer opens without rolling back the transactions active at the \
         crash, so they stay in progress forever",
    ),
    /// Mb13: the client's open transaction survives the failover: the new writer lets it
    /// commit instead of rolling it back.
    ResumeOrphanTxn => (
        "resume-orphan-txn",
        "Mb13",
        "f2a_orphan_never_acked",
        "the client's open transaction survives the failover and the new writer \
         acknowledges its commit, though its body may have been truncated",
    ),
}

/// Everything that shapes one failover model instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailoverConfig {
    /// Availability zones.
    pub azs: u8,
    /// Segments per AZ.
    pub segments_per_az: u8,
    /// Segments whose SCL must reach an LSN before it is durable (and that fencing and the
    /// truncation range must reach).
    pub write_quorum: u8,
    /// Segments a recovery read must reach.
    pub read_quorum: u8,
    /// Highest LSN any writer allocates (the workload).
    pub lsns: u8,
    /// Records per mini-transaction; the last is a consistency point (CPL).
    pub mtr_len: u8,
    /// Mini-transactions per transaction (1 or 2): with 2, a body MTR then a commit MTR, and
    /// only the commit is acknowledged.
    pub txn_mtrs: u8,
    /// LSN allocation limit: no LSN above VDL + LAL.
    pub lal: u8,
    /// Read replicas (R1, R2), promotion tiers 0, 1.
    pub replicas: u8,
    /// Writer failures: the current writer crashes or is cut off from the control plane.
    pub writer_failures: u8,
    /// Whether a writer failure may be a partition (the old writer stays alive and writing).
    pub partitions: bool,
    /// Crashes of an instance in the middle of recovery.
    pub recovery_crashes: u8,
    /// Replica crashes.
    pub replica_crashes: u8,
    /// Transient segment crashes.
    pub seg_crashes: u8,
    /// Whole-AZ outages.
    pub az_outages: u8,
    /// Symmetry reduction over segments in an AZ and over AZs.
    pub symmetry: bool,
    /// The planted bug, if any.
    pub mutant: Option<Mutant>,
}

pub use crate::params::Preset;

/// The presets, in `list` order. Together they cover every feature; no single config carries
/// all of them and still finishes (`specs/failover.md`, "Configs").
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "default",
        doc: "W1 + R1, one writer failure (crash, or partition with the old writer still writing), a replica crash, 3 LSNs in 2 MTRs",
        sets: &["seg_crashes=0", "replica_crashes=1"],
    },
    Preset {
        name: "ci",
        doc: "W1 + R1, one writer failure (crash or partition), a segment crash before, during or after recovery, 3 LSNs in 2 MTRs; catches every mutant",
        sets: &[],
    },
    Preset {
        name: "replicas",
        doc: "W1 + R1 + R2 in tiers 0 and 1: which replica is promoted, and a replica following the new writer",
        sets: &["replicas=2", "seg_crashes=0"],
    },
    Preset {
        name: "recovery",
        doc: "a crash in the middle of recovery and a second recovery at the next epoch, 2 LSNs in 1 MTR",
        sets: &[
            "recovery_crashes=1",
            "seg_crashes=0",
            "replicas=0",
            "lsns=2",
        ],
    },
    Preset {
        name: "az",
        doc: "a whole AZ goes down before, during or after the failover (recovery then needs all four survivors)",
        sets: &["seg_crashes=0", "az_outages=1"],
    },
    Preset {
        name: "txns",
        doc: "transactions of a body MTR and a commit MTR: a transaction active at the writer's failure is rolled back, never acknowledged",
        sets: &["txn_mtrs=2", "mtr_len=1", "lal=1", "seg_crashes=0"],
    },
    Preset {
        name: "deep",
        doc: "two writer failures (a second failover, from a promoted writer), a replica crash, W1 + R1, 3 LSNs: 73 M states, about 7 minutes and 4.3 GB on 2 cores",
        sets: &["writer_failures=2", "replica_crashes=1", "seg_crashes=0"],
    },
];

impl FailoverConfig {
    /// The base every preset starts from (and the `ci` preset): Aurora's geometry (6 segments
    /// over 3 AZs, 4/6, 3/6), 3 LSNs in MTRs of 2, LAL 2, W1 + R1, one writer failure (crash or
    /// partition), one segment crash, symmetry on.
    pub fn base() -> Self {
        FailoverConfig {
            azs: 3,
            segments_per_az: 2,
            write_quorum: 4,
            read_quorum: 3,
            lsns: 3,
            mtr_len: 2,
            txn_mtrs: 1,
            lal: 2,
            replicas: 1,
            writer_failures: 1,
            partitions: true,
            recovery_crashes: 0,
            replica_crashes: 0,
            seg_crashes: 1,
            az_outages: 0,
            symmetry: true,
            mutant: None,
        }
    }

    /// A preset by name, or an error naming the known ones.
    pub fn preset(name: &str) -> Result<Self, String> {
        crate::params::preset("failover", PRESETS, name, Self::base(), Self::set)
    }

    /// Every settable key with its meaning.
    pub const PARAMS: &'static [(&'static str, &'static str)] = &[
        ("azs", "availability zones (1-4)"),
        (
            "segments_per_az",
            "segments per AZ; segments = azs x segments_per_az (<= 8)",
        ),
        (
            "write_quorum",
            "segments for durability, fencing and truncation (1..segments)",
        ),
        (
            "read_quorum",
            "segments a recovery read must reach (1..segments)",
        ),
        ("lsns", "highest LSN any writer allocates (1-8)"),
        (
            "mtr_len",
            "records per mini-transaction; the last is a consistency point (>= 1)",
        ),
        (
            "txn_mtrs",
            "mini-transactions per transaction: 1, or 2 (a body, then the commit)",
        ),
        (
            "lal",
            "LSN allocation limit: no LSN above VDL + lal (>= mtr_len)",
        ),
        ("replicas", "read replicas R1, R2 (0-2), tiers 0 and 1"),
        (
            "writer_failures",
            "failures of the current writer (crash, or partition if enabled)",
        ),
        (
            "partitions",
            "a writer failure may leave the old writer alive and writing (true/false)",
        ),
        ("recovery_crashes", "crashes of an instance during recovery"),
        ("replica_crashes", "replica crashes"),
        ("seg_crashes", "transient segment crashes (records survive)"),
        ("az_outages", "whole-AZ outages"),
        (
            "symmetry",
            "symmetry reduction over segments in an AZ and over AZs (true/false)",
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
            "txn_mtrs" => self.txn_mtrs = num(key, value)?,
            "lal" => self.lal = num(key, value)?,
            "replicas" => self.replicas = num(key, value)?,
            "writer_failures" => self.writer_failures = num(key, value)?,
            "partitions" => self.partitions = flag(key, value)?,
            "recovery_crashes" => self.recovery_crashes = num(key, value)?,
            "replica_crashes" => self.replica_crashes = num(key, value)?,
            "seg_crashes" => self.seg_crashes = num(key, value)?,
            "az_outages" => self.az_outages = num(key, value)?,
            "symmetry" => self.symmetry = flag(key, value)?,
            _ => {
                let keys: Vec<_> = Self::PARAMS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown parameter '{key}' for protocol failover; known: {}",
                    keys.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Plant a mutant. The transaction mutants (Mb12, Mb13) turn transactions on
    /// (`txn_mtrs=2`): without them there is nothing to roll back.
    pub fn with_mutant(mut self, mutant: Option<Mutant>) -> Self {
        self.mutant = mutant;
        if matches!(mutant, Some(Mutant::NoUndo | Mutant::ResumeOrphanTxn)) {
            self.txn_mtrs = 2;
        }
        self
    }

    /// Whether `m` is planted.
    pub fn has(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }

    /// Segments in the protection group.
    pub fn segments(&self) -> usize {
        usize::from(self.azs) * usize::from(self.segments_per_az)
    }

    /// Check the parameters fit the encoding and make sense; the error says how to fix them.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.segments();
        if !(1..=4).contains(&self.azs) {
            return Err(format!("azs={} is out of range; use 1-4", self.azs));
        }
        if self.segments_per_az == 0 || n > MAX_SEGMENTS {
            return Err(format!(
                "azs x segments_per_az = {n} segments; use 1-{MAX_SEGMENTS}"
            ));
        }
        if self.write_quorum == 0 || usize::from(self.write_quorum) > n {
            return Err(format!(
                "write_quorum={} must be between 1 and the {n} segments",
                self.write_quorum
            ));
        }
        if self.read_quorum == 0 || usize::from(self.read_quorum) > n {
            return Err(format!(
                "read_quorum={} must be between 1 and the {n} segments",
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
        if !(1..=2).contains(&self.txn_mtrs) {
            return Err(format!(
                "txn_mtrs={} is out of range; use 1 (every MTR commits) or 2 (a body, then the commit)",
                self.txn_mtrs
            ));
        }
        if let Some(m @ (Mutant::NoUndo | Mutant::ResumeOrphanTxn)) = self.mutant
            && self.txn_mtrs != 2
        {
            return Err(format!(
                "mutant {m} plants a bug in transaction rollback and needs txn_mtrs=2; drop the --set txn_mtrs"
            ));
        }
        if self.lal < self.mtr_len {
            return Err(format!(
                "lal={} is below mtr_len={}: no mini-transaction could be allocated; set lal >= mtr_len",
                self.lal, self.mtr_len
            ));
        }
        if usize::from(self.replicas) + 1 > MAX_INSTANCES {
            return Err(format!(
                "replicas={} is out of range; use 0-{}",
                self.replicas,
                MAX_INSTANCES - 1
            ));
        }
        // Every writer failure and recovery crash consumes an epoch (1 is the first writer's).
        let epochs = 1 + usize::from(self.writer_failures) + usize::from(self.recovery_crashes);
        if epochs > MAX_EPOCH || epochs > MAX_TRUNCS {
            return Err(format!(
                "writer_failures + recovery_crashes = {} is too many; keep it at most {}",
                epochs - 1,
                MAX_TRUNCS - 1
            ));
        }
        Ok(())
    }

    /// The parameters as `key=value` lines, for reports.
    pub fn describe(&self) -> Vec<String> {
        let mut v = vec![
            format!("azs={}", self.azs),
            format!("segments_per_az={}", self.segments_per_az),
            format!("write_quorum={}", self.write_quorum),
            format!("read_quorum={}", self.read_quorum),
            format!("lsns={}", self.lsns),
            format!("mtr_len={}", self.mtr_len),
            format!("txn_mtrs={}", self.txn_mtrs),
            format!("lal={}", self.lal),
            format!("replicas={}", self.replicas),
            format!("writer_failures={}", self.writer_failures),
            format!("partitions={}", self.partitions),
            format!("recovery_crashes={}", self.recovery_crashes),
            format!("replica_crashes={}", self.replica_crashes),
            format!("seg_crashes={}", self.seg_crashes),
            format!("az_outages={}", self.az_outages),
            format!("symmetry={}", self.symmetry),
        ];
        if let Some(m) = self.mutant {
            v.push(format!("mutant={m}"));
        }
        v
    }
}
