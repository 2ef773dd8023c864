//! SQL over `/read/v1` into Arrow: [`Reader`], the bind builder [`Query`]
//! and the streaming [`Cursor`].
//!
//! Where a result is read ([`Query::read_on_caller_thread`]):
//!
//! - Raw bodies (no zstd negotiated), by default: on the caller's thread.
//!   [`Cursor::next_arrow_batch`] reads the next RESULT_BATCH from the
//!   socket and decodes it in place; nothing is decoded ahead of the
//!   caller, and what is read ahead is bounded by the socket's buffers and
//!   the byte credit (with `initial_credit > 0` the cursor grants a
//!   batch's bytes again when the caller takes that batch).
//! - zstd bodies, or when [`Query::read_ahead`] or
//!   [`Query::decode_on_demand`] is asked for: on background threads (see
//!   `read_ahead`): one owns the connection, receives the next
//!   RESULT_BATCH and decompresses it (zstd) into a reused buffer while
//!   the other decodes the previous one's columns into Arrow arrays (in
//!   parallel for large batches), and the caller works on the batch
//!   before. When decompressing costs more than decoding, the receiving
//!   thread passes a share of the zstd batches on compressed for the
//!   decoding thread to decompress, so both threads stay busy. Read-ahead is then bounded: by the byte credit, by two
//!   received frames waiting for the decoder, and by a queue of decoded
//!   batches ([`Query::read_ahead`], [`READ_AHEAD_BATCHES`] by default).
//!
//! When the result ends the connection returns to its [`Reader`].
//!
//! Buffering: [`Cursor::next_arrow_batch`] and the `RecordBatchReader`
//! iterator stream; [`Cursor::fetch_all_arrow`], [`Reader::sql`] and
//! [`Reader::rows`] collect the whole result.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender as Tx};
use std::thread::JoinHandle;
use std::time::Duration;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;

pub use crate::bridge::batch_decoder::{
    BatchDecoder, Decoded, PARALLEL_DECODE_MIN_BYTES, PARALLEL_DECODE_MIN_CORES,
};
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Status;
use crate::protocol::egress::{
    QueryRequest, ServerControl, ServerInfo, ServerMessage, decode_server_message,
};
use crate::transport::{ConnectOptions, Connection, Route};

use super::connect;
use super::failover::Failover;
use super::read_ahead::{
    Cmd, Event, EventRx, HandOff, Inline, Session, event_channel, join_receiver, pump,
};

mod binds;
mod result;

pub use result::{QueryResult, Terminal};

/// Decoded batches that may wait for the caller by default (see
/// [`Query::read_ahead`]).
pub const READ_AHEAD_BATCHES: usize = 4;

/// A blocking connection to `/read/v1`. Borrow one from
/// [`QuestDb::borrow_reader`](super::QuestDb::borrow_reader) or connect one
/// yourself.
pub struct Reader {
    /// Index in `conf.addrs` of the endpoint connected last.
    endpoint: usize,
    pub(super) conf: Option<Conf>,
    pub(super) opts: ConnectOptions,
    session: Option<Session>,
    info: ServerInfo,
    next_id: i64,
    default_credit: u64,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("connected", &self.session.is_some())
            .field("info", &self.info)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

fn open(opts: &ConnectOptions) -> Result<(Session, ServerInfo)> {
    let (mut conn, hs) = Connection::connect(opts, Route::Query)?;
    let first = conn.recv()?;
    let info = match decode_server_message(&first, hs.version)? {
        ServerMessage::Control(ServerControl::ServerInfo(i)) => i,
        other => {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("expected SERVER_INFO first, got {other:?}"),
            ));
        }
    };
    Ok((
        Session {
            conn,
            dec: BatchDecoder::new(hs.version),
            inflater: crate::protocol::egress::Inflater::new(),
            spare_inflater: crate::protocol::egress::Inflater::new(),
        },
        info,
    ))
}

/// A pooled query connection
/// ([`QuestDb::borrow_reader`](super::QuestDb::borrow_reader)).
pub type PooledReader<'a> = super::pool::Pooled<'a, Reader>;

