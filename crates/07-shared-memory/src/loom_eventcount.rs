//! A loom model of the `EventCount` in `solutions/07-shared-memory/futex.rs`: the orderings that
//! x86 cannot check, checked against the language's memory model instead of the machine.
//!
//! On x86 every `fetch_add` is a `lock`ed instruction, a full barrier whatever ordering it was
//! given, so an EventCount written with `Relaxed` everywhere passes every test of the exercise.
//! [loom](https://docs.rs/loom) runs threads under every interleaving, and lets each load return
//! any value the C11 memory model allows it to (a store another thread made earlier may not be
//! visible yet). Here it shows that the solution loses no wake-up, and that the same protocol
//! with `Relaxed` (or with Acquire/Release) on the Dekker pair does: loom finds a schedule where
//! every thread is blocked and reports a deadlock.
//!
//! The model mirrors the solution step by step: the same loads, stores and read-modify-writes of
//! `seq` and `sleepers`, with the same orderings, in the same order, in functions of the same
//! names. `the_model_makes_the_solutions_accesses` compares the two files' accesses, so that a
//! change of the solution's orderings fails until the model follows. What is not modelled: the
//! timeout (an untimed wait is the one that can hang), and the spin count (`SPINS` re-reads
//! here instead of 200: the spin only ever returns early; the window where a wake-up is lost
//! comes after it).
//!
//! Run: `cargo test -p shared-memory --lib loom` (the model does not use the learner's code,
//! so it needs no `--features solution`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::atomic::{AtomicBool, AtomicU32};
use loom::sync::{Condvar, Mutex};

/// How many times the model's `wait` re-reads `seq` before it sleeps (the solution: 200).
const SPINS: u32 = 2;

/// The kernel's futex on one word, for loom: `wait(word, expected)` compares the word and goes
/// to sleep atomically (under the mutex), and returns at once when the word differs (EAGAIN);
/// `wake` wakes every sleeper (FUTEX_WAKE with "all"). `wake` takes the same mutex, so the futex
/// calls are ordered among themselves as the kernel's are (its hash-bucket lock and full
/// barriers), and the model checks only the orderings of the user-space accesses around them.
struct Futex {
    /// How many FUTEX_WAKEs have been made: a sleeper sleeps until it changes.
    wakes: Mutex<u64>,
    woken: Condvar,
}

impl Futex {
    fn new() -> Self {
        Futex {
            wakes: Mutex::new(0),
            woken: Condvar::new(),
        }
    }

    fn wait(&self, word: &AtomicU32, expected: u32) {
        let mut wakes = self.wakes.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return;
        }
        let seen = *wakes;
        while *wakes == seen {
            wakes = self.woken.wait(wakes).unwrap();
        }
    }

    fn wake(&self) {
        let mut wakes = self.wakes.lock().unwrap();
        *wakes += 1;
        self.woken.notify_all();
    }
}

/// The orderings the model gives the Dekker pair: waiter `sleepers.fetch_add` then `seq.load`,
/// notifier `seq.fetch_add` then `sleepers.load`.
#[derive(Clone, Copy, Debug)]
enum Pair {
    /// The solution's orderings (`SeqCst`).
    AsWritten,
    /// `AcqRel` read-modify-writes and `Acquire` loads.
    AcquireRelease,
    /// `Relaxed` everywhere in the pair.
    Relaxed,
}

impl Pair {
    /// The ordering a read-modify-write of the pair gets, written `written` in the solution.
    fn rmw(self, written: Ordering) -> Ordering {
        match self {
            Pair::AsWritten => written,
            Pair::AcquireRelease => Ordering::AcqRel,
            Pair::Relaxed => Ordering::Relaxed,
        }
    }

    /// The ordering a load of the pair gets, written `written` in the solution.
    fn load(self, written: Ordering) -> Ordering {
        match self {
            Pair::AsWritten => written,
            Pair::AcquireRelease => Ordering::Acquire,
            Pair::Relaxed => Ordering::Relaxed,
        }
    }
}

/// The solution's `EventCount`, with loom's atomics and the futex above.
struct EventCount {
    seq: AtomicU32,
    sleepers: AtomicU32,
    futex: Futex,
    pair: Pair,
}

impl EventCount {
    fn ticket(&self) -> u32 {
        self.seq.load(Ordering::SeqCst)
    }

