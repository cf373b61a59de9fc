//! What watching a process tree costs: a real tree of sleeping processes, and the samplers that
//! read it.
//!
//! - [`SleeperTree`]: a shell with N `sleep` children, in a process group of its own; dropping
//!   it kills the group and reaps everything (this process is a child subreaper while the tree
//!   lives, so the orphaned sleeps come back to it).
//! - `PmonSampler` (with this crate's `solution` feature): the reference `pmon`
//!   (solutions/08-monitoring/pmon.rs, compiled into this crate as [`crate::pmon`]) taking a
//!   sample and rendering its table, as its main loop does every interval.
//! - [`SysinfoSampler`]: the same tree through sysinfo, refreshing either every process of the
//!   machine (the only way sysinfo finds new descendants) or only the pids already known.
//! - [`process_cpu_time`]: this process's CPU time (`getrusage(RUSAGE_SELF)`), the measure of a
//!   sampler's cost.

use std::io::{self, BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use procfs::process::Process;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// A shell and its `n` sleeping children.
#[derive(Debug)]
pub struct SleeperTree {
    shell: Child,
    n: usize,
}

impl SleeperTree {
    /// Starts the tree and returns once every child is running.
    pub fn start(n: usize) -> io::Result<SleeperTree> {
        // SAFETY: prctl with plain integer arguments; it only marks this process as a subreaper.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let script = format!(
            "i=0; while [ $i -lt {n} ]; do sleep 3600 & i=$((i+1)); done; echo ready; wait"
        );
        let mut shell = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let mut line = String::new();
        BufReader::new(shell.stdout.take().expect("piped")).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(io::Error::other(format!("the tree said {line:?}")));
        }
        Ok(SleeperTree { shell, n })
    }

    /// The shell's pid: the root of the tree.
    pub fn root(&self) -> i32 {
        self.shell.id() as i32
    }

    /// How many processes the tree has, root included.
    pub fn len(&self) -> usize {
        self.n + 1
    }

    /// Whether the tree is empty (never: it has at least its root).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The pids of the tree, root first.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = vec![self.root()];
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.root()))
            .unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
        pids
    }
}

impl Drop for SleeperTree {
    fn drop(&mut self) {
        // SAFETY: killpg with the group this tree's shell leads; then reap every child of this
        // process (the shell, and the sleeps it leaves orphaned to us, the subreaper).
        unsafe {
            libc::killpg(self.root(), libc::SIGKILL);
        }
        let _ = self.shell.wait();
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a live local for the status.
            let rc = unsafe { libc::waitpid(-1, &mut status, 0) };
            if rc <= 0 {
                break;
            }
        }
        // A subreaper no more: orphans of whatever this process starts later (a queue
        // benchmark's pool workers, say) go back to their usual reaper instead of staying here
        // as zombies nobody waits for.
        // SAFETY: prctl with plain integer arguments; it only clears this process's flag.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0);
        }
    }
}

/// The reference pmon's work for one interval: a sample of the tree, then its table.
#[cfg(feature = "solution")]
pub struct PmonSampler {
    monitor: crate::pmon::Monitor,
    root: i32,
    samples: u64,
}

#[cfg(feature = "solution")]
impl std::fmt::Debug for PmonSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PmonSampler")
            .field("root", &self.root)
            .field("samples", &self.samples)
            .finish()
    }
}

#[cfg(feature = "solution")]
impl PmonSampler {
    /// A pmon watching the tree under `root` (text output, no limit).
    pub fn new(root: i32) -> PmonSampler {
        let opts = crate::pmon::Options {
            interval: Duration::from_millis(100),
            once: false,
            json: false,
            rss_limit_kib: None,
            pid: root,
        };
        PmonSampler {
            monitor: crate::pmon::Monitor::new(opts),
            root,
            samples: 0,
        }
    }

    /// One sample and its table; returns how many processes it showed (0 if the root is gone).
    pub fn sample(&mut self) -> usize {
        let Ok(rows) = self.monitor.sample() else {
            return 0;
        };
        self.samples += 1;
        std::hint::black_box(crate::pmon::render_text(&rows, self.samples, self.root));
        rows.len()
    }
}

/// One refresh of `pids` through procfs: their stat files, as `ps -p` would read them.
pub fn procfs_refresh(pids: &[i32]) -> usize {
    let mut read = 0;
    for &pid in pids {
        if let Ok(stat) = Process::new(pid).and_then(|p| p.stat()) {
            std::hint::black_box(stat.rss + stat.utime);
            read += 1;
        }
    }
    read
}

/// The tree through sysinfo.
#[derive(Debug)]
pub struct SysinfoSampler {
    sys: System,
    pids: Vec<Pid>,
}

impl SysinfoSampler {
    /// A sampler that knows `pids` (for [`SysinfoSampler::refresh_known`]).
    pub fn new(pids: &[i32]) -> Self {
        SysinfoSampler {
            sys: System::new(),
            pids: pids.iter().map(|&p| Pid::from_u32(p as u32)).collect(),
        }
    }

    /// Refreshes memory and CPU of the known pids only; returns how many were updated.
    pub fn refresh_known(&mut self) -> usize {
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&self.pids),
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        )
    }

    /// Refreshes every process of the machine (how sysinfo finds the descendants of `root`),
    /// and returns how many belong to the tree.
    pub fn refresh_all(&mut self, root: i32) -> usize {
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        let root = Pid::from_u32(root as u32);
        self.sys
            .processes()
            .values()
            .filter(|p| p.pid() == root || p.parent() == Some(root))
            .count()
    }
}

/// This process's CPU time so far, user + system (`getrusage(RUSAGE_SELF)`).
pub fn process_cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is valid; getrusage fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
