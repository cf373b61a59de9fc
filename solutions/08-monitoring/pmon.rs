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
//! included): a one-line error and the usage on stderr, exit 2.
//!
//! A tree may be large and pmon runs for hours: watching 200 sleeping processes at 10 Hz
//! should cost well under 5% of one core (`cargo xtask bench monitor` measures it). The usual
//! soft limit of 1024 open files must not stop pmon from showing a tree of a few hundred.
//!
//! Goal: the whole tool, tested end to end against a tree of misbehaving helper processes and
//! against `ps`.
//! Chapter: `docs/src/08-monitoring.md#pmon`. Check: `cargo xtask check monitoring/pmon`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};

// CPU % is the `cpu_percent` exercise's arithmetic: two samples of ticks, each with its instant.
use crate::cpu_percent::{CpuSample, cpu_percent, ticks_per_second};

const USAGE: &str = "usage: pmon [--interval MS] [--once] [--json] [--rss-limit MIB] PID";

/// Runnable (on a CPU or waiting for one) at least this share of an interval: a `cpu-hog`. Not
/// 100%: the kernel adds a wait to `run_delay` only when the wait ends, so a process waiting for
/// a CPU at the moment of a sample has part of its interval not yet counted.
pub const HOG_RUNNABLE: f64 = 0.75;
/// How many consecutive rises of the fd count make an `fd-growth` flag.
pub const FD_RISES: usize = 3;

/// The command line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Time between samples (default 1000 ms).
    pub interval: Duration,
    /// Print one sample and exit.
    pub once: bool,
    /// JSON instead of a table.
    pub json: bool,
    /// Flag processes whose RSS is over this many KiB.
    pub rss_limit_kib: Option<u64>,
    /// The root of the tree.
    pub pid: i32,
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        interval: Duration::from_millis(1000),
        once: false,
        json: false,
        rss_limit_kib: None,
        pid: 0,
    };
    let mut pid = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse::<u64>()
                .map_err(|_| format!("{name} wants a whole number, got {v:?}"))
        };
        match arg.as_str() {
            "--interval" => {
                let ms = number("--interval")?;
                if ms == 0 {
                    return Err("--interval must be at least 1 ms".into());
                }
                opts.interval = Duration::from_millis(ms);
            }
            "--rss-limit" => {
                let mib = number("--rss-limit")?;
                let kib = mib
                    .checked_mul(1024)
                    .ok_or_else(|| format!("--rss-limit {mib} MiB is too large"))?;
                opts.rss_limit_kib = Some(kib);
            }
            "--once" => opts.once = true,
            "--json" => opts.json = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            p if pid.is_none() => {
                pid = Some(
                    p.parse::<i32>()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or_else(|| format!("not a pid: {p:?}"))?,
                );
            }
            extra => return Err(format!("unexpected argument {extra:?}")),
        }
    }
    opts.pid = pid.ok_or("no PID given")?;
    Ok(opts)
}

/// One process in one sample, with its flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The process id.
    pub pid: i32,
    /// Its parent.
    pub ppid: i32,
    /// The state letter from `/proc/PID/stat`.
    pub state: char,
    /// CPU % of one core over the last interval (0 the first time a process is seen).
    pub cpu_percent: f64,
    /// Resident set size in KiB.
    pub rss_kib: u64,
    /// Open fds.
    pub fds: usize,
    /// Threads.
    pub threads: u64,
    /// The command line, or `[comm]`.
    pub cmd: String,
    /// (flag, evidence) pairs.
    pub flags: Vec<(&'static str, String)>,
}

/// A process of the tree: the `/proc` files the monitor reads at every sample, opened once and
/// read again from offset 0 each time (no path lookup, no open, no close), and what it
/// remembers of the process between samples.
///
/// The files were opened relative to one `/proc/PID` directory, so they all describe the same
/// process; once that process is reaped, reads of them fail with ESRCH even if its pid is
/// reused: a kept file never shows a different process.
struct Watched {
    /// `/proc/PID/stat`: state, parent, CPU ticks, threads, RSS.
    stat: File,
    /// `/proc/PID/task/PID/children`: the children of its main thread.
    children: File,
    /// `/proc/PID/fd`: its size is the number of open fds (Linux 6.2+).
    fd_dir: File,
    /// Its CPU time (utime + stime) at the last sample, and when that was read.
    cpu: CpuSample,
    /// The last few fd counts, oldest first.
    fds: Vec<usize>,
    cmd: String,
    /// ns runnable (on a CPU or waiting for one) from schedstat, read when its CPU time moved.
    sched: Option<u64>,
    /// The number of the last sample that found it in the tree.
    seen: u64,
}

