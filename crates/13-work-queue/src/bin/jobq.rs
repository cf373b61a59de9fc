//! The `jobq` binary: the week-9 work queue; its logic is the `jobq` exercise module.

fn main() -> std::process::ExitCode {
    work_queue::jobq::main(std::env::args().skip(1).collect())
}
