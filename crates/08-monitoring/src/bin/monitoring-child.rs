//! `monitoring-child MODE [ARGS]`: a process with a known behaviour, for the monitoring tests.
//!
//! The tests compare what the learner's code reads about a process with what the kernel says,
//! so they need processes whose state, memory, fds and CPU use are known. Every mode prints
//! `ready` on stdout once it is in the state it promises, and most then block reading stdin:
//! closing its stdin (or killing it) ends the process. Figures a mode measures about itself
//! (`getrusage(RUSAGE_SELF)`) are printed before `ready`, so that a test can use the process's
//! own accounting as the reference.
//!
//! Modes:
//! - `sleep`: sleeps (state S) until stdin closes.
//! - `spin`: runs (state R) forever.
//! - `spin-kernel`: runs (state R) forever, nearly all of it in the kernel (reads of
//!   /dev/zero): its stime grows faster than its utime.
//! - `spin-threads N`: N threads run forever.
//! - `spin-workers N`: N threads run forever while the main thread sleeps until stdin closes.
//! - `spin-pinned N`: N threads pinned to one CPU run forever: each spends about 1/N of its time
//!   on that CPU and the rest waiting for it.
//! - `duty BUSY_MS PERIOD_MS`: runs for BUSY_MS ms of every PERIOD_MS ms, sleeping the rest,
//!   forever: a process that works a little.
//! - `fds N`: opens N extra fds on /dev/null, then sleeps.
//! - `touch MIB`: allocates MIB MiB, writes to every page (so it is resident), then sleeps.
//! - `write-bytes N`: writes N bytes to /dev/null, then sleeps.
//! - `work MS`: uses MS ms of CPU (about a third of it in the kernel), prints `used USER_US SYS_US`, then sleeps.
//! - `naps N`: sleeps 1 ms N times (each a voluntary context switch), prints `nvcsw N`, sleeps.
//! - `contend MS`: two threads pinned to one CPU run for MS ms of wall time, so the scheduler
//!   must preempt them (involuntary context switches); prints `nivcsw N`, then sleeps.
//! - `exit CODE`: exits at once with CODE.
//! - `open-until-fail`: waits for a line on stdin, opens /dev/null until that fails, prints
//!   `opened N then ERRNO`, exits 0.
//! - `alloc MIB`: tries to allocate and touch MIB MiB, prints `allocated MIB MiB` or
//!   `allocation failed: ...`, exits 0.
//! - `xcpu`: reports SIGXCPU on stdout (`got SIGXCPU`) instead of dying of it, and spins.
//! - `beat MS [HANG_AFTER]`: prints `ready`, then `beat` every MS ms; after HANG_AFTER beats it
//!   stops beating but stays alive (a hung process). `beat-unready MS` never says `ready`. A beat
//!   that cannot be written (nobody reads them any more) ends the process.
//! - `leak-fds MS MAX`: opens one more fd every MS ms, up to MAX extra fds, then sleeps.
//! - `tree`: starts one child of each kind (`sleep`, `spin-kernel`, `exit 0` left unreaped as a zombie,
//!   `leak-fds 20 600`, `touch 64`), prints `child ROLE PID` for each, then `ready`; when its
//!   stdin closes it kills and reaps them all.
//! - `churn`: starts children that exit at once, eight at a time, forever.
//! - `sleepers N`: starts N `sleep` children, then says `ready`; when its stdin closes it kills
//!   and reaps them.
//! - `thread-child`: a second thread starts a `sleep` child and stays alive, so the child is
//!   listed among that thread's children (`/proc/PID/task/TID/children`), not the main
//!   thread's; prints `child PID`, then `ready`; when stdin closes it kills and reaps the child.

