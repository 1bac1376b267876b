//! Helpers shared by the model tests: run a model under loom or shuttle and print how much it
//! explored. Each test file includes this with `mod support;`.

/// Runs `model` under loom (preemption bound from `LOOM_MAX_PREEMPTIONS`), counting the
/// executions explored.
#[cfg(loom)]
pub(crate) fn check(name: &str, model: impl Fn() + Sync + Send + 'static) {
    run_loom(name, loom::model::Builder::new(), model);
}

/// Like [`check`], with the preemption bound capped at `max_preemptions`.
#[cfg(loom)]
#[allow(dead_code, reason = "not every model file needs a tighter bound")]
pub(crate) fn check_bounded(
    name: &str,
    max_preemptions: usize,
    model: impl Fn() + Sync + Send + 'static,
) {
    let (builder, label) = bounded(name, max_preemptions);
    run_loom(&label, builder, model);
}

/// Like [`check_bounded`], for a model longer than loom's default branch limit allows.
#[cfg(loom)]
#[allow(dead_code, reason = "not every model file has a long model")]
pub(crate) fn check_long(
    name: &str,
    max_preemptions: usize,
    model: impl Fn() + Sync + Send + 'static,
) {
    let (mut builder, label) = bounded(name, max_preemptions);
    builder.max_branches = builder.max_branches.max(20_000);
    run_loom(&label, builder, model);
}

/// A builder whose preemption bound is capped at `max_preemptions`, and the model's label.
#[cfg(loom)]
#[allow(dead_code, reason = "not every model file needs a tighter bound")]
fn bounded(name: &str, max_preemptions: usize) -> (loom::model::Builder, String) {
    let mut builder = loom::model::Builder::new();
    let bound = builder
        .preemption_bound
        .map_or(max_preemptions, |b| b.min(max_preemptions));
    builder.preemption_bound = Some(bound);
    (builder, format!("{name} [preemptions ≤ {bound}]"))
}

#[cfg(loom)]
fn run_loom(name: &str, builder: loom::model::Builder, model: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let executions = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&executions);
    builder.check(move || {
        counter.fetch_add(1, Relaxed);
        model();
    });
    eprintln!("loom: {name}: {} executions", executions.load(Relaxed));
}

/// Schedules per scheduler: `SHUTTLE_ITERATIONS`, 10 000 by default.
#[cfg(shuttle)]
fn iterations() -> usize {
    std::env::var("SHUTTLE_ITERATIONS").map_or(10_000, |v| v.parse().expect("a number"))
}

/// Runs `model` under random and PCT (depth 3) schedules.
#[cfg(shuttle)]
pub(crate) fn check(name: &str, model: impl Fn() + Send + Sync + 'static) {
    let model = std::sync::Arc::new(model);
    let n = iterations();
    let random = std::sync::Arc::clone(&model);
    shuttle::check_random(move || random(), n);
    shuttle::check_pct(move || model(), n, 3);
    eprintln!("shuttle: {name}: {n} random + {n} PCT schedules");
}
