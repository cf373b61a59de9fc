//! `cargo xtask verify`: the maintainers' and CI's full check; exits non-zero on any miss, names
//! each miss, and ends with a summary and the time of each step.
//!
//! Steps, in order (each runs even when an earlier one missed):
//! 1. tidy: the conventions of `crate::tidy`;
//! 2. `cargo fmt --all --check`;
//! 3. `cargo clippy --workspace --all-targets -- -D warnings`;
//! 4. the same with `--features solution` (accepted at the workspace level as long as some
//!    selected package has the feature: the topic crates do);
//! 5. `cargo test --workspace --features solution --no-fail-fast`: every solution test, and the
//!    tests of testkit and of this runner;
//! 6. stubs: one `cargo test --no-run` of every topic crate without the feature, then each
//!    exercise's test binary runs in the sandbox and EVERY test must be reported FAILED (a test
//!    that passes, is ignored, or is still running at the limit on its stub is a miss);
//! 7. demos: one `cargo build --bins`, then every topic's demo runs to completion in the sandbox;
//! 8. known mistakes: every mistake of `crates/DIR/mistakes/` is applied to its solution,
//!    built and run (`crate::mistakes`), and each must make its named test fail with its message;
//! 9. the chapters' commands: every `console` block of the book runs as written
//!    (`crate::doc_commands`);
//! 10. the book: `mdbook build docs` (into target/book) when mdbook is on PATH, then each
//!     translation of docs/po/translations.toml (into target/book/LANG) when mdbook-gettext is,
//!     any error or warning a miss; said skipped otherwise (`.ci/run` installs both).
//!
//! Every command runs in the sandbox, and verify is a child subreaper throughout: what any step
//! leaves behind (a process, a /dev/shm entry, a queue) is a miss, and a last sweep checks the
//! verify run as a whole.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use crate::cargo::{Artifact, cargo_program};
use crate::libtest::{self, Outcome};
use crate::manifest::Curriculum;

use crate::term;

/// The limit for one cargo step (builds included: a cold build on two cores is slow).
const CARGO_STEP_LIMIT: Duration = Duration::from_secs(40 * 60);
/// The cap on a cargo step's tasks (every test binary of the workspace, one after the other,
/// each with its tests in parallel).
const CARGO_STEP_TASKS: u32 = 16_384;
/// The limit for one demo.
const DEMO_LIMIT: Duration = Duration::from_secs(60);

/// A step's record for the summary.
struct StepRecord {
    name: String,
    elapsed: Duration,
    misses: usize,
}

/// The state of one verify run.
struct Verify {
    root: std::path::PathBuf,
    misses: Vec<String>,
    steps: Vec<StepRecord>,
    /// Tests that passed and failed with the solutions, summed over every test binary.
    solution_tests: (usize, usize),
}

/// Stops verify after Ctrl-C or SIGTERM (the sandbox has already stopped the run).
struct Interrupted;

impl Verify {
    /// Runs one step, printing its name, its misses as they come and its time.
    fn step(
        &mut self,
        number: usize,
        name: &str,
        body: impl FnOnce(&mut Self) -> anyhow::Result<Result<(), Interrupted>>,
    ) -> anyhow::Result<Result<(), Interrupted>> {
        println!(
            "{} {}",
            term::bold(&format!("==> [{number}/10]")),
            term::bold(name)
        );
        let before = self.misses.len();
        let start = Instant::now();
        let result = body(self);
        // A step must leave nothing behind either, whatever ran in it.
        let processes = sandbox::kill_descendants();
        for p in processes {
            self.miss(format!("{name}: left a process behind: {p}"));
        }
        let elapsed = start.elapsed();
        let misses = self.misses.len() - before;
        let verdict = if misses == 0 {
            term::green("ok")
        } else {
            term::red(&format!("{misses} miss(es)"))
        };
        println!("    {verdict} ({:.1} s)", elapsed.as_secs_f64());
        self.steps.push(StepRecord {
            name: name.to_owned(),
            elapsed,
            misses,
        });
        result
    }

    fn miss(&mut self, miss: String) {
        println!("    {} {miss}", term::red("miss:"));
        self.misses.push(miss);
    }

