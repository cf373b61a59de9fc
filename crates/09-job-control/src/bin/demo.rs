//! A narrated tour of sessions, terminals and job control, independent of the exercises.
//!
//! The demo plays three parts, in three processes: the USER holds the master side of a new
//! pseudo-terminal and types on it; a SHELL runs on the slave side as the leader of a new
//! session with that terminal as its controlling terminal; a JOB, started by the shell in a
//! process group of its own, reads the terminal. The user types a line, ^Z, then ^C, and
//! finally closes the terminal; the shell says what the kernel reported each time.
//!
//! Run: `cargo run -p job-control`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, Stdio};

use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg, sigprocmask};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp, getpid, getsid, pause, tcgetpgrp, tcsetpgrp};

fn main() -> ExitCode {
    let role = std::env::args().nth(1);
    let result = match role.as_deref() {
        Some("--shell") => shell(),
        Some("--job") => job(),
        _ => user(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("job-control-demo: {e}");
            ExitCode::from(1)
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// The user: opens the terminal, starts the shell on it, types, and reads the screen.
fn user() -> Res {
    println!("USER  pid {}: opening a pseudo-terminal", getpid());
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname_r(&master)?;
    let slave = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: into_raw_fd hands over a valid fd that nothing else owns.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    println!("USER  the slave side is {name}; the shell will run there");
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--shell")
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave.try_clone()?));
    // SAFETY: signal, setsid and ioctl are async-signal-safe; nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            // A terminal starts its shell with every signal at its default action, even when
            // this demo itself runs with some ignored (under `nohup`, or after a `&`).
            for sig in [
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTSTP,
                libc::SIGTTIN,
                libc::SIGTTOU,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut shell = cmd.spawn()?;
    drop(cmd);
    drop(slave);

    // What the terminal shows, line by line. One fd only: closing it must hang the terminal
    // up, so no thread may hold a copy of it.
    let mut typing = File::from(master);
    let mut pending = String::new();
    let mut screen = |typing: &mut File, until: &str| -> Result<(), Box<dyn std::error::Error>> {
        loop {
            while let Some(i) = pending.find('\n') {
                let line: String = pending.drain(..=i).collect();
                let line = line.trim_end();
                println!("  tty| {line}");
                if line.contains(until) {
                    return Ok(());
                }
            }
            let mut fds = [PollFd::new(typing.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(10_000u16))? == 0 {
                return Err(format!("the terminal never showed {until:?}").into());
            }
            let mut buf = [0u8; 1024];
            let n = typing.read(&mut buf)?;
            if n == 0 {
                return Err("the terminal closed".into());
            }
            pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };

    screen(&mut typing, "reading a line")?;
    println!("USER  types \"hello\" and Enter");
    typing.write_all(b"hello\n")?;
    screen(&mut typing, "reading a line")?;
    println!(
        "USER  types ^Z (byte 0x1a): the line discipline sends SIGTSTP to the foreground group"
    );
    typing.write_all(b"\x1a")?;
    screen(&mut typing, "in the foreground again")?;
    println!(
        "USER  types ^C (byte 0x03): the line discipline sends SIGINT to the foreground group"
    );
    typing.write_all(b"\x03")?;
    screen(&mut typing, "close the terminal")?;
    println!("USER  closes the master side: the kernel hangs up the terminal");
    drop(typing);
    let status = shell.wait()?;
    println!(
        "USER  the shell ended: {}",
        match status.signal() {
            Some(1) =>
                "killed by SIGHUP, sent to the session leader when its terminal hung up".to_string(),
            other => format!("unexpectedly: signal {other:?}, code {:?}", status.code()),
        }
    );
    println!("done: every process reaped, the terminal closed");
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn report(what: WaitStatus) -> String {
    match what {
        WaitStatus::Exited(_, c) => format!("exited with {c}"),
        WaitStatus::Signaled(_, s, _) => format!("terminated by {s}"),
        WaitStatus::Stopped(_, s) => format!("stopped by {s}"),
        WaitStatus::Continued(_) => "continued".to_string(),
        other => format!("{other:?}"),
    }
}

/// Runs `f` with SIGTTOU blocked: tcsetpgrp from a background group is then allowed.
fn quietly<T>(f: impl FnOnce() -> nix::Result<T>) -> nix::Result<T> {
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old))?;
    let r = f();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    r
}

/// The shell: runs one job and reports what waitpid says at each step.
fn shell() -> Res {
    let tty = std::io::stdin();
    let tty = tty.as_fd();
    say(&format!(
        "SHELL pid {} leads session {} and group {}; the terminal's foreground group is {}",
        getpid(),
        getsid(None)?,
        getpgrp(),
        tcgetpgrp(tty)?
    ));
    let tty_fd = tty.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--job").process_group(0);
    // SAFETY: sigprocmask, getpgrp and tcsetpgrp are async-signal-safe; nothing is allocated.
    // The job takes the terminal itself too, before exec, so it never reads it while still in
    // the background.
    unsafe {
        cmd.pre_exec(move || {
            quietly(|| {
                nix::errno::Errno::result(libc::tcsetpgrp(tty_fd, libc::getpgrp())).map(drop)
            })?;
            Ok(())
        });
    }
    let job = cmd.spawn()?;
    let pid = Pid::from_raw(job.id() as i32);
    quietly(|| tcsetpgrp(tty, pid))?;
    say(&format!(
        "SHELL started job {pid} in group {pid} and gave it the terminal"
    ));
    let st = waitpid(pid, Some(WaitPidFlag::WUNTRACED))?;
    say(&format!("SHELL waitpid(WUNTRACED): job {}", report(st)));
    quietly(|| tcsetpgrp(tty, getpgrp()))?;
    say("SHELL took the terminal back (SIGTTOU blocked: the shell is in the background now)");
    killpg(pid, Signal::SIGCONT)?;
    // Ask for both events: a job that continues, reads the terminal and stops again before we
    // look has only its stop left to report (the newer state replaces the continue), and a wait
    // for WCONTINUED alone would then block forever.
    let mut st = waitpid(pid, Some(WaitPidFlag::WCONTINUED | WaitPidFlag::WUNTRACED))?;
    if let WaitStatus::Continued(_) = st {
        say(&format!(
            "SHELL sent SIGCONT without giving the terminal: waitpid(WCONTINUED): job {}",
            report(st)
        ));
        st = waitpid(pid, Some(WaitPidFlag::WUNTRACED))?;
    } else {
        say(
            "SHELL sent SIGCONT without giving the terminal: the job continued and stopped again before waitpid looked",
        );
    }
    say(&format!(
        "SHELL job {} (a background group read the terminal)",
        report(st)
    ));
    quietly(|| tcsetpgrp(tty, pid))?;
    killpg(pid, Signal::SIGCONT)?;
    say("SHELL gave the terminal to the job and continued it: in the foreground again");
    let st = waitpid(pid, Some(WaitPidFlag::WUNTRACED))?;
    say(&format!("SHELL job {}", report(st)));
    quietly(|| tcsetpgrp(tty, getpgrp()))?;
    say("SHELL has no job left; waiting until you close the terminal");
    loop {
        pause();
    }
}

/// The job: reads lines from the terminal and says what it read.
fn job() -> Res {
    say(&format!(
        "JOB   pid {} in group {}; the terminal's foreground group is {}",
        getpid(),
        getpgrp(),
        tcgetpgrp(std::io::stdin())?
    ));
    let mut stdin = std::io::stdin().lock();
    loop {
        say("JOB   reading a line");
        let mut buf = [0u8; 256];
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        say(&format!(
            "JOB   read {:?}",
            String::from_utf8_lossy(&buf[..n]).trim_end()
        ));
    }
}
