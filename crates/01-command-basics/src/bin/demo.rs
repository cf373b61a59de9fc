//! The narrated demo of topic 01, running commands: exit statuses, a death by signal, captured
//! output, a child with a cleared environment, spawn failures and their errno, a zombie seen in
//! `/proc` and then reaped, a deadline enforced with `try_wait` + `kill`, and fork + exec +
//! waitpid by hand.
//!
//! Run it with `cargo run -p command-basics`. It exits by itself and leaves nothing
//! behind. It does not use the exercises: it is the whole story in one file.

use std::error::Error;
use std::ffi::{CString, c_char};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{Id, WaitPidFlag, waitid, waitpid};
use nix::unistd::{ForkResult, fork};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    println!("demo: running commands (parent pid {})", std::process::id());
    exit_statuses()?;
    capturing()?;
    environment()?;
    spawn_failures()?;
    zombie()?;
    deadline()?;
    by_hand()?;
    println!("\ndone: every child was waited for; nothing is left running");
    Ok(())
}

/// `exited with code N` or `killed by signal N (NAME)`.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig).map_or("?", |s| s.as_str());
            format!("killed by signal {sig} ({name})")
        }
        _ => format!("{status}"),
    }
}

fn section(title: &str) {
    println!("\n== {title}");
}

fn exit_statuses() -> Result<()> {
    section("1. a program, its arguments, its exit status");
    for script in ["exit 0", "exit 3", "kill -9 $$"] {
        let mut child = Command::new("/bin/sh").args(["-c", script]).spawn()?;
        let pid = child.id();
        let status = child.wait()?;
        println!(
            "$ /bin/sh -c '{script}'   -> pid {pid} {}   (code() = {:?}, signal() = {:?})",
            describe(status),
            status.code(),
            status.signal()
        );
    }
    println!("   a signal death has no exit code; a shell would report it as 128 + 9 = 137");
    Ok(())
}

fn capturing() -> Result<()> {
    section("2. output(): capture stdout and stderr");
    let out = Command::new("/bin/sh")
        .args([
            "-c",
            r"echo to-stdout; echo to-stderr >&2; printf 'bad byte: \377\n'",
        ])
        .output()?;
    println!("$ /bin/sh -c \"echo to-stdout; echo to-stderr >&2; printf 'bad byte: \\377\\n'\"");
    println!("   status: {}", describe(out.status));
    println!("   stderr: {:?}", String::from_utf8_lossy(&out.stderr));
    println!(
        "   stdout, lossy:  {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    match String::from_utf8(out.stdout) {
        Ok(s) => println!("   stdout, strict: {s:?}"),
        Err(e) => println!(
            "   stdout, strict: invalid UTF-8 after {} valid bytes",
            e.utf8_error().valid_up_to()
        ),
    }
    Ok(())
}

fn environment() -> Result<()> {
    section("3. the environment and the working directory");
    let inherited = std::env::vars_os().count();
    println!("   this process has {inherited} environment variables; a child inherits them all");
    let out = Command::new("/usr/bin/env")
        .env_clear()
        .env("GREETING", "hello")
        .current_dir("/")
        .output()?;
    println!(
        "$ env with env_clear() + env(\"GREETING\", \"hello\") -> the child saw exactly: {:?}",
        String::from_utf8_lossy(&out.stdout).trim_end()
    );
    let out = Command::new("/bin/sh")
        .args(["-c", "pwd -P"])
        .current_dir("/")
        .output()?;
    println!(
        "$ pwd -P with current_dir(\"/\") -> {:?}; ours is still {}",
        String::from_utf8_lossy(&out.stdout).trim_end(),
        std::env::current_dir()?.display()
    );
    Ok(())
}

