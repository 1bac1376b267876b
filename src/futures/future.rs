//! `Future<T>`: the result of a computation that may not have finished yet.
//!
//! # State machine
//! One atomic word holds the state and the list of watchers (callbacks, blocked threads,
//! awaiting tasks); see `watchers.rs` for the word and `cell.rs` for the one allocation that
//! holds it, the outcome and the task:
//!
//! ```text
//! PENDING ──set_running_or_notify_cancel / run──▶ RUNNING ──set_*──▶ COMPLETING ──▶ FINISHED
//!    │ └──────────────────────────set_*──────────────────────────────▶ COMPLETING
//!    └──cancel──▶ CANCELLED
//! ```
//!
//! # Invariants
//! 1. The state only moves along the arrows; FINISHED and CANCELLED are final ("done").
//! 2. Exactly one thread moves the state into COMPLETING — the completer. It alone writes the
//!    outcome, before the CAS that stores FINISHED; nobody reads the outcome before seeing
//!    FINISHED.
//! 3. The CAS that stores the final state takes the watcher list; a registration is a CAS on
//!    the same word that fails once the state is final. So each callback runs exactly once and
//!    each waiter is woken exactly once: by the thread that finished the future (or, if a
//!    withdrawing waiter held the list at that instant, by that waiter, on its way out), or by
//!    the registration itself when it finds the future done.
//! 4. The task is called or dropped exactly once, by the thread that moved the state out of
//!    PENDING (`cell.rs`, invariant 1).
//!
//! # Progress
//! `cancel`, `done`, `running`, `cancelled`, `add_done_callback` and the `set_*` transitions
//! are lock-free; the wake-ups they make cost one unpark each, outside any lock. `result`,
//! `exception`, `wait` and `as_completed` block by design, spinning briefly before they park.
//!
//! # Memory orderings
//! * The CAS that stores FINISHED is `Release`, paired with the `Acquire` loads of the state
//!   before the outcome is read: the outcome written by the completer is visible to every
//!   reader.
//! * The transitions into COMPLETING and RUNNING elect a thread and publish nothing, so they
//!   are `Relaxed`; the watcher list has its own pairs (`watchers.rs`).

use super::cell::{self, Header, Outcome, Shared};
use super::error::{take_panic_message, FutureError, InvalidStateError, TaskError};
use super::waiter::{self, Waiter};
use super::watchers::{
    is_done, Callback, Taken, Watcher, CANCELLED, COMPLETING, FINISHED, PENDING, RUNNING,
};
use super::worker;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

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
///
/// It can be awaited from any async runtime (through [`IntoFuture`](std::future::IntoFuture)),
/// giving what [`result(None)`](Future::result) gives:
///
/// ```
/// use concurrency::futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// let f = pool.submit(|| 6 * 7).unwrap();
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(runtime.block_on(async { f.await }).unwrap(), 42);
/// ```
pub struct Future<T> {
    shared: NonNull<Shared<T>>,
    _owns: PhantomData<Shared<T>>,
}

// SAFETY: the outcome is written by one thread (the completer) before the Release CAS of
// FINISHED and only read after an Acquire load of it, so sharing it needs `T: Send` (it may be
// written on one thread and dropped on another) and `T: Sync` (several threads may read it at
// once). Callbacks are `Send`; everything else is atomic.
unsafe impl<T: Send + Sync> Sync for Future<T> {}
// SAFETY: as above; a handle moves between threads with the `T` it shares.
unsafe impl<T: Send + Sync> Send for Future<T> {}

// The handle is a pointer: moving it never moves the cell, so pinning it means nothing.
impl<T> Unpin for Future<T> {}

impl<T> Future<T> {
    /// A pending future, for executor authors and tests.
    pub fn new() -> Self {
        // SAFETY: a fresh cell with its one reference, which the handle takes.
        unsafe { Self::from_cell(Shared::plain()) }
    }

    /// A handle owning one reference to `shared`.
    ///
    /// # Safety
    /// `shared` is a live cell, and the caller gives the handle one of its references.
    pub(super) unsafe fn from_cell(shared: NonNull<Shared<T>>) -> Self {
        Self {
            shared,
            _owns: PhantomData,
        }
    }

    /// A handle that does not own a reference, for the cell's own functions.
    ///
    /// # Safety
    /// `shared` stays alive while the handle is used.
    pub(super) unsafe fn borrow(shared: NonNull<Shared<T>>) -> ManuallyDrop<Self> {
        // SAFETY: by the caller's guarantee; ManuallyDrop keeps the reference count unchanged.
        ManuallyDrop::new(unsafe { Self::from_cell(shared) })
    }

    fn shared(&self) -> &Shared<T> {
        // SAFETY: the handle's reference keeps the cell alive.
        unsafe { self.shared.as_ref() }
    }

    fn header(&self) -> &Header {
        &self.shared().header
    }

    /// The identity of the shared state: equal for clones, distinct for distinct futures.
    pub(super) fn id(&self) -> usize {
        self.shared.as_ptr() as usize
    }

