//! List nodes of the split-ordered list, their split-order keys, and the tagged pointers the
//! list uses (the deletion mark on `next`, the tombstone in `value`).

use crate::sync::{AtomicPtr, Ordering};
use std::mem::align_of;
use std::ptr;

/// Bit 0 of a `next` pointer: the node holding that `next` is deleted and may be unlinked.
const MARK: usize = 1;

/// A value on the heap. The alignment keeps bit 0 of every value pointer clear for the
/// tombstone, also for zero-sized and byte-aligned values.
#[repr(align(2))]
pub(super) struct Slot<V> {
    pub(super) value: V,
}

const _: () = assert!(align_of::<Slot<()>>() >= 2 && align_of::<AtomicPtr<()>>() >= 2);

/// A node of the list: a bucket's dummy (`key` is `None`, `value` null, even `so_key`) or an
/// entry (odd `so_key`).
pub(super) struct Node<K, V> {
    /// The split-order key: the list is sorted by it.
    pub(super) so_key: u64,
    /// The next node, with [`MARK`] set once this node is deleted. Never changes once marked.
    pub(super) next: AtomicPtr<Node<K, V>>,
    pub(super) key: Option<K>,
    /// The entry's value, or [`tombstone`] once it was removed (the removal's linearization
    /// point). Null for dummies.
    pub(super) value: AtomicPtr<Slot<V>>,
}

/// The split-order key of an entry whose key hashes to `hash`: odd, so that it sorts after its
/// bucket's dummy and before the next bucket's.
pub(super) fn entry_key(hash: u64) -> u64 {
    (hash | 1 << 63).reverse_bits()
}

/// The split-order key of bucket `bucket`'s dummy: even.
pub(super) fn dummy_key(bucket: usize) -> u64 {
    (bucket as u64).reverse_bits()
}

/// The value pointer of a removed entry.
pub(super) fn tombstone<V>() -> *mut Slot<V> {
    ptr::without_provenance_mut(1)
}

pub(super) fn is_marked<T>(ptr: *mut T) -> bool {
    ptr.addr() & MARK != 0
}

pub(super) fn marked<T>(ptr: *mut T) -> *mut T {
    ptr.map_addr(|a| a | MARK)
}

pub(super) fn unmarked<T>(ptr: *mut T) -> *mut T {
    ptr.map_addr(|a| a & !MARK)
}

impl<K, V> Node<K, V> {
    pub(super) fn dummy(bucket: usize) -> *mut Self {
        Box::into_raw(Box::new(Self {
            so_key: dummy_key(bucket),
            next: AtomicPtr::new(ptr::null_mut()),
            key: None,
            value: AtomicPtr::new(ptr::null_mut()),
        }))
    }

    pub(super) fn entry(hash: u64, key: K, value: *mut Slot<V>) -> *mut Self {
        Box::into_raw(Box::new(Self {
            so_key: entry_key(hash),
            next: AtomicPtr::new(ptr::null_mut()),
            key: Some(key),
            value: AtomicPtr::new(value),
        }))
    }

    /// Marks the node deleted (idempotent): from now on its `next` never changes.
    pub(super) fn mark(&self) {
        // Relaxed: a candidate; the CAS below decides.
        let mut next = self.next.load(Ordering::Relaxed);
        while !is_marked(next) {
            // Release: a traversal that sees the mark (Acquire) also sees the tombstone stored
            // before it. Failure Relaxed: retry with the fresh value.
            match self.next.compare_exchange_weak(
                next,
                marked(next),
                Ordering::Release, // pairs with the Acquire loads of `next` in traversals
                Ordering::Relaxed, // a failure only retries
            ) {
                Ok(_) => return,
                Err(now) => next = now,
            }
        }
    }
}

/// An entry node not linked yet, owned by the thread that made it. Dropped — a lost race, or a
/// panic in user code (`Eq`, `Clone`) before the link — it frees the node with its key and
/// value, so an unwinding insert leaks nothing.
pub(super) struct Unpublished<K, V>(*mut Node<K, V>);

impl<K, V> Unpublished<K, V> {
    pub(super) fn new(hash: u64, key: K, value: V) -> Self {
        let slot = Box::into_raw(Box::new(Slot { value }));
        Self(Node::entry(hash, key, slot))
    }

    pub(super) fn as_ptr(&self) -> *mut Node<K, V> {
        self.0
    }

    pub(super) fn key(&self) -> &K {
        // SAFETY: the node is owned until published; an entry's key is `Some`.
        unsafe { (*self.0).key.as_ref().unwrap_unchecked() }
    }

    /// The node's value slot.
    pub(super) fn slot(&self) -> *mut Slot<V> {
        // SAFETY: owned, as above. Relaxed: nobody else has seen the node.
        unsafe { &*self.0 }.value.load(Ordering::Relaxed)
    }

    /// The node was linked: the list owns it now.
    pub(super) fn published(self) {
        std::mem::forget(self);
    }

    /// The node's value slot went into another entry: frees the node and its key only.
    pub(super) fn free_without_value(self) {
        // SAFETY: owned, as above. Relaxed: as above.
        unsafe { &*self.0 }
            .value
            .store(ptr::null_mut(), Ordering::Relaxed);
    }
}

impl<K, V> Drop for Unpublished<K, V> {
    fn drop(&mut self) {
        // SAFETY: never published, so owned here; it came from `Box::into_raw` in `entry`.
        let node = unsafe { Box::from_raw(self.0) };
        // Relaxed: owned.
        let slot = node.value.load(Ordering::Relaxed);
        if !slot.is_null() {
            // SAFETY: an unpublished node's slot is its own (or null once given away).
            unsafe { free_slot(slot) };
        }
    }
}

/// Frees a value slot that never was, or no longer is, reachable.
///
/// # Safety
/// `slot` came from `Box::into_raw`, is not the tombstone or null, and nothing uses it after.
pub(super) unsafe fn free_slot<V>(slot: *mut Slot<V>) {
    // SAFETY: the caller's conditions.
    drop(unsafe { Box::from_raw(slot) });
}
