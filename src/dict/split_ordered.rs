//! The split-ordered list (Shalev & Shavit, "Split-ordered lists: lock-free extensible hash
//! tables", JACM 2006) on a Harris–Michael lock-free sorted list (Harris, DISC 2001; Michael,
//! SPAA 2002).
//!
//! # Algorithm
//! All entries live in one sorted linked list, ordered by the bit-reversed hash (the
//! *split-order key*). Bucket `b` is a pointer to a *dummy* node with key `reverse(b)`, which
//! sorts right before the entries whose hash ends in `b`'s bits. When the table doubles, bucket
//! `b + size` splits off from bucket `b` simply by getting its own dummy inserted into the list
//! (lazily, by the first writer that needs it, after its parent `b`): no entry ever moves.
//! The dummies live inline in the directory (`directory.rs`). A bucket is linked by the one
//! writer that claims it; until its dummy is linked, readers and the other writers start from
//! the nearest ancestor bucket whose dummy is (it sorts before), so nobody waits for the
//! claimer, and a reader never writes to initialize a bucket.
//!
//! An entry is one allocation (`node.rs`) whose key and value never change. Removal marks the
//! entry's `next` (Harris's logical deletion: the linearization point) and unlinks it.
//! Replacing a value is one CAS too: it marks the old entry's `next` *and* points it at a new
//! entry carrying the new value, whose own `next` is the old successor — so the old entry is
//! deleted and its successor linked in the same instant. Any traversal that meets a marked node
//! unlinks it, whoever unlinks it retires it.
//!
//! # Invariants
//! 1. The list is sorted by `so_key`; dummies are never removed, so a dummy is a safe place to
//!    start a traversal without protection.
//! 2. An entry is present iff it is linked and unmarked; a key has at most one present entry
//!    (a replacing entry becomes reachable exactly when its predecessor is marked).
//! 3. A node's `next` is never changed once marked; a node is unlinked only after it was marked,
//!    and retired exactly once, by the thread whose CAS unlinked it.
//!
//! # Progress
//! Lock-free: every retry follows another thread's successful CAS. Every traversal,
//! iteration included, unlinks a marked node it meets rather than waiting for its remover,
//! which may be stalled between its mark and its unlink (an iteration that restarted there
//! instead met the node forever: `a_remove_stalled_between_mark_and_unlink_blocks_nobody`).
//!
//! # Reclamation
//! Through `R`. Under a reclaimer whose guard keeps everything reachable alive (epochs), a
//! lookup is a read-only traversal (`find_pinned`) that touches no slot, writes nothing and
//! passes over deleted nodes. Every other traversal uses the hazard-pointer discipline with
//! two slots: the previous
//! node and the current node, each validated by re-reading the previous node's `next` (which
//! also fails if the previous node was marked), through `Guard::protect_from`, which hands back
//! the pointer of the validating load: an address can be freed and reused between the first
//! load and the validation. A remove moves its entry's protection to the third slot, which no
//! search uses, so that it may still read the entry while it searches to unlink it.
//!
//! # Memory orderings
//! * Linking CAS on `next` (an insert, a replace, a dummy): `Release` publishes the new node;
//!   every load of `next` is `Acquire`.
//! * Marking CAS (a remove): `Relaxed`. It publishes nothing; a traversal that reads the marked
//!   pointer still synchronizes with the CAS that linked the successor, because an RMW continues
//!   the release sequence of the store it replaces.
//! * Unlinking CAS: `Release`, so that whoever loads the successor from the predecessor sees it
//!   initialized even if it never read the marked node; failures are `Relaxed` and restart
//!   from a protected load.

use super::counter::StripedCounter;
use super::directory::{parent, Directory, MAX_BUCKETS};
use super::node::{entry, entry_key, is_marked, marked, unmarked, Entry, Link, Unpublished};
use crate::reclaim::{DropBox, Guard, Reclaimer};
use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
use crate::unwind::Teardown;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

/// Average entries per bucket above which the table doubles; one under loom, so that models of
/// two or three operations already double the table and initialize buckets.
pub(super) const LOAD_FACTOR: usize = if cfg!(loom) { 1 } else { 2 };

/// Ordering of the CAS that links a new node: Release publishes it; pairs with the Acquire
/// loads of `next`. `cfg(concurrency_mutant = "link_without_release")` drops it so that the
/// loom suite can show it catches the missing edge.
const LINK: Ordering = if cfg!(concurrency_mutant = "link_without_release") {
    Ordering::Relaxed // the mutant: no Release
} else {
    Ordering::Release // pairs with the Acquire loads of `next`
};

