//! Driver for the `process_group` exercise, run by its tests as a child process. It forks by
//! itself so that it can hold either side back and show what each half does on its own.
//!
//! Usage: `job-groups SCENARIO HELPER` where HELPER is the path of `job-helper`:
//! - `parent-half`: the children never call `setpgid`; only `join_in_parent` runs, while they
//!   are held before exec. Prints `own CHILD PGID` and `join CHILD PGID LEADER`.
//! - `child-half`: the parent never calls `setpgid`; the children call `join_in_child` and exec
//!   `job-helper probe`, which prints its ids (the second one joins the first one's group).
//! - `late-parent`: the child joins and execs first; only then the parent calls
//!   `join_in_parent`. Prints `late parent: ok` or `late parent: ERROR`.
//! - `spawn`: pinned to one CPU (where the parent usually runs on after fork, before the child: a
//!   tendency of the scheduler, not a rule), calls
//!   `spawn_in_group` 20 times and prints `in group on return: K of 20`; starts a leader and a
//!   member of its group and prints `leader L member M pgid G`; starts a missing program and
//!   prints how it ended; prints `allocated before exec: K` (children that allocated memory
//!   between `fork` and `exec`, which ends them with status 86 here).
//! - `late-child`: holds the parent right after `fork` (a `pthread_atfork` handler) until the
//!   program `spawn_in_group` started has printed its ids, so that only the child's half can
//!   have put it in its group. Prints `held probe pid=P pgid=G ...`.
//!
//! In a forked child an allocation is not safe (another thread may have held the allocator's
//! lock at the moment of `fork`): this driver's allocator ends such a child with status 86
//! (`fork_guard.rs`).

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

#[path = "../fork_guard.rs"]
mod fork_guard;
use fork_guard::{ALLOCATED, ARMED};

use job_control::process_group::{join_in_child, join_in_parent, spawn_in_group};
use nix::fcntl::OFlag;
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpgid, pipe2};

/// The read end of the probe's pipe, for the atfork parent handler of `late-child` (-1: none).
static HOLD_FD: AtomicI32 = AtomicI32::new(-1);
/// The descriptor to put back on fd 1 once the probe's pipe is no longer needed.
static SAVED_STDOUT: AtomicI32 = AtomicI32::new(-1);
/// The probe's line, as the atfork parent handler read it.
static mut HELD_LINE: [u8; 256] = [0; 256];
static HELD_LEN: AtomicI32 = AtomicI32::new(-1);

#[global_allocator]
static ALLOCATOR: fork_guard::NoAllocInForkedChild = fork_guard::NoAllocInForkedChild;

/// Runs in the parent of every `fork`, before `fork` returns there. In `late-child` it holds
/// the parent until the child's program has printed its line (or the child is gone), then puts
/// stdout back. Only async-signal-safe calls on static buffers.
extern "C" fn atfork_parent() {
    let fd = HOLD_FD.swap(-1, Ordering::SeqCst);
    if fd < 0 {
        return;
    }
    // SAFETY: dup2, close and read on descriptors this driver owns; the buffer is a static
    // that only this handler writes, and only once (HOLD_FD was swapped out above).
    unsafe {
        // Drop our write end of the probe's pipe (fd 1), so that EOF comes if the child dies.
        libc::dup2(SAVED_STDOUT.load(Ordering::SeqCst), 1);
        let buf = &mut *std::ptr::addr_of_mut!(HELD_LINE);
        let mut len = 0;
        while len < buf.len() {
            let n = libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len);
            if n <= 0 {
                break;
            }
            len += n as usize;
            if buf[..len].contains(&b'\n') {
                break;
            }
        }
        libc::close(fd);
        HELD_LEN.store(len as i32, Ordering::SeqCst);
    }
}

/// `argv` as `execv` takes it: pointers to its strings, then a null pointer. Built before
/// `fork`, so that the child allocates nothing.
fn pointers(argv: &[CString]) -> Vec<*const libc::c_char> {
    argv.iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A pipe whose ends are closed on exec: only the processes meant to hold an end hold it.
fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    pipe2(OFlag::O_CLOEXEC)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: job-groups parent-half|child-half|late-parent|spawn|late-child HELPER");
        return ExitCode::from(2);
    }
    let helper = CString::new(args[2].as_str()).expect("a path without NUL");
    fork_guard::install(Some(atfork_parent));
    let scenario = args[1].clone();
    let result = std::panic::catch_unwind(move || match scenario.as_str() {
        "parent-half" => parent_half(),
        "child-half" => child_half(&helper),
        "late-parent" => late_parent(&helper),
        "spawn" => spawn(&helper),
        "late-child" => late_child(&helper),
        other => Err(format!("unknown scenario {other}").into()),
    });
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("job-groups: {e}");
            reap_everything();
            ExitCode::from(1)
        }
        Err(_) => {
            // A panic (an unfinished exercise) unwound through the scenario: its gates are
            // closed now; end and reap whatever children it left.
            reap_everything();
            ExitCode::from(101)
        }
    }
}

