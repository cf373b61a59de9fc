//! Tests for `command-basics/environment`: the child's environment and working directory are
//! observed from inside real children (`/usr/bin/env -0`, `pwd -P`, `cat`).
//!
//! Run them with `cargo xtask check command-basics/environment`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::Command;

use command_basics::environment::{EnvPlan, command};

const ENV: &str = "/usr/bin/env";

/// Runs `cmd` (built for `/usr/bin/env`) with `-0` and returns the environment the child saw.
#[track_caller]
fn env_seen_by(mut cmd: Command) -> BTreeMap<OsString, OsString> {
    cmd.arg("-0");
    let out = testkit::run_with_deadline(&mut cmd, testkit::DEFAULT_DEADLINE);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        testkit::describe_status(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=').unwrap_or(entry.len());
            let (k, v) = entry.split_at(eq);
            (
                OsString::from_vec(k.to_vec()),
                OsString::from_vec(v.get(1..).unwrap_or_default().to_vec()),
            )
        })
        .collect()
}

fn parent_env() -> BTreeMap<OsString, OsString> {
    std::env::vars_os().collect()
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

#[test]
fn by_default_the_child_inherits_the_whole_environment() {
    let seen = env_seen_by(command(ENV, &EnvPlan::default()));
    assert_eq!(
        seen,
        parent_env(),
        "with an empty plan the child's environment is an exact copy of the parent's"
    );
}

#[test]
fn a_set_variable_is_added_and_the_rest_is_inherited() {
    let plan = EnvPlan {
        set: &[("PROCLINGS_GREETING", "hello world")],
        ..EnvPlan::default()
    };
    let seen = env_seen_by(command(ENV, &plan));
    let mut want = parent_env();
    want.insert(os("PROCLINGS_GREETING"), os("hello world"));
    assert_eq!(
        seen, want,
        "the parent's environment plus PROCLINGS_GREETING"
    );
}

#[test]
fn a_removed_variable_is_absent_in_the_child() {
    assert!(
        std::env::var_os("PATH").is_some(),
        "the test needs PATH set"
    );
    let plan = EnvPlan {
        remove: &["PATH"],
        ..EnvPlan::default()
    };
    let seen = env_seen_by(command(ENV, &plan));
    let mut want = parent_env();
    want.remove(&os("PATH"));
    assert_eq!(seen, want, "the parent's environment without PATH");
}

#[test]
fn a_cleared_environment_holds_only_what_was_asked_for() {
    let plan = EnvPlan {
        clear: true,
        keep: &["PATH"],
        set: &[("LANG", "C"), ("PROCLINGS_MODE", "sandbox")],
        ..EnvPlan::default()
    };
    let seen = env_seen_by(command(ENV, &plan));
    let want: BTreeMap<OsString, OsString> = [
        (os("PATH"), std::env::var_os("PATH").expect("PATH is set")),
        (os("LANG"), os("C")),
        (os("PROCLINGS_MODE"), os("sandbox")),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        seen, want,
        "clear, keep PATH, set LANG and PROCLINGS_MODE: exactly those three \
         (did env_clear run after env and erase the set variables?)"
    );
}

#[test]
fn a_kept_variable_the_parent_lacks_is_not_invented() {
    let name = "PROCLINGS_SURELY_NOT_SET_IN_THE_PARENT";
    assert!(std::env::var_os(name).is_none());
    let plan = EnvPlan {
        clear: true,
        keep: &[name],
        ..EnvPlan::default()
    };
    let seen = env_seen_by(command(ENV, &plan));
    assert!(
        seen.is_empty(),
        "keeping a variable the parent does not have must not create it (not even empty); \
         the child saw {seen:?}"
    );
}

#[test]
fn remove_wins_over_keep_and_set() {
    let plan = EnvPlan {
        clear: true,
        keep: &["PATH"],
        set: &[("PROCLINGS_TMP", "1")],
        remove: &["PATH", "PROCLINGS_TMP"],
        ..EnvPlan::default()
    };
    let seen = env_seen_by(command(ENV, &plan));
    assert!(
        seen.is_empty(),
        "everything kept or set was removed again, the child saw {seen:?}"
    );
}

#[test]
fn the_child_runs_in_the_given_directory() {
    let dir = testkit::temp_dir("env-cwd");
    let plan = EnvPlan {
        dir: Some(dir.path()),
        ..EnvPlan::default()
    };
    let mut cmd = command("/bin/sh", &plan);
    cmd.args(["-c", "pwd -P"]);
    let out = testkit::run_with_deadline(&mut cmd, testkit::DEFAULT_DEADLINE);
    let want = std::fs::canonicalize(dir.path()).expect("canonicalize the temp dir");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        want.to_string_lossy(),
        "`pwd -P` in the child prints its working directory (stderr: {})",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn relative_paths_in_the_child_resolve_against_its_directory() {
    let dir = testkit::temp_dir("env-relative");
    std::fs::write(dir.path().join("note.txt"), "found me\n").expect("write note.txt");
    let plan = EnvPlan {
        dir: Some(dir.path()),
        ..EnvPlan::default()
    };
    let mut cmd = command("/bin/cat", &plan);
    cmd.arg("note.txt");
    let out = testkit::run_with_deadline(&mut cmd, testkit::DEFAULT_DEADLINE);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "found me\n",
        "`cat note.txt` run in {} (stderr: {})",
        dir.path().display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn building_the_command_leaves_the_parent_untouched() {
    let dir = testkit::temp_dir("env-parent");
    let before_dir = std::env::current_dir().expect("current_dir");
    let before_env = parent_env();
    let plan = EnvPlan {
        clear: true,
        set: &[("PROCLINGS_ONLY_IN_THE_CHILD", "1")],
        remove: &["PATH"],
        dir: Some(dir.path()),
        ..EnvPlan::default()
    };
    let mut cmd = command("/bin/true", &plan);
    let status = cmd.status().expect("run /bin/true");
    assert!(status.success());
    assert_eq!(
        std::env::current_dir().expect("current_dir"),
        before_dir,
        "the parent's working directory changed: use Command::current_dir, not set_current_dir"
    );
    assert_eq!(
        parent_env(),
        before_env,
        "the parent's environment changed: use Command::env*, not std::env::set_var/remove_var"
    );
    assert!(Path::new(&before_dir).is_dir());
}
