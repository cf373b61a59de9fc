//! Exercise `command-basics/capture_output`: capture what a program writes, as text.
//!
//! Scenario: a tool runs `git`, `uname` and friends and uses what they print. It needs both
//! streams kept apart (stdout is the answer, stderr explains a failure), and it must decide what
//! to do with bytes that are not UTF-8: a program's output is bytes, not text.
//!
//! Goal: `capture` runs a program with both streams captured and turns them into text *lossily*
//! (invalid bytes become U+FFFD, nothing fails). `stdout_text` is the strict version for output
//! you are going to parse: it fails with a [`TextError`] that says why: the program could not
//! start, it failed (with its stderr), or it wrote invalid UTF-8 (and where).
//!
//! Read: `docs/src/01-command-basics.md#capture_output`.
//! Check: `cargo xtask check command-basics/capture_output`.

use std::io;
use std::process::{Command, ExitStatus};

/// What a finished program left behind.
#[derive(Debug)]
pub struct Captured {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout, invalid UTF-8 replaced by U+FFFD.
    pub stdout: String,
    /// Everything it wrote to stderr, invalid UTF-8 replaced by U+FFFD.
    pub stderr: String,
}

/// Why [`stdout_text`] could not give the program's output as text.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The program never started (not found, not executable, ...).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program as given.
        program: String,
        /// The error from spawning it.
        #[source]
        source: io::Error,
    },
    /// It ran but did not succeed.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program as given.
        program: String,
        /// How it ended.
        status: ExitStatus,
        /// What it wrote to stderr (lossy), which usually says why.
        stderr: String,
    },
    /// It succeeded but its stdout is not valid UTF-8.
    #[error("{program} wrote invalid UTF-8 to stdout after {valid_up_to} valid bytes")]
    NotUtf8 {
        /// The program as given.
        program: String,
        /// How many bytes at the start of stdout are valid UTF-8.
        valid_up_to: usize,
    },
}

/// Runs `program` with `args`, waits for it, and returns its status and both streams as text.
///
/// A program that fails is not an error here: its status says so. Only failing to run it is.
pub fn capture(program: &str, args: &[&str]) -> io::Result<Captured> {
    // `output()` pipes stdout and stderr, gives the child an empty stdin (/dev/null), reads both
    // pipes *at the same time* while the child runs, then waits. Reading one pipe to the end
    // before the other would deadlock once the child fills the other pipe (64 KiB on Linux).
    let out = Command::new(program).args(args).output()?;
    Ok(Captured {
        status: out.status,
        // Lossy: a log or a message for a human is still useful with a few U+FFFD in it.
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `program` with `args` and returns its stdout as text, strictly.
///
/// Fails when the program cannot start, when it does not exit successfully, or when its stdout
/// is not valid UTF-8.
pub fn stdout_text(program: &str, args: &[&str]) -> Result<String, TextError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| TextError::Spawn {
            program: program.to_string(),
            source,
        })?;
    // A failed program's stdout is usually partial or empty: report the failure and its stderr
    // instead of handing back half an answer.
    if !out.status.success() {
        return Err(TextError::Failed {
            program: program.to_string(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    // Strict: output we are going to parse must not be silently altered.
    String::from_utf8(out.stdout).map_err(|e| TextError::NotUtf8 {
        program: program.to_string(),
        valid_up_to: e.utf8_error().valid_up_to(),
    })
}
