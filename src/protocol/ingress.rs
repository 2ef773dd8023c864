//! Ingress (`/write/v4`): data messages from client to server and the
//! server's responses.
//!
//! ```text
//! header(12) [delta symbol dictionary] table_block*
//! table_block = name row_count column_count schema column_body*
//! ```

use super::column::{ColumnData, ColumnView, Layout, decode_column};
use super::wire::{Out, Reader, varint_len};
use super::{
    ColumnType, Direction, FLAG_DEFER_COMMIT, FLAG_DELTA_SYMBOL_DICT, FLAG_GORILLA, HEADER_LEN,
    Header, INGRESS_FLAGS_MASK, MAX_COLUMNS, MAX_NAME_BYTES, MAX_ROWS_PER_TABLE_BLOCK,
    MAX_SYMBOL_DICT_ENTRIES, Status, VERSION,
};
use crate::error::{Error, ErrorKind, Result};

/// A column's name and type as listed in a table block's schema. An empty
/// name with TIMESTAMP (or TIMESTAMP_NANOS) type is the designated timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name (empty for the designated timestamp).
    pub name: String,
    /// Column type.
    pub ty: ColumnType,
}

/// Size of one schema entry.
pub fn column_def_len(name: &str) -> usize {
    varint_len(name.len() as u64) + name.len() + 1
}

/// Writes one schema entry.
pub fn put_column_def(name: &str, ty: ColumnType, out: &mut Out<'_>) {
    out.str_varint(name.as_bytes());
    out.u8(ty.code());
}

/// Size of a table header (name, row count, column count).
pub fn table_header_len(name: &str, rows: usize, columns: usize) -> usize {
    varint_len(name.len() as u64)
        + name.len()
        + varint_len(rows as u64)
        + varint_len(columns as u64)
}

/// Writes a table header.
pub fn put_table_header(name: &str, rows: usize, columns: usize, out: &mut Out<'_>) {
    out.str_varint(name.as_bytes());
    out.varint(rows as u64);
    out.varint(columns as u64);
}

/// New symbol dictionary entries: entry `k` gets id `start + k`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymbolDelta<S = String> {
    /// First id carried.
    pub start: u64,
    /// The new strings, in id order.
    pub entries: Vec<S>,
}

impl<S: AsRef<str>> SymbolDelta<S> {
    /// Exact encoded size.
    pub fn encoded_len(&self) -> usize {
        varint_len(self.start)
            + varint_len(self.entries.len() as u64)
            + self
                .entries
                .iter()
                .map(|s| varint_len(s.as_ref().len() as u64) + s.as_ref().len())
                .sum::<usize>()
    }

    /// Writes the section.
    pub fn encode(&self, out: &mut Out<'_>) {
        out.varint(self.start);
        out.varint(self.entries.len() as u64);
        for s in &self.entries {
            out.str_varint(s.as_ref().as_bytes());
        }
    }
}

/// The catch-up frames that re-register a whole dictionary (`entries`, ids
/// from 0) on a new connection before any data frame: deferred, no table,
/// a delta section only; each at most `budget` bytes (but at least one
/// entry per frame).
pub fn catch_up(entries: &[String], budget: usize) -> Vec<CatchUp<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = start;
        let mut len = HEADER_LEN + 16;
        while end < entries.len() && (end == start || len + entries[end].len() + 5 <= budget) {
            len += entries[end].len() + 5;
            end += 1;
        }
        out.push(CatchUp(SymbolDelta {
            start: start as u64,
            entries: entries[start..end].iter().map(String::as_str).collect(),
        }));
        start = end;
    }
    out
}

/// One dictionary catch-up frame; see [`catch_up`].
#[derive(Debug, Clone)]
pub struct CatchUp<'a>(pub SymbolDelta<&'a str>);

impl CatchUp<'_> {
    /// The frame's size (header included).
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.0.encoded_len()
    }

    /// Writes the whole frame.
    pub fn write(&self, out: &mut Out<'_>) {
        Header {
            version: VERSION,
            flags: FLAG_DEFER_COMMIT | FLAG_DELTA_SYMBOL_DICT,
            table_count: 0,
            payload_len: self.0.encoded_len() as u32,
        }
        .write(out);
        self.0.encode(out);
    }
}

