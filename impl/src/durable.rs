//! Durable, append-only logs of checksummed records, on a real file or a simulated disk.
//!
//! Every node keeps its durable state as a log of the inputs its state machine accepted, and
//! recovers by replaying them through the same pure functions (see each protocol's node).
//! A record is framed as
//!
//! ```text
//! len: u32 LE | crc32(payload): u32 LE | crc32(the 8 bytes before): u32 LE | payload (JSON)
//! ```
//!
//! The header has its own checksum so that a corrupted length is told apart from a torn
//! write: only a frame whose header is intact (or itself cut off at the end of the log) and
//! whose payload runs past the end is a torn tail.
//!
//! and is appended and synced (`fsync` on a file) *before* the node replies, so whatever a
//! node acknowledged is on disk. Recovery reads frames from the start and stops at the first
//! frame that is short (a torn write) or whose checksum does not match (corruption); it reports
//! where and why in one line. What to do about damage is the node's policy, not this module's
//! (see the segment node: a torn tail is an unacknowledged append and is dropped; corruption
//! costs the segment, which is rebuilt from its peers).
//!
//! [`MemDisk`] simulates a disk for the deterministic runtime: bytes appended since the last
//! sync are volatile, and a crash may keep any prefix of them (a torn write).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crc::crc32;

/// Bytes of a frame header (length, payload checksum, header checksum).
pub const HEADER_BYTES: usize = 12;
/// The largest payload a frame may claim; a longer length is damage, not a huge record.
pub const PAYLOAD_BYTES_MAX: usize = 1 << 20;

/// Where a log's bytes live.
pub trait Disk {
    /// Every durable byte, from the start.
    fn read_all(&self) -> io::Result<Vec<u8>>;
    /// Append bytes (volatile until [`Disk::sync`]).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Make every appended byte durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Erase the log (a lost disk, or a segment rebuilt from its peers).
    fn erase(&mut self) -> io::Result<()>;
    /// Cut the log to its first `len` bytes, durably (dropping a torn tail).
    fn truncate(&mut self, len: usize) -> io::Result<()>;
}

/// A simulated disk: a durable prefix and a volatile tail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemDisk {
    /// Bytes that survive a crash.
    pub durable: Vec<u8>,
    /// Bytes appended since the last sync.
    pub volatile: Vec<u8>,
}

impl MemDisk {
    /// A crash: the volatile tail is lost except its first `keep` bytes (a torn write).
    pub fn crash(&mut self, keep: usize) {
        let keep = keep.min(self.volatile.len());
        self.durable.extend_from_slice(&self.volatile[..keep]);
        self.volatile.clear();
    }
}

impl Disk for MemDisk {
    fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut all = self.durable.clone();
        all.extend_from_slice(&self.volatile);
        Ok(all)
    }
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.volatile.extend_from_slice(bytes);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.durable.append(&mut self.volatile);
        Ok(())
    }
    fn erase(&mut self) -> io::Result<()> {
        self.durable.clear();
        self.volatile.clear();
        Ok(())
    }
    fn truncate(&mut self, len: usize) -> io::Result<()> {
        self.durable.append(&mut self.volatile);
        self.durable.truncate(len);
        Ok(())
    }
}

/// A log file on a real file system, synced with `fsync`. Appended bytes wait in memory until
/// the next [`Disk::sync`] writes and syncs them, so a crash ([`Volatile::crash`], or the
/// node's process dying) loses what was never synced (but for a torn prefix a simulated crash
/// may keep), as a power cut would; a node that replies before its sync is caught by the
/// crash tests rather than saved by the page cache. It holds no open file between operations (a node may host thousands of segments,
/// one file each, and descriptors are bounded); `fsync` on a fresh descriptor syncs the file's
/// data all the same.
#[derive(Debug)]
pub struct FileDisk {
    path: PathBuf,
    unsynced: Vec<u8>,
}

