//! A result set as RESULT_BATCH frames: its batches cut into frames of the
//! connection's rows per batch ([`Cut`]), each frame built in a buffer
//! reused for the whole result and handed to the socket as one WebSocket
//! frame ([`Frames`]).
//!
//! What this saves per frame, over building a `Vec` and sending it as a
//! tungstenite message: the allocation and zeroing of the frame, the copy
//! of every byte into tungstenite's write buffer (the WebSocket header is
//! written in front of the message instead) and, for raw frames, the copy
//! of the large Arrow buffers into the frame: they go to the socket as
//! they are, between the frame's own bytes, in one vectored write.
//! Batches are cut by slicing; only the rows of a frame that spans two
//! batches are copied.

use std::collections::VecDeque;
use std::io::{IoSlice, Write};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use super::{Ws, ws_err};
use crate::bridge::column_data::SymbolDict as Dict;
use crate::bridge::column_encoder::Part;
use crate::bridge::frame::BlockEncoder;
use crate::bridge::types::QwpType;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::Layout;
use crate::protocol::egress::{put_result_batch_head, result_batch_head_len};
use crate::protocol::{MAX_MESSAGE_BYTES, Out};
use crate::transport::frame::{MAX_SERVER_HEADER_LEN, OP_BINARY, server_header};

/// Cuts a stream of batches into frames of at most `max` rows, copying
/// rows only to join small pieces.
///
/// A queued piece of at least a quarter of `max` rows goes out as slices
/// of itself (no copy): frames of `max` rows, then the rest on its own
/// (a stored batch of 13 000 rows with `max` 10 000 gives 10 000 and
/// 3 000, not a copied frame spanning into the next batch); a rest that
/// would be smaller than a quarter of `max` is left at that size by a
/// shorter frame before it. Smaller pieces (a selective filter's output)
/// are joined, with the start of what follows them, into one frame of
/// `max` rows, or of what is left at the end of the stream.
pub(super) struct Cut {
    schema: SchemaRef,
    max: usize,
    parts: VecDeque<RecordBatch>,
    rows: usize,
}

impl Cut {
    pub(super) fn new(schema: SchemaRef, max: usize) -> Cut {
        Cut {
            schema,
            max: max.max(1),
            parts: VecDeque::new(),
            rows: 0,
        }
    }

    /// Queues `b` (empty batches are dropped).
    pub(super) fn push(&mut self, b: RecordBatch) {
        if b.num_rows() > 0 {
            self.rows += b.num_rows();
            self.parts.push_back(b);
        }
    }

    /// Rows from which a piece goes out on its own, uncopied.
    fn own_frame_rows(&self) -> usize {
        (self.max / 4).max(1)
    }

    /// The next frame's rows: a slice of the front piece when it is large
    /// enough, else small pieces joined up to `max` rows; `None` while
    /// small pieces wait for more rows (or, at the `end`, when nothing is
    /// left).
    pub(super) fn next(
        &mut self,
        end: bool,
    ) -> std::result::Result<Option<RecordBatch>, ArrowError> {
        let Some(front) = self.parts.front() else {
            return Ok(None);
        };
        let n = front.num_rows();
        let own = self.own_frame_rows();
        let want = if n >= own {
            if n <= self.max {
                n
            } else if n - self.max >= own {
                self.max
            } else {
                // Leave a rest large enough to go out uncopied too.
                n - own
            }
        } else if self.rows >= self.max {
            self.max
        } else if end {
            self.rows
        } else {
            return Ok(None);
        };
        self.rows -= want;
        let mut pieces = Vec::new();
        let mut need = want;
        while need > 0 {
            let Some(front) = self.parts.pop_front() else {
                // `rows` counts the queued rows: unreachable.
                return Err(ArrowError::ComputeError(
                    "result cut: fewer rows queued than counted".into(),
                ));
            };
            let n = front.num_rows();
            if n > need {
                pieces.push(front.slice(0, need));
                self.parts.push_front(front.slice(need, n - need));
                need = 0;
            } else {
                need -= n;
                pieces.push(front);
            }
        }
        match pieces.len() {
            1 => Ok(pieces.pop()),
            _ => arrow::compute::concat_batches(&self.schema, &pieces).map(Some),
        }
    }
}

