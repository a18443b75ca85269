//! The Quorate reference implementation: runtimes that execute the very same pure protocol
//! state machines the checker explores (`quorate_model`), with durable storage and a transport.
//!
//! Not built yet: this crate is a placeholder until the reference-implementation issue. It exists
//! now so the workspace has its final shape and the model crate is kept free of I/O.
