//! `ProcessPoolExecutor` end to end. This file is its own `main` (`harness = false`): the pool
//! starts workers by running this executable again, and a worker must serve before anything
//! else runs.

use concurrency::futures::{
    as_completed, wait, BuildError, FutureError, ProcessPoolExecutor, Registry, ReturnWhen,
    SubmitError, TaskFn,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn square(x: u64) -> u64 {
    x * x
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn panics(message: String) -> u64 {
    panic!("{message}")
}

/// Set by the initializer, in each worker.
static INITIALIZED: AtomicU64 = AtomicU64::new(0);

fn initialize(value: u64) {
    assert!(value != 0, "initializer refused 0");
    INITIALIZED.store(value, Ordering::Relaxed);
}

fn initialized(_: ()) -> u64 {
    INITIALIZED.load(Ordering::Relaxed)
}

/// Serializes to an error.
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("Unencodable refuses"))
    }
}

/// Encodes like a `u8` but never decodes.
#[derive(Debug)]
struct Undecodable;

impl Serialize for Undecodable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(0)
    }
}

impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("Undecodable refuses"))
    }
}

/// Serializes as one byte string, as large as it is.
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::deserialize(d).map(Blob)
    }
}

fn blob_len(blob: Blob) -> u64 {
    blob.0.len() as u64
}

/// Whether this process's environment is the one it was started with (`/proc/self/environ`
/// keeps that one whatever is set or removed since).
fn environment_as_started(_: ()) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let started = std::fs::read("/proc/self/environ").unwrap();
    let mut started: Vec<Vec<u8>> = started
        .split(|&b| b == 0)
        .filter(|pair| !pair.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let mut now: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(name, value)| [name.as_bytes(), b"=", value.as_bytes()].concat())
        .collect();
    started.sort();
    now.sort();
    started == now
}

/// `task(args)`'s value from `pool`, within a minute.
fn value<A: Serialize, R>(pool: &ProcessPoolExecutor, task: TaskFn<A, R>, args: A) -> R
where
    R: serde::de::DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let future = pool.submit(task, args).unwrap();
    future.result(Some(Duration::from_secs(60))).unwrap()
}

/// `x * x`, from a pool this worker starts.
fn nested_square(x: u64) -> u64 {
    value(&pool(1), SQUARE, x)
}

fn bytes_of(len: u64) -> Vec<u8> {
    vec![1; len as usize]
}

/// One byte over the largest frame a worker accepts (1 GiB).
const OVER_THE_FRAME_LIMIT: usize = (1 << 30) + 1;

/// This worker's connection to its pool, duplicated: the Unix socket whose peer is a pool's
/// socket path.
fn connection() -> std::os::unix::net::UnixStream {
    use std::os::fd::{BorrowedFd, RawFd};
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        let Ok(link) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        if !link.to_string_lossy().starts_with("socket:") {
            continue;
        }
        // SAFETY: `fd` is open: it is listed as a socket, and nothing in this worker closes a
        // descriptor while a task runs (the serve loop waits for the task).
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let stream = std::os::unix::net::UnixStream::from(borrowed.try_clone_to_owned().unwrap());
        let to_a_pool = stream.peer_addr().is_ok_and(|peer| {
            peer.as_pathname()
                .is_some_and(|path| path.to_string_lossy().contains("concurrency-pool-"))
        });
        if to_a_pool {
            return stream;
        }
    }
    panic!("this worker has no connection to a pool")
}

/// Breaks the protocol `how`, writing straight to the worker's connection; then, unless it
/// exited, stays alive and silent, as a hung or hostile worker would.
fn misbehave(how: String) -> u64 {
    use std::io::Write;
    let mut connection = connection();
    match how.as_str() {
        // A frame of 3 bytes that is no reply: a length whose every byte says "more follows".
        "undecodable" => connection
            .write_all(&[3, 0, 0, 0, 0xff, 0xff, 0xff])
            .unwrap(),
        "over-limit" => connection.write_all(&u32::MAX.to_le_bytes()).unwrap(),
        // Under the frame limit, over the reply limit: 512 MiB announced, none sent.
        "over-reply-limit" => connection.write_all(&(1u32 << 29).to_le_bytes()).unwrap(),
        "cut" => {
            connection.write_all(&[100, 0, 0, 0, 1, 2, 3]).unwrap();
            connection.shutdown(std::net::Shutdown::Both).unwrap();
        }
        "exit" => std::process::exit(0),
        _ => panic!("misbehave: no such way: {how}"),
    }
    std::thread::sleep(Duration::from_secs(3_600));
    0
}

fn never_runs(_: ()) -> u64 {
    0
}

fn takes_undecodable(_: Undecodable) -> u64 {
    0
}

