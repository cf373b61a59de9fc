//! Tests for `daemon/logs`: a log file that survives logrotate's move-then-SIGHUP, and syslog
//! datagrams in the RFC 5424 format, received on a datagram socket the test binds itself (the
//! daemon is pointed at it instead of `/dev/log`).
//!
//! The logger is the `daemon-logger` driver: it logs each stdin line through the learner's
//! `FileLog` and `Syslog` and prints `logged`; on SIGHUP it calls `reopen` and prints
//! `reopened`. The test waits for those lines, never for time.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon::logs::{Severity, format_rfc5424};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, temp_dir};

const WAIT: Duration = DEFAULT_DEADLINE;

struct Logger {
    guard: ChildGuard,
    input: ChildStdin,
    out: LineReader,
    log: PathBuf,
    syslog: UnixDatagram,
    dir: tempfile::TempDir,
}

impl Logger {
    fn start(tag: &str) -> Logger {
        let dir = temp_dir(tag);
        let log = dir.path().join("app.log");
        let sock = dir.path().join("log.sock");
        let syslog = UnixDatagram::bind(&sock).expect("bind our syslog socket");
        syslog.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_daemon-logger"));
        cmd.arg("--log")
            .arg(&log)
            .arg("--syslog")
            .arg(&sock)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut guard = ChildGuard::spawn(&mut cmd);
        let input = guard.child().stdin.take().expect("piped stdin");
        let stdout = guard.child().stdout.take().expect("piped stdout");
        let mut out = LineReader::new(stdout, "daemon-logger");
        out.expect("ready", WAIT);
        Logger {
            guard,
            input,
            out,
            log,
            syslog,
            dir,
        }
    }

    fn log(&mut self, line: &str) {
        writeln!(self.input, "{line}").expect("send to the logger");
        let said = self.out.next_line(WAIT).unwrap_or_default();
        assert_eq!(said, "logged", "after {line:?}");
    }

