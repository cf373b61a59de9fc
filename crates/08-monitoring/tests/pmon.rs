//! End-to-end tests for `monitoring/pmon`, the practice project, run as a binary against a tree
//! of real misbehaving helpers: a sleeper, a spinner, a zombie, an fd leaker and a process that
//! touched 64 MiB, all children of one `monitoring-child tree` process.
//!
//! Its figures are compared with `ps -o ... -p PID` and with `/proc` read here. Sleeping
//! processes do not move, so their figures must be equal; RSS gets 1 MiB of tolerance (`ps` reads
//! a moment later). No timing: the flags that need several samples (fd growth, a CPU hog) are
//! awaited in pmon's own output with a deadline.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use predicates::prelude::*;
use serde_json::Value;
use testkit::monitoring::{Helper, clk_tck, cpu_ticks, fd_count, ps, ps_number, wait_for_state};
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, proc_cmdline, run_with_deadline};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");
const PMON: &str = env!("CARGO_BIN_EXE_pmon");

/// The helper tree, with the pid of each role.
struct Tree {
    root: Helper,
    pids: HashMap<String, i32>,
}

impl Tree {
    fn start() -> Tree {
        let root = Helper::start(CHILD, &["tree"]);
        let pids: HashMap<String, i32> = root
            .said
            .iter()
            .filter_map(|l| {
                let mut w = l.strip_prefix("child ")?.split(' ');
                Some((w.next()?.to_owned(), w.next()?.parse().ok()?))
            })
            .collect();
        assert_eq!(pids.len(), 5, "the tree says {:?}", root.said);
        wait_for_state(pids["zombie"], 'Z', DEFAULT_DEADLINE);
        wait_for_state(root.pid(), 'S', DEFAULT_DEADLINE);
        wait_for_state(pids["sleeper"], 'S', DEFAULT_DEADLINE);
        wait_for_state(pids["toucher"], 'S', DEFAULT_DEADLINE);
        Tree { root, pids }
    }

    fn pid(&self, role: &str) -> i32 {
        self.pids[role]
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        stop_parent(&mut self.root);
    }
}

/// Stops a helper that has children of its own: EOF on its stdin makes it kill and reap its
/// children itself, then exit; its guard then reaps it. (Were it killed first, its children
/// would die of PR_SET_PDEATHSIG but be reaped by whoever adopts them.)
fn stop_parent(helper: &mut Helper) {
    helper.close_stdin();
    let guard = &mut helper.guard;
    let _ = testkit::try_wait_until(DEFAULT_DEADLINE, "the helper to exit", || {
        matches!(guard.child().try_wait(), Ok(Some(_)))
    });
}

/// A helper with children of its own; stopped as [`stop_parent`] says, even when
/// the test fails.
struct Parent(Helper);

impl Drop for Parent {
    fn drop(&mut self) {
        stop_parent(&mut self.0);
    }
}

