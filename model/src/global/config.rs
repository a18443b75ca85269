//! Parameters of the Global Database model: regions, workload, clock, RPO gate, fencing,
//! operation and fault budgets, and the planted bug (mutant), with named presets and
//! `--set KEY=VALUE` overrides.

use crate::mutants::mutants;
/// The most regions (one primary and up to two secondaries).
pub const MAX_REGIONS: usize = 3;
/// The most records a region's log holds.
pub const MAX_LOG: usize = 8;
/// The most transactions (ids `1..=MAX_TXNS`).
pub const MAX_TXNS: usize = 6;
/// The highest global epoch (epoch sets are `u8` bit sets).
pub const MAX_GEPOCH: usize = 7;
/// The latest time the clock can reach (`max_time` and `rpo` are at most this).
pub const MAX_CLOCK: u8 = 7;

/// How the failover's write fencing of the old primary behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fencing {
    /// The fence always takes effect: the old primary can no longer commit.
    Reliable,
    /// The fence may fail ("writes might be momentarily accepted in the old primary Region,
    /// causing split-brain", UG).
    BestEffort,
}

mutants! {
    protocol "global";
    /// Mc1: a switchover promotes the target as soon as the primary is read-only, without
    /// waiting for the marker.
    PromoteWithoutMarker => (
        "promote-without-marker",
        "Mc1",
        "c1_switchover_keeps_acked",
        "a switchover promotes the target as soon as the primary is read-only, without \
         waiting for the MARKER (and every commit before it) to reach the target",
    ),
    /// Mc2: "synchronize, then read-only": the switchover checks the target is caught up while
    /// the primary is still writable, and uses no marker.
    SyncThenReadOnly => (
        "sync-then-read-only",
        "Mc2",
        "c1_switchover_keeps_acked",
        "the switchover checks that the target is caught up, then makes the primary \
         read-only: a commit acknowledged in between is lost",
    ),
    /// Mc3: the failover does not fence the old primary.
    NoFence => (
        "no-fence",
        "Mc3",
        "c2_single_writer",
        "the failover never fences the old primary, which keeps acknowledging commits \
         after the new primary has",
    ),
    /// Mc4: the returned old primary rejoins on its own volume, unreplicated tail and all.
    RejoinOwnVolume => (
        "rejoin-own-volume",
        "Mc4",
        "c4_rejoin_from_new_primary",
        "the returned old primary rejoins on its own volume, keeping records the new \
         primary never had",
    ),
    /// Mc5: the failover picks the most lagged secondary.
    FailoverToMostLagged => (
        "failover-to-most-lagged",
        "Mc5",
        "c5_rpo_bound",
        "the failover promotes the most lagged secondary, losing more than the RPO \
         allows",
    ),
    /// Mc6: secondaries ahead of the new primary are not rebuilt.
    NoRebuild => (
        "no-rebuild",
        "Mc6",
        "c3_secondary_prefix",
        "a secondary ahead of the new primary is not rebuilt and keeps records the new \
         primary lacks",
    ),
    /// Mc7: the failover promotes the target's log as it is, mid-transaction.
    PromoteMidTxn => (
        "promote-mid-txn",
        "Mc7",
        "c6_promoted_at_commit_boundary",
        "the failover promotes the target's log as it is, ending inside a transaction",
    ),
    /// Mc8: the new primary keeps the old global epoch.
    PromoteSameEpoch => (
        "promote-same-epoch",
        "Mc8",
        "c7_lsn_epoch_unique",
        "the new primary keeps the old global epoch, so two records share an (LSN, \
         epoch)",
    ),
    /// Mc9: the returned old primary rejoins on a new volume but takes no snapshot.
    RejoinWithoutSnapshot => (
        "rejoin-without-snapshot",
        "Mc9",
        "c4_rejoin_from_new_primary",
        "the returned old primary takes a new volume without first saving its \
         unreplicated tail: an acknowledged commit is gone everywhere",
    ),
    /// Mc10: the primary acknowledges commits whatever the RPO gate says.
    NoGate => (
        "no-gate",
        "Mc10",
        "c5a_gate_at_ack",
        "the primary acknowledges commits while every secondary lags by the RPO or more",
    ),
}

