//! # Global Database, implemented
//!
//! The regions of one Global Database: region nodes ([`region`]) that keep their cluster's
//! log durably, write and acknowledge commits by the RPO gate on their secondaries' lag
//! reports, stream their log to the secondaries, and carry out the control plane's commands,
//! deciding everything with the model's own per-region functions
//! (`quorate_model::global::region`); the messages between them ([`wire`]); and a
//! deterministic simulated cluster ([`cluster`]) with the clients' workload, the control plane
//! and the network, which carries out one scheduled event at a time and shows its state in
//! the model's terms ([`cluster::Cluster::lift`]), so tests hold it to the model step by step;
//! [`sim`] runs it on a seeded schedule.
//!
//! What the implementation adds beyond the model, and what it leaves out, is in
//! `specs/global.md`, section "The reference implementation".

pub mod cluster;
pub mod host;
pub mod live;
pub mod real;
pub mod region;
pub mod sim;
pub mod wire;

pub use cluster::Cluster;
