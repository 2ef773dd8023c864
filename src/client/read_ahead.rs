//! The read-ahead of a query. The receiving thread owns the connection
//! while the result streams, reads the frames and serves the cursor's
//! CREDIT / CANCEL requests; the decoded batches reach the
//! [`Cursor`](super::Cursor) through a queue of
//! [`Query::read_ahead`](super::Query::read_ahead) slots (0: a
//! rendezvous). A [`HandOff`] tells the cursor how many batches were
//! decoded and whether the thread waits for it; decoding on demand, a
//! [`Gate`] holds each batch's frame undecoded until the cursor asks.
//!
//! - Raw bodies (no zstd negotiated): the receiving thread decodes each
//!   frame itself, in place in the connection's read buffer; one hand-off
//!   per batch.
//! - zstd: two stages on two threads: the receiving thread decompresses
//!   the bodies into reused buffers (and copies any other frame into one),
//!   a decoding thread decodes the frames in order into Arrow. So the next
//!   frame is read and decompressed while the previous one is decoded.
//!   When decompressing costs more than decoding, the receiving thread
//!   passes a share of the batches on compressed and the decoding thread
//!   decompresses those, so that both threads stay busy ([`balance`]).
//!
//! Errors are never lost: the query's last event (its end or its error) is
//! handed over however full the queue is, and a panic of either thread
//! becomes an [`ErrorKind::Internal`] error when the cursor joins it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;

use super::query::Terminal;
use crate::bridge::batch_decoder::{BatchDecoder, Decoded};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::FLAG_ZSTD;
use crate::protocol::egress::{
    ClientMessage, Inflater, MSG_RESULT_BATCH, ServerControl, ServerMessage, decode_server_message,
};
use crate::transport::Connection;

mod balance;
mod hand_off;
mod inline;
mod queue;

use balance::{Balance, DecodeLoad};

use hand_off::Gate;
pub(super) use hand_off::HandOff;
pub(super) use inline::Inline;
pub(super) use queue::{EventRx, EventTx, channel as event_channel};

/// Frames read ahead of the decoding thread.
const STAGED_FRAMES: usize = 2;

/// How often the receiving thread looks for CREDIT / CANCEL requests while
/// it waits for the server.
const POLL: Duration = Duration::from_millis(5);

/// How long the receiving thread waits for the server's next frame before
/// it wakes the cursor for batches queued but not announced (the queue
/// wakes a waiting cursor per group of batches, see [`queue`]): the most
/// a batch is handed over late when the server pauses.
const ANNOUNCE_AFTER: Duration = Duration::from_micros(200);

/// The connection and the per-connection decoding state; owned by the
/// receiving thread while a result streams.
pub(super) struct Session {
    pub(super) conn: Connection,
    pub(super) dec: BatchDecoder,
    /// The receiving thread's zstd state.
    pub(super) inflater: Inflater,
    /// The decoding thread's, for the batches passed on compressed.
    pub(super) spare_inflater: Inflater,
}

/// What the cursor asks of the receiving thread.
pub(super) enum Cmd {
    /// Grant the server more byte credit.
    Credit(u64),
    /// Cancel the query (the thread drains it to its end).
    Cancel,
}

