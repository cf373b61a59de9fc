//! Tests for `unix-sockets/datagrams`: message boundaries (an empty message included), replies
//! to a bound client, and a child process connected through a socket pair.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, path_in, temp_dir};
use unix_sockets::datagrams::{self, MAX_DATAGRAM};

const READ_DEADLINE: Duration = Duration::from_secs(5);

#[test]
fn each_datagram_is_received_as_one_message() {
    let (tx, rx) = UnixDatagram::pair().unwrap();
    rx.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    let big = vec![b'x'; 60_000];
    let sent: Vec<&[u8]> = vec![b"one", b"", b"three", &big, b"5"];
    for m in &sent {
        tx.send(m).unwrap();
    }
    let got = datagrams::receive_messages(&rx, sent.len()).unwrap_or_else(|e| {
        panic!(
            "receive_messages failed: {e} (an empty datagram is a message of length 0, not an end)"
        )
    });
    let got_lens: Vec<usize> = got.iter().map(Vec::len).collect();
    let sent_lens: Vec<usize> = sent.iter().map(|m| m.len()).collect();
    assert_eq!(
        got_lens, sent_lens,
        "message lengths: each send must come out as exactly one message (a receive buffer \
         shorter than a datagram truncates it silently: make room for MAX_DATAGRAM)"
    );
    for (g, s) in got.iter().zip(&sent) {
        assert!(g.as_slice() == *s, "a message's bytes differ");
    }
}

#[test]
fn receive_messages_stops_after_count_and_leaves_the_rest_queued() {
    let (tx, rx) = UnixDatagram::pair().unwrap();
    rx.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    for m in [&b"a"[..], b"b", b"c"] {
        tx.send(m).unwrap();
    }
    let got = datagrams::receive_messages(&rx, 2).expect("receive_messages failed");
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
    let mut buf = [0u8; 8];
    let n = rx
        .recv(&mut buf)
        .expect("the third message should still be queued");
    assert_eq!(&buf[..n], b"c");
    const { assert!(MAX_DATAGRAM >= 60_000) };
}

#[test]
fn server_answers_a_bound_client_message_by_message() {
    let dir = temp_dir("dgram-server");
    let server_path = path_in(&dir, "server.sock");
    let client_path = path_in(&dir, "client.sock");
    let server = UnixDatagram::bind(&server_path).unwrap();
    // A client that wants answers must have an address of its own: it binds a path too.
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    client.send_to(b"hello", &server_path).unwrap();
    client.send_to(b"datagram world", &server_path).unwrap();
    // Both messages wait in the server's queue; the server answers them, then we read.
    datagrams::serve_uppercase(&server, 2).expect("serve_uppercase failed");
    let mut buf = [0u8; 64];
    let mut replies = Vec::new();
    for _ in 0..2 {
        match client.recv_from(&mut buf) {
            Ok((n, _)) => replies.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) => panic!(
                "no reply from the server ({e}): reply with send_to to the address recv_from gave you"
            ),
        }
    }
    assert_eq!(replies, ["HELLO", "DATAGRAM WORLD"]);
}

#[test]
fn server_skips_an_unbound_client_and_keeps_serving() {
    let dir = temp_dir("dgram-unbound");
    let server_path = path_in(&dir, "server.sock");
    let server = UnixDatagram::bind(&server_path).unwrap();
    let anonymous = UnixDatagram::unbound().unwrap();
    let client = UnixDatagram::bind(path_in(&dir, "client.sock")).unwrap();
    client.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    anonymous
        .send_to(b"nobody can answer me", &server_path)
        .unwrap();
    client.send_to(b"me", &server_path).unwrap();
    let served = datagrams::serve_uppercase(&server, 2);
    served.unwrap_or_else(|e| {
        panic!("serve_uppercase failed on a message from an unbound client: {e} (it has no address to answer: skip it)")
    });
    let mut buf = [0u8; 16];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("the bound client got no reply");
    assert_eq!(&buf[..n], b"ME");
}

#[test]
fn child_talks_through_a_socket_pair_and_parent_sees_eof() {
    let mut cmd = Command::new("tr");
    cmd.args(["a-z", "A-Z"]);
    let (child, mut sock) = datagrams::spawn_connected(&mut cmd).expect("spawn_connected failed");
    let mut child = ChildGuard::new(child);
    sock.write_all(b"hello from the parent\n").unwrap();
    // A socket can be half-closed: the child reads EOF on its stdin, we can still read.
    sock.shutdown(Shutdown::Write).unwrap();
    sock.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    let mut got = String::new();
    let res = sock.read_to_string(&mut got);
    let status = child.wait(DEFAULT_DEADLINE);
    res.unwrap_or_else(|e| {
        panic!(
            "reading the child's answer did not reach EOF ({e}); got so far {got:?}\n\
                `tr` exited ({}), so some other copy of the child's end is still open: \
                probably in this process (the Command still holds it, or a clone was kept)",
            describe_status(status)
        )
    });
    assert!(status.success(), "tr a-z A-Z: {}", describe_status(status));
    assert_eq!(
        got, "HELLO FROM THE PARENT\n",
        "the child (tr a-z A-Z) should answer on the same socket"
    );
}

#[test]
fn child_sees_a_socket_on_stdin_and_stdout() {
    let mut cmd = testkit::sh("test -S /dev/stdin && test -S /dev/stdout && echo both-are-sockets");
    let (child, mut sock) = datagrams::spawn_connected(&mut cmd).expect("spawn_connected failed");
    let mut child = ChildGuard::new(child);
    sock.shutdown(Shutdown::Write).unwrap();
    sock.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    let mut got = String::new();
    let _ = sock.read_to_string(&mut got);
    let status = child.wait(DEFAULT_DEADLINE);
    assert_eq!(
        got,
        "both-are-sockets\n",
        "the child's stdin and stdout must both be the socket ({})",
        describe_status(status)
    );
}
