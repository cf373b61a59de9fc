//! Many children at once, every line passed on as it comes.
//!
//! Scenario: a deploy tool runs the same script on many hosts (one child each, `ssh host ...`)
//! and shows every line as soon as any host prints it, tagged with the host. Waiting for one
//! child's output to end before reading the next one's shows nothing from the second host while
//! the first is slow, and a child whose pipe nobody reads stops when the pipe is full.
//!
//! Goal: run all the commands at once, read every child's stdout concurrently, send each line
//! the moment it is complete, and return every exit status.
//!
//! Chapter: `docs/src/06-async-processes.md#stream_many`.
//! Check: `cargo xtask check async-processes/stream_many`.

use std::io;
use std::process::ExitStatus;

use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;

/// One line of one child's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The index of the child's command in the list given to [`stream_many`].
    pub child: usize,
    /// The line without its `\n`; bytes that are not UTF-8 become U+FFFD.
    pub text: String,
}

/// Starts every command of `cmds` at once with its stdout piped (stdin and stderr stay as the
/// caller set them) and sends each line any child writes to `lines` as soon as it is complete,
/// tagged with the child's index. A last line without `\n` is sent too.
///
/// Returns the exit statuses in the order of `cmds`, after every child ended and every line was
/// sent. If a command cannot start, returns that error, and the children already started are
/// killed. If the returned future is dropped, every child is killed.
///
/// # References
/// `pipe(7)`
pub async fn stream_many(
    cmds: Vec<Command>,
    lines: UnboundedSender<Line>,
) -> io::Result<Vec<ExitStatus>> {
    // TODO: start every command with its stdout piped, read all the pipes at the same time
    // and send each complete line, then collect the exit statuses in order.
    todo!("stream the lines of many children")
}
