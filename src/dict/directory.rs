//! The bucket directory: every bucket's dummy node, inline, in segments allocated on demand.
//!
//! Segment 0 holds buckets 0 and 1; segment `s ≥ 1` holds buckets `2^s .. 2^(s+1)`. A table that
//! doubles therefore needs one new segment — one allocation per doubling, never one per bucket
//! — allocated by whichever writer first needs one of its buckets, and nothing is ever copied:
//! no stop-the-world step. With 64 segments the directory can address every bucket index a
//! `usize` holds; the table stops doubling at [`MAX_BUCKETS`] (2^48), far beyond any memory this
//! runs on.
//!
//! A bucket is *free*, *claimed* by the one writer that links its dummy into the list, or
//! *linked*. Only a linked dummy is handed out; until then everyone starts from an ancestor's
//! (see `split_ordered.rs`), so nobody waits for the claimer.

use super::node::{dummy_key, Link};
use crate::sync::{AtomicPtr, AtomicU8, Ordering};
use std::ptr;

/// The most buckets the table grows to.
pub(super) const MAX_BUCKETS: usize = 1 << 48;

const SEGMENTS: usize = usize::BITS as usize;

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const LINKED: u8 = 2;

struct Bucket {
    dummy: Link,
    state: AtomicU8,
}

pub(super) struct Directory {
    segments: [AtomicPtr<Bucket>; SEGMENTS],
}

/// Which segment holds `bucket`, and where in it.
fn locate(bucket: usize) -> (usize, usize) {
    if bucket < 2 {
        (0, bucket)
    } else {
        let segment = (usize::BITS - 1 - bucket.leading_zeros()) as usize;
        (segment, bucket - (1 << segment))
    }
}

/// The first bucket of `segment`.
fn first_bucket(segment: usize) -> usize {
    if segment == 0 {
        0
    } else {
        1 << segment
    }
}

fn segment_len(segment: usize) -> usize {
    if segment == 0 {
        2
    } else {
        1 << segment
    }
}

/// The parent of `bucket > 0`: the bucket with its highest bit cleared, whose dummy sorts before
/// its own.
pub(super) fn parent(bucket: usize) -> usize {
    bucket & !(1 << (usize::BITS - 1 - bucket.leading_zeros()))
}

fn new_segment(segment: usize) -> *mut Bucket {
    let first = first_bucket(segment);
    let buckets: Box<[Bucket]> = (first..first + segment_len(segment))
        .map(|bucket| Bucket {
            dummy: Link {
                so_key: dummy_key(bucket),
                next: AtomicPtr::new(ptr::null_mut()),
            },
            state: AtomicU8::new(FREE),
        })
        .collect();
    Box::into_raw(buckets).cast()
}

/// # Safety
/// `buckets` came from `new_segment(segment)` and is not used after.
unsafe fn free_segment(buckets: *mut Bucket, segment: usize) {
    // SAFETY: rebuilds exactly the boxed slice `new_segment` leaked.
    drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(buckets, segment_len(segment))) });
}

impl Directory {
    /// A directory whose bucket 0 is linked: its dummy heads the (empty) list.
    pub(super) fn new() -> Self {
        let directory = Self {
            segments: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        };
        let head = directory.bucket(0);
        // SAFETY: segment 0 was just published and lives as long as the directory.
        // Relaxed: the directory is not shared yet.
        unsafe { &*head }.state.store(LINKED, Ordering::Relaxed);
        directory
    }

    /// The bucket's cell, allocating its segment if needed.
    fn bucket(&self, bucket: usize) -> *mut Bucket {
        let (segment, index) = locate(bucket);
        let slot = &self.segments[segment];
        // Acquire: pairs with the Release of the CAS below, so the segment is initialized.
        let mut buckets = slot.load(Ordering::Acquire);
        if buckets.is_null() {
            let fresh = new_segment(segment);
            // AcqRel: Release publishes the fresh segment; Acquire on failure takes the winner's.
            match slot.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => buckets = fresh,
                Err(winner) => {
                    // SAFETY: `fresh` was never published.
                    unsafe { free_segment(fresh, segment) };
                    buckets = winner;
                }
            }
        }
        // SAFETY: a published segment has `segment_len(segment)` buckets; `index` is within.
        unsafe { buckets.add(index) }
    }

    /// The dummy of `bucket` if it is linked, else null.
    #[inline]
    pub(super) fn linked(&self, bucket: usize) -> *mut Link {
        let (segment, index) = locate(bucket);
        // Acquire: as in `bucket`.
        let buckets = self.segments[segment].load(Ordering::Acquire);
        if buckets.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: as in `bucket`; segments live as long as the directory.
        let cell = unsafe { buckets.add(index) };
        // SAFETY: as above.
        let state = unsafe { &(*cell).state };
        // Acquire: pairs with the Release store in `set_linked`, so the dummy is in the list.
        if state.load(Ordering::Acquire) == LINKED {
            // SAFETY: as above; the pointer keeps the segment's provenance.
            unsafe { &raw mut (*cell).dummy }
        } else {
            ptr::null_mut()
        }
    }

    /// Claims the free `bucket` for the caller to link: its dummy, or `None` if another writer
    /// claimed it first (or it is linked).
    pub(super) fn claim(&self, bucket: usize) -> Option<*mut Link> {
        let cell = self.bucket(bucket);
        // SAFETY: as in `linked`.
        let state = unsafe { &(*cell).state };
        // Relaxed, both: the claim publishes nothing, it only makes one writer the linker.
        state
            .compare_exchange(FREE, CLAIMED, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        // SAFETY: as in `linked`.
        Some(unsafe { &raw mut (*cell).dummy })
    }

    /// The claimed `bucket`'s dummy is in the list now: hand it out.
    pub(super) fn set_linked(&self, bucket: usize) {
        let cell = self.bucket(bucket);
        // SAFETY: as in `linked`.
        let state = unsafe { &(*cell).state };
        // Release: pairs with the Acquire load in `linked`.
        state.store(LINKED, Ordering::Release);
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        for (segment, slot) in self.segments.iter().enumerate() {
            // Relaxed: `&mut self` is exclusive.
            let buckets = slot.load(Ordering::Relaxed);
            if !buckets.is_null() {
                // SAFETY: published by `bucket` for this segment, freed once, here.
                unsafe { free_segment(buckets, segment) };
            }
        }
    }
}