/// Ordering of the CAS that replaces an entry (marks it and links its successor): Release
/// publishes the new entry; pairs with the Acquire loads of `next`.
/// `cfg(concurrency_mutant = "replace_without_release")` drops it, for loom to catch.
const REPLACE: Ordering = if cfg!(concurrency_mutant = "replace_without_release") {
    Ordering::Relaxed // the mutant: no Release
} else {
    Ordering::Release // pairs with the Acquire loads of `next`
};

/// Guard slots (see "Reclamation").
const PREV: usize = 0;
const CUR: usize = 1;
const KEPT: usize = 2;

/// Where a search ended: `cur` is the first node not before the target (null at the end), and
/// `prev` the node whose `next` held it. Both protected; `found` says whether `cur` is the
/// target.
struct Position {
    prev: *mut Link,
    cur: *mut Link,
    found: bool,
}

pub(super) struct SplitOrdered<K, V, S, R: Reclaimer> {
    directory: Directory,
    /// The bucket count, a power of two.
    size: AtomicUsize,
    count: StripedCounter,
    hasher: S,
    pub(super) reclaimer: R,
    owns: PhantomData<Box<Entry<K, V>>>,
}

// SAFETY: entries move between threads (`K, V: Send`) and are read through `&` from several
// (`K, V: Sync`); the raw pointers are managed by the list protocol and the reclaimer.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send, R: Reclaimer> Send
    for SplitOrdered<K, V, S, R>
{
}
// SAFETY: as above; the hasher is only read (`S: Sync`).
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync, R: Reclaimer> Sync
    for SplitOrdered<K, V, S, R>
{
}

impl<K, V, S, R> SplitOrdered<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaimer,
{
    /// A table with `buckets` buckets (a power of two) and `stripes` counter cells.
    pub(super) fn new(buckets: usize, stripes: usize, hasher: S) -> Self {
        Self {
            directory: Directory::new(),
            size: AtomicUsize::new(buckets.next_power_of_two().min(MAX_BUCKETS)),
            count: StripedCounter::new(stripes),
            hasher,
            reclaimer: R::default(),
            owns: PhantomData,
        }
    }

    pub(super) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(super) fn len(&self) -> usize {
        self.count.sum()
    }

    /// Where a reader starts looking for `hash`: the dummy of its bucket, or of the nearest
    /// ancestor bucket whose dummy is linked (every ancestor's dummy sorts before it). Readers
    /// never initialize a bucket.
    fn start_for_read(&self, hash: u64) -> *mut Link {
        // Relaxed: a stale size only means starting from a coarser bucket, which is correct.
        let size = self.size.load(Ordering::Relaxed);
        self.linked_or_ancestor(hash as usize & (size - 1))
    }

    fn linked_or_ancestor(&self, mut bucket: usize) -> *mut Link {
        loop {
            let dummy = self.directory.linked(bucket);
            if !dummy.is_null() {
                return dummy;
            }
            // Bucket 0 is always linked, so this ends.
            bucket = parent(bucket);
        }
    }

    /// Where a writer starts for `hash`: as a reader, after linking the bucket's dummy (and its
    /// ancestors') if nobody has yet.
    fn start_for_write(&self, guard: &mut R::Guard<'_>, hash: u64) -> *mut Link {
        // Relaxed: as in `start_for_read`.
        let size = self.size.load(Ordering::Relaxed);
        self.bucket(guard, hash as usize & (size - 1))
    }

    #[inline]
    fn bucket(&self, guard: &mut R::Guard<'_>, bucket: usize) -> *mut Link {
        let dummy = self.directory.linked(bucket);
        if !dummy.is_null() {
            return dummy;
        }
        self.initialize(guard, bucket)
    }

    /// Links the dummy of `bucket` after its parent's, if this thread wins the bucket's claim;
    /// if another writer holds it, starts from the parent meanwhile, without waiting. Out of
    /// line: once per bucket.
    #[cold]
    #[inline(never)]
    fn initialize(&self, guard: &mut R::Guard<'_>, bucket: usize) -> *mut Link {
        let start = self.bucket(guard, parent(bucket));
        let Some(dummy) = self.directory.claim(bucket) else {
            return start;
        };
        // SAFETY: the directory's dummies live as long as the table.
        let so_key = unsafe { (*dummy).so_key };
        loop {
            let at = self.find(guard, start, so_key, None::<&K>);
            debug_assert!(!at.found, "a dummy is linked only by its claimer");
            if self.link(&at, dummy) {
                break;
            }
        }
        self.directory.set_linked(bucket);
        dummy
    }

