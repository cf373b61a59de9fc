//! Practice: svd and svctl, a service supervisor.
//!
//! Scenario: a machine runs a handful of long-lived programs (a database, a web server, a worker)
//! that must start in order, come back when they crash (but not in a tight loop), stop cleanly,
//! and be visible to the people and tools that watch them. `svd` is the supervisor that does
//! it; `svctl` is how a person or a script talks to it.
//!
//! Goal: implement [`svd_main`] and [`svctl_main`]. The contract, which the tests check from
//! outside through the two binaries:
//!
//! - `svd --config FILE [--socket S] [--metrics 127.0.0.1:PORT] [--log-dir D] [--allow-uid U]`
//!   loads the `[service.NAME]` tables of FILE (the keys are in the chapter). A bad config is
//!   refused before anything starts: one line `svd: FILE:LINE: reason` on stderr, exit 2.
//! - Every service runs in its own process group, with `SVD_SERVICE=NAME` and, for
//!   `ready = "notify"`, `NOTIFY_SOCKET` in its environment; its stdout and stderr go, one
//!   timestamped line at a time, to `D/NAME.log`, rotated by size (`NAME.log.1`, ...).
//! - A service starts once everything in its `depends_on` is started (or ready, as asked);
//!   `READY=1` from one of the service's own processes, or a successful connect probe, makes it
//!   ready. A service that dies is restarted as its `restart` policy says, after an exponential
//!   backoff with jitter and a cap, and marked failed when it died `burst` times within
//!   `interval_s`. A failing health check (`threshold` failures in a row) restarts it.
//! - svd is a child subreaper: a service that daemonizes is still tracked and stopped, and
//!   every process re-parented to it is reaped.
//! - Events are printed on stdout, one line each, beginning `svd: ` (`svd: NAME started pid P`,
//!   `svd: NAME ready`, `svd: NAME exited exit=1`, `svd: NAME backoff 100ms`, `svd: NAME failed`,
//!   `svd: NAME stopping`, `svd: NAME stopped`, `svd: listening on S`, ...).
//! - SIGTERM or SIGINT: every service stopped (its stop signal to the group, the stop timeout,
//!   SIGKILL) in reverse dependency order, then exit 0, leaving no socket file. SIGHUP reloads
//!   the config: new services start, removed ones stop, changed ones restart, the rest are left
//!   alone; a bad new config is refused with its reason and the old one kept.
//! - The control socket (mode 0600; a connection from any uid other than the allowed one, by
//!   default svd's own, is refused) speaks one request line per connection: `status`,
//!   `start NAME`, `stop NAME`, `restart NAME`, `logs NAME [-f]`, `reload`. The answer begins
//!   `ok ...` or `error REASON`; start, stop and restart answer once the service got there.
//! - `--metrics ADDR` serves the Prometheus text format on `http://ADDR/metrics`.
//! - `svctl [--socket S] status|start|stop|restart|logs|reload ...` prints the answer; exit 0 on
//!   `ok`, 1 when svd answered an error, 2 on a usage error or when svd cannot be reached.
//!
//! Chapter: `docs/src/12-supervisor.md#svd`. Check it with `cargo xtask check supervisor/svd`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, ErrorKind, IoSliceMut, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigSet, Signal, kill, killpg};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, UnixAddr, getsockopt, recvmsg, setsockopt, sockopt,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Deserialize;

// ---------------------------------------------------------------------------------------------
// The configuration
// ---------------------------------------------------------------------------------------------

/// What to do when a service's main process ends on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Restart whatever the exit status.
    Always,
    /// Restart after a non-zero exit or a death by signal.
    OnFailure,
    /// Never restart.
    Never,
}

/// When a dependency counts as up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Its process was started.
    Started,
    /// It said it is ready (or its probe connected); a service with `ready = "none"` is ready
    /// once started.
    Ready,
}

/// How a service says it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// At once.
    None,
    /// `READY=1` on `$NOTIFY_SOCKET`.
    Notify,
    /// When `host:port` (or a Unix socket path) accepts a connection.
    Connect(String),
}

/// A health check: a command that must exit 0, or an address that must accept a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// The check itself.
    pub check: Probe,
    /// Time between two checks.
    pub interval: Duration,
    /// A check that takes longer fails.
    pub timeout: Duration,
    /// Failures in a row that restart the service.
    pub threshold: u32,
}

/// What a health check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A program and its arguments; exit status 0 is healthy.
    Exec(Vec<String>),
    /// An address to connect to.
    Connect(String),
}

/// The backoff between restarts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// The first delay.
    pub initial: Duration,
    /// Each delay is the previous one times this.
    pub factor: f64,
    /// The cap.
    pub max: Duration,
    /// Each delay is moved by up to this fraction of itself, at random, either way.
    pub jitter: f64,
    /// A run at least this long resets the delay to `initial`.
    pub reset_after: Duration,
}

/// One service of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Its name (the table's key).
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// The restart policy.
    pub restart: Restart,
    /// The backoff policy.
    pub backoff: BackoffPolicy,
    /// `burst` deaths within `interval`: failed.
    pub start_limit: (u32, Duration),
    /// What must be up first.
    pub depends_on: BTreeMap<String, Condition>,
    /// How it says it is ready.
    pub ready: Ready,
    /// How long it may take to be ready.
    pub ready_timeout: Duration,
    /// The signal that asks it to stop.
    pub stop_signal: Signal,
    /// How long it has to stop before SIGKILL.
    pub stop_timeout: Duration,
    /// Resource limits, set in the child before exec.
    pub rlimits: Vec<(Resource, u64)>,
    /// Its health check.
    pub health: Option<Health>,
    /// Log rotation: the largest size of a file, and how many rotated files are kept.
    pub log: (u64, u32),
}

/// A loaded, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The services by name.
    pub services: BTreeMap<String, Service>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    service: BTreeMap<String, toml::Spanned<RawService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    command: toml::Spanned<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    #[serde(default = "default_restart")]
    restart: Restart,
    #[serde(default)]
    backoff: RawBackoff,
    #[serde(default)]
    start_limit: RawStartLimit,
    depends_on: Option<toml::Spanned<BTreeMap<String, Condition>>>,
    #[serde(default)]
    ready: Option<toml::Spanned<RawReady>>,
    #[serde(default = "default_ready_timeout")]
    ready_timeout_s: f64,
    #[serde(default)]
    stop_signal: Option<toml::Spanned<String>>,
    #[serde(default = "default_stop_timeout")]
    stop_timeout_s: f64,
    #[serde(default)]
    rlimits: Option<toml::Spanned<BTreeMap<String, u64>>>,
    health: Option<toml::Spanned<RawHealth>>,
    #[serde(default)]
    log: RawLog,
}

