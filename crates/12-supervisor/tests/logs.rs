//! Tests for `supervisor::logs`: every line of both streams of a real child lands in the log
//! with a timestamp and its stream, rotation keeps N files of at most M bytes and never loses
//! or splits a line, and a child that floods one stream is not blocked by the other.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use supervisor::logs::{RotatingLog, Stream, capture};
use testkit::{ChildGuard, DEFAULT_DEADLINE as DEADLINE};

/// One parsed log line: when, which stream, what.
#[derive(Debug)]
struct Entry {
    when: SystemTime,
    stream: String,
    text: String,
}

#[track_caller]
fn parse_line(line: &str) -> Entry {
    let mut parts = line.splitn(3, ' ');
    let (Some(stamp), Some(stream), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("a log line is `TIMESTAMP STREAM TEXT`; got {line:?}");
    };
    assert!(
        stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
        "the timestamp is UTC with milliseconds, like 2026-11-25T17:58:43.123Z; got {stamp:?} in {line:?}"
    );
    let when = humantime::parse_rfc3339(stamp)
        .unwrap_or_else(|e| panic!("the timestamp {stamp:?} is not RFC 3339: {e}"));
    assert!(
        stream == "stdout" || stream == "stderr",
        "the stream is `stdout` or `stderr`; got {stream:?} in {line:?}"
    );
    Entry {
        when,
        stream: stream.to_string(),
        text: text.to_string(),
    }
}

/// The lines of one file, each checked to be whole.
#[track_caller]
fn read_log(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends in the middle of a line: {:?}",
        path.display(),
        &text[text.len().saturating_sub(80)..]
    );
    text.lines().map(parse_line).collect()
}

/// Runs `sh -c SCRIPT`, captures both streams into `log` and waits for both EOFs, with a
/// deadline.
#[track_caller]
fn run_captured(script: &str, log: RotatingLog) {
    let mut child = testkit::sh(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let mut guard = ChildGuard::new(child);
    let cap = capture(out, err, Arc::new(Mutex::new(log)));
    let done =
        testkit::call_with_deadline(DEADLINE * 3, move || cap.join().map_err(|e| e.to_string()));
    match done {
        Some(r) => r.expect("capture failed"),
        None => panic!(
            "the capture of `{script}` did not end within {:?}: if the child is blocked writing \
             one stream while the log reads only the other, both wait forever (read both at once)",
            DEADLINE * 3
        ),
    }
    let status = guard.wait(DEADLINE);
    assert!(status.success(), "the child {script:?} failed: {status:?}");
}

#[test]
fn every_line_of_both_streams_is_logged_with_its_time_and_stream() {
    let dir = testkit::temp_dir("logs-both");
    let before = SystemTime::now() - Duration::from_secs(1);
    let log = RotatingLog::open(dir.path(), "web", 1 << 20, 3).expect("open");
    assert_eq!(log.path(), dir.path().join("web.log"));
    run_captured(
        "echo 'out one'; echo 'err one' >&2; echo 'out two'; printf 'no newline at the end'",
        log,
    );
    let after = SystemTime::now() + Duration::from_secs(1);
    let entries = read_log(&dir.path().join("web.log"));
    let texts: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.stream.as_str(), e.text.as_str()))
        .collect();
    let out: Vec<&str> = texts
        .iter()
        .filter(|(s, _)| *s == "stdout")
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(
        out,
        ["out one", "out two", "no newline at the end"],
        "stdout's lines in order, the last one kept although it has no newline; log: {texts:?}"
    );
    assert!(
        texts.contains(&("stderr", "err one")),
        "stderr's line, tagged `stderr`; log: {texts:?}"
    );
    assert_eq!(entries.len(), 4, "four lines in all: {texts:?}");
    for e in &entries {
        assert!(
            e.when >= before && e.when <= after,
            "the timestamp {:?} of {:?} is the time the line was read (UTC)",
            humantime::format_rfc3339_millis(e.when),
            e.text
        );
    }
    assert!(!dir.path().join("web.log.1").exists(), "nothing to rotate");
}

