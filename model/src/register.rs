//! # The quorum-register benchmark
//!
//! The yardstick for checker speed: `../shared/bench/QuorumRegister.tla`, encoded state for
//! state. Six replicas over three AZs (replica `r` lives in AZ `r / 2`); one writer writes
//! versions `1..=K` in order, each acknowledged once `W` distinct replicas acked it; one reader
//! reads once, at any moment, from `R` distinct live replicas and returns the highest version;
//! one whole AZ may crash-stop at any time; any message may never arrive (non-delivery).
//!
//! The state is exactly the module's `VARIABLES` and the transitions exactly its `Next`, with
//! no symmetry reduction, so an exhaustive search must find exactly the distinct-state count
//! that TLC and SPIN find (2,995,384 for W=4, R=3, K=2): that equality is how we know a faster
//! search still explores the same thing.

use serde::Serialize;
use stateright::{Model, Property as SrProperty};

use crate::checkable::{Checkable, Kind, Property};

/// Replicas (`N` in the module).
pub const REPLICAS: u8 = 6;

/// A set of replicas, bit `r` for replica `r`.
pub type ReplicaSet = u8;

/// Parameters: the module's constants `W`, `R` and `K` (N is fixed at 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegisterConfig {
    /// Acks that make a write acknowledged.
    pub write_quorum: u8,
    /// Responses that complete a read.
    pub read_quorum: u8,
    /// Versions the writer writes.
    pub versions: u8,
}

impl RegisterConfig {
    /// W=4, R=3, K=2: the benchmark's configuration.
    pub fn benchmark() -> Self {
        RegisterConfig {
            write_quorum: 4,
            read_quorum: 3,
            versions: 2,
        }
    }

    /// Every settable key with its meaning.
    pub const PARAMS: &'static [(&'static str, &'static str)] = &[
        ("write_quorum", "acks that acknowledge a write, W (1-6)"),
        ("read_quorum", "responses that complete the read, R (1-6)"),
        ("versions", "versions the writer writes, K (1-15)"),
    ];

    /// Apply one `key=value` override.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v: u8 = value
            .parse()
            .map_err(|_| format!("parameter '{key}' takes a whole number, got '{value}'"))?;
        match key {
            "write_quorum" => self.write_quorum = v,
            "read_quorum" => self.read_quorum = v,
            "versions" => self.versions = v,
            _ => {
                let keys: Vec<_> = Self::PARAMS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown parameter '{key}' for protocol register; known: {}",
                    keys.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Check the ranges; the error says how to fix them.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("write_quorum", self.write_quorum),
            ("read_quorum", self.read_quorum),
        ] {
            if v == 0 || v > REPLICAS {
                return Err(format!("{name}={v} must be between 1 and {REPLICAS}"));
            }
        }
        if self.versions == 0 || self.versions > 15 {
            return Err(format!(
                "versions={} must be between 1 and 15",
                self.versions
            ));
        }
        Ok(())
    }

    /// The parameters as `key=value`.
    pub fn describe(&self) -> Vec<String> {
        vec![
            format!("write_quorum={}", self.write_quorum),
            format!("read_quorum={}", self.read_quorum),
            format!("versions={}", self.versions),
        ]
    }
}

/// The module's variables, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RegisterState {
    /// `ver[r]`: highest version stored by replica `r`.
    pub ver: [u8; REPLICAS as usize],
    /// Crashed replicas: none, or one AZ.
    pub crashed: ReplicaSet,
    /// Version the writer is writing (0 = none yet).
    pub wver: u8,
    /// Replicas whose ack for `wver` the writer has received.
    pub wacks: ReplicaSet,
    /// Last acknowledged version.
    pub last_acked: u8,
    /// Reader: 0 idle, 1 reading, 2 done.
    pub rphase: u8,
    /// `last_acked` when the read started.
    pub rstart: u8,
    /// Replicas whose response the reader has received.
    pub rgot: ReplicaSet,
    /// Highest version the reader has seen.
    pub rmax: u8,
}

