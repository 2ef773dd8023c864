//! The ingest endpoint: one connection's frames, its symbol dictionary,
//! deferred commits and responses.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{Field, Schema};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::storage::{DEFAULT_TS_NAME, Reject};
use super::{Shared, Upgrade, Ws, ws_err};
use crate::bridge::decode::decode_array;
use crate::bridge::types::arrow_field;
use crate::error::Result;
use crate::protocol::ingress::{Response, decode_message};
use crate::protocol::{
    ColumnType, FLAG_DEFER_COMMIT, MAX_NAME_BYTES, MAX_ROWS_PER_TABLE_BLOCK,
    MAX_SYMBOL_DICT_ENTRIES, Status,
};

/// Rows held across deferred frames before a forced commit.
const MAX_UNCOMMITTED_ROWS: usize = 1_000_000;
/// Distinct tables one connection may write (`qwp.max.tables.per.connection`).
const MAX_TABLES_PER_CONNECTION: usize = 10_000;

struct Conn<'s> {
    shared: &'s Shared,
    dict: Vec<String>,
    pending: Vec<(String, RecordBatch, Option<String>)>,
    pending_rows: usize,
    tables_seen: Vec<String>,
    /// Set when a frame of a deferred transaction was rejected: the
    /// transaction is aborted and its remaining frames (up to the next
    /// frame without `FLAG_DEFER_COMMIT`) are refused, so a batch split
    /// across frames never commits in part.
    aborted: Option<(i64, Status)>,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl<'s> Conn<'s> {
    fn new(shared: &'s Shared) -> Conn<'s> {
        Conn {
            shared,
            dict: Vec::new(),
            pending: Vec::new(),
            pending_rows: 0,
            tables_seen: Vec::new(),
            aborted: None,
        }
    }

    fn respond(&mut self, sequence: i64, frame: &[u8]) -> Response {
        // The flags byte follows the magic and the version.
        let deferred = frame.get(5).is_some_and(|f| f & FLAG_DEFER_COMMIT != 0);
        if let Some((first, status)) = self.aborted {
            if !deferred {
                self.aborted = None;
            }
            return Response::Error {
                status,
                sequence,
                message: format!(
                    "transaction aborted: frame {first} of this deferred batch was rejected"
                ),
            };
        }
        match self.handle(frame) {
            Ok(tables) => Response::Ok { sequence, tables },
            Err(r) => {
                // Roll back what the transaction holds.
                self.pending.clear();
                self.pending_rows = 0;
                if deferred {
                    self.aborted = Some((sequence, r.status));
                }
                Response::Error {
                    status: r.status,
                    sequence,
                    message: r.message,
                }
            }
        }
    }

    fn handle(&mut self, frame: &[u8]) -> std::result::Result<Vec<(String, i64)>, Reject> {
        let msg =
            decode_message(frame, 1).map_err(|e| Reject::new(Status::ParseError, e.to_string()))?;
        if let Some(d) = &msg.delta {
            let start = d.start as usize;
            if start > self.dict.len() {
                return Err(Reject::new(
                    Status::DictionaryGap,
                    format!(
                        "delta dictionary starts at id {start} but the connection dictionary has {} entries",
                        self.dict.len()
                    ),
                ));
            }
            if start + d.entries.len() > MAX_SYMBOL_DICT_ENTRIES {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("symbol dictionary exceeds {MAX_SYMBOL_DICT_ENTRIES} entries"),
                ));
            }
            for (k, s) in d.entries.iter().enumerate() {
                let id = start + k;
                if id < self.dict.len() {
                    self.dict[id] = s.to_string();
                } else {
                    self.dict.push(s.to_string());
                }
            }
        }
        if self.shared.cfg.sink {
            return Ok(Vec::new());
        }
        for block in &msg.tables {
            let table = block.name;
            if table.is_empty() || table.len() > MAX_NAME_BYTES {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("invalid table name {table:?}"),
                ));
            }
            if block.row_count > MAX_ROWS_PER_TABLE_BLOCK {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("table {table}: {} rows in one block", block.row_count),
                ));
            }
            if !self
                .tables_seen
                .iter()
                .any(|t| t.eq_ignore_ascii_case(table))
            {
                if self.tables_seen.len() >= MAX_TABLES_PER_CONNECTION {
                    return Err(Reject::new(
                        Status::LimitExceeded,
                        format!(
                            "more than {MAX_TABLES_PER_CONNECTION} tables on one connection (table {table})"
                        ),
                    ));
                }
                self.tables_seen.push(table.to_string());
            }
            if block.row_count == 0 {
                continue;
            }
            let existing = self.shared.catalog.table(table);
            let ts_name = existing
                .as_ref()
                .and_then(|t| t.designated.map(|d| t.schema.field(d).name().clone()))
                .or_else(|| {
                    self.pending
                        .iter()
                        .find(|(n, _, _)| n.eq_ignore_ascii_case(table))
                        .and_then(|(_, _, d)| d.clone())
                })
                .unwrap_or_else(|| DEFAULT_TS_NAME.to_string());
            let mut fields: Vec<Field> = Vec::with_capacity(block.columns.len() + 1);
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(block.columns.len() + 1);
            let mut has_designated = false;
            for ((name, ty), view) in block.schema.iter().zip(&block.columns) {
                let designated = name.is_empty();
                if designated && !matches!(ty, ColumnType::Timestamp | ColumnType::TimestampNanos) {
                    return Err(Reject::new(
                        Status::ParseError,
                        format!(
                            "table {table}: a column with an empty name must be the designated TIMESTAMP, not {ty}"
                        ),
                    ));
                }
                let col_name = if designated { ts_name.as_str() } else { name };
                if fields.iter().any(|f| f.name() == col_name) {
                    return Err(Reject::new(
                        Status::ParseError,
                        format!("table {table}: column {col_name} appears twice"),
                    ));
                }
                let (t, arr) = decode_array(view, &self.dict).map_err(|e| {
                    Reject::new(
                        Status::ParseError,
                        format!("table {table}, column {col_name}: {e}"),
                    )
                })?;
                // QuestDB stores no NULL for these types: a NULL arrives
                // as false / 0 (the decoder already put that value under
                // each NULL), so drop the validity.
                let arr = if arr.null_count() > 0
                    && matches!(
                        t.ty,
                        ColumnType::Boolean
                            | ColumnType::Byte
                            | ColumnType::Short
                            | ColumnType::Char
                    ) {
                    arr.to_data()
                        .into_builder()
                        .nulls(None)
                        .build()
                        .map(arrow::array::make_array)
                        .map_err(|e| {
                            Reject::new(
                                Status::InternalError,
                                format!("table {table}, column {col_name}: {e}"),
                            )
                        })?
                } else {
                    arr
                };
                if designated {
                    if arr.null_count() > 0 {
                        return Err(Reject::new(
                            Status::ParseError,
                            format!("table {table}: designated timestamp has NULL values"),
                        ));
                    }
                    has_designated = true;
                }
                fields.push(arrow_field(col_name, t, designated));
                cols.push(arr);
            }
            if !has_designated && fields.iter().all(|f| f.name() != &ts_name) {
                let now = now_micros();
                let ts = TimestampMicrosecondArray::from(vec![now; block.row_count])
                    .with_timezone("UTC");
                fields.push(arrow_field(
                    &ts_name,
                    crate::bridge::QwpType::plain(ColumnType::Timestamp),
                    true,
                ));
                cols.push(Arc::new(ts));
            }
            let fields: Vec<Arc<Field>> = fields.into_iter().map(Arc::new).collect();
            self.shared.catalog.check(table, &fields)?;
            for (n, b, _) in &self.pending {
                if n.eq_ignore_ascii_case(table) {
                    for f in &fields {
                        if let Ok(i) = b.schema().index_of(f.name())
                            && b.schema().field(i).data_type() != f.data_type()
                        {
                            return Err(Reject::new(
                                Status::SchemaMismatch,
                                format!(
                                    "table {table}, column {}: type changed within a transaction",
                                    f.name()
                                ),
                            ));
                        }
                    }
                }
            }
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
                .map_err(|e| Reject::new(Status::ParseError, format!("table {table}: {e}")))?;
            self.pending_rows += batch.num_rows();
            self.pending
                .push((table.to_string(), batch, Some(ts_name.clone())));
        }
        if msg.defer_commit() && self.pending_rows < MAX_UNCOMMITTED_ROWS {
            return Ok(Vec::new());
        }
        let writes = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        self.shared.catalog.commit(writes)
    }
}

