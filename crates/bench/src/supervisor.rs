//! `svd` (the week-8 practice project) under measurement: how soon a crashed service is running
//! again with a zero backoff, against spawning the same program directly; and how much CPU an
//! idle svd uses while it supervises 50 sleeping services.
//!
//! The benchmark needs the `svd` binary built from the reference solution in release mode:
//! [`svd_binary`] finds it (`PROCLINGS_SVD` names one to use as it is) or builds it, as
//! [`crate::par::solution_binary`] explains.
//!
//! Every service here is `sh -c 'echo $$ >> FIFO; exec sleep 1000000'`: it announces its pid on
//! a FIFO the bench reads, then sleeps. The same command started by the bench itself is the
//! baseline: what remains of svd's restart is the death noticed (a pidfd and SIGCHLD on a
//! signalfd), the bookkeeping and svd's own spawn.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable naming an `svd` binary to benchmark instead of building one.
pub const SVD_ENV: &str = "PROCLINGS_SVD";

/// The `svd` binary to benchmark (see the module's documentation).
pub fn svd_binary() -> io::Result<PathBuf> {
    crate::par::solution_binary("supervisor", "svd", SVD_ENV)
}

/// The shell command of a service that appends its pid to `fifo`, then sleeps.
fn announcing(fifo: &Path) -> String {
    format!("echo $$ >> '{}'; exec sleep 1000000", fifo.display())
}

/// A FIFO opened for reading and writing: reads never see EOF, and opening never blocks.
fn open_fifo(path: &Path) -> io::Result<BufReader<File>> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
    Ok(BufReader::new(
        OpenOptions::new().read(true).write(true).open(path)?,
    ))
}

fn read_pid(fifo: &mut BufReader<File>) -> io::Result<i32> {
    let mut line = String::new();
    if fifo.read_line(&mut line)? == 0 {
        return Err(io::Error::other("the announcement FIFO closed"));
    }
    line.trim()
        .parse()
        .map_err(|_| io::Error::other(format!("not a pid: {line:?}")))
}

/// A running svd with its temp dir; killed (with its services' groups) when dropped.
pub struct Svd {
    child: Child,
    dir: tempfile::TempDir,
    fifo: BufReader<File>,
    /// The services' pids as they announced themselves at start.
    pub pids: Vec<i32>,
}

impl Svd {
    /// Starts svd on `services` services announcing themselves, with the given backoff and an
    /// unreachable start limit; returns once each has announced itself once.
    pub fn start(services: usize, initial_ms: u64) -> io::Result<Svd> {
        let bin = svd_binary()?;
        let dir = tempfile::Builder::new().prefix("svd-bench-").tempdir()?;
        let fifo_path = dir.path().join("announce");
        let mut fifo = open_fifo(&fifo_path)?;
        let mut config = String::new();
        for i in 0..services {
            config.push_str(&format!(
                "[service.s{i}]\ncommand = [\"sh\", \"-c\", {:?}]\nrestart = \"always\"\n\
                 backoff = {{ initial_ms = {initial_ms}, max_ms = {initial_ms}, jitter = 0.0 }}\n\
                 start_limit = {{ burst = 4000000000, interval_s = 1 }}\n\n",
                announcing(&fifo_path)
            ));
        }
        let config_path = dir.path().join("svd.toml");
        std::fs::File::create(&config_path)?.write_all(config.as_bytes())?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config_path)
            .arg("--socket")
            .arg(dir.path().join("svd.sock"))
            .arg("--log-dir")
            .arg(dir.path().join("logs"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut pids = Vec::new();
        for _ in 0..services {
            pids.push(read_pid(&mut fifo)?);
        }
        Ok(Svd {
            child,
            dir,
            fifo,
            pids,
        })
    }

    /// svd's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Kills the service `pid` (SIGKILL) and waits for its successor's announcement; returns
    /// the time from the kill to the announcement, and the new pid.
    pub fn restart(&mut self, pid: i32) -> io::Result<(Duration, i32)> {
        let start = Instant::now();
        kill(Pid::from_raw(pid), Signal::SIGKILL)?;
        let new = read_pid(&mut self.fifo)?;
        Ok((start.elapsed(), new))
    }
}

impl Drop for Svd {
    fn drop(&mut self) {
        // SIGTERM: svd stops every service and exits; it is waited for, so nothing is left.
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}

/// The baseline: the bench itself spawns the same announcing command and waits for its
/// announcement; the child is killed and reaped outside the measured time.
pub struct BareSpawn {
    dir: tempfile::TempDir,
    fifo: BufReader<File>,
}

impl BareSpawn {
    /// A FIFO in a temp dir of its own.
    pub fn new() -> io::Result<BareSpawn> {
        let dir = tempfile::Builder::new().prefix("svd-bare-").tempdir()?;
        let fifo = open_fifo(&dir.path().join("announce"))?;
        Ok(BareSpawn { dir, fifo })
    }

    /// One spawn to announcement; returns its time.
    pub fn once(&mut self) -> io::Result<Duration> {
        let start = Instant::now();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(announcing(&self.dir.path().join("announce")))
            .stdin(Stdio::null())
            .spawn()?;
        read_pid(&mut self.fifo)?;
        let took = start.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        Ok(took)
    }
}

/// The CPU time a process has used so far, all threads, from `/proc/PID/task/*/schedstat`
/// (nanoseconds on the CPU; `/proc/PID/stat` counts in clock ticks, too coarse for an idle
/// process).
pub fn cpu_time_of(pid: i32) -> io::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // a thread that just ended
        };
        total += text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}
