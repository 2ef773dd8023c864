//! The read-ahead thread of a query: it owns the connection while the
//! result streams, decodes RESULT_BATCH frames and hands them to the
//! [`Cursor`](super::Cursor) through a queue of
//! [`READ_AHEAD_BATCHES`](super::query::READ_AHEAD_BATCHES) slots, serving
//! the cursor's CREDIT / CANCEL requests meanwhile.
//!
//! Errors are never lost: the query's last event (its end or its error) is
//! handed over however full the queue is, and a panic of the thread
//! becomes an [`ErrorKind::Internal`] error when the cursor joins it.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use arrow::array::RecordBatch;

use super::query::Terminal;
use crate::bridge::batch_decoder::{BatchDecoder, Decoded};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::egress::{ClientMessage, ServerControl};
use crate::transport::Connection;

/// How often the receiving thread looks for CREDIT / CANCEL requests while
/// it waits for the server.
const POLL: Duration = Duration::from_millis(5);

/// The connection and the per-connection decoding state; owned by the
/// receiving thread while a result streams.
pub(super) struct Session {
    pub(super) conn: Connection,
    pub(super) dec: BatchDecoder,
}

/// What the cursor asks of the receiving thread.
pub(super) enum Cmd {
    /// Grant the server more byte credit.
    Credit(u64),
    /// Cancel the query (the thread drains it to its end).
    Cancel,
}

/// What the receiving thread hands the cursor; an `End` or `Error` is
/// the last one.
pub(super) enum Event {
    /// A decoded batch and the size of its frame (for credit).
    Batch(RecordBatch, usize),
    /// How the statement ended.
    End(Terminal),
    /// Why the query failed.
    Error(Error),
}

/// Joins a receiving thread: its result, or an [`ErrorKind::Internal`]
/// error carrying the panic's text.
pub(super) fn join_receiver<T>(t: JoinHandle<T>) -> Result<T> {
    t.join()
        .map_err(|p| Error::panicked("the query's receiving thread", &*p))
}

/// Hands `ev` to the cursor, serving commands while the queue is full.
/// When serving a command fails (the connection broke), `ev` is still
/// handed over and then, unless `ev` ended the statement, the error.
fn deliver(
    s: &mut Session,
    id: i64,
    cmds: &Receiver<Cmd>,
    tx: &SyncSender<Event>,
    ev: Event,
) -> Delivery {
    let mut ev = ev;
    loop {
        match tx.try_send(ev) {
            Ok(()) => return Delivery::Taken,
            Err(TrySendError::Disconnected(_)) => return Delivery::CursorGone,
            Err(TrySendError::Full(back)) => {
                ev = back;
                if let Err(e) = serve_commands(s, id, cmds) {
                    let terminal = !matches!(ev, Event::Batch(..));
                    if tx.send(ev).is_ok() && !terminal {
                        send_terminal(tx, Event::Error(e));
                    }
                    return Delivery::Broken;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

/// How [`deliver`] ended.
enum Delivery {
    /// The cursor has the event.
    Taken,
    /// The cursor was dropped.
    CursorGone,
    /// The connection broke; the cursor has been told.
    Broken,
}

/// Hands the query's last event to the cursor however full the queue is:
/// waits for a free slot, and gives up only when the cursor is gone (then
/// nobody is left to tell).
fn send_terminal(tx: &SyncSender<Event>, ev: Event) {
    // `send` fails only when the receiving end was dropped.
    let _ = tx.send(ev);
}

fn serve_commands(s: &mut Session, id: i64, cmds: &Receiver<Cmd>) -> Result<()> {
    while let Ok(c) = cmds.try_recv() {
        let msg = match c {
            Cmd::Credit(b) => ClientMessage::Credit {
                request_id: id,
                additional_bytes: b,
            },
            Cmd::Cancel => ClientMessage::Cancel { request_id: id },
        };
        s.conn.send(&msg.to_bytes())?;
    }
    Ok(())
}

/// The receiving thread: reads frames for request `id`, decodes them and
/// passes them on until the statement ends. Returns the session when the
/// connection is still in a known state.
pub(super) fn pump(
    mut s: Session,
    id: i64,
    cmds: Receiver<Cmd>,
    tx: SyncSender<Event>,
) -> Option<Session> {
    s.dec.start_query();
    // Once the cursor is gone, cancel and drain to the end.
    let mut orphaned = false;
    loop {
        let step = (|| -> Result<Option<Event>> {
            serve_commands(&mut s, id, &cmds)?;
            let Some(frame) = s.conn.recv_timeout(Some(POLL))? else {
                return Ok(None);
            };
            // Batches of other requests (stale ones) are skipped unread.
            let Some(decoded) = s.dec.decode_for(&frame, Some(id))? else {
                return Ok(None);
            };
            Ok(match decoded {
                Decoded::Batch { batch, .. } => Some(Event::Batch(batch, frame.len())),
                Decoded::Control(c) => match c {
                    ServerControl::ResultEnd {
                        request_id,
                        final_seq,
                        total_rows,
                    } if request_id == id => Some(Event::End(Terminal::ResultEnd {
                        total_rows,
                        final_seq,
                    })),
                    ServerControl::ExecDone {
                        request_id,
                        op_type,
                        rows_affected,
                    } if request_id == id => Some(Event::End(Terminal::ExecDone {
                        rows_affected,
                        op_type,
                    })),
                    ServerControl::QueryError {
                        request_id,
                        status,
                        message,
                    } if request_id == id || request_id == -1 => {
                        Some(Event::Error(Error::server(status, message)))
                    }
                    _ => None,
                },
            })
        })();
        let ev = match step {
            Ok(None) => continue,
            Ok(Some(ev)) => ev,
            Err(e) => {
                // Transport failure or a malformed frame: the connection's
                // state is unknown, drop it. The error reaches the cursor
                // even when the read-ahead queue is full.
                send_terminal(&tx, Event::Error(e));
                return None;
            }
        };
        let end = !matches!(ev, Event::Batch(..));
        let keep = match &ev {
            Event::Error(e) => e.kind() == ErrorKind::Server,
            _ => true,
        };
        if orphaned {
            if end {
                return keep.then_some(s);
            }
            continue;
        }
        match deliver(&mut s, id, &cmds, &tx, ev) {
            Delivery::Taken => {}
            Delivery::CursorGone => {
                orphaned = true;
                if s.conn
                    .send(&ClientMessage::Cancel { request_id: id }.to_bytes())
                    .is_err()
                {
                    return None;
                }
            }
            Delivery::Broken => return None,
        }
        if end {
            return keep.then_some(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_panic_is_an_internal_error() {
        let t = std::thread::spawn(|| -> Option<u8> { panic!("decoder bug {}", 42) });
        let e = join_receiver(t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.message().contains("panicked: decoder bug 42"), "{e}");
        let t = std::thread::spawn(|| -> Option<u8> { panic!("static text") });
        let e = join_receiver(t).unwrap_err();
        assert!(e.message().ends_with("panicked: static text"), "{e}");
        let t = std::thread::spawn(|| -> Option<u8> { std::panic::panic_any(7u32) });
        let e = join_receiver(t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        let t = std::thread::spawn(|| Some(5u8));
        assert_eq!(join_receiver(t).unwrap(), Some(5));
    }
}
