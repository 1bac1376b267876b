//! A linearizability checker for recorded concurrent histories.
//!
//! A history is a set of completed operations, each with the thread that ran it, what it
//! did, what it returned, and when it was invoked and when it responded. The history is
//! *linearizable* with respect to a sequential [`Spec`] if the operations can be put in one
//! total order that (a) respects real time: when `a` responded before `b` was invoked, `a`
//! comes first; and (b) replays on the specification, starting from its initial state, with
//! every operation returning exactly what was recorded.
//!
//! # Algorithm
//!
//! This is Wing and Gong's backtracking search for such an order, with the two refinements
//! of Lowe ("Testing for linearizability", 2017) that tools such as knossos and porcupine
//! also use:
//!
//! * **Just-in-time linearization.** The invocations and responses of all operations are
//!   kept in one list in time order. An operation may be linearized next only if its
//!   invocation comes before the first response in the list: every operation not yet
//!   linearized must still be linearized after it, and one that has already responded
//!   cannot be. Linearizing an operation lifts both of its entries out of the list;
//!   backtracking puts them back in place (the list is doubly linked, over indices).
//!   Reaching a response while walking the list is a dead end: that operation ought to have
//!   been linearized already, so the search undoes its most recent choice and tries the next
//!   candidate.
//! * **Memoization.** A configuration is the set of operations linearized so far together
//!   with the state they produce. Whatever can follow depends only on the configuration, not
//!   on the order that reached it, so each configuration is explored at most once. The memo
//!   keeps a 128-bit fingerprint of each configuration, not the configuration itself.
//!
//! The search is iterative, with an explicit stack, so histories of many thousands of
//! operations do not exhaust the call stack.
//!
//! Two operations are ordered only if one's response time is *strictly* before the other's
//! invocation time; equal timestamps are treated as concurrent, since the clock cannot tell
//! which came first.
//!
//! # Cost
//!
//! Checking linearizability is NP-complete in general, and the search is exponential in
//! the worst case. In practice its cost is bounded by the number of distinct configurations
//! it can reach. When each of `p` threads runs one operation at a time, at most `p`
//! operations are candidates at any point, so for `n` operations there are at most about
//! `n · 2^p` linearized sets, each paired with the states that orders of the candidates can
//! produce. Every step costs one [`Spec::step`]
//! plus hashing and cloning a bitset of `n / 64` words and a state; the memo keeps one such
//! pair per configuration visited. Small thread counts, cheap states, and histories in which
//! operations rarely overlap check quickly; a linearizable history of a few thousand
//! operations from four threads takes milliseconds in a release build.
//!
//! The number of states is what can explode. A state that remembers the order of
//! operations, such as a queue holding many items from overlapping pushes, multiplies with
//! every ambiguous order, and a wrong guess may only show up much later (when those items
//! are popped), after the search has explored everything in between. Keep such objects
//! small in stress tests (for a queue, pop about as often as or more often than you push),
//! and split independent parts with [`check_partitioned`].
//!
//! # Use
//!
//! 1. Write the sequential specification: implement [`Spec`] for a type (often a unit
//!    struct) whose `step` applies one operation to a state and reports its result.
//! 2. Record a history: in each thread, read a shared monotonic clock (for example
//!    nanoseconds since a common [`std::time::Instant`]) just before calling the operation
//!    under test and just after it returns, and collect an [`Event`] per call.
//! 3. Call [`check`] (or [`check_from`], to start from a chosen state), or
//!    [`check_partitioned`] for a map-like object whose keys are independent; the latter
//!    splits the history per key, which makes the search far cheaper.
//! 4. On a [`Violation`], print it; for a long history, first call
//!    [`smallest_failing_window`] and check that window to get a short report.
//!
//! [`check`], [`check_partitioned`] and [`smallest_failing_window`] start from
//! [`Spec::init`] and are compiled for the tests (and these docs) only: the stress run checks
//! windows that start from a carried-over state, with [`check_within`], [`partition`] and
//! [`smallest_failing_window_from`].
//!
//! ```text
//! let history: Vec<Event<QueueOp, Option<u32>>> = record_threads();
//! if check(&QueueSpec, &history).is_err() {
//!     let window = smallest_failing_window(&QueueSpec, &history).unwrap();
//!     panic!("{}", check(&QueueSpec, &window).unwrap_err());
//! }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Debug, Display};
use std::hash::{DefaultHasher, Hash, Hasher};

/// A sequential specification: the behaviour a concurrent object must appear to have.
pub(crate) trait Spec {
    /// The object's abstract state, compared and hashed to memoize configurations.
    type State: Clone + Eq + Hash + Debug;
    /// An operation with its arguments.
    type Op: Clone + Debug;
    /// What an operation returns.
    type Ret: Clone + Eq + Debug;

    /// The state a fresh object starts in.
    fn init(&self) -> Self::State;

