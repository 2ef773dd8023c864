//! A result set as RESULT_BATCH frames: its batches cut into frames of the
//! connection's rows per batch ([`Cut`]), each frame built in a buffer
//! reused for the whole result and handed to the socket as one WebSocket
//! frame ([`Frames`]).
//!
//! What this saves per frame, over building a `Vec` and sending it as a
//! tungstenite message: the allocation and zeroing of the frame, and the
//! copy of every byte into tungstenite's write buffer (the WebSocket
//! header is written in front of the message instead). Batches are cut
//! by slicing; only the rows of a frame that spans two batches are
//! copied.

use std::collections::VecDeque;
use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use super::{Ws, ws_err};
use crate::bridge::column_data::SymbolDict as Dict;
use crate::bridge::frame::BlockEncoder;
use crate::bridge::types::QwpType;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::Layout;
use crate::protocol::egress::{put_result_batch_head, result_batch_head_len};
use crate::protocol::{MAX_MESSAGE_BYTES, Out};

/// Cuts a stream of batches into frames of exactly `max` rows (the last
/// one may be shorter): slices of the batches, copied only where a frame
/// spans two of them.
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

    /// The next frame's rows: `max` of them, or at the `end` of the
    /// stream what is left; `None` while fewer than `max` rows wait (or
    /// none at the end).
    pub(super) fn next(
        &mut self,
        end: bool,
    ) -> std::result::Result<Option<RecordBatch>, ArrowError> {
        let want = if self.rows >= self.max {
            self.max
        } else if end && self.rows > 0 {
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
const WS_HEAD_MAX: usize = 10;

/// The RESULT_BATCH frames of one result, built one at a time in reused
/// buffers.
pub(super) struct Frames {
    /// `[WebSocket header room][QWP message]`. Only grows: every frame
    /// writes each byte it sends, so the bytes past it are never zeroed.
    buf: Vec<u8>,
    /// The uncompressed body, under zstd.
    body: Vec<u8>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    layout: Layout,
    names: Vec<String>,
    types: Vec<QwpType>,
    /// The last frame: `buf[start..end]`, WebSocket header included.
    start: usize,
    end: usize,
}

/// `buf` is at least `n` bytes long; zeroes only what it adds.
fn at_least(buf: &mut Vec<u8>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0);
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
            start: 0,
            end: 0,
        })
    }

    /// Builds the frame of `batch` (the schema goes with `seq` 0; new
    /// symbols go to `dict` and into the frame's delta section); returns
    /// the QWP message's length (what the byte credit counts).
    pub(super) fn encode(
        &mut self,
        id: i64,
        seq: u64,
        batch: &RecordBatch,
        dict: &mut Dict,
    ) -> Result<usize> {
        let block = BlockEncoder::new(
            batch,
            self.names.clone(),
            self.types.clone(),
            &self.layout,
            dict,
        )?;
        let delta = dict.take_delta();
        let with_schema = seq == 0;
        let body_len = delta.encoded_len() + block.encoded_len("", with_schema);
        let write = |out: &mut Out<'_>| {
            delta.encode(out);
            block.write("", with_schema, out);
        };
        let head = result_batch_head_len(seq);
        let at = WS_HEAD_MAX + head;
        let (zstd, sent_body) = match &mut self.zstd {
            // Raw: the body is written in place, once.
            None => {
                at_least(&mut self.buf, at + body_len);
                write(&mut Out::plain(&mut self.buf[at..at + body_len]));
                (false, body_len)
            }
            Some(z) => {
                at_least(&mut self.body, body_len);
                let body = &mut self.body[..body_len];
                write(&mut Out::plain(body));
                let bound = zstd::compress_bound(body_len);
                at_least(&mut self.buf, at + bound);
                let dst = &mut self.buf[at..at + bound];
                let n = z
                    .compress_to_buffer(&*body, dst)
                    .map_err(|e| Error::wrap(ErrorKind::Io, "zstd compression failed", e))?;
                if n < body_len {
                    (true, n)
                } else {
                    // Not smaller: sent raw (the bound is at least the size).
                    dst[..body_len].copy_from_slice(body);
                    (false, body_len)
                }
            }
        };
        let len = head + sent_body;
        if len > MAX_MESSAGE_BYTES && batch.num_rows() > 1 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "a result batch of {} rows is {len} bytes, above the 16 MiB frame limit; ask for fewer rows per batch",
                    batch.num_rows(),
                ),
            ));
        }
        put_result_batch_head(
            id,
            seq,
            true,
            zstd,
            sent_body,
            &mut Out::plain(&mut self.buf[WS_HEAD_MAX..at]),
        );
        let (ws, n) = ws_head(len);
        self.start = WS_HEAD_MAX - n;
        self.end = at + sent_body;
        self.buf[self.start..WS_HEAD_MAX].copy_from_slice(&ws[..n]);
        Ok(len)
    }

    /// The last frame built, WebSocket header included.
    pub(super) fn frame(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Writes the last frame built to the socket, after anything
    /// tungstenite still holds (a pong).
    pub(super) fn send(&self, ws: &mut Ws) -> Result<()> {
        ws.flush().map_err(ws_err)?;
        let s = ws.get_mut();
        s.write_all(self.frame())?;
        s.flush()?;
        Ok(())
    }
}

/// The header of an unmasked, final, binary WebSocket frame of `len`
/// payload bytes (RFC 6455 §5.2).
fn ws_head(len: usize) -> ([u8; WS_HEAD_MAX], usize) {
    let mut h = [0u8; WS_HEAD_MAX];
    h[0] = 0x82;
    let n = if len < 126 {
        h[1] = len as u8;
        2
    } else if len <= 0xFFFF {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (h, n)
}

#[cfg(test)]
#[path = "result_frames_tests.rs"]
mod tests;
