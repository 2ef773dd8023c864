//! A query read on the caller's thread: no receiving thread, no queue.
//! [`Cursor::next_arrow_batch`](crate::client::Cursor::next_arrow_batch)
//! reads the next frame from the socket and decodes it in place, in the
//! connection's read buffer, as questdb-rs does.
//!
//! Why: with raw bodies (no zstd) there is nothing to overlap but the
//! decoding with the caller's own work, and on a machine with few cores
//! the hand-off to the caller cost more than it gained (measured on 2
//! cores, 2 M-row results of 10 000-row batches: the receiving thread
//! spent about the CPU of the whole peer, and the caller's wake-ups
//! competed with it and the server for the cores). The read-ahead is then
//! what the socket buffers hold and the server's credit allows.

use std::sync::Arc;

use super::{Cmd, Event, HandOff, Session, event_of};
use crate::error::{Error, ErrorKind, Result};

/// The state of a query read on the caller's thread.
pub(in crate::client) struct Inline {
    /// `None` once the connection was dropped (its state is unknown).
    session: Option<Session>,
    id: i64,
    hand_off: Arc<HandOff>,
    /// The statement's last event was read and the connection may serve
    /// the next query.
    done: bool,
    /// Why sending a command failed: the next [`Inline::next`] returns it.
    broken: Option<Error>,
}

impl Inline {
    /// Reads the result of request `id` (already sent) on `session`.
    pub(in crate::client) fn new(mut session: Session, id: i64, hand_off: Arc<HandOff>) -> Self {
        session.dec.start_query();
        Inline {
            session: Some(session),
            id,
            hand_off,
            done: false,
            broken: None,
        }
    }

    /// Reads frames until the next event of the request: a batch, its end
    /// or its error (a server error leaves the connection usable). `Err`
    /// when the connection failed or a frame was malformed: the
    /// connection is then dropped.
    pub(in crate::client) fn next(&mut self) -> Result<Event> {
        if let Some(e) = self.broken.take() {
            return Err(e);
        }
        let Some(s) = self.session.as_mut() else {
            return Err(Error::new(
                ErrorKind::Internal,
                "the query's connection was dropped",
            ));
        };
        let id = self.id;
        let ev = loop {
            let step = (|| {
                let Session { conn, dec, .. } = &mut *s;
                // Without a deadline, like the receiving thread that polls
                // until the server sends.
                let Some(frame) = conn.recv_view_timeout(None)? else {
                    return Ok(None);
                };
                let wire = frame.len();
                event_of(dec, frame, id, wire)
            })();
            match step {
                Ok(Some(ev)) => break ev,
                Ok(None) => {}
                Err(e) => {
                    self.session = None;
                    return Err(e);
                }
            }
        };
        match &ev {
            Event::Batch(..) => self.hand_off.count_decoded(),
            Event::End(_) => self.done = true,
            Event::Error(e) => self.done = e.kind() == ErrorKind::Server,
        }
        Ok(ev)
    }

    /// Sends `cmd` to the server. On failure the connection is dropped and
    /// the next [`Inline::next`] returns the error.
    pub(in crate::client) fn command(&mut self, cmd: Cmd) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if self.done {
            // The statement ended: nothing to credit or cancel.
            return;
        }
        if let Err(e) = s.conn.send(&cmd.message(self.id).to_bytes()) {
            self.session = None;
            self.broken = Some(e);
        }
    }

    /// The session, when the statement ended in a known state (its end,
    /// or an error of the server's); `None` otherwise.
    pub(in crate::client) fn into_session(self) -> Option<Session> {
        if self.done { self.session } else { None }
    }
}
