//! `ThreadPoolExecutor`: runs submitted closures on a pool of worker threads.
//!
//! # Design
//! A submission makes one task cell (`cell.rs`) and queues its thin [`Job`] pointer (`jobs.rs`):
//! on the pool's shared [`ConcurrentQueue`](crate::ConcurrentQueue) from outside, on the
//! submitting worker's own deque from inside a task, where idle workers steal it. Idle workers
//! spin, then sleep, on the pool's event count: a push wakes one sleeping worker, and costs one
//! load when none sleeps. Workers start lazily: a submission starts one only if no worker is idle and
//! fewer than `max_workers` started — idle ones are reused first, as in Python, where an
//! "idle" count is raised by a worker each time it finishes a task and lowered by a submission
//! that relies on it.
//!
//! The shared queue decides what is accepted: a push before its shutdown is a task the workers
//! run (a graceful shutdown lets them drain the queues), a push after it is refused. So `submit`
//! takes no lock; the gate (a mutex) is taken only to start a worker, to shut down and to
//! break. `cancel_futures` takes the queued tasks out after the queue's shutdown and cancels
//! them. An initializer failure breaks the pool: the queue is shut down at once and every
//! queued future fails with [`FutureError::BrokenExecutor`].
//!
//! One race needs the gate: a first submission whose push beats the shutdown, but whose start
//! of a worker comes after a waiting shutdown found no worker alive. A waiting shutdown that
//! finds tasks queued and no worker started starts one itself, under the gate, so that the
//! accepted task runs before it returns.
//!
//! # Progress
//! `submit` is lock-free unless it starts a worker; workers sleep while there is nothing to
//! do.
//!
//! [`FutureError::BrokenExecutor`]: super::FutureError::BrokenExecutor

