//! Instructions per operation on the hot paths, one thread, ours next to each peer's same
//! operation: the numbers that repeat on a noisy machine.
//!
//! `cargo bench --bench instructions` runs every case under `valgrind --tool=callgrind` twice,
//! with [`Case::base`] operations and with `base + ops` (same set-up, same warm-up), and prints
//! the difference of the two instruction totals divided by `ops`: the steady-state cost of one
//! operation, with start-up, set-up and the first (cold) operations cancelled out. Every
//! instruction the process executes counts, in every thread: the executor cases include the
//! worker's side and whatever the waiting costs.
//!
//! Output: one line per case, `instructions<TAB>case<TAB>competitor<TAB>per operation`, which
//! the bench report reads. `instructions measure CASE COMPETITOR OPS` runs one case (what
//! callgrind runs); `--list` lists the cases as criterion lists its benchmarks. Under
//! `cargo test` every case runs natively with a few operations, which checks that each one
//! computes the right thing.
//!
//! The competitors are the ones of the throughput benches, through the same traits
//! (`benches/common`), each on its fast path.

mod common;

use common::bounded_queues::{self, Bounded};
use common::channels;
use common::counters::{Counter, Flag};
use common::gathers::{self, Gather};
use common::maps::{self, Map, Session};
use common::pools::{self, Pool};
use common::queues::{self, Queue};
use common::references::{Payload, SharedRef};
use concurrency::reclaim::{Epoch, HazardPointers};
use std::hint::black_box;
use std::process::{Command, ExitCode};

/// One operation measured on every competitor that has it.
struct Case {
    name: &'static str,
    /// Operations of the baseline run; the measured run does `base + ops`.
    base: u64,
    ops: u64,
    competitors: Vec<Competitor>,
}

/// A competitor's name and its runner: set up, then do the operation `n` times, checking each
/// answer.
type Competitor = (String, fn(u64));

/// Keys in the map that `dict_get` reads.
const GET_KEYS: u64 = 4096;

fn cases() -> Vec<Case> {
    let case = |name, base, ops, competitors| Case {
        name,
        base,
        ops,
        competitors,
    };
    vec![
        case(
            "incr",
            1_000,
            10_000,
            vec![
                counter::<concurrency::AtomicInt64>(),
                counter::<std::sync::atomic::AtomicI64>(),
            ],
        ),
        case(
            "flag_set_get",
            1_000,
            10_000,
            vec![
                flag::<concurrency::AtomicFlag>(),
                flag::<std::sync::atomic::AtomicBool>(),
            ],
        ),
        case("reference_get", 1_000, 10_000, references(false)),
        case("reference_load", 1_000, 10_000, references(true)),
        case(
            "queue_push_pop",
            1_000,
            10_000,
            vec![
                queue::<queues::Ours<{ common::SEGMENTED }>>(),
                queue::<queues::Ours<{ common::LOCK_FREE }>>(),
                queue::<queues::Ours<{ common::LOCKED }>>(),
                queue::<crossbeam_queue::SegQueue<u64>>(),
                queue::<concurrent_queue::ConcurrentQueue<u64>>(),
                queue::<channels::CrossbeamChannel>(),
                queue::<queues::StdMpsc>(),
                queue::<channels::FlumeChannel>(),
                queue::<queues::LockedDeque>(),
            ],
        ),
        case(
            "bounded_put_get",
            1_000,
            10_000,
            vec![
                bounded::<concurrency::StdConcurrentQueue<u64>>(),
                bounded::<channels::CrossbeamChannel>(),
                bounded::<channels::FlumeChannel>(),
                bounded::<bounded_queues::StdSyncChannel>(),
                bounded::<bounded_queues::ArrayQueue>(),
                bounded::<bounded_queues::LockedDeque>(),
            ],
        ),
        case("dict_get", 1_000, 10_000, dicts(false)),
        case("dict_insert", 1_000, 10_000, dicts(true)),
        case(
            "gather_insert_read",
            1_000,
            10_000,
            vec![
                gather::<concurrency::ConcurrentGatheringIterator<u64>>(),
                gather::<gathers::LockedTree>(),
                gather::<gathers::ChannelReorder>(),
            ],
        ),
        case(
            "executor_submit_run",
            100,
            1_000,
            vec![
                pool::<pools::Ours>(),
                pool::<pools::Rayon>(),
                pool::<pools::ThreadpoolCrate>(),
                pool::<pools::TokioBlocking>(),
                pool::<pools::Scope>(),
            ],
        ),
    ]
}

