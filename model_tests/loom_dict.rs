//! loom models of `ConcurrentDict` on a one-bucket table with load factor one (under loom), so
//! that bucket initialization and doubling happen inside two- and three-operation models.
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_dict`. Each model prints how many executions it explored. Epochs only: on hazard
//! pointers loom reports haphazard's lock-bit spin as an endless branch (see `loom_queue.rs`).
#![cfg(loom)]

mod support;

use support::{check, check_bounded};

use concurrency::ConcurrentDict;
use loom::sync::Arc;
use loom::thread;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

/// A fixed hasher: loom replays executions, so hashing must be deterministic.
type Dict = ConcurrentDict<u64, u64, BuildHasherDefault<DefaultHasher>>;

fn tiny() -> Arc<Dict> {
    Arc::new(Dict::with_scaling_and_hasher(
        1,
        BuildHasherDefault::default(),
    ))
}

#[path = "support/identity.rs"]
mod identity;
use identity::Identity;

type Placed = ConcurrentDict<u64, u64, BuildHasherDefault<Identity>>;

/// A one-bucket map holding `(1, 10)` and `(3, 30)`, adjacent in the list.
fn one_and_three() -> Arc<Placed> {
    let d = Arc::new(Placed::with_scaling_and_hasher(
        1,
        BuildHasherDefault::default(),
    ));
    d.insert(1, 10);
    d.insert(3, 30);
    d
}

fn spawn<M: Send + Sync + 'static, T: Send + 'static>(
    d: &Arc<M>,
    f: impl FnOnce(&M) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let d = Arc::clone(d);
    thread::spawn(move || f(&d))
}

#[test]
fn insert_insert_same_key() {
    check("insert ∥ insert, same key", || {
        let d = tiny();
        let other = spawn(&d, |d| d.insert(1, 10));
        let mine = d.insert(1, 20);
        let theirs = other.join().unwrap();
        let last = d.get(&1);
        match (mine, theirs) {
            (None, Some(20)) => assert_eq!(last, Some(10)),
            (Some(10), None) => assert_eq!(last, Some(20)),
            outcome => panic!("no serial order gives {outcome:?}"),
        }
        assert_eq!(d.len(), 1);
    });
}

#[test]
fn insert_remove_same_key() {
    check("insert ∥ remove, same key", || {
        let d = tiny();
        d.insert(1, 10);
        let remover = spawn(&d, |d| d.remove(&1));
        let replaced = d.insert(1, 20);
        let removed = remover.join().unwrap();
        let last = d.get(&1);
        // Either the insert replaced 10 and the remove took 20, or the remove took 10 first.
        match (replaced, removed) {
            (Some(10), Some(20)) => assert_eq!(last, None),
            (None, Some(10)) => assert_eq!(last, Some(20)),
            outcome => panic!("no serial order gives {outcome:?}"),
        }
        assert_eq!(d.len(), usize::from(last.is_some()));
    });
}

#[test]
fn remove_remove_same_key() {
    check("remove ∥ remove, same key", || {
        let d = tiny();
        d.insert(1, 10);
        let other = spawn(&d, |d| d.remove(&1));
        let mine = d.remove(&1);
        let theirs = other.join().unwrap();
        assert!(
            mine.xor(theirs) == Some(10),
            "exactly one remove wins: {mine:?} {theirs:?}"
        );
        assert!(d.is_empty());
    });
}

/// The second insert doubles the table (load factor one under loom); then the writer and a
/// reader both reach bucket 1, racing to initialize it: keys 1 and 4 hash (with the fixed
/// hasher) to odd values, so both live in bucket 1 once the table has two buckets.
#[test]
fn get_during_a_resize() {
    check("get ∥ insert that doubles the table", || {
        let d = tiny();
        d.insert(1, 10);
        let writer = spawn(&d, |d| {
            d.insert(4, 40);
            d.get(&4)
        });
        let first = d.get(&1);
        let fourth = writer.join().unwrap();
        assert_eq!(
            (first, fourth),
            (Some(10), Some(40)),
            "a resize hid a present key"
        );
        assert_eq!(d.len(), 2);
    });
}

/// A reader that finds a freshly inserted entry must see it initialized. Under
/// `--cfg concurrency_mutant="link_without_release"` the link loses its Release, and loom must
/// report the reader's unsynchronized access to the new node.
#[test]
#[cfg_attr(
    concurrency_mutant = "link_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_of_an_inserted_entry() {
    check("insert ∥ get publication", || {
        let d = tiny();
        let writer = spawn(&d, |d| d.insert(5, 50));
        let seen = d.get(&5);
        writer.join().unwrap();
        assert!(seen.is_none() || seen == Some(50));
    });
}

#[test]
fn replace_replace_same_key() {
    check("replace ∥ replace, same key", || {
        let d = tiny();
        d.insert(1, 10);
        let other = spawn(&d, |d| d.insert(1, 20));
        let mine = d.insert(1, 30);
        let theirs = other.join().unwrap();
        let last = d.get(&1);
        match (mine, theirs) {
            (Some(10), Some(30)) => assert_eq!(last, Some(20)),
            (Some(20), Some(10)) => assert_eq!(last, Some(30)),
            outcome => panic!("no serial order gives {outcome:?}"),
        }
        assert_eq!(d.len(), 1);
    });
}

/// A replace of key 1 races an insert of key 3, which lands right after 1's entry: the
/// replacing CAS and the linking CAS compete for the same `next`.
#[test]
fn replace_and_an_insert_right_after_it() {
    check("replace ∥ insert right after it", || {
        let d = Arc::new(Placed::with_scaling_and_hasher(
            1,
            BuildHasherDefault::default(),
        ));
        d.insert(1, 10);
        let inserter = spawn(&d, |d| d.insert(3, 30));
        assert_eq!(d.insert(1, 11), Some(10));
        assert_eq!(inserter.join().unwrap(), None);
        assert_eq!((d.get(&1), d.get(&3)), (Some(11), Some(30)));
        assert_eq!(d.len(), 2);
    });
}

/// An iteration sees a key present throughout exactly once, though it is replaced meanwhile:
/// the replacing entry follows the old one in the list, with the same key.
#[test]
fn iteration_during_a_replace() {
    check("iteration ∥ replace", || {
        let d = one_and_three();
        let writer = spawn(&d, |d| d.insert(1, 11));
        let mut seen: Vec<u64> = d.iter().map(|(k, _)| k).collect();
        assert_eq!(writer.join().unwrap(), Some(10));
        seen.sort_unstable();
        assert_eq!(
            seen,
            [1, 3],
            "a replaced key seen twice, or a present one missed"
        );
    });
}

/// A reader that finds a replacing entry must see it initialized. Under
/// `--cfg concurrency_mutant="replace_without_release"` the replacing CAS loses its Release,
/// and loom must report the reader's unsynchronized access to the new entry.
#[test]
#[cfg_attr(
    concurrency_mutant = "replace_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_of_a_replacing_entry() {
    check("replace ∥ get publication", || {
        let d = one_and_three();
        let writer = spawn(&d, |d| d.insert(1, 11));
        let one = d.get(&1);
        writer.join().unwrap();
        assert!(one == Some(10) || one == Some(11));
    });
}

/// Two inserters race for a bucket nobody has linked yet (bucket 1 of a table that just
/// doubled): one claims and links its dummy, the other starts from the parent bucket
/// meanwhile. Afterwards both keys are found, through the linked dummy.
#[test]
fn two_inserters_at_a_fresh_bucket() {
    check_bounded("bucket claim: insert ∥ insert", 1, || {
        let d = Arc::new(Placed::with_scaling_and_hasher(
            2,
            BuildHasherDefault::default(),
        ));
        d.insert(2, 20);
        d.insert(4, 40);
        let one = spawn(&d, |d| d.insert(1, 10));
        let mine = d.insert(3, 30);
        assert_eq!((mine, one.join().unwrap()), (None, None));
        assert_eq!((d.get(&1), d.get(&3)), (Some(10), Some(30)));
        assert_eq!(d.len(), 4);
    });
}