#[test]
fn rotation_keeps_n_files_of_m_bytes_and_never_loses_or_splits_a_line() {
    let dir = testkit::temp_dir("logs-rotate");
    let log = RotatingLog::open(dir.path(), "db", 4096, 3).expect("open");
    // 3000 numbered lines of ~60 bytes with their prefix: about 45 rotations.
    run_captured("seq -f 'line %05g of the rotation test' 1 3000", log);
    let names: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names,
        ["db.log", "db.log.1", "db.log.2"],
        "3 files kept: db.log, then db.log.1 (older), db.log.2 (oldest)"
    );
    let mut numbers = Vec::new();
    for name in ["db.log.2", "db.log.1", "db.log"] {
        let path = dir.path().join(name);
        let size = std::fs::metadata(&path).expect("metadata").len();
        assert!(
            size <= 4096,
            "{name} is {size} bytes: a file must not exceed max_bytes (4096); rotate before the \
             line that would not fit"
        );
        if name != "db.log" {
            assert!(
                size > 4096 - 100,
                "{name} is {size} bytes: rotated files are full (a line is ~60 bytes)"
            );
        }
        for e in read_log(&path) {
            let n: u32 = e
                .text
                .strip_prefix("line ")
                .and_then(|t| t.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a line of {name} was damaged: {:?}", e.text));
            assert_eq!(e.text, format!("line {n:05} of the rotation test"));
            numbers.push(n);
        }
    }
    assert_eq!(numbers.last(), Some(&3000), "the newest line is in db.log");
    let first = numbers[0];
    let want: Vec<u32> = (first..=3000).collect();
    assert_eq!(
        numbers, want,
        "db.log.2, db.log.1 and db.log hold one run of consecutive lines: none lost, none twice"
    );
}

#[test]
fn a_child_flooding_stderr_is_not_blocked_by_a_quiet_stdout() {
    let dir = testkit::temp_dir("logs-flood");
    let log = RotatingLog::open(dir.path(), "noisy", 64 << 20, 2).expect("open");
    // 1 MiB on stderr (sixteen pipe buffers) before a single byte on stdout.
    run_captured(
        "seq -f 'noise %06g ......................................' 1 20000 >&2; echo done",
        log,
    );
    let entries = read_log(&dir.path().join("noisy.log"));
    let noise = entries.iter().filter(|e| e.stream == "stderr").count();
    assert_eq!(noise, 20000, "every stderr line is logged");
    // The two pumps run side by side: "done" may be logged before the last noise lines.
    assert!(
        entries
            .iter()
            .any(|e| e.stream == "stdout" && e.text == "done"),
        "and stdout's line"
    );
}

#[test]
fn an_existing_log_is_appended_to_and_counts_toward_the_limit() {
    let dir = testkit::temp_dir("logs-append");
    let path = dir.path().join("api.log");
    let old = "2026-01-01T00:00:00.000Z stdout from an earlier run\n";
    std::fs::write(&path, old.repeat(10)).expect("write an old log");
    let mut log = RotatingLog::open(dir.path(), "api", 800, 2).expect("open");
    log.write_line(Stream::Stderr, b"restarted").expect("write");
    let entries = read_log(&path);
    assert_eq!(
        entries.len(),
        11,
        "the old lines are kept, the new one appended"
    );
    assert_eq!(entries[10].text, "restarted");
    assert_eq!(entries[10].stream, "stderr");
    // 520 + 42 bytes are there; ten more lines of 39 bytes do not fit in 800.
    for i in 0..10 {
        log.write_line(Stream::Stdout, format!("line {i}").as_bytes())
            .expect("write");
    }
    let rotated = dir.path().join("api.log.1");
    assert!(
        rotated.exists(),
        "the old content counts toward max_bytes: api.log should have been rotated"
    );
    let all = read_log(&rotated).len() + read_log(&path).len();
    assert_eq!(all, 21, "no line lost in the rotation");
    assert!(std::fs::metadata(&path).expect("meta").len() <= 800);
}