fn default_restart() -> Restart {
    Restart::OnFailure
}
fn default_ready_timeout() -> f64 {
    30.0
}
fn default_stop_timeout() -> f64 {
    10.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBackoff {
    initial_ms: u64,
    factor: f64,
    max_ms: u64,
    jitter: f64,
    reset_after_s: f64,
}

impl Default for RawBackoff {
    fn default() -> Self {
        RawBackoff {
            initial_ms: 100,
            factor: 2.0,
            max_ms: 30_000,
            jitter: 0.1,
            reset_after_s: 10.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStartLimit {
    burst: u32,
    interval_s: f64,
}

impl Default for RawStartLimit {
    fn default() -> Self {
        RawStartLimit {
            burst: 5,
            interval_s: 10.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawReady {
    Word(String),
    Probe { connect: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    exec: Option<Vec<String>>,
    connect: Option<String>,
    #[serde(default = "default_health_interval")]
    interval_s: f64,
    #[serde(default = "default_health_timeout")]
    timeout_s: f64,
    #[serde(default = "default_health_threshold")]
    threshold: u32,
}

fn default_health_interval() -> f64 {
    10.0
}
fn default_health_timeout() -> f64 {
    5.0
}
fn default_health_threshold() -> u32 {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    max_bytes: u64,
    files: u32,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            max_bytes: 1 << 20,
            files: 3,
        }
    }
}

/// A config error: `FILE:LINE: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1 (0 when the file could not be read).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        }
    }
}

/// Reads and validates the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        reason: format!("cannot read: {e}"),
    })?;
    parse(&text, path)
}

fn secs(s: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(s).ok()
}

/// Parses and validates a config; `origin` names the file in errors.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let err = |offset: usize, reason: String| ConfigError {
        file: origin.to_path_buf(),
        line: line_of(offset),
        reason,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        err(at, e.message().trim().replace('\n', "; "))
    })?;
    let mut services = BTreeMap::new();
    for (name, spanned) in &raw.service {
        let at = spanned.span().start;
        let raw = spanned.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(err(
                at,
                format!("service name {name:?}: use letters, digits, - _ ."),
            ));
        }
        if raw.command.get_ref().is_empty() {
            return Err(err(
                raw.command.span().start,
                format!("service {name}: command is empty"),
            ));
        }
        let ready = match raw.ready.as_ref().map(|r| (r.span().start, r.get_ref())) {
            None => Ready::None,
            Some((_, RawReady::Word(w))) if w == "none" => Ready::None,
            Some((_, RawReady::Word(w))) if w == "notify" => Ready::Notify,
            Some((_, RawReady::Probe { connect })) => Ready::Connect(connect.clone()),
            Some((at, RawReady::Word(w))) => {
                return Err(err(
                    at,
                    format!(
                        "service {name}: ready {w:?}: use \"none\", \"notify\" or {{ connect = \"HOST:PORT\" }}"
                    ),
                ));
            }
        };
        let stop_signal = match &raw.stop_signal {
            None => Signal::SIGTERM,
            Some(s) => {
                let word = s.get_ref();
                let full = if word.starts_with("SIG") {
                    word.clone()
                } else {
                    format!("SIG{word}")
                };
                Signal::from_str(&full).map_err(|_| {
                    err(
                        s.span().start,
                        format!("service {name}: unknown stop_signal {word:?}"),
                    )
                })?
            }
        };
        let mut rlimits = Vec::new();
        if let Some(r) = &raw.rlimits {
            for (key, &value) in r.get_ref() {
                let resource = match key.as_str() {
                    "nofile" => Resource::RLIMIT_NOFILE,
                    "nproc" => Resource::RLIMIT_NPROC,
                    "core" => Resource::RLIMIT_CORE,
                    "as" => Resource::RLIMIT_AS,
                    "cpu" => Resource::RLIMIT_CPU,
                    "fsize" => Resource::RLIMIT_FSIZE,
                    "stack" => Resource::RLIMIT_STACK,
                    "memlock" => Resource::RLIMIT_MEMLOCK,
                    _ => {
                        return Err(err(
                            r.span().start,
                            format!(
                                "service {name}: unknown rlimit {key:?} (nofile, nproc, core, as, cpu, fsize, stack, memlock)"
                            ),
                        ));
                    }
                };
                rlimits.push((resource, value));
            }
        }
        let health = match &raw.health {
            None => None,
            Some(h) => {
                let at = h.span().start;
                let h = h.get_ref();
                let check = match (&h.exec, &h.connect) {
                    (Some(cmd), None) if !cmd.is_empty() => Probe::Exec(cmd.clone()),
                    (None, Some(addr)) => Probe::Connect(addr.clone()),
                    _ => {
                        return Err(err(
                            at,
                            format!(
                                "service {name}: health needs exactly one of exec = [..] or connect = \"..\""
                            ),
                        ));
                    }
                };
                let (Some(interval), Some(timeout)) = (secs(h.interval_s), secs(h.timeout_s))
                else {
                    return Err(err(
                        at,
                        format!(
                            "service {name}: health interval_s and timeout_s must be durations"
                        ),
                    ));
                };
                if h.threshold == 0 || interval.is_zero() {
                    return Err(err(
                        at,
                        format!("service {name}: health threshold and interval_s must be above 0"),
                    ));
                }
                Some(Health {
                    check,
                    interval,
                    timeout,
                    threshold: h.threshold,
                })
            }
        };
        let b = &raw.backoff;
        let bad_backoff =
            !(b.factor >= 1.0) || !(0.0..1.0).contains(&b.jitter) || b.initial_ms > b.max_ms;
        let (Some(reset_after), Some(interval), Some(ready_timeout), Some(stop_timeout)) = (
            secs(b.reset_after_s),
            secs(raw.start_limit.interval_s),
            secs(raw.ready_timeout_s),
            secs(raw.stop_timeout_s),
        ) else {
            return Err(err(
                at,
                format!("service {name}: a duration is negative or not a number"),
            ));
        };
        if bad_backoff {
            return Err(err(
                at,
                format!(
                    "service {name}: backoff needs factor >= 1, 0 <= jitter < 1, initial_ms <= max_ms"
                ),
            ));
        }
        if raw.start_limit.burst == 0 || raw.log.files == 0 || raw.log.max_bytes == 0 {
            return Err(err(
                at,
                format!(
                    "service {name}: start_limit.burst, log.files and log.max_bytes must be above 0"
                ),
            ));
        }
        services.insert(
            name.clone(),
            Service {
                name: name.clone(),
                command: raw.command.get_ref().clone(),
                env: raw.env.clone(),
                cwd: raw.cwd.clone(),
                restart: raw.restart,
                backoff: BackoffPolicy {
                    initial: Duration::from_millis(b.initial_ms),
                    factor: b.factor,
                    max: Duration::from_millis(b.max_ms),
                    jitter: b.jitter,
                    reset_after,
                },
                start_limit: (raw.start_limit.burst, interval),
                depends_on: raw
                    .depends_on
                    .as_ref()
                    .map(|d| d.get_ref().clone())
                    .unwrap_or_default(),
                ready,
                ready_timeout,
                stop_signal,
                stop_timeout,
                rlimits,
                health,
                log: (raw.log.max_bytes, raw.log.files),
            },
        );
    }
    // Every dependency must exist, and the graph must have no cycle.
    for (name, spanned) in &raw.service {
        let Some(deps) = &spanned.get_ref().depends_on else {
            continue;
        };
        for dep in deps.get_ref().keys() {
            if !services.contains_key(dep) {
                return Err(err(
                    deps.span().start,
                    format!("service {name} depends on {dep:?}, which is not defined"),
                ));
            }
        }
    }
    let config = Config { services };
    if let Some(cycle) = config.find_cycle() {
        let at = raw.service[&cycle[0]]
            .get_ref()
            .depends_on
            .as_ref()
            .map_or(0, |d| d.span().start);
        return Err(err(at, format!("dependency cycle: {}", cycle.join(" -> "))));
    }
    Ok(config)
}

impl Config {
    /// A start order: every service after what it depends on, ties broken by name.
    pub fn start_order(&self) -> Vec<String> {
        let mut order = Vec::new();
        let mut done = BTreeSet::new();
        while done.len() < self.services.len() {
            let next = self
                .services
                .values()
                .find(|s| !done.contains(&s.name) && s.depends_on.keys().all(|d| done.contains(d)));
            let Some(next) = next else { break }; // a cycle: refused at load
            done.insert(next.name.clone());
            order.push(next.name.clone());
        }
        order
    }

