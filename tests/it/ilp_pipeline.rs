//! `ingest` over ILP/HTTP encodes the next request while one is in flight
//! (a 1-deep pipeline): request N's outcome is still request N's, and
//! nothing is sent after a failed request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{RecordBatch, TimestampNanosecondArray};
use arrow::error::ArrowError;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::IngestOptions;
use questdb_arrow::protocol::ilp::IlpVersion;

use super::ilp_mock::{Canned, MockHttp, batch, canned, db, lines};

fn opts() -> IngestOptions {
    IngestOptions::new().timestamp_column("ts")
}

/// `batch(rows)`'s schema with a NULL designated timestamp in the last
/// row: an encoding error.
fn null_ts_batch(rows: i64) -> RecordBatch {
    let good = batch(rows);
    let mut cols = good.columns().to_vec();
    cols[3] =
        Arc::new(TimestampNanosecondArray::from_iter((0..rows).map(|i| {
            (i + 1 < rows).then_some(1_700_000_000_000_000_000 + i)
        })));
    let schema = Arc::new(good.schema().as_ref().clone());
    let fields = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect::<Vec<_>>();
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols).unwrap()
}

const BAD_LINE: &str = r#"{"code":"invalid","message":"bad line","line":1,"errorId":"e-1"}"#;

#[test]
fn the_next_batch_is_read_and_encoded_while_a_request_is_in_flight() {
    // The first request's answer is held until the reader is asked for
    // the second batch: only a pipelined ingest gets there first.
    let gate = Arc::new(AtomicBool::new(false));
    let held = Canned {
        gate: Some(gate.clone()),
        ..canned(204, "")
    };
    let m = Arc::new(MockHttp::start(vec![held], vec![]));
    let db = db(format!("http::addr={};protocol_version=2;", m.addr));
    let batches = [batch(4), batch(6), batch(2)];
    let mut answered_when_asked = None;
    let reader = batches.iter().enumerate().map(|(k, b)| {
        if k == 1 {
            answered_when_asked = Some(m.answered());
            gate.store(true, Ordering::SeqCst);
        }
        Ok::<_, ArrowError>(b.clone())
    });
    let sum = db.ingest("t", reader, &opts()).unwrap();
    assert_eq!(
        answered_when_asked,
        Some(0),
        "the second batch was asked for only after the first request was answered"
    );
    assert_eq!((sum.rows, sum.batches, sum.frames), (12, 3, 3));
    let bodies: Vec<Vec<u8>> = m.writes().into_iter().map(|r| r.body).collect();
    let want: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| lines("t", b, IlpVersion::V2))
        .collect();
    assert_eq!(bodies, want, "one request per batch, in order");
}

#[test]
fn a_refused_request_ends_the_call_and_the_next_body_is_not_sent() {
    let m = MockHttp::start(vec![canned(204, ""), canned(400, BAD_LINE)], vec![]);
    let db = db(format!("http::addr={};protocol_version=2;", m.addr));
    let e = db
        .ingest_batches("t", [batch(4), batch(6), batch(2)], &opts())
        .unwrap_err();
    assert_eq!(e.ilp_server_error().map(|s| s.status), Some(400), "{e}");
    assert!(
        e.to_string()
            .contains("4 rows in 1 batches sent by this call before the error"),
        "{e}"
    );
    assert_eq!(m.writes().len(), 2, "the third body is never sent");
}

#[test]
fn a_request_error_comes_before_the_encoding_error_of_the_next_batch() {
    let m = MockHttp::start(vec![canned(400, BAD_LINE)], vec![]);
    let db = db(format!("http::addr={};protocol_version=2;", m.addr));
    let e = db
        .ingest_batches("t", [batch(4), null_ts_batch(3)], &opts())
        .unwrap_err();
    assert_eq!(e.ilp_server_error().map(|s| s.status), Some(400), "{e}");
    assert!(e.to_string().contains("0 rows in 0 batches"), "{e}");
    assert_eq!(m.writes().len(), 1);
}

#[test]
fn an_encoding_error_after_a_successful_request_counts_that_request() {
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!("http::addr={};protocol_version=2;", m.addr));
    let e = db
        .ingest_batches("t", [batch(4), null_ts_batch(3), batch(2)], &opts())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(
        e.to_string().contains("designated timestamp is NULL"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("4 rows in 1 batches sent by this call before the error"),
        "{e}"
    );
    let bodies: Vec<Vec<u8>> = m.writes().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec![lines("t", &batch(4), IlpVersion::V2)]);
}

#[test]
fn auto_flush_bytes_joins_batches_into_requests() {
    // Two one-row batches fill 100 bytes: requests of two batches.
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!(
        "http::addr={};protocol_version=2;auto_flush_bytes=100;",
        m.addr
    ));
    let small = [batch(1), batch(1), batch(1), batch(1)];
    let one = lines("t", &batch(1), IlpVersion::V2).len();
    assert!(one < 100 && 2 * one >= 100, "{one}");
    let sum = db.ingest_batches("t", small.clone(), &opts()).unwrap();
    assert_eq!((sum.rows, sum.batches, sum.frames), (4, 4, 2));
    let w = m.writes();
    assert_eq!(w.len(), 2);
    let mut two = lines("t", &batch(1), IlpVersion::V2);
    two.extend(lines("t", &batch(1), IlpVersion::V2));
    assert!(w.iter().all(|r| r.body == two));
}
