//! The `async-processes-heavy-job` helper: `async-processes-heavy-job MIB WORDS...` fills MIB
//! MiB of memory, says `ready` on stderr, waits for a line on stdin, then prints `done` and
//! the first of WORDS on stdout. The rest of WORDS is not used: it is there so that a test can
//! find the job by its command line.
//!
//! A job with a large memory is not gone the moment SIGKILL is sent to it: the kernel first
//! gives its pages back, which takes milliseconds for hundreds of MiB. The pool's tests use it
//! to show that a killed child must be waited for before its slot is given to the next one.

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(mib) = args.next().and_then(|m| m.parse::<usize>().ok()) else {
        eprintln!("usage: async-processes-heavy-job MIB WORDS...");
        return ExitCode::from(2);
    };
    let name = args.next().unwrap_or_default();
    // Written, not only reserved: untouched pages cost the kernel nothing to give back.
    let memory = vec![1u8; mib << 20];
    eprintln!("ready");
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return ExitCode::FAILURE;
    }
    let sum: u64 = memory.iter().step_by(4096).map(|&b| u64::from(b)).sum();
    let _ = writeln!(std::io::stdout(), "done {name}");
    ExitCode::from(u8::from(sum == 0))
}
