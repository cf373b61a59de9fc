//! A narrated tour of a pre-forked pool: workers started once and reused, a task id on every
//! message, a worker SIGKILLed mid-task noticed by EOF and its task run again elsewhere, and
//! what reusing workers saves against a process per task.
//!
//! Run it with `cargo run -p process-pool`. It is independent of the exercises: its workers are
//! this same program re-executed with `--worker`, speaking one text line per message
//! (`ID TASK` in, `ID RESULT` out) instead of the exercises' binary frames.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

enum Event {
    Line(u32, String),
    Eof(u32),
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--worker") => worker(),
        Some("--once") => {
            // One task per process: what a pool saves us from.
            println!("1 {}", args.get(1).map_or("", String::as_str));
            ExitCode::SUCCESS
        }
        _ => match demo() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("process-pool-demo: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The worker: answers `ID echo TEXT` with `ID TEXT`, and `ID sleep MS` with `ID started` at
/// once and `ID slept` when done, until its stdin ends.
fn worker() -> ExitCode {
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut parts = line.splitn(3, ' ');
        let (id, verb, arg) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let mut out = stdout.lock();
        let answer = if verb == "sleep" {
            let _ = writeln!(out, "{id} started");
            let _ = out.flush();
            thread::sleep(Duration::from_millis(arg.parse().unwrap_or(0)));
            "slept".to_string()
        } else {
            arg.to_string()
        };
        // Flushed at once: the pool is waiting for this line.
        if writeln!(out, "{id} {answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn spawn(slot: u32, events: &Sender<Event>) -> std::io::Result<Worker> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or(std::io::Error::other("no stdin"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or(std::io::Error::other("no stdout"))?;
    let events = events.clone();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if events.send(Event::Line(slot, line)).is_err() {
                return;
            }
        }
        // The kernel closed the worker's end of the pipe: it exited or was killed.
        let _ = events.send(Event::Eof(slot));
    });
    Ok(Worker { child, stdin })
}

fn next(events: &Receiver<Event>) -> std::io::Result<Event> {
    events
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| std::io::Error::other("no answer from the workers within 30 s"))
}

fn demo() -> std::io::Result<()> {
    let (tx, rx) = mpsc::channel();
    println!("== pre-forking: two workers, started once, reused for every task");
    let mut workers: HashMap<u32, Worker> = HashMap::new();
    for slot in 0..2 {
        let w = spawn(slot, &tx)?;
        println!("worker {slot}: pid {}", w.child.id());
        workers.insert(slot, w);
    }

    println!("\n== six tasks, each with an id; the answer carries the id back");
    for id in 1..=6u32 {
        let slot = id % 2;
        if let Some(w) = workers.get_mut(&slot) {
            writeln!(w.stdin, "{id} echo task-{id}")?;
        }
    }
    let mut answered = 0;
    while answered < 6 {
        if let Event::Line(slot, line) = next(&rx)? {
            let pid = workers.get(&slot).map_or(0, |w| w.child.id());
            println!("answer {line:<12} from worker {slot} (pid {pid})");
            answered += 1;
        }
    }

    println!("\n== a worker SIGKILLed in the middle of task 7");
    if let Some(w) = workers.get_mut(&0) {
        writeln!(w.stdin, "7 sleep 300")?;
    }
    loop {
        if let Event::Line(0, line) = next(&rx)?
            && line == "7 started"
        {
            break;
        }
    }
    let victim = workers
        .remove(&0)
        .ok_or(std::io::Error::other("worker 0 is gone"))?;
    let victim_pid = victim.child.id();
    let mut victim = victim;
    victim.child.kill()?;
    println!("sent SIGKILL to pid {victim_pid} while it ran task 7");
    loop {
        if let Event::Eof(0) = next(&rx)? {
            break;
        }
    }
    let status = victim.child.wait()?;
    println!("EOF on worker 0's stdout: it is gone ({status}); reaped, no zombie");
    let fresh = spawn(2, &tx)?;
    println!("replacement worker 2: pid {}", fresh.child.id());
    workers.insert(2, fresh);
    if let Some(w) = workers.get_mut(&2) {
        writeln!(w.stdin, "7 sleep 300")?;
    }
    loop {
        if let Event::Line(2, line) = next(&rx)?
            && line == "7 slept"
        {
            println!("task 7 ran again on worker 2 and answered once: {line:?}");
            break;
        }
    }

    println!("\n== 200 trivial tasks: pool against a process per task");
    let n = 200u32;
    let start = Instant::now();
    for id in 100..100 + n {
        if let Some(w) = workers.get_mut(&1) {
            writeln!(w.stdin, "{id} echo x")?;
        }
    }
    let mut got = 0;
    while got < n {
        if let Event::Line(_, _) = next(&rx)? {
            got += 1;
        }
    }
    let pooled = start.elapsed();
    let start = Instant::now();
    for _ in 0..n {
        let out = Command::new(std::env::current_exe()?)
            .args(["--once", "x"])
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other("a one-shot process failed"));
        }
    }
    let spawned = start.elapsed();
    let rate = |d: Duration| f64::from(n) / d.as_secs_f64().max(1e-9);
    println!(
        "pool: {:.0} tasks/s, process per task: {:.0} tasks/s: the pool is {:.0}x faster",
        rate(pooled),
        rate(spawned),
        spawned.as_secs_f64() / pooled.as_secs_f64().max(1e-9)
    );

    println!("\n== closing every worker's stdin: each sees EOF and exits");
    let mut slots: Vec<u32> = workers.keys().copied().collect();
    slots.sort_unstable();
    for slot in slots {
        if let Some(mut w) = workers.remove(&slot) {
            drop(w.stdin);
            let status = w.child.wait()?;
            println!("worker {slot} (pid {}): {status}", w.child.id());
        }
    }
    println!("done: every worker reaped, nothing left running");
    Ok(())
}
