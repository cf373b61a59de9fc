//! A program on a terminal of its own: a pseudo-terminal, a new session, a controlling tty.
//!
//! Scenario: to test what a terminal does to jobs (^C, ^Z, a background read, a hang-up) you
//! need a terminal you control. A pseudo-terminal is a pair: the program sees the slave side as
//! an ordinary terminal; whoever holds the master side is the user at the keyboard, and the
//! kernel's line discipline sits between them. A terminal signals only the processes of the
//! session it controls.
//!
//! Goal: start a command with the slave as stdin, stdout and stderr, as the leader of a new
//! session whose controlling terminal is that slave, and hand the master to the caller. Leave
//! no copy of either side where it does not belong: the tests check that the terminal reports
//! the end once the program is gone, and that other programs do not inherit it.
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

/// Opens a new pseudo-terminal and returns `(master, slave)`.
///
/// # References
/// `posix_openpt(3)`, `grantpt(3)`, `unlockpt(3)`, `ptsname(3)`, `pty(7)`
pub fn open_pty() -> nix::Result<(OwnedFd, OwnedFd)> {
    // TODO: open the master, allow and unlock its slave, open the slave by its name. Think about
    // which flags each open needs in a program where other threads start processes.
    todo!("open a pseudo-terminal")
}

/// Spawns `cmd` on a new pseudo-terminal: stdin, stdout and stderr are the slave, the child
/// leads a new session and the slave is its controlling terminal. Returns the master and the
/// child. The caller holds no copy of the slave afterwards.
///
/// # References
/// `setsid(2)`, `ioctl_tty(2)` (TIOCSCTTY), `credentials(7)`
pub fn spawn_on_terminal(cmd: &mut Command) -> io::Result<OnTerminal> {
    // TODO: the slave as the three standard streams; in the child, before exec, what makes it a
    // session leader with that terminal as its controlling one (`CommandExt::pre_exec`).
    // TODO: after spawning, account for every copy of the slave.
    todo!("a program on a terminal of its own")
}
