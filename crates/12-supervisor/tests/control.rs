//! Tests for `supervisor::control`: an owner-only socket that replaces only a stale file, a
//! client of another uid refused with a clear error (the test configures an allowed uid that
//! is not its own, and so is the stranger), requests parsed with one-line errors, and a silent
//! or greedy client that cannot hold the supervisor.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use supervisor::control::{ControlSocket, MAX_REQUEST, Request, parse_request};
use testkit::DEFAULT_DEADLINE as DEADLINE;

fn my_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// Connects, sends `request` (as given: add the newline yourself), and reads the whole reply.
fn client(path: &Path, request: &[u8]) -> thread::JoinHandle<String> {
    let path = path.to_path_buf();
    let request = request.to_vec();
    thread::spawn(move || {
        let mut s = testkit::connect_unix(&path, DEADLINE);
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let _ = s.write_all(&request);
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply
    })
}

#[track_caller]
fn join(h: thread::JoinHandle<String>) -> String {
    testkit::call_with_deadline(DEADLINE, move || h.join())
        .expect("the client did not get its reply (EOF) in time")
        .expect("the client thread panicked")
}

#[test]
fn bind_makes_an_owner_only_socket_and_drop_removes_it() {
    let dir = testkit::temp_dir("control-bind");
    let path = dir.path().join("svd.sock");
    let sock = ControlSocket::bind(&path, my_uid()).expect("bind");
    assert_eq!(sock.path(), path);
    let mode = std::fs::metadata(&path)
        .expect("the socket file")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the socket file should be 0600 (connecting needs write permission): got {:o}",
        mode & 0o777
    );
    drop(sock);
    assert!(
        !path.exists(),
        "dropping the ControlSocket removes its file"
    );
}

#[test]
fn a_stale_socket_is_replaced_but_a_live_one_or_another_file_is_not() {
    let dir = testkit::temp_dir("control-stale");
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind a listener")); // its file stays
    assert!(stale.exists());
    let sock = ControlSocket::bind(&stale, my_uid())
        .expect("a socket file nobody listens on is left by a dead supervisor: replace it");
    drop(sock);

    let live = dir.path().join("live.sock");
    let other = UnixListener::bind(&live).expect("another supervisor's socket");
    let err = ControlSocket::bind(&live, my_uid())
        .expect_err("a socket someone listens on must not be taken over");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(
        err.to_string().contains("live.sock"),
        "the error names the socket: {err}"
    );
    assert!(
        live.exists(),
        "the other supervisor's socket file is left alone"
    );
    other.set_nonblocking(true).expect("nonblocking");
    let _c = UnixStream::connect(&live).expect("the other supervisor still gets clients");

    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"keep me").expect("write");
    assert!(
        ControlSocket::bind(&file, my_uid()).is_err(),
        "a path that is not a socket is refused"
    );
    assert_eq!(
        std::fs::read(&file).expect("still there"),
        b"keep me",
        "and left as it was"
    );
}

#[test]
fn the_owner_is_served_one_request_per_connection() {
    let dir = testkit::temp_dir("control-owner");
    let path = dir.path().join("svd.sock");
    let sock = ControlSocket::bind(&path, my_uid()).expect("bind");
    let c = client(&path, b"stop web\n");
    let conn = sock
        .accept()
        .expect("accept")
        .unwrap_or_else(|r| panic!("our own uid {} should be allowed; refused {r:?}", my_uid()));
    assert_eq!(conn.uid, my_uid(), "SO_PEERCRED's uid");
    assert_eq!(
        conn.pid,
        std::process::id() as i32,
        "SO_PEERCRED's pid: the client is this process"
    );
    let mut conn = conn;
    assert_eq!(
        conn.read_request().expect("read_request"),
        Request::Stop("web".into())
    );
    conn.reply_ok(&["web stopped".into(), "second line".into()])
        .expect("reply");
    assert_eq!(
        join(c),
        "ok\nweb stopped\nsecond line\n",
        "`ok`, the lines, then EOF"
    );

    let c = client(&path, b"frobnicate web\n");
    let mut conn = sock.accept().expect("accept").expect("allowed");
    let err = conn.read_request().expect_err("not a command");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    conn.reply_error(&err.to_string()).expect("reply");
    let reply = join(c);
    assert!(
        reply.starts_with("error: unknown command `frobnicate`") && reply.ends_with('\n'),
        "a bad request gets `error: REASON`: {reply:?}"
    );
    assert_eq!(reply.lines().count(), 1, "one line: {reply:?}");

    let c = client(&path, b"logs web -f\n");
    let mut conn = sock.accept().expect("accept").expect("allowed");
    assert_eq!(
        conn.read_request().expect("read"),
        Request::Logs {
            name: "web".into(),
            follow: true
        }
    );
    let mut stream = conn.into_stream().expect("ok then the stream");
    stream.write_all(b"line 1\n").expect("write");
    drop(stream);
    assert_eq!(join(c), "ok\nline 1\n");
}

