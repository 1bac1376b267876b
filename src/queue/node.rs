//! The list node both queue algorithms link, and the mark that closes a list.

use crate::sync::{AtomicPtr, Ordering, UnsafeCell};
use crate::unwind::Teardown;
use std::mem::{align_of, MaybeUninit};
use std::ptr;

/// One list cell. The first node of a list is a sentinel whose value is uninitialized (or
/// already taken); every node after it holds a value until a pop takes it.
pub(super) struct Node<T> {
    /// The next node, null at the end, or [`closed`] at the end of a shut-down list.
    pub(super) next: AtomicPtr<Node<T>>,
    /// Position in the list: the predecessor's index + 1 (the first sentinel has 0). Written
    /// before the node is linked and never again.
    pub(super) index: u64,
    pub(super) value: UnsafeCell<MaybeUninit<T>>,
}

// The closed mark is the address 1, which no node can have.
const _: () = assert!(align_of::<AtomicPtr<()>>() > 1);

/// The `next` of the last node of a shut-down list: nothing may be linked after it.
pub(super) fn closed<T>() -> *mut Node<T> {
    ptr::without_provenance_mut(1)
}

impl<T> Node<T> {
    /// A sentinel: no value.
    pub(super) fn sentinel() -> *mut Self {
        Box::into_raw(Box::new(Self {
            next: AtomicPtr::new(ptr::null_mut()),
            index: 0,
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }))
    }

    /// A node holding `value`, not linked yet.
    pub(super) fn holding(value: T) -> *mut Self {
        Box::into_raw(Box::new(Self {
            next: AtomicPtr::new(ptr::null_mut()),
            index: 0,
            value: UnsafeCell::new(MaybeUninit::new(value)),
        }))
    }

    /// Moves the value out.
    ///
    /// # Safety
    /// 1. The value is initialized and not taken yet.
    /// 2. The caller is the only thread that may take it (it won the race for this node), and
    ///    the node's initialization happened-before this call.
    pub(super) unsafe fn take_value(&self) -> T {
        // SAFETY: by (1) the value is initialized, by (2) nobody else reads or takes it.
        self.value
            .with(|value| unsafe { (*value).assume_init_read() })
    }

    /// Frees a node that was never linked, returning its value.
    ///
    /// # Safety
    /// `node` came from [`Node::holding`], was never published, and is not used afterwards.
    pub(super) unsafe fn unlinked_into_value(node: *mut Self) -> T {
        // SAFETY: never published, so this thread owns the box and its initialized value.
        let node = unsafe { Box::from_raw(node) };
        // SAFETY: the value is initialized (made by `holding`) and taken once, here.
        unsafe { node.take_value() }
    }
}

/// Frees a whole list, dropping the values of every node after the sentinel `head`; a
/// panicking value destructor does not stop the others, and the first panic resumes at the end.
///
/// # Safety
/// The caller owns the list exclusively (the queue is being dropped), `head` is its sentinel,
/// and every later node still holds its value.
pub(super) unsafe fn free_list<T>(head: *mut Node<T>) {
    // SAFETY: the sentinel is owned and holds no value.
    let sentinel = unsafe { Box::from_raw(head) };
    // Relaxed: exclusive access; whatever handed the queue to this thread synchronized it.
    let mut next = sentinel.next.load(Ordering::Relaxed);
    drop(sentinel);
    let mut teardown = Teardown::default();
    while !next.is_null() && next != closed() {
        // SAFETY: every node after the sentinel is owned, linked once, and holds its value.
        let node = unsafe { Box::from_raw(next) };
        // Relaxed: as above.
        next = node.next.load(Ordering::Relaxed);
        // SAFETY: the value is initialized and nobody else can take it.
        teardown.run(|| drop(unsafe { node.take_value() }));
    }
    teardown.finish();
}
