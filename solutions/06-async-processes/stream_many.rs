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
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

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
    let mut children = Vec::with_capacity(cmds.len());
    for mut cmd in cmds {
        // kill_on_drop: an early return (the `?` below) or a dropped future drops the
        // children started so far, and so kills them.
        cmd.stdout(Stdio::piped()).kill_on_drop(true);
        children.push(cmd.spawn()?);
    }
    // One task per child, all on the same runtime: each reads its own pipe, so a slow or
    // silent child never holds up the lines of another, and no pipe fills up unread. The
    // JoinSet aborts the tasks (dropping their children) if this future is dropped.
    let mut tasks = JoinSet::new();
    for (index, mut child) in children.into_iter().enumerate() {
        let stdout = child.stdout.take().expect("stdout was piped above");
        let lines = lines.clone();
        tasks.spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            // read_until, not lines(): a line that is not UTF-8 must not end the stream.
            while reader.read_until(b'\n', &mut buf).await? > 0 {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                // A receiver that hung up only means nobody wants the lines any more; the
                // child is still read to its end and waited for.
                let _ = lines.send(Line { child: index, text });
                buf.clear();
            }
            let status = child.wait().await?;
            Ok::<_, io::Error>((index, status))
        });
    }
    let mut statuses = vec![None; tasks.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, status) = joined.map_err(io::Error::other)??;
        statuses[index] = Some(status);
    }
    Ok(statuses
        .into_iter()
        .map(|s| s.expect("every task reported its child's status"))
        .collect())
}
