//! The embedded server spoken to at the wire level: our transport and codec
//! as the client (the official client's view is in `interop`).

mod faults_and_types;
mod ingest;
mod query;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int64Type};
use questdb_arrow::bridge::decode::decode_array;
use questdb_arrow::bridge::types::arrow_field;
use questdb_arrow::protocol::egress::{
    ClientMessage, Inflater, QueryRequest, ServerControl, ServerMessage, decode_server_message,
};
use questdb_arrow::protocol::ingress::{
    ColumnDef, IngressMessage, Response, SymbolDelta, TableBlock,
};
use questdb_arrow::protocol::{ColumnData, ColumnType, FLAG_DEFER_COMMIT, Status, Values};
use questdb_arrow::server::{Faults, Server, ServerHandle};
use questdb_arrow::transport::{Auth, ConnectOptions, Connection, Route};
use questdb_arrow::{ErrorKind, Result};

pub fn start() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .start()
        .expect("server starts")
}

fn opts(srv: &ServerHandle) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    o
}

pub fn ingest_conn(srv: &ServerHandle) -> Connection {
    Connection::connect(&opts(srv), Route::Ingest)
        .expect("ingest connects")
        .0
}

fn send(c: &mut Connection, bytes: &[u8]) -> Result<Response> {
    c.send(bytes)?;
    Response::decode(&c.recv()?)
}

fn col(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
    }
}

/// A block of `n` rows: sym SYMBOL (ids from the delta), x LONG, d DOUBLE,
/// note VARCHAR (every third NULL), designated ts.
fn block(table: &str, start_ts: i64, n: usize, sym_ids: &[u32]) -> TableBlock {
    let nulls: Vec<bool> = (0..n).map(|i| i % 3 == 2).collect();
    TableBlock {
        name: table.into(),
        columns: vec![
            col("sym", ColumnType::Symbol),
            col("x", ColumnType::Long),
            col("d", ColumnType::Double),
            col("note", ColumnType::Varchar),
            col("", ColumnType::Timestamp),
        ],
        data: vec![
            ColumnData::new(Values::Symbol(
                (0..n).map(|i| sym_ids[i % sym_ids.len()]).collect(),
            )),
            ColumnData::new(Values::Long((0..n as i64).collect())),
            ColumnData::new(Values::Double((0..n).map(|i| i as f64 * 0.5).collect())),
            ColumnData::with_nulls(
                Values::Varchar(
                    (0..n)
                        .filter(|i| i % 3 != 2)
                        .map(|i| format!("n{i}"))
                        .collect(),
                ),
                nulls,
            ),
            ColumnData::new(Values::Timestamp(
                (0..n as i64).map(|i| start_ts + i * 1000).collect(),
            )),
        ],
    }
}

fn msg(delta_start: u64, entries: &[&str], tables: Vec<TableBlock>) -> Vec<u8> {
    IngressMessage::new(
        SymbolDelta {
            start: delta_start,
            entries: entries.iter().map(|s| s.to_string()).collect(),
        },
        tables,
    )
    .to_bytes()
    .unwrap()
}

fn ok_seq(r: &Response) -> i64 {
    match r {
        Response::Ok { sequence, .. } => *sequence,
        other => panic!("expected OK, got {other:?}"),
    }
}

