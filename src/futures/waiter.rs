//! Who a finishing future wakes: a blocked thread ([`Waiter`]) or an awaiting task
//! ([`WakerSlot`]).
//!
//! A blocked call (`result`, `exception`, `wait`, `as_completed`) registers one [`Waiter`] on
//! every future it watches. A future that finishes fires it: sets its flag and unparks its
//! thread, outside any lock, so the woken thread runs at once. The call first spins a little
//! (the event count's bounded, adaptive spin), since parking and unparking cost microseconds
//! here. A call that gives up (its deadline passed, or it is done) withdraws its waiter, and
//! the futures unlink it (see `watchers.rs`).
//!
//! A registration carries the waiter's *generation*; withdrawing moves the generation on, which
//! withdraws every registration of the call at once and lets the waiter serve the thread's
//! next call: `result` and `exception` reuse one spare waiter per thread ([`with_spare`]),
//! so that a blocking read allocates nothing but its list node. A registration of an older
//! generation is not fired; one fired just as its call withdrew sets the flag for nothing,
//! and every wait re-checks its condition after a wake-up.
//!
//! # Why no wake-up is lost
//! A registration and the finish are CASes on the same state word, so one comes first: a
//! registration before the finish is in the list the finisher takes and fires; one after it
//! fails, and the caller sees the future done. The flag is set before the unpark, and the
//! waiter re-checks it after every park, so a wake-up between its check and its park only
//! makes the park return at once.

use crate::event_count::spin;
use crate::sync::{
    park, park_timeout, thread, thread_local, Arc, AtomicBool, AtomicUsize, Mutex, Ordering,
};
use std::cell::Cell;
use std::fmt;
use std::task::Waker;
use std::time::Instant;

/// A thread blocked on one or more futures: see the [module documentation](self).
pub(super) struct Waiter {
    thread: thread::Thread,
    fired: AtomicBool,
    /// Moved on by each withdrawal; registrations of an older one are withdrawn.
    generation: AtomicUsize,
}

/// One registration of a waiter on one future.
pub(super) struct Registration {
    waiter: Arc<Waiter>,
    generation: usize,
}

impl Registration {
    pub(super) fn withdrawn(&self) -> bool {
        self.waiter.generation() != self.generation
    }

    /// Wakes the waiter, unless this registration was withdrawn.
    pub(super) fn fire(&self) {
        if !self.withdrawn() {
            self.waiter.fire();
        }
    }
}

thread_local! {
    /// The calling thread's spare waiter, for [`with_spare`].
    #[allow(
        clippy::missing_const_for_thread_local,
        reason = "the facade's loom and shuttle `thread_local!` take no `const` initializer"
    )]
    static SPARE: Cell<Option<Arc<Waiter>>> = Cell::new(None);
}

/// Runs `wait` with this thread's spare waiter (a new one if a wait further up the stack holds
/// it), then withdraws the waiter's registrations and keeps it for the next call.
pub(super) fn with_spare<R>(wait: impl FnOnce(&Arc<Waiter>) -> R) -> R {
    let waiter = SPARE
        .with(Cell::take)
        .unwrap_or_else(|| Arc::new(Waiter::for_this_thread()));
    let outcome = wait(&waiter);
    waiter.withdraw();
    SPARE.with(|spare| {
        if spare.take().is_none() {
            spare.set(Some(waiter));
        }
    });
    outcome
}

impl Waiter {
    /// A waiter for the calling thread.
    pub(super) fn for_this_thread() -> Self {
        Self {
            thread: thread::current(),
            fired: AtomicBool::new(false),
            generation: AtomicUsize::new(0),
        }
    }

    /// A registration of the current generation, for one future's list.
    pub(super) fn register(waiter: &Arc<Self>) -> Registration {
        Registration {
            waiter: Arc::clone(waiter),
            generation: waiter.generation(),
        }
    }

    fn generation(&self) -> usize {
        // Relaxed: only the waiter's thread moves it; a pruner or finisher reading a stale
        // value keeps a node a while longer or fires it for nothing, both harmless.
        self.generation.load(Ordering::Relaxed)
    }

    /// Whether the calling thread is the one this waiter wakes.
    pub(super) fn is_for_this_thread(&self) -> bool {
        thread::current().id() == self.thread.id()
    }

    /// Tells the waiting thread that a future it watches is done.
    pub(super) fn fire(&self) {
        // Release: pairs with the Acquire swap in `wait`; what the finisher did before is
        // visible to the woken thread. A swap rather than a store: loom orders a plain store
        // that no RMW of the waiter happens before ahead of that RMW, and the waiter's next
        // swap then misses it (a lost wake-up that only the model shows).
        self.fired.swap(true, Ordering::Release);
        self.thread.unpark();
    }

    /// Sleeps until fired since the last call, or until `deadline` (if any) passes; whether
    /// it was fired.
    pub(super) fn wait(&self, deadline: Option<Instant>) -> bool {
        spin(&mut || self.take_fired().then_some(())).is_some() || self.park_until(deadline)
    }

    /// [`wait`](Self::wait) without the spin, for a caller that spun already.
    pub(super) fn park_until(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.take_fired() {
                return true;
            }
            match deadline {
                None => park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    park_timeout(deadline - now);
                }
            }
        }
    }

    fn take_fired(&self) -> bool {
        // Acquire: pairs with the Release swap in `fire`.
        self.fired.swap(false, Ordering::Acquire)
    }

    /// Withdraws every registration made so far: futures may unlink them.
    pub(super) fn withdraw(&self) {
        // Relaxed: as in `generation`.
        self.generation.fetch_add(1, Ordering::Relaxed);
    }
}

/// The waker of an `async` task awaiting a future.
pub(super) struct WakerSlot {
    waker: Mutex<Option<Waker>>,
    withdrawn: AtomicBool,
}

impl WakerSlot {
    pub(super) fn new(waker: &Waker) -> Self {
        Self {
            waker: Mutex::new(Some(waker.clone())),
            withdrawn: AtomicBool::new(false),
        }
    }

    /// Replaces the waker with `waker` (the task was polled again), unless it wakes the same
    /// task already.
    pub(super) fn update(&self, waker: &Waker) {
        let mut slot = self
            .waker
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Wakes the task, outside the slot's lock.
    pub(super) fn wake(&self) {
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Marks the slot as gone (the awaiting future was dropped): futures may unlink it.
    pub(super) fn withdraw(&self) {
        // Relaxed: only lets a pruner free the node early; a wake-up after it is harmless.
        self.withdrawn.store(true, Ordering::Relaxed);
    }

    pub(super) fn withdrawn(&self) -> bool {
        // Relaxed: pairs with nothing; a stale `false` only keeps the node a while longer.
        self.withdrawn.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("thread", &self.thread.id())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WakerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakerSlot").finish_non_exhaustive()
    }
}