impl Watched {
    /// Opens the files of `pid`: `Ok(None)` if it is gone, `Err` if pmon itself lacks the
    /// resources to watch it (see [`gone`]).
    fn open(pid: i32) -> io::Result<Option<Watched>> {
        let path = format!("/proc/{pid}");
        let Some(dir) = gone(File::open(&path), &path)? else {
            return Ok(None);
        };
        // Read-only (O_RDONLY is 0), and not inherited by anything pmon might run.
        let file = |name: &str| -> io::Result<Option<File>> {
            let opened = openat(&dir, name, OFlag::O_CLOEXEC, Mode::empty())
                .map(File::from)
                .map_err(io::Error::from);
            gone(opened, &format!("{path}/{name}"))
        };
        let Some(stat) = file("stat")? else {
            return Ok(None);
        };
        let Some(children) = file(&format!("task/{pid}/children"))? else {
            return Ok(None);
        };
        let Some(fd_dir) = file("fd")? else {
            return Ok(None);
        };
        let mut cmdline = Vec::new();
        if let Some(f) = file("cmdline")? {
            let _ = (&f).read_to_end_at(&mut cmdline);
        }
        Ok(Some(Watched {
            stat,
            children,
            fd_dir,
            cpu: CpuSample {
                ticks: 0,
                taken: Instant::now(),
            },
            fds: Vec::with_capacity(FD_RISES + 1),
            cmd: command_line(&cmdline),
            sched: None,
            seen: 0,
        }))
    }
}

/// Sorts the result of a read of `/proc`. A lack of pmon's own (fds: EMFILE, ENFILE; memory:
/// ENOMEM) says nothing about the process, and a monitor that took it for "it exited" would
/// quietly show a smaller tree: that is `Err`. Any other failure means the process is gone:
/// `Ok(None)`.
fn gone<T>(r: io::Result<T>, path: &str) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            ) =>
        {
            Err(io::Error::new(e.kind(), format!("{path}: {e}")))
        }
        Err(_) => Ok(None),
    }
}

/// `read_to_end` from offset 0 of a kept file, without moving anything.
trait ReadFromStart {
    fn read_to_end_at(&self, buf: &mut Vec<u8>) -> std::io::Result<usize>;
}

impl ReadFromStart for &File {
    /// Reads until a read comes back short: a `/proc` file is generated into the buffer as far
    /// as it fits, so a short read is the end.
    fn read_to_end_at(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        buf.clear();
        loop {
            let len = buf.len();
            buf.resize(len + 4096, 0);
            let n = self.read_at(&mut buf[len..], len as u64)?;
            buf.truncate(len + n);
            if n < 4096 {
                return Ok(buf.len());
            }
        }
    }
}

/// The fields of `/proc/PID/stat` pmon shows.
struct Stat<'a> {
    comm: &'a str,
    state: char,
    ppid: i32,
    ticks: u64,
    threads: u64,
    rss_pages: u64,
}

/// Parses a `/proc/PID/stat` line. The command (field 2) is in parentheses and may itself hold
/// spaces and `)`, so the fields are counted from the LAST `)` (see proc_pid_stat(5)).
fn parse_stat(line: &str) -> Option<Stat<'_>> {
    let close = line.rfind(')')?;
    let comm = line.get(line.find('(')? + 1..close)?;
    let mut fields = line.get(close + 1..)?.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    // Fields 5 to 13 (pgrp to cmajflt), then 14 utime and 15 stime.
    let utime: u64 = fields.nth(9)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Fields 16 to 19 (cutime to nice), then 20 num_threads.
    let threads = fields.nth(4)?.parse().ok()?;
    // Fields 21 to 23 (itrealvalue, starttime, vsize), then 24 rss.
    let rss_pages = fields.nth(3)?.parse().ok()?;
    Some(Stat {
        comm,
        state,
        ppid,
        ticks: utime + stime,
        threads,
        rss_pages,
    })
}

/// The monitor: the options and what it remembers between samples.
pub struct Monitor {
    opts: Options,
    hz: u64,
    page_kib: u64,
    watched: HashMap<i32, Watched>,
    samples: u64,
    /// Buffers kept from one sample to the next.
    buf: Vec<u8>,
    queue: Vec<i32>,
}

