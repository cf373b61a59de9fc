//! proclings week 1, days 4-7: redirection, the log capture tool and the command executor.
//!
//! Each module is one exercise: the stub under `exercises/02-redirection/`, or with the
//! `solution` feature the reference solution under `solutions/02-redirection/`. The chapter is
//! `docs/src/02-redirection.md`.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/stdio_modes.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod stdio_modes;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/stdio_modes.rs"]
pub mod stdio_modes;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/append_truncate.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod append_truncate;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/append_truncate.rs"]
pub mod append_truncate;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/merge_streams.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod merge_streams;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/merge_streams.rs"]
pub mod merge_streams;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/feed_and_read.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod feed_and_read;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/feed_and_read.rs"]
pub mod feed_and_read;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/stream_lines.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod stream_lines;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/stream_lines.rs"]
pub mod stream_lines;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/logcap.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod logcap;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/logcap.rs"]
pub mod logcap;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/02-redirection/wish.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod wish;
#[cfg(feature = "solution")]
#[path = "../../../solutions/02-redirection/wish.rs"]
pub mod wish;
