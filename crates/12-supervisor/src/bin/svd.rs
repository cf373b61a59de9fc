//! The `svd` binary: the week-8 service supervisor; its logic is the `svd` exercise module.

fn main() -> std::process::ExitCode {
    supervisor::svd::svd_main(std::env::args().skip(1).collect())
}
