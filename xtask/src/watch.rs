//! `cargo xtask watch [ID] [--poll]`: checks the current exercise (or ID, which becomes the
//! current one), then checks it again on every save of its file, and moves on to the next
//! exercise when one passes.
//!
//! - Saves are seen through the OS's file events (inotify, FSEvents, kqueue), debounced so that
//!   an editor's burst of writes gives one check. Where file events do not arrive (WSL's Windows
//!   drives, network and FUSE file systems, which are detected on Linux) or with `--poll` or
//!   `PROCLINGS_WATCH_POLL=1`, the directory is polled instead, comparing contents.
//! - A save is a change of the stub's contents, size, modification time or inode (a rename over
//!   it, `touch`, `git checkout`): an event that changes none of them (the compiler or an editor
//!   reading the file during a check, a write of the same bytes) starts no check.
//! - On a terminal the screen is cleared before each re-check and single keys act at once:
//!   `h` hint, `l` list, `r` re-run, `q` quit. The terminal is put in "cbreak" mode (no line
//!   buffering, no echo; Ctrl-C and output processing unchanged) and restored on every way out,
//!   Ctrl-C included (it sets a flag the loop reads, see `sandbox`).
//! - Without a terminal it prints plainly, reads the same letters one per line, and stops at the
//!   end of its input.
//! - A compile error, a failed test, a timeout or a leak is a verdict like any other: the watch
//!   prints it and waits for the next save.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use notify_debouncer_mini::notify::{self, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer_opt};

use crate::manifest::Curriculum;
use crate::progress::Progress;

use crate::i18n::tr;
use crate::term;

/// How long file events must settle before a check starts.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// How often the polling fallback looks at the files.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How often the idle loop looks at the interrupt flag.
const TICK: Duration = Duration::from_millis(100);

/// What the watch loop reacts to.
#[derive(Debug)]
enum Event {
    /// A file under exercises/ changed.
    Changed(PathBuf),
    /// A key (on a terminal) or the first letter of a line (otherwise).
    Key(char),
    /// stdin reached its end.
    InputClosed,
    /// The file watcher reported an error.
    WatchError(String),
}

/// The file watcher in use (one of the two); dropping it stops it.
#[derive(Default)]
struct FileWatcher {
    _native: Option<Debouncer<notify::RecommendedWatcher>>,
    _polling: Option<Debouncer<notify::PollWatcher>>,
}

