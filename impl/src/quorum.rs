//! # The storage quorum, implemented
//!
//! The model's own actors ([`quorate_model::quorum::actors`]) on the one runtime
//! ([`crate::runtime`]): [`actors`] gives the runtime the quorum's fault table and workload,
//! replays a run's logs on the actor model, drives the nodes through a trace of the actor model
//! ([`actors::drive`]) or through the fast composition's steps ([`actors::fast`]), and gives the
//! live configuration its timer periods.
//!
//! The real runtime ([`real`]: a volume of many protection groups on loopback) still runs its
//! own segment nodes ([`segment`]), writer ([`writer`]) and wire ([`wire`]) on the model's
//! rules; it is to become a configuration of the one runtime.
//!
//! What the implementation adds beyond the model, and what it leaves out, is in
//! `specs/quorum.md`, section "The reference implementation".

pub mod actors;
pub mod real;
pub mod segment;
pub mod wire;
pub mod writer;