    fn find_cycle(&self) -> Option<Vec<String>> {
        // Depth-first search; a service met again on the current path closes a cycle.
        fn visit<'a>(
            c: &'a Config,
            name: &'a str,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|&p| p == name) {
                let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            if !done.insert(name) {
                return None;
            }
            path.push(name);
            for dep in c.services[name].depends_on.keys() {
                if let Some(cycle) = visit(c, dep, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        for name in self.services.keys() {
            if let Some(cycle) = visit(self, name, &mut Vec::new(), &mut done) {
                return Some(cycle);
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Logs: timestamped lines, rotated by size
// ---------------------------------------------------------------------------------------------

/// A log file rotated by size: `NAME.log`, then `NAME.log.1` (newest) to `NAME.log.N`.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    files: u32,
}

impl RotatingLog {
    /// Opens (appends to) `dir/NAME.log`.
    pub fn open(dir: &Path, name: &str, max_bytes: u64, files: u32) -> io::Result<RotatingLog> {
        let path = dir.join(format!("{name}.log"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog {
            path,
            file,
            size,
            max_bytes,
            files,
        })
    }

    /// Writes one line (a `\n` is added), rotating first if it would not fit: a line is never
    /// split between two files.
    pub fn write_line(&mut self, stream: &str, line: &[u8]) -> io::Result<()> {
        let mut record = format!("{} {stream} ", timestamp(SystemTime::now())).into_bytes();
        record.extend_from_slice(line);
        record.push(b'\n');
        if self.size > 0 && self.size + record.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        // One write(2) per line on an O_APPEND file: the line lands whole.
        self.file.write_all(&record)?;
        self.size += record.len() as u64;
        Ok(())
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> io::Result<()> {
        // NAME.log.N-1 -> NAME.log.N, ..., NAME.log -> NAME.log.1: the oldest falls off.
        for n in (1..self.files).rev() {
            let from = self.rotated(n);
            if from.exists() {
                fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        fs::rename(&self.path, self.rotated(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    /// Every file, oldest first.
    fn all_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = (1..=self.files)
            .rev()
            .map(|n| self.rotated(n))
            .filter(|p| p.exists())
            .collect();
        v.push(self.path.clone());
        v
    }
}

/// `2026-11-25T17:00:00.123Z`, in UTC, without a date crate (days to civil date: H. Hinnant's
/// algorithm).
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

// ---------------------------------------------------------------------------------------------
// Backoff and the start limit
// ---------------------------------------------------------------------------------------------

/// What to do after a death.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Restart after this delay.
    RestartAfter(Duration),
    /// The start limit is hit: give up.
    Failed,
}

/// The restart state of one service.
#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    limit: (u32, Duration),
    next: Duration,
    deaths: VecDeque<Instant>,
    rng: u64,
}

impl Backoff {
    /// A fresh state.
    pub fn new(policy: BackoffPolicy, limit: (u32, Duration)) -> Backoff {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Backoff {
            policy,
            limit,
            next: policy.initial,
            deaths: VecDeque::new(),
            rng: seed | 1,
        }
    }

    /// A death at `now` after a run of `ran_for`.
    pub fn on_exit(&mut self, now: Instant, ran_for: Duration) -> Decision {
        if ran_for >= self.policy.reset_after {
            self.next = self.policy.initial; // a stable run: forgive the past
        }
        self.deaths.push_back(now);
        while self
            .deaths
            .front()
            .is_some_and(|&t| now.duration_since(t) > self.limit.1)
        {
            self.deaths.pop_front();
        }
        if self.deaths.len() >= self.limit.0 as usize {
            return Decision::Failed;
        }
        let base = self.next;
        self.next = base.mul_f64(self.policy.factor).min(self.policy.max);
        // xorshift64: enough randomness to spread restarts of many services apart.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        Decision::RestartAfter(base.mul_f64(1.0 + self.policy.jitter * (2.0 * unit - 1.0)))
    }

    /// Forgets the deaths (a manual start).
    pub fn reset(&mut self) {
        self.next = self.policy.initial;
        self.deaths.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

type Labels = Vec<(String, String)>;

struct Metrics {
    up: Family<Labels, Gauge>,
    restarts: Family<Labels, Counter>,
    state: Family<Labels, Gauge>,
    backoff: Family<Labels, Gauge<f64, AtomicU64>>,
    ready_time: Family<Labels, Histogram, fn() -> Histogram>,
}

const STATES: [&str; 7] = [
    "starting", "ready", "running", "backoff", "stopping", "stopped", "failed",
];

impl Metrics {
    fn new() -> (Metrics, Registry) {
        let m = Metrics {
            up: Family::default(),
            restarts: Family::default(),
            state: Family::default(),
            backoff: Family::default(),
            ready_time: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 4.0, 9))
            }),
        };
        let mut r = Registry::with_prefix("svd");
        r.register(
            "service_up",
            "1 when the service's process is running",
            m.up.clone(),
        );
        r.register(
            "service_restarts",
            "Times the service was started again",
            m.restarts.clone(),
        );
        r.register(
            "service_state",
            "1 for the state the service is in",
            m.state.clone(),
        );
        r.register(
            "service_backoff_seconds",
            "The delay before the next restart",
            m.backoff.clone(),
        );
        r.register(
            "service_start_to_ready_seconds",
            "Time from a start to readiness",
            m.ready_time.clone(),
        );
        (m, r)
    }

    fn labels(name: &str) -> Labels {
        vec![("service".to_string(), name.to_string())]
    }

    fn set_state(&self, name: &str, state: State) {
        let l = Self::labels(name);
        let up = matches!(
            state,
            State::Starting | State::Ready | State::Running | State::Stopping
        );
        self.up.get_or_create(&l).set(i64::from(up));
        for s in STATES {
            let mut ls = l.clone();
            ls.push(("state".to_string(), s.to_string()));
            self.state
                .get_or_create(&ls)
                .set(i64::from(s == state.as_str()));
        }
    }

    fn remove(&self, name: &str) {
        let l = Self::labels(name);
        self.up.remove(&l);
        self.restarts.remove(&l);
        self.backoff.remove(&l);
        self.ready_time.remove(&l);
        for s in STATES {
            let mut ls = l.clone();
            ls.push(("state".to_string(), s.to_string()));
            self.state.remove(&ls);
        }
    }
}

/// Serves `/metrics` on a thread of its own (tiny_http blocks in accept: no CPU while idle).
fn serve_metrics(
    server: Arc<tiny_http::Server>,
    registry: Arc<Registry>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let response = if request.url() == "/metrics" {
                let mut body = String::new();
                match prometheus_client::encoding::prometheus_text::encode(&mut body, &registry) {
                    Ok(()) => {
                        let header = tiny_http::Header::from_bytes(
                            "Content-Type",
                            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                        )
                        .expect("a valid header");
                        tiny_http::Response::from_string(body).with_header(header)
                    }
                    Err(_) => {
                        tiny_http::Response::from_string("encoding failed").with_status_code(500)
                    }
                }
            } else {
                tiny_http::Response::from_string("try /metrics\n").with_status_code(404)
            };
            let _ = request.respond(response);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The supervisor's state
// ---------------------------------------------------------------------------------------------

/// Where a service is. `Stopped` covers "not started yet" too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Spawned, not ready yet.
    Starting,
    /// Said it is ready.
    Ready,
    /// Running (no readiness to wait for).
    Running,
    /// Dead, waiting to be restarted.
    Backoff,
    /// Asked to stop, not gone yet.
    Stopping,
    /// Not running.
    Stopped,
    /// Hit its start limit; stays down until started by hand.
    Failed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
    fn active(self) -> bool {
        matches!(
            self,
            State::Starting | State::Ready | State::Running | State::Stopping
        )
    }
}

/// What happens once a stopping service is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    Nothing,
    Start,
    Remove,
}

struct Svc {
    def: Service,
    state: State,
    /// Wanted up (false after `svctl stop`, during shutdown, or once failed).
    wanted: bool,
    main: Option<Pid>,
    pgid: Option<Pid>,
    started_at: Option<Instant>,
    restarts: u64,
    starts: u64,
    last_exit: Option<String>,
    backoff: Backoff,
    restart_at: Option<Instant>,
    stop_deadline: Option<Instant>,
    after_stop: AfterStop,
    ready_deadline: Option<Instant>,
    next_probe: Option<Instant>,
    health_next: Option<Instant>,
    health_run: Option<(Pid, Instant)>,
    health_failures: u32,
    notify: Option<UnixDatagram>,
    notify_path: Option<PathBuf>,
    status_text: String,
    pipes: Vec<(OwnedFd, &'static str, Vec<u8>)>,
    log: Option<RotatingLog>,
    followers: Vec<UnixStream>,
}

enum Token {
    Signal,
    Listener,
    Conn(usize),
    Notify(String),
    Pipe(String, usize),
}

struct Conn {
    stream: UnixStream,
    buf: Vec<u8>,
    /// A start/stop/restart waiting for the service to get there: (service, verb).
    waiting: Option<(String, String)>,
}

struct Supervisor {
    config_path: PathBuf,
    socket: PathBuf,
    notify_dir: PathBuf,
    log_dir: PathBuf,
    allowed_uid: u32,
    services: BTreeMap<String, Svc>,
    order: Vec<String>,
    conns: BTreeMap<usize, Conn>,
    next_conn: usize,
    shutting_down: bool,
    metrics: Metrics,
    signals: SignalFd,
    listener: UnixListener,
    me: Pid,
}

/// Prints one event line on stdout (flushed: tests and people follow it live).
fn event(msg: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "svd: {msg}");
    let _ = out.flush();
}

macro_rules! event {
    ($($t:tt)*) => { event(format_args!($($t)*)) };
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit={code}"),
        WaitStatus::Signaled(_, sig, _) => {
            format!("signal={}", sig.as_str().trim_start_matches("SIG"))
        }
        other => format!("{other:?}"),
    }
}

fn failed_exit(status: WaitStatus) -> bool {
    !matches!(status, WaitStatus::Exited(_, 0))
}

/// Reads `/proc/PID/stat`: (state, ppid, pgid). The command name may hold spaces and
/// parentheses, so the fields are counted after the last `)`.
fn proc_stat(pid: i32) -> Option<(char, i32, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    Some((state, ppid, pgid))
}

fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `SVD_SERVICE=NAME` in a process's environment: how a process that left the service's
/// process group (it daemonized) is still known to belong to it.
fn tagged(pid: i32, name: &str) -> bool {
    let want = format!("SVD_SERVICE={name}");
    fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
        .unwrap_or(false)
}

impl Svc {
    fn new(def: Service) -> Svc {
        let backoff = Backoff::new(def.backoff, def.start_limit);
        Svc {
            def,
            state: State::Stopped,
            wanted: true,
            main: None,
            pgid: None,
            started_at: None,
            restarts: 0,
            starts: 0,
            last_exit: None,
            backoff,
            restart_at: None,
            stop_deadline: None,
            after_stop: AfterStop::Nothing,
            ready_deadline: None,
            next_probe: None,
            health_next: None,
            health_run: None,
            health_failures: 0,
            notify: None,
            notify_path: None,
            status_text: String::new(),
            pipes: Vec::new(),
            log: None,
            followers: Vec::new(),
        }
    }

    /// Every live process of the service: its process group, and svd's children that carry its
    /// tag (re-parented to svd, the subreaper, after they daemonized).
    fn processes(&self, me: Pid) -> Vec<Pid> {
        let mut found = Vec::new();
        for pid in all_pids() {
            let Some((state, ppid, pgid)) = proc_stat(pid) else {
                continue;
            };
            if state == 'Z' {
                continue; // reaped soon by the SIGCHLD handler
            }
            let in_group = self.pgid.is_some_and(|g| g.as_raw() == pgid);
            let adopted = ppid == me.as_raw()
                && self.health_run.is_none_or(|(h, _)| h.as_raw() != pid)
                && tagged(pid, &self.def.name);
            if in_group || adopted {
                found.push(Pid::from_raw(pid));
            }
        }
        found
    }

    fn signal_all(&self, me: Pid, sig: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, sig);
        }
        for pid in self.processes(me) {
            let _ = kill(pid, sig);
        }
    }
}

impl Supervisor {
    fn set_state(&mut self, name: &str, state: State) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        svc.state = state;
        self.metrics.set_state(name, state);
        self.answer_waiters(name);
    }

    /// The dependencies of `name` allow it to start.
    fn deps_met(&self, name: &str) -> bool {
        self.services[name]
            .def
            .depends_on
            .iter()
            .all(|(dep, cond)| {
                self.services.get(dep).is_some_and(|d| match cond {
                    Condition::Started => {
                        matches!(d.state, State::Starting | State::Ready | State::Running)
                    }
                    Condition::Ready => matches!(d.state, State::Ready | State::Running),
                })
            })
    }

    fn dependents_active(&self, name: &str) -> bool {
        self.services.values().any(|s| {
            s.def.depends_on.contains_key(name)
                && s.state != State::Stopped
                && s.state != State::Failed
        })
    }

    /// Moves every service one step towards what is wanted; called after every event.
    fn advance(&mut self, now: Instant) {
        loop {
            let mut changed = false;
            let order = self.order.clone();
            if self.shutting_down {
                for name in order.iter().rev() {
                    let Some(svc) = self.services.get(name) else {
                        continue;
                    };
                    if matches!(
                        svc.state,
                        State::Starting | State::Ready | State::Running | State::Backoff
                    ) && !self.dependents_active(name)
                    {
                        self.begin_stop(name, now);
                        changed = true;
                    }
                }
            } else {
                for name in &order {
                    let Some(svc) = self.services.get(name) else {
                        continue;
                    };
                    if svc.wanted && svc.state == State::Stopped && self.deps_met(name) {
                        self.spawn(name, now);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn spawn(&mut self, name: &str, now: Instant) {
        let notify_dir = self.notify_dir.clone();
        let svc = self.services.get_mut(name).expect("known service");
        let def = svc.def.clone();
        let mut cmd = Command::new(&def.command[0]);
        cmd.args(&def.command[1..])
            .envs(&def.env)
            .env("SVD_SERVICE", name)
            .stdin(Stdio::null());
        if let Some(cwd) = &def.cwd {
            cmd.current_dir(cwd);
        }
        // Its own process group: one killpg reaches the service and its children.
        cmd.process_group(0);
        if def.ready == Ready::Notify && svc.notify.is_none() {
            let path = notify_dir.join(name);
            let _ = fs::remove_file(&path);
            match UnixDatagram::bind(&path).and_then(|s| {
                s.set_nonblocking(true)?;
                // SO_PASSCRED: the kernel attaches the sender's pid to every message.
                setsockopt(&s, sockopt::PassCred, &true).map_err(io::Error::from)?;
                Ok(s)
            }) {
                Ok(s) => {
                    svc.notify = Some(s);
                    svc.notify_path = Some(path);
                }
                Err(e) => event!("{name} cannot bind its notify socket: {e}"),
            }
        }
        if let Some(path) = &svc.notify_path {
            cmd.env("NOTIFY_SOCKET", path);
        } else {
            cmd.env_remove("NOTIFY_SOCKET");
        }
        let (out_r, out_w) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => return self.spawn_failed(name, now, e),
        };
        let (err_r, err_w) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => return self.spawn_failed(name, now, e),
        };
        cmd.stdout(out_w).stderr(err_w);
        prepare_child(&mut cmd, def.rlimits.clone());
        let child = cmd.spawn();
        drop(cmd); // closes our copies of the pipes' write ends: EOF comes when the service's do
        let svc = self.services.get_mut(name).expect("known service");
        let child = match child {
            Ok(c) => c,
            Err(e) => return self.spawn_failed(name, now, e),
        };
        let pid = Pid::from_raw(child.id() as i32);
        drop(child); // reaped by the SIGCHLD handler with waitpid(-1), like every child
        for (r, stream) in [
            (OwnedFd::from(out_r), "stdout"),
            (OwnedFd::from(err_r), "stderr"),
        ] {
            let _ = nix::fcntl::fcntl(
                &r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            svc.pipes.push((r, stream, Vec::new()));
        }
        svc.main = Some(pid);
        svc.pgid = Some(pid);
        svc.started_at = Some(now);
        svc.starts += 1;
        if svc.starts > 1 {
            svc.restarts += 1;
            self.metrics
                .restarts
                .get_or_create(&Metrics::labels(name))
                .inc();
        }
        svc.restart_at = None;
        svc.health_failures = 0;
        svc.health_next = def.health.as_ref().map(|h| now + h.interval);
        let state = match def.ready {
            Ready::None => State::Running,
            Ready::Notify => State::Starting,
            Ready::Connect(_) => {
                svc.next_probe = Some(now);
                State::Starting
            }
        };
        svc.ready_deadline = (state == State::Starting).then(|| now + def.ready_timeout);
        if state == State::Running {
            self.metrics
                .ready_time
                .get_or_create(&Metrics::labels(name))
                .observe(0.0);
        }
        self.set_state(name, state);
        event!("{name} started pid {pid}");
    }

    fn spawn_failed(&mut self, name: &str, now: Instant, e: io::Error) {
        event!("{name} cannot start: {e}");
        if let Some(svc) = self.services.get_mut(name) {
            svc.last_exit = Some("spawn-error".into());
            svc.started_at = Some(now);
        }
        self.after_death(name, now, true);
    }

    fn mark_ready(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        if svc.state != State::Starting {
            return;
        }
        svc.ready_deadline = None;
        svc.next_probe = None;
        let took = svc
            .started_at
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.metrics
            .ready_time
            .get_or_create(&Metrics::labels(name))
            .observe(took);
        self.set_state(name, State::Ready);
        event!("{name} ready");
    }

    fn begin_stop(&mut self, name: &str, now: Instant) {
        let me = self.me;
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        match svc.state {
            State::Backoff | State::Failed | State::Stopped => {
                svc.restart_at = None;
                if svc.state == State::Backoff {
                    event!("{name} stopped");
                    self.set_state(name, State::Stopped);
                }
                self.finish_stop(name, now);
            }
            State::Stopping => {}
            State::Starting | State::Ready | State::Running => {
                event!("{name} stopping");
                svc.signal_all(me, svc.def.stop_signal);
                svc.stop_deadline = Some(now + svc.def.stop_timeout);
                svc.ready_deadline = None;
                svc.next_probe = None;
                svc.health_next = None;
                self.set_state(name, State::Stopping);
                self.check_stopped(name, now);
            }
        }
    }

    /// A stopping service is down once its main process is reaped and none of its processes
    /// is left.
    fn check_stopped(&mut self, name: &str, now: Instant) {
        let me = self.me;
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        if svc.state != State::Stopping || svc.main.is_some() || !svc.processes(me).is_empty() {
            return;
        }
        svc.stop_deadline = None;
        svc.pgid = None;
        event!("{name} stopped");
        self.set_state(name, State::Stopped);
        self.finish_stop(name, now);
    }

    fn finish_stop(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let after = std::mem::replace(&mut svc.after_stop, AfterStop::Nothing);
        match after {
            AfterStop::Nothing => {}
            AfterStop::Start => {
                svc.wanted = true;
                if svc.state == State::Failed {
                    svc.state = State::Stopped;
                }
            }
            AfterStop::Remove => {
                if let Some(p) = &svc.notify_path {
                    let _ = fs::remove_file(p);
                }
                self.services.remove(name);
                self.metrics.remove(name);
                self.order.retain(|n| n != name);
                event!("{name} removed");
            }
        }
        self.advance(now);
    }

    /// The main process of `name` ended with `status`.
    fn on_main_exit(&mut self, name: &str, status: WaitStatus, now: Instant) {
        let me = self.me;
        let svc = self.services.get_mut(name).expect("known service");
        svc.main = None;
        svc.last_exit = Some(describe(status));
        // A service that daemonized: its main process exited, but a process of it lives on,
        // re-parented to us. Track that one as the service.
        let survivors: Vec<Pid> = svc
            .processes(me)
            .into_iter()
            .filter(|&p| proc_stat(p.as_raw()).is_some_and(|(_, ppid, _)| ppid == me.as_raw()))
            .collect();
        if svc.state != State::Stopping
            && !failed_exit(status)
            && let Some(&adopted) = survivors.first()
        {
            svc.main = Some(adopted);
            event!(
                "{name} main process exited {}; tracking pid {adopted}",
                describe(status)
            );
            return;
        }
        if svc.state == State::Stopping {
            event!("{name} exited {}", describe(status));
            return self.check_stopped(name, now);
        }
        event!("{name} exited {}", describe(status));
        // What the main process left in its group goes with it.
        svc.signal_all(me, Signal::SIGKILL);
        svc.pgid = None;
        let crashed = failed_exit(status);
        self.after_death(name, now, crashed);
    }

    fn after_death(&mut self, name: &str, now: Instant, crashed: bool) {
        let svc = self.services.get_mut(name).expect("known service");
        svc.ready_deadline = None;
        svc.next_probe = None;
        svc.health_next = None;
        let ran_for = svc
            .started_at
            .map_or(Duration::ZERO, |t| now.duration_since(t));
        let restart = svc.wanted
            && !self.shutting_down
            && match svc.def.restart {
                Restart::Always => true,
                Restart::OnFailure => crashed,
                Restart::Never => false,
            };
        if !restart {
            let restart_after = svc.after_stop == AfterStop::Start;
            svc.wanted = restart_after;
            self.set_state(name, State::Stopped);
            return self.finish_stop(name, now);
        }
        match svc.backoff.on_exit(now, ran_for) {
            Decision::Failed => {
                let (burst, interval) = svc.def.start_limit;
                svc.wanted = false;
                // The metrics first: whoever reads the event line and then scrapes sees them.
                self.metrics
                    .backoff
                    .get_or_create(&Metrics::labels(name))
                    .set(0.0);
                self.set_state(name, State::Failed);
                event!(
                    "{name} failed: {burst} deaths within {}s",
                    interval.as_secs_f64()
                );
                self.advance(now);
            }
            Decision::RestartAfter(delay) => {
                self.metrics
                    .backoff
                    .get_or_create(&Metrics::labels(name))
                    .set(delay.as_secs_f64());
                if delay.is_zero() {
                    // Zero backoff: straight back up, in this same turn of the loop.
                    self.set_state(name, State::Stopped);
                    self.advance(now);
                } else {
                    event!("{name} backoff {}ms", delay.as_millis());
                    svc.restart_at = Some(now + delay);
                    self.set_state(name, State::Backoff);
                }
            }
        }
    }

    fn on_health_exit(&mut self, name: &str, status: WaitStatus, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        svc.health_run = None;
        let healthy = !failed_exit(status);
        self.health_result(name, healthy, now);
    }

    fn health_result(&mut self, name: &str, healthy: bool, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        let Some(h) = svc.def.health.clone() else {
            return;
        };
        if !matches!(svc.state, State::Ready | State::Running) {
            return;
        }
        svc.health_next = Some(now + h.interval);
        if healthy {
            svc.health_failures = 0;
            return;
        }
        svc.health_failures += 1;
        event!(
            "{name} health check failed ({}/{})",
            svc.health_failures,
            h.threshold
        );
        if svc.health_failures >= h.threshold {
            event!("{name} unhealthy: restarting");
            svc.after_stop = AfterStop::Start;
            self.begin_stop(name, now);
        }
    }

    fn run_health(&mut self, name: &str, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        let Some(h) = svc.def.health.clone() else {
            return;
        };
        svc.health_next = None;
        match &h.check {
            Probe::Exec(argv) => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0);
                prepare_child(&mut cmd, Vec::new());
                let child = cmd.spawn();
                match child {
                    Ok(c) => svc.health_run = Some((Pid::from_raw(c.id() as i32), now + h.timeout)),
                    Err(e) => {
                        event!("{name} health check cannot run: {e}");
                        self.health_result(name, false, now);
                    }
                }
            }
            Probe::Connect(addr) => {
                let ok = connect_once(addr, h.timeout);
                self.health_result(name, ok, now);
            }
        }
    }

    /// The next moment a timer is due.
    fn next_deadline(&self) -> Option<Instant> {
        self.services
            .values()
            .flat_map(|s| {
                [
                    s.restart_at,
                    s.stop_deadline,
                    s.ready_deadline,
                    s.next_probe,
                    s.health_next,
                    s.health_run.map(|h| h.1),
                ]
            })
            .flatten()
            .min()
    }

    fn fire_timers(&mut self, now: Instant) {
        let me = self.me;
        let names: Vec<String> = self.services.keys().cloned().collect();
        for name in names {
            let Some(svc) = self.services.get_mut(&name) else {
                continue;
            };
            if svc.restart_at.is_some_and(|t| t <= now) {
                svc.restart_at = None;
                self.metrics
                    .backoff
                    .get_or_create(&Metrics::labels(&name))
                    .set(0.0);
                self.set_state(&name, State::Stopped);
                self.advance(now);
                continue;
            }
            if svc.stop_deadline.is_some_and(|t| t <= now) {
                svc.stop_deadline = None;
                event!(
                    "{name} did not stop within {}s: SIGKILL",
                    svc.def.stop_timeout.as_secs_f64()
                );
                svc.signal_all(me, Signal::SIGKILL);
                continue;
            }
            if svc.ready_deadline.is_some_and(|t| t <= now) {
                svc.ready_deadline = None;
                event!(
                    "{name} not ready within {}s: restarting",
                    svc.def.ready_timeout.as_secs_f64()
                );
                svc.after_stop = AfterStop::Start;
                self.begin_stop(&name, now);
                continue;
            }
            if svc.next_probe.is_some_and(|t| t <= now) {
                let Ready::Connect(addr) = svc.def.ready.clone() else {
                    continue;
                };
                if connect_once(&addr, Duration::from_millis(200)) {
                    self.mark_ready(&name, now);
                } else if let Some(svc) = self.services.get_mut(&name) {
                    svc.next_probe = Some(now + Duration::from_millis(50));
                }
                continue;
            }
            if let Some((pid, deadline)) = svc.health_run
                && deadline <= now
            {
                // A check that hangs fails; killing it makes waitpid report it.
                let _ = killpg(pid, Signal::SIGKILL);
                svc.health_run = Some((pid, now + Duration::from_secs(3600)));
                continue;
            }
            if svc.health_next.is_some_and(|t| t <= now) && svc.health_run.is_none() {
                self.run_health(&name, now);
            }
        }
    }

    /// Reaps every child that ended: service main processes, health checks, and orphans that
    /// the kernel re-parented to us.
    fn reap(&mut self, now: Instant) {
        loop {
            let status = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    event!("waitpid failed: {e}");
                    break;
                }
                Ok(s) => s,
            };
            let Some(pid) = status.pid() else { continue };
            let main = self
                .services
                .iter()
                .find(|(_, s)| s.main == Some(pid))
                .map(|(n, _)| n.clone());
            let health = self
                .services
                .iter()
                .find(|(_, s)| s.health_run.is_some_and(|h| h.0 == pid))
                .map(|(n, _)| n.clone());
            if let Some(name) = main {
                self.on_main_exit(&name, status, now);
            } else if let Some(name) = health {
                self.on_health_exit(&name, status, now);
            } else {
                // An orphan: a process of some service whose parent died before it.
                let stopping: Vec<String> = self
                    .services
                    .iter()
                    .filter(|(_, s)| s.state == State::Stopping)
                    .map(|(n, _)| n.clone())
                    .collect();
                for name in stopping {
                    self.check_stopped(&name, now);
                }
            }
        }
    }

    fn read_notify(&mut self, name: &str, now: Instant) {
        let mut ready = false;
        {
            let Some(svc) = self.services.get_mut(name) else {
                return;
            };
            let Some(sock) = &svc.notify else { return };
            loop {
                let mut buf = [0u8; 4096];
                let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
                let mut iov = [IoSliceMut::new(&mut buf)];
                let (len, sender) = match recvmsg::<UnixAddr>(
                    sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(msg) => {
                        let mut sender = None;
                        if let Ok(cmsgs) = msg.cmsgs() {
                            for c in cmsgs {
                                if let ControlMessageOwned::ScmCredentials(cred) = c {
                                    sender = Some(cred.pid());
                                }
                            }
                        }
                        (msg.bytes, sender)
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(Errno::EINTR) => continue,
                    Err(_) => break,
                };
                // Only the service's own processes may speak for it: the kernel-checked pid
                // of the sender must be in the service's process group.
                let ours = sender.is_some_and(|pid| {
                    proc_stat(pid)
                        .is_some_and(|(_, _, pgid)| svc.pgid.is_some_and(|g| g.as_raw() == pgid))
                        || tagged(pid, name)
                });
                let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                if !ours {
                    event!(
                        "{name}: ignored a notification from pid {sender:?}, not one of the service's processes"
                    );
                    continue;
                }
                for line in text.lines() {
                    if line == "READY=1" {
                        ready = true;
                    } else if let Some(s) = line.strip_prefix("STATUS=") {
                        svc.status_text = s.to_string();
                        event!("{name} status: {s}");
                    } else if line == "STOPPING=1" {
                        event!("{name} says it is stopping");
                    }
                }
            }
        }
        if ready {
            self.mark_ready(name, now);
        }
    }

    fn read_pipe(&mut self, name: &str, idx: usize) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let mut closed = false;
        let mut lines: Vec<(&'static str, Vec<u8>)> = Vec::new();
        {
            let (fd, stream, partial) = &mut svc.pipes[idx];
            let mut buf = [0u8; 8192];
            loop {
                match nix::unistd::read(&*fd, &mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        partial.extend_from_slice(&buf[..n]);
                        while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = partial.drain(..=pos).collect();
                            lines.push((stream, line[..line.len() - 1].to_vec()));
                        }
                    }
                    Err(Errno::EINTR) => continue,
                    Err(_) => break, // EAGAIN: all read
                }
            }
            if closed && !partial.is_empty() {
                lines.push((stream, std::mem::take(partial)));
            }
        }
        if svc.log.is_none() {
            match RotatingLog::open(&self.log_dir, name, svc.def.log.0, svc.def.log.1) {
                Ok(l) => svc.log = Some(l),
                Err(e) => event!(
                    "{name} cannot open its log in {}: {e}",
                    self.log_dir.display()
                ),
            }
        }
        for (stream, line) in lines {
            if let Some(log) = &mut svc.log
                && let Err(e) = log.write_line(stream, &line)
            {
                event!("{name} log write failed: {e}");
            }
            svc.followers.retain_mut(|f| {
                let mut l = line.clone();
                l.push(b'\n');
                f.write_all(&l).is_ok()
            });
        }
        if closed {
            svc.pipes.remove(idx);
        }
    }

    fn accept(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            // SO_PEERCRED: the uid of the process that connected, checked by the kernel.
            let uid = getsockopt(&stream, sockopt::PeerCredentials)
                .map(|c| c.uid())
                .ok();
            if uid != Some(self.allowed_uid) {
                let mut s = &stream;
                let _ = writeln!(
                    s,
                    "error permission denied: uid {} is not allowed (only uid {})",
                    uid.map_or("?".to_string(), |u| u.to_string()),
                    self.allowed_uid
                );
                event!("refused a control connection from uid {uid:?}");
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let id = self.next_conn;
            self.next_conn += 1;
            self.conns.insert(
                id,
                Conn {
                    stream,
                    buf: Vec::new(),
                    waiting: None,
                },
            );
        }
    }

    fn read_conn(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let mut buf = [0u8; 1024];
        let line = loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    self.conns.remove(&id);
                    return;
                }
                Ok(n) => {
                    conn.buf.extend_from_slice(&buf[..n]);
                    if let Some(pos) = conn.buf.iter().position(|&b| b == b'\n') {
                        break String::from_utf8_lossy(&conn.buf[..pos]).trim().to_string();
                    }
                    if conn.buf.len() > 4096 {
                        self.reply_close(id, "error request line too long");
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.conns.remove(&id);
                    return;
                }
            }
        };
        self.request(id, &line, now);
    }

    fn reply_close(&mut self, id: usize, text: &str) {
        if let Some(conn) = self.conns.remove(&id) {
            let _ = conn.stream.set_nonblocking(false);
            let _ = conn.stream.set_write_timeout(Some(Duration::from_secs(5)));
            let mut s = &conn.stream;
            let _ = s.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = s.write_all(b"\n");
            }
        }
    }

    fn status_table(&self, now: Instant) -> String {
        let mut out = String::from("ok\n");
        for name in &self.order {
            let s = &self.services[name];
            let pid = s
                .main
                .filter(|_| s.state.active())
                .map_or("-".to_string(), |p| p.to_string());
            let uptime = match (s.state.active(), s.started_at) {
                (true, Some(t)) => format!("{}s", now.duration_since(t).as_secs()),
                _ => "-".to_string(),
            };
            let last = s.last_exit.clone().unwrap_or_else(|| "-".to_string());
            out.push_str(&format!(
                "{name} {} {pid} {uptime} {} {last}\n",
                s.state.as_str(),
                s.restarts
            ));
        }
        out
    }

    fn request(&mut self, id: usize, line: &str, now: Instant) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if self.shutting_down && words.first() != Some(&"status") {
            return self.reply_close(id, "error svd is shutting down");
        }
        match words.as_slice() {
            ["status"] => {
                let table = self.status_table(now);
                self.reply_close(id, &table);
            }
            [verb @ ("start" | "stop" | "restart"), name] => {
                let name = name.to_string();
                let verb = verb.to_string();
                let Some(svc) = self.services.get_mut(&name) else {
                    return self.reply_close(id, &format!("error no service named {name}"));
                };
                match verb.as_str() {
                    "start" => {
                        svc.wanted = true;
                        svc.backoff.reset();
                        if matches!(svc.state, State::Failed | State::Backoff) {
                            svc.restart_at = None;
                            svc.state = State::Stopped;
                        }
                        if svc.state == State::Stopping {
                            svc.after_stop = AfterStop::Start;
                        }
                    }
                    "stop" => {
                        svc.wanted = false;
                        svc.after_stop = AfterStop::Nothing;
                    }
                    _ => {
                        svc.backoff.reset();
                        svc.after_stop = AfterStop::Start;
                        if matches!(svc.state, State::Failed | State::Backoff | State::Stopped) {
                            svc.wanted = true;
                            svc.restart_at = None;
                            svc.state = State::Stopped;
                            svc.after_stop = AfterStop::Nothing;
                        }
                    }
                }
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.waiting = Some((name.clone(), verb.clone()));
                }
                if verb != "start" {
                    self.begin_stop(&name, now);
                }
                self.advance(now);
                self.answer_waiters(&name);
            }
            ["logs", name] | ["logs", name, "-f"] => {
                let follow = words.len() == 3;
                let Some(svc) = self.services.get_mut(*name) else {
                    return self.reply_close(id, &format!("error no service named {name}"));
                };
                let files = match &svc.log {
                    Some(l) => l.all_files(),
                    None => vec![self.log_dir.join(format!("{name}.log"))],
                };
                let Some(conn) = self.conns.remove(&id) else { return };
                let _ = conn.stream.set_nonblocking(false);
                let _ = conn.stream.set_write_timeout(Some(Duration::from_secs(5)));
                let mut s = &conn.stream;
                let mut ok = s.write_all(b"ok\n").is_ok();
                for f in files {
                    if let Ok(text) = fs::read(&f) {
                        ok = ok && s.write_all(&text).is_ok();
                    }
                }
                if follow && ok {
                    let _ = conn.stream.set_nonblocking(true);
                    svc.followers.push(conn.stream);
                }
            }
            ["reload"] => match self.reload(now) {
                Ok(summary) => self.reply_close(id, &format!("ok {summary}")),
                Err(e) => self.reply_close(id, &format!("error {e}")),
            },
            _ => self.reply_close(
                id,
                &format!("error unknown request {line:?} (status, start NAME, stop NAME, restart NAME, logs NAME [-f], reload)"),
            ),
        }
    }

    /// Answers the connections waiting for `name` if it got where they asked.
    fn answer_waiters(&mut self, name: &str) {
        let Some(svc) = self.services.get(name) else {
            let ids: Vec<usize> = self
                .conns
                .iter()
                .filter(|(_, c)| c.waiting.as_ref().is_some_and(|w| w.0 == name))
                .map(|(i, _)| *i)
                .collect();
            for id in ids {
                self.reply_close(id, &format!("error {name} was removed"));
            }
            return;
        };
        let state = svc.state;
        let pending_start = svc.after_stop == AfterStop::Start;
        let mut done = Vec::new();
        for (id, c) in &self.conns {
            let Some((n, verb)) = &c.waiting else {
                continue;
            };
            if n != name {
                continue;
            }
            let answer = match (verb.as_str(), state) {
                ("stop", State::Stopped) => Some(format!("ok {name} stopped")),
                ("start" | "restart", State::Ready | State::Running) if !pending_start => {
                    Some(format!("ok {name} {}", state.as_str()))
                }
                (_, State::Failed) => Some(format!("error {name} failed")),
                _ => None,
            };
            if let Some(a) = answer {
                done.push((*id, a));
            }
        }
        for (id, a) in done {
            self.reply_close(id, &a);
        }
    }

    fn reload(&mut self, now: Instant) -> Result<String, String> {
        let new = load(&self.config_path).map_err(|e| {
            event!("reload refused, keeping the old config: {e}");
            format!("reload refused: {e}")
        })?;
        let mut started = Vec::new();
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        for name in self.services.keys().cloned().collect::<Vec<_>>() {
            if !new.services.contains_key(&name) {
                let svc = self.services.get_mut(&name).expect("listed");
                svc.wanted = false;
                svc.after_stop = AfterStop::Remove;
                removed.push(name);
            }
        }
        for (name, def) in &new.services {
            match self.services.get_mut(name) {
                None => {
                    self.services.insert(name.clone(), Svc::new(def.clone()));
                    self.metrics.set_state(name, State::Stopped);
                    started.push(name.clone());
                }
                Some(svc) if svc.def != *def => {
                    svc.def = def.clone();
                    svc.backoff = Backoff::new(def.backoff, def.start_limit);
                    svc.log = None; // reopened with the new rotation policy
                    if svc.notify.is_some() && def.ready != Ready::Notify {
                        svc.notify = None;
                        if let Some(p) = svc.notify_path.take() {
                            let _ = fs::remove_file(p);
                        }
                    }
                    svc.after_stop = AfterStop::Start;
                    changed.push(name.clone());
                }
                Some(_) => {}
            }
        }
        // The new order: every service after its dependencies; services being removed last.
        let mut order = new.start_order();
        order.extend(removed.iter().cloned());
        self.order = order;
        let summary = format!(
            "reloaded: new [{}], removed [{}], restarted [{}]",
            started.join(" "),
            removed.join(" "),
            changed.join(" ")
        );
        event!("{summary}");
        for name in removed.iter().chain(&changed) {
            self.begin_stop(name, now);
        }
        self.advance(now);
        Ok(summary)
    }

    fn poll_once(&mut self) -> io::Result<()> {
        let now = Instant::now();
        let timeout = match self.next_deadline() {
            None => PollTimeout::NONE,
            Some(t) => {
                // Round up: waking a millisecond early would spin until the deadline.
                let ms = t.saturating_duration_since(now).as_micros().div_ceil(1000);
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut tokens = Vec::new();
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = Vec::new();
            fds.push(PollFd::new(self.signals.as_fd(), PollFlags::POLLIN));
            tokens.push(Token::Signal);
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            tokens.push(Token::Listener);
            for (id, c) in &self.conns {
                fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
                tokens.push(Token::Conn(*id));
            }
            for (name, s) in &self.services {
                if let Some(n) = &s.notify {
                    fds.push(PollFd::new(n.as_fd(), PollFlags::POLLIN));
                    tokens.push(Token::Notify(name.clone()));
                }
                for (i, (fd, _, _)) in s.pipes.iter().enumerate() {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    tokens.push(Token::Pipe(name.clone(), i));
                }
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            fds.iter()
                .enumerate()
                .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| i)
                .collect()
        };
        let now = Instant::now();
        // Pipes are handled from the highest index down, so that a closed pipe removed from a
        // service's list does not shift the ones still to read.
        for &i in ready.iter().rev() {
            match &tokens[i] {
                Token::Signal => {}
                Token::Listener => self.accept(),
                Token::Conn(id) => self.read_conn(*id, now),
                Token::Notify(name) => {
                    let name = name.clone();
                    self.read_notify(&name, now);
                }
                Token::Pipe(name, idx) => {
                    let (name, idx) = (name.clone(), *idx);
                    self.read_pipe(&name, idx);
                }
            }
        }
        // Signals last: a service's last output is logged before its death is handled.
        if ready.contains(&0) {
            while let Ok(Some(info)) = self.signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => self.reap(now),
                    Ok(Signal::SIGHUP) => {
                        let _ = self.reload(now);
                    }
                    Ok(sig @ (Signal::SIGTERM | Signal::SIGINT)) => {
                        if !self.shutting_down {
                            event!("{} received: stopping every service", sig.as_str());
                            self.shutting_down = true;
                            for s in self.services.values_mut() {
                                s.wanted = false;
                            }
                            let ids: Vec<usize> = self.conns.keys().copied().collect();
                            for id in ids {
                                self.reply_close(id, "error svd is shutting down");
                            }
                        }
                    }
                    _ => {}
                }
            }
            // SIGCHLD coalesces; reaping again is cheap and never misses a death.
            self.reap(now);
        }
        self.fire_timers(Instant::now());
        self.advance(Instant::now());
        Ok(())
    }

    fn done(&self) -> bool {
        self.shutting_down
            && self
                .services
                .values()
                .all(|s| matches!(s.state, State::Stopped | State::Failed))
    }
}

