//! Many writers, one pipe: EOF comes only when every write end is closed.
//!
//! Scenario: a build tool runs several jobs and shows their output in one stream, stdout and
//! stderr together, the way `(job1; job2) 2>&1 | less` does. All the jobs write into one pipe;
//! the parent reads it until EOF.
//!
//! Goal: implement [`fan_in`]. Create one pipe with `std::io::pipe()`, give every command a copy
//! of the write end as both stdout and stderr, read the read end to EOF, then wait for every
//! command. The catch: the reader sees EOF only when NO process holds a write end any more,
//! including the parent itself. Keep one open and `fan_in` hangs forever.
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
    let (mut reader, writer) = io::pipe()?;
    let mut children: Vec<Child> = Vec::with_capacity(commands.len());
    for mut command in commands {
        // Each child needs its own copies (dup) of the write end. They all point to the one
        // open file description of the write end, which stays open, and keeps EOF away, until
        // every one of them is closed.
        let started = writer
            .try_clone()
            .and_then(|out| Ok((out, writer.try_clone()?)))
            .and_then(|(out, err)| command.stdout(out).stderr(err).spawn());
        // Dropping `command` here closes the parent's copies it held.
        drop(command);
        match started {
            Ok(child) => children.push(child),
            Err(e) => {
                for mut child in children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                return Err(e);
            }
        }
    }
    // The parent's own write end must go before reading: while it is open the pipe still has a
    // writer, and read() waits for it forever instead of returning EOF.
    drop(writer);

    let mut output = Vec::new();
    let read = reader.read_to_end(&mut output);
    // Reap every child even when reading failed, so none is left a zombie.
    let mut statuses = Vec::with_capacity(children.len());
    let mut wait_error = None;
    for mut child in children {
        match child.wait() {
            Ok(status) => statuses.push(status),
            Err(e) => {
                wait_error.get_or_insert(e);
            }
        }
    }
    read?;
    if let Some(e) = wait_error {
        return Err(e);
    }
    Ok(FanInOutput { output, statuses })
}
