//! The glue every protocol with named presets, `--set` overrides and mutants shares: a config
//! type implements [`PresetConfig`], and [`PresetProtocol`] turns it into a registry
//! [`Protocol`]: build the config (preset, then mutant, then overrides, then validation), check
//! the model with the engine, and report.

use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;

use quorate_model::checkable::{Checkable, Kind};

use crate::engine::Options;
use crate::registry::{ConfigInfo, MutantInfo, ParamInfo, PropInfo, Protocol, UsageError};
use crate::report::Report;
use crate::trace::{Replayed, TraceFile};

/// A protocol's config type, as the CLI needs it.
pub trait PresetConfig: Sized + 'static {
    /// The model's state (named here so its bounds carry over to generic code).
    type State: Clone + Debug + Hash + Eq + Send + Sync + serde::Serialize;
    /// The model's action.
    type Action: Clone + Debug + Send + Sync + PartialEq + serde::Serialize;
    /// The model this config instantiates.
    type Model: Checkable<State = Self::State, Action = Self::Action> + Send + 'static;
    /// The actor model's state (the fast model's, for a protocol without one).
    type ActorState: Clone + Debug + Hash + Eq + Send + Sync + serde::Serialize;
    /// The actor model's action.
    type ActorAction: Clone + Debug + Send + Sync + PartialEq + serde::Serialize;
    /// The actor model a config may ask for instead (see [`PresetConfig::compose`]).
    type Actors: Checkable<State = Self::ActorState, Action = Self::ActorAction> + Send + 'static;
    /// The protocol's CLI name, e.g. `failover`.
    const NAME: &'static str;
    /// One sentence for `quorate list`.
    const SUMMARY: &'static str;
    /// `(name, doc)` of every preset, in `list` order.
    fn presets() -> Vec<(&'static str, &'static str)>;
    /// `(key, doc)` of every `--set` parameter.
    fn params() -> &'static [(&'static str, &'static str)];
    /// `(name, spec_id, kind, doc)` of every property.
    fn properties() -> Vec<(&'static str, &'static str, Kind, &'static str)>;
    /// `(name, spec_id, caught_by, doc)` of every mutant.
    fn mutants() -> Vec<MutantInfo>;
    /// The preset `name`, or an error naming the known ones.
    fn preset(name: &str) -> Result<Self, String>;
    /// Plant the mutant named `name` (an error names the known ones).
    fn plant(self, name: &str) -> Result<Self, String>;
    /// Apply one `key=value` override.
    fn set(&mut self, key: &str, value: &str) -> Result<(), String>;
    /// Check the parameters; the error says how to fix them.
    fn validate(&self) -> Result<(), String>;
    /// The parameters as `key=value` lines.
    fn describe(&self) -> Vec<String>;
    /// The model of this config: the fast composition, or the actor model when the config
    /// asks for it.
    fn compose(self) -> Composed<Self::Model, Self::Actors>;
}

/// The checked model a config builds.
pub enum Composed<F, A> {
    /// The fast composition of the protocol's actors.
    Fast(F),
    /// The actor model: every message in an explicit network.
    Actors(A),
}

/// A registry entry for the protocol of config type `C`.
pub struct PresetProtocol<C>(PhantomData<fn() -> C>);

impl<C> PresetProtocol<C> {
    /// The registry entry.
    pub const fn new() -> Self {
        PresetProtocol(PhantomData)
    }
}

