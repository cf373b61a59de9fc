//! Known mistakes: the wrong programs learners really write, kept as data beside each
//! exercise's tests, and `cargo xtask mistakes`, which proves the tests reject every one.
//!
//! A mistake lives in `crates/DIR/mistakes/NAME.toml` (NAME is the exercise's) as a
//! `[[mistake]]` table: a `slug`, a one-line `what` for the learner, the `test` that must fail,
//! a `message` fragment that this test's failure output must contain (so the learner reads
//! something that points at the mistake), and the change itself: `[[mistake.edit]]` tables of
//! `find`/`replace` applied to the solution (each `find` occurs exactly once), or `file`, a whole
//! replacement for the solution stored beside the TOML. An optional `timeout` (seconds) replaces
//! the exercise's limit.
//!
//! The run applies mistakes to the solutions in place, in batches (the k-th mistake of every
//! selected exercise at once, so that one build serves them all), builds the batch's test
//! binaries with `--features solution`, runs the named test of each in the sandbox (contained,
//! under the exercise's limit), and restores the solutions. A mistake that the batch did not show as caught is tried
//! again alone, so that two exercises' mistakes cannot blur each other (one exercise's tests may
//! call another's code). The originals are also kept in `target/mistakes/backup/` until they are
//! restored, so that a run killed half-way is undone by the next one; a lock per solution file
//! keeps two runs from changing the same file.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

use crate::libtest::{self, Outcome};
use crate::manifest::{Curriculum, Exercise, ExercisePaths};

use crate::term;

/// How many known mistakes every exercise must have (tidy).
pub const MIN_PER_EXERCISE: usize = 2;

/// One known mistake.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mistake {
    /// A short kebab-case name, unique in its file.
    pub slug: String,
    /// The mistake in one line, for the learner.
    pub what: String,
    /// The test that must fail.
    pub test: String,
    /// A fragment of that test's failure output.
    pub message: String,
    /// Edits to the solution.
    #[serde(default)]
    pub edit: Vec<Edit>,
    /// A whole replacement for the solution, beside the TOML file.
    pub file: Option<String>,
    /// Seconds the tests may run, instead of the exercise's limit.
    pub timeout: Option<u64>,
}

/// One find-and-replace edit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Text that occurs exactly once in the solution.
    pub find: String,
    /// What it becomes.
    pub replace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MistakeFile {
    #[serde(rename = "mistake", default)]
    mistakes: Vec<Mistake>,
}

/// `crates/DIR/mistakes/NAME.toml` of an exercise, relative to the root.
pub fn file_of(paths: &ExercisePaths) -> PathBuf {
    paths
        .crate_dir
        .join("mistakes")
        .join(format!("{}.toml", paths.test_target))
}

/// The known mistakes of `ex` (none when it has no file).
pub fn load(root: &Path, paths: &ExercisePaths) -> anyhow::Result<Vec<Mistake>> {
    let path = root.join(file_of(paths));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let file: MistakeFile =
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
    Ok(file.mistakes)
}

impl Mistake {
    /// The solution's text with this mistake in it, or why it cannot be made.
    pub fn apply(&self, solution: &str, mistakes_dir: &Path) -> Result<String, String> {
        match (&self.file, self.edit.is_empty()) {
            (Some(_), false) => Err("gives both `file` and `edit`: choose one".into()),
            (None, true) => Err("gives neither `edit` nor `file`".into()),
            (Some(file), true) => {
                if file.contains('/') || file.starts_with('.') {
                    return Err(format!(
                        "`file = \"{file}\"` must name a file beside the TOML"
                    ));
                }
                std::fs::read_to_string(mistakes_dir.join(file))
                    .map_err(|e| format!("cannot read its file {file}: {e}"))
            }
            (None, false) => {
                let mut text = solution.to_owned();
                for (i, edit) in self.edit.iter().enumerate() {
                    if edit.find.is_empty() {
                        return Err(format!("edit {} has an empty `find`", i + 1));
                    }
                    match text.matches(edit.find.as_str()).count() {
                        1 => text = text.replacen(edit.find.as_str(), &edit.replace, 1),
                        0 => {
                            return Err(format!(
                                "edit {}: its `find` text is not in the solution (was the solution changed?): {}",
                                i + 1,
                                first_line(&edit.find)
                            ));
                        }
                        n => {
                            return Err(format!(
                                "edit {}: its `find` text occurs {n} times in the solution; make it unique: {}",
                                i + 1,
                                first_line(&edit.find)
                            ));
                        }
                    }
                }
                if text == solution {
                    return Err("its edits change nothing".into());
                }
                Ok(text)
            }
        }
    }

