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
//! - `contract`: launches `job-helper probe` (which prints its ids), a missing program (prints
//!   `missing program finished with S`), an empty argv (prints `empty argv: RESULT recorded
//!   BOOL`), with `JOB_SIGCHLD_BARE_NAME` set that name searched on PATH with the arguments
//!   `exit 9` (prints `bare name finished with S`), and prints `allocated before exec: K`, the children that allocated memory between
//!   `fork` and `exec` (this driver's allocator ends them with status 86, `fork_guard.rs`).
//! - `errno`: with SIGCHLD blocked, launches a job and waits until it has exited; sets errno to
//!   EDOM and unblocks SIGCHLD, so the handler runs inside that call; prints `errno after the
//!   handler: N (EDOM is 33)`.
//! - `stop`: launches `job-helper spin`, blocks SIGCHLD and prints `job PID`; reads one line of
//!   stdin (the test stops the job meanwhile), then prints `sigchld pending after a stop:
//!   BOOL`; kills the job and waits for the handler to finish it.
//!
//! Then it waits for EOF on stdin, so the test can look for zombies in /proc, and exits 0.

use std::ffi::CString;
use std::io::{Read, Write};
use std::process::ExitCode;

#[path = "../fork_guard.rs"]
mod fork_guard;

use job_control::sigchld_race::{JOBS, install_handler, launch};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

#[global_allocator]
static ALLOCATOR: fork_guard::NoAllocInForkedChild = fork_guard::NoAllocInForkedChild;

/// Waits, without polling, until the handler has finished the job `pid`.
fn wait_finished(pid: Pid) -> nix::Result<()> {
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), None)?;
    while JOBS.running().contains(&pid) {
        let _ = SigSet::empty().suspend();
    }
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&chld), None)
}

/// The status the handler recorded for `pid`, if it finished it.
fn finished_with(pid: Pid) -> Option<i32> {
    JOBS.finished()
        .into_iter()
        .find(|(p, _)| *p == pid)
        .map(|(_, s)| s)
}

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
        return Err(
            "usage: job-sigchld race|burst|mask|restart|contract|errno|stop N HELPER".into(),
        );
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
    fork_guard::install(None);
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
        "contract" => {
            fork_guard::ARMED.store(true, std::sync::atomic::Ordering::SeqCst);
            let mut allocated = 0;
            let argv = [helper.clone(), CString::new("probe")?];
            let pid = launch(&argv, |pid| {
                JOBS.add(pid);
            })?;
            wait_finished(pid)?;
            allocated += usize::from(finished_with(pid) == Some(fork_guard::ALLOCATED));
            let missing = [CString::new("/nonexistent/job-control-missing")?];
            let pid = launch(&missing, |pid| {
                JOBS.add(pid);
            })?;
            wait_finished(pid)?;
            let status = finished_with(pid);
            allocated += usize::from(status == Some(fork_guard::ALLOCATED));
            fork_guard::ARMED.store(false, std::sync::atomic::Ordering::SeqCst);
            say(&format!(
                "missing program finished with {}",
                status.map_or("nothing".to_string(), |s| s.to_string())
            ));
            let mut recorded = false;
            let empty: [CString; 0] = [];
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                launch(&empty, |_| recorded = true)
            }));
            let result = match result {
                Ok(Ok(pid)) => {
                    wait_finished(pid)?;
                    format!("started {pid}")
                }
                Ok(Err(e)) => format!("{e}"),
                Err(_) => "panicked".to_string(),
            };
            say(&format!("empty argv: {result} recorded {recorded}"));
            // A bare name, searched on the PATH the test gave this driver (as execvp does);
            // the test puts a file of that name that is not executable in an earlier directory.
            if let Some(name) = std::env::var_os("JOB_SIGCHLD_BARE_NAME") {
                let argv = [
                    CString::new(name.into_encoded_bytes())?,
                    CString::new("exit")?,
                    CString::new("9")?,
                ];
                let pid = launch(&argv, |pid| {
                    JOBS.add(pid);
                })?;
                wait_finished(pid)?;
                say(&format!(
                    "bare name finished with {}",
                    finished_with(pid).map_or("nothing".to_string(), |s| s.to_string())
                ));
            }
            say(&format!("allocated before exec: {allocated}"));
        }
        "errno" => {
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), None)?;
            let pid = launch(&job(0)?, |pid| {
                JOBS.add(pid);
            })?;
            wait_exited_not_reaped(pid);
            // The SIGCHLD is pending; unblocking delivers it before sigprocmask returns here,
            // and sigprocmask itself leaves errno alone when it succeeds.
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: sigemptyset and sigaddset initialise the set; sigprocmask reads it.
            let errno = unsafe {
                libc::sigemptyset(set.as_mut_ptr());
                libc::sigaddset(set.as_mut_ptr(), libc::SIGCHLD);
                nix::errno::Errno::set_raw(libc::EDOM);
                libc::sigprocmask(libc::SIG_UNBLOCK, set.as_ptr(), std::ptr::null_mut());
                nix::errno::Errno::last_raw()
            };
            say(&format!(
                "errno after the handler: {errno} (EDOM is {})",
                libc::EDOM
            ));
            report(1, &[(pid, 0)]);
        }
        "stop" => {
            let argv = [helper.clone(), CString::new("spin")?];
            let pid = launch(&argv, |pid| {
                JOBS.add(pid);
            })?;
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), None)?;
            say(&format!("job {pid}"));
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let mut pending = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: sigpending fills the set; sigismember reads it only if that succeeded.
            let is_pending = unsafe {
                libc::sigpending(pending.as_mut_ptr()) == 0
                    && libc::sigismember(pending.as_ptr(), libc::SIGCHLD) == 1
            };
            say(&format!("sigchld pending after a stop: {is_pending}"));
            nix::sys::signal::kill(pid, Signal::SIGKILL)?;
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&chld), None)?;
            wait_finished(pid)?;
            report(1, &[(pid, 128 + 9)]);
        }
        other => return Err(format!("unknown scenario {other}").into()),
    }
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    Ok(())
}
