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
//! - `cpu-hog`: it hardly slept during the last interval: it was runnable, on a CPU or waiting
//!   for one, at least 75% of the time (`/proc/PID/schedstat`). Alone on a core it reads near
//!   100% CPU; on a loaded machine its CPU % is lower, but it would take a whole core if it could.
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
//! PID itself goes away later, pmon says `pmon: pid N exited` on stderr and exits 0. Bad
//! arguments: a one-line error and the usage on stderr, exit 2.
//!
//! Goal: the whole tool, tested end to end against a tree of misbehaving helper processes and
//! against `ps`.
//! Chapter: `docs/src/08-monitoring.md#pmon`. Check: `cargo xtask check monitoring/pmon`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use procfs::process::Process;

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
            "--rss-limit" => opts.rss_limit_kib = Some(number("--rss-limit")? * 1024),
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

/// What one read of a process gave.
struct Reading {
    pid: i32,
    ppid: i32,
    state: char,
    ticks: u64,
    start_ticks: u64,
    rss_kib: u64,
    threads: u64,
    comm: String,
}

/// What the monitor remembers of a process between samples. The start time tells a process
/// from a new one that reused its pid.
struct Past {
    start_ticks: u64,
    ticks: u64,
    at: Instant,
    fds: Vec<usize>,
    cmd: String,
    /// (ns on a CPU, ns waiting for one) from schedstat, read when its CPU time moved.
    sched: Option<(u64, u64)>,
}

/// The monitor: the options and what it remembers between samples.
pub struct Monitor {
    opts: Options,
    hz: f64,
    page_kib: u64,
    past: HashMap<i32, Past>,
    samples: u64,
}

/// Why a sample could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// The root process no longer exists.
    Root,
}

impl Monitor {
    /// A monitor with nothing seen yet.
    pub fn new(opts: Options) -> Monitor {
        Monitor {
            opts,
            hz: procfs::ticks_per_second() as f64,
            page_kib: procfs::page_size() / 1024,
            past: HashMap::new(),
            samples: 0,
        }
    }

