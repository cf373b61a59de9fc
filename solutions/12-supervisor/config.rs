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
//! not silently mean the default), a value of the wrong type or out of range, a `depends_on`
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use nix::sys::resource::Resource;

/// The longest time any key may give (`*_s`, `*_ms`): a week. Past it a value is a mistake, and
/// one large enough overflows the clock when added to `Instant::now()`.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most files `log.files` may keep.
pub const MAX_LOG_FILES: u32 = 1000;

/// The largest `log.max_bytes`: 1 TiB.
pub const MAX_LOG_BYTES: u64 = 1 << 40;
use nix::sys::signal::Signal;
use serde::Deserialize;
use toml::Spanned;

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
        // Kahn's algorithm: repeatedly take the smallest name whose dependencies are all taken.
        // A BTreeSet as the "free" set makes the choice deterministic.
        let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
        let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, svc) in &self.services {
            waiting.insert(name, svc.depends_on.len());
            for dep in svc.depends_on.keys() {
                dependents.entry(dep).or_default().push(name);
            }
        }
        let mut free: BTreeSet<&str> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(name, _)| *name)
            .collect();
        let mut order = Vec::with_capacity(self.services.len());
        while let Some(next) = free.pop_first() {
            order.push(next.to_string());
            for dependent in dependents.get(next).into_iter().flatten() {
                let n = waiting
                    .get_mut(dependent)
                    .expect("every dependent is a service");
                *n -= 1;
                if *n == 0 {
                    free.insert(dependent);
                }
            }
        }
        // `parse` refused cycles, so every service was taken.
        order
    }
}

/// Reads `path` and [`parse`]s it.
///
/// # Errors
/// The file cannot be read (`FILE: reason`), or anything [`parse`] refuses.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: None,
        reason: format!("cannot read the config: {e}"),
    })?;
    parse(&text, path)
}

// The file as written. `deny_unknown_fields` turns a misspelt key into an error instead of a
// silently applied default; `Spanned` keeps where each value was, so that a mistake found after
// parsing (an unknown dependency, a cycle, a bad signal name) can still name its line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    service: BTreeMap<String, Spanned<RawService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    command: Spanned<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    restart: Option<Restart>,
    backoff: Option<Spanned<RawBackoff>>,
    start_limit: Option<Spanned<RawStartLimit>>,
    #[serde(default)]
    depends_on: BTreeMap<String, Spanned<Condition>>,
    // A word or a table: read as a plain value and interpreted below, so that a mistake gets a
    // message about `ready`, not about serde's untagged enums.
    ready: Option<Spanned<toml::Value>>,
    ready_timeout_s: Option<Spanned<f64>>,
    stop_signal: Option<Spanned<String>>,
    stop_timeout_s: Option<Spanned<f64>>,
    #[serde(default)]
    rlimits: BTreeMap<String, Spanned<u64>>,
    health: Option<Spanned<RawHealth>>,
    log: Option<Spanned<RawLog>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackoff {
    initial_ms: Option<u64>,
    factor: Option<f64>,
    max_ms: Option<u64>,
    jitter: Option<f64>,
    reset_after_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStartLimit {
    burst: Option<u32>,
    interval_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    exec: Option<Vec<String>>,
    connect: Option<String>,
    interval_s: Option<f64>,
    timeout_s: Option<f64>,
    threshold: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    max_bytes: Option<u64>,
    files: Option<u32>,
}

/// Builds errors that point into one text.
struct Origin<'a> {
    text: &'a str,
    file: &'a Path,
}

