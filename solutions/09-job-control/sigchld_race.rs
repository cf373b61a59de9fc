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
//! `launch` after which no ordering of the two processes can lose a job.
//! Chapter: `docs/src/09-job-control.md#sigchld_race`. Check: `cargo xtask check job-control/sigchld_race`.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
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
    let saved = Errno::last_raw();
    // One SIGCHLD may stand for many children: pending signals of one kind merge. Reap until
    // nothing is left.
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                JOBS.finish(pid, code);
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                JOBS.finish(pid, 128 + sig as i32);
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Err(Errno::EINTR) => continue,
            // Stops and continues are not asked for (no WUNTRACED); nothing else can come.
            Ok(_) | Err(_) => break,
        }
    }
    Errno::set_raw(saved);
}

/// Installs [`on_sigchld`] for SIGCHLD, with SA_RESTART (a `read` interrupted by the handler
/// resumes instead of failing with EINTR) and SA_NOCLDSTOP (no SIGCHLD for stops).
///
/// # References
/// `sigaction(2)`
pub fn install_handler() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_sigchld),
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handler calls only waitpid and atomic operations (async-signal-safe) and
    // restores errno.
    unsafe { sigaction(Signal::SIGCHLD, &action) }.map(|_| ())
}

/// Finds `program` the way `execvp` would, in the parent: a name with a `/` is used as it is,
/// another is looked up in each directory of PATH (glibc's default `/bin:/usr/bin` without
/// one) for an executable file. Not found: the name itself, whose exec then fails with ENOENT.
fn find_program(program: &CStr) -> CString {
    let name = program.to_bytes();
    if name.contains(&b'/') {
        return program.to_owned();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    for dir in path.as_bytes().split(|&b| b == b':') {
        // An empty entry means the current directory.
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let candidate = std::path::Path::new(OsStr::from_bytes(dir)).join(OsStr::from_bytes(name));
        let executable = std::fs::metadata(&candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if executable && let Ok(c) = CString::new(candidate.into_os_string().into_vec()) {
            return c;
        }
    }
    program.to_owned()
}

/// Starts `argv` (searched on PATH) in a process group of its own and calls `record` with its
/// pid in the parent, before anything can reap it: SIGCHLD is blocked from before `fork` until
/// `record` has returned, then the caller's mask is restored (a SIGCHLD that came meanwhile is
/// handled at that moment). The child starts with the caller's original signal mask.
///
/// # References
/// `sigprocmask(2)`, `fork(2)`
pub fn launch(argv: &[CString], record: impl FnOnce(Pid)) -> nix::Result<Pid> {
    let Some(program) = argv.first() else {
        return Err(Errno::EINVAL);
    };
    // What exec needs is built before fork: the child must not allocate (signal-safety(7);
    // nix's `execvp` would build this array in the child).
    let path = find_program(program);
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&chld), Some(&mut old))?;
    // SAFETY: between fork and exec the child calls only sigprocmask, setpgid, execv and
    // _exit, all async-signal-safe, and allocates nothing.
    match unsafe { fork() } {
        Err(e) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            Err(e)
        }
        Ok(ForkResult::Child) => {
            // A blocked signal stays blocked across exec: give the program the mask the caller
            // had, not ours.
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
            // SAFETY: `path` and the pointers point to NUL-terminated strings that live until
            // exec or _exit; the array ends with a null pointer.
            unsafe { libc::execv(path.as_ptr(), pointers.as_ptr()) };
            // SAFETY: exec failed; end the child without running the parent's code.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            record(child);
            // Unblocking delivers a SIGCHLD that arrived meanwhile: the handler now finds the
            // job in the table.
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
            Ok(child)
        }
    }
}
