//! Exercise `daemon/logs`: a daemon's two ways to log, a file that logrotate can move and the
//! system log.
//!
//! Scenario: a daemon has no terminal; its stderr is /dev/null. It logs to a file, which
//! logrotate moves away (`mv app.log app.log.1`) and then signals the daemon with SIGHUP; or it
//! sends each line to the system logger, a datagram socket at `/dev/log`.
//!
//! Goal: [`FileLog`] appends lines to a file and, on [`FileLog::reopen`], goes on in a new file
//! at the same path. [`Syslog`] sends one datagram per message in the form glibc's syslog(3)
//! sends to `/dev/log` (RFC 3164: `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG`) with the `daemon`
//! facility, the given severity, the local time, the app name and the pid.
//!
//! Read: docs/src/10-daemon.md#logs. Check: `cargo xtask check daemon/logs`.

use std::fs::File;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A log file that can be reopened after it was moved.
#[derive(Debug)]
pub struct FileLog {
    path: PathBuf,
    #[allow(dead_code)] // used once solved
    file: File,
}

impl FileLog {
    /// Opens (or creates) the log file at `path`; lines already there are kept.
    pub fn open(path: &Path) -> io::Result<FileLog> {
        // TODO
        todo!("open {}", path.display())
    }

    /// Appends `message` and a newline.
    pub fn line(&mut self, message: &str) -> io::Result<()> {
        // TODO
        todo!("log {message}")
    }

    /// Goes on logging into a file at the original path, wherever the old file went.
    pub fn reopen(&mut self) -> io::Result<()> {
        // TODO
        todo!("reopen {}", self.path.display())
    }
}

/// Syslog severities (RFC 5424 section 6.2.1), the ones a daemon uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// 3: error conditions.
    Err = 3,
    /// 4: warning conditions.
    Warning = 4,
    /// 6: informational messages.
    Info = 6,
}

/// A connection to the system logger's datagram socket.
#[derive(Debug)]
pub struct Syslog {
    #[allow(dead_code)] // used once solved
    socket: UnixDatagram,
    app: String,
}

impl Syslog {
    /// Connects to the logger's socket at `path` (normally `/dev/log`) as `app`.
    pub fn connect(path: &Path, app: &str) -> io::Result<Syslog> {
        // TODO
        todo!("connect to {}", path.display())
    }

    /// Sends `message` with `severity` as one datagram, stamped now, with our pid.
    pub fn send(&self, severity: Severity, message: &str) -> io::Result<()> {
        // TODO
        todo!("send {severity:?} {message} as {}", self.app)
    }
}

/// One message for the local logger with the `daemon` facility, in the RFC 3164 form that
/// glibc's syslog(3) sends to `/dev/log`: `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG`, the time in local
/// time with the day of the month padded with a space (`Nov  4`), no host name.
pub fn format_rfc3164(
    severity: Severity,
    when: SystemTime,
    app: &str,
    pid: u32,
    message: &str,
) -> String {
    // TODO
    todo!("format {message}")
}
