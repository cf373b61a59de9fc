//! The benchmark report behind `cargo xtask bench`: see `proclings_bench::report`.

fn main() -> std::process::ExitCode {
    proclings_bench::report::main()
}
