//! `ProcessPoolExecutor`: the executor surface of the thread pool over worker processes.
//!
//! The module is private: its design, failure modes, worker lifetime and progress are
//! documented on [`ProcessPoolExecutor`], where users see them.

mod registry;
mod socket_dir;
#[cfg(test)]
mod tests;
mod wire;
mod worker;

pub use registry::{Registry, TaskFn};
pub use wire::Failure;

use self::wire::{Bytes, Outcome, Reply, Request};
use self::worker::{Settings, WorkerProcess};
use super::error::{BuildError, FutureError, SubmitError, TaskError};
use super::future::{deadline, Future};
use crate::queue::{ConcurrentQueue, QueueMode};
use crate::sync::{Arc, AtomicBool, Mutex, MutexGuard, Ordering};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::thread::JoinHandle;
use std::time::Duration;

/// The first argument of a worker process, which puts the executable in worker mode; the
/// path of the socket to connect to and the pool's `max_reply_bytes` follow.
const WORKER_ARG: &str = "--concurrency-process-pool-worker";

/// The default of [`ProcessPoolExecutorBuilder::max_reply_bytes`]: 64 MiB.
const DEFAULT_MAX_REPLY_BYTES: usize = 64 << 20;

/// Runs registered tasks in worker processes. Unix only: workers connect over a Unix socket.
///
/// ```no_run
/// use concurrency::futures::{ProcessPoolExecutor, Registry, TaskFn};
///
/// fn is_prime(n: u64) -> bool {
///     n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
/// }
/// static IS_PRIME: TaskFn<u64, bool> = TaskFn::new("is_prime", is_prime);
///
/// fn main() {
///     let registry = Registry::new().register(IS_PRIME);
///     registry.serve_if_worker(); // a worker serves here and never returns
///
///     let primes = [112272535095293, 112582705942171, 115280095190773, 1099726899285419];
///     let pool = ProcessPoolExecutor::builder().build().unwrap();
///     let verdicts = pool.map(IS_PRIME, primes, 1, None).unwrap();
///     for (n, prime) in primes.iter().zip(verdicts) {
///         println!("{n} is prime: {}", prime.unwrap());
///     }
/// }
/// ```
///
/// # Design
/// Workers are the current executable started again with a marker as its first argument
/// (`--concurrency-process-pool-worker SOCKET MAX_REPLY`: [`Registry::serve_if_worker`] sees
/// it and serves instead of running `main`): no `fork` after threads exist. The environment
/// is neither read nor written for this: writing it races with any thread that reads it
/// through libc (undefined behaviour), and a variable would be inherited by every process a
/// worker's tasks start. A worker's task may build a pool of its own.
///
/// Each worker connects to a Unix socket in a directory only this user can enter, of a name
/// nobody can guess or take first, which lives only while that worker starts; the parent
/// accepts only the connection of the process it started (its peer pid, `SO_PEERCRED`), and
/// the first start of a pool removes the directories that dead parents left (`socket_dir`).
/// Tasks are found by name in the [`Registry`], and arguments and values travel
/// `postcard`-encoded in length-prefixed frames.
///
/// Submissions go through this crate's lock-free [`ConcurrentQueue`] to *manager* threads in
/// the parent, one per worker process (started lazily, up to `max_workers`): a manager takes a
/// job, claims its future (a cancelled one is skipped), sends the request, and completes the
/// future from the reply. `map` sends `chunksize` items per request.
///
/// # Failure
/// * A task that panics fails only its own future ([`Failure::Panicked`]), as do arguments or
///   values that cannot be (de)serialized, and arguments whose request would take more than the
///   frame limit (1 GiB) encoded: `submit` and `map` encode each request once, up front, and
///   such a future fails at once with a message naming the limit. So does a value larger
///   than the pool's reply limit ([`max_reply_bytes`](ProcessPoolExecutorBuilder::max_reply_bytes),
///   64 MiB by default): its worker replaces it with [`Failure::BadResult`].
/// * A worker that dies (killed, aborted, exiting outside a task) or breaks the protocol (a
///   reply that does not decode or holds the wrong number of outcomes, a length over the reply
///   limit — refused before any of it is read — or a connection cut inside a frame)
///   breaks the pool: the future of the job it held and every queued one fail with
///   [`FutureError::BrokenExecutor`], whose message names the worker's pid, what it did and how
///   it ended; later submissions fail with [`SubmitError::Broken`]; jobs other workers are
///   running finish. The manager closes the connection, gives a worker that may be dying a
///   second to exit, kills it otherwise, and reaps it: a live worker never keeps the pool
///   waiting.
/// * A failing initializer breaks the pool the same way, and so does a submission that finds
///   no manager thread running and cannot start one (that submission fails with
///   [`SubmitError::Broken`] and nothing is queued).
///
/// # Lifetime of the workers
/// Shutdown closes the queue; each manager finishes what is queued (unless cancelled), closes
/// its worker's connection — the worker exits when it reads the end, and one that has not
/// within 10 s is killed — and reaps it, so no zombie remains. Dropping the pool, also while
/// the parent unwinds from a panic, is `shutdown(true, false)`. If the parent dies without
/// unwinding, every worker reads the end of its connection and exits: no orphan keeps running.
///
/// # Stalled workers
/// A worker that stalls inside a task (stopped with `SIGSTOP`, deadlocked, or just slow)
/// holds only its own job: timeouts on its future (`result`, `exception`, `wait`,
/// `as_completed`, `map`'s) fire as usual, and `shutdown(false, _)` returns at once. What
/// waits for the task is `shutdown(true, _)`, and so `Drop`: without a
/// [`worker_timeout`](ProcessPoolExecutorBuilder::worker_timeout) they return once the
/// worker goes on and finishes; with one, the manager kills the worker when the timeout
/// passes, the pool breaks (the job's future and the queued ones fail with
/// [`FutureError::BrokenExecutor`]), and they return. A stalled *idle* worker is killed 10 s
/// after its connection closed, with or without a timeout.
///
/// # Progress
/// Blocking by nature: `submit` is lock-free up to the gate lock it shares with `shutdown`;
/// managers block on their worker.
pub struct ProcessPoolExecutor {
    pool: Arc<Pool>,
}

