//! crossbeam-channel and flume: both halves of their channels are `Sync`, so every thread shares
//! the one pair, as with the queues. One generic [`Channel`] serves the unbounded and the bounded
//! benches; a [`Flavor`] says which crate's channel it is.

/// Which crate's channel, and its calls.
pub(crate) trait Flavor {
    const NAME: &'static str;
    type Tx: Send + Sync;
    type Rx: Send + Sync;
    fn unbounded() -> (Self::Tx, Self::Rx);
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    fn try_recv(rx: &Self::Rx) -> Option<u64>;
    fn recv(rx: &Self::Rx) -> u64;
}

/// A channel's two halves, shared by reference.
pub(crate) struct Channel<F: Flavor> {
    tx: F::Tx,
    rx: F::Rx,
}

impl<F: Flavor> Channel<F> {
    pub(crate) fn unbounded() -> Self {
        let (tx, rx) = F::unbounded();
        Self { tx, rx }
    }
    pub(crate) fn bounded(capacity: usize) -> Self {
        let (tx, rx) = F::bounded(capacity);
        Self { tx, rx }
    }
    pub(crate) fn send(&self, v: u64) {
        F::send(&self.tx, v);
    }
    pub(crate) fn try_recv(&self) -> Option<u64> {
        F::try_recv(&self.rx)
    }
    pub(crate) fn recv(&self) -> u64 {
        F::recv(&self.rx)
    }
}

/// A [`Flavor`] for a crate whose channel module has crossbeam-channel's API (flume copies it).
macro_rules! flavor {
    ($(#[$doc:meta])* $flavor:ident, $name:literal, $krate:ident) => {
        $(#[$doc])*
        pub(crate) enum $flavor {}

        impl Flavor for $flavor {
            const NAME: &'static str = $name;
            type Tx = $krate::Sender<u64>;
            type Rx = $krate::Receiver<u64>;
            fn unbounded() -> (Self::Tx, Self::Rx) {
                $krate::unbounded()
            }
            fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
                $krate::bounded(capacity)
            }
            fn send(tx: &Self::Tx, v: u64) {
                tx.send(v).expect("channel disconnected");
            }
            fn try_recv(rx: &Self::Rx) -> Option<u64> {
                rx.try_recv().ok()
            }
            fn recv(rx: &Self::Rx) -> u64 {
                rx.recv().expect("channel disconnected")
            }
        }
    };
}

flavor!(
    /// crossbeam-channel.
    Crossbeam,
    "crossbeam-channel",
    crossbeam_channel
);
flavor!(
    /// flume with default features off: no async, no select.
    Flume,
    "flume",
    flume
);

pub(crate) type CrossbeamChannel = Channel<Crossbeam>;
pub(crate) type FlumeChannel = Channel<Flume>;
