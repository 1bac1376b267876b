//! Regression tests for the defects the review of the dict found: each failed before its fix.

use super::*;

on_every_reclaimer!(
    an_insert_whose_key_eq_panics_frees_its_key_and_value,
    an_insert_whose_replaced_value_clone_panics_frees_its_key,
    a_get_or_insert_with_whose_key_eq_panics_after_make_frees_what_it_made,
    a_remove_whose_value_clone_panics_still_unlinks_its_entry,
);

#[path = "../../../model_tests/support/identity.rs"]
mod identity;
use identity::Identity;

/// Review defect 1, a use-after-free under hazard pointers: `remove` read its node's split-order
/// key after the bucket initialization on its way to the unlink had moved the node's protection
/// on, while the node, unlinked by an iteration, was freed by the retirement of another marked
/// node met in that initialization. Miri (which reclaims at every retirement) reported the read.
#[test]
fn a_remove_reads_nothing_of_its_node_after_initializing_a_bucket() {
    let d = Arc::new(ConcurrentDict::<
        u64,
        u64,
        BuildHasherDefault<Identity>,
        HazardPointers,
    >::with_scaling_and_hasher(1, Default::default()));
    // 15 keys of bucket 0, then 3 and 19, which share bucket 3 at every size below 32: 17
    // entries double the one-bucket table to 16 buckets, and bucket 19 stays uninitialized.
    let bucket_zero = |i: u64| i << 32;
    for i in 1..=15 {
        d.insert(bucket_zero(i), i);
    }
    d.insert(3, 3);
    d.insert(19, 19);
    let stalled_remove = |key: u64| {
        let stall = Arc::new(Stall::new("dict::remove::marked"));
        let remover = {
            let (d, stall) = (Arc::clone(&d), Arc::clone(&stall));
            thread::spawn(move || {
                stall.arm();
                d.remove(&key)
            })
        };
        stall.wait_reached();
        (stall, remover)
    };
    // 19's remover has marked its node (protected in its CUR slot) and stops; an iteration
    // unlinks the node and retires it; 16 more entries double the table to 32 buckets.
    let (nineteen, nineteen_removed) = stalled_remove(19);
    assert_eq!(d.iter().count(), 16);
    for i in 16..=31 {
        d.insert(bucket_zero(i), i);
    }
    // 3's remover marks its node, which stays linked right after bucket 3's dummy.
    let (three, three_removed) = stalled_remove(3);
    // 19's remover goes on to initialize bucket 19 from bucket 3: its search reuses the CUR
    // slot, meets the marked 3 and retires it, and that reclamation frees 19's node.
    nineteen.release();
    assert_eq!(nineteen_removed.join().unwrap(), Some(19));
    three.release();
    assert_eq!(three_removed.join().unwrap(), Some(3));
    assert_eq!(d.len(), 31);
    assert!(!d.contains_key(&3) && !d.contains_key(&19));
}

/// Counts what is made of it and what is dropped, so that a test can tell a leak; a key hashes
/// to its id. `Eq` or `Clone` panics when `panics` is set (clones never panic).
#[derive(Debug)]
struct Counted {
    id: u64,
    panics: bool,
    ledger: Arc<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

impl Ledger {
    fn make(self: &Arc<Self>, id: u64, panics: bool) -> Counted {
        self.made.fetch_add(1, SeqCst);
        Counted {
            id,
            panics,
            ledger: Arc::clone(self),
        }
    }

    /// Asserts that everything made was dropped, once.
    fn settles(&self) {
        assert_drops_settle(&self.dropped, self.made.load(SeqCst));
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        assert!(!self.panics, "Clone panicked");
        self.ledger.make(self.id, false)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, SeqCst);
    }
}

impl Hash for Counted {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        assert!(!self.panics && !other.panics, "Eq panicked");
        self.id == other.id
    }
}

impl Eq for Counted {}

fn fails(f: impl FnOnce()) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "expected a panic"
    );
}

