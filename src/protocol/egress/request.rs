//! Client → server: QUERY_REQUEST (with its binds), CANCEL and CREDIT.

use super::*;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{ColumnData, Layout, Values, decode_column};
use crate::protocol::wire::{Out, Reader, varint_len};
use crate::protocol::{ColumnType, MAX_BINDS, MAX_SQL_BYTES};

/// A QUERY_REQUEST.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// Client-chosen id, echoed by every reply.
    pub request_id: i64,
    /// SQL text (≤ 1 MiB).
    pub sql: String,
    /// Byte credit; 0 = unbounded.
    pub initial_credit: u64,
    /// Bind values for `$1, $2, ...`: one-row columns.
    pub binds: Vec<ColumnData>,
    /// The `query_flags` trailer; send only when the server advertised
    /// [`CAP_QUERY_FLAGS`].
    pub query_flags: Option<u64>,
    /// With [`QUERY_FLAG_TIMEOUT`]: the timeout in milliseconds.
    pub timeout_ms: Option<u64>,
}

fn is_null_varlen_bind(b: &ColumnData) -> bool {
    matches!(b.values, Values::Varchar(_) | Values::Binary(_)) && b.null_count() == 1
}

/// Exact size of one bind (type code and one-row body).
pub fn bind_len(b: &ColumnData) -> usize {
    if is_null_varlen_bind(b) {
        // NULL VARCHAR/BINARY binds carry no offset array.
        return 3;
    }
    1 + b.encoded_len(&Layout::BIND)
}

/// Writes one bind.
pub fn put_bind(b: &ColumnData, out: &mut Out<'_>) {
    out.u8(b.column_type().code());
    if is_null_varlen_bind(b) {
        out.u8(1);
        out.u8(1);
        return;
    }
    b.encode(&Layout::BIND, out);
}

/// Reads one bind.
pub fn decode_bind(r: &mut Reader<'_>) -> Result<ColumnData> {
    let at = r.offset();
    let code = r.u8("bind type")?;
    let ty = ColumnType::from_code(code)
        .ok_or_else(|| Error::protocol(at, format!("unknown bind type code 0x{code:02X}")))?;
    if matches!(ty, ColumnType::Varchar | ColumnType::Binary) {
        let mut peek = r.clone();
        if peek.u8("null_flag")? != 0 {
            let bm = peek.u8("null bitmap")?;
            if bm & 1 == 1 {
                *r = peek;
                let values = if ty == ColumnType::Varchar {
                    Values::Varchar(vec![])
                } else {
                    Values::Binary(vec![])
                };
                return Ok(ColumnData::with_nulls(values, vec![true]));
            }
        }
    }
    let v = decode_column(r, ty, 1, &Layout::BIND)?;
    let mut d = v.to_owned_data();
    if d.nulls.as_ref().is_some_and(|n| !n[0]) {
        d.nulls = None;
    }
    Ok(d)
}

impl QueryRequest {
    /// A request without binds and with unbounded credit.
    pub fn new(request_id: i64, sql: impl Into<String>) -> Self {
        QueryRequest {
            request_id,
            sql: sql.into(),
            initial_credit: 0,
            binds: vec![],
            query_flags: None,
            timeout_ms: None,
        }
    }

    /// Exact encoded size.
    pub fn encoded_len(&self) -> usize {
        1 + 8
            + varint_len(self.sql.len() as u64)
            + self.sql.len()
            + varint_len(self.initial_credit)
            + varint_len(self.binds.len() as u64)
            + self.binds.iter().map(bind_len).sum::<usize>()
            + self.query_flags.map_or(0, varint_len)
            + self.timeout_ms.map_or(0, varint_len)
    }

