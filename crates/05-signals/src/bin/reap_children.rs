//! Driver for the `reap_children` exercise, run by its tests as a child process.
//!
//! Usage: `reap_children N`. Prints `no children: reaped K` (a reap with no child at all), starts
//! N children that all block reading one pipe, prints `spawned PID...` and `while running:
//! reaped K`, then calls `reap_all` and, once it sleeps waiting for a SIGCHLD, closes the pipe so
//! that every child exits at the same moment; prints `reaped PID:CODE...` and `done`. It then waits for EOF on stdin, so the test
//! can look at its children in /proc while it is still alive, and exits 0.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};

use nix::sys::wait::WaitStatus;
use signal_hook::consts::SIGCHLD;
use signal_hook::iterator::Signals;
use signals::reap_children::{reap_all, reap_ready};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reap_children: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "40".into())
        .parse()?;
    let mut out = std::io::stdout();
    writeln!(out, "no children: reaped {}", reap_ready()?.len())?;
    out.flush()?;

    // Registered before the first child starts, so no SIGCHLD can come before we listen.
    let mut sigchld = Signals::new([SIGCHLD])?;
    let (gate_r, gate_w) = std::io::pipe()?;
    let mut pids = Vec::new();
    for i in 0..n {
        // Each child blocks in `read` until the gate's write end closes, then exits with i % 7.
        let child = Command::new("/bin/sh")
            .args(["-c", "read _; exit $0", &(i % 7).to_string()])
            .stdin(gate_r.try_clone()?)
            .stdout(Stdio::null())
            .spawn()?;
        // Dropping a `Child` neither waits nor kills: the reaping is `reap_all`'s job.
        pids.push(child.id());
    }
    drop(gate_r);
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    writeln!(out, "spawned {}", list.join(" "))?;
    writeln!(out, "while running: reaped {}", reap_ready()?.len())?;
    out.flush()?;

    // Every child sees EOF at once: a burst of exits, a few coalesced SIGCHLDs. The gate
    // closes only once this thread sleeps, that is inside reap_all, waiting for a SIGCHLD:
    // reap_all must wait for children that are still running when it is called.
    let me = nix::unistd::gettid();
    let opener = std::thread::spawn(move || {
        let stat = format!("/proc/self/task/{me}/stat");
        while !std::fs::read_to_string(&stat).is_ok_and(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next())
                == Some("S")
        }) {
            std::thread::yield_now();
        }
        drop(gate_w);
    });
    let all = reap_all(&mut sigchld, n);
    let _ = opener.join();
    let mut reaped: Vec<String> = all?
        .into_iter()
        .map(|(pid, status)| match status {
            WaitStatus::Exited(_, code) => format!("{pid}:{code}"),
            other => format!("{pid}:{other:?}"),
        })
        .collect();
    reaped.sort();
    writeln!(out, "reaped {}", reaped.join(" "))?;
    writeln!(out, "done")?;
    out.flush()?;

    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    Ok(())
}
