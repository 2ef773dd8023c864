//! The runner: the background thread that sends a store-and-forward queue
//! to the server, reads the acknowledgements, acknowledges the queue,
//! reconnects and replays.
//!
//! On every connection it first sends the queue's whole symbol dictionary
//! in catch-up frames (the server's dictionary starts empty on each
//! connection), then every unacknowledged frame from the oldest, then new
//! frames as they are queued, keeping at most `window` frames unanswered.
//! A frame's FSN is acknowledged in the queue only when the server
//! answered the frame that commits its transaction, so a crash never
//! loses a transaction whose deferred frames were answered but whose
//! commit was not.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::report::{Applied, SenderError, Shared, bump, halted};
use crate::client::connect::{self, Backoff, Fit};
use crate::client::policy::{Action, Category, Policies};
use crate::client::sf::SfQueue;
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ingress::{Response, catch_up, decode_message};
use crate::protocol::{FLAG_DEFER_COMMIT, HEADER_LEN, Header, INGRESS_FLAGS_MASK};
use crate::transport::frame::ClientFrame;
use crate::transport::{Connection, Handshake, Route};

/// How long without any answer to frames in flight before the connection
/// is taken for lost.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a blocking read waits before the runner looks at its flags.
const SLICE: Duration = Duration::from_millis(50);
/// How long the runner waits for the next frame, with frames in flight,
/// before it reads the answers that came meanwhile.
const TICK: Duration = Duration::from_millis(1);
/// After a halt: how long to wait for the answers to frames in flight.
const HALT_DRAIN: Duration = Duration::from_secs(5);

/// One frame written and not answered yet.
struct Inflight {
    seq: i64,
    /// `None` for a dictionary catch-up frame.
    fsn: Option<u64>,
    commit: bool,
    /// FSN of the first frame of its transaction.
    from: u64,
}

/// Why a session ended.
enum End {
    /// Asked to stop, or closing with everything acknowledged.
    Stop,
    /// Reconnect (the next endpoint first with `rotate`).
    Reconnect { rotate: bool, why: Error },
    /// Delivery stops for good; already reported.
    Halt,
}