    /// Runs `cargo ARGS` in the sandbox; a failure is a miss named `what`, shown with its output.
    fn cargo_step(
        &mut self,
        args: &[&str],
        what: &str,
    ) -> anyhow::Result<Result<sandbox::Outcome, Interrupted>> {
        let mut cmd = Command::new(cargo_program());
        cmd.args(args).current_dir(&self.root);
        // A whole workspace's tests at once: a cap far above a single check's.
        let outcome = sandbox::run_capped(cmd, CARGO_STEP_LIMIT, false, CARGO_STEP_TASKS)?;
        if outcome.interrupted {
            return Ok(Err(Interrupted));
        }
        if outcome.status != sandbox::Status::Exited(0) || outcome.timed_out {
            print_tail(&outcome.output, 200);
            self.miss(format!("`cargo {}`: {what}", args.join(" ")));
        }
        for line in outcome.leaks.lines() {
            self.miss(format!("`cargo {}`: leak: {line}", args.join(" ")));
        }
        Ok(Ok(outcome))
    }
}

/// Runs `verify`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(extra) = args.first() {
        return Ok(crate::usage_error(&format!(
            "`verify` takes no arguments (got `{extra}`)"
        )));
    }
    sandbox::init();
    let root = crate::manifest::root();
    let start = Instant::now();
    let ipc_before = sandbox::snapshot();
    let mut v = Verify {
        root: root.clone(),
        misses: Vec::new(),
        steps: Vec::new(),
        solution_tests: (0, 0),
    };
    match run_steps(&mut v)? {
        Ok(()) => {}
        Err(Interrupted) => {
            eprintln!("interrupted: verify stopped, and every process it started was stopped");
            return Ok(ExitCode::from(130));
        }
    }
    let leftovers = sandbox::sweep_ipc(&ipc_before);
    for line in leftovers.lines() {
        v.misses.push(format!("verify as a whole: leak: {line}"));
    }

    println!();
    println!("{}", term::bold("verify summary"));
    for s in &v.steps {
        let misses = if s.misses == 0 {
            term::green("ok")
        } else {
            term::red(&format!("{} miss(es)", s.misses))
        };
        println!(
            "  {:<44} {:>7.1} s  {misses}",
            s.name,
            s.elapsed.as_secs_f64()
        );
    }
    let total = start.elapsed().as_secs_f64();
    let code = if v.misses.is_empty() {
        println!("{} every check passed ({total:.1} s)", term::green("PASS"));
        ExitCode::SUCCESS
    } else {
        println!(
            "{} {} miss(es) ({total:.1} s):",
            term::red("FAIL"),
            v.misses.len()
        );
        for miss in &v.misses {
            println!("  - {miss}");
        }
        ExitCode::FAILURE
    };
    // The conventional closing line of a test run, for tools that read the last line.
    let (passed, failed) = v.solution_tests;
    println!("tests: {passed} passed, {failed} failed");
    Ok(code)
}

fn run_steps(v: &mut Verify) -> anyhow::Result<Result<(), Interrupted>> {
    macro_rules! step {
        ($n:expr, $name:expr, $body:expr) => {
            if let Err(Interrupted) = v.step($n, $name, $body)? {
                return Ok(Err(Interrupted));
            }
        };
    }
    step!(1, "tidy", |v| {
        let (misses, notes) = crate::tidy::check_with_notes(&v.root);
        for note in notes {
            println!("    note: {note}");
        }
        for miss in misses {
            v.miss(format!("tidy: {miss}"));
        }
        Ok(Ok(()))
    });
    step!(2, "cargo fmt --all --check", |v| {
        v.cargo_step(
            &["fmt", "--all", "--check"],
            "files are not formatted (run `cargo fmt --all`)",
        )
        .map(|r| r.map(drop))
    });
    step!(3, "clippy -D warnings", |v| {
        v.cargo_step(
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ],
            "clippy found problems (see above)",
        )
        .map(|r| r.map(drop))
    });
    step!(4, "clippy -D warnings, with the solutions", |v| {
        v.cargo_step(
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                "solution",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ],
            "clippy found problems with the solutions (see above)",
        )
        .map(|r| r.map(drop))
    });
    step!(5, "every test passes with the solutions", |v| {
        let args = [
            "test",
            "--workspace",
            "--features",
            "solution",
            "--no-fail-fast",
        ];
        let outcome = match v.cargo_step(&args, "tests failed with the solutions")? {
            Ok(outcome) => outcome,
            Err(Interrupted) => return Ok(Err(Interrupted)),
        };
        for failed in failed_tests_by_binary(&outcome.output) {
            // What the test said (its panic message) is what the next person needs; the tail
            // of cargo's output shows only the doc-tests that ran last.
            let name = failed.rsplit(": ").next().unwrap_or(&failed);
            if let Some(said) = failure_report(&outcome.output, name) {
                print_tail(&said, 40);
            }
            v.miss(format!("fails with the solution: {failed}"));
        }
        v.solution_tests = test_totals(&outcome.output);
        Ok(Ok(()))
    });
    step!(6, "every test fails on its stub", stubs_step);
    step!(7, "every demo runs to completion", demos_step);
    step!(8, "every known mistake is caught", mistakes_step);
    step!(
        9,
        "the chapters' commands run as written",
        doc_commands_step
    );
    step!(10, "the book builds without warnings", book_step);
    Ok(Ok(()))
}

