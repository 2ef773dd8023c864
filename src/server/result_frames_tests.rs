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

fn at(b: &RecordBatch) -> usize {
    let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    a.values().as_ptr() as usize
}

fn drain(cut: &mut Cut, end: bool, got: &mut Vec<RecordBatch>) {
    while let Some(b) = cut.next(end).unwrap() {
        got.push(b);
    }
}

#[test]
fn cut_sends_large_batches_as_uncopied_slices() {
    let first = batch(0, 25);
    let second = batch(25, 7);
    let mut cut = Cut::new(first.schema(), 10);
    cut.push(first.clone());
    cut.push(batch(25, 0));
    cut.push(second.clone());
    let mut got = Vec::new();
    drain(&mut cut, false, &mut got);
    // 25 rows in frames of 10, 10 and the rest, 5; then the 7-row batch
    // (at least a quarter of 10) goes alone without waiting for more rows.
    let rows: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [10, 10, 5, 7]);
    // Every frame is a slice of its batch (no copy).
    assert_eq!(at(&got[0]), at(&first));
    assert_eq!(at(&got[1]), at(&first) + 10 * 8);
    assert_eq!(at(&got[2]), at(&first) + 20 * 8);
    assert_eq!(at(&got[3]), at(&second));
    assert!(cut.next(true).unwrap().is_none());
    let all: Vec<i64> = got.iter().flat_map(values).collect();
    assert_eq!(all, (0..32).collect::<Vec<i64>>());
}

#[test]
fn cut_joins_small_pieces_up_to_max_rows() {
    let mut cut = Cut::new(batch(0, 0).schema(), 10);
    let mut got = Vec::new();
    // Pieces of 1 row (below a quarter of 10) wait for more.
    for i in 0..4 {
        cut.push(batch(i, 1));
    }
    drain(&mut cut, false, &mut got);
    assert!(got.is_empty(), "4 small rows wait");
    // A large piece completes the frame: 4 small rows and 6 of its rows
    // in one copied frame, then its other 15 rows as slices: 10 would
    // leave a rest of 5, so 10 and 5.
    let big = batch(4, 21);
    cut.push(big.clone());
    drain(&mut cut, false, &mut got);
    let rows: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [10, 10, 5]);
    assert_eq!(at(&got[1]), at(&big) + 6 * 8);
    assert_eq!(at(&got[2]), at(&big) + 16 * 8);
    // A batch of 11 rows goes out as 9 and 2 (a rest of 1 would be below
    // a quarter of 10 and need a copy).
    let eleven = batch(25, 11);
    cut.push(eleven.clone());
    drain(&mut cut, false, &mut got);
    let rows: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [10, 10, 5, 9, 2]);
    assert_eq!(at(&got[4]), at(&eleven) + 9 * 8);
    // Small pieces left at the end go out together.
    cut.push(batch(36, 1));
    cut.push(batch(37, 1));
    drain(&mut cut, false, &mut got);
    assert_eq!(got.len(), 5, "2 small rows wait");
    drain(&mut cut, true, &mut got);
    let rows: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [10, 10, 5, 9, 2, 2]);
    let all: Vec<i64> = got.iter().flat_map(values).collect();
    assert_eq!(all, (0..38).collect::<Vec<i64>>());
}

#[test]
fn cut_never_exceeds_max_rows_and_keeps_every_row_in_order() {
    // Mixed piece sizes, one frame row limit at a time.
    let sizes = [3usize, 1, 40, 2, 2, 9, 10, 11, 1, 1, 1, 33, 4];
    for max in [1usize, 2, 3, 4, 7, 10, 16, 64] {
        let mut cut = Cut::new(batch(0, 0).schema(), max);
        let mut got = Vec::new();
        let mut from = 0i64;
        for n in sizes {
            cut.push(batch(from, n as i64));
            from += n as i64;
            drain(&mut cut, false, &mut got);
        }
        drain(&mut cut, true, &mut got);
        assert!(
            got.iter().all(|b| (1..=max).contains(&b.num_rows())),
            "max {max}"
        );
        let all: Vec<i64> = got.iter().flat_map(values).collect();
        assert_eq!(all, (0..from).collect::<Vec<i64>>(), "max {max}");
    }
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
