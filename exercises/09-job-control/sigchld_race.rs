//! Reaping in a SIGCHLD handler without losing a job: block SIGCHLD from `fork` until the job
//! is in the table.
//!
//! Scenario: a shell keeps a table of its jobs and reaps them in a SIGCHLD handler, which can
//! run between any two instructions of the main program. A child may exit at once, before the
//! parent has even written it into the table: the handler then reaps a pid it does not know,
//! the parent adds the job afterwards, and the table shows forever a running job whose process
//! is long gone. Another time, many children end together, and their SIGCHLDs merge into one.
//!
//! Goal: a handler that reaps every child that has ended and records it in the table, and a
//! `launch` after which no ordering of the two processes can lose a job. The job table is
//! given; the tests make each child exit before it is recorded, a hundred times.
//! Chapter: `docs/src/09-job-control.md#sigchld_race`. Check: `cargo xtask check job-control/sigchld_race`.

use std::ffi::CString;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction, sigprocmask,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, setpgid};

/// How many jobs the table holds.
pub const MAX_JOBS: usize = 256;

/// The status of a job that is still running.
const RUNNING: i32 = -1;

/// A fixed table of jobs that a signal handler may update: only atomics, no lock and no
/// allocation, so that the handler interrupting the main program in the middle of an update
/// cannot deadlock or see a half-written entry. (Given: the exercise is what uses it.)
#[derive(Debug)]
pub struct JobTable {
    pids: [AtomicI32; MAX_JOBS],
    status: [AtomicI32; MAX_JOBS],
}

impl Default for JobTable {
    fn default() -> Self {
        Self::new()
    }
}

impl JobTable {
    /// An empty table.
    pub const fn new() -> Self {
        JobTable {
            pids: [const { AtomicI32::new(0) }; MAX_JOBS],
            status: [const { AtomicI32::new(RUNNING) }; MAX_JOBS],
        }
    }

    /// Records `pid` as a running job. Returns false when the table is full. (Slots are never
    /// reused: this table is for one run of a test driver, not for a long-lived shell.)
    pub fn add(&self, pid: Pid) -> bool {
        for slot in &self.pids {
            if slot
                .compare_exchange(0, pid.as_raw(), Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return true;
            }
        }
        false
    }

    /// Marks the running job `pid` as finished with `status` (the exit code, or 128 + the
    /// signal number). Async-signal-safe. Returns false when no running job has that pid: the
    /// status is then lost.
    pub fn finish(&self, pid: Pid, status: i32) -> bool {
        for (slot, st) in self.pids.iter().zip(&self.status) {
            if slot.load(Ordering::SeqCst) == pid.as_raw()
                && st
                    .compare_exchange(RUNNING, status, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return true;
            }
        }
        false
    }

    /// The jobs still marked running.
    pub fn running(&self) -> Vec<Pid> {
        self.entries()
            .into_iter()
            .filter(|&(_, s)| s == RUNNING)
            .map(|(p, _)| p)
            .collect()
    }

    /// The finished jobs and their statuses.
    pub fn finished(&self) -> Vec<(Pid, i32)> {
        self.entries()
            .into_iter()
            .filter(|&(_, s)| s != RUNNING)
            .collect()
    }

    fn entries(&self) -> Vec<(Pid, i32)> {
        self.pids
            .iter()
            .zip(&self.status)
            .filter_map(|(p, s)| {
                let pid = p.load(Ordering::SeqCst);
                (pid != 0).then(|| (Pid::from_raw(pid), s.load(Ordering::SeqCst)))
            })
            .collect()
    }
}

/// The one job table of this process, shared by the main program and the SIGCHLD handler.
pub static JOBS: JobTable = JobTable::new();

/// The SIGCHLD handler: reaps every child that has ended, without blocking, and records each
/// in [`JOBS`] (exit code, or 128 + signal number). Leaves `errno` as it found it: the
/// interrupted code may be about to read it.
///
/// # References
/// `signal-safety(7)`, `waitpid(2)`
pub extern "C" fn on_sigchld(_signal: libc::c_int) {
    // TODO: reap what has ended (how many children can one SIGCHLD stand for?) and
    // JOBS.finish each one. Only async-signal-safe calls here: no allocation, no lock, no
    // println!, and no todo!() either (a panic cannot unwind out of an `extern "C"` handler).
}

/// Installs [`on_sigchld`] for SIGCHLD, so that an interrupted `read` resumes instead of
/// failing with EINTR and no SIGCHLD comes for a stopped child.
///
/// # References
/// `sigaction(2)`
pub fn install_handler() -> nix::Result<()> {
    // TODO: sigaction with the right flags.
    todo!("install the SIGCHLD handler")
}

/// Starts `argv` (searched on PATH) in a process group of its own and calls `record` with its
/// pid in the parent before anything can reap it, whatever order the scheduler picks. The
/// caller's signal mask is the same afterwards, and the program starts with that mask too.
/// A program that cannot be executed ends the child with status 127; an empty `argv` is EINVAL.
/// Between `fork` and `exec` the child allocates nothing (signal-safety(7)).
///
/// # References
/// `sigprocmask(2)`, `fork(2)`
pub fn launch(argv: &[CString], record: impl FnOnce(Pid)) -> nix::Result<Pid> {
    // TODO: fork, exec in the child, record(pid) in the parent.
    // TODO: what must hold between the fork and the end of record?
    todo!("launch a job race-free")
}
