//! Tests for `shared-memory/file_locks`: flock, POSIX (fcntl) record locks, OFD locks and std's
//! `File::lock`, each taken and tested by real processes. What differs between them is what
//! owns the lock: an open file description (flock, OFD, std) or a process (POSIX), which the
//! tests show through fork, death and closing another descriptor.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use shared_memory::file_locks::{self, Kind};
use testkit::shm::Peer;
use testkit::temp_dir;

const PEER: &str = env!("CARGO_BIN_EXE_shm-peer");

fn lock_file(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("lock");
    File::create(&path).expect("create the lock file");
    path
}

fn open_rw(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open the lock file")
}

/// What another process gets when it tries the lock now: "locked" or "busy".
fn probe(path: &Path, kind: Kind) -> String {
    let path = path.to_string_lossy();
    let mut rest = Peer::spawn(PEER, &["lock-try", &path, kind.name()]).finish();
    rest.pop().unwrap_or_default()
}

#[test]
fn a_held_lock_of_each_kind_keeps_another_process_out_until_unlocked() {
    let dir = temp_dir("locks-basic");
    let path = lock_file(&dir);
    for kind in Kind::ALL {
        let file = open_rw(&path);
        assert!(
            file_locks::try_lock(&file, kind).expect("try_lock"),
            "{kind:?}: a free file must lock"
        );
        assert_eq!(
            probe(&path, kind),
            "busy",
            "{kind:?}: while we hold the lock, another process's try_lock must report busy \
             (Ok(false)), not wait and not fail"
        );
        file_locks::unlock(&file, kind).expect("unlock");
        assert_eq!(
            probe(&path, kind),
            "locked",
            "{kind:?}: after unlock, another process must get the lock"
        );
    }
}

#[test]
fn every_kind_is_released_when_its_holder_is_killed() {
    let dir = temp_dir("locks-death");
    let path = lock_file(&dir);
    let p = path.to_string_lossy().into_owned();
    for kind in Kind::ALL {
        let mut holder = Peer::spawn(PEER, &["lock-hold", &p, kind.name()]);
        assert_eq!(
            holder.expect("locked"),
            "locked",
            "{kind:?}: the holder locks"
        );
        let mine = open_rw(&path);
        assert!(
            !file_locks::try_lock(&mine, kind).expect("try_lock"),
            "{kind:?}: the holder process has it"
        );
        holder.kill();
        assert!(
            file_locks::try_lock(&mine, kind).expect("try_lock"),
            "{kind:?}: the kernel drops every lock of a process that dies (its descriptors \
             are closed): the lock must be free after SIGKILL"
        );
        file_locks::unlock(&mine, kind).expect("unlock");
    }
}

/// Locks the file in a peer, forks, and closes the parent's descriptor: only the child's
/// copy of the descriptor (and its open file description) remains. Returns whether the lock
/// is still held then.
fn held_after_fork(path: &Path, kind: Kind) -> bool {
    let p = path.to_string_lossy();
    let mut peer = Peer::spawn(PEER, &["lock-fork", &p, kind.name()]);
    peer.expect("forked");
    let mine = open_rw(path);
    let got = file_locks::try_lock(&mine, kind).expect("try_lock");
    if got {
        file_locks::unlock(&mine, kind).expect("unlock");
    }
    // EOF on the shared stdin ends the child, then the peer.
    peer.finish();
    !got
}

#[test]
fn flock_ofd_and_std_locks_are_shared_with_a_forked_child_posix_locks_are_not() {
    let dir = temp_dir("locks-fork");
    let path = lock_file(&dir);
    for kind in [Kind::Flock, Kind::Ofd, Kind::Std] {
        assert!(
            held_after_fork(&path, kind),
            "{kind:?}: this lock belongs to the open file description, which fork shares with \
             the child: while the child keeps its descriptor open, the file stays locked"
        );
    }
    assert!(
        !held_after_fork(&path, Kind::Posix),
        "Posix: an fcntl(F_SETLK) lock belongs to the process; the child does not inherit it, \
         and the parent closing its descriptor released it"
    );
}