    /// Whether the libtest name `name` is this mistake's test (with or without a module path).
    fn is_test(&self, name: &str) -> bool {
        name == self.test || name.ends_with(&format!("::{}", self.test))
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    format!("`{}`", line.trim())
}

/// What tidy says about the mistake files: files that do not parse, duplicate slugs, edits that
/// no longer apply, tests that do not exist, and exercises with fewer than
/// [`MIN_PER_EXERCISE`] mistakes.
pub fn problems(root: &Path, curriculum: &Curriculum) -> Vec<String> {
    let mut found = Vec::new();
    let mut known = BTreeSet::new();
    for ex in &curriculum.exercises {
        let paths = curriculum.paths(ex);
        let file = file_of(&paths);
        known.insert(root.join(&file));
        let mistakes = match load(root, &paths) {
            Ok(m) => m,
            Err(e) => {
                found.push(format!("{e:#}"));
                continue;
            }
        };
        if mistakes.len() < MIN_PER_EXERCISE {
            found.push(format!(
                "{}: {} known mistake(s), at least {MIN_PER_EXERCISE} wanted in {} (`cargo xtask new` shows the form)",
                ex.id,
                mistakes.len(),
                file.display()
            ));
        }
        let solution = std::fs::read_to_string(root.join(&paths.solution)).unwrap_or_default();
        let tests = std::fs::read_to_string(root.join(&paths.test)).unwrap_or_default();
        let dir = root.join(paths.crate_dir.join("mistakes"));
        let mut slugs = BTreeSet::new();
        for m in &mistakes {
            let at = format!("{}: mistake `{}`", file.display(), m.slug);
            if !slugs.insert(m.slug.as_str()) {
                found.push(format!("{at} appears twice"));
            }
            if m.slug.is_empty()
                || !m
                    .slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                found.push(format!("{at}: a slug is kebab-case (a-z, 0-9, -)"));
            }
            for (field, value) in [("what", &m.what), ("message", &m.message)] {
                if value.trim().is_empty() {
                    found.push(format!("{at}: `{field}` is empty"));
                }
            }
            if m.what.contains('\n') {
                found.push(format!("{at}: `what` is one line"));
            }
            if m.what.contains("SCAFFOLD:") || m.message.contains("SCAFFOLD:") {
                continue; // tidy's scaffold rule names it already
            }
            if !tests.contains(&format!("fn {}(", m.test)) {
                found.push(format!(
                    "{at}: its test `{}` is not a function of {}",
                    m.test,
                    paths.test.display()
                ));
            }
            if let Err(why) = m.apply(&solution, &dir) {
                found.push(format!("{at}: {why}"));
            }
        }
    }
    // A file for an exercise that does not exist is a leftover of a rename.
    for topic in &curriculum.topics {
        let dir = root.join("crates").join(&topic.dir).join("mistakes");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") && !known.contains(&path) {
                found.push(format!(
                    "{}: no exercise of the curriculum has this name",
                    path.strip_prefix(root).unwrap_or(&path).display()
                ));
            }
        }
    }
    found
}

/// One mistake to run.
struct Case<'c> {
    ex: &'c Exercise,
    paths: ExercisePaths,
    mistake: Mistake,
    /// Its position in its file (1-based), for the report.
    index: usize,
}

