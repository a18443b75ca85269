//! # Global Database: cross-region replication, switchover, failover, RPO gate
//!
//! An Aurora Global Database has one primary region, which commits transactions, and one or
//! two secondary regions, which apply the primary's log asynchronously (UG "Using switchover
//! or failover in Amazon Aurora Global Database"). Each region's cluster is one durable log
//! here: the quorum and failover models cover what happens inside a region.
//!
//! * **RPO gate** (`rds.global_db_rpo`, off by default): the primary acknowledges a commit
//!   only while some secondary lags by less than the RPO; otherwise commits block until lag
//!   heals.
//! * **Planned switchover** (RPO 0): the primary goes read-only and drains, appends a MARKER
//!   to its log (our modelling choice: AWS does not publish the mechanism), and once the
//!   target holds the MARKER the target is promoted at global epoch + 1, with LSNs above it;
//!   the old primary becomes a secondary from the MARKER. It can be cancelled before
//!   promotion.
//! * **Unplanned failover** (allow data loss): pick the most caught-up reachable secondary,
//!   try to fence the old primary (reliable, or best-effort: split brain is possible), promote
//!   the target from its last commit boundary at epoch + 1, rebuild secondaries that are ahead
//!   of it. When the old primary's region returns it snapshots its unreplicated tail, takes a
//!   new volume and rejoins as a secondary.
//!
//! Modules, in reading order: [`config`], [`state`], [`region`] (what one region or the
//! control plane decides), [`step`], [`history`] (what the ghost variables record),
//! [`properties`] (C1-C7, G1-G3), [`model`]. The spec is `specs/global.md`; names carry its IDs.

pub mod config;
pub mod history;
pub mod model;
pub mod properties;
pub mod region;
pub mod state;
pub mod step;

pub use config::{GlobalConfig, Mutant};
pub use model::GlobalModel;
pub use state::GlobalState;
