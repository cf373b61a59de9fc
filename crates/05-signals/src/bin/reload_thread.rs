//! Driver for the `reload_thread` exercise, run by its tests as a child process.
//!
//! Usage: `reload_thread CONFIG_FILE`. Starts the signal thread, prints `caught at return: HEX`
//! (its own `SigCgt` from `/proc/self/status`, read as soon as `start` returned), then `ready`,
//! then every line the thread sends; when the thread ends it prints `exit reloads=N` and exits 0.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// While [`CLOSED`] is set, holds back every allocation of every thread but the main one. The
/// signal thread cannot register anything before the main thread has read `SigCgt` right after
/// `start` returned (registering allocates, and so does starting a thread), so a `start` that
/// registers inside its thread is caught every time, not only when the scheduler is slow.
struct Gate;

static CLOSED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static MAIN: Cell<bool> = const { Cell::new(false) };
}

fn wait_at_the_gate() {
    while CLOSED.load(Ordering::Acquire) && !MAIN.with(Cell::get) {
        std::thread::yield_now();
    }
}

// SAFETY: every method waits (allocating nothing) and then forwards to the system allocator with
// the same arguments, so the allocator's contract is System's.
unsafe impl GlobalAlloc for Gate {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        wait_at_the_gate();
        // SAFETY: the caller's contract for `alloc`, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        wait_at_the_gate();
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        wait_at_the_gate();
        // SAFETY: `ptr` was allocated by System (every allocation goes through it), with
        // `layout`; the rest is the caller's contract for `realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by System with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GATE: Gate = Gate;

/// The `SigCgt` line of `/proc/self/status`: the signals this process has a handler for.
fn caught_now() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "unreadable".to_string())
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: reload_thread CONFIG_FILE");
        return ExitCode::from(2);
    };
    let (tx, rx) = mpsc::channel();
    MAIN.with(|main| main.set(true));
    CLOSED.store(true, Ordering::Release);
    let started = signals::reload_thread::start(path.into(), tx);
    let caught = caught_now();
    CLOSED.store(false, Ordering::Release);
    let handle = match started {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    println!("caught at return: {caught}");
    println!("ready");
    let _ = std::io::stdout().flush();
    // The loop ends when the thread drops its Sender, that is when it returns.
    for line in rx {
        println!("{line}");
        let _ = std::io::stdout().flush();
    }
    match handle.join() {
        Ok(n) => {
            println!("exit reloads={n}");
            ExitCode::SUCCESS
        }
        Err(_) => {
            eprintln!("the signal thread panicked");
            ExitCode::from(3)
        }
    }
}
