//! `cargo xtask check [ID]`: builds an exercise's test binary, runs it in the sandbox (own process
//! group, run-time limit, leak check), and prints a verdict; on success marks the exercise done
//! and names the next one.
//!
//! `check --all` re-grades every exercise marked done (`--pending`: the others; both `--done
//! --pending`: every one; `--topic T`: one topic's), one build per topic and each exercise under
//! its own limit, and ends with a summary table. A done exercise that fails now is reported and
//! stays done. `--json` writes one JSON object per exercise on stdout (exercism's test-runner
//! results format, version 2, plus `id` and `verdict`; the README documents the mapping) and
//! everything meant for a person on stderr.
//!
//! Exit status: 0 passed, 1 failed (did not compile, a test failed, timed out, or leaked),
//! 2 usage error (such as an unknown id), 130 interrupted.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context as _;

use crate::libtest::{self, Outcome};
use crate::manifest::{Curriculum, Exercise, ExercisePaths};
use crate::progress::Progress;

use crate::i18n::{self, tr};
use crate::term;

/// Where the course explains processes left behind: waiting for children, zombies, orphans.
pub const PROCESS_LEAK_CHAPTER: &str = "docs/src/01-command-basics.md";
/// Where the course explains what to do when things go wrong, leftover IPC objects included.
pub const IPC_LEAK_CHAPTER: &str = "docs/src/diagnosis.md";

/// The exercise named by `id`, or the current one when `id` is `None`. `Err(code)` when the
/// command must end here: an unknown id (after saying so, with suggestions) or a finished course.
pub fn pick_exercise<'c>(
    curriculum: &'c Curriculum,
    progress: &Progress,
    id: Option<&String>,
) -> anyhow::Result<Result<&'c Exercise, ExitCode>> {
    match id {
        Some(id) if id.starts_with('-') => Ok(Err(crate::usage_error(&tr!(
            "check.unknown_option",
            option = id
        )))),
        Some(id) => match curriculum.find(id) {
            Some(ex) => Ok(Ok(ex)),
            None => {
                let close = curriculum.suggest(id);
                if close.is_empty() {
                    eprintln!("{}", tr!("check.no_exercise", id));
                } else {
                    let close = close
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(tr!("check.or"));
                    eprintln!("{}", tr!("check.no_exercise_did_you_mean", id, close));
                }
                eprintln!("{}", tr!("check.list_shows_ids"));
                Ok(Err(ExitCode::from(2)))
            }
        },
        None => match crate::status::current(curriculum, progress) {
            Some(ex) => Ok(Ok(ex)),
            None => {
                println!("{}", tr!("check.all_done_name_one"));
                Ok(Err(ExitCode::SUCCESS))
            }
        },
    }
}

/// A pointer from a failed run's output to the `explain` entries that cover it (an errno, a
/// panic message), or `None` when nothing in it matches.
fn explain_pointer(output: &str) -> Option<String> {
    let entries = crate::explain::suggestions(output);
    if entries.is_empty() {
        return None;
    }
    let mut text = tr!("check.explain_covers").to_owned();
    for entry in entries {
        text.push_str(&format!(
            "\n    {}  {}",
            term::bold(&format!("cargo xtask explain {}", entry.id)),
            term::dim(i18n::course(&entry.title))
        ));
    }
    Some(text)
}

/// How a check ended, as the summary table and `--json` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Timeout,
    /// The tests passed but left a process or an IPC object behind.
    Leak,
    CompileError,
}

impl Verdict {
    /// Its name in the summary table and `--json`'s `verdict`, and exercism's `status` for it
    /// (`error` when the tests could not run at all).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Verdict::Pass => ("pass", "pass"),
            Verdict::Fail => ("fail", "fail"),
            Verdict::Timeout => ("timeout", "fail"),
            Verdict::Leak => ("leak", "fail"),
            Verdict::CompileError => ("compile-error", "error"),
        }
    }
}

impl Verdict {
    /// Its name in the summary table, in the run's language.
    fn label(self) -> &'static str {
        match self {
            Verdict::Pass => tr!("check.verdict_pass"),
            Verdict::Fail => tr!("check.verdict_fail"),
            Verdict::Timeout => tr!("check.verdict_timeout"),
            Verdict::Leak => tr!("check.verdict_leak"),
            Verdict::CompileError => tr!("check.verdict_compile_error"),
        }
    }
}

