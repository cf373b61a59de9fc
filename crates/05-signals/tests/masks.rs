//! Tests for `signals/masks`: reading SigPnd/ShdPnd/SigBlk/SigIgn/SigCgt, blocking and taking a
//! pending signal, and what a child inherits across fork and exec.
//!
//! Masks and dispositions belong to a process, so the code under test runs in the
//! `signals-masks` driver, a child of the test; the test reads the driver's and its child's
//! `/proc/PID/status` itself and signals only pids it started. Every step waits on a line the
//! driver prints, never on time. On any failure the guards kill the driver, whose `cat` then
//! reads EOF and exits.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signals::masks::{SignalSets, decode_mask, signal_sets};
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status};

const WAIT: Duration = DEFAULT_DEADLINE;

const SIGHUP: i32 = libc::SIGHUP;
const SIGPIPE: i32 = libc::SIGPIPE;
const SIGTERM: i32 = libc::SIGTERM;
const SIGUSR1: i32 = libc::SIGUSR1;
const SIGUSR2: i32 = libc::SIGUSR2;

/// One mask line of `/proc/PID/status`, read by the test itself (not by the code under test),
/// as a bit set: bit N-1 is signal N.
fn proc_mask(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"));
    u64::from_str_radix(value.trim(), 16).expect("a hexadecimal mask")
}

fn has(mask: u64, sig: i32) -> bool {
    mask & (1 << (sig - 1)) != 0
}

/// The signal numbers in `mask`, ascending.
fn numbers(mask: u64) -> Vec<i32> {
    (1..=64).filter(|&sig| has(mask, sig)).collect()
}

/// The driver, its stdin (close it to let it finish) and its stdout, line by line.
struct Driver {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    out: LineReader,
}

impl Driver {
    fn start(mode: &str) -> Driver {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_signals-masks"));
        cmd.arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut guard = ChildGuard::spawn(&mut cmd);
        let stdin = guard.child().stdin.take();
        let stdout = guard.child().stdout.take().expect("piped");
        let out = LineReader::new(stdout, &format!("`signals-masks {mode}`"));
        Driver { guard, stdin, out }
    }

    fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// Waits for `ready`; if the driver died first, says how, since that is the lesson.
    fn ready(&mut self, why_it_may_die: &str) {
        loop {
            match self.out.next_line(WAIT) {
                Some(line) if line == "ready" => return,
                Some(_) => {}
                None => {
                    let status = self.guard.wait(WAIT);
                    panic!(
                        "the driver ended before it was ready: {}; it said:\n{}\n{why_it_may_die}",
                        describe_status(status),
                        self.out.seen().join("\n")
                    );
                }
            }
        }
    }

    /// Closes the driver's stdin and returns the rest of its output and its exit status.
    fn finish(&mut self) -> (Vec<String>, String) {
        drop(self.stdin.take());
        let rest = self.out.rest(WAIT);
        let status = self.guard.wait(WAIT);
        (rest, describe_status(status))
    }
}

/// The child pid the driver announced (`child PID`).
fn child_pid(driver: &Driver) -> u32 {
    driver
        .out
        .seen()
        .iter()
        .find_map(|l| l.strip_prefix("child ")?.parse().ok())
        .expect("the driver announces its child's pid before `ready`")
}

#[test]
fn decode_mask_reads_bit_n_minus_1_as_signal_n() {
    let cases: [(&str, &[i32]); 6] = [
        ("0000000000000000", &[]),
        ("0000000000000001", &[1]),
        ("0000000000004002", &[2, 15]),
        ("0000000000001000", &[13]),
        ("8000000000000300", &[9, 10, 64]),
        ("fA", &[2, 4, 5, 6, 7, 8]),
    ];
    for (hex, want) in cases {
        let got = decode_mask(hex).unwrap_or_else(|e| panic!("decode_mask({hex:?}) failed: {e}"));
        assert_eq!(
            got, want,
            "decode_mask({hex:?}): the last hex digit holds signals 1-4 (bit 0 = signal 1), \
             the one before it 5-8, and so on; ascending order"
        );
    }
    for bad in ["", "12g4", "0x10", " 1"] {
        let err = decode_mask(bad).expect_err(&format!("decode_mask({bad:?}) must fail"));
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidData,
            "decode_mask({bad:?}): a mask that is not hexadecimal is InvalidData, got {err}"
        );
    }
}

#[test]
fn signal_sets_of_a_missing_process_is_not_found() {
    // Pids are at most 2^22 on Linux (pid_max), so this one cannot exist.
    let err = signal_sets(999_999_999).expect_err("no such process");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "got {err}");
}

