//! # Backtrack: rewinding a cluster in place, back and forth, within a window
//!
//! Aurora MySQL's Backtrack ("Backtracking an Aurora DB cluster") rewinds the whole cluster in
//! place to an earlier time, in minutes, without a restore. It pauses the database, closes its
//! connections and drops the transactions in flight, rewinds to the nearest consistent time
//! at or before the one asked for, and resumes. It is not destructive: a later backtrack may go
//! forward again to any time in the window, on the timeline that was live then. A FIFO change
//! buffer holds the history for the backtrack window W; under memory pressure it may evict
//! early, and the earliest reachable time E moves up.
//!
//! * **Guards** (`BacktrackDBCluster`): a time in the future, before a clone's creation, or on
//!   a cluster with binary logging on (unless `Force`) is rejected; a time before E is an
//!   error, or E itself with `UseEarliestTimeOnPointInTimeUnavailable`.
//! * **What writes after a backtrack mean** (our definition; AWS does not say): `S(τ)` is what
//!   the cluster showed at wall time `τ` on the timeline live then. A write made after a
//!   backtrack is part of the timeline from then on: a later backtrack to a time before it
//!   does not show it, and one to a time after it does.
//!
//! Modules, in reading order: [`config`], [`state`], [`engine`] (what the database engine
//! decides), [`step`], [`history`] (what the ghost variables record), [`properties`] (D1-D7,
//! L1-L2), [`model`]. The spec is `specs/backtrack.md`; names carry its IDs.

pub mod config;
pub mod engine;
pub mod history;
pub mod model;
pub mod properties;
pub mod state;
pub mod step;

pub use config::{BacktrackConfig, Mutant};
pub use model::BacktrackModel;
pub use state::BacktrackState;
