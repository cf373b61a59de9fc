//! A narrated tour of shared memory between two processes: a segment in /dev/shm mapped at two
//! different addresses, a counter both increment with atomics, a futex that puts one process
//! to sleep until the other wakes it, a robust mutex whose holder is killed, and a message
//! queue with priorities. The second process is this program run again (`demo child ...`).
//! It leaves nothing in /dev/shm or in the queue filesystem, and exits by itself.
//!
//! Run it with `cargo run -p shared-memory`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};
use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_open, mq_receive, mq_send, mq_unlink};
use nix::sys::stat::Mode as NixMode;
use rustix::fs::Mode;
use rustix::shm;
use rustix::thread::futex;

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Offsets in the demo's segment: a counter, a futex word, a robust mutex.
const COUNTER: usize = 0;
const WORD: usize = 64;
const MUTEX: usize = 128;
const SIZE: usize = 4096;
const ADDS: u64 = 1_000_000;

fn main() -> Res {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(&args[2], &args[3]);
    }
    let name = format!("/pl-demo-{}", std::process::id());
    println!("demo: pid {}", std::process::id());
    let result = tour(&name);
    // Whatever happened, remove the name (ENOENT when the tour already did).
    let _ = shm::unlink(name.as_str());
    result
}

fn tour(name: &str) -> Res {
    println!("\n== 1. a named segment ==");
    let fd = shm::open(
        name,
        shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
        Mode::RUSR | Mode::WUSR,
    )?;
    rustix::fs::ftruncate(&fd, SIZE as u64)?;
    let map = MmapOptions::new().len(SIZE).map_raw(&fd)?;
    drop(fd);
    let path = format!("/dev/shm{name}");
    let meta = std::fs::metadata(&path)?;
    println!(
        "shm_open({name}, O_CREAT|O_EXCL|O_RDWR, 0600) + ftruncate({SIZE}): {path} exists, mode {:o}, {} bytes",
        meta.permissions().mode() & 0o777,
        meta.len()
    );
    println!("mapped here at {:p}", map.as_mut_ptr());
    // SAFETY: offset MUTEX of a fresh, page-aligned mapping of SIZE bytes that no process uses
    // yet; it stays mapped until the end of `tour`, after every child has exited.
    unsafe { init_robust_mutex(&map)? };

    println!("\n== 2. two processes, one counter ==");
    let mut kid = spawn_child(name, "count")?;
    let mut out = BufReader::new(kid.stdout.take().ok_or("no stdout")?);
    let counter = at::<AtomicU64>(&map, COUNTER);
    for _ in 0..ADDS {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    print_line(&mut out)?;
    kid.wait()?;
    println!(
        "both added {ADDS} with fetch_add: the counter is {} (a plain `+= 1` would lose some)",
        counter.load(Ordering::Relaxed)
    );

    println!("\n== 3. a futex: sleeping on a word of the segment ==");
    let mut kid = spawn_child(name, "futex")?;
    let mut out = BufReader::new(kid.stdout.take().ok_or("no stdout")?);
    print_line(&mut out)?;
    let pid = kid.id();
    let start = Instant::now();
    let asleep = loop {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let state = proc_state(pid);
        if state == Some('S') || start.elapsed() > Duration::from_secs(10) {
            break format!("state {state:?}, wchan {wchan:?}");
        }
        std::thread::yield_now();
    };
    println!("the child sleeps in the kernel: {asleep}: it uses no CPU");
    let word = at::<AtomicU32>(&map, WORD);
    word.store(1, Ordering::Release);
    let woken = futex::wake(word, futex::Flags::empty(), 1)?;
    println!("stored 1 in the word and called FUTEX_WAKE: {woken} waiter woken");
    print_line(&mut out)?;
    kid.wait()?;

    println!("\n== 4. a robust mutex whose holder is killed ==");
    let mut kid = spawn_child(name, "hold")?;
    let mut out = BufReader::new(kid.stdout.take().ok_or("no stdout")?);
    print_line(&mut out)?;
    kid.kill()?;
    let status = kid.wait()?;
    println!("killed the holder: {status}");
    let mutex = map
        .as_mut_ptr()
        .wrapping_add(MUTEX)
        .cast::<libc::pthread_mutex_t>();
    // SAFETY: the mutex was initialised in step 1 and the mapping is still alive.
    let rc = unsafe { libc::pthread_mutex_lock(mutex) };
    println!(
        "pthread_mutex_lock: {} ({})",
        if rc == libc::EOWNERDEAD {
            "EOWNERDEAD"
        } else {
            "?"
        },
        std::io::Error::from_raw_os_error(rc)
    );
    // SAFETY: we hold the mutex (EOWNERDEAD gives it to us); the data is "repaired" (there is
    // none to repair in the demo).
    let rc = unsafe { libc::pthread_mutex_consistent(mutex) };
    println!("repaired the data, pthread_mutex_consistent: {rc}");
    // SAFETY: we hold the mutex.
    unsafe { libc::pthread_mutex_unlock(mutex) };
    // SAFETY: the mutex is consistent again and unlocked.
    let rc = unsafe { libc::pthread_mutex_lock(mutex) };
    println!("locking again: {rc} (0: a clean lock)");
    // SAFETY: we hold it.
    unsafe { libc::pthread_mutex_unlock(mutex) };

    println!("\n== 5. a message queue with priorities ==");
    queue_tour(name)?;

    println!("\n== 6. unlink ==");
    shm::unlink(name)?;
    println!(
        "shm_unlink({name}): {path} exists: {}; our mapping still works: counter = {}",
        std::path::Path::new(&path).exists(),
        counter.load(Ordering::Relaxed)
    );
    drop(map);
    println!("done: the memory is freed with the last mapping, nothing is left in /dev/shm");
    Ok(())
}

fn queue_tour(name: &str) -> Res {
    let qname = format!("{name}-q");
    let attr = MqAttr::new(0, 4, 32, 0);
    let mq = mq_open(
        qname.as_str(),
        MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR,
        NixMode::S_IRUSR | NixMode::S_IWUSR,
        Some(&attr),
    )?;
    for (msg, prio) in [("low", 1), ("urgent", 9), ("normal", 5)] {
        mq_send(&mq, msg.as_bytes(), prio)?;
        println!("mq_send({msg:?}, priority {prio})");
    }
    let mut buf = [0u8; 32];
    for _ in 0..3 {
        let mut prio = 0;
        let n = mq_receive(&mq, &mut buf, &mut prio)?;
        println!(
            "mq_receive: {:?} (priority {prio})",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    mq_close(mq)?;
    mq_unlink(qname.as_str())?;
    let again = mq_open(qname.as_str(), MQ_OFlag::O_RDONLY, NixMode::empty(), None);
    println!(
        "mq_unlink, then mq_open without O_CREAT: {}",
        match again {
            Ok(mq) => {
                let _ = mq_close(mq);
                "still there?".to_string()
            }
            Err(e) => format!("{e} (gone)"),
        }
    );
    Ok(())
}

/// Initialises a process-shared robust mutex at `MUTEX`.
///
/// # Safety
/// The mapping must be at least `MUTEX + size_of::<pthread_mutex_t>()` bytes, not yet used as a
/// mutex by anyone, and stay mapped while the mutex is used.
unsafe fn init_robust_mutex(map: &MmapRaw) -> Res {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY: `attr` is writable memory for an attribute object; each call gets a pointer to
    // it after init; the mutex pointer is in bounds by the caller's promise.
    unsafe {
        libc::pthread_mutexattr_init(attr.as_mut_ptr());
        libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST);
        let rc = libc::pthread_mutex_init(map.as_mut_ptr().add(MUTEX).cast(), attr.as_ptr());
        libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc).into());
        }
    }
    Ok(())
}