    /// Links the unpublished `node` between `at.prev` and `at.cur`; false if they changed.
    fn link(&self, at: &Position, node: *mut Link) -> bool {
        // SAFETY: `node` is unpublished, so this thread has it to itself. Relaxed: the linking
        // CAS below publishes it.
        unsafe { (*node).next.store(at.cur, Ordering::Relaxed) };
        // SAFETY: `at.prev` is protected (or a dummy, never freed).
        let prev = unsafe { &*at.prev };
        // Failure Relaxed: the caller searches again.
        prev.next
            .compare_exchange(at.cur, node, LINK, Ordering::Relaxed)
            .is_ok()
    }

    /// Protects `cur`, just loaded from `prev.next`, in the CUR slot: the validated pointer, or
    /// `None` if `cur` is a deletion mark or `prev.next` moved on meanwhile (`prev` was marked
    /// or its successor changed), and the traversal must start over.
    fn protect_cur(guard: &mut R::Guard<'_>, prev: *mut Link, cur: *mut Link) -> Option<*mut Link> {
        if is_marked(cur) {
            return None;
        }
        // SAFETY: `prev` is protected, or a dummy, never freed while the table lives
        // (invariant 1); a marked `prev.next` never equals the unmarked `cur`.
        let prev_next = &unsafe { &*prev }.next;
        guard.protect_from(CUR, cur, prev_next).ok()
    }

    /// Unlinks the marked `cur` (protected, found at `prev_next`, its `next` marked
    /// `marked_next`) and retires it: the node after it, or `None` if `prev_next` moved on
    /// meanwhile — another thread changed the list, and the traversal must start over.
    fn unlink(
        guard: &mut R::Guard<'_>,
        prev_next: &AtomicPtr<Link>,
        cur: *mut Link,
        marked_next: *mut Link,
    ) -> Option<*mut Link> {
        let next = unmarked(marked_next);
        // Release: see "Memory orderings". Failure Relaxed: start over.
        prev_next
            .compare_exchange(
                cur,
                next,
                Ordering::Release, // pairs with the Acquire loads of `next`
                Ordering::Relaxed, // a failure restarts from a protected load
            )
            .ok()?;
        // SAFETY: this thread's CAS unlinked the marked `cur` (invariant 3); only entries are
        // ever marked, and an entry is one box.
        unsafe { guard.retire::<Entry<K, V>, DropBox>(cur.cast()) };
        Some(next)
    }

