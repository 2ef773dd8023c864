//! Egress (`/read/v1`): SQL queries from client to server, result streams
//! back.
//!
//! Client → server frames have **no** 12-byte header: the payload starts with
//! the message kind. Server → client frames carry the header, then a payload
//! starting with the message kind.

use super::column::{ColumnData, ColumnView, Layout, Values, decode_column};
use super::ingress::{
    ColumnDef, SymbolDelta, column_def_len, decode_columns, decode_delta, decode_schema,
    put_column_def, put_table_header,
};
use super::wire::{Out, Reader, varint_len};
use super::{
    ColumnType, Direction, EGRESS_FLAGS_MASK, FLAG_DELTA_SYMBOL_DICT, FLAG_GORILLA, FLAG_ZSTD,
    HEADER_LEN, Header, MAX_BINDS, MAX_COLUMNS, MAX_DECOMPRESSED_BYTES, MAX_NAME_BYTES,
    MAX_ROWS_PER_RESULT_BATCH, MAX_SQL_BYTES, Status, VERSION,
};
use crate::error::{Error, ErrorKind, Result};

/// Message kind: QUERY_REQUEST (C→S).
pub const MSG_QUERY_REQUEST: u8 = 0x10;
/// Message kind: RESULT_BATCH (S→C).
pub const MSG_RESULT_BATCH: u8 = 0x11;
/// Message kind: RESULT_END (S→C).
pub const MSG_RESULT_END: u8 = 0x12;
/// Message kind: QUERY_ERROR (S→C).
pub const MSG_QUERY_ERROR: u8 = 0x13;
/// Message kind: CANCEL (C→S).
pub const MSG_CANCEL: u8 = 0x14;
/// Message kind: CREDIT (C→S).
pub const MSG_CREDIT: u8 = 0x15;
/// Message kind: EXEC_DONE (S→C).
pub const MSG_EXEC_DONE: u8 = 0x16;
/// Message kind: CACHE_RESET (S→C).
pub const MSG_CACHE_RESET: u8 = 0x17;
/// Message kind: SERVER_INFO (S→C).
pub const MSG_SERVER_INFO: u8 = 0x18;

/// SERVER_INFO capability: zone fields follow `node_id`.
pub const CAP_ZONE: u32 = 0x01;
/// SERVER_INFO capability: the server parses the `query_flags` trailer.
pub const CAP_QUERY_FLAGS: u32 = 0x02;
/// Query flag: clear the connection symbol dictionary before this query.
pub const QUERY_FLAG_RESET_DICT: u64 = 0x01;
/// Query flag: a `timeout_ms` varint follows the flags (needs a server
/// capability this crate's server does not advertise).
pub const QUERY_FLAG_TIMEOUT: u64 = 0x02;
/// CACHE_RESET mask bit: clear the symbol dictionary.
pub const RESET_MASK_DICT: u8 = 0x01;

// ---------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------

/// Replication role announced in SERVER_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// No replication; behaves like a primary.
    Standalone,
    /// Authoritative writer.
    Primary,
    /// Read-only, may lag.
    Replica,
    /// Promotion in progress; behaves like a primary.
    PrimaryCatchup,
    /// A role byte this crate does not know.
    Unknown(u8),
}

impl Role {
    /// From the wire byte.
    pub fn from_code(c: u8) -> Role {
        match c {
            0 => Role::Standalone,
            1 => Role::Primary,
            2 => Role::Replica,
            3 => Role::PrimaryCatchup,
            c => Role::Unknown(c),
        }
    }

    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Role::Standalone => 0,
            Role::Primary => 1,
            Role::Replica => 2,
            Role::PrimaryCatchup => 3,
            Role::Unknown(c) => c,
        }
    }

    /// The spec's name (`STANDALONE`, `PRIMARY`, `REPLICA`, `PRIMARY_CATCHUP`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Standalone => "STANDALONE",
            Role::Primary => "PRIMARY",
            Role::Replica => "REPLICA",
            Role::PrimaryCatchup => "PRIMARY_CATCHUP",
            Role::Unknown(_) => "UNKNOWN",
        }
    }
}

/// SERVER_INFO: the first frame after the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Replication role.
    pub role: Role,
    /// Role epoch (a hint; 0 without fencing).
    pub epoch: u64,
    /// Capability bits (`CAP_*`).
    pub capabilities: u32,
    /// Server wall clock, ns since the epoch.
    pub server_wall_ns: i64,
    /// Cluster id.
    pub cluster_id: String,
    /// Node id.
    pub node_id: String,
    /// Zone id; written iff `capabilities & CAP_ZONE`.
    pub zone_id: Option<String>,
}

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

