//! # Writer failover and crash recovery, implemented
//!
//! The nodes of one cluster volume: segment nodes ([`segment`]) that keep a durable,
//! checksummed log of what they accepted (records, fences, installed truncation ranges) and
//! judge every request with the model's own segment functions; database instances
//! ([`instance`]: the writer, replicas, an instance recovering after promotion) that decide
//! with the model's own instance functions on what segments report to them; the messages
//! between them ([`wire`]); and a deterministic simulated cluster ([`cluster`]) with the
//! control plane, the metadata service and the redo stream, which carries out one scheduled
//! event at a time and shows its state in the model's terms ([`cluster::Cluster::lift`]), so
//! tests hold it to the model step by step; [`sim`] runs it on a seeded schedule.
//!
//! What the implementation adds beyond the model, and what it leaves out, is in
//! `specs/failover.md`, section "The reference implementation".

pub mod cluster;
pub mod host;
pub mod instance;
pub mod live;
pub mod real;
pub mod segment;
pub mod sim;
pub mod wire;

pub use cluster::Cluster;
