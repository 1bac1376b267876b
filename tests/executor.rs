//! `ThreadPoolExecutor`, one test per promise of the API: worker limits and reuse, names,
//! initializers, panics, `map`, shutdown, and the no-self-deadlock rule.

use concurrency::futures::{
    as_completed, wait, BuildError, Future, FutureError, ReturnWhen, SubmitError,
    ThreadPoolExecutor,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const LONG: Option<Duration> = Some(Duration::from_secs(60));

fn pool(max_workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(max_workers)
        .build()
        .unwrap()
}

/// Waits for every future in `fs`, failing the test if one is still running after a minute.
fn all_finish<T>(fs: &[Future<T>]) {
    let outcome = wait(fs, LONG, ReturnWhen::AllCompleted);
    assert!(
        outcome.not_done.is_empty(),
        "{:?} still running",
        outcome.not_done
    );
}

/// Submits `n` tasks that all wait for each other before running `task`: they can only finish if
/// `n` workers run at once.
fn together<T: Send + Sync + 'static>(
    pool: &ThreadPoolExecutor,
    n: usize,
    task: fn() -> T,
) -> Vec<Future<T>> {
    let gate = Arc::new(Barrier::new(n));
    (0..n)
        .map(|_| {
            let gate = gate.clone();
            pool.submit(move || {
                gate.wait();
                task()
            })
            .unwrap()
        })
        .collect()
}

fn worker_name() -> String {
    thread::current().name().unwrap().to_owned()
}

#[test]
fn zero_workers_is_refused() {
    let refused = ThreadPoolExecutor::builder().max_workers(0).build();
    assert_eq!(refused.unwrap_err(), BuildError::ZeroWorkers);
}

#[test]
fn no_more_than_max_workers_tasks_run_at_once() {
    let pool = pool(3);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    // The first three must run together to pass the barrier: the pool does start three.
    let together = Arc::new(Barrier::new(3));
    let fs: Vec<_> = (0..12)
        .map(|i| {
            let (running, most, together) = (running.clone(), most.clone(), together.clone());
            pool.submit(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                if i < 3 {
                    together.wait();
                }
                thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, SeqCst);
            })
            .unwrap()
        })
        .collect();
    all_finish(&fs);
    assert_eq!(most.load(SeqCst), 3);
}

#[test]
fn workers_start_lazily_and_idle_ones_are_reused() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(8)
        .thread_name_prefix("lazy")
        .build()
        .unwrap();
    let names: Vec<_> = (0..10)
        .map(|_| {
            let f = pool.submit(worker_name);
            f.unwrap().result(LONG).unwrap()
        })
        .collect();
    let distinct: HashSet<_> = names.iter().collect();
    assert_eq!(
        distinct.len(),
        1,
        "sequential tasks reuse one idle worker: {names:?}"
    );
    assert_eq!(names[0], "lazy_0");
}

#[test]
fn workers_are_named_with_the_prefix() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("crunch")
        .build()
        .unwrap();
    let fs = together(&pool, 2, worker_name);
    let names: HashSet<_> = fs.iter().map(|f| f.result(LONG).unwrap()).collect();
    assert_eq!(
        names,
        HashSet::from(["crunch_0".to_owned(), "crunch_1".to_owned()])
    );
    let default_name = ThreadPoolExecutor::new()
        .submit(worker_name)
        .unwrap()
        .result(LONG)
        .unwrap();
    assert!(
        default_name.starts_with("ThreadPoolExecutor-"),
        "{default_name}"
    );
}

#[test]
fn the_initializer_runs_on_every_worker() {
    let initialized = Arc::new(AtomicUsize::new(0));
    let counter = initialized.clone();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(move || {
            counter.fetch_add(1, SeqCst);
            Ok::<(), String>(())
        })
        .build()
        .unwrap();
    all_finish(&together(&pool, 2, || ()));
    assert_eq!(initialized.load(SeqCst), 2);
}

#[test]
fn a_failing_initializer_breaks_the_pool() {
    for failure in ["error", "panic"] {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(1)
            .initializer(move || {
                assert!(failure != "panic", "initializer panicked");
                Err::<(), _>("no database")
            })
            .build()
            .unwrap();
        let fs: Vec<_> = (0..5).map(|i| pool.submit(move || i)).collect();
        for f in fs {
            // Submissions racing the failure are refused; the accepted ones fail.
            match f {
                Ok(f) => assert!(matches!(
                    f.result(LONG),
                    Err(FutureError::BrokenExecutor(_))
                )),
                Err(e) => assert!(matches!(e, SubmitError::Broken(_))),
            }
        }
        match pool.submit(|| 0) {
            Err(SubmitError::Broken(why)) => assert!(why.contains("initializer"), "{why}"),
            other => panic!("expected a broken pool, got {other:?}"),
        }
    }
}

