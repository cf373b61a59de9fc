//! A program on a terminal of its own: a pseudo-terminal, a new session, a controlling tty.
//!
//! Scenario: to test what a terminal does to jobs (^C, ^Z, a background read, a hang-up) you
//! need a terminal you control. A pseudo-terminal is a pair: the program sees the slave side as
//! an ordinary terminal; whoever holds the master side is the user at the keyboard, and the
//! kernel's line discipline sits between them. A terminal signals only the processes of the
//! session it controls, so the program must lead a new session and take the slave as its
//! controlling terminal.
//!
//! Goal: start a command with the slave as stdin, stdout and stderr, as the leader of a new
//! session whose controlling terminal is that slave, and hand the master to the caller. Leave
//! no copy of either side where it does not belong.
//! Chapter: `docs/src/09-job-control.md#pty_session`. Check: `cargo xtask check job-control/pty_session`.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::fcntl::{OFlag, open};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;

/// A command running on the slave side of a new pseudo-terminal; the caller is the terminal.
#[derive(Debug)]
pub struct OnTerminal {
    /// The master side: what the caller writes is typed on the terminal; what the program
    /// writes (and the terminal echoes) can be read here.
    pub master: OwnedFd,
    /// The program: the leader of a new session whose controlling terminal is the slave.
    pub child: Child,
}

/// Opens a new pseudo-terminal and returns `(master, slave)`, both close-on-exec.
///
/// # References
/// `posix_openpt(3)`, `grantpt(3)`, `unlockpt(3)`, `ptsname(3)`, `pty(7)`
pub fn open_pty() -> nix::Result<(OwnedFd, OwnedFd)> {
    // O_CLOEXEC at creation: in a threaded program another thread may fork at any moment, and
    // a child that inherits the master keeps the terminal from ever hanging up. O_NOCTTY: this
    // process must not acquire the terminal as its own controlling tty.
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname_r(&master)?;
    let slave = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // A PtyMaster is an OwnedFd inside; unwrap it through its raw fd.
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: into_raw_fd gives up ownership of a valid fd, which the OwnedFd takes over.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    Ok((master, slave))
}

/// Spawns `cmd` on a new pseudo-terminal: stdin, stdout and stderr are the slave, the child
/// leads a new session and the slave is its controlling terminal. Returns the master and the
/// child. The caller holds no copy of the slave afterwards.
///
/// # References
/// `setsid(2)`, `ioctl_tty(2)` (TIOCSCTTY), `credentials(7)`
pub fn spawn_on_terminal(cmd: &mut Command) -> io::Result<OnTerminal> {
    let (master, slave) = open_pty()?;
    cmd.stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave.try_clone()?));
    // SAFETY: the closure runs in the child between fork and exec and calls only setsid and
    // ioctl, which are async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            // A new session: no controlling terminal yet, and this process leads it. (It is
            // not a group leader after fork, so setsid cannot fail with EPERM here.)
            nix::unistd::setsid()?;
            // Take the slave (now fd 0) as the controlling terminal; the session's only
            // process group becomes its foreground group.
            nix::errno::Errno::result(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // `cmd` still holds the three copies of the slave given to it, and `slave` is the fourth:
    // replace them and drop ours, or the master never reads end-of-file after the child exits.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    drop(slave);
    Ok(OnTerminal { master, child })
}
