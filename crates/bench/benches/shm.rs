//! Shared memory against the kernel's IPC, two processes on two cores: round trip of a 64-byte
//! message (group `shm_latency_cross_core`: shared memory spinning, spinning then sleeping on a
//! futex, sleeping on a futex at once, two threads of one process spinning (the floor), a pipe,
//! a Unix socket, POSIX message queues) and bandwidth (group `shm_bandwidth_cross_core`: a
//! shared-memory byte ring against `memcpy` and a pipe with a 1 MiB buffer). After criterion's
//! medians it times single round trips and prints their p50 and p99 (also saved for the report
//! of `cargo xtask bench`), and the ratios against the goals of PERF.md. Skipped on a machine (or cgroup) with a single CPU.
//!
//! Run with `cargo xtask bench shm`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use proclings_bench::affinity::Placement;
use proclings_bench::ipc::{Mode, Peer, Transport};
use proclings_bench::report::save_percentiles;
use proclings_bench::settings::Settings;
use proclings_bench::shm::{
    BULK_RING_BYTES, CHUNK_BYTES, MEMCPY_LARGE_BYTES, MESSAGE_BYTES, Memcpy, MqPingPong, ShmBulk,
    ShmPingPong, Side, Wait,
};
use proclings_bench::voluntary_switches;

/// Everything that can do a 64-byte round trip.
enum Pinger {
    Shm(ShmPingPong),
    Kernel(Peer),
    Mq(MqPingPong),
}

impl Pinger {
    fn round_trip(&mut self, msg: &[u8; MESSAGE_BYTES]) {
        match self {
            Pinger::Shm(p) => {
                black_box(p.round_trip().expect("shm round trip"));
            }
            Pinger::Kernel(p) => {
                black_box(p.round_trip(msg).expect("round trip"));
            }
            Pinger::Mq(p) => {
                black_box(p.round_trip().expect("mq round trip"));
            }
        }
    }
}

/// The latency contestants, in report order: (id, constructor).
type Start = fn((usize, usize)) -> Pinger;
const CONTESTANTS: [(&str, Start); 7] = [
    ("threads_spin", |cpus| {
        Pinger::Shm(ShmPingPong::start(Wait::Spin, Side::Thread, cpus).expect("start"))
    }),
    ("shm_spin", |cpus| {
        Pinger::Shm(ShmPingPong::start(Wait::Spin, Side::Process, cpus).expect("start"))
    }),
    ("shm_spin_then_futex", |cpus| {
        Pinger::Shm(ShmPingPong::start(Wait::SpinThenFutex, Side::Process, cpus).expect("start"))
    }),
    ("shm_futex", |cpus| {
        Pinger::Shm(ShmPingPong::start(Wait::Futex, Side::Process, cpus).expect("start"))
    }),
    ("pipe", |cpus| {
        Pinger::Kernel(Peer::start(Transport::Pipe, Mode::Echo, Some(cpus)).expect("start"))
    }),
    ("unix_stream", |cpus| {
        Pinger::Kernel(Peer::start(Transport::UnixStream, Mode::Echo, Some(cpus)).expect("start"))
    }),
    ("posix_mq", |cpus| {
        Pinger::Mq(MqPingPong::start(cpus).expect("start"))
    }),
];

fn cross_core() -> Option<(usize, usize)> {
    let cpus = Placement::CrossCore.cpus().expect("read the CPU affinity");
    if cpus.is_none() {
        eprintln!("shm: skipping: fewer than 2 CPUs allowed");
    }
    cpus
}

fn shm_latency(c: &mut Criterion) {
    let Some(cpus) = cross_core() else { return };
    let mut group = c.benchmark_group("shm_latency_cross_core");
    let msg = [7u8; MESSAGE_BYTES];
    for (id, start) in CONTESTANTS {
        let mut pinger = None;
        group.bench_function(id, |b| {
            let p = pinger.get_or_insert_with(|| start(cpus));
            b.iter(|| p.round_trip(&msg));
        });
        // Dropping stops and reaps the peer.
        drop(pinger);
    }
    group.finish();
}

fn shm_bandwidth(c: &mut Criterion) {
    let Some(cpus) = cross_core() else { return };
    let mut group = c.benchmark_group("shm_bandwidth_cross_core");
    group.throughput(Throughput::Bytes(CHUNK_BYTES as u64));
    let chunk = vec![1u8; CHUNK_BYTES];
    for (id, len) in [
        ("memcpy_1mib", BULK_RING_BYTES),
        ("memcpy_64mib", MEMCPY_LARGE_BYTES),
    ] {
        group.bench_function(id, |b| {
            let mut m = Memcpy::new(len).expect("map the memcpy destination");
            b.iter_custom(|iters| {
                let start = Instant::now();
                m.copy(&chunk, iters);
                start.elapsed()
            });
        });
    }
    let mut ring = None;
    group.bench_function("shm_ring", |b| {
        let r = ring.get_or_insert_with(|| ShmBulk::start(cpus).expect("start"));
        b.iter_custom(|iters| {
            let start = Instant::now();
            r.send_bulk(&chunk, iters);
            start.elapsed()
        });
    });
    drop(ring);
    let mut pipe = None;
    group.bench_function("pipe_1mib", |b| {
        let p = pipe.get_or_insert_with(|| {
            Peer::start(Transport::PipeLarge, Mode::Drain, Some(cpus)).expect("start")
        });
        b.iter_custom(|iters| {
            let start = Instant::now();
            p.send_bulk(&chunk, iters).expect("send a burst");
            start.elapsed()
        });
    });
    drop(pipe);
    group.finish();
}