use super::cell;
use super::error::{take_panic_message, BuildError, SubmitError};
use super::future::{deadline, Future};
use super::jobs::{Jobs, Next};
use super::{worker, FutureError};
use crate::sync::{thread, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

type BoxError = Box<dyn Error + Send + Sync>;

type Initializer = Box<dyn Fn() -> Result<(), BoxError> + Send + Sync>;

/// What submissions, shutdown and workers agree on under the gate.
#[derive(Debug, Default)]
struct Gate {
    /// Why the pool broke, once it did.
    broken: Option<String>,
    /// Workers that have not exited yet.
    alive: usize,
    /// Workers waiting in `shutdown(wait = true)` on their own pool: the others do not wait
    /// for them.
    shutting_down: usize,
    /// The workers' threads, joined by a waiting shutdown so that none is still tearing down
    /// when it returns.
    threads: Vec<thread::JoinHandle<()>>,
}

struct Pool {
    jobs: Jobs,
    max_workers: usize,
    thread_name_prefix: String,
    initializer: Option<Initializer>,
    /// Workers that went idle (finished a task with nothing queued) minus submissions that
    /// relied on one.
    idle: AtomicUsize,
    /// Workers started so far; written under the gate, read without it by `submit`.
    started: AtomicUsize,
    /// Set, before the queue is shut down at once, when the pool breaks.
    broken: AtomicBool,
    gate: Mutex<Gate>,
    /// Signalled when a worker exits.
    exited: Condvar,
}

impl Pool {
    fn gate(&self) -> MutexGuard<'_, Gate> {
        // No user code runs under the gate, so a poisoned gate is still consistent.
        self.gate
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Relies on an idle worker if there is one, otherwise starts a worker if the pool is
    /// below `max_workers`. Returns `false` if the pool broke because no worker could start:
    /// the caller must then [`fail_queued`](Self::fail_queued).
    fn adjust_workers(pool: &Arc<Self>) -> bool {
        let relied_on_idle = pool
            .idle
            // Relaxed, both: a count of hints; the queue hands the task over.
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |idle| {
                idle.checked_sub(1)
            })
            .is_ok();
        // Relaxed: a hint; the gate re-checks.
        if relied_on_idle || pool.started.load(Ordering::Relaxed) >= pool.max_workers {
            return true;
        }
        let mut gate = pool.gate();
        let started = Self::start_worker(pool, &mut gate);
        drop(gate);
        started
    }

    /// Starts a worker, under the gate, unless `max_workers` started already; `false` if the
    /// pool broke because none could start.
    fn start_worker(pool: &Arc<Self>, gate: &mut Gate) -> bool {
        // Relaxed: only written under the gate, which this thread holds.
        let started = pool.started.load(Ordering::Relaxed);
        if started >= pool.max_workers {
            return true;
        }
        let name = format!("{}_{}", pool.thread_name_prefix, started);
        let worker = Arc::clone(pool);
        pool.jobs.add_deque(started);
        match thread::Builder::new()
            .name(name)
            .spawn(move || Self::work(&worker, started))
        {
            Ok(handle) => {
                gate.threads.push(handle);
                // Relaxed: the gate orders the writes; readers only take a hint.
                pool.started.store(started + 1, Ordering::Relaxed);
                gate.alive += 1;
                true
            }
            Err(error) if gate.alive == 0 => {
                gate.broken = Some(format!("could not start a worker thread: {error}"));
                false
            }
            // The workers already running will get to the task.
            Err(_) => true,
        }
    }

    /// Worker `index`'s life: initialize, then run tasks until the pool is shut down and
    /// nothing is left for it.
    fn work(pool: &Arc<Self>, index: usize) {
        worker::serve(pool_id(pool), index);
        let _exit = WorkerExit(pool);
        if let Some(initializer) = &pool.initializer {
            let failure = match catch_unwind(AssertUnwindSafe(initializer)) {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(payload) => Some(format!("it panicked: {}", take_panic_message(payload))),
            };
            if let Some(failure) = failure {
                pool.break_down(format!(
                    "a thread initializer failed, the pool is not usable anymore: {failure}"
                ));
                return;
            }
        }
        while let Next::Run(job) = pool.jobs.next(index) {
            // A worker that will find nothing queued counts itself idle before the result is
            // out, so a submission that follows the result relies on it instead of starting
            // another worker (as Python's workers do before they block on an empty queue).
            // Once every worker has started the count decides nothing, and is not kept.
            job.run(&mut || {
                // Relaxed: a hint; it only grows, under the gate.
                let may_start = pool.started.load(Ordering::Relaxed) < pool.max_workers;
                if may_start && pool.jobs.looks_empty_for(index) {
                    // Relaxed: a hint for `adjust_workers`.
                    pool.idle.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }

    /// Why a push was refused: the pool broke, or it was shut down.
    fn refusal(&self) -> SubmitError {
        // Acquire: pairs with the Release store in `fail_queued`.
        if self.broken.load(Ordering::Acquire) {
            SubmitError::Broken(self.gate().broken.clone().unwrap_or_default())
        } else {
            SubmitError::Shutdown
        }
    }

    /// Breaks the pool: later submissions fail, queued futures fail, workers exit.
    fn break_down(&self, why: String) {
        self.gate().broken.get_or_insert(why);
        self.fail_queued();
    }

    /// For a broken pool: shuts the queue down at once and fails everything left in it. Runs
    /// outside the gate, because failing a future runs its callbacks, which may submit.
    fn fail_queued(&self) {
        let why = self.gate().broken.clone().unwrap_or_default();
        // Release: pairs with the Acquire load in `refusal`, which a push refused by the
        // shutdown below reaches only after this store.
        self.broken.store(true, Ordering::Release);
        self.jobs.shutdown(true);
        for job in self.jobs.take_remaining() {
            job.fail(&why);
        }
    }
}

/// The identity of a pool: the address of its shared state, which its workers keep alive.
fn pool_id(pool: &Arc<Pool>) -> usize {
    Arc::as_ptr(pool) as usize
}

/// Counts a worker out however it leaves.
struct WorkerExit<'a>(&'a Pool);

impl Drop for WorkerExit<'_> {
    fn drop(&mut self) {
        self.0.gate().alive -= 1;
        self.0.exited.notify_all();
    }
}

/// A pool of worker threads running submitted closures, each with a [`Future`] for its result.
///
/// Mirrors Python's `concurrent.futures.ThreadPoolExecutor`: workers start lazily up to
/// `max_workers` and idle ones are reused first; a panicking task fails only its own future; an
/// initializer error breaks the pool. Dropping the executor is `shutdown(true, false)`. A worker
/// that waits for a future of its own pool that has not started runs it itself (see the
/// [module documentation](super)).
///
/// ```
/// use concurrency::futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::builder().max_workers(2).build().unwrap();
/// let f = pool.submit(|| 6 * 7).unwrap();
/// assert_eq!(f.result(None).unwrap(), 42);
/// let squares: Vec<u64> = pool.map(|x: u64| x * x, 1..=4, None).unwrap().map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
pub struct ThreadPoolExecutor {
    pool: Arc<Pool>,
}

/// Configures a [`ThreadPoolExecutor`]; made by [`ThreadPoolExecutor::builder`].
#[derive(Default)]
pub struct ThreadPoolExecutorBuilder {
    max_workers: Option<usize>,
    thread_name_prefix: Option<String>,
    initializer: Option<Initializer>,
}

impl ThreadPoolExecutorBuilder {
    /// The most workers the pool runs at once (default `min(32, cores + 4)`); 0 is refused by
    /// [`build`](Self::build).
    pub fn max_workers(mut self, max_workers: usize) -> Self {
        self.max_workers = Some(max_workers);
        self
    }

    /// Worker threads are named `{prefix}_{n}` (default prefix `ThreadPoolExecutor-{k}`, `k`
    /// numbering the pools of the process).
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = Some(prefix.into());
        self
    }

    /// Runs on every worker when it starts; an error (or panic) breaks the pool.
    ///
    /// ```
    /// use concurrency::futures::{FutureError, SubmitError, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::builder()
    ///     .initializer(|| Err::<(), _>("no database"))
    ///     .build()
    ///     .unwrap();
    /// let f = pool.submit(|| 1).unwrap();
    /// assert!(matches!(f.result(None), Err(FutureError::BrokenExecutor(_))));
    /// assert!(matches!(pool.submit(|| 2), Err(SubmitError::Broken(_))));
    /// ```
    pub fn initializer<E>(
        mut self,
        initializer: impl Fn() -> Result<(), E> + Send + Sync + 'static,
    ) -> Self
    where
        E: Into<BoxError>,
    {
        self.initializer = Some(Box::new(move || initializer().map_err(Into::into)));
        self
    }

    /// The executor, or [`BuildError::ZeroWorkers`].
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        let max_workers = match self.max_workers {
            Some(0) => return Err(BuildError::ZeroWorkers),
            Some(n) => n,
            None => default_max_workers(),
        };
        let thread_name_prefix = self
            .thread_name_prefix
            .unwrap_or_else(|| format!("ThreadPoolExecutor-{}", crate::sync::next_serial()));
        Ok(ThreadPoolExecutor {
            pool: Arc::new(Pool {
                jobs: Jobs::new(max_workers),
                max_workers,
                thread_name_prefix,
                initializer: self.initializer,
                idle: AtomicUsize::new(0),
                started: AtomicUsize::new(0),
                broken: AtomicBool::new(false),
                gate: Mutex::new(Gate::default()),
                exited: Condvar::new(),
            }),
        })
    }
}