/// Reads a delta symbol dictionary section (shared with egress).
pub fn decode_delta<'a>(r: &mut Reader<'a>) -> Result<SymbolDelta<&'a str>> {
    let start = r.varint_max(MAX_SYMBOL_DICT_ENTRIES as u64, "delta_start")? as u64;
    let at = r.offset();
    let count = r.varint_max(MAX_SYMBOL_DICT_ENTRIES as u64, "delta_count")?;
    if count > r.remaining() {
        return Err(Error::protocol(
            at,
            format!("delta_count {count} exceeds the bytes left"),
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        entries.push(r.str_varint(super::MAX_VARLEN_VALUE_BYTES, "symbol")?);
    }
    Ok(SymbolDelta { start, entries })
}

/// An owned table block.
#[derive(Debug, Clone, PartialEq)]
pub struct TableBlock {
    /// Table name (1..=127 bytes; empty only in egress result sets).
    pub name: String,
    /// Schema, one entry per column.
    pub columns: Vec<ColumnDef>,
    /// Column bodies, in schema order.
    pub data: Vec<ColumnData>,
}

impl TableBlock {
    /// Rows in the block (all columns agree; 0 without columns).
    pub fn row_count(&self) -> usize {
        self.data.first().map_or(0, |c| c.row_count())
    }

    /// Checks names, limits, types and that every column has the same rows.
    pub fn validate(&self, layout: &Layout) -> Result<()> {
        let bad = |m: String| Err(Error::new(ErrorKind::InvalidData, m));
        if self.name.len() > MAX_NAME_BYTES {
            return bad(format!(
                "table name {:?} is {} bytes (max {MAX_NAME_BYTES})",
                self.name,
                self.name.len()
            ));
        }
        if self.columns.len() != self.data.len() {
            return bad(format!(
                "table {}: {} schema entries but {} column bodies",
                self.name,
                self.columns.len(),
                self.data.len()
            ));
        }
        if self.columns.len() > MAX_COLUMNS {
            return bad(format!(
                "table {}: {} columns (max {MAX_COLUMNS})",
                self.name,
                self.columns.len()
            ));
        }
        let rows = self.row_count();
        for (def, col) in self.columns.iter().zip(&self.data) {
            if def.name.len() > MAX_NAME_BYTES {
                return bad(format!(
                    "table {}: column name {:?} is {} bytes (max {MAX_NAME_BYTES})",
                    self.name,
                    def.name,
                    def.name.len()
                ));
            }
            if col.column_type() != def.ty {
                return bad(format!(
                    "table {}, column {:?}: schema says {} but the values are {}",
                    self.name,
                    def.name,
                    def.ty,
                    col.column_type()
                ));
            }
            if col.row_count() != rows {
                return bad(format!(
                    "table {}, column {:?}: {} rows, first column has {rows}",
                    self.name,
                    def.name,
                    col.row_count()
                ));
            }
            col.validate(layout)
                .map_err(|e| e.context(format!("table {}, column {:?}", self.name, def.name)))?;
        }
        Ok(())
    }

    /// Exact encoded size.
    pub fn encoded_len(&self, layout: &Layout) -> usize {
        table_header_len(&self.name, self.row_count(), self.columns.len())
            + self
                .columns
                .iter()
                .map(|c| column_def_len(&c.name))
                .sum::<usize>()
            + self
                .data
                .iter()
                .map(|c| c.encoded_len(layout))
                .sum::<usize>()
    }

    /// Writes the block.
    pub fn encode(&self, layout: &Layout, out: &mut Out<'_>) {
        put_table_header(&self.name, self.row_count(), self.columns.len(), out);
        for c in &self.columns {
            put_column_def(&c.name, c.ty, out);
        }
        for c in &self.data {
            c.encode(layout, out);
        }
    }
}

/// A decoded table block borrowing from the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TableBlockView<'a> {
    /// Table name.
    pub name: &'a str,
    /// Rows.
    pub row_count: usize,
    /// Column names (empty = designated timestamp) and types.
    pub schema: Vec<(&'a str, ColumnType)>,
    /// Column bodies, in schema order.
    pub columns: Vec<ColumnView<'a>>,
}

impl TableBlockView<'_> {
    /// Converts to an owned block.
    pub fn to_owned_block(&self) -> TableBlock {
        TableBlock {
            name: self.name.to_string(),
            columns: self
                .schema
                .iter()
                .map(|(n, t)| ColumnDef {
                    name: n.to_string(),
                    ty: *t,
                })
                .collect(),
            data: self.columns.iter().map(|c| c.to_owned_data()).collect(),
        }
    }
}

/// Reads a schema section of `n` columns.
pub fn decode_schema<'a>(r: &mut Reader<'a>, n: usize) -> Result<Vec<(&'a str, ColumnType)>> {
    let mut schema = Vec::with_capacity(n.min(r.remaining()));
    for _ in 0..n {
        let name = r.str_varint(MAX_NAME_BYTES, "column name")?;
        let at = r.offset();
        let code = r.u8("column type")?;
        let ty = ColumnType::from_code(code).ok_or_else(|| {
            Error::protocol(
                at,
                format!("column {name:?} has unknown type code 0x{code:02X}"),
            )
        })?;
        schema.push((name, ty));
    }
    Ok(schema)
}