/// Applies every known mistake and runs its exercise's tests; each one not caught is a miss.
fn mistakes_step(v: &mut Verify) -> anyhow::Result<Result<(), Interrupted>> {
    let Some(summary) = crate::mistakes::run_all(&v.root)? else {
        return Ok(Err(Interrupted));
    };
    for missed in &summary.missed {
        v.miss(format!("known mistake not caught: {missed}"));
    }
    println!(
        "    mistakes: {} caught of {} ({:.0} s)",
        summary.caught,
        summary.total,
        summary.elapsed.as_secs_f64()
    );
    Ok(Ok(()))
}

/// Replays every `console` block of the book; each that does not run as written is a miss.
fn doc_commands_step(v: &mut Verify) -> anyhow::Result<Result<(), Interrupted>> {
    for block in crate::doc_commands::blocks(&v.root) {
        let at = format!("{}:{}", block.file.display(), block.line);
        match crate::doc_commands::run(&v.root, &block)? {
            None => return Ok(Err(Interrupted)),
            Some(Ok(())) => println!("    {at}: {} command(s) ran as written", block.steps.len()),
            Some(Err(why)) => v.miss(format!("{at}: {why}")),
        }
    }
    Ok(Ok(()))
}

/// Builds the book with mdbook when it is installed; every error or warning is a miss.
fn book_step(v: &mut Verify) -> anyhow::Result<Result<(), Interrupted>> {
    if !v.root.join("docs/book.toml").is_file() {
        println!("    skipped: there is no docs/book.toml");
        return Ok(Ok(()));
    }
    if !crate::po::on_path("mdbook") {
        println!(
            "    skipped: mdbook is not on PATH (`cargo install --locked mdbook --version {}`; \
             .ci/run installs it)",
            crate::MDBOOK_VERSION
        );
        return Ok(Ok(()));
    }
    // English first: its build empties target/book, where the translations go too.
    let english = v.root.join("target/book");
    if let Err(Interrupted) = build_book(v, None, &english)? {
        return Ok(Err(Interrupted));
    }
    let languages = match crate::po::languages(&v.root) {
        Ok(languages) => languages,
        Err(e) => {
            v.miss(format!("{e:#}"));
            return Ok(Ok(()));
        }
    };
    if !languages.is_empty() && !crate::po::on_path("mdbook-gettext") {
        println!(
            "    skipped the translations: mdbook-gettext is not on PATH (`{}`; .ci/run installs \
             it)",
            crate::po::install_command("mdbook-gettext")
        );
        return Ok(Ok(()));
    }
    for lang in languages.keys() {
        if let Err(Interrupted) = build_book(v, Some(lang), &english.join(lang))? {
            return Ok(Err(Interrupted));
        }
    }
    Ok(Ok(()))
}

/// Builds the book in `lang` (`None`: English) into `dest`; a failure, or any warning or error
/// line, is a miss.
fn build_book(
    v: &mut Verify,
    lang: Option<&str>,
    dest: &std::path::Path,
) -> anyhow::Result<Result<(), Interrupted>> {
    let cmd = crate::po::mdbook_command(&v.root, lang, dest);
    let outcome = sandbox::run(cmd, CARGO_STEP_LIMIT, false)?;
    if outcome.interrupted {
        return Ok(Err(Interrupted));
    }
    let complaints: Vec<&str> = outcome
        .output
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    let rel = dest.strip_prefix(&v.root).unwrap_or(dest).display();
    let which = lang.map_or(String::new(), |l| format!(" ({l})"));
    if outcome.status != sandbox::Status::Exited(0) || !complaints.is_empty() {
        print_tail(&outcome.output, 60);
        v.miss(format!(
            "`mdbook build docs`{which} ended with {} and {} warning or error line(s) (see above)",
            outcome.status,
            complaints.len()
        ));
    } else {
        println!("    the book{which} built into {rel}/");
    }
    Ok(Ok(()))
}

/// The passed and failed counts of every `test result:` line of `cargo test` output, summed.
fn test_totals(output: &str) -> (usize, usize) {
    let count = |summary: &str, word: &str| -> usize {
        summary
            .split(';')
            .find_map(|part| part.trim().strip_suffix(word)?.trim().parse().ok())
            .unwrap_or(0)
    };
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("test result: "))
        .map(|r| r.split_once(". ").map_or(r, |(_, counts)| counts))
        .fold((0, 0), |(p, f), counts| {
            (p + count(counts, "passed"), f + count(counts, "failed"))
        })
}

