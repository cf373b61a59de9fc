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
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A listening socket and the file it is bound to; the file is removed when this drops.
#[derive(Debug)]
pub struct SocketFile {
    listener: UnixListener,
    path: PathBuf,
}

impl SocketFile {
    /// Binds and listens on `path`.
    ///
    /// If a socket file is already there and nobody listens on it (connecting is refused),
    /// it is stale: remove it and bind again. If a server accepts connections there, fail with
    /// `AddrInUse` and leave its file alone. If the path is not a socket at all, fail with
    /// `AlreadyExists` and leave the file alone. Any other error, of `bind` or of the probing
    /// `connect`, is returned as it is, and the file is left alone.
    ///
    /// # References
    /// `bind(2)`, `connect(2)`, `unix(7)`
    pub fn bind(path: &Path) -> io::Result<SocketFile> {
        match UnixListener::bind(path) {
            Ok(listener) => Ok(SocketFile::owning(listener, path)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                // Never delete what is not a socket: a typo in a path must not cost a file.
                let meta = fs::symlink_metadata(path)?;
                if !meta.file_type().is_socket() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a socket", path.display()),
                    ));
                }
                match UnixStream::connect(path) {
                    // Someone accepted (or will accept) the connection: a live server.
                    Ok(_probe) => Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("a server is listening on {}", path.display()),
                    )),
                    // ECONNREFUSED on a socket file: no listener behind it, a leftover.
                    Err(c) if c.kind() == io::ErrorKind::ConnectionRefused => {
                        fs::remove_file(path)?;
                        // Two servers starting at once can race here; the loser's bind
                        // fails with AddrInUse again, which is the right answer for it.
                        let listener = UnixListener::bind(path)?;
                        Ok(SocketFile::owning(listener, path))
                    }
                    Err(c) => Err(c),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn owning(listener: UnixListener, path: &Path) -> SocketFile {
        SocketFile {
            listener,
            path: path.to_path_buf(),
        }
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
        // panic. A failure here cannot be reported from `drop`, and a missing file is fine.
        let _ = fs::remove_file(&self.path);
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
