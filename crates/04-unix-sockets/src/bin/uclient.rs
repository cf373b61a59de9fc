//! The `uclient` binary: a minimal Unix stream client, independent of the exercises.
//!
//! `uclient PATH` or, on Linux, `uclient @NAME` (an abstract name): connects, copies stdin to
//! the socket, shuts down its writing side, and copies the reply to stdout until the server
//! closes. The tests use it as a client in another process (another pid).

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

fn connect(target: &str) -> io::Result<UnixStream> {
    #[cfg(target_os = "linux")]
    if let Some(name) = target.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        return UnixStream::connect_addr(&addr);
    }
    UnixStream::connect(target)
}

fn run(target: &str) -> io::Result<()> {
    let mut sock = connect(target)?;
    io::copy(&mut io::stdin().lock(), &mut sock)?;
    sock.shutdown(Shutdown::Write)?;
    let mut out = io::stdout().lock();
    io::copy(&mut sock, &mut out)?;
    out.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target] = args.as_slice() else {
        eprintln!("usage: uclient PATH|@ABSTRACT_NAME");
        return ExitCode::from(2);
    };
    match run(target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uclient: {target}: {e}");
            ExitCode::FAILURE
        }
    }
}
