//! A config refused at load, with the file, the line and the reason.
//!
//! Scenario: a supervisor reads its services from a TOML file, one `[service.NAME]` table each.
//! A typo found at load costs the user a second; the same typo found at three in the morning,
//! when the service it breaks is restarted, costs them the night. So the whole file is checked
//! before anything starts, and every mistake is reported the way a compiler does it:
//! `FILE:LINE: reason`, the line being where the mistake is, not where the parser gave up.
//!
//! Goal: implement [`parse`] (and [`load`], which reads the file first) and
//! [`Config::start_order`]. [`parse`] turns the text into a [`Config`] or refuses it with one
//! [`ConfigError`]: a TOML syntax error, an unknown key (refused, not ignored: `restrat` must
//! not silently mean the default), a value of the wrong type or out of range (every duration,
//! `*_s` and `*_ms` alike, at most [`MAX_DURATION`]; `log.files` at most [`MAX_LOG_FILES`];
//! `log.max_bytes` at most [`MAX_LOG_BYTES`]: a value the program cannot use must be refused
//! at load, not crash it later, as `Instant::now() + Duration` does past the clock's range,
//! nor loop four billion times at a rotation), a `depends_on`
//! naming a service that does not exist, or a dependency cycle (the error names it:
//! `a -> b -> a`). Every key missing from a service gets the default documented on
//! [`Service`]. [`Config::start_order`] lists the services so that each comes after everything
//! it depends on; among services free to start at the same point, by name, so the order is the
//! same on every run.
//!
//! Chapter: `docs/src/12-supervisor.md#config`. Check it with `cargo xtask check supervisor/config`.
//!
//! The file format, every key optional but `command`:
//!
//! ```toml
//! [service.web]
//! command = ["python3", "-m", "http.server", "8000"]   # program and arguments
//! env = { LANG = "C.UTF-8" }         # added to the supervisor's environment
//! cwd = "/srv/web"                   # working directory
//! restart = "on-failure"             # "always", "on-failure" or "never"
//! backoff = { initial_ms = 500, factor = 2.0, max_ms = 60000, jitter = 0.2, reset_after_s = 30 }
//! start_limit = { burst = 5, interval_s = 60 }
//! depends_on = { db = "ready" }      # NAME = "started" or "ready"
//! ready = "none"                     # "none", "notify" or { connect = "127.0.0.1:8000" }
//! ready_timeout_s = 30
//! stop_signal = "SIGTERM"            # "SIGTERM" or "TERM"
//! stop_timeout_s = 10
//! rlimits = { nofile = 1024, core = 0 }   # setrlimit(2) names without RLIMIT_, lower case
//! health = { connect = "127.0.0.1:8000", interval_s = 10, timeout_s = 5, threshold = 3 }
//! log = { max_bytes = 1048576, files = 5 }
//! ```
//!
//! Seconds (`*_s`) may have a fraction (`stop_timeout_s = 0.5`). A `connect` address is a Unix
//! socket path (starting with `/`) or a numeric `IP:PORT` (`127.0.0.1:8000`, `[::1]:8000`): a
//! host name is refused at load, because resolving it (`getaddrinfo(3)`) can block for seconds
//! and svd's one loop must never wait.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::resource::Resource;
use nix::sys::signal::Signal;
use serde::Deserialize;

/// The longest time any key may give (`*_s`, `*_ms`): a week.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most files `log.files` may keep.
pub const MAX_LOG_FILES: u32 = 1000;

/// The largest `log.max_bytes`: 1 TiB.
pub const MAX_LOG_BYTES: u64 = 1 << 40;

/// A whole config file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from (the `origin` given to [`parse`]).
    pub path: PathBuf,
    /// Every service, by name.
    pub services: BTreeMap<String, Service>,
}