#[test]
fn with_one_file_the_log_starts_again_and_a_huge_line_stays_whole() {
    let dir = testkit::temp_dir("logs-one");
    let mut log = RotatingLog::open(dir.path(), "tiny", 200, 1).expect("open");
    for i in 0..20 {
        log.write_line(Stream::Stdout, format!("short line {i:02}").as_bytes())
            .expect("write");
    }
    let path = dir.path().join("tiny.log");
    let entries = read_log(&path);
    assert!(
        !dir.path().join("tiny.log.1").exists(),
        "files = 1 keeps no rotated file"
    );
    assert!(std::fs::metadata(&path).expect("meta").len() <= 200);
    assert_eq!(
        entries.last().map(|e| e.text.as_str()),
        Some("short line 19"),
        "the newest line is kept"
    );
    let huge = "x".repeat(500);
    log.write_line(Stream::Stdout, huge.as_bytes())
        .expect("write");
    let entries = read_log(&path);
    assert_eq!(
        (entries.len(), entries[0].text.len()),
        (1, 500),
        "a line longer than max_bytes gets a file of its own, whole"
    );
    log.write_line(Stream::Stdout, b"after").expect("write");
    let entries = read_log(&path);
    assert_eq!(
        entries.len(),
        1,
        "after a 500-byte line in a 200-byte log, only `after` remains in the file"
    );
    assert_eq!(entries[0].text, "after");
}

#[test]
fn a_line_that_fills_the_file_exactly_still_fits() {
    let dir = testkit::temp_dir("logs-exact");
    // A record is the 24-byte stamp, a space, `stdout`, a space, the line and a newline:
    // 40 bytes for a 7-byte line, so two of them fill 80 bytes exactly.
    let mut log = RotatingLog::open(dir.path(), "edge", 80, 2).expect("open");
    log.write_line(Stream::Stdout, b"first..").expect("write");
    log.write_line(Stream::Stdout, b"second.").expect("write");
    let path = dir.path().join("edge.log");
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), 80);
    assert!(
        !dir.path().join("edge.log.1").exists(),
        "80 bytes in an 80-byte log fit: rotate only when a line would go past max_bytes"
    );
    log.write_line(Stream::Stdout, b"third..").expect("write");
    assert!(
        dir.path().join("edge.log.1").exists(),
        "the third line does not fit: rotated"
    );
    assert_eq!(read_log(&path).len(), 1, "edge.log starts again with it");

    // A first line longer than max_bytes goes into the empty file: an empty file is never
    // rotated (that would only make an empty NAME.log.1).
    let mut big = RotatingLog::open(dir.path(), "big", 10, 3).expect("open");
    big.write_line(Stream::Stderr, b"much longer than ten bytes")
        .expect("write");
    assert!(
        !dir.path().join("big.log.1").exists(),
        "the empty big.log must not be rotated"
    );
    assert_eq!(read_log(&dir.path().join("big.log")).len(), 1);
}

#[test]
fn a_rotation_that_cannot_rename_is_an_error_not_a_log_that_grows() {
    let dir = testkit::temp_dir("logs-stuck");
    // NAME.log.1 is a directory with something in it: rename(2) of the log onto it fails
    // (EISDIR), and not because something is missing.
    let blocker = dir.path().join("stuck.log.1");
    std::fs::create_dir(&blocker).expect("mkdir");
    std::fs::write(blocker.join("keep"), "").expect("a file in it");
    let mut log = RotatingLog::open(dir.path(), "stuck", 80, 2).expect("open");
    log.write_line(Stream::Stdout, b"first..").expect("write");
    log.write_line(Stream::Stdout, b"second.").expect("write");
    let err = log
        .write_line(Stream::Stdout, b"third..")
        .expect_err("the third line needs a rotation, and the rotation cannot rename the log");
    assert_ne!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    assert_eq!(
        std::fs::metadata(dir.path().join("stuck.log"))
            .expect("meta")
            .len(),
        80,
        "a line that needed a rotation that failed must not be written past max_bytes"
    );
}

