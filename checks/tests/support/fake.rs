//! A fake protocol with canned reports, so the CLI and the suite are tested without the real
//! models (which are written in parallel) and in milliseconds.
//!
//! `toy` has configs `ci` (100 states) and `default` (1000 states), parameters `write_quorum`
//! and `read_quorum` (1..=6; default 4 and 3), properties A1 (always), A1.s1 (sometimes),
//! B1 (eventually), C1 (always), and mutants `w3r3` (caught by A1) and `nomono` (caught by C1).
//! A1 is violated whenever `write_quorum + read_quorum <= 6`, as in the real quorum.

#![allow(dead_code)]

use quorate::engine::Options;
use quorate::registry::{ConfigInfo, MutantInfo, ParamInfo, PropInfo, Protocol, UsageError};
use quorate::report::{PropertyReport, Report, Status, Step};

/// The fake protocol; `with_default` decides whether it lists a `default` config.
pub struct Toy {
    pub name: &'static str,
    pub with_default: bool,
}

/// `toy`, with configs `ci` and `default`.
pub static TOY: Toy = Toy {
    name: "toy",
    with_default: true,
};

/// `plain`, with configs `small` and `big` (no `default`).
pub static PLAIN: Toy = Toy {
    name: "plain",
    with_default: false,
};

/// Both fakes, as a registry.
pub fn protocols() -> Vec<&'static dyn Protocol> {
    vec![&TOY, &PLAIN]
}

impl Toy {
    fn config_names(&self) -> [&'static str; 2] {
        if self.with_default {
            ["ci", "default"]
        } else {
            ["small", "big"]
        }
    }
}

fn prop(name: &str, spec_id: &str, kind: &str, status: Status) -> PropertyReport {
    PropertyReport {
        name: name.into(),
        spec_id: spec_id.into(),
        kind: kind.into(),
        status,
        trace: Vec::new(),
        steps: Vec::new(),
        explanation: None,
        recorded: None,
    }
}

fn with_trace(
    mut p: PropertyReport,
    steps: &[(&str, &[&str])],
    explanation: &str,
) -> PropertyReport {
    p.steps = steps
        .iter()
        .map(|(action, changes)| Step {
            action: action.to_string(),
            changes: changes.iter().map(|c| c.to_string()).collect(),
        })
        .collect();
    p.trace = std::iter::once("0. initial state".to_string())
        .chain(
            steps
                .iter()
                .enumerate()
                .map(|(i, (action, _))| format!("{}. {action}", i + 1)),
        )
        .collect();
    p.explanation = Some(explanation.into());
    p
}

