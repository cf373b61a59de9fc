//! The benchmark groups the report knows, in report order, and readable names for their
//! benchmarks. Registering a new group is one entry in [`GROUPS`] (and, for readable rows, one
//! entry per benchmark in [`LABELS`]); the bench code itself goes in `benches/NAME.rs` (a
//! `[[bench]]` in Cargo.toml, criterion group named like the entry's id) and `src/NAME.rs`.

/// The benchmark groups, in report order: (criterion group id, bench target in `benches/`,
/// the report's title for its table, what to notice in it).
pub const GROUPS: &[(&str, &str, &str, &str)] = &[
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
];

/// Readable names for benchmark ids (`function` or `function/value`), in the order the rows of
/// every table follow; an id not listed here is shown as it is, after the listed ones.
pub const LABELS: &[(&str, &str)] = &[
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
];