/// One connection's handling of `frames`, without a socket.
pub(super) fn feed<'f>(
    shared: &Shared,
    frames: impl IntoIterator<Item = &'f [u8]>,
) -> Vec<Response> {
    let mut conn = Conn::new(shared);
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| conn.respond(i as i64, f))
        .collect()
}

pub(super) fn serve(mut ws: Ws, shared: &Arc<Shared>, up: &Upgrade, conn_no: usize) -> Result<()> {
    let faults = &shared.cfg.faults;
    let close_after = faults
        .close_after_frames
        .filter(|_| faults.close_first_connections.is_none_or(|k| conn_no < k));
    let mut conn = Conn::new(shared);
    let mut seq: i64 = 0;
    ws.get_ref()
        .tcp()
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))?;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(());
        }
        let msg = match ws.read() {
            Ok(m) => m,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(idle) = shared.close_if_idle(&mut ws) {
                    return Err(idle);
                }
                continue;
            }
            Err(tungstenite::Error::Capacity(e)) => {
                let _ = ws.close(Some(CloseFrame {
                    code: CloseCode::Size,
                    reason: format!("frame larger than the receive buffer: {e}").into(),
                }));
                let _ = ws.flush();
                return Ok(());
            }
            // Dropping `conn` discards uncommitted (deferred) rows.
            Err(e) => return Err(ws_err(e)),
        };
        let frame = match msg {
            Message::Binary(b) => b,
            Message::Close(_) => return Ok(()),
            Message::Text(_) => {
                let _ = ws.close(Some(CloseFrame {
                    code: CloseCode::Unsupported,
                    reason: "QWP frames are binary".into(),
                }));
                let _ = ws.flush();
                return Ok(());
            }
            _ => continue,
        };
        let this = seq;
        seq += 1;
        if close_after.is_some_and(|k| seq as usize >= k) {
            // Fault injection: drop the connection without answering.
            return Ok(());
        }
        let resp = conn.respond(this, &frame);
        if let Some(d) = faults.ack_delay {
            std::thread::sleep(d);
        }
        let durable = match (&resp, up.durable_ack) {
            (Response::Ok { tables, .. }, true) if !tables.is_empty() => {
                Some(Response::DurableAck {
                    tables: tables.clone(),
                })
            }
            _ => None,
        };
        ws.send(Message::Binary(resp.to_bytes().into()))
            .map_err(ws_err)?;
        if let Some(d) = durable {
            ws.send(Message::Binary(d.to_bytes().into()))
                .map_err(ws_err)?;
        }
    }
}