/// A queued frame, parsed once: the publisher queues whole masked client
/// frames; a bare QWP message (as slots written by earlier versions hold)
/// is taken as it is.
#[derive(Clone, Copy)]
enum Queued<'a> {
    Frame(ClientFrame<'a>),
    Message(&'a [u8]),
}

impl<'a> Queued<'a> {
    fn of(bytes: &'a [u8]) -> Queued<'a> {
        ClientFrame::parse(bytes).map_or(Queued::Message(bytes), Queued::Frame)
    }

    /// The QWP message's length.
    fn message_len(self) -> usize {
        match self {
            Queued::Frame(f) => f.masked_payload().len(),
            Queued::Message(m) => m.len(),
        }
    }

    /// Whether the message commits its transaction (its header alone is
    /// unmasked to tell).
    fn commits(self) -> bool {
        let mut head = [0u8; HEADER_LEN];
        let head = match self {
            Queued::Frame(f) => {
                let n = f.unmask_into(&mut head);
                &head[..n]
            }
            Queued::Message(m) => m,
        };
        Header::parse_head(head, self.message_len(), 1, INGRESS_FLAGS_MASK)
            .is_ok_and(|h| h.flags & FLAG_DEFER_COMMIT == 0)
    }

    /// Sends it on `conn` (a frame with `rekey` under a fresh mask key).
    fn send(self, conn: &mut Connection, rekey: bool) -> Result<()> {
        match self {
            Queued::Frame(f) => conn.send_client_frame(f, rekey),
            Queued::Message(m) => conn.send(m),
        }
    }
}

/// Whether a queued frame commits its transaction (see [`Queued`]).
pub(crate) fn commits(frame: &[u8]) -> bool {
    Queued::of(frame).commits()
}

/// The QWP message of a queued frame (see [`Queued`]).
fn message(frame: Vec<u8>) -> Vec<u8> {
    match Queued::of(&frame) {
        Queued::Frame(f) => {
            let mut m = vec![0; f.masked_payload().len()];
            f.unmask_into(&mut m);
            m
        }
        Queued::Message(_) => frame,
    }
}

pub(crate) struct Runner {
    pub(crate) queue: Arc<SfQueue>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) conf: Conf,
    pub(crate) policies: Policies,
    pub(crate) window: usize,
    /// Frames `(after, to]` are never sent: the uncommitted tail of a
    /// transaction a crashed sender left; acknowledged together with
    /// `after`.
    pub(crate) skip: Option<(u64, u64)>,
    /// Index in `conf.addrs` of the endpoint connected last.
    pub(crate) endpoint: usize,
    /// The highest FSN ever written (frames at or below it are replays).
    pub(crate) max_sent: u64,
    /// The highest FSN whose write began: its mask key may be on the wire
    /// (a frame at or below it is sent under a new key).
    pub(crate) max_keyed: u64,
    /// Why the last connection was lost, for the error when the
    /// reconnect budget runs out.
    pub(crate) last_failure: Option<Error>,
    /// With durable acks: committed transactions (FSN of the committing
    /// frame, the tables' seqTxn) not known durable yet, oldest first.
    pub(crate) undurable: VecDeque<(u64, Vec<(String, i64)>)>,
    /// Durable seqTxn watermark per table.
    pub(crate) durable: HashMap<String, i64>,
}

impl Runner {
    /// Runs until stopped or halted; `first` is the connection made by
    /// the sender's constructor (`None`: connect here first).
    pub(crate) fn run(mut self, first: Option<(Connection, Handshake)>) {
        let mut conn = first;
        let mut rejections = 0u32;
        let mut failed_at: Option<Instant> = None;
        let mut rotate = false;
        loop {
            if self.shared.stopping() || (self.shared.closing() && self.drained()) {
                return;
            }
            let (c, hs) = match conn.take() {
                Some(c) => c,
                None => match self.connect(rotate, &mut failed_at) {
                    Ok(Some(c)) => c,
                    Ok(None) => return,
                    Err(e) => {
                        self.shared.report(halted(&e));
                        return;
                    }
                },
            };
            match self.session(c, &hs, &mut rejections) {
                End::Stop | End::Halt => return,
                End::Reconnect { rotate: r, why } => {
                    rotate = r;
                    failed_at.get_or_insert_with(Instant::now);
                    // The reason is kept for the error when the budget
                    // runs out.
                    self.last_failure = Some(why);
                }
            }
        }
    }

    /// Waits up to [`TICK`] for frame `fsn` to be queued; then the
    /// socket is only polled (zero wait). A closed queue gets no more
    /// frames: the socket is waited on for a tick instead.
    fn next_frame_or_tick(&self, fsn: u64) -> Result<Duration> {
        if self.queue.wait_appended(fsn, Some(TICK))? || !self.queue.is_closed()? {
            Ok(Duration::ZERO)
        } else {
            Ok(TICK)
        }
    }

    /// Whether every queued frame is acknowledged (or skipped).
    fn drained(&self) -> bool {
        match (self.queue.acked_fsn(), self.queue.next_fsn()) {
            (Ok(a), Ok(n)) => a + 1 >= n,
            _ => true,
        }
    }

    /// Rounds over the endpoints with backoff, within the reconnect
    /// budget counted from the first failure; `None` when asked to stop.
    fn connect(
        &mut self,
        rotate: bool,
        failed_at: &mut Option<Instant>,
    ) -> Result<Option<(Connection, Handshake)>> {
        let since = *failed_at.get_or_insert_with(Instant::now);
        let deadline = since + self.conf.reconnect_max_duration();
        let mut backoff = Backoff::until(Some(&self.conf), deadline);
        let mut start = self.endpoint + usize::from(rotate);
        loop {
            if self.shared.stopping() {
                return Ok(None);
            }
            bump(&self.shared.counts.reconnect_attempts, 1);
            match connect::round(
                &self.conf,
                start,
                &|o| Connection::connect(o, Route::Ingest),
                &|_| Fit::Yes,
            ) {
                Ok(((c, hs), _, i)) => {
                    self.endpoint = i;
                    *failed_at = None;
                    bump(&self.shared.counts.reconnects, 1);
                    return Ok(Some((c, hs)));
                }
                Err(e) if !connect::retriable(&e) => return Err(e),
                Err(e) => {
                    if !backoff.pause() {
                        let mut e = e.context(
                            "reconnect budget (reconnect_max_duration_millis) spent; the frames not acknowledged stay queued",
                        );
                        if let Some(why) = self.last_failure.take() {
                            e = e.context(format!("after: {why}"));
                        }
                        return Err(e);
                    }
                    start = self.endpoint;
                }
            }
        }
    }

    /// Sends the whole dictionary in catch-up frames (deferred, no table).
    fn catch_up(
        &self,
        conn: &mut Connection,
        budget: usize,
        inflight: &mut VecDeque<Inflight>,
        seq: &mut i64,
    ) -> Result<()> {
        let entries = self.queue.dictionary()?;
        for f in catch_up(&entries, budget) {
            conn.send_with(f.frame_len(), |out| f.write(out))?;
            inflight.push_back(Inflight {
                seq: *seq,
                fsn: None,
                commit: false,
                from: 0,
            });
            *seq += 1;
        }
        Ok(())
    }

    /// One connection: catch-up, replay, then new frames, until it fails
    /// or the runner stops.
    fn session(&mut self, mut conn: Connection, hs: &Handshake, rejections: &mut u32) -> End {
        let budget = crate::client::sender::budget_of(hs.max_batch_size);
        let mut inflight = VecDeque::new();
        let mut seq = 0i64;
        if let Err(e) = self.catch_up(&mut conn, budget, &mut inflight, &mut seq) {
            return self.lost(e);
        }
        let queue = self.queue.clone();
        let mut cursor = match queue.unacked() {
            Ok(c) => c,
            Err(e) => return self.halt(e),
        };
        let mut from = cursor.position();
        // The transaction whose rejection was reported already (dropped):
        // later answers for its frames only move the watermark.
        let mut aborted: Option<u64> = None;
        let mut last_answer = Instant::now();
        loop {
            if self.shared.stopping() {
                let _ = conn.close();
                return End::Stop;
            }
            // Fill the window.
            let mut sent_any = false;
            while inflight.len() < self.window {
                let (fsn, frame) = match cursor.next_shared() {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return self.halt(e),
                };
                if self.skip.is_some_and(|(a, b)| fsn > a && fsn <= b) {
                    from = fsn + 1;
                    continue;
                }
                let q = Queued::of(&frame);
                let (commit, len) = (q.commits(), q.message_len());
                // A frame whose key may have been on the wire (a replay, a
                // write cut part-way) goes out under a new key.
                let rekey = fsn <= self.max_keyed;
                self.max_keyed = self.max_keyed.max(fsn);
                let sent = q.send(&mut conn, rekey);
                queue.recycle(frame);
                if let Err(e) = sent {
                    return self.lost(e);
                }
                let c = &self.shared.counts;
                bump(&c.frames_sent, 1);
                bump(&c.bytes_sent, len as u64);
                if fsn <= self.max_sent {
                    bump(&c.frames_replayed, 1);
                }
                self.max_sent = self.max_sent.max(fsn);
                inflight.push_back(Inflight {
                    seq,
                    fsn: Some(fsn),
                    commit,
                    from,
                });
                seq += 1;
                if commit {
                    from = fsn + 1;
                }
                sent_any = true;
            }
            if inflight.is_empty() && self.undurable.is_empty() {
                if self.shared.closing() && self.drained() {
                    let _ = conn.close();
                    return End::Stop;
                }
                // Nothing in flight: wait for the next frame.
                if let Err(e) = self.queue.wait_appended(cursor.position(), Some(SLICE)) {
                    return self.halt(e);
                }
                last_answer = Instant::now();
                continue;
            }
            // Read what came; block on the socket only when the window is
            // full. With room and nothing sent this round, wait on the
            // queue instead, so a new frame goes out the moment it is
            // queued, and read the answers that came meanwhile every
            // TICK. (Nothing in flight: only durable acknowledgements to
            // read.)
            let full = inflight.len() >= self.window;
            let wait = if full {
                SLICE
            } else if sent_any {
                Duration::ZERO
            } else {
                match self.next_frame_or_tick(cursor.position()) {
                    Ok(wait) => wait,
                    Err(e) => return self.halt(e),
                }
            };
            let frame = match conn.recv_timeout(Some(wait)) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    if inflight.is_empty() {
                        last_answer = Instant::now();
                    } else if last_answer.elapsed() > ACK_TIMEOUT {
                        return self.lost(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "no acknowledgement within {ACK_TIMEOUT:?} for {} frames in flight",
                                inflight.len()
                            ),
                        ));
                    }
                    continue;
                }
                Err(e) => return self.lost(e),
            };
            last_answer = Instant::now();
            let resp = match Response::decode(&frame) {
                Ok(r) => r,
                Err(e) => return self.halt(e),
            };
            match resp {
                Response::Ok { sequence, tables } => {
                    if sequence >= seq {
                        return self.halt(Error::new(
                            ErrorKind::Protocol,
                            format!("OK for frame {sequence}, but only {seq} frames were sent"),
                        ));
                    }
                    let commit = inflight
                        .iter()
                        .find(|f| f.seq == sequence && f.commit)
                        .and_then(|f| f.fsn);
                    if let Err(e) = self.answered(&mut inflight, sequence, rejections) {
                        return self.halt(e);
                    }
                    if hs.durable_ack
                        && let Some(fsn) = commit
                    {
                        self.undurable.push_back((fsn, tables));
                        self.advance_durable();
                    }
                }
                Response::DurableAck { tables } => {
                    for (t, txn) in tables {
                        let w = self.durable.entry(t).or_insert(txn);
                        *w = (*w).max(txn);
                    }
                    self.advance_durable();
                }
                Response::Error {
                    status,
                    sequence,
                    message,
                } => {
                    bump(&self.shared.counts.server_errors, 1);
                    let Some(hit) = inflight.iter().find(|f| f.seq == sequence) else {
                        return self.halt(Error::server(
                            status,
                            format!(
                                "rejection of frame {sequence}, which is not in flight: {message}"
                            ),
                        ));
                    };
                    let (hit_from, hit_fsn) = (hit.from, hit.fsn);
                    if aborted == Some(hit_from) {
                        // The rest of a dropped transaction.
                        if let Err(e) = self.answered(&mut inflight, sequence, rejections) {
                            return self.halt(e);
                        }
                        continue;
                    }
                    let to = inflight
                        .iter()
                        .find(|f| f.from == hit_from && f.commit)
                        .and_then(|f| f.fsn)
                        .or(hit_fsn)
                        .unwrap_or(0);
                    let action = self.policies.action(status);
                    let mut err = SenderError {
                        category: Category::of(status),
                        status: Some(status),
                        kind: ErrorKind::Server,
                        applied: Applied::Halted,
                        message,
                        table: hit_fsn.and_then(|f| self.tables_of(f)),
                        from_fsn: if hit_fsn.is_some() { hit_from } else { 0 },
                        to_fsn: to,
                        message_sequence: sequence,
                        detected_at: SystemTime::now(),
                    };
                    match action {
                        Action::Drop => {
                            err.applied = Applied::Dropped;
                            self.shared.report(err);
                            aborted = Some(hit_from);
                            *rejections = 0;
                            if let Err(e) = self.answered(&mut inflight, sequence, rejections) {
                                return self.halt(e);
                            }
                        }
                        Action::Retry { rotate } => {
                            *rejections += 1;
                            let max = self.conf.max_frame_rejections().max(1);
                            if *rejections >= max {
                                err.message = format!(
                                    "{} (rejected {} times in a row without a commit, max_frame_rejections={max})",
                                    err.message, *rejections
                                );
                                self.halt_rejected(err, hit_fsn);
                                self.drain_in_flight(&mut conn, &mut inflight, sequence);
                                let _ = conn.close();
                                return End::Halt;
                            }
                            err.applied = Applied::Retried;
                            let why = err.to_error();
                            self.shared.report(err);
                            let _ = conn.close();
                            return End::Reconnect { rotate, why };
                        }
                        Action::Halt => {
                            self.halt_rejected(err, hit_fsn);
                            self.drain_in_flight(&mut conn, &mut inflight, sequence);
                            let _ = conn.close();
                            return End::Halt;
                        }
                    }
                }
            }
        }
    }

    /// Frames up to wire sequence `sequence` are answered: acknowledges,
    /// in the queue, the FSN of the last committing frame among them.
    fn answered(
        &self,
        inflight: &mut VecDeque<Inflight>,
        sequence: i64,
        rejections: &mut u32,
    ) -> Result<()> {
        let mut commit_fsn = None;
        let mut n = 0u64;
        while inflight.front().is_some_and(|f| f.seq <= sequence) {
            let Some(f) = inflight.pop_front() else { break };
            if let Some(fsn) = f.fsn {
                n += 1;
                if f.commit {
                    commit_fsn = Some(fsn);
                }
            }
        }
        bump(&self.shared.counts.frames_acked, n);
        if let Some(mut fsn) = commit_fsn {
            *rejections = 0;
            if let Some((a, b)) = self.skip
                && fsn >= a
            {
                fsn = fsn.max(b);
            }
            self.queue.ack(fsn)?;
        }
        Ok(())
    }

    /// A rejection that stops delivery: the rejected transaction (which
    /// can never succeed) leaves the queue, so the next sender on the slot
    /// does not replay it into the same rejection; every transaction
    /// before it was answered already (answers come in order), and the
    /// frames after it stay queued. Then the error is filed as terminal.
    fn halt_rejected(&self, mut err: SenderError, fsn: Option<u64>) {
        let to = match fsn.map(|f| self.commit_at_or_after(f)) {
            Some(Ok(to)) => to,
            Some(Err(e)) => {
                err.message
                    .push_str(&format!(" (and reading the queue failed: {e})"));
                None
            }
            None => None,
        };
        if let Some(to) = to {
            err.to_fsn = to;
            err.message
                .push_str(" (the transaction is removed from the queue; later frames stay queued)");
        }
        // Terminal first: a `wait` that sees the queue move past the
        // transaction must find the error.
        self.shared.report(err);
        if let Some(to) = to
            && let Err(e) = self.queue.ack(to)
        {
            self.shared.notify(halted(
                &e.context("removing the rejected transaction from the queue"),
            ));
        }
    }

    /// After a halt: reads the answers to the frames written behind the
    /// rejected one (`rejected`, its wire sequence), for a few seconds,
    /// so the transactions the server committed are acknowledged in the
    /// queue rather than sent again by the next sender.
    fn drain_in_flight(
        &self,
        conn: &mut Connection,
        inflight: &mut VecDeque<Inflight>,
        rejected: i64,
    ) {
        let mut none = 0u32;
        let _ = self.answered(inflight, rejected, &mut none);
        let until = Instant::now() + HALT_DRAIN;
        while !inflight.is_empty() && Instant::now() < until {
            let Ok(Some(frame)) = conn.recv_timeout(Some(SLICE)) else {
                if Instant::now() >= until {
                    break;
                }
                continue;
            };
            let sequence = match Response::decode(&frame) {
                Ok(Response::Ok { sequence, .. }) => {
                    if self.answered(inflight, sequence, &mut none).is_err() {
                        return;
                    }
                    continue;
                }
                Ok(Response::Error { sequence, .. }) => sequence,
                Ok(Response::DurableAck { .. }) => continue,
                Err(_) => return,
            };
            // Another rejection behind the halt: its frames are answered
            // but nothing of them is acknowledged in the queue.
            while inflight.front().is_some_and(|f| f.seq <= sequence) {
                inflight.pop_front();
            }
            return;
        }
    }

    /// The FSN of the frame that commits the transaction of queued frame
    /// `fsn` (`None`: not queued).
    fn commit_at_or_after(&self, fsn: u64) -> Result<Option<u64>> {
        let mut buf = Vec::new();
        let mut f = fsn;
        while self.queue.read_frame(f, &mut buf)? {
            if commits(&buf) {
                return Ok(Some(f));
            }
            f += 1;
        }
        Ok(None)
    }

    /// Moves the durable FSN past every transaction whose tables are all
    /// durable at their seqTxn.
    fn advance_durable(&mut self) {
        while let Some((fsn, tables)) = self.undurable.front() {
            let done = tables
                .iter()
                .all(|(t, txn)| self.durable.get(t).is_some_and(|w| w >= txn));
            if !done {
                break;
            }
            self.shared.durable_fsn.fetch_max(*fsn, Ordering::Relaxed);
            self.undurable.pop_front();
        }
    }

    /// The tables of queued frame `fsn`, comma-separated.
    fn tables_of(&self, fsn: u64) -> Option<String> {
        let mut buf = Vec::new();
        if !self.queue.read_frame(fsn, &mut buf).ok()? {
            return None;
        }
        let buf = message(buf);
        let m = decode_message(&buf, 1).ok()?;
        let names: Vec<&str> = m.tables.iter().map(|t| t.name).collect();
        (!names.is_empty()).then(|| names.join(","))
    }

    fn lost(&mut self, e: Error) -> End {
        End::Reconnect {
            rotate: true,
            why: e,
        }
    }

    fn halt(&self, e: Error) -> End {
        self.shared.report(halted(&e));
        End::Halt
    }
}
