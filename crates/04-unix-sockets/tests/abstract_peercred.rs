//! Tests for `unix-sockets/abstract_peercred` (Linux only): abstract names leave no file and are
//! free again as soon as the listener closes; the server reads the real peer's pid and uid from
//! the kernel, and refuses a client whose uid is not the allowed one.
//!
//! "Another user" without a second account: the server is told to allow only a uid that is not
//! ours, so our own client is the stranger.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, ErrorKind};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::process::{Command, Stdio};

use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, unique_name};
use unix_sockets::abstract_peercred::{
    Admission, bind_abstract, connect_abstract, peer_credentials, serve_one,
};

fn my_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The abstract names listed in /proc/net/unix (shown there with a leading `@`).
fn abstract_names_in_proc() -> String {
    std::fs::read_to_string("/proc/net/unix").unwrap_or_default()
}

#[test]
fn abstract_listener_has_the_name_and_no_file() {
    let name = unique_name("abstract-bind");
    let listener = bind_abstract(&name).expect("bind_abstract failed");
    let addr = listener.local_addr().unwrap();
    assert_eq!(
        addr.as_abstract_name(),
        Some(name.as_bytes()),
        "the listener should be bound to the abstract name {name:?}, got {addr:?}"
    );
    assert!(
        addr.as_pathname().is_none(),
        "an abstract socket has no path"
    );
    assert!(
        abstract_names_in_proc().contains(&format!("@{name}")),
        "/proc/net/unix should list @{name}"
    );
    // Connecting with std proves it listens.
    let a = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    UnixStream::connect_addr(&a).expect("connect to the abstract name");
}

#[test]
fn abstract_name_is_free_again_once_the_listener_closes() {
    let name = unique_name("abstract-free");
    let first = bind_abstract(&name).expect("bind_abstract failed");
    match bind_abstract(&name) {
        Err(e) if e.kind() == ErrorKind::AddrInUse => {}
        other => {
            panic!("a second bind of a live abstract name must fail with AddrInUse, got {other:?}")
        }
    }
    drop(first);
    // No stale file to clean up: the name disappears with the last socket bound to it.
    bind_abstract(&name).expect("rebinding after the listener closed should succeed at once");
}

#[test]
fn connect_abstract_reaches_a_listener_bound_by_name() {
    let name = unique_name("abstract-connect");
    let a = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&a).unwrap();
    let client = connect_abstract(&name).expect("connect_abstract failed");
    let (server_side, _) = listener.accept().unwrap();
    assert_eq!(
        client
            .peer_addr()
            .ok()
            .and_then(|a| a.as_abstract_name().map(<[u8]>::to_vec)),
        Some(name.as_bytes().to_vec()),
        "the client should be connected to the abstract name {name:?}"
    );
    drop((client, server_side));
    match connect_abstract(&unique_name("abstract-nobody")) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
        other => panic!(
            "connecting to an abstract name nobody listens on must be refused, got {other:?}"
        ),
    }
}

/// Starts `uclient @name` as a child: another process (another pid) that connects, sends
/// nothing, and prints the server's reply.
fn spawn_client(name: &str) -> ChildGuard {
    ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_uclient"))
            .arg(format!("@{name}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

/// Waits until a connection is queued on `listener` (so that `accept` returns at once), or
/// panics when `client` exits first: it could not connect to the name the listener has.
fn wait_for_connection(listener: &UnixListener, client: &mut ChildGuard, name: &str) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let start = std::time::Instant::now();
    loop {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        // Short rounds: between them, look whether the client gave up.
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(n) if n > 0 => return,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => panic!("poll on the listener: {e}"),
        }
        if let Ok(Some(status)) = client.child().try_wait() {
            let mut err = String::new();
            if let Some(mut stderr) = client.child().stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
            }
            panic!(
                "the client connecting to the abstract name {name:?} {} without reaching the \
                 listener bind_abstract({name:?}) returned (bound to {:?}); it said: {err}\n\
                 bind the abstract name you were given: from_abstract_name adds the leading NUL \
                 byte itself",
                describe_status(status),
                listener.local_addr().ok()
            );
        }
        assert!(
            start.elapsed() < DEFAULT_DEADLINE,
            "no connection reached the listener of {name:?} within {DEFAULT_DEADLINE:?}"
        );
    }
}

fn client_output(mut client: ChildGuard) -> String {
    let status = client.wait(DEFAULT_DEADLINE);
    let child = client.child();
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut out);
    }
    assert!(status.success(), "uclient {}", describe_status(status));
    out
}

#[test]
fn peer_credentials_are_those_of_the_connecting_process() {
    let name = unique_name("peercred");
    let listener = bind_abstract(&name).expect("bind_abstract failed");
    let mut client = spawn_client(&name);
    wait_for_connection(&listener, &mut client, &name);
    let (stream, _) = listener.accept().unwrap();
    let cred = peer_credentials(&stream).expect("peer_credentials failed");
    assert_eq!(
        cred.pid as u32,
        client.id(),
        "pid: expected the client process {}, got {} (ask the kernel with SO_PEERCRED, not getpid)",
        client.id(),
        cred.pid
    );
    assert_eq!(cred.uid, my_uid(), "uid of the client");
    assert_eq!(
        cred.gid,
        nix::unistd::getgid().as_raw(),
        "gid of the client"
    );
    drop(stream);
    client_output(client);
}

#[test]
fn client_of_the_allowed_uid_is_welcomed() {
    let name = unique_name("peercred-ok");
    let listener = bind_abstract(&name).expect("bind_abstract failed");
    let mut client = spawn_client(&name);
    let pid = client.id();
    wait_for_connection(&listener, &mut client, &name);
    let verdict = serve_one(&listener, my_uid()).expect("serve_one failed");
    let out = client_output(client);
    match verdict {
        Admission::Admitted(c) => assert_eq!((c.pid as u32, c.uid), (pid, my_uid())),
        other => panic!("our own uid is allowed, yet the verdict was {other:?}"),
    }
    assert_eq!(
        out,
        format!("welcome {}\n", my_uid()),
        "what the client read"
    );
}

#[test]
fn client_of_another_uid_is_refused() {
    let name = unique_name("peercred-no");
    let listener = bind_abstract(&name).expect("bind_abstract failed");
    // Allow only a uid that is not ours: our client is then the other user.
    let allowed = my_uid().wrapping_add(1);
    let mut client = spawn_client(&name);
    let pid = client.id();
    wait_for_connection(&listener, &mut client, &name);
    let verdict = serve_one(&listener, allowed).expect("serve_one failed");
    let out = client_output(client);
    match verdict {
        Admission::Refused(c) => assert_eq!((c.pid as u32, c.uid), (pid, my_uid())),
        other => panic!(
            "only uid {allowed} is allowed, our uid is {}, yet the verdict was {other:?}",
            my_uid()
        ),
    }
    assert_eq!(
        out,
        format!("denied: uid {} is not allowed\n", my_uid()),
        "what the client read"
    );
}