/// Runs `watch`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut poll =
        std::env::var_os("PROCLINGS_WATCH_POLL").is_some_and(|v| !v.is_empty() && v != "0");
    let mut chosen = None;
    for arg in args {
        match arg.as_str() {
            "--poll" => poll = true,
            other if other.starts_with('-') => {
                return Ok(crate::usage_error(&tr!("watch.usage", other)));
            }
            other if chosen.is_none() => chosen = Some(other.to_owned()),
            other => {
                return Ok(crate::usage_error(&tr!("watch.one_id", other)));
            }
        }
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    if let Some(id) = &chosen {
        let mut progress = Progress::load(&root)?;
        match crate::check::pick_exercise(&curriculum, &progress, Some(id))? {
            Ok(ex) => {
                let id = ex.id.clone();
                progress.choose(&id);
                progress.save()?;
            }
            Err(code) => return Ok(code),
        }
    }
    let Some(first) = crate::status::current(&curriculum, &Progress::load(&root)?) else {
        println!("{}", tr!("watch.nothing"));
        return Ok(ExitCode::SUCCESS);
    };
    let mut exercise = first.id.clone();
    drop(curriculum);

    // Ctrl-C and SIGTERM set a flag from here on instead of ending the process, so the terminal
    // is always restored and every process a check started is stopped.
    sandbox::init();
    let (tx, rx) = mpsc::channel();
    let watched = root.join("exercises");
    let (_watcher, how) = start_watcher(&watched, poll, tx.clone())?;
    let keys = std::io::stdin().is_terminal();
    let _cbreak = if keys { Cbreak::enable() } else { None };
    spawn_input_reader(keys, tx);
    let clear = std::io::stdout().is_terminal();
    println!("{}", term::dim(&tr!("watch.watching_for_saves", how)));

    let mut backlog: VecDeque<Event> = VecDeque::new();
    let mut check_due = true;
    // The stub as the last check saw it: an event that leaves it so is not a save.
    let mut checked: Option<Fingerprint> = None;
    let mut clear_first = false;
    loop {
        if check_due {
            check_due = false;
            // Saves already queued are covered by the check about to start.
            while let Ok(event) = rx.try_recv() {
                if !matches!(event, Event::Changed(_)) {
                    backlog.push_back(event);
                }
            }
            if clear && clear_first {
                print!("\x1b[H\x1b[2J");
            }
            checked = stub_of(&root, &exercise).and_then(|stub| Fingerprint::of(&stub));
            clear_first = true;
            let passed = check_once(&exercise);
            if sandbox::interrupted() {
                println!("{}", tr!("watch.interrupted"));
                return Ok(ExitCode::from(130));
            }
            if passed {
                let curriculum = Curriculum::load(&root)?;
                match crate::status::current(&curriculum, &Progress::load(&root)?) {
                    Some(next) => {
                        println!();
                        println!(
                            "{} {}",
                            term::green(tr!("watch.moving_on")),
                            term::bold(&next.id)
                        );
                        exercise = next.id.clone();
                        // Keep the verdict that just passed on screen above the next one.
                        clear_first = false;
                        check_due = true;
                        continue;
                    }
                    None => {
                        println!("{}", term::green(tr!("watch.all_done")));
                        return Ok(ExitCode::SUCCESS);
                    }
                }
            }
            print_waiting(&root, &exercise, keys);
        }
        let event = match backlog.pop_front() {
            Some(event) => event,
            None => match rx.recv_timeout(TICK) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => {
                    if sandbox::interrupted() {
                        println!();
                        println!("{}", tr!("watch.interrupted"));
                        return Ok(ExitCode::from(130));
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
        };
        match event {
            Event::Changed(path) => {
                if is_stub_of(&root, &exercise, &path)
                    && stub_of(&root, &exercise).and_then(|stub| Fingerprint::of(&stub)) != checked
                {
                    check_due = true;
                }
            }
            Event::Key('r') => check_due = true,
            Event::Key('q') => {
                println!("{}", tr!("watch.stops"));
                break;
            }
            Event::Key('h') => {
                println!();
                if let Err(e) = crate::hint::run(std::slice::from_ref(&exercise)) {
                    eprintln!("error: {e:#}");
                }
                print_waiting(&root, &exercise, keys);
            }
            Event::Key('l') => {
                println!();
                if let Err(e) = crate::list::run(&[]) {
                    eprintln!("error: {e:#}");
                }
                print_waiting(&root, &exercise, keys);
            }
            Event::Key(other) => {
                if !other.is_whitespace() {
                    println!("{}", tr!("watch.unknown_key", key = other));
                }
            }
            Event::InputClosed => {
                println!("{}", tr!("watch.end_of_input"));
                break;
            }
            Event::WatchError(e) => eprintln!("{}", tr!("watch.watcher_error", error = e)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one `check` of `id` and says whether it passed. Whatever went wrong (a compile error, a
/// failed test, a timeout, a leak, even cargo not starting) has been printed by then, and the
/// watch goes on.
fn check_once(id: &str) -> bool {
    match crate::check::run(&[id.to_owned()]) {
        Ok(code) => code == ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            false
        }
    }
}

/// The line that says what the watch is waiting for.
fn print_waiting(root: &Path, id: &str, keys: bool) {
    let stub = Curriculum::load(root)
        .ok()
        .and_then(|c| c.find(id).map(|ex| c.paths(ex).stub));
    let file = stub.map_or_else(|| id.to_owned(), |rel| term::link(root, &rel));
    let controls = if keys {
        tr!("watch.keys")
    } else {
        tr!("watch.lines")
    };
    println!();
    println!(
        "{} {}  {}",
        term::bold(tr!("watch.watching")),
        tr!("watch.save_to_check", file),
        term::dim(&tr!("watch.controls", controls))
    );
}

/// What tells one version of a file from another: its size, modification time, inode and a hash
/// of its contents (reading a file changes none of them).
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
    hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `path`, or `None` when it cannot be read (a save in progress).
    fn of(path: &Path) -> Option<Self> {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let bytes = std::fs::read(path).ok()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        Some(Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: meta.ino(),
            hash: hasher.finish(),
        })
    }
}

/// The stub of exercise `id`.
fn stub_of(root: &Path, id: &str) -> Option<PathBuf> {
    let curriculum = Curriculum::load(root).ok()?;
    let ex = curriculum.find(id)?;
    Some(root.join(curriculum.paths(ex).stub))
}

/// Whether `path` (from a file event) is the stub of exercise `id`.
fn is_stub_of(root: &Path, id: &str, path: &Path) -> bool {
    let Ok(curriculum) = Curriculum::load(root) else {
        return false;
    };
    let Some(ex) = curriculum.find(id) else {
        return false;
    };
    let stub = root.join(curriculum.paths(ex).stub);
    if path == stub {
        return true;
    }
    // The root may be reached through a symbolic link that the watcher resolved, or not.
    match (path.canonicalize(), stub.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => {
            path.file_name() == stub.file_name()
                && path.parent().and_then(Path::file_name)
                    == stub.parent().and_then(Path::file_name)
        }
    }
}

/// Starts watching `dir` recursively, natively unless `poll` is asked for or the file system
/// does not deliver events; says which.
fn start_watcher(
    dir: &Path,
    poll: bool,
    tx: Sender<Event>,
) -> anyhow::Result<(FileWatcher, &'static str)> {
    let handler = |tx: Sender<Event>| {
        move |result: DebounceEventResult| match result {
            Ok(events) => {
                for event in events {
                    let _ = tx.send(Event::Changed(event.path));
                }
            }
            Err(e) => {
                let _ = tx.send(Event::WatchError(e.to_string()));
            }
        }
    };
    let remote = remote_file_system(dir);
    if !poll && remote.is_none() {
        let config = notify_debouncer_mini::Config::default().with_timeout(DEBOUNCE);
        let native =
            new_debouncer_opt::<_, notify::RecommendedWatcher>(config, handler(tx.clone()))
                .and_then(|mut debouncer| {
                    debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
                    Ok(debouncer)
                });
        match native {
            Ok(debouncer) => {
                let watcher = FileWatcher {
                    _native: Some(debouncer),
                    ..FileWatcher::default()
                };
                return Ok((watcher, tr!("watch.file_events")));
            }
            Err(e) => eprintln!(
                "{}",
                tr!("watch.no_file_events", error = e, dir = dir.display())
            ),
        }
    }
    if let Some(kind) = remote {
        eprintln!("{}", tr!("watch.remote", dir = dir.display(), kind));
    }
    let config = notify_debouncer_mini::Config::default()
        .with_timeout(DEBOUNCE)
        .with_notify_config(
            notify::Config::default()
                .with_poll_interval(POLL_INTERVAL)
                .with_compare_contents(true),
        );
    let mut debouncer = new_debouncer_opt::<_, notify::PollWatcher>(config, handler(tx))
        .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", dir.display()))?;
    debouncer
        .watcher()
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", dir.display()))?;
    let watcher = FileWatcher {
        _polling: Some(debouncer),
        ..FileWatcher::default()
    };
    Ok((watcher, tr!("watch.polling")))
}

/// The kind of file system `dir` is on when file events are known not to arrive from it
/// reliably: network, FUSE, and WSL's Windows drives (9p). Linux only; `None` elsewhere.
fn remote_file_system(dir: &Path) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: `path` is a valid NUL-terminated string and `info` a writable statfs that
        // statfs fills in; both outlive the call.
        let (rc, info) = unsafe {
            let mut info: libc::statfs = std::mem::zeroed();
            let rc = libc::statfs(path.as_ptr(), &mut info);
            (rc, info)
        };
        if rc != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // f_type's integer type differs between libcs
        match info.f_type as i64 {
            0x6969 => Some("NFS"),
            0x517B | 0xFF53_4D42 | 0xFE53_4D42 => Some("SMB/CIFS"),
            0x0102_1997 => Some(tr!("watch.fs_9p")),
            0x6573_5546 => Some(tr!("watch.fs_fuse")),
            _ => None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        None
    }
}

/// Reads keys (on a terminal) or lines (otherwise) from stdin and sends them to the loop.
fn spawn_input_reader(keys: bool, tx: Sender<Event>) {
    std::thread::spawn(move || {
        if keys {
            let mut stdin = std::io::stdin().lock();
            let mut byte = [0u8; 1];
            loop {
                match stdin.read(&mut byte) {
                    Ok(1) => {
                        if tx.send(Event::Key(char::from(byte[0]))).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    _ => break,
                }
            }
        } else {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if let Some(key) = line.trim().chars().next()
                    && tx.send(Event::Key(key)).is_err()
                {
                    return;
                }
            }
        }
        let _ = tx.send(Event::InputClosed);
    });
}

/// The terminal in cbreak mode while alive: keys arrive one by one without Enter and are not
/// echoed. Signals (Ctrl-C) and output processing stay as they are, so printing works as usual.
/// Dropping it restores the terminal's settings.
struct Cbreak {
    original: libc::termios,
}

impl Cbreak {
    /// Switches stdin's terminal to cbreak mode; `None` if it cannot.
    fn enable() -> Option<Self> {
        // SAFETY: termios is plain data; tcgetattr fills in the zeroed value it is given, and
        // fd 0 is only read from.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `settings` is a valid, writable termios for the duration of the call.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut settings) } != 0 {
            return None;
        }
        let original = settings;
        settings.c_lflag &= !(libc::ICANON | libc::ECHO);
        settings.c_cc[libc::VMIN] = 1;
        settings.c_cc[libc::VTIME] = 0;
        // SAFETY: `settings` is a valid termios obtained from tcgetattr and changed only in
        // its flags and control characters.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &settings) } != 0 {
            return None;
        }
        Some(Self { original })
    }
}

impl Drop for Cbreak {
    fn drop(&mut self) {
        // SAFETY: `original` is the termios tcgetattr returned for this terminal.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.original) };
    }
}
