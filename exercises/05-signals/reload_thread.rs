//! A signal-handling thread: SIGHUP reloads the config, SIGUSR1 dumps state, SIGTERM stops.
//!
//! Scenario: a service reads its configuration from a file. An operator edits the file and sends
//! SIGHUP to make it re-read it, SIGUSR1 to ask what it is doing, SIGTERM to stop it. The
//! handling happens on an ordinary thread that iterates over `signal_hook::iterator::Signals`,
//! so it may do anything (read files, lock, allocate): the real handler only writes a byte to a
//! pipe that wakes the thread.
//!
//! Goal: register the signals, spawn the thread, and react to each signal.
//! Chapter: `docs/src/05-signals.md#reload_thread`. Check: `cargo xtask check signals/reload_thread`.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

/// Reads the config file: its content with surrounding whitespace trimmed.
pub fn read_config(path: &std::path::Path) -> io::Result<String> {
    Ok(fs::read_to_string(path)?.trim().to_string())
}

/// Registers SIGHUP, SIGUSR1 and SIGTERM, then spawns the thread that handles them. Returns
/// once the handlers are in place, so a signal sent after it returns is never missed.
///
/// The thread sends one line to `events` per signal:
/// - SIGHUP: re-reads `config_path`; `reloaded: CONFIG`, or when the file cannot be read
///   `reload failed: ERROR; keeping: OLD` (the old config stays in force);
/// - SIGUSR1: `state: config=CONFIG reloads=N` (N counts successful reloads);
/// - SIGTERM: `stopping after N reloads`, and the thread returns N.
///
/// The config is read once before anything is registered; an unreadable file is an error.
///
/// # References
/// `signal(7)`, the self-pipe trick
pub fn start(config_path: PathBuf, events: Sender<String>) -> io::Result<JoinHandle<u32>> {
    // TODO: read the config first (`read_config`), returning its error.
    // TODO: register for SIGHUP, SIGUSR1 and SIGTERM, and spawn a thread that handles them
    // TODO: (`Signals`, `signals.forever()`), sending the lines documented above; on SIGTERM
    // TODO: send the last line and return.
    todo!("register the signals and spawn the handling thread")
}
