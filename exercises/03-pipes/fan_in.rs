//! Many writers, one pipe: EOF comes only when every write end is closed.
//!
//! Scenario: a build tool runs several jobs and shows their output in one stream, stdout and
//! stderr together, the way `(job1; job2) 2>&1 | less` does. All the jobs write into one pipe;
//! the parent reads it until EOF.
//!
//! Goal: implement [`fan_in`]. Create one pipe with `std::io::pipe()`, give every command the
//! write end as both stdout and stderr, read the read end to EOF, then wait for every command,
//! and return once all of them have finished: never hang.
//!
//! Chapter: `docs/src/03-pipes.md#fan_in`. Check it with `cargo xtask check pipes/fan_in`.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus};

/// Everything the commands wrote, and how each one ended.
#[derive(Debug)]
pub struct FanInOutput {
    /// The bytes all commands wrote to their stdout and stderr, interleaved as they arrived.
    pub output: Vec<u8>,
    /// Each command's status, in the order of the input.
    pub statuses: Vec<ExitStatus>,
}

/// Runs every command at once with stdout and stderr going into one shared pipe, and returns
/// what came out of it once all of them are done.
///
/// # References
/// `pipe(7)` ("If all file descriptors referring to the write end of a pipe have been closed,
/// then an attempt to read(2) from the pipe will see end-of-file").
pub fn fan_in(commands: Vec<Command>) -> io::Result<FanInOutput> {
    // TODO: create the pipe with `io::pipe()`.
    // TODO: for each command, give it the write end as stdout and as stderr, and spawn it.
    // TODO: read the read end to EOF, then wait every child; return output and statuses.
    todo!("run the commands into one pipe")
}
