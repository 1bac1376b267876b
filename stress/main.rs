//! `stress`: long-running stress runs of the crate's structures, with linearizability checks.
//!
//! ```text
//! cargo run --release --features stress --bin stress -- all --duration 60s --history
//! ```
//!
//! Each target hammers one structure from `--threads` threads (default: twice the cores, so
//! that preemption in the middle of operations is part of the test) with a seeded operation
//! mix, checks what must hold (nothing lost or duplicated, order, ledgers), and with
//! `--history` checks recorded histories against a sequential specification
//! (`lincheck.rs`). A violation is printed with the seed that reproduces the run, and the
//! process exits with status 1; a stall of 10 s is a deadlock (status 3).
//!
//! Targets so far: `atomic-int` and `queue`; the others of the crate are the next step.

mod atomic_int;
mod harness;
mod lincheck;
mod queue;

use clap::{Parser, Subcommand, ValueEnum};
use concurrency::reclaim::{Epoch, HazardPointers};
use concurrency::{ConcurrentQueue, QueueMode};
use harness::{Report, Settings};
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
    /// Print one JSON object per target instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// The queue's mode.
    #[arg(long, global = true, value_enum, default_value_t = Mode::LockFree)]
    mode: Mode,
    /// The reclaimer of the structures that take one.
    #[arg(long, global = true, value_enum, default_value_t = Reclaim::Epoch)]
    reclaimer: Reclaim,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Target {
    /// `AtomicInt64`: incr/add/get/compare_exchange against per-thread ledgers.
    AtomicInt,
    /// `ConcurrentQueue`: producers and consumers, FIFO per producer, nothing lost.
    Queue,
    /// Every target in turn.
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
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

fn run_queue(cli: &Cli, settings: &Settings) -> Report {
    let mode = match cli.mode {
        Mode::LockFree => QueueMode::LockFree,
        Mode::Locked => QueueMode::Locked,
    };
    let name = format!("queue ({mode:?}, {:?})", cli.reclaimer);
    match cli.reclaimer {
        Reclaim::Epoch => {
            let q = ConcurrentQueue::<u64, Epoch>::with_mode_and_reclaimer(mode);
            queue::run(&name, settings, &q)
        }
        Reclaim::HazardPointers => {
            let q = ConcurrentQueue::<u64, HazardPointers>::with_mode_and_reclaimer(mode);
            queue::run(&name, settings, &q)
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let settings = Settings {
        threads: cli.threads.unwrap_or(2 * cores).max(1),
        duration: cli.duration,
        seed: cli.seed,
        history: cli.history,
    };
    let targets: &[Target] = match cli.target {
        Target::All => &[Target::AtomicInt, Target::Queue],
        ref one => std::slice::from_ref(one),
    };
    let mut violations = 0;
    for target in targets {
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
        let report = match target {
            Target::AtomicInt => atomic_int::run(&settings),
            Target::Queue => run_queue(&cli, &settings),
            Target::All => unreachable!("expanded above"),
        };
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
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    fn short(history: bool) -> Settings {
        Settings {
            threads: 3,
            duration: Duration::from_millis(200),
            seed: 7,
            history,
        }
    }

    /// A queue that loses every 50th value pushed: the stress must notice.
    struct Leaky {
        inner: ConcurrentQueue<u64>,
        pushes: AtomicU64,
    }

    impl queue::StressQueue for Leaky {
        fn push(&self, value: u64) {
            if self.pushes.fetch_add(1, Relaxed) % 50 != 49 {
                self.inner.push(value).unwrap();
            }
        }

        fn try_pop(&self) -> Option<u64> {
            self.inner.try_pop().ok()
        }
    }

    #[test]
    fn a_queue_that_loses_values_is_reported() {
        for history in [false, true] {
            let leaky = Leaky {
                inner: ConcurrentQueue::new(),
                pushes: AtomicU64::new(0),
            };
            let report = queue::run("leaky", &short(history), &leaky);
            assert!(!report.violations.is_empty(), "{report}");
        }
    }

    #[test]
    fn the_real_structures_pass() {
        let q = ConcurrentQueue::<u64>::new();
        let report = queue::run("queue", &short(true), &q);
        assert!(report.violations.is_empty(), "{report}");
        assert!(report.checks > 0);
        let report = atomic_int::run(&short(true));
        assert!(report.violations.is_empty(), "{report}");
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