impl Protocol for Toy {
    fn name(&self) -> &'static str {
        self.name
    }
    fn summary(&self) -> &'static str {
        "a toy quorum with canned results, for tests"
    }
    fn configs(&self) -> Vec<ConfigInfo> {
        let [a, b] = self.config_names();
        vec![
            ConfigInfo {
                name: a,
                doc: "small: 100 states",
            },
            ConfigInfo {
                name: b,
                doc: "bigger: 1000 states",
            },
        ]
    }
    fn params(&self) -> Vec<ParamInfo> {
        vec![
            ParamInfo {
                key: "write_quorum",
                doc: "segments that must ack a write, 1..=6",
            },
            ParamInfo {
                key: "read_quorum",
                doc: "segments a read consults, 1..=6",
            },
        ]
    }
    fn properties(&self) -> Vec<PropInfo> {
        vec![
            PropInfo {
                name: "a1_acked_readable",
                spec_id: "A1",
                kind: "always",
                doc: "an acked write is readable",
            },
            PropInfo {
                name: "a1s1_something_acked",
                spec_id: "A1.s1",
                kind: "sometimes",
                doc: "some write is acked",
            },
            PropInfo {
                name: "b1_converges",
                spec_id: "B1",
                kind: "eventually",
                doc: "segments converge",
            },
            PropInfo {
                name: "c1_monotonic",
                spec_id: "C1",
                kind: "always",
                doc: "the durable LSN never decreases",
            },
        ]
    }
    fn mutants(&self) -> Vec<MutantInfo> {
        vec![
            MutantInfo {
                name: "w3r3",
                spec_id: "Ma1",
                caught_by: "a1_acked_readable",
                doc: "write 3 and read 3 of 6: quorums need not meet",
            },
            MutantInfo {
                name: "nomono",
                spec_id: "Mc1",
                caught_by: "c1_monotonic",
                doc: "the durable LSN is recomputed from a stale quorum",
            },
        ]
    }
    fn resolve(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
    ) -> Result<Vec<String>, UsageError> {
        if !self.config_names().contains(&config) {
            return Err(UsageError(format!("unknown config '{config}'")));
        }
        let (mut w, mut r) = if mutant == Some("w3r3") {
            (3, 3)
        } else {
            (4, 3)
        };
        for (key, value) in sets {
            let v: u32 = value
                .parse()
                .ok()
                .filter(|v| (1..=6).contains(v))
                .ok_or_else(|| {
                    UsageError(format!(
                        "{key} must be a whole number in 1..=6, got '{value}'"
                    ))
                })?;
            match key.as_str() {
                "write_quorum" => w = v,
                "read_quorum" => r = v,
                _ => return Err(UsageError(format!("unknown parameter '{key}'"))),
            }
        }
        Ok(vec![
            format!("config={config}"),
            format!("write_quorum={w}"),
            format!("read_quorum={r}"),
        ])
    }
    fn check(
        &self,
        config: &str,
        sets: &[(String, String)],
        mutant: Option<&str>,
        options: &Options,
    ) -> Result<Report, UsageError> {
        let parameters = self.resolve(config, sets, mutant)?;
        // One progress tick, as a long search would make.
        if let Some(progress) = &options.progress {
            progress(&quorate::engine::Progress {
                states_unique: 50,
                states_total: 150,
                depth: 4,
                seconds: 2.0,
                memory_bytes: Some(32 << 20),
            });
        }
        let w: u32 = parameters[1]
            .trim_start_matches("write_quorum=")
            .parse()
            .unwrap();
        let r: u32 = parameters[2]
            .trim_start_matches("read_quorum=")
            .parse()
            .unwrap();
        let states: u64 = if config == self.config_names()[0] {
            100
        } else {
            1000
        };
        let complete = options.max_states.is_none_or(|m| m >= states);

        let mut a1 = prop("a1_acked_readable", "A1", "always", Status::Holds);
        let mut c1 = prop("c1_monotonic", "C1", "always", Status::Holds);
        if w + r <= 6 {
            a1 = with_trace(
                prop("a1_acked_readable", "A1", "always", Status::Violated),
                &[
                    (
                        "writer: send LSN 1 to all segments",
                        &["in flight: LSN 1 to a1 a2 b1 b2 c1 c2"],
                    ),
                    (
                        "segment a1: store LSN 1 and ack",
                        &["a1 holds LSN 1", "writer has 1 ack"],
                    ),
                    ("segment a2: store LSN 1 and ack", &["a2 holds LSN 1"]),
                    (
                        "segment b1: store LSN 1 and ack",
                        &["b1 holds LSN 1", "writer acks LSN 1 (write quorum 3 of 6)"],
                    ),
                ],
                "LSN 1 was acked with write quorum {a1, a2, b1}, but the read quorum {b2, c1, c2} holds none of it, so a read returns LSN 0.",
            );
        }
        if mutant == Some("nomono") {
            c1 = with_trace(
                prop("c1_monotonic", "C1", "always", Status::Violated),
                &[
                    ("writer: advance durable LSN to 1", &["durable LSN 0 -> 1"]),
                    (
                        "writer: recompute durable LSN from a stale quorum",
                        &["durable LSN 1 -> 0"],
                    ),
                ],
                "The durable LSN went from 1 back to 0.",
            );
        }
        let mut props = vec![
            a1,
            with_trace(
                prop(
                    "a1s1_something_acked",
                    "A1.s1",
                    "sometimes",
                    Status::Witnessed,
                ),
                &[
                    ("writer: send LSN 1 to all segments", &[]),
                    ("segment a1: store LSN 1 and ack", &[]),
                ],
                "LSN 1 is acked.",
            ),
            prop("b1_converges", "B1", "eventually", Status::Holds),
            c1,
        ];
        if !complete {
            for p in &mut props {
                if p.status == Status::Holds {
                    p.status = Status::Unknown;
                }
            }
        }
        Ok(Report {
            protocol: self.name.into(),
            config: config.into(),
            mutant: mutant.map(Into::into),
            parameters,
            strategy: format!("{:?}", options.strategy).to_lowercase(),
            threads: options.threads,
            symmetry: true,
            complete,
            states_unique: if complete {
                states
            } else {
                options.max_states.unwrap_or(0)
            },
            states_total: states * 3,
            max_depth: 9,
            seconds: 0.5,
            peak_memory_bytes: Some(64 << 20),
            properties: props,
        })
    }
}
