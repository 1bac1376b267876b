//! The bucket directory: bucket index → its dummy node, in segments allocated on demand.
//!
//! Segment 0 holds buckets 0 and 1; segment `s ≥ 1` holds buckets `2^s .. 2^(s+1)`. A table that
//! doubles therefore needs one new segment, allocated by whichever thread first touches one of
//! its buckets, and nothing is ever copied: no stop-the-world step. With 64 segments the
//! directory can address every bucket index a `usize` holds; the table stops doubling at
//! [`MAX_BUCKETS`] (2^48), far beyond any memory this runs on.

use super::node::Link;
use crate::sync::{AtomicPtr, Ordering};
use std::ptr;

/// The most buckets the table grows to.
pub(super) const MAX_BUCKETS: usize = 1 << 48;

const SEGMENTS: usize = usize::BITS as usize;

pub(super) struct Directory {
    segments: [AtomicPtr<AtomicPtr<Link>>; SEGMENTS],
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

fn segment_len(segment: usize) -> usize {
    if segment == 0 {
        2
    } else {
        1 << segment
    }
}

fn new_segment(len: usize) -> *mut AtomicPtr<Link> {
    let cells: Box<[AtomicPtr<Link>]> = (0..len).map(|_| AtomicPtr::new(ptr::null_mut())).collect();
    Box::into_raw(cells).cast()
}

/// # Safety
/// `cells` came from `new_segment(len)` and is not used after.
unsafe fn free_segment(cells: *mut AtomicPtr<Link>, len: usize) {
    // SAFETY: rebuilds exactly the boxed slice `new_segment` leaked.
    drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(cells, len)) });
}

impl Directory {
    pub(super) fn new() -> Self {
        Self {
            segments: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// The dummy of `bucket`, or null if the bucket was not initialized yet.
    pub(super) fn get(&self, bucket: usize) -> *mut Link {
        let (segment, index) = locate(bucket);
        // Acquire: pairs with the Release CAS in `set`, so the segment's cells are initialized.
        let cells = self.segments[segment].load(Ordering::Acquire);
        if cells.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a published segment has `segment_len(segment)` cells and lives as long as the
        // directory; `index` is within it.
        let cell = unsafe { &*cells.add(index) };
        // Acquire: pairs with the Release store in `set`, so the dummy's fields are visible.
        cell.load(Ordering::Acquire)
    }

    /// Records `dummy` as the dummy of `bucket`. Every caller for one bucket passes the same
    /// node (the one linked into the list), so racing stores agree.
    pub(super) fn set(&self, bucket: usize, dummy: *mut Link) {
        let (segment, index) = locate(bucket);
        let slot = &self.segments[segment];
        // Acquire: as in `get`.
        let mut cells = slot.load(Ordering::Acquire);
        if cells.is_null() {
            let fresh = new_segment(segment_len(segment));
            // Release: publishes the fresh cells; Acquire on failure: the winner's cells.
            match slot.compare_exchange(cells, fresh, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => cells = fresh,
                Err(winner) => {
                    // SAFETY: `fresh` was never published.
                    unsafe { free_segment(fresh, segment_len(segment)) };
                    cells = winner;
                }
            }
        }
        // SAFETY: as in `get`.
        let cell = unsafe { &*cells.add(index) };
        // Release: publishes the dummy (linked already); pairs with the Acquire load in `get`.
        cell.store(dummy, Ordering::Release);
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        for (segment, slot) in self.segments.iter().enumerate() {
            // Relaxed: `&mut self` is exclusive.
            let cells = slot.load(Ordering::Relaxed);
            if !cells.is_null() {
                // SAFETY: published by `set` with this length, freed once, here.
                unsafe { free_segment(cells, segment_len(segment)) };
            }
        }
    }
}
