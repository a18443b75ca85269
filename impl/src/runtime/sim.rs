//! The deterministic runtime: every actor a [`Host`] on a simulated disk that keeps unsynced
//! bytes apart, every message a datagram through the wire codec in one seeded network that
//! may deliver in any order, lose or duplicate, and a seeded schedule of which thing happens
//! next. The same seed gives the same run.

use quorate_model::actor::Role;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::host::{EventOf, Host, Outgoing};
use crate::codec;
use crate::durable::{Disk, MemDisk, RecoverError};
use crate::rng::Rng;

/// A datagram in flight: who sent it, to whom, the sender's number for it, its bytes.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// Sender.
    pub src: usize,
    /// Receiver.
    pub dst: usize,
    /// The sender's number for it.
    pub seq: u64,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// A disk the simulator can crash: it keeps what was synced and may keep a prefix of what was
/// not.
pub trait SimDisk: Disk + Default {
    /// A crash: unsynced bytes are lost but their first `keep` (a torn write).
    fn crash(&mut self, keep: usize);
}

impl SimDisk for MemDisk {
    fn crash(&mut self, keep: usize) {
        MemDisk::crash(self, keep);
    }
}

/// Actors on simulated disks and one simulated network.
pub struct Sim<R: Role, D: SimDisk = MemDisk> {
    /// Every actor, by id.
    pub hosts: Vec<Host<R, D>>,
    /// Datagrams in flight, in the order sent.
    pub network: Vec<Datagram>,
    /// The schedule's randomness.
    pub rng: Rng,
    /// Datagrams the codec rejected.
    pub rejected: u64,
}

impl<R, D> Sim<R, D>
where
    R: Role,
    D: SimDisk,
    R::Msg: Serialize + DeserializeOwned,
    R::Storage: Serialize + DeserializeOwned,
{
    /// `roles` (actor `i` plays `roles[i]`) on empty disks, none started, scheduled by `seed`.
    pub fn new(roles: Vec<R>, seed: u64) -> Self {
        let hosts = roles
            .into_iter()
            .enumerate()
            .map(|(i, r)| Host::new(i, r, D::default()))
            .collect();
        Sim {
            hosts,
            network: Vec::new(),
            rng: Rng::new(seed),
            rejected: 0,
        }
    }

    fn post(&mut self, out: Vec<Outgoing<R::Msg>>) {
        for o in out {
            self.network.push(Datagram {
                src: o.src,
                dst: o.dst,
                seq: o.seq,
                bytes: codec::encode(&o.msg),
            });
        }
    }

    /// Start actor `i` from its disk.
    pub fn start(&mut self, i: usize) -> Result<(), RecoverError> {
        let out = self.hosts[i].start()?;
        self.post(out);
        Ok(())
    }

    /// Deliver datagram `k` of the network (taking it out unless `duplicate`): decoded, then
    /// handled by its receiver if that runs (a datagram to a node that is down is lost).
    pub fn deliver(&mut self, k: usize, duplicate: bool) -> std::io::Result<()> {
        let d = if duplicate {
            self.network[k].clone()
        } else {
            self.network.remove(k)
        };
        let Ok(msg) = codec::parse::<R::Msg>(&d.bytes) else {
            self.rejected += 1;
            return Ok(());
        };
        let out = self.hosts[d.dst].deliver(d.src, d.seq, msg)?;
        self.post(out);
        Ok(())
    }

    /// Lose datagram `k`.
    pub fn lose(&mut self, k: usize) {
        self.network.remove(k);
    }

    /// Fire `timer` on actor `i`.
    pub fn fire(&mut self, i: usize, timer: &R::Timer) -> std::io::Result<()> {
        let out = self.hosts[i].fire(timer)?;
        self.post(out);
        Ok(())
    }

    /// Hand actor `i` an input from the environment.
    pub fn input(&mut self, i: usize, msg: R::Msg) -> std::io::Result<()> {
        let out = self.hosts[i].input(msg)?;
        self.post(out);
        Ok(())
    }

    /// Actor `i` crashes: its disk keeps what was synced, and a random prefix of what was not
    /// (a torn write).
    pub fn crash(&mut self, i: usize) {
        let keep = self.rng.below(64) as usize;
        self.hosts[i].crash(|d| SimDisk::crash(d, keep));
    }

    /// Actor `i`'s disk is gone; `reports` are sent on its behalf (the storage service
    /// telling who needs to know).
    pub fn lose_disk(&mut self, i: usize, reports: Vec<(usize, R::Msg)>) {
        self.hosts[i].lose(|d| {
            let _ = d.erase();
        });
        for (dst, msg) in reports {
            let o = self.hosts[i].send_for(dst, msg);
            self.post(vec![o]);
        }
    }

    /// End the round: every node stops, its disk drops all it never synced, and what the disk
    /// gives back is logged, so validation compares every disk with the model's last save
    /// whether or not the node restarted during the round.
    pub fn finish(&mut self) {
        for h in &mut self.hosts {
            h.end(|d| SimDisk::crash(d, 0));
        }
    }

    /// Every actor's log.
    pub fn logs(&self) -> Vec<Vec<EventOf<R>>> {
        self.hosts.iter().map(|h| h.log.clone()).collect()
    }
}