/// Settings of a [`ProcessPoolExecutor`]; see [`ProcessPoolExecutor::builder`].
#[derive(Debug, Default)]
pub struct ProcessPoolExecutorBuilder {
    max_workers: Option<usize>,
    max_tasks_per_child: Option<usize>,
    max_reply_bytes: Option<usize>,
    worker_timeout: Option<Duration>,
    /// The initializer's name and the frame of its request.
    initializer: Option<(String, Vec<u8>)>,
}

impl ProcessPoolExecutorBuilder {
    /// At most this many worker processes (default: the number of cores). Zero is refused by
    /// [`build`](Self::build).
    pub fn max_workers(mut self, max_workers: usize) -> Self {
        self.max_workers = Some(max_workers);
        self
    }

    /// Replaces a worker process by a fresh one after it ran this many requests (a `map`
    /// chunk counts once). Zero is refused by [`build`](Self::build).
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.max_tasks_per_child = Some(tasks);
        self
    }

    /// The largest reply a worker may send for one request (a `map` chunk's values travel in
    /// one reply), in bytes encoded: 64 MiB by default, at most the frame limit (1 GiB: larger
    /// values act as 1 GiB). A worker fails the largest values of a reply that would not fit
    /// with [`Failure::BadResult`] (naming the limit), so only their futures fail; a reply
    /// that announces more is refused before it is read, its worker killed, and the pool
    /// broken. The parent allocates for a reply only as its bytes arrive. Zero is refused by
    /// [`build`](Self::build).
    pub fn max_reply_bytes(mut self, bytes: usize) -> Self {
        self.max_reply_bytes = Some(bytes);
        self
    }

    /// How long a worker may take over one request (a call, a `map` chunk, the initializer),
    /// from sending it to the end of the reply. A worker past it — stalled, stopped, or just
    /// slow — is killed, and the pool breaks as when a worker dies: the future of its job and
    /// every queued one fail with [`FutureError::BrokenExecutor`], naming the worker and the
    /// timeout. Unset by default: a task may run as long as it likes. Zero is refused by
    /// [`build`](Self::build).
    pub fn worker_timeout(mut self, timeout: Duration) -> Self {
        self.worker_timeout = Some(timeout);
        self
    }

    /// Runs `task(args)` first in every worker process; if it fails (panics), the pool breaks.
    ///
    /// # Panics
    /// If `args` cannot be serialized, or take more than the frame limit (1 GiB) serialized.
    pub fn initializer<A: Serialize>(mut self, task: TaskFn<A, ()>, args: A) -> Self {
        let args = wire::encode(&args).expect("the initializer's arguments serialize");
        let request = Request::Init {
            task: task.name().to_owned(),
            args: Bytes(args),
        };
        let frame = wire::frame(&request)
            .unwrap_or_else(|e| panic!("cannot send the initializer {:?}: {e}", task.name()));
        self.initializer = Some((task.name().to_owned(), frame));
        self
    }

    /// The pool; no worker starts before the first submission.
    ///
    /// # Errors
    /// [`BuildError::ZeroWorkers`], [`BuildError::ZeroTasksPerChild`],
    /// [`BuildError::ZeroWorkerTimeout`], [`BuildError::ZeroMaxReplyBytes`], or
    /// [`BuildError::WorkerNotServing`] when called in a worker process that did not call
    /// [`Registry::serve_if_worker`] first (which would start workers without end).
    pub fn build(self) -> Result<ProcessPoolExecutor, BuildError> {
        if registry::started_as_worker() && !registry::serving() {
            return Err(BuildError::WorkerNotServing);
        }
        let max_workers = match self.max_workers {
            Some(0) => return Err(BuildError::ZeroWorkers),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        if self.max_tasks_per_child == Some(0) {
            return Err(BuildError::ZeroTasksPerChild);
        }
        if self.worker_timeout == Some(Duration::ZERO) {
            return Err(BuildError::ZeroWorkerTimeout);
        }
        if self.max_reply_bytes == Some(0) {
            return Err(BuildError::ZeroMaxReplyBytes);
        }
        Ok(ProcessPoolExecutor {
            pool: Arc::new(Pool {
                jobs: ConcurrentQueue::with_mode_and_reclaimer(QueueMode::LockFree),
                max_workers,
                max_tasks_per_child: self.max_tasks_per_child,
                settings: Settings {
                    max_reply: self
                        .max_reply_bytes
                        .unwrap_or(DEFAULT_MAX_REPLY_BYTES)
                        .min(wire::MAX_FRAME),
                    initializer: self.initializer,
                    timeout: self.worker_timeout,
                },
                swept: AtomicBool::new(false),
                gate: Mutex::new(Gate::default()),
            }),
        })
    }
}

