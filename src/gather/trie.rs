//! The radix tree that finds a key's leaf: interior nodes of [`FANOUT`] children over leaves of
//! [`LEAF_SLOTS`] slots, grown at the root as keys get larger (see the module documentation of
//! `crate::gather`, "Layout").

use super::slot::{backoff, Leaf, Read, LEAF_BITS, LEAF_SLOTS};
use crate::reclaim::{DropBox, Guard};
use crate::sync::{AtomicPtr, Ordering};
use crate::unwind::Teardown;
use std::marker::PhantomData;
use std::ptr;

/// Bits of a key that pick a child in an interior node.
const FANOUT_BITS: u32 = if cfg!(loom) {
    1
} else if cfg!(any(miri, shuttle)) {
    2
} else {
    8
};

/// Children per interior node.
const FANOUT: usize = 1 << FANOUT_BITS;

/// An interior node. Its children are leaves at height 1, interior nodes of height − 1 above.
/// Interior nodes are never unlinked: they live until the trie drops.
struct Interior {
    height: u32,
    children: [AtomicPtr<()>; FANOUT],
}

impl Interior {
    fn new(height: u32) -> Box<Self> {
        Box::new(Self {
            height,
            children: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        })
    }

    /// Whether the keys below this node include `key`.
    #[inline]
    fn covers(&self, key: u64) -> bool {
        key.checked_shr(LEAF_BITS + FANOUT_BITS * self.height)
            .is_none_or(|above| above == 0)
    }

    /// The child on the way to `key`.
    #[inline]
    fn child(&self, key: u64) -> &AtomicPtr<()> {
        let shift = LEAF_BITS + FANOUT_BITS * (self.height - 1);
        &self.children[(key >> shift) as usize % FANOUT]
    }
}

/// The leaves of a gatherer, found by key.
pub(super) struct Trie<T> {
    root: AtomicPtr<Interior>,
    owns: PhantomData<Box<Leaf<T>>>,
}

impl<T> Trie<T> {
    pub(super) fn new() -> Self {
        Self {
            root: AtomicPtr::new(ptr::null_mut()),
            owns: PhantomData,
        }
    }

    /// Installs `fresh` in the empty `link` (which holds `N`s under the type `L`), or frees it
    /// if another thread filled the link first; returns what the link holds now.
    fn link<L, N>(link: &AtomicPtr<L>, fresh: Box<N>) -> *mut L {
        let fresh = Box::into_raw(fresh);
        // SeqCst: publishes the node (Release; pairs with the Acquire loads of the link) and
        // is ordered before the insert's wake-up load ("Memory orderings"). Failure Acquire:
        // the winner's node is ours to use.
        match link.compare_exchange(
            ptr::null_mut(),
            fresh.cast(),
            Ordering::SeqCst,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh.cast(),
            Err(winner) => {
                // SAFETY: `fresh` came from `Box::into_raw` above and was never published.
                // Freed as the `N` it is: a `Box<L>` could free the wrong layout.
                drop(unsafe { Box::from_raw(fresh) });
                winner
            }
        }
    }

