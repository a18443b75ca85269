//! Storage quorum (work in progress).
