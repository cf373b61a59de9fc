//! The `svctl` binary: the control client of `svd`; its logic is the `svd` exercise module.

fn main() -> std::process::ExitCode {
    supervisor::svd::svctl_main(std::env::args().skip(1).collect())
}
