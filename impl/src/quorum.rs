//! # The storage quorum, implemented
//!
//! The nodes of one protection group: segment nodes ([`segment`]) that keep a durable,
//! checksummed log and apply every request with the model's own segment functions, a writer
//! ([`writer`]) that computes its consistency points with the model's own writer functions,
//! the messages between them ([`wire`]), and a deterministic simulated cluster ([`cluster`])
//! that carries out one scheduled event at a time and can show its state in the model's terms
//! ([`cluster::Cluster::lift`]), so tests hold it to the model step by step.
//!
//! What the implementation adds beyond the model, and what it leaves out, is in
//! `specs/quorum.md`, section "The reference implementation".

pub mod actors;
pub mod cluster;
pub mod real;
pub mod segment;
pub mod sim;
pub mod wire;
pub mod writer;

pub use cluster::Cluster;
