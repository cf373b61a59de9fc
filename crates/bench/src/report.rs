//! The benchmark report, run by `cargo xtask bench [GROUP] [--quick] [--report-only]` (the
//! `bench-report` binary): runs the benches of this crate with criterion, then prints one
//! comparison table per group (mechanism, median, confidence interval, spread, ratio to the
//! fastest), describes the machine, says what to notice, and writes the same report as Markdown
//! and as an SVG bar chart to `target/proclings-bench/`. The groups are registered in
//! [`crate::groups`].
//!
//! Criterion leaves its results in `target/criterion/<group>/<benchmark>/new/`:
//! `benchmark.json` names the benchmark (and its throughput, if any) and `estimates.json` holds
//! the statistics of the time per iteration in nanoseconds. Only results written during this run
//! are reported, so a filtered run never mixes in stale numbers. Criterion times batches of
//! iterations, so it has no percentiles of single ones; a bench that times single iterations
//! itself leaves their p50 and p99 next to criterion's files ([`save_percentiles`]), and the
//! report shows them under the group's table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use serde_json::Value;

use crate::groups::{GROUPS, LABELS};

const USAGE: &str = "\
usage: cargo xtask bench [GROUP] [--quick] [--report-only]

Runs the benchmarks of crates/bench and prints the comparison table.

  GROUP          only the groups whose name starts with GROUP (e.g. spawn, ipc, ipc_latency)
  --quick        short measurements: the whole run takes under a minute
  --report-only  do not run anything: report the latest results found in target/criterion

groups:";

/// The `bench-report` binary: runs [`run`] on the command line's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

/// The workspace root: `PROCLINGS_ROOT` (which `cargo xtask bench` sets), else two levels above
/// this crate's directory as `cargo run` gives it at run time, else the current directory.
fn workspace_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("PROCLINGS_ROOT").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|dir| Some(dir.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs the report with the arguments of `cargo xtask bench`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut quick = false;
    let mut report_only = false;
    let mut filter = None;
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            "--report-only" => report_only = true,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(ExitCode::SUCCESS);
            }
            flag if flag.starts_with('-') => {
                eprintln!("unknown option {flag}\n\n{}", usage());
                return Ok(ExitCode::from(2));
            }
            group if filter.is_none() => filter = Some(group.to_owned()),
            extra => {
                eprintln!("unexpected argument {extra}\n\n{}", usage());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let groups = select_groups(filter.as_deref());
    if groups.is_empty() {
        eprintln!(
            "no benchmark group starts with {:?}\n\n{}",
            filter.unwrap_or_default(),
            usage()
        );
        return Ok(ExitCode::from(2));
    }

    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |dir| root.join(dir));
    let criterion_dir =
        std::env::var_os("CRITERION_HOME").map_or_else(|| target.join("criterion"), PathBuf::from);

    let started = Instant::now();
    let since = if report_only {
        None
    } else {
        // A little slack for file systems with coarse timestamps.
        let since = SystemTime::now() - Duration::from_secs(1);
        let status = cargo_bench(&root, &groups, quick)?;
        if !status.success() {
            eprintln!("cargo bench failed ({status}): see its output above");
            return Ok(ExitCode::FAILURE);
        }
        Some(since)
    };

    let mut results = collect(&criterion_dir, since)?;
    results.retain(|m| groups.contains(&m.group.as_str()));
    if results.is_empty() {
        eprintln!("no results found in {}", criterion_dir.display());
        return Ok(ExitCode::FAILURE);
    }
    let machine = Machine::describe();
    let out_dir = target.join("proclings-bench");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    // The mode of the last run is remembered for `--report-only`.
    let mode_file = out_dir.join("mode");
    let mode = if report_only {
        std::fs::read_to_string(&mode_file)
            .map_or_else(|_| "unknown".to_owned(), |m| m.trim().to_owned())
    } else {
        let mode = if quick { "quick" } else { "full" };
        std::fs::write(&mode_file, mode)
            .with_context(|| format!("cannot write {}", mode_file.display()))?;
        mode.to_owned()
    };
    println!("\n{}", render_text(&machine, &results));
    let md_path = out_dir.join("report.md");
    let svg_path = out_dir.join("report.svg");
    std::fs::write(&md_path, render_markdown(&machine, &results, &mode))
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&svg_path, render_svg(&results))
        .with_context(|| format!("cannot write {}", svg_path.display()))?;
    println!("report: {}", md_path.display());
    println!("chart:  {}", svg_path.display());
    if !report_only {
        println!(
            "({mode} run, {:.0} s including the build)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn usage() -> String {
    let mut text = USAGE.to_owned();
    for (group, target, title, _) in GROUPS {
        let _ = write!(text, "\n  {group:<26} (bench {target}) {title}");
    }
    text
}

/// The groups whose id starts with `filter`, or all of them.
fn select_groups(filter: Option<&str>) -> Vec<&'static str> {
    GROUPS
        .iter()
        .map(|g| g.0)
        .filter(|g| filter.is_none_or(|f| g.starts_with(f)))
        .collect()
}