    fn state(&self) -> usize {
        self.shared().state.state()
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
        match self.shared().state.finish(PENDING, CANCELLED) {
            Ok(watchers) => {
                self.notify_then_drop_task(watchers);
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
        is_done(self.state())
    }

    /// Marks a pending future running: `Ok(true)`; `Ok(false)` if it was cancelled (its
    /// waiters were told at the cancellation); `InvalidStateError` if it is already running or
    /// done. For executor authors: call it before running the task. On a future of a
    /// [`ThreadPoolExecutor`](super::ThreadPoolExecutor), whose task the pool runs, it drops
    /// that task: the caller has taken the future over and completes it with `set_*`.
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidStateError> {
        match self.shared().state.transition(PENDING, RUNNING) {
            Ok(()) => {
                self.shared().drop_task();
                Ok(true)
            }
            Err(CANCELLED) => Ok(false),
            Err(_) => Err(InvalidStateError {
                what: "the future is already running or done",
            }),
        }
    }

    /// Moves a pending future with a task to RUNNING, for its runner: whether it won.
    pub(super) fn start(&self) -> bool {
        self.shared().state.transition(PENDING, RUNNING).is_ok()
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
        let state = &self.shared().state;
        let from = match state.transition(PENDING, COMPLETING) {
            Ok(()) => PENDING,
            // The state never returns to PENDING, so a failure here is final.
            Err(RUNNING) if state.transition(RUNNING, COMPLETING).is_ok() => RUNNING,
            Err(_) => {
                return Err(InvalidStateError {
                    what: "the future is already done",
                })
            }
        };
        // SAFETY: this thread won COMPLETING, so it is the only writer, and no reader looks
        // before FINISHED is stored below (invariant 2).
        self.shared()
            .outcome
            .with_mut(|slot| unsafe { *slot = Some(outcome) });
        // Ok: only the completer moves the state out of COMPLETING (invariant 2).
        let Ok(watchers) = state.finish(COMPLETING, FINISHED) else {
            unreachable!("only the completer moves the state out of COMPLETING")
        };
        if from == PENDING {
            self.notify_then_drop_task(watchers);
        } else {
            self.notify(watchers);
        }
        Ok(())
    }

    /// For the thread that moved a future with a task out of PENDING without running it:
    /// notifies, then drops the task, so that a panicking `Drop` of the task reaches the caller
    /// after the watchers were told.
    fn notify_then_drop_task(&self, watchers: Taken<T>) {
        self.notify(watchers);
        self.shared().drop_task();
    }

    /// Wakes every waiter and runs every callback, in the order added (invariant 3).
    fn notify(&self, watchers: Taken<T>) {
        for callback in watchers.wake() {
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
        if let Err(Watcher::Callback(callback)) = self
            .shared()
            .state
            .push(Watcher::Callback(Box::new(callback)))
        {
            self.run_callback(callback);
        }
    }

    /// Registers `watcher`: `false` (not registered) if the future is done already.
    pub(super) fn watch(&self, watcher: Watcher<T>) -> bool {
        self.shared().state.push(watcher).is_ok()
    }

    /// Unlinks the withdrawn watchers, and serves the list if the future finished meanwhile
    /// and handed it to this thread (see `watchers.rs`).
    pub(super) fn prune(&self) {
        if let Some(watchers) = self.shared().state.prune() {
            self.notify(watchers);
        }
    }

    /// How many watchers are registered, for tests that check registrations are removed.
    #[cfg(all(test, not(any(loom, shuttle))))]
    pub(super) fn watcher_count(&self) -> usize {
        self.shared()
            .state
            .len()
            .expect("no pruner runs in the test")
    }

    /// Runs `task`, this future's task, which the caller took after winning the start, and
    /// completes the future with its value, or with its panic; `before_completing` runs between
    /// the task's return and the completion (a worker counts itself idle there, so that
    /// whoever sees the result and submits again finds the worker counted).
    pub(super) fn run_task(&self, task: impl FnOnce() -> T, before_completing: &mut dyn FnMut()) {
        let outcome = worker::running(self.id(), || catch_unwind(AssertUnwindSafe(task)));
        before_completing();
        // Err: only this thread completes a running task's future, so it cannot be done.
        let _ = match outcome {
            Ok(value) => self.set_result(value),
            Err(payload) => self.set_exception(TaskError::from_panic(payload)),
        };
    }

    /// The no-self-deadlock rule: a worker about to block on a future of its own pool that
    /// has not started runs it here instead. Returns whether it ran it.
    pub(super) fn run_if_mine(&self) -> bool {
        worker::serves(self.header().pool)
            && self.state() == PENDING
            && self.shared().run(&mut || {})
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
        if crate::event_count::spin(&mut || self.done().then_some(())).is_some() {
            return true;
        }
        waiter::with_spare(|waiter| {
            if !self.watch(Watcher::Waiter(Waiter::register(waiter))) {
                return;
            }
            // A wake-up may be a stale one of the spare's earlier use: wait on unless done.
            // No second spin: this thread spun on `done` just before registering.
            while !self.done() {
                if !waiter.park_until(deadline) {
                    waiter.withdraw();
                    self.prune();
                    return;
                }
            }
        });
        self.done()
    }

    /// Reads the outcome of a done future.
    fn with_outcome<R>(&self, read: impl FnOnce(Option<&Outcome<T>>) -> R) -> R {
        debug_assert!(self.done());
        // SAFETY: the future is done (seen with Acquire by `done`), so the outcome is written
        // and never written again (invariant 2); a cancelled future has none.
        self.shared()
            .outcome
            .with(|slot| read(unsafe { (*slot).as_ref() }))
    }

    /// The result of a done future, as [`result`](Self::result) gives it.
    pub(super) fn done_result(&self) -> Result<T, FutureError>
    where
        T: Clone,
    {
        self.with_outcome(|outcome| match outcome {
            None => Err(FutureError::Cancelled),
            Some(Outcome::Value(value)) => Ok(value.clone()),
            Some(Outcome::Failed(error)) => Err(FutureError::Failed(error.clone())),
            Some(Outcome::Broken(why)) => Err(FutureError::BrokenExecutor(why.clone())),
        })
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
        self.done_result()
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
            .shared()
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
        cell::acquire(self.header());
        // SAFETY: the reference just added is the new handle's.
        unsafe { Self::from_cell(self.shared) }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference and is gone after this.
        unsafe { cell::release(self.shared.cast()) };
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shared == other.shared
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