/// The module's actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RegisterAction {
    /// The writer starts the next write.
    StartWrite,
    /// The reader starts its read.
    StartRead,
    /// Replica `r` stores the current write.
    DeliverWrite(u8),
    /// The writer receives replica `r`'s ack.
    RecvAck(u8),
    /// The reader receives replica `r`'s response.
    RecvResp(u8),
    /// AZ `a` crash-stops.
    CrashAz(u8),
}

fn count(set: ReplicaSet) -> u8 {
    set.count_ones() as u8
}

/// The module's `Init`.
pub fn init() -> RegisterState {
    RegisterState {
        ver: [0; REPLICAS as usize],
        crashed: 0,
        wver: 0,
        wacks: 0,
        last_acked: 0,
        rphase: 0,
        rstart: 0,
        rgot: 0,
        rmax: 0,
    }
}

/// The module's `Next`, one disjunct at a time: `None` when the action is not enabled.
pub fn step(cfg: &RegisterConfig, s: &RegisterState, a: RegisterAction) -> Option<RegisterState> {
    let mut n = *s;
    match a {
        RegisterAction::StartWrite => {
            if s.wver >= cfg.versions || s.last_acked != s.wver {
                return None;
            }
            n.wver = s.wver + 1;
            n.wacks = 0;
        }
        RegisterAction::DeliverWrite(r) => {
            if s.crashed & (1 << r) != 0 || s.ver[usize::from(r)] >= s.wver {
                return None;
            }
            n.ver[usize::from(r)] = s.wver;
        }
        RegisterAction::RecvAck(r) => {
            if s.wver == 0 || s.ver[usize::from(r)] != s.wver || s.wacks & (1 << r) != 0 {
                return None;
            }
            n.wacks = s.wacks | (1 << r);
            if count(n.wacks) >= cfg.write_quorum {
                n.last_acked = s.wver;
            }
        }
        RegisterAction::CrashAz(az) => {
            if s.crashed != 0 {
                return None;
            }
            n.crashed = 0b11 << (2 * az);
        }
        RegisterAction::StartRead => {
            if s.rphase != 0 {
                return None;
            }
            n.rphase = 1;
            n.rstart = s.last_acked;
            n.rgot = 0;
            n.rmax = 0;
        }
        RegisterAction::RecvResp(r) => {
            if s.rphase != 1 || s.crashed & (1 << r) != 0 || s.rgot & (1 << r) != 0 {
                return None;
            }
            n.rgot = s.rgot | (1 << r);
            n.rmax = s.rmax.max(s.ver[usize::from(r)]);
            n.rphase = if count(n.rgot) >= cfg.read_quorum {
                2
            } else {
                1
            };
        }
    }
    Some(n)
}

/// R1 ReadSeesLastAck: a completed read returns a version at least the last one acknowledged
/// before the read started.
pub fn r1_read_sees_last_ack(s: &RegisterState) -> Result<(), String> {
    if s.rphase == 2 && s.rmax < s.rstart {
        let from: Vec<String> = (0..REPLICAS)
            .filter(|r| s.rgot & (1 << r) != 0)
            .map(|r| r.to_string())
            .collect();
        let holders: Vec<String> = (0..REPLICAS)
            .filter(|&r| s.ver[usize::from(r)] >= s.rstart)
            .map(|r| r.to_string())
            .collect();
        return Err(format!(
            "the read completed with version {} from replicas {{{}}}, but version {} was \
             acknowledged before it started; replicas {{{}}} hold it, and none of them \
             answered the read",
            s.rmax,
            from.join(","),
            s.rstart,
            holders.join(",")
        ));
    }
    Ok(())
}

/// The register model.
#[derive(Clone, Debug)]
pub struct RegisterModel {
    /// Its parameters.
    pub cfg: RegisterConfig,
}

impl Model for RegisterModel {
    type State = RegisterState;
    type Action = RegisterAction;

    fn init_states(&self) -> Vec<RegisterState> {
        vec![init()]
    }

