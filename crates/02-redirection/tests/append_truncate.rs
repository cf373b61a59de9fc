//! Tests of `redirection/append_truncate`: the flags the file is opened with (read from
//! `/proc/self/fdinfo`) and what the file holds after children wrote to it.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::thread;

use redirection::append_truncate::{WriteMode, open_output, run_to_file};
use testkit::{sh, temp_dir};

/// `O_APPEND` and the access mode bits, as `/proc/PID/fdinfo` shows them (octal).
const O_APPEND: u32 = libc::O_APPEND as u32;
const O_ACCMODE: u32 = libc::O_ACCMODE as u32;

/// The `flags:` of an open fd of this process, from `/proc/self/fdinfo/FD`.
fn open_flags(fd: i32) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .expect("fdinfo has a flags line");
    u32::from_str_radix(flags.trim(), 8).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn truncate_replaces_a_longer_file_completely() {
    let dir = temp_dir("truncate-longer");
    let path = dir.path().join("report");
    std::fs::write(
        &path,
        "0123456789 the old report, longer than the new one\n",
    )
    .unwrap();
    let status =
        run_to_file(&mut sh("echo new"), &path, WriteMode::Truncate).expect("run_to_file failed");
    assert!(status.success());
    assert_eq!(
        read(&path),
        "new\n",
        "after `echo new > report` only the new text may remain; an old tail means the file was \
         not truncated (OpenOptions::truncate)"
    );
}

#[test]
fn truncate_creates_a_missing_file() {
    let dir = temp_dir("truncate-create");
    let path = dir.path().join("fresh");
    run_to_file(&mut sh("echo hi"), &path, WriteMode::Truncate)
        .expect("run_to_file failed on a missing file (OpenOptions::create)");
    assert_eq!(read(&path), "hi\n");
}

#[test]
fn append_keeps_what_earlier_runs_wrote() {
    let dir = temp_dir("append-keeps");
    let path = dir.path().join("log");
    std::fs::write(&path, "before\n").unwrap();
    run_to_file(&mut sh("echo first"), &path, WriteMode::Append).expect("run_to_file failed");
    run_to_file(&mut sh("echo second"), &path, WriteMode::Append).expect("run_to_file failed");
    assert_eq!(
        read(&path),
        "before\nfirst\nsecond\n",
        "append mode must keep the old lines and add at the end"
    );
}

#[test]
fn append_creates_a_missing_file() {
    let dir = temp_dir("append-create");
    let path = dir.path().join("log");
    run_to_file(&mut sh("echo one"), &path, WriteMode::Append)
        .expect("run_to_file failed on a missing file (OpenOptions::create)");
    assert_eq!(read(&path), "one\n");
}

#[test]
fn append_mode_opens_with_o_append_and_truncate_mode_without() {
    let dir = temp_dir("append-flags");
    let path = dir.path().join("f");
    let appending = open_output(&path, WriteMode::Append).expect("open_output(Append) failed");
    let flags = open_flags(appending.as_raw_fd());
    assert_ne!(
        flags & O_APPEND,
        0,
        "Append: flags {flags:o} lack O_APPEND (OpenOptions::append)"
    );
    assert_ne!(
        flags & O_ACCMODE,
        libc::O_RDONLY as u32,
        "Append: the file must be open for writing"
    );
    let truncating = open_output(&path, WriteMode::Truncate).expect("open_output(Truncate) failed");
    let flags = open_flags(truncating.as_raw_fd());
    assert_eq!(
        flags & O_APPEND,
        0,
        "Truncate: flags {flags:o} have O_APPEND, which `>` does not set"
    );
    assert_ne!(
        flags & O_ACCMODE,
        libc::O_RDONLY as u32,
        "Truncate: the file must be open for writing"
    );
}

#[test]
fn concurrent_appenders_never_overwrite_each_other() {
    let dir = temp_dir("append-concurrent");
    let path = dir.path().join("shared.log");
    let writers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|tag| {
            let path = path.clone();
            thread::spawn(move || {
                // Each line is one write(2) of `printf`, from a child with its own open of the
                // file: only O_APPEND puts every write at the current end.
                let script = format!(
                    "i=0; while [ $i -lt 500 ]; do printf '{tag}%04d\\n' $i; i=$((i+1)); done"
                );
                run_to_file(&mut sh(&script), &path, WriteMode::Append)
            })
        })
        .collect();
    for w in writers {
        w.join()
            .expect("a writer thread panicked")
            .expect("run_to_file failed");
    }
    let text = read(&path);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let mut expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .flat_map(|t| (0..500).map(move |i| format!("{t}{i:04}")))
        .collect();
    expected.sort_unstable();
    assert_eq!(
        lines.len(),
        expected.len(),
        "three children appending 500 lines each should leave 1500 intact lines; lines were \
         overwritten (each writer needs O_APPEND, a seek to the end at open time is not enough)"
    );
    assert_eq!(lines, expected, "some lines were damaged");
}
