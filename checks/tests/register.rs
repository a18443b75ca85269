//! The checker-speed yardstick explores exactly what TLC and SPIN explore: the distinct and
//! generated state counts of `../shared/bench/QuorumRegister.tla` (W=4, R=3, K=2), and the
//! 11-step shortest counterexample for W=3 (`../shared/bench/README.md`).

use quorate::engine::{self, Options, StopAfter};
use quorate::report::Status;
use quorate_model::register::{RegisterConfig, RegisterModel};

#[test]
fn same_state_space_as_tlc_and_spin() {
    let model = RegisterModel {
        cfg: RegisterConfig::benchmark(),
    };
    for threads in [1, 2] {
        let outcome = engine::check(
            &model,
            &Options {
                threads,
                ..Options::default()
            },
        );
        assert!(outcome.complete);
        assert_eq!(outcome.states_unique, 2_995_384);
        assert_eq!(outcome.states_total, 18_103_245, "TLC's 'states generated'");
        assert_eq!(
            outcome.max_depth, 27,
            "TLC's depth 28 counts states, not steps"
        );
        assert_eq!(outcome.properties[0].status, Status::Holds);
        assert_eq!(outcome.properties[1].status, Status::Witnessed);
    }
}

#[test]
fn w3_counterexample_has_eleven_steps() {
    let cfg = RegisterConfig {
        write_quorum: 3,
        ..RegisterConfig::benchmark()
    };
    let model = RegisterModel { cfg };
    for threads in [1, 2] {
        let options = Options {
            threads,
            stop_after: StopAfter::FirstViolation,
            ..Options::default()
        };
        let outcome = engine::check(&model, &options);
        let r1 = &outcome.properties[0];
        assert_eq!(r1.status, Status::Violated);
        assert_eq!(r1.trace.as_ref().unwrap().steps.len(), 11);
    }
}