impl super::pool::Poolable for Reader {
    fn reusable(&self) -> bool {
        self.is_connected()
    }

    fn gone(&self) -> bool {
        self.peer_gone()
    }
}

impl Reader {
    /// Connects to the first endpoint of `conf` whose SERVER_INFO passes
    /// `target` (preferring `zone`; see the endpoint walk in
    /// [`crate::client`]); with `initial_connect_retry=on`, rounds repeat
    /// with backoff within `reconnect_max_duration_millis`.
    pub fn connect(conf: &Conf) -> Result<Reader> {
        if conf.scheme().is_ilp() {
            return Err(super::ilp::write_only(conf, "queries"));
        }
        let ((s, info), opts, endpoint) = connect::connect(
            conf,
            0,
            connect::initial_retry(conf),
            open,
            |(_, i): &(Session, ServerInfo)| connect::query_fit(conf, i),
        )?;
        Ok(Reader {
            endpoint,
            conf: Some(conf.clone()),
            opts,
            session: Some(s),
            info,
            next_id: 1,
            default_credit: conf.initial_credit(),
        })
    }

    /// Connects with explicit transport options.
    pub fn connect_with(opts: &ConnectOptions) -> Result<Reader> {
        let (s, info) = open(opts)?;
        Ok(Reader {
            endpoint: 0,
            conf: None,
            opts: opts.clone(),
            session: Some(s),
            info,
            next_id: 1,
            default_credit: 0,
        })
    }

    /// What the server announced in SERVER_INFO (role, zone, capabilities).
    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    /// Whether the connection is open (after a transport error it is
    /// dropped; the next query reconnects).
    pub fn is_connected(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the connection is gone (disconnected, or closed by the
    /// server while unused; see [`Connection::peer_gone`]). For the pool.
    pub(crate) fn peer_gone(&self) -> bool {
        self.session.as_ref().is_none_or(|s| s.conn.peer_gone())
    }

    fn ensure_session(&mut self) -> Result<Session> {
        if let Some(s) = self.session.take() {
            return Ok(s);
        }
        let (s, info) = match &self.conf {
            Some(conf) => {
                // After a lost connection: a round from the next endpoint.
                let (si, o, i) = connect::round(
                    conf,
                    self.endpoint + 1,
                    &open,
                    &|(_, i): &(Session, ServerInfo)| connect::query_fit(conf, i),
                )?;
                self.opts = o;
                self.endpoint = i;
                si
            }
            None => open(&self.opts)?,
        };
        self.info = info;
        Ok(s)
    }

    /// A query with bind values and options: `reader.prepare(sql)
    /// .bind_i64(7).bind_varchar("x").execute()?`.
    pub fn prepare(&mut self, sql: &str) -> Query<'_> {
        let credit = self.default_credit;
        Query {
            home: Home::Borrowed(self),
            req: QueryRequest {
                initial_credit: credit,
                ..QueryRequest::new(0, sql)
            },
            opts: Options::DEFAULT,
            failover: Failover::default(),
        }
    }

    /// Runs `sql` without binds and returns a streaming cursor.
    pub fn execute(&mut self, sql: &str) -> Result<Cursor<'_>> {
        self.prepare(sql).execute()
    }

