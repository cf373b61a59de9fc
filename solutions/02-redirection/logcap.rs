//! logcap, the log capture tool: run a command, echo its output live, and keep every line in a
//! log with its stream and the time it came.
//!
//! Usage: `logcap [--log FILE] -- COMMAND [ARGS...]`
//!
//! - The command runs with logcap's stdin; its stdout and stderr are echoed, byte for byte and
//!   line by line as they arrive, to logcap's own stdout and stderr.
//! - Every line is appended to the log as `<RFC 3339 time> <out|err> <line>`: the bytes of the
//!   line as the command wrote them (also when they are not UTF-8), then `\n`. A last line
//!   without a final newline is logged too. The lines of each stream keep their order.
//! - The log file is `FILE`, or `logcap.log` in the current directory without `--log`. It is
//!   opened in append mode (created when missing): earlier runs are kept.
//! - Exit status: the command's exit code, or 128+N when a signal N killed it. A command that
//!   cannot start: a one-line error on stderr and 127 (not found) or 126 (any other reason,
//!   such as not executable). A usage error: the usage line on stderr and 2. A log file that
//!   cannot be opened: a one-line error and 1.
//!
//! Try it: `cargo run -p redirection --bin logcap -- --log /tmp/x.log -- sh -c 'echo hi; ls /nope'`.
//!
//! Chapter: `docs/src/02-redirection.md#logcap`.
//! Check: `cargo xtask check redirection/logcap`.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::SystemTime;

/// The usage line printed on a usage error.
pub const USAGE: &str = "usage: logcap [--log FILE] -- COMMAND [ARGS...]";

/// The log file used when `--log` is not given.
pub const DEFAULT_LOG: &str = "logcap.log";

/// Runs logcap with its command-line arguments (program name excluded) and returns its exit
/// status.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let Some((log_path, command)) = parse_args(args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let log = match OpenOptions::new().create(true).append(true).open(&log_path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("logcap: cannot open log {}: {e}", log_path.display());
            return ExitCode::from(1);
        }
    };
    match run(log, &command) {
        Ok(status) => exit_code_of(status),
        Err(RunError::Spawn(e)) => {
            eprintln!("logcap: cannot run {}: {e}", command[0].to_string_lossy());
            // The shell's convention: 127 when the command does not exist, 126 when it exists
            // but cannot be executed (no permission, a directory, a bad format).
            ExitCode::from(if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            })
        }
        Err(RunError::Io(e)) => {
            eprintln!("logcap: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--log FILE -- COMMAND ARGS...` into the log path and the command (never empty), or `None`
/// on a usage error.
fn parse_args(args: Vec<OsString>) -> Option<(PathBuf, Vec<OsString>)> {
    let mut args = args.into_iter();
    let mut log = PathBuf::from(DEFAULT_LOG);
    let mut next = args.next()?;
    if next == "--log" {
        log = PathBuf::from(args.next()?);
        next = args.next()?;
    }
    if next != "--" {
        return None;
    }
    let command: Vec<OsString> = args.collect();
    if command.is_empty() {
        return None;
    }
    Some((log, command))
}

/// Why a run failed.
enum RunError {
    /// The command could not be started.
    Spawn(io::Error),
    /// Reading its output or writing the log failed.
    Io(io::Error),
}

/// Runs `command`, echoing and logging its output, and returns its exit status.
fn run(log: File, command: &[OsString]) -> Result<ExitStatus, RunError> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(RunError::Spawn)?;
    // Both reader threads write to the log; the lock makes each line one uninterrupted write,
    // so lines of the two streams never mix inside a line.
    let log = Arc::new(Mutex::new(log));
    // One thread per stream: reading one pipe to its end before the other would let the other
    // fill up (64 KiB) and block the child for good.
    let out = child
        .stdout
        .take()
        .map(|p| spawn_copier(p, "out", io::stdout(), Arc::clone(&log)));
    let err = child
        .stderr
        .take()
        .map(|p| spawn_copier(p, "err", io::stderr(), Arc::clone(&log)));
    let mut copied = Ok(());
    for handle in [out, err].into_iter().flatten() {
        let done = handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a copier thread panicked")));
        copied = copied.and(done);
    }
    // Reap the child whatever happened to the copy, so that no zombie is left behind.
    let status = child.wait().map_err(RunError::Io)?;
    copied.map_err(RunError::Io)?;
    Ok(status)
}

/// Copies `pipe` line by line to `echo` and to `log` (tagged with `tag`) on a new thread.
fn spawn_copier(
    pipe: impl Read + Send + 'static,
    tag: &'static str,
    mut echo: impl Write + Send + 'static,
    log: Arc<Mutex<File>>,
) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 * 1024, pipe);
        let mut line = Vec::new();
        let mut record = Vec::new();
        loop {
            line.clear();
            // Bytes, not `String`: output that is not UTF-8 is copied as it is, never lost.
            // At EOF a last line without `\n` is returned too, and so it is kept.
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            // Echo exactly what the command wrote (no newline added), now. A closed stdout of
            // ours must not stop the log, so an echo error is ignored.
            let _ = echo.write_all(&line).and_then(|()| echo.flush());
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            record.clear();
            let at = humantime::format_rfc3339_micros(SystemTime::now());
            write!(record, "{at} {tag} ")?;
            record.extend_from_slice(text);
            record.push(b'\n');
            // The lock is only poisoned if the other copier panicked while holding it; the
            // file itself is still fine to write.
            let mut file = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            file.write_all(&record)?;
        }
    })
}

/// The exit code that reports `status`: its code, or 128+N for a signal N (as shells do).
fn exit_code_of(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        // Exit codes are 0..=255 on Unix, so the conversion cannot fail.
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(255)),
        _ => ExitCode::from(1),
    }
}
