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
use std::process::ExitCode;

/// The usage line printed on a usage error.
pub const USAGE: &str = "usage: logcap [--log FILE] -- COMMAND [ARGS...]";

/// The log file used when `--log` is not given.
pub const DEFAULT_LOG: &str = "logcap.log";

/// Runs logcap with its command-line arguments (program name excluded) and returns its exit
/// status.
pub fn main(args: Vec<OsString>) -> ExitCode {
    // TODO: parse the arguments (usage error: print `USAGE`, exit 2); open the log in append
    // mode; spawn the command with stdout and stderr piped (cannot start: 127 or 126); echo
    // and log both streams, line by line, as they come; wait; exit with the command's code, or
    // 128+N for a signal N.
    todo!("the log capture tool")
}
