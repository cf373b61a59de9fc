//! Smoke tests of the benchmarked mechanisms: each spawning function really starts the program,
//! reports its exit status and reaps it; each IPC transport really round-trips and drains bytes,
//! and its peer exits cleanly once the connection closes. No timing is asserted here.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use proclings_bench::affinity::{Placement, cpus_of};
use proclings_bench::heap::LargeHeap;
use proclings_bench::ipc::{CHUNK_BYTES, Mode, Peer, Transport};
use proclings_bench::spawn::{self, Program, TRUE_PATH};
use proclings_bench::throughput::{spawn_many_threads, spawn_many_tokio, tokio_pool_runtime};

const FALSE_PATH: &str = "/bin/false";

/// Tests create children of this process and check that none is left: one at a time.
static CHILDREN: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    CHILDREN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn assert_no_children(after: &str) {
    let left = testkit::children_of(std::process::id());
    assert!(
        left.is_empty(),
        "after {after}: children left behind (pid, state): {left:?}"
    );
}

#[test]
fn every_spawn_mechanism_reports_success_and_failure_and_reaps() {
    let _lock = one_at_a_time();
    let rt = spawn::tokio_runtime().expect("tokio runtime");
    let yes = Program::new(TRUE_PATH).expect("prepare /bin/true");
    let no = Program::new(FALSE_PATH).expect("prepare /bin/false");
    type Spawn<'a> = Box<dyn Fn(&Program) -> std::io::Result<std::process::ExitStatus> + 'a>;
    let mechanisms: Vec<(&str, Spawn<'_>)> = vec![
        ("std_status", Box::new(|p| spawn::std_status(p.path()))),
        ("std_output", Box::new(|p| spawn::std_output(p.path()))),
        ("posix_spawn", Box::new(|p| p.posix_spawn())),
        ("fork_exec", Box::new(|p| p.fork_exec())),
        ("clone_vfork", Box::new(|p| p.clone_vfork())),
        ("tokio", Box::new(|p| spawn::tokio_status(&rt, p.path()))),
        ("duct", Box::new(|p| spawn::duct_run(p.path()))),
    ];
    for (name, run) in &mechanisms {
        let ok = run(&yes).unwrap_or_else(|e| panic!("{name} {TRUE_PATH}: {e}"));
        assert!(
            ok.success(),
            "{name} {TRUE_PATH}: expected success, got {ok}"
        );
        let fail = run(&no).unwrap_or_else(|e| panic!("{name} {FALSE_PATH}: {e}"));
        assert_eq!(
            fail.code(),
            Some(1),
            "{name} {FALSE_PATH}: expected exit code 1, got {fail}"
        );
        assert_no_children(name);
    }
}

#[test]
fn raw_spawns_report_a_missing_program() {
    let _lock = one_at_a_time();
    let missing = Program::new("/nonexistent/proclings-bench").expect("prepare a missing path");
    let err = missing
        .posix_spawn()
        .expect_err("posix_spawn of a missing program");
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "posix_spawn: {err}");
    let err = missing
        .clone_vfork()
        .expect_err("clone_vfork of a missing program");
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "clone_vfork: {err}");
    let status = missing
        .fork_exec()
        .expect("fork_exec reports a failed exec as exit 127");
    assert_eq!(
        status.code(),
        Some(127),
        "fork_exec of a missing program: got {status}"
    );
    assert_no_children("spawning a missing program");
}

#[test]
fn fork_and_posix_spawn_work_from_a_large_parent() {
    let _lock = one_at_a_time();
    let heap = LargeHeap::touch(16 << 20).expect("map 16 MiB");
    assert_eq!(
        heap.checksum(),
        (16 << 20) / 4096,
        "one byte written per 4 KiB page"
    );
    let program = Program::new(TRUE_PATH).expect("prepare /bin/true");
    assert!(program.fork_exec().expect("fork_exec").success());
    assert!(program.posix_spawn().expect("posix_spawn").success());
    assert_no_children("spawning from a large parent");
}

