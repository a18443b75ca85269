//! Glue from each protocol model in `quorate-model` to the [`crate::registry::Protocol`] trait.

pub mod quorum;
pub mod register;
