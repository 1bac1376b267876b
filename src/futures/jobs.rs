//! `Jobs`: where a thread pool's queued tasks wait — one shared queue, and a deque per worker
//! for the tasks its own tasks submit — and where idle workers sleep.
//!
//! # Design
//! A submission from outside the pool goes to the shared [`ConcurrentQueue`] (segmented mode).
//! A submission from a worker's task goes to that worker's [`WorkerDeque`] first, where it
//! runs next on the same thread (newest first, its data still in cache) unless an idle worker
//! steals it; a full deque sends it to the shared queue. A worker looks for work in its own
//! deque, then the shared queue, then the other deques. One that found nothing at its first
//! look *searches* (`crate::event_count`, searching): counted as searching, it spins, then
//! yields, announces itself on the pool's [`EventCount`], re-checks, and parks. A push wakes a
//! sleeper only when no worker is searching — one load of the searching count while one is,
//! two when nobody sleeps — and then claims exactly one, which searches again once it runs. A
//! searcher that finds a job while it is the last one searching looks whether anybody sleeps
//! and more are queued and, if so, wakes the next sleeper: so a worker spinning idle is not
//! joined by a sleeper woken for the job it takes, and sleepers still come up for the rest.
//!
//! The shared queue decides what is accepted (see `executor.rs`): a local push is accepted only
//! while it is not shut down, and its owner is alive until its deque is empty, since a worker
//! looks at its own deque first and exits only when that and the drained shared queue are
//! empty. Deques exist for the first [`DEQUES`] workers; the others use the shared queue only.
//!
//! # Why no wake-up is lost
//! The event count's argument, searching included (`event_count.rs`, `event_count/search.rs`).
//! A push to the shared queue is a `SeqCst` RMW (the segmented queue's ticket), and the
//! re-check and the hand-over's look ([`Jobs::has_jobs`]) read it with `SeqCst` loads, so its
//! notify is the fence-free `notify_one_unless_searching_after_seqcst`. A local push ends with
//! a plain store of the deque's `bottom`, so its notify issues the fence
//! (`notify_one_unless_searching`). A shutdown wakes every sleeper.
//!
//! # Progress
//! Pushes are lock-free (wait-free for a local one) and never block; a worker with nothing to
//! do sleeps by design.

use super::cell::Job;
use super::deque::{Steal, WorkerDeque};
use crate::event_count::EventCount;
use crate::queue::{ConcurrentQueue, PopError, QueueMode};
use crate::sync::{AtomicPtr, Ordering};
use std::fmt;
use std::ptr;

/// The shared queue's reclaimer: shuttle cannot see inside crossbeam-epoch, so shuttle runs use
/// the model-only `Quarantine`, which checks every protection.
#[cfg(not(shuttle))]
type JobReclaimer = crate::reclaim::DefaultReclaimer;
#[cfg(shuttle)]
type JobReclaimer = crate::reclaim::Quarantine;

/// Workers with a deque of their own: the first this many started.
pub(super) const DEQUES: usize = 64;

/// What a worker does next.
pub(super) enum Next {
    Run(Job),
    /// The pool is shut down and nothing is left for this worker.
    Exit,
}

/// A pool's queued tasks and sleeping workers: see the [module documentation](self).
pub(super) struct Jobs {
    shared: ConcurrentQueue<Job, JobReclaimer>,
    /// Worker `i`'s deque, once it started; null before.
    deques: Box<[AtomicPtr<WorkerDeque>]>,
    sleepers: EventCount,
}

impl Jobs {
    /// Room for the deques of up to `max_workers` workers (at most [`DEQUES`]).
    pub(super) fn new(max_workers: usize) -> Self {
        Self {
            shared: ConcurrentQueue::with_mode_and_reclaimer(QueueMode::Segmented),
            deques: (0..max_workers.min(DEQUES))
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            sleepers: EventCount::default(),
        }
    }

    /// Gives worker `index` its deque, before it starts, unless an earlier attempt to start
    /// it (whose thread could not be spawned) did. Under the pool's gate.
    pub(super) fn add_deque(&self, index: usize) {
        // Relaxed: only written under the gate, which the caller holds.
        let unset = |slot: &&AtomicPtr<WorkerDeque>| slot.load(Ordering::Relaxed).is_null();
        if let Some(slot) = self.deques.get(index).filter(unset) {
            // Release: pairs with the Acquire load in `deque`; the deque is built before it is
            // seen.
            slot.store(
                Box::into_raw(Box::new(WorkerDeque::new())),
                Ordering::Release,
            );
        }
    }

    fn deque(&self, index: usize) -> Option<&WorkerDeque> {
        // Acquire: pairs with the Release store in `add_deque`.
        let deque = self.deques.get(index)?.load(Ordering::Acquire);
        // SAFETY: a stored deque lives as long as `self` (freed in `drop`).
        unsafe { deque.as_ref() }
    }