impl FileDisk {
    /// Open (creating if missing) the log file at `path`. A new file's directory entry is
    /// made durable too: a power cut must not take an acknowledged segment's file away.
    pub fn open(path: &Path) -> io::Result<Self> {
        let created = !path.exists();
        OpenOptions::new().create(true).append(true).open(path)?;
        if created {
            sync_dir_of(path)?;
        }
        Ok(FileDisk {
            path: path.to_path_buf(),
            unsynced: Vec::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self) -> io::Result<File> {
        OpenOptions::new().append(true).open(&self.path)
    }
}

/// `fsync` the directory holding `path` (after creating or renaming a file in it).
pub fn sync_dir_of(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

impl Disk for FileDisk {
    fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        File::open(&self.path)?.read_to_end(&mut bytes)?;
        bytes.extend_from_slice(&self.unsynced);
        Ok(bytes)
    }
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.unsynced.extend_from_slice(bytes);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        if self.unsynced.is_empty() {
            return self.file()?.sync_data();
        }
        let mut file = self.file()?;
        let before = file.metadata()?.len();
        let written = file
            .write_all(&self.unsynced)
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Undo a write cut short, so that the bytes are not written twice (which recovery
            // would take for corruption) and stay unsynced, as a crash would lose them. If even
            // that fails, they are given up, as a crash gives them up.
            if file.set_len(before).is_err() {
                self.unsynced.clear();
            }
            return Err(e);
        }
        self.unsynced.clear();
        Ok(())
    }
    fn erase(&mut self) -> io::Result<()> {
        self.unsynced.clear();
        self.truncate(0)
    }
    fn truncate(&mut self, len: usize) -> io::Result<()> {
        self.sync()?;
        let file = self.file()?;
        file.set_len(len as u64)?;
        file.sync_all()
    }
}

/// A disk a crash can be simulated on: what was synced stays, what was not is lost.
pub trait Volatile: Disk {
    /// A crash: the unsynced bytes are lost except their first `keep` (a torn write).
    fn crash(&mut self, keep: usize);
}

impl Volatile for MemDisk {
    fn crash(&mut self, keep: usize) {
        MemDisk::crash(self, keep);
    }
}

impl Volatile for FileDisk {
    fn crash(&mut self, keep: usize) {
        let keep = keep.min(self.unsynced.len());
        let torn: Vec<u8> = self.unsynced.drain(..).take(keep).collect();
        // A torn write reaches the file unsynced; if even that fails, less of it survives,
        // which a crash allows.
        if !torn.is_empty()
            && let Ok(mut f) = self.file()
        {
            let _ = f.write_all(&torn);
        }
    }
}

/// Damage found while recovering a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the first bad frame.
    pub offset: usize,
    /// The bad frame runs past the end of the log: an append that a crash cut short. It was
    /// never synced, so never acknowledged; every other damage is corruption.
    pub torn_tail: bool,
    /// Good records before it.
    pub records_good: usize,
    /// What is wrong, in a few words.
    pub what: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} (after {} good records)",
            self.what, self.offset, self.records_good
        )
    }
}

/// What recovery found: the good records, and the damage that stopped it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered<E> {
    /// Records before any damage, oldest first.
    pub records: Vec<E>,
    /// The first bad frame, if the log does not end cleanly.
    pub damage: Option<Damage>,
}

/// A log of records of type `E` on disk `D`.
#[derive(Debug)]
pub struct DurableLog<E, D: Disk> {
    disk: D,
    _records: PhantomData<fn(E) -> E>,
}

