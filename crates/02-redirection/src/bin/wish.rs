//! The `wish` binary: the week-1 command executor; its logic is the `wish` exercise module.

fn main() -> std::process::ExitCode {
    redirection::wish::main(std::env::args().skip(1).collect())
}
