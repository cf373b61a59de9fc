//! The runner's own tests: the `xtask` binary against a small fixture course
//! (tests/fixtures/course), copied to a fresh temporary directory for each test.
//!
//! Each test points `PROCLINGS_ROOT` at its copy and `CARGO_TARGET_DIR` inside it, so tests run
//! in parallel without sharing anything and leave nothing behind; a marker unique to the test
//! (`FIXTURE_MARKER`, read by the fixture's stubs) names every process the stubs start, so the
//! tests can prove through /proc that none of them survives.

use std::path::Path;

mod common;
use common::{Course, tidy_misses};

/// The pids in `leak: process still running: pid N ...` lines.
fn leaked_pids(stdout: &str) -> Vec<u32> {
    stdout
        .lines()
        .filter_map(|l| l.split("pid ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn status_shows_progress_the_current_exercise_and_the_next_command() {
    let course = Course::new("status");
    course
        .xtask(&[])
        .assert_code(0)
        .assert_stdout_has("0 of 4 exercises done")
        .assert_stdout_has("week 1")
        .assert_stdout_has("current: basics/passing")
        .assert_stdout_has("exercises/01-basics/passing.rs")
        .assert_stdout_has("docs/src/01-basics.md#passing")
        .assert_stdout_has("cargo xtask check basics/passing");
}

#[test]
fn checking_a_passing_exercise_marks_it_done_and_names_the_next() {
    let course = Course::new("pass");
    course
        .xtask(&["check", "basics/passing"])
        .assert_code(0)
        .assert_stdout_has("ok      answer_is_forty_two")
        .assert_stdout_has("PASS basics/passing")
        .assert_stdout_has("cargo xtask check basics/failing");
    let progress = std::fs::read_to_string(course.progress_file()).expect("a progress file");
    assert!(
        progress.contains("done = true"),
        "progress file:\n{progress}"
    );
    course
        .xtask(&["status"])
        .assert_code(0)
        .assert_stdout_has("1 of 4 exercises done")
        .assert_stdout_has("current: basics/failing");
    course
        .xtask(&["list", "--done"])
        .assert_code(0)
        .assert_stdout_has("basics/passing");
    let pending = course.xtask(&["list", "--pending"]);
    pending.assert_code(0).assert_stdout_has("basics/failing");
    assert!(
        !pending.stdout().contains("basics/passing"),
        "a done exercise is listed as pending\n{}",
        pending.describe()
    );
}

#[test]
fn checking_a_failing_exercise_names_the_failed_test_and_its_message() {
    let course = Course::new("fail");
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stdout_has("ok      doubles_one")
        .assert_stdout_has("FAILED  doubles_twenty_one")
        .assert_stdout_has("double(21): expected 42, got 22")
        .assert_stdout_has("FAIL basics/failing: 1 of 2 test(s) failed")
        .assert_stdout_has("cargo xtask hint basics/failing");
    assert!(
        !course.progress_file().exists()
            || !std::fs::read_to_string(course.progress_file())
                .unwrap_or_default()
                .contains("done = true"),
        "a failed check marked the exercise done"
    );
}

#[test]
fn a_stub_that_loops_forever_is_stopped_at_its_limit_and_nothing_of_it_remains() {
    let course = Course::new("loop");
    let run = course.xtask(&["check", "basics/forever"]);
    run.assert_code(1)
        .assert_stdout_has("timed out after 2 s")
        .assert_stdout_has("TIMEOUT compute_returns_seven")
        .assert_stdout_has(&format!("{}-forever 1000", course.marker));
    course.assert_nothing_left();
}

#[test]
fn a_background_process_and_a_daemonized_grandchild_are_reported_and_killed() {
    let course = Course::new("leak");
    let run = course.xtask(&["check", "basics/leaky"]);
    run.assert_code(1)
        .assert_stdout_has("ok      helpers_return_forty_two")
        .assert_stdout_has(&format!("{}-background 1000", course.marker))
        .assert_stdout_has(&format!("{}-daemon", course.marker))
        .assert_stdout_has("docs/src/01-command-basics.md")
        .assert_stdout_has("FAIL basics/leaky");
    let pids = leaked_pids(&run.stdout());
    assert!(
        pids.len() >= 2,
        "expected at least two leaked pids\n{}",
        run.describe()
    );
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "leaked pid {pid} still exists after xtask ended\n{}",
            run.describe()
        );
    }
    course.assert_nothing_left();
}

