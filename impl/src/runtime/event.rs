//! What a node logs at its I/O boundary, in the order it happened: the record the trace
//! validator replays on the model.

use serde::{Deserialize, Serialize};

/// One event of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event<M, T, S> {
    /// The node started (or restarted) from `storage`, as decoded from its disk.
    Start {
        /// What the disk held (`None` at birth).
        storage: Option<S>,
    },
    /// It handled message `msg` that node `src` sent as its send number `seq`.
    Recv {
        /// Sender.
        src: usize,
        /// The sender's number for the send.
        seq: u64,
        /// The message.
        msg: M,
    },
    /// It handled an input from the environment (an operator's command, a client request).
    Input {
        /// The input.
        msg: M,
    },
    /// One of its timers fired.
    Timer {
        /// Which.
        timer: T,
    },
    /// A save reached the disk (synced).
    Saved {
        /// What was saved.
        storage: S,
    },
    /// It released a message to the network, numbered `seq` among its sends.
    Sent {
        /// Receiver.
        dst: usize,
        /// Its number.
        seq: u64,
        /// The message.
        msg: M,
    },
    /// The environment (a fault table, a workload) acts on this node next, having read node
    /// `node`'s state as of its first `events` events: its choice may depend on them, so they
    /// come first in any order the run is replayed in. Logged just before the act.
    Saw {
        /// The node whose state was read.
        node: usize,
        /// How many of its events had happened.
        events: usize,
    },
    /// The node crashed (logged by whoever crashed it).
    Crash,
    /// Its disk is gone for good (logged by whoever destroyed it).
    Lost,
    /// The round is over: what its disk gives back once everything not synced is dropped (the
    /// last event of a log).
    End {
        /// What the disk held (`None` if nothing, or if it is gone).
        storage: Option<S>,
    },
}

impl<M, T, S> Event<M, T, S> {
    /// Whether this event is an input the node handled (the start of a group of outputs).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Event::Start { .. } | Event::Recv { .. } | Event::Input { .. } | Event::Timer { .. }
        )
    }
}
