//! What the structures do when user code panics inside a destructor they run.
//!
//! Two situations, two rules:
//!
//! * **Teardown** (a structure dropped with elements in it) drops every element even if one of
//!   them panics, then resumes the first panic — what std's collections do. Nothing leaks.
//! * **Deferred destruction** (a reclaimer freeing what a structure retired) runs on whatever
//!   thread happens to collect, in the middle of the reclaimer's own bookkeeping. A panic there
//!   must not unwind into the reclaimer, and has no caller to reach: it stops at the destructor.
//!   The panic hook has already reported it, and the unwinding has freed the allocation.
//!   Under loom and shuttle the panic goes on unwinding: those checkers report a failure by
//!   panicking, and a caught report would be a silenced one.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Runs a deferred destructor, stopping any panic it raises (see the module documentation).
pub(crate) fn drop_deferred(destroy: impl FnOnce()) {
    if cfg!(any(loom, shuttle)) {
        destroy();
    } else {
        // AssertUnwindSafe: after a panic nothing of what `destroy` touched is used again.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(destroy)) {
            drop_payload(payload);
        }
    }
}

/// How many payloads in a row [`drop_payload`] drops, each the panic of the one before's drop,
/// before it leaks the next instead.
const NESTED_PANICS: usize = 8;

/// Drops a caught panic's payload, whose own `Drop` may panic too: that panic stops here and
/// its payload is dropped the same way, up to [`NESTED_PANICS`] deep; a payload whose every
/// drop panics is leaked after that, so that it cannot keep this going.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    let mut payload = payload;
    for _ in 0..NESTED_PANICS {
        // AssertUnwindSafe: the payload is gone either way.
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(nested) => payload = nested,
        }
    }
    std::mem::forget(payload);
}

/// Drops a structure's elements one by one, each even if an earlier one panicked; the first
/// panic resumes when the teardown is [`finish`](Self::finish)ed.
#[derive(Default)]
pub(crate) struct Teardown {
    first_panic: Option<Box<dyn Any + Send>>,
}

impl Teardown {
    /// Runs one element's destruction, keeping its panic, if any, for later.
    pub(crate) fn run(&mut self, destroy: impl FnOnce()) {
        // AssertUnwindSafe: the element is gone either way, and the structure is being freed.
        if let Err(panic) = catch_unwind(AssertUnwindSafe(destroy)) {
            match self.first_panic {
                None => self.first_panic = Some(panic),
                Some(_) => drop_payload(panic),
            }
        }
    }

    /// Resumes the first panic, now that everything is dropped.
    pub(crate) fn finish(self) {
        if let Some(panic) = self.first_panic {
            resume_unwind(panic);
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    /// A panic payload whose own `Drop` panics.
    struct PanicsWhenDropped;

    impl Drop for PanicsWhenDropped {
        fn drop(&mut self) {
            panic!("the payload's drop panicked");
        }
    }

    #[test]
    fn a_payload_whose_drop_panics_stops_here() {
        drop_deferred(|| std::panic::panic_any(PanicsWhenDropped));
        let mut teardown = Teardown::default();
        teardown.run(|| panic!("first"));
        teardown.run(|| std::panic::panic_any(PanicsWhenDropped));
        let first = catch_unwind(AssertUnwindSafe(|| teardown.finish())).unwrap_err();
        assert_eq!(first.downcast_ref::<&str>(), Some(&"first"));
    }
}
