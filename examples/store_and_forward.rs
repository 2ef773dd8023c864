//! Store-and-forward: an `AsyncSender` with a disk queue publishes while
//! the server is down, is closed with frames still queued, and a second
//! sender on the same slot delivers them once the server (restarted on its
//! data directory) is back. The table has DEDUP UPSERT KEYS, so a replay
//! stores nothing twice.
//!
//! Run: `cargo run --features server --example store_and_forward`

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use questdb_arrow::client::{AckLevel, AsyncSender, QuestDb};
use questdb_arrow::conf::Conf;
use questdb_arrow::server::Server;
use questdb_arrow::{Error, ErrorKind};

fn batch(ids: std::ops::Range<i64>) -> questdb_arrow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                ids.clone().map(|i| 1_700_000_000_000_000 + i),
            )),
            Arc::new(Int64Array::from_iter_values(ids)),
        ],
    )
    .map_err(|e| Error::arrow(ErrorKind::InvalidData, "building a batch", e))
}

fn count(db: &QuestDb) -> questdb_arrow::Result<String> {
    let mut cur = db.query_arrow("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM trades")?;
    let b = cur
        .next_arrow_batch()?
        .ok_or_else(|| Error::new(ErrorKind::Protocol, "no result"))?;
    arrow::util::pretty::pretty_format_batches(&[b])
        .map(|t| t.to_string())
        .map_err(|e| Error::arrow(ErrorKind::InvalidData, "formatting", e))
}

fn main() -> questdb_arrow::Result<()> {
    let dir = std::env::temp_dir().join(format!("qa-sf-example-{}", std::process::id()));
    let data = dir.join("db");
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(&data)
        .start()?;
    let addr = server.addr().to_string();
    let conf = Conf::parse(&format!(
        "{}sf_dir={};sender_id=example;close_flush_timeout_millis=0;reconnect_max_backoff_millis=200;",
        server.conf_string(),
        dir.display()
    ))?;
    let db = QuestDb::from_conf(conf.clone())?;
    db.query_arrow(
        "CREATE TABLE trades (ts TIMESTAMP, id LONG) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, id)",
    )?
    .next_arrow_batch()?;

    let mut sender = AsyncSender::open(&conf)?;
    let fsn = sender.publish("trades", &batch(0..1000)?, Some("ts"))?;
    sender.wait(AckLevel::Ok, Duration::from_secs(10))?;
    println!(
        "published 1000 rows (FSN {fsn}), acknowledged up to FSN {}",
        sender.acked_fsn()?
    );

    // The server goes away; publishing goes on into the disk queue.
    drop(db);
    server.shutdown();
    for k in 1..4 {
        let fsn = sender.publish("trades", &batch(k * 1000..(k + 1) * 1000)?, Some("ts"))?;
        println!("server down: queued 1000 rows as FSN {fsn}");
    }
    // Closing now leaves them in the slot, and says so.
    if let Err(e) = sender.close() {
        println!("close: {e}");
    }

    // The server is back on the same address; a new sender on the same
    // slot finds the frames and delivers them.
    let server = Server::builder().bind(&addr).data_dir(&data).start()?;
    let sender = AsyncSender::open(&conf)?;
    println!(
        "recovered {} frames from {:?}",
        sender.recovered().frames,
        sender.slot_dir()
    );
    sender.wait(AckLevel::Ok, Duration::from_secs(10))?;
    let c = sender.counters();
    println!(
        "delivered: {} frames sent, {} acknowledged, {} reconnects",
        c.frames_sent, c.frames_acked, c.reconnects
    );
    sender.close()?;
    // The restarted server kept the first 1000 rows (its data dir) and got
    // the 3000 the queue delivered: 4000 rows, 4000 distinct ids.
    let db = QuestDb::connect(&server.conf_string())?;
    println!("{}", count(&db)?);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