fn err_of(r: &Response) -> (Status, i64, String) {
    match r {
        Response::Error {
            status,
            sequence,
            message,
        } => (*status, *sequence, message.clone()),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A minimal query client over the codec: returns batches or the error.
pub struct QueryClient {
    conn: Connection,
    next_id: i64,
    dict: Vec<String>,
}

/// What a query gave.
#[derive(Debug)]
pub enum Answer {
    Rows(Vec<RecordBatch>, u64),
    Done(u64),
    Error(Status, String),
}

impl QueryClient {
    pub fn connect(srv: &ServerHandle, zstd: bool) -> QueryClient {
        let mut o = opts(srv);
        if zstd {
            o.accept_encoding = Some("zstd;level=3,raw".into());
        }
        let (mut conn, hs) = Connection::connect(&o, Route::Query).expect("query connects");
        assert_eq!(hs.content_encoding.as_deref(), zstd.then_some("zstd"));
        let info = conn.recv().unwrap();
        match decode_server_message(&info, 1).unwrap() {
            ServerMessage::Control(ServerControl::ServerInfo(_)) => {}
            other => panic!("first frame is not SERVER_INFO: {other:?}"),
        }
        QueryClient {
            conn,
            next_id: 1,
            dict: Vec::new(),
        }
    }

    pub fn run(&mut self, q: QueryRequest) -> Answer {
        self.run_with(q, |_, _| {})
    }

    /// Runs `q`; `on_batch(conn, batch_seq)` runs after each batch.
    pub fn run_with(
        &mut self,
        mut q: QueryRequest,
        mut on_batch: impl FnMut(&mut Connection, u64),
    ) -> Answer {
        q.request_id = self.next_id;
        self.next_id += 1;
        self.conn.send(&q.to_bytes().unwrap()).unwrap();
        let mut inflater = Inflater::new();
        let mut schema: Option<Vec<ColumnDef>> = None;
        let mut batches = Vec::new();
        loop {
            let frame = self.conn.recv().expect("frame");
            match decode_server_message(&frame, 1).expect("valid frame") {
                ServerMessage::Batch(raw) => {
                    assert_eq!(raw.request_id, q.request_id);
                    let seq = raw.batch_seq;
                    let v = raw
                        .decode(&mut inflater, schema.as_deref())
                        .expect("batch decodes");
                    if let Some(d) = &v.delta {
                        assert_eq!(
                            d.start as usize,
                            self.dict.len(),
                            "dictionary delta in order"
                        );
                        self.dict.extend(d.entries.iter().map(|s| s.to_string()));
                    }
                    if let Some(s) = &v.schema {
                        schema = Some(
                            s.iter()
                                .map(|(n, t)| ColumnDef {
                                    name: n.to_string(),
                                    ty: *t,
                                })
                                .collect(),
                        );
                    }
                    let defs = schema.as_ref().expect("schema first");
                    let mut fields = Vec::new();
                    let mut cols: Vec<ArrayRef> = Vec::new();
                    for (def, c) in defs.iter().zip(&v.columns) {
                        let (t, a) = decode_array(c, &self.dict).expect("column decodes");
                        fields.push(arrow_field(&def.name, t, false));
                        cols.push(a);
                    }
                    let b =
                        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols)
                            .unwrap();
                    batches.push(b);
                    on_batch(&mut self.conn, seq);
                }
                ServerMessage::Control(ServerControl::ResultEnd { total_rows, .. }) => {
                    return Answer::Rows(batches, total_rows);
                }
                ServerMessage::Control(ServerControl::ExecDone { rows_affected, .. }) => {
                    return Answer::Done(rows_affected);
                }
                ServerMessage::Control(ServerControl::QueryError {
                    status, message, ..
                }) => return Answer::Error(status, message),
                ServerMessage::Control(ServerControl::CacheReset { mask }) => {
                    if mask & 1 == 1 {
                        self.dict.clear();
                    }
                }
                ServerMessage::Control(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    pub fn sql(&mut self, sql: &str) -> Answer {
        self.run(QueryRequest::new(0, sql))
    }

    pub fn rows(&mut self, sql: &str) -> RecordBatch {
        match self.sql(sql) {
            Answer::Rows(b, _) => {
                let schema = b.first().map(|x| x.schema()).expect("at least one batch");
                arrow::compute::concat_batches(&schema, &b).unwrap()
            }
            other => panic!("{sql}: {other:?}"),
        }
    }
}

fn i64s(a: &ArrayRef) -> Vec<i64> {
    a.as_primitive::<Int64Type>().values().to_vec()
}