impl<C> Default for PresetProtocol<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: PresetConfig> PresetProtocol<C> {
    /// The validated config for `config` with `mutant` planted, then `sets` applied (so `--set`
    /// may still override what a mutant fixes, e.g. a quorum geometry).
    pub fn build(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<C, UsageError> {
        let mut cfg = C::preset(config).map_err(UsageError)?;
        if let Some(m) = mutant {
            cfg = cfg.plant(m).map_err(UsageError)?;
        }
        for (k, v) in sets {
            cfg.set(k, v).map_err(UsageError)?;
        }
        cfg.validate()
            .map_err(|e| UsageError(format!("{} config '{config}': {e}", C::NAME)))?;
        Ok(cfg)
    }
}

impl<C: PresetConfig> Protocol for PresetProtocol<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn summary(&self) -> &'static str {
        C::SUMMARY
    }

    fn configs(&self) -> Vec<ConfigInfo> {
        C::presets()
            .into_iter()
            .map(|(name, doc)| ConfigInfo { name, doc })
            .collect()
    }

    fn params(&self) -> Vec<ParamInfo> {
        C::params()
            .iter()
            .map(|&(key, doc)| ParamInfo { key, doc })
            .collect()
    }

    fn properties(&self) -> Vec<PropInfo> {
        C::properties()
            .into_iter()
            .map(|(name, spec_id, kind, doc)| PropInfo {
                name,
                spec_id,
                kind: kind.as_str(),
                doc,
            })
            .collect()
    }

    fn mutants(&self) -> Vec<MutantInfo> {
        C::mutants()
    }

    fn resolve(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<Vec<String>, UsageError> {
        Ok(self.build(config, sets, mutant)?.describe())
    }

    fn check(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        options: &Options,
    ) -> Result<Report, UsageError> {
        let cfg = self.build(config, sets, mutant)?;
        let parameters = cfg.describe();
        let names = (C::NAME, config, mutant);
        Ok(match cfg.compose() {
            Composed::Fast(m) => super::check_model(&m, names, parameters, options),
            Composed::Actors(m) => super::check_model(&m, names, parameters, options),
        })
    }

    fn replay(&self, config: &str, file: &TraceFile) -> Result<Replayed, UsageError> {
        let sets = file.sets().map_err(UsageError)?;
        let cfg = self.build(config, &sets, file.mutant.as_deref())?;
        Ok(match cfg.compose() {
            Composed::Fast(m) => crate::trace::replay(&m, file),
            Composed::Actors(m) => crate::trace::replay(&m, file),
        })
    }

    fn explore(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        addr: std::net::SocketAddr,
    ) -> Result<(), UsageError> {
        match self.build(config, sets, mutant)?.compose() {
            Composed::Fast(m) => super::serve_explorer(m, addr),
            Composed::Actors(m) => super::serve_explorer(m, addr),
        }
    }
}

/// Implement [`PresetConfig`] for a protocol module whose config type has the usual shape:
/// `preset`, `with_mutant`, `set`, `validate`, `describe`, `PARAMS`, `config::PRESETS`,
/// `Mutant::ALL` with `name`/`spec_id`/`caught_by`/`doc`, and `model::all_properties`.
macro_rules! preset_config {
    ($module:ident, $config:ident, $model:ident, $name:literal, $summary:literal) => {
        $crate::protocols::presets::preset_config!(
            $module, $config, $model, $name, $summary;
            type ActorState = <quorate_model::$module::$model as stateright::Model>::State;
            type ActorAction = <quorate_model::$module::$model as stateright::Model>::Action;
            type Actors = quorate_model::$module::$model;
            fn compose(self) -> $crate::protocols::presets::Composed<Self::Model, Self::Actors> {
                $crate::protocols::presets::Composed::Fast(quorate_model::$module::$model::new(self))
            }
        );
    };
    ($module:ident, $config:ident, $model:ident, $name:literal, $summary:literal; $($actors:tt)*) => {
        impl $crate::protocols::presets::PresetConfig for quorate_model::$module::$config {
            type State = <quorate_model::$module::$model as stateright::Model>::State;
            type Action = <quorate_model::$module::$model as stateright::Model>::Action;
            type Model = quorate_model::$module::$model;
            $($actors)*
            const NAME: &'static str = $name;
            const SUMMARY: &'static str = $summary;
            fn presets() -> Vec<(&'static str, &'static str)> {
                quorate_model::$module::config::PRESETS
                    .iter()
                    .map(|p| (p.name, p.doc))
                    .collect()
            }
            fn params() -> &'static [(&'static str, &'static str)] {
                Self::PARAMS
            }
            fn properties() -> Vec<(
                &'static str,
                &'static str,
                quorate_model::checkable::Kind,
                &'static str,
            )> {
                quorate_model::$module::model::all_properties()
            }
            fn mutants() -> Vec<$crate::registry::MutantInfo> {
                quorate_model::$module::Mutant::ALL
                    .iter()
                    .map(|m| $crate::registry::MutantInfo {
                        name: m.name(),
                        spec_id: m.spec_id(),
                        caught_by: m.caught_by(),
                        doc: m.doc(),
                    })
                    .collect()
            }
            fn preset(name: &str) -> Result<Self, String> {
                Self::preset(name)
            }
            fn plant(self, name: &str) -> Result<Self, String> {
                Ok(self.with_mutant(Some(name.parse()?)))
            }
            fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
                Self::set(self, key, value)
            }
            fn validate(&self) -> Result<(), String> {
                Self::validate(self)
            }
            fn describe(&self) -> Vec<String> {
                Self::describe(self)
            }
        }
    };
}
pub(crate) use preset_config;
