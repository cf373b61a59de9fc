//! A narrated tour of redirection: what a child's fds 0, 1 and 2 are under each `Stdio`, append
//! versus truncate, `2>&1` as one shared open file, and the pipe-buffer deadlock avoided with a
//! thread. Independent of the exercises.
//!
//! Run it: `cargo run -p redirection`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Instant;

fn main() -> io::Result<()> {
    let dir = DemoDir::new()?;
    println!("== 1. a child's fds 0, 1, 2 under each Stdio (read from /proc/PID/fd) ==");
    show_fds(
        "piped, piped, piped",
        Stdio::piped(),
        Stdio::piped(),
        Stdio::piped(),
    )?;
    show_fds(
        "null, null, null",
        Stdio::null(),
        Stdio::null(),
        Stdio::null(),
    )?;
    show_fds(
        "piped, inherit, inherit",
        Stdio::piped(),
        Stdio::inherit(),
        Stdio::inherit(),
    )?;
    let file = File::create(dir.path("out.txt"))?;
    show_fds(
        "piped, from(File), null",
        Stdio::piped(),
        Stdio::from(file),
        Stdio::null(),
    )?;

    println!("\n== 2. truncate (>) versus append (>>) ==");
    let path = dir.path("report.txt");
    std::fs::write(&path, "an old report, longer than the new one\n")?;
    run_into(&path, false, "echo new")?;
    println!(
        "after `echo new > report.txt`:  {:?}",
        std::fs::read_to_string(&path)?
    );
    run_into(&path, true, "echo more")?;
    println!(
        "after `echo more >> report.txt`: {:?}",
        std::fs::read_to_string(&path)?
    );

    println!("\n== 3. 2>&1: one shared open file versus two opens ==");
    let script = "for i in 1 2 3; do echo out$i; echo err$i >&2; done";
    let shared = dir.path("shared.log");
    let out = File::create(&shared)?;
    let err = out.try_clone()?; // dup(2): the same open file description, one offset
    Command::new("sh")
        .args(["-c", script])
        .stdout(out)
        .stderr(err)
        .status()?;
    println!(
        "one open file, dup'ed:   {:?}",
        std::fs::read_to_string(&shared)?
    );
    let twice = dir.path("twice.log");
    let out = File::create(&twice)?;
    let err = File::create(&twice)?; // a second open: its own offset, starting at 0
    Command::new("sh")
        .args(["-c", script])
        .stdout(out)
        .stderr(err)
        .status()?;
    println!(
        "the file opened twice:   {:?}  (the streams overwrote each other)",
        std::fs::read_to_string(&twice)?
    );

    println!("\n== 4. 4 MiB through cat both ways: a writer thread avoids the deadlock ==");
    let input = vec![b'x'; 4 << 20];
    let start = Instant::now();
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    // Writing all 4 MiB here, before reading, would block forever: cat fills its stdout pipe
    // (64 KiB), stops reading its stdin, and our write waits for room that never comes.
    let sent = input.len();
    let writer = thread::spawn(move || -> io::Result<()> {
        stdin.write_all(&input)
        // stdin drops here: cat reads EOF and finishes
    });
    let mut back = Vec::new();
    stdout.read_to_end(&mut back)?;
    writer
        .join()
        .map_err(|_| io::Error::other("writer panicked"))??;
    let status = child.wait()?;
    println!(
        "sent {sent} bytes, got {} back, cat {status}, in {:?} (a pipe holds {} bytes)",
        back.len(),
        start.elapsed(),
        pipe_capacity()
    );
    println!("\ndone: every child was waited for, the temp dir is removed");
    Ok(())
}

/// Spawns `sleep 60` with the given Stdio, prints what its fds 0, 1, 2 point to, then kills
/// and reaps it. `spawn` returns only after the exec succeeded, so the fds are in place.
fn show_fds(label: &str, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> io::Result<()> {
    let mut child: Child = Command::new("sleep")
        .arg("60")
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?;
    let pid = child.id();
    let links: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|e| format!("? ({e})"))
        })
        .collect();
    println!(
        "{label:<26} pid {pid}: fd0 -> {}, fd1 -> {}, fd2 -> {}",
        links[0], links[1], links[2]
    );
    // We have seen what we wanted: end it and wait for it, so no zombie is left.
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// Runs `sh -c script` with stdout into `path`, appending or truncating.
fn run_into(path: &Path, append: bool, script: &str) -> io::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .write(!append)
        .truncate(!append)
        .append(append)
        .open(path)?;
    Command::new("sh")
        .args(["-c", script])
        .stdout(file)
        .status()?;
    Ok(())
}

/// The capacity of a fresh pipe (`F_GETPIPE_SZ`), 65536 on Linux by default.
fn pipe_capacity() -> i32 {
    match io::pipe() {
        Ok((r, _w)) => nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap_or(-1),
        Err(_) => -1,
    }
}

/// A private temp directory, removed on drop.
struct DemoDir(PathBuf);

impl DemoDir {
    fn new() -> io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("proclings-redirection-demo-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(DemoDir(path))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