#[test]
fn a_corrupt_progress_file_is_reported_backed_up_and_recovered() {
    let course = Course::new("corrupt");
    let dir = course.root().join(".proclings");
    std::fs::create_dir_all(&dir).expect("create .proclings");
    let corrupt =
        "[\"basics/passing\"]\ndone = true\n[\"basics/failing\"\nhint = = 2\n\u{1}garbage";
    std::fs::write(course.progress_file(), corrupt).expect("write the progress file");
    course
        .xtask(&["status"])
        .assert_code(0)
        .assert_stderr_has("progress file")
        .assert_stderr_has("recovered 1 exercise")
        .assert_stdout_has("1 of 4 exercises done")
        .assert_stdout_has("current: basics/failing");
    let backups: Vec<_> = std::fs::read_dir(&dir)
        .expect("list .proclings")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert_eq!(backups.len(), 1, "expected one backup in {}", dir.display());
    let kept = std::fs::read_to_string(backups[0].path()).expect("read the backup");
    assert_eq!(
        kept, corrupt,
        "the backup must hold the corrupt file as it was"
    );
    // The recovered file is valid again: a second run says nothing about corruption.
    let again = course.xtask(&["status"]);
    again
        .assert_code(0)
        .assert_stdout_has("1 of 4 exercises done");
    assert!(
        !again.stderr().contains("progress file"),
        "{}",
        again.describe()
    );
}

#[test]
fn an_unknown_id_exits_2_and_suggests_the_closest() {
    let course = Course::new("unknown");
    course
        .xtask(&["check", "basics/failng"])
        .assert_code(2)
        .assert_stderr_has("no exercise `basics/failng`")
        .assert_stderr_has("`basics/failing`");
    course
        .xtask(&["hint", "leaky"])
        .assert_code(2)
        .assert_stderr_has("`basics/leaky`");
}

