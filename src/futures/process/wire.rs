//! What parent and worker say to each other over a worker's socket: length-prefixed frames
//! (a little-endian `u32` length, then that many bytes) of `postcard`-encoded messages.
//!
//! The parent encodes a request's frame once, when the task is submitted, so a request too
//! large for a frame fails its own future there and never reaches a worker. A reader refuses
//! a length over its limit before reading on, and reports a frame it cannot decode as
//! [`io::ErrorKind::InvalidData`]: the worker on the other end is lying, not dying.

use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::io::{self, Read, Write};

/// The largest frame either side sends or accepts (1 GiB).
pub(super) const MAX_FRAME: usize = 1 << 30;

/// Encoded arguments or an encoded value, carried as postcard's byte string (its length, then
/// the bytes): one copy each way instead of one call per byte.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Bytes(pub(super) Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(bytes.to_vec()))
    }

    fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(bytes))
    }
}

/// Parent to worker.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Request {
    /// Run the initializer `task` with `args` (the first request, if the pool has one).
    Init { task: String, args: Bytes },
    /// Run `task` once per argument of `args`, in order.
    Run { task: String, args: Vec<Bytes> },
}

/// What one call in a worker produced: its encoded value, or why there is none.
pub(super) type Outcome = Result<Bytes, Failure>;

/// Worker to parent: one outcome per argument of the request, in order.
pub(super) type Reply = Vec<Outcome>;

/// Why a call in a worker produced no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// The task panicked; the panic's message.
    Panicked(String),
    /// No task of this name is registered in the worker's [`Registry`](super::Registry).
    UnknownTask(String),
    /// The arguments could not be decoded as the task's argument type.
    BadArguments(String),
    /// The task's value could not be encoded.
    BadResult(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked(message) => {
                write!(f, "the task panicked in its worker process: {message}")
            }
            Self::UnknownTask(name) => write!(
                f,
                "no task named {name:?} is registered in the worker process's Registry"
            ),
            Self::BadArguments(why) => write!(f, "cannot decode the task's arguments: {why}"),
            Self::BadResult(why) => write!(f, "cannot encode the task's value: {why}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Why a message has no frame.
#[derive(Debug)]
pub(super) enum FrameError {
    /// It cannot be encoded.
    Encode(postcard::Error),
    /// Its encoding takes this many bytes, over [`MAX_FRAME`].
    TooLarge(usize),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => e.fmt(f),
            Self::TooLarge(len) => write!(
                f,
                "it takes {len} bytes encoded, over the frame limit of {MAX_FRAME} bytes"
            ),
        }
    }
}

/// Encodes `value` compactly.
pub(super) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(value)
}

/// Decodes a value `encode` made.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// `message` as one frame, ready to be written. Its size is counted first, so a message too
/// large for a frame is refused without being copied.
pub(super) fn frame<T: Serialize + ?Sized>(message: &T) -> Result<Vec<u8>, FrameError> {
    let len = postcard::experimental::serialized_size(message).map_err(FrameError::Encode)?;
    let prefix = u32::try_from(len)
        .ok()
        .filter(|_| len <= MAX_FRAME)
        .ok_or(FrameError::TooLarge(len))?;
    let mut frame = Vec::with_capacity(4 + len);
    frame.extend_from_slice(&prefix.to_le_bytes());
    postcard::to_io(message, frame).map_err(FrameError::Encode)
}

/// Writes `message` as one frame.
pub(super) fn send<T: Serialize>(to: &mut impl Write, message: &T) -> io::Result<()> {
    let frame = frame(message).map_err(|e| io::Error::other(e.to_string()))?;
    to.write_all(&frame)?;
    to.flush()
}

/// A frame the other side should not have sent.
fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Reads one frame's bytes, refusing one over `limit` bytes before reading it; `Ok(None)` if
/// the other side closed the connection between frames.
fn read_frame(from: &mut impl Read, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0; 4];
    let mut got = 0;
    while got < prefix.len() {
        match from.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection ended inside a frame's length",
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = usize::try_from(u32::from_le_bytes(prefix)).unwrap_or(usize::MAX);
    if len > limit {
        return Err(invalid(format!(
            "a frame of {len} bytes, over the limit of {limit} bytes"
        )));
    }
    let mut bytes = vec![0; len];
    from.read_exact(&mut bytes).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(
            e.kind(),
            format!("the connection ended inside a frame of {len} bytes"),
        ),
        _ => e,
    })?;
    Ok(Some(bytes))
}

/// Reads one frame's message: `Ok(None)` if the other side closed the connection between
/// frames.
pub(super) fn receive<T: DeserializeOwned>(from: &mut impl Read) -> io::Result<Option<T>> {
    let Some(bytes) = read_frame(from, MAX_FRAME)? else {
        return Ok(None);
    };
    decode(&bytes).map(Some).map_err(|e| {
        invalid(format!(
            "an undecodable frame of {} bytes: {e}",
            bytes.len()
        ))
    })
}
