//! Forwarding: a wrapper runs a child in its own process group and passes SIGINT and SIGTERM on
//! to the whole group, then exits with the child's status.
//!
//! Scenario: a launcher (like `timeout`, `sudo` or a container's init) starts a program that may
//! start programs of its own. Ctrl-C in a terminal reaches the whole foreground group, but a
//! `kill PID` reaches only the wrapper: unless the wrapper forwards it, the program and its
//! children keep running. Putting the child in its own group lets one `killpg` reach them all,
//! and keeps signals meant for the wrapper's group away from the child.
//!
//! Goal: start the child in a new group, forward SIGINT/SIGTERM to it, return its exit status
//! (the `forward` binary then exits the way a shell reports it: `128 + N` when signal N killed
//! the child).
//! Chapter: `docs/src/05-signals.md#forward`. Check: `cargo xtask check signals/forward`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Runs `program` with `args` in a new process group, forwards every SIGINT and SIGTERM this
/// process receives to that whole group, and returns the child's exit status.
///
/// # References
/// `setpgid(2)`, `killpg(3)`, `signal(7)`
pub fn run_forwarding(program: &str, args: &[String]) -> io::Result<ExitStatus> {
    // Register before spawning: a signal that arrives between the spawn and the registration
    // would otherwise kill the wrapper with its default action and orphan the child.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let mut child = Command::new(program)
        .args(args)
        // 0: the child's group id is its own pid. It is set in the child before exec, so there
        // is no moment in which the program runs in our group.
        .process_group(0)
        .spawn()?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).map_err(io::Error::other)?);
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            let Ok(sig) = Signal::try_from(sig) else {
                continue;
            };
            // The whole group: the child and everything it started that stayed in its group.
            // ESRCH (the group is already gone) is harmless: the child is exiting anyway.
            let _ = killpg(pgid, sig);
        }
    });
    let status = child.wait();
    // Unblock `forever()` so the thread ends, then join it before we return.
    handle.close();
    let _ = forwarder.join();
    status
}
