//! Glue for the `failover` protocol: presets and `--set` overrides become a
//! [`FailoverConfig`], the engine checks the [`quorate_model::failover::FailoverModel`] (see
//! [`super::presets`]).

use quorate_model::failover::FailoverConfig;

use super::presets::{PresetProtocol, preset_config};

preset_config!(
    failover,
    FailoverConfig,
    FailoverModel,
    "failover",
    "writer failover and crash recovery: promote a replica, volume epochs fence the old \
     writer, recovery truncates above the recovered VDL, replicas apply only up to VDL"
);

/// The registry entry.
pub static FAILOVER: PresetProtocol<FailoverConfig> = PresetProtocol::new();