    /// Applies `op` to `state`, returning the new state and what the op returns.
    fn step(&self, state: &Self::State, op: &Self::Op) -> (Self::State, Self::Ret);
}

/// One completed operation: which thread ran it, what it did, what it returned, and when it
/// was invoked and when it responded.
///
/// Times come from any clock shared by all threads that never runs backwards, such as
/// nanoseconds since the start of the test; `invoke` must not be after `response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event<Op, Ret> {
    /// The thread that ran the operation (only used for reporting).
    pub(crate) thread: usize,
    /// The operation and its arguments.
    pub(crate) op: Op,
    /// What the operation returned.
    pub(crate) ret: Ret,
    /// When the operation was invoked.
    pub(crate) invoke: u64,
    /// When the operation responded.
    pub(crate) response: u64,
}

#[cfg(test)]
impl<Op, Ret> Event<Op, Ret> {
    /// An event of `thread` over `[invoke, response]`.
    pub(crate) fn at(thread: usize, op: Op, ret: Ret, invoke: u64, response: u64) -> Self {
        Self {
            thread,
            op,
            ret,
            invoke,
            response,
        }
    }
}

impl<Op: Debug, Ret: Debug> Display for Event<Op, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "thread {} [{}, {}]: {:?} -> {:?}",
            self.thread, self.invoke, self.response, self.op, self.ret
        )
    }
}

/// Why a history is not linearizable.
///
/// It holds the history, sorted by invocation time, and the deepest point the search
/// reached: a longest order in which some of the operations can be linearized, the state
/// that order leaves, and the operations that may come next by real-time order, none of
/// which returns from that state what was recorded. [`Display`] renders all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation<State, Op, Ret> {
    /// The checked history, sorted by invocation time; the indices below refer to it.
    pub(crate) events: Vec<Event<Op, Ret>>,
    /// The longest linearizable prefix found, as indices into `events` in linearization order.
    pub(crate) linearized: Vec<usize>,
    /// The state after the operations in `linearized`.
    pub(crate) state: State,
    /// The operations that may be linearized right after `linearized`, each with what the
    /// specification returns for it from `state`.
    pub(crate) next: Vec<(usize, Ret)>,
}

/// The [`Violation`] type for histories of the specification `S`.
pub(crate) type ViolationOf<S> = Violation<<S as Spec>::State, <S as Spec>::Op, <S as Spec>::Ret>;

impl<State: Debug, Op: Debug, Ret: Debug> Display for Violation<State, Op, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "history of {} operations is not linearizable",
            self.events.len()
        )?;
        write!(
            f,
            "\nlongest linearizable prefix ({} operations), in order:",
            self.linearized.len()
        )?;
        for &i in &self.linearized {
            write!(f, "\n  #{i} {}", self.events[i])?;
        }
        write!(f, "\nstate after that prefix: {:?}", self.state)?;
        write!(
            f,
            "\nno operation that may come next returns what was recorded:"
        )?;
        for (i, expected) in &self.next {
            write!(
                f,
                "\n  #{i} {} (specification returns {expected:?})",
                self.events[*i]
            )?;
        }
        write!(f, "\nhistory by invocation time:")?;
        for (i, event) in self.events.iter().enumerate() {
            write!(f, "\n  #{i} {event}")?;
        }
        Ok(())
    }
}

impl<State: Debug, Op: Debug, Ret: Debug> std::error::Error for Violation<State, Op, Ret> {}

/// Checks that `history` is linearizable with respect to `spec`, starting from
/// [`Spec::init`].
///
/// The events may be given in any order.
///
/// # Panics
///
/// If an event's `invoke` time is after its `response` time.
#[cfg(any(test, doc))]
pub(crate) fn check<S: Spec>(
    spec: &S,
    history: &[Event<S::Op, S::Ret>],
) -> Result<(), ViolationOf<S>> {
    check_from(spec, spec.init(), history)
}

/// Checks that `history` is linearizable with respect to `spec`, starting from `init`
/// rather than [`Spec::init`]; useful for a window cut out of a longer history.
///
/// The events may be given in any order.
///
/// # Panics
///
/// If an event's `invoke` time is after its `response` time.
pub(crate) fn check_from<S: Spec>(
    spec: &S,
    init: S::State,
    history: &[Event<S::Op, S::Ret>],
) -> Result<(), ViolationOf<S>> {
    check_within(spec, init, history, usize::MAX).map(|_| ())
}

