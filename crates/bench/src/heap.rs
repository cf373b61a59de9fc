//! A parent made large on purpose: a private anonymous mapping with every page written, so it is
//! resident and mapped by one page-table entry per 4 KiB page.
//!
//! `fork` must copy those page-table entries (and write-protect every page for copy-on-write):
//! 512 MiB is 131,072 entries, 1 MiB of page tables. `posix_spawn` (`clone(CLONE_VM)`) shares
//! them instead. Comparing both from this parent is the whole argument for `posix_spawn`.
//!
//! Transparent huge pages are refused for the mapping (`MADV_NOHUGEPAGE`): with 2 MiB pages the
//! tables would be 512 times smaller and `fork` much cheaper, which is real but depends on the
//! machine's THP setting; a typical heap made of many `malloc` calls is not huge-page backed.

use std::io;
use std::ptr::NonNull;

/// Bytes per page assumed when touching the mapping (the smallest page size on Linux).
const PAGE: usize = 4096;

/// A resident anonymous mapping, unmapped on drop.
#[derive(Debug)]
pub struct LargeHeap {
    addr: NonNull<u8>,
    len: usize,
}

impl LargeHeap {
    /// Maps `len` bytes and writes one byte in every page so that all of them are resident.
    ///
    /// # References
    /// `mmap(2)`, `madvise(2)`
    pub fn touch(len: usize) -> io::Result<Self> {
        // SAFETY: an anonymous private mapping at an address of the kernel's choice; the result
        // is checked against MAP_FAILED before use.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let heap = Self {
            addr: NonNull::new(addr.cast())
                .ok_or_else(|| io::Error::other("mmap returned null"))?,
            len,
        };
        // SAFETY: the range is the mapping just created. A failure (a kernel without THP) is
        // harmless: the mapping then simply uses small pages.
        unsafe { libc::madvise(addr, len, libc::MADV_NOHUGEPAGE) };
        for offset in (0..len).step_by(PAGE) {
            // SAFETY: `offset < len`, inside the writable mapping owned by `heap`.
            unsafe { heap.addr.as_ptr().add(offset).write_volatile(1) };
        }
        Ok(heap)
    }

    /// The size of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never, unless created with length 0, which mmap refuses).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sums one byte per page: proves the pages are there (and keeps the optimiser honest).
    pub fn checksum(&self) -> u64 {
        (0..self.len)
            .step_by(PAGE)
            // SAFETY: `offset < len`, inside the mapping owned by `self`.
            .map(|offset| u64::from(unsafe { self.addr.as_ptr().add(offset).read_volatile() }))
            .sum()
    }
}

impl Drop for LargeHeap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `touch`; no reference into it outlives
        // `self`.
        unsafe { libc::munmap(self.addr.as_ptr().cast(), self.len) };
    }
}
