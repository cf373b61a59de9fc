//! The `logcap` binary: the log capture tool; its logic is the `logcap` exercise module.

fn main() -> std::process::ExitCode {
    redirection::logcap::main(std::env::args_os().skip(1).collect())
}
