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
    let mut config = read_config(&config_path)?;
    // Registering here, on the caller's thread, means the handlers exist when we return. Were
    // they registered inside the new thread, a signal sent right after `start` returned could
    // still find the default disposition and kill the process (SIGHUP, SIGUSR1 and SIGTERM
    // all terminate by default).
    let mut signals = Signals::new([SIGHUP, SIGUSR1, SIGTERM])?;
    let handle = std::thread::spawn(move || {
        let mut reloads = 0;
        // `forever` blocks until the handler has written to the pipe, then yields each signal
        // that arrived. Two SIGHUPs that arrive before we look are seen as one: standard
        // signals coalesce, which is fine for "reload" (one reload reads the latest file).
        for sig in signals.forever() {
            let line = match sig {
                SIGHUP => match read_config(&config_path) {
                    Ok(new) => {
                        config = new;
                        reloads += 1;
                        format!("reloaded: {config}")
                    }
                    Err(e) => format!("reload failed: {e}; keeping: {config}"),
                },
                SIGUSR1 => format!("state: config={config} reloads={reloads}"),
                SIGTERM => {
                    let _ = events.send(format!("stopping after {reloads} reloads"));
                    break;
                }
                _ => continue,
            };
            // The receiver gone means nobody listens any more: stop quietly.
            if events.send(line).is_err() {
                break;
            }
        }
        reloads
    });
    Ok(handle)
}
