//! A hostile "code under test" for the sandbox's own tests: each mode is a mistake that would
//! reach outside an uncontained check. Never run it outside a PID namespace of its own.

use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "kill-all" => {
            // Every process this user may signal (all of them, as root): what `kill -9 -1` does.
            // SAFETY: kill(2) touches no memory of ours.
            let rc = unsafe { libc::kill(-1, libc::SIGKILL) };
            println!("kill(-1, SIGKILL) returned {rc}");
        }
        "killpg-runner" => {
            let pgid: i32 = std::env::var("HOSTILE_RUNNER_PGID")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // SAFETY: as above.
            let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
            println!("killpg({pgid}, SIGKILL) returned {rc}");
        }
        "kill-parent" => {
            let runner: i32 = std::env::var("HOSTILE_RUNNER_PID")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // SAFETY: as above.
            let (a, b) = unsafe {
                (
                    libc::kill(libc::getppid(), libc::SIGKILL),
                    libc::kill(runner, libc::SIGKILL),
                )
            };
            println!("kill(parent) returned {a}, kill(runner's pid {runner}) returned {b}");
        }
        "spawn-loop" => {
            let mut children = Vec::new();
            loop {
                if let Ok(child) = Command::new("sleep")
                    .arg("1000")
                    .stdin(Stdio::null())
                    .spawn()
                {
                    children.push(child);
                }
            }
        }
        "fork-loop" => loop {
            // SAFETY: the child only pauses (async-signal-safe) until it is killed.
            unsafe {
                if libc::fork() == 0 {
                    loop {
                        libc::pause();
                    }
                }
            }
        },
        "daemon-shm" => {
            // A daemon (double fork, setsid) that holds a shared-memory segment, and a parent
            // that returns at once.
            let name = format!("/proclings-hostile-{}", std::process::id());
            let status = Command::new("sh")
                .arg("-c")
                .arg("setsid sh -c 'exec 3>\"/dev/shm$1\"; echo held >&3; sleep 1000' daemon \"$0\" >/dev/null 2>&1 < /dev/null &")
                .arg(&name)
                .status();
            // Wait until the segment exists, so that it is there when the run ends.
            for _ in 0..2000 {
                if std::path::Path::new(&format!("/dev/shm{name}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            println!("daemon started ({status:?}), segment {name}");
        }
        other => {
            eprintln!("unknown mode `{other}`");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