    /// Runs a prepared request (its `request_id` is assigned here) and
    /// returns a streaming cursor.
    pub fn execute_request(&mut self, req: QueryRequest) -> Result<Cursor<'_>> {
        start(
            Home::Borrowed(self),
            req,
            Options::DEFAULT,
            Failover::default(),
        )
    }

    /// Runs SQL without binds and returns the whole result (buffers it).
    pub fn sql(&mut self, sql: &str) -> Result<QueryResult> {
        self.execute(sql)?.into_result()
    }

    /// Runs a request and returns the whole result (buffers it). With a
    /// non-zero `initial_credit`, credit is granted again after each batch.
    pub fn execute_all(&mut self, req: QueryRequest) -> Result<QueryResult> {
        self.execute_request(req)?.into_result()
    }

    /// Runs SQL and concatenates the result into one batch (buffers it).
    pub fn rows(&mut self, sql: &str) -> Result<RecordBatch> {
        match self.sql(sql)? {
            QueryResult::Rows { schema, batches } => {
                arrow::compute::concat_batches(&schema, &batches).map_err(|e| {
                    Error::arrow(ErrorKind::InvalidData, "concatenating the batches", e)
                })
            }
            QueryResult::Done { .. } => Err(Error::new(
                ErrorKind::InvalidData,
                format!("{sql:?} returned no result set"),
            )),
        }
    }

    /// The underlying connection (for sending raw messages in tests);
    /// `None` while disconnected.
    pub fn connection(&mut self) -> Option<&mut Connection> {
        self.session.as_mut().map(|s| &mut s.conn)
    }
}

/// Where a cursor's connection lives: a reader it borrows, or a pooled
/// reader it holds.
pub(crate) enum Home<'a> {
    Borrowed(&'a mut Reader),
    Pooled(Box<PooledReader<'a>>),
}

impl Home<'_> {
    pub(super) fn reader(&mut self) -> &mut Reader {
        match self {
            Home::Borrowed(r) => r,
            Home::Pooled(p) => p,
        }
    }
}

/// A query being built: binds (`$1`, `$2`, ... in order) and options.
pub struct Query<'a> {
    home: Home<'a>,
    req: QueryRequest,
    opts: Options,
    pub(super) failover: Failover<'a>,
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query").field("req", &self.req).finish()
    }
}

impl<'a> Query<'a> {
    pub(crate) fn pooled(p: PooledReader<'a>, sql: &str) -> Query<'a> {
        let credit = p.default_credit;
        Query {
            home: Home::Pooled(Box::new(p)),
            req: QueryRequest {
                initial_credit: credit,
                ..QueryRequest::new(0, sql)
            },
            opts: Options::DEFAULT,
            failover: Failover::default(),
        }
    }

    /// Byte credit for the result (0 = unbounded; default
    /// `initial_credit` of the connect string). With credit, the server
    /// pauses after that many bytes until more is granted.
    pub fn initial_credit(mut self, bytes: u64) -> Self {
        self.req.initial_credit = bytes;
        self
    }

    /// With credit, grant each batch's bytes again when the caller takes it
    /// (default `true`); `false` leaves it to [`Cursor::add_credit`].
    pub fn auto_credit(mut self, on: bool) -> Self {
        self.opts.auto_credit = on;
        self
    }

    /// Decoded batches that may wait for the caller while it works on the
    /// current one (default [`READ_AHEAD_BATCHES`]); asking for it reads
    /// the result on a receiving thread also with raw bodies (see
    /// [`Query::read_on_caller_thread`]). Besides them the
    /// receiving thread decodes one more batch, then waits for a free
    /// slot, reading nothing further: the read-ahead holds at most
    /// `batches + 1` decoded batches the caller has not taken, plus the
    /// received frame being decoded. More read-ahead rides out a consumer
    /// or a network that stalls now and then; less holds less memory. `0`
    /// is a rendezvous: the next batch is decoded while the caller works
    /// on the current one and handed over when the caller asks for it,
    /// which still overlaps the network and the decoding with the
    /// caller's work. (With zstd, up to two received frames also wait for
    /// the decoding thread.)
    pub fn read_ahead(mut self, batches: usize) -> Self {
        self.opts.read_ahead = batches;
        self.opts.ahead_asked = true;
        self
    }

    /// Decodes each batch only when the caller asks for it (default
    /// `false`; calling this reads the result on a receiving thread, see
    /// [`Query::read_on_caller_thread`]): the receiving thread still reads the next frame ahead
    /// (and with zstd decompresses it), but decodes it into Arrow only
    /// once the caller waits for the batch, so nothing waits decoded and
    /// [`Query::read_ahead`] does not matter. The read holds one decoded
    /// batch fewer than with `read_ahead(0)`: the one the caller takes,
    /// besides those it keeps, plus the frame. The decoding no longer
    /// overlaps the caller's work; the network still does.
    pub fn decode_on_demand(mut self, on: bool) -> Self {
        self.opts.on_demand = on;
        self.opts.ahead_asked = true;
        self
    }

    /// Reads and decodes the result on the caller's thread (`true`),
    /// within [`Cursor::next_arrow_batch`], or on a receiving thread with
    /// the read-ahead of [`Query::read_ahead`] (`false`). By default: on
    /// the caller's thread when the server sends raw bodies (no zstd
    /// negotiated) and neither [`Query::read_ahead`] nor
    /// [`Query::decode_on_demand`] was called; on a receiving thread
    /// otherwise.
    ///
    /// On the caller's thread nothing is decoded ahead of the caller and
    /// no thread is started: what is read ahead is what the socket's
    /// buffers hold and the byte credit allows (the server pauses when
    /// the socket is full). Credit is granted back when the caller takes a
    /// batch, as with the thread. [`Cursor::batches_decoded`] counts the
    /// batches decoded (all of them taken or being taken) and
    /// [`Cursor::waits_for_caller`] is `false`. With raw bodies this costs
    /// less CPU and wall time (no hand-off between threads); with zstd a
    /// receiving thread decompresses the next body while the previous one
    /// is decoded (the two threads sharing the decompression), which
    /// pays.
    pub fn read_on_caller_thread(mut self, on: bool) -> Self {
        self.opts.caller_thread = Some(on);
        self
    }

    /// Sends the query and waits for its first batch (or its end), so the
    /// cursor's schema is known. A server error is an
    /// [`ErrorKind::Server`] error with the status; the reader stays
    /// usable.
    pub fn execute(self) -> Result<Cursor<'a>> {
        start(self.home, self.req, self.opts, self.failover)
    }

