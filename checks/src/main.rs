//! The `quorate` binary: see `quorate --help`.

fn main() {
    std::process::exit(quorate::cli::main());
}