/// One frame's bytes.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    let header_sum = crc32(&out[..8]);
    out.extend_from_slice(&header_sum.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Parse frames from `bytes`, stopping at the first bad one.
pub fn unframe<E: DeserializeOwned>(bytes: &[u8]) -> Recovered<E> {
    let mut records = Vec::new();
    let mut at = 0;
    let damage = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEADER_BYTES {
            let got = rest.len();
            break Some((
                true,
                format!("torn frame header ({got} of {HEADER_BYTES} bytes)"),
            ));
        }
        let word = |k: usize| u32::from_le_bytes(rest[k..k + 4].try_into().expect("4 bytes"));
        let (len, sum) = (word(0) as usize, word(4));
        if crc32(&rest[..8]) != word(8) {
            break Some((false, "frame header checksum mismatch".to_string()));
        }
        if len > PAYLOAD_BYTES_MAX {
            break Some((false, format!("frame length {len} is beyond any record")));
        }
        if rest.len() < HEADER_BYTES + len {
            let got = rest.len() - HEADER_BYTES;
            break Some((true, format!("torn record ({got} of {len} payload bytes)")));
        }
        let payload = &rest[HEADER_BYTES..HEADER_BYTES + len];
        if crc32(payload) != sum {
            break Some((false, "record checksum mismatch".to_string()));
        }
        match serde_json::from_slice(payload) {
            Ok(e) => records.push(e),
            Err(e) => break Some((false, format!("undecodable record ({e})"))),
        }
        at += HEADER_BYTES + len;
    };
    // A crash while appending may also leave the tail zero-filled (the file's size reached the
    // disk, its data did not): that too is an append that never completed.
    let zeros = bytes[at..].iter().all(|&b| b == 0);
    let damage = damage.map(|(torn, what)| {
        if !torn && zeros {
            (
                true,
                format!("zero-filled tail ({} bytes)", bytes.len() - at),
            )
        } else {
            (torn, what)
        }
    });
    Recovered {
        damage: damage.map(|(torn_tail, what)| Damage {
            offset: at,
            torn_tail,
            records_good: records.len(),
            what,
        }),
        records,
    }
}

impl<E: Serialize + DeserializeOwned, D: Disk> DurableLog<E, D> {
    /// A log over `disk` (which may already hold records; see [`DurableLog::recover`]).
    pub fn new(disk: D) -> Self {
        DurableLog {
            disk,
            _records: PhantomData,
        }
    }

    /// Append `record` and make it durable before returning.
    pub fn append_synced(&mut self, record: &E) -> io::Result<()> {
        self.append(record)?;
        self.disk.sync()
    }

    /// Append `record` without syncing (for crash-point tests; a node always syncs first).
    pub fn append(&mut self, record: &E) -> io::Result<()> {
        let payload = serde_json::to_vec(record).map_err(io::Error::other)?;
        self.disk.append(&frame(&payload))
    }