    fn datagram(&self) -> String {
        let mut buf = [0u8; 2048];
        let n =
            testkit::daemon::recv(&self.syslog, &mut buf).expect("a datagram on our syslog socket");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[test]
fn a_moved_log_file_is_reopened_on_sighup() {
    let mut l = Logger::start("logs-rotate");
    l.log("info before rotation");
    let rotated = l.dir.path().join("app.log.1");
    std::fs::rename(&l.log, &rotated).expect("move the log, as logrotate does");
    l.log("info still into the moved file");
    kill(Pid::from_raw(l.guard.id() as i32), Signal::SIGHUP).expect("SIGHUP");
    let said = l.out.next_line(WAIT).unwrap_or_default();
    assert_eq!(said, "reopened", "the logger's answer to SIGHUP");
    l.log("info after rotation");
    let old = std::fs::read_to_string(&rotated).expect("read the moved file");
    assert_eq!(
        old, "before rotation\nstill into the moved file\n",
        "until SIGHUP the open fd keeps writing into the moved file"
    );
    let new = std::fs::read_to_string(&l.log).unwrap_or_else(|e| {
        panic!(
            "after SIGHUP a new {} should exist ({e}): reopen the path, not the old fd",
            l.log.display()
        )
    });
    assert_eq!(
        new, "after rotation\n",
        "the new file has only the new lines"
    );
    for _ in 0..3 {
        let _ = l.datagram();
    }
}

#[test]
fn a_log_file_is_appended_to_not_overwritten() {
    let dir = temp_dir("logs-append");
    let path = dir.path().join("a.log");
    std::fs::write(&path, "earlier run\n").expect("write");
    let mut log = daemon::logs::FileLog::open(&path).expect("open");
    log.line("this run").expect("line");
    drop(log);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "earlier run\nthis run\n"
    );
}

/// Splits an RFC 5424 line into `<PRI>VERSION`, TIMESTAMP, HOST, APP, PROCID, MSGID, SD, MSG.
fn fields(line: &str) -> Vec<String> {
    let mut out: Vec<String> = line.splitn(7, ' ').map(str::to_owned).collect();
    if let Some(rest) = out.pop() {
        let (sd, msg) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
        out.push(sd.to_owned());
        out.push(msg.to_owned());
    }
    out
}

#[test]
fn each_message_reaches_syslog_as_one_rfc5424_datagram() {
    let mut l = Logger::start("logs-syslog");
    l.log("info service started");
    l.log("err disk full");
    let first = l.datagram();
    let second = l.datagram();
    let f = fields(&first);
    assert_eq!(
        f.len(),
        8,
        "an RFC 5424 line has 7 fields and a message: {first:?}"
    );
    assert_eq!(
        (f[5].as_str(), f[6].as_str()),
        ("-", "-"),
        "no MSGID, no SD: {first:?}"
    );
    let (head, version) = f[0].split_at(f[0].find('>').map_or(0, |i| i + 1));
    assert_eq!(
        (head, version),
        ("<30>", "1"),
        "PRI is facility daemon (3) * 8 + severity info (6) = 30, then version 1: {first:?}"
    );
    let ts = &f[1];
    let date = ts.get(..10).unwrap_or_default();
    let today = utc_date(SystemTime::now());
    let yesterday = utc_date(SystemTime::now() - Duration::from_secs(3600));
    assert!(
        ts.ends_with('Z')
            && ts.as_bytes().get(10) == Some(&b'T')
            && (date == today || date == yesterday),
        "the timestamp should be today's UTC date, then `T`, the time and `Z`: {ts:?} (today is {today})"
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    assert_eq!(f[2], host.trim(), "the host name field: {first:?}");
    assert_eq!(f[3], "daemon-logger", "the app name field: {first:?}");
    assert_eq!(f[4], l.guard.id().to_string(), "the pid field: {first:?}");
    assert_eq!(f[7], "service started", "the message: {first:?}");
    assert!(
        second.starts_with("<27>1 "),
        "an error is severity 3: PRI 3 * 8 + 3 = 27: {second:?}"
    );
    assert!(second.ends_with(" disk full"), "{second:?}");
}

#[test]
fn the_rfc5424_line_has_dashes_for_empty_fields() {
    let when = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let line = format_rfc5424(Severity::Warning, when, "box", "app", 42, "hello");
    assert_eq!(line, "<28>1 2023-11-14T22:13:20.123Z box app 42 - - hello");
    let line = format_rfc5424(Severity::Info, UNIX_EPOCH, "", "app", 7, "x");
    assert_eq!(line, "<30>1 1970-01-01T00:00:00.000Z - app 7 - - x");
    let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
    assert!(
        format_rfc5424(Severity::Err, leap, "h", "a", 1, "m")
            .contains(" 2000-02-29T00:00:00.000Z ")
    );
}

#[test]
fn the_timestamp_agrees_with_date_on_leap_days_and_century_days() {
    // Around the Gregorian rules: a year divisible by 4 is leap, by 100 not, by 400 again.
    let days = [
        "1970-01-01",
        "1972-02-29",
        "1999-12-31",
        "2000-02-29",
        "2000-03-01",
        "2023-11-14",
        "2024-02-29",
        "2024-12-31",
        "2100-02-28",
        "2100-03-01",
        "2399-12-31",
        "2400-02-29",
        "2400-03-01",
    ];
    let mut script = String::new();
    for d in days {
        // Each day at noon, and its last second.
        script.push_str(&format!("{d} 12:00:00 UTC\n{d} 23:59:59 UTC\n"));
    }
    let dir = temp_dir("logs-dates");
    let input = dir.path().join("dates");
    std::fs::write(&input, &script).expect("write the dates");
    let out = Command::new("date")
        .args(["-u", "-f"])
        .arg(&input)
        .args(["+%s %Y-%m-%dT%H:%M:%S"])
        .output()
        .expect("run date");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        2 * days.len(),
        "date(1) said {text:?}"
    );
    for line in text.lines() {
        let (secs, want) = line.split_once(' ').expect("seconds and a date");
        let secs: u64 = secs.parse().expect("seconds");
        let when = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(7);
        let got = format_rfc5424(Severity::Info, when, "h", "a", 1, "m");
        assert!(
            got.contains(&format!(" {want}.007Z ")),
            "{secs} s after the epoch is {want}.007Z (says date(1)); the line is {got:?}"
        );
    }
}

/// `YYYY-MM-DD` in UTC, by asking date(1) (a real tool, not our own arithmetic).
fn utc_date(when: SystemTime) -> String {
    let secs = when
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%F"])
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
