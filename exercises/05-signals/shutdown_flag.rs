//! A shutdown flag: SIGINT or SIGTERM sets an `AtomicBool`, and the work loop notices it.
//!
//! Scenario: a long-running worker must stop cleanly on Ctrl-C (SIGINT) or `kill` (SIGTERM):
//! finish the step it is on, then return, instead of dying mid-write. A second signal while it
//! is still cleaning up means "stop now": the process exits at once with status 1.
//!
//! Goal: register the flag with `signal_hook::flag`, and write the loop that checks it.
//! Chapter: `docs/src/05-signals.md#shutdown_flag`. Check: `cargo xtask check signals/shutdown_flag`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// The status the process exits with when a second signal arrives during the cleanup.
pub const FORCED_EXIT_STATUS: i32 = 1;

/// Installs handlers for SIGINT and SIGTERM and returns the flag they set.
///
/// The first signal only sets the flag; a second one, arriving while the flag is already set,
/// terminates the process at once with [`FORCED_EXIT_STATUS`].
///
/// # References
/// `sigaction(2)`, `signal-safety(7)`
pub fn install_shutdown_flag() -> io::Result<Arc<AtomicBool>> {
    // TODO: create the flag; make SIGINT and SIGTERM set it, and a second one, arriving while
    // TODO: the flag is already set, exit at once with FORCED_EXIT_STATUS (`signal_hook::flag`).
    todo!("register SIGINT and SIGTERM handlers that set a flag")
}

/// Calls `step` until `flag` is set and returns how many steps ran.
///
/// The flag is checked before every step, so a signal that arrives during a step lets that step
/// finish and then ends the loop: no step is ever cut in half.
pub fn run_until_shutdown(flag: &AtomicBool, step: impl FnMut()) -> u64 {
    // TODO: loop: check the flag (Ordering::SeqCst), run one step, count it.
    todo!("run steps until the flag is set")
}
