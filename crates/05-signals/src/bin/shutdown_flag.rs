//! Driver for the `shutdown_flag` exercise, run by its tests as a child process.
//!
//! Installs the flag, prints `ready`, then runs steps (each prints `step N` and waits
//! for a line or EOF on stdin, so the test decides how long a step lasts) until a signal sets the
//! flag. Then it prints `stopping after N steps`. With the argument `stubborn-cleanup` the
//! cleanup blocks until stdin is closed, so a second signal is needed to end it. With the
//! argument `wait-first` it waits for a line or EOF on stdin after `ready`, before the loop, so
//! the test can set the flag before the first step.

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let stubborn = arg.as_deref() == Some("stubborn-cleanup");
    let wait_first = arg.as_deref() == Some("wait-first");
    let flag = match signals::shutdown_flag::install_shutdown_flag() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot install the handlers: {e}");
            return ExitCode::from(2);
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    if wait_first {
        let _ = stdin.lock().read_line(&mut String::new());
    }
    let mut n = 0;
    let steps = signals::shutdown_flag::run_until_shutdown(&flag, || {
        n += 1;
        println!("step {n}");
        let _ = std::io::stdout().flush();
        // One step: wait for a line from the test. A signal interrupts nothing here:
        // `read_line` retries the read after EINTR, and the loop sees the flag once the step
        // is over.
        let mut line = String::new();
        let _ = stdin.lock().read_line(&mut line);
    });
    println!("stopping after {steps} steps");
    let _ = std::io::stdout().flush();
    if stubborn {
        println!("cleaning up");
        let _ = std::io::stdout().flush();
        let mut rest = String::new();
        while stdin
            .lock()
            .read_line(&mut rest)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    }
    ExitCode::SUCCESS
}
