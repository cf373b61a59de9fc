//! The `graceful` binary: the week-2 practice server; its logic is the `graceful` exercise module.

fn main() -> std::process::ExitCode {
    signals::graceful::main(std::env::args().skip(1).collect())
}
