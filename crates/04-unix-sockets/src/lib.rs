//! proclings week 2, days 3-4: Unix domain sockets.
//!
//! One module per exercise. Without the `solution` feature each module is the learner's stub
//! from `exercises/04-unix-sockets/`; with it, the reference solution from
//! `solutions/04-unix-sockets/`. The chapter is `docs/src/04-unix-sockets.md`.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/echo.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod echo;
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/echo.rs"]
pub mod echo;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/framing.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod framing;
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/framing.rs"]
pub mod framing;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/datagrams.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod datagrams;
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/datagrams.rs"]
pub mod datagrams;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/socket_files.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod socket_files;
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/socket_files.rs"]
pub mod socket_files;

#[cfg(target_os = "linux")]
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/abstract_peercred.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod abstract_peercred;
#[cfg(target_os = "linux")]
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/abstract_peercred.rs"]
pub mod abstract_peercred;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/fd_passing.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod fd_passing;
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/fd_passing.rs"]
pub mod fd_passing;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/04-unix-sockets/kv_server.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod kv_server;
#[cfg(feature = "solution")]
#[path = "../../../solutions/04-unix-sockets/kv_server.rs"]
pub mod kv_server;
