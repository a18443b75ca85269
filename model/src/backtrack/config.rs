//! Parameters of the Backtrack model: keys, workload, clock, backtrack window, reader
//! instances, the cluster's flags (binlog, clone creation time), budgets of backtracks, crashes
//! during a rewind and eviction pressure, and the planted bug (mutant), with named presets and
//! `--set KEY=VALUE` overrides.

use crate::mutants::mutants;

/// The most keys.
pub const MAX_KEYS: usize = 2;
/// The most reader instances.
pub const MAX_READERS: usize = 2;
/// The latest time the clock can reach (times are `0..=MAX_TIME`).
pub const MAX_TIME: usize = 7;
/// The most transactions (ids `1..=MAX_TXNS`; a key's value is the id of the transaction that
/// last wrote it, 0 for the initial value).
pub const MAX_TXNS: usize = 7;

mutants! {
    protocol "backtrack";
    /// Md1: the backtrack leaves the in-flight transaction open; it commits after the resume.
    KeepInflight => (
        "keep-inflight",
        "Md1",
        "d2_inflight_dropped",
        "the backtrack does not drop the transaction in flight, which goes on and commits after \
         the resume: an uncommitted write from before the rewind becomes visible",
    ),
    /// Md2: the rewind discards the change records after the target time.
    DestructiveRewind => (
        "destructive-rewind",
        "Md2",
        "d3_non_destructive",
        "the rewind throws away the history after the target time, so a later backtrack \
         forward to a time in between finds the rewound state instead of the one that was live",
    ),
    /// Md3: the target is rounded up to the next consistent time.
    RoundUp => (
        "round-up",
        "Md3",
        "d1_backtrack_shows_target",
        "an inconsistent target time is rounded up to the next consistent time, so a change \
         made after the requested time survives the rewind",
    ),
    /// Md4: the cluster is not paused: clients keep committing during the rewind.
    NoPause => (
        "no-pause",
        "Md4",
        "d4_no_ack_during_backtrack",
        "the backtrack does not pause the cluster: a commit racing the rewind is acknowledged, \
         then erased by it",
    ),
    /// Md5: eviction removes history inside the backtrack window without pressure.
    EvictInsideWindow => (
        "evict-inside-window",
        "Md5",
        "d6_window_kept",
        "the change buffer evicts history inside the backtrack window with no memory pressure, \
         so the earliest reachable time moves up for no reason",
    ),
    /// Md6: reader instances keep their caches across the backtrack.
    ReadersKeepCache => (
        "readers-keep-cache",
        "Md6",
        "d1_backtrack_shows_target",
        "reader instances keep their caches across the backtrack and go on serving the \
         pre-rewind values",
    ),
    /// Md7: a backtrack is accepted on a cluster with binlog on, without `force`.
    IgnoreBinlog => (
        "ignore-binlog",
        "Md7",
        "d5_guards",
        "a backtrack is accepted on a cluster with binary logging on without `force`",
    ),
    /// Md8: the cluster resumes before the rewind has finished.
    ResumeBeforeApply => (
        "resume-before-apply",
        "Md8",
        "d7_acked_after_resume_kept",
        "the cluster resumes before every key is rewound; the rest of the rewind then \
         overwrites commits acknowledged after the resume",
    ),
    /// Md10: the rewind may go to any buffered time, consistent or not.
    IgnoreConsistency => (
        "ignore-consistency",
        "Md10",
        "d1_backtrack_shows_target",
        "the rewind goes to the time asked for even when a transaction was in flight then: \
         the buffer's pages carry its uncommitted write, which becomes visible",
    ),
    /// Md11: a restarted rewind trusts the keys the crashed run had rewound.
    RestartFromCheckpoint => (
        "restart-from-checkpoint",
        "Md11",
        "d1_backtrack_shows_target",
        "a rewind restarted after a crash skips the keys the crashed run had rewound, though \
         the crash lost them: the cluster resumes on a mix of old and rewound data",
    ),
    /// Md12: a backtrack leaves the connections of commits still awaiting their
    /// acknowledgement open.
    KeepConnections => (
        "keep-connections",
        "Md12",
        "d4_no_ack_during_backtrack",
        "a backtrack does not close the connection of a commit whose acknowledgement is still \
         on its way: the client is told it committed after the rewind erased it",
    ),
    /// Md9: on a clone, the search for a consistent time goes below the clone's creation.
    IgnoreClone => (
        "ignore-clone",
        "Md9",
        "d5_guards",
        "on a clone, an inconsistent target time is rounded down past the clone's creation, \
         rewinding the clone to a time before it existed",
    ),
}

/// Everything that shapes one Backtrack model instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BacktrackConfig {
    /// Keys of the database (1-2).
    pub keys: u8,
    /// Transactions the workload may begin, in all.
    pub txns: u8,
    /// The clock runs from 0 to `max_time`.
    pub max_time: u8,
    /// The backtrack window W in ticks: history younger than W is kept unless memory pressure
    /// evicts it early.
    pub window: u8,
    /// Backtracks that may be requested (accepted ones use the budget).
    pub backtracks: u8,
    /// Crashes during a rewind (the rewind restarts).
    pub crashes: u8,
    /// Early evictions under memory pressure.
    pub pressure: u8,
    /// Reader instances with caches.
    pub readers: u8,
    /// Binary logging is on (a backtrack then needs `force`).
    pub binlog: bool,
    /// The cluster is a clone created at this time (0: not a clone).
    pub clone_time: u8,
    /// The planted bug, if any.
    pub mutant: Option<Mutant>,
}

