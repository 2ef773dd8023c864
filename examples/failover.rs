//! High availability against three embedded servers: one primary and two
//! replicas in two zones, sharing one storage (the embedded stand-in for
//! replication). A writer streams batches while the primary goes away and
//! a replica is promoted; reads choose replicas by zone.
//!
//! Run: `cargo run --features server --example failover`

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use questdb_arrow::client::{IngestOptions, QuestDb};
use questdb_arrow::protocol::egress::Role;
use questdb_arrow::server::{Server, ServerHandle};
use questdb_arrow::{Error, ErrorKind};

fn batch(first: i64, n: i64) -> questdb_arrow::Result<RecordBatch> {
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
                (first..first + n).map(|i| 1_700_000_000_000_000 + i),
            )),
            Arc::new(Int64Array::from_iter_values(first..first + n)),
        ],
    )
    .map_err(|e| Error::arrow(ErrorKind::InvalidData, "batch", e))
}

fn node(role: Role, zone: &str, on: Option<&ServerHandle>) -> questdb_arrow::Result<ServerHandle> {
    let mut b = Server::builder()
        .bind("127.0.0.1:0")
        .role(role, Some(zone.to_string()));
    if let Some(n) = on {
        b = b.shared_storage(n.storage());
    }
    b.start()
}

fn main() -> questdb_arrow::Result<()> {
    let primary = node(Role::Primary, "eu", None)?;
    let replica_eu = node(Role::Replica, "eu", Some(&primary))?;
    let replica_us = node(Role::Replica, "us", Some(&primary))?;
    let addrs = format!(
        "{},{},{}",
        primary.addr(),
        replica_eu.addr(),
        replica_us.addr()
    );

    // Ingest is zone-blind and follows the primary: replicas answer 421 and
    // are passed over; a lost connection is retried with backoff within
    // reconnect_max_duration_millis, and what was not acknowledged is sent
    // again (at-least-once).
    let writer = Arc::new(QuestDb::connect(&format!(
        "ws::addr={addrs};reconnect_initial_backoff_millis=20;\
         reconnect_max_backoff_millis=200;reconnect_max_duration_millis=30000;"
    ))?);
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(1);
    let w = writer.clone();
    let ingest = std::thread::spawn(move || {
        w.ingest_batches("ticks", rx, &IngestOptions::new().timestamp_column("ts"))
    });
    let mut primary = Some(primary);
    let (batches, rows) = (100i64, 1_000i64);
    std::thread::scope(|s| -> questdb_arrow::Result<()> {
        for k in 0..batches {
            if k == 40 {
                println!("batch {k}: the primary goes away");
                if let Some(p) = primary.take() {
                    p.shutdown();
                }
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(300));
                    println!("the eu replica is promoted");
                    replica_eu.set_role(Role::Primary);
                });
            }
            if tx.send(batch(k * rows, rows)?).is_err() {
                break;
            }
        }
        Ok(())
    })?;
    drop(tx);
    let summary = ingest
        .join()
        .map_err(|_| Error::new(ErrorKind::Internal, "ingest thread panicked"))??;
    println!(
        "ingested {} rows in {} batches with {} reconnect(s)",
        summary.rows, summary.batches, summary.reconnects
    );

    // Reads: target=replica never touches a primary; zone=us prefers the
    // us replica (another zone is the fallback).
    let reader = QuestDb::connect(&format!("ws::addr={addrs};target=replica;zone=us;"))?;
    let info = reader.borrow_reader()?.server_info().clone();
    println!(
        "reads go to a {} in zone {}",
        info.role.name(),
        info.zone_id.as_deref().unwrap_or("?")
    );
    let mut cursor = reader.query_arrow("SELECT count(DISTINCT id) AS n FROM ticks")?;
    let counted = cursor.fetch_all_arrow()?;
    let n = counted
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .map(|a| a.value(0))
        })
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "no count"))?;
    println!("distinct ids stored: {n} of {}", batches * rows);
    if n != batches * rows {
        return Err(Error::new(ErrorKind::InvalidData, "rows were lost"));
    }
    // With no node of the role asked for, the error says so (a role reject,
    // not "unreachable").
    let e = QuestDb::connect(&format!("ws::addr={};", replica_us.addr()))?
        .flush_arrow_batch("ticks", &batch(0, 1)?, Some("ts"), &[], Default::default())
        .err()
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "a replica took a write"))?;
    println!(
        "writing to a replica: {:?}: {}",
        e.kind(),
        e.role().unwrap_or("?")
    );
    Ok(())
}
