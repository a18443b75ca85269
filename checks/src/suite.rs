//! The check suite (`checks/suite.toml`): the expected outcome of every protocol, config and
//! mutant CI runs, so a change that breaks a property, lets a planted bug slip through or moves
//! the state-space size is caught.
//!
//! * [`file`](mod@file): the TOML format, parsed strictly into [`Entry`]s.
//! * [`judge`](mod@judge): the pure judging rules (entry matching, pins, kills, mutant coverage).
//! * [`run`]: resolving and running entries through the protocol registry.
//! * [`junit`]: the result as JUnit XML for CI.
//! * [`scenarios`]: hand-written traces beside the suite file, replayed against their models.

pub mod file;
pub mod judge;
pub mod junit;
pub mod run;
pub mod scenarios;

pub use file::{Entry, Expect};
pub use judge::{EntryVerdict, Judgement, ProtocolInfo, RunResult, judge, validate};
