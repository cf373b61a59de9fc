//! Practice: `poold`, a pre-forked pool server, and `poolc`, its client.
//!
//! Scenario: `poold --socket PATH [--workers N] [--max-workers M] [--task-timeout MS]
//! [--grace MS]` runs a `crate::pool::Pool` of `pool-worker` processes (found next to its own
//! executable) behind a Unix socket that only its owner may use (mode 0600 from the moment it
//! exists). It prints `ready` on stdout once it accepts connections. Workers are its children:
//! anyone may find them in /proc and kill them, and no task is lost.
//!
//! One poold per socket: a socket file left by a poold that was killed (nobody accepts on it,
//! `connect` fails with ECONNREFUSED) is replaced; while another poold serves the path, a second
//! one refuses with a one-line error and exit status 2 (an exclusive lock on `PATH.lock` says
//! which). poold removes the socket file it created and no other file.
//!
//! The protocol, one line each way per request: a client sends `N TASK` (N a number the client
//! chooses, TASK a line for `crate::task::run`) as many as it likes without waiting, and gets
//! `N ok RESULT` or `N error REASON` for each, in the order results come. `stats` answers
//! `workers W queued Q in_flight I done D failed F restarts R`; `workers N` changes the number
//! of workers (at most M: default four per CPU) and answers `ok workers N`; anything else is
//! answered `error ...`. Every line gets an answer: one that is not UTF-8, or longer than
//! 64 KiB (answered before its end arrives), gets `N error REASON` (or `error REASON` without a
//! number). A client that sends without reading its answers stops being read once 1024 answers
//! wait for it: what poold holds for one client is bounded.
//!
//! Signals: SIGHUP replaces every worker one at a time (`poold: rolling restart` on stderr).
//! SIGTERM or SIGINT drains: the socket file is removed and no connection accepted, tasks sent
//! afterwards are answered `N error shutting down`, every accepted task finishes (for at most
//! `--grace`, default 10 s; then its answer is `error pool shut down`), every worker is
//! stopped, and poold exits 0 (answers a client does not read are given up after at most
//! a second more). SIGTERM works whatever happened to the socket file. Running out of file
//! descriptors (EMFILE) turns clients away, it does not make poold spin.
//!
//! `poolc --socket PATH run [FILE]` sends every non-blank line of FILE (or stdin) as a task
//! numbered by its line, all at once, prints each answer line as it comes and exits 0 once every
//! task has one (1 if the connection ends first). `poolc --socket PATH stats` and
//! `poolc --socket PATH workers N` print the server's answer. Usage and connection errors are
//! one line on stderr and exit status 2.
//!
//! Goal: `server_main` and `client_main`.
//! Chapter: `docs/src/11-process-pool.md#poold`. Check: `cargo xtask check process-pool/poold`.

use std::process::ExitCode;

/// `poold`'s main: serves until SIGTERM or SIGINT.
pub fn server_main(args: Vec<String>) -> ExitCode {
    // TODO: parse the arguments, bind the socket owner-only, start the pool, serve connections,
    // roll the workers on SIGHUP and drain on SIGTERM/SIGINT.
    todo!("the pool server")
}

/// `poolc`'s main.
pub fn client_main(args: Vec<String>) -> ExitCode {
    // TODO: `run [FILE]`, `stats` and `workers N`.
    todo!("the pool client")
}
