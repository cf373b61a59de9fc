//! Exercise `daemon/pidfile`: a pid file that tells the truth, even after a crash.
//!
//! Scenario: a daemon writes its pid to a file so that `stop` and `status` can find it. Two
//! copies started at the same moment must not both run; a daemon killed with SIGKILL leaves its
//! file behind, and the pid in it may by now belong to some unrelated process.
//!
//! Goal: [`PidFile::acquire`] makes the caller the one running instance: it fails with
//! [`PidFileError::AlreadyRunning`] (displayed `already running (pid N)`) while another instance
//! holds the file, and never damages that instance's file. The file is held for as long as the
//! returned value lives. [`status`] tells a running instance from a stale file and from none,
//! without trusting a pid that nobody vouches for: `Running(pid)` only when the kernel says that
//! `pid`, the one written in the file, holds its lock (anyone who may open the file may lock it);
//! a file locked by another pid than the one it names is an error naming both. A file it cannot
//! open for any reason other than its absence is an error too, not "stopped".
//!
//! Read: docs/src/10-daemon.md#pidfile. Check: `cargo xtask check daemon/pidfile`.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A pid file held (locked) by this process; the lock goes with the open file.
#[derive(Debug)]
pub struct PidFile {
    file: File,
    path: PathBuf,
}

/// Why [`PidFile::acquire`] failed.
#[derive(Debug)]
pub enum PidFileError {
    /// Another live process holds the file; its pid as written in the file, if readable.
    AlreadyRunning(Option<u32>),
    /// The file could not be opened, locked or written.
    Io(io::Error),
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidFileError::AlreadyRunning(Some(pid)) => write!(f, "already running (pid {pid})"),
            PidFileError::AlreadyRunning(None) => write!(f, "already running (pid unknown)"),
            PidFileError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PidFileError {}

impl From<io::Error> for PidFileError {
    fn from(e: io::Error) -> Self {
        PidFileError::Io(e)
    }
}

/// What a pid file says about the daemon it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The file is locked: the process that wrote this pid is alive and holds it.
    Running(u32),
    /// The file exists but nobody holds its lock: the daemon died; the pid in it (if any) must
    /// not be signalled, it may belong to anyone by now.
    Stale(Option<u32>),
    /// There is no pid file.
    Stopped,
}

impl PidFile {
    /// Becomes the one running instance for `path`, writing our pid into it.
    ///
    /// # References
    /// open(2) (`O_CREAT` without `O_TRUNC`), flock(2) through `File::try_lock`, ftruncate(2).
    pub fn acquire(path: &Path) -> Result<PidFile, PidFileError> {
        loop {
            // No O_TRUNC: opening must not wipe the pid of an instance that holds the file.
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(PidFileError::AlreadyRunning(read_pid(&mut file)));
                }
                Err(TryLockError::Error(e)) => return Err(e.into()),
            }
            // The previous holder may have removed the file between our open and our lock: then
            // we locked an unlinked inode and must start over with the file now at `path`.
            let ours = file.metadata()?;
            match std::fs::metadata(path) {
                Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {}
                _ => continue,
            }
            // Only the lock holder writes: truncate what a dead instance left, then our pid.
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            file.sync_data()?;
            return Ok(PidFile {
                file,
                path: path.to_path_buf(),
            });
        }
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Remove the file while still holding the lock, so no one sees it unlocked with our pid
        // in it; the lock itself goes when `file` closes, right after.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// The pid written in an open pid file, if it holds one.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// What the pid file at `path` says: a live holder, a stale file, or no file.
///
/// The lock decides, not the pid: a pid can be reused, a lock dies with its holder. And the lock
/// alone vouches for nobody: anyone who can open the file can lock it, so the pid written in the
/// file counts only when the kernel says that this very pid took the lock.
pub fn status(path: &Path) -> io::Result<Status> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Status::Stopped),
        Err(e) => return Err(e),
    };
    let pid = read_pid(&mut file);
    // A shared lock conflicts with the holder's exclusive one, and we release it at once.
    match file.try_lock_shared() {
        Ok(()) => {
            file.unlock()?;
            Ok(Status::Stale(pid))
        }
        Err(TryLockError::WouldBlock) => match (lock_holder(&file)?, pid) {
            // Not in the table: released since our test, or held by a process /proc/locks does
            // not list. A flock belongs to the open file description, and the table names the
            // process that took it; outside the initial pid namespace a holder that has exited
            // (its descriptor inherited by a process that lives on) or one in another pid
            // namespace is left out. Test again to tell a release from those.
            (None, _) => match file.try_lock_shared() {
                Ok(()) => {
                    file.unlock()?;
                    Ok(Status::Stale(pid))
                }
                Err(TryLockError::WouldBlock) => Err(io::Error::other(format!(
                    "{} is locked, and /proc/locks does not name a live process of this pid \
                     namespace as the holder (the locker exited and left its descriptor to \
                     another process, or lives in another pid namespace)",
                    path.display()
                ))),
                Err(TryLockError::Error(e)) => Err(e),
            },
            (Some(holder), Some(pid)) if holder == pid => Ok(Status::Running(pid)),
            (Some(holder), Some(pid)) => Err(io::Error::other(format!(
                "{} names pid {pid}, but its lock is held by pid {holder}: the pid in the file \
                 is not vouched for by its holder",
                path.display()
            ))),
            // Locked but still empty: the holder is between its lock and its write. Never
            // make up a pid (0 would mean "my own process group" to kill(2)).
            (Some(holder), None) => Err(io::Error::other(format!(
                "{} is locked by pid {holder} but holds no pid yet (a daemon is starting)",
                path.display()
            ))),
        },
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The pid of the process that holds an exclusive flock(2) on `file`, from the kernel's table of
/// locks, `/proc/locks` (proc(5)); `None` when nobody holds one.
///
/// A line reads `ID: FLOCK  ADVISORY  WRITE PID MAJOR:MINOR:INODE 0 EOF` (major and minor in hex);
/// a process waiting for the lock has `->` after the ID. The pid is the one that took the lock:
/// had the holder passed its open file to another process (fork, SCM_RIGHTS) and exited, the
/// lock would live on under a pid that can be reused. A daemon that locks after its last fork
/// and never passes the file on leaves no such gap.
fn lock_holder(file: &File) -> io::Result<Option<u32>> {
    let meta = file.metadata()?;
    let dev = meta.dev();
    let (major, minor) = (u64::from(libc::major(dev)), u64::from(libc::minor(dev)));
    let table = std::fs::read_to_string("/proc/locks")?;
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Ours: ID: FLOCK ADVISORY WRITE PID DEV:INO ...; waiters have "->" in second place.
        let [_, "FLOCK", _, "WRITE", pid, inode, ..] = fields.as_slice() else {
            continue;
        };
        let mut parts = inode.split(':');
        let (Some(maj), Some(min), Some(ino)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let same = u64::from_str_radix(maj, 16) == Ok(major)
            && u64::from_str_radix(min, 16) == Ok(minor)
            && ino.parse::<u64>() == Ok(meta.ino());
        if same {
            return Ok(pid.parse().ok());
        }
    }
    Ok(None)
}