static SQUARE: TaskFn<u64, u64> = TaskFn::new("square", square);
static PID: TaskFn<(), u32> = TaskFn::new("pid", pid);
static SLEEP_MS: TaskFn<u64, u64> = TaskFn::new("sleep_ms", sleep_ms);
static PANICS: TaskFn<String, u64> = TaskFn::new("panics", panics);
static INITIALIZE: TaskFn<u64, ()> = TaskFn::new("initialize", initialize);
static INITIALIZED_VALUE: TaskFn<(), u64> = TaskFn::new("initialized", initialized);
static TAKES_UNDECODABLE: TaskFn<Undecodable, u64> =
    TaskFn::new("takes_undecodable", takes_undecodable);
static BLOB_LEN: TaskFn<Blob, u64> = TaskFn::new("blob_len", blob_len);
static ENVIRONMENT_AS_STARTED: TaskFn<(), bool> =
    TaskFn::new("environment_as_started", environment_as_started);
static NESTED_SQUARE: TaskFn<u64, u64> = TaskFn::new("nested_square", nested_square);
static BYTES_OF: TaskFn<u64, Vec<u8>> = TaskFn::new("bytes_of", bytes_of);
static MISBEHAVE: TaskFn<String, u64> = TaskFn::new("misbehave", misbehave);
static NOT_REGISTERED: TaskFn<(), u64> = TaskFn::new("not_registered", never_runs);

fn registry() -> Registry {
    Registry::new()
        .register(SQUARE)
        .register(PID)
        .register(SLEEP_MS)
        .register(PANICS)
        .register(INITIALIZE)
        .register(INITIALIZED_VALUE)
        .register(TAKES_UNDECODABLE)
        .register(BLOB_LEN)
        .register(MISBEHAVE)
        .register(BYTES_OF)
        .register(ENVIRONMENT_AS_STARTED)
        .register(NESTED_SQUARE)
}

fn pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(workers)
        .build()
        .unwrap()
}

/// The processes whose parent is this one (zombies included), from `/proc`.
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesized command name: state, ppid, …
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        if after_name.split(' ').nth(1) == Some(me.as_str()) {
            found.push(pid);
        }
    }
    found
}

