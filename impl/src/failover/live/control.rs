//! The control plane of a live failover cluster, a thread with its own socket: it hears every
//! instance's heartbeats and, when the instance the cluster endpoint routes to has been silent
//! for [`FAIL_AFTER`] (or came back from a crash as a replica), promotes the best replica it hears from
//! ([`rules::promotion_choice`]): it sends it `Promote` until its heartbeats show it
//! recovering, and points the endpoint at it. It promotes no one while an instance it hears
//! from is recovering (the model's guard), and a promoted instance that falls silent before it
//! opens is replaced the same way.
//!
//! Silence is all it knows: a writer that is only slow, or cut off by a partition, is replaced
//! as if it had died. That is safe because the new epoch fences the segments, which is what
//! the model checks with its partition fault.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use quorate_model::failover::instance as rules;
use quorate_model::failover::properties::inst_name;
use quorate_model::failover::state::{Inst, Phase, Role};

use super::node::{Ctl, HEARTBEAT_EVERY, Shared};

/// How long the endpoint's instance may be silent before the control plane replaces it (many
/// heartbeats, so a busy machine's scheduling does not look like a death).
pub const FAIL_AFTER: Duration = Duration::from_millis(250);

/// The running control plane.
#[derive(Debug)]
pub struct Control {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    /// The instance the endpoint routes to.
    pub endpoint: Arc<AtomicU8>,
}

impl Control {
    /// Stop it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

#[derive(Clone, Copy)]
struct Heard {
    at: Instant,
    beat: Option<Ctl>,
}

/// Start the control plane on `socket`, for `n` instances, the endpoint at `endpoint`.
pub fn spawn(
    shared: &Shared,
    socket: UdpSocket,
    n: usize,
    endpoint: u8,
) -> Result<Control, String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(2)))
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let ep = Arc::new(AtomicU8::new(endpoint));
    let (flag, ep2, shared) = (stop.clone(), ep.clone(), shared.clone());
    let thread = thread::Builder::new()
        .name("control plane".into())
        .spawn(move || {
            let start = Instant::now();
            // Every instance counts as just heard from: the cluster has just started.
            let mut heard = vec![
                Heard {
                    at: start,
                    beat: None
                };
                n
            ];
            let mut promoting: Option<(u8, Instant)> = None;
            let mut last_promote_sent = start;
            let mut buf = vec![0u8; crate::codec::DATAGRAM_BYTES_MAX + 1];
            while !flag.load(Ordering::Relaxed) {
                while let Ok((len, _)) = socket.recv_from(&mut buf) {
                    match crate::codec::parse::<Ctl>(&buf[..len]) {
                        Ok(b @ Ctl::Heartbeat { inst, .. })
                            if b.valid() && usize::from(inst) < n =>
                        {
                            heard[usize::from(inst)] = Heard {
                                at: Instant::now(),
                                beat: Some(b),
                            };
                        }
                        _ => {
                            shared.rejected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                let alive = |h: &Heard| h.at.elapsed() < FAIL_AFTER;
                let role_of = |h: &Heard| match h.beat {
                    Some(Ctl::Heartbeat { role: 0, .. }) => Some(Role::Writer),
                    Some(Ctl::Heartbeat { role: 2, .. }) => Some(Role::Recovering(Phase::Fencing)),
                    Some(Ctl::Heartbeat { .. }) => Some(Role::Replica),
                    _ => None,
                };
                if let Some((b, at)) = promoting {
                    let h = &heard[usize::from(b)];
                    let took =
                        h.at > at && matches!(role_of(h), Some(Role::Writer | Role::Recovering(_)));
                    if took {
                        promoting = None;
                    } else if !alive(h) && at.elapsed() >= FAIL_AFTER {
                        promoting = None; // it fell silent: choose again
                    } else if last_promote_sent.elapsed() >= HEARTBEAT_EVERY {
                        send_promote(&socket, &shared, b);
                        last_promote_sent = Instant::now();
                    }
                    continue;
                }
                let e = usize::from(ep2.load(Ordering::Relaxed));
                // The endpoint's instance has failed if it is silent, or if it came back from
                // a crash as a replica (it lost its recovery, or its writer's state).
                let serving =
                    matches!(role_of(&heard[e]), Some(Role::Writer | Role::Recovering(_)));
                // Before its first heartbeat the endpoint's instance is the writer the cluster
                // started with (found by review: a replica's first beat arriving first made the
                // control plane promote it at once).
                if alive(&heard[e]) && (serving || heard[e].beat.is_none()) {
                    continue;
                }
                // The endpoint's instance is silent: what the control plane knows of each.
                let insts: Vec<Inst> = heard
                    .iter()
                    .map(|h| match (alive(h), h.beat) {
                        (
                            true,
                            Some(Ctl::Heartbeat {
                                tier, known_vdl, ..
                            }),
                        ) => Inst {
                            role: role_of(h).unwrap_or(Role::Down),
                            known_vdl,
                            ..Inst::replica(tier)
                        },
                        _ => Inst {
                            role: Role::Down,
                            ..Inst::replica(0)
                        },
                    })
                    .collect();
                if insts.iter().any(|x| matches!(x.role, Role::Recovering(_))) {
                    continue;
                }
                // Only a live replica: a crashed instance is restarted by its host first.
                let Some(b) =
                    rules::promotion_choice(&insts).filter(|&b| insts[b].role == Role::Replica)
                else {
                    continue;
                };
                shared.history.with(|s| s.promotions += 1);
                shared.history.event(format!(
                    "control plane: {} silent for {} ms; promotes {}",
                    inst_name(e),
                    heard[e].at.elapsed().as_millis(),
                    inst_name(b)
                ));
                ep2.store(b as u8, Ordering::Relaxed);
                promoting = Some((b as u8, Instant::now()));
                send_promote(&socket, &shared, b as u8);
                last_promote_sent = Instant::now();
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(Control {
        thread,
        stop,
        endpoint: ep,
    })
}

fn send_promote(socket: &UdpSocket, shared: &Shared, b: u8) {
    let msg = crate::codec::encode(&Ctl::Promote { inst: b });
    let _ = socket.send_to(&msg, shared.peers.insts[usize::from(b)]);
}
