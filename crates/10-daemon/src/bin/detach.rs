//! The `daemon-detach` driver for the `detach` tests: detaches with the learner's
//! `detach::detach`, then behaves as the test asks and waits to be killed.
//!
//! `daemon-detach --umask OCTAL --report SOCKET [--gate FIFO] [--fail MESSAGE] [--die]
//! [--atexit FILE]`: with
//! `--die` the daemon exits during start-up without a word; with `--gate`,
//! start-up waits for a line on the FIFO (the test decides when the daemon is ready); with
//! `--fail` start-up fails with MESSAGE. The daemon first sends its pid as a datagram to SOCKET
//! (keeping that socket open: an fd it opened on purpose); if nothing fails it reports ready and
//! sleeps. `--atexit FILE` registers, before detaching, an atexit(3) handler that appends
//! `exit handler ran in pid N` to FILE: a forked child that leaves with exit(3) instead of
//! _exit(2) runs it (and flushes the launcher's C stdio buffers) a second time.

use std::ffi::CString;
use std::io::BufRead;
use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;

use nix::sys::stat::Mode;

/// The file the atexit handler appends to.
static NOTES: OnceLock<CString> = OnceLock::new();

extern "C" fn note_exit() {
    let Some(path) = NOTES.get() else { return };
    // SAFETY: getpid has no preconditions.
    let line = format!("exit handler ran in pid {}\n", unsafe { libc::getpid() });
    // SAFETY: `path` is a NUL-terminated string that lives as long as the process; `line` is a
    // live buffer of `line.len()` bytes; the fd is closed once.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
            0o600,
        );
        if fd >= 0 {
            libc::write(fd, line.as_ptr().cast(), line.len());
            libc::close(fd);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let umask = value("--umask")
        .and_then(|u| u32::from_str_radix(&u, 8).ok())
        .unwrap_or(0o022);
    let Some(report) = value("--report") else {
        eprintln!("daemon-detach: --report SOCKET is required");
        std::process::exit(2);
    };
    if let Some(notes) = value("--atexit") {
        let _ = NOTES.set(CString::new(notes).expect("a path without NUL"));
        // SAFETY: registers a plain extern "C" function with no arguments.
        unsafe { libc::atexit(note_exit) };
    }
    let ready = match daemon::detach::detach(Mode::from_bits_truncate(umask)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daemon-detach: cannot detach: {e}");
            std::process::exit(1);
        }
    };
    // The pid goes to the test first, so that it can guard (and reap) even a daemon that fails.
    let sock = match UnixDatagram::unbound().and_then(|s| {
        s.send_to(std::process::id().to_string().as_bytes(), &report)?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => ready.fail(&format!("cannot report to {report}: {e}")),
    };
    if args.iter().any(|a| a == "--die") {
        // Dies without a word on the readiness pipe.
        std::process::exit(3);
    }
    if let Some(gate) = value("--gate") {
        let line = std::fs::File::open(&gate)
            .map(|f| {
                let mut l = String::new();
                let _ = std::io::BufReader::new(f).read_line(&mut l);
                l
            })
            .unwrap_or_default();
        if line.trim() != "ok" {
            ready.fail(&format!("gate said {:?}", line.trim()));
        }
    }
    if let Some(message) = value("--fail") {
        ready.fail(&message);
    }
    if ready.ready().is_err() {
        std::process::exit(1);
    }
    loop {
        // SIGTERM or SIGKILL ends it; pause(2) sleeps until a signal arrives.
        nix::unistd::pause();
        let _ = &sock;
    }
}
