//! A narrated tour of a service supervisor. Independent of the exercises; exits by itself and
//! leaves nothing behind.
//!
//! Run it with `cargo run -p supervisor`. It re-executes itself to play the service (and the
//! daemon the service leaves behind), so it needs no other program than `/bin/sh`.

use std::io::{BufRead, BufReader, IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, getsockopt, recvmsg, setsockopt, sockopt};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

const ROLE: &str = "SUPERVISOR_DEMO_ROLE";

fn main() -> ExitCode {
    match std::env::var(ROLE).as_deref() {
        Ok("service") => service(),
        Ok("daemon") => daemon(),
        _ => match tour() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("supervisor-demo: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The service: talks on both streams, says it is ready, leaves a daemon behind, exits 3.
fn service() -> ExitCode {
    let notify = |msg: &str| {
        if let Ok(path) = std::env::var("NOTIFY_SOCKET")
            && let Ok(s) = UnixDatagram::unbound()
        {
            let _ = s.send_to(msg.as_bytes(), path);
        }
    };
    println!("hello from the service");
    eprintln!("warning: no cache directory, starting cold");
    notify("STATUS=warming up");
    notify("READY=1\nSTATUS=serving");
    // The daemon inherits our stdout: close it there, so the supervisor's reader sees EOF
    // when we exit.
    let me = std::env::current_exe().expect("own path");
    let spawned = Command::new(me)
        .env(ROLE, "daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(d) => println!("started a helper, pid {}, that will call setsid", d.id()),
        Err(e) => eprintln!("cannot start the helper: {e}"),
    }
    ExitCode::from(3)
}

/// The daemon: leaves the group and the session, then waits to be stopped.
fn daemon() -> ExitCode {
    let _ = nix::unistd::setsid();
    loop {
        thread::park();
    }
}

fn tour() -> Res<()> {
    let me = Pid::this();
    let dir = TempDir::new(&format!("svdemo-{me}"))?;

    println!("== 1. the supervisor becomes a child subreaper");
    nix::sys::prctl::set_child_subreaper(true)?;
    println!(
        "   prctl(PR_SET_CHILD_SUBREAPER, 1): orphans below pid {me} now come back to it, not to init"
    );

    println!("== 2. a service in a process group of its own, with a notify socket");
    let notify_path = dir.path().join("web.notify");
    let notify = UnixDatagram::bind(&notify_path)?;
    setsockopt(&notify, sockopt::PassCred, &true)?;
    notify.set_nonblocking(true)?;
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .env(ROLE, "service")
        .env("NOTIFY_SOCKET", &notify_path)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    let pidfd = pidfd_open(pid)?;
    println!(
        "   started pid {pid}: pgid {} (ours is {}), NOTIFY_SOCKET={}",
        pgid(pid).unwrap_or(0),
        nix::unistd::getpgrp(),
        notify_path.display()
    );
    // Both streams, read at the same time (one thread each), into one channel.
    let (tx, rx) = mpsc::channel();
    let out = pump(
        child.stdout.take().ok_or("no stdout")?,
        "stdout",
        tx.clone(),
    );
    let err = pump(child.stderr.take().ok_or("no stderr")?, "stderr", tx);

    // One poll on the notify socket and the service's pidfd: ready, or dead, whichever first.
    let mut exited = false;
    let mut ready = false;
    while !ready && !exited {
        let mut fds = [
            PollFd::new(notify.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, PollTimeout::from(10_000u16))?;
        let dead = fds[1].revents().is_some_and(|r| !r.is_empty());
        for (sender, text) in recv_all(&notify)? {
            let same = pgid(sender) == Some(pid.as_raw());
            println!(
                "   notify from pid {sender} ({}): {}",
                if same {
                    "in the service's group: counts"
                } else {
                    "a stranger: ignored"
                },
                text.replace('\n', " | ")
            );
            if same && text.lines().any(|l| l == "READY=1") {
                ready = true;
                println!(
                    "   ready {} ms after the start",
                    started.elapsed().as_millis()
                );
            }
        }
        exited = dead && !ready;
    }

    println!("== 3. the service's streams, one timestamped line each, as a log would keep them");
    drop(out.join());
    drop(err.join());
    for (when, stream, line) in rx.try_iter() {
        println!(
            "   {} {stream} {line}",
            humantime::format_rfc3339_millis(when)
        );
    }

    println!("== 4. the service exits; the helper it started calls setsid and is orphaned");
    let status = waitpid(pid, None)?;
    println!("   reaped pid {pid}: {}", describe(&status));
    let daemon = children_of(me)
        .into_iter()
        .next()
        .ok_or("the helper is not our child")?;
    // The helper calls setsid as its first step; nothing tells us when, so look a few times.
    for _ in 0..200 {
        if stat_field(daemon, 6) == Some(daemon.to_string()) {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    println!(
        "   pid {daemon}: session {} and group {} of its own, parent {} (us: the subreaper)",
        stat_field(daemon, 6).unwrap_or_default(),
        pgid(daemon).unwrap_or(0),
        stat_field(daemon, 4).unwrap_or_default()
    );
    println!(
        "   restart = \"on-failure\": {} is a failure, so it would be restarted after its backoff",
        describe(&status)
    );

    println!("== 5. stopping what is left: SIGTERM through a pidfd, a deadline, then SIGKILL");
    let dfd = pidfd_open(daemon)?;
    let how = stop(&dfd, daemon, Duration::from_secs(5))?;
    println!("   pid {daemon}: {how}");

    println!("== 6. backoff: 100 ms x2 capped at 1 s (no jitter), start limit 3 deaths in 10 s");
    let delays: Vec<String> = (0..6)
        .map(|k| format!("{} ms", (100.0 * 2f64.powi(k)).min(1000.0)))
        .collect();
    println!("   delays: {}", delays.join(", "));
    let mut deaths = Vec::new();
    for i in 1..=3 {
        let s = Command::new("/bin/sh").args(["-c", "exit 1"]).status()?;
        deaths.push(Instant::now());
        let within: usize = deaths
            .iter()
            .filter(|d| d.elapsed() < Duration::from_secs(10))
            .count();
        let verdict = if within >= 3 {
            "failed: not restarted"
        } else {
            "restart"
        };
        println!("   crash {i}: {s}; {within} death(s) within 10 s: {verdict}");
    }

    println!("== 7. the control socket: 0600, and SO_PEERCRED says who connected");
    let sock_path = dir.path().join("svd.sock");
    let listener = UnixListener::bind(&sock_path)?;
    std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o600))?;
    let my_uid = nix::unistd::getuid().as_raw();
    for (who, allowed) in [
        ("the owner", my_uid),
        ("a stranger", my_uid.wrapping_add(4242)),
    ] {
        let _client = UnixStream::connect(&sock_path)?;
        let (conn, _) = listener.accept()?;
        let cred = getsockopt(&conn, sockopt::PeerCredentials)?;
        let verdict = if cred.uid() == allowed {
            "served".to_string()
        } else {
            format!(
                "error: permission denied: uid {} may not control this supervisor",
                cred.uid()
            )
        };
        println!(
            "   {who} (allowed uid {allowed}): peer pid {} uid {} -> {verdict}",
            cred.pid(),
            cred.uid()
        );
    }
    drop(listener);
    drop(notify);
    drop(dir);

    let left = children_of(me);
    if !left.is_empty() {
        return Err(format!("children left: {left:?}").into());
    }
    println!("== done: no child left, the socket files and their directory removed");
    Ok(())
}

/// A private directory, removed with what it holds when dropped (also on an error path).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Res<TempDir> {
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pump(
    source: impl Read + Send + 'static,
    stream: &'static str,
    tx: mpsc::Sender<(SystemTime, &'static str, String)>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            // Stamped when read, as a log keeps it.
            let _ = tx.send((SystemTime::now(), stream, line));
        }
    })
}

/// Every datagram waiting, with the sender's pid from SCM_CREDENTIALS.
fn recv_all(sock: &UnixDatagram) -> Res<Vec<(Pid, String)>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut cmsg = nix::cmsg_space!(libc::ucred);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        let mut pid = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmCredentials(cred) = c {
                pid = Some(Pid::from_raw(cred.pid()));
            }
        }
        let len = msg.bytes;
        if let Some(pid) = pid {
            out.push((pid, String::from_utf8_lossy(&buf[..len]).into_owned()));
        }
    }
}

