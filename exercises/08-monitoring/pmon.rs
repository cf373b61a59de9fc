//! Practice: `pmon`, a monitor for a process tree whose figures agree with `ps`.
//!
//! Scenario: `pmon [--interval MS] [--once] [--json] [--rss-limit MIB] PID` watches PID and all
//! its descendants. Every interval it prints one line per process: pid, ppid, state (the
//! `/proc` letter), CPU % over the last interval (of one core: a busy thread reads 100), RSS in
//! KiB, open fds, threads and the command line (`[comm]` when it is empty, as for a zombie).
//! It flags what needs a human, each flag with its evidence:
//! - `zombie`: the process exited and its parent has not reaped it;
//! - `fd-growth`: its fd count rose at each of the last three intervals (four samples, each
//!   higher than the one before);
//! - `rss-limit`: its RSS is over `--rss-limit` MiB;
//! - `cpu-hog`: it hardly slept during the last interval: its threads together were runnable,
//!   on a CPU or waiting for one, at least 75% of the time (`schedstat`). Alone on a core it
//!   reads near 100% CPU; on a loaded machine its CPU % is lower, but it would take a whole core
//!   if it could. A process whose main thread sleeps while other threads spin is a hog too.
//!
//! The evidence, as the tests read it: `zombie` names the parent that has not reaped it;
//! `fd-growth` gives the four counts, oldest first, joined by ` -> `; `rss-limit` gives the RSS
//! and the limit in KiB; `cpu-hog` starts with the runnable share and the interval, such as
//! `runnable 97% of the last 1000 ms`.
//!
//! Output: on a terminal each sample redraws the screen (`ESC[H ESC[2J`, then the table);
//! otherwise samples are appended, each table after a header line `pmon: sample N, M
//! process(es) under PID`. Row format: `PID PPID S CPU% RSS_KIB FDS THR CMD` in aligned
//! columns, then ` [flag: evidence]` for each flag. With `--json` each sample is one line holding
//! a JSON array, one object per process with `pid`, `ppid`, `state` (a one-letter string),
//! `cpu_percent`, `rss_kib`, `fds`, `threads`, `cmd`, `flags` (a list of the names above) and
//! `evidence` (one sentence per flag, in the same order). `--once` takes two samples an interval
//! apart (CPU % needs two) and prints the second, then exits 0.
//!
//! Processes appear and vanish between two reads of `/proc`: that is normal, never an error. A
//! PID that does not exist at start is `pmon: no process with pid N` on stderr and exit 1; when
//! PID itself goes away later, pmon says `pmon: pid N exited` on stderr and exits 0. A read that
//! fails because pmon itself ran out of something (EMFILE, ENFILE: too many open files; ENOMEM)
//! says nothing about the process: that is a one-line error naming the cause, exit 1, never a
//! smaller tree or "no process". Bad arguments (an `--rss-limit` too large to count in KiB
//! included; an option pmon does not know is named as an unknown option): a one-line error and
//! the usage on stderr, exit 2.
//!
//! A tree may be large and pmon runs for hours: watching 200 sleeping processes at 10 Hz
//! should cost well under 5% of one core (`cargo xtask bench monitor` measures it). The usual
//! soft limit of 1024 open files must not stop pmon from showing a tree of a few hundred.
//!
//! Goal: the whole tool, tested end to end against a tree of misbehaving helper processes and
//! against `ps`.
//! Chapter: `docs/src/08-monitoring.md#pmon`. Check: `cargo xtask check monitoring/pmon`.

use std::process::ExitCode;

/// `pmon`'s entry point: the arguments after the program name; the exit code.
pub fn main(args: Vec<String>) -> ExitCode {
    // TODO: parse the arguments, then sample the tree every interval and print each sample.
    todo!("pmon {args:?}")
}
