//! The Quorate reference implementation: the protocol state machines of `quorate_model`,
//! executed by nodes with durable storage and a transport.
//!
//! * [`durable`]: append-only logs of checksummed records, on files or a simulated disk; torn
//!   and corrupted records are detected on recovery.
//! * [`quorum`]: the storage quorum on the one runtime: the model's own actors, with the
//!   quorum's fault table and workload, the replay of a run's logs on the actor model, and the
//!   drivers that carry a trace out on the nodes.
//! * [`codec`]: the datagram codec every protocol shares (bounded JSON, and the CRC-32 seal
//!   the one runtime's datagrams carry).
//! * [`failover`]: the same for writer failover: segment nodes with durable fences and
//!   ranges, instances deciding on what segments report, control plane and metadata service.
//! * [`global`]: the Global Database: region nodes with durable logs that write, stream,
//!   acknowledge by the RPO gate, and obey the control plane's switchover, fence, promotion,
//!   rebuild and rejoin.
//! * [`backtrack`]: an engine that rewinds in place from its durable change buffer, reader
//!   instances that drop their caches at the resume, the client's connection and the operator.
//! * [`runtime`]: one runtime for the protocols' actors (hosts, disks, a seeded network, a
//!   live configuration on threads, UDP and files) and trace validation of every run against
//!   the model.
//! * [`rounds`]: the round loop's pieces the real runtimes share.
//! * [`udp`]: requests and answers over UDP on loopback for the real runtimes.
//! * [`sim`]: the seeded schedule the simulated clusters run on.
//! * [`rng`]: the seeded generator that runtimes and workloads use (protocol code has none).
//! * [`crc`]: the CRC-32 the logs and datagrams carry.
//!
//! Every node runs the model's actors or calls the model's pure functions for its protocol
//! decisions; what this crate adds is what the model abstracts away: bytes on disk, recovery
//! from them, messages on a wire, and the order in which a runtime carries events out.

pub mod backtrack;
pub mod codec;
pub mod crc;
pub mod durable;
pub mod failover;
pub mod global;
pub mod quorum;
pub mod rng;
pub mod rounds;
pub mod runtime;
pub mod sim;
pub mod udp;
