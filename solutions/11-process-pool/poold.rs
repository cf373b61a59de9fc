//! Practice: `poold`, a pre-forked pool server, and `poolc`, its client.
//!
//! Scenario: `poold --socket PATH [--workers N] [--task-timeout MS] [--grace MS]` runs a
//! `crate::pool::Pool` of `pool-worker` processes (found next to its own executable) behind a
//! Unix socket that only its owner may use (mode 0600 from the moment it exists). It prints
//! `ready` on stdout once it accepts connections. Workers are its children: anyone may find them
//! in /proc and kill them, and no task is lost.
//!
//! The protocol, one line each way per request: a client sends `N TASK` (N a number the client
//! chooses, TASK a line for `crate::task::run`) as many as it likes without waiting, and gets
//! `N ok RESULT` or `N error REASON` for each, in the order results come. `stats` answers
//! `workers W queued Q in_flight I done D failed F restarts R`; `workers N` changes the number
//! of workers and answers `ok workers N`; anything else is answered `error ...`.
//!
//! Signals: SIGHUP replaces every worker one at a time (`poold: rolling restart` on stderr).
//! SIGTERM or SIGINT drains: the socket file is removed and no connection accepted, tasks sent
//! afterwards are answered `N error shutting down`, every accepted task finishes (for at most
//! `--grace`, default 10 s; then its answer is `error pool shut down`), every worker is
//! stopped, and poold exits 0.
//!
//! `poolc --socket PATH run [FILE]` sends every non-blank line of FILE (or stdin) as a task
//! numbered by its line, all at once, prints each answer line as it comes and exits 0 once every
//! task has one (1 if the connection ends first). `poolc --socket PATH stats` and
//! `poolc --socket PATH workers N` print the server's answer. Usage and connection errors are
//! one line on stderr and exit status 2.
//!
//! Goal: `server_main` and `client_main`.
//! Chapter: `docs/src/11-process-pool.md#poold`. Check: `cargo xtask check process-pool/poold`.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::sys::stat::{Mode, umask};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::pool::{Config, Done, Outcome, Pool};

struct ServerArgs {
    socket: PathBuf,
    workers: usize,
    task_timeout: Option<Duration>,
    grace: Duration,
}

fn parse_server(args: &[String]) -> Result<ServerArgs, String> {
    let mut socket = None;
    let mut workers = 4;
    let mut task_timeout = None;
    let mut grace = Duration::from_secs(10);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let millis = |v: &String| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{flag} expects milliseconds, got {v:?}"))
        };
        match flag.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--workers" => {
                let v = value()?;
                workers = v
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(format!("--workers expects a number >= 1, got {v:?}"))?;
            }
            "--task-timeout" => task_timeout = Some(millis(value()?)?),
            "--grace" => grace = millis(value()?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(ServerArgs {
        socket: socket.ok_or("--socket PATH is required")?,
        workers,
        task_timeout,
        grace,
    })
}

