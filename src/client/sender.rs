//! Arrow ingest over one `/write/v4` connection.
//!
//! [`Sender::flush_arrow_batch`] maps the batch's columns to QWP types
//! (rejecting unsupported ones before anything is sent), splits it into
//! frames that fit the server's batch-size budget by exact sizing,
//! marks all but the last frame `FLAG_DEFER_COMMIT` so the batch commits
//! atomically, writes each frame masked in one pass (columns in parallel for
//! large frames) and waits for the server to acknowledge every frame.

use std::time::Duration;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;

use crate::bridge::encode::SymbolDict;
use crate::bridge::frame::BlockEncoder;
use crate::bridge::types::{QwpType, qwp_type_of};
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::Layout;
use crate::protocol::ingress::Response;
use crate::protocol::{
    ColumnType, FLAG_DEFER_COMMIT, FLAG_DELTA_SYMBOL_DICT, FLAG_GORILLA, HEADER_LEN, Header,
    MAX_ROWS_PER_TABLE_BLOCK,
};
use crate::transport::{ConnectOptions, Connection, Route};

/// Used when the server does not advertise `X-QWP-Max-Batch-Size`.
pub const DEFAULT_FRAME_BUDGET_BYTES: usize = 1_900_000;

/// What one flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushSummary {
    /// Rows sent.
    pub rows: usize,
    /// Frames sent.
    pub frames: usize,
    /// Bytes sent (QWP messages, before WebSocket framing).
    pub bytes: usize,
}

/// One ingest connection.
pub struct Sender {
    conn: Connection,
    budget: usize,
    dict: SymbolDict,
    next_seq: i64,
    ack_timeout: Duration,
}

impl Sender {
    /// Connects to the first reachable address of `conf`.
    pub fn connect(conf: &Conf) -> Result<Sender> {
        super::first_reachable(conf, Sender::connect_with)
    }

    /// Connects with explicit transport options.
    pub fn connect_with(opts: &ConnectOptions) -> Result<Sender> {
        let (conn, hs) = Connection::connect(opts, Route::Ingest)?;
        // 90 % of the advertised cap leaves room for framing, as the spec asks.
        let budget = hs
            .max_batch_size
            .map_or(DEFAULT_FRAME_BUDGET_BYTES, |m| m / 10 * 9);
        Ok(Sender {
            conn,
            budget,
            dict: SymbolDict::default(),
            next_seq: 0,
            ack_timeout: Duration::from_secs(60),
        })
    }

    /// The frame size budget in bytes (whole QWP message).
    pub fn frame_budget(&self) -> usize {
        self.budget
    }

    /// Lowers (never raises) the frame budget, e.g. for tests.
    pub fn set_frame_budget(&mut self, bytes: usize) {
        self.budget = self.budget.min(bytes.max(256));
    }