    /// The result's schema without its rows: the query runs until its
    /// first batch, which carries the schema (the server computes and
    /// sends at most that one batch), and is then cancelled; the
    /// connection stays usable. A statement that may write is refused
    /// ([`ErrorKind::Unsupported`]) rather than run: only those that
    /// certainly only read are described (SELECT, SHOW, EXPLAIN,
    /// DESCRIBE, or WITH without a writing keyword; the rule of
    /// [`Query::replay_writes`]).
    pub fn execute_schema(self) -> Result<SchemaRef> {
        if !super::failover::read_only_sql(&self.req.sql) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "describing {:?}: only statements that certainly only read (SELECT, \
                     SHOW, EXPLAIN, DESCRIBE, WITH without a writing keyword) are \
                     described; this one would run",
                    self.req.sql
                ),
            ));
        }
        let mut cur = self.read_ahead(0).execute()?;
        let schema = cur.schema();
        cur.cancel()?;
        Ok(schema)
    }
}

/// How a cursor reads its result.
#[derive(Clone, Copy)]
struct Options {
    /// Grant each batch's bytes again when the caller takes it.
    auto_credit: bool,
    /// Decoded batches that may wait for the caller.
    read_ahead: usize,
    /// Decode each batch only when the caller asks for it.
    on_demand: bool,
    /// Read on the caller's thread (`Some(true)`) or on a receiving thread
    /// (`Some(false)`); `None`: chosen per connection.
    caller_thread: Option<bool>,
    /// [`Query::read_ahead`] or [`Query::decode_on_demand`] was called:
    /// the caller asked for a receiving thread's read-ahead.
    ahead_asked: bool,
}

impl Options {
    /// Credit granted back per batch taken, [`READ_AHEAD_BATCHES`] of
    /// read-ahead, batches decoded ahead of the caller.
    const DEFAULT: Options = Options {
        auto_credit: true,
        read_ahead: READ_AHEAD_BATCHES,
        on_demand: false,
        caller_thread: None,
        ahead_asked: false,
    };

