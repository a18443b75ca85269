//! # Writer failover, volume epochs and crash recovery
//!
//! One Aurora cluster volume (one protection group of six segments over three AZs, as in
//! [`crate::quorum`]) with a writer instance W1 and read replicas R1 (and R2), each with a
//! promotion tier. The writer streams redo to the segments and VDL updates to the replicas;
//! replicas apply only whole mini-transactions (MTRs) at or below the VDL they know
//! [V17 §4.2.4]. When the control plane decides the writer has failed (it crashed, or it is cut
//! off while still alive and still writing), it promotes the best replica: lowest tier, then
//! most caught up (UG "High availability for Amazon Aurora").
//!
//! The promoted instance recovers the volume, in this order (**MC**, see `specs/failover.md`):
//! 1. **GetEpoch**: the metadata service hands it a new volume epoch `e`;
//! 2. **Fence**: install `e` at a write quorum; a fenced segment rejects every request of an
//!    older epoch, so the old writer can no longer make anything durable ("changes the locks on
//!    the door" [V18]);
//! 3. **ReadScl**: read the SCLs of a read quorum and compute the recovered VDL, the highest
//!    consistency point at or below the highest SCL (an acknowledged commit reached a write
//!    quorum, which meets every read quorum);
//! 4. **WriteTrunc**: write the epoch-`e` truncation range `(VDL+1 ..= VDL+LAL)` at a write
//!    quorum; it annuls every record an older incarnation wrote there, and the range is durable
//!    and epoch-versioned so a restarted recovery is not confused [V17 §4.3];
//! 5. **Repair** every record at or below the recovered VDL to a write quorum (gossip);
//! 6. **Open** for writes, allocating above the range; transactions that were active at the
//!    crash are rolled back online.
//!
//! The 2018 paper describes the epoch step after open [V18 §2.4]; this model fences first, and
//! the literal order is the mutant `fence-after-recovery-read` (Mb2).
//!
//! Modules, in the order to read them: [`config`] (parameters, presets, mutants), [`state`],
//! [`storage`] (what a segment does with each request, pure), [`instance`] (what a
//! writer, a recovering instance, a replica and the control plane decide, pure), [`actors`]
//! (the roles as actors, over those rules, as far as they are actors yet), [`observer`] (the
//! history the properties read, recorded from what nodes did), [`step`] (actions and the pure
//! `step`), [`properties`] (B1-B10, F1), [`symmetry`], [`model`]. The spec is
//! `specs/failover.md`; property and mutant names carry its IDs.

pub mod actors;
pub mod config;
pub mod instance;
pub mod model;
pub mod observer;
pub mod properties;
pub mod state;
pub mod step;
pub mod storage;
pub mod symmetry;

pub use config::{FailoverConfig, Mutant};
pub use model::FailoverModel;
pub use state::FailoverState;