/// [`check_from`], giving up once the search has visited `budget` configurations: returns
/// `Ok(true)` if the history is linearizable, `Ok(false)` if the search gave up undecided.
///
/// A history in which one operation stays pending while many others run (a thread preempted
/// in the middle of a call) can make the search exponential; a stress run bounds each
/// window's check this way and reports the undecided windows.
///
/// # Panics
///
/// If an event's `invoke` time is after its `response` time.
pub(crate) fn check_within<S: Spec>(
    spec: &S,
    init: S::State,
    history: &[Event<S::Op, S::Ret>],
    budget: usize,
) -> Result<bool, ViolationOf<S>> {
    if let Some(e) = history.iter().find(|e| e.invoke > e.response) {
        panic!("event responds before it is invoked: {e:?}");
    }
    let mut events = history.to_vec();
    events.sort_by_key(|e| (e.invoke, e.response));

    let mut entries = Entries::new(&events);
    let mut linearized = Bitset::new(events.len());
    // Configurations visited, by fingerprint (see `fingerprint`).
    let mut seen = HashSet::new();
    // The operations linearized so far, each with the state from before it.
    let mut stack: Vec<(usize, S::State)> = Vec::new();
    let mut state = init;
    let mut deepest = Deepest::capture(spec, &events, &entries, &stack, &state);

    let mut node = entries.next[HEAD];
    while node != END {
        if is_call(node) {
            let op = op_of(node);
            let (after, ret) = spec.step(&state, &events[op].op);
            if ret == events[op].ret {
                linearized.set(op);
                if seen.len() >= budget {
                    return Ok(false);
                }
                if seen.insert(fingerprint(&linearized, &after)) {
                    stack.push((op, std::mem::replace(&mut state, after)));
                    entries.lift(op);
                    node = entries.next[HEAD];
                    continue;
                }
                linearized.clear(op);
            }
            node = entries.next[node];
        } else {
            // This operation responded before it was linearized: undo the latest choice.
            if stack.len() > deepest.order.len() {
                deepest = Deepest::capture(spec, &events, &entries, &stack, &state);
            }
            let Some((undone, before)) = stack.pop() else {
                return Err(Violation {
                    events,
                    linearized: deepest.order,
                    state: deepest.state,
                    next: deepest.next,
                });
            };
            state = before;
            linearized.clear(undone);
            entries.unlift(undone);
            node = entries.next[call(undone)];
        }
    }
    Ok(true)
}

/// Checks a history of an object made of independent parts, such as a map whose keys do
/// not interact, by checking the sub-history of each part on its own.
///
/// `key` tells which part an operation touches; every operation must touch exactly one,
/// and `spec` must treat the parts independently. Linearizability is compositional, so
/// the whole history is linearizable if and only if each part's is, and checking the parts
/// separately is much cheaper than checking the whole. Each sub-history starts from
/// [`Spec::init`]. Returns the violation of the first failing part, in the order in which
/// parts first appear in `history`; its `events` are that part's sub-history.
///
/// # Panics
///
/// If an event's `invoke` time is after its `response` time.
#[cfg(any(test, doc))]
pub(crate) fn check_partitioned<S: Spec, K: Eq + Hash>(
    spec: &S,
    history: &[Event<S::Op, S::Ret>],
    key: impl Fn(&S::Op) -> K,
) -> Result<(), ViolationOf<S>> {
    partition(history, key)
        .iter()
        .try_for_each(|(_, part)| check(spec, part))
}

/// Splits `history` into the sub-histories of the parts `key` names, in the order in which
/// parts first appear (see [`check_partitioned`]).
pub(crate) fn partition<Op: Clone, Ret: Clone, K: Eq + Hash>(
    history: &[Event<Op, Ret>],
    key: impl Fn(&Op) -> K,
) -> Vec<(K, Vec<Event<Op, Ret>>)> {
    let mut index = HashMap::new();
    let mut parts: Vec<(K, Vec<Event<Op, Ret>>)> = Vec::new();
    for event in history {
        let k = key(&event.op);
        let part = match index.get(&k) {
            Some(&part) => part,
            None => {
                parts.push((k, Vec::new()));
                index.insert(key(&event.op), parts.len() - 1);
                parts.len() - 1
            }
        };
        parts[part].1.push(event.clone());
    }
    parts
}

/// Shrinks a non-linearizable history to a short window that still fails [`check`].
///
/// A window here is a prefix of the history in invocation order: the shrinker only drops
/// the latest-invoked events, never the earliest, because a window that does not start at
/// the beginning would not start from [`Spec::init`], and the state it should start from is
/// unknown. It drops ever smaller chunks from the back (half the history, then a quarter,
/// and so on down to single events) for as long as what remains still fails, so the window
/// returned fails and no event can be dropped from its back without it passing. Each trial
/// is a full [`check`] of the remaining prefix.
///
/// Returns `None` if `history` is linearizable, otherwise the window, sorted by invocation
/// time; it is never longer than `history`.
///
/// # Panics
///
/// If an event's `invoke` time is after its `response` time.
#[cfg(any(test, doc))]
pub(crate) fn smallest_failing_window<S: Spec>(
    spec: &S,
    history: &[Event<S::Op, S::Ret>],
) -> Option<Vec<Event<S::Op, S::Ret>>> {
    smallest_failing_window_from(spec, &spec.init(), history)
}

