//! Tests for `unix-sockets/kv_server`: the `kvd` binary driven end to end through its socket,
//! by our own client and by a standard tool (`socat`), with clients at the same time, a shared
//! store, `QUIT`, errors that keep the connection open, and `SHUTDOWN` closing every connection,
//! an idle one too, and removing the socket file.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, path_in, temp_dir};

const READ_DEADLINE: Duration = Duration::from_secs(5);

/// A running `kvd`, killed and reaped on drop; its socket lives in a per-test temp dir that is
/// removed on drop too.
struct Kvd {
    guard: ChildGuard,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kvd {
    /// Starts `kvd PATH` and waits for its `ready` line (the event, not a timer).
    fn start(tag: &str) -> Kvd {
        let dir = temp_dir(tag);
        let path = path_in(&dir, "kv.sock");
        let mut guard = ChildGuard::spawn(
            Command::new(env!("CARGO_BIN_EXE_kvd"))
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let stdout = guard.child().stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(DEFAULT_DEADLINE).unwrap_or_default();
        if line != "ready\n" {
            let _ = guard.child().kill();
            let status = guard.wait(DEFAULT_DEADLINE);
            let mut err = String::new();
            if let Some(mut e) = guard.child().stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "kvd {} should print `ready` once bound; its first stdout line was {line:?}, it {}; stderr:\n{err}",
                path.display(),
                describe_status(status)
            );
        }
        Kvd {
            guard,
            path,
            _dir: dir,
        }
    }

    /// After a `SHUTDOWN`: kvd exits 0 within the deadline and leaves no socket file behind.
    #[track_caller]
    fn expect_clean_exit(&mut self, situation: &str) {
        let exited = testkit::try_wait_until(DEFAULT_DEADLINE, "kvd to exit", || {
            !matches!(self.guard.child().try_wait(), Ok(None))
        });
        assert!(
            exited.is_ok(),
            "kvd was still running {DEFAULT_DEADLINE:?} after SHUTDOWN {situation} (state \
             {:?}): \"BYE, then the server stops\" must hold",
            testkit::proc_state(self.guard.id())
        );
        let status = self.guard.wait(DEFAULT_DEADLINE);
        assert!(
            status.success(),
            "kvd should exit 0 after SHUTDOWN, it {}",
            describe_status(status)
        );
        assert!(
            !self.path.exists(),
            "kvd exited but left its socket file {} behind",
            self.path.display()
        );
    }

    fn client(&self) -> Client {
        let s = UnixStream::connect(&self.path)
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.path.display()));
        s.set_read_timeout(Some(READ_DEADLINE)).unwrap();
        Client {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }
}

/// Our own client: one request line out, one reply line back.
struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    fn ask(&mut self, request: &str) -> String {
        self.writer
            .write_all(format!("{request}\n").as_bytes())
            .unwrap_or_else(|e| panic!("sending {request:?}: {e}"));
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("the server closed the connection instead of answering {request:?}"),
            Ok(_) => line.trim_end_matches('\n').to_string(),
            Err(e) => panic!("no reply to {request:?} within {READ_DEADLINE:?}: {e}"),
        }
    }

    fn at_eof(&mut self) -> bool {
        let mut rest = String::new();
        matches!(self.reader.read_line(&mut rest), Ok(0))
    }
}

#[test]
fn set_then_get_returns_the_value_spaces_included() {
    let kvd = Kvd::start("kv-setget");
    let mut c = kvd.client();
    assert_eq!(c.ask("SET greeting hello there world"), "OK");
    assert_eq!(c.ask("GET greeting"), "VALUE hello there world");
    assert_eq!(c.ask("SET greeting bye"), "OK", "SET overwrites");
    assert_eq!(c.ask("GET greeting"), "VALUE bye");
}

#[test]
fn a_carriage_return_before_the_newline_is_ignored() {
    let kvd = Kvd::start("kv-crlf");
    let mut c = kvd.client();
    const CRLF: &str = "a line that ends in \\r\\n (telnet, `nc -C`, a Windows \
                        client) is the same request as with \\n alone: strip one \\r \
                        before the \\n, or it ends up in the key or the value";
    assert_eq!(c.ask("SET k v\r"), "OK", "{CRLF}");
    assert_eq!(c.ask("GET k\r"), "VALUE v", "{CRLF}");
    assert_eq!(
        c.ask("GET k"),
        "VALUE v",
        "{CRLF}: the value is `v`, not `v\\r`"
    );
    assert_eq!(c.ask("DEL k\r"), "DELETED", "{CRLF}");
    assert_eq!(c.ask("QUIT\r"), "BYE", "{CRLF}");
}

#[test]
fn missing_keys_and_deletes() {
    let kvd = Kvd::start("kv-del");
    let mut c = kvd.client();
    assert_eq!(c.ask("GET nothing"), "NOT_FOUND");
    assert_eq!(c.ask("DEL nothing"), "NOT_FOUND");
    assert_eq!(c.ask("SET k v"), "OK");
    assert_eq!(c.ask("DEL k"), "DELETED");
    assert_eq!(c.ask("GET k"), "NOT_FOUND");
}