fn counter<C: Counter>() -> Competitor {
    fn run<C: Counter>(n: u64) {
        let counter = C::default();
        (0..n).for_each(|_| black_box(&counter).incr());
        assert_eq!(counter.get(), n as i64, "increments lost");
    }
    (C::NAME.into(), run::<C>)
}

fn flag<F: Flag>() -> Competitor {
    fn run<F: Flag>(n: u64) {
        let flag = F::default();
        for i in 0..n {
            black_box(&flag).set(i % 2 == 0);
            assert_eq!(flag.get(), i % 2 == 0, "the write is not read back");
        }
    }
    (F::NAME.into(), run::<F>)
}

fn references(borrowed: bool) -> Vec<Competitor> {
    fn reference<S: SharedRef>(borrowed: bool) -> Competitor {
        fn run<S: SharedRef, const BORROWED: bool>(n: u64) {
            let shared = S::make(Payload::new(7));
            for _ in 0..n {
                let id = if BORROWED {
                    black_box(&shared).borrow_read()
                } else {
                    black_box(&shared).get_full()
                };
                assert_eq!(id, 7, "wrong value read");
            }
        }
        let run: fn(u64) = if borrowed {
            run::<S, true>
        } else {
            run::<S, false>
        };
        (S::name(), run)
    }
    vec![
        reference::<concurrency::AtomicReference<Payload, Epoch>>(borrowed),
        reference::<concurrency::AtomicReference<Payload, HazardPointers>>(borrowed),
        reference::<arc_swap::ArcSwap<Payload>>(borrowed),
        reference::<std::sync::RwLock<std::sync::Arc<Payload>>>(borrowed),
    ]
}

fn queue<Q: Queue>() -> Competitor {
    fn run<Q: Queue>(n: u64) {
        let queue = Q::new();
        for i in 0..n {
            black_box(&queue).push(i);
            assert_eq!(queue.try_pop(), Some(i), "FIFO broken");
        }
    }
    (Q::name(), run::<Q>)
}

fn bounded<Q: Bounded>() -> Competitor {
    fn run<Q: Bounded>(n: u64) {
        let queue = Q::new();
        for i in 0..n {
            black_box(&queue).put(i);
            assert_eq!(queue.get(), i, "FIFO broken");
        }
    }
    (Q::name(), run::<Q>)
}

fn dicts(insert: bool) -> Vec<Competitor> {
    fn dict<M: Map>(inserting: bool) -> Competitor {
        /// Gets keys `i % GET_KEYS` from a map holding `0..GET_KEYS`.
        fn get<M: Map>(n: u64) {
            let map = M::new();
            (0..GET_KEYS).for_each(|k| assert_eq!(map.session().insert(k, !k), None));
            for batch in (0..n).collect::<Vec<_>>().chunks(maps::BATCH) {
                let session = black_box(&map).session();
                for &i in batch {
                    let key = i % GET_KEYS;
                    assert_eq!(session.get(key), Some(!key), "wrong value read");
                }
            }
        }
        /// Inserts keys `0..n` into an empty map: growth is part of the cost.
        fn insert<M: Map>(n: u64) {
            let map = M::new();
            for batch in (0..n).collect::<Vec<_>>().chunks(maps::BATCH) {
                let session = black_box(&map).session();
                for &key in batch {
                    assert_eq!(session.insert(key, !key), None, "key inserted twice");
                }
            }
            assert_eq!(map.len(), n as usize, "entries lost");
        }
        let run: fn(u64) = if inserting { insert::<M> } else { get::<M> };
        (M::name(), run)
    }
    vec![
        dict::<maps::Dict>(insert),
        dict::<maps::Pinned>(insert),
        dict::<dashmap::DashMap<u64, u64, maps::Hasher>>(insert),
        dict::<maps::Papaya>(insert),
        dict::<maps::Scc>(insert),
        dict::<maps::Flurry>(insert),
        dict::<std::sync::RwLock<maps::StdMap>>(insert),
        dict::<std::sync::Mutex<maps::StdMap>>(insert),
    ]
}

