//! A RESULT_BATCH as the server builds and frames it.

use super::*;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{ColumnData, Layout};
use crate::protocol::ingress::{
    ColumnDef, SymbolDelta, column_def_len, put_column_def, put_table_header,
};
use crate::protocol::wire::{Out, varint_len};
use crate::protocol::{
    FLAG_DELTA_SYMBOL_DICT, FLAG_GORILLA, FLAG_ZSTD, HEADER_LEN, Header, VERSION,
};

/// A RESULT_BATCH as the server builds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultBatch {
    /// The request this batch answers.
    pub request_id: i64,
    /// 0, 1, 2, ... per request.
    pub batch_seq: u64,
    /// New symbol dictionary entries (sent iff `Some`; the server always
    /// sends one).
    pub delta: Option<SymbolDelta>,
    /// The schema: written only in batch 0.
    pub schema: Vec<ColumnDef>,
    /// Column bodies.
    pub columns: Vec<ColumnData>,
    /// Rows (needed when there are no columns).
    pub row_count: usize,
}

impl ResultBatch {
    fn layout(&self) -> Layout {
        Layout {
            delta_dict: self.delta.is_some(),
            ..Layout::EGRESS
        }
    }

    /// The body after `batch_seq`: delta dictionary and table block.
    pub fn body_len(&self) -> usize {
        let layout = self.layout();
        let schema_len = if self.batch_seq == 0 {
            varint_len(self.schema.len() as u64)
                + self
                    .schema
                    .iter()
                    .map(|c| column_def_len(&c.name))
                    .sum::<usize>()
        } else {
            0
        };
        self.delta.as_ref().map_or(0, |d| d.encoded_len())
            + varint_len(0)
            + varint_len(self.row_count as u64)
            + schema_len
            + self
                .columns
                .iter()
                .map(|c| c.encoded_len(&layout))
                .sum::<usize>()
    }

    fn encode_body(&self, out: &mut Out<'_>) {
        let layout = self.layout();
        if let Some(d) = &self.delta {
            d.encode(out);
        }
        if self.batch_seq == 0 {
            put_table_header("", self.row_count, self.schema.len(), out);
            for c in &self.schema {
                put_column_def(&c.name, c.ty, out);
            }
        } else {
            out.varint(0);
            out.varint(self.row_count as u64);
        }
        for c in &self.columns {
            c.encode(&layout, out);
        }
    }

    /// Encodes the whole frame. With `zstd_level`, the body is compressed
    /// when that makes it smaller (and `FLAG_ZSTD` set).
    pub fn to_frame(&self, zstd_level: Option<i32>) -> Result<Vec<u8>> {
        if self.columns.len() != self.schema.len() && self.batch_seq == 0 {
            return Err(Error::new(
                ErrorKind::InvalidData,
                "result batch schema and columns differ in length",
            ));
        }
        let layout = self.layout();
        for c in &self.columns {
            if c.row_count() != self.row_count {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "result column with {} rows in a {}-row batch",
                        c.row_count(),
                        self.row_count
                    ),
                ));
            }
            c.validate(&layout)?;
        }
        let mut body = vec![0; self.body_len()];
        self.encode_body(&mut Out::plain(&mut body));
        result_batch_frame(
            self.request_id,
            self.batch_seq,
            self.delta.is_some(),
            body,
            zstd_level,
        )
    }
}

/// Bytes of a RESULT_BATCH's head: the message header, kind, request id
/// and `batch_seq` (the body follows).
pub fn result_batch_head_len(batch_seq: u64) -> usize {
    HEADER_LEN + 1 + 8 + varint_len(batch_seq)
}

/// Writes the head of a RESULT_BATCH ([`result_batch_head_len`] bytes)
/// whose body is `body_len` bytes (zstd-compressed when `zstd`).
pub fn put_result_batch_head(
    request_id: i64,
    batch_seq: u64,
    has_delta: bool,
    zstd: bool,
    body_len: usize,
    out: &mut Out<'_>,
) {
    let mut flags = FLAG_GORILLA;
    if has_delta {
        flags |= FLAG_DELTA_SYMBOL_DICT;
    }
    if zstd {
        flags |= FLAG_ZSTD;
    }
    let prefix = 1 + 8 + varint_len(batch_seq);
    Header {
        version: VERSION,
        flags,
        table_count: 1,
        payload_len: (prefix + body_len) as u32,
    }
    .write(out);
    out.u8(MSG_RESULT_BATCH);
    out.i64(request_id);
    out.varint(batch_seq);
}

/// A raw (uncompressed) RESULT_BATCH whose body of exactly `body_len`
/// bytes `write` puts straight into the frame (no second copy of the body).
pub fn raw_result_batch_frame(
    request_id: i64,
    batch_seq: u64,
    has_delta: bool,
    body_len: usize,
    write: impl FnOnce(&mut Out<'_>),
) -> Vec<u8> {
    let mut frame = vec![0; result_batch_head_len(batch_seq) + body_len];
    let mut out = Out::plain(&mut frame);
    put_result_batch_head(request_id, batch_seq, has_delta, false, body_len, &mut out);
    write(&mut out);
    frame
}

/// Frames an already encoded RESULT_BATCH body (the delta dictionary, if
/// `has_delta`, then the table block): header, kind, request id and
/// `batch_seq`, the body compressed with zstd when a level is given and that
/// makes it smaller.
pub fn result_batch_frame(
    request_id: i64,
    batch_seq: u64,
    has_delta: bool,
    mut body: Vec<u8>,
    zstd_level: Option<i32>,
) -> Result<Vec<u8>> {
    let mut zstd = false;
    if let Some(level) = zstd_level {
        let z = zstd::bulk::compress(&body, level)
            .map_err(|e| Error::wrap(ErrorKind::Io, "zstd compression failed", e))?;
        if z.len() < body.len() {
            body = z;
            zstd = true;
        }
    }
    let mut frame = vec![0; result_batch_head_len(batch_seq) + body.len()];
    let mut out = Out::plain(&mut frame);
    put_result_batch_head(request_id, batch_seq, has_delta, zstd, body.len(), &mut out);
    out.put(&body);
    Ok(frame)
}