/// [`smallest_failing_window`] for a history that starts from `init` rather than
/// [`Spec::init`] (see [`check_from`]).
pub(crate) fn smallest_failing_window_from<S: Spec>(
    spec: &S,
    init: &S::State,
    history: &[Event<S::Op, S::Ret>],
) -> Option<Vec<Event<S::Op, S::Ret>>> {
    let mut events = history.to_vec();
    events.sort_by_key(|e| (e.invoke, e.response));
    let fails = |len: usize| check_from(spec, init.clone(), &events[..len]).is_err();
    let mut len = events.len();
    if !fails(len) {
        return None;
    }
    let mut chunk = (len / 2).max(1);
    loop {
        while chunk < len && fails(len - chunk) {
            len -= chunk;
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    events.truncate(len);
    Some(events)
}

/// The deepest point the search has reached, kept to explain a failure.
struct Deepest<S: Spec> {
    order: Vec<usize>,
    state: S::State,
    next: Vec<(usize, S::Ret)>,
}

impl<S: Spec> Deepest<S> {
    /// Records the current linearization, its state, and what the specification returns
    /// for each operation that may come next.
    fn capture(
        spec: &S,
        events: &[Event<S::Op, S::Ret>],
        entries: &Entries,
        stack: &[(usize, S::State)],
        state: &S::State,
    ) -> Self {
        let mut next = Vec::new();
        let mut node = entries.next[HEAD];
        while node != END && is_call(node) {
            let op = op_of(node);
            next.push((op, spec.step(state, &events[op].op).1));
            node = entries.next[node];
        }
        Deepest {
            order: stack.iter().map(|(op, _)| *op).collect(),
            state: state.clone(),
            next,
        }
    }
}

/// The sentinel node that starts the entry list.
const HEAD: usize = 0;
/// The link past the last node of the entry list.
const END: usize = usize::MAX;

/// The node of the invocation of operation `op`.
fn call(op: usize) -> usize {
    2 * op + 1
}

/// The node of the response of operation `op`.
fn response(op: usize) -> usize {
    2 * op + 2
}

/// Whether `node` is an invocation (rather than a response).
fn is_call(node: usize) -> bool {
    node % 2 == 1
}

/// The operation that `node` belongs to.
fn op_of(node: usize) -> usize {
    (node - 1) / 2
}

/// The invocations and responses of a history in time order, as a doubly linked list over
/// node indices (see [`call`] and [`response`]) from which the entries of linearized
/// operations are lifted out and put back.
struct Entries {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Entries {
    /// Links the entries of `events` in time order, invocations before responses at equal
    /// times, so that operations that touch at one instant count as concurrent.
    fn new<Op, Ret>(events: &[Event<Op, Ret>]) -> Self {
        let mut order: Vec<(u64, bool, usize)> = events
            .iter()
            .enumerate()
            .flat_map(|(op, e)| {
                [
                    (e.invoke, false, call(op)),
                    (e.response, true, response(op)),
                ]
            })
            .collect();
        order.sort_unstable();
        let nodes = 2 * events.len() + 1;
        let mut entries = Entries {
            next: vec![END; nodes],
            prev: vec![HEAD; nodes],
        };
        let mut last = HEAD;
        for (_, _, node) in order {
            entries.next[last] = node;
            entries.prev[node] = last;
            last = node;
        }
        entries
    }

    /// Removes both entries of operation `op`.
    fn lift(&mut self, op: usize) {
        self.unlink(call(op));
        self.unlink(response(op));
    }

    /// Puts back the entries of operation `op`, which must be the one lifted most recently.
    fn unlift(&mut self, op: usize) {
        self.relink(response(op));
        self.relink(call(op));
    }

    fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        if next != END {
            self.prev[next] = prev;
        }
    }

    /// Undoes `unlink(node)`: the node still remembers its neighbours.
    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        if next != END {
            self.prev[next] = node;
        }
    }
}

/// A 128-bit fingerprint of a configuration, kept in the memo instead of the configuration:
/// a bitset and a state cost hundreds of bytes, a fingerprint 16. Two SipHash digests with
/// different prefixes. A collision would make the search skip a configuration it never
/// explored (at worst reporting a violation that is not one); it needs about 2^64
/// configurations to become likely.
fn fingerprint<State: Hash>(linearized: &Bitset, state: &State) -> u128 {
    let digest = |prefix: u8| {
        let mut hasher = DefaultHasher::new();
        (prefix, linearized, state).hash(&mut hasher);
        hasher.finish()
    };
    u128::from(digest(0)) << 64 | u128::from(digest(1))
}

/// A set of operation indices.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn new(len: usize) -> Self {
        Bitset(vec![0; len.div_ceil(64)])
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, VecDeque};
    use std::time::Instant;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum RegOp {
        Read,
        Write(u32),
    }

    /// A register holding a `u32`, initially 0; a read returns `Some(value)`, a write `None`.
    struct Register;

    impl Spec for Register {
        type State = u32;
        type Op = RegOp;
        type Ret = Option<u32>;

        fn init(&self) -> u32 {
            0
        }

        fn step(&self, state: &u32, op: &RegOp) -> (u32, Option<u32>) {
            match *op {
                RegOp::Read => (*state, Some(*state)),
                RegOp::Write(v) => (v, None),
            }
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum QueueOp {
        Push(u32),
        Pop,
    }

    /// A FIFO queue; a push returns `None`, a pop the front item if any.
    struct Queue;

    impl Spec for Queue {
        type State = VecDeque<u32>;
        type Op = QueueOp;
        type Ret = Option<u32>;

        fn init(&self) -> VecDeque<u32> {
            VecDeque::new()
        }

        fn step(&self, state: &VecDeque<u32>, op: &QueueOp) -> (VecDeque<u32>, Option<u32>) {
            let mut queue = state.clone();
            let ret = match *op {
                QueueOp::Push(v) => {
                    queue.push_back(v);
                    None
                }
                QueueOp::Pop => queue.pop_front(),
            };
            (queue, ret)
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum MapOp {
        Insert(u32, u32),
        Get(u32),
        Remove(u32),
    }

    impl MapOp {
        fn key(&self) -> u32 {
            match *self {
                MapOp::Insert(k, _) | MapOp::Get(k) | MapOp::Remove(k) => k,
            }
        }
    }

    /// A map; insert and remove return the previous value, get the current one.
    struct Map;

    impl Spec for Map {
        type State = BTreeMap<u32, u32>;
        type Op = MapOp;
        type Ret = Option<u32>;

        fn init(&self) -> BTreeMap<u32, u32> {
            BTreeMap::new()
        }

        fn step(
            &self,
            state: &BTreeMap<u32, u32>,
            op: &MapOp,
        ) -> (BTreeMap<u32, u32>, Option<u32>) {
            let mut map = state.clone();
            let ret = match *op {
                MapOp::Insert(k, v) => map.insert(k, v),
                MapOp::Get(k) => map.get(&k).copied(),
                MapOp::Remove(k) => map.remove(&k),
            };
            (map, ret)
        }
    }

    fn ev<Op>(
        thread: usize,
        op: Op,
        ret: Option<u32>,
        invoke: u64,
        response: u64,
    ) -> Event<Op, Option<u32>> {
        Event {
            thread,
            op,
            ret,
            invoke,
            response,
        }
    }

    /// A splitmix64 generator, so that simulated histories are reproducible.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) % n as u64) as usize
        }
    }

    /// A simulated thread's operation in flight: the operation, when it was invoked, and
    /// what it returns once it has taken effect.
    type InFlight<S> = (<S as Spec>::Op, u64, Option<<S as Spec>::Ret>);

    /// Simulates `threads` threads running `ops` random operations on an object that behaves
    /// like `spec`. At each tick one random thread moves on by one phase: invoke, take effect
    /// atomically, respond. The history is linearizable by construction, and operations of
    /// different threads overlap heavily.
    fn simulate<S: Spec>(
        spec: &S,
        threads: usize,
        ops: usize,
        seed: u64,
        mut random_op: impl FnMut(&mut Rng) -> S::Op,
    ) -> Vec<Event<S::Op, S::Ret>> {
        let mut rng = Rng(seed);
        let mut state = spec.init();
        let mut running: Vec<Option<InFlight<S>>> = (0..threads).map(|_| None).collect();
        let mut history = Vec::with_capacity(ops);
        let mut started = 0;
        let mut clock = 0;
        while history.len() < ops {
            clock += 1;
            let thread = rng.below(threads);
            running[thread] = match running[thread].take() {
                None if started < ops => {
                    started += 1;
                    Some((random_op(&mut rng), clock, None))
                }
                None => None,
                Some((op, invoke, None)) => {
                    let (after, ret) = spec.step(&state, &op);
                    state = after;
                    Some((op, invoke, Some(ret)))
                }
                Some((op, invoke, Some(ret))) => {
                    history.push(Event {
                        thread,
                        op,
                        ret,
                        invoke,
                        response: clock,
                    });
                    None
                }
            };
        }
        history
    }

    fn random_register_op(rng: &mut Rng) -> RegOp {
        match rng.below(2) {
            0 => RegOp::Read,
            _ => RegOp::Write(rng.below(4) as u32),
        }
    }

    /// Pops twice as often as it pushes, so the queue stays short (see the module doc).
    fn random_queue_op(rng: &mut Rng) -> QueueOp {
        match rng.below(3) {
            0 => QueueOp::Push(rng.below(1000) as u32),
            _ => QueueOp::Pop,
        }
    }

    fn random_map_op(rng: &mut Rng) -> MapOp {
        let key = rng.below(8) as u32;
        match rng.below(3) {
            0 => MapOp::Insert(key, rng.below(3) as u32),
            1 => MapOp::Get(key),
            _ => MapOp::Remove(key),
        }
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert!(check(&Register, &[]).is_ok());
        assert!(check(&Queue, &[]).is_ok());
        assert!(check_partitioned(&Map, &[], MapOp::key).is_ok());
        assert!(smallest_failing_window(&Queue, &[]).is_none());
    }

    #[test]
    fn sequential_histories_are_linearizable() {
        let register = [
            ev(0, RegOp::Read, Some(0), 0, 1),
            ev(1, RegOp::Write(3), None, 2, 3),
            ev(0, RegOp::Read, Some(3), 4, 5),
            ev(1, RegOp::Write(4), None, 6, 7),
            ev(1, RegOp::Read, Some(4), 8, 9),
        ];
        assert!(check(&Register, &register).is_ok());
        let queue = [
            ev(0, QueueOp::Push(1), None, 0, 1),
            ev(1, QueueOp::Push(2), None, 2, 3),
            ev(0, QueueOp::Pop, Some(1), 4, 5),
            ev(1, QueueOp::Pop, Some(2), 6, 7),
            ev(0, QueueOp::Pop, None, 8, 9),
        ];
        assert!(check(&Queue, &queue).is_ok());
    }

    #[test]
    fn events_may_be_given_in_any_order() {
        let history = [
            ev(0, RegOp::Read, Some(3), 4, 5),
            ev(1, RegOp::Write(3), None, 2, 3),
            ev(0, RegOp::Read, Some(0), 0, 1),
        ];
        assert!(check(&Register, &history).is_ok());
    }

    #[test]
    fn a_long_write_may_take_effect_after_a_short_one_it_overlaps() {
        // Write(1) is invoked first but must take effect after Write(2) for the read.
        let history = [
            ev(0, RegOp::Write(1), None, 0, 100),
            ev(1, RegOp::Write(2), None, 10, 20),
            ev(1, RegOp::Read, Some(1), 30, 40),
            ev(2, RegOp::Read, Some(1), 110, 120),
        ];
        assert!(check(&Register, &history).is_ok());
    }

    #[test]
    fn concurrent_reads_may_see_old_and_new_values() {
        let history = [
            ev(0, RegOp::Write(1), None, 0, 100),
            ev(1, RegOp::Read, Some(1), 10, 20),
            ev(2, RegOp::Read, Some(0), 5, 30),
        ];
        assert!(check(&Register, &history).is_ok());
    }

    #[test]
    fn overlapping_pushes_may_be_linearized_against_invocation_order() {
        let history = [
            ev(0, QueueOp::Push(1), None, 0, 50),
            ev(1, QueueOp::Push(2), None, 10, 20),
            ev(1, QueueOp::Pop, Some(2), 30, 40),
            ev(1, QueueOp::Pop, Some(1), 60, 70),
        ];
        assert!(check(&Queue, &history).is_ok());
    }

    #[test]
    fn a_pop_overlapping_the_only_push_may_find_the_queue_empty() {
        let history = [
            ev(0, QueueOp::Push(1), None, 0, 50),
            ev(1, QueueOp::Pop, None, 10, 60),
            ev(1, QueueOp::Pop, Some(1), 70, 80),
        ];
        assert!(check(&Queue, &history).is_ok());
    }

    #[test]
    fn operations_that_touch_at_one_instant_are_concurrent() {
        let history = [
            ev(0, RegOp::Write(1), None, 0, 10),
            ev(1, RegOp::Read, Some(0), 10, 20),
        ];
        assert!(check(&Register, &history).is_ok());
    }

    #[test]
    fn a_read_of_a_value_never_written_is_rejected() {
        let history = [
            ev(0, RegOp::Write(1), None, 0, 10),
            ev(1, RegOp::Read, Some(7), 5, 15),
        ];
        assert!(check(&Register, &history).is_err());
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_rejected() {
        let history = [
            ev(0, RegOp::Write(1), None, 0, 10),
            ev(1, RegOp::Read, Some(0), 20, 30),
        ];
        let violation = check(&Register, &history).unwrap_err();
        assert_eq!(violation.linearized, [0]);
        assert_eq!(violation.state, 1);
        assert_eq!(violation.next, [(1, Some(1))]);
    }

    #[test]
    fn pops_out_of_order_of_sequential_pushes_are_rejected() {
        let history = [
            ev(0, QueueOp::Push(1), None, 0, 10),
            ev(0, QueueOp::Push(2), None, 20, 30),
            ev(1, QueueOp::Pop, Some(2), 40, 50),
            ev(1, QueueOp::Pop, Some(1), 60, 70),
        ];
        assert!(check(&Queue, &history).is_err());
    }

    #[test]
    fn a_pop_finding_nothing_while_an_item_is_present_is_rejected() {
        let history = [
            ev(0, QueueOp::Push(1), None, 0, 10),
            ev(1, QueueOp::Pop, None, 20, 30),
            ev(0, QueueOp::Pop, Some(1), 40, 50),
        ];
        assert!(check(&Queue, &history).is_err());
    }

    #[test]
    fn a_map_history_with_independent_keys_is_linearizable() {
        let history = [
            ev(0, MapOp::Insert(1, 10), None, 0, 30),
            ev(1, MapOp::Insert(2, 20), None, 5, 10),
            ev(1, MapOp::Get(1), Some(10), 15, 20),
            ev(2, MapOp::Remove(2), Some(20), 12, 40),
            ev(2, MapOp::Get(2), None, 50, 60),
            ev(0, MapOp::Insert(1, 11), Some(10), 35, 45),
        ];
        assert!(check_partitioned(&Map, &history, MapOp::key).is_ok());
        assert!(check(&Map, &history).is_ok());
    }

    #[test]
    fn a_lost_map_insert_is_rejected() {
        let history = [
            ev(0, MapOp::Insert(2, 20), None, 0, 10),
            ev(0, MapOp::Insert(1, 10), None, 5, 15),
            ev(1, MapOp::Get(2), Some(20), 12, 18),
            ev(1, MapOp::Get(1), None, 20, 30),
        ];
        let violation = check_partitioned(&Map, &history, MapOp::key).unwrap_err();
        assert!(violation.events.iter().all(|e| e.op.key() == 1));
        assert!(check(&Map, &history).is_err());
    }

    #[test]
    fn a_window_can_start_from_a_chosen_state() {
        let window = [ev(0, RegOp::Read, Some(5), 0, 1)];
        assert!(check_from(&Register, 5, &window).is_ok());
        assert!(check(&Register, &window).is_err());
    }

    #[test]
    fn a_violation_displays_the_prefix_the_candidates_and_the_history() {
        let history = [
            ev(0, QueueOp::Push(1), None, 0, 10),
            ev(1, QueueOp::Pop, None, 20, 30),
        ];
        let text = check(&Queue, &history).unwrap_err().to_string();
        assert!(
            text.contains("longest linearizable prefix (1 operations)"),
            "{text}"
        );
        assert!(
            text.contains("#0 thread 0 [0, 10]: Push(1) -> None"),
            "{text}"
        );
        assert!(text.contains("state after that prefix: [1]"), "{text}");
        assert!(
            text.contains("#1 thread 1 [20, 30]: Pop -> None (specification returns Some(1))"),
            "{text}"
        );
    }

    #[test]
    fn simulated_histories_are_linearizable() {
        for seed in 0..20 {
            let register = simulate(&Register, 4, 200, seed, random_register_op);
            assert!(check(&Register, &register).is_ok(), "register, seed {seed}");
            let queue = simulate(&Queue, 4, 200, seed, random_queue_op);
            assert!(check(&Queue, &queue).is_ok(), "queue, seed {seed}");
            let map = simulate(&Map, 4, 200, seed, random_map_op);
            assert!(
                check_partitioned(&Map, &map, MapOp::key).is_ok(),
                "map, seed {seed}"
            );
        }
    }

    #[test]
    fn a_simulated_history_with_one_impossible_read_is_rejected() {
        for seed in 0..20 {
            let mut history = simulate(&Register, 4, 200, seed, random_register_op);
            let read = history
                .iter()
                .rposition(|e| matches!(e.op, RegOp::Read))
                .unwrap();
            history[read].ret = Some(99);
            assert!(check(&Register, &history).is_err(), "seed {seed}");
        }
    }

    /// Whether some order of the events not in `used` respects real time and replays on
    /// `spec` from `state`, trying every order.
    fn brute_force<S: Spec>(
        spec: &S,
        state: &S::State,
        events: &[Event<S::Op, S::Ret>],
        used: &mut Vec<bool>,
    ) -> bool {
        if used.iter().all(|&u| u) {
            return true;
        }
        (0..events.len()).any(|i| {
            let unused = |j: &usize| !used[*j];
            let minimal = !(0..events.len())
                .filter(unused)
                .any(|j| events[j].response < events[i].invoke);
            if used[i] || !minimal {
                return false;
            }
            let (after, ret) = spec.step(state, &events[i].op);
            if ret != events[i].ret {
                return false;
            }
            used[i] = true;
            let found = brute_force(spec, &after, events, used);
            used[i] = false;
            found
        })
    }

    /// Asserts what a violation claims: its prefix replays to its state, and every
    /// operation that may come next returns something other than what was recorded.
    fn assert_explains<S: Spec>(spec: &S, violation: &ViolationOf<S>) {
        let mut state = spec.init();
        for &i in &violation.linearized {
            let (after, ret) = spec.step(&state, &violation.events[i].op);
            assert_eq!(ret, violation.events[i].ret);
            state = after;
        }
        assert_eq!(state, violation.state);
        assert!(!violation.next.is_empty());
        for (i, returns) in &violation.next {
            assert_eq!(*returns, spec.step(&state, &violation.events[*i].op).1);
            assert_ne!(*returns, violation.events[*i].ret);
        }
    }

    #[test]
    fn small_random_histories_agree_with_trying_every_order() {
        let mut rng = Rng(3);
        let mut outcomes = [0; 2];
        for _ in 0..2000 {
            let len = 1 + rng.below(6);
            let mut register = Vec::new();
            let mut queue = Vec::new();
            for thread in 0..len {
                let invoke = rng.below(10) as u64;
                let response = invoke + rng.below(10) as u64;
                let value = rng.below(2) as u32;
                let found = [None, Some(0), Some(1)][rng.below(3)];
                if rng.below(2) == 0 {
                    register.push(ev(thread, RegOp::Write(value), None, invoke, response));
                    queue.push(ev(thread, QueueOp::Push(value), None, invoke, response));
                } else {
                    register.push(ev(thread, RegOp::Read, found.or(Some(0)), invoke, response));
                    queue.push(ev(thread, QueueOp::Pop, found, invoke, response));
                }
            }
            let expected = brute_force(&Register, &0, &register, &mut vec![false; len]);
            match check(&Register, &register) {
                Ok(()) => assert!(expected, "{register:?}"),
                Err(violation) => {
                    assert!(!expected, "{violation}");
                    assert_explains(&Register, &violation);
                }
            }
            outcomes[usize::from(expected)] += 1;
            let expected = brute_force(&Queue, &VecDeque::new(), &queue, &mut vec![false; len]);
            match check(&Queue, &queue) {
                Ok(()) => assert!(expected, "{queue:?}"),
                Err(violation) => {
                    assert!(!expected, "{violation}");
                    assert_explains(&Queue, &violation);
                }
            }
            outcomes[usize::from(expected)] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 500), "{outcomes:?}");
    }

    #[test]
    fn the_shrinker_keeps_the_failure_and_drops_the_rest() {
        let mut history = vec![
            ev(0, RegOp::Write(1), None, 0, 10),
            ev(1, RegOp::Read, Some(0), 20, 30),
        ];
        for i in 0..100 {
            let t = 40 + 20 * i;
            history.push(ev(0, RegOp::Write(i as u32), None, t, t + 10));
            history.push(ev(1, RegOp::Read, Some(i as u32), t + 5, t + 15));
        }
        let window = smallest_failing_window(&Register, &history).unwrap();
        assert_eq!(window, history[..2]);
        assert!(check(&Register, &window).is_err());
    }

    #[test]
    fn the_shrinker_returns_a_failing_window_no_longer_than_the_history() {
        for seed in 0..10 {
            let mut history = simulate(&Queue, 4, 300, seed, random_queue_op);
            history.sort_by_key(|e| e.invoke);
            let pop = history
                .iter()
                .position(|e| e.ret.is_some() && e.invoke > 200)
                .unwrap();
            history[pop].ret = Some(5000);
            let window = smallest_failing_window(&Queue, &history).unwrap();
            assert!(check(&Queue, &window).is_err(), "seed {seed}");
            assert!(
                window.len() <= history.len() && window.len() < 300,
                "seed {seed}"
            );
            assert!(
                check(&Queue, &window[..window.len() - 1]).is_ok(),
                "seed {seed}"
            );
        }
        assert!(
            smallest_failing_window(&Queue, &simulate(&Queue, 4, 100, 1, random_queue_op))
                .is_none()
        );
    }

    #[test]
    fn long_histories_check_without_deep_recursion() {
        let mut history = simulate(&Register, 4, 10_000, 7, random_register_op);
        assert!(check(&Register, &history).is_ok());
        let end = history.iter().map(|e| e.response).max().unwrap();
        history.push(ev(0, RegOp::Write(9), None, end + 1, end + 2));
        history.push(ev(1, RegOp::Read, Some(8), end + 3, end + 4));
        let violation = check(&Register, &history).unwrap_err();
        assert_eq!(violation.linearized.len(), 10_001);
    }

    #[test]
    fn a_search_over_budget_gives_up_undecided() {
        let history = simulate(&Queue, 4, 400, 3, random_queue_op);
        assert!(matches!(
            check_within(&Queue, Queue.init(), &history, 10),
            Ok(false)
        ));
        assert!(matches!(
            check_within(&Queue, Queue.init(), &history, usize::MAX),
            Ok(true)
        ));
    }

    #[test]
    fn a_heavily_overlapping_history_checks_quickly() {
        let ops = if cfg!(debug_assertions) { 500 } else { 2000 };
        let queue = simulate(&Queue, 4, ops, 42, random_queue_op);
        let register = simulate(&Register, 4, ops, 42, random_register_op);
        let start = Instant::now();
        assert!(check(&Queue, &queue).is_ok());
        let queue_time = start.elapsed();
        let start = Instant::now();
        assert!(check(&Register, &register).is_ok());
        let register_time = start.elapsed();
        eprintln!("{ops} events from 4 threads: queue {queue_time:?}, register {register_time:?}");
    }
}
