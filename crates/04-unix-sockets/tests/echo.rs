//! Tests for `unix-sockets/echo`: an echo server that answers at once, serves clients at the
//! same time, retries a read a signal interrupted, reports a client that reset the connection,
//! and a client that ends its request with `shutdown(Write)`.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use testkit::{DEFAULT_DEADLINE, path_in, temp_dir};
use unix_sockets::echo;

/// A deadline for a read that a correct program answers in microseconds.
const READ_DEADLINE: Duration = Duration::from_secs(5);

fn bind(path: &Path) -> UnixListener {
    UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()))
}

/// Connects to a listener the test bound itself (so no retry is needed: the kernel queues the
/// connection until the server accepts it).
fn connect(path: &Path) -> UnixStream {
    UnixStream::connect(path).unwrap_or_else(|e| {
        panic!(
            "connect {}: {e} (did the server close its listener?)",
            path.display()
        )
    })
}

/// Reads exactly `n` bytes with a deadline, explaining what a timeout means.
fn read_n(stream: &mut UnixStream, n: usize, why_it_might_hang: &str) -> Vec<u8> {
    stream.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    let mut buf = vec![0u8; n];
    if let Err(e) = stream.read_exact(&mut buf) {
        panic!("expected {n} echoed bytes, got an error instead: {e}\n{why_it_might_hang}");
    }
    buf
}

#[test]
fn handler_echoes_every_byte_and_counts_them() {
    let (mut client, server) = UnixStream::pair().unwrap();
    let handler = thread::spawn(move || echo::handle_client(server));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    // Write on a thread while this one reads: an echo of more than the socket buffer holds
    // would otherwise deadlock (both sides blocked in write).
    let mut writer = client.try_clone().unwrap();
    let to_send = data.clone();
    let w = thread::spawn(move || {
        writer.write_all(&to_send).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    client.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    let mut got = Vec::new();
    let res = client.read_to_end(&mut got);
    w.join().unwrap();
    let count = handler.join().expect("handle_client panicked");
    res.unwrap_or_else(|e| {
        panic!("reading the echo failed: {e} (did the handler close the stream after EOF?)")
    });
    assert!(
        got == data,
        "the echo differs from what was sent: sent {} bytes, got {}",
        data.len(),
        got.len()
    );
    assert_eq!(
        count.expect("handle_client returned an error"),
        data.len() as u64,
        "handle_client must return the number of bytes echoed"
    );
}

#[test]
fn echo_arrives_before_the_client_finishes_its_request() {
    let (mut client, server) = UnixStream::pair().unwrap();
    let handler = thread::spawn(move || echo::handle_client(server));
    client.write_all(b"ping").unwrap();
    let got = read_n(
        &mut client,
        4,
        "an interactive client waits for each answer: echo every chunk as soon as you read it, \
         do not wait for EOF first",
    );
    assert_eq!(got, b"ping");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(handler.join().expect("handle_client panicked").unwrap(), 4);
}

#[test]
fn request_gets_its_bytes_echoed_through_the_server() {
    let dir = temp_dir("echo-request");
    let path = path_in(&dir, "echo.sock");
    let server = thread::spawn({
        let listener = bind(&path);
        move || echo::serve(listener, 1)
    });
    // On a thread of its own, with a deadline: a request that never says where it ends
    // waits for a reply the server sends only at that end.
    let (tx, rx) = mpsc::channel();
    thread::spawn({
        let path = path.clone();
        move || tx.send(echo::request(&path, b"hello over a socket file"))
    });
    let Ok(reply) = rx.recv_timeout(READ_DEADLINE) else {
        panic!(
            "request did not return within {READ_DEADLINE:?}: the server echoes until it reads \
             the end of the request, and request waits for the end of the reply. Half-close \
             after writing the request: shutdown(Shutdown::Write)"
        );
    };
    if !matches!(&reply, Ok(r) if r == b"hello over a socket file") {
        // A request that never connected leaves serve waiting in accept: release it with a
        // connection of our own, so the failure is reported now instead of hanging.
        drop(UnixStream::connect(&path));
        let _ = server.join();
        panic!(
            "request(path, \"hello over a socket file\") returned {reply:?}: expected the bytes \
             echoed back by the server (connect, write_all, shutdown(Write), read_to_end)"
        );
    }
    server
        .join()
        .expect("serve panicked")
        .expect("serve returned an error");
}

#[test]
fn request_half_closes_so_the_server_sees_the_end_of_the_request() {
    let dir = temp_dir("echo-shutdown");
    let path = path_in(&dir, "s.sock");
    let listener = bind(&path);
    let (accepted_tx, accepted) = mpsc::channel();
    // This server answers only once it has the whole request (it reads to EOF first).
    let server = thread::spawn(move || -> Result<Vec<u8>, String> {
        let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
        let _ = accepted_tx.send(());
        s.set_read_timeout(Some(READ_DEADLINE)).unwrap();
        let mut req = Vec::new();
        s.read_to_end(&mut req).map_err(|e| {
            format!("the server never saw the end of the request ({e}): call shutdown(Shutdown::Write) after writing it")
        })?;
        s.write_all(b"got ")
            .and_then(|_| s.write_all(&req))
            .map_err(|e| e.to_string())?;
        Ok(req)
    });
    let reply = echo::request(&path, b"abc");
    // The server accepts before it can answer, so a request that got its answer was accepted.
    if accepted.try_recv().is_err() {
        // Release the server from accept so that nothing is left waiting.
        drop(UnixStream::connect(&path));
        let _ = server.join();
        panic!(
            "request returned {reply:?} before the server had even accepted its connection: \
             it must connect, send, and read the reply until the server closes"
        );
    }
    let seen = server.join().unwrap();
    let seen = seen.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, b"abc");
    assert_eq!(
        reply.expect("request failed"),
        b"got abc",
        "request must keep reading after its half-close until the server closes"
    );
}

#[test]
fn many_clients_are_served_at_the_same_time() {
    let dir = temp_dir("echo-many");
    let path = path_in(&dir, "m.sock");
    let listener = bind(&path);
    let server = thread::spawn(move || echo::serve(listener, 3));
    // Three clients connect and stay connected; each must get its echo while the others
    // are still open. A server that handles one client until EOF before accepting the next
    // never answers the second one.
    let mut clients: Vec<UnixStream> = (0..3).map(|_| connect(&path)).collect();
    for (i, c) in clients.iter_mut().enumerate().rev() {
        let msg = format!("client {i}");
        c.write_all(msg.as_bytes()).unwrap();
        let got = read_n(
            c,
            msg.len(),
            "the other clients are still connected: serve each one on its own thread",
        );
        assert_eq!(String::from_utf8_lossy(&got), msg);
    }
    for c in &clients {
        c.shutdown(Shutdown::Write).unwrap();
    }
    let mut rest = Vec::new();
    for c in &mut clients {
        rest.clear();
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "unexpected bytes after the echo: {rest:?}");
    }
    server
        .join()
        .expect("serve panicked")
        .expect("serve returned an error");
}

