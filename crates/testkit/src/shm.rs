//! Names of POSIX shared-memory objects (segments, named semaphores, message queues) for tests,
//! removed by a guard, and what /proc says about another process's threads.
//!
//! A segment `/NAME` is the file `/dev/shm/NAME`, a named semaphore `/NAME` is
//! `/dev/shm/sem.NAME`; a message queue lives in the mqueue filesystem, which may not be mounted
//! (it is not on this project's machines), so its existence is checked by opening it.

use std::ffi::CString;
use std::path::PathBuf;

/// The kind of object a [`ShmName`] names: it decides which `*_unlink` the guard calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A segment from `shm_open`.
    Segment,
    /// A named semaphore from `sem_open`.
    Semaphore,
    /// A message queue from `mq_open`.
    Queue,
}

/// A unique POSIX name (`/pl-TAG-PID-N-NANOS`) whose object is unlinked when the guard drops,
/// also when the test panics, so that a test never leaves anything in /dev/shm or the queue
/// filesystem, even when the code under test forgot to unlink.
#[derive(Debug)]
pub struct ShmName {
    name: String,
    kind: Kind,
}

impl ShmName {
    /// A fresh name for an object of `kind`; `tag` names the test.
    pub fn new(tag: &str, kind: Kind) -> Self {
        ShmName {
            name: format!("/{}", crate::unique_name(tag)),
            kind,
        }
    }

    /// The name with its leading slash, as `shm_open`, `sem_open` and `mq_open` take it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the object appears in the filesystem (not meaningful for queues when /dev/mqueue
    /// is not mounted).
    pub fn path(&self) -> PathBuf {
        let bare = &self.name[1..];
        match self.kind {
            Kind::Segment => PathBuf::from(format!("/dev/shm/{bare}")),
            Kind::Semaphore => PathBuf::from(format!("/dev/shm/sem.{bare}")),
            Kind::Queue => PathBuf::from(format!("/dev/mqueue/{bare}")),
        }
    }

    /// Whether the object still has its name: the file exists in /dev/shm, or, for a queue,
    /// `mq_open` without `O_CREAT` finds it (it does not exist once `mq_unlink` has run).
    pub fn exists(&self) -> bool {
        match self.kind {
            Kind::Segment | Kind::Semaphore => self.path().exists(),
            Kind::Queue => queue_exists(&self.name),
        }
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let Ok(c) = CString::new(self.name.as_str()) else {
            return;
        };
        // SAFETY: `c` is a valid NUL-terminated string; each call only removes a name (ENOENT
        // when it is already gone, which is the normal case).
        unsafe {
            match self.kind {
                Kind::Segment => libc::shm_unlink(c.as_ptr()),
                Kind::Semaphore => libc::sem_unlink(c.as_ptr()),
                Kind::Queue => libc::mq_unlink(c.as_ptr()),
            };
        }
    }
}

/// Whether a message queue named `name` exists: `mq_open(name, O_RDONLY)` succeeds, or fails
/// with anything but ENOENT (a queue we may not open still exists).
pub fn queue_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string; without O_CREAT mq_open takes no more args.
    let mqd = unsafe { libc::mq_open(c.as_ptr(), libc::O_RDONLY) };
    if mqd == -1 {
        return std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT);
    }
    // SAFETY: `mqd` was just returned by mq_open and is closed once.
    unsafe { libc::mq_close(mqd) };
    true
}

