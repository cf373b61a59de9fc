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
//! - a command line longer than 64 KiB runs nothing and prints `tsh: line too long (more than
//!   65536 bytes), ignored`; reading a long line costs time in proportion to its length, not
//!   to its square. A standard input that cannot be read (closed, or a directory) is an error:
//!   `tsh: cannot read standard input: REASON` on stderr, and status 1.
//!
//! Two modes. On a terminal (stdin is a tty), the foreground job's group owns the terminal
//! (`tcsetpgrp`) while it runs, so ^C and ^Z reach only that job, and the shell takes the
//! terminal back afterwards. A shell started in the background of its terminal (`tsh &` from
//! another shell) waits until it is brought to the foreground before it takes the terminal.
//! Without a terminal, SIGINT and SIGTSTP sent to the shell are
//! forwarded to the foreground job's group, also one that comes while a foreground job is
//! being started (it reaches the job once the job exists); the shell itself never dies or
//! stops from them.
//! Every child is reaped; the shell waits without busy polling. A SIGHUP (the terminal hung up)
//! is passed on to every job, and the shell ends with status 129 once it has reaped them.
//!
//! The goal: the job table, the two modes, the waits, the built-ins. The skeleton below is a
//! suggestion: the tests only run the `tsh` binary (through pipes, and on a pseudo-terminal
//! where they type ^C and ^Z), so shape the code as you like, as long as `main` stays. Jobs
//! that exit at once, jobs that stop themselves and jobs of several processes are all tested.
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

/// The shell.
#[derive(Debug)]
pub struct Shell {
    /// The jobs, in job-id order.
    pub jobs: Vec<Job>,
    // TODO: whatever else the shell needs to remember: its mode (is stdin a terminal?), its
    // options, a signal mask to wait with, bytes read but not yet run...
}

impl Shell {
    /// Sets up the signals and the terminal for one of the two modes; `prompt` and `verbose`
    /// are the `-p` (inverted) and `-v` options.
    pub fn new(prompt: bool, verbose: bool) -> nix::Result<Shell> {
        // TODO: which mode? Which signals does the shell block, ignore or handle in each mode,
        // and what must its jobs get back before they exec?
        todo!("set up the shell")
    }

    /// Reaps every child that changed state, without blocking, and updates the job table:
    /// exited and killed jobs leave it, stopped ones are marked, continued ones run again.
    pub fn reap(&mut self) {
        // TODO: waitpid(-1, ...) in a loop; print the messages for signals.
        todo!("reap and report")
    }

    /// Reads the next line of input, reaping (and reporting) jobs while it waits. `None` at the
    /// end of input.
    pub fn read_line(&mut self) -> Option<String> {
        // TODO: a background job may end while the shell waits for input.
        todo!("read a line")
    }

    /// Runs one command line. Returns false for `quit`.
    pub fn eval(&mut self, line: &str) -> bool {
        // TODO: words, a trailing `&`, the built-ins, or a new job.
        todo!("run a line")
    }

    /// `jobs`: every job that is not in the foreground, with its state.
    pub fn list_jobs(&mut self) {
        // TODO: one line per job.
        todo!("list the jobs")
    }

    /// Starts `words` as a new job; waits for it unless `background`.
    pub fn launch(&mut self, words: &[&str], background: bool, cmdline: &str) {
        // TODO: a process group of its own; the job in the table before anything can reap it.
        todo!("start a job")
    }

    /// `bg JOB` / `fg JOB`.
    pub fn bg_fg(&mut self, name: &str, arg: Option<&str>) {
        // TODO: parse %JID or PID, find the job, continue it.
        todo!("bg and fg")
    }

    /// Waits until the job led by `pid` is no longer in the foreground (done or stopped),
    /// without a busy loop, then takes the terminal back (in the terminal mode).
    pub fn wait_foreground(&mut self, pid: Pid) {
        // TODO: sleep until a SIGCHLD, reap, check, again; never miss the last SIGCHLD.
        todo!("wait for the foreground job")
    }

    /// The read-eval loop: prompt, read, run, until `quit` or end of input.
    pub fn run(&mut self) {
        // TODO: prompt (and flush), read, eval.
        todo!("the read-eval loop")
    }
}

/// Runs the shell with the given command-line arguments (program name excluded): `-p` (no
/// prompt), `-v` (diagnostics on stderr). Anything else prints `usage: tsh [-p] [-v]` on
/// stderr and exits 2.
pub fn main(args: Vec<String>) -> ExitCode {
    // TODO: the options, then Shell::new and run; end of input is status 0.
    todo!("tsh's main")
}
