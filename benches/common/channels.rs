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

pub(crate) enum Crossbeam {}

impl Flavor for Crossbeam {
    const NAME: &'static str = "crossbeam-channel";
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn unbounded() -> (Self::Tx, Self::Rx) {
        crossbeam_channel::unbounded()
    }
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(capacity)
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

/// flume with default features off: no async, no select.
pub(crate) enum Flume {}

impl Flavor for Flume {
    const NAME: &'static str = "flume";
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn unbounded() -> (Self::Tx, Self::Rx) {
        flume::unbounded()
    }
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(capacity)
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

pub(crate) type CrossbeamChannel = Channel<Crossbeam>;
pub(crate) type FlumeChannel = Channel<Flume>;
