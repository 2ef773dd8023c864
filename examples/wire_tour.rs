//! A tour of the QWP codec without a server: parse a connect string, encode
//! an ingress message with a symbol dictionary, Gorilla timestamps and a
//! nullable string column, decode it back, and encode a query with binds.
//!
//! Run: `cargo run --example wire_tour`

use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::egress::{ClientMessage, QueryRequest};
use questdb_arrow::protocol::ingress::{
    ColumnDef, IngressMessage, SymbolDelta, TableBlock, decode_message,
};
use questdb_arrow::protocol::{ColumnData, ColumnType, Values};
use questdb_arrow::transport::ConnectOptions;

fn main() -> questdb_arrow::Result<()> {
    let conf = Conf::parse("ws::addr=localhost:9000;username=admin;password=quest;")?;
    let opts = ConnectOptions::from_conf(&conf, &conf.addrs()[0]);
    println!(
        "would connect to {}:{} as {:?}",
        opts.host, opts.port, opts.auth
    );

    let ts: Vec<i64> = (0..1000)
        .map(|i| 1_700_000_000_000_000 + i * 1_000)
        .collect();
    let rows = ts.len();
    let msg = IngressMessage::new(
        SymbolDelta {
            start: 0,
            entries: vec!["eu-west".into(), "us-east".into()],
        },
        vec![TableBlock {
            name: "trades".into(),
            columns: vec![
                ColumnDef {
                    name: "venue".into(),
                    ty: ColumnType::Symbol,
                },
                ColumnDef {
                    name: "price".into(),
                    ty: ColumnType::Double,
                },
                ColumnDef {
                    name: "note".into(),
                    ty: ColumnType::Varchar,
                },
                ColumnDef {
                    name: "".into(),
                    ty: ColumnType::Timestamp,
                },
            ],
            data: vec![
                ColumnData::new(Values::Symbol((0..rows as u32).map(|i| i % 2).collect())),
                ColumnData::new(Values::Double(
                    (0..rows).map(|i| 100.0 + i as f64).collect(),
                )),
                ColumnData::with_nulls(
                    Values::Varchar((0..rows / 2).map(|i| format!("n{i}")).collect()),
                    (0..rows).map(|i| i % 2 == 1).collect(),
                ),
                ColumnData::new(Values::Timestamp(ts)),
            ],
        }],
    );
    let bytes = msg.to_bytes()?;
    println!(
        "ingress message: {} rows in {} bytes ({:.1} bytes/row; raw timestamps alone would be 8)",
        rows,
        bytes.len(),
        bytes.len() as f64 / rows as f64
    );
    let view = decode_message(&bytes, 1)?;
    let table = &view.tables[0];
    println!(
        "decoded table {:?}: {} rows, columns {:?}",
        table.name,
        table.row_count,
        table
            .schema
            .iter()
            .map(|(n, t)| format!("{n}:{t}"))
            .collect::<Vec<_>>()
    );
    println!(
        "note column has {} nulls; first value {:?}",
        table.columns[2].null_count,
        table.columns[2]
            .varlen_value(0)
            .map(String::from_utf8_lossy)
    );
    assert_eq!(view.to_owned_message(), msg);

    let mut q = QueryRequest::new(1, "SELECT * FROM trades WHERE venue = $1 AND price > $2");
    q.binds = vec![
        ColumnData::new(Values::Varchar(vec!["eu-west".into()])),
        ColumnData::new(Values::Double(vec![150.0])),
    ];
    let frame = q.to_bytes()?;
    println!(
        "query request: {} bytes: {:02X?}",
        frame.len(),
        &frame[..12]
    );
    assert_eq!(
        ClientMessage::decode(&frame, false)?,
        ClientMessage::Query(q)
    );
    println!("round trips OK");
    Ok(())
}