/// A file removed when dropped, so the demo leaves nothing behind even on an error.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spawn_failures() -> Result<()> {
    section("4. spawn failures: the errno says why");
    let file = TempFile(std::env::temp_dir().join(format!(
        "proclings-demo-{}-not-executable.sh",
        std::process::id()
    )));
    std::fs::write(&file.0, "#!/bin/sh\necho never runs\n")?;
    std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o644))?;
    let missing_dir =
        std::env::temp_dir().join(format!("proclings-demo-{}-gone", std::process::id()));
    let cases: [(String, Command); 3] = [
        (
            "/no/such/program".to_string(),
            Command::new("/no/such/program"),
        ),
        (
            format!("{} (mode 644)", file.0.display()),
            Command::new(&file.0),
        ),
        (format!("/bin/true in {}", missing_dir.display()), {
            let mut c = Command::new("/bin/true");
            c.current_dir(&missing_dir);
            c
        }),
    ];
    for (what, mut cmd) in cases {
        match cmd.spawn() {
            Ok(mut child) => {
                let status = child.wait()?;
                println!("$ {what} -> unexpectedly ran and {}", describe(status));
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                println!(
                    "$ {what} -> {:?}, errno {errno} ({})",
                    e.kind(),
                    Errno::from_raw(errno)
                );
            }
        }
    }
    println!("   a missing program and a missing working directory give the same ENOENT");
    Ok(())
}

/// The state letter of `pid` from /proc/PID/stat, or None when it is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

fn zombie() -> Result<()> {
    section("5. a zombie: exited, not yet waited for");
    let mut child = Command::new("/bin/true").spawn()?;
    let pid = child.id();
    println!("$ /bin/true -> pid {pid}, spawned and not waited for yet");
    // Wait for the exit without reaping: waitid with WNOWAIT reports it and leaves the child a
    // zombie. (SIGCHLD and a pidfd that polls readable are two other events for the same thing.)
    let raw = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
    loop {
        match waitid(Id::Pid(raw), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(Errno::EINTR) => continue,
            other => {
                other?;
                break;
            }
        }
    }
    println!("   waitid(P_PID, {pid}, WEXITED | WNOWAIT) says it exited, and leaves it unreaped");
    println!(
        "   /proc/{pid}/stat says state {:?}: a zombie (Z) holds only its exit status",
        proc_state(pid).unwrap_or('?')
    );
    let status = child.wait()?;
    println!(
        "   wait() -> {}; now /proc/{pid} is {}: reaped",
        describe(status),
        if proc_state(pid).is_none() {
            "gone"
        } else {
            "still there"
        }
    );
    Ok(())
}

fn deadline() -> Result<()> {
    section("6. a deadline: try_wait polling, then kill");
    let limit = Duration::from_millis(200);
    let mut child = Command::new("/bin/sleep").arg("30").spawn()?;
    let pid = child.id();
    let start = Instant::now();
    let mut polls = 0;
    let status = loop {
        polls += 1;
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() >= limit {
            println!(
                "$ sleep 30 (pid {pid}) still running after {limit:?} and {polls} polls: kill()"
            );
            child.kill()?;
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(10));
    };
    println!("   wait() -> {}, no zombie left", describe(status));
    Ok(())
}

fn by_hand() -> Result<()> {
    section("7. under the hood: fork + execv + waitpid with nix");
    // Everything the child needs is prepared before fork: after fork it may only make
    // async-signal-safe calls (no allocation) until execv or _exit.
    let path = CString::new("/bin/echo")?;
    let args = [
        path.clone(),
        CString::new("hello from the exec'd child,")?,
        CString::new("pid")?,
        CString::new(std::process::id().to_string())?,
        CString::new("was my parent")?,
    ];
    let argv: Vec<*const c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    // Flush what we printed, or the child's copy of our stdout buffer could confuse the order.
    io::stdout().flush()?;
    // SAFETY: the child calls only async-signal-safe functions (signal, execv, _exit) on memory
    // prepared before the fork, and never returns from this match arm.
    match unsafe { fork() }? {
        ForkResult::Child => {
            // SAFETY: signal(2) is async-signal-safe; reset what Rust ignores, as std does.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            // SAFETY: `path` and `argv` point to live C strings; `argv` is NULL-terminated.
            unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
            // SAFETY: _exit(2) is async-signal-safe; reached only if execv failed.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            println!("   fork() -> child pid {child}; the child calls execv(\"/bin/echo\", ...)");
            io::stdout().flush()?;
            let status = waitpid(child, None)?;
            println!("   waitpid({child}) -> {status:?}");
        }
    }
    Ok(())
}
