//! tsh, a tiny job-control shell, in the tradition of the CS:APP shell lab.
//!
//! The scenario: everything of this week in one program. `tsh` reads command lines from its
//! standard input and runs them as jobs, each in a process group of its own:
//!
//! - `CMD ARGS...` runs in the foreground: the shell waits until the job is done or stopped;
//!   `CMD ARGS... &` runs in the background and prints `[JID] (PID) CMDLINE`. Commands are found
//!   on PATH or by path, and get `argv[0]` as typed. A program that cannot be found prints
//!   `CMD: Command not found`; one that exists but cannot be run prints `CMD: REASON` (for
//!   `/`, a directory, a line such as `/: Permission denied (os error 13)`).
//! - built-ins: `quit`; `jobs` prints `[JID] (PID) Running CMDLINE` or `[JID] (PID) Stopped
//!   CMDLINE` per job; `bg JOB` continues a stopped job in the background (and prints `[JID]
//!   (PID) CMDLINE`); `fg JOB` continues it in the foreground and waits. JOB is `%JID` or a PID.
//!   Errors: `fg command requires PID or %jobid argument`, `fg: argument must be a PID or
//!   %jobid`, `%5: No such job`, `(123): No such process` (and the same for `bg`).
//! - a job killed by a signal prints `Job [JID] (PID) terminated by signal N`; a job stopped by
//!   one prints `Job [JID] (PID) stopped by signal N`. A job that exits prints nothing.
//! - the prompt is `tsh> `; `-p` turns it off; `-v` prints diagnostics on stderr (what it
//!   likes, at least a line per job), and without `-v` nothing goes there. End of input ends
//!   the shell with status 0, like `quit`. Every message goes to stdout.
//! - a command line longer than [`MAX_LINE`] bytes runs nothing and prints `tsh: line too long
//!   (more than 65536 bytes), ignored`; reading a long line costs time in proportion to its
//!   length, not to its square. A standard input that cannot be read (closed, or a directory)
//!   is an error: `tsh: cannot read standard input: REASON` on stderr, and status 1.
//!
//! Two modes. On a terminal (stdin is a tty), the foreground job's group owns the terminal
//! (`tcsetpgrp`) while it runs, so ^C and ^Z reach only that job, and the shell takes the
//! terminal back afterwards. A shell started in the background of its terminal (`tsh &` from
//! another shell) waits until it is brought to the foreground, stopping itself with SIGTTIN
//! as often as it finds itself in the background, before it takes the terminal. Without a terminal, SIGINT and SIGTSTP sent to the shell are
//! forwarded to the foreground job's group, also one that comes while a foreground job is
//! being started (it reaches the job once the job exists); the shell itself never dies or
//! stops from them.
//! Every child is reaped; the shell waits without busy polling. A SIGHUP (the terminal hung up)
//! is passed on to every job, and the shell ends with status 129 once it has reaped them.
//!
//! Read: `docs/src/09-job-control.md#tsh`.
//! Check: `cargo xtask check job-control/tsh`.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, killpg, sigaction, sigprocmask,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp, isatty, read, tcsetpgrp};

/// The prompt, printed before each line unless `-p` was given.
pub const PROMPT: &str = "tsh> ";

/// The longest command line the shell runs, newline excluded. A longer one is refused: no
/// command needs it (the kernel refuses a single argument over 128 KiB anyway), and holding
/// whatever arrives without a newline would let the input grow the shell without limit.
pub const MAX_LINE: usize = 64 * 1024;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Running, and the shell is waiting for it.
    Foreground,
    /// Running while the shell reads more commands.
    Background,
    /// Stopped by a signal; `bg` or `fg` continues it.
    Stopped,
}

/// One job: a process group led by the process the shell started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job id, `%JID`: 1 for the first job, then one more than the highest in use.
    pub jid: u32,
    /// The pid of the process the shell started, which leads the job's group.
    pub pid: Pid,
    /// Where it stands.
    pub state: State,
    /// The command line as typed (trimmed), `&` included.
    pub cmdline: String,
}

