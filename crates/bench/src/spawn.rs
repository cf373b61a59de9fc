//! One spawn + wait of a small program, through every mechanism a Rust program can use.
//!
//! Each function starts the program, waits for it and returns its [`ExitStatus`]: the child is
//! always reaped before the function returns, so a benchmark loop leaves no zombie behind.
//!
//! | function | what it does underneath (glibc, Linux) |
//! | --- | --- |
//! | [`std_status`], [`std_output`] | `posix_spawn` (or `fork` + `exec` when a `pre_exec` hook forces it), then `waitpid` |
//! | [`Program::posix_spawn`] | glibc's `posix_spawn`: `clone(CLONE_VM \| CLONE_VFORK)` on a small stack, then `execve` |
//! | [`Program::fork_exec`] | `fork` (copies the page tables), then `execve` in the child |
//! | [`Program::clone_vfork`] | the same trick as glibc's `posix_spawn`, written out by hand |
//! | [`tokio_status`] | std's spawn, then an async wait (a pidfd on Linux) |
//! | [`duct_run`] | std's spawn behind duct's expression builder |
//!
//! # Why std prefers `posix_spawn`
//! `fork` duplicates the parent's address space: the memory itself is shared copy-on-write, but
//! the kernel still copies every page-table entry and marks each page read-only, so its cost
//! grows with the parent's resident memory (see [`crate::heap`]). It also duplicates only the
//! calling thread of a multi-threaded parent, so between `fork` and `exec` the child may only
//! call async-signal-safe functions: a lock held by another thread stays locked forever.
//! `vfork` (and `clone(CLONE_VM | CLONE_VFORK)`) shares the address space instead and suspends
//! the parent until the child calls `exec` or `_exit`: no copy, a constant cost. glibc's
//! `posix_spawn` is built on exactly that, with the care it needs (signals blocked, handlers
//! reset, a separate stack), which is why std uses it whenever the `Command` allows.
//!
//! # References
//! `posix_spawn(3)`, `fork(2)`, `vfork(2)`, `clone(2)`, `execve(2)`, `waitpid(2)`.

use std::ffi::{CString, c_char, c_int, c_void};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The small program every spawn benchmark starts: it exits 0 at once, so what is measured is
/// the cost of creating, loading and reaping a process.
pub const TRUE_PATH: &str = "/bin/true";

unsafe extern "C" {
    /// The process environment, as `execve` and `posix_spawn` want it (`environ(7)`).
    static environ: *const *const c_char;
}

/// Spawns `program` with `Command::status` (stdio inherited) and waits for it.
pub fn std_status(program: &Path) -> io::Result<ExitStatus> {
    Command::new(program).status()
}

/// Spawns `program` with `Command::output` (stdout and stderr piped and read to the end) and waits
/// for it: two more pipes and a read loop than [`std_status`].
pub fn std_output(program: &Path) -> io::Result<ExitStatus> {
    Command::new(program)
        .stdin(Stdio::null())
        .output()
        .map(|out| out.status)
}

/// Spawns `program` with `tokio::process::Command` on `rt` and awaits its exit.
pub fn tokio_status(rt: &tokio::runtime::Runtime, program: &Path) -> io::Result<ExitStatus> {
    // `status()` spawns the child as soon as it is called, and tokio registers the child with the
    // runtime's reaper at that moment: it must be called inside the runtime, not before
    // `block_on`.
    rt.block_on(async { tokio::process::Command::new(program).status().await })
}

/// Runs `program` through duct (`cmd(program).unchecked().run()`) and returns its status.
pub fn duct_run(program: &Path) -> io::Result<ExitStatus> {
    duct::cmd(program, std::iter::empty::<&str>())
        .unchecked()
        .run()
        .map(|out| out.status)
}

/// Builds a current-thread tokio runtime able to drive child processes.
pub fn tokio_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A program prepared for the raw spawning calls: its path and `argv` as C strings, built once so
/// that the benchmark measures the spawn and not the allocations, and so that nothing needs to be
/// allocated between `fork` and `exec`.
#[derive(Debug)]
pub struct Program {
    path: PathBuf,
    c_path: CString,
    /// Owns the strings that `argv` points into.
    _args: Vec<CString>,
    /// A null-terminated array of pointers into `_args`, as `execve` wants it.
    argv: Vec<*const c_char>,
}

impl Program {
    /// Prepares `path` (run with `argv[0]` = `path` and no other argument).
    pub fn new(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let args = vec![c_path.clone()];
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Ok(Self {
            path,
            c_path,
            _args: args,
            argv,
        })
    }

