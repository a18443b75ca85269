//! Glue for the `quorum` protocol: presets and `--set` overrides become a [`QuorumConfig`],
//! the engine checks the [`quorate_model::quorum::QuorumModel`] (see [`super::presets`]).

use quorate_model::quorum::QuorumConfig;
use quorate_model::quorum::QuorumModel;
use quorate_model::quorum::actor_model::QuorumActorModel;

use super::presets::{PresetProtocol, preset_config};

preset_config!(
    quorum,
    QuorumConfig,
    QuorumModel,
    "quorum",
    "storage quorum of one protection group: 6 segments over 3 AZs, write 4/6, read 3/6, \
     SCL/PGCL/VCL/VDL, gossip repair, membership change with epochs, AZ+1 faults";
    type ActorState = quorate_model::quorum::actor_model::ActorState;
    type ActorAction = quorate_model::quorum::actor_model::ActorAction;
    type Actors = quorate_model::quorum::actor_model::QuorumActorModel;
    fn compose(self) -> super::presets::Composed<Self::Model, Self::Actors> {
        use quorate_model::quorum::config::Composition;
        match self.composition {
            Composition::Fast => super::presets::Composed::Fast(QuorumModel::new(self)),
            Composition::Actors => super::presets::Composed::Actors(QuorumActorModel::new(self)),
        }
    }
);

/// The registry entry.
pub static QUORUM: PresetProtocol<QuorumConfig> = PresetProtocol::new();
