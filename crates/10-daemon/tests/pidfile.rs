//! Tests for `daemon/pidfile`: one running instance, a file that is never damaged by the losers,
//! and a stale file told apart from a running daemon by its lock, not by its pid.
//!
//! Holders are `daemon-pidfile` drivers (each acquires with the learner's code and holds the
//! file until its stdin closes), so that every holder is a separate process, as daemons are.
//! A stale file is made for real: it names a live process that never locked it.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use daemon::pidfile::{PidFile, PidFileError, Status, status};
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, sh, temp_dir};

const WAIT: Duration = DEFAULT_DEADLINE;

/// A `daemon-pidfile` driver and its output.
struct Holder {
    guard: ChildGuard,
    out: LineReader,
}

impl Holder {
    fn spawn(path: &Path) -> Holder {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_daemon-pidfile"));
        cmd.arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut guard = ChildGuard::spawn(&mut cmd);
        let stdout = guard.child().stdout.take().expect("piped stdout");
        Holder {
            guard,
            out: LineReader::new(stdout, "daemon-pidfile"),
        }
    }

    /// The driver's verdict: `acquired PID` or `error: ...`.
    fn verdict(&mut self) -> String {
        self.out
            .next_line(WAIT)
            .unwrap_or_else(|| panic!("daemon-pidfile said nothing"))
    }

    /// Closes its stdin: it releases the file and exits.
    fn release(mut self) {
        drop(self.guard.child().stdin.take());
        let st = self.guard.wait(WAIT);
        assert!(
            st.success(),
            "the holder should exit 0; it {}",
            describe_status(st)
        );
    }
}

fn pid_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("d.pid")
}