    /// The root, grown (or created) until it covers `key`.
    fn root_covering(&self, key: u64) -> &Interior {
        loop {
            // Acquire: pairs with the SeqCst CAS in `link` that installed the root.
            let root = self.root.load(Ordering::Acquire);
            if root.is_null() {
                Self::link(&self.root, Interior::new(1));
                continue;
            }
            // SAFETY: interior nodes live as long as the trie.
            let node = unsafe { &*root };
            if node.covers(key) {
                return node;
            }
            let taller = Interior::new(node.height + 1);
            // Relaxed: published by the CAS below.
            taller.children[0].store(root.cast(), Ordering::Relaxed);
            let taller = Box::into_raw(taller);
            // SeqCst: as in `link`. Failure Relaxed: the loop reloads the root.
            if self
                .root
                .compare_exchange(root, taller, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
            {
                // SAFETY: `taller` was never published. Dropping an `Interior` frees only the
                // node, not its children (the old root stays linked where it was).
                drop(unsafe { Box::from_raw(taller) });
            }
        }
    }

    /// The interior node of height 1 above `key`'s leaf, if the path exists.
    fn twig(&self, key: u64) -> Option<&Interior> {
        // Acquire: pairs with the SeqCst CAS that installed the root; also the wake-up
        // re-check ("Memory orderings"), as for every link below.
        let root = self.root.load(Ordering::Acquire);
        // SAFETY: interior nodes live as long as the trie.
        let mut node = unsafe { root.as_ref()? };
        if !node.covers(key) {
            return None;
        }
        while node.height > 1 {
            // Acquire: as above.
            let next = node.child(key).load(Ordering::Acquire).cast::<Interior>();
            // SAFETY: as above.
            node = unsafe { next.as_ref()? };
        }
        Some(node)
    }

    /// The interior node of height 1 above `key`'s leaf, created as needed.
    fn twig_or_create(&self, key: u64) -> &Interior {
        let mut node = self.root_covering(key);
        while node.height > 1 {
            let link = node.child(key);
            // Acquire: pairs with the SeqCst CAS in `link`.
            let mut next = link.load(Ordering::Acquire);
            if next.is_null() {
                next = Self::link(link, Interior::new(node.height - 1));
            }
            // SAFETY: interior nodes live as long as the trie.
            node = unsafe { &*next.cast::<Interior>() };
        }
        node
    }

    /// Stores `value` for `key`; returns the value it replaced. (If a closing leaf made it
    /// store again, a value replaced on the first try is dropped on the spot.)
    pub(super) fn insert(&self, guard: &mut impl Guard, key: u64, mut value: T) -> Option<T> {
        let link = self.twig_or_create(key).child(key);
        let mut replaced = None;
        let mut round = 0;
        loop {
            let leaf = guard.protect(0, link).cast::<Leaf<T>>();
            if leaf.is_null() {
                // The loop protects whatever the link then holds.
                Self::link(link, Leaf::<T>::new());
                continue;
            }
            // SAFETY: protected by slot 0 of the guard.
            let put = unsafe { &*leaf }.put(key, value);
            if let Some(newer) = put.replaced {
                drop(replaced.replace(newer));
            }
            match put.retry {
                None => return replaced,
                Some(again) => {
                    // The leaf is closing: wait for its sweep to reopen or unlink it.
                    value = again;
                    backoff(&mut round);
                }
            }
        }
    }

    /// The value of `key` read as `read` says, if present. A take of a leaf's last slot sweeps
    /// the leaf and, if every slot is empty, unlinks and retires it.
    pub(super) fn get(&self, guard: &mut impl Guard, key: u64, read: Read<T>) -> Option<T>
    where
        T: Send,
    {
        let link = self.twig(key)?.child(key);
        let leaf = guard.protect(0, link).cast::<Leaf<T>>();
        // SAFETY: protected by slot 0 of the guard.
        let leaf_ref = unsafe { leaf.as_ref()? };
        let value = leaf_ref.get(key, read)?;
        let last = key as usize % LEAF_SLOTS == LEAF_SLOTS - 1;
        if matches!(read, Read::Take) && last && leaf_ref.close() {
            // Relaxed: the new null publishes nothing; inserts that see the old leaf find its
            // slots closed and look again.
            link.store(ptr::null_mut(), Ordering::Relaxed);
            // SAFETY: the link was the only place that held the leaf (leaves are linked once),
            // so it is unlinked; `closing` stays set after this successful sweep, so no other
            // sweep succeeds and it is retired once; it came from `Box::into_raw`, and it holds
            // no value once the guards that reach it are gone (invariant 2).
            unsafe { guard.retire::<Leaf<T>, DropBox>(leaf) };
        }
        Some(value)
    }

    /// How many keys hold a value (a snapshot).
    pub(super) fn count(&self, guard: &mut impl Guard) -> usize {
        let mut count = 0;
        self.walk(guard, &mut |leaf| count += leaf.map_or(0, Leaf::count));
        count
    }

    /// How many interior nodes and leaves the trie holds (a snapshot).
    #[cfg(all(test, not(any(loom, shuttle))))]
    pub(super) fn footprint(&self, guard: &mut impl Guard) -> (usize, usize) {
        let (mut interiors, mut leaves) = (0, 0);
        self.walk(guard, &mut |leaf| match leaf {
            None => interiors += 1,
            Some(_) => leaves += 1,
        });
        (interiors, leaves)
    }

    /// Calls `each` with every node: `None` for an interior node, the leaf for a leaf.
    fn walk(&self, guard: &mut impl Guard, each: &mut impl FnMut(Option<&Leaf<T>>)) {
        // Acquire: pairs with the SeqCst CAS that installed the root.
        let root = self.root.load(Ordering::Acquire);
        // SAFETY: interior nodes live as long as the trie.
        if let Some(root) = unsafe { root.as_ref() } {
            Self::walk_below(root, guard, each);
        }
    }

    fn walk_below(
        node: &Interior,
        guard: &mut impl Guard,
        each: &mut impl FnMut(Option<&Leaf<T>>),
    ) {
        each(None);
        for link in &node.children {
            if node.height == 1 {
                let leaf = guard.protect(0, link).cast::<Leaf<T>>();
                // SAFETY: protected by slot 0 of the guard.
                if let Some(leaf) = unsafe { leaf.as_ref() } {
                    each(Some(leaf));
                }
            } else {
                // Acquire: pairs with the SeqCst CAS in `link`.
                let child = link.load(Ordering::Acquire).cast::<Interior>();
                // SAFETY: interior nodes live as long as the trie.
                if let Some(child) = unsafe { child.as_ref() } {
                    Self::walk_below(child, guard, each);
                }
            }
        }
    }

    /// Frees `node` and everything below it, dropping the values left.
    ///
    /// # Safety
    /// The caller owns the trie exclusively; `node` came from `Box::into_raw` and is freed once.
    unsafe fn free(node: *mut Interior, teardown: &mut Teardown) {
        // SAFETY: the caller's condition.
        let node = unsafe { Box::from_raw(node) };
        for link in &node.children {
            // Relaxed: exclusive access (the caller's condition).
            let child = link.load(Ordering::Relaxed);
            if child.is_null() {
                continue;
            }
            if node.height == 1 {
                // SAFETY: a linked leaf, owned by the trie and linked once.
                let mut leaf = unsafe { Box::from_raw(child.cast::<Leaf<T>>()) };
                leaf.drop_values(teardown);
            } else {
                // SAFETY: a linked interior node, owned by the trie and linked once.
                unsafe { Self::free(child.cast(), teardown) };
            }
        }
    }
}

impl<T> Drop for Trie<T> {
    fn drop(&mut self) {
        let mut teardown = Teardown::default();
        // Relaxed: `&mut self` is exclusive.
        let root = self.root.load(Ordering::Relaxed);
        if !root.is_null() {
            // SAFETY: exclusive, and the root is freed once.
            unsafe { Self::free(root, &mut teardown) };
        }
        teardown.finish();
    }
}
