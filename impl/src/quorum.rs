//! # The storage quorum, implemented
//!
//! The model's own actors ([`quorate_model::quorum::actors`]) on the one runtime
//! ([`crate::runtime`]): [`actors`] gives the runtime the quorum's fault table and workload,
//! replays a run's logs on the actor model, drives the nodes through a trace of the actor model
//! ([`actors::drive`]) or through the fast composition's steps ([`actors::fast`]), and gives the
//! live configuration its timer periods. Nothing else: every node is one of the model's
//! actors, and `quorate run quorum` runs them live.
//!
//! What the implementation adds beyond the model, and what it leaves out, is in
//! `specs/quorum.md`, section "The reference implementation".

pub mod actors;
