//! A narrated tour of daemons: our own daemon(7) steps with a readiness pipe, looked at from
//! outside through /proc, next to a daemon made with the `daemonize` crate (unmaintained,
//! RUSTSEC-2025-0069), including what each launcher reports when start-up fails. The demo is a
//! child subreaper, so every daemon it starts is re-parented to it; it stops and reaps them all
//! and removes its temp dir, leaving nothing behind.
//!
//! Run it with `cargo run -p daemon`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--as-ours") => as_ours(&args[1..]),
        Some("--as-daemonize") => as_daemonize(&args[1..]),
        _ => narrate(),
    }
}

/// The narrator: starts each kind of daemon, inspects it, stops it.
fn narrate() -> Res {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) sets one flag of this process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) } != 0 {
        return Err("cannot become a child subreaper".into());
    }
    let me = std::process::id();
    println!("demo: pid {me}, a child subreaper: orphaned daemons come back to us, not to init");
    let dir = std::env::temp_dir().join(format!("daemon-demo-{me}"));
    std::fs::create_dir_all(&dir)?;
    let result = tour(&dir);
    reap_all();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    println!("done: every daemon was stopped and reaped, the temp dir is gone");
    Ok(())
}

fn tour(dir: &Path) -> Res {
    let exe = std::env::current_exe()?;

    println!("\n== 1. our daemon(7) steps, with a readiness pipe ==");
    let pidfile = dir.join("ours.pid");
    let st = Command::new(&exe)
        .arg("--as-ours")
        .arg(&pidfile)
        .stdin(Stdio::null())
        .status()?;
    println!("launcher exited with {st} once the daemon said READY");
    let pid = read_pid(&pidfile)?;
    inspect(pid);
    stop(pid)?;

    println!("\n== 2. the same steps, but start-up fails (the pid file is taken) ==");
    let holder = File::create(dir.join("taken.pid"))?;
    holder.try_lock()?;
    let out = Command::new(&exe)
        .arg("--as-ours")
        .arg(dir.join("taken.pid"))
        .stdin(Stdio::null())
        .output()?;
    println!(
        "launcher exited with {}, printing the daemon's own error: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    drop(holder);

    println!("\n== 3. the daemonize crate (0.5, unmaintained: RUSTSEC-2025-0069) ==");
    let dz_pid = dir.join("dz.pid");
    let st = Command::new(&exe)
        .arg("--as-daemonize")
        .arg(&dz_pid)
        .arg(dir.join("dz-1.err"))
        .stdin(Stdio::null())
        .status()?;
    println!("launcher exited with {st} as soon as the first child had forked again");
    // daemonize writes the pid file after its launcher returned: wait for it to appear.
    let pid = wait_for_pid(&dz_pid)?;
    inspect(pid);
    println!(
        "daemonize kept what it inherited: SigIgn 0x1000 is SIGPIPE (ignored by Rust's start-up, \
         never restored), and any fd above 2 other than its pid file came from whoever started it"
    );
    let failed = failed_daemonize(&exe, dir, &dz_pid);
    stop(pid)?;
    failed
}

/// Step 4: a second daemonize start while the first holds the pid file.
fn failed_daemonize(exe: &Path, dir: &Path, dz_pid: &Path) -> Res {
    println!("\n== 4. daemonize when start-up fails (the pid file is locked by the first) ==");
    let launcher_err = dir.join("dz-2.launcher-err");
    let st = Command::new(exe)
        .arg("--as-daemonize")
        .arg(dz_pid)
        .arg(dir.join("dz-2.err"))
        .stdin(Stdio::null())
        .stderr(File::create(&launcher_err)?)
        .status()?;
    println!("launcher exited with {st}: success, as far as a script can tell");
    let said = wait_for_text(&launcher_err)?;
    println!(
        "yet the daemon failed after the launcher had gone, writing on the stderr the launcher \
         was given: {}",
        said.trim()
    );
    Ok(())
}

/// Reaps every child left (the daemons that failed were re-parented to us), with a deadline.
fn reap_all() {
    for _ in 0..1000 {
        let mut status = 0;
        // SAFETY: waitpid writes into a live local; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid < 0 {
            return; // ECHILD: no child left
        }
        if pid == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// What /proc says about `pid`: the daemon(7) checklist.
fn inspect(pid: u32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3).copied().unwrap_or("?");
    println!(
        "daemon pid {pid}: parent {} (us), session {} ({}), tty_nr {}",
        field(4),
        field(6),
        if field(6) == pid.to_string() {
            "a session leader"
        } else {
            "not a session leader"
        },
        field(7)
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map_or("?", |v| v.trim_start_matches(':').trim())
            .to_string()
    };
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
    println!(
        "  umask {}, cwd {}, SigBlk {}, SigIgn {}",
        get("Umask"),
        cwd.display(),
        get("SigBlk"),
        get("SigIgn")
    );
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_str()?.parse().ok()?;
                    let t = std::fs::read_link(e.path()).ok()?.display().to_string();
                    Some((n, t))
                })
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    for (n, t) in fds {
        println!("  fd {n} -> {t}");
    }
}

