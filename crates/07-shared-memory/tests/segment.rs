//! Tests for `shared-memory/segment`: a named segment in /dev/shm (exclusive, 0600, sized,
//! mapped, shared with another process, unlinked by its creator) and a sealed memfd passed to
//! another process over a Unix socket.

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use shared_memory::segment;
use testkit::shm::{Kind, Peer, ShmName};
use testkit::{ChildGuard, DEFAULT_DEADLINE};

const PEER: &str = env!("CARGO_BIN_EXE_shm-peer");

#[test]
fn create_makes_a_private_file_of_the_requested_size_in_dev_shm() {
    let name = ShmName::new("seg-mode", Kind::Segment);
    let seg = segment::create(name.name(), 8192).expect("create the segment");
    let meta = std::fs::metadata(name.path()).unwrap_or_else(|e| {
        panic!(
            "after create({:?}) there is no {}: {e}. shm_open(name, O_CREAT | O_EXCL | O_RDWR, \
             0600) makes it",
            name.name(),
            name.path().display()
        )
    });
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{} must be readable and writable by its owner only (mode 0600), got {:o}",
        name.path().display(),
        meta.permissions().mode() & 0o777
    );
    assert_eq!(
        meta.len(),
        8192,
        "the segment must be sized with ftruncate to the requested length"
    );
    assert_eq!(seg.len(), 8192, "the mapping must cover the whole segment");
    assert_eq!(seg.name(), name.name(), "the segment remembers its name");
    assert!(!seg.is_empty(), "a segment of 8192 bytes is not empty");
}

#[test]
fn a_second_create_of_the_same_name_fails_and_leaves_the_first_alone() {
    let name = ShmName::new("seg-excl", Kind::Segment);
    let first = segment::create(name.name(), 4096).expect("create the segment");
    // SAFETY: the mapping is 4096 bytes long and only this test touches it.
    unsafe { first.as_ptr().write(42) };
    match segment::create(name.name(), 4096) {
        Ok(_) => panic!(
            "a second create of {} succeeded: without O_EXCL a program silently shares a segment \
             someone else (or a crashed earlier run) left behind",
            name.name()
        ),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::AlreadyExists,
            "a taken name must fail with EEXIST (AlreadyExists), got {e}"
        ),
    }
    assert!(
        name.exists(),
        "the failed second create removed the first one's name: only the creator may unlink it"
    );
    assert_eq!(
        // SAFETY: as above.
        unsafe { first.as_ptr().read() },
        42,
        "the failed create changed the first segment (did it truncate it?)"
    );
}

#[test]
fn another_process_reads_what_we_wrote_and_we_read_its_reply() {
    let name = ShmName::new("seg-peer", Kind::Segment);
    let seg = segment::create(name.name(), 4096).expect("create the segment");
    let msg = format!("ping from {}\0", std::process::id());
    // SAFETY: the message is shorter than 1024 bytes and the peer is not started yet.
    unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), seg.as_ptr(), msg.len()) };
    let mut peer = Peer::spawn(PEER, &["segment-reply", name.name()]);
    let read = peer.expect("read: ");
    assert_eq!(
        read,
        format!("read: {}", msg.trim_end_matches('\0')),
        "the other process must see our bytes through its own mapping of the segment"
    );
    let len = peer.expect("len: ");
    assert_eq!(
        len, "len: 4096",
        "open() must map the whole segment (its size comes from fstat)"
    );
    peer.finish();
    // SAFETY: the peer has exited; it wrote a NUL-terminated reply at 1024.
    let reply = unsafe { std::slice::from_raw_parts(seg.as_ptr().add(1024), 1024) };
    let reply = String::from_utf8_lossy(reply.split(|&b| b == 0).next().unwrap_or(&[]));
    assert!(
        reply.starts_with("pong from "),
        "the peer's reply must be visible in our mapping (MAP_SHARED), got {reply:?}"
    );
    assert!(
        name.exists(),
        "the peer only opened the segment; it must not have removed the name"
    );
}