#[test]
fn a_client_of_another_uid_is_refused_with_a_clear_error() {
    let dir = testkit::temp_dir("control-refuse");
    let path = dir.path().join("svd.sock");
    // Allow a uid that is not ours: this test is then the stranger.
    let allowed = my_uid().wrapping_add(4242);
    let sock = ControlSocket::bind(&path, allowed).expect("bind");
    let c = client(&path, b"stop db\n");
    match sock.accept().expect("accept") {
        Ok(conn) => panic!(
            "uid {} is not the allowed uid {allowed}: it must be refused, not served ({conn:?})",
            my_uid()
        ),
        Err(refused) => {
            assert_eq!(refused.uid, my_uid(), "the refused uid, from SO_PEERCRED");
            assert_eq!(refused.pid, std::process::id() as i32);
        }
    }
    let reply = join(c);
    assert_eq!(
        reply,
        format!(
            "error: permission denied: uid {} may not control this supervisor\n",
            my_uid()
        ),
        "the stranger is told why, in one line, and the connection closed"
    );
}

#[test]
fn requests_parse_and_mistakes_get_one_line_reasons() {
    let good = [
        ("status", Request::Status),
        ("reload", Request::Reload),
        ("start web", Request::Start("web".into())),
        ("stop  db-2 ", Request::Stop("db-2".into())),
        ("restart api_v1", Request::Restart("api_v1".into())),
        (
            "logs web",
            Request::Logs {
                name: "web".into(),
                follow: false,
            },
        ),
        (
            "logs web -f",
            Request::Logs {
                name: "web".into(),
                follow: true,
            },
        ),
    ];
    for (line, want) in good {
        let got = parse_request(line).unwrap_or_else(|e| panic!("{line:?} was refused: {e}"));
        assert_eq!(got, want, "{line:?}");
        assert_eq!(
            parse_request(&got.to_line()).as_ref(),
            Ok(&got),
            "to_line gives a line that parses back"
        );
    }
    let bad: [(&str, &[&str]); 8] = [
        ("", &["empty"]),
        ("frobnicate", &["unknown command", "frobnicate"]),
        ("stop", &["stop", "needs a service name"]),
        ("start a b", &["start", "one service name"]),
        ("status now", &["status", "no argument"]),
        ("restart ../etc", &["../etc", "not a service name"]),
        ("logs", &["logs", "needs a service name"]),
        ("logs web -x", &["logs", "one service name"]),
    ];
    for (line, words) in bad {
        let err = match parse_request(line) {
            Ok(r) => panic!("{line:?} should be refused, got {r:?}"),
            Err(e) => e,
        };
        assert!(!err.contains('\n'), "one line: {err:?}");
        for w in words {
            assert!(
                err.contains(w),
                "the reason for {line:?} should say {w:?}: {err:?}"
            );
        }
    }
}