/// Everything that shapes one Global Database model instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GlobalConfig {
    /// Regions: region 0 starts as the primary, the others as secondaries.
    pub regions: u8,
    /// Transactions the workload commits, in all.
    pub txns: u8,
    /// Records per transaction: 1 (the commit), or 2 (a data record, then the commit).
    pub txn_records: u8,
    /// The clock runs from 0 to `max_time`.
    pub max_time: u8,
    /// The RPO gate in clock ticks; 0 = off.
    pub rpo: u8,
    /// How the failover's fence behaves.
    pub fencing: Fencing,
    /// Planned switchovers.
    pub switchovers: u8,
    /// Unplanned failovers.
    pub failovers: u8,
    /// Region outages (the region stops, its log survives).
    pub outages: u8,
    /// Partitions: a region is cut off from the others and the control plane, still running.
    pub partitions: u8,
    /// The planted bug, if any.
    pub mutant: Option<Mutant>,
}

pub use crate::params::Preset;

/// The presets, in `list` order. Together they cover every feature (`specs/global.md`,
/// "Configs").
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "ci",
        doc: "three regions, two transactions of two records, the RPO gate, a switchover (or its cancellation) and a failover after an outage or a partition, reliable fencing; catches every mutant",
        sets: &[
            "regions=3",
            "txns=2",
            "txn_records=2",
            "rpo=2",
            "max_time=3",
        ],
    },
    Preset {
        name: "rpo",
        doc: "the RPO gate (rpo=2), three regions, a clock to 3: commits block while every secondary lags and resume when one catches up; a failover loses at most the RPO",
        sets: &["rpo=2", "regions=3", "max_time=3", "switchovers=0"],
    },
    Preset {
        name: "split-brain",
        doc: "best-effort fencing: the fence may fail and the old primary keeps acknowledging (a reachable split brain)",
        sets: &["fencing=best-effort"],
    },
    Preset {
        name: "three",
        doc: "three regions: the failover picks the most caught-up secondary and rebuilds the other",
        sets: &["regions=3"],
    },
    Preset {
        name: "records",
        doc: "transactions of a data record and a commit record: the new primary's log ends on a commit boundary",
        sets: &["txn_records=2"],
    },
    Preset {
        name: "two-failovers",
        doc: "three regions, two failovers and the RPO gate: the second failover leaves the first one's old primary to rejoin through its snapshot, and C5 judges each failover by the epoch it ended",
        sets: &["regions=3", "failovers=2", "rpo=2"],
    },
    Preset {
        name: "deep",
        doc: "three regions, three transactions of two records, the RPO gate, a switchover and a failover, best-effort fencing: 193 M states, about 5 minutes and 8.6 GB on 2 cores",
        sets: &[
            "regions=3",
            "txn_records=2",
            "rpo=2",
            "max_time=4",
            "fencing=best-effort",
        ],
    },
];

impl GlobalConfig {
    /// The base every preset starts from: two regions, three one-record transactions, the
    /// clock to 2, no RPO gate, reliable fencing, one switchover, one failover, one outage and
    /// one partition.
    pub fn base() -> Self {
        GlobalConfig {
            regions: 2,
            txns: 3,
            txn_records: 1,
            max_time: 2,
            rpo: 0,
            fencing: Fencing::Reliable,
            switchovers: 1,
            failovers: 1,
            outages: 1,
            partitions: 1,
            mutant: None,
        }
    }

    /// A preset by name, or an error naming the known ones.
    pub fn preset(name: &str) -> Result<Self, String> {
        crate::params::preset("global", PRESETS, name, Self::base(), Self::set)
    }