/// SIGTERM through a pidfd, a poll on it for the exit, then reap (we are the subreaper).
fn stop(pid: u32) -> Res {
    let raw = i32::try_from(pid)?;
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
    if fd < 0 {
        return Err(format!("pidfd_open({pid}): {}", std::io::Error::last_os_error()).into());
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(i32::try_from(fd)?) };
    // SAFETY: pidfd_send_signal takes the pidfd, a signal and a null siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGTERM,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd on our stack.
    let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
    let mut status = 0;
    // SAFETY: `raw` is our child since we are its subreaper; `status` is a live local.
    unsafe { libc::waitpid(raw, &mut status, 0) };
    println!(
        "stopped pid {pid} with SIGTERM (pidfd readable: {}), reaped: killed by signal {}",
        n > 0,
        libc::WTERMSIG(status)
    );
    Ok(())
}

fn read_pid(path: &Path) -> Res<u32> {
    Ok(std::fs::read_to_string(path)?.trim().parse()?)
}

/// Polls for a pid file written by a process we have no event from (a demo may poll; a test
/// would wait with a deadline, as this does).
fn wait_for_pid(path: &Path) -> Res<u32> {
    for _ in 0..1000 {
        if let Ok(pid) = read_pid(path) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{} never got a pid", path.display()).into())
}

fn wait_for_text(path: &Path) -> Res<String> {
    for _ in 0..1000 {
        if let Ok(t) = std::fs::read_to_string(path)
            && !t.trim().is_empty()
        {
            return Ok(t);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{} stayed empty", path.display()).into())
}

/// Our own daemon: the daemon(7) sequence as the chapter ("What the kernel does") and the
/// `detach` exercise teach it, step for step; the reasons are given there, not repeated here.
/// A copy, because the demo never runs the learner's code.
fn as_ours(args: &[String]) -> Res {
    let pidfile = PathBuf::from(args.first().ok_or("--as-ours PIDFILE")?);
    let (mut r, w) = std::io::pipe()?;
    // SAFETY: the demo's helper is single-threaded here.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let _ = nix::sys::wait::waitpid(child, None);
            let mut said = String::new();
            r.read_to_string(&mut said)?;
            if said == "READY\n" {
                std::process::exit(0);
            }
            eprintln!("{}", said.trim());
            std::process::exit(1);
        }
        nix::unistd::ForkResult::Child => drop(r),
    }
    nix::unistd::setsid()?;
    // SAFETY: still single-threaded.
    if let nix::unistd::ForkResult::Parent { .. } = unsafe { nix::unistd::fork() }? {
        // SAFETY: leaves at once, without running exit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut w = File::from(OwnedFd::from(w));
    let keep = u32::try_from(w.as_raw_fd())?;
    // SAFETY: closes fds nobody in this fresh process owns; `keep` (the pipe) is spared.
    unsafe {
        libc::close_range(3, keep - 1, 0);
        libc::close_range(keep + 1, u32::MAX, 0);
    }
    let null = File::options().read(true).write(true).open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: replaces stdio with /dev/null.
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }
    drop(null);
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )?;
    for sig in 1..=libc::SIGRTMAX() {
        let action = [0u64; 8];
        // SAFETY: rt_sigaction reads `action`, writes nothing; 8 is the kernel sigset size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                action.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            )
        };
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
    nix::unistd::chdir("/")?;
    let mut pid = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&pidfile)?;
    if pid.try_lock().is_err() {
        let _ = write!(w, "ours: already running: {} is locked", pidfile.display());
        // SAFETY: a forked child leaves without the launcher's exit handlers.
        unsafe { libc::_exit(1) };
    }
    pid.set_len(0)?;
    writeln!(pid, "{}", std::process::id())?;
    w.write_all(b"READY\n")?;
    drop(w);
    loop {
        nix::unistd::pause();
    }
}

/// A daemon made by the `daemonize` crate, with a pid file and stderr to a file.
fn as_daemonize(args: &[String]) -> Res {
    let (Some(pidfile), Some(err)) = (args.first(), args.get(1)) else {
        return Err("--as-daemonize PIDFILE ERRFILE".into());
    };
    let stderr = File::create(err)?;
    let started = daemonize::Daemonize::new()
        .pid_file(pidfile)
        .working_directory("/")
        .umask(0o027)
        .stderr(stderr)
        .start();
    match started {
        Ok(()) => loop {
            nix::unistd::pause();
        },
        Err(e) => {
            // We are the daemon (the grandchild): the launcher has long exited 0.
            eprintln!("daemonize: start-up failed in the daemon: {e}");
            std::process::exit(1);
        }
    }
}
