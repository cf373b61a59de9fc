//! proclings week 1, days 4-7: redirection, the log capture tool and the command executor.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/wish.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod wish;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/wish.rs"]
pub mod wish;
