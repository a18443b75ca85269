//! # Backtrack, implemented
//!
//! A cluster that rewinds in place: the database engine ([`engine`]) keeps its commits, its
//! change buffer and its rewind's progress in a durable log, and decides with the model's own
//! engine functions (`quorate_model::backtrack::engine`) whether it serves, where a backtrack
//! goes, what it drops and when it may resume; reader instances ([`reader`]) cache pages,
//! apply the redo stream and drop their caches at a resume; the messages between them
//! ([`wire`]); and a deterministic simulated cluster ([`cluster`]) with the client, its
//! connection and the operator, which carries out one scheduled event at a time and shows its
//! state in the model's terms ([`cluster::Cluster::lift`]); [`sim`] runs it on a seeded
//! schedule.
//!
//! What the implementation adds beyond the model, and what it leaves out, is in
//! `specs/backtrack.md`, section "The reference implementation".

pub mod cluster;
pub mod engine;
pub mod host;
pub mod live;
pub mod reader;
pub mod real;
pub mod sim;
pub mod wire;

pub use cluster::Cluster;