/// p50 and p99 of single round trips, in nanoseconds, and the number of samples: `samples`,
/// or fewer if `budget` runs out first (an overloaded machine can make a spinning round trip
/// take a whole scheduler time slice).
fn percentiles(
    start: Start,
    cpus: (usize, usize),
    samples: usize,
    budget: Duration,
) -> (f64, f64, usize) {
    let mut pinger = start(cpus);
    let msg = [7u8; MESSAGE_BYTES];
    let began = Instant::now();
    for _ in 0..samples / 10 {
        pinger.round_trip(&msg);
        if began.elapsed() > budget / 4 {
            break;
        }
    }
    let began = Instant::now();
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    while times.len() < samples && (times.len() < 100 || began.elapsed() < budget) {
        let t = Instant::now();
        pinger.round_trip(&msg);
        times.push(t.elapsed());
    }
    drop(pinger);
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_nanos() as f64;
    (at(0.50), at(0.99), times.len())
}

/// Prints p50/p99 per contestant and the ratios against PERF.md's goals.
fn percentile_report() {
    let Some(cpus) = cross_core() else { return };
    let quick = Settings::from_env().quick;
    let samples = if quick { 5_000 } else { 20_000 };
    let budget = Duration::from_secs(if quick { 1 } else { 4 });
    println!(
        "\nshm: single round trips of {MESSAGE_BYTES} bytes, cross-core (CPUs {} and {}), {samples} samples each",
        cpus.0, cpus.1
    );
    println!(
        "  {:<22} {:>10} {:>10} {:>8}",
        "mechanism", "p50", "p99", "samples"
    );
    let mut p50 = std::collections::HashMap::new();
    for (id, start) in CONTESTANTS {
        let (a, b, n) = percentiles(start, cpus, samples, budget);
        println!("  {id:<22} {:>8.2}us {:>8.2}us {n:>8}", a / 1e3, b / 1e3);
        // For the report's table (criterion keeps no percentiles of single iterations).
        if let Err(e) = save_percentiles("shm_latency_cross_core", id, a, b, n) {
            eprintln!("shm: {e:#}");
        }
        p50.insert(id, a);
    }
    let r = |a: &str, b: &str| p50[a] / p50[b];
    println!(
        "  goals: pipe / shm_spin = {:.1}x (goal >= 20x); shm_spin / threads_spin = {:.2}x (goal <= 3x); \
         shm_spin_then_futex / pipe = {:.2}x and shm_futex / pipe = {:.2}x (goal <= 1x)",
        r("pipe", "shm_spin"),
        r("shm_spin", "threads_spin"),
        r("shm_spin_then_futex", "pipe"),
        r("shm_futex", "pipe"),
    );
}

/// The futex-at-once ping-pong against the pipe, in alternating blocks of round trips with both
/// peers started once: load that comes and goes on a shared machine then hits both alike, and
/// the ratio of each pair of blocks' medians says whether sleeping on a futex is slower than
/// sleeping in `read` on a pipe. Both sleep once per hop and make two system calls per hop
/// (wake the other, then wait), so parity is what the kernel allows.
fn futex_vs_pipe_report() {
    let Some(cpus) = cross_core() else { return };
    let quick = Settings::from_env().quick;
    let (pairs, block) = if quick { (20, 200) } else { (60, 500) };
    let budget = Duration::from_secs(if quick { 2 } else { 10 });
    let msg = [7u8; MESSAGE_BYTES];
    let mut futex = CONTESTANTS[3].1(cpus);
    let mut pipe = CONTESTANTS[4].1(cpus);
    debug_assert_eq!((CONTESTANTS[3].0, CONTESTANTS[4].0), ("shm_futex", "pipe"));
    // The median of a block, and how many times the measuring thread went to sleep in it.
    let median_of_block = |p: &mut Pinger| {
        let sleeps = voluntary_switches();
        let mut times: Vec<Duration> = (0..block)
            .map(|_| {
                let t = Instant::now();
                p.round_trip(&msg);
                t.elapsed()
            })
            .collect();
        times.sort_unstable();
        (
            times[block / 2].as_nanos() as f64,
            voluntary_switches() - sleeps,
        )
    };
    median_of_block(&mut futex);
    median_of_block(&mut pipe);
    let began = Instant::now();
    let mut ratios = Vec::with_capacity(pairs);
    let (mut f_sum, mut p_sum, mut f_sleeps, mut p_sleeps) = (0.0, 0.0, 0, 0);
    while ratios.len() < pairs && (ratios.len() < 5 || began.elapsed() < budget) {
        // Alternate which goes first, so neither always follows the other's sleep.
        let (f, p) = if ratios.len() % 2 == 0 {
            let f = median_of_block(&mut futex);
            (f, median_of_block(&mut pipe))
        } else {
            let p = median_of_block(&mut pipe);
            (median_of_block(&mut futex), p)
        };
        f_sum += f.0;
        p_sum += p.0;
        f_sleeps += f.1;
        p_sleeps += p.1;
        ratios.push(f.0 / p.0);
    }
    // In reverse order of start: each restores the CPU mask it found.
    drop(pipe);
    drop(futex);
    let n = ratios.len();
    ratios.sort_by(f64::total_cmp);
    let not_slower = ratios.iter().filter(|&&r| r <= 1.0).count();
    println!(
        "\nshm: futex at once vs pipe, {n} alternating pairs of {block} round trips, cross-core"
    );
    let trips = (n * block) as f64;
    println!(
        "  mean of block medians: shm_futex {:.2}us, pipe {:.2}us; sleeps of the measuring \
         thread per round trip: shm_futex {:.2}, pipe {:.2}",
        f_sum / n as f64 / 1e3,
        p_sum / n as f64 / 1e3,
        f_sleeps as f64 / trips,
        p_sleeps as f64 / trips,
    );
    println!(
        "  shm_futex / pipe per pair: median {:.3}x, middle half {:.3}x - {:.3}x; futex not slower in {not_slower} of {n} pairs (goal: median <= 1x)",
        ratios[n / 2],
        ratios[n / 4],
        ratios[3 * n / 4],
    );
}