impl Origin<'_> {
    fn error(&self, span: Option<Range<usize>>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            // The line is one more than the number of newlines before the span's start.
            line: span.map(|s| {
                let start = s.start.min(self.text.len());
                self.text.as_bytes()[..start]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            }),
            reason: reason.into(),
        }
    }

    fn at<T>(&self, value: &Spanned<T>, reason: impl Into<String>) -> ConfigError {
        self.error(Some(value.span()), reason)
    }

    /// A `connect` address that svd can use without waiting: a Unix socket path, or a numeric
    /// `IP:PORT` (which std parses without a lookup). A host name would need `getaddrinfo(3)`,
    /// which blocks for as long as a DNS server takes to answer, or not to.
    fn connect_address<T>(
        &self,
        at: &Spanned<T>,
        key: &str,
        addr: &str,
    ) -> Result<String, ConfigError> {
        if addr.starts_with('/') || addr.parse::<std::net::SocketAddr>().is_ok() {
            return Ok(addr.to_string());
        }
        Err(self.at(
            at,
            format!(
                "`{key}` must be a Unix socket path or a numeric IP:PORT such as 127.0.0.1:8000 \
                 or [::1]:8000, got {addr:?}: svd resolves no host names (getaddrinfo blocks)"
            ),
        ))
    }

    /// Seconds as a `Duration`, from 0 to [`MAX_DURATION`]; negative, NaN or larger values
    /// are refused (a `Duration` holds up to 584 billion years, but `Instant + Duration` past
    /// what the clock can count panics, at the moment the supervisor uses it).
    fn seconds(&self, value: &Spanned<f64>, key: &str) -> Result<Duration, ConfigError> {
        Duration::try_from_secs_f64(*value.get_ref())
            .ok()
            .filter(|d| *d <= MAX_DURATION)
            .ok_or_else(|| {
                self.at(
                    value,
                    format!(
                        "`{key}` must be a number of seconds from 0 to {}",
                        MAX_DURATION.as_secs()
                    ),
                )
            })
    }

    /// Milliseconds as a `Duration`, up to [`MAX_DURATION`].
    fn millis(&self, value: u64, span: Range<usize>, key: &str) -> Result<Duration, ConfigError> {
        let d = Duration::from_millis(value);
        if d > MAX_DURATION {
            return Err(self.error(
                Some(span),
                format!("`{key}` must be at most {} ms", MAX_DURATION.as_millis()),
            ));
        }
        Ok(d)
    }
}