/// Runs `cargo bench` on the bench targets of `groups`, with a criterion filter selecting them.
fn cargo_bench(
    root: &Path,
    groups: &[&str],
    quick: bool,
) -> anyhow::Result<std::process::ExitStatus> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // The `solution` feature of this crate (not of the topic crates) compiles in the reference
    // process pool that the `pool` bench measures.
    cmd.current_dir(root)
        .args(["bench", "-p", "proclings-bench", "--features", "solution"]);
    let mut targets: Vec<&str> = Vec::new();
    for (group, target, _, _) in GROUPS {
        if groups.contains(group) && !targets.contains(target) {
            targets.push(target);
        }
    }
    for target in &targets {
        cmd.args(["--bench", target]);
    }
    // Criterion's filter is a regular expression over `group/benchmark`.
    cmd.args(["--", &format!("^({})/", groups.join("|"))]);
    if quick {
        cmd.env("PROCLINGS_BENCH_QUICK", "1");
    } else {
        cmd.env_remove("PROCLINGS_BENCH_QUICK");
    }
    eprintln!(
        "running: cargo bench -p proclings-bench --features solution --bench {}{}",
        targets.join(" --bench "),
        if quick { " (quick)" } else { "" }
    );
    cmd.status().context("cannot run cargo bench")
}

/// What one iteration processes, from criterion's `throughput`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Throughput {
    /// Processes (or other elements) per iteration.
    Elements(u64),
    /// Bytes per iteration.
    Bytes(u64),
}

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
struct Measurement {
    group: String,
    /// `function` or `function/value`.
    id: String,
    throughput: Option<Throughput>,
    /// Median time per iteration, nanoseconds, with its 95% confidence interval.
    median_ns: f64,
    median_lo_ns: f64,
    median_hi_ns: f64,
    /// Median absolute deviation of the time per iteration, nanoseconds.
    mad_ns: f64,
    /// p50 and p99 of single iterations, if the bench timed them ([`save_percentiles`]).
    percentiles: Option<Percentiles>,
}

/// Percentiles of single iterations, timed one by one by the bench itself.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Percentiles {
    p50_ns: f64,
    p99_ns: f64,
    samples: u64,
}

/// The file, in a benchmark's `new/` directory, that holds [`Percentiles`].
const PERCENTILES_FILE: &str = "percentiles.json";

/// Criterion's output directory as a bench run by `cargo bench` sees it: `CRITERION_HOME`,
/// else `$CARGO_TARGET_DIR/criterion`, else `criterion/` in the target directory the running
/// executable was built in (`target/release/deps/NAME`).
fn bench_criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.ancestors().nth(3)?.join("criterion"))
}

/// Records the p50 and p99 (nanoseconds) of `samples` single iterations of `group`/`id`, timed
/// by the bench itself, next to criterion's results of the same run, for the report to show.
/// Call it from a bench target after criterion measured `group`/`id`.
pub fn save_percentiles(
    group: &str,
    id: &str,
    p50_ns: f64,
    p99_ns: f64,
    samples: usize,
) -> anyhow::Result<()> {
    let dir = bench_criterion_dir()
        .context("cannot tell where criterion writes its results")?
        .join(group)
        .join(id)
        .join("new");
    write_percentiles(&dir, p50_ns, p99_ns, samples)
}

