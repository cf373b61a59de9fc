//! A narrated tour of signals: handlers, masks and pending signals, coalescing, a child killed
//! by a signal, reaping on SIGCHLD, and SIGPIPE. It signals only itself and its own children,
//! exits by itself and leaves nothing behind.
//!
//! Run it with `cargo run -p signals`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use signal_hook::low_level::raise;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> Res {
    println!("demo: pid {}", std::process::id());
    handler()?;
    mask_and_coalescing()?;
    killed_child()?;
    sigchld_reaping()?;
    sigpipe()?;
    println!("done: every child was reaped, nothing is left running");
    Ok(())
}

/// A line of /proc/self/status, e.g. `SigPnd` (pending for this thread) or `SigBlk` (blocked).
fn status_field(name: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "?".into())
}

fn handler() -> Res {
    println!("\n== 1. a handler sets a flag ==");
    let got = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(SIGUSR1, Arc::clone(&got))?;
    println!("installed a SIGUSR1 handler (it only stores `true` in an AtomicBool)");
    raise(SIGUSR1)?;
    // raise() delivers to the calling thread before it returns: the handler already ran.
    println!(
        "raised SIGUSR1 at ourselves; flag is now {} (without the handler, SIGUSR1 would have killed us)",
        got.load(Ordering::SeqCst)
    );
    Ok(())
}

fn mask_and_coalescing() -> Res {
    println!("\n== 2. a blocked signal waits as pending; three of them become one ==");
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    // SAFETY: the action only increments an atomic, which is async-signal-safe: no lock, no
    // allocation, nothing the interrupted code could be in the middle of.
    unsafe {
        signal_hook::low_level::register(SIGUSR2, move || {
            c.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR2);
    set.thread_block()?;
    println!(
        "blocked SIGUSR2 in this thread (SigBlk {})",
        status_field("SigBlk")
    );
    for _ in 0..3 {
        raise(SIGUSR2)?;
    }
    println!(
        "raised SIGUSR2 three times: handler ran {} times; pending mask SigPnd {} (0x800: signal 12, SIGUSR2)",
        count.load(Ordering::SeqCst),
        status_field("SigPnd")
    );
    set.thread_unblock()?;
    println!(
        "unblocked: the pending signal was delivered at once; handler ran {} time(s) in all: \
         standard signals do not queue",
        count.load(Ordering::SeqCst)
    );
    Ok(())
}

fn killed_child() -> Res {
    println!("\n== 3. a child killed by a signal ==");
    let (r, w) = std::io::pipe()?;
    let mut child = Command::new("/bin/sh")
        .args(["-c", "echo ready; exec sleep 30"])
        .stdout(w)
        .spawn()?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line)?;
    let pid = Pid::from_raw(i32::try_from(child.id())?);
    println!("child {pid} says {:?}; sending it SIGTERM", line.trim());
    kill(pid, Signal::SIGTERM)?;
    let st = child.wait()?;
    println!(
        "wait: code {:?}, signal {:?}, so a shell would report $? = {}",
        st.code(),
        st.signal(),
        128 + st.signal().unwrap_or(0)
    );
    Ok(())
}

fn sigchld_reaping() -> Res {
    println!("\n== 4. reaping on SIGCHLD ==");
    let mut sigchld = Signals::new([SIGCHLD])?;
    let (gate_r, gate_w) = std::io::pipe()?;
    let n = 10;
    for i in 0..n {
        Command::new("/bin/sh")
            .args(["-c", "read _; exit $0", &i.to_string()])
            .stdin(gate_r.try_clone()?)
            .spawn()?;
    }
    drop(gate_r);
    println!("started {n} children, all blocked on one pipe; closing it so they exit together");
    drop(gate_w);
    let (mut reaped, mut wakeups) = (0, 0);
    while reaped < n {
        for _ in sigchld.wait() {}
        wakeups += 1;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => reaped += 1,
            }
        }
    }
    println!(
        "reaped {reaped} children after {wakeups} SIGCHLD wake-up(s): one wake-up may stand \
         for several exits (SIGCHLDs coalesce), so each one reaps in a loop until waitpid \
         says none is left"
    );
    Ok(())
}

fn sigpipe() -> Res {
    println!("\n== 5. SIGPIPE ==");
    let mut yes = Command::new("yes").stdout(Stdio::piped()).spawn()?;
    let out = yes.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    let mut reader = BufReader::new(out);
    reader.read_line(&mut line)?;
    drop(reader);
    let st = yes.wait()?;
    println!(
        "read one line from `yes`, closed the pipe: `yes` was killed by signal {:?} (SIGPIPE = 13), \
         the C default",
        st.signal()
    );
    let (r, mut w) = std::io::pipe()?;
    drop(r);
    match w.write_all(b"x") {
        Err(e) => println!(
            "we write to a pipe without a reader and merely get an error ({e}): \
             the Rust runtime set SIGPIPE to ignore before main"
        ),
        Ok(()) => println!("the write succeeded?"),
    }
    Ok(())
}
