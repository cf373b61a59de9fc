//! Tests of `redirection/stream_lines`. The key test proves lines are passed on AS THEY ARRIVE:
//! the child writes one line and then waits on its stdin until the test has received that line.
//! A version that collects everything at the end never delivers the first line, and the
//! deadline reports it.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use redirection::stream_lines::{Line, Stream, stream_lines};
use testkit::{assert_reaped, proc_ppid, proc_state, sh};

const DEADLINE: Duration = Duration::from_secs(5);

/// A `stream_lines` call running on its own thread, with the child's stdin kept by the test.
struct Streaming {
    pid: u32,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    result: Receiver<std::io::Result<ExitStatus>>,
    /// Whether `stream_lines` returned (and so reaped the child, or said why not).
    returned: bool,
    /// The child's pidfd, to stop and reap exactly that process if the call panics with it.
    pidfd: Option<std::os::fd::OwnedFd>,
    handle: Option<JoinHandle<()>>,
}

impl Streaming {
    fn start(cmd: &mut Command) -> Streaming {
        // A process group of its own, so that a stuck run can be killed with every process
        // the shell started (they hold the pipes too).
        let mut child: Child = cmd
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let pid = child.id();
        let pidfd = testkit::daemon::pidfd_open(pid);
        let (line_tx, lines) = mpsc::channel();
        let (result_tx, result) = mpsc::channel();
        let handle = thread::spawn(move || {
            let _ = result_tx.send(stream_lines(child, line_tx));
        });
        Streaming {
            pid,
            stdin,
            lines,
            result,
            returned: false,
            pidfd,
            handle: Some(handle),
        }
    }

    /// The next line, or a panic saying which line never came (after re-raising a panic of
    /// the call itself, such as the stub's `todo!`).
    fn next_line(&mut self, waiting_for: &str) -> Line {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                self.raise_panic_of_the_call();
                panic!(
                    "no line arrived within {DEADLINE:?} while waiting for {waiting_for}; the \
                     child had written it and was blocked until the test saw it. Send each line \
                     as soon as it is read (BufRead::read_until), not after the child exits"
                )
            }
        }
    }

    /// Lets the child go on (it waits for a line on its stdin).
    fn release(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(b"go\n")
            .expect("cannot write to the child's stdin");
    }

    /// Closes the child's stdin and waits for `stream_lines` to return.
    fn finish(&mut self, stuck: &str) -> ExitStatus {
        self.stdin = None;
        match self.result.recv_timeout(DEADLINE) {
            Ok(result) => {
                self.returned = true;
                result.unwrap_or_else(|e| {
                    let why = if e.kind() == std::io::ErrorKind::InvalidData {
                        ". Output that is not UTF-8 is not an error: read bytes with read_until, \
                         not BufRead::lines, and convert them with String::from_utf8_lossy"
                    } else {
                        ""
                    };
                    panic!("stream_lines returned an error: {e}{why}")
                })
            }
            Err(_) => {
                self.raise_panic_of_the_call();
                panic!("{stuck}")
            }
        }
    }

    fn raise_panic_of_the_call(&mut self) {
        if let Some(h) = self.handle.take_if(|h| h.is_finished())
            && let Err(panic) = h.join()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.stdin = None;
        // A stuck call still owns our unreaped child: kill it so the call can return. Only
        // signal the pid while it is still our child, never a stranger.
        if let Some(h) = self.handle.take() {
            if !h.is_finished()
                && proc_ppid(self.pid) == Some(std::process::id())
                && proc_state(self.pid) != Some('Z')
            {
                let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
            }
            if self.result.recv_timeout(DEADLINE).is_ok() {
                self.returned = true;
            }
            let _ = h.join();
        }
        if !self.returned
            && let Some(pidfd) = &self.pidfd
        {
            // The call panicked (the stub's todo!, say) with the child it owned, dropped and
            // perhaps never reaped: stop it and reap it (through its pidfd: by now its pid may
            // name another process), or it could outlive the test.
            testkit::daemon::kill_and_reap(pidfd);
        }
    }
}

