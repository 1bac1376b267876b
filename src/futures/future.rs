//! `Future<T>`: the result of a computation that may not have finished yet.
//!
//! # State machine
//! One atomic state word holds where the future is:
//!
//! ```text
//! PENDING ──set_running_or_notify_cancel──▶ RUNNING ──set_*──▶ COMPLETING ──▶ FINISHED
//!    │ └──────────────────────────set_*──────────────────────────▶ COMPLETING
//!    └──cancel──▶ CANCELLED
//! ```
//!
//! # Invariants
//! 1. The state only moves along the arrows; FINISHED and CANCELLED are final ("done").
//! 2. Exactly one thread moves the state into COMPLETING — the completer. It alone writes the
//!    outcome, before it stores FINISHED; nobody reads the outcome before seeing FINISHED.
//! 3. Done-callbacks and waiters are registered, and taken by the completer, under the
//!    watcher lock; the completer stores the final state *before* it takes that lock, and a
//!    registration checks the state *under* it. So each callback runs exactly once and each
//!    waiter is fired exactly once: by the completer, or by the registration itself when it
//!    finds the future done.
//! 4. A task (set by an executor) is taken at most once, by whoever runs it — a worker, or a
//!    worker of the same pool that waits for the future before it started — or dropped when
//!    the future is cancelled.
//!
//! # Progress
//! `cancel`, `done`, `running`, `cancelled` and the `set_*` transitions are lock-free on the
//! state word; notifying watchers takes a mutex that is held only to push or take a vector.
//! `result`, `exception`, `wait` and `as_completed` block (sleeping) by design.
//!
//! # Memory orderings
//! * The store of FINISHED is `Release`, paired with the `Acquire` loads of the state before
//!   the outcome is read: the outcome written by the completer is visible to every reader.
//! * The transitions into COMPLETING, RUNNING and CANCELLED elect a thread and publish nothing,
//!   so they are `Relaxed`; what callbacks and waiters need comes through the watcher lock.