#[test]
fn a_symlink_at_the_log_path_is_refused_and_a_new_log_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = testkit::temp_dir("logs-symlink");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "another file\n").expect("write victim");
    std::os::unix::fs::symlink(&victim, dir.path().join("web.log")).expect("symlink");
    let opened = RotatingLog::open(dir.path(), "web", 1 << 20, 3);
    if let Ok(mut log) = opened {
        let _ = log.write_line(Stream::Stdout, b"through the link");
        panic!(
            "open followed a symlink planted at web.log (the victim now reads {:?}): open with \
             O_NOFOLLOW (OpenOptionsExt::custom_flags), so that a link is an error",
            std::fs::read_to_string(&victim).unwrap_or_default()
        );
    }
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "another file\n"
    );
    let log = RotatingLog::open(dir.path(), "db", 1 << 20, 3).expect("open");
    let mode = std::fs::metadata(log.path())
        .expect("the new log")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o600,
        "a new log is the owner's only (OpenOptionsExt::mode(0o600)); got {mode:o}"
    );
}

#[test]
fn a_line_longer_than_max_line_is_logged_in_marked_pieces_as_it_arrives() {
    use supervisor::logs::{MAX_LINE, SPLIT_MARK};
    assert_eq!(
        MAX_LINE,
        64 * 1024,
        "MAX_LINE is given: 64 KiB, the bound the chapter states"
    );
    let dir = testkit::temp_dir("logs-long");
    let log = RotatingLog::open(dir.path(), "web", 1 << 30, 2).expect("open");
    let path = log.path().to_path_buf();
    let long = 2 * MAX_LINE + 1000;
    // The line's first part, then nothing until its stdin closes: a service that writes a long
    // line without a newline and keeps its stdout open.
    let mut child = testkit::sh(&format!(
        "head -c {long} /dev/zero | tr '\\0' x; cat >/dev/null; echo tail"
    ))
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn sh");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let stdin = child.stdin.take().expect("stdin");
    let mut guard = ChildGuard::new(child);
    let cap = capture(out, err, Arc::new(Mutex::new(log)));
    let pieces = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // Within the runner's limit, so that a pump that holds the line fails here, explained.
    let wait = Duration::from_secs(5);
    let res = testkit::try_wait_until(wait, "two pieces of the long line in the log", || {
        pieces(&path) >= 2
    });
    if res.is_err() {
        drop(stdin);
        let _ = cap.join();
        panic!(
            "{long} bytes without a newline, and after {wait:?} the log has {} lines: the \
             pump holds the whole line; read at most MAX_LINE bytes (Read::take) and log each \
             full piece as it arrives, marked with SPLIT_MARK",
            pieces(&path)
        );
    }
    drop(stdin);
    testkit::call_with_deadline(DEADLINE, move || cap.join().map_err(|e| e.to_string()))
        .expect("the capture ends at EOF")
        .expect("capture failed");
    assert!(guard.wait(DEADLINE).success());
    let entries = read_log(&path);
    let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    let piece = format!("{}{SPLIT_MARK}", "x".repeat(MAX_LINE));
    let last = format!("{}tail", "x".repeat(1000));
    assert!(
        texts.len() == 3 && texts[0] == piece && texts[1] == piece && texts[2] == last,
        "expected two pieces of {MAX_LINE} bytes each ending {SPLIT_MARK:?}, then the rest of \
         the line unmarked; got {} lines of lengths {:?}, ends {:?}",
        texts.len(),
        texts.iter().map(|t| t.len()).collect::<Vec<_>>(),
        texts
            .iter()
            .map(|t| &t[t.len().saturating_sub(12)..])
            .collect::<Vec<_>>()
    );
}
