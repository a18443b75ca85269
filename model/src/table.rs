//! A protocol's property table: one [`Row`] per property (its spec ID, kind, check function,
//! one-line doc and the configs it applies to), and what every protocol derives from it: the
//! list `quorate list` shows, evaluation by name (for tests and the reference implementation),
//! the [`Property`] list the checker runs, and the one stateright's own checkers run.
//!
//! stateright's `Property` takes plain `fn` pointers, not closures, so each protocol
//! generates one monomorphic pair of shims per row with `property_shims!`.

use std::fmt::Debug;
use std::hash::Hash;

use stateright::Property as SrProperty;

use crate::checkable::{Checkable, Kind, Property};

/// `Ok` if the property holds (or, for `sometimes`, is witnessed), else why not.
pub type Verdict = Result<(), String>;

/// One property of a protocol with config type `C` and state type `S`.
pub struct Row<C: 'static, S: 'static> {
    /// Snake-case name starting with the lower-cased spec ID.
    pub name: &'static str,
    /// The ID in the protocol's spec.
    pub spec_id: &'static str,
    /// How it is judged.
    pub kind: Kind,
    /// The condition, with the reason when it fails.
    pub check: fn(&C, &S) -> Verdict,
    /// One sentence.
    pub doc: &'static str,
    /// Whether the property applies to a config (a feature it needs may be off).
    pub applies: fn(&C) -> bool,
}

/// For [`Row::applies`]: every config.
pub fn always_applies<C>(_: &C) -> bool {
    true
}

/// A `sometimes` verdict: witnessed when `ok`, else "not yet: `what`".
pub fn witness(ok: bool, what: &str) -> Verdict {
    if ok {
        Ok(())
    } else {
        Err(format!("not yet: {what}"))
    }
}

/// Every row as `(name, spec_id, kind, doc)`.
pub fn all_properties<C, S>(
    rows: &[Row<C, S>],
) -> Vec<(&'static str, &'static str, Kind, &'static str)> {
    rows.iter()
        .map(|r| (r.name, r.spec_id, r.kind, r.doc))
        .collect()
}

/// Evaluate the row named `name`, if there is one.
pub fn evaluate<C, S>(rows: &[Row<C, S>], name: &str, cfg: &C, s: &S) -> Option<Verdict> {
    rows.iter()
        .find(|r| r.name == name)
        .map(|r| (r.check)(cfg, s))
}

/// The properties that apply to `cfg`, with the per-row shims of `property_shims!`.
pub fn props<M, C, S>(
    rows: &[Row<C, S>],
    cfg: &C,
    conditions: &[fn(&M, &S) -> bool],
    explains: &[fn(&M, &S) -> String],
) -> Vec<Property<M>>
where
    M: Checkable<State = S>,
    S: Clone + Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + Debug + Send + Sync,
{
    assert_eq!(rows.len(), conditions.len(), "one shim per row");
    rows.iter()
        .enumerate()
        .filter(|(_, r)| (r.applies)(cfg))
        .map(|(i, r)| Property {
            name: r.name,
            spec_id: r.spec_id,
            kind: r.kind,
            condition: conditions[i],
            explain: explains[i],
            doc: r.doc,
        })
        .collect()
}

/// For stateright's own checkers and Explorer: the `always` and `sometimes` properties
/// (stateright's `eventually` is path-based, unlike ours, so those stay ours).
pub fn stateright_properties<M>(m: &M) -> Vec<SrProperty<M>>
where
    M: Checkable,
    M::State: Clone + Debug + Hash + Eq + Send + Sync,
    M::Action: Clone + Debug + Send + Sync,
{
    m.props()
        .into_iter()
        .filter_map(|p| match p.kind {
            Kind::Always => Some(SrProperty::always(p.name, p.condition)),
            Kind::Sometimes => Some(SrProperty::sometimes(p.name, p.condition)),
            Kind::Eventually => None,
        })
        .collect()
}

/// `CONDITIONS` and `EXPLAINS`: one `fn` pointer per row of `$rows` (indices listed), for a
/// model type with a `cfg` field.
macro_rules! property_shims {
    ($model:ty, $state:ty, $rows:ident; $($i:literal),*) => {
        const CONDITIONS: &[fn(&$model, &$state) -> bool] =
            &[$(|m, s| ($rows[$i].check)(&m.cfg, s).is_ok()),*];
        const EXPLAINS: &[fn(&$model, &$state) -> String] = &[$(|m, s| {
            match ($rows[$i].check)(&m.cfg, s) {
                Ok(()) => format!("{} holds here", $rows[$i].name),
                Err(why) => why,
            }
        }),*];
    };
}
pub(crate) use property_shims;
