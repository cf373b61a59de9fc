//! The `poolc` binary: the client of `poold`; its logic is the `poold` exercise module.

fn main() -> std::process::ExitCode {
    process_pool::poold::client_main(std::env::args().skip(1).collect())
}
