//! The monitoring demo: what the kernel tells about a process, and how to ask it.
//!
//! `cargo run -p monitoring` narrates, with real child processes (this same program started
//! again in a helper role):
//! 1. one read of `/proc/PID/stat` through procfs: state, parent, threads, RSS and VSZ;
//! 2. CPU % of a spinning child from two samples of its clock ticks;
//! 3. a child's usage from `wait4`: maximum RSS, CPU time, context switches;
//! 4. a limit set between fork and exec: RLIMIT_NOFILE turns the next `open` into EMFILE;
//! 5. a heartbeat with a deadline that tells a hung child from a dead one;
//! 6. sysinfo refreshing one pid against refreshing the whole machine.
//!
//! It is independent of the exercises, exits by itself and leaves no process behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use procfs::process::Process;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--sleep") => role_sleep(),
        Some("--spin") => loop {
            std::hint::black_box(0u64);
        },
        Some("--touch") => {
            let mut block = vec![0u8; 32 << 20];
            for i in (0..block.len()).step_by(4096) {
                block[i] = 1;
            }
            std::hint::black_box(&block);
        }
        Some("--open") => {
            let mut files = Vec::new();
            let err = loop {
                match std::fs::File::open("/dev/null") {
                    Ok(f) => files.push(f),
                    Err(e) => break e,
                }
            };
            println!("opened {} files, then: {err}", files.len());
        }
        Some("--beat") => {
            for _ in 0..3 {
                println!("beat");
                std::thread::sleep(Duration::from_millis(20));
            }
            role_sleep();
        }
        _ => narrate(),
    }
}

/// Sleeps in read(2) until stdin closes.
fn role_sleep() {
    let mut buf = [0u8; 16];
    while let Ok(n) = std::io::stdin().read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

fn me() -> Command {
    Command::new(std::env::current_exe().expect("the demo's own path"))
}

/// A child that is killed and reaped when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn narrate() {
    let start = Instant::now();
    let hz = procfs::ticks_per_second();
    let page = procfs::page_size();

    println!("== 1. /proc/PID/stat, read through procfs");
    let sleeper = Kid(me()
        .arg("--sleep")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn"));
    let pid = sleeper.0.id() as i32;
    // Wait for the child to be asleep (it is running for a moment after exec).
    let stat = loop {
        let stat = Process::new(pid).and_then(|p| p.stat()).expect("stat");
        if stat.state == 'S' {
            break stat;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    println!(
        "pid {pid}: state {}, parent {}, {} thread(s), RSS {} KiB ({} pages of {page} bytes), \
         VSZ {} KiB",
        stat.state,
        stat.ppid,
        stat.num_threads,
        stat.rss * page / 1024,
        stat.rss,
        stat.vsize / 1024
    );
    drop(sleeper);

    println!("\n== 2. CPU % from two samples of clock ticks ({hz} ticks per second)");
    let spinner = Kid(me().arg("--spin").spawn().expect("spawn"));
    let spid = spinner.0.id() as i32;
    let ticks = || {
        Process::new(spid)
            .and_then(|p| p.stat())
            .map(|s| s.utime + s.stime)
            .unwrap_or(0)
    };
    let (t0, k0) = (Instant::now(), ticks());
    std::thread::sleep(Duration::from_millis(300));
    let (t1, k1) = (Instant::now(), ticks());
    let pct = 100.0 * (k1 - k0) as f64 / hz as f64 / (t1 - t0).as_secs_f64();
    println!(
        "spinner {spid}: {} ticks in {:?}: CPU {pct:.0}% of one core (less than 100 when \
         other processes want the CPU too)",
        k1 - k0,
        t1 - t0
    );
    drop(spinner);

    println!("\n== 3. what a child used, from wait4");
    // Reaped by wait4 below, which std's Child cannot see.
    #[allow(clippy::zombie_processes)]
    let child = me().arg("--touch").spawn().expect("spawn");
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are live locals; the pid is our own child, waited for once.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(rc, child.id() as i32, "wait4");
    println!(
        "the child touched 32 MiB: ru_maxrss {} KiB (the process's peak, which counts the \
         image it replaced at execve: a copy of this small parent), user {}.{:06} s, system \
         {}.{:06} s, {} voluntary and {} involuntary context switches",
        usage.ru_maxrss,
        usage.ru_utime.tv_sec,
        usage.ru_utime.tv_usec,
        usage.ru_stime.tv_sec,
        usage.ru_stime.tv_usec,
        usage.ru_nvcsw,
        usage.ru_nivcsw
    );

    println!("\n== 4. RLIMIT_NOFILE = 10, set between fork and exec");
    let mut cmd = me();
    cmd.arg("--open").stdout(Stdio::piped());
    // SAFETY: setrlimit is a plain system call, async-signal-safe; the rlimit is on the stack.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 10,
                rlim_max: 10,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run the limited child");
    print!("the child says: {}", String::from_utf8_lossy(&out.stdout));

    println!("\n== 5. a heartbeat with a 300 ms deadline");
    let mut beater = Kid(me()
        .arg("--beat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn"));
    let bpid = beater.0.id();
    let mut out = BufReader::new(beater.0.stdout.take().expect("piped"));
    let mut beats = 0;
    loop {
        let mut fds = [PollFd::new(out.get_ref().as_fd(), PollFlags::POLLIN)];
        let ready =
            out.buffer().is_empty() && poll(&mut fds, PollTimeout::from(300u16)).unwrap_or(0) == 0;
        if ready {
            let state = Process::new(bpid as i32)
                .and_then(|p| p.stat())
                .map(|s| s.state)
                .unwrap_or('?');
            println!(
                "no beat for 300 ms after {beats} beats, and pid {bpid} is still there (state \
                 {state}): hung, not dead"
            );
            break;
        }
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            println!("end of file: the child is gone");
            break;
        }
        beats += 1;
    }
    drop(beater);

    println!("\n== 6. sysinfo: one pid or the whole machine");
    let mut sys = sysinfo::System::new();
    let me_pid = sysinfo::Pid::from_u32(std::process::id());
    let t = Instant::now();
    sys.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[me_pid]), true);
    let one = t.elapsed();
    let mut all = sysinfo::System::new();
    let t = Instant::now();
    all.refresh_processes(sysinfo::ProcessesToUpdate::All, true);
    let every = t.elapsed();
    println!(
        "refreshing 1 pid read {} process(es) in {one:?}; refreshing all read {} in {every:?}",
        sys.processes().len(),
        all.processes().len()
    );
    let _ = std::io::stdout().flush();
    println!("\ndone: every child was reaped ({:?})", start.elapsed());
}
