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
/// Add the fields the contracts of `bind` and `Drop` need.
#[derive(Debug)]
pub struct SocketFile {
    listener: UnixListener,
    path: PathBuf,
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
        // TODO: make sure no other server of this path runs, as the contract says; then try
        // `UnixListener::bind`, and when the address is in use tell the three cases of the
        // contract above apart, and act as it says.
        todo!("bind, recovering from a stale socket file")
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
        // TODO: remove the socket file (closing the listener does not), but only if the file
        // at the path is still the one this SocketFile bound; ignore a failure here.
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
    // TODO: create `dir` as the contract says, or accept the existing one only if it passes
    // every check above; bind inside it with `SocketFile::bind`; make the socket file 0600.
    todo!("bind in an owner-only directory")
}