#[test]
fn serve_returns_once_its_clients_are_done() {
    let dir = temp_dir("echo-return");
    let path = path_in(&dir, "r.sock");
    let listener = bind(&path);
    let server = thread::spawn(move || echo::serve(listener, 2));
    for word in [&b"one"[..], b"two"] {
        let mut c = connect(&path);
        c.write_all(word).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        c.set_read_timeout(Some(READ_DEADLINE)).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, word);
    }
    testkit::wait_until(
        DEFAULT_DEADLINE,
        "serve(listener, 2) to return after two clients",
        || server.is_finished(),
    );
    server
        .join()
        .expect("serve panicked")
        .expect("serve returned an error");
}

/// Bytes queued in `sock`'s receive buffer, not yet read (`FIONREAD`).
#[cfg(target_os = "linux")]
fn unread_bytes(sock: &UnixStream) -> i32 {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to a live c_int;
    // `sock` is borrowed, so its fd stays open during the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONREAD, &mut queued) };
    assert_eq!(rc, 0, "ioctl(FIONREAD) failed");
    queued
}

#[test]
#[cfg(target_os = "linux")]
fn a_client_that_resets_the_connection_is_reported_as_an_error() {
    let (mut client, server) = UnixStream::pair().unwrap();
    let handler = thread::spawn(move || echo::handle_client(server));
    client.write_all(b"abc").unwrap();
    // The echo sits unread in our buffer: the handler has sent it, and we do not read it.
    testkit::wait_until(
        DEFAULT_DEADLINE,
        "the echo of `abc` to reach the client (handle_client must echo each chunk at once)",
        || handler.is_finished() || unread_bytes(&client) == 3,
    );
    if handler.is_finished() {
        match handler.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(result) => panic!(
                "handle_client returned {result:?} while the client was still connected: it \
                 must serve it until EOF"
            ),
        }
    }
    // Closing a socket with unread data in its buffer resets the connection (Linux): the
    // handler's next read fails with ECONNRESET instead of returning 0 (a clean EOF).
    drop(client);
    testkit::wait_until(DEFAULT_DEADLINE, "handle_client to return", || {
        handler.is_finished()
    });
    match handler.join().expect("handle_client panicked") {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!(
            "the client closed without reading its echo, so the handler's read failed with \
             ECONNRESET: expected Err(ConnectionReset), got {other:?}. Retry only \
             ErrorKind::Interrupted; return every other read error (serve reports it)"
        ),
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_read_interrupted_by_a_signal_is_retried() {
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    let (mut client, server) = UnixStream::pair().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let handler = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        // The client has sent nothing yet: this blocks inside the first read.
        echo::handle_client(server)
    });
    let tid = tid_rx.recv().expect("the handler thread's id");
    testkit::wait_until(
        DEFAULT_DEADLINE,
        "handle_client to block reading from a silent client",
        || {
            handler.is_finished()
                || testkit::thread_sleeps_in(tid, &[libc::SYS_read, libc::SYS_recvfrom])
        },
    );
    if handler.is_finished() {
        match handler.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(result) => panic!(
                "handle_client returned {result:?} before the client sent or closed anything: \
                 it must wait for data"
            ),
        }
    }
    // The handler runs as the interrupted read returns: EINTR, nothing read.
    testkit::interrupt_thread(&handler);
    // Only now send: a handler that gave up on EINTR has closed its end, so these may fail.
    let _ = client.write_all(b"after the signal");
    let _ = client.shutdown(Shutdown::Write);
    client.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    let mut echoed = Vec::new();
    let read = client.read_to_end(&mut echoed);
    testkit::wait_until(DEFAULT_DEADLINE, "handle_client to return", || {
        handler.is_finished()
    });
    let result = match handler.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(result) => result,
    };
    match result {
        Ok(16) => {}
        other => panic!(
            "a signal interrupted read while handle_client waited for the client, so the read \
             failed with EINTR (ErrorKind::Interrupted): that is not an error, read again. \
             Expected Ok(16) after the client sent 16 bytes, got {other:?}"
        ),
    }
    read.expect("reading the echo failed");
    assert_eq!(
        String::from_utf8_lossy(&echoed),
        "after the signal",
        "the echo of what the client sent after the signal"
    );
}
