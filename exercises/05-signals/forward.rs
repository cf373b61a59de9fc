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
    // TODO: register `Signals` for SIGINT and SIGTERM first (why before the spawn?).
    // TODO: spawn the child with `.process_group(0)`; its pid is its group id.
    // TODO: a thread loops over `signals.forever()` and calls `killpg(pgid, sig)`.
    // TODO: wait for the child, `signals.handle().close()` to end the thread, join it.
    todo!("run the child in its own group and forward signals to it")
}
