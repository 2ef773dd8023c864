//! Client API.
//!
//! - [`QuestDb`]: the process-wide handle (lazy, pooled, `Send + Sync`) with
//!   [`QuestDb::flush_arrow_batch`] (one batch, committed atomically, waits
//!   for the acknowledgement) and [`QuestDb::ingest`] (a stream of batches,
//!   pipelined, bounded memory, at-least-once across reconnects).
//! - [`Sender`]: the ingest engine over one `/write/v4` connection (what
//!   the handle pools). It never copies a batch: frames are encoded from
//!   the Arrow buffers straight into the send buffer.
//! - [`QueryConn`]: a blocking SQL connection that returns whole results as
//!   Arrow batches (it buffers the whole result).

pub mod db;
pub mod sender;

pub use crate::bridge::overrides::ColumnOverride;
pub use db::{PooledSender, QuestDb};
pub use sender::{AckLevel, Gorilla, IngestOptions, IngestSummary, Progress, Sender};

/// Walks `conf`'s addresses in order and returns the first connection
/// `connect` opens. Auth and config errors are terminal (later endpoints
/// would fail the same way); other errors move on to the next address.
pub(crate) fn first_reachable<T>(
    conf: &Conf,
    connect: impl Fn(&ConnectOptions) -> Result<T>,
) -> Result<T> {
    let mut last = None;
    for addr in &conf.addrs {
        let opts = ConnectOptions::from_conf(conf, addr)?;
        match connect(&opts) {
            Ok(c) => return Ok(c),
            Err(e) if matches!(e.kind(), ErrorKind::Auth | ErrorKind::Config) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::new(ErrorKind::Config, "no addr in the connect string")))
}

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};

use crate::bridge::decode::decode_array;
use crate::bridge::types::arrow_field;
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::egress::{
    ClientMessage, Inflater, QueryRequest, RESET_MASK_DICT, ServerControl, ServerInfo,
    ServerMessage, decode_server_message,
};
use crate::protocol::ingress::ColumnDef;
use crate::transport::{ConnectOptions, Connection, Route};

/// What a statement returned.
#[derive(Debug)]
pub enum QueryResult {
    /// A result set: its schema (known even when there are no rows) and
    /// batches.
    Rows {
        /// Arrow schema with `questdb.*` field metadata.
        schema: SchemaRef,
        /// The batches, in server order.
        batches: Vec<RecordBatch>,
    },
    /// A statement without a result set (DDL, INSERT, ...).
    Done {
        /// Rows inserted or updated; 0 for DDL.
        rows_affected: u64,
    },
}

/// A blocking connection to `/read/v1`.
pub struct QueryConn {
    conn: Connection,
    info: ServerInfo,
    version: u8,
    next_id: i64,
    dict: Vec<String>,
    inflater: Inflater,
}

impl QueryConn {
    /// Connects to the first reachable address of `conf` and reads
    /// SERVER_INFO.
    pub fn connect(conf: &Conf) -> Result<QueryConn> {
        first_reachable(conf, QueryConn::connect_with)
    }