/// Kills every child this process still has and reaps it, so that a failed scenario leaves
/// no orphan behind.
fn reap_everything() {
    let children =
        std::fs::read_to_string(format!("/proc/self/task/{}/children", std::process::id()))
            .unwrap_or_default();
    for pid in children
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    while waitpid(Pid::from_raw(-1), None).is_ok() {}
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `join_in_child` in a forked child; a panic (an unfinished exercise) ends the child at once
/// instead of unwinding into this driver's code, which would then run twice.
fn child_join(group: Option<Pid>) -> nix::Result<()> {
    match std::panic::catch_unwind(|| join_in_child(group)) {
        Ok(r) => r,
        // SAFETY: _exit ends the child without running anything else.
        Err(_) => unsafe { libc::_exit(101) },
    }
}

/// Forks a child that blocks reading `gate` until its write end `gate_w` closes, then exits 0.
fn held_child(gate: &OwnedFd, gate_w: &OwnedFd) -> nix::Result<Pid> {
    let (fd, w) = (gate.as_raw_fd(), gate_w.as_raw_fd());
    // SAFETY: single-threaded; the child calls read and _exit only.
    match unsafe { fork() }? {
        ForkResult::Child => unsafe {
            // SAFETY: read into a local buffer, then _exit: nothing else runs in the child.
            // Its own copy of the write end would keep it from ever seeing EOF.
            libc::close(w);
            let mut b = [0u8; 1];
            libc::read(fd, b.as_mut_ptr().cast(), 1);
            libc::_exit(0)
        },
        ForkResult::Parent { child } => Ok(child),
    }
}

fn parent_half() -> Result<(), Box<dyn std::error::Error>> {
    let (gate_r, gate_w) = pipe()?;
    let a = held_child(&gate_r, &gate_w)?;
    let b = held_child(&gate_r, &gate_w)?;
    join_in_parent(a, None)?;
    say(&format!("own {a} {}", getpgid(Some(a))?));
    join_in_parent(b, Some(a))?;
    say(&format!("join {b} {} {a}", getpgid(Some(b))?));
    drop(gate_w);
    waitpid(a, None)?;
    waitpid(b, None)?;
    Ok(())
}

fn child_half(helper: &CString) -> Result<(), Box<dyn std::error::Error>> {
    let argv = [helper.clone(), CString::new("probe")?];
    let ptrs = pointers(&argv);
    let (gate_r, gate_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;
    let (gr, gw, rw) = (gate_r.as_raw_fd(), gate_w.as_raw_fd(), ready_w.as_raw_fd());
    // The leader: joins its own group, says so on the ready pipe, then waits at the gate.
    // SAFETY: single-threaded; the child calls setpgid (inside join_in_child), write, read and
    // _exit only.
    let leader = match unsafe { fork() }? {
        ForkResult::Child => {
            let ok = child_join(None).is_ok();
            let mut b = [u8::from(ok)];
            // SAFETY: write and read on inherited pipe fds with local buffers, then _exit.
            unsafe {
                libc::close(gw);
                libc::write(rw, b.as_ptr().cast(), 1);
                libc::read(gr, b.as_mut_ptr().cast(), 1);
                libc::_exit(0)
            }
        }
        ForkResult::Parent { child } => child,
    };
    drop(ready_w);
    let mut b = [0u8; 1];
    nix::unistd::read(&ready_r, &mut b)?;
    say(&format!("leader {leader}"));
    for group in [None, Some(leader)] {
        // SAFETY: single-threaded; argv was built before the fork; the child calls setpgid,
        // execv and _exit only.
        match unsafe { fork() }? {
            ForkResult::Child => {
                let _ = child_join(group);
                // SAFETY: NUL-terminated strings alive until exec; the array ends with null.
                unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
                // SAFETY: exec failed; end the child at once.
                unsafe { libc::_exit(127) }
            }
            ForkResult::Parent { child } => {
                waitpid(child, None)?;
            }
        }
    }
    drop(gate_w);
    waitpid(leader, None)?;
    Ok(())
}

fn late_parent(helper: &CString) -> Result<(), Box<dyn std::error::Error>> {
    let argv = [helper.clone(), CString::new("read")?];
    let ptrs = pointers(&argv);
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (ir, ow) = (in_r.as_raw_fd(), out_w.as_raw_fd());
    // SAFETY: single-threaded; the child calls dup2, setpgid, execv and _exit only.
    let child = match unsafe { fork() }? {
        ForkResult::Child => unsafe {
            // SAFETY: dup2 on inherited fds; async-signal-safe.
            libc::dup2(ir, 0);
            libc::dup2(ow, 1);
            let _ = child_join(None);
            libc::execv(ptrs[0], ptrs.as_ptr());
            libc::_exit(127)
        },
        ForkResult::Parent { child } => child,
    };
    drop(in_r);
    drop(out_w);
    // `reading PID` proves the child has exec'd: from now on only the child itself could
    // change its group, and the kernel answers the parent with EACCES.
    let mut lines = BufReader::new(std::fs::File::from(out_r)).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    say(&format!("child says: {first}"));
    match join_in_parent(child, None) {
        Ok(()) => say("late parent: ok"),
        Err(e) => say(&format!("late parent: ERROR {e}")),
    }
    say(&format!(
        "child pgid {} child {child}",
        getpgid(Some(child))?
    ));
    drop(in_w);
    waitpid(child, None)?;
    Ok(())
}

fn spawn(helper: &CString) -> Result<(), Box<dyn std::error::Error>> {
    // On one CPU the parent usually keeps running after fork until it blocks (a tendency of
    // the scheduler, not a promise): a child that has not yet run has not joined any group, so
    // only the parent's setpgid can have put it there.
    let mut one = CpuSet::new();
    one.set(0)?;
    sched_setaffinity(Pid::from_raw(0), &one)?;
    let quick = [helper.clone(), CString::new("exit")?, CString::new("0")?];
    let mut in_group = 0;
    let mut allocated = 0;
    let mut count = |status: WaitStatus| {
        if let WaitStatus::Exited(_, ALLOCATED) = status {
            allocated += 1;
        }
    };
    ARMED.store(true, Ordering::SeqCst);
    for _ in 0..20 {
        let pid = spawn_in_group(&quick, None)?;
        if getpgid(Some(pid)) == Ok(pid) {
            in_group += 1;
        }
        count(waitpid(pid, None)?);
    }
    say(&format!("in group on return: {in_group} of 20"));

    let spin = [helper.clone(), CString::new("spin")?];
    let leader = spawn_in_group(&spin, None)?;
    let member = spawn_in_group(&spin, Some(leader))?;
    say(&format!(
        "leader {leader} member {member} pgid {} {}",
        getpgid(Some(leader))?,
        getpgid(Some(member))?
    ));
    // Each by its pid: a wrong spawn_in_group may have left one outside the group.
    let _ = nix::sys::signal::kill(leader, Signal::SIGKILL);
    let _ = nix::sys::signal::kill(member, Signal::SIGKILL);
    waitpid(leader, None)?;
    waitpid(member, None)?;

    let missing = [CString::new("/nonexistent/job-control-missing")?];
    let pid = spawn_in_group(&missing, None)?;
    let status = waitpid(pid, None)?;
    count(status);
    ARMED.store(false, Ordering::SeqCst);
    match status {
        WaitStatus::Exited(_, code) => say(&format!("missing program exited {code}")),
        other => say(&format!("missing program: {other:?}")),
    }
    say(&format!("allocated before exec: {allocated}"));
    let empty: [CString; 0] = [];
    match spawn_in_group(&empty, None) {
        Ok(pid) => {
            say(&format!("empty argv started {pid}"));
            let _ = waitpid(pid, None);
        }
        Err(e) => say(&format!("empty argv: {e}")),
    }
    // A bare name, searched on the PATH the test gave this driver (`execvp`'s search, done
    // before fork): the test puts a file of that name that is not executable in an earlier
    // directory, which the search must pass over.
    if let Some(name) = std::env::var_os("JOB_GROUPS_BARE_NAME") {
        let argv = [
            CString::new(name.into_encoded_bytes())?,
            CString::new("exit")?,
            CString::new("9")?,
        ];
        let pid = spawn_in_group(&argv, None)?;
        match waitpid(pid, None)? {
            WaitStatus::Exited(_, code) => say(&format!("bare name exited {code}")),
            other => say(&format!("bare name: {other:?}")),
        }
    }
    Ok(())
}

fn late_child(helper: &CString) -> Result<(), Box<dyn std::error::Error>> {
    let argv = [helper.clone(), CString::new("probe")?];
    // The probe writes its line into a pipe (its fd 1) that the atfork parent handler reads
    // before `fork` returns in the parent: until then the parent cannot have called setpgid.
    let (r, w) = pipe()?;
    let saved = nix::unistd::dup(std::io::stdout())?;
    SAVED_STDOUT.store(saved.as_raw_fd(), Ordering::SeqCst);
    // SAFETY: dup2 onto fd 1 of this single-threaded driver; fd 1 is put back below (or by the
    // atfork handler).
    unsafe { libc::dup2(w.as_raw_fd(), 1) };
    drop(w);
    HOLD_FD.store(r.as_raw_fd(), Ordering::SeqCst);
    let result = spawn_in_group(&argv, None);
    // The handler closed the read end if it ran; if it did not (no fork: posix_spawn), read
    // the line here.
    let handled = HOLD_FD.swap(-1, Ordering::SeqCst) < 0;
    // SAFETY: puts the saved stdout back on fd 1.
    unsafe { libc::dup2(saved.as_raw_fd(), 1) };
    let line = if handled {
        std::mem::forget(r);
        let len = HELD_LEN.load(Ordering::SeqCst).max(0) as usize;
        // SAFETY: the handler has finished writing the buffer (it ran inside fork, which has
        // returned); nothing writes it again.
        let buf = unsafe { &*std::ptr::addr_of!(HELD_LINE) };
        String::from_utf8_lossy(&buf[..len]).into_owned()
    } else {
        let mut line = String::new();
        BufReader::new(std::fs::File::from(r)).read_line(&mut line)?;
        line
    };
    let pid = result?;
    waitpid(pid, None)?;
    say(&format!("held {} child {pid}", line.trim_end()));
    Ok(())
}