/// Parses and checks a whole config. `origin` is the file name the errors show.
///
/// # Errors
/// The first mistake found, as `FILE:LINE: reason`.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let o = Origin { text, file: origin };
    // toml's error knows where the parser stopped: its span gives the line, `message()` the
    // reason without toml's own multi-line rendering.
    let raw: RawConfig =
        toml::from_str(text).map_err(|e| o.error(e.span(), e.message().trim().to_string()))?;
    let mut services = BTreeMap::new();
    for (name, raw) in &raw.service {
        let svc = service(&o, name, raw)?;
        services.insert(name.clone(), svc);
    }
    for (name, raw) in &raw.service {
        for (dep, cond) in &raw.get_ref().depends_on {
            if dep == name {
                return Err(o.at(cond, format!("service `{name}` depends on itself")));
            }
            if !services.contains_key(dep) {
                return Err(o.at(
                    cond,
                    format!("service `{name}` depends on `{dep}`, which is not defined"),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&services) {
        let (first, second) = (&cycle[0], &cycle[1]);
        let span = raw.service[first].get_ref().depends_on[second].span();
        return Err(o.error(
            Some(span),
            format!("dependency cycle: {}", cycle.join(" -> ")),
        ));
    }
    Ok(Config {
        path: origin.to_path_buf(),
        services,
    })
}

/// One service from its table, defaults filled in and every value checked.
fn service(o: &Origin<'_>, name: &str, raw: &Spanned<RawService>) -> Result<Service, ConfigError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(o.at(
            raw,
            format!("service name `{name}`: use only letters, digits, `-` and `_`"),
        ));
    }
    let r = raw.get_ref();
    if r.command.get_ref().first().is_none_or(|p| p.is_empty()) {
        return Err(o.at(
            &r.command,
            format!("service `{name}`: `command` needs at least a program"),
        ));
    }
    let backoff = match &r.backoff {
        None => DEFAULT_BACKOFF,
        Some(b) => backoff(o, b)?,
    };
    let start_limit = match &r.start_limit {
        None => DEFAULT_START_LIMIT,
        Some(s) => {
            let burst = s.get_ref().burst.unwrap_or(DEFAULT_START_LIMIT.burst);
            if burst == 0 {
                return Err(o.at(s, "`start_limit.burst` must be at least 1"));
            }
            let interval = match s.get_ref().interval_s {
                None => DEFAULT_START_LIMIT.interval,
                Some(v) => o.seconds(&Spanned::new(s.span(), v), "start_limit.interval_s")?,
            };
            StartLimit { burst, interval }
        }
    };
    let ready = match &r.ready {
        None => Ready::None,
        Some(v) => ready(o, v)?,
    };
    let stop_signal = match &r.stop_signal {
        None => Signal::SIGTERM,
        Some(s) => signal(o, s)?,
    };
    let mut rlimits = Vec::new();
    for (key, value) in &r.rlimits {
        let Some(res) = resource(key) else {
            return Err(o.at(
                value,
                format!(
                    "unknown resource limit `{key}` (known: {})",
                    RLIMIT_NAMES.join(", ")
                ),
            ));
        };
        rlimits.push((res, *value.get_ref()));
    }
    let health = match &r.health {
        None => None,
        Some(h) => Some(health(o, h)?),
    };
    let log = match &r.log {
        None => DEFAULT_LOG,
        Some(l) => {
            let max_bytes = l.get_ref().max_bytes.unwrap_or(DEFAULT_LOG.max_bytes);
            let files = l.get_ref().files.unwrap_or(DEFAULT_LOG.files);
            if max_bytes == 0 || files == 0 {
                return Err(o.at(l, "`log.max_bytes` and `log.files` must be at least 1"));
            }
            // Each rotation renames every kept file: four billion files is a loop that never
            // ends, and a file size past what a disk holds means no rotation at all.
            if files > MAX_LOG_FILES {
                return Err(o.at(l, format!("`log.files` must be at most {MAX_LOG_FILES}")));
            }
            if max_bytes > MAX_LOG_BYTES {
                return Err(o.at(
                    l,
                    format!("`log.max_bytes` must be at most {MAX_LOG_BYTES}"),
                ));
            }
            LogPolicy { max_bytes, files }
        }
    };
    Ok(Service {
        name: name.to_string(),
        command: r.command.get_ref().clone(),
        env: r.env.clone(),
        cwd: r.cwd.clone(),
        restart: r.restart.unwrap_or(Restart::OnFailure),
        backoff,
        start_limit,
        depends_on: r
            .depends_on
            .iter()
            .map(|(k, v)| (k.clone(), *v.get_ref()))
            .collect(),
        ready,
        ready_timeout: match &r.ready_timeout_s {
            None => Duration::from_secs(30),
            Some(v) => o.seconds(v, "ready_timeout_s")?,
        },
        stop_signal,
        stop_timeout: match &r.stop_timeout_s {
            None => Duration::from_secs(10),
            Some(v) => o.seconds(v, "stop_timeout_s")?,
        },
        rlimits,
        health,
        log,
    })
}

const DEFAULT_BACKOFF: BackoffPolicy = BackoffPolicy {
    initial: Duration::from_millis(500),
    factor: 2.0,
    max: Duration::from_secs(60),
    jitter: 0.2,
    reset_after: Duration::from_secs(30),
};

const DEFAULT_START_LIMIT: StartLimit = StartLimit {
    burst: 5,
    interval: Duration::from_secs(60),
};

const DEFAULT_LOG: LogPolicy = LogPolicy {
    max_bytes: 1024 * 1024,
    files: 5,
};

fn backoff(o: &Origin<'_>, b: &Spanned<RawBackoff>) -> Result<BackoffPolicy, ConfigError> {
    let r = b.get_ref();
    let d = DEFAULT_BACKOFF;
    let policy = BackoffPolicy {
        initial: match r.initial_ms {
            None => d.initial,
            Some(v) => o.millis(v, b.span(), "backoff.initial_ms")?,
        },
        factor: r.factor.unwrap_or(d.factor),
        max: match r.max_ms {
            None => d.max,
            Some(v) => o.millis(v, b.span(), "backoff.max_ms")?,
        },
        jitter: r.jitter.unwrap_or(d.jitter),
        reset_after: match r.reset_after_s {
            None => d.reset_after,
            Some(v) => o.seconds(&Spanned::new(b.span(), v), "backoff.reset_after_s")?,
        },
    };
    // `!(x >= 1.0)` and not `x < 1.0`: NaN must be refused too.
    if !(policy.factor >= 1.0 && policy.factor.is_finite()) {
        return Err(o.at(b, "`backoff.factor` must be 1.0 or more"));
    }
    if !(0.0..=1.0).contains(&policy.jitter) {
        return Err(o.at(b, "`backoff.jitter` must be between 0.0 and 1.0"));
    }
    if policy.max < policy.initial {
        return Err(o.at(b, "`backoff.max_ms` must not be less than `initial_ms`"));
    }
    Ok(policy)
}

