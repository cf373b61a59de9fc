//! Socket files: stale ones, live ones, removing ours, and who may connect.
//!
//! Scenario: binding a path creates a socket file, and nothing removes it when the server
//! exits or crashes. The next `bind` then fails with `AddrInUse`. A server must tell a stale
//! file (nobody listens: `connect` is refused) from a live server (`connect` succeeds), replace
//! only the first, remove its own file when it stops, and, for a private service, make sure
//! only its owner can connect.
//!
//! Goal: `SocketFile::bind` with stale-file recovery, a `Drop` that removes the file, and
//! `bind_private` in an owner-only directory.
//!
//! Read: `docs/src/04-unix-sockets.md#socket_files`.
//! Check: `cargo xtask check unix-sockets/socket_files`.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A listening socket and the file it is bound to; the file is removed when this drops.
#[derive(Debug)]
pub struct SocketFile {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file this one bound: `Drop` removes only that file.
    bound: (u64, u64),
    /// `PATH.lock`, open and locked with `flock` for as long as this server lives: closing it
    /// (when this drops, or when the process dies in any way) releases the lock.
    _lock: fs::File,
}

impl SocketFile {
    /// Binds and listens on `path`, as the only server of that path.
    ///
    /// First takes an exclusive `flock` on `PATH.lock` (the path with `.lock` appended, created
    /// with mode `0600` if missing, and never removed) and holds it until the `SocketFile`
    /// drops: while another server holds it, fail with `AddrInUse` at once and touch nothing.
    ///
    /// Then, if a socket file is already there and nobody listens on it (connecting is
    /// refused), it is stale: remove it and bind again. If a server accepts connections there
    /// (a program that does not take the lock), fail with `AddrInUse` and leave its file
    /// alone. If the path is not a socket at all, fail with `AlreadyExists` and leave the file
    /// alone. Any other error, of `bind` or of the probing `connect`, is returned as it is,
    /// and the file is left alone.
    ///
    /// # References
    /// `flock(2)`, `bind(2)`, `connect(2)`, `unix(7)`
    pub fn bind(path: &Path) -> io::Result<SocketFile> {
        // The lock, not the probe, is what keeps two servers apart: two servers that both find
        // a stale file would both remove it (the second removes the first one's fresh socket),
        // and a socket that is bound but not listening yet refuses connections just like a
        // stale one. flock is released by the kernel when the holder dies, even by SIGKILL, so
        // a crash never leaves a lock behind. The file stays: removing it would let a third
        // server lock a new file while a second still holds the old one.
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another server holds {}", Path::new(&lock_path).display()),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        let listener = match UnixListener::bind(path) {
            Ok(listener) => listener,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                // Never delete what is not a socket: a typo in a path must not cost a file.
                let meta = fs::symlink_metadata(path)?;
                if !meta.file_type().is_socket() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a socket", path.display()),
                    ));
                }
                // Best effort, for programs that do not take the lock: one that is between
                // its bind and its listen is refused here as if it were gone.
                match UnixStream::connect(path) {
                    // Someone accepted (or will accept) the connection: a live server.
                    Ok(_probe) => {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!("a server is listening on {}", path.display()),
                        ));
                    }
                    // ECONNREFUSED on a socket file: no listener behind it, a leftover.
                    Err(c) if c.kind() == io::ErrorKind::ConnectionRefused => {
                        fs::remove_file(path)?;
                        UnixListener::bind(path)?
                    }
                    Err(c) => return Err(c),
                }
            }
            Err(e) => return Err(e),
        };
        let meta = fs::symlink_metadata(path)?;
        Ok(SocketFile {
            listener,
            path: path.to_path_buf(),
            bound: (meta.dev(), meta.ino()),
            _lock: lock,
        })
    }

    /// The listening socket.
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// The path of the socket file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Closing the listener does not remove the file; we do, also when unwinding from a
        // panic, but only the file we bound: if something replaced it, it is not ours. (The
        // lock is released after this, when the fields drop.) A failure here cannot be
        // reported from `drop`, and a missing file is fine.
        let ours = fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| (meta.dev(), meta.ino()) == self.bound);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates `dir` with mode `0700` (or accepts an existing directory that is ours and has no
/// permission bits for group or others), binds `name` inside it, and sets the socket file's
/// mode to `0600`.
///
/// Anything else already at `dir` fails with `PermissionDenied`: a file, a symlink (even to a
/// private directory), or a directory owned by another user or open to group or others.
///
/// # References
/// `mkdir(2)`, `chmod(2)`, `unix(7)` (connecting needs write permission on the socket file)
pub fn bind_private(dir: &Path, name: &str) -> io::Result<SocketFile> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    // mkdir's mode is masked by the umask, and an existing directory may be anyone's: check
    // what is really there, without following a symlink planted in its place.
    let meta = fs::symlink_metadata(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} must be a directory owned by uid {me} with mode 0700 (found uid {}, mode {:o})",
                dir.display(),
                meta.uid(),
                meta.mode() & 0o7777
            ),
        ));
    }
    // The directory is what keeps strangers out: nobody else can even reach the file.
    // The file's own mode is a second lock, set right after bind.
    let socket = SocketFile::bind(&dir.join(name))?;
    fs::set_permissions(socket.path(), fs::Permissions::from_mode(0o600))?;
    Ok(socket)
}