    /// Reads the tree once: the root first, then its descendants in pid order.
    pub fn sample(&mut self) -> Result<Vec<Row>, Gone> {
        let readings = self.read_tree()?;
        let now = Instant::now();
        self.samples += 1;
        let mut rows = Vec::with_capacity(readings.len());
        let mut seen = HashSet::with_capacity(readings.len());
        for r in readings {
            // Vanished since the stat read: skip it, it is simply not in this sample.
            let Ok(fds) = count_fds(r.pid) else { continue };
            seen.insert(r.pid);
            let past = self
                .past
                .get_mut(&r.pid)
                .filter(|p| p.start_ticks == r.start_ticks);
            let mut runnable = None;
            let (cpu_percent, cmd, past) = match past {
                Some(p) => {
                    let secs = now.saturating_duration_since(p.at).as_secs_f64();
                    // Only a process whose CPU time moved can be a hog: schedstat is read for
                    // those alone, which keeps a tree of sleepers cheap to watch.
                    let sched = if r.ticks != p.ticks {
                        read_schedstat(r.pid)
                    } else {
                        None
                    };
                    if let (Some((run0, wait0)), Some((run1, wait1)), true) =
                        (p.sched, sched, secs > 0.0)
                    {
                        let busy = (run1.saturating_sub(run0) + wait1.saturating_sub(wait0)) as f64;
                        runnable = Some(busy / 1e9 / secs);
                    }
                    p.sched = sched;
                    let used = r.ticks.saturating_sub(p.ticks) as f64 / self.hz;
                    let cpu = if secs > 0.0 { 100.0 * used / secs } else { 0.0 };
                    p.ticks = r.ticks;
                    p.at = now;
                    p.fds.push(fds);
                    if p.fds.len() > FD_RISES + 1 {
                        p.fds.remove(0);
                    }
                    // A zombie's command line is gone: show [comm] from then on.
                    if r.state == 'Z' {
                        p.cmd = format!("[{}]", r.comm);
                    }
                    (cpu, p.cmd.clone(), p)
                }
                None => {
                    let cmd = command_line(r.pid, &r.comm);
                    let entry = Past {
                        start_ticks: r.start_ticks,
                        ticks: r.ticks,
                        at: now,
                        fds: vec![fds],
                        cmd: cmd.clone(),
                        sched: read_schedstat(r.pid),
                    };
                    self.past.insert(r.pid, entry);
                    let p = self.past.get_mut(&r.pid).expect("just inserted");
                    (0.0, cmd, p)
                }
            };
            let mut flags = Vec::new();
            if r.state == 'Z' {
                flags.push((
                    "zombie",
                    format!("exited, not yet reaped by its parent {}", r.ppid),
                ));
            }
            if past.fds.len() == FD_RISES + 1 && past.fds.windows(2).all(|w| w[1] > w[0]) {
                let counts: Vec<String> = past.fds.iter().map(ToString::to_string).collect();
                flags.push((
                    "fd-growth",
                    format!(
                        "fds {} over the last {FD_RISES} intervals",
                        counts.join(" -> ")
                    ),
                ));
            }
            if let Some(limit) = self.opts.rss_limit_kib
                && r.rss_kib > limit
            {
                flags.push((
                    "rss-limit",
                    format!("RSS {} KiB is over the limit of {limit} KiB", r.rss_kib),
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
            rows.push(Row {
                pid: r.pid,
                ppid: r.ppid,
                state: r.state,
                cpu_percent,
                rss_kib: r.rss_kib,
                fds,
                threads: r.threads,
                cmd,
                flags,
            });
        }
        // Forget processes that are gone, so a reused pid starts afresh.
        self.past.retain(|pid, _| seen.contains(pid));
        Ok(rows)
    }

    /// Every process of the tree: one pass over /proc for the parent links, then a walk down
    /// from the root.
    fn read_tree(&self) -> Result<Vec<Reading>, Gone> {
        let root = self.read(self.opts.pid).ok_or(Gone::Root)?;
        let mut by_parent: HashMap<i32, Vec<Reading>> = HashMap::new();
        let all = procfs::process::all_processes().map_err(|_| Gone::Root)?;
        for process in all.flatten() {
            if process.pid() == root.pid {
                continue;
            }
            // A process that exits between the listing and this read is skipped.
            if let Some(r) = self.reading(&process) {
                by_parent.entry(r.ppid).or_default().push(r);
            }
        }
        let mut out = vec![root];
        let mut next = 0;
        while next < out.len() {
            if let Some(mut kids) = by_parent.remove(&out[next].pid) {
                kids.sort_by_key(|r| r.pid);
                out.extend(kids);
            }
            next += 1;
        }
        Ok(out)
    }

    fn read(&self, pid: i32) -> Option<Reading> {
        self.reading(&Process::new(pid).ok()?)
    }

    fn reading(&self, process: &Process) -> Option<Reading> {
        let stat = process.stat().ok()?;
        Some(Reading {
            pid: stat.pid,
            ppid: stat.ppid,
            state: stat.state,
            ticks: stat.utime + stat.stime,
            start_ticks: stat.starttime,
            rss_kib: stat.rss * self.page_kib,
            threads: u64::try_from(stat.num_threads).unwrap_or(0),
            comm: stat.comm,
        })
    }
}

/// Open fds of `pid`: the size of `/proc/PID/fd` (Linux 6.2+), else its entries counted.
fn count_fds(pid: i32) -> std::io::Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    let size = std::fs::metadata(&dir)?.len();
    if size > 0 {
        return Ok(usize::try_from(size).unwrap_or(usize::MAX));
    }
    Ok(std::fs::read_dir(&dir)?.count())
}

/// (ns on a CPU, ns waiting on a run queue) of `pid`'s main thread, from `/proc/PID/schedstat`.
fn read_schedstat(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let mut words = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    Some((words.next()??, words.next()??))
}

fn command_line(pid: i32, comm: &str) -> String {
    let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = args
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        format!("[{comm}]")
    } else {
        words.join(" ")
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
    let mut monitor = Monitor::new(opts);
    if monitor.sample().is_err() {
        eprintln!("pmon: no process with pid {root}");
        return ExitCode::from(1);
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