/// A request waiting for a worker, with the future its reply completes.
trait Job: Send {
    /// Claims the future; false if it was cancelled.
    fn start(&self) -> bool;
    /// The request's frame.
    fn frame(&self) -> &[u8];
    /// How many arguments it carries.
    fn len(&self) -> usize;
    fn finish(&self, reply: Reply);
    fn cancel(&self);
    fn broken(&self, why: &str);
}

/// A request for a worker and the future its reply completes: one call (`V = R`) or one
/// `map` chunk (`V` = the values of its arguments, in order).
struct Pending<V> {
    task: &'static str,
    /// The encoded request, ready to be written.
    frame: Vec<u8>,
    /// How many arguments it carries.
    len: usize,
    future: Future<V>,
    /// Turns the reply into the future's outcome.
    outcome: fn(&'static str, usize, Reply) -> Result<V, TaskError>,
}

/// The future of a `map` chunk: each argument's value, in order.
type ChunkFuture<R> = Future<Vec<Result<R, TaskError>>>;

/// Decodes one outcome of a reply.
fn value<R: DeserializeOwned>(task: &str, outcome: Option<Outcome>) -> Result<R, TaskError> {
    match outcome {
        Some(Ok(Bytes(bytes))) => wire::decode(&bytes)
            .map_err(|e| TaskError::new(format!("cannot decode the value of task {task:?}: {e}"))),
        Some(Err(failure)) => Err(TaskError::new(failure)),
        None => Err(TaskError::new(format!(
            "the worker sent no outcome for task {task:?}"
        ))),
    }
}

/// The outcome of a call: its value, or why there is none.
fn call_outcome<R: DeserializeOwned>(
    task: &'static str,
    _: usize,
    reply: Reply,
) -> Result<R, TaskError> {
    value(task, reply.into_iter().next())
}

/// The outcome of a chunk: every argument's value or failure, in order.
fn chunk_outcome<R: DeserializeOwned>(
    task: &'static str,
    len: usize,
    reply: Reply,
) -> Result<Vec<Result<R, TaskError>>, TaskError> {
    let mut outcomes = reply.into_iter();
    Ok((0..len).map(|_| value(task, outcomes.next())).collect())
}

/// The frame of a request to run `task` on each of `args`; `Err` says why there is none.
fn run_frame(task: &str, args: Vec<Bytes>) -> Result<Vec<u8>, String> {
    let request = Request::Run {
        task: task.to_owned(),
        args,
    };
    wire::frame(&request).map_err(|e| format!("cannot send task {task:?} to a worker process: {e}"))
}

impl<V: Send + Sync + 'static> Job for Pending<V> {
    fn start(&self) -> bool {
        self.future.set_running_or_notify_cancel() == Ok(true)
    }