#[test]
fn thread_pools_and_tokio_run_every_process() {
    let _lock = one_at_a_time();
    let path = Path::new(TRUE_PATH);
    for threads in [1, 2, 4] {
        spawn_many_threads(path, 6, threads)
            .unwrap_or_else(|e| panic!("{threads} threads spawning {TRUE_PATH}: {e}"));
    }
    let err = spawn_many_threads(Path::new(FALSE_PATH), 3, 2).expect_err("/bin/false fails");
    assert!(
        err.to_string().contains("exit status: 1"),
        "unexpected error: {err}"
    );
    let rt = tokio_pool_runtime().expect("tokio runtime");
    spawn_many_tokio(&rt, path, 12, 5).expect("tokio spawning /bin/true");
    spawn_many_tokio(&rt, Path::new(FALSE_PATH), 4, 2).expect_err("tokio spawning /bin/false");
    assert_no_children("the throughput runs");
}

#[test]
fn every_transport_echoes_and_drains_then_its_peer_exits() {
    let _lock = one_at_a_time();
    let msg: Vec<u8> = (0..64).collect();
    let chunk = vec![0xA5; CHUNK_BYTES];
    for transport in Transport::ALL {
        let name = transport.name();
        let mut echo = Peer::start(transport, Mode::Echo, None).expect(name);
        for _ in 0..3 {
            let back = echo
                .round_trip(&msg)
                .unwrap_or_else(|e| panic!("{name} round trip: {e}"));
            assert_eq!(
                back,
                &msg[..],
                "{name}: the echo differs from what was sent"
            );
        }
        let status = echo
            .finish()
            .unwrap_or_else(|e| panic!("{name} echo peer: {e}"));
        assert!(status.success(), "{name}: echo peer ended with {status}");

        let mut drain = Peer::start(transport, Mode::Drain, None).expect(name);
        drain
            .send_bulk(&chunk, 40)
            .unwrap_or_else(|e| panic!("{name} burst of 40: {e}"));
        drain
            .send_bulk(&chunk, 1)
            .unwrap_or_else(|e| panic!("{name} burst of 1: {e}"));
        let status = drain
            .finish()
            .unwrap_or_else(|e| panic!("{name} drain peer: {e}"));
        assert!(status.success(), "{name}: drain peer ended with {status}");
        assert_no_children(name);
    }
}

#[test]
fn a_dropped_peer_is_reaped() {
    let _lock = one_at_a_time();
    let mut peer = Peer::start(Transport::Socketpair, Mode::Echo, None).expect("start");
    peer.round_trip(b"x").expect("round trip");
    drop(peer);
    assert_no_children("dropping a peer");
}

#[test]
fn pinned_peers_run_on_the_requested_cpu() {
    let _lock = one_at_a_time();
    for placement in Placement::ALL {
        let Some((mine, theirs)) = placement.cpus().expect("read the affinity") else {
            continue;
        };
        let before = cpus_of(0).expect("my affinity");
        {
            let mut peer =
                Peer::start(Transport::Pipe, Mode::Echo, Some((mine, theirs))).expect("start");
            assert_eq!(
                cpus_of(0).expect("my affinity"),
                vec![mine],
                "{placement:?}: this thread"
            );
            assert_eq!(
                cpus_of(peer.pid()).expect("peer affinity"),
                vec![theirs],
                "{placement:?}: peer"
            );
            peer.round_trip(b"ping").expect("round trip");
        }
        assert_eq!(
            cpus_of(0).expect("my affinity"),
            before,
            "{placement:?}: mask restored"
        );
    }
    assert_no_children("the pinned peers");
}

/// The two CPUs of the cross-core benchmarks, or the same one twice on a single-CPU machine
/// (the shared-memory ping-pong still works there, only slowly).
fn two_cpus() -> (usize, usize) {
    Placement::CrossCore
        .cpus()
        .expect("read the CPU affinity")
        .or(Placement::SameCore.cpus().expect("read the CPU affinity"))
        .expect("at least one CPU")
}

#[test]
fn every_shared_memory_ping_pong_echoes_and_its_peer_is_reaped() {
    use proclings_bench::shm::{MESSAGE_BYTES, MqPingPong, ShmPingPong, Side, Wait};
    let _one = one_at_a_time();
    let cpus = two_cpus();
    for wait in [Wait::Spin, Wait::SpinThenFutex, Wait::Futex] {
        for side in [Side::Process, Side::Thread] {
            let mut p = ShmPingPong::start(wait, side, cpus).expect("start the ping-pong");
            for _ in 0..20 {
                let back = p.round_trip().expect("round trip");
                assert_eq!(back, &[7u8; MESSAGE_BYTES], "{wait:?}/{side:?}: the echo");
            }
            drop(p);
            assert_no_children(&format!("the {wait:?} ping-pong with a {side:?}"));
        }
    }
    let mut mq = MqPingPong::start(cpus).expect("start the queue ping-pong");
    for _ in 0..20 {
        assert_eq!(mq.round_trip().expect("round trip"), &[7u8; MESSAGE_BYTES]);
    }
    drop(mq);
    assert_no_children("the message-queue ping-pong");
}

