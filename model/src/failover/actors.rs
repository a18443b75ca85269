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
//! * the **database instance** ([`instance`]), as far as the redo stream goes: the writer
//!   streams its VDL to the replicas, and a replica applies whole mini-transactions up to the
//!   VDL it received.
//!
//! [`msg`] holds what they send and receive. The fast composition in [`super::step`] hands
//! every segment input (a record landing, a repair copy, a fence, a range install, a recovery
//! read), every epoch and range request, the control plane's watch, the stream and a replica's
//! apply to these handlers. The rest of an instance (writing, acknowledging, recovering, undo)
//! is still decided inside `step`, on the whole state, and so are a segment's
//! crash and restart: `step` forgets a crashed segment's ranges under `volatile-truncation` at
//! the crash, [`segment::on_start`] at the restart (a down segment answers nothing, so only a
//! reader of the whole state can tell the two apart).

pub mod control;
pub mod instance;
pub mod metadata;
pub mod msg;
pub mod segment;
#[cfg(test)]
mod tests;
