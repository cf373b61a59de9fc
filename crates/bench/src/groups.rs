//! The benchmark groups the report knows, in report order, and readable names for their
//! benchmarks. Registering a new group is one entry in [`GROUPS`] (and, for readable rows, one
//! entry per benchmark in [`LABELS`]); the bench code itself goes in `benches/NAME.rs` (a
//! `[[bench]]` in Cargo.toml, criterion group named like the entry's id) and `src/NAME.rs`.

/// The benchmark groups, in report order: (criterion group id, bench target in `benches/`,
/// the report's title for its table, what to notice in it).
pub const GROUPS: &[(&str, &str, &str, &str)] = &[
    (
        "sandbox_setup",
        "sandbox",
        "One run of /bin/true by the runner's sandbox, contained or not, against a bare spawn \
         (lower is better)",
        "Containment adds a clone into new PID, mount and IPC namespaces, three mounts, a pids \
         cgroup and a second process (the init) to every check: about a millisecond, small \
         beside the sandbox's own bookkeeping and nothing beside building the tests.",
    ),
    (
        "spawn_latency",
        "spawn",
        "Spawn + wait of /bin/true (latency, lower is better)",
        "Every mechanism ends in the same clone + execve + dynamic loading of /bin/true, so they \
         sit close together: the program's start-up, not the Rust API, sets the price. The gaps \
         are the extras: pipes to read (output), a runtime wake-up (tokio), a page-table copy \
         (fork + exec).",
    ),
    (
        "spawn_large_parent",
        "spawn",
        "Spawn + wait from a parent with 512 MiB resident (lower is better)",
        "fork copies the parent's page tables (one entry per 4 KiB page) before exec throws them \
         away; posix_spawn, clone(CLONE_VM) and std share them. This is why std spawns with \
         posix_spawn.",
    ),
    (
        "spawn_throughput",
        "throughput",
        "Spawn throughput, many /bin/true (higher is better)",
        "Spawning is mostly kernel and loader work on whichever core runs the child: threads \
         help up to the number of cores, and tokio does not spawn faster than threads (its spawn \
         is synchronous, only the wait is async).",
    ),
    (
        "ipc_latency_same_core",
        "ipc",
        "Round trip of 64 bytes, both processes on one core (lower is better)",
        "On one core a message is a direct switch to the woken peer: the cost is the system \
         calls and the protocol stack, so pipes and Unix sockets beat TCP loopback.",
    ),
    (
        "ipc_latency_cross_core",
        "ipc",
        "Round trip of 64 bytes, processes on two cores (lower is better)",
        "Across cores each message wakes an idle core with an inter-processor interrupt (a trap \
         to the hypervisor in a VM): the wake-up, not the transport, dominates.",
    ),
    (
        "ipc_bandwidth_same_core",
        "ipc",
        "Bandwidth of 64 KiB writes, one core (higher is better)",
        "With the default 64 KiB pipe buffer every write fills the pipe and forces a switch to \
         the reader; a 1 MiB buffer lets the writer run ahead. Sockets copy through skbs, TCP \
         also through the network stack.",
    ),
    (
        "ipc_bandwidth_cross_core",
        "ipc",
        "Bandwidth of 64 KiB writes, two cores (higher is better)",
        "On two cores writer and reader copy in parallel, when the buffer is large enough for \
         neither to wait on the other's wake-up.",
    ),
    (
        "par_throughput",
        "par",
        "par -j 4 against xargs -P 4: many /bin/true (higher is better)",
        "par starts children with posix_spawn (clone with CLONE_VM|CLONE_VFORK: no page tables \
         copied) on two runtime threads; GNU xargs forks on one thread, and fork is costly in a \
         VM. Through sh -c every command pays a second exec and throughput halves: the price GNU \
         parallel always pays, on top of its Perl bookkeeping per job.",
    ),
    (
        "shm_latency_cross_core",
        "shm",
        "Round trip of 64 bytes: shared memory vs kernel IPC, two cores (lower is better)",
        "Spinning on shared memory costs what two threads of one process cost: a cache line \
         crossing between cores, 20x and more below a pipe. Sleeping on a futex at once costs a \
         wake-up of the other core, exactly as a pipe does: parity is the floor. Spinning \
         briefly first (shmchan's policy) avoids it when the answer is quick. The p50/p99 of \
         single round trips, timed one by one, are the robust figures on a loaded machine.",
    ),
    (
        "shm_bandwidth_cross_core",
        "shm",
        "Bandwidth of 64 KiB writes: a shared-memory ring vs memcpy and a pipe (higher is better)",
        "The ring copies each byte twice, on two cores; it is compared with one thread's memcpy \
         into 1 MiB (in cache) and 64 MiB (through RAM). A pipe adds a system call and a wake-up \
         per write.",
    ),
    (
        "monitor_cpu_share",
        "monitor",
        "CPU time of a 10 Hz sampler watching 200 sleeping processes, per 100 ms period (lower is \
         better; 5 ms is 5% of a core)",
        "pmon keeps each watched process's /proc files open and re-reads them: three system \
         calls per process and sample, none for the rest of the machine. sysinfo opens and reads \
         more files per process, and finds new descendants only by refreshing every process.",
    ),
    (
        "monitor_refresh",
        "monitor",
        "One refresh of a tree of 201 processes (lower is better)",
        "Opening each stat file by path costs more than pmon's whole sample from kept files; \
         sysinfo reads more files per process, and the whole machine to find descendants.",
    ),
    (
        "pool_vs_spawn",
        "pool",
        "A trivial task: pre-forked pool vs a process per task (tasks/s, higher is better)",
        "The pool pays two pipe messages per task; a process per task pays spawn, exec, the \
         dynamic loader and start-up for microseconds of work.",
    ),
    (
        "pool_dispatch_same_core",
        "pool",
        "One task's round trip, worker on the caller's core: through the pool vs a bare pipe \
         (lower is better)",
        "The bare round trip wakes two threads (worker, caller); through the pool with `run` too: \
         the caller writes the task and reads the answer itself, and the pool's event thread \
         only watches for deaths. The rest is the pool's bookkeeping under its lock.",
    ),
    (
        "pool_dispatch_cross_core",
        "pool",
        "One task's round trip, worker on another core: through the pool vs a bare pipe (lower \
         is better)",
        "Each message is now a wake-up of another core, which costs more than everything the \
         pool adds: compare the ratio to the same-core group's, not the times.",
    ),
    (
        "pool_workers",
        "pool",
        "CPU-bound tasks with 1, 2 and 4 workers, pinned one per core in turn (higher is \
         better)",
        "A worker holds one task at a time and idles for each round trip between two tasks: \
         workers add throughput up to the number of cores, and a few more fill those idle gaps.",
    ),
    (
        "supervisor_restart",
        "supervisor",
        "A crashed service running again, zero backoff: svd vs spawning it directly (lower is \
         better; goal under 10 ms)",
        "svd learns of the death at once (the pidfd becomes readable, SIGCHLD arrives on the \
         signalfd) and spawns in the same turn of its loop; what it adds to a bare spawn is the \
         wake-up, the bookkeeping, and a fork instead of posix_spawn (its pre_exec, which \
         empties the signal mask, rules posix_spawn out).",
    ),
    (
        "supervisor_idle",
        "supervisor",
        "CPU time of an idle svd supervising 50 sleeping services, per 100 ms (lower is better; \
         100 us is the 0.1% goal)",
        "svd sleeps in one poll with no timeout when no timer is due: nothing wakes it while \
         nothing happens. A supervisor that polls its children (supervisord's 1 s select \
         timeout, a `while sleep` loop) pays at every tick.",
    ),
    (
        "queue_vs_pool",
        "queue",
        "A trivial task through the work queue: jobq with one worker vs poold with one worker \
         (tasks/s, higher is better)",
        "poold answers a task with two pipe messages and a socket line each way. Through jobq \
         each task is a JetStream publish that waits for the server to store it, a pull by the \
         worker, a second publish for the result and an ack that waits for its confirmation: \
         four round trips through nats-server, each a file write on its side, no fsync.",
    ),
    (
        "queue_scaling",
        "queue",
        "sleep 20 tasks through jobq with 1, 4 and 16 workers of one job each, and through poold \
         with 1 (tasks/s, higher is better; the ideal is N x 50/s)",
        "A worker holds one task at a time and spends the broker's round trips (pull, result \
         publish, ack) between two tasks; the submitter's start is paid once per batch. poold's \
         row is the same batch with no broker: what sleeping itself costs.",
    ),
    (
        "queue_recovery",
        "queue",
        "A task whose worker was SIGKILLed, running on another worker: with an ack wait of 1 s \
         and 2 s (lower is better; it should track the ack wait)",
        "No pidfd reaches another host: the server redelivers a task once its ack wait has \
         passed since it was delivered or its lease last renewed, to a worker whose pull is \
         waiting. Killed as soon as it starts, a task is back after about one ack wait.",
    ),
];

