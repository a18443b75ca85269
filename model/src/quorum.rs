//! # The storage quorum of one protection group
//!
//! Aurora keeps six copies ("segments") of each 10 GB protection group (PG), two in each of
//! three availability zones (AZs) [V17 §2.1]. The writer sends every redo log record, tagged with
//! a log sequence number (LSN), to all six; a record is durable once four have it, and three
//! suffice to read. Four of six survives an AZ outage for writes; three of six survives "AZ+1"
//! (an AZ plus one more segment) for reads, so no data is lost [V17 §2.1; V18 §2.1].
//!
//! Nobody votes. Each segment reports its **SCL**, the top of its gap-free chain of records, on
//! every ack; the writer computes **PGCL** (the highest LSN whose SCL reached a write quorum),
//! **VCL** (with one PG, equal to PGCL) and **VDL**, the highest consistency point (**CPL**, the
//! last record of a mini-transaction) at or below VCL. A commit is acknowledged once VDL covers
//! its LSN, and no LSN is allocated above VDL + LAL [V17 §4.1-4.2]. Segments fill gaps by
//! gossip. A read at a read point goes to one segment whose SCL covers it [V17 §4.2.3].
//!
//! Membership changes replace a failed segment F by G in two epoch-numbered steps: first both
//! the old and new quorum sets are in force (write 4/6 of each, read 3/6 of either), then only
//! the new set once G has hydrated, or only the old one if F returns [V18 §4]. Every request
//! carries the membership epoch; segments reject stale ones. After a writer crash, recovery
//! reads a read quorum, computes the recovered VDL and annuls everything above it with a
//! truncation range at a new volume epoch.
//!
//! Modules, in the order to read them:
//! * [`config`]: parameters, presets and mutants;
//! * [`state`]: the state the checker explores;
//! * [`actors`]: the segment, writer, control plane and client as actors, and the observer;
//! * [`segment`]: what a segment does with each request (pure);
//! * [`writer`]: what the writer computes (pure);
//! * [`step`]: the actions and the pure `step` function: the fast composition of the actors;
//! * [`properties`]: the invariants A1-A9 and bounded liveness L1-L4;
//! * [`symmetry`]: the representative for symmetry reduction;
//! * [`model`]: the stateright model and how traces are told;
//! * [`actor_model`]: the same actors composed by stateright's `ActorModel`, with an explicit
//!   network (the semantics a run of the implementation is validated against).
//!
//! The spec is `specs/quorum.md`; property and mutant names carry its IDs.

pub mod actor_model;
pub mod actors;
pub mod config;
pub mod model;
pub mod properties;
pub mod segment;
pub mod state;
pub mod step;
pub mod symmetry;
pub mod writer;

pub use config::{Messages, Mutant, QuorumConfig};
pub use model::QuorumModel;
pub use state::QuorumState;
pub use step::Action;
