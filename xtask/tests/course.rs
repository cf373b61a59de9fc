//! The runner on the course itself (this repository, not the fixture): its conventions hold, and
//! the diagnosis tree in docs/diagnosis.toml answers the questions the chapters send learners
//! to it with.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `xtask ARGS` on this repository.
fn xtask(args: &[&str]) -> (Output, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("PROCLINGS_ROOT", &root)
        .env("NO_COLOR", "1")
        .env("PROCLINGS_LANG", "en")
        .output()
        .expect("the xtask binary starts");
    let text = format!(
        "xtask {}: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[test]
fn the_repository_is_tidy() {
    let (output, text) = xtask(&["tidy"]);
    assert!(output.status.success(), "{text}");
}

#[test]
fn the_book_verb_refuses_what_it_does_not_know_without_building() {
    let (output, text) = xtask(&["book", "--lang", "fr"]);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("the languages are: en, zh-CN"), "{text}");
    let (output, text) = xtask(&["book", "--bogus"]);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("unknown option for `book`"), "{text}");
}

#[test]
fn errno_names_numbers_and_words_find_the_same_entry() {
    for query in [&["EPIPE"][..], &["epipe"], &["32"], &["broken", "pipe"]] {
        let (output, text) = xtask(&[&["explain"], query].concat());
        assert!(output.status.success(), "{text}");
        assert!(
            text.contains("broken-pipe: writing to a pipe or socket whose reader is gone"),
            "{text}"
        );
        assert!(
            text.contains("errno:    EPIPE (32, \"Broken pipe\")"),
            "{text}"
        );
        assert!(
            text.contains("read:     docs/src/03-pipes.md (and docs/src/diagnosis.md#broken-pipe)"),
            "{text}"
        );
        assert!(
            !text.contains('`'),
            "Markdown left in the terminal text:\n{text}"
        );
    }
    let (_, text) = xtask(&["explain", "13"]);
    assert!(text.contains("permission-denied:"), "{text}");
    let (output, text) = xtask(&["explain", "frobnicate"]);
    assert_eq!(output.status.code(), Some(2), "{text}");
}

#[test]
fn the_tree_lists_every_branch_and_entry_of_the_seed_tree() {
    let (output, text) = xtask(&["explain"]);
    assert!(output.status.success(), "{text}");
    for branch in [
        "spawning fails",
        "IPC fails",
        "zombies",
        "signals are not answered",
        "leaks",
    ] {
        assert!(
            text.contains(&format!("\n{branch}\n")),
            "no branch {branch}:\n{text}"
        );
    }
    for id in "not-found permission-denied resource-limits broken-pipe pipe-hang shm-race \
               socket-connect zombie sigchld signal-masked no-handler leftover-process fd-leak \
               shm-leak"
        .split_whitespace()
    {
        assert!(
            text.contains(&format!("\n  {id} ")),
            "no entry {id}:\n{text}"
        );
    }
}

#[test]
fn an_entry_whose_chapter_is_not_written_yet_points_at_the_diagnosis_chapter() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if root.join("docs/src/07-shared-memory.md").exists() {
        return; // the chapter exists now: the fallback has nothing to show
    }
    let (_, text) = xtask(&["explain", "shm-race"]);
    assert!(
        text.contains("read:     docs/src/diagnosis.md#shm-race"),
        "{text}"
    );
}

#[test]
fn eintr_leads_to_retrying_with_the_time_left() {
    for query in ["EINTR", "4", "interrupted system call"] {
        let (output, text) = xtask(&["explain", query]);
        assert!(output.status.success(), "{text}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let first = stdout.lines().next().unwrap_or("");
        assert!(
            first.starts_with("interrupted-call:"),
            "`explain {query}` must lead with the entry that fixes EINTR\n{text}"
        );
        assert!(text.contains("with the time that is left"), "{text}");
    }
}

#[test]
fn the_runner_alias_lets_cargo_show_its_progress() {
    // `cargo xtask` on a fresh clone builds the runner first: with `--quiet` that minute is silent.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = std::fs::read_to_string(root.join(".cargo/config.toml")).expect("the alias");
    let alias = config
        .lines()
        .find(|l| l.trim_start().starts_with("xtask ="))
        .expect("an xtask alias");
    assert!(
        alias.contains("run") && !alias.contains("--quiet") && !alias.contains(" -q"),
        "{alias}"
    );
}

#[test]
fn the_classroom_workflow_grades_every_topic_of_the_course() {
    let (output, text) = xtask(&["classroom", "--stdout"]);
    assert!(output.status.success(), "{text}");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let curriculum = std::fs::read_to_string(root.join("curriculum.toml")).unwrap();
    let topics = curriculum.matches("[[topic]]").count();
    let exercises = curriculum.matches("[[exercise]]").count();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.matches("autograding-command-grader@v1").count(),
        topics,
        "{stdout}"
    );
    let points: usize = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("max-score: "))
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert_eq!(points, exercises, "{stdout}");
}