/// Readable names for benchmark ids (`function` or `function/value`), in the order the rows of
/// every table follow; an id not listed here is shown as it is, after the listed ones.
pub const LABELS: &[(&str, &str)] = &[
    ("bare_spawn", "Command::status, no sandbox"),
    ("sandbox_uncontained", "the sandbox, uncontained"),
    ("sandbox_contained", "the sandbox, contained"),
    ("std_status", "std Command::status"),
    ("std_output", "std Command::output"),
    ("posix_spawn", "posix_spawn (libc)"),
    ("fork_exec", "fork + exec (nix)"),
    ("clone_vfork", "clone(CLONE_VM|CLONE_VFORK) + exec"),
    ("tokio", "tokio::process"),
    ("duct", "duct"),
    ("threads/1", "std, 1 thread"),
    ("threads/2", "std, pool of 2 threads"),
    ("threads/4", "std, pool of 4 threads"),
    ("tokio_in_flight/100", "tokio, 100 in flight"),
    ("pipe", "pipe (64 KiB buffer)"),
    ("pipe_1mib", "pipe (1 MiB buffer)"),
    ("unix_stream", "Unix stream socket"),
    ("socketpair", "socketpair"),
    ("tcp_loopback", "TCP 127.0.0.1"),
    ("par/j4", "par -j 4"),
    ("par_sh/j4", "par -j 4, each through sh -c"),
    ("xargs/P4", "xargs -P 4 -n 1"),
    ("parallel/j4", "GNU parallel -j 4"),
    ("threads_spin", "two threads spinning (floor)"),
    ("shm_spin", "shared memory, spinning"),
    ("shm_spin_then_futex", "shared memory, spin then futex"),
    ("shm_futex", "shared memory, futex at once"),
    ("posix_mq", "POSIX message queue"),
    ("memcpy_1mib", "memcpy into 1 MiB"),
    ("memcpy_64mib", "memcpy into 64 MiB"),
    ("shm_ring", "shared-memory ring"),
    ("procfs_stat", "procfs, stat of each pid"),
    ("pmon_procfs", "pmon (kept /proc files), sample + table"),
    ("sysinfo_known_pids", "sysinfo, only the tree's pids"),
    ("sysinfo_all", "sysinfo, every process"),
    ("svd_restart", "svd: kill to restarted"),
    (
        "svd_restart_of_50",
        "svd with 50 services: kill to restarted",
    ),
    ("bare_spawn", "spawn of the same command"),
    ("svd_50_sleeping_services", "svd, 50 sleeping services"),
    ("pool_2_workers", "pool, 2 workers"),
    ("process_per_task", "a process per task"),
    ("bare_pipe_round_trip", "bare pipe round trip"),
    ("pool_round_trip", "through the pool"),
    ("workers/1", "1 worker"),
    ("workers/2", "2 workers"),
    ("workers/4", "4 workers"),
    ("poold_1_worker", "poold, 1 worker (poolc run)"),
    ("jobq_1_worker", "jobq, 1 worker (jobq submit)"),
    ("poold_workers/1", "poold, 1 worker"),
    ("jobq_workers/1", "1 jobq worker"),
    ("jobq_workers/4", "4 jobq workers"),
    ("jobq_workers/16", "16 jobq workers"),
    ("ack_wait_s/1", "ack wait 1 s: SIGKILL to running elsewhere"),
    ("ack_wait_s/2", "ack wait 2 s: SIGKILL to running elsewhere"),
];