fn write_percentiles(dir: &Path, p50_ns: f64, p99_ns: f64, samples: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(PERCENTILES_FILE);
    let json = serde_json::json!({ "p50_ns": p50_ns, "p99_ns": p99_ns, "samples": samples });
    std::fs::write(&path, json.to_string())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The percentiles in `dir` (a benchmark's `new/`), if written at or after `since`.
fn read_percentiles(dir: &Path, since: Option<SystemTime>) -> Option<Percentiles> {
    let path = dir.join(PERCENTILES_FILE);
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if since.is_some_and(|since| modified < since) {
        return None;
    }
    let v = read_json(&path).ok()?;
    Some(Percentiles {
        p50_ns: v["p50_ns"].as_f64()?,
        p99_ns: v["p99_ns"].as_f64()?,
        samples: v["samples"].as_u64()?,
    })
}

/// The percentile rows of `rows` that have them: label, p50, p99, samples.
fn percentile_rows(rows: &[&Measurement]) -> Vec<[String; 4]> {
    rows.iter()
        .filter_map(|m| {
            let p = m.percentiles?;
            Some([
                m.label().to_owned(),
                format_time(p.p50_ns),
                format_time(p.p99_ns),
                format_count(p.samples as f64),
            ])
        })
        .collect()
}

const PERCENTILE_TITLE: &str = "Single iterations timed one by one (robust on a loaded machine):";
const PERCENTILE_HEADERS: [&str; 4] = ["mechanism", "p50", "p99", "samples"];

impl Measurement {
    fn label(&self) -> &str {
        LABELS
            .iter()
            .find(|(id, _)| *id == self.id)
            .map_or(self.id.as_str(), |(_, label)| label)
    }

    /// The figure shown for a time in nanoseconds: a time, or a rate for throughput groups.
    fn show(&self, ns: f64) -> String {
        match self.throughput {
            None => format_time(ns),
            Some(Throughput::Elements(n)) => format!("{}/s", format_count(n as f64 / (ns * 1e-9))),
            Some(Throughput::Bytes(n)) => format_bandwidth(n as f64 / (ns * 1e-9)),
        }
    }

    /// The median time per element (per iteration without a throughput): rows of one group may
    /// process different counts (GNU parallel gets a twentieth of par's commands), so ratios
    /// compare this, not the time of an iteration.
    fn unit_ns(&self) -> f64 {
        match self.throughput {
            None => self.median_ns,
            Some(Throughput::Elements(n) | Throughput::Bytes(n)) => {
                self.median_ns / n.max(1) as f64
            }
        }
    }

    /// The value a bar shows: the time, or the rate for throughput groups.
    fn bar_value(&self) -> f64 {
        match self.throughput {
            None => self.median_ns,
            Some(Throughput::Elements(n) | Throughput::Bytes(n)) => n as f64 / self.median_ns,
        }
    }

    /// The confidence interval in the shown unit (rates invert the bounds).
    fn show_interval(&self) -> String {
        let (a, b) = match self.throughput {
            None => (self.median_lo_ns, self.median_hi_ns),
            Some(_) => (self.median_hi_ns, self.median_lo_ns),
        };
        format!("{} – {}", self.show(a), self.show(b))
    }

    fn spread_percent(&self) -> f64 {
        100.0 * self.mad_ns / self.median_ns
    }
}

/// Reads every `new/benchmark.json` + `new/estimates.json` pair under `dir`, keeping those
/// written at or after `since` (all of them with `None`).
fn collect(dir: &Path, since: Option<SystemTime>) -> anyhow::Result<Vec<Measurement>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let estimates = path.join("estimates.json");
                let fresh = since.is_none_or(|since| {
                    std::fs::metadata(&estimates)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t >= since)
                });
                if fresh && estimates.is_file() {
                    let mut m = read_measurement(&path.join("benchmark.json"), &estimates)?;
                    m.percentiles = read_percentiles(&path, since);
                    found.push(m);
                }
            } else {
                stack.push(path);
            }
        }
    }
    found.sort_by_key(|m| (group_rank(&m.group), label_rank(&m.id), m.id.clone()));
    Ok(found)
}

fn group_rank(group: &str) -> usize {
    GROUPS
        .iter()
        .position(|g| g.0 == group)
        .unwrap_or(GROUPS.len())
}

