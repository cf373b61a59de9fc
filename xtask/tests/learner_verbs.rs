//! Tests of the learner's verbs (`watch`, `reset`, `solution`, `pristine`, hints once done,
//! edited test files, file links): the `xtask` binary against a private copy of the fixture
//! course (tests/fixtures/course), with `PROCLINGS_ROOT` and `CARGO_TARGET_DIR` inside the copy.
//!
//! Every copy first gets its pristine mirror written by `xtask sync`, as the
//! maintainers' tree has it. None of these runs has a terminal: stdin is /dev/null or a pipe,
//! which is how the verbs must behave in scripts and CI. `watch` is driven through its stdin
//! and by writing files, and every wait is on its output, with a deadline.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{Course, tidy_misses};

/// How long a wait on the runner may take: it builds the fixture course from scratch.
const DEADLINE: Duration = Duration::from_secs(180);

/// Text a reader thread collects from a pipe, with a condition variable to wait on.
type Collected = Arc<(Mutex<(String, bool)>, Condvar)>;

fn collect(mut pipe: impl Read + Send + 'static) -> Collected {
    let shared: Collected = Arc::new((Mutex::new((String::new(), false)), Condvar::new()));
    let writer = Arc::clone(&shared);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = pipe.read(&mut buf).unwrap_or(0);
            let (lock, cond) = &*writer;
            let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
            if n == 0 {
                state.1 = true;
                cond.notify_all();
                return;
            }
            state.0.push_str(&String::from_utf8_lossy(&buf[..n]));
            cond.notify_all();
        }
    });
    shared
}

/// A running `xtask watch`, stopped (SIGTERM, then SIGKILL) if the test ends early.
struct Watch {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Collected,
    stderr: Collected,
}

impl Watch {
    fn start(course: &Course) -> Self {
        Self::spawn(&mut course.command(&["watch"]))
    }

    fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xtask watch starts");
        let stdin = child.stdin.take();
        let stdout = collect(child.stdout.take().expect("piped stdout"));
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        Watch {
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    fn text(collected: &Collected) -> String {
        let (lock, _) = &**collected;
        lock.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    fn describe(&self) -> String {
        format!(
            "command: xtask watch\n--- stdout\n{}--- stderr\n{}",
            Self::text(&self.stdout),
            Self::text(&self.stderr)
        )
    }

    /// Waits until stdout holds `text` at least `times` times; returns stdout.
    fn wait_for(&self, text: &str, times: usize) -> String {
        let deadline = Instant::now() + DEADLINE;
        let (lock, cond) = &*self.stdout;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.0.matches(text).count() >= times {
                return state.0.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.1 || left.is_zero() {
                let why = if state.1 {
                    "stdout closed"
                } else {
                    "deadline passed"
                };
                drop(state);
                panic!(
                    "waited for {text:?} to appear {times} time(s) in the output of the watch: \
                     {why}\n{}",
                    self.describe()
                );
            }
            state = cond
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the watch's stdin");
    }

    /// Waits (with the deadline) for the watch to end; returns its exit code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the readers see the end of the pipes.
                let (lock, cond) = &*self.stdout;
                let state = lock.lock().unwrap_or_else(|e| e.into_inner());
                let _ = cond.wait_timeout_while(state, Duration::from_secs(5), |s| !s.1);
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the watch did not end\n{}",
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stdin.take();
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id() as libc::pid_t;
            // SAFETY: kill only sends a signal to the watch this test started and has not reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const FAILING_STUB: &str = "exercises/01-basics/failing.rs";
const FAILING_TEST: &str = "crates/01-basics/tests/failing.rs";

#[test]
fn pristine_lists_the_files_a_learner_edited() {
    let course = Course::with_pristine("pristine");
    course
        .xtask(&["pristine"])
        .assert_code(0)
        .assert_stdout_has("as shipped");
    assert!(
        course
            .path("xtask/pristine/exercises/01-basics/failing.rs.pristine")
            .is_file(),
        "`sync` wrote no copy of the stub"
    );
    course.solve("failing");
    course
        .xtask(&["pristine"])
        .assert_code(0)
        .assert_stdout_has(&format!("edited   {FAILING_STUB}"))
        .assert_stdout_lacks("passing.rs");
}

#[test]
fn reset_after_an_edit_restores_the_stub_and_marks_it_pending() {
    let course = Course::with_pristine("reset");
    let original = course.read(FAILING_STUB);
    course.solve("failing");
    course.xtask(&["check", "basics/failing"]).assert_code(0);
    assert!(course.progress().contains("done = true"));
    commit_everything(course.root());

    course
        .xtask(&["reset", "basics/failing", "--yes"])
        .assert_code(0)
        .assert_stdout_has(&format!("restored {FAILING_STUB}"))
        .assert_stdout_has("your version is kept at .proclings/backup/")
        .assert_stdout_has("pending again");
    assert_eq!(
        course.read(FAILING_STUB),
        original,
        "reset must put back the stub as shipped"
    );
    course
        .xtask(&["list", "--done"])
        .assert_code(0)
        .assert_stdout_lacks("basics/failing");
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stdout_has("FAILED  doubles_twenty_one");
}

/// Commits the course in a fresh git repository, as a learner who committed their edits (when
/// git is installed; the runner never asks git anything, so the test holds either way).
fn commit_everything(root: &Path) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args([
                "-c",
                "user.name=learner",
                "-c",
                "user.email=learner@example.com",
            ])
            .args(args)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if git(&["init", "-q"]) {
        assert!(git(&["add", "-A"]) && git(&["commit", "-q", "-m", "my work"]));
    }
}

#[test]
fn reset_without_a_terminal_and_without_yes_refuses_and_changes_nothing() {
    let course = Course::with_pristine("reset-ask");
    course.solve("failing");
    let solved = course.read(FAILING_STUB);
    course
        .xtask(&["reset", "basics/failing"])
        .assert_code(2)
        .assert_stderr_has("no terminal to ask on")
        .assert_stderr_has("cargo xtask reset basics/failing --yes");
    assert_eq!(
        course.read(FAILING_STUB),
        solved,
        "a refused reset changed the file"
    );
}

#[test]
fn reset_also_restores_an_edited_test_file() {
    let course = Course::with_pristine("reset-test");
    let original = course.read(FAILING_TEST);
    course.write(FAILING_TEST, &original.replace("42", "22"));
    course
        .xtask(&["reset", "basics/failing", "--yes"])
        .assert_code(0)
        .assert_stdout_has(&format!("restored {FAILING_TEST}"));
    assert_eq!(course.read(FAILING_TEST), original);
}

#[test]
fn solution_refuses_without_yes_when_not_done_and_no_terminal() {
    let course = Course::with_pristine("sol-ask");
    let run = course.xtask(&["solution", "basics/failing"]);
    run.assert_code(2)
        .assert_stderr_has("not done yet")
        .assert_stderr_has("cargo xtask solution basics/failing --yes")
        .assert_stdout_lacks("x * 2");
}

#[test]
fn solution_with_yes_prints_the_reference_and_diff_compares_it_with_yours() {
    let course = Course::with_pristine("sol");
    course
        .xtask(&["solution", "basics/failing", "--yes"])
        .assert_code(0)
        .assert_stdout_has("solutions/01-basics/failing.rs")
        .assert_stdout_has("    x * 2");
    course
        .xtask(&["solution", "basics/failing", "--diff", "--yes"])
        .assert_code(0)
        .assert_stdout_has(&format!("--- yours      {FAILING_STUB}"))
        .assert_stdout_has("@@ -1,6 +1,6 @@")
        .assert_stdout_has("-    x + 1\n+    x * 2\n")
        .assert_stdout_has(" /// Doubles `x`.\n");
    course.solve("failing");
    course
        .xtask(&["solution", "basics/failing", "--diff", "--yes"])
        .assert_code(0)
        .assert_stdout_has("is the same as the reference solution");
}

#[test]
fn solution_of_a_done_exercise_needs_no_confirmation() {
    let course = Course::with_pristine("sol-done");
    course.xtask(&["check", "basics/passing"]).assert_code(0);
    course
        .xtask(&["solution", "basics/passing"])
        .assert_code(0)
        .assert_stdout_has("solution of basics/passing");
}

#[test]
fn the_second_hint_names_a_known_mistake_and_the_next_call_another() {
    let course = Course::with_pristine("hint-mistake");
    course
        .xtask(&["hint", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("hint 1 of 2")
        .assert_stdout_lacks("a common mistake here");
    course
        .xtask(&["hint", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("hint 2 of 2")
        .assert_stdout_has("a common mistake here: adds one instead of doubling");
    course
        .xtask(&["hint", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("a common mistake here: squares instead of doubling");
}

#[test]
fn hint_after_done_shows_every_level_and_the_solution_path() {
    let course = Course::with_pristine("hint-done");
    course
        .xtask(&["hint", "basics/passing"])
        .assert_code(0)
        .assert_stdout_has("hint 1 of 2")
        .assert_stdout_lacks("Run the check.");
    course.xtask(&["check", "basics/passing"]).assert_code(0);
    course
        .xtask(&["hint", "basics/passing"])
        .assert_code(0)
        .assert_stdout_has("basics/passing is done")
        .assert_stdout_has("hint 1 of 2: The answer is already there.")
        .assert_stdout_has("hint 2 of 2: Run the check.")
        .assert_stdout_has("solution  solutions/01-basics/passing.rs");
}

#[test]
fn an_edited_test_file_is_reported_and_the_original_tests_still_grade() {
    let course = Course::with_pristine("edited-test");
    // The learner "fixes" the test instead of the code: it now expects the stub's answer.
    let edited = course.read(FAILING_TEST).replace("42", "22");
    course.write(FAILING_TEST, &edited);
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stdout_has(&format!("note: {FAILING_TEST} has been edited"))
        .assert_stdout_has("original tests")
        .assert_stdout_has("FAILED  doubles_twenty_one")
        .assert_stdout_has("double(21): expected 42, got 22");
    assert_eq!(
        course.read(FAILING_TEST),
        edited,
        "the learner's version of the test file must be left as it was"
    );
    let parked = course.path(".proclings/edited-tests").join(FAILING_TEST);
    assert!(
        !parked.exists(),
        "{} is still parked after the check",
        parked.display()
    );
    // Solved code passes against the original tests, whatever the edited test file says.
    course.solve("failing");
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("has been edited")
        .assert_stdout_has("PASS basics/failing");
}

#[test]
fn file_paths_are_links_only_where_links_are_wanted() {
    let course = Course::with_pristine("links");
    let mut cmd = course.command(&["solution", "basics/failing", "--yes"]);
    cmd.env_remove("NO_COLOR").env("FORCE_HYPERLINK", "1");
    let linked = course.run(cmd, &["solution", "basics/failing", "--yes"]);
    linked
        .assert_code(0)
        .assert_stdout_has("\x1b]8;;file://")
        .assert_stdout_has(
            "01-basics/failing.rs\x1b\\solutions/01-basics/failing.rs\x1b]8;;\x1b\\",
        );
    let mut cmd = course.command(&["solution", "basics/failing", "--yes"]);
    cmd.env("FORCE_HYPERLINK", "1");
    course
        .run(cmd, &["solution", "basics/failing", "--yes"])
        .assert_code(0)
        .assert_stdout_lacks("\x1b]8;;");
    course
        .xtask(&["solution", "basics/failing", "--yes"])
        .assert_code(0)
        .assert_stdout_lacks("\x1b");
}

#[test]
fn watch_advances_when_a_save_fixes_the_exercise() {
    let course = Course::with_pristine("watch-fix");
    let mut watch = Watch::start(&course);
    // basics/passing passes as shipped, so the watch moves on to basics/failing by itself.
    watch.wait_for("moving on to basics/failing", 1);
    watch.wait_for(&format!("watching {FAILING_STUB}"), 1);
    course.solve("failing");
    let out = watch.wait_for("moving on to basics/forever", 1);
    assert!(
        out.contains("PASS basics/failing"),
        "no pass verdict\n{}",
        watch.describe()
    );
    // The next exercise times out: a verdict like any other, the watch goes on.
    let out = watch.wait_for("watching exercises/01-basics/forever.rs", 1);
    assert!(
        out.contains("timed out after 2 s"),
        "no timeout verdict\n{}",
        watch.describe()
    );
    watch.stdin.take();
    watch.wait_for("end of input: the watch stops", 1);
    assert_eq!(watch.wait_exit(), Some(0), "{}", watch.describe());
    assert!(
        course.progress().contains("done = true"),
        "progress: {}",
        course.progress()
    );
    let survivors = course.survivors();
    assert!(
        survivors.is_empty(),
        "processes of the fixture still alive after the watch ended:\n{}",
        survivors.join("\n")
    );
}

#[test]
fn watch_shows_a_compile_error_and_keeps_watching() {
    let course = Course::with_pristine("watch-broken");
    let mut watch = Watch::start(&course);
    let waiting = format!("watching {FAILING_STUB}");
    watch.wait_for(&waiting, 1);
    course.write(
        FAILING_STUB,
        "//! Half-typed.\n\n/// Doubles `x`.\npub fn double(x: u32) -> u32 {\n    x *\n}\n",
    );
    watch.wait_for("does not compile yet", 1);
    watch.wait_for(&waiting, 2);
    let errors = Watch::text(&watch.stderr);
    assert!(
        errors.contains("error"),
        "the compiler's error is not shown\n{}",
        watch.describe()
    );
    // Still watching: `r` re-runs, and a save that fixes it passes.
    watch.send("r");
    watch.wait_for("does not compile yet", 2);
    watch.wait_for(&waiting, 3);
    course.solve("failing");
    watch.wait_for("PASS basics/failing", 1);
    watch.wait_for("moving on to basics/forever", 1);
    watch.send("q");
    watch.wait_for("the watch stops", 1);
    assert_eq!(watch.wait_exit(), Some(0), "{}", watch.describe());
}

#[test]
fn a_failing_check_that_mentions_an_errno_points_at_its_explain_entry() {
    let course = Course::with_pristine("explain");
    course.write(
        FAILING_STUB,
        "//! Fails the way a pipe does.\n\n/// Doubles `x`.\npub fn double(_x: u32) -> u32 {\n    \
         panic!(\"cannot write to the child: Broken pipe (os error 32)\")\n}\n",
    );
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stdout_has("cargo xtask explain broken-pipe");
    course.write(
        FAILING_STUB,
        "//! Fails on a missing program.\n\n/// Doubles `x`.\npub fn double(_x: u32) -> u32 {\n    \
         panic!(\"cannot start `nosuch`: No such file or directory\")\n}\n",
    );
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stdout_has("cargo xtask explain not-found");
}

#[test]
fn a_test_file_left_swapped_by_a_killed_check_is_put_back() {
    let course = Course::with_pristine("swap-recover");
    // As a check killed during its build leaves things: the original tests in place, the
    // learner's version parked.
    let learners = course.read(FAILING_TEST).replace("42", "22");
    let parked = course.path(".proclings/edited-tests").join(FAILING_TEST);
    std::fs::create_dir_all(parked.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&parked, &learners).expect("park the learner's version");
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stderr_has("was put back")
        .assert_stdout_has("has been edited")
        .assert_stdout_has("FAILED  doubles_twenty_one");
    assert_eq!(course.read(FAILING_TEST), learners);
    assert!(!parked.exists(), "{} is still parked", parked.display());
}

#[test]
fn watch_falls_back_to_polling_and_still_sees_a_save() {
    let course = Course::with_pristine("watch-poll");
    let mut cmd = course.command(&["watch", "--poll"]);
    let mut watch = Watch::spawn(&mut cmd);
    watch.wait_for("watching for saves (polling)", 1);
    watch.wait_for(&format!("watching {FAILING_STUB}"), 1);
    course.solve("failing");
    watch.wait_for("PASS basics/failing", 1);
    watch.send("q");
    watch.wait_for("the watch stops", 1);
    assert_eq!(watch.wait_exit(), Some(0), "{}", watch.describe());
}

#[test]
fn watch_checks_once_per_save_and_never_for_a_read() {
    let course = Course::with_pristine("watch-once");
    let mut cmd = course.command(&["watch", "basics/failing"]);
    let mut watch = Watch::spawn(&mut cmd);
    let waiting = format!("watching {FAILING_STUB}");
    watch.wait_for(&waiting, 1);
    // Reading the stub (as the compiler does during every check, or an editor) is not a save.
    let _ = std::fs::read(course.path(FAILING_STUB));
    let saved = course.read(FAILING_STUB) + "\n// one save\n";
    course.write(FAILING_STUB, &saved);
    watch.wait_for(&waiting, 2);
    // A second, spurious check would start within a debounce period of a read or of the last
    // check's compile: give it several before looking.
    std::thread::sleep(Duration::from_millis(1500));
    watch.send("q");
    watch.wait_for("the watch stops", 1);
    assert_eq!(watch.wait_exit(), Some(0), "{}", watch.describe());
    let out = Watch::text(&watch.stdout);
    assert_eq!(
        out.matches(&waiting).count(),
        2,
        "one check at the start and one for the save, no more\n{}",
        watch.describe()
    );
}

#[test]
fn the_current_exercise_is_the_first_pending_unless_the_learner_chose_one() {
    let course = Course::with_pristine("current");
    course
        .xtask(&["status"])
        .assert_code(0)
        .assert_stdout_has("current: basics/passing");
    // Naming an exercise makes it current while it fails ...
    course.xtask(&["check", "basics/forever"]).assert_code(1);
    course
        .xtask(&["status"])
        .assert_stdout_has("current: basics/forever");
    let list = course.xtask(&["list"]);
    assert!(
        list.stdout()
            .lines()
            .any(|l| l.contains("[next]") && l.contains("basics/forever")),
        "{}",
        list.describe()
    );
    course
        .xtask(&["hint"])
        .assert_code(0)
        .assert_stdout_has("for basics/forever");
    // ... and once it passes, the first pending exercise in course order is current again.
    course.solve("forever");
    course
        .xtask(&["check", "basics/forever"])
        .assert_code(0)
        .assert_stdout_has("current: basics/passing");
    course
        .xtask(&["status"])
        .assert_stdout_has("current: basics/passing");
}

#[test]
fn an_exercise_whose_prerequisite_is_not_done_names_it_first() {
    let course = Course::with_pristine("requires");
    let original = course.read("curriculum.toml");
    // basics/leaky builds on basics/failing: one of its tests calls `double`.
    let test = course.read("crates/01-basics/tests/leaky.rs")
        + "\n#[test]\nfn doubles_through_failing() {\n    assert_eq!(basics::failing::double(2), 4);\n}\n";
    course.write("crates/01-basics/tests/leaky.rs", &test);
    course.xtask(&["sync"]).assert_code(0);
    let misses = tidy_misses(&course);
    assert!(
        misses.iter().any(|m| m.contains(
            "basics/leaky uses basics/failing's code (its tests, stub or solution call it): add `requires = [\"basics/failing\"]`"
        )),
        "{misses:#?}"
    );
    course.write(
        "curriculum.toml",
        &original.replace(
            "id = \"basics/leaky\"\n",
            "id = \"basics/leaky\"\nrequires = [\"basics/failing\"]\n",
        ),
    );
    let misses = tidy_misses(&course);
    assert!(
        !misses.iter().any(|m| m.contains("requires")),
        "{misses:#?}"
    );
    let needs = "note: leaky needs basics/failing: do that first, cargo xtask check basics/failing";
    let run = course.xtask(&["check", "basics/leaky"]);
    run.assert_code(1).assert_stdout_has(needs);
    assert_eq!(run.stdout().matches(needs).count(), 2, "{}", run.describe());
    let list = course.xtask(&["list"]);
    assert!(
        list.stdout()
            .lines()
            .any(|l| l.contains("basics/leaky") && l.contains("(needs basics/failing first)")),
        "{}",
        list.describe()
    );
    course
        .xtask(&["status"])
        .assert_stdout_has("current: basics/leaky")
        .assert_stdout_has(needs);
    course.solve("failing");
    course.xtask(&["check", "basics/failing"]).assert_code(0);
    course
        .xtask(&["status"])
        .assert_stdout_lacks("needs basics/failing");
}

#[test]
fn the_first_run_fetches_every_crate_once_and_doctor_says_the_course_works_offline() {
    let course = Course::with_pristine("fetch");
    let generate = std::process::Command::new(env!("CARGO"))
        .args(["generate-lockfile", "--offline"])
        .current_dir(course.root())
        .status()
        .expect("cargo starts");
    assert!(generate.success(), "cannot make the fixture's Cargo.lock");
    let mut cmd = course.command(&["status"]);
    cmd.env_remove("PROCLINGS_NO_FETCH");
    let first = course.run(cmd, &["status"]);
    first
        .assert_code(0)
        .assert_stderr_has("fetching every crate the course needs, once");
    assert!(
        course.path(".proclings/fetched").is_file(),
        "{}",
        first.describe()
    );
    let mut cmd = course.command(&["status"]);
    cmd.env_remove("PROCLINGS_NO_FETCH");
    let second = course.run(cmd, &["status"]);
    assert!(
        !second.stderr().contains("fetching"),
        "fetched again although Cargo.lock did not change\n{}",
        second.describe()
    );
    course
        .xtask(&["doctor"])
        .assert_stdout_has("every crate the course needs is on disk: it works offline");
}