/// One `[service.NAME]` table, with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// The table's name: letters, digits, `-` and `_` only (it names log files and appears
    /// in the control protocol).
    pub name: String,
    /// The program and its arguments; never empty.
    pub command: Vec<String>,
    /// Variables added to the supervisor's environment (default: none).
    pub env: BTreeMap<String, String>,
    /// The working directory (default: the supervisor's).
    pub cwd: Option<PathBuf>,
    /// When to start the service again after it ends (default: [`Restart::OnFailure`]).
    pub restart: Restart,
    /// The delay between restarts.
    pub backoff: BackoffPolicy,
    /// How many deaths in how long mark the service failed.
    pub start_limit: StartLimit,
    /// The services this one waits for, and what it waits for in each.
    pub depends_on: BTreeMap<String, Condition>,
    /// How the service says it is ready (default: [`Ready::None`]: ready once started).
    pub ready: Ready,
    /// How long readiness may take before the start counts as failed (default: 30 s).
    pub ready_timeout: Duration,
    /// The signal that asks the service to stop (default: SIGTERM).
    pub stop_signal: Signal,
    /// How long a stop may take before SIGKILL (default: 10 s).
    pub stop_timeout: Duration,
    /// Resource limits set in the service before exec, `(resource, soft = hard limit)`,
    /// in the file's order (default: none).
    pub rlimits: Vec<(Resource, u64)>,
    /// A periodic check of a running service (default: none).
    pub health: Option<Health>,
    /// Log rotation (default: 5 files of 1 MiB).
    pub log: LogPolicy,
}

/// `restart = "always" | "on-failure" | "never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Whatever the way it ended.
    Always,
    /// After a non-zero exit status or a signal, not after `exit 0`.
    OnFailure,
    /// Never: the service stays stopped.
    Never,
}

/// What a dependent waits for in a dependency: `"started"` or `"ready"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// The dependency's process exists.
    Started,
    /// The dependency said it is ready (see [`Ready`]).
    Ready,
}

/// How a service tells that it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// `"none"`: ready as soon as it is started.
    None,
    /// `"notify"`: it sends `READY=1` to `$NOTIFY_SOCKET`.
    Notify,
    /// `{ connect = "IP:PORT" }` or `{ connect = "/unix/path" }`: ready once a connect succeeds.
    /// The address is numeric (`127.0.0.1:8000`, `[::1]:8000`): a host name is refused at load.
    Connect(String),
}

/// `backoff = { initial_ms, factor, max_ms, jitter, reset_after_s }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// The first delay (default 500 ms; 0 restarts at once).
    pub initial: Duration,
    /// Each further delay is the previous one times this (default 2.0; at least 1.0).
    pub factor: f64,
    /// The delay never exceeds this (default 60 s; at least `initial`).
    pub max: Duration,
    /// Each delay is moved by up to this fraction, up or down, at random (default 0.2; 0 to 1).
    pub jitter: f64,
    /// A run at least this long starts the sequence again from `initial` (default 30 s).
    pub reset_after: Duration,
}

/// `start_limit = { burst, interval_s }`: `burst` deaths within `interval` mark the service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimit {
    /// How many deaths (default 5; at least 1).
    pub burst: u32,
    /// Within how long (default 60 s).
    pub interval: Duration,
}

/// `health = { exec = [...] | connect = "...", interval_s, timeout_s, threshold }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// What is checked.
    pub check: HealthCheck,
    /// Time between two checks (default 10 s).
    pub interval: Duration,
    /// How long one check may take (default 5 s).
    pub timeout: Duration,
    /// How many failures in a row restart the service (default 3; at least 1).
    pub threshold: u32,
}

/// The two kinds of health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// A command that must exit 0.
    Exec(Vec<String>),
    /// An address (a numeric `IP:PORT` or a Unix socket path) that must accept a connection.
    Connect(String),
}

/// `log = { max_bytes, files }`: at most `files` files of about `max_bytes` bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPolicy {
    /// Size at which the file is rotated (default 1 MiB; at least 1).
    pub max_bytes: u64,
    /// How many files are kept, the current one included (default 5; at least 1).
    pub files: u32,
}

/// Why a config was refused. Displays as `FILE:LINE: reason` (or `FILE: reason` when no line
/// applies, e.g. the file cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line of the mistake, when there is one.
    pub line: Option<usize>,
    /// What is wrong, lower-case, without a full stop.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Every service name, each after all the services it depends on; ties broken by name.
    ///
    /// Stop in the reverse of this order.
    pub fn start_order(&self) -> Vec<String> {
        // TODO: order the services so that each comes after its dependencies, deterministically.
        todo!("the start order")
    }
}

/// Reads `path` and [`parse`]s it.
///
/// # Errors
/// The file cannot be read (`FILE: reason`), or anything [`parse`] refuses.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    // TODO: read the file; a failure is a ConfigError without a line.
    todo!("read the config file")
}

/// Parses and checks a whole config. `origin` is the file name the errors show.
///
/// The types above are the checked result; how the file is read into them is yours to write
/// (serde's derive and `toml` are dependencies of this crate).
///
/// # Errors
/// The first mistake found, as `FILE:LINE: reason`.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    // TODO: parse the text, refuse every mistake with its line, fill in the defaults.
    todo!("parse and check the config")
}
