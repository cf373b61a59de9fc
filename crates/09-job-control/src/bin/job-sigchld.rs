//! Driver for the `sigchld_race` exercise, run by its tests as a child process.
//!
//! Usage: `job-sigchld SCENARIO N HELPER` (HELPER is the path of `job-helper`):
//! - `race`: launches N jobs that exit at once (every seventh is killed by SIGKILL instead),
//!   and records each only after it has exited (the worst order the scheduler could choose).
//!   Prints `launched N finished K lost [PIDS] wrong [PID:GOT...]`.
//! - `burst`: with SIGCHLD blocked, launches N jobs that exit at once and waits until all have
//!   exited; then unblocks SIGCHLD, so one merged signal stands for all of them. Prints the
//!   same line.
//! - `mask`: launches `job-helper sigmask`, which prints the signal mask it started with, and
//!   prints `caller mask restored: BOOL`.
//! - `restart`: launches `job-helper spin`, prints `job PID running [PIDS]` (the jobs
//!   `JOBS` lists as running), and blocks in one read(2) of
//!   stdin, during which the test kills the job; then prints `read returned N bytes` (the
//!   handler ran and the read resumed) or `read failed: ERROR`.
//!
//! Then it waits for EOF on stdin, so the test can look for zombies in /proc, and exits 0.

use std::ffi::CString;
use std::io::{Read, Write};
use std::process::ExitCode;

use job_control::sigchld_race::{JOBS, install_handler, launch};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Waits until `pid` has exited, without reaping it (WNOWAIT). If a SIGCHLD handler reaps it
/// meanwhile, waitid answers ECHILD: it has exited all the same.
fn wait_exited_not_reaped(pid: Pid) {
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}

fn report(n: usize, expected: &[(Pid, i32)]) {
    let finished = JOBS.finished();
    let lost: Vec<String> = JOBS.running().iter().map(Pid::to_string).collect();
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(pid, code)| {
            let got = finished.iter().find(|(p, _)| p == pid).map(|(_, c)| *c)?;
            (got != *code).then(|| format!("{pid}:{got}"))
        })
        .collect();
    say(&format!(
        "launched {n} finished {} lost [{}] wrong [{}]",
        finished.len(),
        lost.join(" "),
        wrong.join(" ")
    ));
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("job-sigchld: {e}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        return Err("usage: job-sigchld race|burst|mask|restart N HELPER".into());
    }
    let n: usize = args[1].parse()?;
    let helper = CString::new(args[2].as_str())?;
    let job = |code: usize| -> Result<Vec<CString>, std::ffi::NulError> {
        Ok(vec![
            helper.clone(),
            CString::new("exit")?,
            CString::new(code.to_string())?,
        ])
    };
    // Jobs `exit N` for N in 0..6, and one killed by SIGKILL (recorded as 128 + 9).
    let job_or_killed = |i: usize| -> Result<(Vec<CString>, i32), std::ffi::NulError> {
        Ok(match i % 7 {
            6 => (vec![helper.clone(), CString::new("kill-self")?], 128 + 9),
            n => (job(n)?, n as i32),
        })
    };
    install_handler()?;
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    match args[0].as_str() {
        "race" => {
            let mut expected = Vec::new();
            for i in 0..n {
                let (argv, status) = job_or_killed(i)?;
                let pid = launch(&argv, |pid| {
                    wait_exited_not_reaped(pid);
                    JOBS.add(pid);
                })?;
                expected.push((pid, status));
            }
            report(n, &expected);
        }
        "burst" => {
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), None)?;
            let mut expected = Vec::new();
            for i in 0..n {
                let pid = launch(&job(i % 7)?, |pid| {
                    JOBS.add(pid);
                })?;
                expected.push((pid, (i % 7) as i32));
            }
            for (pid, _) in &expected {
                wait_exited_not_reaped(*pid);
            }
            // All N have exited; their SIGCHLDs are one pending signal now.
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&chld), None)?;
            report(n, &expected);
        }
        "mask" => {
            let argv = [helper.clone(), CString::new("sigmask")?];
            let pid = launch(&argv, |pid| {
                JOBS.add(pid);
            })?;
            let mut now = SigSet::empty();
            sigprocmask(SigmaskHow::SIG_BLOCK, None, Some(&mut now))?;
            say(&format!(
                "caller mask restored: {}",
                !now.contains(Signal::SIGCHLD)
            ));
            // The handler reaps it; wait for that without polling: sigsuspend until finished.
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), None)?;
            while JOBS.running().contains(&pid) {
                let _ = SigSet::empty().suspend();
            }
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&chld), None)?;
            report(1, &[]);
        }
        "restart" => {
            let argv = [helper.clone(), CString::new("spin")?];
            let pid = launch(&argv, |pid| {
                JOBS.add(pid);
            })?;
            let running: Vec<String> = JOBS.running().iter().map(Pid::to_string).collect();
            say(&format!("job {pid} running [{}]", running.join(" ")));
            let mut buf = [0u8; 64];
            match nix::unistd::read(std::io::stdin(), &mut buf) {
                Ok(n) => say(&format!("read returned {n} bytes")),
                Err(e) => say(&format!("read failed: {e}")),
            }
            report(1, &[(pid, 128 + 9)]);
        }
        other => return Err(format!("unknown scenario {other}").into()),
    }
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    Ok(())
}
