//! `supervisor-notify`: a stand-in service for the readiness tests, independent of the exercises.
//!
//! `supervisor-notify [--child] MESSAGE...` reads one line from stdin before each MESSAGE, then
//! sends the MESSAGE (`\n` written as the two characters `\n` becomes a newline) as one datagram
//! to `$NOTIFY_SOCKET` (a path, or `@NAME` for an abstract name), and prints `sent MESSAGE`.
//! At EOF on stdin it exits 0. With `--child` each message is sent by a child process of the
//! same process group instead (a helper of the service, which is allowed to speak for it).
//! So a test decides exactly when each message goes out, without any sleep.

use std::io::BufRead;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::ExitCode;

fn send(message: &str) -> std::io::Result<()> {
    let target = std::env::var("NOTIFY_SOCKET")
        .map_err(|_| std::io::Error::other("NOTIFY_SOCKET is not set"))?;
    let addr = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(&target)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(message.replace("\\n", "\n").as_bytes(), &addr)?;
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os(ONCE).is_some() {
        // The child of `--child`: send, say so, then live until the parent's pipe closes (the
        // parent exited), so that the receiver can still look at the sender in /proc.
        let message = args.first().cloned().unwrap_or_default();
        if let Err(e) = send(&message) {
            eprintln!("supervisor-notify: cannot send {message:?}: {e}");
            return ExitCode::from(1);
        }
        println!("sent {message}");
        std::io::stdin().lock().lines().for_each(drop);
        return ExitCode::SUCCESS;
    }
    let child = args.first().is_some_and(|a| a == "--child");
    if child {
        args.remove(0);
    }
    let mut lines = std::io::stdin().lock().lines();
    // Write ends of the pipes our children wait on: held until we exit.
    let mut keep = Vec::new();
    for message in args {
        if !matches!(lines.next(), Some(Ok(_))) {
            return ExitCode::SUCCESS;
        }
        if child {
            let spawned = std::io::pipe().and_then(|(reader, writer)| {
                keep.push(writer);
                std::process::Command::new(std::env::current_exe()?)
                    .arg(&message)
                    .stdin(reader)
                    .env(ONCE, "1")
                    .spawn()
            });
            if let Err(e) = spawned {
                eprintln!("supervisor-notify: cannot start a child sender: {e}");
                return ExitCode::from(1);
            }
        } else {
            if let Err(e) = send(&message) {
                eprintln!("supervisor-notify: cannot send {message:?}: {e}");
                return ExitCode::from(1);
            }
            println!("sent {message}");
        }
    }
    // Stay alive until stdin closes: the service "runs".
    lines.for_each(drop);
    drop(keep);
    ExitCode::SUCCESS
}

const ONCE: &str = "SUPERVISOR_NOTIFY_ONCE";
