//! Exercise `daemon/detach`: become a daemon by hand, the daemon(7) way, and tell the launcher
//! when you are ready.
//!
//! Scenario: a program started from a shell must turn itself into a daemon: a process with no
//! terminal, no session of the shell, no inherited fds or signal settings, that the launching
//! command does not wait for, but that reports back before the launching command returns, so
//! that `prog start && use-it` works, and so that a failed start-up is an error the user sees.
//!
//! Goal: `detach(umask)` returns `Ok(Ready)` only in the daemon (the grandchild). The launcher
//! (the original process) never returns from it: it waits on a pipe and exits 0 once the daemon
//! calls [`Ready::ready`], or prints the daemon's own message to stderr and exits 1 when the
//! daemon calls [`Ready::fail`] or dies first. The process in between exits at once.
//!
//! The tests look at the running daemon from outside, through `/proc`: its parent, session,
//! controlling terminal, umask, working directory, open fds, blocked and ignored signals.
//!
//! Read: docs/src/10-daemon.md#detach. Check: `cargo xtask check daemon/detach`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::stat::{Mode, umask};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, chdir, fork, setsid};

/// What the daemon writes on the readiness pipe when it is ready.
const READY: &[u8] = b"READY\n";

/// The daemon's end of the readiness pipe: say "ready" once, or fail with a message.
#[derive(Debug)]
pub struct Ready {
    pipe: File,
}

impl Ready {
    /// Tells the launcher that start-up succeeded; the launcher then exits 0. Closing the pipe
    /// (dropping `self`) leaves the daemon with no fd of the launcher's.
    pub fn ready(mut self) -> io::Result<()> {
        self.pipe.write_all(READY)
    }

    /// Tells the launcher that start-up failed with `message` (the launcher prints it and exits
    /// 1), then exits the daemon with status 1 through `_exit(2)`: the daemon is a forked copy of
    /// the launcher, whose atexit handlers and C stdio buffers are not its own to run or flush.
    pub fn fail(mut self, message: &str) -> ! {
        // Nobody would read an error about the error: the launcher is all that is left.
        let _ = self.pipe.write_all(message.as_bytes());
        drop(self);
        // SAFETY: _exit ends the process at once; nothing of ours needs running before.
        unsafe { libc::_exit(1) }
    }
}

/// Detaches the calling process into a daemon with `mask` as its umask.
///
/// Call it while the process has a single thread (fork copies only the calling thread), and
/// while no live value owns an fd above 2: the daemon closes every fd from 3 up but its end of
/// the readiness pipe, and a `File` or socket still alive would later close, or use, whatever
/// else got its number. Open files after `detach`. It returns `Err` only in the launcher,
/// before anything was forked.
///
/// # References
/// daemon(7) "SysV daemons", fork(2), setsid(2), close_range(2), umask(2).
pub fn detach(mask: Mode) -> io::Result<Ready> {
    // The pipe is created first so that closing every other fd can spare its write end.
    let (read_end, write_end) = std::io::pipe()?;
    // SAFETY: the caller runs single-threaded (documented above), so the child may call
    // anything; the launcher branch only reads a pipe and waits.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { child } => {
            drop(write_end);
            // The first child exits at once: reap it, or it stays a zombie of the launcher.
            let _ = waitpid(child, None);
            launcher_waits(read_end)
        }
        ForkResult::Child => {
            drop(read_end);
            let pipe = File::from(OwnedFd::from(write_end));
            match become_daemon(mask, &pipe) {
                Ok(()) => Ok(Ready { pipe }),
                Err(e) => Ready { pipe }.fail(&format!("cannot detach: {e}")),
            }
        }
    }
}

/// The launcher's side: the daemon's first words decide its exit status.
fn launcher_waits(mut read_end: io::PipeReader) -> ! {
    let mut said = Vec::new();
    // EOF comes when the daemon wrote its verdict and closed the pipe, or died without a word.
    let _ = read_end.read_to_end(&mut said);
    if said.starts_with(READY) {
        std::process::exit(0);
    }
    let message = String::from_utf8_lossy(&said);
    let message = message.trim();
    if message.is_empty() {
        eprintln!("the daemon exited during start-up without saying why");
    } else {
        eprintln!("{message}");
    }
    std::process::exit(1)
}

/// The daemon(7) steps, in the first child; returns in the grandchild.
fn become_daemon(mask: Mode, pipe: &File) -> io::Result<()> {
    // A new session: no controlling terminal, no process group of the shell's job control.
    setsid()?;
    // Fork again: the session leader exits, so the daemon is not a session leader and can never
    // acquire a controlling terminal by opening one.
    // SAFETY: still single-threaded: the first child has only the thread that called fork.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => {
            // SAFETY: _exit ends the process without running atexit handlers or flushing the
            // launcher's copied stdio buffers twice.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Child => {}
    }
    // Nothing the launcher had open is ours to keep, except the readiness pipe.
    close_all_except(pipe.as_raw_fd())?;
    // stdin, stdout and stderr on /dev/null: a write to a closed or foreign fd 1 would go to
    // whatever file gets fd 1 next.
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: dup2 onto 0-2 replaces whatever is there; `null` stays valid for the call.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    drop(null);
    // Signal settings survive fork and exec: the launcher's blocked set and its ignored signals
    // (Rust itself ignores SIGPIPE) must not become the daemon's.
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    for sig in 1..=libc::SIGRTMAX() {
        reset_to_default(sig);
    }
    umask(mask);
    // The working directory keeps its file system busy (no unmount) while the daemon runs.
    chdir("/")?;
    Ok(())
}

/// Restores the default action of signal `sig`.
///
/// Through the raw system call, not `signal(3)`: the C library refuses (EINVAL) to touch the two
/// signals it keeps for itself (32 and 33 in glibc), yet an ignored 32 or 33 is inherited like
/// any other. Errors (SIGKILL and SIGSTOP cannot be changed) are expected and harmless.
fn reset_to_default(sig: i32) {
    // The kernel's `struct sigaction` with every field zero is SIG_DFL, no flags, an empty mask,
    // whatever the field order of the architecture; 64 bytes are more than any of them needs.
    let action = [0u64; 8];
    // SAFETY: rt_sigaction reads `action` (valid, large enough) and writes nothing (null old
    // action); the size argument is the kernel's signal-set size, 64 signals = 8 bytes.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            action.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        );
    }
}

/// Closes every fd from 3 up except `keep`.
fn close_all_except(keep: i32) -> io::Result<()> {
    let keep = u32::try_from(keep).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let ranges = [(3, keep.saturating_sub(1)), (keep + 1, u32::MAX)];
    for (first, last) in ranges {
        if first > last {
            continue;
        }
        // SAFETY: close_range takes plain integers; the fds it closes are owned by nobody in
        // this freshly forked process except `keep`, which is outside both ranges.
        if unsafe { libc::close_range(first, last, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
