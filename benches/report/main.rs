//! `bench-report`: runs the benches against their peers within a time budget and writes
//! `docs/BENCHMARKS.md`, with an SVG plot of throughput against threads per workload.
//!
//! ```text
//! cargo run --release --bin bench-report              # everything, within 10 minutes
//! cargo run --release --bin bench-report -- --filter dict/read_heavy --out /tmp/report
//! ```
//!
//! Steps: read the machine (load average first, before any load of ours); build the benches
//! (`cargo bench --no-run`); split what is left of the budget among the criterion benchmarks
//! (warm-up and measurement time per benchmark) and run them, results in
//! `target/bench-report/criterion`; run the benches that print tables (memory, waiting); count
//! instructions per operation under callgrind (`benches/instructions.rs`); draw the plots and
//! write the report. A bar on the terminal shows each benchmark as it finishes.

mod machine;
mod markdown;
mod plot;
mod results;
mod run;

use clap::Parser;
use machine::Machine;
use run::Progress;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The criterion benches, in report order.
const CRITERION_BENCHES: [&str; 7] = [
    "atomics",
    "queue",
    "bounded_queue",
    "dict",
    "gather",
    "executor",
    "process_pool",
];

/// The benches that print a markdown table, with the report's title for it.
const TABLE_BENCHES: [(&str, &str); 2] = [
    (
        "dict_memory",
        "ConcurrentDict: memory per entry (`benches/dict_memory.rs`)",
    ),
    (
        "queue_waiting",
        "ConcurrentQueue: the cost of waiting (`benches/queue_waiting.rs`)",
    ),
];

/// The callgrind bench.
const INSTRUCTIONS: &str = "instructions";

/// The crates whose versions the report lists: ours, our reclamation, the peers, the tools.
const CRATES: [&str; 17] = [
    "concurrency",
    "crossbeam-epoch",
    "haphazard",
    "arc-swap",
    "crossbeam-queue",
    "concurrent-queue",
    "crossbeam-channel",
    "flume",
    "dashmap",
    "papaya",
    "scc",
    "flurry",
    "foldhash",
    "rayon",
    "threadpool",
    "tokio",
    "criterion",
];

/// Time a criterion benchmark takes beyond its warm-up and measurement (set-up between samples,
/// analysis), measured on the bench machine.
const OVERHEAD_PER_BENCHMARK: Duration = Duration::from_millis(300);

/// Kept for the table benches, the instruction counts and the writing (about 40 s here).
const RESERVED: Duration = Duration::from_secs(60);

