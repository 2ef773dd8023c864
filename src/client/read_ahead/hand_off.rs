//! The hand-off of decoded batches from the thread that decodes them to
//! the [`Cursor`](crate::client::Cursor): what the cursor can observe of it
//! ([`HandOff`]: batches decoded, whether the thread waits for the
//! caller), and the gate a decoding thread passes each batch through
//! ([`Gate`]: with on-demand decoding, a batch is decoded only once the
//! cursor has asked for it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

use super::Event;
use crate::protocol::egress::MSG_RESULT_BATCH;

/// What the thread that hands the batches over has done, for the cursor
/// to read: batches decoded, and whether it waits for the caller.
#[derive(Default)]
pub(in crate::client) struct HandOff {
    decoded: AtomicU64,
    waiting: AtomicBool,
}

impl HandOff {
    /// Batches decoded so far.
    pub(in crate::client) fn decoded(&self) -> u64 {
        self.decoded.load(Ordering::Acquire)
    }

    /// Counts a batch decoded on the caller's thread.
    pub(in crate::client) fn count_decoded(&self) {
        self.decoded.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the thread waits for the caller: with a decoded batch the
    /// full read-ahead queue has no slot for, or (decoding on demand) with
    /// the next batch's frame, undecoded, until the caller asks for it.
    pub(in crate::client) fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Clears [`HandOff::waiting`] when dropped.
pub(super) struct Waiting<'a>(&'a AtomicBool);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A decoding thread's side of the hand-off.
pub(super) struct Gate<'a> {
    hand_off: &'a HandOff,
    /// Decoding on demand: the cursor's asks, one per batch it waits for.
    asks: Option<Receiver<()>>,
    /// Asks not answered with a batch yet.
    open: usize,
}

impl<'a> Gate<'a> {
    /// A gate reporting to `hand_off`; with `asks`, batches are decoded on
    /// demand.
    pub(super) fn new(hand_off: &'a HandOff, asks: Option<Receiver<()>>) -> Self {
        Gate {
            hand_off,
            asks,
            open: 0,
        }
    }

    /// Whether batches are decoded on demand ([`Self::admit`] may wait
    /// for the cursor).
    pub(super) fn on_demand(&self) -> bool {
        self.asks.is_some()
    }

    /// Before decoding `frame`: decoding on demand, a result batch waits
    /// until the cursor has asked for one (or is gone). Other frames pass.
    pub(super) fn admit(&mut self, frame: &[u8]) {
        let Some(asks) = &self.asks else {
            return;
        };
        if self.open > 0 || frame.get(12) != Some(&MSG_RESULT_BATCH) {
            return;
        }
        let _waiting = self.waiting();
        // The cursor asks before each wait for an event, so one that waits
        // has asked; a cursor that is gone asks no more (`Err`), and the
        // batch is then decoded for nobody and dropped on its hand-off.
        if asks.recv().is_ok() {
            self.open += 1;
        }
    }

    /// Counts `ev` if it is a batch: call before handing it over.
    pub(super) fn count(&self, ev: &Event) {
        if matches!(ev, Event::Batch(..)) {
            self.hand_off.decoded.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// After `ev` was handed over: a batch answers an ask.
    pub(super) fn handed(&mut self, ev_was_batch: bool) {
        if ev_was_batch {
            self.open = self.open.saturating_sub(1);
        }
    }

    /// Marks the thread waiting for the caller until the guard is dropped.
    pub(super) fn waiting(&self) -> Waiting<'a> {
        self.hand_off.waiting.store(true, Ordering::Release);
        Waiting(&self.hand_off.waiting)
    }
}
