//! Tests of the query read-ahead's two stages (staging, decoding, hand-over).

use super::*;

use crate::protocol::ColumnType;
use crate::protocol::column::{ColumnData, Values};
use crate::protocol::egress::ResultBatch;
use crate::protocol::ingress::{ColumnDef, SymbolDelta};

fn result_batch(request_id: i64, seq: u64, rows: i64) -> ResultBatch {
    ResultBatch {
        request_id,
        batch_seq: seq,
        delta: Some(SymbolDelta::default()),
        schema: vec![
            ColumnDef {
                name: "l".into(),
                ty: ColumnType::Long,
            },
            ColumnDef {
                name: "v".into(),
                ty: ColumnType::Varchar,
            },
        ],
        columns: vec![
            ColumnData::new(Values::Long((0..rows).collect())),
            ColumnData::new(Values::Varchar(
                (0..rows).map(|i| format!("row {}", i % 7)).collect(),
            )),
        ],
        row_count: rows as usize,
    }
}

#[test]
fn a_zstd_batch_is_staged_as_the_same_raw_frame_in_a_reused_buffer() {
    let (spare_tx, spare) = mpsc::channel();
    let mut inflater = Inflater::new();
    for (seq, rows) in [(0, 3000), (1, 20), (2, 5000)] {
        let b = result_batch(9, seq, rows);
        let raw = b.to_frame(None).unwrap();
        let z = b.to_frame(Some(3)).unwrap();
        assert_ne!(z[5] & FLAG_ZSTD, 0, "the test needs a compressed frame");
        let Staged::Frame {
            body: Body { buf, len },
            wire,
        } = stage_frame(&z, 1, 9, &mut inflater, &spare).unwrap()
        else {
            panic!("not staged")
        };
        assert_eq!(wire, z.len(), "credit counts the bytes on the wire");
        // Byte for byte the frame the server sends without zstd, also
        // when the reused buffer is longer (batch 1 after batch 0).
        assert_eq!(&buf[..len], &raw[..]);
        spare_tx.send(buf).unwrap();
    }
    // Frames of other requests, raw frames and controls pass unchanged.
    let other = result_batch(8, 0, 3000).to_frame(Some(3)).unwrap();
    let end = ServerControl::ResultEnd {
        request_id: 9,
        final_seq: 2,
        total_rows: 8020,
    }
    .to_frame();
    let raw = result_batch(9, 3, 10).to_frame(None).unwrap();
    for f in [other, end, raw] {
        let Staged::Frame { body, wire } = stage_frame(&f, 1, 9, &mut inflater, &spare).unwrap()
        else {
            panic!("not staged")
        };
        assert_eq!(wire, f.len());
        assert_eq!(body.frame(), &f[..]);
        spare_tx.send(body.buf).unwrap();
    }
    // A body that does not decompress is the query's error.
    let mut bad = result_batch(9, 0, 3000).to_frame(Some(3)).unwrap();
    let n = bad.len();
    bad[n - 8..].fill(0xAB);
    let e = match stage_frame(&bad, 1, 9, &mut inflater, &spare) {
        Err(e) => e,
        Ok(_) => panic!("a corrupt body was staged"),
    };
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}

#[test]
fn the_last_frame_of_a_request_is_recognised() {
    let end = |request_id| {
        ServerControl::ResultEnd {
            request_id,
            final_seq: 0,
            total_rows: 0,
        }
        .to_frame()
    };
    let error = |request_id| {
        ServerControl::QueryError {
            request_id,
            status: crate::protocol::Status::Cancelled,
            message: "x".into(),
        }
        .to_frame()
    };
    let done = ServerControl::ExecDone {
        request_id: 4,
        op_type: 0,
        rows_affected: 1,
    }
    .to_frame();
    let reset = ServerControl::CacheReset { mask: 1 }.to_frame();
    let batch = result_batch(4, 0, 5).to_frame(None).unwrap();
    assert!(ends(&end(4), 1, 4).unwrap());
    assert!(!ends(&end(3), 1, 4).unwrap());
    assert!(ends(&error(4), 1, 4).unwrap());
    assert!(ends(&error(-1), 1, 4).unwrap());
    assert!(!ends(&error(5), 1, 4).unwrap());
    assert!(ends(&done, 1, 4).unwrap());
    assert!(!ends(&reset, 1, 4).unwrap());
    assert!(!ends(&batch, 1, 4).unwrap());
    assert!(
        ends(
            &[0x51, 0x57, 0x50, 0x31, 1, 0, 0, 0, 1, 0, 0, 0, 0x12],
            1,
            4
        )
        .is_err()
    );
}

