//! `par`, the week-3 practice project: its logic is the `par` exercise module.

fn main() -> std::process::ExitCode {
    async_processes::par::main()
}