/// The result of checking one exercise.
struct Graded {
    id: String,
    verdict: Verdict,
    /// One line: `every test passed`, `1 of 2 test(s) failed`, ...
    summary: String,
    elapsed: Duration,
    /// The per-test results, in exercism's shape.
    tests: Vec<serde_json::Value>,
}

impl Graded {
    /// The exercise's result as one JSON object (the README documents the fields).
    fn json(&self) -> serde_json::Value {
        let (verdict, status) = self.verdict.names();
        serde_json::json!({
            "version": 2, "id": self.id, "status": status, "verdict": verdict,
            "message": (self.verdict != Verdict::Pass).then_some(&self.summary),
            "time_secs": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "tests": self.tests,
        })
    }
}

/// The last 4 KiB of `text` (the end, where a panic is), saying how much was cut.
fn truncated(text: &str) -> String {
    let mut start = text.len().saturating_sub(4096);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    match start {
        0 => text.to_owned(),
        _ => format!("[... {start} bytes cut]\n{}", &text[start..]),
    }
}

/// What to check: one exercise, or a selection of them (`--all`).
#[derive(Default)]
struct Request {
    id: Option<String>,
    all: bool,
    done: bool,
    pending: bool,
    topic: Option<String>,
    json: bool,
}

fn parse_request(args: &[String]) -> Result<Request, String> {
    let mut r = Request::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--all" => r.all = true,
            "--done" => r.done = true,
            "--pending" => r.pending = true,
            "--json" => r.json = true,
            "--topic" => {
                r.topic = Some(args.next().ok_or(tr!("check.topic_needs_topic"))?.clone());
            }
            flag if flag.starts_with('-') => {
                return Err(tr!("check.unknown_option", option = flag));
            }
            id if r.id.is_none() => r.id = Some(id.to_owned()),
            _ => return Err(tr!("check.one_id").to_owned()),
        }
    }
    r.all |= r.done || r.pending || r.topic.is_some();
    if r.all && r.id.is_some() {
        return Err(tr!("check.id_and_all").to_owned());
    }
    Ok(r)
}

