//! Criterion's measurements, read back from its output directory and arranged by workload.
//!
//! Every criterion bench names a benchmark `family/workload/competitor/threads`: the group is
//! the family, the function id `workload/competitor` (a competitor's name may hold more
//! slashes, the workload none), the parameter the thread count.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One benchmark's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    /// Operations per second, from the mean time per iteration.
    pub(crate) per_second: f64,
    /// The 95% confidence interval of `per_second`.
    pub(crate) low: f64,
    pub(crate) high: f64,
}

/// Every competitor's rate at every thread count of one workload.
#[derive(Debug, Default)]
pub(crate) struct Workload {
    /// Competitors in the order they were measured (ours first).
    pub(crate) competitors: Vec<String>,
    pub(crate) threads: Vec<u32>,
    pub(crate) rates: BTreeMap<(String, u32), Rate>,
}

impl Workload {
    pub(crate) fn rate(&self, competitor: &str, threads: u32) -> Option<Rate> {
        self.rates.get(&(competitor.to_string(), threads)).copied()
    }

    /// The fastest competitor that is not ours at `threads`, with its rate.
    pub(crate) fn best_peer(&self, threads: u32) -> Option<(&str, Rate)> {
        self.competitors
            .iter()
            .filter(|c| is_peer(c))
            .filter_map(|c| Some((c.as_str(), self.rate(c, threads)?)))
            .max_by(|a, b| a.1.per_second.total_cmp(&b.1.per_second))
    }

    /// Ours over the best peer at `threads`: above 1 we lead.
    pub(crate) fn ratio_to_best_peer(&self, ours: &str, threads: u32) -> Option<f64> {
        let (_, best) = self.best_peer(threads)?;
        Some(self.rate(ours, threads)?.per_second / best.per_second)
    }

    fn add(&mut self, competitor: &str, threads: u32, rate: Rate) {
        if !self.competitors.iter().any(|c| c == competitor) {
            self.competitors.push(competitor.to_string());
        }
        if !self.threads.contains(&threads) {
            self.threads.push(threads);
            self.threads.sort_unstable();
        }
        self.rates.insert((competitor.to_string(), threads), rate);
    }
}

/// Whether a competitor is this crate: `ours`, `ours/<variant>`, or an atomic by its type name.
pub(crate) fn is_ours(competitor: &str) -> bool {
    matches!(competitor, "ours" | "AtomicInt64" | "AtomicFlag") || competitor.starts_with("ours/")
}

/// Whether a competitor is another crate's (or std's) way of doing the same: neither ours nor a
/// `baseline: ` row, which a bench shows for scale (no pool at all, our thread pool beside our
/// process pool) but which does not do the same job.
pub(crate) fn is_peer(competitor: &str) -> bool {
    !is_ours(competitor) && !competitor.starts_with("baseline: ")
}

/// Workloads by `(family, workload)`.
pub(crate) type Results = BTreeMap<(String, String), Workload>;

#[derive(Deserialize)]
struct Benchmark {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<Throughput>,
}

#[derive(Deserialize)]
enum Throughput {
    Elements(u64),
    Bytes(u64),
    BytesDecimal(u64),
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Every benchmark under `criterion_home`, in the order of `order` (benchmark ids as measured);
/// a benchmark not named `family/workload/competitor/threads` is an error.
pub(crate) fn load(criterion_home: &Path, order: &[String]) -> Result<Results, String> {
    let mut found = Vec::new();
    collect(criterion_home, &mut found)?;
    let mut measured = Vec::new();
    for dir in found {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let benchmark: Benchmark = serde_json::from_str(&read("benchmark.json")?)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let estimates: Estimates = serde_json::from_str(&read("estimates.json")?)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        measured.push((benchmark, estimates));
    }
    let position = |id: &str| order.iter().position(|o| o == id).unwrap_or(usize::MAX);
    measured.sort_by_key(|(b, _)| position(&full_id(b)));
    let mut results = Results::new();
    for (benchmark, estimates) in measured {
        let (family, workload, competitor, threads) = split_id(&benchmark)?;
        let rate = rate(&benchmark, &estimates.mean);
        results
            .entry((family, workload))
            .or_default()
            .add(&competitor, threads, rate);
    }
    Ok(results)
}

/// The directories holding a `new/benchmark.json`.
fn collect(dir: &Path, found: &mut Vec<std::path::PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.ends_with("new") && path.join("benchmark.json").is_file() {
            found.push(path);
        } else if path.is_dir() {
            collect(&path, found)?;
        }
    }
    Ok(())
}

