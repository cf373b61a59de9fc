//! Exercise `daemon/logs`: a daemon's two ways to log, a file that logrotate can move and the
//! system log.
//!
//! Scenario: a daemon has no terminal; its stderr is /dev/null. It logs to a file, which
//! logrotate moves away (`mv app.log app.log.1`) and then signals the daemon with SIGHUP; or it
//! sends each line to the system logger, a datagram socket at `/dev/log`.
//!
//! Goal: [`FileLog`] appends lines to a file and, on [`FileLog::reopen`], goes on in a new file
//! at the same path. [`Syslog`] sends one datagram per message in the RFC 5424 format with the
//! `daemon` facility, the given severity, a UTC timestamp, the host name, the app name and the
//! pid.
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
    host: String,
}

impl Syslog {
    /// Connects to the logger's socket at `path` (normally `/dev/log`) as `app`.
    pub fn connect(path: &Path, app: &str) -> io::Result<Syslog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        Ok(Syslog {
            socket,
            app: app.to_string(),
            host,
        })
    }

    /// Sends `message` with `severity` as one datagram.
    pub fn send(&self, severity: Severity, message: &str) -> io::Result<()> {
        let line = format_rfc5424(
            severity,
            SystemTime::now(),
            &self.host,
            &self.app,
            std::process::id(),
            message,
        );
        self.socket.send(line.as_bytes()).map(|_| ())
    }
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOST APP PID - - MSG`, where PRI is
/// facility * 8 + severity. A field with no value is `-`.
pub fn format_rfc5424(
    severity: Severity,
    when: SystemTime,
    host: &str,
    app: &str,
    pid: u32,
    message: &str,
) -> String {
    let pri = u32::from(FACILITY_DAEMON) * 8 + severity as u32;
    let host = if host.is_empty() { "-" } else { host };
    format!(
        "<{pri}>1 {} {host} {app} {pid} - - {message}",
        utc_timestamp(when)
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `when`, in UTC (no time zone database needed).
fn utc_timestamp(when: SystemTime) -> String {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of day `z` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
