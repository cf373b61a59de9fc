//! Small programs that the job-control tests run as jobs, one per mode. Each says what it does
//! on stdout, one line at a time, so that a test can wait for the line instead of sleeping.
//!
//! - `probe`: prints `probe pid=P pgid=G sid=S fg=F tty=0,1,2` (F is the foreground process
//!   group of its terminal, -1 without one; `tty` lists which of fds 0, 1, 2 are terminals).
//! - `spin`: prints `spin ready PID` and waits in `pause()` until a signal ends it.
//! - `stop-self`: prints `stopping PID`, stops its whole process group with SIGTSTP, and after a
//!   SIGCONT prints `continued PID` and exits 0.
//! - `fork-spin`: forks a second process into its own group; prints `fork-spin PID CHILD`; the
//!   child waits in `pause()`, the parent waits for the child and exits when it is gone; on
//!   SIGTERM the parent kills and reaps its child, then exits.
//! - `read`: prints `reading PID`, reads one line of stdin and prints `read: LINE`.
//! - `stop-loop`: stops itself with SIGSTOP, and again each time it is continued, until killed.
//! - `exit N`: exits with status N at once.
//! - `kill-self`: kills itself with SIGKILL at once.
//! - `burn MS`: prints `burning PID`, spends MS milliseconds of CPU time, prints `burnt MS ms`
//!   and exits 0.
//! - `argv0`: prints `argv0 ARGV0`, its `argv[0]` as it was given.
//! - `sigmask`: prints `sigblk HEX`, the mask of blocked signals it started with (from
//!   /proc/self/status).
//! - `bg-read`: forks a child into a new process group that reads stdin (a background job
//!   reading the terminal), waits for it with WUNTRACED and prints how it stopped or ended.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, killpg, sigaction};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpgrp, getpid, getsid, pause, setpgid, tcgetpgrp};

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("probe") => probe(),
        Some("spin") => {
            say(&format!("spin ready {}", getpid()));
            loop {
                pause();
            }
        }
        Some("stop-self") => {
            say(&format!("stopping {}", getpid()));
            // Pid 0: this process's whole group, as a job that stops itself does.
            if let Err(e) = kill(Pid::from_raw(0), Signal::SIGTSTP) {
                eprintln!("job-helper: kill: {e}");
                return ExitCode::from(2);
            }
            say(&format!("continued {}", getpid()));
            ExitCode::SUCCESS
        }
        Some("fork-spin") => fork_spin(),
        Some("stop-loop") => loop {
            let _ = kill(getpid(), Signal::SIGSTOP);
        },
        Some("read") => {
            say(&format!("reading {}", getpid()));
            let mut line = String::new();
            match std::io::stdin().lock().read_line(&mut line) {
                Ok(_) => {
                    say(&format!("read: {}", line.trim_end()));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    say(&format!("read error: {e}"));
                    ExitCode::from(1)
                }
            }
        }
        Some("exit") => {
            let code: u8 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            ExitCode::from(code)
        }
        Some("kill-self") => {
            let _ = kill(getpid(), Signal::SIGKILL);
            // Not reached: SIGKILL is delivered before kill(2) returns to this process.
            ExitCode::from(3)
        }
        Some("bg-read") => bg_read(),
        Some("bg-exec") => bg_exec(&args[1..]),
        Some("burn") => {
            // Spends MS milliseconds of CPU time (not wall time) in a loop, then says so.
            let ms: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
            let cpu = || {
                use nix::sys::resource::{UsageWho, getrusage};
                use nix::sys::time::TimeValLike;
                getrusage(UsageWho::RUSAGE_SELF)
                    .map(|u| (u.user_time() + u.system_time()).num_milliseconds() as u64)
                    .unwrap_or(u64::MAX)
            };
            let start = cpu();
            say(&format!("burning {}", getpid()));
            let mut x = 0u64;
            while cpu().saturating_sub(start) < ms {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            say(&format!("burnt {ms} ms"));
            ExitCode::SUCCESS
        }
        Some("argv0") => {
            say(&format!(
                "argv0 {}",
                std::env::args().next().unwrap_or_default()
            ));
            ExitCode::SUCCESS
        }
        Some("sigmask") => {
            // The blocked-signal mask this program started with, as the kernel shows it.
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let blk = status
                .lines()
                .find_map(|l| l.strip_prefix("SigBlk:"))
                .unwrap_or("?")
                .trim()
                .to_string();
            say(&format!("sigblk {blk}"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: job-helper probe|spin|stop-self|fork-spin|read|exit N|bg-read|bg-exec PROGRAM...|sigmask|argv0|burn MS"
            );
            ExitCode::from(2)
        }
    }
}

