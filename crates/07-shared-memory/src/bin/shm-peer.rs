//! The second process of the exercises' tests: `shm-peer SCENARIO ARGS...`.
//!
//! Each scenario uses the learner's code (the `shared_memory` library) from a separate process,
//! prints what it saw on stdout, one line per fact, and exits 0 (1 with a message on stderr
//! when something fails). Scenarios that must stay alive until the test is done wait for
//! end-of-file on stdin.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use shared_memory::file_locks::{self, Kind};
use shared_memory::futex::{EventCount, Wake};
use shared_memory::mqueue::{Queue, Semaphore};
use shared_memory::ring::{Consumer, Producer};
use shared_memory::robust_mutex::{Locked, RobustMutex};
use shared_memory::segment;
use shared_memory::support::ring_value;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shm-peer {}: {e}", args.join(" "));
            ExitCode::FAILURE
        }
    }
}

fn say(line: impl std::fmt::Display) {
    println!("{line}");
    let _ = io::stdout().flush();
}

/// Blocks until the test closes our stdin (or kills us).
fn wait_for_eof() {
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
}

fn arg<'a>(args: &[&'a str], i: usize) -> Result<&'a str, String> {
    args.get(i)
        .copied()
        .ok_or_else(|| format!("missing argument {i}"))
}

fn num(args: &[&str], i: usize) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(arg(args, i)?.parse()?)
}

fn kind(args: &[&str], i: usize) -> Result<Kind, String> {
    let name = arg(args, i)?;
    Kind::parse(name).ok_or_else(|| format!("unknown lock kind {name}"))
}

/// A reference to a value of type `T` at `offset` in the segment.
///
/// # Safety
/// `offset + size_of::<T>()` must lie within the segment, `offset` must be aligned for `T`,
/// and `T` must be a type that can be shared between processes (atomics, a pthread mutex).
unsafe fn at<T>(seg: &segment::Segment, offset: usize) -> &T {
    assert!(offset + size_of::<T>() <= seg.len(), "segment too small");
    // SAFETY: in bounds (asserted), aligned and shareable (the caller's promise).
    unsafe { &*seg.as_ptr().add(offset).cast::<T>() }
}

