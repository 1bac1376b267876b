use super::registry::{Registry, TaskFn};
use super::wire::{self, Bytes, Failure, Reply, Request};
use std::io::Cursor;

fn double(x: u32) -> u32 {
    x * 2
}

fn fails(_: ()) -> u32 {
    panic!("no value here")
}

static DOUBLE: TaskFn<u32, u32> = TaskFn::new("double", double);
static FAILS: TaskFn<(), u32> = TaskFn::new("fails", fails);

#[test]
fn frames_round_trip_and_end_cleanly() {
    let mut bytes = Vec::new();
    let request = Request::Run {
        task: "double".into(),
        args: vec![Bytes(vec![1, 2]), Bytes(vec![])],
    };
    wire::send(&mut bytes, &request).unwrap();
    let reply: Reply = vec![Ok(Bytes(vec![9])), Err(Failure::Panicked("p".into()))];
    wire::send(&mut bytes, &reply).unwrap();
    let mut input = Cursor::new(bytes);
    match wire::receive::<Request>(&mut input).unwrap() {
        Some(Request::Run { task, args }) => {
            assert_eq!(task, "double");
            assert_eq!(args, [Bytes(vec![1, 2]), Bytes(vec![])]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        wire::receive_reply(&mut input, 1 << 10, 2).unwrap(),
        Some(reply)
    );
    assert_eq!(wire::receive_reply(&mut input, 1 << 10, 2).unwrap(), None);
}

#[test]
fn truncated_and_oversized_frames_are_errors() {
    let mut bytes = Vec::new();
    wire::send(&mut bytes, &vec![Ok::<Bytes, Failure>(Bytes(vec![1; 10]))]).unwrap();
    bytes.truncate(bytes.len() - 1);
    assert!(wire::receive_reply(&mut Cursor::new(bytes), 1 << 10, 1).is_err());
    let oversized = u32::MAX.to_le_bytes().to_vec();
    assert!(wire::receive::<Request>(&mut Cursor::new(oversized)).is_err());
}

#[test]
fn the_registry_runs_tasks_by_name_and_reports_failures() {
    let registry = Registry::new().register(DOUBLE).register(FAILS);
    let args = wire::encode(&21u32).unwrap();
    let value: u32 = wire::decode(&registry.call("double", &args).unwrap().0).unwrap();
    assert_eq!(value, 42);
    assert!(matches!(
        registry.call("double", &[]),
        Err(Failure::BadArguments(_))
    ));
    let unit = wire::encode(&()).unwrap();
    match registry.call("fails", &unit) {
        Err(Failure::Panicked(message)) => assert_eq!(message, "no value here"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        registry.call("nothing", &unit),
        Err(Failure::UnknownTask("nothing".into()))
    );
    assert!(format!("{registry:?}").contains("double"));
    assert!(Failure::UnknownTask("x".into())
        .to_string()
        .contains("\"x\""));
}

#[test]
#[should_panic(expected = "already registered")]
fn a_name_registered_twice_is_refused() {
    let _ = Registry::new().register(DOUBLE).register(DOUBLE);
}

/// A connection from another process than the worker started is refused.
#[cfg(not(miri))]
#[test]
fn accept_refuses_a_connection_from_a_process_it_did_not_start() {
    use std::io::Read;
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = super::socket_dir::SocketDir::create().unwrap();
    let socket = dir.socket();
    let listener = UnixListener::bind(&socket).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    // This test's own process connects first: not the child.
    let mut impostor = UnixStream::connect(&socket).unwrap();
    let limit = std::time::Duration::from_millis(500);
    let accepted = super::worker::accept(&listener, &mut child, limit);
    let _ = child.kill();
    let _ = child.wait();
    let why = accepted.expect_err("the impostor's connection was accepted");
    assert!(why.contains("did not connect"), "{why}");
    let mut end = [0; 1];
    assert_eq!(
        impostor.read(&mut end).unwrap(),
        0,
        "the impostor was not hung up on"
    );
}

/// A global allocator that meters what a thread allocates while asked to: the bytes it has
/// live at once, at most.
mod meter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Meter;

    #[global_allocator]
    static METER: Meter = Meter;

    crate::sync::thread_local! {
        /// This thread's (metering, live bytes, peak of live bytes).
        static STATE: Cell<(bool, isize, isize)> = const { Cell::new((false, 0, 0)) };
    }

    fn account(delta: isize) {
        // Err: the thread is exiting; nothing is metered then.
        let _ = STATE.try_with(|state| {
            let (on, live, peak) = state.get();
            if on {
                state.set((on, live + delta, peak.max(live + delta)));
            }
        });
    }

    fn size(bytes: usize) -> isize {
        isize::try_from(bytes).unwrap_or(isize::MAX)
    }

    // SAFETY: every method hands its arguments to `System` unchanged and returns what it
    // returns; the accounting neither allocates nor touches the memory.
    unsafe impl GlobalAlloc for Meter {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            account(size(layout.size()));
            // SAFETY: the caller upholds `alloc`'s contract, which is System's.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            account(size(layout.size()));
            // SAFETY: as for `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            account(-size(layout.size()));
            // SAFETY: the caller upholds `dealloc`'s contract; `ptr` came from System.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            account(size(new_size) - size(layout.size()));
            // SAFETY: the caller upholds `realloc`'s contract; `ptr` came from System.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Runs `f`; returns what it returns and the most bytes it had allocated at once.
    pub(super) fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
        STATE.with(|state| state.set((true, 0, 0)));
        let result = f();
        let (_, _, peak) = STATE.with(|state| state.replace((false, 0, 0)));
        (result, usize::try_from(peak).unwrap_or(0))
    }
}

#[test]
fn a_length_prefix_allocates_nothing_ahead_of_the_bytes() {
    let mut input = ((1u32 << 30) - 1).to_le_bytes().to_vec();
    input.extend([0; 10]);
    let (received, peak) =
        meter::peak(|| wire::receive_reply(&mut Cursor::new(&input), wire::MAX_FRAME, 1));
    assert!(received.is_err());
    assert!(
        peak < 2 * wire::FIRST_READ,
        "{peak} bytes allocated for 14 bytes of input"
    );
}

#[test]
fn a_reply_must_hold_one_outcome_per_argument_and_nothing_more() {
    let reply: Reply = vec![Ok(Bytes(vec![1])), Ok(Bytes(vec![2]))];
    let mut frame = Vec::new();
    wire::send(&mut frame, &reply).unwrap();
    let read = |expected| wire::receive_reply(&mut Cursor::new(&frame), 1 << 10, expected);
    assert_eq!(read(2).unwrap(), Some(reply.clone()));
    for expected in [0, 1, 3] {
        let error = read(expected).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    }
    let mut trailing = frame.clone();
    trailing.push(0);
    trailing[0] += 1;
    let error = wire::receive_reply(&mut Cursor::new(&trailing), 1 << 10, 2).unwrap_err();
    assert!(
        error.to_string().contains("1 bytes after its message"),
        "{error}"
    );
    let error = wire::receive_reply(&mut Cursor::new(&frame), frame.len() - 5, 2).unwrap_err();
    assert!(error.to_string().contains("over the limit"), "{error}");
}

#[test]
fn fit_fails_the_largest_values_until_the_reply_fits() {
    let mut reply: Reply = vec![
        Ok(Bytes(vec![1; 10])),
        Ok(Bytes(vec![2; 5_000])),
        Err(Failure::Panicked("p".into())),
        Ok(Bytes(vec![3; 3_000])),
    ];
    wire::fit(&mut reply, 4_000);
    assert_eq!(reply[0], Ok(Bytes(vec![1; 10])));
    match &reply[1] {
        Err(Failure::BadResult(why)) => assert!(why.contains("limit of 4000 bytes"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(reply[2], Err(Failure::Panicked("p".into())));
    assert_eq!(reply[3], Ok(Bytes(vec![3; 3_000])));
    assert!(wire::encode(&reply).unwrap().len() <= 4_000);
    // Nothing fits in 0 bytes: every value fails, and fit ends.
    wire::fit(&mut reply, 0);
    assert!(reply.iter().all(Result::is_err));
}

/// The wire readers fuzzed: arbitrary bytes, valid frames, their truncations and corruptions.
/// None panics, and none allocates more than the frame's limit (or the first read, if smaller)
/// plus what the bytes that arrived and the outcomes expected account for.
#[cfg(not(miri))]
mod fuzz {
    use super::meter;
    use crate::futures::process::wire::{self, Bytes, Failure, Outcome, Reply, Request};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use std::io::Cursor;

    /// The most a reader may allocate for `input` under `limit`, expecting `expected` outcomes.
    fn bound(limit: usize, input: &[u8], expected: usize) -> usize {
        limit.min(wire::FIRST_READ)
            + 2 * input.len()
            + expected * std::mem::size_of::<Outcome>()
            + 1024
    }

    /// Reads `input` as a reply and checks the bound; returns what was read.
    fn read(input: &[u8], limit: usize, expected: usize) -> std::io::Result<Option<Reply>> {
        let (read, peak) =
            meter::peak(|| wire::receive_reply(&mut Cursor::new(input), limit, expected));
        assert!(
            peak <= bound(limit, input, expected),
            "{peak} bytes allocated reading {} bytes under a limit of {limit}",
            input.len()
        );
        if let Ok(Some(reply)) = &read {
            assert_eq!(reply.len(), expected);
        }
        read
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            vec(any::<u8>(), 0..300).prop_map(|bytes| Ok(Bytes(bytes))),
            ".{0,20}".prop_map(|m| Err(Failure::Panicked(m))),
            ".{0,20}".prop_map(|m| Err(Failure::UnknownTask(m))),
            ".{0,20}".prop_map(|m| Err(Failure::BadArguments(m))),
            ".{0,20}".prop_map(|m| Err(Failure::BadResult(m))),
        ]
    }

    fn limit() -> impl Strategy<Value = usize> {
        prop_oneof![0..4096usize, Just(wire::MAX_FRAME)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn arbitrary_bytes(input in vec(any::<u8>(), 0..2048), limit in limit(), expected in 0..8usize) {
            let _ = read(&input, limit, expected);
            // The worker's reader, on the same bytes.
            let _ = wire::receive::<Request>(&mut Cursor::new(&input));
        }

        #[test]
        fn arbitrary_lengths_before_arbitrary_bytes(
            len in any::<u32>(),
            rest in vec(any::<u8>(), 0..2048),
            limit in limit(),
            expected in 0..8usize,
        ) {
            let mut input = len.to_le_bytes().to_vec();
            input.extend(rest);
            let _ = read(&input, limit, expected);
        }

        #[test]
        fn replies_round_trip_and_their_damage_is_an_error(
            reply in vec(outcome(), 0..8),
            cut in any::<Index>(),
            at in any::<Index>(),
            byte in any::<u8>(),
        ) {
            let mut frame = Vec::new();
            wire::send(&mut frame, &reply).unwrap();
            let limit = frame.len() - 4;
            prop_assert_eq!(read(&frame, limit, reply.len()).unwrap(), Some(reply.clone()));
            prop_assert!(read(&frame, limit - 1, reply.len()).is_err());
            prop_assert!(read(&frame, limit, reply.len() + 1).is_err());
            let cut = cut.index(frame.len());
            match read(&frame[..cut], limit, reply.len()) {
                Ok(None) => prop_assert_eq!(cut, 0),
                Ok(Some(_)) => prop_assert!(false, "a frame cut at {} decoded", cut),
                Err(_) => prop_assert!(cut > 0),
            }
            let mut changed = frame.clone();
            changed[at.index(frame.len())] = byte;
            let _ = read(&changed, wire::MAX_FRAME, reply.len());
        }

        #[test]
        fn requests_round_trip(task in ".{0,20}", args in vec(vec(any::<u8>(), 0..100), 0..8)) {
            let request = Request::Run { task: task.clone(), args: args.iter().cloned().map(Bytes).collect() };
            let mut frame = Vec::new();
            wire::send(&mut frame, &request).unwrap();
            match wire::receive::<Request>(&mut Cursor::new(&frame)).unwrap() {
                Some(Request::Run { task: read_task, args: read_args }) => {
                    prop_assert_eq!(read_task, task);
                    prop_assert_eq!(read_args, args.into_iter().map(Bytes).collect::<Vec<_>>());
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
