//! Rows one at a time: a row sender on an embedded server, two tables in
//! one flush (one frame, one transaction), an automatic flush, and the rows
//! queried back.
//!
//! Run: `cargo run --features server --example row_sender`

use std::net::Ipv4Addr;

use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use questdb_arrow::client::QuestDb;
use questdb_arrow::client::rows::TimestampMicros;
use questdb_arrow::server::Server;
use questdb_arrow::{Error, ErrorKind};

fn pretty(b: &[RecordBatch]) -> questdb_arrow::Result<String> {
    pretty_format_batches(b)
        .map(|t| t.to_string())
        .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))
}

fn main() -> questdb_arrow::Result<()> {
    let server = Server::builder().bind("127.0.0.1:0").start()?;
    // Flush by itself every 4 rows (and never by age, for a stable demo).
    let db = QuestDb::connect(&format!(
        "{}auto_flush_rows=4;auto_flush_interval=off;",
        server.conf_string()
    ))?;
    let t0 = 1_700_000_000_000_000;
    {
        let mut sender = db.borrow_row_sender()?;
        for (i, (sym, price)) in [
            ("BTC-USD", 65432.1),
            ("ETH-USD", 2615.54),
            ("BTC-USD", 65433.0),
        ]
        .into_iter()
        .enumerate()
        {
            sender
                .table("trades")?
                .symbol("symbol", sym)?
                .column_f64("price", price)?
                .column_i64("qty", 10 * (i as i64 + 1))?
                .at(TimestampMicros::new(t0 + i as i64 * 1000))?;
        }
        // The fourth row (another table) triggers the automatic flush: both
        // tables go out in one frame, as one transaction.
        sender
            .table("logins")?
            .column_str("user", "ada")?
            .column_ipv4("ip", Ipv4Addr::new(192, 168, 1, 7))?
            .column_bool("ok", true)?
            .at_now()?;
        assert!(sender.buffer().is_empty());
        // A row with a bad name is refused and leaves nothing behind.
        let err = sender
            .table("logins")?
            .column_str("user", "bob")?
            .column_str("bad-name", "x")
            .unwrap_err();
        println!("refused: {err}");
        sender
            .table("logins")?
            .column_str("user", "bob")?
            .column_bool("ok", false)?
            .at_now()?;
        let sum = sender.flush()?;
        println!("last flush: {} row(s) in {} frame(s)", sum.rows, sum.frames);
    } // the connection goes back to the pool

    for sql in [
        "SELECT * FROM trades ORDER BY timestamp",
        "SELECT user, ip, ok FROM logins ORDER BY user",
    ] {
        let rows = db.query_arrow(sql)?.fetch_all_arrow()?;
        println!("{sql}\n{}", pretty(&rows)?);
    }
    let trades: usize = db
        .query_arrow("SELECT * FROM trades")?
        .fetch_all_arrow()?
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(trades, 3);
    Ok(())
}