/// Room kept in front of the message for the WebSocket header (a server
/// frame's header is at most 10 bytes: no mask).
const WS_HEAD_MAX: usize = MAX_SERVER_HEADER_LEN;

/// Arrow buffers at least this large go to the socket as they are (one
/// more slice of the vectored write); smaller ones are copied with the
/// frame's other bytes.
const BORROW_MIN_BYTES: usize = 4096;

/// Why a frame was not sent.
pub(super) enum Failed {
    /// The batch could not be encoded (answered with QUERY_ERROR).
    Encode(Error),
    /// The socket failed (the connection is gone).
    Socket(Error),
}

/// The RESULT_BATCH frames of one result, each built and written in one
/// go with buffers reused for the whole result.
pub(super) struct Frames {
    /// Raw: the frame's own bytes (the WebSocket header, the message head,
    /// the delta dictionary, the block head and every small part), written
    /// together with the Arrow buffers they surround. Zstd: the whole
    /// frame. `WS_HEAD_MAX` bytes are kept in front for the WebSocket
    /// header. Only grows: every frame writes each byte it sends, so bytes
    /// are never zeroed twice.
    buf: Vec<u8>,
    /// The uncompressed body, under zstd.
    body: Vec<u8>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    layout: Layout,
    names: Vec<String>,
    types: Vec<QwpType>,
}

/// `buf` is at least `n` bytes long; zeroes only what it adds.
fn at_least(buf: &mut Vec<u8>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0);
    }
}

/// Owned bytes of a part (0: written from where it is).
fn owned_len(p: &Part<'_>) -> usize {
    match p {
        Part::Copy(b) if b.len() >= BORROW_MIN_BYTES => 0,
        p => p.len(),
    }
}

impl Frames {
    /// Frames of a result with these column names and types, bodies laid
    /// out by `layout`, compressed with zstd at `zstd_level` if given.
    pub(super) fn new(
        names: Vec<String>,
        types: Vec<QwpType>,
        layout: Layout,
        zstd_level: Option<i32>,
    ) -> Result<Frames> {
        let zstd = match zstd_level {
            Some(level) => Some(
                zstd::bulk::Compressor::new(level)
                    .map_err(|e| Error::wrap(ErrorKind::Io, "zstd compressor", e))?,
            ),
            None => None,
        };
        Ok(Frames {
            buf: Vec::new(),
            body: Vec::new(),
            zstd,
            layout,
            names,
            types,
        })
    }

