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
//!
//! `job-fg --continue-restop HELPER` (no terminal needed): starts `HELPER stop-loop`, a job that
//! stops itself again at once each time it is continued, waits until it has stopped, then
//! calls `continue_job` on it and prints `continue_job returned: STATUS`. The job is in the
//! driver's own group, and the driver's SIGCONT handler (run as `continue_job`'s `killpg`
//! returns) waits until the job has stopped again, so the job always stops again before
//! `continue_job` gets to wait. If `continue_job` has not returned after 10 s, the driver kills
//! the job, prints `continue_job still waiting ...` and exits 3.

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

/// The job of `--continue-restop`, for the watchdog to kill.
static RESTOP_JOB: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn watchdog(_: libc::c_int) {
    let msg = b"continue_job still waiting 10 s after the job was continued: it stopped again \
at once, and a waitpid that asks only for continues (WCONTINUED) does not report a stop. Ask \
for stops too (WUNTRACED), as the job may stop (or end) before the wait starts.\n";
    // SAFETY: kill, write and _exit are async-signal-safe; msg is static.
    unsafe {
        libc::kill(
            RESTOP_JOB.load(std::sync::atomic::Ordering::SeqCst),
            libc::SIGKILL,
        );
        libc::write(1, msg.as_ptr().cast(), msg.len());
        libc::_exit(3);
    }
}

/// SIGCONT's handler in the driver, which is in the job's group: it runs when continue_job's
/// killpg returns, before its wait starts, and holds it until the job has stopped again.
extern "C" fn hold_until_stopped_again(_: libc::c_int) {
    let job = RESTOP_JOB.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: waitid and the errno accessors are async-signal-safe; `info` is a local.
    unsafe {
        let saved = *libc::__errno_location();
        let mut info: libc::siginfo_t = std::mem::zeroed();
        while libc::waitid(
            libc::P_PID,
            job as libc::id_t,
            &mut info,
            libc::WSTOPPED | libc::WNOWAIT,
        ) < 0
            && *libc::__errno_location() == libc::EINTR
        {}
        *libc::__errno_location() = saved;
    }
}

fn continue_restop(helper: &str) -> Result<(), Box<dyn std::error::Error>> {
    // The job joins this driver's group, so that continue_job's killpg sends SIGCONT here
    // too: its handler then holds this process, between killpg and the wait, until the job
    // has stopped again. The worst order, every time.
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    let child = Command::new(helper).arg("stop-loop").spawn()?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    RESTOP_JOB.store(pid.as_raw(), std::sync::atomic::Ordering::SeqCst);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WUNTRACED))? {
            WaitStatus::Stopped(..) => break,
            WaitStatus::StillAlive | WaitStatus::Continued(_) => {}
            other => return Err(format!("the job ended before it stopped: {other:?}").into()),
        }
    }
    // SAFETY: both handlers only call async-signal-safe functions.
    unsafe {
        libc::signal(
            libc::SIGCONT,
            hold_until_stopped_again as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGALRM,
            watchdog as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        // alarm(2) only arms a timer.
        libc::alarm(10);
    }
    let report = std::panic::catch_unwind(|| continue_job(getpgrp(), pid));
    // SAFETY: disarms the timer.
    unsafe { libc::alarm(0) };
    let Ok(report) = report else {
        // An unfinished continue_job (a stub's todo!()) must not leave the stopped job behind.
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        return Err("continue_job panicked".into());
    };
    match report {
        Ok(status) => say(&format!("continue_job returned: {}", describe(&status))),
        Err(e) => say(&format!("continue_job failed: {e}")),
    }
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    Ok(())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 2 && args[0] == "--continue-restop" {
        return continue_restop(&args[1]);
    }
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
