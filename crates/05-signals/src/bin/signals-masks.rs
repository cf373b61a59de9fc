//! Driver for the `masks` exercise, run by its tests as a child process: masks and dispositions
//! belong to the process, so they must not be changed inside the test harness.
//!
//! `signals-masks hold`: blocks SIGUSR1, then SIGUSR2 (printing the mask the second `block`
//! returned), raises SIGUSR2 at its own thread, prints `ready` and waits for a line on stdin;
//! then takes two pending signals with `take_pending`, printing `took NAME` for each, prints
//! `taken` and waits for EOF on stdin.
//!
//! `signals-masks ignored`: sets SIGUSR1 to `SIG_IGN`, blocks it with `block`, prints `ready` and
//! waits for a line on stdin; then takes SIGUSR1 with `take_pending`, prints `took SIGUSR1` and
//! waits for EOF on stdin.
//!
//! `signals-masks inherit` and `signals-masks obey`: ignores SIGHUP, installs a handler for
//! SIGUSR1, blocks SIGTERM and SIGUSR2, raises SIGUSR2 (so it is pending; `obey` raises SIGTERM
//! too, which would kill it if SIGTERM were unblocked for a moment), then starts `cat`
//! (plainly, or with `spawn_obeying(.., [SIGTERM])`) with its stdin on a pipe; prints
//! `child PID` and `ready`; at EOF on its own stdin closes `cat`'s stdin, waits for it and
//! prints `child ended: code N` or `child ended: signal N`.

use std::io::{BufRead, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nix::sys::signal::{SigHandler, Signal, raise, signal};
use signals::masks::{block, spawn_obeying, take_pending};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "hold" => hold(),
        "ignored" => ignored(),
        "inherit" => inherit(false),
        "obey" => inherit(true),
        _ => {
            eprintln!("usage: signals-masks hold|ignored|inherit|obey");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signals-masks {mode}: {e}");
            ExitCode::from(1)
        }
    }
}

fn names(signals: impl IntoIterator<Item = Signal>) -> String {
    let names: Vec<&str> = signals.into_iter().map(Signal::as_str).collect();
    names.join(" ")
}

fn hold() -> Result<(), Box<dyn std::error::Error>> {
    block(&[Signal::SIGUSR1])?;
    let before = block(&[Signal::SIGUSR2])?;
    println!("previous mask: {}", names(before.iter()));
    // Aimed at this thread: it waits in the thread's own pending set (SigPnd).
    raise(Signal::SIGUSR2)?;
    println!("ready");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    for _ in 0..2 {
        let sig = take_pending(&[Signal::SIGUSR1, Signal::SIGUSR2])?;
        println!("took {}", sig.as_str());
    }
    println!("taken");
    std::io::stdin().lock().read_to_end(&mut Vec::new())?;
    Ok(())
}

fn ignored() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: SIG_IGN installs no handler; this process has a single thread here.
    unsafe { signal(Signal::SIGUSR1, SigHandler::SigIgn) }?;
    block(&[Signal::SIGUSR1])?;
    println!("ready");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let sig = take_pending(&[Signal::SIGUSR1])?;
    println!("took {}", sig.as_str());
    std::io::stdin().lock().read_to_end(&mut Vec::new())?;
    Ok(())
}

fn inherit(obey: bool) -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: SIG_IGN installs no handler; this process has a single thread here.
    unsafe { signal(Signal::SIGHUP, SigHandler::SigIgn) }?;
    signal_hook::flag::register(
        signal_hook::consts::SIGUSR1,
        Arc::new(AtomicBool::new(false)),
    )?;
    block(&[Signal::SIGTERM, Signal::SIGUSR2])?;
    raise(Signal::SIGUSR2)?;
    if obey {
        // Pending and blocked: harmless as long as SIGTERM stays blocked in this process.
        raise(Signal::SIGTERM)?;
    }
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = if obey {
        spawn_obeying(&mut cmd, &[Signal::SIGTERM])?
    } else {
        cmd.spawn()?
    };
    println!("child {}", child.id());
    println!("ready");
    let waited = std::io::stdin().lock().read_to_end(&mut Vec::new());
    drop(child.stdin.take());
    let status = child.wait()?;
    waited?;
    match (status.code(), status.signal()) {
        (Some(code), _) => println!("child ended: code {code}"),
        (None, Some(sig)) => println!("child ended: signal {sig}"),
        (None, None) => println!("child ended: {status}"),
    }
    Ok(())
}
