//! The queue of decoded batches between a query's decoding thread and its
//! [`Cursor`](crate::client::Cursor): a bounded single-producer,
//! single-consumer channel like `std::sync::mpsc::sync_channel`, but one
//! that wakes a waiting cursor once per *group* of batches instead of on
//! every batch.
//!
//! Why: a cursor whose caller does little per batch waits for nearly every
//! batch; with one wake per batch (the std channel) the two threads
//! switched 3-5 times per batch on 2 cores (measured with `perf stat`:
//! ~1100 context switches per 2 M-row pass of 10 000-row batches against
//! ~5 for questdb-rs, which reads on the caller's thread), and those
//! switches were most of the client CPU the peer does not spend.
//!
//! The capacity (the read-ahead) and what it bounds are unchanged: at most
//! `cap` events wait in the queue (`cap == 0`: a rendezvous, an event is
//! taken only by a cursor that waits for it). A waiting cursor is woken
//! when half the capacity is queued, when the producer calls
//! [`EventTx::flush`] (before it blocks on anything: the socket, its input,
//! a full queue) and by [`EventTx::send`] (the query's last event), so a
//! batch never waits for a wake that does not come.

use std::collections::VecDeque;
use std::sync::mpsc::{RecvTimeoutError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The queue's state, under its lock.
struct State<T> {
    items: VecDeque<T>,
    /// The cursor waits in [`EventRx::recv_timeout`].
    consumer_waiting: bool,
    /// The waiting cursor was notified (and has not woken yet).
    notified: bool,
    /// The producer waits for room in [`EventTx::send`] or
    /// [`EventTx::wait_for_room`].
    producer_waiting: bool,
    tx_gone: bool,
    rx_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled for the cursor: events, or the producer gone.
    ready: Condvar,
    /// Signalled for the producer: room, a cursor waiting (rendezvous), or
    /// the cursor gone.
    room: Condvar,
    cap: usize,
    /// Queued events at which a waiting cursor is woken.
    wake_at: usize,
}

impl<T> Shared<T> {
    /// The lock; a panic of the other side while holding it (there is no
    /// code that can panic under it) leaves the state consistent anyway.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_room(&self, s: &State<T>) -> bool {
        if self.cap == 0 {
            s.items.is_empty() && s.consumer_waiting
        } else {
            s.items.len() < self.cap
        }
    }

    /// Wakes the waiting cursor if there is anything for it.
    fn wake(&self, s: &mut State<T>) {
        if s.consumer_waiting && !s.notified && !s.items.is_empty() {
            s.notified = true;
            self.ready.notify_one();
        }
    }
}

/// The producer's end (the decoding thread).
pub(in crate::client) struct EventTx<T> {
    shared: Arc<Shared<T>>,
}

/// The cursor's end.
pub(in crate::client) struct EventRx<T> {
    shared: Arc<Shared<T>>,
}

/// A queue of `cap` events (0: a rendezvous).
pub(in crate::client) fn channel<T>(cap: usize) -> (EventTx<T>, EventRx<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(cap.max(1)),
            consumer_waiting: false,
            notified: false,
            producer_waiting: false,
            tx_gone: false,
            rx_gone: false,
        }),
        ready: Condvar::new(),
        room: Condvar::new(),
        cap,
        wake_at: cap.div_ceil(2).max(1),
    });
    (
        EventTx {
            shared: shared.clone(),
        },
        EventRx { shared },
    )
}

impl<T> EventTx<T> {
    /// Queues `ev` if there is room; a waiting cursor is woken once half
    /// the capacity is queued (a rendezvous: at once).
    pub(in crate::client) fn try_send(&self, ev: T) -> Result<(), TrySendError<T>> {
        let sh = &*self.shared;
        let mut s = sh.lock();
        if s.rx_gone {
            return Err(TrySendError::Disconnected(ev));
        }
        if !sh.has_room(&s) {
            return Err(TrySendError::Full(ev));
        }
        s.items.push_back(ev);
        if s.items.len() >= sh.wake_at {
            sh.wake(&mut s);
        }
        Ok(())
    }

    /// Queues `ev`, waiting for room as long as it takes, and wakes the
    /// cursor; `Err(ev)` when the cursor is gone.
    pub(in crate::client) fn send(&self, ev: T) -> Result<(), T> {
        let sh = &*self.shared;
        let mut s = sh.lock();
        loop {
            if s.rx_gone {
                return Err(ev);
            }
            if sh.has_room(&s) {
                break;
            }
            // Whatever is queued must reach the cursor for room to come.
            sh.wake(&mut s);
            s.producer_waiting = true;
            s = sh.room.wait(s).unwrap_or_else(|p| p.into_inner());
            s.producer_waiting = false;
        }
        s.items.push_back(ev);
        sh.wake(&mut s);
        Ok(())
    }

    /// Waits up to `timeout` for room (or the cursor gone), waking the
    /// cursor for what is queued first.
    pub(in crate::client) fn wait_for_room(&self, timeout: Duration) {
        let sh = &*self.shared;
        let mut s = sh.lock();
        sh.wake(&mut s);
        if s.rx_gone || sh.has_room(&s) {
            return;
        }
        s.producer_waiting = true;
        let (mut s, _) = sh
            .room
            .wait_timeout(s, timeout)
            .unwrap_or_else(|p| p.into_inner());
        s.producer_waiting = false;
    }

