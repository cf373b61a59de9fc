//! Test support for terminals and job control: a real pseudo-terminal that a test drives, and a
//! guard that kills every process of a session, deepest first, so that each is reaped by its own
//! parent and nothing is left behind.
//!
//! - [`Terminal`]: spawns a program as a session leader whose controlling terminal is the slave
//!   side of a new pseudo-terminal; the test holds the master. Writing `\x03` to the master is a
//!   user pressing ^C: the line discipline, not the test, signals the foreground process group.
//!   Output is read on a thread, so every wait has a deadline; `"\r\n"` (the terminal's output
//!   translation) is turned back into `"\n"`, and what the terminal echoes stays in the text.
//! - [`Session`]: a program started in a session of its own WITHOUT a terminal (stdin and stdout
//!   are pipes), with the same guard.
//! - [`session_members`], [`kill_session`]: what is left of a session in `/proc`, and the guard's
//!   clean-up.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::{LineReader, try_wait_until, wait_for_exit};

/// One process of a session, as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Its state letter (`R`, `S`, `T`, `Z`, ...).
    pub state: char,
}

/// Fields of `/proc/PID/stat` after the command name: state, ppid, pgrp, session, tty_nr,
/// tpgid, ... (see proc(5)).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// `(pgid, sid, tpgid)` of `pid`: its process group, its session and the foreground process
/// group of its controlling terminal (-1 without one), from `/proc/PID/stat`.
pub fn proc_ids(pid: u32) -> Option<(i32, i32, i32)> {
    let f = stat_fields(pid)?;
    Some((f[2].parse().ok()?, f[3].parse().ok()?, f[5].parse().ok()?))
}

/// Every process of session `sid` (zombies included), read from `/proc`.
pub fn session_members(sid: u32) -> Vec<Member> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(f) = stat_fields(pid) else { continue };
        if f.len() > 3 && f[3].parse::<u32>().ok() == Some(sid) {
            out.push(Member {
                pid,
                ppid: f[1].parse().unwrap_or(0),
                pgid: f[2].parse().unwrap_or(0),
                state: f[0].chars().next().unwrap_or('?'),
            });
        }
    }
    out.sort_by_key(|m| m.pid);
    out
}

/// The live members of process group `pgid` inside session `sid`.
pub fn group_members(sid: u32, pgid: u32) -> Vec<Member> {
    session_members(sid)
        .into_iter()
        .filter(|m| m.pgid == pgid && m.state != 'Z')
        .collect()
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety requirements; the pid belongs to a session the test
    // created, so no unrelated process is signalled.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Kills every process of session `sid` except its leader, deepest first, continuing their
/// parents so that each can reap its children (a process whose parent dies first would be left
/// a zombie of init). Returns when no member but the leader is left or `deadline` passed.
pub fn kill_session(sid: u32, deadline: Duration) {
    let start = Instant::now();
    while start.elapsed() < deadline {
        let members: Vec<Member> = session_members(sid)
            .into_iter()
            .filter(|m| m.pid != sid)
            .collect();
        let live: Vec<&Member> = members.iter().filter(|m| m.state != 'Z').collect();
        if live.is_empty() {
            return;
        }
        let leaves: Vec<u32> = live
            .iter()
            .filter(|m| !members.iter().any(|o| o.ppid == m.pid))
            .map(|m| m.pid)
            .collect();
        for &pid in &leaves {
            signal(pid, libc::SIGKILL);
        }
        // A stopped parent cannot reap; continue everyone (the leader too).
        signal(sid, libc::SIGCONT);
        for m in &live {
            signal(m.pid, libc::SIGCONT);
        }
        let _ = try_wait_until(Duration::from_secs(2), "killed jobs to be reaped", || {
            leaves
                .iter()
                .all(|&p| !session_members(sid).iter().any(|m| m.pid == p))
        });
    }
}

/// A program running as the leader of a new session whose controlling terminal is a new
/// pseudo-terminal; the test is the terminal. Dropping it kills every process of the session.
pub struct Terminal {
    master: Option<File>,
    stop: Option<File>,
    reader: Option<thread::JoinHandle<()>>,
    rx: Receiver<Vec<u8>>,
    text: String,
    pos: usize,
    closed: bool,
    child: Option<Child>,
    what: String,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("what", &self.what)
            .field("pid", &self.pid())
            .finish()
    }
}

fn cvt(r: libc::c_int, what: &str) -> OwnedFd {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    // SAFETY: `r` is a file descriptor the call just returned; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(r) }
}

