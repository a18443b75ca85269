//! # The failover protocol as actors
//!
//! The failover protocol's roles are being moved into sans-IO actors ([`crate::actor`]), one
//! per role. So far:
//!
//! * a **segment** per slot ([`segment`]): judges records, repair copies, fences and range
//!   installs, answers recovery reads, and reports what it holds after every change;
//! * the **metadata service** ([`metadata`]): hands out volume epochs and keeps the
//!   truncation ranges;
//! * the **control plane** ([`control`]): watches the instances' heartbeats and the
//!   transport's news of crashes and silences, and promotes a replica when the endpoint's
//!   instance has failed;
//! * the **database instance** ([`instance`]): the writer (allocating, proving durability
//!   from the segments' reports, acknowledging to the client, undo), a read replica on the
//!   redo stream, and a promoted replica recovering the volume at a new epoch.
//!
//! [`msg`] holds what they send and receive. The fast composition in [`super::step`] hands
//! every protocol action to these handlers: a record landing, a repair copy, each timer of an
//! instance (and the requests it sends, answered at once), the control plane's watch, and each
//! restart after a crash ([`segment::on_start`]: under `volatile-truncation` a segment forgets
//! its ranges then; [`instance::on_start`]: an instance comes back as a replica). Still decided
//! inside `step`: the faults (crashes, a partition, an AZ outage), and the heartbeats (the
//! control plane sees each instance as the state has it).

pub mod control;
pub mod instance;
pub mod metadata;
pub mod msg;
pub mod segment;
#[cfg(test)]
mod tests;
