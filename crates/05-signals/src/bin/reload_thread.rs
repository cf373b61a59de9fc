//! Driver for the `reload_thread` exercise, run by its tests as a child process.
//!
//! Usage: `reload_thread CONFIG_FILE`. Starts the signal thread, prints `ready`, then prints
//! every line the thread sends; when the thread ends it prints `exit reloads=N` and exits 0.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: reload_thread CONFIG_FILE");
        return ExitCode::from(2);
    };
    let (tx, rx) = mpsc::channel();
    let handle = match signals::reload_thread::start(path.into(), tx) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    // The loop ends when the thread drops its Sender, that is when it returns.
    for line in rx {
        println!("{line}");
        let _ = std::io::stdout().flush();
    }
    match handle.join() {
        Ok(n) => {
            println!("exit reloads={n}");
            ExitCode::SUCCESS
        }
        Err(_) => {
            eprintln!("the signal thread panicked");
            ExitCode::from(3)
        }
    }
}
