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