/// Reads the column bodies of a block.
pub fn decode_columns<'a>(
    r: &mut Reader<'a>,
    schema: &[(&str, ColumnType)],
    rows: usize,
    layout: &Layout,
) -> Result<Vec<ColumnView<'a>>> {
    schema
        .iter()
        .map(|(name, ty)| {
            decode_column(r, *ty, rows, layout).map_err(|e| e.context(format!("column {name:?}")))
        })
        .collect()
}

fn decode_table_block<'a>(r: &mut Reader<'a>, layout: &Layout) -> Result<TableBlockView<'a>> {
    let name = r.str_varint(MAX_NAME_BYTES, "table name")?;
    let row_count = r.varint_max(MAX_ROWS_PER_TABLE_BLOCK as u64, "row_count")?;
    let n_cols = r.varint_max(MAX_COLUMNS as u64, "column_count")?;
    let ctx = |e: Error| e.context(format!("table {name:?}"));
    let schema = decode_schema(r, n_cols).map_err(ctx)?;
    let columns = decode_columns(r, &schema, row_count, layout).map_err(ctx)?;
    Ok(TableBlockView {
        name,
        row_count,
        schema,
        columns,
    })
}

/// An owned ingress data message.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressMessage {
    /// `FLAG_*` bits: DEFER_COMMIT, GORILLA, DELTA_SYMBOL_DICT.
    pub flags: u8,
    /// The delta symbol dictionary (present iff `FLAG_DELTA_SYMBOL_DICT`).
    pub delta: Option<SymbolDelta>,
    /// Table blocks.
    pub tables: Vec<TableBlock>,
}

impl IngressMessage {
    /// A WebSocket ingress message: delta dictionary and Gorilla flags set.
    pub fn new(delta: SymbolDelta, tables: Vec<TableBlock>) -> Self {
        IngressMessage {
            flags: FLAG_DELTA_SYMBOL_DICT | FLAG_GORILLA,
            delta: Some(delta),
            tables,
        }
    }

    /// The column layout implied by the flags.
    pub fn layout(&self) -> Layout {
        Layout::from_flags(self.flags, Direction::Ingress)
    }

    /// Payload size (after the 12-byte header).
    pub fn payload_len(&self) -> usize {
        let layout = self.layout();
        self.delta.as_ref().map_or(0, |d| d.encoded_len())
            + self
                .tables
                .iter()
                .map(|t| t.encoded_len(&layout))
                .sum::<usize>()
    }

    /// Whole message size.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Validates, then writes the whole message (header included).
    pub fn encode(&self, out: &mut Out<'_>) -> Result<()> {
        let layout = self.layout();
        let bad = |m: String| Err(Error::new(ErrorKind::InvalidData, m));
        if self.flags & !INGRESS_FLAGS_MASK != 0 {
            return bad(format!("flags 0x{:02X} not valid on ingress", self.flags));
        }
        if self.delta.is_some() != (self.flags & FLAG_DELTA_SYMBOL_DICT != 0) {
            return bad("delta dictionary presence must match FLAG_DELTA_SYMBOL_DICT".into());
        }
        if self.tables.len() > usize::from(u16::MAX) {
            return bad(format!("{} table blocks (max 65535)", self.tables.len()));
        }
        for t in &self.tables {
            t.validate(&layout)?;
        }
        let payload = self.payload_len();
        if payload > u32::MAX as usize {
            return bad(format!("payload of {payload} bytes"));
        }
        Header {
            version: VERSION,
            flags: self.flags,
            table_count: self.tables.len() as u16,
            payload_len: payload as u32,
        }
        .write(out);
        if let Some(d) = &self.delta {
            d.encode(out);
        }
        for t in &self.tables {
            t.encode(&layout, out);
        }
        Ok(())
    }

    /// Validates and encodes into a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut b = vec![0; self.encoded_len()];
        self.encode(&mut Out::plain(&mut b))?;
        Ok(b)
    }
}

/// A decoded ingress message borrowing from the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressView<'a> {
    /// The header.
    pub header: Header,
    /// The delta dictionary, if flagged.
    pub delta: Option<SymbolDelta<&'a str>>,
    /// Table blocks.
    pub tables: Vec<TableBlockView<'a>>,
}

impl IngressView<'_> {
    /// Whether `FLAG_DEFER_COMMIT` is set.
    pub fn defer_commit(&self) -> bool {
        self.header.flags & FLAG_DEFER_COMMIT != 0
    }

    /// Converts to an owned message.
    pub fn to_owned_message(&self) -> IngressMessage {
        IngressMessage {
            flags: self.header.flags,
            delta: self.delta.as_ref().map(|d| SymbolDelta {
                start: d.start,
                entries: d.entries.iter().map(|s| s.to_string()).collect(),
            }),
            tables: self.tables.iter().map(|t| t.to_owned_block()).collect(),
        }
    }
}

