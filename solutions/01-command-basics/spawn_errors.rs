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
    let source = match cmd.spawn() {
        Ok(child) => return Ok(child),
        Err(e) => e,
    };
    let program = cmd.get_program().to_string_lossy().into_owned();
    // The working directory first: chdir happens in the child before exec, and its failure
    // comes back as the same ENOENT (or ENOTDIR, EACCES) a missing program gives. Only a look at
    // the directory itself tells the two apart. Checking *after* the failure, not before the
    // spawn, costs nothing when the spawn succeeds and narrows the race with the directory
    // being created or removed in between; it cannot close it, so this is the likeliest cause.
    if let Some(dir) = cmd.get_current_dir()
        && !dir_is_usable(dir)
    {
        return Err(SpawnError::BadWorkingDir {
            program,
            dir: dir.to_path_buf(),
            source,
        });
    }
    // The raw errno is the precise answer; `ErrorKind` groups several errnos together.
    Err(match source.raw_os_error() {
        Some(libc::ENOENT) => SpawnError::NotFound { program },
        Some(libc::EACCES) => SpawnError::NotExecutable { program },
        _ => SpawnError::Other { program, source },
    })
}

/// Whether `dir` is a directory this process may enter (search permission, `X_OK`).
fn dir_is_usable(dir: &std::path::Path) -> bool {
    // chdir checks permissions with the effective uid and gid; so does eaccess (euidaccess(3),
    // `faccessat` with `AT_EACCESS`), where access(2) would use the real ones, which differ in a
    // set-uid program. Root may search any directory, with either. (A `Command` given
    // `uid`/`gid` changes them in the child before its chdir: this check does not see that.)
    dir.is_dir() && nix::unistd::eaccess(dir, nix::unistd::AccessFlags::X_OK).is_ok()
}
