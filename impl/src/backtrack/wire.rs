//! Backtrack's messages as they travel between the engine, its clients, the operator and the
//! reader instances (JSON datagrams through [`crate::codec`]), with a decoder that rejects
//! out-of-range fields with a reason.
//!
//! The model's steps act on one state; these are the concrete requests and replies that do
//! the same: a client's transaction, its commit's acknowledgement, the operator's
//! `BacktrackDBCluster` and its answer, the engine's own rewind steps, the redo stream to
//! the readers and the cache drop at the resume.

use serde::{Deserialize, Serialize};

use quorate_model::backtrack::config::{MAX_KEYS, MAX_TIME, MAX_TXNS};
use quorate_model::backtrack::state::Values;

/// Why the engine refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// It is not serving clients (a backtrack is under way).
    Paused,
    /// The request does not apply now (no transaction open, nothing left to rewind, ...).
    Nothing,
}

/// Every message of Backtrack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Client to engine: begin transaction `id`.
    Begin {
        /// Its id.
        id: u8,
    },
    /// Client to engine: the open transaction writes `key`.
    Write {
        /// The key.
        key: u8,
    },
    /// Client to engine: commit the open transaction.
    Commit,
    /// Client to engine: roll the open transaction back.
    Abort,
    /// Engine to client (and, as redo, to the readers): transaction `id` committed its writes
    /// to the keys `wrote` (bits).
    Committed {
        /// The transaction.
        id: u8,
        /// The keys it wrote (bits).
        wrote: u8,
    },
    /// The wall clock to the engine: the tick is ending.
    Tick,
    /// Background to engine: evict history older than the window.
    Evict,
    /// Memory pressure to engine: evict the oldest history now.
    Pressure,
    /// Operator to engine: `BacktrackDBCluster` to time `to`.
    Backtrack {
        /// The time asked for.
        to: u8,
        /// `UseEarliestTimeOnPointInTimeUnavailable`.
        use_earliest: bool,
        /// `Force`.
        force: bool,
    },
    /// Engine to operator: the request is rejected; nothing changed.
    Rejected,
    /// Engine to operator: the backtrack started.
    Accepted {
        /// The time asked for, after `use_earliest`.
        asked: u8,
        /// The consistent time it goes to.
        to: u8,
        /// `use_earliest` went past E to the earliest consistent time.
        fallback: bool,
        /// The values it rewinds to.
        target: Values,
        /// It paused the engine (clients wait).
        paused: bool,
        /// It closed the connections of commits whose acknowledgement was on its way.
        closed: bool,
    },
    /// The engine's rewind: rewind `key`.
    ApplyKey {
        /// The key.
        key: u8,
    },
    /// The engine's rewind: restart after a crash.
    Restart,
    /// The engine's rewind: resume serving.
    Resume,
    /// Engine to readers: drop your caches (`drop`), or keep them.
    Resumed {
        /// Readers drop their caches.
        drop: bool,
    },
    /// Reader to engine: the pages, to fill my cache.
    Read,
    /// Engine to reader: the pages.
    Pages {
        /// The committed values.
        values: Values,
    },
    /// A request carried out, with nothing to report.
    Done,
    /// A request refused.
    Refused {
        /// Why.
        why: Refusal,
    },
}

/// Encode a message as one datagram.
pub fn encode(msg: &Msg) -> Vec<u8> {
    crate::codec::encode(msg)
}

/// Decode one datagram, rejecting garbage and out-of-range fields with a reason.
pub fn decode(bytes: &[u8]) -> Result<Msg, String> {
    let msg: Msg = crate::codec::parse(bytes)?;
    check(&msg)?;
    Ok(msg)
}

fn check_txn(id: u8) -> Result<(), String> {
    match usize::from(id) {
        1..=MAX_TXNS => Ok(()),
        _ => Err(format!("transaction {id} is out of range 1..={MAX_TXNS}")),
    }
}

/// The values of every key are transaction ids (0: the initial value).
pub fn check_values(v: &Values) -> Result<(), String> {
    match v.iter().find(|&&x| usize::from(x) > MAX_TXNS) {
        Some(x) => Err(format!("value {x} is not a transaction id")),
        None => Ok(()),
    }
}

fn check_keys(bits: u8) -> Result<(), String> {
    if bits >> MAX_KEYS != 0 {
        return Err(format!("keys {bits:#b} beyond the {MAX_KEYS} keys"));
    }
    Ok(())
}

fn check(msg: &Msg) -> Result<(), String> {
    match msg {
        Msg::Begin { id } => check_txn(*id),
        Msg::Write { key } | Msg::ApplyKey { key } => check_keys(1 << (*key).min(7)),
        Msg::Committed { id, wrote } => {
            check_txn(*id)?;
            check_keys(*wrote)
        }
        Msg::Backtrack { to, .. } if usize::from(*to) > MAX_TIME => {
            Err(format!("time {to} beyond {MAX_TIME}"))
        }
        Msg::Accepted {
            asked, to, target, ..
        } => {
            if usize::from(*asked.max(to)) > MAX_TIME {
                return Err(format!("time beyond {MAX_TIME}"));
            }
            check_values(target)
        }
        Msg::Pages { values } => check_values(values),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_bad_fields_are_refused() {
        let good = [
            Msg::Begin { id: 1 },
            Msg::Committed { id: 2, wrote: 0b11 },
            Msg::Backtrack {
                to: 3,
                use_earliest: true,
                force: false,
            },
            Msg::Pages { values: [1, 0] },
        ];
        for m in good {
            assert_eq!(decode(&encode(&m)), Ok(m));
        }
        let bad = [
            Msg::Begin { id: 0 },
            Msg::Write { key: 2 },
            Msg::Committed {
                id: 1,
                wrote: 0b100,
            },
            Msg::Backtrack {
                to: 8,
                use_earliest: false,
                force: false,
            },
            Msg::Pages { values: [9, 0] },
        ];
        for m in bad {
            assert!(decode(&encode(&m)).is_err(), "{m:?} must be refused");
        }
        assert!(decode(b"[1,2").is_err());
    }
}