#[test]
fn a_blocked_signal_waits_as_pending_and_take_pending_takes_it() {
    let mut driver = Driver::start("hold");
    driver.ready(
        "SIGUSR2 was raised after `block(&[SIGUSR1])` and `block(&[SIGUSR2])`: if it killed the \
         driver, `block` did not add it to the calling thread's mask (pthread_sigmask with \
         SIG_BLOCK). An unblocked signal is delivered at once with its default action: death.",
    );
    let pid = driver.pid();
    // The driver may have inherited other blocked signals from whoever runs the tests.
    let previous = driver
        .out
        .seen()
        .iter()
        .find_map(|l| l.strip_prefix("previous mask:"))
        .unwrap_or_default()
        .to_owned();
    let previous: Vec<&str> = previous.split_whitespace().collect();
    assert!(
        previous.contains(&"SIGUSR1") && !previous.contains(&"SIGUSR2"),
        "the second `block` must return the mask from before it (with SIGUSR1, without \
         SIGUSR2), got:\n{}",
        driver.out.seen().join("\n")
    );
    // To the process: it waits in the shared pending set (ShdPnd). kill() returns once the
    // signal is pending, so /proc shows it now.
    kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).expect("kill the driver");

    let (blk, pnd, shd) = (
        proc_mask(pid, "SigBlk"),
        proc_mask(pid, "SigPnd"),
        proc_mask(pid, "ShdPnd"),
    );
    assert!(
        has(blk, SIGUSR1) && has(blk, SIGUSR2),
        "SigBlk must hold SIGUSR1 and SIGUSR2: `block` adds to the mask (SIG_BLOCK), it does not \
         replace it; SigBlk is {blk:016x}"
    );
    assert!(
        has(pnd, SIGUSR2) && has(shd, SIGUSR1),
        "a raised SIGUSR2 waits in the thread's SigPnd ({pnd:016x}) and a killed SIGUSR1 in the \
         process's ShdPnd ({shd:016x})"
    );
    let sets = signal_sets(pid).expect("signal_sets of the driver");
    assert_eq!(
        (sets.pending.clone(), sets.blocked.clone()),
        (vec![SIGUSR1, SIGUSR2], numbers(blk)),
        "signal_sets: `pending` is SigPnd and ShdPnd together, `blocked` is SigBlk \
         ({blk:016x}); got {sets:?}"
    );

    writeln!(driver.stdin.as_ref().expect("stdin"), "take").expect("tell the driver to go on");
    let taken = driver.out.expect("taken", WAIT);
    assert_eq!(taken, "taken");
    let mut took: Vec<String> = driver
        .out
        .seen()
        .iter()
        .filter(|l| l.starts_with("took "))
        .cloned()
        .collect();
    took.sort();
    assert_eq!(
        took,
        ["took SIGUSR1", "took SIGUSR2"],
        "take_pending must return each pending signal once (sigwait removes it from the set)"
    );
    let sets = signal_sets(pid).expect("signal_sets of the driver");
    assert_eq!(
        sets.pending,
        Vec::<i32>::new(),
        "after take_pending nothing is pending any more: {sets:?}"
    );
    assert_eq!(
        sets.blocked,
        numbers(blk),
        "take_pending leaves the mask as it was: both signals stay blocked; got {sets:?}"
    );
    let (rest, status) = driver.finish();
    assert_eq!(status, "exited 0", "the driver said {rest:?}");
}

#[test]
fn an_ignored_signal_that_is_blocked_stays_pending_and_can_be_taken() {
    let mut driver = Driver::start("ignored");
    driver.ready("the driver could not set SIGUSR1 to SIG_IGN and block it with `block`");
    let pid = driver.pid();
    // Linux never discards a blocked signal, ignored or not: the disposition may change
    // before it is unblocked, so the kernel keeps it pending (sig_ignored() in
    // kernel/signal.c returns false for a blocked signal).
    kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).expect("kill the driver");
    let (ign, blk, shd) = (
        proc_mask(pid, "SigIgn"),
        proc_mask(pid, "SigBlk"),
        proc_mask(pid, "ShdPnd"),
    );
    assert!(
        has(ign, SIGUSR1) && has(blk, SIGUSR1),
        "the driver ignores SIGUSR1 (SigIgn {ign:016x}) and blocks it (SigBlk {blk:016x})"
    );
    assert!(
        has(shd, SIGUSR1),
        "a signal that is both ignored and blocked is not discarded: it waits in ShdPnd \
         ({shd:016x}), since its disposition may change before it is unblocked"
    );
    let sets = signal_sets(pid).expect("signal_sets of the driver");
    assert!(
        sets.pending.contains(&SIGUSR1) && sets.ignored.contains(&SIGUSR1),
        "signal_sets must show SIGUSR1 both pending (ShdPnd {shd:016x}) and ignored (SigIgn \
         {ign:016x}); got {sets:?}"
    );
    writeln!(driver.stdin.as_ref().expect("stdin"), "take").expect("tell the driver to go on");
    let took = driver.out.expect("took SIGUSR1", WAIT);
    assert_eq!(
        took, "took SIGUSR1",
        "sigwait takes a pending signal whatever its disposition, SIG_IGN included"
    );
    let (rest, status) = driver.finish();
    assert_eq!(status, "exited 0", "the driver said {rest:?}");
}