    fn frame(&self) -> &[u8] {
        &self.frame
    }

    fn len(&self) -> usize {
        self.len
    }

    fn finish(&self, reply: Reply) {
        // Err: impossible, this manager claimed the future.
        let _ = match (self.outcome)(self.task, self.len, reply) {
            Ok(value) => self.future.set_result(value),
            Err(error) => self.future.set_exception(error),
        };
    }

    fn cancel(&self) {
        self.future.cancel();
    }

    fn broken(&self, why: &str) {
        self.future.set_broken(why.to_owned());
    }
}

struct Pool {
    jobs: ConcurrentQueue<Box<dyn Job>>,
    max_workers: usize,
    max_tasks_per_child: Option<usize>,
    settings: Settings,
    /// Whether a worker start swept the socket directories dead pools left.
    swept: AtomicBool,
    gate: Mutex<Gate>,
}

/// What `submit`, `shutdown` and a breaking manager decide under one lock.
#[derive(Default)]
struct Gate {
    shut_down: bool,
    broken: Option<String>,
    managers: Vec<JoinHandle<()>>,
    /// Managers waiting for a job.
    idle: usize,
    /// Jobs queued that no manager has taken yet: each idle manager is spoken for by one, so
    /// a submission starts a manager unless more are idle than are queued. (Counting idle
    /// managers alone let two submissions in a row both count the one manager that was about
    /// to take the first: the second job waited behind it instead of getting a worker.)
    queued: usize,
}

impl Pool {
    fn gate(&self) -> MutexGuard<'_, Gate> {
        // A panic under the gate cannot leave it inconsistent (each field is set alone).
        self.gate
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a worker process for a manager.
    fn start_worker(&self) -> Result<WorkerProcess, String> {
        // Relaxed: elects the one start that sweeps; nothing is published.
        if !self.swept.swap(true, Ordering::Relaxed) {
            socket_dir::sweep();
        }
        WorkerProcess::start(&self.settings)
    }

    /// Breaks the pool: later submissions fail, and every queued job's future fails.
    fn break_pool(&self, why: &str) {
        let why = format!("process pool is broken: {why}");
        {
            let mut gate = self.gate();
            gate.broken.get_or_insert_with(|| why.clone());
        }
        self.jobs.shutdown(true);
        for job in self.jobs.take_remaining() {
            job.broken(&why);
        }
    }
}

/// A manager thread: feeds one worker process (replacing it after `max_tasks_per_child`)
/// until the queue is shut down, or the pool breaks.
fn manage(pool: Arc<Pool>) {
    let mut worker: Option<WorkerProcess> = None;
    let mut served = 0;
    loop {
        pool.gate().idle += 1;
        let job = pool.jobs.pop();
        {
            let mut gate = pool.gate();
            gate.idle -= 1;
            if job.is_ok() {
                gate.queued -= 1;
            }
        }
        let Ok(job) = job else { break };
        if !job.start() {
            continue;
        }
        let running = match worker.take() {
            Some(running) => Ok(running),
            None => pool.start_worker(),
        };
        let mut running = match running {
            Ok(running) => running,
            Err(why) => {
                job.broken(&format!("process pool is broken: {why}"));
                pool.break_pool(&why);
                return;
            }
        };
        match running.call(job.frame(), job.len()) {
            Ok(reply) => job.finish(reply),
            Err(why) => {
                job.broken(&format!("process pool is broken: {why}"));
                pool.break_pool(&why);
                return;
            }
        }
        served += 1;
        if pool
            .max_tasks_per_child
            .is_some_and(|limit| served >= limit)
        {
            running.retire();
            served = 0;
        } else {
            worker = Some(running);
        }
    }
    if let Some(running) = worker {
        running.retire();
    }
}

impl ProcessPoolExecutor {
    /// A builder; see [`ProcessPoolExecutorBuilder`].
    pub fn builder() -> ProcessPoolExecutorBuilder {
        ProcessPoolExecutorBuilder::default()
    }