/// Python's default: `min(32, cores + 4)`.
fn default_max_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (cores + 4).min(32)
}

impl ThreadPoolExecutor {
    /// An executor with the default settings.
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("the default settings are valid")
    }

    /// A builder for `max_workers`, `thread_name_prefix` and `initializer`.
    pub fn builder() -> ThreadPoolExecutorBuilder {
        ThreadPoolExecutorBuilder::default()
    }

    /// Schedules `task` and returns the future of its result.
    ///
    /// # Errors
    /// [`SubmitError::Broken`] after an initializer failed, [`SubmitError::Shutdown`] after
    /// [`shutdown`](Self::shutdown).
    pub fn submit<T, F>(&self, task: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + Sync + 'static,
    {
        let pool = pool_id(&self.pool);
        let (future, job) = cell::with_task(pool, task);
        let pushed = match worker::index_in(pool) {
            // From a task of this pool: onto its worker's deque.
            Some(index) => self.pool.jobs.push_local(index, job),
            None => self.pool.jobs.push_shared(job),
        };
        if pushed.is_err() {
            // The refused job and the future drop the task unrun.
            return Err(self.pool.refusal());
        }
        if !Pool::adjust_workers(&self.pool) {
            self.pool.fail_queued();
        }
        Ok(future)
    }

    /// Submits `f(item)` for every item at once and returns their results in input order.
    ///
    /// `timeout` counts from this call: an item not done by then yields
    /// `Err(FutureError::Timeout)` and ends the iteration. Failed items yield their error and
    /// the iteration goes on. Dropping the iterator cancels the calls that have not started.
    ///
    /// # Errors
    /// As [`submit`](Self::submit); the items submitted before the refusal are cancelled.
    pub fn map<I, R, F>(
        &self,
        f: F,
        items: impl IntoIterator<Item = I>,
        timeout: Option<Duration>,
    ) -> Result<Map<R>, SubmitError>
    where
        F: Fn(I) -> R + Send + Sync + 'static,
        I: Send + 'static,
        R: Send + Sync + 'static,
    {
        let deadline = deadline(timeout);
        let f = Arc::new(f);
        let mut map = Map {
            futures: VecDeque::new(),
            deadline,
        };
        for item in items {
            let f = Arc::clone(&f);
            map.futures.push_back(self.submit(move || f(item))?);
        }
        Ok(map)
    }

    /// Stops accepting tasks. With `cancel_futures`, cancels the tasks that have not started;
    /// the others still run. With `wait`, returns once every worker has finished and exited.
    /// A worker of this pool that calls it waits for the other workers only, and not for
    /// those that are waiting in `shutdown` themselves (two such workers would otherwise wait
    /// for each other forever); it returns to its task, and its thread exits after it.
    /// Calling it again is harmless.
    ///
    /// ```
    /// use concurrency::futures::{SubmitError, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| "ran").unwrap();
    /// pool.shutdown(true, false);
    /// assert_eq!(f.result(None).unwrap(), "ran");
    /// assert_eq!(pool.submit(|| "late").unwrap_err(), SubmitError::Shutdown);
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.jobs.shutdown(false);
        // Outside the gate: cancelling runs callbacks, which may call into the pool.
        if cancel_futures {
            for job in self.pool.jobs.take_remaining() {
                job.cancel();
            }
        }
        if wait {
            let worker = worker::serves(pool_id(&self.pool));
            let mut gate = self.pool.gate();
            // A submission accepted before the shutdown may not have started its worker yet
            // (module documentation): start one, so that its task runs before this returns.
            // Relaxed: written only under the gate, which this thread holds.
            let none_started = self.pool.started.load(Ordering::Relaxed) == 0;
            if none_started
                && self.pool.jobs.has_jobs()
                && !Pool::start_worker(&self.pool, &mut gate)
            {
                drop(gate);
                self.pool.fail_queued();
                gate = self.pool.gate();
            }
            if worker {
                gate.shutting_down += 1;
                // The other waiting workers now wait for one worker fewer.
                self.pool.exited.notify_all();
            }
            while gate.alive > if worker { gate.shutting_down } else { 0 } {
                gate = self
                    .pool
                    .exited
                    .wait(gate)
                    .unwrap_or_else(|poison| poison.into_inner());
            }
            // A worker shutting its own pool down cannot join itself: the threads stay
            // detached then, and have all but exited.
            let threads = if worker {
                gate.shutting_down -= 1;
                Vec::new()
            } else {
                std::mem::take(&mut gate.threads)
            };
            drop(gate);
            for finished in threads {
                // Err: the thread panicked outside a task, which `WorkerExit` already counted.
                let _ = finished.join();
            }
        }
    }
}

