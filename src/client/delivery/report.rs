//! What the background delivery of an [`AsyncSender`](super::AsyncSender)
//! tells its owner: server rejections as [`SenderError`]s in a bounded
//! inbox, the terminal error that stopped delivery, and counters.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::client::policy::Category;
use crate::error::{Error, ErrorKind, Status};

/// What delivery did about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applied {
    /// The transaction was dropped (`Policy::DropAndContinue`): nothing of
    /// it is stored; delivery goes on with the next one.
    Dropped,
    /// Delivery reconnects and sends again from the oldest unacknowledged
    /// frame (`retriable` / `retriable_other`).
    Retried,
    /// Delivery stopped: the sender is terminal
    /// ([`AsyncSender::must_close`](super::AsyncSender::must_close)); the
    /// frames not acknowledged stay in the queue (in `sf_dir`, for the next
    /// sender on the slot).
    Halted,
}

/// One failure of background delivery: a server rejection, or the error
/// that stopped delivery (a lost connection whose reconnect budget ran
/// out, an authentication failure, a protocol violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderError {
    /// The rejection's category (`None`: not a server rejection, or a
    /// status without one).
    pub category: Option<Category>,
    /// The server's status (`None` when the failure is not a server
    /// rejection).
    pub status: Option<Status>,
    /// The error's kind.
    pub kind: ErrorKind,
    /// What delivery did.
    pub applied: Applied,
    /// The server's (or the client's) message.
    pub message: String,
    /// The tables of the rejected frame, comma-separated (`None` when not
    /// known).
    pub table: Option<String>,
    /// FSNs of the frames of the affected transaction, inclusive (`0, 0`
    /// when no frame is concerned).
    pub from_fsn: u64,
    /// See [`SenderError::from_fsn`].
    pub to_fsn: u64,
    /// The rejected frame's sequence on its connection (`-1`: none).
    pub message_sequence: i64,
    /// When the client saw it.
    pub detected_at: SystemTime,
}

impl SenderError {
    /// The error as the crate's [`Error`] (a server rejection keeps its
    /// status), naming the FSNs and tables.
    pub fn to_error(&self) -> Error {
        let mut msg = String::new();
        if let Some(t) = &self.table {
            msg.push_str(&format!("table {t}: "));
        }
        if self.to_fsn > 0 {
            msg.push_str(&format!(
                "frames {}..={} (FSN): ",
                self.from_fsn, self.to_fsn
            ));
        }
        msg.push_str(&self.message);
        match self.status {
            Some(s) => Error::server(s, msg),
            None => Error::new(self.kind, msg),
        }
    }
}

impl std::fmt::Display for SenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.to_error(), self.applied)
    }
}

/// Counters of an [`AsyncSender`](super::AsyncSender)'s delivery, since
/// it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames queued by `publish` and the row sender.
    pub frames_published: u64,
    /// Frames written to a connection (replays included).
    pub frames_sent: u64,
    /// Frames the server answered.
    pub frames_acked: u64,
    /// Bytes of the frames written.
    pub bytes_sent: u64,
    /// Frames written again after a reconnect or a restart.
    pub frames_replayed: u64,
    /// Connection attempts after a failure (rounds over the endpoints).
    pub reconnect_attempts: u64,
    /// Reconnects that succeeded.
    pub reconnects: u64,
    /// Publishes that had to wait for room in the queue.
    pub backpressure_stalls: u64,
    /// Server rejections.
    pub server_errors: u64,
    /// Rejections not kept because the inbox was full.
    pub dropped_error_notifications: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Atomics {
    pub(crate) frames_sent: AtomicU64,
    pub(crate) frames_acked: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) frames_replayed: AtomicU64,
    pub(crate) reconnect_attempts: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) server_errors: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

#[derive(Debug)]
struct Inbox {
    errors: VecDeque<SenderError>,
    capacity: usize,
    dropped: u64,
    terminal: Option<SenderError>,
}

/// The state a runner shares with its sender.
#[derive(Debug)]
pub(crate) struct Shared {
    inbox: Mutex<Inbox>,
    pub(crate) counts: Atomics,
    /// Set by the sender: stop once every frame is acknowledged.
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// Set by the sender: stop now.
    pub(crate) abort: std::sync::atomic::AtomicBool,
    /// The highest FSN durably stored (durable acks; 0: none).
    pub(crate) durable_fsn: AtomicU64,
}

impl Shared {
    pub(crate) fn new(capacity: usize) -> Shared {
        Shared {
            inbox: Mutex::new(Inbox {
                errors: VecDeque::new(),
                capacity: capacity.max(1),
                dropped: 0,
                terminal: None,
            }),
            counts: Atomics::default(),
            closing: false.into(),
            abort: false.into(),
            durable_fsn: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panic while holding this lock leaves plain data behind: go on
        // with it rather than lose the errors.
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Files an error; a halting one also becomes the terminal error.
    pub(crate) fn report(&self, e: SenderError) {
        if e.applied == Applied::Halted {
            let mut g = self.lock();
            if g.terminal.is_none() {
                g.terminal = Some(e.clone());
            }
        }
        self.notify(e);
    }

    /// Files an error in the inbox only (a drainer's: it never makes the
    /// owner terminal).
    pub(crate) fn notify(&self, e: SenderError) {
        let mut g = self.lock();
        if g.errors.len() >= g.capacity {
            g.dropped += 1;
        } else {
            g.errors.push_back(e);
        }
    }

    pub(crate) fn poll(&self) -> Option<SenderError> {
        self.lock().errors.pop_front()
    }

    pub(crate) fn terminal(&self) -> Option<SenderError> {
        self.lock().terminal.clone()
    }

    pub(crate) fn stopping(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    pub(crate) fn counters(&self) -> Counters {
        let c = &self.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            frames_published: 0,
            frames_sent: get(&c.frames_sent),
            frames_acked: get(&c.frames_acked),
            bytes_sent: get(&c.bytes_sent),
            frames_replayed: get(&c.frames_replayed),
            reconnect_attempts: get(&c.reconnect_attempts),
            reconnects: get(&c.reconnects),
            backpressure_stalls: 0,
            server_errors: get(&c.server_errors),
            dropped_error_notifications: self.lock().dropped,
        }
    }
}

/// A client-side failure that stops delivery.
pub(crate) fn halted(e: &Error) -> SenderError {
    SenderError {
        category: e.status().and_then(Category::of),
        status: e.status(),
        kind: e.kind(),
        applied: Applied::Halted,
        message: e.to_string(),
        table: None,
        from_fsn: 0,
        to_fsn: 0,
        message_sequence: -1,
        detected_at: SystemTime::now(),
    }
}
