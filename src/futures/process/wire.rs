//! What parent and worker say to each other over a worker's socket: length-prefixed frames
//! (a little-endian `u32` length, then that many bytes) of `postcard`-encoded messages.
//!
//! The parent encodes a request's frame once, when the task is submitted, so a request too
//! large for a frame fails its own future there and never reaches a worker.
//!
//! Neither side trusts the other's frames. A reader refuses a length over its limit before
//! reading on: [`MAX_FRAME`] for the worker's requests, the pool's `max_reply_bytes` for the
//! parent's replies (a worker shrinks a reply to fit, see [`fit`]). A frame's buffer grows
//! with the bytes that arrive — by at most [`FIRST_READ`] or the bytes already read — so a
//! length that lies costs nothing. Decoding a frame of `n` bytes allocates O(n): postcard
//! preallocates a sequence for no more elements than bytes left, a byte string is copied from
//! the frame, and a reply must hold exactly one outcome per argument the parent sent.
//! A frame that does not decode, or has bytes left over, is [`io::ErrorKind::InvalidData`]:
//! the worker on the other end is lying, not dying. `tests.rs` runs arbitrary and truncated
//! input through the readers under an allocation meter.

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::io::{self, Read, Write};
use std::marker::PhantomData;

/// The largest frame either side sends or accepts (1 GiB).
pub(super) const MAX_FRAME: usize = 1 << 30;

/// How much of a frame a reader makes room for before any of it arrived.
pub(super) const FIRST_READ: usize = 64 << 10;

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
    let mut bytes = Vec::new();
    while bytes.len() < len {
        let have = bytes.len();
        let more = (len - have).min(have.max(FIRST_READ));
        bytes.reserve_exact(more);
        bytes.resize(have + more, 0);
        from.read_exact(&mut bytes[have..])
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => io::Error::new(
                    e.kind(),
                    format!("the connection ended inside a frame of {len} bytes"),
                ),
                _ => e,
            })?;
    }
    Ok(Some(bytes))
}

/// Decodes all of a frame's `bytes` with `seed`.
fn decode_frame<'de, S: DeserializeSeed<'de>>(bytes: &'de [u8], seed: S) -> io::Result<S::Value> {
    let undecodable = |e: postcard::Error| {
        invalid(format!(
            "an undecodable frame of {} bytes: {e}",
            bytes.len()
        ))
    };
    let mut deserializer = postcard::Deserializer::from_bytes(bytes);
    let value = seed.deserialize(&mut deserializer).map_err(undecodable)?;
    match deserializer.finalize().map_err(undecodable)? {
        [] => Ok(value),
        rest => Err(invalid(format!(
            "a frame of {} bytes with {} bytes after its message",
            bytes.len(),
            rest.len()
        ))),
    }
}

/// Reads one frame's message (a worker's request): `Ok(None)` if the other side closed the
/// connection between frames.
pub(super) fn receive<T: DeserializeOwned>(from: &mut impl Read) -> io::Result<Option<T>> {
    match read_frame(from, MAX_FRAME)? {
        Some(bytes) => decode_frame(&bytes, PhantomData).map(Some),
        None => Ok(None),
    }
}

/// Reads a reply of at most `limit` bytes that must hold `expected` outcomes: `Ok(None)` if
/// the worker closed the connection between frames.
pub(super) fn receive_reply(
    from: &mut impl Read,
    limit: usize,
    expected: usize,
) -> io::Result<Option<Reply>> {
    match read_frame(from, limit)? {
        Some(bytes) => decode_frame(&bytes, Outcomes(expected)).map(Some),
        None => Ok(None),
    }
}

/// Decodes a reply of exactly this many outcomes.
struct Outcomes(usize);

impl<'de> DeserializeSeed<'de> for Outcomes {
    type Value = Reply;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Reply, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Outcomes {
    type Value = Reply;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} outcomes", self.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Reply, A::Error> {
        // The parent's own count of the arguments it sent: safe to make room for.
        let mut outcomes = Vec::with_capacity(self.0);
        while outcomes.len() < self.0 {
            match seq.next_element()? {
                Some(outcome) => outcomes.push(outcome),
                None => return Err(de::Error::invalid_length(outcomes.len(), &self)),
            }
        }
        // postcard's hint is the count of elements left (None if fewer bytes than that are
        // left): anything but 0 means more outcomes than arguments.
        match seq.size_hint() {
            Some(0) => Ok(outcomes),
            _ => Err(de::Error::custom(format_args!(
                "more than the {} outcomes expected",
                self.0
            ))),
        }
    }
}

/// The encoded size of `value`.
fn size<T: Serialize + ?Sized>(value: &T) -> usize {
    // Err: impossible, every outcome is encodable (it was encoded once already, or is a
    // `Failure`); counting it as too large only fails it.
    postcard::experimental::serialized_size(value).unwrap_or(usize::MAX)
}

/// Makes `reply` fit in `limit` bytes encoded, if it can, by failing its largest values one
/// by one with [`Failure::BadResult`]: a value too large for the pool's replies fails its own
/// call, not the pool.
pub(super) fn fit(reply: &mut Reply, limit: usize) {
    let mut total = size(reply);
    while total > limit {
        let largest = reply
            .iter_mut()
            .filter(|outcome| outcome.is_ok())
            .max_by_key(|outcome| size(&**outcome));
        let Some(largest) = largest else { return };
        let failure = Err(Failure::BadResult(format!(
            "it takes {} bytes encoded, over the pool's reply limit of {limit} bytes \
             (max_reply_bytes)",
            size(&*largest)
        )));
        total = total - size(&*largest) + size(&failure);
        *largest = failure;
    }
}