    /// Schedules `task(args)` in a worker process and returns the future of its value.
    ///
    /// Arguments that cannot be serialized give a future already failed with that error.
    ///
    /// # Errors
    /// [`SubmitError::Shutdown`] after [`shutdown`](Self::shutdown), [`SubmitError::Broken`]
    /// once a worker died or an initializer failed.
    pub fn submit<A, R>(&self, task: TaskFn<A, R>, args: A) -> Result<Future<R>, SubmitError>
    where
        A: Serialize,
        R: DeserializeOwned + Send + Sync + 'static,
    {
        let future = Future::new();
        let frame = wire::encode(&args)
            .map_err(|e| format!("cannot encode the arguments of task {:?}: {e}", task.name()))
            .and_then(|args| run_frame(task.name(), vec![Bytes(args)]));
        match frame {
            Ok(frame) => self.enqueue(Box::new(Pending {
                task: task.name(),
                frame,
                len: 1,
                future: future.clone(),
                outcome: call_outcome::<R>,
            }))?,
            Err(why) => {
                self.refuse_if_closed()?;
                // Ok: the future is new and nobody else completes it.
                let _ = future.set_exception(TaskError::new(why));
            }
        }
        Ok(future)
    }

    /// Runs `task` on every item, `chunksize` items per request to a worker, and returns the
    /// values in input order.
    ///
    /// `timeout` counts from this call: an item not done by then yields
    /// `Err(FutureError::Timeout)` and ends the iteration. A failed item yields its error and
    /// the iteration goes on. Dropping the iterator cancels the chunks not yet started.
    ///
    /// # Errors
    /// As [`submit`](Self::submit); the chunks submitted before the refusal are cancelled.
    ///
    /// # Panics
    /// If `chunksize` is 0.
    pub fn map<A, R>(
        &self,
        task: TaskFn<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
        timeout: Option<Duration>,
    ) -> Result<ProcessMap<R>, SubmitError>
    where
        A: Serialize,
        R: DeserializeOwned + Send + Sync + 'static,
    {
        assert!(
            chunksize > 0,
            "ProcessPoolExecutor::map: chunksize must be at least 1"
        );
        let deadline = deadline(timeout);
        let mut chunks = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut args = Vec::with_capacity(chunksize);
            let mut unencodable = None;
            for item in items.by_ref().take(chunksize) {
                match wire::encode(&item) {
                    Ok(bytes) => args.push(Bytes(bytes)),
                    Err(e) => unencodable = Some(e),
                }
            }
            let future = Future::new();
            let len = args.len();
            let frame = match unencodable {
                None => run_frame(task.name(), args),
                Some(e) => Err(format!(
                    "cannot encode an argument of task {:?}: {e}",
                    task.name()
                )),
            };
            let submitted = match frame {
                Ok(frame) => self.enqueue(Box::new(Pending {
                    task: task.name(),
                    frame,
                    len,
                    future: future.clone(),
                    outcome: chunk_outcome::<R>,
                })),
                Err(why) => {
                    // Ok: the future is new and nobody else completes it.
                    let _ = future.set_exception(TaskError::new(why));
                    self.refuse_if_closed()
                }
            };
            if let Err(refused) = submitted {
                for (chunk, _) in &chunks {
                    Future::cancel(chunk);
                }
                return Err(refused);
            }
            chunks.push((future, len));
        }
        Ok(ProcessMap {
            chunks: chunks.into_iter(),
            current: Vec::new().into_iter(),
            deadline,
            ended: false,
        })
    }

    fn refuse_if_closed(&self) -> Result<(), SubmitError> {
        let gate = self.pool.gate();
        if let Some(why) = &gate.broken {
            return Err(SubmitError::Broken(why.clone()));
        }
        if gate.shut_down {
            return Err(SubmitError::Shutdown);
        }
        Ok(())
    }

    /// Queues `job`, starting a manager first if no idle one is left over for it (every queued
    /// job has an idle manager spoken for) and the pool has room: a job is
    /// queued only where a manager will take it. If no manager runs and none can start, the
    /// pool breaks (as a thread pool whose first worker cannot start) and `job` is not queued.
    fn enqueue(&self, job: Box<dyn Job>) -> Result<(), SubmitError> {
        let mut gate = self.pool.gate();
        if let Some(why) = &gate.broken {
            return Err(SubmitError::Broken(why.clone()));
        }
        if gate.shut_down {
            return Err(SubmitError::Shutdown);
        }
        if gate.idle <= gate.queued && gate.managers.len() < self.pool.max_workers {
            let pool = Arc::clone(&self.pool);
            let n = gate.managers.len();
            let started = std::thread::Builder::new()
                .name(format!("ProcessPoolExecutor-manager-{n}"))
                .spawn(move || manage(pool));
            match started {
                Ok(manager) => gate.managers.push(manager),
                // The managers running get to the job.
                Err(_) if !gate.managers.is_empty() => {}
                Err(e) => {
                    let why = format!("process pool is broken: cannot start a manager thread: {e}");
                    gate.broken = Some(why.clone());
                    return Err(SubmitError::Broken(why));
                }
            }
        }
        // Err only after a shutdown, which the gate excludes.
        if self.pool.jobs.push(job).is_err() {
            return Err(SubmitError::Shutdown);
        }
        gate.queued += 1;
        Ok(())
    }

    /// Stops accepting work. With `cancel_futures`, queued jobs are cancelled; the rest run.
    /// With `wait`, returns once every worker process has exited and been reaped: a worker
    /// stalled in a task is waited for until it finishes, or until the pool's
    /// [`worker_timeout`](ProcessPoolExecutorBuilder::worker_timeout) kills it; an idle one
    /// that does not exit within 10 s of its connection closing is killed. Without `wait`, the
    /// managers finish and reap in the background. Done-callbacks may call any method of
    /// the pool, this one included: cancelling runs outside the pool's lock, and a callback
    /// running on a manager thread does not wait for that manager.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.gate().shut_down = true;
        // Outside the gate: cancelling runs done-callbacks, which may call into the pool. No
        // job is queued after the gate closed, so this takes every one left.
        if cancel_futures {
            for job in self.pool.jobs.take_remaining() {
                job.cancel();
            }
        }
        self.pool.jobs.shutdown(false);
        let managers = if wait {
            std::mem::take(&mut self.pool.gate().managers)
        } else {
            Vec::new()
        };
        let me = std::thread::current().id();
        for manager in managers {
            // A done-callback running on a manager cannot wait for itself: that one retires
            // its worker once the callback returns, with nothing left to run.
            if manager.thread().id() != me {
                // Err: the manager panicked, which only a bug can make it do.
                let _ = manager.join();
            }
        }
    }
}