    /// Encodes `batch` as frame `seq` of request `id` (the schema goes
    /// with `seq` 0; new symbols go to `dict` and into the frame's delta
    /// section) and writes it to the socket; returns the QWP message's
    /// length (what the byte credit counts).
    pub(super) fn send(
        &mut self,
        ws: &mut Ws,
        id: i64,
        seq: u64,
        batch: &RecordBatch,
        dict: &mut Dict,
    ) -> std::result::Result<usize, Failed> {
        let block = BlockEncoder::new(
            batch,
            self.names.clone(),
            self.types.clone(),
            &self.layout,
            dict,
        )
        .map_err(Failed::Encode)?;
        let delta = dict.take_delta();
        let with_schema = seq == 0;
        let body_len = delta.encoded_len() + block.encoded_len("", with_schema);
        let head = result_batch_head_len(seq);
        let at = WS_HEAD_MAX + head;
        let too_big = |len: usize| {
            Failed::Encode(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "a result batch of {} rows is {len} bytes, above the 16 MiB frame limit; ask for fewer rows per batch",
                    batch.num_rows(),
                ),
            ))
        };
        let Some(z) = &mut self.zstd else {
            // Raw: the frame's own bytes, and the Arrow buffers between
            // them as they are.
            let len = head + body_len;
            if len > MAX_MESSAGE_BYTES && batch.num_rows() > 1 {
                return Err(too_big(len));
            }
            let pieces: Vec<Part<'_>> = block.pieces().collect();
            let fixed = delta.encoded_len() + block.head_len("", with_schema);
            let owned = at + fixed + pieces.iter().map(owned_len).sum::<usize>();
            at_least(&mut self.buf, owned);
            let mut out = Out::plain(&mut self.buf[WS_HEAD_MAX..owned]);
            put_result_batch_head(id, seq, true, false, body_len, &mut out);
            delta.encode(&mut out);
            block.write_head("", with_schema, &mut out);
            for p in pieces.iter().filter(|p| owned_len(p) > 0) {
                p.write(&mut out);
            }
            let start = put_ws_head(&mut self.buf, len);
            let mut slices = Vec::with_capacity(2 * pieces.len() + 1);
            let (mut from, mut to) = (start, at + fixed);
            for p in &pieces {
                match owned_len(p) {
                    0 => {
                        if from < to {
                            slices.push(IoSlice::new(&self.buf[from..to]));
                        }
                        slices.push(IoSlice::new(match p {
                            Part::Copy(b) => b,
                            _ => &[],
                        }));
                        from = to;
                    }
                    n => to += n,
                }
            }
            if from < to {
                slices.push(IoSlice::new(&self.buf[from..to]));
            }
            write_frame(ws, &mut slices).map_err(Failed::Socket)?;
            return Ok(len);
        };
        at_least(&mut self.body, body_len);
        let body = &mut self.body[..body_len];
        let mut out = Out::plain(body);
        delta.encode(&mut out);
        block.write("", with_schema, &mut out);
        let bound = zstd::compress_bound(body_len);
        at_least(&mut self.buf, at + bound);
        let dst = &mut self.buf[at..at + bound];
        let n = z.compress_to_buffer(&*body, dst).map_err(|e| {
            Failed::Encode(Error::wrap(ErrorKind::Io, "zstd compression failed", e))
        })?;
        let (zstd, sent) = if n < body_len {
            (true, n)
        } else {
            // Not smaller: sent raw (the bound is at least the size).
            dst[..body_len].copy_from_slice(body);
            (false, body_len)
        };
        let len = head + sent;
        if len > MAX_MESSAGE_BYTES && batch.num_rows() > 1 {
            return Err(too_big(len));
        }
        put_result_batch_head(
            id,
            seq,
            true,
            zstd,
            sent,
            &mut Out::plain(&mut self.buf[WS_HEAD_MAX..at]),
        );
        let start = put_ws_head(&mut self.buf, len);
        write_frame(ws, &mut [IoSlice::new(&self.buf[start..at + sent])])
            .map_err(Failed::Socket)?;
        Ok(len)
    }
}

/// Writes the WebSocket header of a `len`-byte message right before
/// `buf[WS_HEAD_MAX]`; returns where it starts.
fn put_ws_head(buf: &mut [u8], len: usize) -> usize {
    let (h, n) = ws_head(len);
    buf[WS_HEAD_MAX - n..WS_HEAD_MAX].copy_from_slice(&h[..n]);
    WS_HEAD_MAX - n
}

/// Writes one WebSocket frame (`slices`, its header first) to the socket,
/// after anything tungstenite still holds (a pong).
fn write_frame(ws: &mut Ws, mut slices: &mut [IoSlice<'_>]) -> Result<()> {
    ws.flush().map_err(ws_err)?;
    let s = ws.get_mut();
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match s.write_vectored(slices) {
            Ok(0) => {
                return Err(Error::new(
                    ErrorKind::Closed,
                    "the socket took no more bytes of a result frame",
                ));
            }
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    s.flush()?;
    Ok(())
}

/// The header of an unmasked, final, binary WebSocket frame of `len`
/// payload bytes (RFC 6455 §5.2).
fn ws_head(len: usize) -> ([u8; WS_HEAD_MAX], usize) {
    server_header(true, OP_BINARY, len)
}

#[cfg(test)]
#[path = "result_frames_tests.rs"]
mod tests;
