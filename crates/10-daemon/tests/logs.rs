//! Tests for `daemon/logs`: a log file that survives logrotate's move-then-SIGHUP, and syslog
//! datagrams in the RFC 3164 form glibc's syslog(3) sends to `/dev/log`, received on a datagram
//! socket the test binds itself (the daemon is pointed at it instead of `/dev/log`). Timestamps
//! are compared with what date(1) prints for the same second in the same time zone.
//!
//! The logger is the `daemon-logger` driver: it logs each stdin line through the learner's
//! `FileLog` and `Syslog` and prints `logged`; on SIGHUP it calls `reopen` and prints
//! `reopened`. The test waits for those lines, never for time.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon::logs::{Severity, format_rfc3164};
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
        "until SIGHUP the open fd keeps writing into the moved file; after it, lines go to a new \
         file at the path (reopen the path, not the old fd)"
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
        "earlier run\nthis run\n",
        "the lines of an earlier run must stay: open the log for appending (O_APPEND), never \
         truncating it"
    );
}

/// `Mmm dd hh:mm:ss` for `secs` after the epoch in local time, by asking date(1) (a real tool,
/// not our own arithmetic).
fn local_stamp(secs: u64) -> String {
    let out = Command::new("date")
        .env("LC_ALL", "C")
        .args(["-d", &format!("@{secs}"), "+%b %e %H:%M:%S"])
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Splits `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG` into PRI, the timestamp, APP, PID and MSG.
fn fields(line: &str) -> Option<(String, String, String, String, String)> {
    let (pri, rest) = line.strip_prefix('<')?.split_once('>')?;
    let stamp = rest.get(..15)?;
    let rest = rest.get(15..)?.strip_prefix(' ')?;
    let (tag, msg) = rest.split_once(": ")?;
    let (app, pid) = tag.strip_suffix(']')?.split_once('[')?;
    Some((pri.into(), stamp.into(), app.into(), pid.into(), msg.into()))
}

#[test]
fn each_message_reaches_syslog_as_one_datagram_in_the_local_form() {
    let mut l = Logger::start("logs-syslog");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("now")
        .as_secs();
    l.log("info service started");
    l.log("err disk full");
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("now")
        .as_secs();
    let first = l.datagram();
    let second = l.datagram();
    assert!(
        !first.starts_with("<30>1 "),
        "this is RFC 5424 (`<PRI>1 TIMESTAMP HOST ...`): the local logger at /dev/log (journald, \
         rsyslog's socket) reads the RFC 3164 form glibc's syslog(3) sends, \
         `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG`; a 5424 line is stored with its header inside the \
         message and no identifier. 5424 belongs to the network transports: {first:?}"
    );
    let Some((pri, stamp, app, pid, msg)) = fields(&first) else {
        panic!("expected `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG`, got {first:?}")
    };
    assert_eq!(
        pri, "30",
        "PRI is facility daemon (3) * 8 + severity info (6) = 30: {first:?}"
    );
    let expected: Vec<String> = (before..=after).map(local_stamp).collect();
    assert!(
        expected.contains(&stamp),
        "the timestamp should be the local time now as `Mmm dd hh:mm:ss` (date(1) says one of \
         {expected:?}): {first:?}"
    );
    assert_eq!(app, "daemon-logger", "the app name (tag): {first:?}");
    assert_eq!(
        pid,
        l.guard.id().to_string(),
        "the pid in brackets: {first:?}"
    );
    assert_eq!(msg, "service started", "the message: {first:?}");
    assert!(
        second.starts_with("<27>"),
        "an error is severity 3: PRI 3 * 8 + 3 = 27: {second:?}"
    );
    assert!(second.ends_with("]: disk full"), "{second:?}");
}

#[test]
fn the_line_has_the_tag_and_pid_and_no_host() {
    let when = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let line = format_rfc3164(Severity::Warning, when, "app", 42, "hello");
    assert_eq!(
        line,
        format!("<28>{} app[42]: hello", local_stamp(1_700_000_000))
    );
    let line = format_rfc3164(Severity::Info, UNIX_EPOCH, "app", 7, "x");
    assert_eq!(line, format!("<30>{} app[7]: x", local_stamp(0)));
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
        "2023-11-04",
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
        .env("LC_ALL", "C")
        .arg("-f")
        .arg(&input)
        .args(["+%s|%b %e %H:%M:%S"])
        .output()
        .expect("run date");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        2 * days.len(),
        "date(1) said {text:?}"
    );
    for line in text.lines() {
        let (secs, want) = line.split_once('|').expect("seconds and a date");
        let secs: u64 = secs.parse().expect("seconds");
        let when = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(7);
        let got = format_rfc3164(Severity::Info, when, "a", 1, "m");
        assert_eq!(
            got,
            format!("<30>{want} a[1]: m"),
            "{secs} s after the epoch is {want:?} in local time (says date(1)), the day padded \
             with a space"
        );
    }
}