/// The foreground job's process group, for the signal handlers of the no-terminal mode (0: no
/// foreground job). An atomic, so that a handler may read it at any moment.
static FOREGROUND: AtomicI32 = AtomicI32::new(0);

/// True while a foreground job is being started and its group is not yet in [`FOREGROUND`].
static LAUNCHING: AtomicBool = AtomicBool::new(false);

/// A SIGINT or SIGTSTP that came while [`LAUNCHING`]: passed on as soon as the group is known.
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Without a terminal: passes SIGINT or SIGTSTP on to the foreground job's whole group, or
/// keeps it for a job being started; with no foreground job it is dropped. Only
/// async-signal-safe calls: atomics and kill(2); errno is restored.
extern "C" fn forward(signal: libc::c_int) {
    let pgid = FOREGROUND.load(Ordering::SeqCst);
    if pgid > 0 {
        let saved = Errno::last_raw();
        // SAFETY: kill(2) is async-signal-safe; a negative pid names the process group.
        unsafe { libc::kill(-pgid, signal) };
        Errno::set_raw(saved);
    } else if LAUNCHING.load(Ordering::SeqCst) {
        PENDING.store(signal, Ordering::SeqCst);
    }
}

/// Set by SIGHUP: the terminal hung up, or someone asked the shell to.
static HUNG_UP: AtomicBool = AtomicBool::new(false);

/// SIGHUP's handler only raises a flag; the shell acts on it when its wait is interrupted.
extern "C" fn hang_up(_: libc::c_int) {
    HUNG_UP.store(true, Ordering::SeqCst);
}

/// SIGCHLD's handler does nothing: SIGCHLD is blocked except while the shell waits
/// (`ppoll`/`sigsuspend`), and its only job is to end that wait. (With the default action,
/// "ignore", the signal would not even interrupt the wait.)
extern "C" fn wake(_: libc::c_int) {}