impl Default for ThreadPoolExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ThreadPoolExecutor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gate = self.pool.gate();
        f.debug_struct("ThreadPoolExecutor")
            .field("max_workers", &self.pool.max_workers)
            .field("thread_name_prefix", &self.pool.thread_name_prefix)
            .field("workers", &gate.alive)
            .field("queued", &self.pool.jobs.len())
            .field("shut_down", &self.pool.jobs.is_shutdown())
            .field("broken", &gate.broken)
            .finish()
    }
}

impl fmt::Debug for ThreadPoolExecutorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolExecutorBuilder")
            .field("max_workers", &self.max_workers)
            .field("thread_name_prefix", &self.thread_name_prefix)
            .field("initializer", &self.initializer.is_some())
            .finish()
    }
}

/// The results of [`ThreadPoolExecutor::map`], in input order.
pub struct Map<R> {
    /// The calls not yielded yet; only this iterator has their futures.
    futures: VecDeque<Future<R>>,
    deadline: Option<Instant>,
}

impl<R> Iterator for Map<R> {
    type Item = Result<R, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        let future = self.futures.pop_front()?;
        // SAFETY: the futures of a `Map` never leave it: no other handle reads their outcome
        // (the queued copies only run, cancel or fail them).
        let outcome = unsafe { future.take_result(self.deadline) };
        if matches!(outcome, Err(FutureError::Timeout)) {
            future.cancel();
            for rest in self.futures.drain(..) {
                rest.cancel();
            }
        }
        Some(outcome)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.futures.len()))
    }
}

impl<R> Drop for Map<R> {
    fn drop(&mut self) {
        for future in &self.futures {
            future.cancel();
        }
    }
}

impl<R> fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("remaining", &self.futures.len())
            .finish_non_exhaustive()
    }
}
