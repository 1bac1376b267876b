//! Nodes of the split-ordered list, their split-order keys, and the deletion mark.
//!
//! Every node starts with a [`Link`]: a bucket's dummy is a bare `Link` (even `so_key`), inline
//! in the directory; an entry is an [`Entry`] (odd `so_key`), one allocation holding the link,
//! the key and the value.
//! Both are `repr(C)` with the link first, so a `*mut Link` of an entry is the entry's address,
//! and it is cast back once the odd key shows it is one.

use crate::sync::{AtomicPtr, Ordering};
use std::ptr;

/// Bit 0 of a `next` pointer: the node holding that `next` is deleted and may be unlinked.
const MARK: usize = 1;

/// What every node of the list starts with.
#[repr(C)]
pub(super) struct Link {
    /// The split-order key: the list is sorted by it. Even for dummies, odd for entries.
    pub(super) so_key: u64,
    /// The next node, with [`MARK`] set once this node is deleted. Never changes once marked.
    pub(super) next: AtomicPtr<Link>,
}

/// An entry: key and value never change; replacing a value links a new entry.
#[repr(C)]
pub(super) struct Entry<K, V> {
    pub(super) link: Link,
    pub(super) key: K,
    pub(super) value: V,
}

const _: () = assert!(std::mem::align_of::<Link>() >= 2);

/// The split-order key of an entry whose key hashes to `hash`: odd, so that it sorts after its
/// bucket's dummy and before the next bucket's.
pub(super) fn entry_key(hash: u64) -> u64 {
    (hash | 1 << 63).reverse_bits()
}

/// The split-order key of bucket `bucket`'s dummy: even.
pub(super) fn dummy_key(bucket: usize) -> u64 {
    (bucket as u64).reverse_bits()
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

impl Link {
    pub(super) fn is_entry(&self) -> bool {
        self.so_key & 1 == 1
    }
}

/// The entry `link` starts.
///
/// # Safety
/// `link` points to the link of a live [`Entry<K, V>`] (its `so_key` is odd) and was derived
/// from the pointer of the whole entry.
pub(super) unsafe fn entry<'a, K, V>(link: *mut Link) -> &'a Entry<K, V> {
    // SAFETY: the caller's conditions; `repr(C)` puts the link at the entry's address.
    unsafe { &*link.cast::<Entry<K, V>>() }
}

/// An entry not linked yet, owned by the thread that made it. Dropped — a lost race, or a
/// panic in user code (`Eq`, `Clone`) before the link — it frees the entry with its key and
/// value, so an unwinding insert leaks nothing.
pub(super) struct Unpublished<K, V>(*mut Entry<K, V>);

impl<K, V> Unpublished<K, V> {
    pub(super) fn new(hash: u64, key: K, value: V) -> Self {
        Self(Box::into_raw(Box::new(Entry {
            link: Link {
                so_key: entry_key(hash),
                next: AtomicPtr::new(ptr::null_mut()),
            },
            key,
            value,
        })))
    }

    /// The entry's link, to be linked.
    pub(super) fn as_link(&self) -> *mut Link {
        self.0.cast()
    }

    pub(super) fn key(&self) -> &K {
        // SAFETY: the entry is owned until published.
        &unsafe { &*self.0 }.key
    }

    /// Points the entry at `next`, ahead of the CAS that publishes it.
    pub(super) fn set_next(&self, next: *mut Link) {
        // SAFETY: owned, as above. Relaxed: the publishing CAS (Release) carries it.
        unsafe { &*self.0 }.link.next.store(next, Ordering::Relaxed);
    }

    /// The entry was linked: the list owns it now.
    pub(super) fn published(self) {
        std::mem::forget(self);
    }
}

impl<K, V> Drop for Unpublished<K, V> {
    fn drop(&mut self) {
        // SAFETY: never published, so owned here; it came from `Box::into_raw` in `new`.
        drop(unsafe { Box::from_raw(self.0) });
    }
}
