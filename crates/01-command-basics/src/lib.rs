//! proclings week 1, days 1-3: running commands.
//!
//! One module per exercise. Each is declared twice: the learner's stub from `exercises/` by
//! default, the reference solution from `solutions/` with `--features solution`. The chapter is
//! `docs/src/01-command-basics.md`; check an exercise with `cargo xtask check command-basics/NAME`.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/01-command-basics/exit_status.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod exit_status;
#[cfg(feature = "solution")]
#[path = "../../../solutions/01-command-basics/exit_status.rs"]
pub mod exit_status;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/01-command-basics/capture_output.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod capture_output;
#[cfg(feature = "solution")]
#[path = "../../../solutions/01-command-basics/capture_output.rs"]
pub mod capture_output;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/01-command-basics/environment.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod environment;
#[cfg(feature = "solution")]
#[path = "../../../solutions/01-command-basics/environment.rs"]
pub mod environment;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/01-command-basics/spawn_errors.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod spawn_errors;
#[cfg(feature = "solution")]
#[path = "../../../solutions/01-command-basics/spawn_errors.rs"]
pub mod spawn_errors;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/01-command-basics/timeout.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod timeout;
#[cfg(feature = "solution")]
#[path = "../../../solutions/01-command-basics/timeout.rs"]
pub mod timeout;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/01-command-basics/fork_exec.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod fork_exec;
#[cfg(feature = "solution")]
#[path = "../../../solutions/01-command-basics/fork_exec.rs"]
pub mod fork_exec;
