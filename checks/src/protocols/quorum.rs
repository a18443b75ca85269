//! Glue for the `quorum` protocol: presets and `--set` overrides become a [`QuorumConfig`],
//! the engine checks the [`quorate_model::quorum::QuorumModel`] (see [`super::presets`]).

use quorate_model::quorum::QuorumConfig;

use super::presets::{PresetProtocol, preset_config};

preset_config!(
    quorum,
    QuorumConfig,
    QuorumModel,
    "quorum",
    "storage quorum of one protection group: 6 segments over 3 AZs, write 4/6, read 3/6, \
     SCL/PGCL/VCL/VDL, gossip repair, membership change with epochs, AZ+1 faults"
);

/// The registry entry.
pub static QUORUM: PresetProtocol<QuorumConfig> = PresetProtocol::new();