    /// Connects with explicit transport options.
    pub fn connect_with(opts: &ConnectOptions) -> Result<QueryConn> {
        let (mut conn, hs) = Connection::connect(opts, Route::Query)?;
        let first = conn.recv()?;
        let info = match decode_server_message(&first, hs.version)? {
            ServerMessage::Control(ServerControl::ServerInfo(i)) => i,
            other => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("expected SERVER_INFO first, got {other:?}"),
                ));
            }
        };
        Ok(QueryConn {
            conn,
            info,
            version: hs.version,
            next_id: 1,
            dict: Vec::new(),
            inflater: Inflater::new(),
        })
    }

    /// What the server announced.
    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    /// Runs SQL without binds and returns the whole result.
    pub fn sql(&mut self, sql: &str) -> Result<QueryResult> {
        self.execute(QueryRequest::new(0, sql))
    }

    /// Runs a request (binds, credit; its `request_id` is assigned here) and
    /// returns the whole result. With a non-zero `initial_credit`, credit is
    /// granted again after each batch. A server error is an
    /// [`ErrorKind::Server`] error with the status; the connection stays
    /// usable.
    pub fn execute(&mut self, mut q: QueryRequest) -> Result<QueryResult> {
        q.request_id = self.next_id;
        self.next_id += 1;
        let bytes = q.to_bytes()?;
        self.conn.send(&bytes)?;
        let mut schema_defs: Option<Vec<ColumnDef>> = None;
        let mut schema: Option<SchemaRef> = None;
        let mut batches = Vec::new();
        loop {
            let frame = self.conn.recv()?;
            match decode_server_message(&frame, self.version)? {
                ServerMessage::Batch(raw) => {
                    if raw.request_id != q.request_id {
                        continue;
                    }
                    let v = raw.decode(&mut self.inflater, schema_defs.as_deref())?;
                    if let Some(d) = &v.delta {
                        if d.start as usize != self.dict.len() {
                            return Err(Error::new(
                                ErrorKind::Protocol,
                                format!(
                                    "symbol delta starts at {} but {} entries are known",
                                    d.start,
                                    self.dict.len()
                                ),
                            ));
                        }
                        self.dict.extend(d.entries.iter().map(|s| s.to_string()));
                    }
                    if let Some(s) = &v.schema {
                        schema_defs = Some(
                            s.iter()
                                .map(|(n, t)| ColumnDef {
                                    name: n.to_string(),
                                    ty: *t,
                                })
                                .collect(),
                        );
                    }
                    let defs = schema_defs.as_ref().ok_or_else(|| {
                        Error::new(ErrorKind::Protocol, "result batch before its schema")
                    })?;
                    let mut fields = Vec::with_capacity(defs.len());
                    let mut cols: Vec<ArrayRef> = Vec::with_capacity(defs.len());
                    for (def, c) in defs.iter().zip(&v.columns) {
                        let (t, a) = decode_array(c, &self.dict)
                            .map_err(|e| e.context(format!("column {:?}", def.name)))?;
                        fields.push(arrow_field(&def.name, t, false));
                        cols.push(a);
                    }
                    let s = schema
                        .get_or_insert_with(|| Arc::new(Schema::new(fields)))
                        .clone();
                    let b = RecordBatch::try_new(s, cols)
                        .map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))?;
                    batches.push(b);
                    if q.initial_credit > 0 {
                        let credit = ClientMessage::Credit {
                            request_id: q.request_id,
                            additional_bytes: q.initial_credit.max(frame.len() as u64),
                        };
                        self.conn.send(&credit.to_bytes())?;
                    }
                }
                ServerMessage::Control(ServerControl::ResultEnd { request_id, .. })
                    if request_id == q.request_id =>
                {
                    let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
                    return Ok(QueryResult::Rows { schema, batches });
                }
                ServerMessage::Control(ServerControl::ExecDone {
                    request_id,
                    rows_affected,
                    ..
                }) if request_id == q.request_id => {
                    return Ok(QueryResult::Done { rows_affected });
                }
                ServerMessage::Control(ServerControl::QueryError {
                    request_id,
                    status,
                    message,
                }) if request_id == q.request_id || request_id == -1 => {
                    return Err(
                        Error::server(status, message).context(format!("query {:?}", q.sql))
                    );
                }
                ServerMessage::Control(ServerControl::CacheReset { mask }) => {
                    if mask & RESET_MASK_DICT != 0 {
                        self.dict.clear();
                    }
                }
                ServerMessage::Control(_) => {}
            }
        }
    }

    /// Runs SQL and concatenates the result into one batch.
    pub fn rows(&mut self, sql: &str) -> Result<RecordBatch> {
        match self.sql(sql)? {
            QueryResult::Rows { schema, batches } => {
                arrow::compute::concat_batches(&schema, &batches)
                    .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))
            }
            QueryResult::Done { .. } => Err(Error::new(
                ErrorKind::InvalidData,
                format!("{sql:?} returned no result set"),
            )),
        }
    }

    /// The underlying connection (for sending CANCEL or CREDIT by hand).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}
