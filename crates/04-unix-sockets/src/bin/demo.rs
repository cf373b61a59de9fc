//! A narrated tour of Unix domain sockets, independent of the exercises.
//!
//! It binds a socket file and serves two clients at once, recovers from a stale socket file,
//! listens on a Linux abstract name, prints each client's credentials (`SO_PEERCRED`), and hands
//! an open file to a child process with `SCM_RIGHTS`. It exits by itself and leaves no socket
//! file behind.
//!
//! Run it: `cargo run -p unix-sockets`.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Removes the demo's private directory (and any socket file in it) on every exit path.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn main() -> ExitCode {
    // Re-executed as the child of part 5: stdin is a socket carrying one descriptor.
    if std::env::args().nth(1).as_deref() == Some("--receive-fd") {
        return match child_receives_fd() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    println!("demo pid {}: Unix domain sockets", std::process::id());
    let dir = std::env::temp_dir().join(format!("pl-unix-demo-{}", std::process::id()));
    fs::create_dir(&dir)?;
    let guard = DirGuard(dir.clone());
    let path = dir.join("echo.sock");

    stream_server(&path)?;
    stale_file(&path)?;
    #[cfg(target_os = "linux")]
    abstract_and_credentials()?;
    pass_a_file(&dir)?;

    drop(guard);
    println!(
        "done: {} removed, nothing left behind",
        dir.as_path().display()
    );
    Ok(())
}

/// Part 1: a socket file, a listener, two clients served at the same time by two threads.
fn stream_server(path: &Path) -> io::Result<()> {
    println!("\n1. stream sockets: bind creates a socket file");
    let listener = UnixListener::bind(path)?;
    let kind = fs::symlink_metadata(path)?.file_type().is_socket();
    println!("   bound {} (a socket file: {kind})", path.display());
    thread::scope(|scope| -> io::Result<()> {
        let server = scope.spawn(|| -> io::Result<()> {
            thread::scope(|inner| {
                for n in 1..=2 {
                    let (mut conn, _) = listener.accept()?;
                    println!("   server: accepted client {n}, one thread each");
                    inner.spawn(move || {
                        let mut buf = Vec::new();
                        // The client half-closed: read_to_end ends at its request's end.
                        if conn.read_to_end(&mut buf).is_ok() {
                            let _ = conn.write_all(&buf.to_ascii_uppercase());
                        }
                    });
                }
                Ok(())
            })
        });
        for word in ["hello", "world"] {
            let mut c = UnixStream::connect(path)?;
            c.write_all(word.as_bytes())?;
            c.shutdown(Shutdown::Write)?;
            let mut reply = String::new();
            c.read_to_string(&mut reply)?;
            println!("   client sent {word:?}, shut down writing, got {reply:?}");
        }
        server
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("server thread panicked")))
    })?;
    drop(listener);
    println!(
        "   listener closed; the file is still there: {}",
        path.exists()
    );
    Ok(())
}

/// Part 2: the file left by part 1 is stale; bind fails until it is detected and removed.
fn stale_file(path: &Path) -> io::Result<()> {
    println!("\n2. a stale socket file");
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            println!("   bind again: {e}");
        }
        other => println!("   bind again unexpectedly gave {other:?}"),
    }
    match UnixStream::connect(path) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            println!("   connect: {e} -> nobody listens, the file is stale: remove it");
            fs::remove_file(path)?;
        }
        other => println!("   connect unexpectedly gave {other:?}"),
    }
    let listener = UnixListener::bind(path)?;
    println!("   bound again; a probe connect now succeeds, so a live server would be refused");
    drop(UnixStream::connect(path)?);
    drop(listener);
    fs::remove_file(path)?;
    println!("   removed the file on shutdown");
    Ok(())
}

/// Part 3 (Linux): an abstract name and the peer's credentials.
#[cfg(target_os = "linux")]
fn abstract_and_credentials() -> io::Result<()> {
    use nix::sys::socket::{getsockopt, sockopt};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    println!("\n3. an abstract name (Linux): no file at all");
    let name = format!("pl-unix-demo-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    let listener = UnixListener::bind_addr(&addr)?;
    println!("   listening on @{name} (see /proc/net/unix)");
    let client = UnixStream::connect_addr(&addr)?;
    let (conn, _) = listener.accept()?;
    let cred = getsockopt(&conn, sockopt::PeerCredentials)?;
    println!(
        "   SO_PEERCRED of our client: pid {}, uid {}, gid {} (recorded by the kernel at connect;",
        cred.pid(),
        cred.uid(),
        cred.gid()
    );
    println!("   the client is this very process, so the pid is ours)");
    drop((client, conn, listener));
    println!("   closed: the name is free again, there is no file to remove");
    Ok(())
}

/// Part 4: an open file travels to a child process with SCM_RIGHTS.
fn pass_a_file(dir: &Path) -> io::Result<()> {
    println!("\n4. passing an open file descriptor with SCM_RIGHTS");
    let file_path = dir.join("letter.txt");
    fs::write(
        &file_path,
        "SKIP|read by the child through the parent's open file\n",
    )?;
    let mut file = File::open(&file_path)?;
    file.seek(SeekFrom::Start(5))?;
    // The name goes away; the open file stays alive as long as a descriptor refers to it.
    fs::remove_file(&file_path)?;
    println!(
        "   parent opened the file as fd {}, moved its offset to 5, and unlinked it",
        file.as_raw_fd()
    );
    let (ours, theirs) = UnixStream::pair()?;
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .arg("--receive-fd")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .spawn()?;
    println!(
        "   child pid {} got one end of a socket pair as stdin",
        child.id()
    );
    let byte = [b'F'];
    let fds = [file.as_fd().as_raw_fd()];
    sendmsg::<()>(
        ours.as_raw_fd(),
        &[IoSlice::new(&byte)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    // While in flight and in the child, the open file description has more references; our
    // close here does not affect the child's copy.
    drop(file);
    drop(ours);
    println!("   parent sent the fd and closed its own copy");
    let output = child.wait_with_output()?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("   {line}");
    }
    println!("   child exited: {}", output.status);
    Ok(())
}

/// The child side of part 4: receive one descriptor on stdin and read from it.
fn child_receives_fd() -> io::Result<()> {
    let sock = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut received = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: the kernel has just installed `raw` in our fd table for this message,
                // and nothing else in this process owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                received.get_or_insert(fd);
            }
        }
    }
    let fd = received.ok_or_else(|| io::Error::other("no descriptor arrived"))?;
    println!(
        "child pid {}: received fd {}",
        std::process::id(),
        fd.as_raw_fd()
    );
    let mut line = String::new();
    BufReader::new(File::from(fd)).read_line(&mut line)?;
    println!("child read from offset 5: {:?}", line.trim_end());
    Ok(())
}