/// Runs `check`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let request = match parse_request(args) {
        Ok(request) => request,
        Err(message) => return Ok(crate::usage_error(&message)),
    };
    // With --json the JSON alone goes to stdout; everything said to a person goes to stderr.
    let mut json_out = match request.json {
        true => Some(human_output_to_stderr()?),
        false => None,
    };
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut progress = Progress::load(&root)?;
    let selected: Vec<&Exercise> = if request.all {
        if let Some(t) = request
            .topic
            .as_ref()
            .filter(|t| curriculum.topic(t).is_none())
        {
            eprintln!("{}", tr!("check.no_topic", topic = t));
            return Ok(ExitCode::from(2));
        }
        // Done ones by default, pending ones with --pending, both with --done --pending.
        let (done, pending) = (request.done || !request.pending, request.pending);
        let wanted = |e: &&Exercise| match progress.is_done(&e.id) {
            true => done,
            false => pending,
        };
        let in_topic = |e: &&Exercise| request.topic.as_ref().is_none_or(|t| e.topic() == t);
        curriculum
            .exercises
            .iter()
            .filter(in_topic)
            .filter(wanted)
            .collect()
    } else {
        match pick_exercise(&curriculum, &progress, request.id.as_ref())? {
            Ok(ex) => vec![ex],
            Err(code) => return Ok(code),
        }
    };
    if selected.is_empty() {
        match request.pending {
            true => println!("{}", tr!("check.nothing_pending")),
            false => println!("{}", tr!("check.nothing_done")),
        }
        return Ok(ExitCode::SUCCESS);
    }
    crate::fetch::ensure(&root);
    sandbox::init();
    let verbose = !request.all;
    // Naming an exercise makes it the current one until it passes (one rule, see `status`).
    if let (false, Some(id)) = (request.all, request.id.as_ref()) {
        progress.choose(id);
    }
    // An exercise whose prerequisites are not done fails in their code: say so first.
    let needs_first =
        verbose && crate::status::print_undone_requirements(&curriculum, &progress, selected[0]);
    let mut results: Vec<(Graded, bool)> = Vec::new();
    // One build per topic, then each exercise under its own limit.
    for topic in &curriculum.topics {
        let group: Vec<&Exercise> = selected
            .iter()
            .copied()
            .filter(|e| e.topic() == topic.name)
            .collect();
        if group.is_empty() {
            continue;
        }
        if !verbose {
            println!(
                "{}",
                term::bold(&tr!(
                    "check.topic",
                    title = i18n::course(&topic.title),
                    name = topic.name
                ))
            );
        }
        let Some(graded) = check_group(&root, &curriculum, &group, verbose, request.json)? else {
            eprintln!("{}", tr!("check.interrupted"));
            return Ok(ExitCode::from(130));
        };
        for g in graded {
            let was_done = progress.is_done(&g.id);
            if g.verdict == Verdict::Pass {
                progress.mark_done(&g.id);
            }
            if let Some(out) = json_out.as_mut() {
                writeln!(out, "{}", g.json()).context("cannot write the JSON verdict")?;
            }
            results.push((g, was_done));
        }
    }
    progress.save()?;
    let failed = results
        .iter()
        .filter(|(g, _)| g.verdict != Verdict::Pass)
        .count();
    if !verbose {
        print_summary(&results, failed);
    } else if failed == 0 {
        println!();
        match crate::status::current(&curriculum, &progress) {
            Some(next) => crate::status::print_next_steps(&curriculum, next),
            None => println!("{}", term::green(tr!("check.last_exercise"))),
        }
    } else if needs_first {
        println!();
        crate::status::print_undone_requirements(&curriculum, &progress, selected[0]);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The summary table of `check --all`.
fn print_summary(results: &[(Graded, bool)], failed: usize) {
    let width = results.iter().map(|(g, _)| g.id.len()).max().unwrap_or(2);
    let (verdict_head, time_head) = (tr!("check.head_verdict"), tr!("check.head_time"));
    let head = format!(
        "{:<width$}  {verdict_head}{}  {}{time_head}  {}",
        tr!("check.head_id"),
        i18n::pad(verdict_head, 13, 0),
        i18n::pad(time_head, 8, 0),
        tr!("check.head_details")
    );
    println!("\n{}", term::bold(&head));
    for (g, was_done) in results {
        let name = g.verdict.label();
        let verdict = format!("{name}{}", i18n::pad(name, 13, 0));
        let (verdict, details) = match (g.verdict, was_done) {
            (Verdict::Pass, _) => (term::green(&verdict), String::new()),
            (_, false) => (term::red(&verdict), g.summary.clone()),
            (_, true) => (
                term::red(&verdict),
                tr!("check.was_done", summary = g.summary),
            ),
        };
        let secs = g.elapsed.as_secs_f64();
        println!("{:<width$}  {verdict}  {secs:>6.2} s  {details}", g.id);
    }
    match failed {
        0 => println!(
            "{} {}",
            term::green(tr!("check.pass")),
            tr!("check.all_passed", n = results.len())
        ),
        _ => println!(
            "{} {}",
            term::red(tr!("check.fail")),
            tr!("check.some_failed", failed, n = results.len())
        ),
    }
}

/// Points fd 1 at stderr and returns the original stdout, for output meant for a program.
fn human_output_to_stderr() -> anyhow::Result<std::fs::File> {
    use std::os::fd::AsFd;
    std::io::stdout().flush().context("cannot flush stdout")?;
    let original = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot dup stdout")?;
    // SAFETY: dup2 only makes fd 1 another descriptor of the open file behind fd 2; both are
    // this process's standard descriptors, and std's stdout writes through fd 1 whatever it is.
    if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } == -1 {
        return Err(std::io::Error::last_os_error()).context("cannot point stdout at stderr");
    }
    Ok(std::fs::File::from(original))
}

