//! Spec vectors and round trips of the egress messages.

use super::*;
use crate::protocol::column::{ColumnData, Values};
use crate::protocol::ingress::{ColumnDef, SymbolDelta};
use crate::protocol::test_hex as hex;
use crate::protocol::wire::{Out, Reader};
use crate::protocol::{ColumnType, FLAG_GORILLA, FLAG_ZSTD, Status};

#[test]
fn spec_t7_query_request_and_t26_flags() {
    let sql = "SELECT id, value FROM sensors LIMIT 2";
    let mut expect = hex("10 01 00 00 00 00 00 00 00 25");
    expect.extend_from_slice(sql.as_bytes());
    expect.extend_from_slice(&[0, 0]);
    let q = QueryRequest::new(1, sql);
    assert_eq!(q.to_bytes().unwrap(), expect);
    assert_eq!(expect.len(), 49);
    assert_eq!(
        ClientMessage::decode(&expect, false).unwrap(),
        ClientMessage::Query(q.clone())
    );
    let mut q2 = q;
    q2.query_flags = Some(QUERY_FLAG_RESET_DICT);
    let mut e2 = expect.clone();
    e2.push(1);
    assert_eq!(q2.to_bytes().unwrap(), e2);
    assert_eq!(
        ClientMessage::decode(&e2, true).unwrap(),
        ClientMessage::Query(q2)
    );
    // Without the capability a trailer is an error.
    assert!(ClientMessage::decode(&e2, false).is_err());
}

#[test]
fn spec_t10_t11_binds() {
    let long42 = ColumnData::new(Values::Long(vec![42]));
    let mut b = vec![0; bind_len(&long42)];
    put_bind(&long42, &mut Out::plain(&mut b));
    assert_eq!(b, hex("05 00 2A 00 00 00 00 00 00 00"));
    assert_eq!(decode_bind(&mut Reader::new(&b)).unwrap(), long42);
    let null = ColumnData::with_nulls(Values::Long(vec![]), vec![true]);
    let mut b = vec![0; bind_len(&null)];
    put_bind(&null, &mut Out::plain(&mut b));
    assert_eq!(b, hex("05 01 01"));
    assert_eq!(decode_bind(&mut Reader::new(&b)).unwrap(), null);
    // NULL VARCHAR: no offsets.
    let nv = ColumnData::with_nulls(Values::Varchar(vec![]), vec![true]);
    assert_eq!(bind_len(&nv), 3);
    // VARCHAR "hi" and a TIMESTAMP bind without an encoding flag.
    let v = ColumnData::new(Values::Varchar(vec!["hi".into()]));
    let mut b = vec![0; bind_len(&v)];
    put_bind(&v, &mut Out::plain(&mut b));
    assert_eq!(b, hex("0F 00 00 00 00 00 02 00 00 00 68 69"));
    let ts = ColumnData::new(Values::Timestamp(vec![1]));
    let mut b = vec![0; bind_len(&ts)];
    put_bind(&ts, &mut Out::plain(&mut b));
    assert_eq!(b, hex("0A 00 01 00 00 00 00 00 00 00"));
    // NULL GEOHASH and NULL DECIMAL carry their column argument.
    let g = ColumnData::with_nulls(
        Values::Geohash {
            precision_bits: 20,
            values: vec![],
        },
        vec![true],
    );
    let mut b = vec![0; bind_len(&g)];
    put_bind(&g, &mut Out::plain(&mut b));
    assert_eq!(b, hex("0E 01 01 14"));
    let d = ColumnData::with_nulls(
        Values::Decimal128 {
            scale: 2,
            values: vec![],
        },
        vec![true],
    );
    let mut b = vec![0; bind_len(&d)];
    put_bind(&d, &mut Out::plain(&mut b));
    assert_eq!(b, hex("14 01 01 02"));
}

#[test]
fn spec_t12_credit_t24_cancel() {
    let c = ClientMessage::Credit {
        request_id: 7,
        additional_bytes: 65536,
    };
    let b = hex("15 07 00 00 00 00 00 00 00 80 80 04");
    assert_eq!(c.to_bytes(), b);
    assert_eq!(ClientMessage::decode(&b, false).unwrap(), c);
    let c = ClientMessage::Cancel { request_id: 7 };
    let b = hex("14 07 00 00 00 00 00 00 00");
    assert_eq!(c.to_bytes(), b);
    assert_eq!(ClientMessage::decode(&b, false).unwrap(), c);
}

fn t8_batch(delta: Option<SymbolDelta>) -> ResultBatch {
    ResultBatch {
        request_id: 1,
        batch_seq: 0,
        delta,
        schema: vec![
            ColumnDef {
                name: "id".into(),
                ty: ColumnType::Long,
            },
            ColumnDef {
                name: "value".into(),
                ty: ColumnType::Double,
            },
        ],
        columns: vec![
            ColumnData::new(Values::Long(vec![1, 2])),
            ColumnData::new(Values::Double(vec![1.3, 2.2])),
        ],
        row_count: 2,
    }
}

