//! The `daemon-victim` driver for the `control` tests: a process that holds a pid file the way
//! a daemon does (written by this driver, not by the learner's code) and reacts to signals as the
//! test asks.
//!
//! `daemon-victim PIDFILE exit|ignore|gate FIFO`: prints `ready` once it holds the file. On
//! SIGHUP it prints `hup`. On SIGTERM: `exit` dies (the default action), `ignore` ignores it,
//! `gate` prints `got TERM` and exits 0 once a line arrives on FIFO.

use std::fs::OpenOptions;
use std::io::{BufRead, Write};

use signal_hook::consts::{SIGHUP, SIGTERM};
use signal_hook::iterator::Signals;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(mode)) = (args.first(), args.get(1)) else {
        eprintln!("usage: daemon-victim PIDFILE exit|ignore|gate FIFO");
        std::process::exit(2);
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .and_then(|mut f| {
            f.try_lock().map_err(std::io::Error::other)?;
            f.set_len(0)?;
            writeln!(f, "{}", std::process::id())?;
            Ok(f)
        });
    let _held = match file {
        Ok(f) => f,
        Err(e) => {
            eprintln!("daemon-victim: {path}: {e}");
            std::process::exit(1);
        }
    };
    let mut wanted = vec![SIGHUP];
    match mode.as_str() {
        "gate" => wanted.push(SIGTERM),
        "ignore" => {
            // SAFETY: SIG_IGN installs no handler; nothing else in this process handles SIGTERM.
            unsafe { libc::signal(SIGTERM, libc::SIG_IGN) };
        }
        _ => {}
    }
    let mut signals = Signals::new(&wanted).expect("register signals");
    println!("ready");
    for sig in signals.forever() {
        if sig == SIGHUP {
            println!("hup");
        } else {
            println!("got TERM");
            if let Some(fifo) = args.get(2) {
                let mut line = String::new();
                let _ = std::fs::File::open(fifo)
                    .map(|f| std::io::BufReader::new(f).read_line(&mut line));
            }
            std::process::exit(0);
        }
    }
}
