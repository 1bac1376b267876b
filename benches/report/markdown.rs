//! `docs/BENCHMARKS.md`: the machine, the crates, the summary of where we lead and trail, the
//! instruction counts, and a table (with a plot) per workload.

use crate::machine::Machine;
use crate::results::{is_ours, is_peer, Results, Workload};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// The benches' families in report order: id, title, bench file, what the workloads do.
const FAMILIES: [(&str, &str, &str, &str); 9] = [
    ("int64", "AtomicInt64", "atomics.rs", "`incr`/`add` on one shared counter (`mul` is a CAS loop), against std's `AtomicI64`."),
    ("flag", "AtomicFlag", "atomics.rs", "`get` (every thread reads a set flag) and `set` (every thread writes) on one shared flag, against std's `AtomicBool` with the same `SeqCst` orderings."),
    ("reference", "AtomicReference", "atomics.rs", "`get` (an owned `Arc`), `load` (a borrowed read), `swap`, `cas` and a 90% read mix on one shared reference, against arc-swap (`load_full` for `get`, `load` for `load`) and `RwLock<Arc>`."),
    ("queue", "ConcurrentQueue", "queue.rs", "Unbounded queues: `spsc` (a polling consumer), `spsc_blocking` (a sleeping consumer), `mpmc` (half the threads produce), `pipeline` (4 producers, 4 sleeping consumers) and `pairs` (every thread pushes then pops); every item checked for loss, duplication and per-producer order."),
    ("bounded_queue", "StdConcurrentQueue", "bounded_queue.rs", "Bounded at 64 items, blocking put and get, half the threads produce; every item checked."),
    ("dict", "ConcurrentDict", "dict.rs", "`read_heavy` (98% get), `exchange` (churn at a constant size), `rapid_grow` (80% insert from empty), `hot_keys` (Zipf 0.99 over shared keys); every map hashes with the same seeded foldhash, every answer checked."),
    ("gather", "ConcurrentGatheringIterator", "gather.rs", "Producers insert keys `0..n`, one reader takes them back in key order (the thread count includes the reader); every value checked."),
    ("executor", "ThreadPoolExecutor", "executor.rs", "`submit` (10 000 empty tasks, then every result; threads = workers), `map` (10 000 one-microsecond tasks, results in order), `latency` (one task on an idle pool of two)."),
    ("process_pool", "ProcessPoolExecutor", "process_pool.rs", "`latency` (one task on an idle pool) and `throughput` (2 000 one-microsecond tasks; the process pool maps them in chunks of 100), against our thread pool and one process per task."),
];

/// Everything the report holds.
pub(crate) struct Report<'a> {
    pub(crate) machine: &'a Machine,
    pub(crate) versions: &'a [(String, String)],
    pub(crate) results: &'a Results,
    /// Plot file names by `(family, workload)`, relative to the report.
    pub(crate) plots: &'a BTreeMap<(String, String), String>,
    /// `(case, competitor, instructions per operation)`.
    pub(crate) instructions: &'a [(String, String, f64)],
    /// Tables printed by the benches that are not criterion benches, with their titles.
    pub(crate) tables: &'a [(String, String)],
    /// Lines the criterion benches printed beside their results.
    pub(crate) notes: &'a [String],
    pub(crate) settings: &'a str,
    pub(crate) elapsed: Duration,
}