impl Case<'_> {
    fn label(&self) -> String {
        format!("{} #{} {}", self.ex.id, self.index, self.mistake.slug)
    }

    fn limit(&self) -> Duration {
        self.mistake
            .timeout
            .map_or_else(|| self.ex.time_limit(), Duration::from_secs)
    }
}

/// The verdict on one mistake.
#[derive(Clone)]
enum Verdict {
    Caught,
    /// Not caught, and why.
    Missed(String),
}

/// Runs `cargo xtask mistakes [ID | --topic T] [--list]`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut topic = None;
    let mut id = None;
    let mut list_only = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--topic" => match it.next() {
                Some(t) if curriculum.topic(t).is_some() => topic = Some(t.clone()),
                Some(t) => return Ok(crate::usage_error(&format!("no topic named `{t}`"))),
                None => return Ok(crate::usage_error("`--topic` needs a topic name")),
            },
            "--list" => list_only = true,
            "--help" | "-h" => {
                println!(
                    "usage: cargo xtask mistakes [ID | --topic TOPIC] [--list]\n\n\
                     Applies each known mistake (crates/DIR/mistakes/NAME.toml) to the solution,\n\
                     builds, runs the exercise's tests in the sandbox and restores the solution;\n\
                     a mistake is caught when its named test fails with its message.\n\
                     --list prints the mistakes without running them."
                );
                return Ok(ExitCode::SUCCESS);
            }
            other if other.starts_with('-') => {
                return Ok(crate::usage_error(&format!(
                    "unknown option `{other}` for `mistakes`"
                )));
            }
            other if id.is_none() => {
                if curriculum.find(other).is_none() {
                    let hint = curriculum.suggest(other);
                    let hint = if hint.is_empty() {
                        String::new()
                    } else {
                        format!(" (did you mean {}?)", hint.join(", "))
                    };
                    return Ok(crate::usage_error(&format!("no exercise `{other}`{hint}")));
                }
                id = Some(other.to_owned());
            }
            other => {
                return Ok(crate::usage_error(&format!(
                    "`mistakes` takes one exercise id (got `{other}` too)"
                )));
            }
        }
    }
    if id.is_some() && topic.is_some() {
        return Ok(crate::usage_error(
            "give an exercise id or `--topic`, not both",
        ));
    }

    let (per_exercise, broken) = cases(&root, &curriculum, |ex| {
        id.as_deref().is_none_or(|id| id == ex.id)
            && topic.as_deref().is_none_or(|t| t == ex.topic())
    });
    let total: usize = per_exercise.iter().map(Vec::len).sum();

    if list_only {
        for case in per_exercise.iter().flatten() {
            println!(
                "{}  {}\n    must fail: {} (saying `{}`)",
                term::bold(&case.label()),
                case.mistake.what,
                case.mistake.test,
                case.mistake.message
            );
        }
        println!("{total} known mistake(s)");
        return Ok(ExitCode::SUCCESS);
    }

    let Some(summary) = execute(&root, per_exercise)? else {
        eprintln!("interrupted: every solution was restored");
        return Ok(ExitCode::from(130));
    };
    println!();
    for problem in &broken {
        println!("{} {problem}", term::red("unreadable:"));
    }
    if !summary.missed.is_empty() {
        println!("{}", term::bold("not caught as named:"));
        for missed in &summary.missed {
            println!("  - {missed}");
        }
    }
    println!(
        "mistakes: {} caught of {total} ({:.0} s)",
        summary.caught,
        summary.elapsed.as_secs_f64()
    );
    Ok(if summary.missed.is_empty() && broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What a run of the mistakes found.
pub struct Summary {
    /// How many were caught as named.
    pub caught: usize,
    /// How many were run.
    pub total: usize,
    /// `ID #N SLUG (WHAT): WHY` for each one that was not.
    pub missed: Vec<String>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// Runs every known mistake of the curriculum under `root` (for `verify`); `None` when
/// interrupted. A mistake file that cannot be read counts as a miss.
pub fn run_all(root: &Path) -> anyhow::Result<Option<Summary>> {
    let curriculum = Curriculum::load(root)?;
    let (per_exercise, unreadable) = cases(root, &curriculum, |_| true);
    Ok(execute(root, per_exercise)?.map(|mut summary| {
        summary.missed.extend(unreadable);
        summary
    }))
}

/// The mistakes of the exercises `keep` selects, one list per exercise in course order, and a
/// line for each mistake file that cannot be read.
fn cases<'c>(
    root: &Path,
    curriculum: &'c Curriculum,
    keep: impl Fn(&Exercise) -> bool,
) -> (Vec<Vec<Case<'c>>>, Vec<String>) {
    let mut per_exercise = Vec::new();
    let mut unreadable = Vec::new();
    for ex in curriculum.exercises.iter().filter(|ex| keep(ex)) {
        let paths = curriculum.paths(ex);
        match load(root, &paths) {
            Ok(mistakes) => per_exercise.push(
                mistakes
                    .into_iter()
                    .enumerate()
                    .map(|(i, mistake)| Case {
                        ex,
                        paths: paths.clone(),
                        mistake,
                        index: i + 1,
                    })
                    .collect(),
            ),
            Err(e) => unreadable.push(format!("{e:#}")),
        }
    }
    (per_exercise, unreadable)
}

/// Runs the mistakes, batch by batch, printing a line for each; `None` when interrupted.
fn execute(root: &Path, per_exercise: Vec<Vec<Case<'_>>>) -> anyhow::Result<Option<Summary>> {
    sandbox::init();
    let start = Instant::now();
    let total = per_exercise.iter().map(Vec::len).sum();
    let mut files = Files::new(&root.join("target/mistakes"))?;
    for case in per_exercise.iter().flatten() {
        files.lock(root, &case.paths.solution)?;
    }
    let mut caught = 0;
    let mut missed = Vec::new();
    let mut record = |case: &Case<'_>, verdict: Verdict| {
        report(case, &verdict);
        match verdict {
            Verdict::Caught => caught += 1,
            Verdict::Missed(why) => {
                missed.push(format!("{} ({}): {why}", case.label(), case.mistake.what));
            }
        }
    };
    let batches = per_exercise.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..batches {
        let batch: Vec<&Case<'_>> = per_exercise.iter().filter_map(|m| m.get(k)).collect();
        println!(
            "{} {} mistake(s), batch {} of {batches}",
            term::bold("==>"),
            batch.len(),
            k + 1
        );
        let verdicts = run_batch(root, &mut files, &batch)?;
        let mut again = Vec::new();
        for (case, verdict) in batch.iter().zip(verdicts) {
            match verdict {
                Some(Verdict::Missed(_)) if batch.len() > 1 => again.push(*case),
                Some(verdict) => record(case, verdict),
                None => return Ok(None),
            }
        }
        // Tried alone, a mistake shows what it does by itself.
        for case in again {
            match run_batch(root, &mut files, &[case])?.pop().flatten() {
                Some(verdict) => record(case, verdict),
                None => return Ok(None),
            }
        }
    }
    files.restore_all();
    Ok(Some(Summary {
        caught,
        total,
        missed,
        elapsed: start.elapsed(),
    }))
}

