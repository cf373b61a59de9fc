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
    let term = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: signal-hook runs the actions of one signal in registration order. The
        // conditional shutdown comes first, so it sees the flag as the previous signal left it:
        // on the first signal the flag is still false (no exit), then the flag is set; on the
        // second it is already true and the process exits. Both actions only touch an atomic or
        // call `_exit`, which is all a handler may do (async-signal-safe work only).
        flag::register_conditional_shutdown(sig, FORCED_EXIT_STATUS, Arc::clone(&term))?;
        flag::register(sig, Arc::clone(&term))?;
    }
    Ok(term)
}

/// Calls `step` until `flag` is set and returns how many steps ran.
///
/// The flag is checked before every step, so a signal that arrives during a step lets that step
/// finish and then ends the loop: no step is ever cut in half.
pub fn run_until_shutdown(flag: &AtomicBool, mut step: impl FnMut()) -> u64 {
    let mut steps = 0;
    // SeqCst pairs with the store signal-hook makes in the handler; a handler runs on this very
    // thread or another, and the atomic is what makes its write visible here.
    while !flag.load(Ordering::SeqCst) {
        step();
        steps += 1;
    }
    steps
}
