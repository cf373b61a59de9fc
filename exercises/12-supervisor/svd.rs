//! Practice: svd and svctl, a service supervisor.
//!
//! Scenario: a machine runs a handful of long-lived programs (a database, a web server, a worker)
//! that must start in order, come back when they crash (but not in a tight loop), stop cleanly,
//! and be visible to the people and tools that watch them. `svd` is the supervisor that does
//! it; `svctl` is how a person or a script talks to it.
//!
//! Goal: implement [`svd_main`] and [`svctl_main`]. The contract, which the tests check from
//! outside through the two binaries:
//!
//! - `svd --config FILE [--socket S] [--metrics 127.0.0.1:PORT] [--log-dir D] [--allow-uid U]`
//!   loads the `[service.NAME]` tables of FILE (the keys are in the chapter). A bad config is
//!   refused before anything starts: one line `svd: FILE:LINE: reason` on stderr, exit 2.
//! - Every service runs in its own process group, with `SVD_SERVICE=NAME` and, for
//!   `ready = "notify"`, `NOTIFY_SOCKET` in its environment; its stdout and stderr go, one
//!   timestamped line at a time, to `D/NAME.log`, rotated by size (`NAME.log.1`, ...).
//! - A service starts once everything in its `depends_on` is started (or ready, as asked);
//!   `READY=1` from one of the service's own processes, or a successful connect probe, makes it
//!   ready. A service that dies is restarted as its `restart` policy says, after an exponential
//!   backoff with jitter and a cap, and marked failed when it died `burst` times within
//!   `interval_s`.
//! - While a service is up (`running`, or `ready` when it has a readiness), its `health` check
//!   runs every `interval_s`, the first one `interval_s` after it came up: an `exec` check
//!   passes when the program exits 0, a `connect` check when the address accepts a connection
//!   within `timeout_s`, while svd goes on serving everything else. A check still running at
//!   `timeout_s` has failed, and must not outlive its timeout, its service (stopped, dead,
//!   restarted) or svd, nor stay a zombie. `threshold` failures in a row restart the service
//!   even though its process is alive (`svd: NAME health check failed (N/T)` for each, then
//!   `svd: NAME unhealthy: restarting`); a check that passes resets the count.
//! - svd is a child subreaper: a service that daemonizes is still tracked and stopped, and
//!   every process re-parented to it is reaped.
//! - Events are printed on stdout, one line each, beginning `svd: ` (`svd: NAME started pid P`,
//!   `svd: NAME ready`, `svd: NAME exited exit=1`, `svd: NAME backoff 100ms`, `svd: NAME failed`,
//!   `svd: NAME stopping`, `svd: NAME stopped`, `svd: listening on S`, ...).
//! - SIGTERM or SIGINT: every service stopped (its stop signal to the group, the stop timeout,
//!   SIGKILL) in reverse dependency order, then exit 0, leaving no socket file. SIGHUP reloads
//!   the config: new services start, removed ones stop, changed ones restart, the rest are left
//!   alone; a bad new config is refused with its reason and the old one kept.
//! - The control socket (mode 0600; a connection from any uid other than the allowed one, by
//!   default svd's own, is refused) speaks one request line per connection: `status`,
//!   `start NAME`, `stop NAME`, `restart NAME`, `logs NAME [-f]`, `reload`, answered as
//!   `crate::control` says (`ok` and lines, or `error: REASON`); start, stop and restart answer
//!   once the service got there (`ok` and `NAME STATE`).
//! - `--metrics ADDR` serves the Prometheus text format on `http://ADDR/metrics`: per service
//!   `svd_service_up`, `svd_service_restarts_total`, `svd_service_state{state=...}`,
//!   `svd_service_backoff_seconds` and the histogram `svd_service_start_to_ready_seconds`.
//! - `svctl [--socket S] status|start|stop|restart|logs|reload ...` prints the answer (`status`:
//!   one line per service, `NAME STATE PID UPTIME RESTARTS LAST_EXIT`); exit 0 on `ok`, 1 when
//!   svd answered an error, 2 on a usage error or when svd cannot be reached, or when the
//!   socket is served by another uid than ours or root's (`SO_PEERCRED`).
//! - Others may wish svd harm. Its directories (the runtime one, `$TMPDIR/svd-UID` without
//!   `XDG_RUNTIME_DIR`; the socket's; the logs') are created 0700 and refused (exit 1, one line)
//!   when another uid owns them or group or others may write into them; logs are 0600 and never
//!   opened through a symlink. Nothing a client or a service does may stop supervision: no
//!   read of or write to a client in the loop (a deadline for the whole request), a log line
//!   capped at `logs::MAX_LINE` and a bounded read per wake-up, EMFILE at `accept` handled,
//!   metrics connections bounded and dropped when idle. A stop sends each process its signal
//!   once, and services start with every signal at its default action and an empty mask.
//!
//! The pieces are the week's exercises: the config, the reaper, readiness, the backoff, the
//! logs and the control socket. What is new here is the loop that ties them together: one
//! `poll` that sleeps until something happens (a signal, a connection, a notification, a line of
//! output, a timer), and never wakes up just to look.
//!
//! Chapter: `docs/src/12-supervisor.md#svd`. Check it with `cargo xtask check supervisor/svd`.

use std::process::ExitCode;

/// `svd`'s main: supervises the services of `--config` until SIGTERM or SIGINT, then exits 0;
/// a bad config or bad arguments: one line on stderr, exit 2.
pub fn svd_main(args: Vec<String>) -> ExitCode {
    // TODO: load the config (nothing starts if it is bad), bind the control socket owner-only,
    // serve the metrics, and run the event loop until every service is stopped.
    todo!("svd")
}

/// `svctl`'s main: sends one request to svd and prints the answer.
pub fn svctl_main(args: Vec<String>) -> ExitCode {
    // TODO: parse the command, connect to the socket, send the request line, print the answer.
    todo!("svctl")
}
