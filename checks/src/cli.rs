//! The `quorate` command line (to be written).

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    todo!("cli")
}
