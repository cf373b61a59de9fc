//! The `poold` binary: the week-7 pool server; its logic is the `poold` exercise module.

fn main() -> std::process::ExitCode {
    process_pool::poold::server_main(std::env::args().skip(1).collect())
}
