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
    assert_eq!(wire::receive::<Reply>(&mut input).unwrap(), Some(reply));
    assert_eq!(wire::receive::<Reply>(&mut input).unwrap(), None);
}

#[test]
fn truncated_and_oversized_frames_are_errors() {
    let mut bytes = Vec::new();
    wire::send(&mut bytes, &vec![Ok::<Bytes, Failure>(Bytes(vec![1; 10]))]).unwrap();
    bytes.truncate(bytes.len() - 1);
    assert!(wire::receive::<Reply>(&mut Cursor::new(bytes)).is_err());
    let oversized = u32::MAX.to_le_bytes().to_vec();
    assert!(wire::receive::<Reply>(&mut Cursor::new(oversized)).is_err());
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