#[test]
fn bad_requests_get_an_error_and_the_connection_stays_open() {
    let kvd = Kvd::start("kv-errors");
    let mut c = kvd.client();
    // Keys are one word: a missing key, an empty one or two words are errors too.
    for bad in [
        "FROB x",
        "SET onlykey",
        "SET  empty-key",
        "GET",
        "GET two words",
        "DEL",
        "DEL two words",
        "get k",
        "",
    ] {
        let reply = c.ask(bad);
        assert!(
            reply.starts_with("ERROR "),
            "request {bad:?}: expected a line starting with `ERROR `, got {reply:?}"
        );
    }
    assert_eq!(
        c.ask("SET still here"),
        "OK",
        "the connection must survive bad requests"
    );
}

#[test]
fn clients_share_one_store_and_are_served_at_the_same_time() {
    let kvd = Kvd::start("kv-shared");
    let mut a = kvd.client();
    let mut b = kvd.client();
    // `a` stays connected while `b` is served: a server that serves one client at a time
    // never answers `b`.
    assert_eq!(a.ask("SET color blue"), "OK");
    assert_eq!(
        b.ask("GET color"),
        "VALUE blue",
        "b must see what a stored (one store for all clients)"
    );
    assert_eq!(b.ask("SET color red"), "OK");
    assert_eq!(a.ask("GET color"), "VALUE red");
}

#[test]
fn quit_closes_only_that_connection() {
    let kvd = Kvd::start("kv-quit");
    let mut a = kvd.client();
    let mut b = kvd.client();
    assert_eq!(a.ask("SET k 1"), "OK");
    assert_eq!(a.ask("QUIT"), "BYE");
    assert!(
        a.at_eof(),
        "after BYE the server must close the connection, and it stayed open for \
         {READ_DEADLINE:?}: dropping the thread's stream is not enough while another handle on \
         the same connection is open (a copy kept to shut clients down on SHUTDOWN): drop that \
         one too, or shut the connection down"
    );
    assert_eq!(
        b.ask("GET k"),
        "VALUE 1",
        "the other client and the server keep going"
    );
    assert_eq!(
        kvd.client().ask("GET k"),
        "VALUE 1",
        "new clients are still accepted"
    );
}

#[test]
fn shutdown_stops_the_server_and_removes_its_socket_file() {
    let mut kvd = Kvd::start("kv-shutdown");
    let mut c = kvd.client();
    assert_eq!(c.ask("SHUTDOWN"), "BYE");
    assert!(c.at_eof(), "after BYE the server must close the connection");
    drop(c);
    kvd.expect_clean_exit("with no other client");
}

#[test]
fn shutdown_stops_the_server_even_with_an_idle_client_connected() {
    let mut kvd = Kvd::start("kv-idle");
    // `idle` is served once, then stays connected and sends nothing more: its thread in the
    // server waits for a request line that never comes.
    let mut idle = kvd.client();
    assert_eq!(idle.ask("SET k v"), "OK");
    let mut c = kvd.client();
    assert_eq!(c.ask("SHUTDOWN"), "BYE");
    assert!(c.at_eof(), "after BYE the server must close the connection");
    let mut rest = String::new();
    match idle.reader.read_line(&mut rest) {
        Ok(0) => {}
        Ok(_) => panic!("the idle client got {rest:?} after another client's SHUTDOWN"),
        Err(e) => panic!(
            "after SHUTDOWN the server must close every connection, but the idle client's stayed \
             open for {READ_DEADLINE:?} ({e}): a server that waits for its clients to leave \
             is kept alive forever by one that never does"
        ),
    }
    kvd.expect_clean_exit("with an idle client connected");
}

#[test]
fn usage_error_without_a_path() {
    let out = testkit::run_with_deadline(
        &mut Command::new(env!("CARGO_BIN_EXE_kvd")),
        DEFAULT_DEADLINE,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "kvd without PATH: expected exit 2, it {}",
        describe_status(out.status)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("usage"),
        "kvd without PATH should print a usage line on stderr, got {err:?}"
    );
}

/// `socat` speaks to the server exactly as a person at a terminal would.
fn socat(path: &Path, input: &str) -> Option<(String, String)> {
    let mut cmd = Command::new("socat");
    cmd.arg("-t5")
        .arg("-")
        .arg(format!("UNIX-CONNECT:{}", path.display()));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => ChildGuard::new(c),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot start socat: {e}"),
    };
    child
        .child()
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let status = child.wait(DEFAULT_DEADLINE);
    let (mut out, mut err) = (String::new(), String::new());
    child
        .child()
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .child()
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "socat - UNIX-CONNECT:{} {}; stderr:\n{err}",
        path.display(),
        describe_status(status)
    );
    Some((out, err))
}

#[test]
fn a_standard_tool_socat_can_use_the_server() {
    let kvd = Kvd::start("kv-socat");
    let Some((out, _)) = socat(&kvd.path, "SET tool socat\nGET tool\nGET other\nQUIT\n") else {
        eprintln!(
            "SKIPPED a_standard_tool_socat_can_use_the_server: `socat` is not installed \
             (install it, e.g. `apt-get install socat`, to run this test)"
        );
        return;
    };
    assert_eq!(
        out, "OK\nVALUE socat\nNOT_FOUND\nBYE\n",
        "what socat printed for four requests"
    );
}