#[test]
fn a_panicking_task_fails_only_its_own_future() {
    let pool = pool(2);
    let bad = pool.submit(|| -> u32 { panic!("task exploded") }).unwrap();
    let good = pool.submit(|| 5u32).unwrap();
    match bad.result(LONG) {
        Err(FutureError::Failed(e)) => assert!(e.to_string().contains("task exploded")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(good.result(LONG).unwrap(), 5);
    assert_eq!(pool.submit(|| 6u32).unwrap().result(LONG).unwrap(), 6);
}

/// A panic payload whose own `Drop` panics.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the panic payload's drop panicked");
    }
}

/// A task, a done-callback and an initializer that panic with a payload whose drop panics too:
/// the task's future fails (it stayed RUNNING before, the second panic escaping the worker's
/// catch), the next callback still runs, and the initializer's failure still breaks the pool.
#[test]
fn a_panic_payload_whose_drop_panics_is_contained() {
    let pool = pool(1);
    let bad = pool
        .submit(|| -> u32 { std::panic::panic_any(PanicsWhenDropped) })
        .unwrap();
    match bad.result(LONG) {
        Err(FutureError::Failed(e)) => assert!(e.to_string().contains("non-string"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool.submit(|| 6u32).unwrap().result(LONG).unwrap(), 6);

    let f = Future::<u32>::new();
    let ran = Arc::new(AtomicUsize::new(0));
    f.add_done_callback(|_| std::panic::panic_any(PanicsWhenDropped));
    let counter = Arc::clone(&ran);
    f.add_done_callback(move |_| {
        counter.fetch_add(1, SeqCst);
    });
    f.set_result(1).unwrap();
    assert_eq!(ran.load(SeqCst), 1);

    let broken = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| -> Result<(), String> { std::panic::panic_any(PanicsWhenDropped) })
        .build()
        .unwrap();
    if let Ok(f) = broken.submit(|| 0) {
        assert!(matches!(
            f.result(LONG),
            Err(FutureError::BrokenExecutor(_))
        ));
    }
}

/// Two workers whose tasks both shut their own pool down and wait: each waits for the other
/// workers except those waiting in `shutdown` too, so both return (they waited for each other
/// forever before), and so does the main thread's `shutdown`.
#[test]
fn workers_that_shut_their_own_pool_down_and_wait_do_not_wait_for_each_other() {
    let pool = Arc::new(pool(2));
    let both = Arc::new(Barrier::new(2));
    let fs: Vec<_> = (0..2)
        .map(|i| {
            let (own, both) = (Arc::clone(&pool), Arc::clone(&both));
            pool.submit(move || {
                both.wait();
                own.shutdown(true, false);
                i
            })
            .unwrap()
        })
        .collect();
    for (i, f) in fs.iter().enumerate() {
        assert_eq!(f.result(LONG).ok(), Some(i), "worker {i} is still waiting");
    }
    pool.shutdown(true, false);
    assert_eq!(pool.submit(|| 0).unwrap_err(), SubmitError::Shutdown);
}

#[test]
fn map_yields_in_input_order_past_failures() {
    let pool = pool(4);
    let results: Vec<_> = pool
        .map(
            |x: u64| {
                thread::sleep(Duration::from_millis(10 - x));
                assert!(x != 3, "three fails");
                x * 10
            },
            0..8,
            LONG,
        )
        .unwrap()
        .collect();
    assert_eq!(results.len(), 8);
    for (x, result) in results.into_iter().enumerate() {
        match result {
            Ok(v) => assert_eq!(v, x as u64 * 10),
            Err(FutureError::Failed(_)) => assert_eq!(x, 3),
            Err(e) => panic!("unexpected {e}"),
        }
    }
}

#[test]
fn map_times_out_once_counted_from_the_call() {
    let pool = pool(2);
    let start = Instant::now();
    let mut results = pool
        .map(
            |x: u64| {
                if x == 1 {
                    thread::sleep(Duration::from_millis(400));
                }
                x
            },
            0..4,
            Some(Duration::from_millis(100)),
        )
        .unwrap();
    assert_eq!(results.next().unwrap().unwrap(), 0);
    assert!(matches!(results.next(), Some(Err(FutureError::Timeout))));
    assert!(
        results.next().is_none(),
        "the iteration ends at the timeout"
    );
    assert!(start.elapsed() < Duration::from_millis(400));
}

#[test]
fn dropping_a_map_cancels_the_calls_not_started() {
    let pool = pool(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let mut results = pool
        .map(
            move |x: u64| {
                counter.fetch_add(1, SeqCst);
                thread::sleep(Duration::from_millis(20));
                x
            },
            0..50,
            LONG,
        )
        .unwrap();
    assert_eq!(results.next().unwrap().unwrap(), 0);
    drop(results);
    pool.shutdown(true, false);
    assert!(ran.load(SeqCst) < 50, "cancelled calls did not run");
}

#[test]
fn shutdown_waits_for_running_and_queued_tasks() {
    let pool = pool(2);
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..6 {
        let finished = finished.clone();
        pool.submit(move || {
            thread::sleep(Duration::from_millis(5));
            finished.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    pool.shutdown(true, false);
    assert_eq!(finished.load(SeqCst), 6);
    assert_eq!(pool.submit(|| ()).unwrap_err(), SubmitError::Shutdown);
    pool.shutdown(true, false);
}

#[test]
fn shutdown_can_cancel_what_has_not_started() {
    let pool = pool(1);
    let (started, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let blocker = {
        let (started, release) = (started.clone(), release.clone());
        pool.submit(move || {
            started.wait();
            release.wait();
        })
        .unwrap()
    };
    let queued: Vec<_> = (0..5).map(|i| pool.submit(move || i).unwrap()).collect();
    started.wait();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(20));
            release.wait();
        });
        pool.shutdown(true, true);
    });
    assert!(blocker.done() && !blocker.cancelled());
    for f in &queued {
        assert!(f.cancelled(), "{f:?}");
    }
}

#[test]
fn shutdown_without_wait_returns_at_once() {
    let pool = pool(1);
    let release = Arc::new(Barrier::new(2));
    let task = {
        let release = release.clone();
        pool.submit(move || {
            release.wait();
            1
        })
        .unwrap()
    };
    pool.shutdown(false, false);
    assert!(!task.done());
    release.wait();
    assert_eq!(task.result(LONG).unwrap(), 1);
}

#[test]
fn dropping_the_pool_finishes_every_task() {
    let finished = Arc::new(AtomicUsize::new(0));
    {
        let pool = pool(2);
        for _ in 0..8 {
            let finished = finished.clone();
            pool.submit(move || {
                thread::sleep(Duration::from_millis(2));
                finished.fetch_add(1, SeqCst);
            })
            .unwrap();
        }
    }
    assert_eq!(finished.load(SeqCst), 8);
}

#[test]
fn a_one_worker_pool_completes_a_task_that_waits_on_a_task_it_submitted() {
    let pool = Arc::new(pool(1));
    let inner_pool = pool.clone();
    let outer = pool
        .submit(move || {
            let inner = inner_pool.submit(|| 5u64.pow(2)).unwrap();
            inner.result(None).unwrap()
        })
        .unwrap();
    assert_eq!(outer.result(LONG).unwrap(), 25);
}

#[test]
fn waiting_on_a_not_started_task_runs_it_also_through_wait_and_as_completed() {
    let pool = Arc::new(pool(1));
    let inner_pool = pool.clone();
    let outer = pool
        .submit(move || {
            let fs: Vec<_> = (0..3)
                .map(|i| inner_pool.submit(move || i).unwrap())
                .collect();
            let all = wait(&fs, None, ReturnWhen::AllCompleted);
            assert!(all.not_done.is_empty());
            let more: Vec<_> = (3..6)
                .map(|i| inner_pool.submit(move || i).unwrap())
                .collect();
            as_completed(&more, None)
                .map(|f| f.unwrap().result(None).unwrap())
                .sum::<i32>()
        })
        .unwrap();
    assert_eq!(outer.result(LONG).unwrap(), 3 + 4 + 5);
}

/// Python's mutual-wait example, on one worker: `a` waits for `b`, which has not started, so
/// `a`'s worker runs `b`; `b` then waits for `a`, which that very thread is running — a true
/// cycle. `b` fails with a deadlock error instead of hanging, and `a` completes with it.
#[test]
fn mutual_waits_complete_with_a_deadlock_error_instead_of_hanging() {
    let pool = Arc::new(pool(1));
    let slot_b: Arc<Mutex<Option<Future<u32>>>> = Arc::new(Mutex::new(None));
    let a = {
        let slot_b = slot_b.clone();
        pool.submit(move || {
            thread::sleep(Duration::from_millis(20));
            let b = slot_b.lock().unwrap().clone().expect("b was submitted");
            b.result(None).map_err(|e| e.to_string())
        })
        .unwrap()
    };
    let b = {
        let a = a.clone();
        pool.submit(move || a.result(None).map(|_| 6u32).unwrap_or(0))
            .unwrap()
    };
    *slot_b.lock().unwrap() = Some(b.clone());
    let a_outcome = a.result(LONG).unwrap();
    let error = a_outcome.unwrap_err();
    assert!(error.contains("deadlock"), "{error}");
    assert!(matches!(b.result(LONG), Err(FutureError::Failed(_))));
}