/// Rows follow the order of [`LABELS`] (the order the chapter explains them in).
fn label_rank(id: &str) -> usize {
    LABELS
        .iter()
        .position(|(known, _)| *known == id)
        .unwrap_or(LABELS.len())
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Parses one benchmark's `benchmark.json` and `estimates.json`.
fn read_measurement(benchmark: &Path, estimates: &Path) -> anyhow::Result<Measurement> {
    parse_measurement(&read_json(benchmark)?, &read_json(estimates)?)
        .with_context(|| format!("unexpected contents in {}", estimates.display()))
}

fn parse_measurement(benchmark: &Value, estimates: &Value) -> anyhow::Result<Measurement> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let group = text(&benchmark["group_id"]).context("benchmark.json has no group_id")?;
    let id = [
        text(&benchmark["function_id"]),
        text(&benchmark["value_str"]),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("/");
    let throughput = match &benchmark["throughput"] {
        Value::Object(map) => map.iter().find_map(|(kind, n)| match kind.as_str() {
            "Elements" => n.as_u64().map(Throughput::Elements),
            "Bytes" | "BytesDecimal" => n.as_u64().map(Throughput::Bytes),
            _ => None,
        }),
        _ => None,
    };
    let number = |path: &[&str]| -> anyhow::Result<f64> {
        let mut v = estimates;
        for key in path {
            v = &v[*key];
        }
        v.as_f64()
            .with_context(|| format!("estimates.json has no {}", path.join(".")))
    };
    Ok(Measurement {
        group,
        id,
        throughput,
        median_ns: number(&["median", "point_estimate"])?,
        median_lo_ns: number(&["median", "confidence_interval", "lower_bound"])?,
        median_hi_ns: number(&["median", "confidence_interval", "upper_bound"])?,
        mad_ns: number(&["median_abs_dev", "point_estimate"])?,
        percentiles: None,
    })
}

/// Results grouped in report order: (group id, title, note, measurements).
fn by_group(results: &[Measurement]) -> Vec<(&str, &str, &str, Vec<&Measurement>)> {
    let mut map: BTreeMap<usize, Vec<&Measurement>> = BTreeMap::new();
    for m in results {
        map.entry(group_rank(&m.group)).or_default().push(m);
    }
    map.into_values()
        .map(|rows| {
            let group = rows[0].group.as_str();
            let (title, note) = GROUPS
                .iter()
                .find(|g| g.0 == group)
                .map_or((group, ""), |g| (g.2, g.3));
            (group, title, note, rows)
        })
        .collect()
}

/// One table row: label, median, interval, spread, ratio to the fastest of `rows`.
fn table_rows(rows: &[&Measurement]) -> Vec<[String; 5]> {
    let fastest = rows
        .iter()
        .map(|m| m.unit_ns())
        .fold(f64::INFINITY, f64::min);
    rows.iter()
        .map(|m| {
            [
                m.label().to_owned(),
                m.show(m.median_ns),
                m.show_interval(),
                format!("±{:.1}%", m.spread_percent()),
                format!("{:.2}x", m.unit_ns() / fastest),
            ]
        })
        .collect()
}

const HEADERS: [&str; 5] = [
    "mechanism",
    "median",
    "95% CI of median",
    "spread (MAD)",
    "vs fastest",
];

/// Looks up the median of `group`/`id`.
fn median_of(results: &[Measurement], group: &str, id: &str) -> Option<f64> {
    results
        .iter()
        .find(|m| m.group == group && m.id == id)
        .map(|m| m.median_ns)
}

/// The comparisons the course cares about, computed from this run's numbers.
fn key_findings(results: &[Measurement]) -> Vec<String> {
    let mut out = Vec::new();
    let ratio = |group: &str, slow: &str, fast: &str| {
        Some(median_of(results, group, slow)? / median_of(results, group, fast)?)
    };
    if let Some(r) = ratio("spawn_large_parent", "fork_exec", "posix_spawn") {
        out.push(format!(
            "fork + exec from the 512 MiB parent takes {r:.1}x as long as posix_spawn from the same parent."
        ));
    }
    if let Some(r) = ratio("spawn_latency", "fork_exec", "posix_spawn") {
        out.push(format!(
            "From a small parent, fork + exec vs posix_spawn is {r:.2}x."
        ));
    }
    let rate = |id: &str| {
        results
            .iter()
            .find(|m| m.group == "spawn_throughput" && m.id == id)
            .map(|m| m.bar_value() * 1e9)
    };
    let best_threads = ["threads/1", "threads/2", "threads/4"]
        .iter()
        .filter_map(|id| Some((*id, rate(id)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(tokio), Some((id, threads))) = (rate("tokio_in_flight/100"), best_threads) {
        let label = LABELS
            .iter()
            .find(|(known, _)| *known == id)
            .map_or(id, |(_, l)| l);
        out.push(format!(
            "tokio with 100 in flight spawns {}/s, {:.2}x the best thread pool ({label}: {}/s).",
            format_count(tokio),
            tokio / threads,
            format_count(threads),
        ));
    }
    for placement in ["same_core", "cross_core"] {
        let group = format!("ipc_latency_{placement}");
        let show = |id: &str| median_of(results, &group, id).map(format_time);
        if let (Some(pipe), Some(uds), Some(tcp)) =
            (show("pipe"), show("unix_stream"), show("tcp_loopback"))
        {
            let r = ratio(&group, "tcp_loopback", "pipe").unwrap_or(f64::NAN);
            out.push(format!(
                "Round trip, {}: pipe {pipe}, Unix socket {uds}, TCP {tcp} (TCP/pipe {r:.2}x).",
                placement.replace('_', " ")
            ));
        }
        let group = format!("ipc_bandwidth_{placement}");
        let show = |id: &str| {
            results
                .iter()
                .find(|m| m.group == group && m.id == id)
                .map(|m| m.show(m.median_ns))
        };
        if let (Some(pipe), Some(big), Some(uds), Some(tcp)) = (
            show("pipe"),
            show("pipe_1mib"),
            show("unix_stream"),
            show("tcp_loopback"),
        ) {
            out.push(format!(
                "Bandwidth, {}: pipe {pipe} (1 MiB buffer: {big}), Unix socket {uds}, TCP {tcp}.",
                placement.replace('_', " ")
            ));
        }
    }
    let across = median_of(results, "ipc_latency_cross_core", "pipe");
    let within = median_of(results, "ipc_latency_same_core", "pipe");
    if let (Some(across), Some(within)) = (across, within) {
        out.push(format!(
            "A pipe round trip across cores takes {:.1}x as long as on one core.",
            across / within
        ));
    }
    out
}

/// The machine the numbers come from.
#[derive(Debug, Clone, PartialEq)]
struct Machine {
    model: String,
    cpus: usize,
    allowed: usize,
    virtualised: bool,
    kernel: String,
}

impl Machine {
    fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let mut machine = Self::from_cpuinfo(&cpuinfo);
        machine.allowed = std::thread::available_parallelism().map_or(0, |n| n.get());
        machine.kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
        machine
    }

    fn from_cpuinfo(cpuinfo: &str) -> Self {
        let field = |line: &str, name: &str| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        };
        let model = cpuinfo
            .lines()
            .find_map(|l| field(l, "model name"))
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let cpus = cpuinfo
            .lines()
            .filter(|l| field(l, "processor").is_some())
            .count();
        let virtualised = cpuinfo
            .lines()
            .filter_map(|l| field(l, "flags"))
            .any(|flags| flags.split_whitespace().any(|f| f == "hypervisor"));
        Self {
            model,
            cpus,
            allowed: cpus,
            virtualised,
            kernel: String::new(),
        }
    }

    fn sentence(&self) -> String {
        format!(
            "{} CPU{} ({} usable here), {}, {}, Linux {}",
            self.cpus,
            if self.cpus == 1 { "" } else { "s" },
            self.allowed,
            self.model,
            if self.virtualised {
                "virtual machine (hypervisor flag set)"
            } else {
                "bare metal"
            },
            self.kernel
        )
    }
}

/// The report for the terminal: aligned plain-text tables.
fn render_text(machine: &Machine, results: &[Measurement]) -> String {
    let mut out = format!("Machine: {}\n", machine.sentence());
    for (_, title, note, rows) in by_group(results) {
        let cells = table_rows(&rows);
        let mut widths = HEADERS.map(str::len);
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |row: &[String]| {
            let mut s = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                let pad = w - cell.chars().count();
                // The mechanism is left-aligned, the numbers right-aligned.
                if i == 0 {
                    let _ = write!(s, "{cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, "  {}{cell}", " ".repeat(pad));
                }
            }
            s.trim_end().to_owned()
        };
        let _ = writeln!(out, "\n{title}");
        let _ = writeln!(out, "{}", line(&HEADERS.map(str::to_owned)));
        for row in &cells {
            let _ = writeln!(out, "{}", line(row));
        }
        let percentiles = percentile_rows(&rows);
        if !percentiles.is_empty() {
            let _ = writeln!(out, "{PERCENTILE_TITLE}");
            let width = percentiles.iter().map(|r| r[0].chars().count()).max();
            let width = width.unwrap_or(0).max(PERCENTILE_HEADERS[0].len());
            let head = PERCENTILE_HEADERS.map(str::to_owned);
            for row in std::iter::once(&head).chain(&percentiles) {
                let pad = width - row[0].chars().count();
                let _ = writeln!(
                    out,
                    "  {}{}  {:>9}  {:>9}  {:>7}",
                    row[0],
                    " ".repeat(pad),
                    row[1],
                    row[2],
                    row[3]
                );
            }
        }
        let _ = writeln!(out, "-> {note}");
    }
    let findings = key_findings(results);
    if !findings.is_empty() {
        let _ = writeln!(out, "\nFrom this run:");
        for f in findings {
            let _ = writeln!(out, "  - {f}");
        }
    }
    out
}

/// The report as Markdown: machine, one table per group, what to notice, the key ratios.
fn render_markdown(machine: &Machine, results: &[Measurement], mode: &str) -> String {
    let mut out = String::from("# proclings benchmarks\n\n");
    let _ = writeln!(out, "Machine: {}.\n", machine.sentence());
    let _ = writeln!(
        out,
        "Mode: {mode}. Medians of the time per iteration (rates for throughput groups); spread is \
         the median absolute deviation; \"vs fastest\" is the time ratio (per element, for rates) to the fastest row of the \
         group. Compare ratios, not absolute figures, between machines.\n"
    );
    let findings = key_findings(results);
    if !findings.is_empty() {
        out.push_str("## From this run\n\n");
        for f in findings {
            let _ = writeln!(out, "- {f}");
        }
        out.push('\n');
    }
    for (_, title, note, rows) in by_group(results) {
        let _ = writeln!(out, "## {title}\n");
        let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
        let _ = writeln!(out, "| --- |{}", " ---: |".repeat(HEADERS.len() - 1));
        for row in table_rows(&rows) {
            let _ = writeln!(
                out,
                "| {} |",
                row.map(|c| c.replace('|', "\\|")).join(" | ")
            );
        }
        let percentiles = percentile_rows(&rows);
        if !percentiles.is_empty() {
            let _ = writeln!(out, "\n{PERCENTILE_TITLE}\n");
            let _ = writeln!(out, "| {} |", PERCENTILE_HEADERS.join(" | "));
            let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
            for row in percentiles {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
        }
        let _ = writeln!(out, "\n{note}\n");
    }
    out.push_str("![bar chart](report.svg)\n");
    out
}

/// Escapes text for SVG.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart, one section per group; each bar is scaled to the largest value of its
/// group (times for latency groups, rates for throughput groups).
fn render_svg(results: &[Measurement]) -> String {
    const BAR: f64 = 440.0;
    const ROW: f64 = 22.0;
    // The label column fits the longest label: about 7.5 px a character at 13 px sans-serif
    // (an estimate, SVG has no text measuring), plus a margin.
    let longest = results
        .iter()
        .map(|m| m.label().chars().count())
        .max()
        .unwrap_or(0);
    let label_column = (longest as f64 * 7.5 + 24.0).max(180.0);
    let width = label_column + BAR + 110.0;
    let groups = by_group(results);
    let rows: usize = groups.iter().map(|g| g.3.len()).sum();
    let height = 20.0 + groups.len() as f64 * 40.0 + rows as f64 * ROW;
    let mut body = String::new();
    let mut y = 20.0;
    for (_, title, _, group_rows) in &groups {
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.0}" font-weight="bold">{}</text>"#,
            y + 14.0,
            xml_escape(title)
        );
        y += 26.0;
        let max = group_rows.iter().map(|m| m.bar_value()).fold(0.0, f64::max);
        for m in group_rows {
            let w = if max > 0.0 {
                (m.bar_value() / max * BAR).max(1.0)
            } else {
                1.0
            };
            let _ = writeln!(
                body,
                r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{label_column:.0}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="#4a7ab5"/><text x="{:.1}" y="{:.0}">{}</text>"##,
                label_column - 8.0,
                y + 14.0,
                xml_escape(m.label()),
                y + 3.0,
                ROW - 6.0,
                label_column + w + 6.0,
                y + 14.0,
                xml_escape(&m.show(m.median_ns)),
            );
            y += ROW;
        }
        y += 14.0;
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
{body}</svg>
"##
    )
}

