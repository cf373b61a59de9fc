//! Tests for `unix-sockets/echo`: an echo server that answers at once, serves clients at the
//! same time, and a client that ends its request with `shutdown(Write)`.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
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
    let reply = echo::request(&path, b"hello over a socket file");
    let served = server.join().expect("serve panicked");
    assert_eq!(reply.expect("request failed"), b"hello over a socket file");
    served.expect("serve returned an error");
}

#[test]
fn request_half_closes_so_the_server_sees_the_end_of_the_request() {
    let dir = temp_dir("echo-shutdown");
    let path = path_in(&dir, "s.sock");
    let listener = bind(&path);
    // This server answers only once it has the whole request (it reads to EOF first).
    let server = thread::spawn(move || -> Result<Vec<u8>, String> {
        let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
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