/// `BINARY: TEST` for every failed test in `cargo test` output, from its `Running` lines.
fn failed_tests_by_binary(output: &str) -> Vec<String> {
    let mut binary = String::from("?");
    let mut failed = Vec::new();
    for line in output.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            binary = rest.split(" (").next().unwrap_or(rest).to_owned();
        } else if let Some(rest) = trimmed.strip_prefix("Doc-tests ") {
            binary = format!("doc-tests of {rest}");
        }
        if let Some(rest) = trimmed.strip_prefix("test ")
            && let Some((name, result)) = rest.split_once(" ... ")
            && result.trim_end().ends_with("FAILED")
        {
            failed.push(format!("{binary}: {name}"));
        }
    }
    failed
}

/// What libtest printed for the failed test `name` (its `---- NAME stdout ----` section: the
/// panic message and the test's own output), if it is there.
fn failure_report(output: &str, name: &str) -> Option<String> {
    let header = format!("---- {name} stdout ----");
    let start = output.find(&header)?;
    let body = &output[start..];
    let end = body[header.len()..]
        .find("\n---- ")
        .map(|i| i + header.len())
        .or_else(|| body.find("\nfailures:\n"))
        .unwrap_or(body.len());
    Some(body[..end].to_string())
}

/// The topic packages that exist on disk, with their crate directories.
fn topic_packages(v: &Verify, curriculum: &Curriculum) -> Vec<(String, std::path::PathBuf)> {
    curriculum
        .topics
        .iter()
        .map(|t| (t.name.clone(), v.root.join("crates").join(&t.dir)))
        .filter(|(_, dir)| dir.join("Cargo.toml").is_file())
        .collect()
}

/// Builds `packages` with one cargo call; if that fails, one call per package finds which ones
/// do not build (each a miss) so the others can still be checked.
fn build_packages(
    v: &mut Verify,
    base: &[&str],
    packages: &[(String, std::path::PathBuf)],
    what: &str,
) -> anyhow::Result<(Vec<Artifact>, Vec<String>)> {
    let mut args: Vec<&str> = base.to_vec();
    for (name, _) in packages {
        args.extend(["-p", name.as_str()]);
    }
    let build = crate::cargo::build(&v.root, &args)?;
    if build.success {
        return Ok((build.artifacts, Vec::new()));
    }
    let mut artifacts = Vec::new();
    let mut failed = Vec::new();
    for (name, _) in packages {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["-p", name.as_str()]);
        let build = crate::cargo::build(&v.root, &args)?;
        if build.success {
            artifacts.extend(build.artifacts);
        } else {
            v.miss(format!("{name}: {what} do not build (see above)"));
            failed.push(name.clone());
        }
    }
    Ok((artifacts, failed))
}

fn stubs_step(v: &mut Verify) -> anyhow::Result<Result<(), Interrupted>> {
    let curriculum = Curriculum::load(&v.root)?;
    let packages = topic_packages(v, &curriculum);
    if packages.is_empty() {
        return Ok(Ok(()));
    }
    let (artifacts, failed) = build_packages(
        v,
        &["test", "--no-run", "--quiet"],
        &packages,
        "the stubs' tests",
    )?;
    for ex in &curriculum.exercises {
        let paths = curriculum.paths(ex);
        if failed.contains(&paths.package) {
            continue;
        }
        let crate_dir = v.root.join(&paths.crate_dir);
        let Some(artifact) = artifacts
            .iter()
            .find(|a| a.is_test(&crate_dir, &paths.test_target))
        else {
            v.miss(format!(
                "{}: no test binary was built ({})",
                ex.id,
                paths.test.display()
            ));
            continue;
        };
        let listed = crate::check::list_tests(&artifact.executable, &crate_dir);
        if listed.is_empty() {
            v.miss(format!("{}: its test binary lists no tests", ex.id));
            continue;
        }
        let limit = ex.time_limit();
        let outcome = sandbox::run(
            crate::check::test_command(&artifact.executable, &crate_dir),
            limit,
            false,
        )?;
        if outcome.interrupted {
            return Ok(Err(Interrupted));
        }
        let report = libtest::parse(&outcome.output);
        let before = v.misses.len();
        for test in &listed {
            match report.outcome(test) {
                Some(Outcome::Failed) => {}
                Some(Outcome::Passed) => v.miss(format!("{}: test {test} passes on the stub", ex.id)),
                Some(Outcome::Ignored) => {
                    v.miss(format!("{}: test {test} is ignored on the stub", ex.id));
                }
                None if outcome.timed_out => v.miss(format!(
                    "{}: test {test} was still running at the {} s limit on the stub (it must fail fast)",
                    ex.id,
                    limit.as_secs()
                )),
                None => v.miss(format!(
                    "{}: test {test} gave no result on the stub (the binary ended with {})",
                    ex.id, outcome.status
                )),
            }
        }
        for line in outcome.leaks.lines() {
            v.miss(format!("{}: on the stub, leak: {line}", ex.id));
        }
        if v.misses.len() == before {
            println!(
                "    {}: all {} test(s) fail on the stub ({:.2} s)",
                ex.id,
                listed.len(),
                outcome.elapsed.as_secs_f64()
            );
        }
    }
    Ok(Ok(()))
}