#[test]
fn closing_any_descriptor_of_the_file_drops_a_posix_lock_but_not_the_others() {
    let dir = temp_dir("locks-close");
    let path = lock_file(&dir);
    let p = path.to_string_lossy().into_owned();
    for kind in Kind::ALL {
        let mut peer = Peer::spawn(PEER, &["lock-close-other", &p, kind.name()]);
        peer.expect("closed another descriptor");
        let mine = open_rw(&path);
        let got = file_locks::try_lock(&mine, kind).expect("try_lock");
        if got {
            file_locks::unlock(&mine, kind).expect("unlock");
        }
        peer.finish();
        if kind == Kind::Posix {
            assert!(
                got,
                "Posix: closing ANY descriptor of the file releases the process's fcntl locks on \
                 it (the classic trap: a library opens and closes your lock file); the peer \
                 did that, so the lock must be free"
            );
        } else {
            assert!(
                !got,
                "{kind:?}: closing another descriptor (another open file description) must not \
                 release this lock"
            );
        }
    }
}

#[test]
fn a_failure_that_is_not_a_busy_lock_is_an_error() {
    let dir = temp_dir("locks-ebadf");
    let path = lock_file(&dir);
    // A write lock through a descriptor opened for reading only: fcntl refuses with EBADF.
    // That is a mistake to report, not "someone else holds the lock".
    let read_only = File::open(&path).expect("open the lock file read-only");
    for kind in [Kind::Posix, Kind::Ofd] {
        match file_locks::try_lock(&read_only, kind) {
            Err(e) => assert_eq!(
                e.raw_os_error(),
                Some(libc::EBADF),
                "{kind:?}: a write lock on a read-only descriptor fails with EBADF, got {e}"
            ),
            Ok(got) => panic!(
                "{kind:?}: try_lock on a read-only descriptor returned Ok({got}): only a \
                 conflicting lock is Ok(false); other errors must be returned"
            ),
        }
    }
}

/// The types the kernel lists in /proc/locks for locks on `path`'s inode (FLOCK, POSIX,
/// OFDLCK), one per lock.
fn kernel_lock_types(path: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(path).expect("stat the lock file").ino();
    let locks = std::fs::read_to_string("/proc/locks").expect("read /proc/locks");
    // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF": the type, then MAJ:MIN:INODE.
    locks
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let id = fields.get(5)?;
            (id.rsplit(':').next()? == ino.to_string()).then(|| fields[1].to_string())
        })
        .collect()
}

#[test]
fn each_kind_is_the_lock_the_kernel_lists_under_its_name() {
    let dir = temp_dir("locks-kinds");
    let path = lock_file(&dir);
    for (kind, want) in [
        (Kind::Flock, "FLOCK"),
        (Kind::Posix, "POSIX"),
        (Kind::Ofd, "OFDLCK"),
        // std's File::lock is flock(2) on Linux.
        (Kind::Std, "FLOCK"),
    ] {
        let file = open_rw(&path);
        assert!(
            file_locks::try_lock(&file, kind).expect("try_lock"),
            "{kind:?}: a free file must lock"
        );
        let got = kernel_lock_types(&path);
        file_locks::unlock(&file, kind).expect("unlock");
        assert_eq!(
            got,
            [want],
            "{kind:?}: the kernel lists the lock we hold as {got:?} in /proc/locks, expected \
             one {want}. The kinds behave alike in many tests, but they are different locks \
             that do not even see each other (a flock never conflicts with an OFD lock): \
             {kind:?} is taken with {}",
            match kind {
                Kind::Flock => "flock(fd, LOCK_EX | LOCK_NB)",
                Kind::Posix => "fcntl(fd, F_SETLK, ..)",
                Kind::Ofd => "fcntl(fd, F_OFD_SETLK, ..)",
                Kind::Std => "File::try_lock",
            }
        );
    }
}