impl Cmd {
    /// The message that asks it of the server, for request `id`.
    fn message(self, id: i64) -> ClientMessage {
        match self {
            Cmd::Credit(b) => ClientMessage::Credit {
                request_id: id,
                additional_bytes: b,
            },
            Cmd::Cancel => ClientMessage::Cancel { request_id: id },
        }
    }
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

/// A staged frame: one of the receiving thread's buffers (handed back for
/// reuse once decoded) and the frame's length in it. A zstd batch is
/// there decompressed, any other frame as received.
struct Body {
    buf: Vec<u8>,
    len: usize,
}

impl Body {
    fn frame(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What the receiving thread hands the decoding thread.
enum Staged {
    /// A frame (zstd bodies already decompressed) and its length on the
    /// wire (for credit).
    Frame { body: Body, wire: usize },
    /// The connection failed (or a frame could not be decompressed): the
    /// query's error; nothing follows.
    Failed(Error),
}

/// Hands the query's last event to the cursor however full the queue is:
/// waits for a free slot, and gives up only when the cursor is gone (then
/// nobody is left to tell).
fn send_terminal(tx: &EventTx<Event>, ev: Event) {
    // `send` fails only when the receiving end was dropped.
    let _ = tx.send(ev);
}

fn serve_commands(conn: &mut Connection, id: i64, cmds: &Receiver<Cmd>) -> Result<()> {
    while let Ok(c) = cmds.try_recv() {
        conn.send(&c.message(id).to_bytes())?;
    }
    Ok(())
}

/// Flags shared by the two stages.
#[derive(Default)]
struct Shared {
    /// The decoding thread has ended (its result is known, or it
    /// panicked): the receiving thread stops.
    decoder_done: AtomicBool,
    /// The cursor was dropped: the receiving thread cancels the query and
    /// drains it.
    orphaned: AtomicBool,
    /// The decoding thread's time per frame, and whether it waits.
    load: DecodeLoad,
}

/// Sets [`Shared::decoder_done`] when the decoding thread ends, also by a
/// panic.
struct DoneGuard<'a>(&'a AtomicBool);

impl Drop for DoneGuard<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The receiving thread: reads frames for request `id`, hands them to a
/// decoding thread which passes the batches on until the statement ends.
/// Returns the session when the connection is still in a known state.
pub(super) fn pump(
    s: Session,
    id: i64,
    cmds: Receiver<Cmd>,
    tx: EventTx<Event>,
    hand_off: &HandOff,
    asks: Option<Receiver<()>>,
) -> Option<Session> {
    let mut gate = Gate::new(hand_off, asks);
    if inline_decoding(&s.conn) {
        return pump_inline(s, id, &cmds, &tx, &mut gate);
    }
    let Session {
        conn,
        mut dec,
        inflater,
        mut spare_inflater,
    } = s;
    let version = conn.handshake().version;
    let shared = Shared::default();
    let (staged_tx, staged_rx) = mpsc::sync_channel(STAGED_FRAMES);
    let (spare_tx, spare_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let decoder = std::thread::Builder::new()
            .name(format!("qwp-decode-{id}"))
            .spawn_scoped(scope, || {
                let _done = DoneGuard(&shared.decoder_done);
                let mut stage = DecodeStage {
                    dec: &mut dec,
                    inflater: &mut spare_inflater,
                    version,
                    id,
                };
                let keep = stage.run(staged_rx, spare_tx, &tx, &shared, &mut gate);
                (keep, dec, spare_inflater)
            });
        let decoder = match decoder {
            Ok(d) => d,
            Err(e) => {
                send_terminal(
                    &tx,
                    Event::Error(Error::wrap(
                        ErrorKind::Io,
                        "spawning the query's decoder",
                        e,
                    )),
                );
                return None;
            }
        };
        let received = receive_stage(conn, inflater, id, &cmds, staged_tx, spare_rx, &shared);
        let (keep, dec, spare_inflater) = match decoder.join() {
            Ok(r) => r,
            // The cursor's join reports it as an internal error.
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let (conn, inflater) = received?;
        keep.then_some(Session {
            conn,
            dec,
            inflater,
            spare_inflater,
        })
    })
}

/// Whether the receiving thread decodes the frames itself: when the
/// server sends raw bodies (no zstd negotiated) a second thread would
/// only add a hand-off per frame; with zstd, decompressing the next frame
/// while the previous one is decoded pays.
fn inline_decoding(conn: &Connection) -> bool {
    conn.handshake().content_encoding.is_none()
}

/// Why [`deliver`] could not hand an event over.
enum Undelivered {
    /// The cursor is gone.
    Orphaned,
    /// The connection broke while the queue was full (the cursor has
    /// been told).
    Broken,
}

/// Hands `ev` to the cursor, serving its commands while the queue is
/// full.
fn deliver(
    conn: &mut Connection,
    id: i64,
    cmds: &Receiver<Cmd>,
    tx: &EventTx<Event>,
    gate: &mut Gate<'_>,
    ev: Event,
) -> std::result::Result<(), Undelivered> {
    gate.count(&ev);
    let batch = matches!(ev, Event::Batch(..));
    let mut ev = ev;
    let mut _waiting = None;
    loop {
        match tx.try_send(ev) {
            Ok(()) => {
                if !batch {
                    // The query's last event: the cursor wakes for it now.
                    tx.flush();
                }
                gate.handed(batch);
                return Ok(());
            }
            Err(TrySendError::Disconnected(_)) => return Err(Undelivered::Orphaned),
            Err(TrySendError::Full(back)) => {
                _waiting.get_or_insert_with(|| gate.waiting());
                ev = back;
                if let Err(e) = serve_commands(conn, id, cmds) {
                    // What was decoded is handed over first, then the error.
                    if tx.send(ev).is_ok() {
                        send_terminal(tx, Event::Error(e));
                    }
                    return Err(Undelivered::Broken);
                }
                tx.wait_for_room(Duration::from_micros(200));
            }
        }
    }
}

/// One stage: the receiving thread reads and decodes the frames of
/// request `id` and hands the events to the cursor until the statement
/// ends. Returns the session when the connection is still in a known
/// state.
fn pump_inline(
    s: Session,
    id: i64,
    cmds: &Receiver<Cmd>,
    tx: &EventTx<Event>,
    gate: &mut Gate<'_>,
) -> Option<Session> {
    let Session {
        mut conn,
        mut dec,
        inflater,
        spare_inflater,
    } = s;
    dec.start_query();
    let version = conn.handshake().version;
    // Once the cursor is gone: cancel, then drain to the end unread.
    let mut orphaned = false;
    let mut cancelled = false;
    loop {
        if orphaned && !cancelled {
            cancelled = true;
            if conn
                .send(&ClientMessage::Cancel { request_id: id }.to_bytes())
                .is_err()
            {
                return None;
            }
        }
        let step = (|| -> Result<Option<(Option<Event>, bool)>> {
            serve_commands(&mut conn, id, cmds)?;
            // Batches the cursor waits for but was not woken for are
            // announced if the next frame does not come at once.
            let pending = tx.wake_pending();
            let wait = if pending { ANNOUNCE_AFTER } else { POLL };
            let Some(frame) = conn.recv_view_timeout(Some(wait))? else {
                if pending {
                    tx.flush();
                }
                return Ok(None);
            };
            if orphaned {
                return Ok(Some((None, ends(frame, version, id)?)));
            }
            if gate.on_demand() {
                // The gate may wait for the cursor: it must have what is
                // queued first.
                tx.flush();
            }
            gate.admit(frame);
            let ev = event_of(&mut dec, frame, id, frame.len())?;
            let last = ev.as_ref().is_some_and(|e| !matches!(e, Event::Batch(..)));
            Ok(Some((ev, last)))
        })();
        let (ev, last) = match step {
            Ok(None) | Ok(Some((None, false))) => continue,
            Ok(Some(x)) => x,
            Err(e) => {
                // A transport failure or a malformed frame: the
                // connection's state is unknown, drop it.
                if !orphaned {
                    send_terminal(tx, Event::Error(e));
                }
                return None;
            }
        };
        let keep = match &ev {
            Some(Event::Error(e)) => e.kind() == ErrorKind::Server,
            _ => true,
        };
        if let Some(ev) = ev
            && !orphaned
        {
            match deliver(&mut conn, id, cmds, tx, gate, ev) {
                Ok(()) => {}
                Err(Undelivered::Orphaned) => orphaned = true,
                Err(Undelivered::Broken) => return None,
            }
        }
        if last {
            return keep.then_some(Session {
                conn,
                dec,
                inflater,
                spare_inflater,
            });
        }
    }
}

/// Whether `frame` ends request `id` (its RESULT_END, EXEC_DONE or
/// QUERY_ERROR, or a QUERY_ERROR of no request).
fn ends(frame: &[u8], version: u8, id: i64) -> Result<bool> {
    if frame.get(12) == Some(&MSG_RESULT_BATCH) {
        return Ok(false);
    }
    Ok(match decode_server_message(frame, version)? {
        ServerMessage::Control(
            ServerControl::ResultEnd { request_id, .. }
            | ServerControl::ExecDone { request_id, .. },
        ) => request_id == id,
        ServerMessage::Control(ServerControl::QueryError { request_id, .. }) => {
            request_id == id || request_id == -1
        }
        _ => false,
    })
}

/// A zstd RESULT_BATCH of request `id` as the same frame with its body
/// decompressed; any other frame as it is; either in a reused buffer.
fn stage_frame(
    frame: &[u8],
    version: u8,
    id: i64,
    inflater: &mut Inflater,
    spare: &Receiver<Vec<u8>>,
) -> Result<Staged> {
    let buf = spare.try_recv().unwrap_or_default();
    let body = inflate_frame(frame, version, id, inflater, buf)?;
    Ok(Staged::Frame {
        body,
        wire: frame.len(),
    })
}

/// Whether `frame` is a RESULT_BATCH with a zstd body.
fn is_zstd_batch(frame: &[u8]) -> bool {
    frame.get(12) == Some(&MSG_RESULT_BATCH) && frame.get(5).is_some_and(|f| f & FLAG_ZSTD != 0)
}

/// `frame` as it is, in `buf`, staged.
fn copy_frame(frame: &[u8], buf: Vec<u8>) -> Staged {
    Staged::Frame {
        body: copy_body(frame, buf),
        wire: frame.len(),
    }
}

/// `frame` as it is, in `buf`.
fn copy_body(frame: &[u8], mut buf: Vec<u8>) -> Body {
    let len = frame.len();
    if buf.len() < len {
        buf.resize(len, 0);
    }
    buf[..len].copy_from_slice(frame);
    Body { buf, len }
}

/// A zstd RESULT_BATCH of request `id` as the same frame with its body
/// decompressed, any other frame as it is, in `buf`: what
/// [`stage_frame`] stages, and what the decoding thread makes of a batch
/// passed on compressed.
fn inflate_frame(
    frame: &[u8],
    version: u8,
    id: i64,
    inflater: &mut Inflater,
    mut buf: Vec<u8>,
) -> Result<Body> {
    let raw = match decode_server_message(frame, version) {
        Ok(ServerMessage::Batch(raw)) if raw.flags & FLAG_ZSTD != 0 && raw.request_id == id => raw,
        // Anything else (errors too) is the decoding thread's to judge.
        _ => return Ok(copy_body(frame, buf)),
    };
    let at = raw.body_offset;
    if buf.len() < at {
        buf.resize(at, 0);
    }
    buf[..at].copy_from_slice(&frame[..at]);
    let len = inflater.inflate_into(raw.body, at, &mut buf, at)?;
    buf[5] &= !FLAG_ZSTD;
    let payload = u32::try_from(len - 12).map_err(|_| {
        Error::protocol(
            at,
            format!("a batch of {len} bytes decompressed exceeds 4 GiB"),
        )
    })?;
    buf[8..12].copy_from_slice(&payload.to_le_bytes());
    Ok(Body { buf, len })
}

/// Hands `item` to the decoding thread, serving the cursor's commands while
/// its queue is full. `Err` when the decoding thread is gone or the
/// connection broke (then the decoding thread has been told).
fn stage(
    conn: &mut Connection,
    id: i64,
    cmds: &Receiver<Cmd>,
    staged: &SyncSender<Staged>,
    item: Staged,
) -> std::result::Result<(), ()> {
    let mut item = item;
    loop {
        match staged.try_send(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(_)) => return Err(()),
            Err(TrySendError::Full(back)) => {
                item = back;
                if let Err(e) = serve_commands(conn, id, cmds) {
                    // What was read is handed over first, then the error.
                    if staged.send(item).is_ok() {
                        let _ = staged.send(Staged::Failed(e));
                    }
                    return Err(());
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

/// Stage one: reads and decompresses frames until the statement's last
/// one, serving the cursor's commands. Returns the connection (and the
/// zstd state) unless it broke or its state is unknown.
fn receive_stage(
    mut conn: Connection,
    mut inflater: Inflater,
    id: i64,
    cmds: &Receiver<Cmd>,
    staged: SyncSender<Staged>,
    spare: Receiver<Vec<u8>>,
    shared: &Shared,
) -> Option<(Connection, Inflater)> {
    let version = conn.handshake().version;
    let mut cancelled = false;
    let mut balance = Balance::default();
    // Since the last frame was handed on: the time spent reading.
    let mut since = Instant::now();
    loop {
        if shared.decoder_done.load(Ordering::Acquire) {
            // The decoder ended first: a malformed frame (or a panic).
            return None;
        }
        if !cancelled && shared.orphaned.load(Ordering::Acquire) {
            // Nobody reads the result any more: cancel, drain to its end.
            cancelled = true;
            if conn
                .send(&ClientMessage::Cancel { request_id: id }.to_bytes())
                .is_err()
            {
                return None;
            }
        }
        let step = (|| -> Result<Option<(Staged, bool)>> {
            serve_commands(&mut conn, id, cmds)?;
            let Some(frame) = conn.recv_view_timeout(Some(POLL))? else {
                return Ok(None);
            };
            let last = ends(frame, version, id);
            let item = if is_zstd_batch(frame) {
                balance.read(since.elapsed());
                if balance.pass_on(&shared.load) {
                    copy_frame(frame, spare.try_recv().unwrap_or_default())
                } else {
                    let t = Instant::now();
                    let item = stage_frame(frame, version, id, &mut inflater, &spare)?;
                    balance.inflated(t.elapsed());
                    item
                }
            } else {
                stage_frame(frame, version, id, &mut inflater, &spare)?
            };
            // A frame that does not parse is the decoder's to report; the
            // connection's state is then unknown, so reading stops.
            Ok(Some((item, last.unwrap_or(true))))
        })();
        match step {
            Ok(None) => {}
            Ok(Some((item, last))) => {
                if stage(&mut conn, id, cmds, &staged, item).is_err() {
                    return None;
                }
                since = Instant::now();
                if last {
                    return Some((conn, inflater));
                }
            }
            Err(e) => {
                // Transport failure or a body that does not decompress:
                // the connection's state is unknown, drop it.
                let _ = staged.send(Staged::Failed(e));
                return None;
            }
        }
    }
}

/// The cursor's event for `frame` (`wire` bytes on the wire): a batch of
/// request `id`, its end or its error; `None` for frames it does not
/// concern (stale batches, CACHE_RESET, ...).
pub(super) fn event_of(
    dec: &mut BatchDecoder,
    frame: &[u8],
    id: i64,
    wire: usize,
) -> Result<Option<Event>> {
    // Batches of other requests (stale ones) are skipped unread.
    let Some(decoded) = dec.decode_for(frame, Some(id))? else {
        return Ok(None);
    };
    Ok(match decoded {
        Decoded::Batch { batch, .. } => Some(Event::Batch(batch, wire)),
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
}

/// Hands `ev` to the cursor, waiting for a slot as long as it takes (the
/// receiving thread serves the cursor's commands meanwhile); `false` when
/// the cursor is gone.
fn hand_over(tx: &EventTx<Event>, gate: &mut Gate<'_>, ev: Event) -> bool {
    gate.count(&ev);
    let batch = matches!(ev, Event::Batch(..));
    let taken = match tx.try_send(ev) {
        Ok(()) => {
            if !batch {
                // The query's last event: the cursor wakes for it now.
                tx.flush();
            }
            true
        }
        Err(TrySendError::Disconnected(_)) => false,
        Err(TrySendError::Full(ev)) => {
            let _waiting = gate.waiting();
            tx.send(ev).is_ok()
        }
    };
    if taken {
        gate.handed(batch);
    }
    taken
}

/// Stage two: the decoder, and the zstd state for the batches the
/// receiving thread passes on compressed.
struct DecodeStage<'a> {
    dec: &'a mut BatchDecoder,
    inflater: &'a mut Inflater,
    version: u8,
    id: i64,
}

impl DecodeStage<'_> {
    /// Decodes the staged frames in order (decompressing those passed on
    /// compressed) and passes the events to the cursor until the
    /// statement ends. Returns whether the connection stays usable (the
    /// statement ended, or failed on the server's word).
    fn run(
        &mut self,
        staged: Receiver<Staged>,
        spare: Sender<Vec<u8>>,
        tx: &EventTx<Event>,
        shared: &Shared,
        gate: &mut Gate<'_>,
    ) -> bool {
        self.dec.start_query();
        // Once the cursor is gone, the receiving thread cancels; this drains.
        let mut orphaned = false;
        // What batches passed on compressed are decompressed into.
        let mut own = Vec::new();
        loop {
            // The next frame, waking the cursor for what is queued if it
            // has to wait for it.
            let next = match staged.try_recv() {
                Ok(item) => Ok(item),
                Err(TryRecvError::Empty) => {
                    tx.flush();
                    shared.load.set_idle(true);
                    let item = staged.recv().map_err(|_| ());
                    shared.load.set_idle(false);
                    item
                }
                Err(TryRecvError::Disconnected) => Err(()),
            };
            let Ok(item) = next else {
                // The receiving thread stopped (it told the cursor why, or
                // the cursor is gone).
                return false;
            };
            let (body, wire) = match item {
                Staged::Frame { body, wire } => (body, wire),
                Staged::Failed(e) => {
                    send_terminal(tx, Event::Error(e));
                    return false;
                }
            };
            let (body, inflated_here) = if is_zstd_batch(body.frame()) {
                let res = inflate_frame(
                    body.frame(),
                    self.version,
                    self.id,
                    self.inflater,
                    std::mem::take(&mut own),
                );
                // The receiving thread may be gone; the buffer is then freed.
                let _ = spare.send(body.buf);
                match res {
                    Ok(body) => (body, true),
                    Err(e) => {
                        // A body that does not decompress: the query's
                        // error, as when the receiving thread finds it.
                        send_terminal(tx, Event::Error(e));
                        return false;
                    }
                }
            } else {
                (body, false)
            };
            if !orphaned {
                if gate.on_demand() {
                    tx.flush();
                }
                gate.admit(body.frame());
            }
            let t = Instant::now();
            let step = event_of(self.dec, body.frame(), self.id, wire);
            shared.load.decoded(t.elapsed());
            if inflated_here {
                own = body.buf;
            } else {
                let _ = spare.send(body.buf);
            }
            let ev = match step {
                Ok(None) => continue,
                Ok(Some(ev)) => ev,
                Err(e) => {
                    // A malformed frame: the connection's state is unknown,
                    // drop it. The error reaches the cursor even when the
                    // read-ahead queue is full.
                    send_terminal(tx, Event::Error(e));
                    return false;
                }
            };
            let end = !matches!(ev, Event::Batch(..));
            let keep = match &ev {
                Event::Error(e) => e.kind() == ErrorKind::Server,
                _ => true,
            };
            if !orphaned && !hand_over(tx, gate, ev) {
                orphaned = true;
                shared.orphaned.store(true, Ordering::Release);
            }
            if end {
                return keep;
            }
        }
    }
}

#[cfg(test)]
mod tests;