/// Formats nanoseconds with a unit that keeps 3 significant digits.
fn format_time(ns: f64) -> String {
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", three_digits(value))
}

fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Formats bytes per second in decimal units (GB/s = 10^9 bytes per second).
fn format_bandwidth(bytes_per_s: f64) -> String {
    if bytes_per_s >= 1e9 {
        format!("{} GB/s", three_digits(bytes_per_s / 1e9))
    } else {
        format!("{} MB/s", three_digits(bytes_per_s / 1e6))
    }
}

/// Formats a count with thousands separators, rounded to an integer.
fn format_count(n: f64) -> String {
    if !n.is_finite() {
        return "?".to_owned();
    }
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimates(median: f64, lo: f64, hi: f64, mad: f64) -> String {
        let est = |p: f64, l: f64, h: f64| {
            format!(
                r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{l},"upper_bound":{h}}},"point_estimate":{p},"standard_error":1.0}}"#
            )
        };
        format!(
            r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":null,"std_dev":{}}}"#,
            est(median, lo, hi),
            est(median, lo, hi),
            est(mad, mad, mad),
            est(mad, mad, mad)
        )
    }

    /// Writes a fake criterion result under `dir`.
    fn fake(
        dir: &Path,
        group: &str,
        function: &str,
        value: Option<&str>,
        throughput: &str,
        est: &str,
    ) {
        let sub = dir
            .join(group)
            .join(function)
            .join(value.unwrap_or(""))
            .join("new");
        std::fs::create_dir_all(&sub).unwrap();
        let value = value.map_or("null".to_owned(), |v| format!("{v:?}"));
        std::fs::write(
            sub.join("benchmark.json"),
            format!(
                r#"{{"group_id":"{group}","function_id":"{function}","value_str":{value},"throughput":{throughput},"full_id":"x","directory_name":"x","title":"x"}}"#
            ),
        )
        .unwrap();
        std::fs::write(sub.join("estimates.json"), est).unwrap();
    }

    fn fake_results() -> (PathBuf, Vec<Measurement>) {
        let dir = std::env::temp_dir().join(format!(
            "xtask-bench-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        fake(
            &dir,
            "spawn_large_parent",
            "fork_exec",
            None,
            "null",
            &estimates(40e6, 38e6, 43e6, 2e6),
        );
        fake(
            &dir,
            "spawn_large_parent",
            "posix_spawn",
            None,
            "null",
            &estimates(1e6, 0.9e6, 1.1e6, 5e4),
        );
        fake(
            &dir,
            "spawn_throughput",
            "threads",
            Some("2"),
            r#"{"Elements":200}"#,
            &estimates(1e8, 0.9e8, 1.2e8, 1e6),
        );
        fake(
            &dir,
            "spawn_throughput",
            "tokio_in_flight",
            Some("100"),
            r#"{"Elements":200}"#,
            &estimates(1.25e8, 1.2e8, 1.3e8, 1e6),
        );
        fake(
            &dir,
            "ipc_bandwidth_same_core",
            "pipe",
            None,
            r#"{"Bytes":65536}"#,
            &estimates(32768.0, 30000.0, 35000.0, 100.0),
        );
        // Not a result: no `new` directory.
        std::fs::create_dir_all(dir.join("report")).unwrap();
        let results = collect(&dir, None).unwrap();
        (dir, results)
    }

    #[test]
    fn collect_reads_names_throughput_and_median_in_report_order() {
        let (dir, results) = fake_results();
        std::fs::remove_dir_all(&dir).unwrap();
        let ids: Vec<_> = results
            .iter()
            .map(|m| format!("{}/{}", m.group, m.id))
            .collect();
        assert_eq!(
            ids,
            [
                "spawn_large_parent/posix_spawn",
                "spawn_large_parent/fork_exec",
                "spawn_throughput/threads/2",
                "spawn_throughput/tokio_in_flight/100",
                "ipc_bandwidth_same_core/pipe",
            ]
        );
        assert_eq!(results[1].median_ns, 40e6);
        assert_eq!(results[1].median_lo_ns, 38e6);
        assert_eq!(results[1].median_hi_ns, 43e6);
        assert_eq!(results[1].mad_ns, 2e6);
        assert_eq!(results[2].throughput, Some(Throughput::Elements(200)));
        assert_eq!(results[4].throughput, Some(Throughput::Bytes(65536)));
    }

    #[test]
    fn collect_skips_results_older_than_the_run() {
        let (dir, _) = fake_results();
        let later = SystemTime::now() + Duration::from_secs(3600);
        let fresh = collect(&dir, Some(later)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(fresh.is_empty(), "stale results reported: {fresh:?}");
    }

    #[test]
    fn rows_show_rates_for_throughput_and_ratios_to_the_fastest() {
        let (dir, results) = fake_results();
        std::fs::remove_dir_all(&dir).unwrap();
        let groups = by_group(&results);
        let spawn = table_rows(&groups[0].3);
        assert_eq!(
            spawn[1],
            [
                "fork + exec (nix)",
                "40.0 ms",
                "38.0 ms – 43.0 ms",
                "±5.0%",
                "40.00x"
            ]
        );
        assert_eq!(spawn[0][4], "1.00x");
        let throughput = table_rows(&groups[1].3);
        assert_eq!(throughput[0][1], "2,000/s");
        assert_eq!(throughput[1][0], "tokio, 100 in flight");
        assert_eq!(throughput[1][1], "1,600/s");
        // Rates invert the interval: the upper bound of the time gives the lower rate.
        assert_eq!(throughput[0][2], "1,667/s – 2,222/s");
        assert_eq!(throughput[1][4], "1.25x");
        let bandwidth = table_rows(&groups[2].3);
        assert_eq!(bandwidth[0][1], "2.00 GB/s");
    }

    #[test]
    fn ratios_of_rates_compare_time_per_element_when_counts_differ() {
        let row = |id: &str, n: u64, ms: f64| Measurement {
            group: "par_throughput".into(),
            id: id.into(),
            throughput: Some(Throughput::Elements(n)),
            median_ns: ms * 1e6,
            median_lo_ns: ms * 1e6,
            median_hi_ns: ms * 1e6,
            mad_ns: 0.0,
            percentiles: None,
        };
        // 2,000 commands in 1 s against 100 commands in 2 s: 2,000/s against 50/s.
        let par = row("par/j4", 2000, 1000.0);
        let parallel = row("parallel/j4", 100, 2000.0);
        let rows = table_rows(&[&par, &parallel]);
        assert_eq!(rows[0][4], "1.00x");
        assert_eq!(rows[1][4], "40.00x");
    }

    #[test]
    fn findings_give_the_large_parent_ratio_and_tokio_against_threads() {
        let (dir, results) = fake_results();
        std::fs::remove_dir_all(&dir).unwrap();
        let findings = key_findings(&results).join("\n");
        assert!(
            findings.contains("takes 40.0x as long as posix_spawn"),
            "{findings}"
        );
        assert!(
            findings.contains(
                "tokio with 100 in flight spawns 1,600/s, 0.80x the best thread pool \
                 (std, pool of 2 threads: 2,000/s)"
            ),
            "{findings}"
        );
    }

    #[test]
    fn text_and_markdown_describe_the_machine_and_every_group() {
        let (dir, results) = fake_results();
        std::fs::remove_dir_all(&dir).unwrap();
        let cpuinfo = "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu hypervisor sse\n\n\
                       processor\t: 1\nmodel name\t: Test CPU\nflags\t\t: fpu hypervisor sse\n";
        let mut machine = Machine::from_cpuinfo(cpuinfo);
        machine.kernel = "6.1.0".to_owned();
        assert_eq!(machine.cpus, 2);
        assert!(machine.virtualised);
        assert_eq!(machine.model, "Test CPU");
        let text = render_text(&machine, &results);
        assert!(
            text.contains("2 CPUs (2 usable here), Test CPU, virtual machine"),
            "{text}"
        );
        assert!(
            text.contains("-> fork copies the parent's page tables"),
            "{text}"
        );
        let md = render_markdown(&machine, &results, "quick");
        assert!(md.contains("| fork + exec (nix) | 40.0 ms |"), "{md}");
        assert!(md.contains("| --- | ---: | ---: | ---: | ---: |"), "{md}");
        assert_eq!(
            md.matches("\n## ").count(),
            4,
            "three groups and the findings: {md}"
        );
        assert!(!Machine::from_cpuinfo("flags : fpu sse\n").virtualised);
    }

    #[test]
    fn percentiles_saved_by_a_bench_appear_under_the_table() {
        let (dir, _) = fake_results();
        let latency = [("pipe", 60e3), ("shm_spin", 0.5e3)];
        for (id, median) in latency {
            let est = estimates(median, median, median, 1.0);
            fake(&dir, "shm_latency_cross_core", id, None, "null", &est);
        }
        let new = |id: &str| dir.join("shm_latency_cross_core").join(id).join("new");
        write_percentiles(&new("pipe"), 58_000.0, 95_000.0, 20_000).unwrap();
        write_percentiles(&new("shm_spin"), 480.0, 1_500.0, 20_000).unwrap();
        let results = collect(&dir, None).unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        let stale = collect(&dir, None)
            .unwrap()
            .iter()
            .filter_map(|m| {
                read_percentiles(&dir.join(&m.group).join(&m.id).join("new"), Some(later))
            })
            .count();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(stale, 0, "percentiles older than the run are ignored");
        let pipe = results
            .iter()
            .find(|m| m.group == "shm_latency_cross_core" && m.id == "pipe")
            .unwrap();
        assert_eq!(
            pipe.percentiles,
            Some(Percentiles {
                p50_ns: 58_000.0,
                p99_ns: 95_000.0,
                samples: 20_000
            })
        );
        let machine = Machine::from_cpuinfo("processor : 0\n");
        let text = render_text(&machine, &results);
        assert!(text.contains(PERCENTILE_TITLE), "{text}");
        assert!(text.contains("58.0 µs"), "{text}");
        assert!(text.contains("95.0 µs"), "{text}");
        let md = render_markdown(&machine, &results, "quick");
        assert!(
            md.contains("| pipe (64 KiB buffer) | 58.0 µs | 95.0 µs | 20,000 |"),
            "{md}"
        );
        assert_eq!(
            md.matches(PERCENTILE_TITLE).count(),
            1,
            "only the group with percentiles gets the table: {md}"
        );
    }

    #[test]
    fn svg_has_one_bar_per_result_and_escapes_labels() {
        let (dir, mut results) = fake_results();
        std::fs::remove_dir_all(&dir).unwrap();
        results[0].id = "a<b&c".to_owned();
        let svg = render_svg(&results);
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        // One background plus one bar per result.
        assert_eq!(svg.matches("<rect").count(), 1 + results.len());
        assert!(
            svg.contains("a&lt;b&amp;c") && !svg.contains("a<b"),
            "{svg}"
        );
        // The largest value of a group gets the full bar width.
        assert!(svg.contains(r#"width="440.0""#), "{svg}");
    }

    #[test]
    fn formats_keep_three_significant_digits() {
        assert_eq!(format_time(850.0), "850 ns");
        assert_eq!(format_time(12_345.0), "12.3 µs");
        assert_eq!(format_time(1_234_567.0), "1.23 ms");
        assert_eq!(format_bandwidth(2.5e9), "2.50 GB/s");
        assert_eq!(format_bandwidth(750e6), "750 MB/s");
        assert_eq!(format_count(1234567.4), "1,234,567");
        assert_eq!(format_count(999.0), "999");
    }

    #[test]
    fn group_filter_selects_by_prefix() {
        assert_eq!(
            select_groups(Some("ipc_latency")),
            ["ipc_latency_same_core", "ipc_latency_cross_core"]
        );
        assert_eq!(select_groups(Some("spawn")).len(), 3);
        assert_eq!(select_groups(None).len(), GROUPS.len());
        assert!(select_groups(Some("nope")).is_empty());
    }
}
