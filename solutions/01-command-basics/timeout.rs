//! Exercise `command-basics/timeout`: give a command a deadline, and never leave a zombie.
//!
//! Scenario: a CI step runs a test suite that sometimes hangs. The step must wait at most a
//! given time, then kill the command, and report "timed out" instead of hanging forever. When a
//! process ends, the kernel keeps its exit status in the process table until the parent
//! collects it with `wait`: until then it is a *zombie* (state `Z` in `/proc/PID/stat`). A
//! killed child must be waited for too.
//!
//! Goal: `run_with_timeout` spawns the command, polls it with `try_wait` until it exits or the
//! limit passes, and on overrun kills it (SIGKILL) and reaps it. Whatever happens, no child of
//! ours is left running or as a zombie when it returns.
//!
//! Read: `docs/src/01-command-basics.md#timeout`.
//! Check: `cargo xtask check command-basics/timeout`.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// How a command run with a time limit ended.
#[derive(Debug)]
pub enum Finished {
    /// It ended by itself before the limit (with an exit code or by a signal).
    Exited(ExitStatus),
    /// It was still running at the limit, so it was killed and reaped.
    TimedOut,
}

/// Runs `cmd` for at most `limit`; on overrun kills it with SIGKILL and reaps it.
///
/// # References
/// `waitpid(2)` with `WNOHANG`, `kill(2)`.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> io::Result<Finished> {
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + limit;
    match poll_until(&mut child, deadline) {
        Ok(Some(status)) => Ok(Finished::Exited(status)),
        Ok(None) => {
            // SIGKILL cannot be caught or ignored, so the child will die. `Child::kill` is
            // std's only signal (for SIGTERM first, see nix::sys::signal::kill).
            child.kill()?;
            // Killing is not enough: the dead child stays a zombie until it is waited for.
            child.wait()?;
            Ok(Finished::TimedOut)
        }
        Err(e) => {
            // Even on an unexpected error, leave nothing behind.
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

/// Polls `child` until it exits (`Some(status)`, reaped) or `deadline` passes (`None`).
fn poll_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    // Start with short pauses so a quick command returns quickly, then back off so a long one
    // does not burn CPU. The kernel offers better wake-ups (SIGCHLD, a pidfd), see the chapter.
    let mut pause = Duration::from_millis(1);
    loop {
        // try_wait is waitpid(pid, WNOHANG): it reaps the child if it has exited, and returns
        // at once with None if it is still running.
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