#[test]
fn a_silent_or_greedy_client_cannot_hold_the_supervisor() {
    let dir = testkit::temp_dir("control-silent");
    let path = dir.path().join("svd.sock");
    let sock = ControlSocket::bind(&path, my_uid())
        .expect("bind")
        .with_request_timeout(Duration::from_millis(300));
    // Connects and says nothing.
    let silent = UnixStream::connect(&path).expect("connect");
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let mut conn = sock.accept().expect("accept").expect("allowed");
        let r = conn.read_request().map_err(|e| e.kind());
        (r, sock)
    });
    let Some((r, sock)) = got else {
        drop(silent);
        panic!(
            "read_request waited more than {DEADLINE:?} for a client that sends nothing (the \
             request timeout is 300 ms): one silent client would freeze the supervisor"
        );
    };
    assert!(
        matches!(
            r,
            Err(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        ),
        "a client silent past the request timeout gets a timeout error; got {r:?}"
    );
    drop(silent);

    // Sends more than MAX_REQUEST bytes without a newline.
    let c = client(&path, &vec![b'x'; MAX_REQUEST * 4]);
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let mut conn = sock.accept().expect("accept").expect("allowed");
        let r = conn.read_request().map_err(|e| (e.kind(), e.to_string()));
        let _ = conn.reply_error("request too long");
        r
    })
    .expect("read_request did not return on an endless line");
    match got {
        Err((std::io::ErrorKind::InvalidData, msg)) => {
            assert!(msg.contains("longer than"), "{msg}");
        }
        other => panic!(
            "a line longer than {MAX_REQUEST} bytes is refused as InvalidData without reading \
             it all; got {other:?}"
        ),
    }
    let _ = join(c);
}

#[test]
fn a_client_that_trickles_its_request_is_cut_off_at_the_request_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = testkit::temp_dir("control-trickle");
    let path = dir.path().join("svd.sock");
    let sock = ControlSocket::bind(&path, my_uid())
        .expect("bind")
        .with_request_timeout(Duration::from_millis(500));
    // One byte every 100 ms, never a newline: each read gets a byte well within 500 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let mut s = UnixStream::connect(&path).expect("connect");
    let trickler = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && s.write_all(b"s").is_ok() {
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Ten times the request timeout, and well within the runner's limit, so that a reader that
    // never gives up fails here with its diagnosis.
    let wait = Duration::from_secs(5);
    let got = testkit::call_with_deadline(wait, move || {
        let mut conn = sock.accept().expect("accept").expect("allowed");
        conn.read_request().map_err(|e| e.kind())
    });
    stop.store(true, Ordering::Relaxed);
    let _ = trickler.join();
    let Some(r) = got else {
        panic!(
            "read_request still reading after {wait:?} from a client that sends one byte \
             every 100 ms, against a request timeout of 500 ms: a timeout per read restarts at \
             every byte; bound the whole request with a deadline taken at accept"
        );
    };
    assert!(
        matches!(
            r,
            Err(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        ),
        "a request not in by the deadline is a timeout error; got {r:?}"
    );
}

#[test]
fn a_read_interrupted_by_a_signal_handler_goes_on_reading() {
    // With a receive timeout set (SO_RCVTIMEO), a read that a handler interrupts fails with
    // EINTR even when the handler was installed with SA_RESTART (signal(7)); svd's own signal
    // handling must not cost a client its request.
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    let dir = testkit::temp_dir("control-eintr");
    let path = dir.path().join("svd.sock");
    let sock = ControlSocket::bind(&path, my_uid()).expect("bind");
    let mut s = UnixStream::connect(&path).expect("connect");
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let reading = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        let mut conn = sock.accept().expect("accept").expect("allowed");
        conn.read_request().map_err(|e| (e.kind(), e.to_string()))
    });
    let tid = tid_rx.recv().expect("the reading thread's id");
    // accept returns at once (the client is connected); then the read waits for the line.
    testkit::wait_until(DEADLINE, "read_request to block in a read", || {
        reading.is_finished()
            || testkit::thread_sleeps_in(tid, &[libc::SYS_read, libc::SYS_recvfrom])
    });
    assert!(
        !reading.is_finished(),
        "read_request returned before the client sent anything"
    );
    testkit::interrupt_thread(&reading);
    // A reader that gave up has closed the connection already (EPIPE): the answer says so.
    let _ = s.write_all(b"status\n");
    let got = testkit::call_with_deadline(DEADLINE, move || reading.join())
        .expect("read_request did not return after the whole line was sent")
        .expect("the reading thread panicked");
    assert_eq!(
        got,
        Ok(Request::Status),
        "a signal handler interrupted the read (EINTR) before the client sent its line: that is \
         no error of the client's, read again until the deadline"
    );
}
