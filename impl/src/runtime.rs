//! # One runtime for every protocol's actors
//!
//! A protocol is a set of actors ([`quorate_model::actor::Role`]): the same sans-IO state
//! machines the model checker composes. This runtime runs them. Each actor lives in a
//! [`host::Host`] with its disk, where a handler's effects are carried out in the order that
//! keeps an acknowledgement honest (saves synced before the handler's messages leave), and
//! where every input and output is logged at the I/O boundary ([`event::Event`]).
//!
//! * [`sim`]: the deterministic configuration: simulated disks that lose unsynced bytes at a
//!   crash, one seeded network that reorders, loses and duplicates datagrams (each through the
//!   wire codec), and a seeded schedule;
//! * [`live`]: the live configuration: one thread per node, UDP datagrams on loopback, log
//!   files synced with `fsync`, timers on the wall clock;
//! * [`cluster`]: what a protocol's fault table sees and does, the same in both;
//! * [`validate`]: trace validation, every run's logs replayed on the model's actor semantics;
//! * [`logs`]: a run's logs as files, one per node, which is what validation reads.
//!
//! A protocol supplies its actors, its codec (serde), its faults and its workload; nothing of
//! its protocol logic lives here.

pub mod cluster;
pub mod event;
pub mod host;
pub mod live;
pub mod logs;
pub mod sim;
pub mod validate;
pub mod volume;
