//! Putting a child in a process group from both sides of `fork`, so that neither order of
//! scheduling leaves a window where it is in the wrong group.
//!
//! Scenario: a shell starts a job in a process group of its own, so that the terminal (and
//! `killpg`) can address the job as a whole. After `fork` two processes run in an order nobody
//! chooses. If only the child calls `setpgid`, the parent may signal the group, or hand it the
//! terminal, before the group exists. If only the parent calls it, the child may already run
//! the program, in the shell's group, reading the terminal before it is its turn.
//!
//! Goal: the child joins its group before `exec`, the parent puts it there too, and the parent
//! accepts that the child may have been faster (then the child has already exec'd and the
//! kernel refuses: EACCES).
//! Chapter: `docs/src/09-job-control.md#process_group`. Check: `cargo xtask check job-control/process_group`.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;

use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid, fork, setpgid};

/// The child's half: moves the calling process into `group`, or into a new group it leads
/// when `group` is `None`. Async-signal-safe: it runs between `fork` and `exec`.
///
/// # References
/// `setpgid(2)`
pub fn join_in_child(group: Option<Pid>) -> nix::Result<()> {
    // Pid 0 means "the calling process"; a pgid of 0 means "the caller's own pid".
    setpgid(Pid::from_raw(0), group.unwrap_or(Pid::from_raw(0)))
}

/// The parent's half: moves `child` into `group`, or into a new group it leads when `group` is
/// `None`. Succeeds also when the child was faster and has already exec'd in that group.
///
/// # References
/// `setpgid(2)`: EACCES, "the child has already performed an execve"
pub fn join_in_parent(child: Pid, group: Option<Pid>) -> nix::Result<()> {
    match setpgid(child, group.unwrap_or(child)) {
        // The child ran first, joined the group itself and exec'd: the kernel no longer lets
        // the parent change a group after exec, and the work is already done.
        Err(Errno::EACCES) => Ok(()),
        other => other,
    }
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

/// Starts `argv` (searched on PATH) with `fork` + `execv` in `group`, or in a new group it
/// leads when `group` is `None`, and returns its pid. When it returns, the child is in the
/// group; the program's first instruction already runs in it.
pub fn spawn_in_group(argv: &[CString], group: Option<Pid>) -> nix::Result<Pid> {
    let Some(program) = argv.first() else {
        return Err(Errno::EINVAL);
    };
    // Everything exec needs is built here, before fork: the path, and argv as the
    // null-terminated array of pointers execv takes. In the child of a threaded program only
    // async-signal-safe functions may run until exec, and allocating is not one (another
    // thread may have held the allocator's lock at the moment of fork). nix's `execvp` builds
    // its array in the child, so it is not used here.
    let path = find_program(program);
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: between fork and exec the child calls only setpgid, execv and _exit, all
    // async-signal-safe, and allocates nothing.
    match unsafe { fork() }? {
        ForkResult::Child => {
            // Both halves: whichever process runs first creates the group.
            let _ = join_in_child(group);
            // SAFETY: `path` and every pointer in `pointers` point to NUL-terminated strings
            // that live until exec or _exit; the array ends with a null pointer.
            unsafe { libc::execv(path.as_ptr(), pointers.as_ptr()) };
            // SAFETY: _exit ends the child without running the parent's atexit handlers or
            // flushing its copied stdio buffers.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            join_in_parent(child, group)?;
            Ok(child)
        }
    }
}