#[test]
fn a_receiver_panic_is_an_internal_error() {
    let t = std::thread::spawn(|| -> Option<u8> { panic!("decoder bug {}", 42) });
    let e = join_receiver(t).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(e.message().contains("panicked: decoder bug 42"), "{e}");
    let t = std::thread::spawn(|| -> Option<u8> { panic!("static text") });
    let e = join_receiver(t).unwrap_err();
    assert!(e.message().ends_with("panicked: static text"), "{e}");
    let t = std::thread::spawn(|| -> Option<u8> { std::panic::panic_any(7u32) });
    let e = join_receiver(t).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
    let t = std::thread::spawn(|| Some(5u8));
    assert_eq!(join_receiver(t).unwrap(), Some(5));
}

/// Runs the decoding stage over `items` (staged as the receiving thread
/// would) and returns the events it hands the cursor, and the buffers it
/// handed back for reuse.
fn decode_staged(items: Vec<Staged>) -> (Vec<Event>, usize, bool) {
    let (staged_tx, staged_rx) = mpsc::sync_channel(items.len() + 1);
    for it in items {
        staged_tx.send(it).unwrap();
    }
    drop(staged_tx);
    let (spare_tx, spare_rx) = mpsc::channel();
    let (tx, rx) = event_channel(64);
    let hand_off = HandOff::default();
    let mut gate = Gate::new(&hand_off, None);
    let shared = Shared::default();
    let mut dec = BatchDecoder::new(1);
    let mut inflater = Inflater::new();
    let mut stage = DecodeStage {
        dec: &mut dec,
        inflater: &mut inflater,
        version: 1,
        id: 9,
    };
    let keep = stage.run(staged_rx, spare_tx, &tx, &shared, &mut gate);
    drop(tx);
    let mut events = Vec::new();
    while let Ok(ev) = rx.recv_timeout(Duration::from_millis(10)) {
        events.push(ev);
    }
    (events, spare_rx.try_iter().count(), keep)
}

fn rows_of(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Batch(b, _) => Some(b.num_rows()),
            _ => None,
        })
        .collect()
}

/// Batches passed on compressed are decompressed by the decoding thread
/// and decode as those the receiving thread decompressed; credit still
/// counts the bytes on the wire, and every staged buffer goes back.
#[test]
fn batches_passed_on_compressed_decode_like_the_others() {
    let (spare_tx, spare) = mpsc::channel::<Vec<u8>>();
    drop(spare_tx);
    let mut inflater = Inflater::new();
    let mut items = Vec::new();
    let mut wires = Vec::new();
    for (seq, rows) in [(0u64, 3000i64), (1, 20), (2, 5000), (3, 700)] {
        let z = result_batch(9, seq, rows).to_frame(Some(3)).unwrap();
        assert_ne!(z[5] & FLAG_ZSTD, 0);
        wires.push(z.len());
        // Odd batches passed on compressed, even ones decompressed here.
        items.push(if seq % 2 == 1 {
            copy_frame(&z, Vec::new())
        } else {
            stage_frame(&z, 1, 9, &mut inflater, &spare).unwrap()
        });
    }
    let end = ServerControl::ResultEnd {
        request_id: 9,
        final_seq: 3,
        total_rows: 8720,
    }
    .to_frame();
    items.push(copy_frame(&end, Vec::new()));
    let (events, returned, keep) = decode_staged(items);
    assert!(keep);
    assert_eq!(rows_of(&events), vec![3000, 20, 5000, 700]);
    let credit: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Batch(_, w) => Some(*w),
            _ => None,
        })
        .collect();
    assert_eq!(credit, wires);
    let Some(Event::Batch(b, _)) = events.get(1) else {
        panic!("no second batch")
    };
    let expect = result_batch(9, 1, 20);
    let l = b
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>();
    assert_eq!(l.unwrap().values().to_vec(), (0..20).collect::<Vec<i64>>());
    assert_eq!(b.num_columns(), expect.schema.len());
    assert!(matches!(events.last(), Some(Event::End(_))));
    assert_eq!(returned, 5, "every staged buffer handed back");
}

/// A batch passed on compressed whose body does not decompress is the
/// query's error, after the batches before it; the connection is dropped.
#[test]
fn a_corrupt_batch_passed_on_is_the_querys_error() {
    let good = result_batch(9, 0, 300).to_frame(Some(3)).unwrap();
    let mut bad = result_batch(9, 1, 3000).to_frame(Some(3)).unwrap();
    let n = bad.len();
    bad[n - 8..].fill(0xAB);
    let (events, _, keep) = decode_staged(vec![
        copy_frame(&good, Vec::new()),
        copy_frame(&bad, Vec::new()),
    ]);
    assert!(!keep);
    assert_eq!(rows_of(&events), vec![300]);
    match events.last() {
        Some(Event::Error(e)) => assert_eq!(e.kind(), ErrorKind::Protocol, "{e}"),
        _ => panic!("no error event"),
    }
}
