//! The `pmon` binary: the week-5 practice project; its logic is the `pmon` exercise module.

fn main() -> std::process::ExitCode {
    monitoring::pmon::main(std::env::args().skip(1).collect())
}
