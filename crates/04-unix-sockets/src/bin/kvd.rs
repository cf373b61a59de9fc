//! The `kvd` binary: the key-value server of the practice project; its logic is the
//! `kv_server` exercise module. Usage: `kvd PATH`.

fn main() -> std::process::ExitCode {
    unix_sockets::kv_server::main(std::env::args().skip(1).collect())
}
