//! A server → client frame as the client decodes it: the message kind and
//! fixed parts, then a result batch's body (inflated when compressed).

use super::*;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{ColumnView, Layout};
use crate::protocol::ingress::{
    ColumnDef, SymbolDelta, decode_columns, decode_delta, decode_schema,
};
use crate::protocol::wire::Reader;
use crate::protocol::{
    ColumnType, Direction, EGRESS_FLAGS_MASK, FLAG_ZSTD, HEADER_LEN, Header, MAX_COLUMNS,
    MAX_DECOMPRESSED_BYTES, MAX_NAME_BYTES, MAX_ROWS_PER_RESULT_BATCH, Status,
};

/// A RESULT_BATCH as received: prefix parsed, body not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBatch<'a> {
    /// Header flags.
    pub flags: u8,
    /// Request id.
    pub request_id: i64,
    /// Batch sequence number.
    pub batch_seq: u64,
    /// Everything after `batch_seq` (zstd-compressed iff `FLAG_ZSTD`).
    pub body: &'a [u8],
    /// Offset of `body` in the frame, for error messages.
    pub body_offset: usize,
}

/// A decoded server → client message.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage<'a> {
    /// A RESULT_BATCH (decode its body with [`RawBatch::decode`]).
    Batch(RawBatch<'a>),
    /// Any other message.
    Control(ServerControl),
}

/// Decodes a server → client frame: header, kind, and the fixed parts.
pub fn decode_server_message(frame: &[u8], version: u8) -> Result<ServerMessage<'_>> {
    let header = Header::parse(frame, version, EGRESS_FLAGS_MASK)?;
    let mut r = Reader::with_base(&frame[HEADER_LEN..], HEADER_LEN);
    let at = r.offset();
    let kind = r.u8("msg_kind")?;
    let ctl = match kind {
        MSG_RESULT_BATCH => {
            let request_id = r.i64("request_id")?;
            let batch_seq = r.varint("batch_seq")?;
            return Ok(ServerMessage::Batch(RawBatch {
                flags: header.flags,
                request_id,
                batch_seq,
                body_offset: r.offset(),
                body: r.rest(),
            }));
        }
        MSG_RESULT_END => ServerControl::ResultEnd {
            request_id: r.i64("request_id")?,
            final_seq: r.varint("final_seq")?,
            total_rows: r.varint("total_rows")?,
        },
        MSG_QUERY_ERROR => ServerControl::QueryError {
            request_id: r.i64("request_id")?,
            status: Status::from_code(r.u8("status")?),
            message: r.str_u16("error message")?.to_string(),
        },
        MSG_EXEC_DONE => ServerControl::ExecDone {
            request_id: r.i64("request_id")?,
            op_type: r.u8("op_type")?,
            rows_affected: r.varint("rows_affected")?,
        },
        MSG_CACHE_RESET => ServerControl::CacheReset {
            mask: r.u8("reset_mask")?,
        },
        MSG_SERVER_INFO => {
            let role = Role::from_code(r.u8("role")?);
            let epoch = r.u64("epoch")?;
            let capabilities = r.u32("capabilities")?;
            let server_wall_ns = r.i64("server_wall_ns")?;
            let cluster_id = r.str_u16("cluster_id")?.to_string();
            let node_id = r.str_u16("node_id")?.to_string();
            let zone_id = if capabilities & CAP_ZONE != 0 {
                Some(r.str_u16("zone_id")?.to_string())
            } else {
                None
            };
            ServerControl::ServerInfo(ServerInfo {
                role,
                epoch,
                capabilities,
                server_wall_ns,
                cluster_id,
                node_id,
                zone_id,
            })
        }
        k => {
            return Err(Error::protocol(
                at,
                format!("unknown server message kind 0x{k:02X}"),
            ));
        }
    };
    r.finish("the message")?;
    Ok(ServerMessage::Control(ctl))
}

/// A decoded result batch body, borrowing from the frame or from the
/// decompression buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchView<'a> {
    /// New dictionary entries, if the delta flag was set.
    pub delta: Option<SymbolDelta<&'a str>>,
    /// Rows.
    pub row_count: usize,
    /// The schema, present in batch 0 only.
    pub schema: Option<Vec<(&'a str, ColumnType)>>,
    /// Column bodies.
    pub columns: Vec<ColumnView<'a>>,
}