fn gather<G: Gather>() -> Competitor {
    /// Inserts keys `0..n` in reverse order, then reads them back in key order.
    fn run<G: Gather>(n: u64) {
        let gather = G::new();
        (0..n)
            .rev()
            .for_each(|k| black_box(&gather).insert(k, gathers::value_of(k)));
        let mut next = 0;
        gather.read_in_order(n, |key, value| {
            assert_eq!((key, value), (next, gathers::value_of(next)), "wrong order");
            next += 1;
        });
        assert_eq!(next, n, "values missing");
    }
    (G::name().into(), run::<G>)
}

fn pool<P: Pool>() -> Competitor {
    /// One task at a time on a one-worker pool: submit, run, result in hand.
    fn run<P: Pool>(n: u64) {
        let pool = P::new(1);
        for i in 0..n {
            assert_eq!(black_box(&pool).round_trip(i), i + 1, "wrong result");
        }
    }
    (P::name().into(), run::<P>)
}

fn find(case: &str, competitor: &str) -> Option<fn(u64)> {
    let case = cases().into_iter().find(|c| c.name == case)?;
    let (_, run) = case
        .competitors
        .into_iter()
        .find(|(n, _)| n == competitor)?;
    Some(run)
}

/// The instructions callgrind counts in a run of `case` on `competitor` with `ops` operations.
fn callgrind(case: &str, competitor: &str, ops: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["measure", case, competitor, &ops.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind (is it installed?): {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{case}/{competitor} failed under callgrind:\n{stderr}"
        ));
    }
    stderr
        .lines()
        .find_map(|line| {
            line.split_once("Collected :")
                .map(|(_, n)| n.trim().parse().ok())
        })
        .flatten()
        .ok_or_else(|| format!("no instruction total in callgrind's output:\n{stderr}"))
}

/// Every case under callgrind: one line per case and competitor.
fn measure_all() -> Result<(), String> {
    let cases = cases();
    let total: usize = cases.iter().map(|c| c.competitors.len()).sum();
    let mut done = 0;
    for case in &cases {
        for (competitor, _) in &case.competitors {
            done += 1;
            eprintln!("callgrind {done}/{total}: {}/{competitor}", case.name);
            let base = callgrind(case.name, competitor, case.base)?;
            let more = callgrind(case.name, competitor, case.base + case.ops)?;
            let per_op = more.saturating_sub(base) as f64 / case.ops as f64;
            println!("instructions\t{}\t{competitor}\t{per_op:.1}", case.name);
        }
    }
    Ok(())
}

/// Every case natively with a few operations: each checks its own answers.
fn check_all() {
    for case in cases() {
        for (competitor, run) in case.competitors {
            run(case.base);
            println!("{}/{competitor}: ok", case.name);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["measure", case, competitor, ops] => {
            let Some(run) = find(case, competitor) else {
                eprintln!("no case {case} for {competitor}");
                return ExitCode::FAILURE;
            };
            run(ops.parse().expect("OPS is a number"));
        }
        ["--list", ..] => {
            for case in cases() {
                for (competitor, _) in case.competitors {
                    println!("{}/{competitor}: benchmark", case.name);
                }
            }
        }
        [.., "--bench"] | ["--bench", ..] => {
            if let Err(e) = measure_all() {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
        _ => check_all(),
    }
    ExitCode::SUCCESS
}
