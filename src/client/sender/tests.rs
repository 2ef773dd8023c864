//! A [`Sender`]'s transport is fixed at connect: what an ILP sender cannot
//! do is refused naming its scheme, never run on an absent QWP connection.

use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

/// An ILP sender over HTTP (which connects on the first request, so no
/// server is needed).
fn ilp_sender() -> Sender {
    let conf = Conf::parse("http::addr=127.0.0.1:1;").unwrap();
    Sender::connect(&conf).unwrap()
}

fn batch() -> RecordBatch {
    let schema = Schema::new(vec![Field::new("x", DataType::Int64, false)]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )
    .unwrap()
}

#[test]
fn an_ilp_sender_refuses_to_publish_naming_its_scheme() {
    let mut s = ilp_sender();
    let e = s
        .publish_batch("t", &batch(), &IngestOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("http:: speaks ILP"), "{e}");
    assert_eq!((s.last_fsn(), s.published_frames()), (0, 0));
}

#[test]
fn an_ilp_sender_keeps_its_conf_and_frame_budget() {
    let mut s = ilp_sender();
    assert!(s.conf().is_some_and(|c| c.scheme().is_ilp()));
    assert_eq!(s.frame_budget(), DEFAULT_FRAME_BUDGET_BYTES);
    s.set_frame_budget(1000);
    assert_eq!(s.frame_budget(), 1000);
    s.set_frame_budget(5000);
    assert_eq!(s.frame_budget(), 1000, "never raised");
    s.set_frame_budget(10);
    assert_eq!(s.frame_budget(), 256, "at least 256 bytes");
    // Nothing pending: abandoning keeps the sender as it is.
    s.abandon_pending();
    assert!(s.conf().is_some());
}