#[derive(Debug, Parser)]
#[command(about = "Runs the benches against their peers and writes docs/BENCHMARKS.md")]
struct Cli {
    /// Minutes the report may take, the build of the benches included. The default leaves a
    /// minute for cargo to build this binary from a clean clone: ten minutes in all.
    #[arg(long, default_value_t = 9.0)]
    budget_minutes: f64,
    /// Where BENCHMARKS.md and its plots go (default: the crate's docs/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the criterion benchmarks whose id matches this regular expression.
    #[arg(long)]
    filter: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match report(&cli) {
        Ok(path) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn report(cli: &Cli) -> Result<PathBuf, String> {
    let started = Instant::now();
    let budget = Duration::from_secs_f64(cli.budget_minutes.max(0.0) * 60.0);
    if budget.is_zero() {
        return Err("--budget-minutes must be above zero".into());
    }
    let machine = Machine::probe();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = cli.out.clone().unwrap_or_else(|| root.join("docs"));
    let work = target_dir(root).join("bench-report");
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    }
    let criterion_home = work.join("criterion");

    eprintln!("building the benches…");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let all: Vec<&str> = CRITERION_BENCHES
        .iter()
        .chain(TABLE_BENCHES.iter().map(|(b, _)| b))
        .chain([&INSTRUCTIONS])
        .copied()
        .collect();
    let exes = run::build(&cargo, &root.join("Cargo.toml"), &all)?;

    let filter: Vec<String> = cli.filter.iter().cloned().collect();
    let mut benchmarks = 0;
    for bench in CRITERION_BENCHES {
        let exe = &exes[bench];
        benchmarks += run::count(exe, &filter)?;
    }
    let cases = run::count(&exes[INSTRUCTIONS], &[])?;
    let progress = Progress::new(benchmarks + TABLE_BENCHES.len() as u64 + cases);
    let per_benchmark = budget
        .saturating_sub(started.elapsed() + RESERVED)
        .div_f64(benchmarks.max(1) as f64);
    let (warm_up, measurement) = split(per_benchmark);
    let settings = format!(
        "10 samples, {:.2} s warm-up and {:.2} s measurement per benchmark ({benchmarks} \
         benchmarks)",
        warm_up.as_secs_f64(),
        measurement.as_secs_f64()
    );
    progress.say(&format!("criterion: {settings}"));
    let mut args: Vec<String> = [
        "--bench",
        "--noplot",
        "--sample-size",
        "10",
        "--nresamples",
        "10000",
        "--warm-up-time",
        &warm_up.as_secs_f64().to_string(),
        "--measurement-time",
        &measurement.as_secs_f64().to_string(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(filter);
    let (mut ids, mut notes) = (Vec::new(), Vec::new());
    for bench in CRITERION_BENCHES {
        let printed = run::criterion(&exes[bench], &args, &criterion_home, &progress)?;
        ids.extend(printed.ids);
        notes.extend(printed.notes);
    }

    let mut tables = Vec::new();
    for (bench, title) in TABLE_BENCHES {
        let mut table = String::new();
        run::run_streaming(&exes[bench], &["--bench".into()], &work, |line| {
            if line.starts_with('|') {
                table.push_str(line);
                table.push('\n');
            } else if table.is_empty() {
                table = format!("{line}.\n\n");
            }
        })?;
        progress.step(bench);
        tables.push((title.to_string(), table));
    }

    let mut instructions = Vec::new();
    run::run_streaming(&exes[INSTRUCTIONS], &["--bench".into()], &work, |line| {
        if let Some(("instructions", rest)) = line.split_once('\t') {
            let fields: Vec<&str> = rest.split('\t').collect();
            if let [case, competitor, count] = fields[..] {
                progress.step(&format!("{case}/{competitor}"));
                if let Ok(count) = count.parse() {
                    instructions.push((case.to_string(), competitor.to_string(), count));
                }
            }
        }
    })?;
    progress.finish();

    let results = results::load(&criterion_home, &ids)?;
    let plot_dir = out.join("benchmarks");
    clear_plots(&plot_dir)?;
    let mut plots = BTreeMap::new();
    for ((family, name), workload) in &results {
        if workload.threads.len() < 2 {
            continue;
        }
        let file = format!("{family}-{name}.svg");
        plot::throughput_svg(&plot_dir.join(&file), &format!("{family}/{name}"), workload)?;
        plots.insert((family.clone(), name.clone()), format!("benchmarks/{file}"));
    }
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let versions = machine::locked_versions(&lock, &CRATES);
    let report = markdown::Report {
        machine: &machine,
        versions: &versions,
        results: &results,
        plots: &plots,
        instructions: &instructions,
        tables: &tables,
        notes: &notes,
        settings: &settings,
        elapsed: started.elapsed(),
    };
    let path = out.join("BENCHMARKS.md");
    std::fs::write(&path, report.render()).map_err(|e| format!("{}: {e}", path.display()))?;
    if started.elapsed() > budget {
        eprintln!(
            "bench-report: took {:.1} min, over the {:.1} min budget",
            started.elapsed().as_secs_f64() / 60.0,
            budget.as_secs_f64() / 60.0
        );
    }
    Ok(path)
}

/// An empty `dir` for this run's plots: a workload that no longer exists leaves no stale SVG.
fn clear_plots(dir: &Path) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(failed)?;
    for entry in std::fs::read_dir(dir).map_err(failed)? {
        let path = entry.map_err(failed)?.path();
        if path.extension().is_some_and(|e| e == "svg") {
            std::fs::remove_file(&path).map_err(failed)?;
        }
    }
    Ok(())
}

/// Cargo's target directory for this crate.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// A benchmark's share of the budget as (warm-up, measurement): a quarter warms up, criterion's
/// own overhead comes off the rest; never below a tenth of a second of measurement.
fn split(share: Duration) -> (Duration, Duration) {
    let warm_up = (share / 4).clamp(Duration::from_millis(50), Duration::from_millis(500));
    let measurement = share
        .saturating_sub(warm_up + OVERHEAD_PER_BENCHMARK)
        .clamp(Duration::from_millis(100), Duration::from_secs(3));
    (warm_up, measurement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_splits_into_warm_up_and_measurement_within_bounds() {
        let (warm_up, measurement) = split(Duration::from_secs(2));
        assert_eq!(warm_up, Duration::from_millis(500));
        assert_eq!(measurement, Duration::from_millis(1200));
        assert_eq!(
            split(Duration::ZERO),
            (Duration::from_millis(50), Duration::from_millis(100))
        );
        assert_eq!(split(Duration::from_secs(60)).1, Duration::from_secs(3));
    }
}
