//! `cargo xtask check [ID]`: builds an exercise's test binary, runs it in the sandbox (own process
//! group, run-time limit, leak check), and prints a verdict; on success marks the exercise done
//! and names the next one.
//!
//! Exit status: 0 passed, 1 failed (did not compile, a test failed, timed out, or leaked),
//! 2 usage error (such as an unknown id), 130 interrupted.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::libtest::{self, Outcome};
use crate::manifest::{Curriculum, Exercise, ExercisePaths};
use crate::progress::Progress;
use crate::sandbox;
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
        Some(id) if id.starts_with('-') => {
            Ok(Err(crate::usage_error(&format!("unknown option `{id}`"))))
        }
        Some(id) => match curriculum.find(id) {
            Some(ex) => Ok(Ok(ex)),
            None => {
                let close = curriculum.suggest(id);
                if close.is_empty() {
                    eprintln!("error: there is no exercise `{id}`");
                } else {
                    eprintln!(
                        "error: there is no exercise `{id}`; did you mean {}?",
                        close
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    );
                }
                eprintln!("`cargo xtask list` shows every exercise id");
                Ok(Err(ExitCode::from(2)))
            }
        },
        None => match crate::status::current(curriculum, progress) {
            Some(ex) => Ok(Ok(ex)),
            None => {
                println!(
                    "Every exercise is done. Name one to check it again: cargo xtask check ID"
                );
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
    let mut text = String::from("  the output mentions something `explain` covers:");
    for entry in entries {
        text.push_str(&format!(
            "\n    {}  {}",
            term::bold(&format!("cargo xtask explain {}", entry.id)),
            term::dim(&entry.title)
        ));
    }
    Some(text)
}

/// Runs `check`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if args.len() > 1 {
        return Ok(crate::usage_error("`check` takes at most one exercise id"));
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut progress = Progress::load(&root);
    let ex = match pick_exercise(&curriculum, &progress, args.first())? {
        Ok(ex) => ex,
        Err(code) => return Ok(code),
    };
    let paths = curriculum.paths(ex);
    sandbox::init();

    println!(
        "{} {}  {}",
        term::bold("checking"),
        term::bold(&ex.id),
        term::dim(&format!("({})", term::link(&root, &paths.stub)))
    );
    // The tests are the spec: an edited test file is said so, and the original is built.
    let test_swap = crate::pristine::TestSwap::begin(&root, &paths)?;
    let build = crate::cargo::build(
        &root,
        &[
            "test",
            "-p",
            &paths.package,
            "--test",
            &paths.test_target,
            "--no-run",
        ],
    )?;
    drop(test_swap);
    if sandbox::interrupted() {
        eprintln!("interrupted");
        return Ok(ExitCode::from(130));
    }
    if !build.success {
        println!(
            "{} {} does not compile yet: fix the errors above (the file to edit is {})",
            term::red("FAIL"),
            ex.id,
            term::link(&root, &paths.stub)
        );
        print_help_line(ex, &paths);
        return Ok(ExitCode::FAILURE);
    }
    let crate_dir = root.join(&paths.crate_dir);
    let Some(artifact) = build
        .artifacts
        .iter()
        .find(|a| a.is_test(&crate_dir, &paths.test_target))
    else {
        anyhow::bail!(
            "cargo built no test binary `{}` for package `{}`",
            paths.test_target,
            paths.package
        );
    };

    let listed = list_tests(&artifact.executable, &crate_dir);
    let limit = ex.time_limit();
    println!(
        "{}",
        term::dim(&format!(
            "running {} test(s), time limit {} s",
            listed.len(),
            limit.as_secs()
        ))
    );
    let outcome = sandbox::run(test_command(&artifact.executable, &crate_dir), limit, false)?;
    if outcome.interrupted {
        eprintln!("interrupted: the tests and every process they started were stopped");
        return Ok(ExitCode::from(130));
    }
    let report = libtest::parse(&outcome.output);
    let passed = print_verdict(&ex.id, &listed, &outcome, &report);
    if passed {
        progress.mark_done(&ex.id);
        progress.save()?;
        println!(
            "{} {}: every test passed ({:.2} s); marked done",
            term::green("PASS"),
            ex.id,
            outcome.elapsed.as_secs_f64()
        );
        println!();
        match curriculum.next_after(&ex.id) {
            Some(next) => crate::status::print_next_steps(&curriculum, next),
            None => println!(
                "{}",
                term::green("That was the last exercise of the course.")
            ),
        }
        Ok(ExitCode::SUCCESS)
    } else {
        let failed = report.with(Outcome::Failed).len();
        let summary = if outcome.timed_out {
            format!("timed out after {} s", limit.as_secs())
        } else if !outcome.leaks.is_empty() && failed == 0 {
            "the tests passed but left things behind".to_owned()
        } else if failed > 0 {
            format!("{failed} of {} test(s) failed", listed.len().max(failed))
        } else {
            format!("the test binary ended with {}", outcome.status)
        };
        println!("{} {}: {summary}", term::red("FAIL"), ex.id);
        if let Some(pointer) = explain_pointer(&outcome.output) {
            println!("{pointer}");
        }
        print_help_line(ex, &paths);
        Ok(ExitCode::FAILURE)
    }
}