    /// Searches from the dummy `start` for `so_key` and, for an entry, `key` (`None` finds only
    /// a dummy, and passes every entry of `so_key` without comparing keys), unlinking and
    /// retiring deleted nodes on the way.
    fn find<Q>(
        &self,
        guard: &mut R::Guard<'_>,
        start: *mut Link,
        so_key: u64,
        key: Option<&Q>,
    ) -> Position
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        'restart: loop {
            let mut prev = start;
            // SAFETY: dummies are never freed while the table lives (invariant 1).
            // Acquire: pairs with the linking CAS.
            let mut cur = unsafe { &*prev }.next.load(Ordering::Acquire);
            loop {
                if cur.is_null() {
                    return Position {
                        prev,
                        cur,
                        found: false,
                    };
                }
                let Some(protected) = Self::protect_cur(guard, prev, cur) else {
                    continue 'restart;
                };
                cur = protected;
                // SAFETY: `cur` is protected and validated.
                let node = unsafe { &*cur };
                // SAFETY: as above for `prev`.
                let prev_next = &unsafe { &*prev }.next;
                // Acquire: as above.
                let next = node.next.load(Ordering::Acquire);
                if is_marked(next) {
                    match Self::unlink(guard, prev_next, cur, next) {
                        Some(after) => {
                            cur = after;
                            continue;
                        }
                        None => continue 'restart,
                    }
                }
                if node.so_key > so_key {
                    return Position {
                        prev,
                        cur,
                        found: false,
                    };
                }
                if node.so_key == so_key {
                    let matches = match key {
                        // SAFETY: an odd key is an entry's; protected, as above.
                        Some(wanted) => {
                            node.is_entry() && unsafe { entry::<K, V>(cur) }.key.borrow() == wanted
                        }
                        None => !node.is_entry(),
                    };
                    if matches {
                        return Position {
                            prev,
                            cur,
                            found: true,
                        };
                    }
                }
                // Move on: `cur` becomes `prev`, its protection moving to the PREV slot.
                guard.swap_slots(PREV, CUR);
                prev = cur;
                cur = next;
            }
        }
    }

    /// Finds the present entry for `key` (which hashes to `hash`), protected in the CUR slot.
    fn find_entry<Q>(&self, guard: &mut R::Guard<'_>, hash: u64, key: &Q) -> Option<Position>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let start = self.start_for_read(hash);
        let at = self.find(guard, start, entry_key(hash), Some(key));
        at.found.then_some(at)
    }

    /// The entry for `key` by a read-only traversal, for a reclaimer whose guard keeps every
    /// reachable node alive (`R::GUARD_PINS_ALL`, epochs): it protects nothing, writes nothing
    /// and passes over deleted nodes instead of unlinking them, as the wait-free `contains` of
    /// the lock-free list does (Herlihy & Shavit, "The Art of Multiprocessor Programming",
    /// §9.8). Sound because a deleted node's frozen `next` leads on in sorted order, and every
    /// node reached from the table under the pin was not retired before the pin began (a node
    /// is retired only after it was unlinked, and nothing reachable points to it then). The
    /// entry returned was present when its `next` was read unmarked, the linearization point.
    fn find_pinned<Q>(&self, start: *mut Link, so_key: u64, key: &Q) -> Option<*mut Link>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        // SAFETY: dummies live as long as the table. Acquire: pairs with the linking CAS.
        let mut cur = unsafe { &*start }.next.load(Ordering::Acquire);
        while !cur.is_null() {
            // SAFETY: reached from the table under a guard that keeps it alive (see above).
            let node = unsafe { &*cur };
            if node.so_key > so_key {
                return None;
            }
            // Acquire: as above.
            let next = node.next.load(Ordering::Acquire);
            // SAFETY: an odd key is an entry's; alive, as above.
            if node.so_key == so_key
                && !is_marked(next)
                && node.is_entry()
                && unsafe { entry::<K, V>(cur) }.key.borrow() == key
            {
                return Some(cur);
            }
            cur = unmarked(next);
        }
        None
    }

    /// Calls `f` on the value of `key`, if present.
    pub(super) fn get_with<Q, T>(
        &self,
        guard: &mut R::Guard<'_>,
        key: &Q,
        f: impl FnOnce(&V) -> T,
    ) -> Option<T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let found = if R::GUARD_PINS_ALL {
            let start = self.start_for_read(hash);
            self.find_pinned(start, entry_key(hash), key)?
        } else {
            self.find_entry(guard, hash, key)?.cur
        };
        // SAFETY: a found node is an entry, kept alive by the pin or protected in the CUR slot.
        Some(f(&unsafe { entry::<K, V>(found) }.value))
    }

    /// Inserts or replaces; returns the previous value.
    pub(super) fn insert(&self, guard: &mut R::Guard<'_>, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        let hash = self.hash(&key);
        let so_key = entry_key(hash);
        let node = Unpublished::new(hash, key, value);
        loop {
            let start = self.start_for_write(guard, hash);
            let at = self.find(guard, start, so_key, Some(node.key()));
            if !at.found {
                if self.link(&at, node.as_link()) {
                    node.published();
                    self.count_insert();
                    return None;
                }
                continue;
            }
            // SAFETY: a found node is an entry, protected in the CUR slot.
            let old = unsafe { entry::<K, V>(at.cur) };
            // Acquire: pairs with the CAS that linked the successor, which the new entry
            // passes on to its readers through the Release below.
            let succ = old.link.next.load(Ordering::Acquire);
            if is_marked(succ) {
                continue; // removed or replaced meanwhile: search again
            }
            node.set_next(succ);
            // The replacing CAS: marks `old` and links the new entry after it. REPLACE: Release
            // publishes the new entry (see "Memory orderings"). Failure Relaxed: search again.
            if old
                .link
                .next
                .compare_exchange(succ, marked(node.as_link()), REPLACE, Ordering::Relaxed)
                .is_ok()
            {
                let replacement = node.as_link();
                node.published();
                // SAFETY: `at.prev` is protected, or a dummy.
                let prev_next = &unsafe { &*at.prev }.next;
                // Unlinking now saves the next reader the step; if it fails, a traversal did.
                let _ = Self::unlink(guard, prev_next, at.cur, marked(replacement));
                // SAFETY: `old` stays protected in the CUR slot: retired or not, it lives.
                return Some(old.value.clone());
            }
        }
    }

    /// Removes `key`; returns its value. Of concurrent removes of a key, exactly one gets it.
    pub(super) fn remove<Q>(&self, guard: &mut R::Guard<'_>, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hash(key);
        loop {
            let at = self.find_entry(guard, hash, key)?;
            // SAFETY: a found node is an entry, protected in the CUR slot.
            let removed = unsafe { entry::<K, V>(at.cur) };
            // Acquire: the successor is stored into the predecessor by the unlink below, whose
            // readers must see it initialized.
            let succ = removed.link.next.load(Ordering::Acquire);
            if is_marked(succ) {
                continue; // removed or replaced meanwhile: look again
            }
            // The marking CAS, the removal's linearization point. Relaxed, both: see "Memory
            // orderings"; a failure looks again.
            if removed
                .link
                .next
                .compare_exchange(succ, marked(succ), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            crate::sync::stall_point("dict::remove::marked");
            self.count.remove();
            // Keep the entry protected in a slot no search uses (review defect 1: a bucket
            // initialization on the way to the unlink reused the CUR slot, and a read of the
            // entry after it was a use-after-free).
            guard.swap_slots(CUR, KEPT);
            // SAFETY: `at.prev` is protected in the PREV slot, or a dummy.
            let prev_next = &unsafe { &*at.prev }.next;
            if Self::unlink(guard, prev_next, at.cur, marked(succ)).is_none() {
                // Lost its place: a search from the bucket unlinks it, running no user code.
                let start = self.start_for_read(hash);
                self.find(guard, start, entry_key(hash), None::<&Q>);
            }
            return Some(removed.value.clone());
        }
    }

    /// Returns the present value of `key`, or inserts `make()`'s. `make` runs only if the key
    /// looked absent, at most once; a racing loser's value is dropped.
    pub(super) fn get_or_insert_with(
        &self,
        guard: &mut R::Guard<'_>,
        key: K,
        make: impl FnOnce() -> V,
    ) -> V
    where
        V: Clone,
    {
        let hash = self.hash(&key);
        let so_key = entry_key(hash);
        let mut key = Some(key);
        let mut make = Some(make);
        // Once made: our unpublished entry, and a clone of its value to return if it wins.
        let mut made: Option<(Unpublished<K, V>, V)> = None;
        loop {
            let start = self.start_for_write(guard, hash);
            let wanted = match (&key, &made) {
                (Some(key), _) => key,
                (None, Some((node, _))) => node.key(),
                (None, None) => unreachable!("the key is in `key` or in the made entry"),
            };
            let at = self.find(guard, start, so_key, Some(wanted));
            if at.found {
                // The loser's entry and value go with `made`.
                // SAFETY: a found node is an entry, protected in the CUR slot.
                return unsafe { entry::<K, V>(at.cur) }.value.clone();
            }
            let (node, _) = made.get_or_insert_with(|| {
                let value = (make.take().expect("made once"))();
                let returned = value.clone();
                let node = Unpublished::new(hash, key.take().expect("moved once"), value);
                (node, returned)
            });
            if self.link(&at, node.as_link()) {
                let (node, returned) = made.expect("made above");
                node.published();
                self.count_insert();
                return returned;
            }
        }
    }

    /// Counts one more entry and doubles the table if it is loaded beyond the load factor.
    ///
    /// Summing the stripes costs a pass over all of them, so a thread sums only when the
    /// additions its stripe counted reach a multiple of `size · LOAD_FACTOR / (8 · stripes)`
    /// (rounded down to a power of two; every time while that is below two). One thread
    /// overshoots the load factor by at most an eighth before it doubles; `stripes` threads
    /// inserting at once, by at most twice.
    fn count_insert(&self) {
        let added = self.count.add();
        // Relaxed: a heuristic; a lost race only postpones a doubling.
        let size = self.size.load(Ordering::Relaxed);
        if size >= MAX_BUCKETS {
            return;
        }
        let limit = size * LOAD_FACTOR;
        let every = (limit / (8 * self.count.stripes())).max(1);
        let every = 1 << (usize::BITS - 1 - every.leading_zeros());
        if added & (every - 1) != 0 || self.count.sum() <= limit {
            return;
        }
        // Relaxed, both: buckets are initialized lazily and correctly at any size, so the
        // size publishes nothing.
        let _ = self
            .size
            .compare_exchange(size, size * 2, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Calls `f` on every present entry, in list order: an entry present for the whole call
    /// is visited exactly once; one inserted or removed meanwhile may or may not be.
    ///
    /// A traversal that loses its place (its node was deleted under it) resumes from the
    /// bucket of the last entry visited, skipping what it already saw: entries before it in
    /// split order, and the keys visited at its split-order key (hash collisions share one,
    /// and so does an entry with the entry that replaced it).
    pub(super) fn for_each(&self, guard: &mut R::Guard<'_>, mut f: impl FnMut(&K, &V))
    where
        K: Clone,
    {
        let mut resume_at: Option<u64> = None;
        let mut seen_at_resume: Vec<K> = Vec::new();
        'restart: loop {
            let start = match resume_at {
                None => self.linked_or_ancestor(0),
                Some(so_key) => {
                    // Relaxed: any size gives a bucket whose dummy sorts before `so_key`.
                    let size = self.size.load(Ordering::Relaxed);
                    self.linked_or_ancestor(so_key.reverse_bits() as usize & (size - 1))
                }
            };
            let mut prev = start;
            // SAFETY: dummies are never freed while the table lives. Acquire: pairs with the
            // linking CAS.
            let mut cur = unsafe { &*prev }.next.load(Ordering::Acquire);
            while !cur.is_null() {
                let Some(protected) = Self::protect_cur(guard, prev, cur) else {
                    continue 'restart;
                };
                cur = protected;
                // SAFETY: protected and validated.
                let node = unsafe { &*cur };
                // Acquire: as above.
                let next = node.next.load(Ordering::Acquire);
                if is_marked(next) {
                    // A removal whose thread may be stalled between its mark and its unlink:
                    // unlink the node for it, or this traversal would meet it forever. The
                    // mutant `iterate_restarting_at_marks` restarts instead, for the
                    // stall-aware test to catch the livelock.
                    if cfg!(concurrency_mutant = "iterate_restarting_at_marks") {
                        continue 'restart;
                    }
                    // SAFETY: `prev` is protected, or a dummy.
                    let prev_next = &unsafe { &*prev }.next;
                    match Self::unlink(guard, prev_next, cur, next) {
                        Some(after) => {
                            cur = after;
                            continue;
                        }
                        None => continue 'restart,
                    }
                }
                if node.is_entry() && resume_at.is_none_or(|at| node.so_key >= at) {
                    // SAFETY: an entry, protected and validated.
                    let entry = unsafe { entry::<K, V>(cur) };
                    if resume_at != Some(node.so_key) {
                        resume_at = Some(node.so_key);
                        seen_at_resume.clear();
                    }
                    if !seen_at_resume.contains(&entry.key) {
                        f(&entry.key, &entry.value);
                        seen_at_resume.push(entry.key.clone());
                    }
                }
                guard.swap_slots(PREV, CUR);
                prev = cur;
                cur = next;
            }
            return;
        }
    }
}

impl<K, V, S, R: Reclaimer> Drop for SplitOrdered<K, V, S, R> {
    /// Frees every linked entry (the dummies go with the directory); a panicking key or value
    /// destructor does not stop the others, and the first panic resumes at the end.
    fn drop(&mut self) {
        let mut teardown = Teardown::default();
        let mut cur = self.directory.linked(0);
        while !cur.is_null() {
            // SAFETY: `&mut self` is exclusive: every linked node is owned here (retired ones
            // are not linked and belong to the reclaimer).
            let node = unsafe { &*cur };
            // Relaxed: exclusive access.
            let next = unmarked(node.next.load(Ordering::Relaxed));
            if node.is_entry() {
                // SAFETY: a linked entry, allocated by `Unpublished::new` as one box, freed
                // once, here.
                teardown.run(|| drop(unsafe { Box::from_raw(cur.cast::<Entry<K, V>>()) }));
            }
            cur = next;
        }
        teardown.finish();
    }
}