/// Why a sample could not be taken.
#[derive(Debug)]
pub enum Gone {
    /// The root process no longer exists.
    Root,
    /// pmon could not read the tree: it ran out of fds or memory (the processes are fine).
    Failed(io::Error),
}

impl Monitor {
    /// A monitor with nothing seen yet.
    pub fn new(opts: Options) -> Monitor {
        Monitor {
            opts,
            hz: ticks_per_second(),
            page_kib: procfs::page_size() / 1024,
            watched: HashMap::new(),
            samples: 0,
            buf: Vec::with_capacity(4096),
            queue: Vec::new(),
        }
    }

    /// Reads the tree once: the root first, then its descendants level by level, each family
    /// in pid order. The descendants are found through each process's `children` files, so a
    /// sample reads only the tree's processes, however many the machine runs.
    pub fn sample(&mut self) -> Result<Vec<Row>, Gone> {
        self.samples += 1;
        let mut queue = std::mem::take(&mut self.queue);
        queue.clear();
        queue.push(self.opts.pid);
        let mut rows = Vec::with_capacity(self.watched.len().max(1));
        let mut next = 0;
        while next < queue.len() {
            let pid = queue[next];
            next += 1;
            match self.visit(pid, &mut queue) {
                Ok(Some(row)) => rows.push(row),
                // Vanished between two reads: it is simply not in this sample.
                Ok(None) if next > 1 => {}
                Ok(None) => {
                    self.queue = queue;
                    return Err(Gone::Root);
                }
                Err(e) => {
                    self.queue = queue;
                    return Err(Gone::Failed(e));
                }
            }
        }
        self.queue = queue;
        // Forget (and close the files of) processes that left the tree or exited. One sample
        // of grace: a `children` file read while a sibling exits can omit a live child
        // (proc_tid_children(5)), and its history (fd counts, CPU time) should survive that.
        let samples = self.samples;
        self.watched.retain(|_, w| w.seen + 1 >= samples);
        Ok(rows)
    }

