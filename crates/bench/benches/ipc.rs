//! IPC between two processes: round-trip latency of a 64-byte message (groups
//! `ipc_latency_same_core`, `ipc_latency_cross_core`) and bandwidth of 64 KiB writes (groups
//! `ipc_bandwidth_same_core`, `ipc_bandwidth_cross_core`) over pipes, Unix sockets and TCP
//! loopback. The peer is forked once per benchmark and pinned; cross-core groups are skipped on a
//! machine (or cgroup) with a single CPU.
//!
//! Run with `cargo xtask bench ipc`.

mod common;

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proclings_bench::affinity::Placement;
use proclings_bench::ipc::{CHUNK_BYTES, MESSAGE_BYTES, Mode, Peer, Transport};

/// Runs `measure` against a peer started lazily (only if the benchmark is not filtered out) and
/// reaped when the benchmark is done.
fn with_peers(
    c: &mut Criterion,
    group_name: &str,
    mode: Mode,
    throughput: Option<Throughput>,
    measure: impl Fn(&mut criterion::Bencher<'_>, &mut Peer),
) {
    for placement in Placement::ALL {
        let Some(cpus) = placement.cpus().expect("read the CPU affinity") else {
            eprintln!(
                "{group_name}: skipping {}: fewer than 2 CPUs allowed",
                placement.label()
            );
            continue;
        };
        let mut group = c.benchmark_group(format!("{group_name}_{}", placement.label()));
        if let Some(t) = &throughput {
            group.throughput(t.clone());
        }
        for transport in Transport::ALL {
            let mut peer = None;
            group.bench_function(transport.name(), |b| {
                let peer = peer.get_or_insert_with(|| {
                    Peer::start(transport, mode, Some(cpus)).expect("start the peer")
                });
                measure(b, peer);
            });
            if let Some(peer) = peer {
                let status = peer.finish().expect("reap the peer");
                assert!(
                    status.success(),
                    "the {} peer ended with {status}",
                    transport.name()
                );
            }
        }
        group.finish();
    }
}

fn ipc_latency(c: &mut Criterion) {
    let msg = [7u8; MESSAGE_BYTES];
    with_peers(c, "ipc_latency", Mode::Echo, None, |b, peer| {
        b.iter(|| {
            peer.round_trip(&msg).expect("round trip");
        });
    });
}

fn ipc_bandwidth(c: &mut Criterion) {
    let chunk = vec![1u8; CHUNK_BYTES];
    let throughput = Some(Throughput::Bytes(CHUNK_BYTES as u64));
    with_peers(c, "ipc_bandwidth", Mode::Drain, throughput, |b, peer| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            peer.send_bulk(&chunk, iters).expect("send a burst");
            start.elapsed()
        });
    });
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = ipc_latency, ipc_bandwidth
}
criterion_main!(benches);