// ---------------------------------------------------------------------------------------------
// The two programs
// ---------------------------------------------------------------------------------------------

/// What runs in the child between fork and exec: an empty signal mask (svd blocks the signals
/// it reads from its signalfd, and a mask survives fork and exec: a service would otherwise
/// never see SIGTERM), then the service's resource limits.
fn prepare_child(cmd: &mut Command, limits: Vec<(Resource, u64)>) {
    // SAFETY: between fork and exec the closure only calls sigprocmask(2) and setrlimit(2),
    // system calls that are async-signal-safe; it allocates nothing (the Vec was built before).
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            )
            .map_err(io::Error::from)?;
            for &(resource, value) in &limits {
                setrlimit(resource, value, value).map_err(io::Error::from)?;
            }
            Ok(())
        });
    }
}

fn connect_once(addr: &str, timeout: Duration) -> bool {
    if addr.starts_with('/') {
        return UnixStream::connect(addr).is_ok();
    }
    use std::net::ToSocketAddrs;
    let Ok(mut addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs.any(|a| TcpStream::connect_timeout(&a, timeout).is_ok())
}

fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("svd"),
        _ => std::env::temp_dir().join(format!("svd-{}", nix::unistd::getuid())),
    }
}

fn default_socket() -> PathBuf {
    std::env::var_os("SVD_SOCKET").map_or_else(|| runtime_dir().join("svd.sock"), PathBuf::from)
}

