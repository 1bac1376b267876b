//! What the report says about where it ran: the machine, the toolchain and every crate's version.

use std::process::Command;

/// The machine and toolchain, read before the benches start (the load average in particular).
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) load_average: String,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) libc: String,
    pub(crate) date: String,
}

impl Machine {
    pub(crate) fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "unknown".into()),
            kernel: output("uname", &["-sr"]),
            rustc: output("rustc", &["--version"]),
            libc: output("ldd", &["--version"])
                .lines()
                .next()
                .unwrap_or("unknown")
                .to_string(),
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        }
    }
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

/// The trimmed standard output of a command, or "unknown".
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The versions `Cargo.lock` resolves for `names`, in that order; a name that is not locked is
/// left out.
pub(crate) fn locked_versions(lock: &str, names: &[&str]) -> Vec<(String, String)> {
    let mut locked = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = quoted_value(line, "name") {
            name = Some(n);
        } else if let (Some(v), Some(n)) = (quoted_value(line, "version"), name.take()) {
            locked.push((n, v));
        }
    }
    names
        .iter()
        .filter_map(|&wanted| locked.iter().find(|(n, _)| n == wanted).cloned())
        .collect()
}

/// `value` of a `key = "value"` line.
fn quoted_value(line: &str, key: &str) -> Option<String> {
    let rest = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
    Some(rest.trim().trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_locked_versions_in_the_order_asked() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.2.3\"\n\n\
                    [[package]]\nname = \"b\"\nversion = \"0.1.0\"\nsource = \"x\"\n";
        assert_eq!(
            locked_versions(lock, &["b", "missing", "a"]),
            [("b".into(), "0.1.0".into()), ("a".into(), "1.2.3".into())]
        );
    }

    #[test]
    fn reads_the_cpu_model() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t: x\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("Some CPU @ 2.0GHz"));
        assert_eq!(cpu_model(""), None);
    }
}
