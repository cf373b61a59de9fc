//! Tests for `unix-sockets/socket_files`: a stale socket file is replaced, a live server is not
//! (a live datagram socket neither), a file that is not a socket is never deleted, other bind
//! errors are reported as they are, the guard removes its file (also on panic), and a private
//! socket sits in an owner-only directory (never a file or a symlink in its place) with
//! owner-only mode bits.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use testkit::{path_in, temp_dir};
use unix_sockets::socket_files::{SocketFile, bind_private};

/// Leaves a stale socket file at `path`: a listener bound there, then closed.
fn make_stale(path: &Path) {
    drop(UnixListener::bind(path).expect("bind for the stale file"));
    assert!(
        path.exists(),
        "closing a listener leaves its file behind (setup)"
    );
}

/// Proves `sock` really listens on its path: connect, accept, exchange one byte. Connections
/// that another server's probe left in the queue (closed, so they read EOF) are skipped.
fn assert_serves(sock: &SocketFile) {
    let mut client = UnixStream::connect(sock.path())
        .unwrap_or_else(|e| panic!("connecting to {} failed: {e}", sock.path().display()));
    client.write_all(b"x").unwrap();
    // A Unix stream connect returns once the connection is queued on the listener: if it is
    // ours, accept finds it without waiting.
    sock.listener().set_nonblocking(true).unwrap();
    let got = loop {
        let (mut server_side, _) = sock.listener().accept().unwrap_or_else(|e| {
            panic!(
                "a client connected to {} but this SocketFile's listener has no connection to \
                 accept ({e}): the file at the path is not its socket",
                sock.path().display()
            )
        });
        let mut b = [0u8; 1];
        match server_side.read(&mut b) {
            Ok(0) => continue,
            other => break other.map(|_| b),
        }
    };
    sock.listener().set_nonblocking(false).unwrap();
    assert_eq!(got.ok(), Some(*b"x"));
}

#[test]
fn binding_a_fresh_path_listens_there() {
    let dir = temp_dir("sf-fresh");
    let path = path_in(&dir, "fresh.sock");
    let sock = SocketFile::bind(&path).expect("bind on a fresh path failed");
    assert_eq!(sock.path(), path);
    assert_serves(&sock);
}

#[test]
fn stale_socket_file_is_replaced() {
    let dir = temp_dir("sf-stale");
    let path = path_in(&dir, "stale.sock");
    make_stale(&path);
    let sock = SocketFile::bind(&path).unwrap_or_else(|e| {
        panic!(
            "bind over a stale socket file failed: {e}\n\
                nobody listens there (connect gives ECONNREFUSED): remove the file and bind again"
        )
    });
    assert_serves(&sock);
}

#[test]
fn live_server_is_refused_and_keeps_its_file() {
    let dir = temp_dir("sf-live");
    let path = path_in(&dir, "live.sock");
    let live = UnixListener::bind(&path).unwrap();
    match SocketFile::bind(&path) {
        Err(e) if e.kind() == ErrorKind::AddrInUse => {}
        Err(e) => panic!(
            "expected AddrInUse for a path a live server listens on, got {:?}: {e}",
            e.kind()
        ),
        Ok(_) => {
            panic!("bind took over a path where a live server listens: it must refuse (AddrInUse)")
        }
    }
    // The live server must still be reachable through its file.
    live.set_nonblocking(true).unwrap();
    let _client = UnixStream::connect(&path).unwrap_or_else(|e| {
        panic!("the live server's socket file was removed or replaced ({e}): never delete a file a server listens on")
    });
    // Drain the probe connection (if any) and ours: both are queued on the live listener.
    let mut accepted = 0;
    while live.accept().is_ok() {
        accepted += 1;
    }
    assert!(
        accepted >= 1,
        "the live server did not receive the new connection"
    );
}

#[test]
fn a_live_datagram_socket_at_the_path_is_not_stale() {
    let dir = temp_dir("sf-dgram");
    let path = path_in(&dir, "dgram.sock");
    let live = UnixDatagram::bind(&path).expect("bind a datagram socket (setup)");
    let res = SocketFile::bind(&path);
    // The datagram socket must still be reachable through its file.
    let probe = UnixDatagram::unbound().expect("an unbound datagram socket");
    let sent = probe.send_to(b"still mine", &path);
    live.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let received = sent.and_then(|_| live.recv(&mut buf));
    assert!(
        matches!(received, Ok(10)) && &buf[..10] == b"still mine",
        "the live datagram socket's file was removed or replaced (sending to it gave \
         {received:?}); SocketFile::bind returned {res:?}\nconnect to a datagram socket fails \
         with EPROTOTYPE (wrong socket type), not ECONNREFUSED: somebody is there. Only a \
         refused connect means a stale file; return any other connect error as it is"
    );
    assert!(
        res.is_err(),
        "bind must fail when a live datagram socket owns the path"
    );
}