/// The median time of `bursts` bursts of 16 chunks (1 MiB), as bytes per second: a median of
/// short bursts is robust against the preemptions of a loaded machine, which a mean is not.
fn burst_bandwidth(bursts: usize, mut send: impl FnMut(u64)) -> f64 {
    const CHUNKS: u64 = 16;
    send(CHUNKS);
    let mut times: Vec<Duration> = (0..bursts)
        .map(|_| {
            let t = Instant::now();
            send(CHUNKS);
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    (CHUNKS as usize * CHUNK_BYTES) as f64 / times[times.len() / 2].as_secs_f64()
}

/// Prints the median burst bandwidth of memcpy, the shared-memory ring and a 1 MiB pipe.
fn bandwidth_report() {
    let Some(cpus) = cross_core() else { return };
    let bursts = if Settings::from_env().quick { 50 } else { 300 };
    let chunk = vec![1u8; CHUNK_BYTES];
    // On the producer's CPU, like the ring's producer.
    let pin = proclings_bench::affinity::pin_current_thread(cpus.0).expect("pin");
    let mut small = Memcpy::new(BULK_RING_BYTES).expect("map the memcpy destination");
    let memcpy_small = burst_bandwidth(bursts, |n| small.copy(&chunk, n));
    drop(small);
    let mut large = Memcpy::new(MEMCPY_LARGE_BYTES).expect("map the memcpy destination");
    let memcpy = burst_bandwidth(bursts, |n| large.copy(&chunk, n));
    drop(large);
    drop(pin);
    let mut ring = ShmBulk::start(cpus).expect("start");
    let shm = burst_bandwidth(bursts, |n| ring.send_bulk(&chunk, n));
    drop(ring);
    let mut pipe = Peer::start(Transport::PipeLarge, Mode::Drain, Some(cpus)).expect("start");
    let piped = burst_bandwidth(bursts, |n| pipe.send_bulk(&chunk, n).expect("send"));
    drop(pipe);
    let gib = |b: f64| b / (1u64 << 30) as f64;
    println!("\nshm: bandwidth, median of {bursts} bursts of 1 MiB in 64 KiB writes, cross-core");
    println!("  memcpy_1mib (in cache) {:>8.2} GiB/s", gib(memcpy_small));
    println!("  memcpy_64mib           {:>8.2} GiB/s", gib(memcpy));
    println!("  shm_ring               {:>8.2} GiB/s", gib(shm));
    println!("  pipe_1mib              {:>8.2} GiB/s", gib(piped));
    println!(
        "  goals: shm_ring / memcpy_64mib = {:.0}% (goal >= 50%); shm_ring / memcpy_1mib = {:.0}%; \
         shm_ring / pipe_1mib = {:.1}x",
        100.0 * shm / memcpy,
        100.0 * shm / memcpy_small,
        shm / piped
    );
}

fn main() {
    let mut c = common::criterion().configure_from_args();
    shm_latency(&mut c);
    shm_bandwidth(&mut c);
    c.final_summary();
    // The percentile pass runs unless a filter that excludes this target was given.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listing = args.iter().any(|a| a == "--list" || a == "--test");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !listing && (filters.is_empty() || filters.iter().any(|f| f.contains("shm"))) {
        percentile_report();
        futex_vs_pipe_report();
        bandwidth_report();
    }
}