#[test]
fn the_shared_memory_ring_delivers_bursts_larger_than_itself() {
    use proclings_bench::shm::{BULK_RING_BYTES, CHUNK_BYTES, Memcpy, ShmBulk};
    let _one = one_at_a_time();
    let chunk = vec![5u8; CHUNK_BYTES];
    let mut ring = ShmBulk::start(two_cpus()).expect("start the ring");
    // 3 rounds of twice the ring's size: every byte position wraps around.
    for _ in 0..3 {
        ring.send_bulk(&chunk, (2 * BULK_RING_BYTES / CHUNK_BYTES) as u64);
    }
    drop(ring);
    assert_no_children("the shared-memory ring");
    Memcpy::new(BULK_RING_BYTES)
        .expect("map the memcpy destination")
        .copy(&chunk, 40);
}

#[test]
fn the_echoing_thread_of_the_floor_benchmark_stays_on_its_own_cpu() {
    use proclings_bench::shm::{ShmPingPong, Side, Wait};
    let _one = one_at_a_time();
    let Some(cpus) = Placement::CrossCore.cpus().expect("read the CPU affinity") else {
        return;
    };
    let mut p = ShmPingPong::start(Wait::Spin, Side::Thread, cpus).expect("start");
    p.round_trip().expect("round trip");
    let me = std::process::id();
    let tids: Vec<i32> = std::fs::read_dir(format!("/proc/{me}/task"))
        .expect("list our threads")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let on_peer_cpu = tids
        .iter()
        .filter(|&&tid| cpus_of(tid).is_ok_and(|c| c == [cpus.1]))
        .count();
    drop(p);
    assert_eq!(
        on_peer_cpu, 1,
        "exactly the echoing thread must be pinned to CPU {} while the ping-pong runs",
        cpus.1
    );
}

#[test]
fn every_sampler_reads_the_whole_tree_and_the_tree_leaves_nothing() {
    use proclings_bench::monitor::{SleeperTree, SysinfoSampler, procfs_refresh};
    let _one = one_at_a_time();
    {
        let tree = SleeperTree::start(20).expect("start a tree of 20 sleepers");
        let pids = tree.pids();
        assert_eq!(pids.len(), tree.len(), "the root and its 20 sleepers");
        #[cfg(feature = "solution")]
        {
            let mut pmon = proclings_bench::monitor::PmonSampler::new(tree.root());
            assert_eq!(pmon.sample(), tree.len());
            assert_eq!(
                pmon.sample(),
                tree.len(),
                "the second sample reads the kept files"
            );
        }
        assert_eq!(procfs_refresh(&pids), tree.len());
        assert_eq!(SysinfoSampler::new(&pids).refresh_known(), tree.len());
        assert_eq!(
            SysinfoSampler::new(&pids).refresh_all(tree.root()),
            tree.len()
        );
    }
    assert_no_children("dropping the sleeper tree");
}

#[test]
fn only_a_parallel_that_names_gnu_parallel_is_measured() {
    // It starts children too, which another test's count of its own children would see.
    let _lock = one_at_a_time();
    let dir = testkit::temp_dir("bench-parallel");
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        // Written by a shell, not by this process: an executable this process had open for
        // writing could be inherited by another test's child and fail with ETXTBSY.
        let made = std::process::Command::new("/bin/sh")
            .args(["-c", "printf '%s\\n' \"$1\" > \"$0\" && chmod 755 \"$0\""])
            .arg(&path)
            .arg(format!("#!/bin/sh\n{body}"))
            .status()
            .expect("run sh");
        assert!(made.success(), "cannot write {}", path.display());
        path
    };
    // moreutils' parallel knows no --version: it prints its usage and fails (and, given GNU's
    // options instead, runs nothing and exits 0).
    let moreutils = script(
        "moreutils-parallel",
        "echo \"parallel: invalid option -- '-'\" >&2; exit 1",
    );
    let gnu = script(
        "gnu-parallel",
        "echo 'GNU parallel 20240222'; echo 'Copyright (C) 2007-2024 Ole Tange'",
    );
    assert!(
        !proclings_bench::par::is_gnu_parallel(&moreutils),
        "a `parallel` whose --version does not name GNU parallel must be skipped"
    );
    assert!(
        proclings_bench::par::is_gnu_parallel(&gnu),
        "GNU parallel's --version names it"
    );
    assert!(!proclings_bench::par::is_gnu_parallel(
        &dir.path().join("absent")
    ));
}