/// The shell.
#[derive(Debug)]
pub struct Shell {
    /// The jobs, in job-id order.
    pub jobs: Vec<Job>,
    /// Whether stdin is the shell's controlling terminal (the terminal mode).
    tty: bool,
    prompt: bool,
    verbose: bool,
    /// The mask to wait with: the shell's mask without the signals it keeps blocked otherwise.
    wait_mask: SigSet,
    /// Bytes read from stdin but not yet run.
    input: Vec<u8>,
    /// How many bytes at the start of `input` are known to hold no newline: each read is
    /// searched once, or a long line would be searched again after every read (quadratic).
    scanned: usize,
    /// True while the rest of a line longer than [`MAX_LINE`] is being thrown away.
    skipping: bool,
    /// Why standard input could not be read, if it could not: the shell then ends with 1.
    pub input_error: Option<Errno>,
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn install(signal: Signal, handler: SigHandler) -> nix::Result<()> {
    // SA_RESTART: a read interrupted by a handler resumes. The handlers are async-signal-safe.
    let action = SigAction::new(handler, SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: `forward` and `wake` call only async-signal-safe functions.
    unsafe { sigaction(signal, &action) }.map(drop)
}

/// Signals a job-control shell ignores on a terminal, and that its jobs must get back.
const JOB_CONTROL_SIGNALS: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

impl Shell {
    /// Sets up the signals and the terminal for one of the two modes; `prompt` and `verbose`
    /// are the `-p` (inverted) and `-v` options.
    pub fn new(prompt: bool, verbose: bool) -> nix::Result<Shell> {
        let stdin = io::stdin();
        let tty = isatty(stdin.as_fd()).unwrap_or(false);
        // SIGCHLD stays blocked for the shell's whole life, except inside its two waits: no
        // child can be reaped between fork and the moment its job is in the table. SIGHUP too,
        // so that it always arrives in a wait, where the shell looks at it.
        let mut blocked = SigSet::empty();
        blocked.add(Signal::SIGCHLD);
        blocked.add(Signal::SIGHUP);
        let mut old = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut old))?;
        let mut wait_mask = old;
        for sig in blocked.iter() {
            wait_mask.remove(sig);
        }
        install(Signal::SIGCHLD, SigHandler::Handler(wake))?;
        install(Signal::SIGHUP, SigHandler::Handler(hang_up))?;
        if tty {
            // Started in the background (`tsh &`): taking the terminal now would steal it from
            // the foreground job. Stop the whole group with SIGTTIN, as a read would, until
            // whoever started us puts us in the foreground and continues us (bash and the
            // glibc manual do the same). SIGTTIN is not ignored yet, so the stop happens.
            // An orphaned group is never stopped by SIGTTIN (the kernel drops the signal, as
            // nobody could continue it): give up after a while instead of spinning.
            let mut tries = 0;
            while let Ok(fg) = nix::unistd::tcgetpgrp(stdin.as_fd()) {
                let ours = getpgrp();
                if fg == ours {
                    break;
                }
                tries += 1;
                if tries > 100 {
                    eprintln!(
                        "tsh: the terminal belongs to another process group, and ours cannot be stopped until it is ours"
                    );
                    return Err(Errno::ENOTTY);
                }
                killpg(ours, Signal::SIGTTIN)?;
            }
            // The terminal sends ^C and ^Z to the job, never to the shell; a shell in the
            // background of its own terminal must not be stopped by tcsetpgrp or a read.
            for sig in JOB_CONTROL_SIGNALS {
                install(sig, SigHandler::SigIgn)?;
            }
            // Lead a group of our own (fails harmlessly for a session leader) and own the
            // terminal.
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            tcsetpgrp(stdin.as_fd(), getpgrp())?;
        } else {
            install(Signal::SIGINT, SigHandler::Handler(forward))?;
            install(Signal::SIGTSTP, SigHandler::Handler(forward))?;
        }
        Ok(Shell {
            jobs: Vec::new(),
            tty,
            prompt,
            verbose,
            wait_mask,
            input: Vec::new(),
            scanned: 0,
            skipping: false,
            input_error: None,
        })
    }

    fn diag(&self, line: &str) {
        if self.verbose {
            eprintln!("tsh: {line}");
        }
    }