/// Builds the tests of `group` (exercises of one topic) with one cargo call and runs each;
/// `None` when interrupted.
fn check_group(
    root: &Path,
    curriculum: &Curriculum,
    group: &[&Exercise],
    verbose: bool,
    keep_diagnostics: bool,
) -> anyhow::Result<Option<Vec<Graded>>> {
    let all_paths: Vec<ExercisePaths> = group.iter().map(|ex| curriculum.paths(ex)).collect();
    if verbose {
        let stub = term::link(root, &all_paths[0].stub);
        let what = term::bold(&group[0].id);
        println!(
            "{} {what}  {}",
            term::bold(tr!("check.checking")),
            term::dim(&format!("({stub})"))
        );
    }
    // The tests are the spec: an edited test file is said so, and the original is built.
    let swaps: Vec<_> = all_paths
        .iter()
        .map(|paths| crate::pristine::TestSwap::begin(root, paths))
        .collect::<anyhow::Result<_>>()?;
    let mut args = vec!["test", "-p", &all_paths[0].package, "--no-run"];
    for paths in &all_paths {
        args.extend(["--test", &paths.test_target]);
    }
    if !verbose {
        args.push("--quiet");
    }
    let build = crate::cargo::build_capturing(root, &args, keep_diagnostics)?;
    drop(swaps);
    if sandbox::interrupted() {
        return Ok(None);
    }
    let mut graded = Vec::new();
    for (ex, paths) in group.iter().zip(&all_paths) {
        let crate_dir = root.join(&paths.crate_dir);
        match build
            .artifacts
            .iter()
            .find(|a| a.is_test(&crate_dir, &paths.test_target))
        {
            Some(artifact) => match run_tests(root, ex, paths, &artifact.executable, verbose)? {
                Some(g) => graded.push(g),
                None => return Ok(None),
            },
            None => {
                let stub = term::link(root, &paths.stub);
                let (fail, id) = (term::red(tr!("check.fail")), &ex.id);
                let not_yet = tr!("check.does_not_compile");
                if verbose {
                    println!("{fail} {}", tr!("check.fix_errors_above", id, stub));
                    print_help_line(ex, paths);
                } else {
                    println!("  {fail}  {id}: {not_yet}  {}", term::dim(&stub));
                }
                let summary = match keep_diagnostics {
                    true => format!("{not_yet}:\n{}", truncated(&build.diagnostics)),
                    false => not_yet.to_owned(),
                };
                graded.push(Graded {
                    id: ex.id.clone(),
                    verdict: Verdict::CompileError,
                    summary,
                    elapsed: Duration::ZERO,
                    tests: Vec::new(),
                });
            }
        }
    }
    Ok(Some(graded))
}

/// Runs one exercise's test binary in the sandbox and grades it; `None` when interrupted.
fn run_tests(
    root: &Path,
    ex: &Exercise,
    paths: &ExercisePaths,
    executable: &Path,
    verbose: bool,
) -> anyhow::Result<Option<Graded>> {
    let crate_dir = root.join(&paths.crate_dir);
    // Only an exercise that uses message queues hears that their leftovers cannot be listed.
    let uses_queues = [&paths.test, &paths.stub]
        .iter()
        .filter_map(|rel| std::fs::read_to_string(root.join(rel)).ok())
        .any(|text| text.contains("mq_open") || text.contains("mqueue"));
    sandbox::uses_message_queues(uses_queues);
    let listed = list_tests(executable, &crate_dir);
    let limit = ex.time_limit();
    if verbose {
        let what = tr!("check.running", n = listed.len(), secs = limit.as_secs());
        println!("{}", term::dim(&what));
    }
    let mut cmd = test_command(executable, &crate_dir);
    // Tests that need a tool the machine lacks (the NATS server of week 9) skip under a plain
    // `cargo test`; when a learner's work is graded they fail instead, saying what to install,
    // so that a stub is never marked done by tests that did not run.
    cmd.env("PROCLINGS_GRADING", "1");
    let outcome = sandbox::run_capped(cmd, limit, false, ex.task_cap())?;
    if outcome.interrupted {
        return Ok(None);
    }
    let report = libtest::parse(&outcome.output);
    let passed = match verbose {
        true => print_verdict(&ex.id, &listed, &outcome, &report),
        false => verdict_of(&outcome, &report),
    };
    let failed = report.with(Outcome::Failed).len();
    let (verdict, summary) = if passed {
        let secs = outcome.elapsed.as_secs_f64();
        let secs = format!("{secs:.2}");
        (Verdict::Pass, tr!("check.every_test_passed", secs))
    } else if let Some(spawn_loop) = spawn_loop(&outcome) {
        (Verdict::Timeout, spawn_loop)
    } else if outcome.timed_out {
        (
            Verdict::Timeout,
            tr!("check.timed_out", secs = limit.as_secs()),
        )
    } else if !outcome.leaks.is_empty() && failed == 0 {
        let leaks = leak_lines(&outcome.leaks).join(tr!("check.leak_separator"));
        (Verdict::Leak, tr!("check.left_behind", leaks))
    } else if failed > 0 {
        let of = listed.len().max(failed);
        (Verdict::Fail, tr!("check.tests_failed", failed, of))
    } else {
        (
            Verdict::Fail,
            tr!("check.binary_ended", status = status_text(outcome.status)),
        )
    };
    let mark = if passed {
        term::green(tr!("check.pass"))
    } else {
        term::red(tr!("check.fail"))
    };
    if !verbose {
        println!(
            "  {mark}  {}: {summary}  {}",
            ex.id,
            term::dim(&term::link(root, &paths.stub))
        );
    } else if passed {
        println!("{mark} {}", tr!("check.marked_done", id = ex.id, summary));
    } else {
        println!("{mark} {}: {summary}", ex.id);
        if let Some(pointer) = explain_pointer(&outcome.output) {
            println!("{pointer}");
        }
        print_help_line(ex, paths);
    }
    let tests = tests_json(&test_names(&listed, &report), &outcome, &report);
    let (id, elapsed) = (ex.id.clone(), outcome.elapsed);
    Ok(Some(Graded {
        id,
        verdict,
        summary,
        elapsed,
        tests,
    }))
}