fn health(o: &Origin<'_>, h: &Spanned<RawHealth>) -> Result<Health, ConfigError> {
    let r = h.get_ref();
    let check = match (&r.exec, &r.connect) {
        (Some(cmd), None) if !cmd.is_empty() => HealthCheck::Exec(cmd.clone()),
        (None, Some(addr)) if !addr.is_empty() => {
            HealthCheck::Connect(o.connect_address(h, "health.connect", addr)?)
        }
        _ => {
            return Err(o.at(
                h,
                "`health` needs exactly one of `exec = [\"PROGRAM\", ...]` or `connect = \"ADDRESS\"`",
            ));
        }
    };
    let threshold = r.threshold.unwrap_or(3);
    if threshold == 0 {
        return Err(o.at(h, "`health.threshold` must be at least 1"));
    }
    let secs = |v: Option<f64>, default: u64, key: &str| match v {
        None => Ok(Duration::from_secs(default)),
        Some(v) => o.seconds(&Spanned::new(h.span(), v), key),
    };
    Ok(Health {
        check,
        interval: secs(r.interval_s, 10, "health.interval_s")?,
        timeout: secs(r.timeout_s, 5, "health.timeout_s")?,
        threshold,
    })
}

/// `"none"`, `"notify"` or `{ connect = "ADDRESS" }`.
fn ready(o: &Origin<'_>, v: &Spanned<toml::Value>) -> Result<Ready, ConfigError> {
    match v.get_ref() {
        toml::Value::String(w) if w == "none" => return Ok(Ready::None),
        toml::Value::String(w) if w == "notify" => return Ok(Ready::Notify),
        toml::Value::Table(t) if t.len() == 1 => {
            if let Some(toml::Value::String(addr)) = t.get("connect")
                && !addr.is_empty()
            {
                return Ok(Ready::Connect(o.connect_address(
                    v,
                    "ready.connect",
                    addr,
                )?));
            }
        }
        _ => {}
    }
    Err(o.at(
        v,
        "`ready` must be \"none\", \"notify\" or { connect = \"ADDRESS\" }",
    ))
}

/// `"SIGTERM"` or `"TERM"`.
fn signal(o: &Origin<'_>, s: &Spanned<String>) -> Result<Signal, ConfigError> {
    let name = s.get_ref();
    let full = if name.starts_with("SIG") {
        name.clone()
    } else {
        format!("SIG{name}")
    };
    match Signal::from_str(&full) {
        Ok(sig) if sig != Signal::SIGKILL && sig != Signal::SIGSTOP => Ok(sig),
        Ok(_) => Err(o.at(
            s,
            format!("`stop_signal = \"{name}\"` leaves the service no chance to clean up; SIGKILL comes anyway after `stop_timeout_s`"),
        )),
        Err(_) => Err(o.at(s, format!("unknown signal `{name}` in `stop_signal`"))),
    }
}

const RLIMIT_NAMES: [&str; 9] = [
    "as", "core", "cpu", "data", "fsize", "memlock", "nofile", "nproc", "stack",
];

fn resource(key: &str) -> Option<Resource> {
    Some(match key {
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    })
}

/// A dependency cycle as `[a, b, ..., a]`, or `None`. Depth-first search from each service in
/// name order; a service met again while still on the path closes a cycle.
fn find_cycle(services: &BTreeMap<String, Service>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        services: &'a BTreeMap<String, Service>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::OnPath) => {
                let from = path.iter().position(|n| *n == name).expect("on the path");
                let mut cycle: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name, Mark::OnPath);
        path.push(name);
        for dep in services[name].depends_on.keys() {
            if let Some(cycle) = visit(dep, services, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in services.keys() {
        if let Some(cycle) = visit(name, services, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}
