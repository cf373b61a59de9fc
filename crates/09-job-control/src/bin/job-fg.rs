//! Driver for the `foreground` exercise: a one-command shell that the tests run on a
//! pseudo-terminal, as the leader of its session.
//!
//! Usage: `job-fg HELPER MODE [ARG]`: runs `HELPER MODE [ARG]` as a foreground job with
//! `run_in_foreground` and says what happened, one line at a time:
//! `shell PID`, `job PID exited N` / `job PID terminated by signal N` / `job PID stopped by
//! signal N`, `terminal back: fg=F shell=S`. A stopped job is continued in the foreground
//! (`give_terminal`, then `continue_job`) once a line is typed (`stopped; press enter`), which
//! prints `job PID continued` and `foreground group now G`; the shell takes the terminal back,
//! waits for a line on the terminal (`continued; press enter`) and ends the job. Finally it reads one line itself (`shell reads`, `shell read:
//! LINE`), which only the foreground group may do, and exits 0. Started without a terminal,
//! it prints `run_in_foreground failed: ERROR; children left: N` and exits 0.

use std::io::{BufRead, Write};
use std::os::fd::AsFd;
use std::process::{Command, ExitCode};

use job_control::foreground::{continue_job, give_terminal, run_in_foreground, take_terminal};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{getpgrp, getpid, tcgetpgrp};

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn describe(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("terminated by signal {}", *sig as i32),
        WaitStatus::Stopped(_, sig) => format!("stopped by signal {}", *sig as i32),
        WaitStatus::Continued(_) => "continued".to_string(),
        other => format!("{other:?}"),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("job-fg: {e}"));
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: job-fg HELPER MODE [ARG]".into());
    }
    let stdin = std::io::stdin();
    let tty = stdin.as_fd();
    say(&format!("shell {}", getpid()));
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    let (pid, status) = match run_in_foreground(tty, &mut cmd) {
        Ok(r) => r,
        Err(e) => {
            // Not on a terminal (the tests run it so on purpose): say how many children the
            // failed call left behind.
            let children =
                std::fs::read_to_string(format!("/proc/self/task/{}/children", std::process::id()))
                    .unwrap_or_default();
            say(&format!(
                "run_in_foreground failed: {e}; children left: {}",
                children.split_whitespace().count()
            ));
            return Ok(());
        }
    };
    say(&format!("job {pid} {}", describe(&status)));
    say(&format!(
        "terminal back: fg={} shell={}",
        tcgetpgrp(tty)?,
        getpgrp()
    ));
    if let WaitStatus::Stopped(..) = status {
        say("stopped; press enter");
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        // `fg`: the terminal first, then SIGCONT.
        give_terminal(tty, pid)?;
        let report = continue_job(pid, pid)?;
        say(&format!("job {pid} {}", describe(&report)));
        say(&format!("foreground group now {}", tcgetpgrp(tty)?));
        // Back to the shell before it reads the terminal again.
        take_terminal(tty)?;
        say("continued; press enter");
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        // End the job (every process of it) and reap the leader; SIGTERM lets a leader
        // reap its own children before it goes.
        let _ = killpg(pid, Signal::SIGTERM);
        loop {
            match waitpid(pid, Some(WaitPidFlag::empty())) {
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        say(&format!("job {pid} ended"));
    }
    say("shell reads");
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    say(&format!("shell read: {}", line.trim_end()));
    Ok(())
}
