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

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A log file that can be reopened after it was moved.
#[derive(Debug)]
pub struct FileLog {
    path: PathBuf,
    file: File,
}

/// Opens `path` for appending, creating it (mode 0644 before the umask).
fn open_append(path: &Path) -> io::Result<File> {
    // O_APPEND: every write lands at the end, even if another process writes the file too.
    OpenOptions::new().create(true).append(true).open(path)
}

impl FileLog {
    /// Opens (or creates) the log file at `path`.
    pub fn open(path: &Path) -> io::Result<FileLog> {
        Ok(FileLog {
            path: path.to_path_buf(),
            file: open_append(path)?,
        })
    }

    /// Appends `message` and a newline, in one write.
    pub fn line(&mut self, message: &str) -> io::Result<()> {
        // One write per line, so lines of two writers never interleave mid-line.
        self.file.write_all(format!("{message}\n").as_bytes())
    }

    /// Opens the path again: after logrotate moved the file, the old fd still writes into the
    /// moved file; the new one writes into a fresh file at the original path.
    pub fn reopen(&mut self) -> io::Result<()> {
        // Open first: if that fails, keep logging to the old file rather than to nothing.
        self.file = open_append(&self.path)?;
        Ok(())
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

/// The `daemon` facility (system daemons), number 3.
const FACILITY_DAEMON: u8 = 3;

/// A connection to the system logger's datagram socket.
#[derive(Debug)]
pub struct Syslog {
    socket: UnixDatagram,
    app: String,
}

impl Syslog {
    /// Connects to the logger's socket at `path` (normally `/dev/log`) as `app`.
    pub fn connect(path: &Path, app: &str) -> io::Result<Syslog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(Syslog {
            socket,
            app: app.to_string(),
        })
    }

    /// Sends `message` with `severity` as one datagram, in the form glibc's syslog(3) sends.
    pub fn send(&self, severity: Severity, message: &str) -> io::Result<()> {
        let line = format_rfc3164(
            severity,
            SystemTime::now(),
            &self.app,
            std::process::id(),
            message,
        );
        self.socket.send(line.as_bytes()).map(|_| ())
    }
}

/// One message for the local logger, in the RFC 3164 form that glibc's syslog(3) sends to
/// `/dev/log` and that journald and rsyslog read there: `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG`.
/// PRI is facility * 8 + severity; the time is local time, the day of the month padded with a
/// space (`Nov  4`); no host name (the logger adds its own).
pub fn format_rfc3164(
    severity: Severity,
    when: SystemTime,
    app: &str,
    pid: u32,
    message: &str,
) -> String {
    let pri = u32::from(FACILITY_DAEMON) * 8 + severity as u32;
    format!("<{pri}>{} {app}[{pid}]: {message}", local_timestamp(when))
}

/// `Mmm dd hh:mm:ss` for `when` in local time, as syslog(3) writes it (strftime's `%h %e %T`
/// in the C locale).
fn local_timestamp(when: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = when
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let t = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: an all-zero `tm` is a valid value of a plain C struct (a null tm_zone included).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r (the thread-safe one) reads `t` and writes `tm`, both live locals.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return "Jan  1 00:00:00".to_string();
    }
    let month = usize::try_from(tm.tm_mon).map_or("Jan", |m| MONTHS[m % 12]);
    format!(
        "{month} {:>2} {:02}:{:02}:{:02}",
        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}