fn demos_step(v: &mut Verify) -> anyhow::Result<Result<(), Interrupted>> {
    let curriculum = Curriculum::load(&v.root)?;
    // A topic without src/bin/demo.rs is a tidy miss already.
    let packages: Vec<_> = topic_packages(v, &curriculum)
        .into_iter()
        .filter(|(_, dir)| dir.join("src/bin/demo.rs").is_file())
        .collect();
    if packages.is_empty() {
        return Ok(Ok(()));
    }
    let (artifacts, failed) = build_packages(
        v,
        &["build", "--bins", "--quiet"],
        &packages,
        "the binaries",
    )?;
    for (name, dir) in &packages {
        if failed.contains(name) {
            continue;
        }
        let Some(demo) = artifacts
            .iter()
            .find(|a| a.is_bin(dir, &format!("{name}-demo")))
        else {
            v.miss(format!("{name}: its demo was not built"));
            continue;
        };
        let mut cmd = Command::new(&demo.executable);
        cmd.current_dir(dir);
        let outcome = sandbox::run(cmd, DEMO_LIMIT, false)?;
        if outcome.interrupted {
            return Ok(Err(Interrupted));
        }
        if outcome.timed_out {
            print_tail(&outcome.output, 40);
            v.miss(format!(
                "{name}: the demo did not finish within {} s",
                DEMO_LIMIT.as_secs()
            ));
        } else if outcome.status != sandbox::Status::Exited(0) {
            print_tail(&outcome.output, 40);
            v.miss(format!("{name}: the demo ended with {}", outcome.status));
        }
        for line in outcome.leaks.lines() {
            v.miss(format!("{name}: the demo leaked: {line}"));
        }
        if outcome.clean_success() {
            println!(
                "    {name}: the demo ran to completion ({:.2} s)",
                outcome.elapsed.as_secs_f64()
            );
        }
    }
    Ok(Ok(()))
}

fn print_tail(output: &str, lines: usize) {
    let all: Vec<&str> = output.lines().collect();
    let start = all.len().saturating_sub(lines);
    for line in &all[start..] {
        println!("      {}", term::dim(line));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_tests_report_is_its_own_section() {
        let output = "failures:\n\n---- a stdout ----\nthread 'a' panicked at x.rs:1:\nboom\n\n---- b stdout ----\nother\n\nfailures:\n    a\n    b\n";
        assert_eq!(
            super::failure_report(output, "a").as_deref(),
            Some("---- a stdout ----\nthread 'a' panicked at x.rs:1:\nboom\n")
        );
        assert_eq!(
            super::failure_report(output, "b").as_deref(),
            Some("---- b stdout ----\nother\n")
        );
        assert_eq!(super::failure_report(output, "c"), None);
    }

    #[test]
    fn failed_tests_are_named_with_their_binary() {
        let output = "     Running tests/spawn.rs (target/debug/deps/spawn-1)\n\nrunning 2 tests\ntest a ... ok\ntest b ... FAILED\n   Doc-tests testkit\ntest src/lib.rs - x (line 3) ... FAILED\n";
        assert_eq!(
            super::failed_tests_by_binary(output),
            [
                "tests/spawn.rs: b",
                "doc-tests of testkit: src/lib.rs - x (line 3)"
            ]
        );
    }

    #[test]
    fn test_totals_sum_every_binary() {
        let out = "running 2 tests\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; \
                   0 filtered out; finished in 0.01s\n\ntest result: FAILED. 3 passed; 1 failed; \
                   0 ignored; 0 measured; 0 filtered out; finished in 0.2s\n";
        assert_eq!(super::test_totals(out), (5, 1));
        assert_eq!(super::test_totals("nothing ran"), (0, 0));
    }
}