/// SIGTERM through the pidfd, up to `grace` for the exit, then SIGKILL; reaps.
fn stop(pidfd: &OwnedFd, pid: Pid, grace: Duration) -> Res<String> {
    pidfd_signal(pidfd, Signal::SIGTERM)?;
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(grace.as_millis()).unwrap_or(u16::MAX);
    let mut killed = "";
    if poll(&mut fds, PollTimeout::from(ms))? == 0 {
        pidfd_signal(pidfd, Signal::SIGKILL)?;
        killed = " (SIGKILL after the deadline)";
    }
    let status = waitpid(pid, None)?;
    Ok(format!("{}{killed}; reaped", describe(&status)))
}

fn describe(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
        other => format!("{other:?}"),
    }
}

fn pidfd_open(pid: Pid) -> Res<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(i32::try_from(fd)?) })
}

fn pidfd_signal(pidfd: &OwnedFd, sig: Signal) -> Res<()> {
    // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number and a null siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// Field `n` of /proc/PID/stat (proc(5): 4 ppid, 5 pgrp, 6 session), counted after the name.
fn stat_field(pid: Pid, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n - 3).map(str::to_string)
}

fn pgid(pid: Pid) -> Option<i32> {
    stat_field(pid, 5)?.parse().ok()
}

fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|p| stat_field(*p, 4).and_then(|s| s.parse().ok()) == Some(parent.as_raw()))
        .collect()
}