use super::error::{take_panic_message, FutureError, InvalidStateError, TaskError};
use super::waiter::Waiter;
use super::worker;
use crate::sync::{Arc, AtomicU8, Mutex, MutexGuard, Ordering, UnsafeCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Not started: can be cancelled, run, or completed.
const PENDING: u8 = 0;
/// Its task runs (or an owner called `set_running_or_notify_cancel`).
const RUNNING: u8 = 1;
/// A completer won the right to write the outcome and is writing it.
const COMPLETING: u8 = 2;
/// Done with an outcome.
const FINISHED: u8 = 3;
/// Done without an outcome.
const CANCELLED: u8 = 4;

/// The ordering of the store of FINISHED: `Release` publishes the outcome (the mutant drops it,
/// for loom to catch).
const FINISH: Ordering = if cfg!(concurrency_mutant = "finish_without_release") {
    Ordering::Relaxed // the mutant: no Release
} else {
    Ordering::Release // pairs with the Acquire load in `state`
};

/// What a finished future holds.
enum Outcome<T> {
    Value(T),
    Failed(TaskError),
    /// The executor broke before the task could run; the message says why.
    Broken(String),
}

type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;
type Task<T> = Box<dyn FnOnce() -> T + Send>;

/// Who to tell when the future is done.
struct Watchers<T> {
    callbacks: Vec<Callback<T>>,
    waiters: Vec<(Arc<Waiter>, usize)>,
}

struct Shared<T> {
    state: AtomicU8,
    /// Written once by the completer (invariant 2).
    outcome: UnsafeCell<Option<Outcome<T>>>,
    watchers: Mutex<Watchers<T>>,
    /// The task, for futures made by an executor (invariant 4).
    task: Mutex<Option<Task<T>>>,
    /// The identity of the executor whose task this is; 0 for a future made with `new`.
    pool: usize,
}

// SAFETY: the outcome is written by one thread (the completer) before the Release store of
// FINISHED and only read after an Acquire load of it, so sharing it needs `T: Send` (it may be
// written on one thread and dropped on another) and `T: Sync` (several threads may read it at
// once). Everything else is behind mutexes or atomics.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}
// SAFETY: as above; a `Shared` moves between threads with the `T` it holds.
unsafe impl<T: Send + Sync> Send for Shared<T> {}

/// The result of a computation that may not have finished yet: a cheap `Clone` handle, equal
/// to its clones and to nothing else.
///
/// Made by [`ThreadPoolExecutor::submit`](super::ThreadPoolExecutor::submit), or by
/// [`Future::new`] for code that completes it itself:
///
/// ```
/// use concurrency::futures::Future;
/// use std::time::Duration;
///
/// let f = Future::new();
/// let producer = {
///     let f = f.clone();
///     std::thread::spawn(move || f.set_result(42).unwrap())
/// };
/// assert_eq!(f.result(Some(Duration::from_secs(10))).unwrap(), 42);
/// producer.join().unwrap();
/// assert!(f.done());
/// ```
pub struct Future<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Future<T> {
    /// A pending future, for executor authors and tests.
    pub fn new() -> Self {
        Self::with_task(0, None)
    }

    /// A pending future of the executor `pool`, which runs `task`.
    pub(super) fn with_task(pool: usize, task: Option<Task<T>>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: AtomicU8::new(PENDING),
                outcome: UnsafeCell::new(None),
                watchers: Mutex::new(Watchers {
                    callbacks: Vec::new(),
                    waiters: Vec::new(),
                }),
                task: Mutex::new(task),
                pool,
            }),
        }
    }

    /// The identity of the shared state: equal for clones, distinct for distinct futures.
    pub(super) fn id(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    fn state(&self) -> u8 {
        // Acquire: pairs with the Release store of FINISHED, so a caller that sees it done may
        // read the outcome.
        self.shared.state.load(Ordering::Acquire)
    }

    /// Cancels the future if it has not started: it is then done at once, for every observer,
    /// and its callbacks run. Returns `false` if it is running or finished; `true` if it is
    /// (now) cancelled.
    ///
    /// ```
    /// let f = concurrency::futures::Future::<u8>::new();
    /// assert!(f.cancel());
    /// assert!(f.cancelled() && f.done());
    /// assert_eq!(f.set_running_or_notify_cancel(), Ok(false));
    /// ```
    pub fn cancel(&self) -> bool {
        let won = self
            .shared
            .state
            // Relaxed, both: the transition elects the canceller and publishes nothing
            // (watchers synchronize through their lock).
            .compare_exchange(PENDING, CANCELLED, Ordering::Relaxed, Ordering::Relaxed);
        match won {
            Ok(_) => {
                drop(self.take_task());
                self.notify_watchers();
                true
            }
            Err(state) => state == CANCELLED,
        }
    }

    /// Whether the future was cancelled.
    pub fn cancelled(&self) -> bool {
        self.state() == CANCELLED
    }

    /// Whether its task is running (it is neither pending nor done).
    pub fn running(&self) -> bool {
        matches!(self.state(), RUNNING | COMPLETING)
    }

    /// Whether it finished or was cancelled.
    pub fn done(&self) -> bool {
        matches!(self.state(), FINISHED | CANCELLED)
    }

    /// Marks a pending future running: `Ok(true)`; `Ok(false)` if it was cancelled (its
    /// waiters were told at the cancellation); `InvalidStateError` if it is already running or
    /// done. For executor authors: call it before running the task.
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidStateError> {
        let moved = self
            .shared
            .state
            // Relaxed, both: elects the runner, publishes nothing.
            .compare_exchange(PENDING, RUNNING, Ordering::Relaxed, Ordering::Relaxed);
        match moved {
            Ok(_) => Ok(true),
            Err(CANCELLED) => Ok(false),
            Err(_) => Err(InvalidStateError {
                what: "the future is already running or done",
            }),
        }
    }

    /// Completes the future with a value; `InvalidStateError` if it is already done.
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.complete(Outcome::Value(value))
    }

    /// Completes the future with an error; `InvalidStateError` if it is already done.
    ///
    /// ```
    /// use concurrency::futures::{Future, FutureError, TaskError};
    /// let f = Future::<u8>::new();
    /// f.set_exception(TaskError::new("no luck")).unwrap();
    /// assert!(matches!(f.result(None), Err(FutureError::Failed(e)) if e.to_string() == "no luck"));
    /// assert!(f.set_result(1).is_err());
    /// ```
    pub fn set_exception(&self, error: TaskError) -> Result<(), InvalidStateError> {
        self.complete(Outcome::Failed(error))
    }

    /// Fails the future because its executor broke before running it.
    pub(super) fn set_broken(&self, why: String) {
        // Err: it was cancelled or completed meanwhile, and that outcome stands.
        let _ = self.complete(Outcome::Broken(why));
    }

    fn complete(&self, outcome: Outcome<T>) -> Result<(), InvalidStateError> {
        // Guess PENDING rather than load first: the CAS reads the state anyway.
        let mut state = PENDING;
        loop {
            if !matches!(state, PENDING | RUNNING) {
                return Err(InvalidStateError {
                    what: "the future is already done",
                });
            }
            match self.shared.state.compare_exchange_weak(
                state,
                COMPLETING,
                Ordering::Relaxed, // elects the completer (invariant 2); publishes nothing
                Ordering::Relaxed, // a failure only re-checks the state
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // SAFETY: this thread won COMPLETING, so it is the only writer, and no reader looks
        // before FINISHED is stored below (invariant 2).
        self.shared
            .outcome
            .with_mut(|slot| unsafe { *slot = Some(outcome) });
        // Release (FINISH): publishes the outcome; pairs with the Acquire load in `state`.
        self.shared.state.store(FINISHED, FINISH);
        drop(self.take_task());
        self.notify_watchers();
        Ok(())
    }

    fn watchers(&self) -> MutexGuard<'_, Watchers<T>> {
        // A panicking callback never runs under the lock, so poisoning only means a panic
        // between push and unlock, which leaves the vectors intact.
        self.shared
            .watchers
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Fires every waiter and runs every callback, in the order added (invariant 3).
    fn notify_watchers(&self) {
        let Watchers { callbacks, waiters } = std::mem::replace(
            &mut *self.watchers(),
            Watchers {
                callbacks: Vec::new(),
                waiters: Vec::new(),
            },
        );
        for (waiter, token) in waiters {
            waiter.fire(token);
        }
        for callback in callbacks {
            self.run_callback(callback);
        }
    }

    /// Runs a done-callback; a panic in it is reported on stderr and goes no further.
    fn run_callback(&self, callback: Callback<T>) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(self))) {
            eprintln!(
                "concurrency: a done-callback of {self:?} panicked: {}",
                take_panic_message(payload)
            );
        }
    }

    /// Adds a callback that runs once the future is done, with the future as argument: at once
    /// (on this thread) if it is done already, otherwise on the thread that completes or
    /// cancels it. Callbacks run in the order added; a panicking one is reported on stderr and
    /// the others still run.
    ///
    /// ```
    /// use concurrency::futures::Future;
    /// use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel();
    /// let f = Future::new();
    /// f.add_done_callback(move |f| tx.send(f.result(None).unwrap()).unwrap());
    /// f.set_result("done").unwrap();
    /// assert_eq!(rx.recv().unwrap(), "done");
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        let callback: Callback<T> = Box::new(callback);
        {
            let mut watchers = self.watchers();
            if !self.done() {
                watchers.callbacks.push(callback);
                return;
            }
        }
        self.run_callback(callback);
    }

    /// Registers `waiter` under `token`: `false` (not registered) if the future is done already.
    pub(super) fn watch(&self, waiter: &Arc<Waiter>, token: usize) -> bool {
        let mut watchers = self.watchers();
        if self.done() {
            return false;
        }
        watchers.waiters.push((Arc::clone(waiter), token));
        true
    }

    /// How many waiters are registered, for tests that check registrations are removed.
    #[cfg(test)]
    pub(super) fn watcher_count(&self) -> usize {
        self.watchers().waiters.len()
    }

    /// Removes every registration of `waiter`.
    pub(super) fn unwatch(&self, waiter: &Arc<Waiter>) {
        self.watchers()
            .waiters
            .retain(|(registered, _)| !Arc::ptr_eq(registered, waiter));
    }

    fn take_task(&self) -> Option<Task<T>> {
        self.shared
            .task
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
    }

    /// Runs the task on this thread if nobody took it yet and the future was not cancelled,
    /// and completes the future with its value, or with its panic. Returns whether it ran.
    pub(super) fn run(&self) -> bool {
        self.run_then(|| {})
    }

    /// [`run`](Self::run), calling `before_completing` between the task's return and the
    /// completion of the future (a worker counts itself idle there, so that whoever sees the
    /// result and submits again finds the worker counted).
    pub(super) fn run_then(&self, before_completing: impl FnOnce()) -> bool {
        let Some(task) = self.take_task() else {
            return false;
        };
        if self.set_running_or_notify_cancel() != Ok(true) {
            return false;
        }
        let outcome = worker::running(self.id(), || catch_unwind(AssertUnwindSafe(task)));
        before_completing();
        // Err: only this thread completes a running task's future, so it cannot be done.
        let _ = match outcome {
            Ok(value) => self.set_result(value),
            Err(payload) => self.set_exception(TaskError::from_panic(payload)),
        };
        true
    }

    /// The no-self-deadlock rule: a worker about to block on a future of its own pool that
    /// has not started runs it here instead. Returns whether it ran it.
    pub(super) fn run_if_mine(&self) -> bool {
        worker::serves(self.shared.pool) && self.state() == PENDING && self.run()
    }

    /// Waits until the future is done or `deadline` passes; whether it is done.
    fn wait_done(&self, deadline: Option<Instant>) -> bool {
        if self.done() {
            return true;
        }
        self.run_if_mine();
        assert!(
            self.done() || !worker::is_running_here(self.id()),
            "deadlock: this thread waits for {self:?}, whose task it is running itself"
        );
        let waiter = Arc::new(Waiter::default());
        if self.watch(&waiter, 0) {
            let fired = waiter.take_fired(deadline);
            if fired.is_empty() {
                self.unwatch(&waiter);
            }
        }
        self.done()
    }

    /// Reads the outcome of a done future.
    fn with_outcome<R>(&self, read: impl FnOnce(Option<&Outcome<T>>) -> R) -> R {
        debug_assert!(self.done());
        // SAFETY: the future is done (seen with Acquire by `done`), so the outcome is written
        // and never written again (invariant 2); a cancelled future has none.
        self.shared
            .outcome
            .with(|slot| read(unsafe { (*slot).as_ref() }))
    }

    /// Waits for the outcome and returns the value, `None` waiting without limit.
    ///
    /// # Errors
    /// [`FutureError::Timeout`] if it is not done in time, [`FutureError::Cancelled`],
    /// [`FutureError::Failed`] if the task panicked or was failed, or
    /// [`FutureError::BrokenExecutor`].
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, FutureError>
    where
        T: Clone,
    {
        if !self.wait_done(deadline(timeout)) {
            return Err(FutureError::Timeout);
        }
        self.with_outcome(|outcome| match outcome {
            None => Err(FutureError::Cancelled),
            Some(Outcome::Value(value)) => Ok(value.clone()),
            Some(Outcome::Failed(error)) => Err(FutureError::Failed(error.clone())),
            Some(Outcome::Broken(why)) => Err(FutureError::BrokenExecutor(why.clone())),
        })
    }

    /// Waits for the outcome and returns the task's error, if any: `Ok(None)` when it produced
    /// a value.
    ///
    /// # Errors
    /// [`FutureError::Timeout`], [`FutureError::Cancelled`] or
    /// [`FutureError::BrokenExecutor`] (the task never ran).
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<TaskError>, FutureError> {
        if !self.wait_done(deadline(timeout)) {
            return Err(FutureError::Timeout);
        }
        self.with_outcome(|outcome| match outcome {
            None => Err(FutureError::Cancelled),
            Some(Outcome::Value(_)) => Ok(None),
            Some(Outcome::Failed(error)) => Ok(Some(error.clone())),
            Some(Outcome::Broken(why)) => Err(FutureError::BrokenExecutor(why.clone())),
        })
    }

    /// Whether a done future failed (a task error or a broken executor), for
    /// `ReturnWhen::FirstException`.
    pub(super) fn failed(&self) -> bool {
        self.done()
            && self.with_outcome(|outcome| {
                matches!(outcome, Some(Outcome::Failed(_) | Outcome::Broken(_)))
            })
    }

    /// Waits for the outcome and moves it out, for a caller holding the only handle that
    /// reads it.
    ///
    /// # Safety
    /// No other handle reads the outcome (through `result`, `exception`, a callback) from
    /// now on.
    pub(super) unsafe fn take_result(&self, deadline: Option<Instant>) -> Result<T, FutureError> {
        if !self.wait_done(deadline) {
            return Err(FutureError::Timeout);
        }
        // SAFETY: done, so the completer wrote the outcome and is gone (invariant 2), and by
        // the caller's guarantee nobody else reads it.
        let outcome = self
            .shared
            .outcome
            .with_mut(|slot| unsafe { (*slot).take() });
        match outcome {
            None => Err(FutureError::Cancelled),
            Some(Outcome::Value(value)) => Ok(value),
            Some(Outcome::Failed(error)) => Err(FutureError::Failed(error)),
            Some(Outcome::Broken(why)) => Err(FutureError::BrokenExecutor(why)),
        }
    }
}

/// The instant `timeout` from now; `None` for no limit (or one too far to represent).
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|timeout| Instant::now().checked_add(timeout))
}

impl<T> Default for Future<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Eq for Future<T> {}

impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state() {
            PENDING => "pending",
            RUNNING | COMPLETING => "running",
            CANCELLED => "cancelled",
            _ => "finished",
        };
        write!(f, "Future({:#x}, {state})", self.id())
    }
}