/// A reference to the atomic at `offset` of the mapping.
fn at<T>(map: &MmapRaw, offset: usize) -> &T {
    assert!(offset + size_of::<T>() <= map.len() && offset.is_multiple_of(align_of::<T>()));
    // SAFETY: in bounds and aligned (asserted; the mapping is page-aligned); only atomics are
    // placed at these offsets, and they are valid for any bit pattern.
    unsafe { &*map.as_mut_ptr().add(offset).cast::<T>() }
}

fn spawn_child(name: &str, what: &str) -> Res<Child> {
    Ok(Command::new(std::env::current_exe()?)
        .args(["child", name, what])
        .stdout(Stdio::piped())
        .spawn()?)
}

fn print_line(out: &mut impl BufRead) -> Res {
    let mut line = String::new();
    out.read_line(&mut line)?;
    print!("  child: {line}");
    Ok(())
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// The second process: maps the same segment (at its own address) and plays its part.
fn child(name: &str, what: &str) -> Res {
    let fd = shm::open(name, shm::OFlags::RDWR, Mode::empty())?;
    let map = MmapOptions::new().len(SIZE).map_raw(&fd)?;
    let mut stdout = std::io::stdout();
    match what {
        "count" => {
            let counter = at::<AtomicU64>(&map, COUNTER);
            for _ in 0..ADDS {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            writeln!(
                stdout,
                "pid {} mapped the segment at {:p} and added {ADDS}",
                std::process::id(),
                map.as_mut_ptr()
            )?;
        }
        "futex" => {
            let word = at::<AtomicU32>(&map, WORD);
            writeln!(stdout, "FUTEX_WAIT while the word is 0")?;
            stdout.flush()?;
            while word.load(Ordering::Acquire) == 0 {
                // Sleeps only if the word is still 0 when the kernel checks: no lost wake-up.
                let _ = futex::wait(word, futex::Flags::empty(), 0, None);
            }
            writeln!(
                stdout,
                "woken, the word is {}",
                word.load(Ordering::Acquire)
            )?;
        }
        "hold" => {
            let mutex = map
                .as_mut_ptr()
                .wrapping_add(MUTEX)
                .cast::<libc::pthread_mutex_t>();
            // SAFETY: the parent initialised the mutex before starting us.
            let rc = unsafe { libc::pthread_mutex_lock(mutex) };
            writeln!(
                stdout,
                "pid {} holds the mutex (rc {rc}) and waits to be killed",
                std::process::id()
            )?;
            stdout.flush()?;
            loop {
                std::thread::park();
            }
        }
        other => return Err(format!("unknown part {other}").into()),
    }
    Ok(())
}