    /// Every settable key with its meaning.
    pub const PARAMS: &'static [(&'static str, &'static str)] = &[
        ("regions", "regions (2-3); region 0 starts as the primary"),
        ("txns", "transactions the workload commits (1-6)"),
        (
            "txn_records",
            "records per transaction: 1 (commit) or 2 (data, then commit)",
        ),
        ("max_time", "the clock runs from 0 to max_time (0-7)"),
        ("rpo", "RPO gate in clock ticks, 0 = off (0-7)"),
        ("fencing", "reliable or best-effort (the fence may fail)"),
        ("switchovers", "planned switchovers (0-2)"),
        ("failovers", "unplanned failovers (0-2)"),
        ("outages", "region outages (the log survives)"),
        ("partitions", "partitions of one region (it keeps running)"),
    ];

    /// Apply one `key=value` override.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        use crate::params::num;
        match key {
            "regions" => self.regions = num(key, value)?,
            "txns" => self.txns = num(key, value)?,
            "txn_records" => self.txn_records = num(key, value)?,
            "max_time" => self.max_time = num(key, value)?,
            "rpo" => self.rpo = num(key, value)?,
            "fencing" => {
                self.fencing = match value {
                    "reliable" => Fencing::Reliable,
                    "best-effort" => Fencing::BestEffort,
                    _ => {
                        return Err(format!(
                            "fencing={value} is not known; use reliable or best-effort"
                        ));
                    }
                }
            }
            "switchovers" => self.switchovers = num(key, value)?,
            "failovers" => self.failovers = num(key, value)?,
            "outages" => self.outages = num(key, value)?,
            "partitions" => self.partitions = num(key, value)?,
            _ => {
                let keys: Vec<_> = Self::PARAMS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown parameter '{key}' for protocol global; known: {}",
                    keys.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Plant a mutant.
    pub fn with_mutant(mut self, mutant: Option<Mutant>) -> Self {
        self.mutant = mutant;
        self
    }

    /// Whether `m` is planted.
    pub fn has(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }

    /// Check the parameters fit the encoding; the error says how to fix them.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=MAX_REGIONS as u8).contains(&self.regions) {
            return Err(format!(
                "regions={} is out of range; use 2-{MAX_REGIONS}",
                self.regions
            ));
        }
        if !(1..=MAX_TXNS as u8).contains(&self.txns) {
            return Err(format!(
                "txns={} is out of range; use 1-{MAX_TXNS}",
                self.txns
            ));
        }
        if !(1..=2).contains(&self.txn_records) {
            return Err(format!(
                "txn_records={} is out of range; use 1 or 2",
                self.txn_records
            ));
        }
        if self.max_time > MAX_CLOCK || self.rpo > MAX_CLOCK {
            return Err("max_time and rpo must be at most 7".into());
        }
        if self.switchovers > 2 || self.failovers > 2 {
            return Err("switchovers and failovers must be at most 2 each".into());
        }
        let records =
            usize::from(self.txns) * usize::from(self.txn_records) + usize::from(self.switchovers);
        if records > MAX_LOG {
            return Err(format!(
                "txns x txn_records + switchovers = {records} log records; keep it at most {MAX_LOG}"
            ));
        }
        Ok(())
    }

    /// The parameters as `key=value` lines, for reports.
    pub fn describe(&self) -> Vec<String> {
        let mut v = vec![
            format!("regions={}", self.regions),
            format!("txns={}", self.txns),
            format!("txn_records={}", self.txn_records),
            format!("max_time={}", self.max_time),
            format!("rpo={}", self.rpo),
            format!(
                "fencing={}",
                match self.fencing {
                    Fencing::Reliable => "reliable",
                    Fencing::BestEffort => "best-effort",
                }
            ),
            format!("switchovers={}", self.switchovers),
            format!("failovers={}", self.failovers),
            format!("outages={}", self.outages),
            format!("partitions={}", self.partitions),
        ];
        if let Some(m) = self.mutant {
            v.push(format!("mutant={m}"));
        }
        v
    }
}
