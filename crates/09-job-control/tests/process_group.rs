//! Tests for `job-control/process_group`: each half of `setpgid` does its job alone, and
//! together they leave no window in which the child is in the wrong group.
//!
//! The code runs in the `job-groups` driver, which forks by itself: it can hold a child before
//! exec (only the parent's half runs), skip the parent's half (only the child's runs), or let
//! the child exec before the parent's half runs (the kernel then answers EACCES), or hold the
//! parent inside `fork` until the child's program has run (only the child's half can then have
//! acted). Its allocator ends a forked child that allocates before exec with status 86.

use std::process::Command;

use testkit::{DEFAULT_DEADLINE, run_with_deadline};

fn driver(scenario: &str) -> String {
    let out = run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_job-groups"))
            .arg(scenario)
            .arg(env!("CARGO_BIN_EXE_job-helper")),
        DEFAULT_DEADLINE,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "job-groups {scenario} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        testkit::describe_status(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn line<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
        .split_whitespace()
        .collect()
}

#[test]
fn the_parents_half_alone_moves_a_child_that_has_not_run_yet() {
    let out = driver("parent-half");
    let own = line(&out, "own ");
    assert_eq!(
        own[1], own[2],
        "join_in_parent(child, None) must make the child the leader of a new group \
         (pgid == its pid) even while the child itself does nothing: {out}"
    );
    let join = line(&out, "join ");
    assert_eq!(
        join[2], join[3],
        "join_in_parent(child, Some(leader)) must move the child into the leader's group: {out}"
    );
}

#[test]
fn the_childs_half_alone_is_in_place_before_the_program_runs() {
    let out = driver("child-half");
    let leader = line(&out, "leader ")[1].to_string();
    let probes: Vec<&str> = out.lines().filter(|l| l.starts_with("probe ")).collect();
    assert_eq!(probes.len(), 2, "expected two probes; got:\n{out}");
    let field = |l: &str, k: &str| {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        field(probes[0], "pid="),
        field(probes[0], "pgid="),
        "join_in_child(None) before exec: the program's first instruction must already run \
         in a group of its own; got {}",
        probes[0]
    );
    assert_eq!(
        field(probes[1], "pgid="),
        leader,
        "join_in_child(Some(leader)) must join the leader's group; got {}",
        probes[1]
    );
}

#[test]
fn the_parents_half_accepts_a_child_that_was_faster() {
    let out = driver("late-parent");
    assert!(
        out.contains("late parent: ok"),
        "the child joined its group and exec'd before the parent's setpgid: the kernel \
         answers EACCES, which means the job is already done, not an error; got:\n{out}"
    );
    let l = line(&out, "child pgid ");
    assert_eq!(l[2], l[4], "the child must still lead its group: {out}");
}

#[test]
fn spawn_in_group_returns_with_the_child_already_in_its_group() {
    let out = driver("spawn");
    assert!(
        out.contains("in group on return: 20 of 20"),
        "when spawn_in_group returns, the parent may at once signal the group or give it the \
         terminal: the child must be in it, even when it has not run yet (on one CPU the parent \
         usually runs on after fork). Got:\n{out}"
    );
    let l = line(&out, "leader ");
    assert_eq!(l[5], l[1], "the leader must lead its group: {out}");
    assert_eq!(l[6], l[1], "the member must join the leader's group: {out}");
}

#[test]
fn spawn_in_group_reports_a_missing_program_as_exit_127() {
    let out = driver("spawn");
    assert!(
        out.contains("missing program exited 127"),
        "a child whose exec fails must end with _exit(127), like a shell, not run the parent's \
         code; got:\n{out}"
    );
    assert!(
        out.contains("empty argv: EINVAL"),
        "an empty argv is rejected with EINVAL before forking; got:\n{out}"
    );
}

#[test]
fn spawn_in_group_searches_path_for_a_bare_name_as_execvp_does() {
    // PATH: a directory whose `jc-prog` is a plain file (not executable), then one whose
    // `jc-prog` is the helper. execvp skips the first and runs the second.
    let dir = tempfile::tempdir().expect("a temp dir");
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir(&first).expect("mkdir");
    std::fs::create_dir(&second).expect("mkdir");
    std::fs::write(first.join("jc-prog"), "not a program\n").expect("write");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_job-helper"), second.join("jc-prog"))
        .expect("symlink");
    let path = format!("{}:{}:/bin:/usr/bin", first.display(), second.display());
    let out = run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_job-groups"))
            .arg("spawn")
            .arg(env!("CARGO_BIN_EXE_job-helper"))
            .env("PATH", &path)
            .env("JOB_GROUPS_BARE_NAME", "jc-prog"),
        DEFAULT_DEADLINE,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("bare name exited 9"),
        "spawn_in_group([\"jc-prog\", ...]) with PATH={path} must search PATH as execvp does, \
         passing over a file that is not executable, and run the helper (which exits 9); \
         got ({}):\n{stdout}\n{}",
        testkit::describe_status(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn spawn_in_group_lets_the_child_join_before_exec_when_the_parent_is_late() {
    let out = driver("late-child");
    let l = line(&out, "held probe ");
    let field = |k: &str| {
        l.iter()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        field("pid="),
        field("pgid="),
        "the parent was held right after fork until the program had run: the program's first \
         instruction ran in the caller's group (pgid={}), not in a group of its own. The child \
         must call setpgid itself (join_in_child) before exec; the parent's half alone leaves \
         this window open. Got:\n{out}",
        field("pgid=")
    );
}

#[test]
fn spawn_in_group_allocates_nothing_between_fork_and_exec() {
    let out = driver("spawn");
    assert!(
        out.contains("allocated before exec: 0"),
        "a forked child of a threaded program may only call async-signal-safe functions until \
         exec (signal-safety(7)), and malloc is not one: build argv's pointer array (and find \
         the program on PATH) before fork, then call execv/execve in the child. nix's execvp \
         builds that array in the child. Got:\n{out}"
    );
}