/// `poold`'s main: serves until SIGTERM or SIGINT.
pub fn server_main(args: Vec<String>) -> ExitCode {
    const USAGE: &str = "usage: poold --socket PATH [--workers N] [--task-timeout MS] [--grace MS]";
    let args = match parse_server(&args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("poold: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poold: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &ServerArgs) -> io::Result<()> {
    // Before any thread exists: the handlers are in place before a client can connect, and the
    // umask (process-wide) cannot race another thread's file creation.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&args.socket);
    umask(old);
    let listener =
        bound.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", args.socket.display())))?;
    let _remove = RemoveOnDrop(args.socket.clone());

    let worker = std::env::current_exe()?.with_file_name("pool-worker");
    let mut config = Config::new(&worker, args.workers);
    config.task_timeout = args.task_timeout;
    let pool = Pool::start(config).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot start the workers ({}): {e}", worker.display()),
        )
    })?;
    let pool = Arc::new(pool);

    let stopping = Arc::new(AtomicBool::new(false));
    let signal_thread = {
        let pool = Arc::clone(&pool);
        let stopping = Arc::clone(&stopping);
        let handle = signals.handle();
        let socket = args.socket.clone();
        let thread = thread::spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    eprintln!("poold: rolling restart");
                    pool.rolling_restart();
                } else {
                    stopping.store(true, Ordering::SeqCst);
                    // Wake the accept loop: it sees the flag on this connection.
                    let _ = UnixStream::connect(&socket);
                    return;
                }
            }
        });
        (handle, thread)
    };

    println!("ready");
    io::stdout().flush()?;
    let connections: Mutex<Vec<(UnixStream, JoinHandle<()>)>> = Mutex::new(Vec::new());
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            // std's accept already retries EINTR; what is left is EMFILE and friends: refuse
            // this one, keep serving the others.
            Err(e) => {
                eprintln!("poold: accept: {e}");
                continue;
            }
        };
        let Ok(control) = stream.try_clone() else {
            continue;
        };
        let pool = Arc::clone(&pool);
        let handle = thread::spawn(move || connection(stream, &pool));
        let mut list = connections.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|(_, h)| !h.is_finished());
        list.push((control, handle));
    }
    // Stop accepting: nobody can connect once the file is gone and the socket closed.
    drop(listener);
    let _ = std::fs::remove_file(&args.socket);
    eprintln!("poold: draining");
    let stats = pool.shutdown(args.grace);
    // Every accepted task is answered; unblock the readers and let the writers finish.
    let list = std::mem::take(&mut *connections.lock().unwrap_or_else(PoisonError::into_inner));
    for (stream, handle) in list {
        let _ = stream.shutdown(Shutdown::Read);
        let _ = handle.join();
    }
    signal_thread.0.close();
    let _ = signal_thread.1.join();
    eprintln!(
        "poold: stopped: done {} failed {} restarts {}",
        stats.done, stats.failed, stats.restarts
    );
    Ok(())
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What a connection's writer thread writes.
enum Out {
    /// A task was accepted under pool id `id` for the client's number `n`.
    Submitted {
        id: u64,
        n: String,
    },
    Done(Done),
    Line(String),
}

fn connection(stream: UnixStream, pool: &Pool) {
    let (out_tx, out_rx) = mpsc::channel::<Out>();
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let writer = thread::spawn(move || {
        let mut out = BufWriter::new(write_half);
        let mut numbers: HashMap<u64, String> = HashMap::new();
        let mut early: HashMap<u64, Done> = HashMap::new();
        // The channel ends when the reader and every pending task's reply sender are gone.
        for msg in out_rx {
            let line = match msg {
                Out::Line(line) => line,
                Out::Submitted { id, n } => match early.remove(&id) {
                    Some(done) => answer_line(&n, &done.outcome),
                    None => {
                        numbers.insert(id, n);
                        continue;
                    }
                },
                Out::Done(done) => match numbers.remove(&done.id) {
                    Some(n) => answer_line(&n, &done.outcome),
                    None => {
                        // The result beat the reader's note of its number.
                        early.insert(done.id, done);
                        continue;
                    }
                },
            };
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                // The client is gone; keep draining so the pool's sends never fail loudly.
                continue;
            }
        }
        // Every answer is written: say so. Closing our descriptor is not enough, because the
        // server keeps a clone of this socket to unblock the reader at shutdown.
        let _ = out.flush();
        let _ = out.get_ref().shutdown(Shutdown::Write);
    });
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let forward_tx = out_tx.clone();
    let forwarder = thread::spawn(move || {
        for done in done_rx {
            let _ = forward_tx.send(Out::Done(done));
        }
    });
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let reply = request(pool, line, &done_tx, &out_tx);
        if let Some(reply) = reply {
            let _ = out_tx.send(Out::Line(reply));
        }
    }
    drop(done_tx);
    drop(out_tx);
    let _ = forwarder.join();
    let _ = writer.join();
}

