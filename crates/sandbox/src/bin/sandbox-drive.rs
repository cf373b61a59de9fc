//! Runs one hostile mode through the sandbox, as the runner would, with a sentinel process
//! beside the sandbox, and prints what happened (for the sandbox's own tests).

use std::process::{Command, ExitCode};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(hostile), Some(mode)) = (args.first(), args.get(1)) else {
        eprintln!("usage: sandbox-drive HOSTILE MODE [LIMIT_SECS] [TASKS]");
        return ExitCode::from(2);
    };
    let limit = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let tasks = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(sandbox::contain::DEFAULT_TASKS);
    sandbox::init();
    for p in sandbox::contain::protections() {
        println!(
            "protection {}: {} ({})",
            p.name,
            if p.on { "on" } else { "off" },
            p.how
        );
    }
    // The sentinel: a process of ours outside the sandbox, which nothing in it may reach.
    let mut sentinel = Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("the sentinel starts");
    // SAFETY: getpgrp has no preconditions and cannot fail.
    let pgid = unsafe { libc::getpgrp() };
    let mut cmd = Command::new(hostile);
    cmd.arg(mode)
        .env("HOSTILE_RUNNER_PID", std::process::id().to_string())
        .env("HOSTILE_RUNNER_PGID", pgid.to_string());
    let outcome = match sandbox::run_capped(cmd, Duration::from_secs(limit), false, tasks) {
        Ok(outcome) => outcome,
        Err(e) => {
            println!("error: {e:#}");
            let _ = sentinel.kill();
            let _ = sentinel.wait();
            return ExitCode::FAILURE;
        }
    };
    let alive = matches!(sentinel.try_wait(), Ok(None));
    println!("sentinel {}", if alive { "alive" } else { "DEAD" });
    println!("contained {}", outcome.contained);
    println!("status {}", outcome.status);
    println!("timed out {}", outcome.timed_out);
    println!(
        "task cap {:?} hit {}",
        outcome.task_cap, outcome.hit_task_cap
    );
    println!("running at limit {}", outcome.running_at_limit.len());
    for line in outcome.leaks.lines() {
        println!("leak {line}");
    }
    for line in outcome.output.lines() {
        println!("output {line}");
    }
    let _ = sentinel.kill();
    let _ = sentinel.wait();
    // Nothing of the run may be left: no descendant but the (now reaped) sentinel.
    let left = sandbox::kill_descendants();
    println!("left after the run {}", left.len());
    ExitCode::SUCCESS
}
