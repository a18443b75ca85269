//! The deterministic runtime: every actor a [`Host`] on a simulated disk that keeps unsynced
//! bytes apart, every message a datagram through the wire codec in one seeded network that
//! may deliver in any order, lose or duplicate, and a seeded schedule of which thing happens
//! next. The same seed gives the same run.

use quorate_model::actor::Role;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cluster::{Cluster, Reads};
use super::host::{EventOf, Host, Outgoing};
use crate::codec;
use crate::durable::{MemDisk, RecoverError, Volatile};
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

/// A disk the simulator can create and crash: it keeps what was synced and may keep a prefix
/// of what was not.
pub trait SimDisk: Volatile + Default {}

impl<D: Volatile + Default> SimDisk for D {}

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
    /// Garbage datagrams the network carried ([`Sim::garbage`]).
    pub garbage: u64,
    /// What the environment read in its current draw.
    reads: Reads,
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
            garbage: 0,
            reads: Reads::default(),
        }
    }

    /// Put what a host released on the network, each message sealed through the codec.
    pub fn post(&mut self, out: Vec<Outgoing<R::Msg>>) {
        for o in out {
            self.network.push(Datagram {
                src: o.src,
                dst: o.dst,
                seq: o.seq,
                bytes: codec::encode_sealed(&o.msg),
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
        let Ok(msg) = codec::parse_sealed::<R::Msg>(&d.bytes) else {
            self.rejected += 1;
            return Ok(());
        };
        let out = self.hosts[d.dst].deliver(d.src, d.seq, msg)?;
        self.post(out);
        Ok(())
    }

    /// The network carries garbage to node `dst`: random bytes, a datagram in flight cut short,
    /// or one with a digit changed (still decodable, so only its seal refuses it). The node
    /// must refuse it before it handles anything, so it leaves no trace in the logs.
    pub fn garbage(&mut self, dst: usize) {
        let sample = (!self.network.is_empty()).then(|| {
            let k = self.rng.below(self.network.len() as u64) as usize;
            self.network[k].bytes.clone()
        });
        let bytes = match (self.rng.below(3), sample) {
            (1, Some(mut b)) if !b.is_empty() => {
                b.truncate(self.rng.below(b.len() as u64) as usize);
                b
            }
            (2, Some(mut b)) => {
                // The sample may be garbage itself, shorter than a seal.
                let at = codec::SEAL.min(b.len());
                codec::damage_a_digit(&mut b[at..]);
                b
            }
            _ => (0..self.rng.below(64))
                .map(|_| self.rng.below(256) as u8)
                .collect(),
        };
        self.network.push(Datagram {
            src: dst,
            dst,
            seq: u64::MAX,
            bytes,
        });
        self.garbage += 1;
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
        self.hosts[i].crash(|d| Volatile::crash(d, keep));
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
            h.end(|d| Volatile::crash(d, 0));
        }
    }

    /// Every actor's log.
    pub fn logs(&self) -> Vec<Vec<EventOf<R>>> {
        self.hosts.iter().map(|h| h.log.clone()).collect()
    }
}

impl<R, D> Sim<R, D>
where
    R: Role,
    D: SimDisk,
    R::Storage: Serialize + DeserializeOwned,
{
    /// Node `i`'s host, read by the environment (noted in [`Sim::reads`]).
    fn read(&self, i: usize) -> &Host<R, D> {
        self.reads.note(i);
        &self.hosts[i]
    }

    /// Log on node `i` what the environment read before it acts there.
    fn log_reads(&mut self, i: usize) {
        for (n, e) in self.reads.list(|n| self.hosts[n].log.len()) {
            self.hosts[i].saw(n, e);
        }
    }
}

impl<R, D> Cluster<R> for Sim<R, D>
where
    R: Role,
    D: SimDisk,
    R::Msg: Serialize + DeserializeOwned,
    R::Storage: Serialize + DeserializeOwned,
{
    fn len(&self) -> usize {
        self.hosts.len()
    }
    fn begin_draw(&mut self) {
        self.reads.forget();
    }
    fn state(&self, i: usize) -> Option<R::State> {
        self.read(i).state().cloned()
    }
    fn runs(&self, i: usize) -> bool {
        self.read(i).runs()
    }
    fn saved(&self, i: usize) -> Option<R::Storage> {
        self.read(i).saved().cloned()
    }
    fn lost(&self, i: usize) -> bool {
        self.read(i).lost()
    }
    fn events(&self, i: usize) -> usize {
        self.read(i).log.len()
    }
    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
    fn start(&mut self, i: usize) -> Result<(), String> {
        self.log_reads(i);
        Sim::start(self, i).map_err(|e| e.to_string())
    }
    fn crash(&mut self, i: usize) {
        self.log_reads(i);
        Sim::crash(self, i);
    }
    fn lose_disk(&mut self, i: usize, reports: Vec<(usize, R::Msg)>) {
        self.log_reads(i);
        Sim::lose_disk(self, i, reports);
    }
    fn input(&mut self, i: usize, msg: R::Msg) -> std::io::Result<Option<R::State>> {
        self.log_reads(i);
        Sim::input(self, i, msg)?;
        Ok(self.hosts[i].state().cloned())
    }
}