fn line(stream: Stream, text: &str) -> (Stream, String) {
    (stream, text.to_owned())
}

#[test]
fn each_line_is_passed_on_before_the_child_goes_on() {
    let before = SystemTime::now();
    // After each line the child blocks in `read` until the test answers.
    let mut s = Streaming::start(&mut sh(
        "for i in 1 2 3; do echo out$i; read x; echo err$i >&2; read x; done; echo end",
    ));
    for i in 1..=3 {
        for (stream, text) in [
            line(Stream::Stdout, &format!("out{i}")),
            line(Stream::Stderr, &format!("err{i}")),
        ] {
            let got = s.next_line(&format!("{text:?} on {stream:?}"));
            assert_eq!(
                (got.stream, got.text.as_str()),
                (stream, text.as_str()),
                "wrong line"
            );
            assert!(
                got.at >= before && got.at <= SystemTime::now(),
                "the line's time {:?} is not the time it was read",
                got.at
            );
            s.release();
        }
    }
    assert_eq!(s.next_line("\"end\"").text, "end");
    let status = s.finish("stream_lines did not return after the child exited");
    assert!(status.success());
}

#[test]
fn a_last_line_without_newline_is_kept() {
    let mut s = Streaming::start(&mut sh("printf 'first\\nno newline'; printf 'partial' >&2"));
    let status = s.finish("stream_lines did not return after the child exited");
    assert!(status.success());
    let mut got: Vec<(Stream, String)> = s.lines.try_iter().map(|l| (l.stream, l.text)).collect();
    got.sort_by_key(|(stream, _)| *stream == Stream::Stderr);
    assert_eq!(
        got,
        [
            line(Stream::Stdout, "first"),
            line(Stream::Stdout, "no newline"),
            line(Stream::Stderr, "partial")
        ],
        "a last line without `\\n` must still be sent, without a `\\n` added"
    );
}

#[test]
fn both_streams_full_at_once_keep_their_order_without_deadlock() {
    // 40000 lines (about 210 KiB) on each stream at the same time: more than a pipe holds.
    let mut s = Streaming::start(&mut sh("seq 1 40000 & seq 1 40000 >&2; wait"));
    let status = s.finish(
        "stream_lines did not return within 5 s while the child wrote a lot to both streams: \
         reading one pipe to its end before the other lets the other fill up and block the \
         child. Read each pipe on its own thread",
    );
    assert!(status.success());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for l in s.lines.try_iter() {
        match l.stream {
            Stream::Stdout => out.push(l.text),
            Stream::Stderr => err.push(l.text),
        }
    }
    let want: Vec<String> = (1..=40000).map(|i| i.to_string()).collect();
    assert!(
        out == want,
        "stdout lines missing or out of order ({} received)",
        out.len()
    );
    assert!(
        err == want,
        "stderr lines missing or out of order ({} received)",
        err.len()
    );
}

#[test]
fn bytes_that_are_not_utf8_do_not_stop_the_stream() {
    let mut s = Streaming::start(&mut sh("printf 'ok\\n\\377\\376\\nafter\\n'"));
    let status = s.finish("stream_lines did not return after the child exited");
    assert!(status.success());
    let got: Vec<String> = s.lines.try_iter().map(|l| l.text).collect();
    assert_eq!(
        got,
        ["ok", "\u{FFFD}\u{FFFD}", "after"],
        "invalid UTF-8 must become U+FFFD (String::from_utf8_lossy), not end the stream: read \
         bytes with read_until, not BufRead::lines"
    );
}

#[test]
fn returns_the_exit_status_and_reaps_the_child() {
    let mut s = Streaming::start(&mut sh("echo bye; exit 5"));
    let pid = s.pid;
    let status = s.finish("stream_lines did not return after the child exited");
    assert_eq!(
        status.code(),
        Some(5),
        "the child's exit status was not returned"
    );
    assert_reaped(pid);
}