/// Review defect 3: the search of an insert compares keys with `Eq`, which panicked while the
/// unpublished node held the caller's key and value, and both leaked.
fn an_insert_whose_key_eq_panics_frees_its_key_and_value<R: Reclaimer>() {
    let ledger = Arc::new(Ledger::default());
    {
        let d = dict::<Counted, Counted, R>();
        d.insert(ledger.make(1, false), ledger.make(10, false));
        fails(|| {
            d.insert(ledger.make(1, true), ledger.make(11, false));
        });
        assert_eq!(d.get(&ledger.make(1, false)).map(|v| v.id), Some(10));
    }
    ledger.settles();
}

/// Review defect 3: an insert that replaced a value clones the old one to return it; the clone
/// panicked after the new value was installed, and the insert's node shell leaked the key.
fn an_insert_whose_replaced_value_clone_panics_frees_its_key<R: Reclaimer>() {
    let ledger = Arc::new(Ledger::default());
    {
        let d = dict::<Counted, Counted, R>();
        d.insert(ledger.make(1, false), ledger.make(10, true));
        fails(|| {
            d.insert(ledger.make(1, false), ledger.make(11, false));
        });
        assert_eq!(d.get(&ledger.make(1, false)).map(|v| v.id), Some(11));
        assert_eq!(d.len(), 1);
    }
    ledger.settles();
}

/// Review defect 3: `get_or_insert_with` keeps what `make` made while it retries; a retry's
/// search compared keys with a panicking `Eq`, and the made key and value leaked. Here `make`
/// itself inserts the key, so the link fails and the retry meets the new entry.
fn a_get_or_insert_with_whose_key_eq_panics_after_make_frees_what_it_made<R: Reclaimer>() {
    let ledger = Arc::new(Ledger::default());
    {
        let d = dict::<Counted, Counted, R>();
        d.insert(ledger.make(2, false), ledger.make(20, false));
        fails(|| {
            d.get_or_insert_with(ledger.make(7, true), || {
                d.insert(ledger.make(7, false), ledger.make(70, false));
                ledger.make(71, false)
            });
        });
        assert_eq!(d.get(&ledger.make(7, false)).map(|v| v.id), Some(70));
        assert_eq!(d.len(), 2);
    }
    ledger.settles();
}

/// A remove whose clone of the removed value panics has removed it all the same: the entry is
/// unlinked before user code runs, so no marked node is left behind for others to unlink.
fn a_remove_whose_value_clone_panics_still_unlinks_its_entry<R: Reclaimer>() {
    let ledger = Arc::new(Ledger::default());
    {
        let d = dict::<Counted, Counted, R>();
        d.insert(ledger.make(1, false), ledger.make(10, true));
        d.insert(ledger.make(2, false), ledger.make(20, false));
        fails(|| {
            d.remove(&ledger.make(1, false));
        });
        assert_eq!(d.len(), 1);
        assert!(!d.contains_key(&ledger.make(1, false)));
        assert_eq!(d.iter().map(|(k, _)| k.id).collect::<Vec<_>>(), [2]);
    }
    ledger.settles();
}

/// `Default` and `with_capacity_and_hasher` for any hasher, as std's `HashMap` has them.
#[test]
fn any_default_hasher_gives_a_default_dict() {
    let d = ConcurrentDict::<u64, u64, BuildHasherDefault<Identity>>::default();
    d.insert(5, 6);
    assert_eq!(d.get(&5), Some(6));
    let sized = ConcurrentDict::<u64, u64, _, HazardPointers>::with_capacity_and_hasher(
        1_000,
        BuildHasherDefault::<Identity>::default(),
    );
    sized.insert(1, 2);
    assert_eq!(sized.len(), 1);
    let collected: ConcurrentDict<u64, u64, BuildHasherDefault<Identity>> =
        (0..10).map(|i| (i, i)).collect();
    assert_eq!(collected.len(), 10);
}