fn probe() -> ExitCode {
    let fg = tcgetpgrp(std::io::stdin()).map_or(-1, Pid::as_raw);
    let ttys: Vec<String> = (0..3)
        // SAFETY: isatty only inspects the descriptor number.
        .filter(|&fd| unsafe { libc::isatty(fd) } == 1)
        .map(|fd| fd.to_string())
        .collect();
    let sid = getsid(None).map_or(-1, Pid::as_raw);
    say(&format!(
        "probe pid={} pgid={} sid={sid} fg={fg} tty={}",
        getpid(),
        getpgrp(),
        ttys.join(",")
    ));
    ExitCode::SUCCESS
}

extern "C" fn on_term(_: libc::c_int) {}

fn fork_spin() -> ExitCode {
    // SAFETY: this program has one thread; the child only resets SIGTERM and calls pause()
    // (async-signal-safe).
    match unsafe { fork() } {
        Ok(ForkResult::Child) => loop {
            pause();
        },
        Ok(ForkResult::Parent { child }) => {
            // SIGTERM interrupts the wait (no SA_RESTART): the parent then kills and reaps its
            // child before it goes, so that no orphan is left a zombie. Installed after fork,
            // so the child keeps SIGTERM's default action.
            let action = SigAction::new(
                SigHandler::Handler(on_term),
                SaFlags::empty(),
                SigSet::empty(),
            );
            // SAFETY: the handler does nothing, which is async-signal-safe.
            let _ = unsafe { sigaction(Signal::SIGTERM, &action) };
            say(&format!("fork-spin {} {child}", getpid()));
            loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => {
                        let _ = kill(child, Signal::SIGKILL);
                    }
                    _ => return ExitCode::SUCCESS,
                }
            }
        }
        Err(e) => {
            eprintln!("job-helper: fork: {e}");
            ExitCode::from(2)
        }
    }
}

fn bg_read() -> ExitCode {
    // SAFETY: this program has one thread; the child calls setpgid and read, then _exit.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let mut buf = [0u8; 64];
            // SAFETY: reads into a local buffer; _exit ends the child without running Rust code.
            unsafe {
                libc::read(0, buf.as_mut_ptr().cast(), buf.len());
                libc::_exit(0)
            }
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = setpgid(child, child);
            say(&format!("background reader {child} started"));
            let status = waitpid(child, Some(WaitPidFlag::WUNTRACED));
            match status {
                Ok(WaitStatus::Stopped(_, sig)) => {
                    say(&format!("background reader stopped by {sig}"))
                }
                other => say(&format!("background reader: {other:?}")),
            }
            let _ = killpg(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("job-helper: fork: {e}");
            ExitCode::from(2)
        }
    }
}

fn bg_exec(argv: &[String]) -> ExitCode {
    let Ok(argv) = argv
        .iter()
        .map(|a| std::ffi::CString::new(a.as_str()))
        .collect::<Result<Vec<_>, _>>()
    else {
        eprintln!("job-helper: an argument holds a NUL byte");
        return ExitCode::from(2);
    };
    if argv.is_empty() {
        eprintln!("usage: job-helper bg-exec PROGRAM ARGS...");
        return ExitCode::from(2);
    }
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: this program has one thread; the child calls setpgid, execv and _exit only, with
    // the pointers built above.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
            // SAFETY: NUL-terminated strings alive until exec; the array ends with null.
            unsafe {
                libc::execv(pointers[0], pointers.as_ptr());
                libc::_exit(127)
            }
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = setpgid(child, child);
            loop {
                match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
                    Ok(WaitStatus::Stopped(_, sig)) => {
                        say(&format!("background program stopped by {sig}"));
                        // `fg`: the terminal first (we are its foreground group), then SIGCONT.
                        if let Err(e) = nix::unistd::tcsetpgrp(std::io::stdin(), child) {
                            say(&format!("tcsetpgrp: {e}"));
                        }
                        let _ = killpg(child, Signal::SIGCONT);
                    }
                    Ok(WaitStatus::Exited(_, code)) => {
                        say(&format!("background program exited {code}"));
                        return ExitCode::SUCCESS;
                    }
                    Ok(other) => {
                        say(&format!("background program: {other:?}"));
                        return ExitCode::SUCCESS;
                    }
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        say(&format!("waitpid: {e}"));
                        return ExitCode::from(1);
                    }
                }
            }
        }
        Err(e) => {
            eprintln!("job-helper: fork: {e}");
            ExitCode::from(2)
        }
    }
}
