//! The check suite (to be written).