    /// Checks the limits (SQL size, bind count, one-row binds).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(ErrorKind::InvalidData, m));
        if self.sql.len() > MAX_SQL_BYTES {
            return bad(format!(
                "SQL text of {} bytes exceeds {MAX_SQL_BYTES}",
                self.sql.len()
            ));
        }
        if self.binds.len() > MAX_BINDS {
            return bad(format!("{} binds (max {MAX_BINDS})", self.binds.len()));
        }
        for (i, b) in self.binds.iter().enumerate() {
            if b.row_count() != 1 {
                return bad(format!("bind ${} has {} rows, not 1", i + 1, b.row_count()));
            }
            b.validate(&Layout::BIND)
                .map_err(|e| e.context(format!("bind ${}", i + 1)))?;
        }
        if self.timeout_ms.is_some() && self.query_flags.unwrap_or(0) & QUERY_FLAG_TIMEOUT == 0 {
            return bad("timeout_ms needs QUERY_FLAG_TIMEOUT".into());
        }
        Ok(())
    }

    /// Writes the frame payload (no header).
    pub fn encode(&self, out: &mut Out<'_>) {
        out.u8(MSG_QUERY_REQUEST);
        out.i64(self.request_id);
        out.str_varint(self.sql.as_bytes());
        out.varint(self.initial_credit);
        out.varint(self.binds.len() as u64);
        for b in &self.binds {
            put_bind(b, out);
        }
        if let Some(f) = self.query_flags {
            out.varint(f);
        }
        if let Some(t) = self.timeout_ms {
            out.varint(t);
        }
    }

    /// Validates and encodes into a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut b = vec![0; self.encoded_len()];
        self.encode(&mut Out::plain(&mut b));
        Ok(b)
    }
}

/// A decoded client → server message.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// QUERY_REQUEST.
    Query(QueryRequest),
    /// CANCEL of a request id.
    Cancel {
        /// The request to stop.
        request_id: i64,
    },
    /// CREDIT for a request id.
    Credit {
        /// The request.
        request_id: i64,
        /// Bytes added to its budget.
        additional_bytes: u64,
    },
}

impl ClientMessage {
    /// Exact encoded size.
    pub fn encoded_len(&self) -> usize {
        match self {
            ClientMessage::Query(q) => q.encoded_len(),
            ClientMessage::Cancel { .. } => 9,
            ClientMessage::Credit {
                additional_bytes, ..
            } => 9 + varint_len(*additional_bytes),
        }
    }

    /// Writes the payload.
    pub fn encode(&self, out: &mut Out<'_>) {
        match self {
            ClientMessage::Query(q) => q.encode(out),
            ClientMessage::Cancel { request_id } => {
                out.u8(MSG_CANCEL);
                out.i64(*request_id);
            }
            ClientMessage::Credit {
                request_id,
                additional_bytes,
            } => {
                out.u8(MSG_CREDIT);
                out.i64(*request_id);
                out.varint(*additional_bytes);
            }
        }
    }

    /// Encodes into a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0; self.encoded_len()];
        self.encode(&mut Out::plain(&mut b));
        b
    }

    /// Decodes a client frame. `query_flags_cap`: whether this server
    /// advertised [`CAP_QUERY_FLAGS`] (then a trailer may follow the binds;
    /// otherwise trailing bytes are an error).
    pub fn decode(payload: &[u8], query_flags_cap: bool) -> Result<ClientMessage> {
        let mut r = Reader::new(payload);
        let at = r.offset();
        let kind = r.u8("msg_kind")?;
        let msg = match kind {
            MSG_QUERY_REQUEST => {
                let request_id = r.i64("request_id")?;
                let sql = r.str_varint(MAX_SQL_BYTES, "sql")?.to_string();
                let initial_credit = r.varint("initial_credit")?;
                let n = r.varint_max(MAX_BINDS as u64, "bind_count")?;
                let mut binds = Vec::with_capacity(n);
                for i in 0..n {
                    binds.push(
                        decode_bind(&mut r).map_err(|e| e.context(format!("bind ${}", i + 1)))?,
                    );
                }
                let (mut query_flags, mut timeout_ms) = (None, None);
                if query_flags_cap && r.remaining() > 0 {
                    let f = r.varint("query_flags")?;
                    if f & QUERY_FLAG_TIMEOUT != 0 {
                        timeout_ms = Some(r.varint("timeout_ms")?);
                    }
                    query_flags = Some(f);
                }
                ClientMessage::Query(QueryRequest {
                    request_id,
                    sql,
                    initial_credit,
                    binds,
                    query_flags,
                    timeout_ms,
                })
            }
            MSG_CANCEL => ClientMessage::Cancel {
                request_id: r.i64("request_id")?,
            },
            MSG_CREDIT => ClientMessage::Credit {
                request_id: r.i64("request_id")?,
                additional_bytes: r.varint("additional_bytes")?,
            },
            k => {
                return Err(Error::protocol(
                    at,
                    format!("unknown client message kind 0x{k:02X}"),
                ));
            }
        };
        r.finish("the client message")?;
        Ok(msg)
    }
}
