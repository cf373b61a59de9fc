//! The `daemon-pidfile` driver for the `pidfile` tests: acquires a pid file with the learner's
//! `pidfile::PidFile::acquire` and holds it until its stdin closes.
//!
//! `daemon-pidfile PATH` prints `acquired PID` or `error: MESSAGE` (exit 1).

use std::io::Read;
use std::path::Path;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: daemon-pidfile PATH");
        std::process::exit(2);
    };
    match daemon::pidfile::PidFile::acquire(Path::new(&path)) {
        Ok(held) => {
            println!("acquired {}", std::process::id());
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
            drop(held);
        }
        Err(e) => {
            println!("error: {e}");
            std::process::exit(1);
        }
    }
}
