//! Glue for the `global` protocol: presets and `--set` overrides become a [`GlobalConfig`],
//! the engine checks the [`quorate_model::global::GlobalModel`] (see [`super::presets`]).

use quorate_model::global::GlobalConfig;

use super::presets::{PresetProtocol, preset_config};

preset_config!(
    global,
    GlobalConfig,
    GlobalModel,
    "global",
    "Global Database: async cross-region replication, switchover with a MARKER (RPO 0), \
     unplanned failover with fencing, rebuild and rejoin, the RPO gate"
);

/// The registry entry.
pub static GLOBAL: PresetProtocol<GlobalConfig> = PresetProtocol::new();
