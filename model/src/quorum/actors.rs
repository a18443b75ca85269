//! # The storage quorum as actors
//!
//! One protection group is four kinds of actor, each a sans-IO state machine
//! ([`crate::actor`]):
//!
//! * a **segment** per slot ([`segment`]): six members over three AZs, and a spare per allowed
//!   membership change;
//! * the **writer** ([`writer`]): the database instance, through all its incarnations;
//! * the **control plane** ([`control`]), which also holds the metadata service;
//! * the **client** ([`client`]): the application's requests to the writer, and the
//!   acknowledgements it receives.
//!
//! [`msg`] holds what they send each other; [`observer`] records the history the properties
//! read from what they do; [`node`] is the stateright `Actor` over the same handlers. The
//! checked models compose these actors: the fast composition in [`super::step`] and the actor
//! model in [`super::actor_model`]; the runtime in `quorate-impl` runs them.

pub mod control;
pub mod msg;
pub mod node;
pub mod observer;
pub mod segment;
#[cfg(test)]
mod tests;
pub mod writer;

/// The client actor: it forwards the application's requests to the writer and receives the
/// writer's acknowledgements (which the observer records). It keeps no state.
pub mod client {
    use super::msg::{Ids, Msg, Storage};
    use crate::actor::{Effects, Id};

    /// Handle a message: forward a request to the writer; acknowledgements need no answer.
    pub fn on_msg(ids: Ids, _src: Id, msg: Msg, out: &mut impl Effects<Msg, Storage>) {
        if let Msg::Request(r) = msg {
            out.send(ids.writer(), Msg::Request(r));
        }
    }
}