/// The tests a binary listed, then any other that reported a result.
fn test_names<'a>(listed: &'a [String], report: &'a libtest::Report) -> Vec<&'a str> {
    let mut names: Vec<&str> = listed.iter().map(String::as_str).collect();
    for (name, _) in &report.results {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

/// Each test's result in exercism's shape: name, status (pass, fail, error), message (the
/// failure, from the panic on) and output (what the test printed before it).
fn tests_json(
    names: &[&str],
    outcome: &sandbox::Outcome,
    report: &libtest::Report,
) -> Vec<serde_json::Value> {
    let result = |name: &str| match report.outcome(name) {
        Some(Outcome::Passed) => ("pass", None, None),
        Some(Outcome::Failed) => {
            let block = report.failures.get(name).map_or("", String::as_str);
            let (output, message) = block.split_at(block.find("\nthread '").map_or(0, |i| i + 1));
            let output = Some(output.trim()).filter(|o| !o.is_empty()).map(truncated);
            (
                "fail",
                Some(truncated(&readable_paths(message.trim()))),
                output,
            )
        }
        Some(Outcome::Ignored) => ("error", Some("the test is ignored".to_owned()), None),
        None if outcome.timed_out => ("error", Some("still running at the limit".to_owned()), None),
        None => (
            "error",
            Some(format!(
                "no result: the binary ended with {}",
                outcome.status
            )),
            None,
        ),
    };
    names
        .iter()
        .map(|name| {
            let (status, message, output) = result(name);
            serde_json::json!({"name": name, "status": status, "message": message, "output": output})
        })
        .collect()
}

/// Whether a run passed, as [`print_verdict`] decides it, without printing.
fn verdict_of(outcome: &sandbox::Outcome, report: &libtest::Report) -> bool {
    outcome.clean_success()
        && report.with(Outcome::Failed).is_empty()
        && !report.with(Outcome::Passed).is_empty()
}

fn print_help_line(ex: &Exercise, paths: &ExercisePaths) {
    println!(
        "  {}",
        tr!(
            "check.stuck",
            hint = term::bold(&format!("cargo xtask hint {}", ex.id)),
            section = term::link_to(&crate::manifest::root(), &paths.chapter, Some(ex.name()))
        )
    );
}

/// The command that runs a test binary as cargo would: from its package's directory.
pub fn test_command(executable: &Path, crate_dir: &Path) -> Command {
    let mut cmd = Command::new(executable);
    cmd.current_dir(crate_dir)
        .env("CARGO_MANIFEST_DIR", crate_dir)
        .env("RUST_BACKTRACE", "0");
    cmd
}

/// The tests a binary contains (`--list`), or none if it cannot say.
pub fn list_tests(executable: &Path, crate_dir: &Path) -> Vec<String> {
    let mut cmd = test_command(executable, crate_dir);
    cmd.args(["--list", "--format", "terse"]);
    match sandbox::run(cmd, Duration::from_secs(10), false) {
        Ok(outcome) => libtest::parse_list(&outcome.output),
        Err(_) => Vec::new(),
    }
}

/// Prints each test's result, failure messages, timeouts and leaks; returns whether it passed.
pub fn print_verdict(
    id: &str,
    listed: &[String],
    outcome: &sandbox::Outcome,
    report: &libtest::Report,
) -> bool {
    for name in &test_names(listed, report) {
        let tag = |text: &str, paint: fn(&str) -> String| {
            format!("  {}{}{name}", paint(text), i18n::pad(text, 8, 1))
        };
        let line = match report.outcome(name) {
            Some(Outcome::Passed) => tag(tr!("check.test_ok"), term::green),
            Some(Outcome::Failed) => tag(tr!("check.test_failed"), term::red),
            Some(Outcome::Ignored) => tag(tr!("check.test_ignored"), term::yellow),
            None if outcome.timed_out => format!(
                "{} {}",
                tag(tr!("check.test_timeout"), term::red),
                term::dim(tr!("check.still_running"))
            ),
            None => tag(tr!("check.test_no_result"), term::yellow),
        };
        println!("{line}");
    }
    // Tests that failed the same way (typically every test on an untouched `todo!()`) are shown
    // once, so the first real difference is not buried under copies.
    let mut groups: Vec<(String, Vec<&str>, &str)> = Vec::new();
    for (name, message) in &report.failures {
        let key = same_failure_key(message);
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, names, _)) => names.push(name),
            None => groups.push((key, vec![name.as_str()], message.as_str())),
        }
    }
    for (_, names, message) in &groups {
        println!();
        let title = match names.as_slice() {
            [one] => format!("---- {one} ----"),
            many => tr!("check.same_way", n = many.len(), names = many.join(", ")),
        };
        println!("{}", term::red(&title));
        println!("{}", readable_paths(message));
    }
    if let Some(spawn_loop) = spawn_loop(outcome) {
        println!();
        println!("{}", term::red(&format!("{id}: {spawn_loop}")));
        println!("  {}", tr!("check.spawn_loop_help"));
    }
    if outcome.timed_out {
        println!();
        println!(
            "{}",
            term::red(&tr!(
                "check.timed_out_killed",
                id,
                secs = outcome.elapsed.as_secs()
            ))
        );
        if !outcome.running_at_limit.is_empty() {
            println!("{}", tr!("check.running_at_limit"));
            for p in outcome.running_at_limit.iter().take(LISTED) {
                println!("  {p}");
            }
            if outcome.running_at_limit.len() > LISTED {
                println!(
                    "  {}",
                    tr!(
                        "check.and_more",
                        n = outcome.running_at_limit.len() - LISTED
                    )
                );
            }
        }
        println!("{}", tr!("check.output_so_far"));
        print_tail(&outcome.output, 40);
    } else if report.results.is_empty() && outcome.status != sandbox::Status::Exited(0) {
        println!(
            "{}",
            tr!("check.binary_output", status = status_text(outcome.status))
        );
        print_tail(&outcome.output, 60);
    }
    print_leaks(&outcome.leaks);
    verdict_of(outcome, report)
}

