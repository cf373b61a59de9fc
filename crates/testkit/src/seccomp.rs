//! Seccomp filters for tests: make chosen system calls of the calling thread fail, trap, or wait
//! for the test's answer, so that a test can provoke what the kernel does only at a bad moment
//! (a process that exits just before its signal, a pid reused between two calls).
//!
//! A filter binds the thread that installs it (and the threads and processes it starts later)
//! and cannot be removed: install it on a thread of its own, or in an isolated test.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `AUDIT_ARCH_*` of this architecture, which a filter checks before it trusts a call's number.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

/// What a matched system call does instead of running.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Fails with this errno (`SECCOMP_RET_ERRNO`).
    Errno(i32),
    /// Raises SIGSYS (`SECCOMP_RET_TRAP`).
    Trap,
    /// Waits until the listener that [`install`] returns answers it (`SECCOMP_RET_USER_NOTIF`).
    Notify,
}

/// Installs, on the calling thread, a filter that gives each of `calls` the `action`; every
/// other call (and every call of another architecture) is allowed. Returns the listener for
/// [`Action::Notify`], `None` otherwise.
///
/// # Errors
/// The errno of `prctl` or `seccomp` (a kernel without seccomp, or without user notifications).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn install(calls: &[libc::c_long], action: Action) -> io::Result<Option<OwnedFd>> {
    // Offsets in `struct seccomp_data`: the system call's number, then the architecture.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let n = u8::try_from(calls.len())
        .ok()
        .filter(|&n| n < 250)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too many system calls"))?;
    let mut program = vec![
        load(ARCH),
        // Another architecture's system call: allow it (jump over the checks).
        jump_if_equal(AUDIT_ARCH, 0, n + 1),
        load(NR),
    ];
    for (i, &call) in calls.iter().enumerate() {
        // Equal: jump over the remaining checks and the ALLOW, to the action.
        let left = n - 1 - i as u8;
        program.push(jump_if_equal(call as u32, left + 1, 0));
    }
    program.push(ret(libc::SECCOMP_RET_ALLOW));
    program.push(ret(match action {
        Action::Errno(errno) => libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
        Action::Trap => libc::SECCOMP_RET_TRAP,
        Action::Notify => libc::SECCOMP_RET_USER_NOTIF,
    }));
    let listener = install_program(&mut program, matches!(action, Action::Notify))?;
    Ok(listener)
}

/// `A = the 32-bit word at offset` of `struct seccomp_data`.
pub fn load(offset: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        jt: 0,
        jf: 0,
        k: offset,
    }
}

/// `if A == k`, skip `jt` instructions, else skip `jf`.
pub fn jump_if_equal(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// `return k`: a `SECCOMP_RET_*` action.
pub fn ret(k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Installs `program` on the calling thread (after `PR_SET_NO_NEW_PRIVS`, which it needs
/// without CAP_SYS_ADMIN); with `listener`, returns the listener of its user notifications.
///
/// # Errors
/// The errno of `prctl` or `seccomp`.
pub fn install_program(
    program: &mut [libc::sock_filter],
    listener: bool,
) -> io::Result<Option<OwnedFd>> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a program too long"))?,
        filter: program.as_mut_ptr(),
    };
    let flags = if listener {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    // SAFETY: plain prctl and seccomp calls; `fprog` points at `program`, alive during the call
    // (the kernel copies the filter). Without SECCOMP_FILTER_FLAG_TSYNC the filter binds the
    // calling thread only. A listener is a new fd that nothing else owns.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let rc = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        );
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(listener.then(|| OwnedFd::from_raw_fd(rc as i32)))
    }
}

/// A system call waiting on a listener: its id and its arguments.
#[derive(Debug, Clone, Copy)]
pub struct Paused {
    /// The notification's id, to answer it.
    pub id: u64,
    /// The call's arguments.
    pub args: [u64; 6],
}

/// The next call waiting on `listener`; `None` once no thread uses the filter any more (or
/// after `deadline`).
pub fn next_paused(listener: &OwnedFd, deadline: std::time::Duration) -> Option<Paused> {
    use std::os::fd::AsRawFd;
    let mut fds = [libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let millis = i32::try_from(deadline.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `fds` is a valid array of one pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, millis) };
    if n <= 0 || fds[0].revents & libc::POLLIN == 0 {
        return None;
    }
    // SAFETY: seccomp_notif is plain data, zeroed as SECCOMP_IOCTL_NOTIF_RECV requires.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl fills `notif`, a valid seccomp_notif.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut notif,
        )
    };
    (rc == 0).then_some(Paused {
        id: notif.id,
        args: notif.data.args,
    })
}

/// Lets the paused call `id` run as it would have without the filter.
pub fn resume(listener: &OwnedFd, id: u64) {
    use std::os::fd::AsRawFd;
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    // SAFETY: `resp` is a valid seccomp_notif_resp. A call that went away meanwhile (ENOENT)
    // needs no answer.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
}