impl Report<'_> {
    pub(crate) fn render(&self) -> String {
        let mut md = String::new();
        self.header(&mut md);
        self.summary(&mut md);
        self.instruction_counts(&mut md);
        for (family, title, file, about) in FAMILIES {
            self.family(&mut md, family, title, file, about);
        }
        for (title, table) in self.tables {
            let _ = writeln!(md, "## {title}\n\n{table}\n");
        }
        md
    }

    fn header(&self, md: &mut String) {
        let m = self.machine;
        let _ = writeln!(
            md,
            "# Benchmarks\n\n\
             Written by `cargo run --release --bin bench-report` on {date}, in {minutes:.1} \
             minutes. Every number below comes from that run; run it again to check them.\n\n\
             ## Machine\n\n\
             | | |\n|---|---|\n\
             | CPU | {cpu} |\n| cores | {cores} |\n| load average at start (1, 5, 15 min) | {load} |\n\
             | kernel | {kernel} |\n| compiler | {rustc} |\n\
             | allocator | the system allocator ({libc}) in every bench |\n\
             | hasher | foldhash `FixedState`, one fixed seed, in every map |\n\
             | criterion | {settings} |\n",
            date = m.date,
            minutes = self.elapsed.as_secs_f64() / 60.0,
            cpu = m.cpu,
            cores = m.cores,
            load = m.load_average,
            kernel = m.kernel,
            rustc = m.rustc,
            libc = m.libc,
            settings = self.settings,
        );
        let _ = writeln!(md, "## Crates\n\n| crate | version |\n|---|---|");
        for (name, version) in self.versions {
            let _ = writeln!(md, "| {name} | {version} |");
        }
        md.push_str(
            "\n## How to read this\n\n\
             - **Throughput tables are noise-prone.** They come from two cores shared with other \
             work; a short run per benchmark (the settings above) keeps the whole report within \
             ten minutes. Ratios move between runs: most by tens of percent, contended workloads \
             and our dict by 2× or more; a wide `±` (half the 95% interval within this run) marks \
             such a figure. Read the direction and the order of magnitude, not the digits. \
             Every thread count above two oversubscribes the cores on purpose (there a preempted \
             lock holder or a spinning waiter shows). Criterion's full output is in \
             `target/bench-report/criterion`.\n\
             - **Instruction counts are not.** Counted by callgrind on one thread, they repeat to \
             the instruction between runs (the thread pools within a few percent: their idle workers \
             spin for a while). They count user-space instructions only: a system call (a futex \
             wake, a thread start) costs one instruction here and microseconds in the tables.\n\
             - *Ratio* is ours over the best peer at the same thread count, both as throughput: \
             above 1 we lead, below 1 we trail. A `baseline: ` row is shown for scale and is \
             never the best peer (scoped threads with no pool at all; our thread pool beside \
             our process pool). Every bench checks its results (loss, duplication, order, \
             values), so a fast wrong answer fails the run instead of winning it.\n\n",
        );
    }

    /// For each workload: our best variant's ratio to the best peer at each thread count.
    fn summary(&self, md: &mut String) {
        md.push_str(
            "## Where we lead and where we trail\n\n\
             Ratio of our best variant to the best peer, at each thread count measured.\n\n\
             | workload | ours | ratio to the best peer (threads: ratio) | best peer |\n\
             |---|---|---|---|\n",
        );
        for ((family, name), workload) in self.in_family_order() {
            let ratios: Vec<(u32, &str, f64)> = workload
                .threads
                .iter()
                .filter_map(|&t| {
                    let best_ours = workload
                        .competitors
                        .iter()
                        .filter(|c| is_ours(c))
                        .filter_map(|c| Some((c.as_str(), workload.ratio_to_best_peer(c, t)?)))
                        .max_by(|a, b| a.1.total_cmp(&b.1))?;
                    Some((t, best_ours.0, best_ours.1))
                })
                .collect();
            let Some(&(_, ours, _)) = ratios.first() else {
                continue;
            };
            let cells: Vec<String> = ratios
                .iter()
                .map(|(t, _, r)| format!("{t}: {}", ratio(*r)))
                .collect();
            let peers: Vec<&str> = workload
                .threads
                .iter()
                .filter_map(|&t| workload.best_peer(t).map(|(p, _)| p))
                .fold(Vec::new(), |mut seen, p| {
                    if !seen.contains(&p) {
                        seen.push(p);
                    }
                    seen
                });
            let _ = writeln!(
                md,
                "| {family}/{name} | {ours} | {} | {} |",
                cells.join(", "),
                peers.join(", ")
            );
        }
        md.push('\n');
    }

    fn instruction_counts(&self, md: &mut String) {
        md.push_str(
            "## Instructions per operation (one thread, callgrind)\n\n\
             `cargo bench --bench instructions`: each case runs twice under callgrind, with a \
             baseline number of operations and with more; the difference of the totals over the \
             extra operations is the steady-state cost of one. Lower is better; the ratio is the \
             best peer's count over ours (above 1 we execute fewer).\n\n",
        );
        let mut cases: Vec<&str> = Vec::new();
        for (case, _, _) in self.instructions {
            if !cases.contains(&case.as_str()) {
                cases.push(case);
            }
        }
        for case in cases {
            let rows: Vec<(&str, f64)> = self
                .instructions
                .iter()
                .filter(|(c, _, _)| c == case)
                .map(|(_, competitor, n)| (competitor.as_str(), *n))
                .collect();
            let best_peer = rows
                .iter()
                .filter(|(c, _)| is_peer(c))
                .map(|&(_, n)| n)
                .min_by(f64::total_cmp);
            let _ = writeln!(
                md,
                "**{case}**\n\n| competitor | instructions / op | ratio |\n|---|---:|---:|"
            );
            for (competitor, n) in rows {
                let cell = match best_peer {
                    Some(best) if is_ours(competitor) && n > 0.0 => ratio(best / n),
                    _ => String::new(),
                };
                let _ = writeln!(md, "| {} | {n:.1} | {cell} |", emphasize(competitor));
            }
            md.push('\n');
        }
    }

    fn family(&self, md: &mut String, family: &str, title: &str, file: &str, about: &str) {
        let workloads: Vec<_> = self
            .results
            .iter()
            .filter(|((f, _), _)| f == family)
            .collect();
        if workloads.is_empty() {
            return;
        }
        let _ = writeln!(md, "## {title} (`benches/{file}`)\n\n{about}\n");
        for ((_, name), workload) in workloads {
            let latency = name == "latency";
            let _ = writeln!(
                md,
                "### {family}/{name}\n\n{}\n",
                if latency {
                    "Time per operation (lower is better)."
                } else {
                    "Million operations per second, across all threads (higher is better)."
                }
            );
            table(md, workload, latency);
            if let Some(plot) = self.plots.get(&(family.to_string(), name.clone())) {
                let _ = writeln!(
                    md,
                    "\n![{family}/{name}: throughput against threads]({plot})"
                );
            }
            md.push('\n');
        }
        let notes: Vec<_> = self
            .notes
            .iter()
            .filter(|n| n.starts_with(&format!("{family}/")))
            .collect();
        if !notes.is_empty() {
            md.push_str("Printed by the bench:\n\n");
            notes.iter().for_each(|n| {
                let _ = writeln!(md, "- `{n}`");
            });
            md.push('\n');
        }
    }

    /// Workloads ordered as [`FAMILIES`] lists their families.
    fn in_family_order(&self) -> Vec<(&(String, String), &Workload)> {
        FAMILIES
            .iter()
            .flat_map(|(family, ..)| self.results.iter().filter(move |((f, _), _)| f == family))
            .collect()
    }
}