    /// Reaps every child that changed state, without blocking, and updates the job table:
    /// exited and killed jobs leave it, stopped ones are marked, continued ones run again.
    pub fn reap(&mut self) {
        let flags = WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED | WaitPidFlag::WCONTINUED;
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(flags)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.diag(&format!("waitpid: {e}"));
                    return;
                }
                Ok(s) => s,
            };
            let Some(pid) = status.pid() else { continue };
            let Some(i) = self.jobs.iter().position(|j| j.pid == pid) else {
                continue;
            };
            let (jid, pid) = (self.jobs[i].jid, self.jobs[i].pid);
            match status {
                WaitStatus::Exited(_, code) => {
                    self.diag(&format!("job [{jid}] ({pid}) exited with {code}"));
                    self.jobs.remove(i);
                }
                WaitStatus::Signaled(_, sig, _) => {
                    say(&format!(
                        "Job [{jid}] ({pid}) terminated by signal {}",
                        sig as i32
                    ));
                    self.jobs.remove(i);
                }
                WaitStatus::Stopped(_, sig) => {
                    say(&format!(
                        "Job [{jid}] ({pid}) stopped by signal {}",
                        sig as i32
                    ));
                    self.jobs[i].state = State::Stopped;
                }
                // A job that `fg` continued stays in the foreground; a stopped one continued
                // by someone else runs in the background.
                WaitStatus::Continued(_) if self.jobs[i].state == State::Stopped => {
                    self.jobs[i].state = State::Background;
                }
                _ => {}
            }
        }
    }

    /// Reads the next line of input, reaping (and reporting) jobs while it waits. `None` at the
    /// end of input.
    pub fn read_line(&mut self) -> Option<String> {
        let stdin = io::stdin();
        loop {
            // Only the bytes not searched yet: a long line arriving 4 KiB at a time would
            // otherwise be searched from its start after every read.
            if let Some(found) = self.input[self.scanned..].iter().position(|&b| b == b'\n') {
                let i = self.scanned + found;
                let line: Vec<u8> = self.input.drain(..=i).collect();
                self.scanned = 0;
                if std::mem::take(&mut self.skipping) {
                    // The end of a line already refused.
                    continue;
                }
                if i > MAX_LINE {
                    self.refuse_long_line();
                    continue;
                }
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            self.scanned = self.input.len();
            if self.input.len() > MAX_LINE {
                // No newline yet and already too long: refuse it once, drop what came, and
                // drop the rest of it up to its newline.
                if !self.skipping {
                    self.refuse_long_line();
                    self.skipping = true;
                }
                self.input.clear();
                self.scanned = 0;
            }
            // Wait for input OR a SIGCHLD: ppoll unblocks SIGCHLD only for the wait itself, so
            // a child that ends just before cannot be missed (its signal is pending and ends
            // the wait at once).
            let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
            match ppoll(&mut fds, None, Some(self.wait_mask)) {
                Err(Errno::EINTR) => {
                    self.check_hangup();
                    self.reap();
                    continue;
                }
                Err(e) => {
                    self.diag(&format!("ppoll: {e}"));
                    return None;
                }
                Ok(_) => {}
            }
            let mut buf = [0u8; 4096];
            match read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => {
                    // End of input (EIO: the terminal hung up). A last line without a newline
                    // still counts.
                    if self.input.is_empty() || std::mem::take(&mut self.skipping) {
                        return None;
                    }
                    let line = std::mem::take(&mut self.input);
                    return Some(String::from_utf8_lossy(&line).into_owned());
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => {
                    // Not an end of input: stdin is closed (EBADF) or a directory (EISDIR), or
                    // worse. Ending with status 0 would tell a script all went well.
                    self.input_error = Some(e);
                    return None;
                }
            }
        }
    }

    fn refuse_long_line(&self) {
        say(&format!(
            "tsh: line too long (more than {MAX_LINE} bytes), ignored"
        ));
    }

    /// Runs one command line. Returns false for `quit`.
    pub fn eval(&mut self, line: &str) -> bool {
        let cmdline = line.trim();
        let mut words: Vec<&str> = cmdline.split_whitespace().collect();
        let background = match words.last() {
            Some(&"&") => {
                words.pop();
                true
            }
            Some(w) if w.ends_with('&') => {
                let last = words.len() - 1;
                words[last] = &w[..w.len() - 1];
                true
            }
            _ => false,
        };
        let Some(&program) = words.first() else {
            return true;
        };
        match program {
            "quit" => return false,
            "jobs" => self.list_jobs(),
            "bg" | "fg" => self.bg_fg(program, words.get(1).copied()),
            _ => self.launch(&words, background, cmdline),
        }
        true
    }

    /// `jobs`: every job that is not in the foreground, with its state.
    pub fn list_jobs(&mut self) {
        self.reap();
        for job in &self.jobs {
            let state = match job.state {
                State::Stopped => "Stopped",
                State::Background | State::Foreground => "Running",
            };
            say(&format!(
                "[{}] ({}) {state} {}",
                job.jid, job.pid, job.cmdline
            ));
        }
    }

    /// Starts `words` as a new job; waits for it unless `background`.
    pub fn launch(&mut self, words: &[&str], background: bool, cmdline: &str) {
        let mut cmd = Command::new(words[0]);
        cmd.args(&words[1..]).process_group(0);
        let tty_fd = io::stdin().as_raw_fd();
        let take_terminal = self.tty && !background;
        // SAFETY: the closure runs in the child between fork and exec and calls only
        // tcsetpgrp, getpgrp, signal and sigprocmask, all async-signal-safe, allocating nothing.
        unsafe {
            cmd.pre_exec(move || {
                if take_terminal {
                    // The child's half of handing over the terminal (SIGTTOU is still ignored
                    // here): it owns the terminal before the program runs.
                    libc::tcsetpgrp(tty_fd, libc::getpgrp());
                }
                // An ignored signal stays ignored across exec, and a blocked one stays
                // blocked: give the program the defaults the shell changed.
                for sig in JOB_CONTROL_SIGNALS {
                    libc::signal(sig as libc::c_int, libc::SIG_DFL);
                }
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
                Ok(())
            });
        }
        // The job may run (and the user press ^C) before its group is known: a signal that
        // comes meanwhile is kept and passed on below.
        LAUNCHING.store(!background, Ordering::SeqCst);
        let spawned = cmd.spawn();
        if spawned.is_err() {
            LAUNCHING.store(false, Ordering::SeqCst);
            PENDING.store(0, Ordering::SeqCst);
        }
        let child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                say(&format!("{}: Command not found", words[0]));
                return;
            }
            Err(e) => {
                say(&format!("{}: {e}", words[0]));
                return;
            }
        };
        // std's spawn returned after the exec succeeded: the child is in its group already.
        // It may also have exited already; SIGCHLD is blocked, so it is reaped only after it
        // is in the table.
        let pid = Pid::from_raw(child.id() as i32);
        drop(child);
        let jid = self.jobs.iter().map(|j| j.jid).max().unwrap_or(0) + 1;
        self.jobs.push(Job {
            jid,
            pid,
            state: if background {
                State::Background
            } else {
                State::Foreground
            },
            cmdline: cmdline.to_string(),
        });
        self.diag(&format!("job [{jid}] ({pid}) started in group {pid}"));
        if background {
            say(&format!("[{jid}] ({pid}) {cmdline}"));
        } else {
            FOREGROUND.store(pid.as_raw(), Ordering::SeqCst);
            LAUNCHING.store(false, Ordering::SeqCst);
            let early = PENDING.swap(0, Ordering::SeqCst);
            if early != 0
                && let Ok(sig) = Signal::try_from(early)
            {
                let _ = killpg(pid, sig);
            }
            self.wait_foreground(pid);
        }
    }

    /// `bg JOB` / `fg JOB`.
    pub fn bg_fg(&mut self, name: &str, arg: Option<&str>) {
        let Some(arg) = arg else {
            say(&format!("{name} command requires PID or %jobid argument"));
            return;
        };
        self.reap();
        let found = if let Some(jid) = arg.strip_prefix('%') {
            let Ok(jid) = jid.parse::<u32>() else {
                say(&format!("{name}: argument must be a PID or %jobid"));
                return;
            };
            match self.jobs.iter().position(|j| j.jid == jid) {
                Some(i) => i,
                None => {
                    say(&format!("{arg}: No such job"));
                    return;
                }
            }
        } else {
            let Ok(pid) = arg.parse::<i32>() else {
                say(&format!("{name}: argument must be a PID or %jobid"));
                return;
            };
            match self.jobs.iter().position(|j| j.pid.as_raw() == pid) {
                Some(i) => i,
                None => {
                    say(&format!("({pid}): No such process"));
                    return;
                }
            }
        };
        let job = &mut self.jobs[found];
        let pid = job.pid;
        if name == "bg" {
            job.state = State::Background;
            say(&format!("[{}] ({}) {}", job.jid, job.pid, job.cmdline));
            let _ = killpg(pid, Signal::SIGCONT);
        } else {
            job.state = State::Foreground;
            FOREGROUND.store(pid.as_raw(), Ordering::SeqCst);
            // The terminal first, then SIGCONT: a job continued before it owns the terminal
            // might read it from the background.
            if self.tty {
                let _ = tcsetpgrp(io::stdin().as_fd(), pid);
            }
            let _ = killpg(pid, Signal::SIGCONT);
            self.wait_foreground(pid);
        }
    }

    /// Waits until the job led by `pid` is no longer in the foreground (done or stopped),
    /// sleeping in `sigsuspend` between SIGCHLDs: no busy loop. Then takes the terminal back.
    pub fn wait_foreground(&mut self, pid: Pid) {
        FOREGROUND.store(pid.as_raw(), Ordering::SeqCst);
        if self.tty {
            // The parent's half of handing over the terminal.
            let _ = tcsetpgrp(io::stdin().as_fd(), pid);
        }
        loop {
            self.reap();
            let still = self
                .jobs
                .iter()
                .any(|j| j.pid == pid && j.state == State::Foreground);
            if !still {
                break;
            }
            // Atomically unblock SIGCHLD and sleep: a SIGCHLD that came after reap() above is
            // pending, so this returns at once instead of sleeping forever.
            let _ = self.wait_mask.suspend();
            self.check_hangup();
        }
        FOREGROUND.store(0, Ordering::SeqCst);
        if self.tty {
            // SIGTTOU is ignored: a background shell may take its terminal back.
            let _ = tcsetpgrp(io::stdin().as_fd(), getpgrp());
        }
    }

    /// After a SIGHUP: passes the hang-up on to every job (SIGHUP, then SIGCONT so that a
    /// stopped job sees it), reaps them, and ends the shell with status 129 (128 + SIGHUP). A
    /// job that ignores SIGHUP keeps the shell waiting for it, as it would keep its terminal.
    fn check_hangup(&mut self) {
        if !HUNG_UP.load(Ordering::SeqCst) {
            return;
        }
        for job in &self.jobs {
            let _ = killpg(job.pid, Signal::SIGHUP);
            let _ = killpg(job.pid, Signal::SIGCONT);
        }
        for job in &self.jobs {
            while let Err(Errno::EINTR) = waitpid(job.pid, None) {}
        }
        std::process::exit(129);
    }

    /// The read-eval loop: prompt, read, run, until `quit` or end of input.
    pub fn run(&mut self) {
        loop {
            self.reap();
            if self.prompt {
                let mut out = io::stdout().lock();
                let _ = out.write_all(PROMPT.as_bytes());
                let _ = out.flush();
            }
            let Some(line) = self.read_line() else { break };
            if !self.eval(&line) {
                break;
            }
        }
    }
}