#[test]
fn a_path_too_long_for_a_socket_address_is_reported_as_it_is() {
    let dir = temp_dir("sf-long");
    // One name of 120 bytes: the whole path exceeds the 108 bytes of `sun_path`.
    let path = path_in(&dir, &"x".repeat(120));
    match SocketFile::bind(&path) {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {}
        other => panic!(
            "a path of {} bytes does not fit in sun_path (108 bytes): UnixListener::bind fails \
             with InvalidInput, and bind must return that error, got {other:?}\nonly AddrInUse \
             means a file is in the way; return every other bind error as it is",
            path.as_os_str().len()
        ),
    }
    assert!(!path.exists(), "nothing may be created at the long path");
}

#[test]
fn a_regular_file_at_the_path_is_never_deleted() {
    let dir = temp_dir("sf-regular");
    let path = path_in(&dir, "precious.txt");
    fs::write(&path, "do not delete me").unwrap();
    let res = SocketFile::bind(&path);
    let content = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the regular file at {} is gone ({e}): check the file type before removing anything",
            path.display()
        )
    });
    assert_eq!(content, "do not delete me");
    assert!(
        res.is_err(),
        "bind must fail when the path is a regular file"
    );
}

#[test]
fn dropping_the_guard_removes_the_socket_file() {
    let dir = temp_dir("sf-drop");
    let path = path_in(&dir, "guarded.sock");
    let sock = SocketFile::bind(&path).expect("bind failed");
    let meta = fs::symlink_metadata(&path).expect("the socket file should exist while bound");
    assert!(
        meta.file_type().is_socket(),
        "the bound path should be a socket file"
    );
    drop(sock);
    assert!(
        !path.exists(),
        "{} still exists after the SocketFile was dropped: remove it in Drop",
        path.display()
    );
}

/// Starts two `SocketFile::bind(path)` at once, on two threads released by one barrier, and
/// returns both results.
fn two_servers_at_once(path: &Path) -> [std::io::Result<SocketFile>; 2] {
    let barrier = Arc::new(Barrier::new(2));
    let start = |_| {
        let (barrier, path) = (Arc::clone(&barrier), path.to_path_buf());
        thread::spawn(move || {
            barrier.wait();
            SocketFile::bind(&path)
        })
    };
    let threads = [start(0), start(1)];
    threads.map(|t| t.join().expect("a bind thread panicked"))
}

#[test]
fn two_servers_starting_at_once_never_both_bind() {
    let dir = temp_dir("sf-race");
    // Many rounds, half of them over a stale file (both see it stale, both remove it: the
    // second removes the first one's fresh socket), half on a fresh path (the loser's probe
    // may meet the winner bound but not listening yet, and be refused as by a stale file).
    for round in 0..200 {
        let path = path_in(&dir, &format!("race{round}.sock"));
        let stale = round % 2 == 0;
        if stale {
            make_stale(&path);
        }
        let [a, b] = two_servers_at_once(&path);
        let (winner, loser) = match (a, b) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            (Ok(_), Ok(_)) => panic!(
                "round {round} ({}): two servers started at once on one path and both bound. \
                 The connect probe cannot exclude a second server: both may find the file \
                 stale and remove it in turn, or one may probe the other between its bind and \
                 its listen (refused, like a stale file). Take an exclusive flock on PATH.lock \
                 before looking at the socket file, and hold it while you serve",
                if stale {
                    "over a stale file"
                } else {
                    "on a fresh path"
                }
            ),
            (Err(a), Err(b)) => panic!(
                "round {round}: two servers started at once and neither bound: {a} / {b}; one \
                 of them must win"
            ),
        };
        assert_eq!(
            loser.kind(),
            ErrorKind::AddrInUse,
            "round {round}: the server that lost the race must fail with AddrInUse, got \
             {loser}. Without a lock both may find the file stale and try to remove it; take \
             an exclusive flock on PATH.lock first, and fail with AddrInUse when it is held"
        );
        assert_serves(&winner);
        drop(winner);
        assert!(
            !path.exists(),
            "round {round}: the winner's socket file outlived it"
        );
    }
}

#[test]
fn drop_removes_only_the_socket_file_it_bound() {
    let dir = temp_dir("sf-own");
    let path = path_in(&dir, "own.sock");
    let sock = SocketFile::bind(&path).expect("bind failed");
    // Another program (one that does not take the lock) replaces the file meanwhile.
    fs::remove_file(&path).expect("remove the guard's file (setup)");
    let other = UnixListener::bind(&path).expect("bind another listener there (setup)");
    let theirs = fs::symlink_metadata(&path)
        .expect("the other socket file")
        .ino();
    drop(sock);
    let left = fs::symlink_metadata(&path).map(|m| m.ino());
    assert_eq!(
        left.as_ref().ok(),
        Some(&theirs),
        "dropping a SocketFile removed a socket file it did not bind (inode {theirs}, now \
         {left:?}): remember the device and inode of the file you bound, and remove the path \
         in Drop only if it is still that file"
    );
    drop(other);
}