/// `shutdown(true, false)`: waits for the running and queued tasks, so a worker stalled in a
/// task (stopped, deadlocked) makes `drop` wait until it goes on, unless the pool has a
/// [`worker_timeout`](ProcessPoolExecutorBuilder::worker_timeout), which kills it and breaks
/// the pool.
impl Drop for ProcessPoolExecutor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gate = self.pool.gate();
        f.debug_struct("ProcessPoolExecutor")
            .field("max_workers", &self.pool.max_workers)
            .field("managers", &gate.managers.len())
            .field("queued", &self.pool.jobs.len())
            .field("shut_down", &gate.shut_down)
            .field("broken", &gate.broken)
            .finish()
    }
}

/// The iterator of [`ProcessPoolExecutor::map`]: values in input order.
pub struct ProcessMap<R> {
    /// Each chunk not yet read, with its number of items.
    chunks: std::vec::IntoIter<(ChunkFuture<R>, usize)>,
    current: std::vec::IntoIter<Result<R, FutureError>>,
    deadline: Option<std::time::Instant>,
    ended: bool,
}

impl<R: Clone + Send + Sync + 'static> Iterator for ProcessMap<R> {
    type Item = Result<R, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        if let Some(item) = self.current.next() {
            return Some(item);
        }
        let (chunk, len) = self.chunks.next()?;
        let timeout = self
            .deadline
            .map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let items: Vec<Result<R, FutureError>> = match chunk.result(timeout) {
            Ok(values) => values
                .into_iter()
                .map(|v| v.map_err(FutureError::Failed))
                .collect(),
            Err(FutureError::Timeout) => {
                self.ended = true;
                return Some(Err(FutureError::Timeout));
            }
            Err(error) => vec![Err(error); len],
        };
        self.current = items.into_iter();
        self.current.next()
    }
}

impl<R> Drop for ProcessMap<R> {
    fn drop(&mut self) {
        for (chunk, _) in self.chunks.by_ref() {
            chunk.cancel();
        }
    }
}

impl<R> fmt::Debug for ProcessMap<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessMap")
            .field("chunks_left", &self.chunks.len())
            .finish()
    }
}
