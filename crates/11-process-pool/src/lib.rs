//! proclings week 7: a pre-forked process pool that loses no task when its workers die.
//!
//! One module per exercise: the learner's stub from `exercises/11-process-pool/`, or with the
//! `solution` feature the reference solution from `solutions/11-process-pool/`. `task` is the
//! work the workers do (not an exercise). The binaries in `src/bin/` other than `demo` are thin
//! drivers: `pool-worker` is the worker program, `poold` and `poolc` the practice project.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/11-process-pool/death_watch.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod death_watch;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/death_watch.rs"]
pub mod death_watch;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/11-process-pool/frame.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod frame;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/frame.rs"]
pub mod frame;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/11-process-pool/pool.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pool;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/pool.rs"]
pub mod pool;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/11-process-pool/poold.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod poold;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/poold.rs"]
pub mod poold;
pub mod task;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/11-process-pool/worker_loop.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod worker_loop;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/worker_loop.rs"]
pub mod worker_loop;
