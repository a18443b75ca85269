//! The built `quorate` binary, run with arguments: exit code, stdout, stderr.

#![allow(dead_code)]

use std::process::Command;

/// Run `quorate ARGS` without colour.
pub fn quorate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run quorate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh scratch directory (not created) for test `name` of suite `suite`, unique to this
/// process.
pub fn scratch(suite: &str, name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("quorate-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The number after `label` on its line of a report.
pub fn figure(out: &str, label: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' line in:\n{out}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number in '{line}'"))
}