/// Handles one request line; returns a line to answer at once, if any.
fn request(
    pool: &Pool,
    line: &str,
    done_tx: &Sender<Done>,
    out_tx: &Sender<Out>,
) -> Option<String> {
    if line == "stats" {
        let s = pool.stats();
        return Some(format!(
            "workers {} queued {} in_flight {} done {} failed {} restarts {}",
            s.workers, s.queued, s.in_flight, s.done, s.failed, s.restarts
        ));
    }
    let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
    if head == "workers" {
        return Some(match rest.trim().parse::<usize>() {
            Ok(n) if n >= 1 => {
                pool.resize(n);
                format!("ok workers {n}")
            }
            _ => format!("error workers expects a number >= 1, got {rest:?}"),
        });
    }
    if head.parse::<u64>().is_err() {
        return Some(format!(
            "error expected `N TASK`, `stats` or `workers N`, got {line:?}"
        ));
    }
    match pool.submit(rest, done_tx) {
        Ok(id) => {
            let _ = out_tx.send(Out::Submitted {
                id,
                n: head.to_string(),
            });
            None
        }
        Err(e) => Some(format!("{head} error {e}")),
    }
}

fn answer_line(n: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(result) => format!("{n} ok {result}"),
        Outcome::Failed(reason) => format!("{n} error {reason}"),
        Outcome::TimedOut => format!("{n} error timed out"),
        Outcome::Quarantined => format!("{n} error quarantined: its workers kept dying"),
    }
}

/// `poolc`'s main.
pub fn client_main(args: Vec<String>) -> ExitCode {
    const USAGE: &str = "usage: poolc --socket PATH (run [FILE] | stats | workers N)";
    let (socket, command) = match args.as_slice() {
        [flag, socket, command @ ..] if flag == "--socket" && !command.is_empty() => {
            (Path::new(socket), command)
        }
        _ => {
            eprintln!("poolc: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        [run] if run == "run" => run_tasks(socket, None),
        [run, file] if run == "run" => run_tasks(socket, Some(Path::new(file))),
        [stats] if stats == "stats" => one_request(socket, "stats"),
        [workers, n] if workers == "workers" => one_request(socket, &format!("workers {n}")),
        _ => {
            eprintln!("poolc: {USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("poolc: {e}");
            ExitCode::from(2)
        }
    }
}

fn connect(socket: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot connect to {}: {e}", socket.display()),
        )
    })
}

fn one_request(socket: &Path, line: &str) -> io::Result<ExitCode> {
    let mut stream = connect(socket)?;
    writeln!(stream, "{line}")?;
    stream.shutdown(Shutdown::Write)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    print!("{answer}");
    Ok(if answer.starts_with("error") || answer.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_tasks(socket: &Path, file: Option<&Path>) -> io::Result<ExitCode> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        None => io::read_to_string(io::stdin())?,
    };
    let tasks: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect();
    let stream = connect(socket)?;
    let mut write_half = stream.try_clone()?;
    let mut waiting: HashSet<String> = tasks.iter().map(|(n, _)| n.to_string()).collect();
    // Pipelined: a thread sends every task while this one prints answers as they come. Sending
    // all first and reading afterwards would deadlock once both sockets' buffers are full.
    let sender = thread::spawn(move || -> io::Result<()> {
        let mut out = BufWriter::new(&mut write_half);
        for (n, task) in &tasks {
            writeln!(out, "{n} {task}")?;
        }
        out.flush()?;
        drop(out);
        write_half.shutdown(Shutdown::Write)
    });
    let stdout = io::stdout();
    let mut stdout = stdout.lock();
    for line in BufReader::new(stream).lines() {
        let line = line?;
        let n = line.split(' ').next().unwrap_or_default();
        waiting.remove(n);
        writeln!(stdout, "{line}")?;
        if waiting.is_empty() {
            break;
        }
    }
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("sender panicked")));
    if let Err(e) = sent {
        eprintln!("poolc: sending tasks: {e}");
    }
    if waiting.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "poolc: connection ended with {} task(s) unanswered",
            waiting.len()
        );
        Ok(ExitCode::FAILURE)
    }
}
