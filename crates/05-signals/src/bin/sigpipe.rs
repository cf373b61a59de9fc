//! Driver for the `sigpipe` exercise, run by its tests as a child process.
//!
//! `sigpipe probe` prints SIGPIPE's disposition at start-up and after restoring the default.
//! `sigpipe write` restores the default, then writes `y` lines to stdout until something stops
//! it; `sigpipe write-ignored` writes without restoring and reports the error it gets.

use std::io::Write;
use std::process::ExitCode;

use signals::sigpipe::{restore_default_sigpipe, sigpipe_disposition};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "probe" => {
            println!("at start-up: {:?}", sigpipe_disposition());
            if let Err(e) = restore_default_sigpipe() {
                println!("restore failed: {e}");
            }
            println!("after restore: {:?}", sigpipe_disposition());
            ExitCode::SUCCESS
        }
        "write" | "write-ignored" => {
            if mode == "write" && restore_default_sigpipe().is_err() {
                return ExitCode::from(2);
            }
            let mut out = std::io::stdout().lock();
            loop {
                // With the default restored, the write to a closed pipe never returns: the
                // kernel kills the process with SIGPIPE first.
                if let Err(e) = out.write_all(b"y\n").and_then(|()| out.flush()) {
                    eprintln!("write error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        _ => {
            eprintln!("usage: sigpipe probe|write|write-ignored");
            ExitCode::from(2)
        }
    }
}