/// A server → client message other than a result batch, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerControl {
    /// RESULT_END: the cursor is exhausted.
    ResultEnd {
        /// Request id.
        request_id: i64,
        /// `batch_seq` of the last batch (0 if none).
        final_seq: u64,
        /// Total rows produced (0 if not tracked).
        total_rows: u64,
    },
    /// QUERY_ERROR: the request failed (terminal for it).
    QueryError {
        /// Request id (−1 when not attributable).
        request_id: i64,
        /// Why.
        status: Status,
        /// The server's message.
        message: String,
    },
    /// EXEC_DONE: a non-SELECT statement finished.
    ExecDone {
        /// Request id.
        request_id: i64,
        /// Statement type discriminator (opaque).
        op_type: u8,
        /// Rows inserted/updated; 0 for DDL.
        rows_affected: u64,
    },
    /// CACHE_RESET: clear connection caches per the mask.
    CacheReset {
        /// `RESET_MASK_*` bits; unknown bits are ignored.
        mask: u8,
    },
    /// SERVER_INFO.
    ServerInfo(ServerInfo),
}

impl ServerControl {
    fn payload_len(&self) -> usize {
        match self {
            ServerControl::ResultEnd {
                final_seq,
                total_rows,
                ..
            } => 9 + varint_len(*final_seq) + varint_len(*total_rows),
            ServerControl::QueryError { message, .. } => {
                9 + 1 + 2 + super::ingress::clip_u16(message).len()
            }
            ServerControl::ExecDone { rows_affected, .. } => 10 + varint_len(*rows_affected),
            ServerControl::CacheReset { .. } => 2,
            ServerControl::ServerInfo(i) => {
                let zone = if i.capabilities & CAP_ZONE != 0 {
                    2 + i.zone_id.as_deref().map_or(0, |z| clip16(z).len())
                } else {
                    0
                };
                22 + 2 + clip16(&i.cluster_id).len() + 2 + clip16(&i.node_id).len() + zone
            }
        }
    }

    /// Encodes the whole frame (header included).
    pub fn to_frame(&self) -> Vec<u8> {
        let payload = self.payload_len();
        let mut frame = vec![0; HEADER_LEN + payload];
        let mut out = Out::plain(&mut frame);
        Header {
            version: VERSION,
            flags: 0,
            table_count: 0,
            payload_len: payload as u32,
        }
        .write(&mut out);
        match self {
            ServerControl::ResultEnd {
                request_id,
                final_seq,
                total_rows,
            } => {
                out.u8(MSG_RESULT_END);
                out.i64(*request_id);
                out.varint(*final_seq);
                out.varint(*total_rows);
            }
            ServerControl::QueryError {
                request_id,
                status,
                message,
            } => {
                out.u8(MSG_QUERY_ERROR);
                out.i64(*request_id);
                out.u8(status.code());
                out.str_u16(super::ingress::clip_u16(message).as_bytes());
            }
            ServerControl::ExecDone {
                request_id,
                op_type,
                rows_affected,
            } => {
                out.u8(MSG_EXEC_DONE);
                out.i64(*request_id);
                out.u8(*op_type);
                out.varint(*rows_affected);
            }
            ServerControl::CacheReset { mask } => {
                out.u8(MSG_CACHE_RESET);
                out.u8(*mask);
            }
            ServerControl::ServerInfo(i) => {
                out.u8(MSG_SERVER_INFO);
                out.u8(i.role.code());
                out.put(&i.epoch.to_le_bytes());
                out.u32(i.capabilities);
                out.i64(i.server_wall_ns);
                out.str_u16(clip16(&i.cluster_id).as_bytes());
                out.str_u16(clip16(&i.node_id).as_bytes());
                if i.capabilities & CAP_ZONE != 0 {
                    out.str_u16(clip16(i.zone_id.as_deref().unwrap_or("")).as_bytes());
                }
            }
        }
        frame
    }
}

