//! Runtime bugs planted in a disk, for the trace-validation tests: what its reader gives back,
//! and whether its sync syncs. The same plants wrap a memory disk (deterministic rounds) and a
//! log file (live rounds).

#![allow(dead_code)]

use std::marker::PhantomData;

use quorate_impl::durable::{Disk, MemDisk, Volatile, frame, unframe};

/// A bug in a disk.
pub trait Plant {
    /// Whether `sync` makes the bytes durable.
    const SYNCS: bool = true;
    /// What a read gives back of the bytes the disk holds.
    fn read(bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }
}

/// Disk `D` with bug `P` planted.
pub struct Planted<P: Plant, D = MemDisk>(pub D, PhantomData<P>);

impl<P: Plant, D> Planted<P, D> {
    /// `disk` with the bug.
    pub fn new(disk: D) -> Self {
        Planted(disk, PhantomData)
    }
}

impl<P: Plant, D: Default> Default for Planted<P, D> {
    fn default() -> Self {
        Planted::new(D::default())
    }
}

impl<P: Plant, D: Disk> Disk for Planted<P, D> {
    fn read_all(&self) -> std::io::Result<Vec<u8>> {
        self.0.read_all().map(P::read)
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.append(bytes)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        if P::SYNCS { self.0.sync() } else { Ok(()) }
    }
    fn erase(&mut self) -> std::io::Result<()> {
        self.0.erase()
    }
    fn truncate(&mut self, len: usize) -> std::io::Result<()> {
        self.0.truncate(len)
    }
}

impl<P: Plant, D: Volatile> Volatile for Planted<P, D> {
    fn crash(&mut self, keep: usize) {
        // Nothing was ever synced on a disk that does not sync: a crash keeps none of it.
        self.0.crash(if P::SYNCS { keep } else { 0 });
    }
}

/// A sync that does nothing: what a node acknowledges after a save may be lost at a crash (a
/// node that acks before its data is durable).
pub struct NoSync;

impl Plant for NoSync {
    const SYNCS: bool = false;
}

/// A replay that drops the last record (a recovery that reads one record short).
pub struct ShortReplay;

impl Plant for ShortReplay {
    fn read(all: Vec<u8>) -> Vec<u8> {
        let mut records = unframe::<serde_json::Value>(&all).records;
        records.pop();
        records
            .iter()
            .flat_map(|r| frame(&serde_json::to_vec(r).unwrap()))
            .collect()
    }
}
