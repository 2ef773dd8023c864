//! Publish mode: the same planning and framing as a connected sender, but
//! each transaction's frames go into a store-and-forward queue instead of
//! onto a socket. This is the producer side of
//! [`AsyncSender`](crate::client::AsyncSender); its runner thread sends
//! the queue.
//!
//! Frames are built exactly as on a connection (exact sizing, all frames
//! of a transaction but the last carry `FLAG_DEFER_COMMIT`, one delta
//! dictionary section per frame with the ids new since the last frame
//! queued), collected for the whole transaction and queued in one
//! [`SfQueue::append_owned`], so a full queue never splits a transaction.
//! Each frame is queued as a whole masked client WebSocket frame (header,
//! fresh mask key, payload masked while it is encoded), so the runner
//! writes it to the socket as it is, with no second pass over it (a
//! replay goes out under a new key). The frame buffers are handed to the
//! queue, not copied, and come back from it ([`SfQueue::spare_buffer`])
//! once their frames are done with.

use super::*;
use crate::client::sf::SfQueue;
use crate::transport::{client_header_len, write_client_frame};

/// What a publishing sender holds instead of a connection.
pub(crate) struct Outbox {
    pub(super) queue: Arc<SfQueue>,
    /// The frames of the transaction being built.
    frames: Vec<Vec<u8>>,
    /// FSN of the last frame queued (0: none yet).
    pub(super) last_fsn: u64,
    /// The server connected at open is on this host (decides
    /// [`Gorilla::Auto`](crate::client::Gorilla::Auto) as a connection
    /// does).
    pub(super) loopback: bool,
}

impl Outbox {
    pub(crate) fn new(queue: Arc<SfQueue>, loopback: bool) -> Outbox {
        Outbox {
            queue,
            frames: Vec::new(),
            last_fsn: 0,
            loopback,
        }
    }
}

impl QwpSender {
    /// A sender that publishes into `queue` (no connection of its own):
    /// `budget` is the frame budget, `dict` the dictionary the queue
    /// already holds, `loopback` whether the server is on this host.
    pub(crate) fn publisher(
        conf: Option<Conf>,
        opts: ConnectOptions,
        queue: Arc<SfQueue>,
        budget: usize,
        dict: SymbolDict,
        loopback: bool,
    ) -> QwpSender {
        let mut s = QwpSender::unconnected(conf, opts, budget);
        s.dict = dict;
        s.outbox = Some(Box::new(Outbox::new(queue, loopback)));
        s
    }

    /// Frames this sender queued.
    pub(crate) fn published_frames(&self) -> u64 {
        self.stats.frames_sent
    }

    /// Whether this sender publishes into a queue.
    pub(crate) fn is_publisher(&self) -> bool {
        self.outbox.is_some()
    }

    /// FSN of the last frame this sender queued (0: none).
    pub(crate) fn last_fsn(&self) -> u64 {
        self.outbox.as_ref().map_or(0, |o| o.last_fsn)
    }

    /// Publish mode's `push_frame`: builds the frame into a buffer of the
    /// transaction being collected.
    pub(super) fn outbox_frame(
        &mut self,
        len: usize,
        rows: usize,
        fill: impl FnOnce(&mut Out<'_>),
    ) -> Result<()> {
        let Some(o) = self.outbox.as_mut() else {
            return Err(Error::new(ErrorKind::Internal, "not a publishing sender"));
        };
        let total = client_header_len(len) + len;
        // A fresh buffer comes zeroed from the allocator (no pass over it).
        let mut buf = match o.queue.spare_buffer(total)? {
            Some(b) => b,
            None => vec![0; total],
        };
        // The whole masked WebSocket frame, as a connection would send it
        // (its key fresh): the runner writes it out as it is. `fill`
        // writes every byte (checked): a reused buffer is not cleared.
        write_client_frame(&mut buf, rand::random(), len, fill)?;
        o.frames.push(buf);
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += len as u64;
        self.stats.rows_sent += rows as u64;
        Ok(())
    }

    /// Frames one transaction (`blocks`, committed together) and queues
    /// it; returns the FSN of its committing frame. On error nothing of it
    /// is queued (the dictionary entries it introduced go out with the
    /// next transaction).
    pub(super) fn publish_group(&mut self, blocks: &[Block]) -> Result<u64> {
        let sent = self.dict.sent();
        let built = self.send_group(blocks, usize::MAX);
        let Some(o) = self.outbox.as_mut() else {
            return Err(Error::new(ErrorKind::Internal, "not a publishing sender"));
        };
        let frames = std::mem::take(&mut o.frames);
        let queued = built.and_then(|()| {
            if frames.is_empty() {
                return Ok(o.last_fsn);
            }
            o.queue.append_owned(frames, self.dict.entries())
        });
        match queued {
            Ok(fsn) => {
                o.last_fsn = fsn;
                self.batches_acked += 1;
                Ok(fsn)
            }
            Err(e) => {
                self.dict.rewind_sent(sent);
                Err(e)
            }
        }
    }

    /// Plans `batch` for `table` (overrides and the designated timestamp
    /// of `opts`) and publishes it as one transaction; returns the FSN of
    /// its committing frame (that of the last frame queued for an empty
    /// batch).
    pub(crate) fn publish_batch(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
    ) -> Result<u64> {
        let batch = apply_overrides(table, batch, &opts.overrides)?;
        let plan = plan_schema(table, &batch, opts, self.loopback())?;
        if batch.num_rows() == 0 {
            return Ok(self.last_fsn());
        }
        self.publish_group(&[Block {
            table: table.into(),
            batch,
            plan: Arc::new(plan),
        }])
    }
}