#[test]
fn dropping_the_creator_removes_the_name_and_a_later_open_fails() {
    let name = ShmName::new("seg-drop", Kind::Segment);
    let seg = segment::create(name.name(), 4096).expect("create the segment");
    let opened = segment::open(name.name()).expect("open the segment");
    drop(opened);
    assert!(
        name.exists(),
        "dropping a segment that was only opened must not remove the name"
    );
    drop(seg);
    assert!(
        !name.exists(),
        "{} is still there after the creator dropped its segment: shm_unlink it, or it stays \
         until reboot",
        name.path().display()
    );
    match segment::open(name.name()) {
        Ok(_) => panic!("open() found a segment that should be gone"),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::NotFound,
            "opening a removed name must fail with ENOENT, got {e}"
        ),
    }
}

#[test]
fn unlink_removes_the_name_while_the_mapping_stays_usable() {
    let name = ShmName::new("seg-unlink", Kind::Segment);
    let mut seg = segment::create(name.name(), 4096).expect("create the segment");
    seg.unlink().expect("unlink the segment");
    assert!(
        !name.exists(),
        "unlink() must remove the name from /dev/shm"
    );
    // SAFETY: the mapping is 4096 bytes long and only this test touches it.
    unsafe {
        seg.as_ptr().add(4095).write(7);
        assert_eq!(seg.as_ptr().add(4095).read(), 7);
    }
    let again = seg
        .unlink()
        .expect_err("a second unlink must fail: the name is gone");
    assert_eq!(again.kind(), std::io::ErrorKind::NotFound, "got {again}");
    drop(seg);
}

#[test]
fn a_sealed_memfd_sent_over_a_socket_is_readable_but_unchangeable_by_the_receiver() {
    let (mine, theirs) = UnixStream::pair().expect("socketpair");
    let text = "sealed hello";
    let fd = segment::sealed_memfd(text.as_bytes()).expect("make a sealed memfd");
    let seals = rustix::fs::fcntl_get_seals(&fd).expect("F_GET_SEALS");
    use rustix::fs::SealFlags;
    for (flag, what) in [
        (SealFlags::WRITE, "F_SEAL_WRITE"),
        (SealFlags::SHRINK, "F_SEAL_SHRINK"),
        (SealFlags::GROW, "F_SEAL_GROW"),
        (SealFlags::SEAL, "F_SEAL_SEAL"),
    ] {
        assert!(
            seals.contains(flag),
            "the memfd must carry {what} (seals now: {seals:?})"
        );
    }
    let peer = ChildGuard::spawn(
        Command::new(PEER)
            .arg("memfd-recv")
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    segment::send_fd(&mine, fd.as_fd()).expect("send the fd");
    let child = peer.into_inner();
    let pid = child.id() as i32;
    let output = testkit::call_or_unblock(
        DEFAULT_DEADLINE,
        move || child.wait_with_output(),
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet (it hung).
        || unsafe {
            libc::kill(pid, libc::SIGKILL);
        },
    )
    .expect("the receiver hung: is it waiting for a descriptor that was never sent?")
    .expect("wait for the receiver");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the receiver failed ({}):\n{out}\n{}",
        testkit::describe_status(output.status),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(&*format!("content: {text}")),
        "the receiver must read the memfd's bytes through the descriptor it received; it said:\n{out}"
    );
    for action in ["write", "truncate", "grow"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{action}: refused ({})", libc::EPERM))),
            "a {action} by the receiver must fail with EPERM because of the seals; it said:\n{out}"
        );
    }
}

#[test]
fn a_create_that_fails_after_the_name_exists_removes_the_name() {
    let name = ShmName::new("seg-toobig", Kind::Segment);
    // No file can be this long: ftruncate fails after shm_open has made the name.
    let e = segment::create(name.name(), usize::MAX)
        .expect_err("a segment of usize::MAX bytes cannot be created");
    assert!(
        !name.exists(),
        "create failed ({e}) but left {} behind: when sizing or mapping fails, unlink the name \
         before returning the error (nobody else knows it exists)",
        name.path().display()
    );
}

#[test]
fn a_segment_that_forgot_its_name_leaves_it_to_someone_else() {
    let name = ShmName::new("seg-forget", Kind::Segment);
    let mut seg = segment::create(name.name(), 4096).expect("create the segment");
    seg.forget_name();
    drop(seg);
    assert!(
        name.exists(),
        "after forget_name(), dropping the segment must not unlink {}: the name is someone \
         else's to remove now (the guard of this test removes it)",
        name.path().display()
    );
}