pub use crate::params::Preset;

/// The presets, in `list` order. Together they cover every feature (`specs/backtrack.md`,
/// "Configs").
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "ci",
        doc: "one key, two transactions, a clock to 3, a window of 2, two backtracks (back and forth), a crash during a rewind, one early eviction, a reader, binlog on (force needed) and a clone created at 1; catches every mutant",
        sets: &[
            "keys=1",
            "txns=2",
            "max_time=3",
            "window=2",
            "backtracks=2",
            "crashes=1",
            "pressure=1",
            "readers=1",
            "binlog=true",
            "clone_time=1",
        ],
    },
    Preset {
        name: "keys",
        doc: "two keys and two readers, one backtrack: a rewind restores every key and every reader drops its cache",
        sets: &["keys=2", "readers=2", "backtracks=1", "txns=2"],
    },
    Preset {
        name: "deep",
        doc: "two keys, two transactions, a clock to 3, two backtracks, a crash, pressure and a reader: 183 M states, about 2 minutes and 8 GB on 2 cores",
        sets: &[
            "keys=2",
            "txns=2",
            "max_time=3",
            "window=2",
            "backtracks=2",
            "crashes=1",
            "pressure=1",
            "readers=1",
        ],
    },
];

impl BacktrackConfig {
    /// The base every preset starts from: one key, three transactions, the clock to 3, a
    /// window of 2, two backtracks, no crash, no pressure, one reader, binlog off, not a clone.
    pub fn base() -> Self {
        BacktrackConfig {
            keys: 1,
            txns: 3,
            max_time: 3,
            window: 2,
            backtracks: 2,
            crashes: 0,
            pressure: 0,
            readers: 1,
            binlog: false,
            clone_time: 0,
            mutant: None,
        }
    }

    /// A preset by name, or an error naming the known ones.
    pub fn preset(name: &str) -> Result<Self, String> {
        crate::params::preset("backtrack", PRESETS, name, Self::base(), Self::set)
    }

    /// Every settable key with its meaning.
    pub const PARAMS: &'static [(&'static str, &'static str)] = &[
        ("keys", "keys of the database (1-2)"),
        ("txns", "transactions the workload may begin (1-7)"),
        ("max_time", "the clock runs from 0 to max_time (1-7)"),
        ("window", "the backtrack window W in ticks (1-7)"),
        ("backtracks", "backtracks that may be accepted (0-3)"),
        ("crashes", "crashes during a rewind (0-2)"),
        ("pressure", "early evictions under memory pressure (0-3)"),
        ("readers", "reader instances with caches (0-2)"),
        (
            "binlog",
            "binary logging on: a backtrack needs force (true/false)",
        ),
        (
            "clone_time",
            "the cluster is a clone created at this time; 0 = not a clone",
        ),
    ];

    /// Apply one `key=value` override.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        use crate::params::{flag, num};
        match key {
            "keys" => self.keys = num(key, value)?,
            "txns" => self.txns = num(key, value)?,
            "max_time" => self.max_time = num(key, value)?,
            "window" => self.window = num(key, value)?,
            "backtracks" => self.backtracks = num(key, value)?,
            "crashes" => self.crashes = num(key, value)?,
            "pressure" => self.pressure = num(key, value)?,
            "readers" => self.readers = num(key, value)?,
            "binlog" => self.binlog = flag(key, value)?,
            "clone_time" => self.clone_time = num(key, value)?,
            _ => {
                let keys: Vec<_> = Self::PARAMS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown parameter '{key}' for protocol backtrack; known: {}",
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
        let range = |key: &str, v: u8, lo: u8, hi: usize| -> Result<(), String> {
            if v < lo || usize::from(v) > hi {
                Err(format!("{key}={v} is out of range; use {lo}-{hi}"))
            } else {
                Ok(())
            }
        };
        range("keys", self.keys, 1, MAX_KEYS)?;
        range("txns", self.txns, 1, MAX_TXNS)?;
        range("max_time", self.max_time, 1, MAX_TIME)?;
        range("window", self.window, 1, MAX_TIME)?;
        range("backtracks", self.backtracks, 0, 3)?;
        range("crashes", self.crashes, 0, 2)?;
        range("pressure", self.pressure, 0, 3)?;
        range("readers", self.readers, 0, MAX_READERS)?;
        if self.clone_time > self.max_time {
            return Err(format!(
                "clone_time={} is after max_time={}; use 0 (not a clone) up to max_time",
                self.clone_time, self.max_time
            ));
        }
        Ok(())
    }

    /// The parameters as `key=value` lines, for reports.
    pub fn describe(&self) -> Vec<String> {
        let mut v = vec![
            format!("keys={}", self.keys),
            format!("txns={}", self.txns),
            format!("max_time={}", self.max_time),
            format!("window={}", self.window),
            format!("backtracks={}", self.backtracks),
            format!("crashes={}", self.crashes),
            format!("pressure={}", self.pressure),
            format!("readers={}", self.readers),
            format!("binlog={}", self.binlog),
            format!("clone_time={}", self.clone_time),
        ];
        if let Some(m) = self.mutant {
            v.push(format!("mutant={m}"));
        }
        v
    }
}