    /// Sends `batch` to `table` and waits until the server acknowledged all
    /// of it. `ts_col` names the designated timestamp column (a Timestamp
    /// column without NULLs or negative values); `None` lets the server
    /// assign the time. A batch larger than one frame commits atomically.
    pub fn flush_arrow_batch(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        ts_col: Option<&str>,
    ) -> Result<FlushSummary> {
        let (names, types) = plan_schema(table, batch, ts_col)?;
        let rows = batch.num_rows();
        let mut summary = FlushSummary::default();
        if rows == 0 {
            return Ok(summary);
        }
        let mut start = 0;
        let mut per_frame = rows.min(MAX_ROWS_PER_TABLE_BLOCK);
        let mut first_seq = None;
        while start < rows {
            let mut n = per_frame.min(rows - start);
            loop {
                let slice = batch.slice(start, n);
                let block = BlockEncoder::new(
                    &slice,
                    names.clone(),
                    types.clone(),
                    &Layout::INGRESS,
                    &mut self.dict,
                )
                .map_err(|e| e.context(format!("table {table}")))?;
                let delta = self.dict.pending_delta();
                let len = HEADER_LEN + delta.encoded_len() + block.encoded_len(table, true);
                if len > self.budget {
                    // Exact sizing: shrink the slice until its frame fits.
                    if n == 1 {
                        return Err(Error::new(
                            ErrorKind::InvalidData,
                            format!(
                                "table {table}, row {start}: one row needs {len} bytes, above the server's frame budget of {} bytes",
                                self.budget
                            ),
                        ));
                    }
                    let scaled = (n as f64 * self.budget as f64 / len as f64 * 0.95) as usize;
                    n = scaled.clamp(1, n - 1);
                    continue;
                }
                let last = start + n >= rows;
                let mut flags = FLAG_GORILLA | FLAG_DELTA_SYMBOL_DICT;
                if !last {
                    flags |= FLAG_DEFER_COMMIT;
                }
                let payload = (len - HEADER_LEN) as u32;
                self.conn
                    .send_with(len, |out| {
                        Header {
                            version: 1,
                            flags,
                            table_count: 1,
                            payload_len: payload,
                        }
                        .write(out);
                        delta.encode(out);
                        block.write(table, true, out);
                    })
                    .map_err(|e| {
                        e.context(format!(
                            "table {table}: sending rows {start}..{}",
                            start + n
                        ))
                    })?;
                self.dict.mark_sent();
                first_seq.get_or_insert(self.next_seq);
                self.next_seq += 1;
                summary.frames += 1;
                summary.bytes += len;
                break;
            }
            summary.rows += n;
            start += n;
            per_frame = n;
        }
        self.await_acks(table, first_seq.unwrap_or(0))?;
        Ok(summary)
    }

    /// Reads responses until every frame up to `next_seq - 1` is acknowledged.
    fn await_acks(&mut self, table: &str, first: i64) -> Result<()> {
        let want = self.next_seq - 1;
        let mut done = first - 1;
        while done < want {
            let frame = match self.conn.recv_timeout(Some(self.ack_timeout))? {
                Some(f) => f,
                None => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "table {table}: no acknowledgement within {:?}",
                            self.ack_timeout
                        ),
                    ));
                }
            };
            match Response::decode(&frame)? {
                // An OK completes every frame up to its sequence.
                Response::Ok { sequence, .. } => done = done.max(sequence),
                Response::DurableAck { .. } => {}
                Response::Error {
                    status,
                    sequence,
                    message,
                } => {
                    return Err(Error::server(
                        status,
                        format!("table {table}: frame {sequence} rejected: {message}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Wire names and QWP types of the batch's columns; errors before anything
/// is sent.
fn plan_schema(
    table: &str,
    batch: &RecordBatch,
    ts_col: Option<&str>,
) -> Result<(Vec<String>, Vec<QwpType>)> {
    if table.is_empty() || table.len() > crate::protocol::MAX_NAME_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table name {table:?} must be 1..=127 bytes"),
        ));
    }
    let schema = batch.schema();
    if let Some(ts) = ts_col
        && schema.index_of(ts).is_err()
    {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table {table}: designated timestamp column {ts:?} is not in the batch"),
        ));
    }
    let mut names = Vec::new();
    let mut types = Vec::new();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let t = qwp_type_of(field).map_err(|e| e.context(format!("table {table}")))?;
        let designated = ts_col == Some(field.name().as_str());
        if designated {
            if !matches!(field.data_type(), DataType::Timestamp(_, _))
                || !matches!(t.ty, ColumnType::Timestamp | ColumnType::TimestampNanos)
            {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "table {table}: designated timestamp column {:?} is {}, not a Timestamp",
                        field.name(),
                        field.data_type()
                    ),
                ));
            }
            if let Some(row) = (0..array.len()).find(|&r| array.is_null(r)) {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "table {table}: designated timestamp column {:?} is NULL at row {row}",
                        field.name()
                    ),
                ));
            }
            let v = arrow::compute::cast(array, &DataType::Int64)
                .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
            let v = v.as_any().downcast_ref::<arrow::array::Int64Array>();
            if let Some(row) = v.and_then(|v| v.values().iter().position(|&x| x < 0)) {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "table {table}: designated timestamp column {:?} is negative at row {row}",
                        field.name()
                    ),
                ));
            }
        }
        names.push(if designated {
            String::new()
        } else {
            field.name().clone()
        });
        types.push(t);
    }
    Ok((names, types))
}
