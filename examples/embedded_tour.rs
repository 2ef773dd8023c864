//! The main job on a fresh machine: start the embedded QWP server, ingest a
//! generated W1 stream (timestamp, SYMBOL, 4 DOUBLE, 2 LONG, VARCHAR), then
//! query it back with SQL and print the first rows.
//!
//! Run: `cargo run --release --features server --example embedded_tour [ROWS]`
//!
//! Ingest goes through the QWP codec and transport directly (one frame per
//! 20 000 rows, acknowledged before the next); the Arrow-native
//! `flush_arrow_batch` client replaces this loop.

use std::time::Instant;

use questdb_arrow::client::{QueryConn, QueryResult};
use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::ingress::{
    ColumnDef, IngressMessage, Response, SymbolDelta, TableBlock,
};
use questdb_arrow::protocol::{ColumnData, ColumnType, Values};
use questdb_arrow::server::Server;
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

const FRAME_ROWS: usize = 20_000;
const SYMBOLS: usize = 64;

fn w1_frame(start: usize, n: usize, first: bool, seed: &mut u64) -> IngressMessage {
    let mut rnd = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let t0 = 1_700_000_000_000_000i64;
    let ts: Vec<i64> = (start..start + n)
        .map(|i| t0 + i as i64 * 1000 + (rnd() % 100) as i64)
        .collect();
    let sym: Vec<u32> = (0..n).map(|_| (rnd() % SYMBOLS as u64) as u32).collect();
    let dbl = |r: &mut dyn FnMut() -> u64| -> Vec<f64> {
        (0..n)
            .map(|_| (r() >> 11) as f64 / (1u64 << 53) as f64 * 100.0)
            .collect()
    };
    let d: Vec<Vec<f64>> = (0..4).map(|_| dbl(&mut rnd)).collect();
    let l: Vec<Vec<i64>> = (0..2)
        .map(|_| (0..n).map(|_| (rnd() % 1_000_000) as i64).collect())
        .collect();
    let note: Vec<String> = (0..n)
        .map(|_| format!("note-{:010}", rnd() % 10_000_000_000))
        .collect();
    let mut columns = vec![ColumnDef {
        name: "sym".into(),
        ty: ColumnType::Symbol,
    }];
    let mut data = vec![ColumnData::new(Values::Symbol(sym))];
    for (i, v) in d.into_iter().enumerate() {
        columns.push(ColumnDef {
            name: format!("d{}", i + 1),
            ty: ColumnType::Double,
        });
        data.push(ColumnData::new(Values::Double(v)));
    }
    for (i, v) in l.into_iter().enumerate() {
        columns.push(ColumnDef {
            name: format!("l{}", i + 1),
            ty: ColumnType::Long,
        });
        data.push(ColumnData::new(Values::Long(v)));
    }
    columns.push(ColumnDef {
        name: "note".into(),
        ty: ColumnType::Varchar,
    });
    data.push(ColumnData::new(Values::Varchar(note)));
    columns.push(ColumnDef {
        name: String::new(),
        ty: ColumnType::Timestamp,
    });
    data.push(ColumnData::new(Values::Timestamp(ts)));
    // The symbol dictionary travels once per connection, in the first frame.
    let delta = if first {
        SymbolDelta {
            start: 0,
            entries: (0..SYMBOLS).map(|i| format!("SYM{i:02}")).collect(),
        }
    } else {
        SymbolDelta {
            start: SYMBOLS as u64,
            entries: vec![],
        }
    };
    IngressMessage::new(
        delta,
        vec![TableBlock {
            name: "w1".into(),
            columns,
            data,
        }],
    )
}

fn main() -> questdb_arrow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let server = Server::builder().bind("127.0.0.1:0").start()?;
    println!(
        "embedded QWP server on {} ({})",
        server.addr(),
        server.conf_string()
    );
    let conf = Conf::parse(&server.conf_string())?;

    let (mut conn, hs) = Connection::connect(
        &ConnectOptions::from_conf(&conf, &conf.addrs[0])?,
        Route::Ingest,
    )?;
    println!(
        "ingest connected: QWP v{}, max batch {:?} bytes",
        hs.version, hs.max_batch_size
    );
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let t = Instant::now();
    let mut bytes = 0usize;
    let mut start = 0;
    while start < rows {
        let n = FRAME_ROWS.min(rows - start);
        let frame = w1_frame(start, n, start == 0, &mut seed).to_bytes()?;
        bytes += frame.len();
        conn.send(&frame)?;
        match Response::decode(&conn.recv()?)? {
            Response::Ok { .. } => {}
            other => panic!("ingest rejected: {other:?}"),
        }
        start += n;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingested {rows} rows in {:.2} s: {:.0} rows/s, {:.1} MB/s on the wire (incl. generation)",
        secs,
        rows as f64 / secs,
        bytes as f64 / secs / 1e6
    );

    let mut q = QueryConn::connect(&conf)?;
    let t = Instant::now();
    let QueryResult::Rows { batches, .. } = q.sql("SELECT * FROM w1")? else {
        unreachable!("SELECT returns rows")
    };
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "queried {n} rows back in {:.2} s: {:.0} rows/s",
        secs,
        n as f64 / secs
    );
    assert_eq!(n, rows);

    let top = q.rows("SELECT sym, count(*) AS n, round(avg(d1), 3) AS avg_d1 FROM w1 GROUP BY sym ORDER BY n DESC LIMIT 5")?;
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches(&[top]).map_err(|e| {
            questdb_arrow::Error::new(questdb_arrow::ErrorKind::InvalidData, e.to_string())
        })?
    );
    let first = q.rows("SELECT timestamp, sym, d1, l1, note FROM w1 LIMIT 5")?;
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches(&[first]).map_err(|e| {
            questdb_arrow::Error::new(questdb_arrow::ErrorKind::InvalidData, e.to_string())
        })?
    );
    Ok(())
}