/// Reusable zstd decompression state and output buffer.
pub struct Inflater {
    dctx: Option<zstd::bulk::Decompressor<'static>>,
    buf: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// An empty inflater (allocates lazily).
    pub fn new() -> Self {
        Inflater {
            dctx: None,
            buf: Vec::new(),
        }
    }

    /// Decompresses one zstd frame that declares its content size (at most
    /// [`MAX_DECOMPRESSED_BYTES`]) into the reused buffer.
    pub fn inflate(&mut self, src: &[u8], offset: usize) -> Result<&[u8]> {
        let mut buf = std::mem::take(&mut self.buf);
        let n = self.inflate_into(src, offset, &mut buf, 0);
        self.buf = buf;
        Ok(&self.buf[..n?])
    }

    /// Decompresses one zstd frame as [`Self::inflate`] does, into
    /// `out[at..]` (`out` grows as needed, bytes before `at` are kept, its
    /// length is never lowered so a reused buffer is not zeroed again);
    /// returns the end of the decompressed bytes in `out`.
    pub fn inflate_into(
        &mut self,
        src: &[u8],
        offset: usize,
        out: &mut Vec<u8>,
        at: usize,
    ) -> Result<usize> {
        let size = match zstd::zstd_safe::get_frame_content_size(src) {
            Ok(Some(n)) => n,
            Ok(None) => {
                return Err(Error::protocol(
                    offset,
                    "zstd frame does not declare its content size",
                ));
            }
            Err(_) => return Err(Error::protocol(offset, "corrupt zstd frame header")),
        };
        if size > MAX_DECOMPRESSED_BYTES as u64 {
            return Err(Error::protocol(
                offset,
                format!("zstd body of {size} bytes exceeds {MAX_DECOMPRESSED_BYTES}"),
            ));
        }
        if self.dctx.is_none() {
            self.dctx = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| Error::wrap(ErrorKind::Io, "zstd init failed", e))?,
            );
        }
        let Some(dctx) = self.dctx.as_mut() else {
            return Err(Error::new(ErrorKind::Io, "zstd init failed"));
        };
        let end = at + size as usize;
        if out.len() < end {
            out.resize(end, 0);
        }
        let n = dctx
            .decompress_to_buffer(src, &mut out[at..end])
            .map_err(|e| Error::protocol(offset, "zstd decompression failed").with_source(e))?;
        if n as u64 != size {
            return Err(Error::protocol(
                offset,
                format!("zstd body decompressed to {n} bytes, header said {size}"),
            ));
        }
        Ok(end)
    }
}

impl<'f> RawBatch<'f> {
    /// Decodes the body. `schema` is the schema from batch 0 of this request
    /// (required when `batch_seq > 0`, ignored for batch 0). Compressed
    /// bodies are inflated into `inflater`.
    pub fn decode<'a>(
        &'a self,
        inflater: &'a mut Inflater,
        schema: Option<&[ColumnDef]>,
    ) -> Result<BatchView<'a>> {
        let mut r = if self.flags & FLAG_ZSTD != 0 {
            Reader::new(inflater.inflate(self.body, self.body_offset)?)
        } else {
            Reader::with_base(self.body, self.body_offset)
        };
        let layout = Layout::from_flags(self.flags, Direction::Egress);
        let delta = if layout.delta_dict {
            Some(decode_delta(&mut r)?)
        } else {
            None
        };
        let name = r.str_varint(MAX_NAME_BYTES, "table name")?;
        if !name.is_empty() {
            return Err(r.err(format!("result table name {name:?} should be empty")));
        }
        let row_count = r.varint_max(MAX_ROWS_PER_RESULT_BATCH as u64, "row_count")?;
        let (own_schema, columns) = if self.batch_seq == 0 {
            let n = r.varint_max(MAX_COLUMNS as u64, "column_count")?;
            let s = decode_schema(&mut r, n)?;
            let cols = decode_columns(&mut r, &s, row_count, &layout)?;
            (Some(s), cols)
        } else {
            let Some(schema) = schema else {
                return Err(Error::protocol(
                    self.body_offset,
                    format!(
                        "batch {} of request {} arrived before its schema (batch 0)",
                        self.batch_seq, self.request_id
                    ),
                ));
            };
            let s: Vec<(&str, ColumnType)> =
                schema.iter().map(|c| (c.name.as_str(), c.ty)).collect();
            (None, decode_columns(&mut r, &s, row_count, &layout)?)
        };
        r.finish("the last column")?;
        Ok(BatchView {
            delta,
            row_count,
            schema: own_schema,
            columns,
        })
    }
}
