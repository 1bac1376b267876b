//! Building the benches with cargo and running them, with progress on the terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// One bar over every step of the report; on a terminal a bar, elsewhere a line per tenth.
pub(crate) struct Progress {
    bar: ProgressBar,
    total: u64,
}

impl Progress {
    pub(crate) fn new(total: u64) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>5} [{bar:30}] {pos}/{len} {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        Self { bar, total }
    }

    /// One step done: `what` is what was just measured.
    pub(crate) fn step(&self, what: &str) {
        self.bar.inc(1);
        self.bar.set_message(what.to_string());
        let done = self.bar.position();
        if self.bar.is_hidden()
            && (done * 10 / self.total.max(1)) > ((done - 1) * 10 / self.total.max(1))
        {
            eprintln!("[{done}/{}] {what}", self.total);
        }
    }

    pub(crate) fn say(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `cargo bench --no-run` for `benches`: each one's executable.
pub(crate) fn build(
    cargo: &str,
    manifest: &Path,
    benches: &[&str],
) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut command = Command::new(cargo);
    command
        .args([
            "bench",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(manifest);
    for bench in benches {
        command.args(["--bench", bench]);
    }
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !out.status.success() {
        return Err("cargo bench --no-run failed".into());
    }
    let mut executables = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let name = message["target"]["name"].as_str();
        let is_bench = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"));
        if let (Some(name), true, Some(exe)) = (name, is_bench, message["executable"].as_str()) {
            executables.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    match benches.iter().find(|b| !executables.contains_key(**b)) {
        Some(missing) => Err(format!("cargo built no executable for bench {missing}")),
        None => Ok(executables),
    }
}

/// How many benchmarks an executable lists (`--list`, criterion's format), of those matching
/// `filter`.
pub(crate) fn count(exe: &Path, filter: &[String]) -> Result<u64, String> {
    let out = Command::new(exe)
        .arg("--list")
        .args(filter)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let listing = String::from_utf8_lossy(&out.stdout);
    Ok(listing
        .lines()
        .filter(|l| l.ends_with(": benchmark"))
        .count() as u64)
}

/// What a criterion executable printed, read line by line.
#[derive(Debug, Default)]
pub(crate) struct Printed {
    /// Benchmark ids in the order they finished.
    pub(crate) ids: Vec<String>,
    /// Lines that are neither a result nor part of one (a bench's own figures).
    pub(crate) notes: Vec<String>,
    previous: String,
}

impl Printed {
    /// Reads one line of output; returns the id of the benchmark it finishes, if it does.
    fn read(&mut self, line: &str) -> Option<&str> {
        let indented = line.starts_with(char::is_whitespace);
        let finished = match line.split_once("time:") {
            // `id  time: [...]`, or the id alone on the line before when it is long.
            Some((head, _)) => {
                let id = if indented { &self.previous } else { head };
                self.ids.push(id.trim().to_string());
                true
            }
            None => {
                if !indented && line.contains(": ") {
                    self.notes.push(line.to_string());
                }
                false
            }
        };
        self.previous = line.to_string();
        finished
            .then(|| self.ids.last().map(String::as_str))
            .flatten()
    }

    /// The notes without the long ids that stood alone on their line (they may hold ": ").
    fn finish(mut self) -> Self {
        let ids = &self.ids;
        self.notes
            .retain(|note| !ids.iter().any(|id| id == note.trim()));
        self
    }
}

/// Runs a criterion executable in bench mode with `args`, its results in `criterion_home`;
/// a progress step per benchmark.
pub(crate) fn criterion(
    exe: &Path,
    args: &[String],
    criterion_home: &Path,
    progress: &Progress,
) -> Result<Printed, String> {
    let mut printed = Printed::default();
    run_streaming(exe, args, criterion_home, |line| {
        if let Some(id) = printed.read(line) {
            progress.step(id);
        }
    })?;
    Ok(printed.finish())
}

/// Runs `exe args` with its standard output read line by line (standard error kept in a file
/// beside `work_dir`'s results, shown when it fails).
pub(crate) fn run_streaming(
    exe: &Path,
    args: &[String],
    work_dir: &Path,
    mut line: impl FnMut(&str),
) -> Result<(), String> {
    std::fs::create_dir_all(work_dir).map_err(|e| e.to_string())?;
    let name = exe
        .file_name()
        .map_or("bench".into(), |n| n.to_string_lossy());
    let stderr_path = work_dir.join(format!("{name}.stderr"));
    let stderr = File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(args)
        .env("CRITERION_HOME", work_dir)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    for l in BufReader::new(stdout).lines() {
        line(&l.map_err(|e| e.to_string())?);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        return Ok(());
    }
    let errors = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let tail: Vec<&str> = errors.lines().rev().take(20).collect();
    Err(format!(
        "{} {} failed ({status}):\n{}",
        exe.display(),
        args.join(" "),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_short_and_long_and_the_bench_notes() {
        let output = "\
queue/spsc/flume/2      time:   [81.5 ns 82.0 ns 83.1 ns]
                        thrpt:  [12.0 Melem/s 12.2 Melem/s 12.3 Melem/s]
process_pool/latency/baseline: ThreadPoolExecutor/2
                        time:   [46.0 µs 46.3 µs 46.9 µs]
executor/idle_cpu/ours: 0ns of CPU in 1.0s idle
";
        let mut printed = Printed::default();
        let finished: Vec<String> = output
            .lines()
            .filter_map(|l| printed.read(l).map(String::from))
            .collect();
        let printed = printed.finish();
        assert_eq!(
            finished,
            [
                "queue/spsc/flume/2",
                "process_pool/latency/baseline: ThreadPoolExecutor/2"
            ]
        );
        assert_eq!(printed.ids, finished);
        assert_eq!(
            printed.notes,
            ["executor/idle_cpu/ours: 0ns of CPU in 1.0s idle"]
        );
    }
}