#[test]
fn spec_t8_result_batch() {
    // The docs' example has flags 0; we always set FLAG_GORILLA, which
    // changes nothing for these columns but the flag byte.
    let mut docs = hex("51 57 50 31 01 00 01 00 3A 00 00 00
         11 01 00 00 00 00 00 00 00 00
         00 02 02 02 69 64 05 05 76 61 6C 75 65 07
         00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
         00 CD CC CC CC CC CC F4 3F 9A 99 99 99 99 99 01 40");
    let ours = t8_batch(None).to_frame(None).unwrap();
    docs[5] = FLAG_GORILLA;
    assert_eq!(ours, docs);
    // Decoding the docs' exact bytes (flags 0).
    docs[5] = 0;
    let ServerMessage::Batch(raw) = decode_server_message(&docs, 1).unwrap() else {
        panic!("not a batch")
    };
    let mut inf = Inflater::new();
    let v = raw.decode(&mut inf, None).unwrap();
    assert_eq!(v.row_count, 2);
    assert_eq!(
        v.schema.as_ref().unwrap(),
        &[("id", ColumnType::Long), ("value", ColumnType::Double)]
    );
    assert_eq!(v.columns[1].to_owned_data(), t8_batch(None).columns[1]);
    // With the real server's flags (0x0C): delta section `00 00`, payload 60.
    let f = t8_batch(Some(SymbolDelta::default()))
        .to_frame(None)
        .unwrap();
    assert_eq!(f[5], 0x0C);
    assert_eq!(u32::from_le_bytes([f[8], f[9], f[10], f[11]]), 60);
}

#[test]
fn later_batches_reuse_the_schema_and_zstd_round_trips() {
    let mut b = t8_batch(Some(SymbolDelta::default()));
    b.batch_seq = 3;
    b.row_count = 1000;
    b.columns = vec![
        ColumnData::new(Values::Long((0..1000).collect())),
        ColumnData::new(Values::Double(vec![0.5; 1000])),
    ];
    let schema = b.schema.clone();
    for level in [None, Some(1), Some(9)] {
        let frame = b.to_frame(level).unwrap();
        assert_eq!(frame[5] & FLAG_ZSTD != 0, level.is_some());
        let ServerMessage::Batch(raw) = decode_server_message(&frame, 1).unwrap() else {
            panic!()
        };
        assert_eq!(raw.batch_seq, 3);
        let mut inf = Inflater::new();
        assert!(raw.decode(&mut inf, None).is_err(), "needs the schema");
        let v = raw.decode(&mut inf, Some(&schema)).unwrap();
        assert!(v.schema.is_none());
        let cols: Vec<_> = v.columns.iter().map(|c| c.to_owned_data()).collect();
        assert_eq!(cols, b.columns);
    }
}

#[test]
fn spec_t9_t22_t23_t25_control_frames() {
    let cases = [
        (
            ServerControl::ResultEnd {
                request_id: 1,
                final_seq: 0,
                total_rows: 2,
            },
            "51 57 50 31 01 00 00 00 0B 00 00 00 12 01 00 00 00 00 00 00 00 00 02",
        ),
        (
            ServerControl::ServerInfo(ServerInfo {
                role: Role::Primary,
                epoch: 5,
                capabilities: 3,
                server_wall_ns: 0,
                cluster_id: "c1".into(),
                node_id: "n1".into(),
                zone_id: Some("eu".into()),
            }),
            "51 57 50 31 01 00 00 00 22 00 00 00
             18 01 05 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00
             02 00 63 31 02 00 6E 31 02 00 65 75",
        ),
        (
            ServerControl::QueryError {
                request_id: 1,
                status: Status::Cancelled,
                message: "x".into(),
            },
            "51 57 50 31 01 00 00 00 0D 00 00 00 13 01 00 00 00 00 00 00 00 0A 01 00 78",
        ),
        (
            ServerControl::CacheReset { mask: 1 },
            "51 57 50 31 01 00 00 00 02 00 00 00 17 01",
        ),
        (
            ServerControl::ExecDone {
                request_id: 4,
                op_type: 0,
                rows_affected: 300,
            },
            "51 57 50 31 01 00 00 00 0C 00 00 00 16 04 00 00 00 00 00 00 00 00 AC 02",
        ),
    ];
    for (msg, h) in cases {
        let b = hex(h);
        assert_eq!(msg.to_frame(), b, "{msg:?}");
        assert_eq!(
            decode_server_message(&b, 1).unwrap(),
            ServerMessage::Control(msg)
        );
    }
}

#[test]
fn zstd_without_content_size_is_rejected() {
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
    std::io::Write::write_all(&mut enc, &[0u8; 100]).unwrap();
    let z = enc.finish().unwrap();
    let mut inf = Inflater::new();
    if zstd::zstd_safe::get_frame_content_size(&z)
        .unwrap()
        .is_none()
    {
        assert!(inf.inflate(&z, 0).is_err());
    }
    assert!(inf.inflate(&[1, 2, 3, 4, 5], 0).is_err());
}
