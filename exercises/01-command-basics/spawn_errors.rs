//! Exercise `command-basics/spawn_errors`: when a program cannot start, say why.
//!
//! Scenario: a job runner starts commands from a config file. When one does not start, "No such
//! file or directory (os error 2)" is all std gives, and it is misleading: the same ENOENT comes
//! back when the *working directory* is missing. Users need to hear which it was.
//!
//! Goal: `spawn_checked` spawns a command and, when that fails, diagnoses the error into a
//! [`SpawnError`]: the program was not found (ENOENT), it is not executable (EACCES), the
//! working directory is unusable, or something else (the errno is kept).
//!
//! Read: `docs/src/01-command-basics.md#spawn_errors`.
//! Check: `cargo xtask check command-basics/spawn_errors`.

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command};

/// Why a command did not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// ENOENT for the program: no file at that path, or no such name in any `PATH` directory.
    #[error("cannot run {program:?}: not found (no such file, or not in any PATH directory)")]
    NotFound {
        /// The program as given to `Command::new`.
        program: String,
    },
    /// EACCES for the program: it exists but has no execute permission, or is a directory.
    #[error("cannot run {program:?}: not executable (no execute permission, or a directory)")]
    NotExecutable {
        /// The program as given to `Command::new`.
        program: String,
    },
    /// The working directory set with `current_dir` does not exist, is not a directory, or
    /// cannot be entered. The program itself may be fine.
    #[error("cannot run {program:?}: bad working directory {dir:?}: {source}")]
    BadWorkingDir {
        /// The program as given to `Command::new`.
        program: String,
        /// The working directory that was asked for.
        dir: PathBuf,
        /// The error from spawning.
        #[source]
        source: io::Error,
    },
    /// Anything else; `source.raw_os_error()` has the errno.
    #[error("cannot run {program:?}: {source}")]
    Other {
        /// The program as given to `Command::new`.
        program: String,
        /// The error from spawning.
        #[source]
        source: io::Error,
    },
}

/// Spawns `cmd`; on failure, says why it did not start.
///
/// # References
/// `execve(2)` (ERRORS), `chdir(2)`, `posix_spawn(3)`.
pub fn spawn_checked(cmd: &mut Command) -> Result<Child, SpawnError> {
    // TODO: spawn; on success return the child.
    // TODO: on failure, decide which `SpawnError` it is, from the error and from what the
    // command was asked to do (the errno alone can name the wrong culprit).
    todo!("spawn, and diagnose a failure")
}