/// One row per competitor, one column per thread count, ours with the ratio to the best peer.
fn table(md: &mut String, workload: &Workload, latency: bool) {
    let threads: Vec<String> = workload
        .threads
        .iter()
        .map(|&t| format!("{t} thread{}", if t == 1 { "" } else { "s" }))
        .collect();
    let _ = writeln!(
        md,
        "| competitor | {} |\n|---|{}",
        threads.join(" | "),
        "---:|".repeat(threads.len())
    );
    for competitor in &workload.competitors {
        let cells: Vec<String> = workload
            .threads
            .iter()
            .map(|&t| {
                let Some(rate) = workload.rate(competitor, t) else {
                    return "–".into();
                };
                let value = if latency {
                    duration(1.0 / rate.per_second)
                } else {
                    significant(rate.per_second / 1e6)
                };
                // Half the 95% interval, relative: how far a rerun may move this figure.
                let spread = (rate.high - rate.low) / 2.0 / rate.per_second * 100.0;
                let value = format!("{value} ±{spread:.0}%");
                match workload.ratio_to_best_peer(competitor, t) {
                    Some(r) if is_ours(competitor) => format!("{value} ({})", ratio(r)),
                    _ => value,
                }
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", emphasize(competitor), cells.join(" | "));
    }
}

fn emphasize(competitor: &str) -> String {
    if is_ours(competitor) {
        format!("**{competitor}**")
    } else {
        competitor.to_string()
    }
}

/// A number with about three significant digits.
pub(crate) fn significant(x: f64) -> String {
    match x {
        x if x >= 100.0 => format!("{x:.0}"),
        x if x >= 10.0 => format!("{x:.1}"),
        x if x >= 1.0 => format!("{x:.2}"),
        x => format!("{x:.3}"),
    }
}

fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s if s >= 1e-6 => format!("{:.2} µs", s * 1e6),
        s => format!("{:.0} ns", s * 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Rate;

    fn workload() -> Workload {
        let mut w = Workload::default();
        let rate = |per_second| Rate {
            per_second,
            low: per_second,
            high: per_second,
        };
        w.competitors = vec!["ours".into(), "peer".into()];
        w.threads = vec![1, 2];
        w.rates.insert(
            ("ours".into(), 1),
            Rate {
                per_second: 2e6,
                low: 1.8e6,
                high: 2.2e6,
            },
        );
        w.rates.insert(("peer".into(), 1), rate(4e6));
        w.rates.insert(("ours".into(), 2), rate(3e6));
        w
    }

    #[test]
    fn a_table_marks_ours_with_its_ratio_and_a_missing_cell() {
        let mut md = String::new();
        table(&mut md, &workload(), false);
        assert!(
            md.contains("| **ours** | 2.00 ±10% (0.50×) | 3.00 ±0% |"),
            "{md}"
        );
        assert!(md.contains("| peer | 4.00 ±0% | – |"), "{md}");
        assert!(md.contains("| competitor | 1 thread | 2 threads |"), "{md}");
    }

    #[test]
    fn latency_is_shown_as_time() {
        let mut md = String::new();
        table(&mut md, &workload(), true);
        assert!(md.contains("| **ours** | 500 ns ±10% (0.50×) |"), "{md}");
        assert_eq!(duration(2.5e-3), "2.50 ms");
        assert_eq!(duration(4.56e-5), "45.60 µs");
    }
}