/// Opens a new pseudo-terminal: `(master, slave)`, both close-on-exec from the start (another
/// test's child, forked in between, must not inherit them: a master held by a stranger never
/// hangs up).
pub fn open_pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: posix_openpt returns a new fd or -1; cvt takes ownership of it.
    let master = cvt(
        unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) },
        "posix_openpt",
    );
    // SAFETY: grantpt and unlockpt take the master fd we own.
    unsafe {
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0, "grantpt");
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0, "unlockpt");
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes a NUL-terminated name into the local buffer of the given size.
    let r = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    assert_eq!(r, 0, "ptsname_r: {}", std::io::Error::from_raw_os_error(r));
    // SAFETY: the name is NUL-terminated (ptsname_r succeeded); open returns a new fd or -1.
    let slave = cvt(
        unsafe {
            libc::open(
                name.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        },
        "open the pty slave",
    );
    (master, slave)
}

/// Makes `cmd`'s child start with the terminal's signals (SIGHUP, SIGINT, SIGQUIT, SIGTSTP,
/// SIGTTIN, SIGTTOU) at their default action, as a terminal starts its shell.
///
/// Ignored signals survive fork and exec, and a test may run where some are ignored: `nohup`
/// ignores SIGHUP, and a non-interactive shell starts a `&` command with SIGINT and SIGQUIT
/// ignored. A program started that way cannot be interrupted from its terminal, whatever it
/// does right, and a shell may not undo what it was started with ignoring (POSIX).
pub fn with_terminal_signals_at_default(cmd: &mut Command) {
    // SAFETY: the closure calls only signal(2), which is async-signal-safe, with constant
    // arguments, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTSTP,
                libc::SIGTTIN,
                libc::SIGTTOU,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
}

impl Terminal {
    /// Spawns `cmd` with the slave of a new pseudo-terminal as stdin, stdout, stderr and
    /// controlling terminal (`setsid` then `TIOCSCTTY` in the child, before exec).
    #[track_caller]
    pub fn spawn(cmd: &mut Command, what: &str) -> Terminal {
        let (master, slave) = open_pty();
        let dup = |fd: &OwnedFd| fd.try_clone().expect("dup the pty slave");
        cmd.stdin(Stdio::from(dup(&slave)))
            .stdout(Stdio::from(dup(&slave)))
            .stderr(Stdio::from(dup(&slave)));
        with_terminal_signals_at_default(cmd);
        // SAFETY: the closure calls only setsid and ioctl, both async-signal-safe, and allocates
        // nothing; it runs in the child after fork, when stdin is already the slave.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot spawn {cmd:?} on a terminal: {e}"),
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The parent's copies of the slave must go: the master reads EIO (end of output) only
        // once no process holds the slave open.
        drop(slave);
        Terminal::attach(master, child, what)
    }