/// How many processes a verdict lists before it says "and N more".
const LISTED: usize = 20;

/// The verdict line for a run that reached its cap on tasks: a spawn loop, most likely.
fn spawn_loop(outcome: &sandbox::Outcome) -> Option<String> {
    let cap = outcome.task_cap?;
    // Where a cgroup enforces the cap the kernel says it was reached; under RLIMIT_NPROC, a run
    // whose processes alone come near the cap reached it.
    let near =
        outcome.running_at_limit.len() + outcome.leaks.processes.len() >= cap as usize * 9 / 10;
    (outcome.hit_task_cap || near).then(|| tr!("check.spawn_loop", cap = thousands(cap)))
}

/// `1024` as `1,024`.
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A failure message with what differs between tests that failed the same way (the thread's
/// name and id in libtest's `thread 'NAME' (TID) panicked at` line) taken out.
fn same_failure_key(message: &str) -> String {
    message
        .lines()
        .map(
            |line| match (line.strip_prefix("thread '"), line.find(" panicked at ")) {
                (Some(_), Some(at)) => &line[at..],
                _ => line,
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Shortens the paths rustc records for `#[path]` modules, `crates/DIR/src/../../../exercises/
/// DIR/NAME.rs`, to the file the learner edits, `exercises/DIR/NAME.rs`.
fn readable_paths(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(up) = rest.find("/src/../../../") {
        let before = &rest[..up];
        // Drop the `crates/DIR` that precedes `/src/../../../`.
        let start = before
            .rfind("crates/")
            .filter(|&i| !before[i..].contains(char::is_whitespace));
        match start {
            Some(i) => out.push_str(&before[..i]),
            None => out.push_str(&rest[..up + "/src/../../../".len()]),
        }
        rest = &rest[up + "/src/../../../".len()..];
    }
    out.push_str(rest);
    out
}

/// How a test binary ended, in the run's language (the sandbox's `Display` is English).
fn status_text(status: sandbox::Status) -> String {
    match status {
        sandbox::Status::Exited(code) => tr!("check.status_exited", code),
        sandbox::Status::Signaled(signal) => tr!(
            "check.status_signaled",
            signal,
            name = sandbox::signal_name(signal)
        ),
        sandbox::Status::Unknown => tr!("check.status_unknown").to_owned(),
    }
}

/// One line per object a run left behind, each saying that it was cleaned up, in the run's
/// language (`Leaks::lines` is the sandbox's English, which the maintainers' verbs print).
fn leak_lines(leaks: &sandbox::Leaks) -> Vec<String> {
    let processes = leaks
        .processes
        .iter()
        .map(|process| tr!("check.leak_process", process));
    let shm = leaks.shm.iter().map(|name| tr!("check.leak_shm", name));
    let mqueues = leaks
        .mqueues
        .iter()
        .map(|name| tr!("check.leak_mqueue", name));
    processes.chain(shm).chain(mqueues).collect()
}

/// Reports what a run left behind and where the course explains it.
pub fn print_leaks(leaks: &sandbox::Leaks) {
    if leaks.is_empty() {
        return;
    }
    println!();
    let lines = leak_lines(leaks);
    for line in lines.iter().take(LISTED) {
        println!("  {} {line}", term::red(tr!("check.leak")));
    }
    if lines.len() > LISTED {
        println!(
            "  {} {}",
            term::red(tr!("check.leak")),
            tr!("check.and_more", n = lines.len() - LISTED)
        );
    }
    if !leaks.processes.is_empty() {
        println!(
            "  {}",
            tr!("check.leaked_processes", chapter = PROCESS_LEAK_CHAPTER)
        );
    }
    if !leaks.shm.is_empty() || !leaks.mqueues.is_empty() {
        println!("  {}", tr!("check.leaked_ipc", chapter = IPC_LEAK_CHAPTER));
    }
}

fn print_tail(output: &str, lines: usize) {
    let all: Vec<&str> = output.lines().collect();
    let start = all.len().saturating_sub(lines);
    if start > 0 {
        println!("  {}", term::dim(&tr!("check.earlier_lines", n = start)));
    }
    for line in &all[start..] {
        println!("  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_are_shown_as_the_file_the_learner_edits() {
        let msg = "panicked at crates/01-command-basics/src/../../../exercises/01-command-basics/\
                   exit_status.rs:37:5:";
        assert_eq!(
            readable_paths(msg),
            "panicked at exercises/01-command-basics/exit_status.rs:37:5:"
        );
        assert_eq!(readable_paths("no paths here"), "no paths here");
    }

    #[test]
    fn failures_that_differ_only_in_the_thread_are_the_same() {
        let a = "\nthread 'a' (101) panicked at x.rs:1:1:\nnot yet implemented";
        let b = "\nthread 'b_other' (102) panicked at x.rs:1:1:\nnot yet implemented";
        let c = "\nthread 'c' (103) panicked at x.rs:9:1:\nassertion failed";
        assert_eq!(same_failure_key(a), same_failure_key(b));
        assert_ne!(same_failure_key(a), same_failure_key(c));
    }
}
