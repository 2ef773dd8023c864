use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn batch(from: i64, n: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let col: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + n));
    RecordBatch::try_new(schema, vec![col]).unwrap()
}

fn values(b: &RecordBatch) -> Vec<i64> {
    b.column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec()
}

#[test]
fn cut_gives_exact_frames_and_slices_within_a_batch() {
    let first = batch(0, 25);
    let mut cut = Cut::new(first.schema(), 10);
    cut.push(first.clone());
    cut.push(batch(25, 0));
    cut.push(batch(25, 7));
    let mut got = Vec::new();
    while let Some(b) = cut.next(false).unwrap() {
        got.push(b);
    }
    // 32 rows: three full frames, 2 rows wait for more.
    assert_eq!(got.len(), 3);
    // Frames inside the first batch are slices of it (no copy).
    let at = |b: &RecordBatch| {
        let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        a.values().as_ptr() as usize
    };
    assert_eq!(at(&got[1]), at(&first) + 10 * 8);
    cut.push(batch(32, 5));
    assert!(cut.next(false).unwrap().is_none(), "7 rows wait");
    let last = cut.next(true).unwrap().unwrap();
    assert!(cut.next(true).unwrap().is_none());
    got.push(last);
    let rows: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [10, 10, 10, 7]);
    let all: Vec<i64> = got.iter().flat_map(values).collect();
    assert_eq!(all, (0..37).collect::<Vec<i64>>());
}

#[test]
fn cut_at_the_end_of_nothing_gives_nothing() {
    let mut cut = Cut::new(batch(0, 0).schema(), 10);
    assert!(cut.next(true).unwrap().is_none());
}

#[test]
fn websocket_heads_use_the_shortest_length_form() {
    let head = |len| {
        let (h, n) = ws_head(len);
        h[..n].to_vec()
    };
    assert_eq!(head(0), [0x82, 0]);
    assert_eq!(head(125), [0x82, 125]);
    assert_eq!(head(126), [0x82, 126, 0, 126]);
    assert_eq!(head(0xFFFF), [0x82, 126, 0xFF, 0xFF]);
    assert_eq!(head(0x1_0000), [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
}