    /// Takes over a pseudo-terminal's `master` and the `child` running on its slave (which the
    /// caller no longer holds open): output is read on a thread from now on.
    pub fn attach(master: OwnedFd, child: Child, what: &str) -> Terminal {
        let (stop_r, stop_w) = std::io::pipe().expect("pipe");
        let reader_master = File::from(master.try_clone().expect("dup the pty master"));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = thread::spawn(move || {
            let stop_r = OwnedFd::from(stop_r);
            let mut master = reader_master;
            let mut buf = [0u8; 4096];
            loop {
                let mut fds = [
                    libc::pollfd {
                        fd: master.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: stop_r.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // SAFETY: two valid pollfd entries in a local array.
                let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
                if r < 0 {
                    if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return;
                }
                if fds[1].revents != 0 {
                    return;
                }
                match master.read(&mut buf) {
                    Ok(0) | Err(_) => return, // EIO: every slave fd is closed
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Terminal {
            master: Some(File::from(master)),
            stop: Some(File::from(OwnedFd::from(stop_w))),
            reader: Some(reader),
            rx,
            text: String::new(),
            pos: 0,
            closed: false,
            child: Some(child),
            what: what.to_string(),
        }
    }

    /// Waits until the master reports end of output (EIO: no process holds the slave open any
    /// more). Returns false when `deadline` passes first.
    pub fn wait_closed(&mut self, deadline: Duration) -> bool {
        let start = Instant::now();
        while !self.closed {
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return false;
            }
            self.pump(left.min(Duration::from_millis(200)));
        }
        true
    }

    /// The session leader's pid (also its session id and, at first, its process group).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Types `bytes` on the terminal (`b"\x03"` is ^C, `b"\x1a"` is ^Z).
    #[track_caller]
    pub fn write(&mut self, bytes: &[u8]) {
        let master = self.master.as_mut().expect("the terminal was closed");
        master.write_all(bytes).expect("write to the pty master");
    }

    /// Types `line` and Enter.
    #[track_caller]
    pub fn send_line(&mut self, line: &str) {
        self.write(format!("{line}\n").as_bytes());
    }

    fn pump(&mut self, wait: Duration) -> bool {
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => {
                self.text
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n"));
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                false
            }
        }
    }

    /// Waits until the output after what earlier calls consumed contains `needle`; returns that
    /// output up to the end of the needle's line and consumes it. Panics with everything the
    /// terminal showed when the deadline passes or the terminal closes first.
    #[track_caller]
    pub fn expect(&mut self, needle: &str, deadline: Duration) -> String {
        self.expect_or(needle, deadline, "")
    }

    /// [`Terminal::expect`], with `hint` (what the learner should check) in the failure message.
    #[track_caller]
    pub fn expect_or(&mut self, needle: &str, deadline: Duration, hint: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(i) = self.text[self.pos..].find(needle) {
                let at = self.pos + i + needle.len();
                let end = self.text[at..]
                    .find('\n')
                    .map_or(self.text.len(), |j| at + j);
                let out = self.text[self.pos..end].to_string();
                self.pos = end;
                return out;
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() || self.closed {
                panic!(
                    "{}: {} {needle:?} on the terminal. {hint}\nThe terminal showed:\n{}\n\
                     (session now: {:?})",
                    self.what,
                    if self.closed {
                        "the terminal closed before showing"
                    } else {
                        "timed out waiting for"
                    },
                    self.text,
                    session_members(self.pid())
                );
            }
            self.pump(left.min(Duration::from_millis(200)));
        }
    }

    /// Everything the terminal showed so far (echo included, `"\r\n"` as `"\n"`).
    pub fn output(&self) -> &str {
        &self.text
    }

    /// Closes the master (the user closed the terminal window): the kernel hangs the terminal
    /// up. Waits for the reader thread, which holds the other copy of the master.
    pub fn close_master(&mut self) {
        if let Some(mut stop) = self.stop.take() {
            let _ = stop.write_all(b"x");
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.master = None;
    }

    /// Waits for the session leader to exit, with a deadline.
    #[track_caller]
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        wait_for_exit(self.child.as_mut().expect("already waited"), deadline)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let pid = self.pid();
        kill_session(pid, Duration::from_secs(10));
        if let Some(mut c) = self.child.take()
            && let Ok(None) = c.try_wait()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        kill_session(pid, Duration::from_secs(5));
        self.close_master();
    }
}

/// A program started as the leader of a new session without a controlling terminal: stdin is a
/// pipe the test writes, stdout and stderr one pipe read line by line. Dropping it kills every
/// process of the session.
pub struct Session {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    /// Its stdout and stderr, interleaved in order.
    pub out: LineReader,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("pid", &self.pid()).finish()
    }
}

impl Session {
    /// Spawns `cmd` in a new session (`setsid` in the child), stdin piped, stdout and stderr
    /// sharing one pipe.
    #[track_caller]
    pub fn spawn(cmd: &mut Command, what: &str) -> Session {
        let (r, w) = std::io::pipe().expect("pipe");
        let w2 = w.try_clone().expect("dup");
        cmd.stdin(Stdio::piped()).stdout(w).stderr(w2);
        // SAFETY: setsid is async-signal-safe and the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot spawn {cmd:?}: {e}"),
        };
        // `cmd` still holds the pipe's write ends: replace them, or the output never ends.
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let stdin = child.stdin.take();
        Session {
            child: Some(child),
            stdin,
            out: LineReader::new(r, what),
        }
    }

    /// The leader's pid (also the session id).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Writes `line` and a newline to the program's stdin.
    #[track_caller]
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin was closed");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write to the program's stdin");
        stdin.flush().expect("flush");
    }

    /// Closes the program's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends `sig` to the session leader only.
    pub fn signal(&self, sig: libc::c_int) {
        signal(self.pid(), sig);
    }

    /// Waits for the leader to exit, with a deadline.
    #[track_caller]
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        wait_for_exit(self.child.as_mut().expect("already waited"), deadline)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let pid = self.pid();
        self.stdin = None;
        kill_session(pid, Duration::from_secs(10));
        if let Some(mut c) = self.child.take()
            && let Ok(None) = c.try_wait()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        kill_session(pid, Duration::from_secs(5));
    }
}