use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| fail(&format!("argument {i} must be a number: {args:?}")))
    };
    match args.first().map(String::as_str) {
        Some("sleep") => ready_then_sleep(),
        Some("spin") => {
            say("ready");
            spin_forever()
        }
        Some("spin-kernel") => {
            say("ready");
            let mut zero =
                File::open("/dev/zero").unwrap_or_else(|e| fail(&format!("/dev/zero: {e}")));
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let _ = zero.read(&mut buf);
            }
        }
        Some("spin-threads") => {
            for _ in 1..arg(1) {
                std::thread::spawn(|| spin_forever());
            }
            say("ready");
            spin_forever()
        }
        Some("spin-workers") => {
            for _ in 0..arg(1) {
                std::thread::spawn(|| spin_forever());
            }
            ready_then_sleep()
        }
        Some("spin-pinned") => {
            pin_to_one_cpu();
            for _ in 1..arg(1) {
                std::thread::spawn(|| spin_forever());
            }
            say("ready");
            spin_forever()
        }
        Some("duty") => {
            let (busy, period) = (Duration::from_millis(arg(1)), Duration::from_millis(arg(2)));
            say("ready");
            loop {
                spin_for(busy);
                std::thread::sleep(period.saturating_sub(busy));
            }
        }
        Some("fds") => {
            let files: Vec<File> = (0..arg(1)).map(|_| dev_null()).collect();
            ready_then_sleep();
            drop(files);
        }
        Some("touch") => {
            let mut block = vec![0u8; (arg(1) as usize) << 20];
            touch(&mut block);
            ready_then_sleep();
            std::hint::black_box(&block);
        }
        Some("write-bytes") => {
            let mut null = dev_null();
            let chunk = [7u8; 4096];
            let mut left = arg(1) as usize;
            while left > 0 {
                let n = left.min(chunk.len());
                null.write_all(&chunk[..n])
                    .unwrap_or_else(|e| fail(&e.to_string()));
                left -= n;
            }
            ready_then_sleep();
        }
        Some("work") => {
            burn_cpu(Duration::from_millis(arg(1)));
            let (user, sys) = own_times();
            say(&format!("used {} {}", user.as_micros(), sys.as_micros()));
            ready_then_sleep();
        }
        Some("naps") => {
            for _ in 0..arg(1) {
                std::thread::sleep(Duration::from_millis(1));
            }
            say(&format!("nvcsw {}", own_usage().ru_nvcsw));
            ready_then_sleep();
        }
        Some("contend") => {
            let wall = Duration::from_millis(arg(1));
            pin_to_one_cpu();
            let other = std::thread::spawn(move || spin_for(wall));
            spin_for(wall);
            let _ = other.join();
            say(&format!("nivcsw {}", own_usage().ru_nivcsw));
            ready_then_sleep();
        }
        Some("exit") => return ExitCode::from(arg(1) as u8),
        Some("open-until-fail") => {
            say("ready");
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let mut files = Vec::new();
            let err = loop {
                match File::open("/dev/null") {
                    Ok(f) => files.push(f),
                    Err(e) => break e,
                }
            };
            let name = match err.raw_os_error() {
                Some(libc::EMFILE) => "EMFILE".to_string(),
                Some(libc::ENFILE) => "ENFILE".to_string(),
                _ => err.to_string(),
            };
            say(&format!("opened {} then {name}", files.len()));
        }
        Some("alloc") => {
            let bytes = (arg(1) as usize) << 20;
            let mut block: Vec<u8> = Vec::new();
            match block.try_reserve_exact(bytes) {
                Ok(()) => {
                    block.resize(bytes, 1);
                    touch(&mut block);
                    say(&format!("allocated {} MiB", arg(1)));
                }
                Err(e) => say(&format!("allocation failed: {e}")),
            }
        }
        Some("xcpu") => {
            // SAFETY: the handler only calls write(2), which is async-signal-safe, on a static
            // buffer; it replaces the default action (terminate) of a signal nobody else handles.
            unsafe {
                libc::signal(libc::SIGXCPU, on_sigxcpu as *const () as libc::sighandler_t);
            }
            say("ready");
            spin_forever()
        }
        Some("beat") | Some("beat-unready") => {
            let period = Duration::from_millis(arg(1));
            let hang_after = args.get(2).and_then(|a| a.parse::<u64>().ok());
            if args[0] == "beat" {
                say("ready");
            }
            let mut beats = 0;
            while hang_after.is_none_or(|n| beats < n) {
                let mut out = std::io::stdout().lock();
                // Nobody reads the beats any more (the monitor is gone): stop beating and exit.
                if writeln!(out, "beat").and_then(|()| out.flush()).is_err() {
                    return ExitCode::SUCCESS;
                }
                drop(out);
                beats += 1;
                std::thread::sleep(period);
            }
            // Hung: alive, sleeping, but never beating again.
            block_on_stdin();
        }
        Some("leak-fds") => {
            say("ready");
            let period = Duration::from_millis(arg(1));
            let mut leaked = Vec::new();
            while (leaked.len() as u64) < arg(2) {
                leaked.push(dev_null());
                std::thread::sleep(period);
            }
            block_on_stdin();
        }
        Some("tree") => run_tree(),
        Some("thread-child") => run_thread_child(),
        Some("sleepers") => run_sleepers(arg(1)),
        Some("churn") => {
            // Children that live for an instant, eight at a time, forever: a monitor that lists
            // them often finds one gone by the time it reads it.
            let me = std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string()));
            say("ready");
            loop {
                let kids: Vec<Child> = (0..8)
                    .filter_map(|_| Command::new(&me).args(["exit", "0"]).spawn().ok())
                    .collect();
                for mut kid in kids {
                    let _ = kid.wait();
                }
            }
        }
        _ => fail(&format!("unknown mode {args:?}")),
    }
    ExitCode::SUCCESS
}

