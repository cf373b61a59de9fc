//! proclings week 3: async processes with tokio, and `par`, an async command executor.
//!
//! One module per exercise: the learner's stub from `exercises/06-async-processes/`, or with the
//! `solution` feature the reference solution from `solutions/06-async-processes/`. The binaries
//! in `src/bin/` other than `demo` are thin drivers: the tests run them as child processes, so
//! that signals stay out of the test harness.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/06-async-processes/group_stop.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod group_stop;
#[cfg(feature = "solution")]
#[path = "../../../solutions/06-async-processes/group_stop.rs"]
pub mod group_stop;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/06-async-processes/kill_on_drop.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod kill_on_drop;
#[cfg(feature = "solution")]
#[path = "../../../solutions/06-async-processes/kill_on_drop.rs"]
pub mod kill_on_drop;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/06-async-processes/par.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod par;
#[cfg(feature = "solution")]
#[path = "../../../solutions/06-async-processes/par.rs"]
pub mod par;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/06-async-processes/pool.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pool;
#[cfg(feature = "solution")]
#[path = "../../../solutions/06-async-processes/pool.rs"]
pub mod pool;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/06-async-processes/signals.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod signals;
#[cfg(feature = "solution")]
#[path = "../../../solutions/06-async-processes/signals.rs"]
pub mod signals;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/06-async-processes/stream_many.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod stream_many;
#[cfg(feature = "solution")]
#[path = "../../../solutions/06-async-processes/stream_many.rs"]
pub mod stream_many;