    /// Whether a result arriving on `session` is read on the caller's
    /// thread: when asked so, else for raw bodies unless a read-ahead was
    /// asked for.
    fn on_caller_thread(&self, session: &Session) -> bool {
        self.caller_thread.unwrap_or_else(|| {
            !self.ahead_asked && session.conn.handshake().content_encoding.is_none()
        })
    }
}

fn start<'a>(
    mut home: Home<'a>,
    req: QueryRequest,
    opts: Options,
    failover: Failover<'a>,
) -> Result<Cursor<'a>> {
    // The first connect is never failed over.
    let session = home.reader().ensure_session()?;
    let credit = req.initial_credit > 0 && opts.auto_credit;
    let mut cur = Cursor {
        home,
        req,
        schema: Arc::new(Schema::empty()),
        first: None,
        running: None,
        terminal: None,
        credit,
        opts,
        hand_off: Arc::new(HandOff::default()),
        cancelling: false,
        failover,
    };
    if let Err(e) = cur.launch(session) {
        cur.fail_over(e)?;
    }
    if let Some(b) = cur.recv_event()? {
        cur.schema = b.schema();
        cur.first = Some(b);
    }
    Ok(cur)
}

/// A running execution of a query.
enum Running {
    /// Read on a receiving thread.
    Thread(Threaded),
    /// Read on the caller's thread (boxed: it holds the connection).
    Inline(Box<Inline>),
}

impl Running {
    /// Sends `cmd` to the server (a receiving thread that has ended needs
    /// none; a failed send on the caller's thread is the next event).
    fn command(&mut self, cmd: Cmd) {
        match self {
            // Fails only when the receiver has already ended.
            Running::Thread(r) => {
                let _ = r.cmds.send(cmd);
            }
            Running::Inline(i) => i.command(cmd),
        }
    }
}

/// A query's receiving thread and the channels to it.
struct Threaded {
    events: EventRx<Event>,
    cmds: Tx<Cmd>,
    /// Decoding on demand: one ask per wait for an event.
    asks: Option<Tx<()>>,
    thread: JoinHandle<Option<Session>>,
}

/// A streaming query result: an iterator of Arrow batches whose schema is
/// known before the first batch (also for an empty result).
///
/// Dropping an unfinished cursor cancels the query and drains it, so the
/// connection can be reused.
pub struct Cursor<'a> {
    pub(super) home: Home<'a>,
    /// The request (kept for a replay); its id is the running execution's.
    pub(super) req: QueryRequest,
    schema: SchemaRef,
    first: Option<RecordBatch>,
    /// `None` once the statement ended (or before it runs again).
    running: Option<Running>,
    terminal: Option<Terminal>,
    credit: bool,
    /// Its read-ahead and whether it decodes on demand.
    opts: Options,
    /// What the receiving thread decoded and whether it waits for a slot
    /// (shared with every execution's receiving thread).
    hand_off: Arc<HandOff>,
    /// Set by [`Cursor::cancel`]: a lost connection is then not failed
    /// over.
    cancelling: bool,
    pub(super) failover: Failover<'a>,
}

