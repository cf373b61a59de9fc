//! An allocator for the drivers that ends a forked child which allocates before `exec`.
//!
//! Between `fork` and `exec` the child of a threaded program may only call async-signal-safe
//! functions (signal-safety(7)): another thread may have held the allocator's lock at the
//! moment of `fork`, and the child's copy of that lock is never released. A driver declares
//! [`NoAllocInForkedChild`] as its global allocator and calls [`install`]; while [`ARMED`] is
//! set, a child of `fork` that allocates writes a line on stderr and ends with [`ALLOCATED`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// The status of a forked child that allocated before exec.
pub const ALLOCATED: i32 = 86;

/// Whether the check is armed (set by a scenario around the calls it checks).
pub static ARMED: AtomicBool = AtomicBool::new(false);

/// Set in a forked child by the atfork child handler while armed.
static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// The system allocator, except in a forked child while armed.
pub struct NoAllocInForkedChild;

fn refuse_in_forked_child() {
    if IN_FORKED_CHILD.load(Ordering::Relaxed) {
        let msg = b"driver: the child allocated memory between fork and exec\n";
        // SAFETY: write and _exit are async-signal-safe; msg is a static buffer.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(ALLOCATED);
        }
    }
}

// SAFETY: every method forwards to the system allocator with the same arguments.
unsafe impl GlobalAlloc for NoAllocInForkedChild {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        refuse_in_forked_child();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        refuse_in_forked_child();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        refuse_in_forked_child();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        refuse_in_forked_child();
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs in the child of every `fork` (glibc's `fork` calls it): arms the allocator's check.
extern "C" fn atfork_child() {
    if ARMED.load(Ordering::SeqCst) {
        IN_FORKED_CHILD.store(true, Ordering::SeqCst);
    }
}

/// Registers the atfork handlers: the child's, and `parent` (if any) for the parent.
pub fn install(parent: Option<unsafe extern "C" fn()>) {
    // SAFETY: the handlers use only atomics and async-signal-safe calls.
    unsafe { libc::pthread_atfork(None, parent, Some(atfork_child)) };
}