    /// Reads one process, queues its children and returns its row; `None` if it is gone (or
    /// was already read in this sample: it moved to a new parent between two reads), `Err` if
    /// pmon could not read it for a lack of its own.
    fn visit(&mut self, pid: i32, queue: &mut Vec<i32>) -> io::Result<Option<Row>> {
        let samples = self.samples;
        let mut fresh = false;
        let known = self
            .watched
            .get(&pid)
            .map(|w| (w.seen, (&w.stat).read_to_end_at(&mut self.buf)));
        match known {
            Some((seen, _)) if seen == samples => return Ok(None),
            Some((_, Ok(_))) => {}
            // New, or exited (and its pid perhaps reused): open its files afresh.
            _ => {
                self.watched.remove(&pid);
                let Some(w) = Watched::open(pid)? else {
                    return Ok(None);
                };
                if (&w.stat).read_to_end_at(&mut self.buf).is_err() {
                    return Ok(None);
                }
                self.watched.insert(pid, w);
                fresh = true;
            }
        }
        // The moment of this process's read: on a busy machine pmon can be preempted in the
        // middle of a sample, and one timestamp for the whole tree would skew its CPU %.
        let now = Instant::now();
        let Some(w) = self.watched.get_mut(&pid) else {
            return Ok(None);
        };
        w.seen = samples;
        let text = String::from_utf8_lossy(&self.buf);
        let Some(stat) = parse_stat(&text) else {
            return Ok(None);
        };
        let Some(fds) = count_fds(pid, &w.fd_dir)? else {
            return Ok(None);
        };
        let (state, ppid, threads) = (stat.state, stat.ppid, stat.threads);
        let rss_kib = stat.rss_pages * self.page_kib;
        let cpu = CpuSample {
            ticks: stat.ticks,
            taken: now,
        };
        let mut runnable = None;
        let cpu_percent = if fresh {
            // The first figures, for the next sample to compare with.
            w.sched = read_schedstat(pid, threads)?;
            0.0
        } else {
            // Only a process whose CPU time moved can be a hog: schedstat is read for those
            // alone, which keeps a tree of sleepers cheap to watch.
            let sched = if cpu.ticks != w.cpu.ticks {
                read_schedstat(pid, threads)?
            } else {
                None
            };
            if let (Some(before), Some(after)) = (w.sched, sched) {
                let busy = Duration::from_nanos(after.saturating_sub(before));
                runnable = Some(busy.div_duration_f64(now.saturating_duration_since(w.cpu.taken)));
            }
            w.sched = sched;
            cpu_percent(&w.cpu, &cpu, self.hz)
        };
        w.cpu = cpu;
        if w.fds.len() > FD_RISES {
            w.fds.remove(0);
        }
        w.fds.push(fds);
        // A zombie's command line is gone (as is a kernel thread's): show [comm].
        if state == 'Z' || w.cmd.is_empty() {
            w.cmd = format!("[{}]", stat.comm);
        }
        let mut flags = Vec::new();
        if state == 'Z' {
            flags.push((
                "zombie",
                format!("exited, not yet reaped by its parent {ppid}"),
            ));
        }
        if w.fds.len() == FD_RISES + 1 && w.fds.windows(2).all(|p| p[1] > p[0]) {
            let counts: Vec<String> = w.fds.iter().map(ToString::to_string).collect();
            flags.push((
                "fd-growth",
                format!(
                    "fds {} over the last {FD_RISES} intervals",
                    counts.join(" -> ")
                ),
            ));
        }
        if let Some(limit) = self.opts.rss_limit_kib
            && rss_kib > limit
        {
            flags.push((
                "rss-limit",
                format!("RSS {rss_kib} KiB is over the limit of {limit} KiB"),
            ));
        }
        if let Some(share) = runnable
            && share >= HOG_RUNNABLE
        {
            flags.push((
                "cpu-hog",
                format!(
                    "runnable {:.0}% of the last {} ms, {cpu_percent:.1}% of a core",
                    (share * 100.0).min(100.0),
                    self.opts.interval.as_millis()
                ),
            ));
        }
        let row = Row {
            pid,
            ppid,
            state,
            cpu_percent,
            rss_kib,
            fds,
            threads,
            cmd: w.cmd.clone(),
            flags,
        };
        // Its children: those of its main thread or, in a multithreaded process, those of each
        // thread (a child belongs to the thread that started it).
        let first = queue.len();
        if threads > 1 {
            for tid in thread_ids(pid)? {
                let path = format!("/proc/{pid}/task/{tid}/children");
                if let Some(kids) = gone(std::fs::read(&path), &path)? {
                    push_pids(&kids, queue);
                }
            }
        } else if (&w.children).read_to_end_at(&mut self.buf).is_ok() {
            push_pids(&self.buf, queue);
        }
        queue[first..].sort_unstable();
        Ok(Some(row))
    }
}

/// Appends the pids of a `children` file ("12 34 ") to `queue`.
fn push_pids(text: &[u8], queue: &mut Vec<i32>) {
    let text = std::str::from_utf8(text).unwrap_or_default();
    queue.extend(
        text.split_ascii_whitespace()
            .filter_map(|p| p.parse::<i32>().ok()),
    );
}

