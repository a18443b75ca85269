//! # The failover protocol as actors
//!
//! The failover protocol's roles are being moved into sans-IO actors ([`crate::actor`]), one
//! per role. Two are actors so far:
//!
//! * a **segment** per slot ([`segment`]): judges records, repair copies, fences and range
//!   installs, answers recovery reads, and reports what it holds after every change;
//! * the **metadata service** ([`metadata`]): hands out volume epochs and keeps the
//!   truncation ranges.
//!
//! [`msg`] holds what they send and receive. The fast composition in [`super::step`] hands
//! every segment input (a record landing, a repair copy, a fence, a range install, a recovery
//! read) and every epoch and range request to these handlers. The database instances and the
//! control plane are still decided inside `step`, on the whole state, and so are a segment's
//! crash and restart: `step` forgets a crashed segment's ranges under `volatile-truncation` at
//! the crash, [`segment::on_start`] at the restart (a down segment answers nothing, so only a
//! reader of the whole state can tell the two apart).

pub mod metadata;
pub mod msg;
pub mod segment;
#[cfg(test)]
mod tests;