const SVD_USAGE: &str = "usage: svd --config FILE [--socket S] [--metrics 127.0.0.1:PORT] [--log-dir D] [--allow-uid UID]";

struct Args {
    config: PathBuf,
    socket: PathBuf,
    metrics: Option<String>,
    log_dir: PathBuf,
    allow_uid: u32,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut config = None;
    let mut socket = None;
    let mut metrics = None;
    let mut log_dir = None;
    let mut allow_uid = nix::unistd::getuid().as_raw();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--metrics" => metrics = Some(value()?),
            "--log-dir" => log_dir = Some(PathBuf::from(value()?)),
            "--allow-uid" => {
                let v = value()?;
                allow_uid = v
                    .parse()
                    .map_err(|_| format!("--allow-uid {v:?}: not a uid"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(Args {
        config,
        socket: socket.unwrap_or_else(default_socket),
        metrics,
        log_dir: log_dir.unwrap_or_else(|| runtime_dir().join("logs")),
        allow_uid,
    })
}

/// `svd`'s main: supervises until SIGTERM or SIGINT, then exits 0.
pub fn svd_main(args: Vec<String>) -> ExitCode {
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{SVD_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("svd: {e}\n{SVD_USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("svd: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    // Nothing starts until the whole config is valid.
    let config = match load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("svd: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // Block the signals we handle before any thread exists, so that every thread inherits the
    // mask and they are only ever read from the signalfd. Children get a clean mask from std.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;
    // A child subreaper: orphans of our services come back to us, not to init.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;

    fs::create_dir_all(&args.log_dir)
        .map_err(|e| format!("log dir {}: {e}", args.log_dir.display()))?;
    let sock_dir = args
        .socket
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(sock_dir)
        .map_err(|e| format!("socket dir {}: {e}", sock_dir.display()))?;
    if args.socket.exists() {
        if UnixStream::connect(&args.socket).is_ok() {
            return Err(format!(
                "another svd already listens on {}",
                args.socket.display()
            ));
        }
        let _ = fs::remove_file(&args.socket); // stale: its svd is gone
    }
    // umask 0177 while binding: the socket file is 0600 from the moment it exists.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let listener = UnixListener::bind(&args.socket);
    nix::sys::stat::umask(old);
    let listener = listener.map_err(|e| format!("cannot bind {}: {e}", args.socket.display()))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut notify_dir = args.socket.clone().into_os_string();
    notify_dir.push(".notify");
    let notify_dir = PathBuf::from(notify_dir);
    let _ = fs::remove_dir_all(&notify_dir);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&notify_dir)
        .map_err(|e| format!("{}: {e}", notify_dir.display()))?;

    let (metrics, registry) = Metrics::new();
    let mut http = None;
    if let Some(addr) = &args.metrics {
        let server = tiny_http::Server::http(addr.as_str())
            .map_err(|e| format!("metrics on {addr}: {e}"))?;
        let server = Arc::new(server);
        let bound = server
            .server_addr()
            .to_ip()
            .map_or(addr.clone(), |a| a.to_string());
        let thread = serve_metrics(server.clone(), Arc::new(registry));
        event!("metrics on http://{bound}/metrics");
        http = Some((server, thread));
    }

    let order = config.start_order();
    let mut sup = Supervisor {
        config_path: args.config.clone(),
        socket: args.socket.clone(),
        notify_dir,
        log_dir: args.log_dir.clone(),
        allowed_uid: args.allow_uid,
        services: config
            .services
            .into_values()
            .map(|s| (s.name.clone(), Svc::new(s)))
            .collect(),
        order,
        conns: BTreeMap::new(),
        next_conn: 0,
        shutting_down: false,
        metrics,
        signals,
        listener,
        me: nix::unistd::getpid(),
    };
    for name in sup.order.clone() {
        sup.metrics.set_state(&name, State::Stopped);
    }
    event!("listening on {}", sup.socket.display());
    sup.advance(Instant::now());
    let result = loop {
        if sup.done() {
            break Ok(());
        }
        if let Err(e) = sup.poll_once() {
            break Err(e);
        }
    };
    // Leave nothing: the socket files, the metrics thread. Every service is already down.
    let _ = fs::remove_file(&sup.socket);
    let _ = fs::remove_dir_all(&sup.notify_dir);
    if let Some((server, thread)) = http {
        server.unblock();
        let _ = thread.join();
    }
    match result {
        Ok(()) => {
            event!("every service stopped: exiting");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!("poll failed: {e}")),
    }
}

const SVCTL_USAGE: &str = "usage: svctl [--socket S] status | start NAME | stop NAME | restart NAME | logs NAME [-f] | reload";

/// `svctl`'s main: one request, its answer on stdout.
pub fn svctl_main(args: Vec<String>) -> ExitCode {
    let mut socket = default_socket();
    let mut rest: &[String] = &args;
    if rest.first().map(String::as_str) == Some("--socket") {
        let Some(s) = rest.get(1) else {
            eprintln!("svctl: --socket needs a value\n{SVCTL_USAGE}");
            return ExitCode::from(2);
        };
        socket = PathBuf::from(s);
        rest = &rest[2..];
    }
    let words: Vec<&str> = rest.iter().map(String::as_str).collect();
    let valid = matches!(
        words.as_slice(),
        ["status"] | ["reload"] | ["start" | "stop" | "restart" | "logs", _] | ["logs", _, "-f"]
    );
    if !valid {
        eprintln!(
            "svctl: {}\n{SVCTL_USAGE}",
            if words.is_empty() {
                "no command".to_string()
            } else {
                format!("cannot understand {:?}", words.join(" "))
            }
        );
        return ExitCode::from(2);
    }
    let stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("svctl: cannot reach svd at {}: {e}", socket.display());
            return ExitCode::from(2);
        }
    };
    let mut w = &stream;
    if writeln!(w, "{}", words.join(" ")).is_err() {
        eprintln!("svctl: svd closed the connection");
        return ExitCode::from(2);
    }
    let mut reader = BufReader::new(&stream);
    let mut first = String::new();
    match reader.read_line(&mut first) {
        Ok(0) | Err(_) => {
            eprintln!("svctl: svd closed the connection without an answer");
            return ExitCode::from(2);
        }
        Ok(_) => {}
    }
    let first = first.trim_end();
    if let Some(reason) = first.strip_prefix("error ") {
        eprintln!("svctl: {reason}");
        return ExitCode::from(1);
    }
    let rest_of_first = first.strip_prefix("ok").unwrap_or(first).trim();
    let mut out = io::stdout().lock();
    if !rest_of_first.is_empty() {
        let _ = writeln!(out, "{rest_of_first}");
    }
    let _ = out.flush();
    // Copy the rest as it comes (logs -f: until svd goes away or we are interrupted).
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break; // a closed stdout (svctl logs -f | head) is a normal end
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    ExitCode::SUCCESS
}