/// Decodes a whole ingress message (one WebSocket binary frame) sent with
/// the negotiated `version`. Every byte must be accounted for.
pub fn decode_message(frame: &[u8], version: u8) -> Result<IngressView<'_>> {
    let header = Header::parse(frame, version, INGRESS_FLAGS_MASK)?;
    let mut r = Reader::with_base(&frame[HEADER_LEN..], HEADER_LEN);
    let layout = Layout::from_flags(header.flags, Direction::Ingress);
    let delta = if layout.delta_dict {
        Some(decode_delta(&mut r)?)
    } else {
        None
    };
    let mut tables = Vec::with_capacity(usize::from(header.table_count).min(r.remaining()));
    for _ in 0..header.table_count {
        tables.push(decode_table_block(&mut r, &layout)?);
    }
    r.finish("the last table block")?;
    Ok(IngressView {
        header,
        delta,
        tables,
    })
}

/// A server response on the ingress connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Status 0x00: the frame with this sequence was accepted.
    Ok {
        /// The frame's wire sequence (0-based per connection).
        sequence: i64,
        /// WAL tables committed with their seqTxn.
        tables: Vec<(String, i64)>,
    },
    /// Status 0x02: cumulative durable watermarks per table.
    DurableAck {
        /// `(table, seqTxn)` watermarks that moved.
        tables: Vec<(String, i64)>,
    },
    /// Any other status: the frame was rejected.
    Error {
        /// Why.
        status: Status,
        /// The rejected frame's sequence.
        sequence: i64,
        /// The server's message.
        message: String,
    },
}

fn tables_len(t: &[(String, i64)]) -> usize {
    2 + t.iter().map(|(n, _)| 2 + n.len() + 8).sum::<usize>()
}

fn put_tables(t: &[(String, i64)], out: &mut Out<'_>) {
    out.u16(t.len() as u16);
    for (n, s) in t {
        out.str_u16(n.as_bytes());
        out.i64(*s);
    }
}

fn get_tables(r: &mut Reader<'_>) -> Result<Vec<(String, i64)>> {
    let n = r.u16("tableCount")? as usize;
    let mut v = Vec::with_capacity(n.min(r.remaining()));
    for _ in 0..n {
        let name = r.str_u16("table name")?.to_string();
        let seq = r.i64("seqTxn")?;
        v.push((name, seq));
    }
    Ok(v)
}

/// Truncates a message to the u16 length the wire allows, on a char boundary.
pub fn clip_u16(s: &str) -> &str {
    if s.len() <= usize::from(u16::MAX) {
        return s;
    }
    let mut end = usize::from(u16::MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Response {
    /// Exact encoded size.
    pub fn encoded_len(&self) -> usize {
        match self {
            Response::Ok { tables, .. } => 1 + 8 + tables_len(tables),
            Response::DurableAck { tables } => 1 + tables_len(tables),
            Response::Error { message, .. } => 1 + 8 + 2 + clip_u16(message).len(),
        }
    }

    /// Writes the response.
    pub fn encode(&self, out: &mut Out<'_>) {
        match self {
            Response::Ok { sequence, tables } => {
                out.u8(Status::Ok.code());
                out.i64(*sequence);
                put_tables(tables, out);
            }
            Response::DurableAck { tables } => {
                out.u8(Status::DurableAck.code());
                put_tables(tables, out);
            }
            Response::Error {
                status,
                sequence,
                message,
            } => {
                out.u8(status.code());
                out.i64(*sequence);
                out.str_u16(clip_u16(message).as_bytes());
            }
        }
    }

    /// Encodes into a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0; self.encoded_len()];
        self.encode(&mut Out::plain(&mut b));
        b
    }

    /// Decodes one response frame.
    pub fn decode(frame: &[u8]) -> Result<Response> {
        let mut r = Reader::new(frame);
        let status = Status::from_code(r.u8("status")?);
        let resp = match status {
            Status::Ok => Response::Ok {
                sequence: r.i64("sequence")?,
                tables: get_tables(&mut r)?,
            },
            Status::DurableAck => Response::DurableAck {
                tables: get_tables(&mut r)?,
            },
            status => Response::Error {
                status,
                sequence: r.i64("sequence")?,
                message: r.str_u16("error message")?.to_string(),
            },
        };
        r.finish("the response")?;
        Ok(resp)
    }
}

#[cfg(test)]
#[path = "ingress_tests.rs"]
mod tests;