    /// The program's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Spawns the program with glibc's `posix_spawn` and waits for it.
    ///
    /// # References
    /// `posix_spawn(3)`
    pub fn posix_spawn(&self) -> io::Result<ExitStatus> {
        let mut pid: libc::pid_t = 0;
        // SAFETY: `c_path` and `argv` are valid NUL-terminated strings and a null-terminated
        // pointer array owned by `self` for the whole call; `environ` is the process environment,
        // which this crate never modifies; null file actions and attributes mean "inherit".
        let rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                self.c_path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                self.argv.as_ptr().cast(),
                environ.cast(),
            )
        };
        // posix_spawn returns the error number instead of setting errno.
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        wait_for(pid)
    }

    /// Spawns the program with `fork` (through nix) and `execve`, and waits for it.
    ///
    /// If `execve` fails the child exits with status 127 (a real launcher would report the errno
    /// through a close-on-exec pipe, as std does).
    ///
    /// # References
    /// `fork(2)`, `execve(2)`
    pub fn fork_exec(&self) -> io::Result<ExitStatus> {
        let path = self.c_path.as_ptr();
        let argv = self.argv.as_ptr();
        // SAFETY: the child only calls `execve` and `_exit`, both async-signal-safe, with
        // pointers prepared before the fork; it allocates nothing and takes no lock, so it is
        // sound even if other threads of the parent held locks at the time of the fork.
        match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
            nix::unistd::ForkResult::Child => {
                // SAFETY: see above; `_exit` skips the parent's atexit handlers and stdio
                // buffers, which belong to the parent.
                unsafe {
                    libc::execve(path, argv, environ);
                    libc::_exit(127)
                }
            }
            nix::unistd::ForkResult::Parent { child } => wait_for(child.as_raw()),
        }
    }

    /// Spawns the program the way glibc's `posix_spawn` does, written out: `clone` with
    /// `CLONE_VM | CLONE_VFORK` on a separate stack, then `execve`, and waits for it.
    ///
    /// Why not `libc::vfork()`? A vfork child returns into the parent's stack frame and must not
    /// touch anything the parent will use, and the function "returns twice" like `setjmp`, which
    /// Rust's compiler cannot be told about: it may keep values in stack slots the child then
    /// overwrites. `clone` with its own stack and a callback avoids both problems.
    ///
    /// # References
    /// `clone(2)`, `vfork(2)`
    pub fn clone_vfork(&self) -> io::Result<ExitStatus> {
        // The child's stack: it only runs `child_exec` (a few sigaction calls and execve).
        const STACK_SIZE: usize = 64 * 1024;
        let mut stack = vec![0u8; STACK_SIZE];
        let mut args = CloneArgs {
            path: self.c_path.as_ptr(),
            argv: self.argv.as_ptr(),
            // SAFETY: reading the `environ` pointer itself (not changing it) is fine.
            envp: unsafe { environ },
            // SAFETY: `sigset_t` is plain data; an all-zero value is valid and is overwritten
            // by `pthread_sigmask` below.
            saved_mask: unsafe { std::mem::zeroed() },
            exec_errno: 0,
        };
        // Block every signal around the clone: with CLONE_VM a signal handler running in the
        // child would run on the parent's memory. The child restores the mask just before exec.
        // SAFETY: `all` is initialised by sigfillset before use; `args.saved_mask` is valid.
        let rc = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut args.saved_mask)
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // The stack grows down on every Linux architecture Rust supports: pass its top, aligned.
        let top = (stack.as_mut_ptr() as usize + STACK_SIZE) & !15;
        // SAFETY: `child_exec` only makes async-signal-safe calls through the pointers in `args`,
        // which stay valid because CLONE_VFORK suspends this thread until the child has called
        // `execve` or `_exit`; the child runs on `stack`, which outlives the call for the same
        // reason. SIGCHLD as the exit signal makes it an ordinary child for `waitpid`.
        let pid = unsafe {
            libc::clone(
                child_exec,
                top as *mut c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&raw mut args).cast(),
            )
        };
        let clone_error = io::Error::last_os_error();
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &args.saved_mask, std::ptr::null_mut()) };
        if pid == -1 {
            return Err(clone_error);
        }
        let status = wait_for(pid)?;
        // The child shares our memory, so it could tell us why exec failed, as glibc does.
        if args.exec_errno != 0 {
            return Err(io::Error::from_raw_os_error(args.exec_errno));
        }
        Ok(status)
    }
}

/// What the vfork-style child needs, prepared by the parent.
struct CloneArgs {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    saved_mask: libc::sigset_t,
    /// Written by the child if `execve` fails; read by the parent after the child is gone.
    exec_errno: c_int,
}

/// The vfork-style child: resets signal handlers, restores the signal mask, execs.
extern "C" fn child_exec(arg: *mut c_void) -> c_int {
    let args = arg.cast::<CloneArgs>();
    // SAFETY: `arg` points to the parent's `CloneArgs`, alive and untouched while the parent is
    // suspended by CLONE_VFORK. Only async-signal-safe calls follow. Handlers installed by the
    // parent must not run in this child (they would act on the parent's memory), so each one is
    // reset to the default before the mask is lifted; exec resets them anyway afterwards.
    unsafe {
        for sig in 1..65 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && old.sa_sigaction != libc::SIG_IGN
            {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &(*args).saved_mask, std::ptr::null_mut());
        libc::execve((*args).path, (*args).argv, (*args).envp);
        (*args).exec_errno = *libc::__errno_location();
        libc::_exit(127)
    }
}

/// Waits for `pid` (retrying on EINTR) and returns its status.
///
/// # References
/// `waitpid(2)`
pub fn wait_for(pid: libc::pid_t) -> io::Result<ExitStatus> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Turns a status into an error unless the program exited 0, for benchmark loops.
pub fn check(status: io::Result<ExitStatus>) -> io::Result<()> {
    let status = status?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("the child ended with {status}")))
    }
}
