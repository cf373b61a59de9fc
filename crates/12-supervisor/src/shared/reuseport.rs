//! A TCP socket bound with `SO_REUSEPORT`, shared by `sv-service` (which listens on it) and
//! the svd tests (which hold the port with it, bound but not listening, for a whole test: no
//! other program can bind the port, and a connect to it is refused once the service's listener
//! is closed, since nothing listens there any more).

use std::net::SocketAddrV4;
use std::os::fd::OwnedFd;

use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};

/// A close-on-exec TCP socket with `SO_REUSEPORT`, bound to `addr` (port 0: a free one).
pub fn bind_reuseport(addr: SocketAddrV4) -> std::io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    sockopt::set_socket_reuseport(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    Ok(fd)
}