fn clip16(s: &str) -> &str {
    super::ingress::clip_u16(s)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn spec_t7_query_request_and_t26_flags() {
        let sql = "SELECT id, value FROM sensors LIMIT 2";
        let mut expect = hex("10 01 00 00 00 00 00 00 00 25");
        expect.extend_from_slice(sql.as_bytes());
        expect.extend_from_slice(&[0, 0]);
        let q = QueryRequest::new(1, sql);
        assert_eq!(q.to_bytes().unwrap(), expect);
        assert_eq!(expect.len(), 49);
        assert_eq!(
            ClientMessage::decode(&expect, false).unwrap(),
            ClientMessage::Query(q.clone())
        );
        let mut q2 = q;
        q2.query_flags = Some(QUERY_FLAG_RESET_DICT);
        let mut e2 = expect.clone();
        e2.push(1);
        assert_eq!(q2.to_bytes().unwrap(), e2);
        assert_eq!(
            ClientMessage::decode(&e2, true).unwrap(),
            ClientMessage::Query(q2)
        );
        // Without the capability a trailer is an error.
        assert!(ClientMessage::decode(&e2, false).is_err());
    }

    #[test]
    fn spec_t10_t11_binds() {
        let long42 = ColumnData::new(Values::Long(vec![42]));
        let mut b = vec![0; bind_len(&long42)];
        put_bind(&long42, &mut Out::plain(&mut b));
        assert_eq!(b, hex("05 00 2A 00 00 00 00 00 00 00"));
        assert_eq!(decode_bind(&mut Reader::new(&b)).unwrap(), long42);
        let null = ColumnData::with_nulls(Values::Long(vec![]), vec![true]);
        let mut b = vec![0; bind_len(&null)];
        put_bind(&null, &mut Out::plain(&mut b));
        assert_eq!(b, hex("05 01 01"));
        assert_eq!(decode_bind(&mut Reader::new(&b)).unwrap(), null);
        // NULL VARCHAR: no offsets.
        let nv = ColumnData::with_nulls(Values::Varchar(vec![]), vec![true]);
        assert_eq!(bind_len(&nv), 3);
        // VARCHAR "hi" and a TIMESTAMP bind without an encoding flag.
        let v = ColumnData::new(Values::Varchar(vec!["hi".into()]));
        let mut b = vec![0; bind_len(&v)];
        put_bind(&v, &mut Out::plain(&mut b));
        assert_eq!(b, hex("0F 00 00 00 00 00 02 00 00 00 68 69"));
        let ts = ColumnData::new(Values::Timestamp(vec![1]));
        let mut b = vec![0; bind_len(&ts)];
        put_bind(&ts, &mut Out::plain(&mut b));
        assert_eq!(b, hex("0A 00 01 00 00 00 00 00 00 00"));
        // NULL GEOHASH and NULL DECIMAL carry their column argument.
        let g = ColumnData::with_nulls(
            Values::Geohash {
                precision_bits: 20,
                values: vec![],
            },
            vec![true],
        );
        let mut b = vec![0; bind_len(&g)];
        put_bind(&g, &mut Out::plain(&mut b));
        assert_eq!(b, hex("0E 01 01 14"));
        let d = ColumnData::with_nulls(
            Values::Decimal128 {
                scale: 2,
                values: vec![],
            },
            vec![true],
        );
        let mut b = vec![0; bind_len(&d)];
        put_bind(&d, &mut Out::plain(&mut b));
        assert_eq!(b, hex("14 01 01 02"));
    }

    #[test]
    fn spec_t12_credit_t24_cancel() {
        let c = ClientMessage::Credit {
            request_id: 7,
            additional_bytes: 65536,
        };
        let b = hex("15 07 00 00 00 00 00 00 00 80 80 04");
        assert_eq!(c.to_bytes(), b);
        assert_eq!(ClientMessage::decode(&b, false).unwrap(), c);
        let c = ClientMessage::Cancel { request_id: 7 };
        let b = hex("14 07 00 00 00 00 00 00 00");
        assert_eq!(c.to_bytes(), b);
        assert_eq!(ClientMessage::decode(&b, false).unwrap(), c);
    }

    fn t8_batch(delta: Option<SymbolDelta>) -> ResultBatch {
        ResultBatch {
            request_id: 1,
            batch_seq: 0,
            delta,
            schema: vec![
                ColumnDef {
                    name: "id".into(),
                    ty: ColumnType::Long,
                },
                ColumnDef {
                    name: "value".into(),
                    ty: ColumnType::Double,
                },
            ],
            columns: vec![
                ColumnData::new(Values::Long(vec![1, 2])),
                ColumnData::new(Values::Double(vec![1.3, 2.2])),
            ],
            row_count: 2,
        }
    }

    #[test]
    fn spec_t8_result_batch() {
        // The docs' example has flags 0; we always set FLAG_GORILLA, which
        // changes nothing for these columns but the flag byte.
        let mut docs = hex("51 57 50 31 01 00 01 00 3A 00 00 00
             11 01 00 00 00 00 00 00 00 00
             00 02 02 02 69 64 05 05 76 61 6C 75 65 07
             00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
             00 CD CC CC CC CC CC F4 3F 9A 99 99 99 99 99 01 40");
        let ours = t8_batch(None).to_frame(None).unwrap();
        docs[5] = FLAG_GORILLA;
        assert_eq!(ours, docs);
        // Decoding the docs' exact bytes (flags 0).
        docs[5] = 0;
        let ServerMessage::Batch(raw) = decode_server_message(&docs, 1).unwrap() else {
            panic!("not a batch")
        };
        let mut inf = Inflater::new();
        let v = raw.decode(&mut inf, None).unwrap();
        assert_eq!(v.row_count, 2);
        assert_eq!(
            v.schema.as_ref().unwrap(),
            &[("id", ColumnType::Long), ("value", ColumnType::Double)]
        );
        assert_eq!(v.columns[1].to_owned_data(), t8_batch(None).columns[1]);
        // With the real server's flags (0x0C): delta section `00 00`, payload 60.
        let f = t8_batch(Some(SymbolDelta::default()))
            .to_frame(None)
            .unwrap();
        assert_eq!(f[5], 0x0C);
        assert_eq!(u32::from_le_bytes([f[8], f[9], f[10], f[11]]), 60);
    }

    #[test]
    fn later_batches_reuse_the_schema_and_zstd_round_trips() {
        let mut b = t8_batch(Some(SymbolDelta::default()));
        b.batch_seq = 3;
        b.row_count = 1000;
        b.columns = vec![
            ColumnData::new(Values::Long((0..1000).collect())),
            ColumnData::new(Values::Double(vec![0.5; 1000])),
        ];
        let schema = b.schema.clone();
        for level in [None, Some(1), Some(9)] {
            let frame = b.to_frame(level).unwrap();
            assert_eq!(frame[5] & FLAG_ZSTD != 0, level.is_some());
            let ServerMessage::Batch(raw) = decode_server_message(&frame, 1).unwrap() else {
                panic!()
            };
            assert_eq!(raw.batch_seq, 3);
            let mut inf = Inflater::new();
            assert!(raw.decode(&mut inf, None).is_err(), "needs the schema");
            let v = raw.decode(&mut inf, Some(&schema)).unwrap();
            assert!(v.schema.is_none());
            let cols: Vec<_> = v.columns.iter().map(|c| c.to_owned_data()).collect();
            assert_eq!(cols, b.columns);
        }
    }

    #[test]
    fn spec_t9_t22_t23_t25_control_frames() {
        let cases = [
            (
                ServerControl::ResultEnd {
                    request_id: 1,
                    final_seq: 0,
                    total_rows: 2,
                },
                "51 57 50 31 01 00 00 00 0B 00 00 00 12 01 00 00 00 00 00 00 00 00 02",
            ),
            (
                ServerControl::ServerInfo(ServerInfo {
                    role: Role::Primary,
                    epoch: 5,
                    capabilities: 3,
                    server_wall_ns: 0,
                    cluster_id: "c1".into(),
                    node_id: "n1".into(),
                    zone_id: Some("eu".into()),
                }),
                "51 57 50 31 01 00 00 00 22 00 00 00
                 18 01 05 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00
                 02 00 63 31 02 00 6E 31 02 00 65 75",
            ),
            (
                ServerControl::QueryError {
                    request_id: 1,
                    status: Status::Cancelled,
                    message: "x".into(),
                },
                "51 57 50 31 01 00 00 00 0D 00 00 00 13 01 00 00 00 00 00 00 00 0A 01 00 78",
            ),
            (
                ServerControl::CacheReset { mask: 1 },
                "51 57 50 31 01 00 00 00 02 00 00 00 17 01",
            ),
            (
                ServerControl::ExecDone {
                    request_id: 4,
                    op_type: 0,
                    rows_affected: 300,
                },
                "51 57 50 31 01 00 00 00 0C 00 00 00 16 04 00 00 00 00 00 00 00 00 AC 02",
            ),
        ];
        for (msg, h) in cases {
            let b = hex(h);
            assert_eq!(msg.to_frame(), b, "{msg:?}");
            assert_eq!(
                decode_server_message(&b, 1).unwrap(),
                ServerMessage::Control(msg)
            );
        }
    }

    #[test]
    fn zstd_without_content_size_is_rejected() {
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
        std::io::Write::write_all(&mut enc, &[0u8; 100]).unwrap();
        let z = enc.finish().unwrap();
        let mut inf = Inflater::new();
        if zstd::zstd_safe::get_frame_content_size(&z)
            .unwrap()
            .is_none()
        {
            assert!(inf.inflate(&z, 0).is_err());
        }
        assert!(inf.inflate(&[1, 2, 3, 4, 5], 0).is_err());
    }
}
