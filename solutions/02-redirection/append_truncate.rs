//! Append or truncate: the two ways `>>` and `>` open a file for a child.
//!
//! Scenario: a job runner writes each job's output to a file. A fresh report must replace the
//! old one completely; a log must keep everything earlier runs wrote, even when several jobs
//! write to it at the same time.
//!
//! Goal: open the file with the right flags (`O_TRUNC` or `O_APPEND`, and `O_CREAT` in both
//! cases) and hand it to the child as its stdout.
//!
//! Chapter: `docs/src/02-redirection.md#append_truncate`.
//! Check: `cargo xtask check redirection/append_truncate`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// How to open the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Like the shell's `>`: create the file, or cut an existing one to length zero.
    Truncate,
    /// Like the shell's `>>`: create the file, or keep its content and add at its end.
    Append,
}

/// Opens `path` for writing in `mode`, creating it when it does not exist.
///
/// # References
/// `open(2)` (`O_CREAT`, `O_TRUNC`, `O_APPEND`)
pub fn open_output(path: &Path, mode: WriteMode) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true);
    match mode {
        // Without `truncate(true)` an old, longer file would keep its tail after the new text.
        WriteMode::Truncate => options.write(true).truncate(true),
        // `append(true)` sets O_APPEND: the kernel moves the offset to the end of the file on
        // every write, atomically, so writers that opened the file separately never overwrite
        // each other. Seeking to the end once at open time would not give that.
        WriteMode::Append => options.append(true),
    };
    options.open(path)
}

/// Runs `cmd` with its stdout going to `path`, opened in `mode`; stdin and stderr are
/// inherited. Returns the exit status.
pub fn run_to_file(cmd: &mut Command, path: &Path, mode: WriteMode) -> io::Result<ExitStatus> {
    let file = open_output(path, mode)?;
    // The child gets the same open file description, so its flags (O_APPEND) come with it.
    cmd.stdout(Stdio::from(file)).status()
}
