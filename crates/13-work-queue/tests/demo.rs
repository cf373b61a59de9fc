//! Runs the narrated demo of the work-queue topic and checks its key lines.

use std::time::Duration;

#[test]
fn the_demo_runs_to_completion_and_narrates_each_step() {
    let demo = env!("CARGO_BIN_EXE_work-queue-demo");
    let out = testkit::run_demo(demo, Duration::from_secs(60));
    if work_queue::natsd::find().is_none() {
        assert!(
            out.contains("nats-server is not installed"),
            "without nats-server the demo must say why it shows nothing:\n{out}"
        );
        println!("the demo's tour skipped: nats-server is not installed");
        return;
    }
    for key in [
        "== started nats-server (pid ",
        "== published task-1: stored at sequence 1, duplicate: false",
        "(same Nats-Msg-Id): sequence 1, duplicate: true",
        "== pulled \"hash /etc/hostname\" (stream sequence 1, delivery 1)",
        "the work-queue stream now holds 0 message(s)",
        "== pulled \"count /etc/passwd\", delivery 1;",
        "== pulled \"count /etc/passwd\" again after",
        ": delivery 2 (the ack wait",
        "in-progress acks (+WPI); another worker's pull meanwhile got nothing",
        "== pulled \"crash\", delivery 2 of at most 2",
        "== a third worker asked and got nothing; the server gave up on the task and said so on \
         $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES",
        "== stopped nats-server (pid ",
        "== done",
    ] {
        assert!(out.contains(key), "the demo's output lacks {key:?}:\n{out}");
    }
}
