//! Glue for the `backtrack` protocol: presets and `--set` overrides become a
//! [`BacktrackConfig`], the engine checks the [`quorate_model::backtrack::BacktrackModel`] (see
//! [`super::presets`]).

use quorate_model::backtrack::BacktrackConfig;

use super::presets::{PresetProtocol, preset_config};

preset_config!(
    backtrack,
    BacktrackConfig,
    BacktrackModel,
    "backtrack",
    "Backtrack (Aurora MySQL): rewind a cluster in place to a consistent earlier time and \
     forward again within the window, in-flight transactions dropped, readers' caches dropped"
);

/// The registry entry.
pub static BACKTRACK: PresetProtocol<BacktrackConfig> = PresetProtocol::new();