#[test]
fn a_child_inherits_the_mask_and_ignored_signals_but_not_handlers_or_pending_ones() {
    let mut driver = Driver::start("inherit");
    driver.ready("the driver could not block SIGTERM and SIGUSR2 or start `cat`");
    let (parent, child) = (driver.pid(), child_pid(&driver));
    let mine = signal_sets(parent).expect("signal_sets of the driver");
    let theirs = signal_sets(child).expect("signal_sets of cat");
    // The parent, as the driver set it up (and as the test reads it itself).
    for (what, got, sig, truth) in [
        ("blocked", &mine.blocked, SIGTERM, "SigBlk"),
        ("blocked", &mine.blocked, SIGUSR2, "SigBlk"),
        ("pending", &mine.pending, SIGUSR2, "SigPnd"),
        ("ignored", &mine.ignored, SIGHUP, "SigIgn"),
        ("ignored", &mine.ignored, SIGPIPE, "SigIgn"),
        ("caught", &mine.caught, SIGUSR1, "SigCgt"),
    ] {
        assert!(
            got.contains(&sig) && has(proc_mask(parent, truth), sig),
            "the driver's {what} set must contain signal {sig} ({truth}); signal_sets said \
             {mine:?}"
        );
    }
    // SIGPIPE: ignored by the Rust runtime before main in the driver, back to the default in
    // `cat`, because std resets it in every child it spawns.
    assert!(
        !theirs.ignored.contains(&SIGPIPE),
        "std's Command resets SIGPIPE to the default in the child, so `cat` must not ignore it: \
         {theirs:?}"
    );
    assert!(
        theirs.blocked.contains(&SIGTERM) && theirs.blocked.contains(&SIGUSR2),
        "the mask survives fork and exec, and std's Command does not reset it: `cat` must start \
         with SIGTERM and SIGUSR2 blocked, got {theirs:?}"
    );
    assert!(
        theirs.ignored.contains(&SIGHUP),
        "an ignored signal stays ignored across exec (that is how `nohup` works): {theirs:?}"
    );
    assert!(
        !theirs.caught.contains(&SIGUSR1),
        "a handler cannot survive exec (its code is gone): SIGUSR1 is back to the default in \
         `cat`: {theirs:?}"
    );
    assert!(
        !theirs.pending.contains(&SIGUSR2),
        "fork starts the child with an empty pending set: the driver's pending SIGUSR2 is not \
         `cat`'s: {theirs:?}"
    );

    // The consequence: SIGTERM cannot stop this `cat`; it only waits, pending.
    kill(Pid::from_raw(child as i32), Signal::SIGTERM).expect("kill cat");
    let after = signal_sets(child).expect("signal_sets of cat");
    assert!(
        after.pending.contains(&SIGTERM),
        "a SIGTERM sent to a child that inherited a blocked SIGTERM stays pending: {after:?}"
    );
    let (rest, status) = driver.finish();
    assert!(
        rest.contains(&"child ended: code 0".to_string()),
        "`cat` ends only at EOF, its SIGTERM still pending; the driver said {rest:?}"
    );
    assert_eq!(status, "exited 0");
}

#[test]
fn spawn_obeying_starts_the_child_with_those_signals_unblocked() {
    let mut driver = Driver::start("obey");
    driver.ready(
        "the driver blocks SIGTERM and SIGUSR2, raises both (they wait, pending) and starts \
         `cat` with spawn_obeying(.., [SIGTERM]). If it died of signal 15, spawn_obeying \
         unblocked SIGTERM in the parent around the spawn, and the pending SIGTERM was \
         delivered at that moment: unblock in the child only, between fork and exec \
         (CommandExt::pre_exec).",
    );
    let (parent, child) = (driver.pid(), child_pid(&driver));
    let theirs = proc_mask(child, "SigBlk");
    assert!(
        !has(theirs, SIGTERM),
        "`cat` was started with spawn_obeying(.., [SIGTERM]) by a parent that blocks SIGTERM, \
         and still has it blocked (SigBlk {theirs:016x}). Since Rust 1.66 std's Command keeps \
         the parent's mask in the child: unblock the signals in the child, between fork and \
         exec (CommandExt::pre_exec)."
    );
    assert!(
        has(theirs, SIGUSR2),
        "only the given signals are unblocked in the child; SIGUSR2 stays blocked as the parent \
         has it (SigBlk {theirs:016x})"
    );
    assert!(
        has(proc_mask(parent, "SigBlk"), SIGTERM),
        "the parent's own mask must not change: unblock in the child, not here"
    );
    kill(Pid::from_raw(child as i32), Signal::SIGTERM).expect("kill cat");
    let (rest, status) = driver.finish();
    assert!(
        rest.contains(&"child ended: signal 15".to_string()),
        "SIGTERM must kill a child that obeys it; the driver said {rest:?}"
    );
    assert_eq!(status, "exited 0");
}

#[test]
fn signal_sets_of_this_test_process_shows_rusts_ignored_sigpipe() {
    // Reading the sets changes nothing, so this may run in the harness itself.
    let sets: SignalSets = signal_sets(std::process::id()).expect("signal_sets of this process");
    assert!(
        sets.ignored.contains(&SIGPIPE),
        "every Rust program starts with SIGPIPE ignored (a closed pipe or socket must come back \
         as an Err(BrokenPipe), not kill the program): {sets:?}"
    );
}
