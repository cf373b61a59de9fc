//! The `counterd` binary: the week-6 practice daemon; its logic is the `counterd` exercise module.

fn main() -> std::process::ExitCode {
    daemon::counterd::main()
}