fn run_tree() {
    let me = std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string()));
    let roles: [(&str, &[&str]); 5] = [
        ("sleeper", &["sleep"]),
        ("spinner", &["spin-kernel"]),
        ("zombie", &["exit", "0"]),
        ("leaker", &["leak-fds", "20", "600"]),
        ("toucher", &["touch", "64"]),
    ];
    let mut kids: Vec<Child> = Vec::new();
    for (role, args) in roles {
        // Wait for each child's own `ready`, so the tree is in its promised state.
        let child = spawn_kid(&me, args, role != "zombie");
        say(&format!("child {role} {}", child.id()));
        kids.push(child);
    }
    // The zombie is never waited for until the end: it stays in state Z meanwhile.
    say("ready");
    block_on_stdin();
    stop_kids(kids);
}

fn run_thread_child() {
    let me = std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string()));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The kernel SIGKILLs the child when the thread that started it exits: this thread
        // never does.
        let _ = tx.send(spawn_kid(&me, &["sleep"], true));
        loop {
            std::thread::park();
        }
    });
    let child = rx
        .recv()
        .unwrap_or_else(|_| fail("the thread did not start its child"));
    say(&format!("child {}", child.id()));
    say("ready");
    block_on_stdin();
    stop_kids(vec![child]);
}

fn run_sleepers(n: u64) {
    let me = std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string()));
    let kids: Vec<Child> = (0..n).map(|_| spawn_kid(&me, &["sleep"], true)).collect();
    say("ready");
    block_on_stdin();
    stop_kids(kids);
}

/// Starts this program with `args` as a child that dies with its parent (`PR_SET_PDEATHSIG`:
/// the kernel SIGKILLs it when the thread that started it dies, even by SIGKILL, so a test that
/// kills its helper leaves nothing); with `wait_ready`, returns once the child said `ready`.
fn spawn_kid(me: &std::path::Path, args: &[&str], wait_ready: bool) -> Child {
    let mut cmd = Command::new(me);
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped());
    // SAFETY: prctl is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| fail(&format!("spawn {args:?}: {e}")));
    if wait_ready {
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let _ = out.read_line(&mut line);
    }
    child
}

/// Kills and reaps `kids`.
fn stop_kids(kids: Vec<Child>) {
    for mut kid in kids {
        let _ = kid.kill();
        let _ = kid.wait();
    }
}

extern "C" fn on_sigxcpu(_: libc::c_int) {
    const MSG: &[u8] = b"got SIGXCPU\n";
    // SAFETY: write(2) on fd 1 with a static buffer of the given length; async-signal-safe.
    unsafe {
        libc::write(1, MSG.as_ptr().cast(), MSG.len());
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout only means nobody listens any more.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn fail(msg: &str) -> ! {
    eprintln!("monitoring-child: {msg}");
    std::process::exit(2)
}

fn dev_null() -> File {
    File::options()
        .write(true)
        .open("/dev/null")
        .unwrap_or_else(|e| fail(&format!("open /dev/null: {e}")))
}

fn ready_then_sleep() {
    say("ready");
    block_on_stdin();
}

/// Sleeps in read(2) until stdin reaches EOF (or fails).
fn block_on_stdin() {
    let mut buf = [0u8; 64];
    let mut stdin = std::io::stdin().lock();
    while let Ok(n) = stdin.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

fn spin_forever() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn spin_for(wall: Duration) {
    let start = Instant::now();
    let mut x: u64 = 0;
    while start.elapsed() < wall {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

/// Writes one byte in every 4 KiB page, so that every page is really allocated (resident).
fn touch(block: &mut [u8]) {
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    std::hint::black_box(&block);
}

/// Spins until this process has used `cpu` of CPU time (its own clock, not the wall clock: on a
/// loaded machine the two differ).
/// Uses `cpu` of CPU time, about two thirds in user mode (a counting loop) and one third in the
/// kernel (reads of /dev/zero, which the kernel fills with zeros): both utime and stime move,
/// by different amounts.
fn burn_cpu(cpu: Duration) {
    let mut zero = File::open("/dev/zero").unwrap_or_else(|e| fail(&format!("/dev/zero: {e}")));
    let mut buf = vec![0u8; 1 << 20];
    let mut x: u64 = 0;
    loop {
        let (user, sys) = own_times();
        if user + sys >= cpu {
            break;
        }
        if sys * 2 < user {
            let _ = zero.read(&mut buf);
        } else {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
    }
}

fn own_usage() -> libc::rusage {
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage
}

fn own_times() -> (Duration, Duration) {
    let u = own_usage();
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (tv(u.ru_utime), tv(u.ru_stime))
}

/// Pins this process (and the threads it starts later) to the first CPU it may run on.
fn pin_to_one_cpu() {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        fail("sched_getaffinity failed");
    }
    // SAFETY: CPU_ISSET reads the set in bounds for cpu < CPU_SETSIZE.
    let first = (0..libc::CPU_SETSIZE as usize).find(|&c| unsafe { libc::CPU_ISSET(c, &set) });
    let Some(cpu) = first else { fail("no CPU") };
    // SAFETY: as above; the set is rebuilt with one CPU and applied to this thread, which the
    // threads it spawns inherit.
    unsafe {
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
            fail("sched_setaffinity failed");
        }
    }
}
