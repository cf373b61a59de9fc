//! Tests for `unix-sockets/fd_passing`: a descriptor sent with SCM_RIGHTS arrives as a new fd
//! for the same open file (same inode, shared offset, close-on-exec set), survives the sender
//! closing it and the file being unlinked, reaches a child process, and nothing leaks, not
//! even when one message brings more descriptors than expected.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

use testkit::{ChildGuard, DEFAULT_DEADLINE, FdSnapshot, describe_status, path_in, temp_dir};
use unix_sockets::fd_passing::{recv_fd, send_fd};

/// Why `recv_fd` may fail in these tests, where the sender closes its end after `send_fd`.
const RECV_FAILED: &str = "recv_fd failed (UnexpectedEof: the sender closed without sending \
                           anything, so check send_fd too)";

fn file_with(dir: &Path, name: &str, content: &str) -> File {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    File::open(&path).unwrap()
}

#[test]
fn received_fd_is_a_new_descriptor_for_the_same_file() {
    let dir = temp_dir("fdp-same");
    let file = file_with(dir.path(), "a.txt", "shared content");
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, file.as_fd()).expect("send_fd failed");
    // What was sent stays queued after the sender closes; a send_fd that sent nothing now
    // makes recv_fd see EOF at once instead of waiting forever.
    drop(a);
    let got: OwnedFd = recv_fd(&b).expect(RECV_FAILED);
    assert_ne!(
        got.as_raw_fd(),
        file.as_raw_fd(),
        "the receiver gets a new fd number, like dup()"
    );
    let (m1, m2) = (
        file.metadata().unwrap(),
        File::from(got.try_clone().unwrap()).metadata().unwrap(),
    );
    assert_eq!(
        (m1.dev(), m1.ino()),
        (m2.dev(), m2.ino()),
        "the received fd must refer to the same file (device, inode)"
    );
    // SAFETY: F_GETFD only reads the fd's flags; `got` keeps the fd open during the call.
    let flags = unsafe { libc::fcntl(got.as_raw_fd(), libc::F_GETFD) };
    assert!(
        flags >= 0 && flags & libc::FD_CLOEXEC != 0,
        "the received fd should have close-on-exec set (recvmsg with MSG_CMSG_CLOEXEC), flags = {flags}"
    );
}

#[test]
fn the_open_file_description_and_its_offset_are_shared() {
    let dir = temp_dir("fdp-offset");
    let mut file = file_with(dir.path(), "b.txt", "HEADER|the rest");
    let mut header = [0u8; 7];
    file.read_exact(&mut header).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, file.as_fd()).expect("send_fd failed");
    drop(a);
    let mut theirs = File::from(recv_fd(&b).expect(RECV_FAILED));
    let mut rest = String::new();
    theirs.read_to_string(&mut rest).unwrap();
    assert_eq!(
        rest, "the rest",
        "the receiver continues at the sender's offset: it is the same open file description"
    );
    assert_eq!(
        file.stream_position().unwrap(),
        15,
        "and its reads move the sender's offset too"
    );
}

#[test]
fn the_file_survives_sender_close_and_unlink() {
    let dir = temp_dir("fdp-unlink");
    let path = path_in(&dir, "c.txt");
    std::fs::write(&path, "still readable").unwrap();
    let file = File::open(&path).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    send_fd(&a, file.as_fd()).expect("send_fd failed");
    // In flight, the message holds its own reference: the sender may close and the name may go.
    drop((file, a));
    std::fs::remove_file(&path).unwrap();
    let mut got = File::from(recv_fd(&b).expect(RECV_FAILED));
    let mut s = String::new();
    got.seek(SeekFrom::Start(0)).unwrap();
    got.read_to_string(&mut s).unwrap();
    assert_eq!(s, "still readable");
}

#[test]
fn recv_fd_reports_a_peer_that_closed_without_sending() {
    let (a, b) = UnixStream::pair().unwrap();
    drop(a);
    match recv_fd(&b) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        other => panic!(
            "the peer closed without sending anything: expected UnexpectedEof, got {other:?}"
        ),
    }
}

#[test]
fn recv_fd_reports_data_without_a_descriptor() {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"F").unwrap();
    match recv_fd(&b) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => panic!("a byte arrived without SCM_RIGHTS: expected InvalidData, got {other:?}"),
    }
}

