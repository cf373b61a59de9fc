//! A narrated tour of pipes: a two-process pipeline, pipe fds in /proc, capacity, EOF, EPIPE and
//! a named pipe. Independent of the exercises; exits by itself and leaves nothing behind.
//!
//! Run it with `cargo run -p pipes`.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Command, ExitCode, Stdio};

use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::stat::Mode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    println!("== 1. a pipeline: echo 'hello pipes' | tr a-z A-Z");
    let mut echo = Command::new("echo")
        .arg("hello pipes")
        .stdout(Stdio::piped())
        .spawn()?;
    let link = echo
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("echo has no stdout pipe"))?;
    // The read end moves into tr's stdin; the parent keeps no copy of it.
    let tr = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(link)
        .stdout(Stdio::piped())
        .spawn()?;
    println!("   echo is pid {}, tr is pid {}", echo.id(), tr.id());
    let out = tr.wait_with_output()?;
    let echo_status = echo.wait()?;
    println!(
        "   tr printed {:?}; echo {echo_status}, tr {}",
        String::from_utf8_lossy(&out.stdout).trim_end(),
        out.status
    );

    println!("== 2. a pipe is two fds onto one kernel object");
    let (mut reader, mut writer) = io::pipe()?;
    for (name, fd) in [
        ("read end ", reader.as_raw_fd()),
        ("write end", writer.as_raw_fd()),
    ] {
        let target = fs::read_link(format!("/proc/self/fd/{fd}"))?;
        println!("   {name}: fd {fd} -> {}", target.display());
    }
    println!("   (the same pipe:[inode] twice: one buffer, a read side and a write side)");

    println!("== 3. capacity");
    let size = fcntl(writer.as_fd(), FcntlArg::F_GETPIPE_SZ)?;
    println!("   F_GETPIPE_SZ says {size} bytes; a writer blocks once that much is unread");
    let grown = fcntl(writer.as_fd(), FcntlArg::F_SETPIPE_SZ(256 * 1024))?;
    println!("   F_SETPIPE_SZ(262144) made it {grown} bytes");

    println!("== 4. EOF = no write end left");
    writer.write_all(b"last words")?;
    drop(writer);
    let mut got = String::new();
    reader.read_to_string(&mut got)?;
    println!("   read {got:?}, then read() returned 0: every write end is closed, so EOF");
    drop(reader);

    println!("== 5. EPIPE = no read end left");
    let (reader, mut writer) = io::pipe()?;
    drop(reader);
    match writer.write(b"anyone?") {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => println!(
            "   write failed with {e}; Rust ignores SIGPIPE, so this is an error, not a death"
        ),
        Err(e) => return Err(e),
        Ok(n) => println!("   unexpectedly wrote {n} bytes"),
    }
    drop(writer);

    println!("== 6. a named pipe between unrelated processes");
    fifo_demo()?;
    println!("== done: no child, fd or file left behind");
    Ok(())
}

fn fifo_demo() -> io::Result<()> {
    let dir = std::env::temp_dir().join(format!("proclings-pipes-demo-{}", std::process::id()));
    fs::create_dir(&dir)?;
    let result = fifo_in(&dir);
    // Removing the directory also removes the FIFO's name if the demo failed halfway.
    let cleanup = fs::remove_dir_all(&dir);
    result.and(cleanup)
}

fn fifo_in(dir: &std::path::Path) -> io::Result<()> {
    let path = dir.join("chan");
    nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)?;
    println!("   mkfifo {} (mode 0600)", path.display());
    let mut cat = Command::new("cat")
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()?;
    println!(
        "   cat (pid {}) opens it for reading; our open for writing waits for it",
        cat.id()
    );
    let mut fifo = fs::OpenOptions::new().write(true).open(&path)?;
    fifo.write_all(b"through the file system, not to disk\n")?;
    drop(fifo);
    let mut out = String::new();
    if let Some(mut stdout) = cat.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    let status = cat.wait()?;
    println!("   cat printed {:?} and {status}", out.trim_end());
    fs::remove_file(&path)?;
    println!("   unlinked {}", path.display());
    Ok(())
}
