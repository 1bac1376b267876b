//! `stress`: long-running stress runs of the crate's structures, with linearizability checks.
//!
//! ```text
//! cargo run --release --bin stress -- all --duration 60s --history
//! ```
//!
//! Each target hammers one structure from `--threads` threads (default: twice the cores, so
//! that preemption in the middle of operations is part of the test) with a seeded operation
//! mix, checks what must hold (nothing lost or duplicated, order, ledgers), and with
//! `--history` checks recorded histories against a sequential specification
//! (`lincheck.rs`). A violation is printed with the seed that reproduces the run, and the
//! process exits with status 1; a stall of 10 s is a deadlock (status 3).
//!
//! Targets: `atomic-int`, `atomic-ref`, `dict`, `queue`, `std-queue`, `gather`, `executor`,
//! and `all`, which runs each in turn.

mod atomic_int;
mod atomic_ref;
mod bounded_check;
mod dict;
mod executor;
mod gather;
mod harness;
mod ledger;
mod lincheck;
mod monitor;
mod queue;
mod queue_check;
mod std_queue;
mod windows;

use clap::{Parser, Subcommand, ValueEnum};
use concurrency::reclaim::{Epoch, HazardPointers, Reclaimer};
use concurrency::{ConcurrentDict, ConcurrentQueue, QueueMode};
use harness::{Report, Settings};
use ledger::Ledger;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Stress runs of the concurrency crate, with linearizability checks")]
struct Cli {
    #[command(subcommand)]
    target: Target,
    /// Worker threads (default: twice the cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// How long each target runs: `500ms`, `10s`, `2m`.
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// The seed of every thread's operation mix.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Record histories in windows and check them for linearizability.
    #[arg(long, global = true)]
    history: bool,
    /// Fail a run whose resident set grows by more than this many MiB over the baseline taken
    /// after its first window (the structures are bounded by their key spaces and drained
    /// between windows, so such growth is a leak); 0: no bound (under qemu-user, whose own
    /// memory grows with every thread started).
    #[arg(long, global = true, default_value_t = 256)]
    rss_limit: u64,
    /// Print one JSON object per target instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// The queue's mode.
    #[arg(long, global = true, value_enum, default_value_t = Mode::Segmented)]
    mode: Mode,
    /// The reclaimer of the structures that take one.
    #[arg(long, global = true, value_enum, default_value_t = Reclaim::Epoch)]
    reclaimer: Reclaim,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Target {
    /// `AtomicInt64`: incr/add/get/compare_exchange against per-thread ledgers.
    AtomicInt,
    /// `AtomicReference`: get/load/set/exchange/compare_exchange by identity.
    AtomicRef,
    /// `ConcurrentDict`: shared keys (history per key) and private keys (ledgers).
    Dict,
    /// `ConcurrentQueue`: producers and consumers, FIFO per producer, nothing lost.
    Queue,
    /// `StdConcurrentQueue`: bounded, blocking calls with timeouts, task_done/join.
    StdQueue,
    /// `ConcurrentGatheringIterator`: producers insert by key, a reader drains in order.
    Gather,
    /// `ThreadPoolExecutor`: submit/cancel/result, every task run exactly once.
    Executor,
    /// Every target in turn.
    All,
}

impl Target {
    /// What `all` runs, in order.
    const EVERY: [Target; 7] = [
        Target::AtomicInt,
        Target::AtomicRef,
        Target::Dict,
        Target::Queue,
        Target::StdQueue,
        Target::Gather,
        Target::Executor,
    ];
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Segmented,
    LockFree,
    Locked,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Reclaim {
    Epoch,
    HazardPointers,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("{text:?}: give a unit (ms, s, m)"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|e| format!("{text:?}: {e}"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

impl Cli {
    fn run(&self, target: Target, settings: &Settings) -> Report {
        match self.reclaimer {
            Reclaim::Epoch => self.run_with::<Epoch>(target, settings),
            Reclaim::HazardPointers => self.run_with::<HazardPointers>(target, settings),
        }
    }

    /// Runs `target`, then checks that every value the run made was dropped exactly once.
    fn run_with<R: Reclaimer>(&self, target: Target, settings: &Settings) -> Report {
        let ledger = Ledger::new();
        let mut report = self.run_target::<R>(target, settings, Arc::clone(&ledger));
        ledger.settle(&mut report);
        report
    }

    fn run_target<R: Reclaimer>(
        &self,
        target: Target,
        settings: &Settings,
        ledger: Arc<Ledger>,
    ) -> Report {
        let with = |name: &str| format!("{name} ({})", R::NAME);
        match target {
            Target::AtomicInt => {
                windows::run("atomic-int", settings, atomic_int::IntTarget::default())
            }
            Target::AtomicRef => windows::run(
                &with("atomic-ref"),
                settings,
                atomic_ref::RefTarget::<R>::new(ledger),
            ),
            Target::Dict => windows::run(
                &with("dict"),
                settings,
                dict::DictTarget::new(new_dict::<R>, settings.threads, ledger),
            ),
            Target::Queue => {
                let mode = match self.mode {
                    Mode::Segmented => QueueMode::Segmented,
                    Mode::LockFree => QueueMode::LockFree,
                    Mode::Locked => QueueMode::Locked,
                };
                let queue = ConcurrentQueue::<_, R>::with_mode_and_reclaimer(mode);
                windows::run(
                    &format!("queue ({mode:?}, {})", R::NAME),
                    settings,
                    queue::QueueTarget::new(queue, ledger),
                )
            }
            Target::StdQueue => windows::run(
                &with("std-queue"),
                settings,
                std_queue::StdQueueTarget::<R>::new(ledger),
            ),
            Target::Gather => windows::run(
                "gather",
                settings,
                gather::GatherTarget::new(settings.threads, ledger),
            ),
            Target::Executor => {
                windows::run("executor", settings, executor::ExecutorTarget::new(ledger))
            }
            Target::All => unreachable!("expanded by main"),
        }
    }
}

fn new_dict<R: Reclaimer>(
) -> ConcurrentDict<u64, ledger::Tracked, std::collections::hash_map::RandomState, R> {
    ConcurrentDict::with_hasher(Default::default())
}

fn main() {
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let settings = Settings {
        threads: cli.threads.unwrap_or(2 * cores).max(1),
        duration: cli.duration,
        seed: cli.seed,
        history: cli.history,
        rss_limit_mib: (cli.rss_limit > 0).then_some(cli.rss_limit),
    };
    let targets: &[Target] = match cli.target {
        Target::All => &Target::EVERY,
        ref one => std::slice::from_ref(one),
    };
    let mut violations = 0;
    for &target in targets {
        if !cli.json {
            eprintln!(
                "stress {target:?}: {} threads, {:?}, seed {}{}",
                settings.threads,
                settings.duration,
                settings.seed,
                if settings.history {
                    ", checking histories"
                } else {
                    ""
                }
            );
        }
        let report = cli.run(target, &settings);
        violations += report.violations.len();
        if cli.json {
            println!("{}", report.json());
        } else {
            print!("{report}");
        }
    }
    if violations > 0 {
        eprintln!(
            "FAILED: {violations} violation(s); rerun with --seed {}",
            settings.seed
        );
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dict::StressMap;
    use crate::ledger::Tracked;
    use crate::queue::StressQueue;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    fn short(history: bool) -> Settings {
        Settings {
            threads: 3,
            duration: Duration::from_millis(300),
            seed: 7,
            history,
            rss_limit_mib: Some(256),
        }
    }

    /// True one call in `n`, counting calls in `count`.
    fn every(count: &AtomicU64, n: u64) -> bool {
        count.fetch_add(1, Relaxed) % n == n - 1
    }

    /// A queue that loses every 50th value pushed: the stress must notice.
    struct LeakyQueue {
        inner: ConcurrentQueue<Tracked>,
        pushes: AtomicU64,
    }

    impl StressQueue for LeakyQueue {
        fn push(&self, value: Tracked) {
            if !every(&self.pushes, 50) {
                self.inner.push(value).unwrap();
            }
        }

        fn try_pop(&self) -> Option<Tracked> {
            self.inner.try_pop().ok()
        }
    }

    #[test]
    fn a_queue_that_loses_values_is_reported() {
        for history in [false, true] {
            let leaky = LeakyQueue {
                inner: ConcurrentQueue::new(),
                pushes: AtomicU64::new(0),
            };
            let target = queue::QueueTarget::new(leaky, Ledger::new());
            let report = windows::run("leaky queue", &short(history), target);
            assert!(!report.violations.is_empty(), "{report}");
        }
    }

    /// A map that loses every 40th insert: it says it inserted, and keeps the old value.
    struct ForgetfulMap {
        inner: ConcurrentDict<u64, Tracked>,
        inserts: AtomicU64,
    }

    impl StressMap for ForgetfulMap {
        fn insert(&self, key: u64, value: Tracked) -> Option<u64> {
            if every(&self.inserts, 40) {
                return StressMap::get(&self.inner, key);
            }
            StressMap::insert(&self.inner, key, value)
        }

        fn get(&self, key: u64) -> Option<u64> {
            StressMap::get(&self.inner, key)
        }

        fn remove(&self, key: u64) -> Option<u64> {
            StressMap::remove(&self.inner, key)
        }

        fn contains_key(&self, key: u64) -> bool {
            StressMap::contains_key(&self.inner, key)
        }

        fn get_or_insert(&self, key: u64, value: Tracked) -> u64 {
            self.inner.get_or_insert(key, value)
        }

        fn len(&self) -> usize {
            StressMap::len(&self.inner)
        }

        fn contents(&self) -> HashMap<u64, u64> {
            self.inner.contents()
        }
    }

    fn forgetful() -> ForgetfulMap {
        ForgetfulMap {
            inner: ConcurrentDict::new(),
            inserts: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_map_that_loses_inserts_is_reported() {
        for history in [false, true] {
            let settings = short(history);
            let target = dict::DictTarget::new(forgetful, settings.threads, Ledger::new());
            let report = windows::run("forgetful map", &settings, target);
            assert!(!report.violations.is_empty(), "{report}");
        }
    }

    #[test]
    fn every_real_structure_passes() {
        let cli = Cli::parse_from(["stress", "all"]);
        for target in Target::EVERY {
            let report = cli.run(target, &short(true));
            assert!(report.violations.is_empty(), "{report}");
            assert!(report.checks > 0, "{report}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn reports_render_as_json() {
        let mut report = Report::new("t");
        report.count("push", 3);
        report.check(false, || "a \"quoted\" violation".into());
        let json = report.json();
        assert!(json.contains("\"push\":3"), "{json}");
        assert!(json.contains("a \\\"quoted\\\" violation"), "{json}");
    }
}
