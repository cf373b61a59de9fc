//! `tsh`, the job-control shell of week 6: see `job_control::tsh`.
fn main() -> std::process::ExitCode {
    job_control::tsh::main(std::env::args().skip(1).collect())
}