#[test]
fn a_message_with_several_descriptors_is_refused_and_leaks_none() {
    testkit::isolated!();
    let dir = temp_dir("fdp-many");
    let path = path_in(&dir, "m.txt");
    std::fs::write(&path, "x").unwrap();
    let file = File::open(&path).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    // One message carrying the file 8 times: more than a receiver that made room for only
    // one descriptor can take (the kernel then truncates, MSG_CTRUNC, and installs those that
    // fit), and more than `recv_fd` wants in any case.
    let fds = [file.as_raw_fd(); 8];
    let data = [b'F'];
    nix::sys::socket::sendmsg::<()>(
        a.as_raw_fd(),
        &[std::io::IoSlice::new(&data)],
        &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .expect("sendmsg with 8 descriptors");
    drop((a, file));
    let before = FdSnapshot::take();
    match recv_fd(&b) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => panic!(
            "one message brought 8 descriptors where one was expected: expected InvalidData, \
             got {other:?}"
        ),
    }
    before.assert_no_leak(
        "after recv_fd refused a message with 8 descriptors: every descriptor that arrived \
         must be closed. A control buffer with room for fewer than were sent is truncated \
         (MSG_CTRUNC), and the descriptors that did fit are in your fd table even so (nix's \
         cmsgs() then returns ENOBUFS instead of them): make room for SCM_MAX_FD (253)",
    );
}

#[test]
fn a_truncated_message_is_refused_and_the_descriptors_that_arrived_are_closed() {
    testkit::isolated!();
    let dir = temp_dir("fdp-ctrunc");
    let path = path_in(&dir, "t.txt");
    std::fs::write(&path, "x").unwrap();
    let file = File::open(&path).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    // With SO_PASSCRED the kernel puts the sender's credentials first in the control data,
    // so even a buffer with room for SCM_MAX_FD descriptors cannot take them all: the message
    // is truncated (MSG_CTRUNC), and the descriptors that fit are installed all the same.
    nix::sys::socket::setsockopt(&b, nix::sys::socket::sockopt::PassCred, &true)
        .expect("setsockopt SO_PASSCRED");
    let fds = [file.as_raw_fd(); 253];
    nix::sys::socket::sendmsg::<()>(
        a.as_raw_fd(),
        &[std::io::IoSlice::new(b"F")],
        &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .expect("sendmsg with 253 descriptors");
    drop((a, file));
    let before = FdSnapshot::take();
    match recv_fd(&b) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => panic!(
            "the control data of this message was truncated (MSG_CTRUNC): expected \
             InvalidData, got {other:?}"
        ),
    }
    before.assert_no_leak(
        "after recv_fd refused a truncated message (MSG_CTRUNC): the kernel installed the \
         descriptors that fit before it set the flag, and they are yours to close. nix's \
         cmsgs() refuses to walk a truncated buffer (ENOBUFS), so walk the control bytes \
         yourself and close every SCM_RIGHTS descriptor in them before returning the error",
    );
}

#[test]
fn a_child_process_reads_the_file_it_was_handed() {
    let dir = temp_dir("fdp-child");
    let mut file = file_with(dir.path(), "d.txt", "skip:for the child\n");
    let mut skip = [0u8; 5];
    file.read_exact(&mut skip).unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    // The child (fd_reader) gets the socket as its stdin and calls your recv_fd.
    let mut child = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_fd_reader"))
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let sent = send_fd(&ours, file.as_fd());
    drop(file);
    drop(ours);
    let status = child.wait(DEFAULT_DEADLINE);
    let c = child.child();
    let (mut out, mut err) = (String::new(), String::new());
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    sent.expect("send_fd failed");
    assert!(
        status.success(),
        "fd_reader {}; its stderr:\n{err}",
        describe_status(status)
    );
    assert_eq!(
        out, "for the child\n",
        "the child should read from the parent's offset on; its stderr:\n{err}"
    );
}

#[test]
fn passing_a_descriptor_leaks_none() {
    testkit::isolated!();
    let dir = temp_dir("fdp-leak");
    let path = path_in(&dir, "e.txt");
    std::fs::write(&path, "x").unwrap();
    let before = FdSnapshot::take();
    {
        let file = File::open(&path).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        send_fd(&a, file.as_fd()).expect("send_fd failed");
        drop(a);
        let got = recv_fd(&b).expect(RECV_FAILED);
        drop((file, b, got));
    }
    before.assert_no_leak("after sending and receiving one descriptor and dropping everything");
}
