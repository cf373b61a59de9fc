//! `sv-service`: a service for svd's tests and benches, one behaviour per mode.
//!
//! - `sv-service run [--tag T] [--say TEXT] [--lines N] [--listen ADDR N] [--announce PATH]
//!   [--gate FIFO] [--ready] [--ignore-term]`, each step in the order given: prints TEXT on stdout
//!   and `TEXT (stderr)` on stderr, N numbered lines, listens on ADDR until it has accepted N
//!   connections and then closes the listener (alive but no longer answering: a hung service),
//!   appends its pid to PATH, waits until someone opens FIFO for writing and closes it, sends
//!   `READY=1` to `$NOTIFY_SOCKET`, then waits for SIGTERM (prints `got SIGTERM` and exits 0)
//!   or, with `--ignore-term`, forever.
//! - `sv-service exit N`: exits with status N at once (a crash loop under `restart`).
//! - `sv-service daemonize PIDFILE`: the classic double fork: the grandchild, in a session of
//!   its own, writes its pid to PIDFILE and waits forever; the original process exits 0 once the
//!   intermediate child is gone.
//! - `sv-service answer SOCKET TEXT`: listens on the Unix socket SOCKET, prints `listening`,
//!   answers the first client with TEXT (and a newline), then exits: a stand-in for a server
//!   that is not svd, run as another user by the tests.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::process::ExitCode;

#[path = "../shared/reuseport.rs"]
mod reuseport;

use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use nix::unistd::{ForkResult, fork, pause, setsid};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("exit") => ExitCode::from(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1u8)),
        Some("daemonize") if args.len() == 2 => daemonize(&args[1]),
        Some("answer") if args.len() == 3 => answer(&args[1], &args[2]),
        _ => {
            eprintln!(
                "usage: sv-service run [--tag T] [--say T] [--lines N] [--listen ADDR N] [--announce P] [--gate FIFO] [--ready] [--ignore-term] | exit N | daemonize PIDFILE | answer SOCKET TEXT"
            );
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> ExitCode {
    let mut ready = false;
    let mut ignore_term = false;
    let mut it = args.iter();
    // SIGTERM is blocked first, so that it is waited for with sigwait and never lost.
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ready" => ready = true,
            // A word that marks the process as one test's (found in /proc/PID/cmdline).
            "--tag" => {
                it.next();
            }
            "--lines" => {
                let n: u32 = it.next().and_then(|n| n.parse().ok()).expect("--lines N");
                let mut out = std::io::stdout().lock();
                for i in 1..=n {
                    let _ = writeln!(out, "line {i} of {n}");
                }
            }
            "--ignore-term" => ignore_term = true,
            "--listen" => {
                let addr = it.next().expect("--listen ADDR N");
                let n: u32 = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--listen ADDR N");
                listen_then_close(addr, n);
            }
            "--say" => {
                let text = it.next().map(String::as_str).unwrap_or("");
                println!("{text}");
                eprintln!("{text} (stderr)");
            }
            "--announce" => {
                let path = it.next().expect("--announce PATH");
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)
                    .expect("announce file");
                // One write: a reader of a FIFO sees the whole line at once.
                f.write_all(format!("{}\n", std::process::id()).as_bytes())
                    .expect("announce");
            }
            "--gate" => {
                let path = it.next().expect("--gate FIFO");
                let mut f = std::fs::File::open(path).expect("gate FIFO");
                let mut sink = Vec::new();
                let _ = f.read_to_end(&mut sink);
            }
            other => {
                eprintln!("sv-service: unknown option {other}");
                return ExitCode::from(2);
            }
        }
    }
    let _ = std::io::stdout().flush();
    // The disposition is set before READY=1: a supervisor that stops a ready service must meet
    // the behaviour the test asked for.
    if ignore_term {
        // SAFETY: SIG_IGN installs no handler code; nothing runs asynchronously.
        unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) }.expect("ignore SIGTERM");
    } else {
        term.thread_block().expect("block SIGTERM");
    }
    if ready && let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        let sock = UnixDatagram::unbound().expect("datagram socket");
        sock.send_to(b"STATUS=serving\nREADY=1\n", path)
            .expect("notify");
    }
    if ignore_term {
        loop {
            pause();
        }
    }
    let _ = term.wait();
    println!("got SIGTERM");
    ExitCode::SUCCESS
}

/// Listens on `addr` with `SO_REUSEPORT`, so that a test can hold the port (bound, not listening)
/// for the whole test and no other program can take it; accepts `n` connections (printing one
/// line each), then closes the listener: a connect to `addr` is refused from then on.
fn listen_then_close(addr: &str, n: u32) {
    let addr: std::net::SocketAddrV4 = addr.parse().expect("--listen IPV4:PORT");
    let fd = reuseport::bind_reuseport(addr).expect("bind with SO_REUSEPORT");
    rustix::net::listen(&fd, 16).expect("listen");
    let listener = std::net::TcpListener::from(fd);
    for i in 1..=n {
        let (conn, _) = listener.accept().expect("accept");
        drop(conn);
        println!("accepted connection {i} of {n}");
    }
    drop(listener);
    println!("stopped listening");
}

fn daemonize(pidfile: &str) -> ExitCode {
    // SAFETY: this program is single-threaded, so the child may do anything after fork.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Parent { child } => {
            // Wait for the intermediate child: by then the daemon is re-parented (to svd, the
            // subreaper) and this process can exit like a classic daemon's launcher.
            let _ = nix::sys::wait::waitpid(child, None);
            ExitCode::SUCCESS
        }
        ForkResult::Child => {
            setsid().expect("setsid");
            // SAFETY: still single-threaded.
            match unsafe { fork() }.expect("fork") {
                ForkResult::Parent { .. } => std::process::exit(0),
                ForkResult::Child => {
                    let tmp = format!("{pidfile}.tmp");
                    std::fs::write(&tmp, format!("{}\n", std::process::id())).expect("pid file");
                    std::fs::rename(&tmp, pidfile).expect("pid file");
                    loop {
                        pause();
                    }
                }
            }
        }
    }
}

fn answer(socket: &str, text: &str) -> ExitCode {
    let listener = match std::os::unix::net::UnixListener::bind(socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sv-service: bind {socket}: {e}");
            return ExitCode::from(1);
        }
    };
    // Anyone may connect: the point is whether the client checks who answers.
    let _ = std::fs::set_permissions(socket, std::os::unix::fs::PermissionsExt::from_mode(0o777));
    println!("listening");
    let _ = std::io::stdout().flush();
    if let Ok((mut stream, _)) = listener.accept() {
        let _ = writeln!(stream, "{text}");
    }
    let _ = std::fs::remove_file(socket);
    ExitCode::SUCCESS
}