fn print_help_line(ex: &Exercise, paths: &ExercisePaths) {
    println!(
        "  stuck? {}   read {}",
        term::bold(&format!("cargo xtask hint {}", ex.id)),
        paths.section
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
    let mut names: Vec<&str> = listed.iter().map(String::as_str).collect();
    for (name, _) in &report.results {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for name in &names {
        let line = match report.outcome(name) {
            Some(Outcome::Passed) => format!("  {}      {name}", term::green("ok")),
            Some(Outcome::Failed) => format!("  {}  {name}", term::red("FAILED")),
            Some(Outcome::Ignored) => format!("  {} {name}", term::yellow("ignored")),
            None if outcome.timed_out => format!(
                "  {} {name} {}",
                term::red("TIMEOUT"),
                term::dim("(still running at the limit)")
            ),
            None => format!("  {} {name}", term::yellow("no result")),
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
            many => format!(
                "---- {} tests failed the same way: {} ----",
                many.len(),
                many.join(", ")
            ),
        };
        println!("{}", term::red(&title));
        println!("{}", readable_paths(message));
    }
    if outcome.timed_out {
        println!();
        println!(
            "{}",
            term::red(&format!(
                "{id}: timed out after {} s; the test binary's process group got SIGTERM, then SIGKILL",
                outcome.elapsed.as_secs()
            ))
        );
        if !outcome.running_at_limit.is_empty() {
            println!("processes still running at the limit:");
            for p in &outcome.running_at_limit {
                println!("  {p}");
            }
        }
        println!("output so far:");
        print_tail(&outcome.output, 40);
    } else if report.results.is_empty() && outcome.status != sandbox::Status::Exited(0) {
        println!("the test binary ended with {}; its output:", outcome.status);
        print_tail(&outcome.output, 60);
    }
    print_leaks(&outcome.leaks);
    let failed = !report.with(Outcome::Failed).is_empty();
    let nothing_passed = report.with(Outcome::Passed).is_empty();
    outcome.clean_success() && !failed && !nothing_passed
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

/// Reports what a run left behind and where the course explains it.
pub fn print_leaks(leaks: &sandbox::Leaks) {
    if leaks.is_empty() {
        return;
    }
    println!();
    for line in leaks.lines() {
        println!("  {} {line}", term::red("leak:"));
    }
    if !leaks.processes.is_empty() {
        println!(
            "  Processes were still running after the tests ended. Every child must be waited \
             for (or killed and then waited for) before the code that started it returns; a \
             child that outlives its parent becomes an orphan, one never waited for stays a \
             zombie. See {PROCESS_LEAK_CHAPTER}, or run `cargo xtask explain leftover-process`."
        );
    }
    if !leaks.shm.is_empty() || !leaks.mqueues.is_empty() {
        println!(
            "  Named IPC objects outlive the processes that create them: unlink every shared \
             memory segment, semaphore and message queue when done. See {IPC_LEAK_CHAPTER}, \
             or run `cargo xtask explain shm-leak`."
        );
    }
}

fn print_tail(output: &str, lines: usize) {
    let all: Vec<&str> = output.lines().collect();
    let start = all.len().saturating_sub(lines);
    if start > 0 {
        println!(
            "  {}",
            term::dim(&format!("({start} earlier lines not shown)"))
        );
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