/// Whether fd 0 was closed when the program started. Rust's runtime then opens `/dev/null`
/// on it before `main`, read-write (so that nothing else lands on fd 0); a redirection such as
/// `< /dev/null` opens it read-only. Reading that `/dev/null` would look like an empty script
/// that went well.
fn stdin_was_closed() -> bool {
    let stdin = io::stdin();
    let read_write = nix::fcntl::fcntl(stdin.as_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .is_ok_and(|flags| flags & libc::O_ACCMODE == libc::O_RDWR);
    let dev_null = |st: &nix::sys::stat::FileStat| {
        (st.st_mode & libc::S_IFMT) == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
    };
    read_write && nix::sys::stat::fstat(stdin.as_fd()).is_ok_and(|st| dev_null(&st))
}

/// Runs the shell with the given command-line arguments (program name excluded): `-p` (no
/// prompt), `-v` (diagnostics on stderr). Anything else prints a usage line and exits 2.
pub fn main(args: Vec<String>) -> ExitCode {
    let mut prompt = true;
    let mut verbose = false;
    for arg in &args {
        match arg.as_str() {
            "-p" => prompt = false,
            "-v" => verbose = true,
            _ => {
                eprintln!("usage: tsh [-p] [-v]");
                return ExitCode::from(2);
            }
        }
    }
    if stdin_was_closed() {
        eprintln!("tsh: cannot read standard input: it was closed when tsh started");
        return ExitCode::from(1);
    }
    match Shell::new(prompt, verbose) {
        Ok(mut shell) => {
            shell.run();
            match shell.input_error {
                Some(e) => {
                    eprintln!("tsh: cannot read standard input: {e}");
                    ExitCode::from(1)
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("tsh: cannot set up job control: {e}");
            ExitCode::from(1)
        }
    }
}