/// Makes every later `futex(FUTEX_WAKE)` of this process on a shared futex (the operation
/// without FUTEX_PRIVATE_FLAG: std's own locks use private futexes) fail with EPERM, with a
/// seccomp filter: a notification that enters the kernel then shows up as an error.
fn forbid_shared_futex_wake() -> Res {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    // struct seccomp_data: the system call number at offset 0, args[1] (the futex operation;
    // its low 32 bits on a little-endian machine) at offset 24.
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let mut program = [
        stmt(load, 0),
        jeq(libc::SYS_futex as u32, 0, 3),
        stmt(load, 24),
        jeq(libc::FUTEX_WAKE as u32, 0, 1),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers; it lets an unprivileged process
    // install a filter.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: `fprog` points to `program`, which is valid for `len` instructions during the
    // call (the kernel copies it).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(())
}

/// Says "signal" on stdout from a signal handler.
extern "C" fn say_signal(_: libc::c_int) {
    let line = b"signal\n";
    // SAFETY: write(2) is async-signal-safe and `line` is valid for its length.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
}

fn run(args: &[&str]) -> Res {
    let scenario = arg(args, 0)?;
    match scenario {
        "segment-reply" => {
            let seg = segment::open(arg(args, 1)?)?;
            // SAFETY: the test wrote a NUL-terminated message in the first 1024 bytes and does
            // not touch the segment until we exit; we read bytes, then write at 1024..2048.
            let bytes = unsafe { std::slice::from_raw_parts(seg.as_ptr(), 1024) };
            let msg = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
            let msg = String::from_utf8_lossy(msg).into_owned();
            say(format!("read: {msg}"));
            let reply = format!("pong from {}: {msg}\0", std::process::id());
            // SAFETY: 1024 + reply.len() is within the 4096-byte segment the test made.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    reply.as_ptr(),
                    seg.as_ptr().add(1024),
                    reply.len().min(1024),
                );
            }
            say(format!("len: {}", seg.len()));
        }
        "memfd-recv" => {
            // SAFETY: the test gave us a connected Unix socket as stdin (fd 0), owned by us.
            let sock = UnixStream::from(unsafe { OwnedFd::from_raw_fd(0) });
            let fd = segment::recv_fd(&sock)?;
            let file = File::from(fd);
            let len = file.metadata()?.len();
            let mut content = vec![0u8; len as usize];
            file.read_exact_at(&mut content, 0)?;
            say(format!("content: {}", String::from_utf8_lossy(&content)));
            let outcome = |r: io::Result<()>| match r {
                Ok(()) => "allowed".to_string(),
                Err(e) => format!("refused ({})", e.raw_os_error().unwrap_or(0)),
            };
            say(format!(
                "write: {}",
                outcome(file.write_at(b"X", 0).map(|_| ()))
            ));
            say(format!("truncate: {}", outcome(file.set_len(1))));
            say(format!("grow: {}", outcome(file.set_len(len + 4096))));
        }
        "ring-produce" => {
            let mut producer = Producer::attach(segment::open(arg(args, 1)?)?)?;
            let count = num(args, 2)?;
            for i in 0..count {
                let mut spins = 0u32;
                while !producer.try_push(ring_value(i)) {
                    spins += 1;
                    if spins.is_multiple_of(64) {
                        std::thread::yield_now();
                    }
                }
            }
            say("done");
        }
        "ring-fill" => {
            let mut producer = Producer::attach(segment::open(arg(args, 1)?)?)?;
            let limit = num(args, 2)?;
            let mut n = 0;
            while n < limit && producer.try_push(ring_value(n)) {
                n += 1;
            }
            say(format!("pushed {n}"));
        }
        "ring-consume" => {
            let mut consumer = Consumer::attach(segment::open(arg(args, 1)?)?)?;
            let count = num(args, 2)?;
            let mut got = Vec::new();
            while let Some(v) = consumer.try_pop() {
                got.push(v);
                if got.len() as u64 > count {
                    break;
                }
            }
            say(format!("popped {}", got.len()));
            for (i, v) in got.iter().enumerate() {
                if *v != ring_value(i as u64) {
                    return Err(format!(
                        "slot {i}: got {v:#x}, expected {:#x}",
                        ring_value(i as u64)
                    )
                    .into());
                }
            }
        }
        "futex-wait" => {
            let seg = segment::open(arg(args, 1)?)?;
            // SAFETY: the test placed an EventCount at offset 0 of the segment.
            let event: &EventCount = unsafe { at(&seg, 0) };
            // A SIGUSR1 handler without SA_RESTART: a signal during the wait interrupts
            // FUTEX_WAIT with EINTR, which the wait must survive.
            let usr1 = SigAction::new(
                SigHandler::Handler(say_signal),
                SaFlags::empty(),
                SigSet::empty(),
            );
            // SAFETY: the handler only calls write(2), which is async-signal-safe.
            unsafe { sigaction(Signal::SIGUSR1, &usr1) }?;
            let ticket = event.ticket();
            say(format!(
                "waiting tid {}",
                rustix::thread::gettid().as_raw_nonzero()
            ));
            let wake = event.wait(ticket, None)?;
            say(format!("woken: {wake:?}"));
        }
        // Forbids itself FUTEX_WAKE on shared futexes, then notifies with nobody waiting.
        "futex-notify-alone" => {
            let seg = segment::open(arg(args, 1)?)?;
            // SAFETY: the test placed an EventCount at offset 0 of the segment.
            let event: &EventCount = unsafe { at(&seg, 0) };
            forbid_shared_futex_wake()?;
            for i in 0..1000 {
                event.notify().map_err(|e| {
                    format!(
                        "notification {i}: notify() called FUTEX_WAKE although nobody sleeps \
                         ({e}: this process forbade itself that call)"
                    )
                })?;
            }
            say("notified 1000 times");
        }
        "futex-timeout" => {
            let seg = segment::open(arg(args, 1)?)?;
            // SAFETY: the test placed an EventCount at offset 0 of the segment.
            let event: &EventCount = unsafe { at(&seg, 0) };
            let timeout = Duration::from_millis(num(args, 2)?);
            let ticket = event.ticket();
            let started = Instant::now();
            let wake = event.wait(ticket, Some(timeout))?;
            let waited = started.elapsed();
            say(format!("result: {wake:?}"));
            if waited >= timeout {
                say("waited the whole timeout");
            } else {
                say(format!(
                    "returned after {waited:?}, before the timeout of {timeout:?}"
                ));
            }
        }
        "futex-pingpong" => {
            let seg = segment::open(arg(args, 1)?)?;
            let rounds = num(args, 2)?;
            // SAFETY: the test's layout: EventCounts at 0 (ping) and 64 (pong), a counter at 128.
            let (ping, pong, counter): (&EventCount, &EventCount, &AtomicU64) =
                unsafe { (at(&seg, 0), at(&seg, 64), at(&seg, 128)) };
            for round in 0..rounds {
                let want = 2 * round + 1;
                loop {
                    let ticket = ping.ticket();
                    if counter.load(Ordering::Acquire) == want {
                        break;
                    }
                    if ping.wait(ticket, Some(Duration::from_secs(20)))? == Wake::TimedOut
                        && counter.load(Ordering::Acquire) != want
                    {
                        return Err(format!(
                            "round {round}: no wake-up for 20 s while the counter was {}",
                            counter.load(Ordering::Acquire)
                        )
                        .into());
                    }
                }
                counter.store(want + 1, Ordering::Release);
                pong.notify()?;
            }
            say("done");
        }
        "mutex-hold" => {
            let seg = segment::open(arg(args, 1)?)?;
            // SAFETY: the test initialised a RobustMutex at offset 0 and a counter at 64.
            let (mutex, data): (&RobustMutex, &AtomicU64) = unsafe { (at(&seg, 0), at(&seg, 64)) };
            let how = mutex.lock()?;
            // Half-way through an update: the test kills us here.
            data.store(u64::MAX, Ordering::Relaxed);
            say(format!("locked: {how:?}"));
            wait_for_eof();
            // Reached only when the test did not kill us.
            data.store(0, Ordering::Relaxed);
            mutex.unlock()?;
        }
        "mutex-count" => {
            let seg = segment::open(arg(args, 1)?)?;
            let n = num(args, 2)?;
            // SAFETY: the test initialised a RobustMutex at offset 0 and a counter at 64.
            let (mutex, data): (&RobustMutex, &AtomicU64) = unsafe { (at(&seg, 0), at(&seg, 64)) };
            for _ in 0..n {
                if mutex.lock()? != Locked::Clean {
                    return Err("a previous owner died".into());
                }
                // A read-modify-write in two steps, on purpose: only the lock makes it safe.
                let v = data.load(Ordering::Relaxed);
                data.store(v + 1, Ordering::Relaxed);
                mutex.unlock()?;
            }
            say("done");
        }
        "mq-send" => {
            let queue = Queue::open(arg(args, 1)?)?;
            for spec in &args[2..] {
                let (prio, msg) = spec.split_once(':').ok_or("expected PRIO:MESSAGE")?;
                queue.send(msg.as_bytes(), prio.parse()?)?;
            }
            say("sent");
        }
        "mq-receive" => {
            let queue = Queue::open(arg(args, 1)?)?;
            let mut buf = vec![0u8; queue.limits()?.max_size];
            say("receiving");
            let (len, prio) = queue.receive(&mut buf)?;
            say(format!(
                "got {prio} {}",
                String::from_utf8_lossy(&buf[..len])
            ));
        }
        "sem-post" => {
            let sem = Semaphore::open(arg(args, 1)?)?;
            for _ in 0..num(args, 2)? {
                sem.post()?;
            }
            say("posted");
        }
        "sem-wait" => {
            let sem = Semaphore::open(arg(args, 1)?)?;
            // As for futex-wait: a SIGUSR1 handler without SA_RESTART, so that a signal makes
            // sem_wait fail with EINTR, which `wait` must survive.
            let usr1 = SigAction::new(
                SigHandler::Handler(say_signal),
                SaFlags::empty(),
                SigSet::empty(),
            );
            // SAFETY: the handler only calls write(2), which is async-signal-safe.
            unsafe { sigaction(Signal::SIGUSR1, &usr1) }?;
            say(format!(
                "waiting tid {}",
                rustix::thread::gettid().as_raw_nonzero()
            ));
            sem.wait()?;
            say("acquired");
        }
        "lock-try" | "lock-hold" => {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(arg(args, 1)?)?;
            let got = file_locks::try_lock(&file, kind(args, 2)?)?;
            say(if got { "locked" } else { "busy" });
            if scenario == "lock-hold" {
                wait_for_eof();
            }
        }
        "lock-close-other" => {
            let path = arg(args, 1)?;
            let file = OpenOptions::new().read(true).write(true).open(path)?;
            if !file_locks::try_lock(&file, kind(args, 2)?)? {
                return Err("the file was already locked".into());
            }
            // Another descriptor for the same file, opened and closed: harmless?
            drop(File::open(path)?);
            say("closed another descriptor");
            wait_for_eof();
            drop(file);
        }
        "lock-fork" => {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(arg(args, 1)?)?;
            if !file_locks::try_lock(&file, kind(args, 2)?)? {
                return Err("the file was already locked".into());
            }
            // SAFETY: this process has a single thread, so the child may run any code.
            match unsafe { nix::unistd::fork() }? {
                nix::unistd::ForkResult::Child => {
                    // The child keeps its copy of the descriptor, open, until the test closes
                    // our shared stdin.
                    wait_for_eof();
                    drop(file);
                    std::process::exit(0);
                }
                nix::unistd::ForkResult::Parent { child } => {
                    // The parent closes its descriptor: what is left is the child's copy.
                    drop(file);
                    say(format!("forked {child}"));
                    nix::sys::wait::waitpid(child, None)?;
                }
            }
        }
        other => return Err(format!("unknown scenario {other}").into()),
    }
    Ok(())
}
