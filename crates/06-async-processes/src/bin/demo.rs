//! A narrated tour of async processes with tokio: a synchronous spawn and an asynchronous wait,
//! many children waited for on one thread, a dropped `Child` that keeps running, `kill_on_drop`
//! that kills only the direct child, and a process group that takes the grandchild down too.
//! It exits by itself and leaves nothing behind.
//!
//! Run it with `cargo run -p async-processes`.

use std::io;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn main() -> io::Result<()> {
    // One thread: everything below is waited for without a second thread to block in.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tour())?;
    println!("done: every child and grandchild is gone");
    Ok(())
}

async fn tour() -> io::Result<()> {
    println!("demo: pid {}, one runtime thread", std::process::id());

    // 1. spawn is synchronous, the wait is not.
    let t = Instant::now();
    let mut child = Command::new("sleep").arg("0.2").spawn()?;
    println!(
        "spawned sleep 0.2 as pid {:?}: spawn() returned after {:?} (fork + exec happen now)",
        child.id(),
        t.elapsed()
    );
    let status = child.wait().await?;
    println!(
        "awaited it: {status} after {:?}; tokio watched a pidfd, no thread sat in waitpid",
        t.elapsed()
    );

    // 2. Ten children waited for at once on this one thread.
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        set.spawn(async { Command::new("sleep").arg("0.3").status().await });
    }
    let mut ok = 0;
    while let Some(res) = set.join_next().await {
        if res.map_err(io::Error::other)??.success() {
            ok += 1;
        }
    }
    println!(
        "10 x sleep 0.3 on one thread: {ok} succeeded after {:?} (not 3 s: the waits overlap)",
        t.elapsed()
    );

    // 3. A dropped Child keeps running.
    let child = Command::new("sleep").arg("1000").spawn()?;
    let pid = child.id().expect("not yet waited for");
    drop(child);
    println!(
        "dropped the Child of pid {pid} without kill_on_drop: /proc says state {}",
        state(pid)
    );
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL)?;
    println!("killed it by hand; tokio reaps the orphan in the background");

    // 4. kill_on_drop kills only the direct child.
    let (shell, grandchild) = shell_with_grandchild(false).await?;
    let shell_pid = shell.id().expect("running");
    drop(shell);
    wait_gone_or_zombie(shell_pid).await;
    println!(
        "kill_on_drop: the shell {shell_pid} is {}, but its grandchild sleep {grandchild} is {}",
        state(shell_pid),
        state(grandchild)
    );
    kill(Pid::from_raw(grandchild as i32), Signal::SIGKILL)?;
    wait_gone_or_zombie(grandchild).await;
    println!("(killed the grandchild by its pid to clean up)");

    // 5. A process group of its own, signalled as a whole.
    let (mut shell, grandchild) = shell_with_grandchild(true).await?;
    let pgid = shell.id().expect("running");
    killpg(Pid::from_raw(pgid as i32), Signal::SIGTERM)?;
    let status = shell.wait().await?;
    wait_gone_or_zombie(grandchild).await;
    println!(
        "process_group(0) + killpg(SIGTERM): the shell ended with {status}, the grandchild {grandchild} is {}",
        state(grandchild)
    );
    Ok(())
}

/// Starts `sh -c 'sleep 1000 & echo $!; wait'` with `kill_on_drop`, in a group of its own when
/// `own_group`, and returns it with the pid of its `sleep`.
async fn shell_with_grandchild(own_group: bool) -> io::Result<(tokio::process::Child, u32)> {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "sleep 1000 & echo $!; wait"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    if own_group {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .ok_or_else(|| io::Error::other("the shell said nothing"))?;
    let pid = line.trim().parse().map_err(io::Error::other)?;
    Ok((child, pid))
}

/// The state letter of `pid` in words.
fn state(pid: u32) -> &'static str {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let letter = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("");
    match letter {
        // Reaped already (by its parent, or by whoever adopted it): no longer in /proc.
        "" => "dead (reaped: gone from /proc)",
        "Z" => "dead (a zombie until reaped)",
        "R" => "alive (running)",
        "S" => "alive (sleeping)",
        "D" => "alive (in an uninterruptible wait)",
        "T" | "t" => "alive (stopped)",
        _ => "alive (another state)",
    }
}

/// Polls /proc until `pid` is dead: a demo may poll, a test would wait on an event.
async fn wait_gone_or_zombie(pid: u32) {
    for _ in 0..500 {
        let s = state(pid);
        if s.starts_with("dead") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
