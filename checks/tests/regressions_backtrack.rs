//! Counterexample replay on the Backtrack reference implementation. For every mutant of
//! the backtrack protocol, `checks/regressions/backtrack/<mutant>.json` holds the model checker's
//! shortest counterexample of the mutant's named property on the config the suite catches it
//! on (regenerate them with `bash checks/regressions/generate.sh backtrack`). Each is replayed:
//!
//! * on the implementation built with that mutant (its nodes call the model's functions,
//!   which honour the planted bug), in lockstep with the model: every step must be carried
//!   out, the states must agree, and the last state must violate the named property, so the
//!   bug is real in the implementation too;
//! * on the correct implementation (the preset, no mutant): the trace must be rejected at some
//!   step (the correct protocol cannot take it), or every `always` invariant must hold on
//!   every state it reaches.

use quorate::trace::TraceFile;
use quorate_impl::backtrack::Cluster;
use quorate_model::backtrack::model::evaluate;
use quorate_model::backtrack::step::{Action, init};
use quorate_model::backtrack::{BacktrackConfig, Mutant};

#[path = "support/lockstep_backtrack.rs"]
mod lockstep_backtrack;
use lockstep_backtrack::{Stepped, first_violation, lockstep};

/// The trace's config (preset and overrides, then the mutant) and its actions.
fn load(mutant: Mutant) -> (TraceFile, BacktrackConfig, Vec<Action>) {
    let (file, actions) = lockstep_backtrack::invariants::load_trace("backtrack", mutant.name());
    let mut cfg = BacktrackConfig::preset(file.config.as_deref().unwrap_or("ci")).unwrap();
    for (k, v) in file.sets().unwrap() {
        cfg.set(&k, &v).unwrap();
    }
    let cfg = cfg.with_mutant(Some(mutant));
    cfg.validate().unwrap();
    (file, cfg, actions)
}

#[test]
fn every_mutant_counterexample_reproduces_on_the_implementation_with_the_mutant() {
    for mutant in Mutant::ALL {
        let (_, cfg, actions) = load(mutant);
        let property = mutant.caught_by();
        let mut model = init(&cfg);
        let mut cluster = Cluster::new(&cfg);
        let mut last = cluster.lift();
        for (k, a) in actions.iter().enumerate() {
            match lockstep(&cfg, &mut model, &mut cluster, a) {
                Ok(Stepped::Done(lifted)) => last = *lifted,
                Ok(Stepped::Refused) => panic!(
                    "{mutant}: step {} ({a:?}) of the counterexample is not carried out",
                    k + 1
                ),
                Err(why) => panic!("{mutant}: step {}: {why}", k + 1),
            }
        }
        let verdict = evaluate(property, &cfg, &last).expect("the property exists");
        assert!(
            verdict.is_err(),
            "{mutant}: the implementation with the mutant ends the counterexample without \
             violating {property}"
        );
    }
}

#[test]
fn no_mutant_counterexample_breaks_the_correct_implementation() {
    for mutant in Mutant::ALL {
        let (_, with_mutant, actions) = load(mutant);
        let cfg = with_mutant.with_mutant(None);
        let mut model = init(&cfg);
        let mut cluster = Cluster::new(&cfg);
        let mut outcome = "every state holds every invariant".to_string();
        for (k, a) in actions.iter().enumerate() {
            match lockstep(&cfg, &mut model, &mut cluster, a) {
                Ok(Stepped::Done(lifted)) => {
                    if let Some((name, why)) = first_violation(&cfg, &lifted) {
                        panic!(
                            "{mutant}'s counterexample breaks the correct implementation at \
                             step {}: {name}: {why}",
                            k + 1
                        );
                    }
                }
                Ok(Stepped::Refused) => {
                    outcome = format!("rejected at step {} ({a:?})", k + 1);
                    break;
                }
                Err(why) => panic!("{mutant}: step {}: {why}", k + 1),
            }
        }
        println!("{mutant}: on the correct implementation, {outcome}");
    }
}