    /// Queues `job` on the shared queue; gives it back if that is shut down.
    pub(super) fn push_shared(&self, job: Job) -> Result<(), Job> {
        self.shared.push(job).map_err(|refused| refused.0)?;
        self.sleepers.notify_one_unless_searching_after_seqcst();
        Ok(())
    }

    /// Queues `job`, submitted by worker `index`'s task, on that worker's deque, or on the
    /// shared queue when it has none or it is full; gives it back if the pool is shut down.
    pub(super) fn push_local(&self, index: usize, job: Job) -> Result<(), Job> {
        if self.shared.is_shutdown() {
            return Err(job);
        }
        let Some(deque) = self.deque(index) else {
            return self.push_shared(job);
        };
        match deque.push(job) {
            Ok(()) => {
                self.sleepers.notify_one_unless_searching();
                Ok(())
            }
            Err(job) => self.push_shared(job),
        }
    }

    /// The next job for worker `index`, searching, then sleeping, while there is none.
    pub(super) fn next(&self, index: usize) -> Next {
        let own = self.deque(index);
        self.sleepers.search_holding(
            || self.shared.hold_guard(),
            || self.find(index, own),
            || self.has_jobs(),
        )
    }

    /// A job for worker `index`: its own newest, the shared queue's oldest, another deque's
    /// oldest; `Exit` once the pool is shut down and nothing is left that this worker must run.
    fn find(&self, index: usize, own: Option<&WorkerDeque>) -> Option<Next> {
        // An empty deque is skipped on a relaxed look, saving `take`'s fence: the sleeper's
        // re-check and the searcher's hand-over still see a local push, since the push's notify,
        // the announcement and the hand-over each issue a `SeqCst` fence (the event count's
        // fenced pattern).
        if let Some(job) = own
            .filter(|own| !own.is_empty())
            .and_then(WorkerDeque::take)
        {
            return Some(Next::Run(job));
        }
        let shut_down = match self.shared.try_pop() {
            Ok(job) => return Some(Next::Run(job)),
            Err(PopError::Empty) => false,
            Err(PopError::ShutDown) => true,
        };
        if let Some(job) = self.steal(index) {
            return Some(Next::Run(job));
        }
        shut_down.then_some(Next::Exit)
    }

    /// A job stolen from a deque other than `index`'s, looking at the next worker's first.
    fn steal(&self, index: usize) -> Option<Job> {
        let count = self.deques.len();
        (1..count)
            .filter_map(|offset| self.deque((index + offset) % count))
            .filter(|deque| !deque.is_empty())
            .find_map(steal_from)
    }

    /// Shuts the shared queue down (see [`ConcurrentQueue::shutdown`]) and wakes every sleeping
    /// worker, to drain what is left (graceful) or to exit (immediate).
    pub(super) fn shutdown(&self, immediate: bool) {
        self.shared.shutdown(immediate);
        self.sleepers.notify_all();
    }

    /// Takes every queued job out, shared and local.
    pub(super) fn take_remaining(&self) -> Vec<Job> {
        let mut jobs = self.shared.take_remaining();
        for index in 0..self.deques.len() {
            if let Some(deque) = self.deque(index) {
                jobs.extend(std::iter::from_fn(|| steal_from(deque)));
            }
        }
        jobs
    }

    pub(super) fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }

    /// Whether nothing is queued for worker `index` (a hint).
    pub(super) fn looks_empty_for(&self, index: usize) -> bool {
        self.shared.is_empty() && self.deque(index).is_none_or(WorkerDeque::is_empty)
    }

    /// Whether a worker could find a job now (for a searcher's hand-over, say): the shared queue's
    /// emptiness test as its pops make it, then the deques (their `bottom`, ordered by the
    /// fence the hand-over and the local push's notify issue).
    pub(super) fn has_jobs(&self) -> bool {
        self.shared.has_values()
            || (0..self.deques.len())
                .filter_map(|index| self.deque(index))
                .any(|deque| !deque.is_empty())
    }

    /// How many jobs are queued (a snapshot, for `Debug`).
    pub(super) fn len(&self) -> usize {
        let local: usize = (0..self.deques.len())
            .filter_map(|index| self.deque(index))
            .map(WorkerDeque::len)
            .sum();
        self.shared.len() + local
    }
}

/// Steals a job from `deque`, retrying while it loses races; `None` once it is empty.
fn steal_from(deque: &WorkerDeque) -> Option<Job> {
    loop {
        match deque.steal() {
            Steal::Taken(job) => return Some(job),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for slot in &*self.deques {
            // Relaxed: `&mut self` is exclusive; the workers that used the deques are gone.
            let deque = slot.load(Ordering::Relaxed);
            if !deque.is_null() {
                // SAFETY: boxed by `add_deque`, and nobody else refers to it any more.
                drop(unsafe { Box::from_raw(deque) });
            }
        }
    }
}

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jobs")
            .field("queued", &self.len())
            .field("shut_down", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}
