//! Tests for `pipes/fifo`: mkfifo with mode 0600, opening semantics, cleanup.
//!
//! Every FIFO lives in its own per-test temp dir, removed at the end even on failure.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use pipes::fifo::{Fifo, send, try_open_writer};
use testkit::{ChildGuard, call_with_deadline, describe_status, path_in, temp_dir};

const DEADLINE: Duration = Duration::from_secs(5);

fn mode_of(path: &std::path::Path) -> u32 {
    fs::metadata(path)
        .expect("stat the FIFO")
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn the_fifo_is_a_fifo_with_mode_0600() {
    let dir = temp_dir("fifo_mode");
    let path = path_in(&dir, "chan");
    let fifo = Fifo::create(&path).expect("create");
    let meta = fs::metadata(&path).expect("the FIFO must exist after create");
    assert!(
        meta.file_type().is_fifo(),
        "{} is not a FIFO",
        path.display()
    );
    assert_eq!(
        mode_of(&path),
        0o600,
        "expected mode 0600 (owner read/write only), got {:o}",
        mode_of(&path)
    );
    assert_eq!(fifo.path(), path);
}

#[test]
fn the_mode_is_0600_even_under_a_strict_umask() {
    testkit::isolated!();
    // 0277 removes the owner's write bit: mkfifo(path, 0600) alone would give 0400.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o277));
    let dir = temp_dir("fifo_umask");
    let path = path_in(&dir, "chan");
    let _fifo = Fifo::create(&path).expect("create");
    assert_eq!(
        mode_of(&path),
        0o600,
        "mkfifo applies the umask (0277 here); set the mode explicitly afterwards. Got {:o}",
        mode_of(&path)
    );
}

/// The SIGSYS handler's message, written to stderr when a forbidden system call traps.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
static FORBIDDEN_WHY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
extern "C" fn forbidden_call(_: libc::c_int) {
    if let Some(why) = FORBIDDEN_WHY.get() {
        // SAFETY: write(2) of an initialised buffer; async-signal-safe.
        unsafe { libc::write(2, why.as_ptr().cast(), why.len()) };
    }
    // SAFETY: _exit(2) is async-signal-safe; it ends this (isolated) process at once.
    unsafe { libc::_exit(86) }
}

/// Makes each system call in `calls` trap in the calling thread (and threads it starts later):
/// instead of running, it raises SIGSYS, whose handler prints `why` and ends the process. A
/// seccomp filter, for a test that runs alone (see `testkit::isolated!`).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn forbid_system_calls(calls: &[libc::c_long], why: &str) {
    FORBIDDEN_WHY
        .set(format!("\n{why}\n"))
        .expect("one forbidden set per process");
    // SAFETY: the handler only calls write(2) and _exit(2), both async-signal-safe; this test
    // runs alone in its process.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = forbidden_call as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()),
            0
        );
    }
    testkit::seccomp::install(calls, testkit::seccomp::Action::Trap)
        .expect("installing a seccomp filter");
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn create_leaves_the_process_umask_alone() {
    testkit::isolated!();
    let dir = temp_dir("fifo_no_umask");
    let path = path_in(&dir, "chan");
    forbid_system_calls(
        &[libc::SYS_umask],
        "Fifo::create called umask(2). The umask belongs to the whole process: while it is \
         changed, every other thread that creates a file gets the wrong mode. Leave it alone; \
         mkfifo, then set the mode on the FIFO you opened (fchmod)",
    );
    let _fifo = Fifo::create(&path).expect("create");
    assert_eq!(mode_of(&path), 0o600, "expected mode 0600");
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn create_sets_the_mode_on_the_fifo_not_through_its_name() {
    testkit::isolated!();
    let dir = temp_dir("fifo_fchmod");
    let path = path_in(&dir, "chan");
    // fchmodat2(2) (Linux 6.6) has the same number on every architecture; libc does not name
    // it everywhere.
    const SYS_FCHMODAT2: libc::c_long = 452;
    #[cfg(target_arch = "x86_64")]
    let by_name = [libc::SYS_chmod, libc::SYS_fchmodat, SYS_FCHMODAT2];
    #[cfg(not(target_arch = "x86_64"))]
    let by_name = [libc::SYS_fchmodat, SYS_FCHMODAT2];
    forbid_system_calls(
        &by_name,
        "Fifo::create changed the mode through the path (chmod(2), fs::set_permissions). \
         Between mkfifo and chmod another process can put a symlink at that name, and chmod \
         follows it to whatever file it names. Open what mkfifo made (O_RDONLY | O_NONBLOCK \
         | O_NOFOLLOW: no waiting for a writer, no symlink), check it is a FIFO, and fchmod \
         that fd (File::set_permissions)",
    );
    let _fifo = Fifo::create(&path).expect("create");
    assert_eq!(mode_of(&path), 0o600, "expected mode 0600");
}

#[test]
fn an_existing_file_is_not_replaced() {
    let dir = temp_dir("fifo_exists");
    let path = path_in(&dir, "taken");
    fs::write(&path, b"someone else's data").expect("write a file");
    let err = Fifo::create(&path).expect_err("creating over an existing file must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
    assert_eq!(
        fs::read(&path).expect("the file must still be there"),
        b"someone else's data"
    );
}

#[test]
fn dropping_the_fifo_removes_its_name() {
    let dir = temp_dir("fifo_drop");
    let path = path_in(&dir, "chan");
    let fifo = Fifo::create(&path).expect("create");
    drop(fifo);
    assert!(
        !path.exists(),
        "{} must be unlinked when the Fifo is dropped",
        path.display()
    );
}

#[test]
fn a_nonblocking_open_for_writing_without_a_reader_is_none() {
    let dir = temp_dir("fifo_noreader");
    let path = path_in(&dir, "chan");
    let _fifo = Fifo::create(&path).expect("create");
    let opened = call_with_deadline(DEADLINE, move || try_open_writer(&path))
        .expect("try_open_writer blocked: open it with O_NONBLOCK");
    match opened {
        Ok(None) => {}
        Ok(Some(_)) => panic!("there is no reader, so there can be no writer (ENXIO)"),
        Err(e) => panic!("ENXIO (no reader) must be Ok(None), not an error: {e}"),
    }
}

#[test]
fn with_a_reader_open_the_writer_is_returned_in_blocking_mode() {
    let dir = temp_dir("fifo_reader");
    let path = path_in(&dir, "chan");
    let _fifo = Fifo::create(&path).expect("create");
    // A non-blocking open for reading succeeds at once, even without a writer.
    let mut reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .expect("open the read side with O_NONBLOCK");
    let mut writer = try_open_writer(&path)
        .expect("try_open_writer")
        .expect("a reader is open, so the writer must be Some");
    let flags = OFlag::from_bits_retain(fcntl(writer.as_fd(), FcntlArg::F_GETFL).expect("flags"));
    assert!(
        !flags.contains(OFlag::O_NONBLOCK),
        "clear O_NONBLOCK after opening: the writer must block when the pipe is full"
    );
    writer.write_all(b"ping").expect("write");
    drop(writer);
    let mut got = Vec::new();
    reader.read_to_end(&mut got).expect("read");
    assert_eq!(got, b"ping");
}

#[test]
fn send_reaches_an_unrelated_reader_process() {
    let dir = temp_dir("fifo_send");
    let path = path_in(&dir, "chan");
    let _fifo = Fifo::create(&path).expect("create");
    // `cat` knows nothing of this process but the path; its open() waits for a writer, and
    // `send`'s open() waits for a reader: whichever comes first waits for the other.
    let mut cmd = Command::new("cat");
    cmd.arg(&path).stdout(Stdio::piped());
    let mut cat = ChildGuard::spawn(&mut cmd);
    let target = path.clone();
    match call_with_deadline(DEADLINE, move || send(&target, b"hello through a name\n")) {
        Some(Ok(())) => {}
        Some(Err(e)) => panic!("send failed (it must wait for the reader, not fail): {e}"),
        None => panic!("send did not return although `cat` opened the FIFO for reading"),
    }
    let mut out = String::new();
    let read = call_with_deadline(DEADLINE, {
        let mut stdout = cat.child().stdout.take().expect("stdout");
        move || stdout.read_to_string(&mut out).map(|_| out)
    });
    let out = match read {
        Some(Ok(out)) => out,
        Some(Err(e)) => panic!("reading cat's output failed: {e}"),
        None => panic!(
            "`cat {}` never saw EOF: close the FIFO after writing",
            path.display()
        ),
    };
    let status = cat.wait(DEADLINE);
    assert_eq!(out, "hello through a name\n");
    assert!(status.success(), "cat {}", describe_status(status));
}

#[test]
fn a_missing_fifo_is_an_error_not_a_missing_reader() {
    let dir = temp_dir("fifo_missing");
    // No Fifo::create: nothing exists at this path.
    let path = path_in(&dir, "nowhere");
    let target = path.clone();
    let opened = call_with_deadline(DEADLINE, move || try_open_writer(&target))
        .expect("try_open_writer blocked: open it with O_NONBLOCK");
    match opened {
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::NotFound,
            "opening {} (which does not exist) must fail with NotFound; got {e}",
            path.display()
        ),
        Ok(None) => panic!(
            "{} does not exist, yet try_open_writer said \"no reader\" (Ok(None)): only ENXIO \
             means that; return every other error",
            path.display()
        ),
        Ok(Some(_)) => panic!("{} does not exist, yet it was opened", path.display()),
    }
}