/// The state letter (`R`, `S`, `D`, ...) of thread `tid` of process `pid`, from
/// `/proc/PID/task/TID/stat`.
pub fn thread_state(pid: u32, tid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// The system call number thread `tid` of `pid` is blocked in, from `/proc/PID/task/TID/syscall`
/// (`None` when it is running, or where the kernel does not expose the file).
pub fn thread_syscall(pid: u32, tid: u32) -> Option<libc::c_long> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// CPU time (user + system, in clock ticks) thread `tid` of `pid` has used so far.
pub fn thread_cpu_ticks(pid: u32, tid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // After the ')' field 0 is the state (field 3 of stat); utime and stime are fields 14, 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A helper process of a test (the "other process" of a shared-memory exercise): stdin and
/// stdout piped, stderr collected, killed and reaped on drop.
#[derive(Debug)]
pub struct Peer {
    guard: crate::ChildGuard,
    out: crate::LineReader,
    stdin: Option<std::process::ChildStdin>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    what: String,
}

impl Peer {
    /// Starts `bin ARGS...`.
    #[track_caller]
    pub fn spawn(bin: &str, args: &[&str]) -> Peer {
        use std::process::{Command, Stdio};
        let what = format!(
            "{} {}",
            std::path::Path::new(bin)
                .file_name()
                .map_or_else(|| bin.into(), |n| n.to_string_lossy()),
            args.join(" ")
        );
        let mut guard = crate::ChildGuard::spawn(
            Command::new(bin)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let child = guard.child();
        let stdin = child.stdin.take();
        let out = crate::LineReader::new(child.stdout.take().expect("piped stdout"), &what);
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = std::sync::Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut err_pipe, &mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Peer {
            guard,
            out,
            stdin,
            stderr,
            stderr_reader: Some(stderr_reader),
            what,
        }
    }

    /// The peer's pid.
    pub fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// What the peer wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (up to [`crate::DEFAULT_DEADLINE`]) for a line of the peer containing `needle`
    /// and returns it; panics with everything the peer said when it ends first.
    #[track_caller]
    pub fn expect(&mut self, needle: &str) -> String {
        loop {
            match self.out.next_line(crate::DEFAULT_DEADLINE) {
                Some(line) if line.contains(needle) => return line,
                Some(_) => {}
                None => {
                    let status = self.guard.wait(crate::DEFAULT_DEADLINE);
                    self.join_stderr();
                    panic!(
                        "the peer `{}` ended ({}) before saying {needle:?}\n--- its stdout ---\n{}\n--- its stderr ---\n{}",
                        self.what,
                        crate::describe_status(status),
                        self.out.seen().join("\n"),
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Like [`Peer::expect`], but when the peer ends first returns `Err` with everything it
    /// said (its status, stdout and stderr), for a caller that explains the failure itself.
    #[track_caller]
    pub fn try_expect(&mut self, needle: &str) -> Result<String, String> {
        loop {
            match self.out.next_line(crate::DEFAULT_DEADLINE) {
                Some(line) if line.contains(needle) => return Ok(line),
                Some(_) => {}
                None => {
                    let status = self.guard.wait(crate::DEFAULT_DEADLINE);
                    self.join_stderr();
                    return Err(format!(
                        "the peer `{}` ended ({}) before saying {needle:?}\n--- its stdout ---\n{}\n--- its stderr ---\n{}",
                        self.what,
                        crate::describe_status(status),
                        self.out.seen().join("\n"),
                        self.stderr()
                    ));
                }
            }
        }
    }

    /// Once the peer has exited: waits until its stderr is read to the end, when the peer was
    /// the pipe's last writer (a forked grandchild may still hold it: then within 2 s).
    fn join_stderr(&mut self) {
        if let Some(h) = self.stderr_reader.take() {
            let _ = crate::try_wait_until(std::time::Duration::from_secs(2), "stderr", || {
                h.is_finished()
            });
        }
    }

    /// Closes the peer's stdin (scenarios that wait for end-of-file then finish).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes stdin, waits for the exit (deadline [`crate::DEFAULT_DEADLINE`]) and asserts
    /// success, showing stdout and stderr otherwise. Returns the remaining stdout lines.
    #[track_caller]
    pub fn finish(mut self) -> Vec<String> {
        self.close_stdin();
        let rest = self.out.rest(crate::DEFAULT_DEADLINE);
        let status = self.guard.wait(crate::DEFAULT_DEADLINE);
        self.join_stderr();
        assert!(
            status.success(),
            "the peer `{}` failed ({})\n--- its stdout ---\n{}\n--- its stderr ---\n{}",
            self.what,
            crate::describe_status(status),
            self.out.seen().join("\n"),
            self.stderr()
        );
        rest
    }

    /// Kills the peer with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let child = self.guard.child();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Whether thread `tid` of `pid` is asleep (`S`) inside `futex(2)`. Where
/// `/proc/PID/task/TID/syscall` cannot be read (it needs ptrace access to the process, which
/// some hardened kernels refuse even for one's own children), the sleep alone counts.
pub fn thread_sleeps_in_futex(pid: u32, tid: u32) -> bool {
    if thread_state(pid, tid) != Some('S') {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")) {
        Ok(text) => text.split_whitespace().next() == Some(&libc::SYS_futex.to_string()),
        Err(_) => true,
    }
}