fn full_id(b: &Benchmark) -> String {
    [
        Some(&b.group_id),
        b.function_id.as_ref(),
        b.value_str.as_ref(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect::<Vec<_>>()
    .join("/")
}

fn split_id(b: &Benchmark) -> Result<(String, String, String, u32), String> {
    let malformed = || {
        format!(
            "benchmark {} is not named family/workload/competitor/threads",
            full_id(b)
        )
    };
    let function = b.function_id.as_deref().ok_or_else(malformed)?;
    let (workload, competitor) = function.split_once('/').ok_or_else(malformed)?;
    let threads = b.value_str.as_deref().and_then(|v| v.parse().ok());
    let threads = threads.ok_or_else(malformed)?;
    Ok((
        b.group_id.clone(),
        workload.to_string(),
        competitor.to_string(),
        threads,
    ))
}

/// Operations per second from a time per iteration in nanoseconds.
fn rate(benchmark: &Benchmark, mean: &Estimate) -> Rate {
    let ops = match benchmark.throughput {
        Some(Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n)) => n,
        None => 1,
    } as f64;
    let per_second = |nanos: f64| ops / (nanos * 1e-9);
    Rate {
        per_second: per_second(mean.point_estimate),
        low: per_second(mean.confidence_interval.upper_bound),
        high: per_second(mean.confidence_interval.lower_bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(home: &Path, dir: &str, benchmark: &str, mean_ns: f64) {
        let path = home.join(dir).join("new");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("benchmark.json"), benchmark).unwrap();
        let estimate = format!(
            "{{\"mean\":{{\"confidence_interval\":{{\"confidence_level\":0.95,\
             \"lower_bound\":{},\"upper_bound\":{}}},\"point_estimate\":{mean_ns},\
             \"standard_error\":1.0}}}}",
            mean_ns * 0.9,
            mean_ns * 1.1
        );
        std::fs::write(path.join("estimates.json"), estimate).unwrap();
    }

    #[test]
    fn arranges_benchmarks_by_workload_with_ratios_to_the_best_peer() {
        let home = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        let bench = |function: &str, threads: u32, elements: u64| {
            format!(
                "{{\"group_id\":\"queue\",\"function_id\":\"{function}\",\
                 \"value_str\":\"{threads}\",\"throughput\":{{\"Elements\":{elements}}}}}"
            )
        };
        write(&home, "a", &bench("pairs/ours/LockFree", 2, 2), 100.0);
        write(&home, "b", &bench("pairs/peer", 2, 2), 50.0);
        write(&home, "c", &bench("pairs/slow peer", 2, 2), 400.0);
        write(&home, "d", &bench("pairs/peer", 4, 4), 100.0);
        write(&home, "e", &bench("pairs/baseline: no queue", 2, 2), 1.0);
        let order = ["queue/pairs/ours/LockFree/2".to_string()];
        let results = load(&home, &order).unwrap();
        std::fs::remove_dir_all(&home).unwrap();

        let pairs = &results[&("queue".to_string(), "pairs".to_string())];
        assert_eq!(
            pairs.competitors[0], "ours/LockFree",
            "measured order first"
        );
        assert_eq!(pairs.threads, [2, 4]);
        let ours = pairs.rate("ours/LockFree", 2).unwrap();
        assert!((ours.per_second - 2e7).abs() < 1.0, "2 ops in 100 ns");
        assert!(ours.low < ours.per_second && ours.per_second < ours.high);
        assert_eq!(pairs.best_peer(2).unwrap().0, "peer");
        let ratio = pairs.ratio_to_best_peer("ours/LockFree", 2).unwrap();
        assert!((ratio - 0.5).abs() < 1e-9, "half the best peer: {ratio}");
        assert_eq!(pairs.ratio_to_best_peer("ours/LockFree", 4), None);
    }

    #[test]
    fn a_misnamed_benchmark_is_an_error() {
        let home = std::env::temp_dir().join(format!("bench-report-bad-{}", std::process::id()));
        write(
            &home,
            "x",
            "{\"group_id\":\"g\",\"function_id\":\"f\"}",
            1.0,
        );
        let err = load(&home, &[]).unwrap_err();
        std::fs::remove_dir_all(&home).unwrap();
        assert!(err.contains("g/f"), "{err}");
    }
}
