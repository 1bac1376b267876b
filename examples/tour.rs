//! A short tour of the structures that exist so far: run it with
//! `cargo run --release --example tour`.

use concurrency::reclaim::HazardPointers;
use concurrency::{AtomicFlag, AtomicInt64, AtomicReference};
use std::sync::Arc;
use std::thread;

fn main() {
    let hits = AtomicInt64::new(0);
    let config = AtomicReference::new(String::from("config v0"));
    let bounded = AtomicReference::<_, HazardPointers>::with_reclaimer(0u64);
    let stop = AtomicFlag::new(false);

    thread::scope(|s| {
        for worker in 0..4 {
            let (hits, config, bounded) = (&hits, &config, &bounded);
            s.spawn(move || {
                for round in 0..10_000 {
                    hits.incr();
                    if round % 1000 == 0 {
                        config.set(format!("config v{worker}.{round}"));
                    }
                    let seen = bounded.get();
                    bounded.compare_exchange(&seen, *seen + 1);
                }
            });
        }
        s.spawn(|| {
            let mut reads = 0u64;
            while !stop.get() {
                let current: Arc<String> = config.get();
                assert!(current.starts_with("config v"));
                reads += 1;
                thread::yield_now();
            }
            println!("reader saw {reads} configurations");
        });
        thread::sleep(std::time::Duration::from_millis(50));
        stop.set(true);
    });

    let total = hits.get();
    println!(
        "hits = {total}; floor-divided by -7: {:?}",
        hits.floordiv(-7)
    );
    println!("latest = {}", *config.load());
    println!("compare_exchange wins = {}", *bounded.get());
}