fn report(case: &Case<'_>, verdict: &Verdict) {
    match verdict {
        Verdict::Caught => println!("  {}  {}", term::green("caught"), case.label()),
        Verdict::Missed(why) => println!("  {}  {}: {why}", term::red("MISSED"), case.label()),
    }
}

/// Applies the batch, builds it, runs each case and restores the solutions. `None` for a case
/// when the run was interrupted.
fn run_batch(
    root: &Path,
    files: &mut Files,
    batch: &[&Case<'_>],
) -> anyhow::Result<Vec<Option<Verdict>>> {
    let mut verdicts: Vec<Option<Option<Verdict>>> = vec![None; batch.len()];
    let mut applied = Vec::new();
    for (i, case) in batch.iter().enumerate() {
        let solution = root.join(&case.paths.solution);
        let original = files.original(&solution)?;
        match case
            .mistake
            .apply(&original, &root.join(case.paths.crate_dir.join("mistakes")))
        {
            Ok(text) => {
                files.write(&solution, &text)?;
                applied.push(i);
            }
            Err(why) => {
                verdicts[i] = Some(Some(Verdict::Missed(format!("cannot be applied: {why}"))))
            }
        }
    }
    if !applied.is_empty() {
        let mut args = vec!["test", "--no-run", "--quiet", "--features", "solution"];
        let mut packages = BTreeSet::new();
        let mut targets = BTreeSet::new();
        for &i in &applied {
            packages.insert(batch[i].paths.package.as_str());
            targets.insert(batch[i].paths.test_target.as_str());
        }
        for p in &packages {
            args.extend(["-p", p]);
        }
        for t in &targets {
            args.extend(["--test", t]);
        }
        let build = crate::cargo::build_capturing(root, &args, true)
            .context("cannot build the mistakes")?;
        if !build.success && applied.len() > 1 {
            // Which one does not build is found by building each alone.
            files.restore_all();
            for &i in &applied {
                let verdict = run_batch(root, files, &[batch[i]])?.pop().flatten();
                verdicts[i] = Some(verdict);
            }
            return Ok(verdicts.into_iter().map(Option::flatten).collect());
        }
        let mut runnable = Vec::new();
        for &i in &applied {
            let case = batch[i];
            if !build.success {
                verdicts[i] = Some(Some(Verdict::Missed(format!(
                    "does not compile: {}",
                    first_error(&build.diagnostics)
                ))));
                continue;
            }
            let crate_dir = root.join(&case.paths.crate_dir);
            let Some(artifact) = build
                .artifacts
                .iter()
                .find(|a| a.is_test(&crate_dir, &case.paths.test_target))
            else {
                verdicts[i] = Some(Some(Verdict::Missed(
                    "its test binary was not built".into(),
                )));
                continue;
            };
            runnable.push((i, artifact.executable.clone(), crate_dir));
        }
        for (i, verdict) in judge_all(batch, &runnable)? {
            verdicts[i] = Some(verdict);
        }
    }
    files.restore_all();
    Ok(verdicts.into_iter().map(Option::flatten).collect())
}

/// How many mistakes' tests run at once. Most of a mistake's run is a test waiting out its own
/// deadline (the program under test hangs, or never sends what the test waits for), so runs
/// overlap well even on two cores. Only contained runs go in parallel: each has its own
/// namespace and init, while uncontained runs share the runner's reaping.
const PARALLEL_RUNS: usize = 4;

/// [`judge`] for each `(index, test binary, crate dir)`, several at once where runs are
/// contained. A mistake that contention made fail another way is tried again alone by the
/// caller, so running in parallel cannot turn a caught mistake into a missed one.
fn judge_all(
    batch: &[&Case<'_>],
    runnable: &[(usize, PathBuf, PathBuf)],
) -> anyhow::Result<Vec<(usize, Option<Verdict>)>> {
    let workers = if sandbox::contain::enabled() {
        PARALLEL_RUNS
    } else {
        1
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    let failure = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(runnable.len()) {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((i, executable, crate_dir)) = runnable.get(at) else {
                        break;
                    };
                    match judge(batch[*i], executable, crate_dir) {
                        Ok(verdict) => {
                            let stop = verdict.is_none();
                            results.lock().expect("results").push((*i, verdict));
                            if stop {
                                break;
                            }
                        }
                        Err(e) => {
                            failure.lock().expect("failure").get_or_insert(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("failure") {
        return Err(e);
    }
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    Ok(results)
}

/// Runs the exercise's tests with the mistake in place; `None` when interrupted.
fn judge(case: &Case<'_>, executable: &Path, crate_dir: &Path) -> anyhow::Result<Option<Verdict>> {
    let listed = crate::check::list_tests(executable, crate_dir);
    let m = &case.mistake;
    let Some(name) = listed.iter().find(|n| m.is_test(n)).cloned() else {
        return Ok(Some(Verdict::Missed(format!(
            "the test binary has no test `{}`",
            m.test
        ))));
    };
    let limit = case.limit();
    // Only the named test runs: it is the one that must fail, and a suite of mistakes that runs
    // every test of every exercise for each would cost CI many minutes.
    let mut cmd = crate::check::test_command(executable, crate_dir);
    cmd.args([name.as_str(), "--exact"]);
    let outcome = sandbox::run_capped(cmd, limit, false, case.ex.task_cap())?;
    if outcome.interrupted {
        return Ok(None);
    }
    let report = libtest::parse(&outcome.output);
    Ok(Some(match report.outcome(&name) {
        Some(Outcome::Failed) => {
            let said = report.failures.get(&name).map_or("", String::as_str);
            if said.contains(&m.message) {
                Verdict::Caught
            } else {
                Verdict::Missed(format!(
                    "`{}` fails, but its message does not contain `{}`; it said: {}",
                    m.test,
                    m.message,
                    excerpt(said)
                ))
            }
        }
        Some(Outcome::Passed) => {
            Verdict::Missed(format!("the tests accept it: `{}` passed", m.test))
        }
        Some(Outcome::Ignored) => Verdict::Missed(format!("`{}` is ignored", m.test)),
        None if outcome.timed_out => Verdict::Missed(format!(
            "`{}` was still running at the {} s limit: a bare TIMEOUT does not point at the mistake",
            m.test,
            limit.as_secs()
        )),
        None => Verdict::Missed(format!(
            "`{}` gave no result (the test binary ended with {})",
            m.test, outcome.status
        )),
    }))
}

/// The first lines of a failure message, on one line.
fn excerpt(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
        .take(4)
        .collect();
    let joined = lines.join(" | ");
    if joined.chars().count() > 400 {
        format!("{}...", joined.chars().take(400).collect::<String>())
    } else if joined.is_empty() {
        "(nothing)".into()
    } else {
        joined
    }
}

/// The first `error` line of cargo's diagnostics and the location after it.
fn first_error(diagnostics: &str) -> String {
    let lines: Vec<&str> = diagnostics.lines().collect();
    match lines.iter().position(|l| l.starts_with("error")) {
        Some(at) => lines[at..]
            .iter()
            .take(2)
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" "),
        None => excerpt(diagnostics),
    }
}

/// The solution files a run changes: their originals (kept in memory and on disk until
/// restored) and a lock on each.
struct Files {
    work: PathBuf,
    /// Locked files, each with its lock file held open.
    locks: Vec<(PathBuf, File)>,
    /// Changed files and their original text.
    changed: Vec<(PathBuf, String)>,
}

impl Files {
    fn new(work: &Path) -> anyhow::Result<Self> {
        for dir in ["backup", "locks"] {
            std::fs::create_dir_all(work.join(dir))
                .with_context(|| format!("cannot create {}", work.join(dir).display()))?;
        }
        Ok(Files {
            work: work.to_path_buf(),
            locks: Vec::new(),
            changed: Vec::new(),
        })
    }

    fn key(relative: &Path) -> String {
        relative.to_string_lossy().replace('/', "__")
    }

    /// Locks `relative` (a solution under `root`) for this run, and restores it first when an
    /// earlier run was killed while it was changed.
    fn lock(&mut self, root: &Path, relative: &Path) -> anyhow::Result<()> {
        let path = root.join(relative);
        if self.locks.iter().any(|(p, _)| *p == path) {
            return Ok(());
        }
        let key = Self::key(relative);
        let lock_path = self.work.join("locks").join(&key);
        let lock = File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        // SAFETY: flock on a descriptor we own; it reads no memory of ours.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            anyhow::bail!(
                "another `cargo xtask mistakes` is changing {} now; wait for it to end",
                relative.display()
            );
        }
        let backup = self.work.join("backup").join(&key);
        if let Ok(original) = std::fs::read(&backup) {
            std::fs::write(&path, original)
                .with_context(|| format!("cannot restore {}", path.display()))?;
            std::fs::remove_file(&backup).ok();
            eprintln!(
                "note: restored {} from a run that was stopped before it could",
                relative.display()
            );
        }
        self.locks.push((path, lock));
        Ok(())
    }

    /// The original text of `path` (a locked solution).
    fn original(&self, path: &Path) -> anyhow::Result<String> {
        if let Some((_, text)) = self.changed.iter().find(|(p, _)| p == path) {
            return Ok(text.clone());
        }
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// Writes `text` into `path`, keeping the original first.
    fn write(&mut self, path: &Path, text: &str) -> anyhow::Result<()> {
        if !self.changed.iter().any(|(p, _)| p == path) {
            let original = self.original(path)?;
            let backup = self.backup_of(path);
            std::fs::write(&backup, &original)
                .with_context(|| format!("cannot write {}", backup.display()))?;
            self.changed.push((path.to_path_buf(), original));
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    fn backup_of(&self, path: &Path) -> PathBuf {
        let root = crate::manifest::root();
        let relative = path.strip_prefix(&root).unwrap_or(path);
        self.work.join("backup").join(Self::key(relative))
    }

    /// Puts every changed file back as it was.
    fn restore_all(&mut self) {
        for (path, original) in std::mem::take(&mut self.changed) {
            match std::fs::write(&path, original) {
                Ok(()) => {
                    std::fs::remove_file(self.backup_of(&path)).ok();
                }
                Err(e) => eprintln!(
                    "error: cannot restore {} ({e}); its original is in {}",
                    path.display(),
                    self.backup_of(&path).display()
                ),
            }
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.restore_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mistake(edits: &[(&str, &str)]) -> Mistake {
        Mistake {
            slug: "s".into(),
            what: "w".into(),
            test: "t".into(),
            message: "m".into(),
            edit: edits
                .iter()
                .map(|(f, r)| Edit {
                    find: (*f).into(),
                    replace: (*r).into(),
                })
                .collect(),
            file: None,
            timeout: None,
        }
    }

    #[test]
    fn edits_apply_in_order_and_each_find_must_be_unique() {
        let dir = Path::new("/nonexistent");
        let text = "let a = 1;\nlet b = 2;\n";
        assert_eq!(
            mistake(&[("a = 1", "a = 3"), ("a = 3;\nlet b", "a = 4;\nlet c")])
                .apply(text, dir)
                .unwrap(),
            "let a = 4;\nlet c = 2;\n"
        );
        let missing = mistake(&[("zzz", "y")]).apply(text, dir).unwrap_err();
        assert!(missing.contains("not in the solution"), "{missing}");
        let twice = mistake(&[("let", "var")]).apply(text, dir).unwrap_err();
        assert!(twice.contains("occurs 2 times"), "{twice}");
        let nothing = mistake(&[("a = 1", "a = 1")]).apply(text, dir).unwrap_err();
        assert!(nothing.contains("change nothing"), "{nothing}");
        assert!(mistake(&[]).apply(text, dir).is_err());
    }

    #[test]
    fn a_test_is_found_with_or_without_its_module_path() {
        let m = mistake(&[]);
        assert!(m.is_test("t"));
        assert!(m.is_test("tests::t"));
        assert!(!m.is_test("tt"));
        assert!(!m.is_test("t::u"));
    }

    #[test]
    fn a_mistake_file_reads_as_documented() {
        let file: MistakeFile = toml::from_str(
            r#"
[[mistake]]
slug = "output-instead-of-status"
what = "waits with output()"
test = "child_writes_straight_to_our_stdout"
message = "captured"
[[mistake.edit]]
find = '''
    let status = cmd.status()?;
'''
replace = '''
    let status = cmd.output()?.status;
'''

[[mistake]]
slug = "whole"
what = "w"
test = "t"
message = "m"
file = "x.whole.rs"
timeout = 30
"#,
        )
        .unwrap();
        assert_eq!(file.mistakes.len(), 2);
        assert_eq!(file.mistakes[0].edit.len(), 1);
        assert_eq!(file.mistakes[1].timeout, Some(30));
        assert!(toml::from_str::<MistakeFile>("[[mistake]]\nslug = 1").is_err());
    }
}