/// Runs pmon to completion with `args`; returns (exit code, stdout, stderr).
fn pmon(args: &[&str]) -> (Option<i32>, String, String) {
    let out = run_with_deadline(
        Command::new(PMON).args(args).stdin(Stdio::null()),
        DEFAULT_DEADLINE * 3,
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pmon --once --json ...`: the objects by pid.
fn once_json(args: &[&str]) -> HashMap<i64, Value> {
    let mut all = vec!["--once", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = pmon(&all);
    assert_eq!(code, Some(0), "pmon {all:?} failed; stderr:\n{err}");
    let value: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| {
        panic!("`pmon {all:?}` must print one JSON array: {e}; it printed:\n{out}")
    });
    let array = value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {out}"));
    array
        .iter()
        .map(|o| (o["pid"].as_i64().expect("pid is a number"), o.clone()))
        .collect()
}

fn flags(o: &Value) -> Vec<String> {
    o["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("flags must be a list: {o}"))
        .iter()
        .map(|f| f.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Starts pmon running (not `--once`) with its stdout piped.
fn pmon_running(args: &[&str]) -> (ChildGuard, LineReader) {
    let mut cmd = Command::new(PMON);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    let out = LineReader::new(guard.child().stdout.take().expect("piped"), "pmon");
    (guard, out)
}

/// Reads pmon's JSON lines until one has a process `pid` flagged `flag`; returns that object
/// and the whole sample.
fn await_flag(out: &mut LineReader, pid: i32, flag: &str) -> (Value, Value) {
    // One deadline for the whole wait: a pmon that prints samples without ever flagging would
    // otherwise keep this loop going for ever.
    let deadline = DEFAULT_DEADLINE * 3;
    let until = Instant::now() + deadline;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let seen = out.seen();
            panic!(
                "pmon did not flag {pid} `{flag}` within {deadline:?}; its last samples:\n{}",
                seen[seen.len().saturating_sub(3)..].join("\n")
            );
        }
        let line = out.next_line(left).unwrap_or_else(|| {
            panic!(
                "pmon ended before flagging {pid} `{flag}`; it said:\n{:?}",
                out.seen()
            )
        });
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("each sample is one JSON array per line: {e}: {line}"));
        let hit = value.as_array().and_then(|a| {
            a.iter()
                .find(|o| o["pid"].as_i64() == Some(i64::from(pid)))
                .filter(|o| flags(o).iter().any(|f| f == flag))
                .cloned()
        });
        if let Some(o) = hit {
            return (o, value);
        }
    }
}

#[test]
fn once_json_lists_the_whole_tree_and_agrees_with_ps() {
    let tree = Tree::start();
    let root = tree.root.pid();
    let got = once_json(&["--interval", "300", "--rss-limit", "32", &root.to_string()]);
    let mut want: Vec<i64> = tree.pids.values().map(|&p| i64::from(p)).collect();
    want.push(i64::from(root));
    want.sort_unstable();
    let mut pids: Vec<i64> = got.keys().copied().collect();
    pids.sort_unstable();
    assert_eq!(pids, want, "the root and its five children, nothing else");
    for (&pid, o) in &got {
        let pid = pid as i32;
        for key in ["ppid", "rss_kib", "fds", "threads"] {
            assert!(o[key].is_u64(), "{key} must be a whole number in {o}");
        }
        assert!(o["cpu_percent"].is_number(), "cpu_percent in {o}");
        let ps_says = ps(pid, &["ppid", "stat", "nlwp"]);
        assert_eq!(
            o["ppid"].as_i64().map(|p| p.to_string()),
            Some(ps_says[0].clone()),
            "ppid of {pid}: {o}"
        );
        assert_eq!(
            o["threads"].as_u64().map(|t| t.to_string()),
            Some(ps_says[2].clone()),
            "threads of {pid} vs ps nlwp: {o}"
        );
        let rss = o["rss_kib"].as_u64().unwrap_or(0);
        assert!(
            rss.abs_diff(ps_number(pid, "rss")) <= 1024,
            "rss_kib of {pid} is {rss}, ps says {}: {o}",
            ps_number(pid, "rss")
        );
        if pid != tree.pid("leaker") && pid != tree.pid("spinner") {
            // These do not move: their state and fds must be exactly the kernel's.
            assert_eq!(
                o["state"].as_str().map(str::to_owned),
                ps_says[1].get(..1).map(str::to_owned),
                "state of {pid}: the /proc letter, as ps shows it: {o}"
            );
            assert_eq!(
                o["fds"].as_u64(),
                Some(fd_count(pid) as u64),
                "fds of {pid}: {o}"
            );
        }
        let cmdline = proc_cmdline(pid as u32);
        let want_cmd = if cmdline.is_empty() {
            "[monitoring-chil]".to_owned()
        } else {
            cmdline
        };
        assert_eq!(o["cmd"].as_str(), Some(want_cmd.as_str()), "cmd of {pid}");
    }
    let by_role = |role: &str| &got[&i64::from(tree.pid(role))];
    assert_eq!(by_role("spinner")["state"], "R", "{}", by_role("spinner"));
    assert_eq!(
        flags(by_role("zombie")),
        ["zombie"],
        "{}",
        by_role("zombie")
    );
    assert!(
        by_role("zombie")["evidence"][0]
            .as_str()
            .is_some_and(|e| e.contains(&root.to_string())),
        "the evidence names the parent that has not reaped it: {}",
        by_role("zombie")
    );
    assert_eq!(
        flags(by_role("toucher")),
        ["rss-limit"],
        "64 MiB resident is over --rss-limit 32: {}",
        by_role("toucher")
    );
    assert_eq!(flags(by_role("sleeper")), Vec::<String>::new());
    assert_eq!(flags(&got[&i64::from(root)]), Vec::<String>::new());
    assert_eq!(
        by_role("sleeper")["cpu_percent"].as_f64(),
        Some(0.0),
        "a sleeper uses no CPU"
    );
    assert!(
        by_role("spinner")["cpu_percent"].as_f64().unwrap_or(0.0) > 0.0,
        "the spinner uses CPU: {}",
        by_role("spinner")
    );
    let evidence = by_role("toucher")["evidence"].as_array().cloned();
    assert!(
        evidence
            .as_ref()
            .is_some_and(|e| e.len() == 1 && e[0].as_str().is_some_and(|s| s.contains("KiB"))),
        "each flag comes with its evidence (the RSS and the limit): {}",
        by_role("toucher")
    );
}

#[test]
fn a_spinner_is_flagged_as_a_cpu_hog_with_evidence() {
    let tree = Tree::start();
    // A long interval: a wait for a CPU still in progress at a sample is not counted yet.
    let got = once_json(&["--interval", "1000", &tree.pid("spinner").to_string()]);
    let spinner = &got[&i64::from(tree.pid("spinner"))];
    assert_eq!(
        flags(spinner),
        ["cpu-hog"],
        "a process that never sleeps is a CPU hog, however busy the machine is: {spinner}"
    );
    let cpu = spinner["cpu_percent"].as_f64().unwrap_or(0.0);
    assert!(
        cpu > 0.0 && cpu <= 200.0,
        "one thread uses at most one core (200 allows for a sample skewed by a busy machine): \
         {spinner}"
    );
    let ev = spinner["evidence"][0].as_str().unwrap_or_default();
    // "runnable N% of the last 1000 ms, C% of a core": N is at least the 75% that makes a hog.
    assert!(
        runnable_share(ev).is_some_and(|n| (75.0..=100.0).contains(&n)) && ev.contains("1000 ms"),
        "the evidence gives the share of the 1000 ms interval the spinner was runnable: {ev:?}"
    );
    let sleeper = once_json(&["--interval", "300", &tree.pid("sleeper").to_string()]);
    assert_eq!(
        flags(&sleeper[&i64::from(tree.pid("sleeper"))]),
        Vec::<String>::new()
    );
}

/// The runnable share a `cpu-hog` evidence gives: "runnable N% of the last I ms, ...".
fn runnable_share(evidence: &str) -> Option<f64> {
    evidence
        .split_whitespace()
        .find_map(|w| w.strip_suffix('%')?.parse::<f64>().ok())
}

#[test]
fn threads_waiting_for_their_one_cpu_are_a_hog_and_use_one_core() {
    // Two threads pinned to one CPU: the main thread (the one schedstat describes) is on that CPU
    // about half the time and waiting for it the other half. Runnable is both: a hog.
    let h = Helper::start(CHILD, &["spin-pinned", "2"]);
    let pid = h.pid();
    let hz = clk_tck() as f64;
    // The kernel's own counters around the whole run of pmon: the reference for its CPU %.
    let (t0, k0) = (Instant::now(), cpu_ticks(pid));
    let got = once_json(&["--interval", "500", &pid.to_string()]);
    let (t1, k1) = (Instant::now(), cpu_ticks(pid));
    let o = &got[&i64::from(pid)];
    assert_eq!(
        flags(o),
        ["cpu-hog"],
        "on its CPU or waiting for it all the time: a hog, though it gets half a core per thread: \
         {o}"
    );
    let ev = o["evidence"][0].as_str().unwrap_or_default();
    assert!(
        runnable_share(ev).is_some_and(|n| (75.0..=100.0).contains(&n)) && ev.contains("500 ms"),
        "the evidence gives the share of the 500 ms interval it was runnable, time waiting for \
         the CPU included: {ev:?}"
    );
    let cpu = o["cpu_percent"].as_f64().unwrap_or(-1.0);
    let reference = 100.0 * (k1 - k0) as f64 / hz / (t1 - t0).as_secs_f64();
    assert!(
        (cpu - reference).abs() <= 30.0,
        "CPU % over 500 ms: pmon says {cpu:.1}, the kernel's counters around pmon's run say \
         {reference:.1} (two threads on one CPU use one core at most): {o}"
    );
}

#[test]
fn a_process_that_works_a_little_is_not_a_hog() {
    // 5 ms of work in every 50: its CPU time moves at (nearly) every sample, but it sleeps most of
    // the time. Three samples in a row that saw it use CPU mean two runnable shares computed.
    let h = Helper::start(CHILD, &["duty", "5", "50"]);
    let pid = h.pid();
    let (_pmon, mut out) = pmon_running(&["--json", "--interval", "300", &pid.to_string()]);
    let mut moving = 0;
    for _ in 0..30 {
        let line = out
            .next_line(DEFAULT_DEADLINE)
            .unwrap_or_else(|| panic!("pmon stopped; it said:\n{:?}", out.seen()));
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let o = &v[0];
        assert_eq!(o["pid"], pid, "the root comes first: {line}");
        assert!(
            flags(o).is_empty(),
            "at work 10% of the time is no hog and no other flag: {o}"
        );
        let cpu = o["cpu_percent"].as_f64().unwrap_or(-1.0);
        assert!(
            (0.0..50.0).contains(&cpu),
            "it runs at most 5 ms of each 50 (10% of a core); pmon says {cpu}: {o}"
        );
        moving = if cpu > 0.0 { moving + 1 } else { 0 };
        if moving == 3 {
            return;
        }
    }
    panic!(
        "the helper's CPU time never moved three samples in a row: {:?}",
        out.seen()
    );
}

#[test]
fn a_growing_fd_count_is_flagged() {
    let tree = Tree::start();
    let leaker = tree.pid("leaker");
    let root = tree.root.pid().to_string();
    let (_pmon, mut out) = pmon_running(&["--json", "--interval", "100", &root]);
    let (o, sample) = await_flag(&mut out, leaker, "fd-growth");
    // In the same sample (at least four in), nothing else grew: nothing else is flagged.
    for other in sample.as_array().into_iter().flatten() {
        if other["pid"] != leaker {
            assert!(
                !flags(other).iter().any(|f| f == "fd-growth"),
                "a steady fd count is not growth: {other}"
            );
        }
    }
    let ev = o["evidence"][0].as_str().unwrap_or_default();
    // "fds 5 -> 6 -> 7 -> 8 over the last 3 intervals"
    let counts: Vec<u64> = ev
        .split(" over ")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        ev.matches("->").count() == 3
            && counts.len() == 4
            && counts.windows(2).all(|w| w[0] < w[1])
            && counts[3] == o["fds"].as_u64().unwrap_or(0),
        "the evidence shows the four growing counts, the last one this sample's: {ev:?} in {o}"
    );
    // A steady fd count is never flagged: the sleeper holds its fds for ever.
    let got = once_json(&["--interval", "100", &tree.pid("sleeper").to_string()]);
    assert!(flags(&got[&i64::from(tree.pid("sleeper"))]).is_empty());
}

#[test]
fn the_text_output_appends_one_line_per_process_when_not_a_terminal() {
    let tree = Tree::start();
    let root = tree.root.pid();
    let (_pmon, mut out) = pmon_running(&["--interval", "100", &root.to_string()]);
    for sample in 1..=2 {
        let header = out.expect("pmon: sample", DEFAULT_DEADLINE);
        assert_eq!(
            header,
            format!("pmon: sample {sample}, 6 process(es) under {root}"),
            "each sample starts with its header line"
        );
        let columns = out.next_line(DEFAULT_DEADLINE).unwrap_or_default();
        assert!(
            columns.contains("PID") && columns.contains("CMD"),
            "{columns}"
        );
        let mut seen = Vec::new();
        for _ in 0..6 {
            let line = out.next_line(DEFAULT_DEADLINE).unwrap_or_default();
            assert!(
                !line.contains('\x1b'),
                "no escape codes when not a terminal"
            );
            let words: Vec<&str> = line.split_whitespace().collect();
            assert!(
                words.len() >= 8,
                "PID PPID S CPU% RSS FDS THR CMD: {line:?}"
            );
            seen.push(words[0].parse::<i32>().unwrap_or(0));
            if words[0] == tree.pid("zombie").to_string() {
                assert_eq!(words[2], "Z");
                assert!(line.contains("[zombie: "), "{line}");
            }
        }
        assert_eq!(seen[0], root, "the root comes first");
        for pid in tree.pids.values() {
            assert!(seen.contains(pid), "pid {pid} missing from {seen:?}");
        }
    }
}

#[test]
fn a_terminal_gets_a_clean_redraw() {
    let tree = Tree::start();
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let mut cmd = Command::new(PMON);
    cmd.args(["--interval", "100", &tree.root.pid().to_string()])
        .stdin(Stdio::null())
        .stdout(slave);
    let _pmon = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let mut screen = LineReader::new(std::fs::File::from(pty.master), "pmon on a terminal");
    let first = screen.expect("pmon: sample 1", DEFAULT_DEADLINE);
    let second = screen.expect("pmon: sample 2", DEFAULT_DEADLINE);
    for line in [first, second] {
        assert!(
            line.starts_with("\x1b[H\x1b[2J"),
            "on a terminal each sample starts by homing the cursor and clearing the screen \
             (ESC[H ESC[2J): {line:?}"
        );
    }
}

/// The `pmon` binary, as assert_cmd runs it, with a deadline.
fn pmon_cmd() -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("pmon");
    cmd.timeout(DEFAULT_DEADLINE * 3);
    cmd
}

/// One line of text, ending with a newline.
fn one_line() -> impl Predicate<str> {
    predicate::str::is_match(r"\A[^\n]+\n\z").expect("a valid regex")
}

/// `pmon: ERROR` then the usage line, and no panic.
fn error_and_usage() -> impl Predicate<str> {
    predicate::str::is_match(r"\Apmon: [^\n]+\nusage: pmon [^\n]+\n\z").expect("a valid regex")
}

#[test]
fn a_missing_pid_is_a_one_line_error() {
    let mut gone = ChildGuard::spawn(Command::new(CHILD).args(["exit", "0"]));
    let pid = gone.id();
    gone.wait(DEFAULT_DEADLINE);
    pmon_cmd()
        .args(["--once", &pid.to_string()])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::eq(format!("pmon: no process with pid {pid}\n")));
}

#[test]
fn bad_arguments_are_refused_with_the_usage() {
    for args in [
        &[][..],
        &["--interval", "soon", "1"],
        &["--interval", "0", "1"],
        &["--interval"],
        &["--rss-limit"],
        &["--rss-limit", "-5", "1"],
        &["--bogus", "1"],
        &["1", "2"],
        &["pid"],
        &["0"],
        &["-1"],
    ] {
        pmon_cmd()
            .args(args)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(error_and_usage());
    }
    // An option pmon does not know is named as such, not taken for a pid.
    let out = pmon_cmd()
        .args(["--bogus", "1"])
        .output()
        .expect("run pmon");
    let first = String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        first.contains("option") && first.contains("--bogus"),
        "`pmon --bogus 1` should say that --bogus is an option it does not know; its first line \
         was {first:?}"
    );
}

#[test]
fn a_huge_rss_limit_is_a_usage_error() {
    // MiB to KiB multiplies by 1024: these do not fit in 64 bits.
    for limit in ["18446744073709551615", "18014398509481984"] {
        pmon_cmd()
            .args(["--rss-limit", limit, "--once", "1"])
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(error_and_usage().and(predicate::str::contains("--rss-limit")));
    }
}

#[test]
fn once_json_is_one_line_on_stdout_and_nothing_on_stderr() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    let pid = h.pid();
    pmon_cmd()
        .args(["--once", "--json", "--interval", "100", &pid.to_string()])
        .assert()
        .success()
        .stderr(predicate::str::is_empty())
        .stdout(
            one_line()
                .and(predicate::str::starts_with("[{\"cmd\":"))
                .and(predicate::str::contains(format!("\"pid\":{pid},"))),
        );
    pmon_cmd()
        .args(["--once", "--interval", "100", &pid.to_string()])
        .assert()
        .success()
        .stderr(predicate::str::is_empty())
        .stdout(predicate::str::starts_with(format!(
            "pmon: sample 1, 1 process(es) under {pid}\n"
        )));
}

#[test]
fn processes_that_come_and_go_are_normal() {
    let churn = Helper::start(CHILD, &["churn"]);
    let (mut pmon, mut out) =
        pmon_running(&["--json", "--interval", "5", &churn.pid().to_string()]);
    // Children exit (and are reaped) between the read of their parent's children and their
    // own reads many times in 200 samples.
    for _ in 0..200 {
        let line = out.next_line(DEFAULT_DEADLINE).unwrap_or_else(|| {
            panic!(
                "pmon stopped while children came and went: {:?}",
                out.seen()
            )
        });
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let a = v.as_array().expect("an array");
        assert_eq!(
            a.first().and_then(|o| o["pid"].as_i64()),
            Some(i64::from(churn.pid())),
            "the root is always there: {line}"
        );
    }
    assert!(
        pmon.child().try_wait().expect("try_wait").is_none(),
        "pmon must keep running while children appear and vanish"
    );
}

#[test]
fn pmon_ends_when_its_root_is_gone() {
    let mut root = Helper::asleep(CHILD, &["sleep"]);
    let mut cmd = Command::new(PMON);
    cmd.args(["--json", "--interval", "50", &root.pid().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut pmon = ChildGuard::spawn(&mut cmd);
    let mut err = LineReader::new(pmon.child().stderr.take().expect("piped"), "pmon's stderr");
    let mut out = LineReader::new(pmon.child().stdout.take().expect("piped"), "pmon");
    // pmon is watching once it printed a sample; only then does the root go away.
    out.next_line(DEFAULT_DEADLINE);
    root.close_stdin();
    root.guard.wait(DEFAULT_DEADLINE);
    let line = err.expect("exited", DEFAULT_DEADLINE);
    assert_eq!(line, format!("pmon: pid {} exited", root.pid()));
    let status = pmon.wait(DEFAULT_DEADLINE);
    assert_eq!(
        status.code(),
        Some(0),
        "the root going away is a normal end"
    );
}

#[test]
fn a_child_started_by_a_second_thread_is_in_the_tree() {
    // The kernel lists a child under the thread that started it
    // (/proc/PID/task/TID/children), not only under the main thread.
    let parent = Parent(Helper::start(CHILD, &["thread-child"]));
    let parent = &parent.0;
    let child: i32 = parent
        .said
        .iter()
        .find_map(|l| l.strip_prefix("child ")?.parse().ok())
        .unwrap_or_else(|| panic!("the helper says `child PID`: {:?}", parent.said));
    wait_for_state(child, 'S', DEFAULT_DEADLINE);
    let got = once_json(&["--interval", "100", &parent.pid().to_string()]);
    let mut pids: Vec<i64> = got.keys().copied().collect();
    pids.sort_unstable();
    let mut want = vec![i64::from(parent.pid()), i64::from(child)];
    want.sort_unstable();
    assert_eq!(
        pids, want,
        "the helper and the child its second thread started"
    );
    assert_eq!(got[&i64::from(child)]["ppid"], i64::from(parent.pid()));
    assert_eq!(got[&i64::from(parent.pid())]["threads"], 2);
}

#[test]
fn a_long_command_line_is_shown_whole() {
    // /proc/PID/cmdline is generated a page at a time: 10000 bytes of arguments take three reads.
    let long = "x".repeat(10_000);
    let h = Helper::asleep(CHILD, &["sleep", &long]);
    let got = once_json(&["--interval", "100", &h.pid().to_string()]);
    let cmd = got[&i64::from(h.pid())]["cmd"].as_str().unwrap_or_default();
    assert!(
        cmd == format!("{CHILD} sleep {long}"),
        "the whole command line, every read of it: {} bytes shown of {}",
        cmd.len(),
        CHILD.len() + 7 + long.len()
    );
}

#[test]
fn more_processes_than_a_low_fd_limit_allows_are_all_watched() {
    // pmon keeps a few /proc files open per process: 30 sleepers need ~100 fds, more than a
    // soft limit of 48 allows. pmon raises its soft limit to the hard one; it must show them all.
    let parent = Parent(Helper::start(CHILD, &["sleepers", "30"]));
    let root = parent.0.pid();
    let out = run_with_deadline(
        Command::new("sh")
            .args(["-c", "ulimit -Sn 48 && exec \"$0\" \"$@\""])
            .args([
                PMON,
                "--once",
                "--json",
                "--interval",
                "100",
                &root.to_string(),
            ])
            .stdin(Stdio::null()),
        DEFAULT_DEADLINE * 3,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let rows = value.as_array().map(Vec::len);
    assert_eq!(rows, Some(31), "the helper and its 30 sleepers: {text}");
}

#[test]
fn a_process_that_dies_while_watched_becomes_a_flagged_zombie() {
    let tree = Tree::start();
    let sleeper = tree.pid("sleeper");
    let root = tree.root.pid().to_string();
    let (_pmon, mut out) = pmon_running(&["--json", "--interval", "100", &root]);
    // pmon has seen the sleeper alive (with its command line) before it dies.
    out.expect(&format!("\"pid\":{sleeper}"), DEFAULT_DEADLINE);
    kill(Pid::from_raw(sleeper), Signal::SIGKILL).expect("kill the sleeper");
    // The tree does not reap it until the end: it stays a zombie meanwhile.
    let (o, _) = await_flag(&mut out, sleeper, "zombie");
    assert_eq!(o["state"], "Z", "{o}");
    assert_eq!(
        o["cmd"], "[monitoring-chil]",
        "a zombie's command line is gone: [comm] from then on: {o}"
    );
}

#[test]
fn worker_threads_that_spin_make_a_hog() {
    // The main thread sleeps; two other threads never do. /proc/PID/schedstat describes the main
    // thread alone: the process's runnable time is the sum over its threads
    // (/proc/PID/task/TID/schedstat).
    let h = Helper::start(CHILD, &["spin-workers", "2"]);
    let pid = h.pid();
    let got = once_json(&["--interval", "500", &pid.to_string()]);
    let o = &got[&i64::from(pid)];
    assert_eq!(
        flags(o),
        ["cpu-hog"],
        "two worker threads spin while the main thread sleeps: a hog all the same (schedstat of \
         the main thread alone says it sleeps; add up every thread's): {o}"
    );
    assert_eq!(o["threads"], 3, "{o}");
}

/// Runs pmon with its soft and hard limits on open files at `limit`: (exit code, stdout, stderr).
fn pmon_with_fd_limit(limit: u32, args: &[&str]) -> (Option<i32>, String, String) {
    // Only stdio below the limit: a descriptor inherited from the test runner (a jobserver's
    // pipe) would take one of the few places, and the dynamic loader then fails first.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\"")])
        .arg(PMON)
        .args(args)
        .stdin(Stdio::null());
    let out = run_with_deadline(
        testkit::close_on_exec_from(&mut cmd, 3),
        DEFAULT_DEADLINE * 3,
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn running_out_of_fds_is_an_error_not_a_smaller_tree() {
    // 41 processes need about 120 kept files; a hard limit of 32 cannot be raised. The opens
    // fail with EMFILE, which says nothing about the processes: they are all alive.
    let parent = Parent(Helper::start(CHILD, &["sleepers", "40"]));
    let root = parent.0.pid().to_string();
    let (code, out, err) =
        pmon_with_fd_limit(32, &["--once", "--json", "--interval", "100", &root]);
    let shown = serde_json::from_str::<Value>(out.trim())
        .ok()
        .and_then(|v| v.as_array().map(Vec::len));
    assert!(
        code != Some(0) && shown.is_none(),
        "with 32 fds allowed pmon cannot watch 41 processes: it must say so and fail, not show \
         {shown:?} of them and exit {code:?} (an open that fails with EMFILE is no process \
         gone); stderr:\n{err}"
    );
    assert!(
        err.starts_with("pmon: ")
            && err.lines().count() == 1
            && err.contains("Too many open files")
            && !err.contains("panicked"),
        "one line on stderr that names the cause (EMFILE: Too many open files); got:\n{err}"
    );
    // Five fds: not even the root's files open. It exists all the same.
    let (code, _, err) = pmon_with_fd_limit(5, &["--once", "--interval", "100", &root]);
    assert!(
        code == Some(1) && !err.contains("no process") && err.contains("Too many open files"),
        "pid {root} is alive: running out of fds is not `no process`; got exit {code:?}, \
         stderr:\n{err}"
    );
}