/// The work-queue bench's programs: the reference `jobq`, `poold` and `poolc` (built once in
/// release mode into a target of their own), or `None` with a note when nats-server is missing.
fn queue_bins(test: &str) -> Option<proclings_bench::queue::Bins> {
    if !proclings_bench::queue::broker_installed() {
        println!("{test}: skipped: nats-server is not installed (apt-get install nats-server)");
        return None;
    }
    Some(proclings_bench::queue::binaries().expect("build jobq, poold and poolc"))
}

/// Waits until no process (zombies aside) is left in any of the process groups `pgids`.
fn assert_groups_gone(after: &str, pgids: &[i32]) {
    testkit::wait_until(
        std::time::Duration::from_secs(20),
        &format!("every process of groups {pgids:?} to end after {after}"),
        || {
            !pgids
                .iter()
                .any(|&g| proclings_bench::queue::group_alive(g))
        },
    );
}

#[test]
fn a_batch_runs_through_poold_and_through_jobq_and_nothing_is_left() {
    use proclings_bench::queue::{Broker, Fleet, Poold, broker_costs, jobq_submit, task_file};
    let _lock = one_at_a_time();
    let Some(bins) = queue_bins("queue_vs_pool") else {
        return;
    };
    let dir = testkit::temp_dir("bench-queue");
    let tasks = task_file(dir.path(), "echo.tasks", "echo x", 20).expect("a task file");
    let sleeps = task_file(dir.path(), "sleep.tasks", "sleep 20", 8).expect("a task file");
    let pgids;
    {
        let poold = Poold::start(&bins, 1).expect("start poold");
        poold
            .run(&tasks, 20)
            .expect("20 tasks through poolc, each answered ok");
        let broker = Broker::start(&bins.jobq, 30)
            .expect("start nats-server and init the queue")
            .expect("nats-server is installed");
        let fleet = Fleet::start(&bins.jobq, broker, 4).expect("start 4 workers");
        for worker in &fleet.workers {
            assert_eq!(worker.pool_pids().len(), 1, "a pool of one job per worker");
        }
        jobq_submit(&bins.jobq, fleet.broker.url(), &tasks, 20)
            .expect("20 tasks through jobq, each answered ok once");
        jobq_submit(&bins.jobq, fleet.broker.url(), &sleeps, 8)
            .expect("8 sleeping tasks through jobq");
        let costs = broker_costs(fleet.broker.url(), 5).expect("time the broker's round trips");
        for (what, us) in [
            ("round trip", costs.round_trip_us),
            ("publish", costs.publish_us),
            ("pull", costs.pull_us),
            ("ack", costs.ack_us),
        ] {
            assert!(us > 0.0 && us.is_finite(), "{what}: {us} us");
        }
        pgids = std::iter::once(poold.pid())
            .chain(fleet.workers.iter().map(|w| w.pid()))
            .collect::<Vec<_>>();
    }
    assert_groups_gone("dropping poold, the workers and the server", &pgids);
    assert_no_children("the queue-vs-pool mechanisms");
}

#[test]
fn a_task_whose_worker_is_killed_runs_on_the_other_worker() {
    use proclings_bench::queue::Recovery;
    let _lock = one_at_a_time();
    let Some(bins) = queue_bins("queue_recovery") else {
        return;
    };
    let mut pgids;
    {
        let mut recovery = Recovery::start(&bins.jobq, 1)
            .expect("start nats-server and two workers")
            .expect("nats-server is installed");
        pgids = recovery.worker_pids();
        // It fails unless the task ran on the other worker and was answered exactly once.
        recovery
            .once()
            .expect("the task runs again on the other worker, and is answered once");
        // The killed worker was replaced: both groups, old and new, must end on drop.
        pgids.extend(recovery.worker_pids());
    }
    pgids.sort_unstable();
    pgids.dedup();
    assert_groups_gone("dropping the recovery set-up", &pgids);
    assert_no_children("the recovery mechanism");
}
