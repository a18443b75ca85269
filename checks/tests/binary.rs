//! The built `quorate` binary with the real registry: exit codes and one-line usage errors as
//! the CLI contract (`check-cli.sh`) checks them. Nothing here runs a search, so these tests
//! stay fast whatever the protocols grow into.

#[path = "support/bin.rs"]
mod bin;
use bin::quorate;

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["check", "no-such-protocol"][..],
        &["check", "quorum", "--set", "no_such_key=1"],
        &["check", "quorum", "--mutant", "no-such-mutant"],
        &["check", "quorum", "--set", "write_quorum=banana"],
        &["check", "quorum", "--set", "write_quorum"],
        &["check", "quorum", "--threads", "0"],
        &["check", "quorum", "--strategy", "sideways"],
        &["check", "quorum", "--bogus"],
        &["check"],
        &[],
        &["suite", "/no/such/suite.toml"],
    ] {
        let (code, out, err) = quorate(args);
        assert_eq!(code, 2, "quorate {args:?}: stderr {err}");
        assert!(out.is_empty(), "quorate {args:?}: stdout {out}");
        assert_eq!(err.lines().count(), 1, "quorate {args:?}: {err}");
        assert!(err.starts_with("error: "), "quorate {args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn help_and_version_exit_0() {
    let (code, out, _) = quorate(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes:"));
    let (code, out, _) = quorate(&["check", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--set write_quorum=3 --set read_quorum=3"));
    let (code, out, _) = quorate(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("quorate "));
}

#[test]
fn list_json_is_json() {
    let (code, out, err) = quorate(&["list", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let protocols = j["protocols"].as_array().unwrap();
    assert!(protocols.iter().any(|p| p["name"] == "quorum"));
    for p in protocols {
        for key in [
            "name",
            "summary",
            "configs",
            "config_docs",
            "params",
            "properties",
            "mutants",
        ] {
            assert!(p.get(key).is_some(), "{key} missing from {p}");
        }
    }
}
