//! Quorate's protocol models: pure state machines of an Aurora-style cloud database, the
//! invariants they must keep, and stateright models that explore them.
//!
//! * [`actor`]: the sans-IO actor every role of a protocol is, and the sinks its handlers
//!   write to.
//! * [`checkable`]: what the Quorate checker needs from a model beyond stateright's `Model`.
//! * [`quorum`]: the storage quorum of one protection group (6 segments over 3 AZs, write 4/6,
//!   read 3/6, consistency points, gossip repair, membership change with epochs, AZ+1 faults).
//! * [`failover`]: writer failover, volume epochs, fencing and crash recovery over the same
//!   storage quorum, with read replicas and a control plane that promotes them.
//! * [`global`]: Aurora Global Database across regions: asynchronous replication, switchover
//!   with a MARKER, failover with fencing, rebuild and rejoin, the RPO gate.
//! * [`backtrack`]: Aurora MySQL's Backtrack: rewinding a cluster in place, back and forth,
//!   within a window, with in-flight transactions dropped.
//! * [`register`]: the quorum-register benchmark (`QuorumRegister.tla`), the checker-speed
//!   yardstick.
//! * [`table`], [`params`]: what every protocol's property table and config share.

pub mod actor;
pub mod backtrack;
pub mod checkable;
pub mod failover;
pub mod global;
mod mutants;
pub mod params;
pub mod quorum;
pub mod register;
pub mod table;