#[test]
fn the_guard_removes_the_file_when_a_panic_unwinds() {
    let dir = temp_dir("sf-panic");
    let path = path_in(&dir, "p.sock");
    let p = path.clone();
    let res = thread::spawn(move || {
        let _sock = SocketFile::bind(&p).expect("bind failed");
        panic!("simulated failure while serving");
    })
    .join();
    let payload = res.expect_err("the thread should have panicked");
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert_eq!(
        msg, "simulated failure while serving",
        "the thread panicked before serving"
    );
    assert!(
        !path.exists(),
        "the socket file outlived a panic: removing it in Drop covers unwinding too"
    );
}

#[test]
fn private_socket_lives_in_an_owner_only_directory() {
    let dir = temp_dir("sf-private");
    let private = path_in(&dir, "private");
    let sock = bind_private(&private, "svc.sock").expect("bind_private failed");
    let dmode = fs::metadata(&private).unwrap().mode() & 0o777;
    assert_eq!(
        dmode, 0o700,
        "directory mode: expected 700, got {dmode:o} (group and others must not even reach the socket)"
    );
    let smode = fs::symlink_metadata(sock.path()).unwrap().mode() & 0o777;
    assert_eq!(
        smode, 0o600,
        "socket file mode: expected 600, got {smode:o} (connecting needs write permission on the file)"
    );
    assert_eq!(sock.path(), private.join("svc.sock"));
    assert_serves(&sock);
    drop(sock);
    assert!(
        !private.join("svc.sock").exists(),
        "the private socket's file must go when it drops"
    );
}

#[test]
fn existing_directory_open_to_others_is_refused() {
    let dir = temp_dir("sf-open");
    let open = path_in(&dir, "open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    match bind_private(&open, "svc.sock") {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        Err(e) => panic!(
            "expected PermissionDenied for a directory with mode 755, got {:?}: {e}",
            e.kind()
        ),
        Ok(_) => panic!(
            "bind_private accepted a directory with mode 755: others can reach the socket there"
        ),
    }
    assert!(
        !open.join("svc.sock").exists(),
        "no socket should be created in a refused directory"
    );
}

#[test]
fn a_private_directory_of_another_user_is_refused() {
    let dir = temp_dir("sf-foreign");
    let foreign = path_in(&dir, "theirs");
    fs::create_dir(&foreign).unwrap();
    fs::set_permissions(&foreign, fs::Permissions::from_mode(0o700)).unwrap();
    // Only root can give a directory away; as another user, this test checks what it can:
    // a directory of ours is accepted (the uid check must compare with the effective uid).
    let root = nix::unistd::geteuid().is_root();
    if root {
        // 65534 is `nobody` on Linux distributions.
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534))
            .expect("chown the directory to uid 65534 (setup)");
    }
    let res = bind_private(&foreign, "svc.sock");
    if !root {
        res.expect("a 0700 directory of ours must be accepted");
        return;
    }
    match res {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        other => panic!(
            "{} has mode 700 but belongs to uid 65534, not to us: expected PermissionDenied, \
             got {other:?}\nits owner can read, replace or redirect whatever is inside: check \
             the directory's owner (MetadataExt::uid) against geteuid(), not only its mode bits",
            foreign.display()
        ),
    }
    assert!(
        !foreign.join("svc.sock").exists(),
        "no socket may be created in another user's directory"
    );
}

#[test]
fn a_file_in_place_of_the_private_directory_is_refused() {
    let dir = temp_dir("sf-notdir");
    let file = path_in(&dir, "notadir");
    fs::write(&file, "mine").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    match bind_private(&file, "svc.sock") {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        other => panic!(
            "{} is a regular file (ours, mode 600), not a directory: expected PermissionDenied, \
             got {other:?}\ncheck that what is there is a directory, not only its owner and \
             mode bits",
            file.display()
        ),
    }
    assert_eq!(
        fs::read_to_string(&file).ok().as_deref(),
        Some("mine"),
        "the file in the way must be left alone"
    );
}

#[test]
fn a_symlink_in_place_of_the_private_directory_is_refused() {
    let dir = temp_dir("sf-symlink");
    let target = path_in(&dir, "real");
    fs::create_dir(&target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o700)).unwrap();
    let link = path_in(&dir, "link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    match bind_private(&link, "svc.sock") {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        other => panic!(
            "{} is a symlink (to a private directory of ours): expected PermissionDenied, got \
             {other:?}\na symlink can be replaced by another one at any moment: inspect the path \
             itself with symlink_metadata, not what it points to with metadata",
            link.display()
        ),
    }
    assert!(
        !target.join("svc.sock").exists(),
        "no socket may be created through the symlink"
    );
}

#[test]
fn existing_private_directory_is_reused() {
    let dir = temp_dir("sf-reuse");
    let private = path_in(&dir, "mine");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let sock = bind_private(&private, "a.sock")
        .expect("an existing 0700 directory of ours must be accepted");
    assert_serves(&sock);
}
