//! `quorate`: the model checker CLI for Quorate's protocols and the check suite CI runs.
//!
//! * [`engine`]: our own exhaustive search (shortest counterexamples with symmetry and threads).
//! * [`registry`]: the protocols the CLI knows, behind one object-safe trait.
//! * [`report`]: the protocol-independent result of a check (text and JSON).
//! * [`cli`]: the command line (`list`, `check`, `suite`).
//! * [`suite`]: `checks/suite.toml`, the expected outcome of every protocol, config and mutant.
//! * [`trace`]: trace files: recording, replay, and the text, Mermaid and ITF views.

pub mod cli;
pub mod engine;
pub mod protocols;
pub mod registry;
pub mod report;
pub mod suite;
pub mod trace;