fn eventually_no_children() {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !children().is_empty() {
        assert!(Instant::now() < deadline, "children left: {:?}", children());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn results_come_back_in_order_and_as_completed() {
    let pool = pool(2);
    let futures: Vec<_> = (0..8).map(|x| pool.submit(SQUARE, x).unwrap()).collect();
    let done = wait(
        &futures,
        Some(Duration::from_secs(30)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(done.done.len(), 8);
    let mut seen: Vec<u64> = as_completed(&futures, Some(Duration::from_secs(30)))
        .map(|f| f.unwrap().result(None).unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, [0, 1, 4, 9, 16, 25, 36, 49]);
    for chunksize in [1, 3, 100] {
        let values: Vec<u64> = pool
            .map(SQUARE, 0..10, chunksize, Some(Duration::from_secs(30)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(values, (0..10).map(square).collect::<Vec<_>>());
    }
    pool.shutdown(true, false);
    assert!(children().is_empty(), "{:?}", children());
}

/// A submission while the pool's one idle manager is still taking the previous job gets a
/// worker of its own. The pool counted idle managers only, so the second job counted the
/// manager the first had already woken, and waited behind the first (seen under TSan as
/// `wait_and_as_completed_return_on_time` finding the slow task done first).
fn a_submission_gets_a_worker_while_the_idle_one_takes_the_previous_job() {
    let pool = pool(2);
    assert_eq!(pool.submit(SQUARE, 3).unwrap().result(None).unwrap(), 9);
    // Let the manager go back to waiting for a job: the pool has one idle manager.
    std::thread::sleep(Duration::from_millis(200));
    let slow = pool.submit(SLEEP_MS, 2_000).unwrap();
    let quick = pool.submit(SLEEP_MS, 1).unwrap();
    assert_eq!(quick.result(None).unwrap(), 1);
    assert!(!slow.done(), "the quick job waited behind the slow one");
    assert_eq!(slow.result(None).unwrap(), 2_000);
}

/// A process pool's futures are the thread pool's: an async runtime awaits them, a failed one
/// included.
fn its_futures_can_be_awaited() {
    let pool = pool(2);
    let squares: Vec<_> = (1..=4).map(|x| pool.submit(SQUARE, x).unwrap()).collect();
    let failing = pool.submit(PANICS, String::from("awaited panic")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (sum, failure) = runtime.block_on(async {
        let mut sum = 0;
        for f in squares {
            sum += f.await.unwrap();
        }
        (sum, failing.await)
    });
    assert_eq!(sum, 30);
    assert!(failure.unwrap_err().to_string().contains("awaited panic"));
}

fn wait_and_as_completed_return_on_time() {
    let pool = pool(2);
    let slow = pool.submit(SLEEP_MS, 2_000).unwrap();
    let quick = pool.submit(SLEEP_MS, 1).unwrap();
    let both = [slow.clone(), quick.clone()];
    let first = wait(
        &both,
        Some(Duration::from_secs(30)),
        ReturnWhen::FirstCompleted,
    );
    assert_eq!(first.done.len(), 1);
    assert_eq!(first.done[0].result(None).unwrap(), 1);
    assert_eq!(first.not_done.len(), 1);
    let failing = pool.submit(PANICS, "first".to_owned()).unwrap();
    let with_failure = [slow.clone(), failing];
    let first_failure = wait(
        &with_failure,
        Some(Duration::from_secs(30)),
        ReturnWhen::FirstException,
    );
    assert_eq!(first_failure.done.len(), 1);
    assert!(!slow.done());
    let mut completed = as_completed(&both, Some(Duration::from_millis(100)));
    assert_eq!(completed.next().unwrap().unwrap().result(None).unwrap(), 1);
    assert!(matches!(completed.next(), Some(Err(FutureError::Timeout))));
    assert_eq!(slow.result(None).unwrap(), 2_000);
}

fn map_times_out_from_the_call_and_its_drop_cancels() {
    let slow = pool(1);
    let started = Instant::now();
    let mut timed = slow
        .map(SLEEP_MS, [1, 3_000, 1], 1, Some(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(timed.next().unwrap().unwrap(), 1);
    assert!(matches!(timed.next(), Some(Err(FutureError::Timeout))));
    assert!(timed.next().is_none());
    // Not 3 s: the timeout counts from the call, and the iteration does not wait further.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(timed);
    let pool = pool(1);
    let mut dropped = pool.map(SLEEP_MS, [1_000; 6], 1, None).unwrap();
    assert_eq!(dropped.next().unwrap().unwrap(), 1_000);
    drop(dropped);
    let after = Instant::now();
    assert_eq!(pool.submit(SQUARE, 5).unwrap().result(None).unwrap(), 25);
    // At most the chunk running when the map was dropped finishes first (about 1 s); the four
    // cancelled ones would take 4 s more.
    assert!(
        after.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        after.elapsed()
    );
}

fn a_panicking_task_fails_only_its_future() {
    let pool = pool(1);
    let failed = pool.submit(PANICS, "boom".to_owned()).unwrap();
    let after = pool.submit(SQUARE, 3).unwrap();
    match failed.result(None) {
        Err(FutureError::Failed(error)) => {
            assert!(error.to_string().contains("boom"), "{error}");
        }
        other => panic!("expected the task's panic, got {other:?}"),
    }
    assert_eq!(after.result(None).unwrap(), 9);
}

fn values_that_do_not_serialize_fail_their_future() {
    let pool = pool(1);
    static UNENCODABLE: TaskFn<Unencodable, u64> = TaskFn::new("unencodable", |_| 0);
    let refused = pool.submit(UNENCODABLE, Unencodable).unwrap();
    let message = refused.exception(None).unwrap().unwrap().to_string();
    assert!(
        message.contains("cannot encode the arguments of task \"unencodable\""),
        "{message}"
    );
    let undecodable = pool.submit(TAKES_UNDECODABLE, Undecodable).unwrap();
    let message = undecodable.exception(None).unwrap().unwrap().to_string();
    assert!(
        message.contains("cannot decode the task's arguments"),
        "{message}"
    );
    let unknown = pool.submit(NOT_REGISTERED, ()).unwrap();
    let message = unknown.exception(None).unwrap().unwrap().to_string();
    assert!(message.contains("not_registered"), "{message}");
    assert_eq!(pool.submit(SQUARE, 4).unwrap().result(None).unwrap(), 16);
}

/// The message of a future's failure, or a panic naming what it got instead.
fn failure<R: std::fmt::Debug>(result: Result<R, FutureError>) -> String {
    match result {
        Err(FutureError::Failed(error)) => error.to_string(),
        other => panic!("expected a failed task, got {other:?}"),
    }
}

fn arguments_over_the_frame_limit_fail_their_own_future() {
    let pool = pool(1);
    let limit = "1073741824 bytes";
    let huge = pool
        .submit(BLOB_LEN, Blob(vec![0; OVER_THE_FRAME_LIMIT]))
        .unwrap();
    let message = failure(huge.result(Some(Duration::from_secs(60))));
    assert!(message.contains(limit), "{message}");
    assert!(message.contains("\"blob_len\""), "{message}");
    // Each item fits, their chunk does not.
    let halves = [0, 1].map(|_| Blob(vec![0; OVER_THE_FRAME_LIMIT / 2 + 1]));
    let mut chunk = pool
        .map(BLOB_LEN, halves, 2, Some(Duration::from_secs(60)))
        .unwrap();
    for _ in 0..2 {
        let message = failure(chunk.next().unwrap());
        assert!(message.contains(limit), "{message}");
    }
    assert!(chunk.next().is_none());
    drop(chunk);
    let items = [
        Blob(vec![7; 10]),
        Blob(vec![0; OVER_THE_FRAME_LIMIT]),
        Blob(vec![]),
    ];
    let mut one_by_one = pool
        .map(BLOB_LEN, items, 1, Some(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(one_by_one.next().unwrap().unwrap(), 10);
    assert!(failure(one_by_one.next().unwrap()).contains(limit));
    assert_eq!(one_by_one.next().unwrap().unwrap(), 0);
    // Nothing else was lost: the pool and its worker go on.
    assert_eq!(value(&pool, SQUARE, 6), 36);
}

fn a_value_over_the_reply_limit_fails_its_own_future() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_reply_bytes(1 << 16)
        .build()
        .unwrap();
    let mut values = pool
        .map(
            BYTES_OF,
            [10, 100_000, 20],
            3,
            Some(Duration::from_secs(60)),
        )
        .unwrap();
    assert_eq!(values.next().unwrap().unwrap(), vec![1; 10]);
    let message = failure(values.next().unwrap());
    assert!(message.contains("reply limit of 65536 bytes"), "{message}");
    assert_eq!(values.next().unwrap().unwrap(), vec![1; 20]);
    let alone = pool.submit(BYTES_OF, 70_000).unwrap();
    assert!(failure(alone.result(Some(Duration::from_secs(60)))).contains("65536"));
    assert_eq!(value(&pool, SQUARE, 7), 49);
}

fn a_worker_that_breaks_the_protocol_is_killed_and_breaks_the_pool() {
    let ways = [
        ("undecodable", "undecodable"),
        ("over-limit", "over the limit"),
        ("over-reply-limit", "over the limit of 67108864 bytes"),
        ("cut", "inside a frame"),
        ("exit", "exit status: 0"),
    ];
    for (how, cause) in ways {
        let pool = pool(1);
        let worker = pool.submit(PID, ()).unwrap().result(None).unwrap();
        let bad = pool.submit(MISBEHAVE, how.to_owned()).unwrap();
        let queued = pool.submit(SQUARE, 2).unwrap();
        match bad.result(Some(Duration::from_secs(30))) {
            Err(FutureError::BrokenExecutor(why)) => {
                assert!(why.contains(&format!("pid {worker}")), "{how}: {why}");
                assert!(why.contains(cause), "{how}: {why}");
            }
            other => panic!("{how}: expected a broken pool, got {other:?}"),
        }
        assert!(
            matches!(
                queued.result(Some(Duration::from_secs(30))),
                Err(FutureError::BrokenExecutor(_))
            ),
            "{how}"
        );
        assert!(matches!(
            pool.submit(SQUARE, 1),
            Err(SubmitError::Broken(_))
        ));
        drop(pool);
        assert!(!alive(worker), "{how}: worker {worker} outlived its pool");
    }
}

fn a_killed_worker_breaks_the_pool_within_a_second() {
    let pool = pool(1);
    let sleeper = pool.submit(SLEEP_MS, 30_000).unwrap();
    let queued = pool.submit(SQUARE, 2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let worker = loop {
        if let [worker] = children()[..] {
            break worker;
        }
        assert!(Instant::now() < deadline, "no worker started");
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(100)); // let it take the task
    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-9", &worker.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    match sleeper.result(Some(Duration::from_secs(1))) {
        Err(FutureError::BrokenExecutor(why)) => {
            assert!(why.contains("process pool is broken"), "{why}");
            assert!(why.contains(&worker.to_string()), "{why}");
        }
        other => panic!("expected a broken pool, got {other:?}"),
    }
    assert!(killed.elapsed() < Duration::from_secs(1));
    assert!(matches!(
        queued.result(Some(Duration::from_secs(1))),
        Err(FutureError::BrokenExecutor(_))
    ));
    assert!(matches!(
        pool.submit(SQUARE, 1),
        Err(SubmitError::Broken(_))
    ));
    drop(pool);
    assert!(children().is_empty(), "{:?}", children());
}

fn workers_are_recycled_after_max_tasks_per_child() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..6)
        .map(|_| pool.submit(PID, ()).unwrap().result(None).unwrap())
        .collect();
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
    assert_eq!(pids[2], pids[3]);
    assert_ne!(pids[3], pids[4]);
    assert!(!pids.contains(&std::process::id()));
}

fn the_initializer_runs_in_every_worker_and_its_failure_breaks_the_pool() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .initializer(INITIALIZE, 7)
        .build()
        .unwrap();
    let values: Vec<u64> = pool
        .map(INITIALIZED_VALUE, [(); 4], 1, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(values, [7; 4]);
    let failing = ProcessPoolExecutor::builder()
        .max_workers(1)
        .initializer(INITIALIZE, 0)
        .build()
        .unwrap();
    match failing.submit(SQUARE, 2).unwrap().result(None) {
        Err(FutureError::BrokenExecutor(why)) => assert!(why.contains("initializer"), "{why}"),
        other => panic!("expected a broken pool, got {other:?}"),
    }
}

fn shutdown_leaves_no_process_behind() {
    let pair = pool(2);
    let running: Vec<_> = (0..4).map(|_| pair.submit(SLEEP_MS, 50).unwrap()).collect();
    pair.shutdown(true, false);
    for future in &running {
        assert_eq!(future.result(None).unwrap(), 50);
    }
    assert!(children().is_empty(), "{:?}", children());
    assert_eq!(pair.submit(SQUARE, 1).unwrap_err(), SubmitError::Shutdown);

    let single = pool(1);
    let first = single.submit(SLEEP_MS, 50).unwrap();
    let queued: Vec<_> = (0..3)
        .map(|_| single.submit(SLEEP_MS, 50).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    single.shutdown(false, true);
    assert_eq!(first.result(None).unwrap(), 50);
    assert!(queued.iter().all(|f| f.cancelled()));
    drop(single);
    eventually_no_children();
}

fn a_done_callback_may_use_the_pool_while_shutdown_cancels_its_future() {
    let pool = std::sync::Arc::new(pool(1));
    let busy = pool.submit(SLEEP_MS, 1_000).unwrap();
    let queued = pool.submit(SQUARE, 3).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !busy.running() {
        assert!(Instant::now() < deadline, "the first task never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (report, reported) = std::sync::mpsc::channel();
    let in_callback = std::sync::Arc::clone(&pool);
    queued.add_done_callback(move |future| {
        let submitted = in_callback.submit(SQUARE, 1).map(|_| ());
        let mapped = in_callback.map(SQUARE, [1], 1, None).map(|_| ());
        let debug = format!("{in_callback:?}");
        in_callback.shutdown(false, true);
        let _ = report.send((future.cancelled(), submitted, mapped, debug));
    });
    let shutting = std::sync::Arc::clone(&pool);
    let shutdown = std::thread::spawn(move || shutting.shutdown(false, true));
    let (cancelled, submitted, mapped, debug) = reported
        .recv_timeout(Duration::from_secs(30))
        .expect("the done-callback did not finish: shutdown deadlocked");
    assert!(cancelled);
    assert_eq!(submitted, Err(SubmitError::Shutdown));
    assert_eq!(mapped, Err(SubmitError::Shutdown));
    assert!(debug.contains("shut_down: true"), "{debug}");
    shutdown.join().unwrap();
    assert_eq!(busy.result(None).unwrap(), 1_000);
}

fn a_done_callback_may_shut_the_pool_down_and_wait() {
    let pool = std::sync::Arc::new(pool(2));
    let (report, reported) = std::sync::mpsc::channel();
    let in_callback = std::sync::Arc::clone(&pool);
    let first = pool.submit(SQUARE, 4).unwrap();
    let other = pool.submit(SLEEP_MS, 200).unwrap();
    // Runs on the manager that completes `first`, which cannot wait for itself.
    first.add_done_callback(move |_| {
        in_callback.shutdown(true, false);
        let _ = report.send(());
    });
    reported
        .recv_timeout(Duration::from_secs(30))
        .expect("shutdown(true, _) in a done-callback did not return");
    assert_eq!(first.result(None).unwrap(), 16);
    assert_eq!(other.result(None).unwrap(), 200);
    assert_eq!(pool.submit(SQUARE, 1).unwrap_err(), SubmitError::Shutdown);
}

/// Set in a child this test starts as a pool's parent: `panic` or `linger`.
const PARENT_ENV: &str = "PROCESS_POOL_TEST_PARENT";

/// The parent's part. `panic`, `linger`: start a worker, report its pid, then panic or wait
/// to be killed. `no-threads` (run where no thread can start): report what two submissions
/// and the pool's `Debug` say between them. `temp-removed`: report a task's result before
/// and after the temp directory is removed.
fn act_as_parent(how: &str) {
    let pool = pool(1);
    if how == "no-threads" {
        println!("{:?}", pool.submit(SQUARE, 2).map(|_| ()));
        println!("{pool:?}");
        println!("{:?}", pool.submit(SQUARE, 3).map(|_| ()));
        return;
    }
    if how == "temp-removed" {
        let limit = Some(Duration::from_secs(60));
        println!("{:?}", pool.submit(SQUARE, 3).unwrap().result(limit));
        // The worker is replaced before the next task, in a temp directory that is gone.
        drop(pool);
        let pool = pool_of_one_task_per_child(1);
        std::fs::remove_dir_all(std::env::temp_dir()).unwrap();
        println!("{:?}", pool.submit(SQUARE, 4).unwrap().result(limit));
        return;
    }
    let worker = pool.submit(PID, ()).unwrap().result(None).unwrap();
    println!("worker {worker}");
    if how == "panic" {
        panic!("the parent panics with a live pool");
    }
    std::thread::sleep(Duration::from_secs(60));
}

/// Starts this executable as a parent that acts `how`; returns it and its worker's pid.
fn start_parent(how: &str) -> (std::process::Child, u32) {
    use std::io::BufRead;
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PARENT_ENV, how)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let worker = line
        .trim()
        .strip_prefix("worker ")
        .unwrap()
        .parse()
        .unwrap();
    (parent, worker)
}

/// Whether `pid` is a live process (not gone, not a zombie waiting for its new parent).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'))
}

fn no_worker_outlives_a_parent_that_panics_or_is_killed() {
    let (mut parent, worker) = start_parent("panic");
    let status = parent.wait().unwrap();
    assert!(!status.success());
    assert!(
        !alive(worker),
        "worker {worker} outlived its panicking parent"
    );

    assert_eq!(socket_dirs(parent.id()), [] as [std::path::PathBuf; 0]);

    let (mut parent, worker) = start_parent("linger");
    assert!(alive(worker));
    parent.kill().unwrap();
    parent.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(worker) {
        assert!(
            Instant::now() < deadline,
            "worker {worker} outlived its killed parent"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // A socket directory lives only while a worker starts: a killed parent leaves none.
    assert_eq!(socket_dirs(parent.id()), [] as [std::path::PathBuf; 0]);
}

fn pool_of_one_task_per_child(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(workers)
        .max_tasks_per_child(1)
        .build()
        .unwrap()
}

fn the_socket_directory_removed_under_the_pool_breaks_it_cleanly() {
    // The temp directory itself: no worker can start any more.
    let temp = std::env::temp_dir().join(format!("process-pool-test-{}", std::process::id()));
    std::fs::create_dir(&temp).unwrap();
    let parent = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PARENT_ENV, "temp-removed")
        .env("TMPDIR", &temp)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&temp);
    let report = String::from_utf8_lossy(&parent.stdout);
    assert!(parent.status.success(), "{}: {report}", parent.status);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.first(), Some(&"Ok(9)"), "{report}");
    let broken = lines.get(1).copied().unwrap_or_default();
    assert!(broken.contains("BrokenExecutor"), "{report}");
    assert!(broken.contains("cannot create a directory"), "{report}");

    // Each start's own directory, removed as soon as it appears: every task gets its value or
    // a broken pool, and nothing hangs or is left behind.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = std::sync::Arc::clone(&stop);
    let remover = std::thread::spawn(move || {
        let mut removed = 0;
        while !stopped.load(Ordering::Relaxed) {
            for dir in socket_dirs(std::process::id()) {
                removed += usize::from(std::fs::remove_dir_all(dir).is_ok());
            }
            std::thread::yield_now();
        }
        removed
    });
    let pool = pool_of_one_task_per_child(2);
    for x in 0..20 {
        let Ok(future) = pool.submit(SQUARE, x) else {
            continue;
        };
        match future.result(Some(Duration::from_secs(60))) {
            Ok(value) => assert_eq!(value, x * x),
            Err(FutureError::BrokenExecutor(why)) => {
                assert!(why.contains("process pool is broken"), "{why}")
            }
            other => panic!("task {x}: {other:?}"),
        }
    }
    drop(pool);
    stop.store(true, Ordering::Relaxed);
    println!(
        "    (the remover removed {} directories)",
        remover.join().unwrap()
    );
}

fn socket_directory_names_cannot_be_taken_in_advance() {
    // The names an earlier version used: this process's pid and a counter from 0.
    let taken: Vec<_> = (0..1_000)
        .map(|n| std::env::temp_dir().join(format!("concurrency-pool-{}-{n}", std::process::id())))
        .collect();
    for dir in &taken {
        std::fs::create_dir(dir).unwrap();
    }
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    let values: Vec<u64> = (0..3).map(|x| value(&pool, SQUARE, x)).collect();
    drop(pool);
    for dir in &taken {
        std::fs::remove_dir(dir).unwrap();
    }
    assert_eq!(values, [0, 1, 4]);
}

/// A process that has exited and been reaped: its pid names no process.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn a_new_pool_removes_only_the_socket_directories_of_dead_pools() {
    use std::os::fd::AsRawFd;
    let dir = |pid: u32, what: &str| {
        let path = std::env::temp_dir().join(format!(
            "concurrency-pool-{pid}-{what}-{}",
            std::process::id()
        ));
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("w0.sock"), b"").unwrap();
        path
    };
    let dead = dead_pid();
    let stale = dir(dead, "stale");
    let living = dir(1, "living");
    // A dead pid, but locked: its owner lives in another pid namespace.
    let locked = dir(dead, "locked");
    let lock = std::fs::File::open(&locked).unwrap();
    // SAFETY: `lock` is an open descriptor for the duration of the call.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    // A dead pid, but another user's (only root can make one here).
    let foreign = dir(dead, "foreign");
    let chowned = std::os::unix::fs::chown(&foreign, Some(65_534), None).is_ok();
    let pool = pool(1);
    assert_eq!(pool.submit(SQUARE, 5).unwrap().result(None).unwrap(), 25);
    let exists = |path: &std::path::Path| path.exists();
    let report = (
        exists(&stale),
        exists(&living),
        exists(&locked),
        exists(&foreign),
    );
    drop(lock);
    for path in [&stale, &living, &locked, &foreign] {
        let _ = std::fs::remove_dir_all(path);
    }
    assert!(!report.0, "the directory of a dead pool was left");
    assert!(report.1, "the directory of a live pool was removed");
    assert!(report.2, "a locked directory was removed");
    assert!(report.3 || !chowned, "another user's directory was removed");
    // SAFETY: geteuid has no preconditions.
    assert!(
        chowned || unsafe { libc::geteuid() } != 0,
        "root could not chown"
    );
}

fn a_worker_never_writes_its_environment_and_may_start_a_pool() {
    let pool = pool(1);
    assert!(value(&pool, ENVIRONMENT_AS_STARTED, ()));
    assert_eq!(value(&pool, NESTED_SQUARE, 9), 81);
    assert!(
        environment_as_started(()),
        "the parent's environment changed"
    );
}

/// Sends `signal` (`-STOP`, `-CONT`, …) to `pid`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}: {status}");
}

/// Stops `worker` and waits until it is stopped.
fn stop(worker: u32) {
    signal(worker, "-STOP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{worker}/stat")).unwrap();
        if stat[stat.rfind(')').unwrap() + 2..].starts_with('T') {
            return;
        }
        assert!(Instant::now() < deadline, "worker {worker} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A pool of one worker, and that worker's pid.
fn pool_and_worker(
    builder: concurrency::futures::ProcessPoolExecutorBuilder,
) -> (ProcessPoolExecutor, u32) {
    let pool = builder.max_workers(1).build().unwrap();
    let worker = pool.submit(PID, ()).unwrap().result(None).unwrap();
    (pool, worker)
}

fn a_stopped_worker_lets_timeouts_fire_and_drop_waits_for_its_task() {
    let (pool, worker) = pool_and_worker(ProcessPoolExecutor::builder());
    stop(worker);
    // Sent, never read while the worker is stopped.
    let stalled = pool.submit(SLEEP_MS, 100).unwrap();
    assert!(matches!(
        stalled.result(Some(Duration::from_millis(300))),
        Err(FutureError::Timeout)
    ));
    let mut mapped = pool
        .map(SQUARE, [1, 2], 1, Some(Duration::from_millis(300)))
        .unwrap();
    assert!(matches!(mapped.next(), Some(Err(FutureError::Timeout))));
    drop(mapped);
    let done = wait(
        std::slice::from_ref(&stalled),
        Some(Duration::from_millis(300)),
        ReturnWhen::AllCompleted,
    );
    assert_eq!(done.not_done.len(), 1);
    pool.shutdown(false, false);
    assert_eq!(pool.submit(SQUARE, 1).unwrap_err(), SubmitError::Shutdown);
    // Drop waits for the task the stopped worker holds (no worker_timeout is set)…
    let dropping = std::thread::spawn(move || drop(pool));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!stalled.done());
    assert!(
        !dropping.is_finished(),
        "Drop returned before the stopped worker's task ended"
    );
    // …and returns once the worker goes on.
    signal(worker, "-CONT");
    dropping.join().unwrap();
    assert_eq!(stalled.result(None).unwrap(), 100);
    assert!(!alive(worker));
}

fn a_worker_past_the_worker_timeout_is_killed_and_breaks_the_pool() {
    let (pool, worker) =
        pool_and_worker(ProcessPoolExecutor::builder().worker_timeout(Duration::from_secs(2)));
    stop(worker);
    let stalled = pool.submit(SLEEP_MS, 100).unwrap();
    let queued = pool.submit(SQUARE, 3).unwrap();
    match stalled.result(Some(Duration::from_secs(60))) {
        Err(FutureError::BrokenExecutor(why)) => {
            assert!(why.contains(&format!("pid {worker}")), "{why}");
            assert!(
                why.contains("no reply within the worker timeout of 2s"),
                "{why}"
            );
        }
        other => panic!("expected a broken pool, got {other:?}"),
    }
    assert!(matches!(
        queued.result(Some(Duration::from_secs(60))),
        Err(FutureError::BrokenExecutor(_))
    ));
    assert!(!alive(worker), "the stalled worker {worker} was not killed");
    drop(pool);
    // A task within the timeout is not disturbed by it.
    let (pool, _) =
        pool_and_worker(ProcessPoolExecutor::builder().worker_timeout(Duration::from_secs(60)));
    assert_eq!(
        pool.submit(SLEEP_MS, 300).unwrap().result(None).unwrap(),
        300
    );
}

fn an_idle_stopped_worker_is_killed_when_the_pool_is_dropped() {
    let (pool, worker) = pool_and_worker(ProcessPoolExecutor::builder());
    stop(worker);
    // Its connection closes; it cannot exit while stopped, so the pool kills it (after 10 s).
    drop(pool);
    assert!(
        !alive(worker),
        "the stopped worker {worker} outlived its pool"
    );
}

fn a_manager_that_cannot_start_leaves_nothing_queued() {
    // Every thread this parent starts asks for a stack no machine has.
    let parent = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PARENT_ENV, "no-threads")
        .env("RUST_MIN_STACK", (1u64 << 50).to_string())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&parent.stdout);
    assert!(parent.status.success(), "{}: {report}", parent.status);
    let lines: Vec<&str> = report.lines().collect();
    let [first, debug, second] = lines[..] else {
        panic!("{report}")
    };
    assert!(
        first.contains("Broken(") && first.contains("cannot start a manager thread"),
        "{first}"
    );
    assert!(
        debug.contains("queued: 0") && debug.contains("managers: 0"),
        "{debug}"
    );
    assert!(second.contains("Broken("), "{second}");
}

fn bad_settings_are_refused() {
    let zero = ProcessPoolExecutor::builder().max_workers(0).build();
    assert_eq!(zero.unwrap_err(), BuildError::ZeroWorkers);
    let zero = ProcessPoolExecutor::builder()
        .max_tasks_per_child(0)
        .build();
    assert_eq!(zero.unwrap_err(), BuildError::ZeroTasksPerChild);
    let zero = ProcessPoolExecutor::builder()
        .worker_timeout(Duration::ZERO)
        .build();
    assert_eq!(zero.unwrap_err(), BuildError::ZeroWorkerTimeout);
    let zero = ProcessPoolExecutor::builder().max_reply_bytes(0).build();
    let error = zero.unwrap_err();
    assert_eq!(error, BuildError::ZeroMaxReplyBytes);
    assert_eq!(error.to_string(), "max_reply_bytes must be greater than 0");
}

/// Test functions with their names.
macro_rules! named {
    ($($test:ident),* $(,)?) => {
        [$((stringify!($test), $test as fn())),*]
    };
}

/// How long one test may take before the run counts it as hung.
const TEST_LIMIT: Duration = Duration::from_secs(180);

/// The socket directories of `pid`'s pools that are left in the temp directory.
fn socket_dirs(pid: u32) -> Vec<std::path::PathBuf> {
    let mine = format!("concurrency-pool-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&mine))
        .map(|entry| entry.path())
        .collect()
}

/// Runs `test` on its own thread; `Err` says how it failed: a panic, no end within
/// [`TEST_LIMIT`], or a worker process or socket directory left behind.
fn run(test: fn()) -> Result<(), String> {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(test).is_ok());
    });
    match outcome.recv_timeout(TEST_LIMIT) {
        Ok(true) => {}
        Ok(false) => return Err("panicked".into()),
        Err(_) => return Err(format!("no end within {TEST_LIMIT:?}")),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !children().is_empty() {
        if Instant::now() >= deadline {
            return Err(format!("left worker processes behind: {:?}", children()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    match socket_dirs(std::process::id())[..] {
        [] => Ok(()),
        ref left => Err(format!("left socket directories behind: {left:?}")),
    }
}

fn main() {
    registry().serve_if_worker();
    if let Ok(how) = std::env::var(PARENT_ENV) {
        act_as_parent(&how);
        return;
    }
    // `cargo test --test process_pool -- NAME…` runs the tests whose names contain a NAME.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests = named![
        results_come_back_in_order_and_as_completed,
        wait_and_as_completed_return_on_time,
        its_futures_can_be_awaited,
        a_submission_gets_a_worker_while_the_idle_one_takes_the_previous_job,
        map_times_out_from_the_call_and_its_drop_cancels,
        a_panicking_task_fails_only_its_future,
        values_that_do_not_serialize_fail_their_future,
        arguments_over_the_frame_limit_fail_their_own_future,
        a_value_over_the_reply_limit_fails_its_own_future,
        a_worker_that_breaks_the_protocol_is_killed_and_breaks_the_pool,
        a_killed_worker_breaks_the_pool_within_a_second,
        workers_are_recycled_after_max_tasks_per_child,
        the_initializer_runs_in_every_worker_and_its_failure_breaks_the_pool,
        shutdown_leaves_no_process_behind,
        a_done_callback_may_use_the_pool_while_shutdown_cancels_its_future,
        a_done_callback_may_shut_the_pool_down_and_wait,
        no_worker_outlives_a_parent_that_panics_or_is_killed,
        a_worker_never_writes_its_environment_and_may_start_a_pool,
        socket_directory_names_cannot_be_taken_in_advance,
        the_socket_directory_removed_under_the_pool_breaks_it_cleanly,
        a_new_pool_removes_only_the_socket_directories_of_dead_pools,
        a_stopped_worker_lets_timeouts_fire_and_drop_waits_for_its_task,
        a_worker_past_the_worker_timeout_is_killed_and_breaks_the_pool,
        an_idle_stopped_worker_is_killed_when_the_pool_is_dropped,
        a_manager_that_cannot_start_leaves_nothing_queued,
        bad_settings_are_refused,
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match run(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(why) => {
                println!("test {name} ... FAILED: {why}");
                failed += 1;
                if why.starts_with("no end") {
                    // A hung test holds its pool: what follows would not be meaningful.
                    break;
                }
            }
        }
    }
    println!("process_pool: {passed} passed, {failed} failed");
    std::process::exit(i32::from(failed > 0));
}