    /// Make every appended record durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.disk.sync()
    }

    /// Read every record back.
    pub fn recover(&self) -> io::Result<Recovered<E>> {
        Ok(unframe(&self.disk.read_all()?))
    }

    /// Erase every record.
    pub fn erase(&mut self) -> io::Result<()> {
        self.disk.erase()
    }

    /// Cut the log to its first `len` bytes (dropping a torn tail).
    pub fn truncate(&mut self, len: usize) -> io::Result<()> {
        self.disk.truncate(len)
    }

    /// The disk.
    pub fn disk(&self) -> &D {
        &self.disk
    }

    /// Give the disk back (the node stops; the disk stays).
    pub fn into_disk(self) -> D {
        self.disk
    }

    /// The disk, to damage it in tests or crash it in the simulator.
    pub fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn log_of(n: u32) -> DurableLog<u32, MemDisk> {
        let mut log = DurableLog::new(MemDisk::default());
        for i in 0..n {
            log.append_synced(&i).unwrap();
        }
        log
    }

    #[test]
    fn records_round_trip() {
        let r = log_of(5).recover().unwrap();
        assert_eq!(r.records, vec![0, 1, 2, 3, 4]);
        assert_eq!(r.damage, None);
    }

    #[test]
    fn every_torn_tail_is_detected() {
        let full = log_of(3).disk().read_all().unwrap();
        let last = frame(b"2").len();
        for cut in 1..last {
            let r: Recovered<u32> = unframe(&full[..full.len() - cut]);
            assert_eq!(r.records, vec![0, 1], "cut {cut}");
            let d = r.damage.expect("a torn record is damage");
            assert!(d.what.starts_with("torn") && d.torn_tail, "{d}");
            assert_eq!(d.offset, full.len() - last);
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let full = log_of(3).disk().read_all().unwrap();
        for byte in 0..full.len() {
            for bit in 0..8 {
                let mut bad = full.clone();
                bad[byte] ^= 1 << bit;
                let r: Recovered<u32> = unframe(&bad);
                let d = r
                    .damage
                    .unwrap_or_else(|| panic!("flip of bit {bit} in byte {byte} went unnoticed"));
                // A flipped bit is corruption, never mistaken for a torn (harmless) tail.
                assert!(!d.torn_tail, "flip of bit {bit} in byte {byte}: {d}");
            }
        }
    }

    #[test]
    fn a_zero_filled_tail_is_torn_not_corrupt() {
        let mut full = log_of(2).disk().read_all().unwrap();
        full.extend_from_slice(&[0; 37]);
        let r: Recovered<u32> = unframe(&full);
        assert_eq!(r.records, vec![0, 1]);
        let d = r.damage.unwrap();
        assert!(d.torn_tail, "{d}");
    }

    #[test]
    fn a_crash_loses_only_unsynced_bytes() {
        let mut log = log_of(2);
        log.append(&7).unwrap();
        log.disk_mut().crash(0);
        assert_eq!(log.recover().unwrap().records, vec![0, 1]);
        log.append(&8).unwrap();
        log.disk_mut().crash(3);
        assert!(log.recover().unwrap().damage.is_some(), "a torn tail");
    }

    #[test]
    fn a_file_log_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("quorate-durable-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let _ = fs::remove_file(&path);
        {
            let mut log: DurableLog<String, _> = DurableLog::new(FileDisk::open(&path).unwrap());
            log.append_synced(&"a".to_string()).unwrap();
            log.append_synced(&"b".to_string()).unwrap();
        }
        let log: DurableLog<String, _> = DurableLog::new(FileDisk::open(&path).unwrap());
        assert_eq!(log.recover().unwrap().records, vec!["a", "b"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// Why a node could not come back from its disk.
#[derive(Debug)]
pub enum RecoverError {
    /// The disk could not be read.
    Io(io::Error),
    /// The log is damaged; the node's state must be treated as lost.
    Damaged(Damage),
    /// The log does not start as it must, or replays to a rejection (written by other code).
    Inconsistent(String),
}

impl fmt::Display for RecoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoverError::Io(e) => write!(f, "cannot read the log: {e}"),
            RecoverError::Damaged(d) => write!(f, "damaged log: {d}"),
            RecoverError::Inconsistent(why) => write!(f, "inconsistent log: {why}"),
        }
    }
}

/// A log reopened for replay: its good records, and the torn tail cut off, if there was one.
pub struct Reopened<E, D: Disk> {
    /// The log, ready for appends after the last good record.
    pub log: DurableLog<E, D>,
    /// Its records, oldest first.
    pub records: Vec<E>,
    /// The torn tail that was cut off (an append a crash cut short, never synced, so never
    /// acknowledged), to report.
    pub torn_tail: Option<Damage>,
}

/// Reopen the log on `disk` for a node's recovery, by the policy every node follows: a torn
/// tail is cut off and reported; any other damage is an error (the node may have forgotten
/// what it acknowledged). On error the disk is handed back.
pub fn reopen<E: Serialize + DeserializeOwned, D: Disk>(
    disk: D,
) -> Result<Reopened<E, D>, (RecoverError, D)> {
    let mut log = DurableLog::new(disk);
    let got = match log.recover() {
        Ok(r) => r,
        Err(e) => return Err((RecoverError::Io(e), log.into_disk())),
    };
    let mut torn_tail = None;
    match got.damage {
        Some(d) if d.torn_tail => {
            if let Err(e) = log.truncate(d.offset) {
                return Err((RecoverError::Io(e), log.into_disk()));
            }
            torn_tail = Some(d);
        }
        Some(d) => return Err((RecoverError::Damaged(d), log.into_disk())),
        None => {}
    }
    Ok(Reopened {
        log,
        records: got.records,
        torn_tail,
    })
}

/// A new, empty log on `disk`, for a node's birth. A disk that already holds a log (even a
/// damaged one) is refused, never overwritten: it may hold what its node acknowledged, so it
/// must be recovered (or its node treated as lost) instead.
pub fn create<E: Serialize + DeserializeOwned, D: Disk>(disk: D) -> io::Result<DurableLog<E, D>> {
    let mut log = DurableLog::new(disk);
    let existing = log.recover()?;
    if !existing.records.is_empty() || existing.damage.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the disk already holds a log",
        ));
    }
    log.erase()?;
    Ok(log)
}