    /// Wakes a waiting cursor for the events queued: call before anything
    /// that may block.
    pub(in crate::client) fn flush(&self) {
        let sh = &*self.shared;
        sh.wake(&mut sh.lock());
    }

    /// Whether a waiting cursor has queued events it was not woken for.
    pub(in crate::client) fn wake_pending(&self) -> bool {
        let s = self.shared.lock();
        s.consumer_waiting && !s.notified && !s.items.is_empty()
    }
}

impl<T> Drop for EventTx<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.tx_gone = true;
        self.shared.ready.notify_one();
    }
}

impl<T> EventRx<T> {
    /// The next event, waiting up to `timeout`; `Disconnected` once the
    /// producer is gone and the queue empty.
    pub(in crate::client) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let sh = &*self.shared;
        let deadline = Instant::now().checked_add(timeout);
        let mut s = sh.lock();
        loop {
            if let Some(ev) = s.items.pop_front() {
                if s.producer_waiting {
                    sh.room.notify_one();
                }
                return Ok(ev);
            }
            if s.tx_gone {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Err(RecvTimeoutError::Timeout),
                },
                None => Duration::from_secs(3600),
            };
            s.consumer_waiting = true;
            s.notified = false;
            if s.producer_waiting {
                // A rendezvous producer waits for a waiting cursor.
                sh.room.notify_one();
            }
            s = sh
                .ready
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            s.consumer_waiting = false;
            s.notified = false;
        }
    }
}

impl<T> Drop for EventRx<T> {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.rx_gone = true;
        self.shared.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn events_arrive_in_order_and_the_capacity_bounds_the_queue() {
        let (tx, rx) = channel(3);
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 0);
        tx.try_send(3).unwrap();
        for i in 1..4 {
            assert_eq!(rx.recv_timeout(LONG).unwrap(), i);
        }
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        drop(tx);
        assert_eq!(rx.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn what_is_queued_is_read_after_the_producer_ends() {
        let (tx, rx) = channel(4);
        tx.try_send(1).unwrap();
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 1);
        assert_eq!(rx.recv_timeout(LONG).unwrap(), 2);
        assert_eq!(rx.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn a_gone_cursor_disconnects_the_producer() {
        let (tx, rx) = channel(2);
        drop(rx);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Disconnected(1))));
        assert_eq!(tx.send(2), Err(2));
        // Waiting for room returns at once.
        tx.wait_for_room(LONG);
    }

    /// A rendezvous takes an event only from a cursor that waits for it.
    #[test]
    fn a_rendezvous_hands_over_only_to_a_waiting_cursor() {
        let (tx, rx) = channel(0);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
        let t = std::thread::spawn(move || {
            let got: Vec<i32> = (0..3).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
            got
        });
        let mut next = 0;
        while next < 2 {
            match tx.try_send(next) {
                Ok(()) => next += 1,
                Err(TrySendError::Full(_)) => tx.wait_for_room(Duration::from_millis(50)),
                Err(TrySendError::Disconnected(_)) => panic!("cursor gone"),
            }
        }
        tx.send(2).unwrap();
        assert_eq!(t.join().unwrap(), [0, 1, 2]);
    }

    /// Events queued below the wake mark reach a waiting cursor once the
    /// producer flushes, sends, or ends; none is lost or left waiting.
    #[test]
    fn a_waiting_cursor_is_woken_for_every_event() {
        for cap in [1, 2, 4, 7] {
            let (tx, rx) = channel(cap);
            let t = std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(v) = rx.recv_timeout(LONG) {
                    got.push(v);
                }
                got
            });
            let mut sent = Vec::new();
            for i in 0..500 {
                let mut v = i;
                loop {
                    match tx.try_send(v) {
                        Ok(()) => break,
                        Err(TrySendError::Full(back)) => {
                            v = back;
                            tx.wait_for_room(Duration::from_millis(50));
                        }
                        Err(TrySendError::Disconnected(_)) => panic!("cursor gone"),
                    }
                }
                sent.push(i);
                if i % 7 == 0 {
                    // As the receiving thread does before it blocks.
                    if tx.wake_pending() {
                        tx.flush();
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            tx.send(-1).unwrap();
            sent.push(-1);
            drop(tx);
            assert_eq!(t.join().unwrap(), sent, "cap {cap}");
        }
    }

    /// An event below the wake mark waits for a flush: the cursor is
    /// not woken for it alone, and is once flushed.
    #[test]
    fn a_flush_wakes_the_cursor_for_fewer_events_than_the_mark() {
        let (tx, rx) = channel(4);
        let t = std::thread::spawn(move || rx.recv_timeout(LONG).unwrap());
        while !tx.shared.lock().consumer_waiting {
            std::thread::sleep(Duration::from_millis(1));
        }
        tx.try_send(5).unwrap();
        assert!(tx.wake_pending());
        std::thread::sleep(Duration::from_millis(30));
        assert!(!t.is_finished(), "woken for 1 event of a wake mark of 2");
        tx.flush();
        assert!(!tx.wake_pending());
        assert_eq!(t.join().unwrap(), 5);
    }
}