#[test]
fn hints_advance_one_level_per_call_and_then_repeat_the_last() {
    let course = Course::new("hint");
    course
        .xtask(&["hint", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("hint 1 of 2")
        .assert_stdout_has("Adding one is not doubling.");
    course
        .xtask(&["hint", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("hint 2 of 2")
        .assert_stdout_has("Multiply by two.");
    course
        .xtask(&["hint", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("hint 2 of 2")
        .assert_stdout_has("last hint");
}

#[test]
fn an_unknown_verb_exits_2_with_the_usage() {
    let course = Course::new("verb");
    course
        .xtask(&["frobnicate"])
        .assert_code(2)
        .assert_stderr_has("unknown verb `frobnicate`")
        .assert_stderr_has("verify");
    course
        .xtask(&["--help"])
        .assert_code(0)
        .assert_stdout_has("check [ID]");
}

#[test]
fn verify_names_every_test_that_does_not_fail_on_its_stub() {
    let course = Course::new("verify");
    let run = course.xtask(&["verify"]);
    run.assert_code(1)
        .assert_stdout_has("basics/passing: test answer_is_forty_two passes on the stub")
        .assert_stdout_has("basics/failing: test doubles_one passes on the stub")
        .assert_stdout_has("basics/forever: test compute_returns_seven was still running")
        .assert_stdout_has(&format!("{}-background 1000", course.marker))
        .assert_stdout_has("basics: the demo ran to completion")
        .assert_stdout_has("verify summary");
    assert!(
        !run.stdout()
            .contains("basics/failing: test doubles_twenty_one"),
        "a test that fails on the stub was named as a miss\n{}",
        run.describe()
    );
    course.assert_nothing_left();
}

#[test]
fn a_built_course_moved_to_a_new_path_finds_its_own_files() {
    let built = Course::new("before-move");
    built
        .xtask(&["check", "basics/passing"])
        .assert_code(0)
        .assert_stdout_has("PASS basics/passing");
    let moved = Course::moved(&built, "after-move");
    let old_root = built.root().to_path_buf();
    drop(built); // the old path is gone, as after `mv`
    assert!(!old_root.exists());

    // From the course's root and from a directory inside it, with no hint of where it is.
    let at_root = moved.command_found_from(moved.root(), &["status"]);
    moved
        .run(at_root, &["status"])
        .assert_code(0)
        .assert_stdout_has("1 of 4 exercises done")
        .assert_stdout_has("current: basics/failing");
    let inside = moved.path("exercises/01-basics");
    let check = moved.command_found_from(&inside, &["check", "basics/passing"]);
    let run = moved.run(check, &["check", "basics/passing"]);
    run.assert_code(0).assert_stdout_has("PASS basics/passing");
    assert!(
        !run.stdout().contains(old_root.to_string_lossy().as_ref())
            && !run.stderr().contains(old_root.to_string_lossy().as_ref()),
        "the moved course still refers to its old path\n{}",
        run.describe()
    );
    moved.assert_nothing_left();
}

#[test]
fn sync_writes_every_generated_file_and_tidy_fails_while_one_is_stale() {
    let course = Course::new("sync");
    course
        .xtask(&["tidy"])
        .assert_code(1)
        .assert_stdout_has("README.md: out of date")
        .assert_stdout_has("docs/src/curriculum.md: out of date")
        .assert_stdout_has("docs/src/diagnosis.md: out of date")
        .assert_stdout_has("no pristine copy of exercises/01-basics/passing.rs")
        .assert_stdout_has("run `cargo xtask sync`");
    course
        .xtask(&["sync"])
        .assert_code(0)
        .assert_stdout_has("wrote  README.md")
        .assert_stdout_has("pristine copies of 8 file(s)");
    course.xtask(&["tidy"]).assert_code(0);
    assert!(
        course
            .read("README.md")
            .contains("| 1 | 1-2 | [Basics](docs/src/01-basics.md) | numbers, loops and helpers |"),
        "{}",
        course.read("README.md")
    );
    assert!(
        course
            .read("docs/src/curriculum.md")
            .contains("| 2 | `basics/leaky` | [Helpers left running](01-basics.md#leaky) |")
    );
    assert!(
        course
            .read("docs/src/diagnosis.md")
            .contains("### Writing to a reader that is gone {#broken-pipe}")
    );

    // A retitled exercise and a topic without a summary: tidy says so, sync rewrites the tables.
    let manifest = course
        .read("curriculum.toml")
        .replace("Helpers left running", "Helpers, all reaped")
        .replace("summary = \"numbers, loops and helpers\"\n", "");
    course.write("curriculum.toml", &manifest);
    course
        .xtask(&["tidy"])
        .assert_code(1)
        .assert_stdout_has("docs/src/curriculum.md: out of date")
        .assert_stdout_has("topic `basics`: no `summary`");
    course.xtask(&["sync"]).assert_code(0);
    assert!(
        course
            .read("docs/src/curriculum.md")
            .contains("[Helpers, all reaped]")
    );
    course
        .xtask(&["tidy"])
        .assert_code(1)
        .assert_stdout_has("no `summary`")
        .assert_stdout_lacks("out of date");
    // `pristine --refresh`, the former name, still works.
    course.xtask(&["pristine", "--refresh"]).assert_code(0);
}

#[test]
fn new_scaffolds_an_exercise_that_builds_fails_on_its_stub_and_tidy_lists_what_is_left() {
    let course = Course::new("new");
    course
        .xtask(&["new", "basics/tripled", "--title", "Triple a number"])
        .assert_code(0)
        .assert_stdout_has("created  exercises/01-basics/tripled.rs")
        .assert_stdout_has("created  solutions/01-basics/tripled.rs")
        .assert_stdout_has("created  crates/01-basics/tests/tripled.rs")
        .assert_stdout_has("Then: cargo xtask check basics/tripled");
    assert!(
        course
            .read("crates/01-basics/src/lib.rs")
            .contains("#[path = \"../../../solutions/01-basics/tripled.rs\"]\npub mod tripled;")
    );
    assert!(
        course
            .read("curriculum.toml")
            .contains("id = \"basics/tripled\"\nweek = 1\nday = 1\ntitle = \"Triple a number\"\n")
    );
    assert!(
        course
            .read("docs/src/01-basics.md")
            .contains("## Exercise: Triple a number {#tripled}")
    );
    assert!(
        course
            .path("xtask/pristine/exercises/01-basics/tripled.rs.pristine")
            .is_file()
    );
    assert!(
        course
            .read("docs/src/curriculum.md")
            .contains("`basics/tripled`")
    );

    // What is left is exactly the places the scaffold marked, and nothing else.
    let misses = tidy_misses(&course);
    assert!(
        misses.iter().all(|m| m.contains("left to write")),
        "{misses:#?}"
    );
    for place in [
        "exercises/01-basics/tripled.rs:3:",
        "solutions/01-basics/tripled.rs:11:",
        "crates/01-basics/tests/tripled.rs:",
        "curriculum.toml:",
        "docs/src/01-basics.md:",
    ] {
        assert!(
            misses.iter().any(|m| m.starts_with(place)),
            "{place} in {misses:#?}"
        );
    }

    course
        .xtask(&["check", "basics/tripled"])
        .assert_code(1)
        .assert_stdout_has("FAILED  scaffold_replace_this_test")
        .assert_stdout_has("not yet implemented: tripled");
    course
        .xtask(&["new", "basics/tripled"])
        .assert_code(2)
        .assert_stderr_has("in curriculum.toml already");
    course
        .xtask(&["new", "basics/Bad"])
        .assert_code(2)
        .assert_stderr_has("not a module name");
    course
        .xtask(&["new", "nosuch/x"])
        .assert_code(2)
        .assert_stderr_has("no topic named `nosuch`");
}

#[test]
fn new_topic_scaffolds_a_crate_whose_demo_runs_and_new_adds_its_first_exercise() {
    let course = Course::new("new-topic");
    course
        .xtask(&["new-topic", "02-extras", "--title", "Extras", "--week", "2"])
        .assert_code(0)
        .assert_stdout_has("created  crates/02-extras/Cargo.toml")
        .assert_stdout_has("created  crates/02-extras/src/bin/demo.rs")
        .assert_stdout_has("created  crates/02-extras/tests/demo.rs")
        .assert_stdout_has("created  docs/src/02-extras.md")
        .assert_stdout_has("Then: cargo xtask new extras/NAME");
    assert!(course.read("curriculum.toml").contains(
        "[[topic]]\nname = \"extras\"\ndir = \"02-extras\"\ntitle = \"Extras\"\nweek = 2\ndays = \"1\"\n"
    ));
    course
        .xtask(&["new", "extras/first", "--title", "The first"])
        .assert_code(0);
    assert!(
        course
            .read("curriculum.toml")
            .contains("# ---- 02-extras ----\n\n[[exercise]]\nid = \"extras/first\"\nweek = 2\n")
    );
    course
        .xtask(&["list", "--topic", "extras"])
        .assert_code(0)
        .assert_stdout_has("Extras (extras): week 2, days 1")
        .assert_stdout_has("extras/first");
    let misses = tidy_misses(&course);
    assert!(
        misses
            .iter()
            .all(|m| m.contains("left to write") || m.contains("no `summary`")),
        "{misses:#?}"
    );
    assert!(
        misses
            .iter()
            .any(|m| m.starts_with("crates/02-extras/src/bin/demo.rs:")),
        "{misses:#?}"
    );
    course
        .xtask(&["check", "extras/first"])
        .assert_code(1)
        .assert_stdout_has("FAILED  scaffold_replace_this_test");
    // The demo and its test build and pass as scaffolded (verify runs both).
    let run = course.xtask(&["verify"]);
    run.assert_stdout_has("extras: the demo ran to completion");
    // The chapter's console block ran as written.
    run.assert_stdout_has("docs/src/01-basics.md:");
    run.assert_stdout_has(": 1 command(s) ran as written");
    course
        .xtask(&["new-topic", "02-extras", "--title", "Again", "--week", "2"])
        .assert_code(2);
    course.assert_nothing_left();
}

#[test]
fn check_all_regrades_what_is_done_reports_a_regression_and_keeps_it_done() {
    let course = Course::with_pristine("check-all");
    course
        .xtask(&["check", "--all"])
        .assert_code(0)
        .assert_stdout_has("Nothing to check: no exercise is done");
    course.solve("failing");
    course.xtask(&["check", "basics/passing"]).assert_code(0);
    course.xtask(&["check", "basics/failing"]).assert_code(0);
    course
        .xtask(&["check", "--all"])
        .assert_code(0)
        .assert_stdout_has("PASS all 2 passed");
    // A course update breaks a done exercise: reported, exit 1, and still done.
    let stub = course.read("xtask/pristine/exercises/01-basics/failing.rs.pristine");
    course.write("exercises/01-basics/failing.rs", &stub);
    let run = course.xtask(&["check", "--all", "--topic", "basics"]);
    run.assert_code(1)
        .assert_stdout_has("Basics (basics)")
        .assert_stdout_has("FAIL 1 of 2 did not pass");
    let row = run
        .stdout()
        .lines()
        .find(|l| l.starts_with("basics/failing "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no summary row for basics/failing\n{}", run.describe()));
    assert!(
        row.contains("fail") && row.contains("1 of 2 test(s) failed"),
        "{row}"
    );
    assert!(row.contains("was done"), "{row}");
    assert!(
        run.stdout()
            .lines()
            .any(|l| l.starts_with("basics/passing ") && l.contains(" pass ")),
        "{}",
        run.describe()
    );
    course
        .xtask(&["list", "--done"])
        .assert_stdout_has("basics/failing");
    course
        .xtask(&["check", "--all", "--topic", "nosuch"])
        .assert_code(2);
    course.assert_nothing_left();
}

#[test]
fn check_json_writes_exercism_results_on_stdout_and_the_rest_on_stderr() {
    let course = Course::with_pristine("json");
    let run = course.xtask(&["check", "basics/failing", "--json"]);
    run.assert_code(1).assert_stderr_has("FAIL basics/failing");
    let one: serde_json::Value = serde_json::from_str(run.stdout().trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e})\n{}", run.describe()));
    assert_eq!(one["version"], 2);
    assert_eq!(one["id"], "basics/failing");
    assert_eq!(one["status"], "fail");
    assert_eq!(one["verdict"], "fail");
    assert_eq!(one["message"], "1 of 2 test(s) failed");
    let tests = one["tests"].as_array().expect("tests is an array");
    let by_name = |name: &str| {
        tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no test {name} in {one:#}"))
            .clone()
    };
    assert_eq!(by_name("doubles_one")["status"], "pass");
    let failed = by_name("doubles_twenty_one");
    assert_eq!(failed["status"], "fail");
    let message = failed["message"].as_str().expect("a failure message");
    assert!(
        message.contains("double(21): expected 42, got 22"),
        "{message}"
    );

    // Every pending exercise, one object per line: a timeout and a leak among them.
    let run = course.xtask(&["check", "--all", "--pending", "--json"]);
    run.assert_code(1).assert_stderr_has("did not pass");
    let objects: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let verdicts: Vec<(&str, &str, &str)> = objects
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap_or(""),
                o["verdict"].as_str().unwrap_or(""),
                o["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("basics/passing", "pass", "pass"),
            ("basics/failing", "fail", "fail"),
            ("basics/forever", "timeout", "fail"),
            ("basics/leaky", "leak", "fail"),
        ],
        "{}",
        run.describe()
    );
    assert_eq!(objects[2]["tests"][0]["status"], "error");

    // A stub that does not compile is exercism's `error`, with the compiler's words.
    course.write(
        "exercises/01-basics/failing.rs",
        "//! Half-typed.\n\npub fn double(x: u32) -> u32 {\n    x *\n}\n",
    );
    let run = course.xtask(&["check", "basics/failing", "--json"]);
    run.assert_code(1);
    let broken: serde_json::Value =
        serde_json::from_str(run.stdout().trim()).expect("one JSON object");
    assert_eq!(broken["status"], "error");
    assert_eq!(broken["verdict"], "compile-error");
    assert!(
        broken["message"]
            .as_str()
            .is_some_and(|m| m.contains("error")),
        "{broken:#}"
    );
    course.assert_nothing_left();
}

#[test]
fn an_older_progress_file_is_migrated_and_ids_gone_from_the_curriculum_are_kept_and_ignored() {
    let course = Course::new("progress-v1");
    std::fs::create_dir_all(course.path(".proclings")).expect("create .proclings");
    // Format 1 had no version; `basics/gone` has since left the curriculum.
    let old = "[\"basics/passing\"]\ndone = true\n\n[\"basics/gone\"]\ndone = true\nhint = 2\n";
    std::fs::write(course.progress_file(), old).expect("write the progress file");
    course
        .xtask(&["status"])
        .assert_code(0)
        .assert_stdout_has("1 of 4 exercises done")
        .assert_stdout_has("current: basics/failing");
    let list = course.xtask(&["list"]);
    list.assert_code(0)
        .assert_stdout_has("[done] w1d1  basics/passing")
        .assert_stdout_lacks("basics/gone");
    let migrated = course.progress();
    assert!(migrated.contains("version = 2"), "{migrated}");
    assert!(migrated.contains("[\"basics/gone\"]"), "{migrated}");
    course.xtask(&["hint", "basics/failing"]).assert_code(0);
    assert!(course.progress().contains("[\"basics/gone\"]"));
}

#[test]
fn a_progress_file_from_a_newer_course_is_refused_and_kept() {
    let course = Course::new("progress-future");
    std::fs::create_dir_all(course.path(".proclings")).expect("create .proclings");
    let future = "version = 99\n\n[\"basics/passing\"]\ndone = true\nstars = 5\n";
    std::fs::write(course.progress_file(), future).expect("write the progress file");
    for args in [&["status"][..], &["check", "basics/passing"], &["list"]] {
        course
            .xtask(args)
            .assert_code(2)
            .assert_stderr_has("format version 99")
            .assert_stderr_has("newer version of the course");
    }
    assert_eq!(course.progress(), future, "the file must be left as it is");
    let others: Vec<_> = std::fs::read_dir(course.path(".proclings"))
        .expect("list .proclings")
        .flatten()
        .filter(|e| e.file_name() != "progress.toml")
        .map(|e| e.file_name())
        .collect();
    assert!(others.is_empty(), "unexpected files: {others:?}");
}

#[test]
fn status_and_check_link_the_exercise_and_its_chapter_section_where_links_are_wanted() {
    let course = Course::new("osc8");
    let linked = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = course.command(args);
        cmd.env_remove("NO_COLOR").env("FORCE_HYPERLINK", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        course.run(cmd, args)
    };
    let status = linked(&["status"], &[]);
    status
        .assert_code(0)
        .assert_stdout_has("\x1b\\exercises/01-basics/passing.rs\x1b]8;;\x1b\\")
        .assert_stdout_has(
            "/docs/src/01-basics.md#passing\x1b\\docs/src/01-basics.md#passing\x1b]8;;",
        );
    linked(&["check", "basics/failing"], &[])
        .assert_code(1)
        .assert_stdout_has("\x1b\\exercises/01-basics/failing.rs\x1b]8;;\x1b\\")
        .assert_stdout_has("01-basics.md#failing\x1b\\docs/src/01-basics.md#failing\x1b]8;;");
    // Not on a terminal, and not forced: plain paths (of the exercise just chosen by `check`).
    course
        .xtask(&["status"])
        .assert_stdout_has("  read  docs/src/01-basics.md#failing\n")
        .assert_stdout_lacks("\x1b");
    course.assert_nothing_left();
}

#[test]
fn mistakes_proves_every_known_mistake_is_caught_and_restores_the_solutions() {
    let course = Course::new("mistakes");
    let original = course.read("solutions/01-basics/failing.rs");
    course
        .xtask(&["mistakes", "basics/failing"])
        .assert_code(0)
        .assert_stdout_has("caught  basics/failing #1 adds-one")
        .assert_stdout_has("caught  basics/failing #2 squares")
        .assert_stdout_has("mistakes: 2 caught of 2");
    assert_eq!(course.read("solutions/01-basics/failing.rs"), original);

    // Three that are not caught as named: the tests accept one, one fails with another message,
    // and one no longer applies to the solution. Each is named with the reason, and tidy
    // names the stale one too.
    let mut file = course.read("crates/01-basics/mistakes/failing.toml");
    file.push_str(
        r#"
[[mistake]]
slug = "adds-itself"
what = "adds x to itself, which is doubling too"
test = "doubles_twenty_one"
message = "expected 42"
[[mistake.edit]]
find = "x * 2"
replace = "x + x"

[[mistake]]
slug = "triples"
what = "triples"
test = "doubles_twenty_one"
message = "a message the test never writes"
[[mistake.edit]]
find = "x * 2"
replace = "x * 3"

[[mistake]]
slug = "stale"
what = "an edit written for an older solution"
test = "doubles_one"
message = "left"
[[mistake.edit]]
find = "x << 1"
replace = "x"
"#,
    );
    course.write("crates/01-basics/mistakes/failing.toml", &file);
    course
        .xtask(&["mistakes", "--topic", "basics"])
        .assert_code(1)
        .assert_stdout_has("basics/failing #3 adds-itself (adds x to itself, which is doubling too): the tests accept it")
        .assert_stdout_has("does not contain `a message the test never writes`; it said:")
        .assert_stdout_has("cannot be applied: edit 1: its `find` text is not in the solution")
        .assert_stdout_has("mistakes: 8 caught of 11");
    assert_eq!(course.read("solutions/01-basics/failing.rs"), original);
    let misses = tidy_misses(&course);
    assert!(
        misses.iter().any(|m| m.contains("mistake `stale`: edit 1")),
        "{misses:#?}"
    );

    // A run stopped half-way (its solution still changed, the original in the backup) is undone
    // by the next run before anything else.
    course.write("solutions/01-basics/failing.rs", "broken on purpose");
    std::fs::create_dir_all(course.path("target/mistakes/backup")).unwrap();
    course.write(
        "target/mistakes/backup/solutions__01-basics__failing.rs",
        &original,
    );
    course.write(
        "crates/01-basics/mistakes/failing.toml",
        &file[..file.find("\n[[mistake]]\nslug = \"adds-itself\"").unwrap()],
    );
    course
        .xtask(&["mistakes", "basics/failing"])
        .assert_code(0)
        .assert_stderr_has("restored solutions/01-basics/failing.rs")
        .assert_stdout_has("mistakes: 2 caught of 2");
    assert_eq!(course.read("solutions/01-basics/failing.rs"), original);
    course
        .xtask(&["mistakes", "nosuch/x"])
        .assert_code(2)
        .assert_stderr_has("no exercise `nosuch/x`");
    course.assert_nothing_left();
}

#[test]
fn tidy_wants_two_known_mistakes_per_exercise() {
    let course = Course::with_pristine("mistakes-tidy");
    course.xtask(&["tidy"]).assert_code(0);
    let file = course.read("crates/01-basics/mistakes/leaky.toml");
    let one = &file[..file.rfind("\n[[mistake]]").unwrap()];
    course.write("crates/01-basics/mistakes/leaky.toml", one);
    let misses = tidy_misses(&course);
    assert!(
        misses
            .iter()
            .any(|m| m.contains("basics/leaky: 1 known mistake(s), at least 2 wanted")),
        "{misses:#?}"
    );
}

#[test]
fn the_unmounted_mqueue_note_is_said_only_for_an_exercise_that_uses_queues() {
    let mounted = std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split_whitespace().nth(2) == Some("mqueue"))
    });
    let course = Course::with_pristine("mqueue-note");
    let note = "/dev/mqueue is not mounted";
    let run = course.xtask(&["check", "basics/failing"]);
    run.assert_code(1);
    assert!(!run.stderr().contains(note), "{}", run.describe());
    if mounted {
        eprintln!("skipped the second half: /dev/mqueue is mounted here, so there is no note");
        return;
    }
    let test = course.read("crates/01-basics/tests/failing.rs")
        + "\n// This exercise's helpers talk over mq_open'ed queues.\n";
    course.write("crates/01-basics/tests/failing.rs", &test);
    course.xtask(&["sync"]).assert_code(0);
    course
        .xtask(&["check", "basics/failing"])
        .assert_code(1)
        .assert_stderr_has(note);
}

#[test]
fn classroom_writes_a_valid_workflow_with_a_grader_per_topic() {
    use yaml_rust2::YamlLoader;
    let course = Course::with_pristine("classroom");
    course
        .xtask(&["classroom"])
        .assert_code(0)
        .assert_stdout_has("wrote .github/workflows/classroom.yml: 1 grader step(s), 4 point(s)");
    let text = course.read(".github/workflows/classroom.yml");
    let docs = YamlLoader::load_from_str(&text).expect("the workflow is valid YAML");
    let job = &docs[0]["jobs"]["run-autograding-tests"];
    let steps = job["steps"].as_vec().expect("a list of steps");
    let graders: Vec<_> = steps
        .iter()
        .filter(|s| s["uses"].as_str() == Some("classroom-resources/autograding-command-grader@v1"))
        .collect();
    assert_eq!(graders.len(), 1, "one grader per topic\n{text}");
    let grader = graders[0];
    assert_eq!(grader["id"].as_str(), Some("basics"));
    assert_eq!(
        grader["with"]["command"].as_str(),
        Some("cargo xtask check --topic basics --pending --done")
    );
    assert_eq!(grader["with"]["max-score"].as_i64(), Some(4));
    assert!(grader["with"]["timeout"].as_i64().is_some_and(|m| m >= 20));
    let reporter = steps.last().expect("a reporter step");
    assert_eq!(
        reporter["uses"].as_str(),
        Some("classroom-resources/autograding-grading-reporter@v1")
    );
    assert_eq!(reporter["with"]["runners"].as_str(), Some("basics"));
    assert_eq!(
        reporter["env"]["BASICS_RESULTS"].as_str(),
        Some("${{steps.basics.outputs.result}}")
    );
    // The command the grader runs exists and grades the whole topic: all four exercises here.
    let run = course.xtask(&["check", "--topic", "basics", "--pending", "--done"]);
    run.assert_code(1);
    for id in [
        "basics/passing",
        "basics/failing",
        "basics/forever",
        "basics/leaky",
    ] {
        assert!(
            run.stdout().contains(id),
            "{id} not graded\n{}",
            run.describe()
        );
    }
    // A workflow the teacher wrote is not overwritten without --force.
    course.write(".github/workflows/classroom.yml", "name: mine\n");
    course
        .xtask(&["classroom"])
        .assert_code(2)
        .assert_stderr_has("was not written by `cargo xtask classroom`");
    course.xtask(&["classroom", "--force"]).assert_code(0);
    course.assert_nothing_left();
}

/// Runs `xtask ARGS` on `course` inside an outer PID namespace (so that a containment bug cannot
/// reach the machine running the tests), beside a sentinel process in that namespace; returns
/// the run and whether the sentinel survived. `None` (having said why) where no outer namespace
/// can be made.
fn run_beside_a_sentinel(course: &Course, args: &[&str]) -> Option<(common::Run, bool)> {
    let is_root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    });
    let outer: &[&str] = if is_root {
        &["--pid", "--fork", "--mount-proc"]
    } else {
        &[
            "--user",
            "--map-root-user",
            "--pid",
            "--fork",
            "--mount-proc",
        ]
    };
    let probe = std::process::Command::new("unshare")
        .args(outer)
        .arg("true")
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: no outer PID namespace can be made here (unshare)");
        return None;
    }
    let inner = course.command(args);
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(outer).args([
        "sh",
        "-c",
        "sleep 1000 & sentinel=$!; \"$@\"; status=$?; \
         if kill -0 $sentinel 2>/dev/null; then echo SENTINEL-ALIVE; kill $sentinel; fi; \
         exit $status",
        "sh",
    ]);
    cmd.arg(inner.get_program()).args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let run = course.run(cmd, args);
    let alive = run.stdout().contains("SENTINEL-ALIVE");
    Some((run, alive))
}

#[test]
fn a_stub_that_runs_kill_minus_one_reaches_nothing_outside_its_check() {
    let course = Course::with_pristine("kill-all");
    course.write(
        "exercises/01-basics/failing.rs",
        "//! A stub that kills every process it may.\n\n/// Doubles `x`.\npub fn double(x: u32) \
         -> u32 {\n    let _ = std::process::Command::new(\"sh\").args([\"-c\", \"kill -9 -1\"]).status();\n    x + 1\n}\n",
    );
    let Some((run, alive)) = run_beside_a_sentinel(&course, &["check", "basics/failing"]) else {
        return;
    };
    assert!(
        alive,
        "`kill -9 -1` in the code under test killed a process outside the check\n{}",
        run.describe()
    );
    run.assert_code(1).assert_stdout_has("FAIL basics/failing");
    course.assert_nothing_left();
}

#[test]
fn a_stub_that_spawns_without_end_is_stopped_named_and_cleaned_up() {
    let course = Course::with_pristine("spawn-loop");
    course.write(
        "exercises/01-basics/failing.rs",
        "//! A stub that spawns without end.\n\n/// Doubles `x`.\npub fn double(x: u32) -> u32 \
         {\n    let mut kids = Vec::new();\n    loop {\n        if let Ok(k) = \
         std::process::Command::new(\"sleep\").arg(\"1000\").spawn() {\n            kids.push(k);\n        }\n        \
         if kids.len() > 100_000 {\n            return x;\n        }\n    }\n}\n",
    );
    let Some((run, alive)) = run_beside_a_sentinel(&course, &["check", "basics/failing"]) else {
        return;
    };
    assert!(
        alive,
        "the spawn loop reached outside the check\n{}",
        run.describe()
    );
    run.assert_code(1)
        .assert_stdout_has("your code started more than 1,024 processes (a spawn loop?)");
    course.assert_nothing_left();
}
