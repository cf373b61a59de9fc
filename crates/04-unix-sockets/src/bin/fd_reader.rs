//! The `fd_reader` binary: its stdin is a Unix stream socket; it receives one file descriptor
//! over it with the `fd_passing` exercise's `recv_fd`, and copies what can be read from that
//! descriptor to stdout. Used by the `fd_passing` tests as the child that gets the open file.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    // fd 0 is the socket our parent gave us; take ownership of a duplicate of it.
    let sock = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => UnixStream::from(fd),
        Err(e) => {
            eprintln!("fd_reader: cannot use stdin as a socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fd: OwnedFd = match unix_sockets::fd_passing::recv_fd(&sock) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("fd_reader: recv_fd failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut file = std::fs::File::from(fd);
    let mut out = io::stdout().lock();
    if let Err(e) = io::copy(&mut file, &mut out).and_then(|_| out.flush()) {
        eprintln!("fd_reader: reading the received descriptor failed: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