    fn actions(&self, _s: &RegisterState, out: &mut Vec<RegisterAction>) {
        out.push(RegisterAction::StartWrite);
        out.push(RegisterAction::StartRead);
        for r in 0..REPLICAS {
            out.push(RegisterAction::DeliverWrite(r));
            out.push(RegisterAction::RecvAck(r));
            out.push(RegisterAction::RecvResp(r));
        }
        for az in 0..REPLICAS / 2 {
            out.push(RegisterAction::CrashAz(az));
        }
    }

    fn next_state(&self, s: &RegisterState, a: RegisterAction) -> Option<RegisterState> {
        step(&self.cfg, s, a)
    }

    fn properties(&self) -> Vec<SrProperty<Self>> {
        self.props()
            .into_iter()
            .map(|p| match p.kind {
                Kind::Sometimes => SrProperty::sometimes(p.name, p.condition),
                _ => SrProperty::always(p.name, p.condition),
            })
            .collect()
    }
}

impl Checkable for RegisterModel {
    fn props(&self) -> Vec<Property<Self>> {
        vec![
            Property {
                name: "r1_read_sees_last_ack",
                spec_id: "R1",
                kind: Kind::Always,
                condition: |_, s| r1_read_sees_last_ack(s).is_ok(),
                explain: |_, s| {
                    r1_read_sees_last_ack(s)
                        .err()
                        .unwrap_or_else(|| "holds".into())
                },
                doc: "a completed read returns a version >= the last one acknowledged before it started",
            },
            Property {
                name: "r1s_read_after_ack",
                spec_id: "R1.s1",
                kind: Kind::Sometimes,
                condition: |_, s| s.rphase == 2 && s.rstart > 0,
                explain: |_, s| {
                    format!(
                        "the read completed with version {} after version {} was acknowledged",
                        s.rmax, s.rstart
                    )
                },
                doc: "a read completes after a write was acknowledged",
            },
        ]
    }

    fn describe_action(&self, s: &RegisterState, a: &RegisterAction) -> String {
        let replica = |r: u8| format!("replica {r} (AZ {})", (b'A' + r / 2) as char);
        match *a {
            RegisterAction::StartWrite => format!("writer: start writing version {}", s.wver + 1),
            RegisterAction::StartRead => format!(
                "reader: start a read (last acknowledged version {})",
                s.last_acked
            ),
            RegisterAction::DeliverWrite(r) => format!("{}: store version {}", replica(r), s.wver),
            RegisterAction::RecvAck(r) => {
                format!("writer: ack of version {} from {}", s.wver, replica(r))
            }
            RegisterAction::RecvResp(r) => format!(
                "reader: version {} from {}",
                s.ver[usize::from(r)],
                replica(r)
            ),
            RegisterAction::CrashAz(az) => format!("fault: AZ {} crash-stops", (b'A' + az) as char),
        }
    }

    fn describe_change(&self, b: &RegisterState, a: &RegisterState) -> Vec<String> {
        let mut out = Vec::new();
        if b.last_acked != a.last_acked {
            out.push(format!("version {} acknowledged", a.last_acked));
        }
        if b.rphase != a.rphase && a.rphase == 2 {
            out.push(format!("read done: version {}", a.rmax));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3_breaks_the_intersection() {
        let cfg = RegisterConfig {
            write_quorum: 3,
            ..RegisterConfig::benchmark()
        };
        // Write version 1 to replicas 0-2 and collect their acks, then read replicas 3-5.
        let mut s = init();
        let mut go = |a| s = step(&cfg, &s, a).expect("enabled");
        go(RegisterAction::StartWrite);
        for r in 0..3 {
            go(RegisterAction::DeliverWrite(r));
            go(RegisterAction::RecvAck(r));
        }
        go(RegisterAction::StartRead);
        for r in 3..6 {
            go(RegisterAction::RecvResp(r));
        }
        assert!(r1_read_sees_last_ack(&s).is_err());
    }
}