impl fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("request_id", &self.req.request_id)
            .field("sql", &self.req.sql)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl Cursor<'_> {
    /// The request id of this query (after a failover, of its replay).
    pub fn request_id(&self) -> i64 {
        self.req.request_id
    }

    /// The result's Arrow schema (with `questdb.*` field metadata); empty
    /// for statements without a result set.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// How the statement ended, once it did.
    pub fn terminal(&self) -> Option<&Terminal> {
        self.terminal.as_ref()
    }

    /// Batches the receiving thread has decoded so far, those taken
    /// included (after a failover replay, the replay's count on top). With
    /// [`Cursor::waits_for_caller`], what the read-ahead holds: for tests
    /// and metrics. Read on the caller's thread, the batches it decoded
    /// (each taken once decoded).
    pub fn batches_decoded(&self) -> u64 {
        self.hand_off.decoded()
    }

    /// Whether the receiving thread waits for the caller, reading nothing
    /// more: it holds a decoded batch the full read-ahead queue
    /// ([`Query::read_ahead`]) has no slot for, or, decoding on demand
    /// ([`Query::decode_on_demand`]), the next batch's frame undecoded
    /// until the caller asks for it. For tests and metrics; always `false`
    /// for a result read on the caller's thread.
    pub fn waits_for_caller(&self) -> bool {
        self.hand_off.waiting()
    }

    /// The next batch, `None` at the end. Streams.
    pub fn next_arrow_batch(&mut self) -> Result<Option<RecordBatch>> {
        if let Some(b) = self.first.take() {
            return Ok(Some(b));
        }
        self.recv_event()
    }

    /// Every remaining batch (buffers the rest of the result). After a
    /// failover replay ([`Query::on_failover_reset`]) what was collected is
    /// discarded and the replay's batches are returned: the whole result
    /// from its start, as a single server would give it.
    pub fn fetch_all_arrow(&mut self) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        loop {
            let resets = self.failover_resets();
            let Some(b) = self.next_arrow_batch()? else {
                return Ok(out);
            };
            if self.failover_resets() != resets {
                out.clear();
            }
            out.push(b);
        }
    }

    /// Grants the server `bytes` more credit (a no-op once the result has
    /// ended). The server pauses while a request's credit is at or below
    /// zero, so a grant smaller than the bytes already overdrawn does not
    /// resume it.
    pub fn add_credit(&mut self, bytes: u64) -> Result<()> {
        if let Some(r) = &mut self.running {
            // The receiver may have just seen the end; that is not an
            // error. A failed send is the next batch's error.
            r.command(Cmd::Credit(bytes));
        }
        Ok(())
    }

    /// Sends CANCEL and drains the result to its end; the connection stays
    /// usable. A no-op once the result ended.
    pub fn cancel(&mut self) -> Result<()> {
        self.first = None;
        let Some(r) = &mut self.running else {
            return Ok(());
        };
        // Fails only when the receiver has already ended (its last event
        // is then in the queue and read below) or, on the caller's
        // thread, when the connection broke (the next event says so).
        r.command(Cmd::Cancel);
        self.cancelling = true;
        loop {
            match self.recv_event() {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(e) if e.status() == Some(Status::Cancelled) => {
                    self.terminal = Some(Terminal::Cancelled);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn into_result(mut self) -> Result<QueryResult> {
        let batches = self.fetch_all_arrow()?;
        Ok(match self.terminal {
            Some(Terminal::ExecDone { rows_affected, .. }) => QueryResult::Done { rows_affected },
            _ => QueryResult::Rows {
                schema: self.schema.clone(),
                batches,
            },
        })
    }

    /// Sends the request, with a fresh request id, on `session` and starts
    /// the receiving thread. A failed send drops the connection.
    fn launch(&mut self, session: Session) -> Result<()> {
        let reader = self.home.reader();
        self.req.request_id = reader.next_id;
        reader.next_id += 1;
        let bytes = match self.req.to_bytes() {
            Ok(b) => b,
            Err(e) => {
                // Nothing was sent: the connection is still good.
                reader.session = Some(session);
                return Err(e);
            }
        };
        let mut session = session;
        // On failure the connection is unusable; the next query reconnects.
        session
            .conn
            .send(&bytes)
            .map_err(|e| e.context(format!("query {:?}", self.req.sql)))?;
        let id = self.req.request_id;
        if self.opts.on_caller_thread(&session) {
            self.running = Some(Running::Inline(Box::new(Inline::new(
                session,
                id,
                self.hand_off.clone(),
            ))));
            return Ok(());
        }
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = event_channel(self.opts.read_ahead);
        let hand_off = self.hand_off.clone();
        let (asks, asks_rx) = match self.opts.on_demand {
            true => {
                let (tx, rx) = mpsc::channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let thread = std::thread::Builder::new()
            .name(format!("qwp-query-{id}"))
            .spawn(move || pump(session, id, cmd_rx, ev_tx, &hand_off, asks_rx))
            .map_err(|e| Error::wrap(ErrorKind::Io, "spawning the receiver", e))?;
        self.running = Some(Running::Thread(Threaded {
            events: ev_rx,
            cmds: cmd_tx,
            asks,
            thread,
        }));
        Ok(())
    }

    /// Runs the query again from its start on a new connection: a round
    /// from the endpoint after the one that failed (the reader has no
    /// session after a transport error).
    pub(super) fn relaunch(&mut self) -> Result<()> {
        let session = self.home.reader().ensure_session()?;
        self.launch(session)
    }

    /// Waits for the receiving thread's next event; a transport error may
    /// fail the query over ([`Query::on_failover_reset`]) and go on with
    /// its replay.
    fn recv_event(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            let e = match self.next_event() {
                Ok(b) => return Ok(b),
                Err(e) => e,
            };
            if self.cancelling || self.running.is_some() {
                return Err(e);
            }
            self.fail_over(e)?;
        }
    }

    fn next_event(&mut self) -> Result<Option<RecordBatch>> {
        let ev = match &mut self.running {
            None => return Ok(None),
            Some(Running::Thread(r)) => match next_queued(r) {
                Some(ev) => ev,
                None => {
                    // The receiver hands over a terminal event before it
                    // returns, so it panicked (or has a bug).
                    let e = match self.finish() {
                        Err(panic) => panic,
                        Ok(()) => Error::new(
                            ErrorKind::Internal,
                            "the query's receiver stopped without a result end",
                        ),
                    };
                    return Err(e.context(format!("query {:?}", self.req.sql)));
                }
            },
            Some(Running::Inline(i)) => match i.next() {
                Ok(ev) => ev,
                Err(e) => {
                    // The connection broke or sent a malformed frame: it
                    // is dropped (the reader reconnects).
                    self.running = None;
                    return Err(e.context(format!("query {:?}", self.req.sql)));
                }
            },
        };
        match ev {
            Event::Batch(b, len) => {
                self.failover.result_set = true;
                if self.credit
                    && let Some(r) = &mut self.running
                {
                    r.command(Cmd::Credit(len as u64));
                }
                Ok(Some(b))
            }
            Event::End(t) => {
                self.terminal = Some(t);
                self.finish()
                    .map_err(|e| e.context(format!("query {:?}", self.req.sql)))?;
                Ok(None)
            }
            Event::Error(e) => {
                let e = e.context(format!("query {:?}", self.req.sql));
                Err(match self.finish() {
                    Ok(()) => e,
                    // A bug that must be seen; the query's error is its source.
                    Err(panic) => panic.with_source(e),
                })
            }
        }
    }

    /// Joins the receiving thread and hands the connection back (none
    /// when the receiver dropped it or panicked). A panic of the receiver
    /// is an [`ErrorKind::Internal`] error.
    fn finish(&mut self) -> Result<()> {
        match self.running.take() {
            None => {}
            Some(Running::Thread(r)) => {
                let Threaded {
                    events,
                    cmds,
                    asks,
                    thread,
                } = r;
                // A receiver still running sees the cursor gone (it drains).
                drop((events, cmds, asks));
                // While the query ran the reader had no session; it stays
                // without one when the receiver panicked.
                self.home.reader().session = join_receiver(thread)?;
            }
            // Kept only when the statement ended in a known state.
            Some(Running::Inline(i)) => self.home.reader().session = i.into_session(),
        }
        Ok(())
    }
}

/// The receiving thread's next event (asking for it when decoding on
/// demand); `None` when the thread is gone.
fn next_queued(r: &Threaded) -> Option<Event> {
    if let Some(asks) = &r.asks {
        // The receiver may have ended; its last event is then queued.
        let _ = asks.send(());
    }
    loop {
        match r.events.recv_timeout(Duration::from_secs(3600)) {
            Ok(ev) => return Some(ev),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        if self.running.is_some() {
            // Nobody to report to: a dropped cursor only needs its
            // connection drained (cancel) and its receiver joined.
            let _ = self.cancel();
            let _ = self.finish();
        }
    }
}

impl Iterator for Cursor<'_> {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_arrow_batch()
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
    }
}

impl RecordBatchReader for Cursor<'_> {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
