//! Practice `daemon/counterd`: a counter service and its control CLI, classic and new-style.
//!
//! Scenario: `counterd` is a small service worth daemonizing: a Unix-socket server that answers
//! each connection with the next number of a counter it keeps in a state file, so the count
//! survives restarts. It runs either the classic way (`counterd start` detaches, and returns once
//! the daemon serves) or the new way (`counterd run` stays in the foreground for a service
//! manager, takes a passed socket and reports readiness). The same binary controls it.
//!
//! ```text
//! counterd start|stop|status|reload|run [--pidfile P] [--socket S] [--log L] [--state F]
//!                                       [--config C]
//! ```
//! Defaults live in `$XDG_RUNTIME_DIR/counterd/`, or in `$TMPDIR/counterd-UID/` (`/tmp` without
//! `TMPDIR`), created 0700 and refused unless it is a directory (not a symlink) owned by us with
//! no permission for group or others. Relative paths name files in the directory counterd was
//! started from, although the daemon works from `/`. `--log` takes a file path, `syslog` (for
//! `/dev/log`) or `syslog:PATH`; without it, `start` logs to `counterd.log` beside the pid file and
//! `run` to stderr (the service manager collects it). The config file has `step = N` lines (the
//! counter's increment, 1 <= N <= u64::MAX, 1 by default; blank lines and `#` comments are
//! ignored, an error names its line); `reload` re-reads it and reopens the log file. A state file
//! that cannot be read or parsed makes start-up fail and is left as it is: counting again from 0
//! would hand out numbers twice. The counter never wraps: a client whose number would pass
//! u64::MAX gets none (the connection closes, the log says why) and the daemon goes on. A socket
//! file nobody listens on (left by a crash) is replaced; a live one, or a file that is not a
//! socket, is left alone and start-up fails.
//!
//! `stop` and `reload` signal only a proven counterd: the process that holds the pid file's lock
//! under the pid written in it (the kernel says who holds a lock), running this same program.
//! Anyone who can open the pid file can lock it, and a wrong `--pidfile` can name another
//! program's file: then nothing is signalled and the command fails, saying why.
//!
//! Exit statuses, after the LSB init-script conventions: 0 success; `status` 0 running, 1 dead
//! with a pid file, 3 stopped; 1 start-up failed (the daemon's own error is printed), or the pid
//! file's holder is not a proven counterd (`stop`, `reload`); 2 usage; 4 permission denied; 5 a
//! directory is missing; 6 bad or unreadable config; 7 not running (`stop`, `reload`); 150
//! already running (LSB leaves 150-199 to applications).
//!
//! Read: docs/src/10-daemon.md#counterd. Check: `cargo xtask check daemon/counterd`.

use std::process::ExitCode;

/// The binary's entry point: parse the command line, do the command, map every failure to one
/// line on stderr (`counterd: ...`) and its exit status.
pub fn main() -> ExitCode {
    // TODO: the CLI, the classic daemon, the new-style one. Build on your earlier modules.
    todo!("counterd")
}
