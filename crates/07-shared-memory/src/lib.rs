//! proclings week 4: shared memory and cross-process synchronisation.
//!
//! One module per exercise: the learner's stub from `exercises/07-shared-memory/`, or with the
//! `solution` feature the reference solution from `solutions/07-shared-memory/`. The binaries
//! `shm-peer` and `shmchan-peer` in `src/bin/` are thin drivers: the tests run them as the
//! second process, because shared memory between two threads of one process hides the very
//! problems (layout, pointers, lifetimes, a peer that dies) this topic is about.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/file_locks.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod file_locks;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/file_locks.rs"]
pub mod file_locks;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/futex.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod futex;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/futex.rs"]
pub mod futex;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/mqueue.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod mqueue;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/mqueue.rs"]
pub mod mqueue;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/ring.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod ring;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/ring.rs"]
pub mod ring;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/robust_mutex.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod robust_mutex;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/robust_mutex.rs"]
pub mod robust_mutex;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/segment.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod segment;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/segment.rs"]
pub mod segment;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/07-shared-memory/shmchan.rs"]
#[allow(unused_variables, unused_imports, dead_code)]
// a stub's parameters are used once it is solved
pub mod shmchan;
#[cfg(feature = "solution")]
#[path = "../../../solutions/07-shared-memory/shmchan.rs"]
pub mod shmchan;

pub mod support;

// A loom model of the futex exercise's EventCount (the solution's protocol): `cargo test -p
// shared-memory --lib loom`.
#[cfg(test)]
mod loom_eventcount;
