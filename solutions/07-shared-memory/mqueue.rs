//! POSIX message queues and named semaphores: kernel objects with names, shared by processes.
//!
//! Scenario: a message queue carries whole messages (never half of one) with a priority, up to
//! a size and a count fixed when it is created; a named semaphore counts something (free slots,
//! ready jobs) for processes that share no memory at all. Both outlive their processes until
//! someone unlinks their name.
//!
//! Goal: [`Queue`] (create with limits, open, send with a priority, receive the highest
//! priority first, the limits from `mq_getattr`, non-blocking mode, unlink on drop by the
//! creator) and [`Semaphore`] (`sem_open`, post, wait, try_wait, unlink on drop by the creator).
//!
//! Read: docs/src/07-shared-memory.md#mqueue. Check: `cargo xtask check shared-memory/mqueue`.
//!
//! # References
//! `mq_overview(7)`, `mq_open(3)`, `mq_send(3)`, `mq_receive(3)`, `mq_getattr(3)`,
//! `sem_overview(7)`, `sem_open(3)`, `sem_wait(3)`

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;

use nix::mqueue::{
    MQ_OFlag, MqAttr, MqdT, mq_getattr, mq_open, mq_receive, mq_remove_nonblock, mq_send,
    mq_set_nonblock, mq_unlink,
};
use nix::sys::stat::Mode;

/// The limits and the fill level of a queue, from `mq_getattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many messages the queue holds at most.
    pub max_messages: usize,
    /// The largest message, in bytes.
    pub max_size: usize,
    /// How many messages are in the queue now.
    pub current: usize,
    /// Whether sends and receives fail with EAGAIN instead of waiting.
    pub nonblocking: bool,
}

/// An open message queue. Dropping it closes the descriptor; the creator's also unlinks the name.
#[derive(Debug)]
pub struct Queue {
    mqd: MqdT,
    name: String,
    owner: bool,
}

impl Queue {
    /// Creates the queue `name` (`/something`, exclusive, mode 0600) holding at most
    /// `max_messages` messages of at most `max_size` bytes, open for reading and writing.
    pub fn create(name: &str, max_messages: usize, max_size: usize) -> io::Result<Queue> {
        let attr = MqAttr::new(0, max_messages as _, max_size as _, 0);
        let mqd = mq_open(
            name,
            MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | MQ_OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
            Some(&attr),
        )?;
        Ok(Queue {
            mqd,
            name: name.to_owned(),
            owner: true,
        })
    }

    /// Opens the existing queue `name` for reading and writing; does not unlink it on drop.
    pub fn open(name: &str) -> io::Result<Queue> {
        let mqd = mq_open(
            name,
            MQ_OFlag::O_RDWR | MQ_OFlag::O_CLOEXEC,
            Mode::empty(),
            None,
        )?;
        Ok(Queue {
            mqd,
            name: name.to_owned(),
            owner: false,
        })
    }

    /// Sends `msg` with `priority` (0 is lowest). Waits while the queue is full, unless it is
    /// non-blocking (then EAGAIN, `ErrorKind::WouldBlock`). A message longer than the queue's
    /// `max_size` fails with EMSGSIZE.
    pub fn send(&self, msg: &[u8], priority: u32) -> io::Result<()> {
        mq_send(&self.mqd, msg, priority)?;
        Ok(())
    }

    /// Receives the oldest message of the highest priority into `buf` and returns its length
    /// and priority. `buf` must hold `max_size` bytes (EMSGSIZE otherwise, even for a short
    /// message). Waits while the queue is empty, unless it is non-blocking (EAGAIN).
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<(usize, u32)> {
        let mut priority = 0;
        let len = mq_receive(&self.mqd, buf, &mut priority)?;
        Ok((len, priority))
    }

    /// The queue's limits and how many messages it holds now.
    pub fn limits(&self) -> io::Result<Limits> {
        let attr = mq_getattr(&self.mqd)?;
        Ok(Limits {
            max_messages: attr.maxmsg() as usize,
            max_size: attr.msgsize() as usize,
            current: attr.curmsgs() as usize,
            nonblocking: attr.flags() & libc::O_NONBLOCK as nix::mqueue::mq_attr_member_t != 0,
        })
    }

    /// Makes this descriptor's sends and receives fail with EAGAIN instead of waiting (or wait
    /// again, with `false`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        if nonblocking {
            mq_set_nonblock(&self.mqd)?;
        } else {
            mq_remove_nonblock(&self.mqd)?;
        }
        Ok(())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // `MqdT` does not close itself on drop (nix's `mq_close` takes it by value).
        // SAFETY: the descriptor is ours, open, and closed exactly once, here.
        unsafe { libc::mq_close(self.mqd.as_raw_fd()) };
        if self.owner {
            // Queues are not files we can see here (/dev/mqueue may not be mounted): without
            // mq_unlink the queue lives on in the kernel until reboot.
            let _ = mq_unlink(self.name.as_str());
        }
    }
}

/// A named POSIX semaphore (`/dev/shm/sem.NAME` on Linux). Dropping it closes it; the creator's
/// also unlinks the name.
#[derive(Debug)]
pub struct Semaphore {
    sem: *mut libc::sem_t,
    name: CString,
    owner: bool,
}

// SAFETY: a sem_t is meant to be used from many threads and processes at once; all access goes
// through the sem_* functions.
unsafe impl Send for Semaphore {}
// SAFETY: as above.
unsafe impl Sync for Semaphore {}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"))
}

impl Semaphore {
    /// Creates the semaphore `name` (exclusive, mode 0600) with the count `initial`.
    pub fn create(name: &str, initial: u32) -> io::Result<Semaphore> {
        let c = c_name(name)?;
        // SAFETY: `c` is a valid C string; with O_CREAT sem_open takes a mode_t (passed as
        // unsigned int through varargs) and an unsigned int value.
        let sem = unsafe {
            libc::sem_open(
                c.as_ptr(),
                libc::O_CREAT | libc::O_EXCL,
                0o600 as libc::c_uint,
                initial as libc::c_uint,
            )
        };
        if sem == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Semaphore {
            sem,
            name: c,
            owner: true,
        })
    }

    /// Opens the existing semaphore `name`; does not unlink it on drop.
    pub fn open(name: &str) -> io::Result<Semaphore> {
        let c = c_name(name)?;
        // SAFETY: `c` is a valid C string; without O_CREAT sem_open takes no more arguments.
        let sem = unsafe { libc::sem_open(c.as_ptr(), 0) };
        if sem == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Semaphore {
            sem,
            name: c,
            owner: false,
        })
    }

    /// Adds one to the count, waking one waiter if any.
    pub fn post(&self) -> io::Result<()> {
        // SAFETY: `sem` came from a successful sem_open and is closed only on drop.
        if unsafe { libc::sem_post(self.sem) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes one from the count, waiting while it is 0. Retries when a signal interrupts it.
    pub fn wait(&self) -> io::Result<()> {
        loop {
            // SAFETY: as in `post`.
            if unsafe { libc::sem_wait(self.sem) } == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Takes one from the count if it is above 0; `false` (EAGAIN) if it is 0.
    pub fn try_wait(&self) -> io::Result<bool> {
        // SAFETY: as in `post`.
        if unsafe { libc::sem_trywait(self.sem) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            Ok(false)
        } else {
            Err(e)
        }
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        // SAFETY: `sem` came from sem_open and is closed exactly once, here.
        unsafe { libc::sem_close(self.sem) };
        if self.owner {
            // SAFETY: `name` is a valid C string.
            unsafe { libc::sem_unlink(self.name.as_ptr()) };
        }
    }
}