    fn wait(&self, ticket: u32) {
        for _ in 0..SPINS {
            if self.seq.load(Ordering::Acquire) != ticket {
                return;
            }
        }
        self.sleepers.fetch_add(1, self.pair.rmw(Ordering::SeqCst));
        self.sleep(ticket);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    fn sleep(&self, ticket: u32) {
        loop {
            if self.seq.load(self.pair.load(Ordering::SeqCst)) != ticket {
                return;
            }
            self.futex.wait(&self.seq, ticket);
        }
    }

    fn notify(&self) {
        self.seq.fetch_add(1, self.pair.rmw(Ordering::SeqCst));
        if self.sleepers.load(self.pair.load(Ordering::SeqCst)) > 0 {
            self.futex.wake();
        }
    }
}

/// Runs `waiters` waiters and one notifier under loom, every interleaving (with at most
/// `preemptions` preemptions per schedule when given), and returns how many schedules it ran.
/// Each waiter waits for a flag the notifier sets before it notifies; one that sleeps forever
/// leaves every thread blocked, which loom reports as a panic that starts with "deadlock".
fn check(pair: Pair, waiters: usize, preemptions: Option<usize>) -> usize {
    let schedules = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&schedules);
    let mut model = loom::model::Builder::new();
    model.preemption_bound = preemptions;
    model.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        // std's Arc, not loom's: after a deadlock loom unwinds the blocked threads, and a
        // loom::sync::Arc dropped then panics again, which aborts the test binary.
        let event = Arc::new(EventCount {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            futex: Futex::new(),
            pair,
        });
        // The zeros again, as SeqCst stores made before any thread starts. For C11 this changes
        // nothing: a SeqCst load cannot read a value that happens before the last SeqCst store
        // it follows. Loom applies that rule only among SeqCst stores, and sees the initial
        // value as a plain one, so without these it would let the SeqCst loads read the zeros
        // at any time and report a lost wake-up that C11 forbids.
        event.seq.store(0, Ordering::SeqCst);
        event.sleepers.store(0, Ordering::SeqCst);
        let ready = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..waiters)
            .map(|_| {
                let (event, ready) = (Arc::clone(&event), Arc::clone(&ready));
                loom::thread::spawn(move || {
                    loop {
                        let ticket = event.ticket();
                        if ready.load(Ordering::Acquire) {
                            return;
                        }
                        event.wait(ticket);
                    }
                })
            })
            .collect();
        ready.store(true, Ordering::Release);
        event.notify();
        for thread in threads {
            thread.join().unwrap();
        }
    });
    schedules.load(Ordering::Relaxed)
}

/// The message of the panic that `check` ends with, or None when it completes.
fn panic_of(pair: Pair) -> Option<String> {
    let outcome = std::panic::catch_unwind(|| check(pair, 1, None));
    outcome.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn loom_one_waiter_never_misses_a_notification() {
    let schedules = check(Pair::AsWritten, 1, None);
    assert!(schedules > 1, "loom ran {schedules} schedule(s)");
}

#[test]
fn loom_two_waiters_never_miss_a_notification() {
    // Three threads: every schedule with up to three preemptions (loom's bound; the unbounded
    // space takes minutes). A lost wake-up needs one: between the two accesses of a side.
    let schedules = check(Pair::AsWritten, 2, Some(3));
    assert!(schedules > 1, "loom ran {schedules} schedule(s)");
}

#[test]
fn loom_a_relaxed_dekker_pair_loses_a_wake_up() {
    let panic = panic_of(Pair::Relaxed);
    assert!(
        panic.as_deref().is_some_and(|m| m.starts_with("deadlock")),
        "with Relaxed on the Dekker pair loom should find a lost wake-up (a deadlock); it \
         found {panic:?}"
    );
}

#[test]
fn loom_an_acquire_release_dekker_pair_loses_a_wake_up() {
    // Acquire and Release order what comes after a load and before a store; a store followed
    // by a load of another word is the one pair they do not order. Only SeqCst does.
    let panic = panic_of(Pair::AcquireRelease);
    assert!(
        panic.as_deref().is_some_and(|m| m.starts_with("deadlock")),
        "with AcqRel/Acquire on the Dekker pair loom should find a lost wake-up (a deadlock); \
         it found {panic:?}"
    );
}

/// The accesses of `seq` and `sleepers` and the futex calls in the `impl EventCount` block of
/// `source`, in order, each as `function: field.operation(Ordering)`.
fn accesses(source: &str) -> Vec<String> {
    let block = source
        .split_once("\nimpl EventCount {\n")
        .and_then(|(_, rest)| rest.split_once("\n}\n"))
        .map(|(block, _)| block)
        .expect("an `impl EventCount {` block");
    let mut function = String::new();
    let mut found = Vec::new();
    for line in block.lines().map(str::trim) {
        if let Some((_, rest)) = line.split_once("fn ") {
            function = rest.split('(').next().unwrap_or_default().to_string();
        }
        if line.contains("futex::wait(") || line.contains("futex.wait(") {
            found.push(format!("{function}: FUTEX_WAIT"));
        }
        if line.contains("futex::wake(") || line.contains("futex.wake(") {
            found.push(format!("{function}: FUTEX_WAKE"));
        }
        for field in ["seq", "sleepers"] {
            let Some((_, call)) = line.split_once(&format!("self.{field}.")) else {
                continue;
            };
            let operation = call.split('(').next().unwrap_or_default();
            let ordering = line
                .split_once("Ordering::")
                .map(|(_, o)| o.split(|c: char| !c.is_alphanumeric()).next())
                .unwrap_or_default()
                .unwrap_or("?");
            found.push(format!("{function}: {field}.{operation}({ordering})"));
        }
    }
    found
}

#[test]
fn loom_the_model_makes_the_solutions_accesses() {
    let solution = accesses(include_str!("../../../solutions/07-shared-memory/futex.rs"));
    let model = accesses(include_str!("loom_eventcount.rs"));
    assert!(
        solution.len() >= 8,
        "too few accesses found in the solution: {solution:#?}"
    );
    assert_eq!(
        model, solution,
        "the loom model (left, crates/07-shared-memory/src/loom_eventcount.rs) no longer makes \
         the accesses of solutions/07-shared-memory/futex.rs (right): change the model with the \
         solution, so that what loom checks is the protocol the course teaches"
    );
}