/// The thread ids of `pid`, from `/proc/PID/task` (none if it is gone).
fn thread_ids(pid: i32) -> io::Result<Vec<i32>> {
    let path = format!("/proc/{pid}/task");
    let Some(dir) = gone(std::fs::read_dir(&path), &path)? else {
        return Ok(Vec::new());
    };
    Ok(dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

/// Open fds of `pid`: the size of its `/proc/PID/fd` (Linux 6.2+), else its entries counted.
fn count_fds(pid: i32, fd_dir: &File) -> io::Result<Option<usize>> {
    let Ok(st) = fstat(fd_dir) else {
        return Ok(None);
    };
    if st.st_size > 0 {
        return Ok(usize::try_from(st.st_size).ok());
    }
    let path = format!("/proc/{pid}/fd");
    Ok(gone(std::fs::read_dir(&path), &path)?.map(Iterator::count))
}

/// ns that `pid` has been runnable: the time on a CPU (the first field of a `schedstat` file)
/// plus the time waiting on a run queue (its second). `/proc/PID/schedstat` describes the main
/// thread alone: a process of several threads is the sum of its threads'
/// `/proc/PID/task/TID/schedstat` (a thread that ended takes its figures with it).
fn read_schedstat(pid: i32, threads: u64) -> io::Result<Option<u64>> {
    let one = |path: &str| -> io::Result<Option<u64>> {
        let Some(text) = gone(std::fs::read_to_string(path), path)? else {
            return Ok(None);
        };
        let mut words = text.split_whitespace().map(|w| w.parse::<u64>().ok());
        Ok(match (words.next().flatten(), words.next().flatten()) {
            (Some(on_cpu), Some(waiting)) => Some(on_cpu + waiting),
            _ => None,
        })
    };
    if threads <= 1 {
        return one(&format!("/proc/{pid}/schedstat"));
    }
    let mut sum = 0;
    for tid in thread_ids(pid)? {
        sum += one(&format!("/proc/{pid}/task/{tid}/schedstat"))?.unwrap_or(0);
    }
    Ok(Some(sum))
}

/// The arguments of a `cmdline` file (NUL-separated) joined by spaces; empty if it has none.
fn command_line(args: &[u8]) -> String {
    let words: Vec<String> = args
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    words.join(" ")
}

/// Raises the soft limit on open files to the hard one: pmon keeps three files open per
/// process it watches, and the usual soft limit of 1024 would stop it near 340 processes.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The table of one sample, header line first.
pub fn render_text(rows: &[Row], sample: u64, root: i32) -> String {
    let mut out = format!(
        "pmon: sample {sample}, {} process(es) under {root}\n{:>7} {:>7} S {:>6} {:>10} {:>5} {:>4} CMD\n",
        rows.len(),
        "PID",
        "PPID",
        "CPU%",
        "RSS_KIB",
        "FDS",
        "THR"
    );
    for r in rows {
        let _ = write!(
            out,
            "{:>7} {:>7} {} {:>6.1} {:>10} {:>5} {:>4} {}",
            r.pid, r.ppid, r.state, r.cpu_percent, r.rss_kib, r.fds, r.threads, r.cmd
        );
        for (flag, evidence) in &r.flags {
            let _ = write!(out, " [{flag}: {evidence}]");
        }
        out.push('\n');
    }
    out
}

/// One sample as a JSON array, on one line.
pub fn render_json(rows: &[Row]) -> String {
    let array: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "pid": r.pid,
                "ppid": r.ppid,
                "state": r.state.to_string(),
                "cpu_percent": (r.cpu_percent * 10.0).round() / 10.0,
                "rss_kib": r.rss_kib,
                "fds": r.fds,
                "threads": r.threads,
                "cmd": r.cmd,
                "flags": r.flags.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
                "evidence": r.flags.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::Value::Array(array).to_string()
}

/// The one-line error for a tree pmon cannot read, and exit 1.
fn cannot_watch(e: &io::Error) -> ExitCode {
    eprintln!(
        "pmon: cannot watch the tree: {e} (pmon keeps 3 files open per process: raise the \
         limit on open files, ulimit -n)"
    );
    ExitCode::from(1)
}

/// `pmon`'s entry point: the arguments after the program name; the exit code.
pub fn main(args: Vec<String>) -> ExitCode {
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pmon: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = opts.pid;
    let (once, json, interval) = (opts.once, opts.json, opts.interval);
    raise_fd_limit();
    let mut monitor = Monitor::new(opts);
    match monitor.sample() {
        Ok(_) => {}
        Err(Gone::Root) => {
            eprintln!("pmon: no process with pid {root}");
            return ExitCode::from(1);
        }
        Err(Gone::Failed(e)) => return cannot_watch(&e),
    }
    let tty = std::io::stdout().is_terminal();
    let mut next = Instant::now() + interval;
    loop {
        // Sleep to the next tick of a fixed schedule, so slow samples do not drift it.
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += interval;
        let rows = match monitor.sample() {
            Ok(rows) => rows,
            Err(Gone::Root) => {
                eprintln!("pmon: pid {root} exited");
                return ExitCode::SUCCESS;
            }
            Err(Gone::Failed(e)) => return cannot_watch(&e),
        };
        let mut text = if json {
            render_json(&rows) + "\n"
        } else {
            render_text(&rows, monitor.samples - 1, root)
        };
        if tty && !once {
            // Home the cursor and clear the screen: each sample replaces the previous one.
            text.insert_str(0, "\x1b[H\x1b[2J");
        }
        let mut out = std::io::stdout().lock();
        // A reader that went away (`pmon ... | head`) is a normal way to end.
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::SUCCESS;
        }
        if once {
            return ExitCode::SUCCESS;
        }
    }
}
