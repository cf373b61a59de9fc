//! The `daemon-activated` driver for the `notify` tests: a new-style daemon built on the
//! learner's `notify::listen_fds` and `notify::notify`.
//!
//! It serves `hello` on the one socket passed to it, after sending `READY=1` and a `STATUS=`
//! line; on SIGTERM it sends `STOPPING=1` and exits 0. Without exactly one passed socket it
//! says so on stderr and exits 2.
//!
//! `daemon-activated --twice` calls `listen_fds` a second time after the first and says on
//! stderr `second call: N socket(s)` before it goes on (a second call must take nothing: the
//! first one's `OwnedFd`s own the fds).

use std::io::Write;
use std::os::unix::net::UnixListener;

use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;

fn main() {
    let fds = match daemon::notify::listen_fds() {
        Ok(fds) => fds,
        Err(e) => {
            eprintln!("daemon-activated: {e}");
            std::process::exit(2);
        }
    };
    if fds.len() != 1 {
        eprintln!(
            "daemon-activated: expected 1 passed socket, got {}",
            fds.len()
        );
        std::process::exit(2);
    }
    if std::env::args().nth(1).as_deref() == Some("--twice") {
        match daemon::notify::listen_fds() {
            Ok(again) => {
                eprintln!("second call: {} socket(s)", again.len());
                if !again.is_empty() {
                    // Two owners of one fd: exit before either closes it.
                    std::process::exit(3);
                }
            }
            Err(e) => {
                eprintln!("second call: error: {e}");
                std::process::exit(3);
            }
        }
    }
    let Some(fd) = fds.into_iter().next() else {
        std::process::exit(2);
    };
    let listener = UnixListener::from(fd);
    let mut signals = Signals::new([SIGTERM]).expect("register SIGTERM");
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = daemon::notify::notify("STOPPING=1");
            std::process::exit(0);
        }
    });
    let sent = daemon::notify::notify("READY=1\nSTATUS=serving hello");
    if let Err(e) = sent {
        eprintln!("daemon-activated: notify: {e}");
        std::process::exit(1);
    }
    for stream in listener.incoming() {
        match stream {
            Ok(mut s) => {
                let _ = writeln!(s, "hello");
            }
            Err(e) => eprintln!("daemon-activated: accept: {e}"),
        }
    }
}