fn content(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn no_file_means_stopped() {
    let dir = temp_dir("pidfile-none");
    assert_eq!(status(&pid_file(&dir)).expect("status"), Status::Stopped);
}

#[test]
fn the_holder_writes_its_pid_and_keeps_the_lock_while_it_lives() {
    let dir = temp_dir("pidfile-hold");
    let path = pid_file(&dir);
    let mut holder = Holder::spawn(&path);
    let pid = holder.guard.id();
    assert_eq!(holder.verdict(), format!("acquired {pid}"));
    assert_eq!(
        content(&path),
        format!("{pid}\n"),
        "the pid file should hold the pid and a newline"
    );
    let probe = File::open(&path).expect("open the pid file");
    assert!(
        matches!(probe.try_lock_shared(), Err(TryLockError::WouldBlock)),
        "the pid file is not locked while its holder runs: keep the locked File open for as \
         long as the PidFile lives"
    );
    drop(probe);
    assert_eq!(status(&path).expect("status"), Status::Running(pid));
    holder.release();
    assert_eq!(
        status(&path).expect("status"),
        Status::Stopped,
        "a holder that exits normally removes its pid file"
    );
}

#[test]
fn a_second_instance_fails_and_leaves_the_first_ones_file_alone() {
    let dir = temp_dir("pidfile-second");
    let path = pid_file(&dir);
    let mut first = Holder::spawn(&path);
    let pid = first.guard.id();
    assert_eq!(first.verdict(), format!("acquired {pid}"));
    let mut second = Holder::spawn(&path);
    assert_eq!(
        second.verdict(),
        format!("error: already running (pid {pid})"),
        "the second instance must fail with the first one's pid, read from the file (if it is \
         gone, the loser wiped it: never truncate before you hold the lock)"
    );
    let st = second.guard.wait(WAIT);
    assert!(!st.success());
    assert_eq!(
        content(&path),
        format!("{pid}\n"),
        "the losing instance damaged the winner's pid file: never truncate before you hold the \
         lock"
    );
    first.release();
}

#[test]
fn of_many_simultaneous_starts_exactly_one_wins() {
    let dir = temp_dir("pidfile-race");
    let path = pid_file(&dir);
    let mut holders: Vec<Holder> = (0..8).map(|_| Holder::spawn(&path)).collect();
    let verdicts: Vec<String> = holders.iter_mut().map(Holder::verdict).collect();
    let winners: Vec<usize> = verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.starts_with("acquired"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 8 simultaneous starts may win; they said:\n{}",
        verdicts.join("\n")
    );
    let winner_pid = holders[winners[0]].guard.id();
    for v in verdicts.iter().filter(|v| !v.starts_with("acquired")) {
        assert!(
            v == &format!("error: already running (pid {winner_pid})")
                || v == "error: already running (pid unknown)",
            "a loser should say `already running (pid {winner_pid})`, got {v:?}"
        );
    }
    assert_eq!(content(&path), format!("{winner_pid}\n"));
    for h in holders {
        h.release_quietly();
    }
}

impl Holder {
    fn release_quietly(mut self) {
        drop(self.guard.child().stdin.take());
        let _ = self.guard.wait(WAIT);
    }
}

#[test]
fn a_file_naming_a_live_process_that_holds_no_lock_is_stale() {
    let dir = temp_dir("pidfile-stale");
    let path = pid_file(&dir);
    // A live process that has nothing to do with us: its pid in an unlocked file is what a
    // crashed daemon leaves when the kernel reused its pid.
    let mut stranger = ChildGuard::spawn(sh("exec sleep 60").stdin(Stdio::null()));
    let pid = stranger.id();
    std::fs::write(&path, format!("{pid}\n")).expect("write the stale file");
    assert_eq!(
        status(&path).expect("status"),
        Status::Stale(Some(pid)),
        "pid {pid} is alive but holds no lock on the file: the file is stale (a pid can be \
         reused; a lock dies with its holder)"
    );
    assert!(stranger.child().try_wait().expect("try_wait").is_none());
}

#[test]
fn a_new_instance_replaces_a_stale_file_entirely() {
    let dir = temp_dir("pidfile-replace");
    let path = pid_file(&dir);
    let mut f = File::create(&path).expect("create");
    writeln!(f, "123456789012345").expect("write a long stale pid");
    drop(f);
    let mut holder = Holder::spawn(&path);
    let pid = holder.guard.id();
    assert_eq!(holder.verdict(), format!("acquired {pid}"));
    assert_eq!(
        content(&path),
        format!("{pid}\n"),
        "the old, longer content must be truncated once the lock is held"
    );
    holder.release();
}

#[test]
fn two_acquisitions_in_one_process_conflict_too() {
    let dir = temp_dir("pidfile-inproc");
    let path = pid_file(&dir);
    let held = PidFile::acquire(&path).expect("first acquire");
    match PidFile::acquire(&path) {
        Err(e @ PidFileError::AlreadyRunning(_)) => assert_eq!(
            e.to_string(),
            format!("already running (pid {})", std::process::id())
        ),
        other => panic!("a second acquire while the first is held: {other:?}"),
    }
    assert_eq!(held.path(), path.as_path());
    drop(held);
    assert!(!path.exists(), "dropping the PidFile removes the file");
}

#[test]
fn a_pid_file_that_cannot_be_opened_is_an_error_not_stopped() {
    let dir = temp_dir("pidfile-unreadable");
    // A path through a regular file: open(2) fails with ENOTDIR, as it fails with EACCES in a
    // directory we may not search. Neither says the daemon is stopped.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").expect("write");
    let path = file.join("d.pid");
    match status(&path) {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR), "{e}"),
        Ok(st) => panic!(
            "status({}) returned {st:?}: only a missing file (ENOENT) means stopped; any other \
             error must be returned",
            path.display()
        ),
    }
}

#[test]
fn a_file_locked_by_a_process_other_than_the_one_it_names_is_not_running() {
    let dir = temp_dir("pidfile-foreign-lock");
    let path = pid_file(&dir);
    // The file names a live stranger, but another process (this test) holds its lock: whoever
    // can open a pid file can lock it, so a held lock alone does not vouch for the pid written
    // in the file. Only the kernel knows who took the lock.
    let mut stranger = ChildGuard::spawn(sh("exec sleep 60").stdin(Stdio::null()));
    let named = stranger.id();
    std::fs::write(&path, format!("{named}\n")).expect("write the file");
    let holder = File::open(&path).expect("open the file");
    holder.try_lock().expect("lock the file");
    let ours = std::process::id();
    match status(&path) {
        Ok(Status::Running(pid)) => panic!(
            "status said Running({pid}), but the lock on the file is held by pid {ours}, not by \
             pid {named} that the file names: ask the kernel who holds the lock (/proc/locks) \
             before trusting the pid written in the file"
        ),
        Ok(other) => panic!(
            "status said {other:?}, but the file is locked (by pid {ours}): it is neither \
             stale nor stopped; it must be an error naming both pids"
        ),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&named.to_string()) && msg.contains(&ours.to_string()),
                "the error should name the pid in the file ({named}) and the lock holder \
                 ({ours}): {msg}"
            );
        }
    }
    assert!(stranger.child().try_wait().expect("try_wait").is_none());
    drop(holder);
}
