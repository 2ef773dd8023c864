//! The official sender's Arrow RecordBatch ingestion.

use super::*;

// ---------------------------------------------------------------------------

fn field_md(name: &str, dt: DataType, md: &[(&str, &str)]) -> Field {
    Field::new(name, dt, true).with_metadata(
        md.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn official_sender_arrow_batch() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");

    let ts: Vec<i64> = (0..5).map(|i| T0_US + i * 250_000).collect();
    let uuid_rows: Vec<Option<[u8; 16]>> = vec![
        Some(uuid_bytes(1, 2)),
        None,
        Some(uuid_bytes(0xa716_4466_5544_0000, 0x550e_8400_e29b_41d4)),
        Some(uuid_bytes(3, 4)),
        Some(uuid_bytes(5, 6)),
    ];
    let l256_rows = [
        Some(l256(9)),
        Some(l256(8)),
        None,
        Some(l256(7)),
        Some(l256(6)),
    ];
    let arr_rows = vec![
        Some(vec![1.0, 2.0]),
        None,
        Some(vec![]),
        Some(vec![3.5]),
        Some(vec![4.0, 5.0, 6.0]),
    ];
    let sym_dict: DictionaryArray<Int32Type> =
        vec![Some("red"), Some("blue"), None, Some("red"), Some("red")]
            .into_iter()
            .collect();

    let cols: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Arc::new(TimestampMicrosecondArray::from(ts.clone()).with_timezone("UTC")),
        ),
        (
            Field::new("id", DataType::Int64, true),
            Arc::new(Int64Array::from(vec![
                Some(1),
                None,
                Some(3),
                Some(i64::MAX),
                Some(-5),
            ])),
        ),
        (
            Field::new("price", DataType::Float64, true),
            Arc::new(Float64Array::from(vec![
                Some(1.25),
                Some(2.5),
                None,
                Some(-0.5),
                Some(1e10),
            ])),
        ),
        (
            Field::new("name", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some(""),
                Some("ü"),
                Some("long text"),
            ])),
        ),
        (
            Field::new("sym", sym_dict.data_type().clone(), true),
            Arc::new(sym_dict),
        ),
        (
            field_md("sym2", DataType::Utf8, &[("questdb.symbol", "true")]),
            Arc::new(StringArray::from(vec![
                Some("k1"),
                Some("k2"),
                Some("k1"),
                None,
                Some("k2"),
            ])),
        ),
        (
            Field::new("flag", DataType::Boolean, true),
            Arc::new(BooleanArray::from(vec![true, false, true, true, false])),
        ),
        (
            field_md("i32", DataType::Int32, &[("questdb.column_type", "int")]),
            Arc::new(Int32Array::from(vec![
                Some(1),
                Some(-2),
                None,
                Some(i32::MAX),
                Some(0),
            ])),
        ),
        (
            // No metadata: the official client widens Int32 to LONG.
            Field::new("wide", DataType::Int32, true),
            Arc::new(Int32Array::from(vec![
                Some(10),
                None,
                Some(-30),
                Some(40),
                Some(50),
            ])),
        ),
        (
            field_md("i8", DataType::Int8, &[("questdb.column_type", "byte")]),
            Arc::new(Int8Array::from(vec![1i8, -1, 127, -128, 0])),
        ),
        (
            field_md("i16", DataType::Int16, &[("questdb.column_type", "short")]),
            Arc::new(Int16Array::from(vec![
                1000i16,
                -1000,
                0,
                i16::MAX,
                i16::MIN,
            ])),
        ),
        (
            Field::new("f32", DataType::Float32, true),
            Arc::new(Float32Array::from(vec![
                Some(0.5f32),
                None,
                Some(-1.5),
                Some(2.0),
                Some(3.0),
            ])),
        ),
        (
            Field::new(
                "tns",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
            Arc::new(
                TimestampNanosecondArray::from(vec![
                    Some(1i64),
                    Some(T0_US * 1000 + 123),
                    None,
                    Some(5),
                    Some(6),
                ])
                .with_timezone("UTC"),
            ),
        ),
        (
            Field::new("day", DataType::Date64, true),
            Arc::new(Date64Array::from(vec![
                Some(86_400_000i64),
                None,
                Some(0),
                Some(1_600_000_000_000),
                Some(2),
            ])),
        ),
        (
            field_md(
                "u",
                DataType::FixedSizeBinary(16),
                &[("ARROW:extension:name", "arrow.uuid")],
            ),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(uuid_rows.iter().cloned(), 16)
                    .unwrap(),
            ),
        ),
        (
            field_md(
                "l256",
                DataType::FixedSizeBinary(32),
                &[("questdb.column_type", "long256")],
            ),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(l256_rows.iter().cloned(), 32)
                    .unwrap(),
            ),
        ),
        (
            field_md("ip", DataType::UInt32, &[("questdb.column_type", "ipv4")]),
            Arc::new(UInt32Array::from(vec![
                Some(u32::from(Ipv4Addr::new(10, 1, 2, 3))),
                None,
                Some(u32::from(Ipv4Addr::new(8, 8, 8, 8))),
                Some(1),
                Some(u32::from(Ipv4Addr::new(192, 168, 0, 1))),
            ])),
        ),
        (
            field_md("ch", DataType::UInt16, &[("questdb.column_type", "char")]),
            Arc::new(UInt16Array::from(vec![
                b'a' as u16,
                b'b' as u16,
                0x00e9,
                0x263a,
                b'Z' as u16,
            ])),
        ),
        (
            field_md("geo", DataType::Int64, &[("questdb.geohash_bits", "30")]),
            Arc::new(Int64Array::from(vec![
                Some(0x3fff_fffe),
                Some(1),
                None,
                Some(12_345),
                Some(0),
            ])),
        ),
        (
            Field::new("dec", DataType::Decimal128(38, 3), true),
            Arc::new(
                Decimal128Array::from(vec![
                    Some(1_234_567i128),
                    None,
                    Some(-1),
                    Some(0),
                    Some(10i128.pow(30)),
                ])
                .with_precision_and_scale(38, 3)
                .unwrap(),
            ),
        ),
        (
            Field::new("dec64", DataType::Decimal64(18, 2), true),
            Arc::new(
                Decimal64Array::from(vec![Some(150i64), Some(-1), None, Some(999_999), Some(0)])
                    .with_precision_and_scale(18, 2)
                    .unwrap(),
            ),
        ),
        {
            let a = list_f64(&arr_rows);
            (
                Field::new("arr", a.data_type().clone(), true),
                Arc::new(a) as ArrayRef,
            )
        },
        (
            Field::new("bin", DataType::Binary, true),
            Arc::new(BinaryArray::from(vec![
                Some(&b"\x00\x01"[..]),
                None,
                Some(&b""[..]),
                Some(&b"xyz"[..]),
                Some(&[0xffu8; 20][..]),
            ])),
        ),
    ];
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema, cols.iter().map(|(_, a)| a.clone()).collect()).unwrap();

    db.flush_arrow_batch(
        "interop_arrow_in",
        &batch,
        Some(ColumnName::new("ts").unwrap()),
        &[],
        Some(AckLevel::Ok),
    )
    .unwrap_or_else(|e| panic!("flush_arrow_batch: {:?}: {}", e.code(), e.msg()));

    let t = stored(&srv, "interop_arrow_in");
    assert_eq!(t.num_rows(), 5, "rows stored");
    let sent = |name: &str| batch.column_by_name(name).unwrap().clone();
    let utc = Some(Arc::<str>::from("UTC"));
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));

    // The designated timestamp travels with an empty name, so a new table
    // names it `timestamp` (as QuestDB does).
    let a = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        "timestamp",
    );
    same("timestamp", &a, sent("ts").as_ref());
    assert!(
        t.schema().column_with_name("ts").is_none(),
        "`ts` is not stored twice"
    );

    let checks: Vec<(&str, DataType, &str)> = vec![
        ("id", DataType::Int64, "long"),
        ("price", DataType::Float64, "double"),
        ("name", DataType::Utf8, "varchar"),
        ("flag", DataType::Boolean, "boolean"),
        ("i32", DataType::Int32, "int"),
        ("i8", DataType::Int8, "byte"),
        ("i16", DataType::Int16, "short"),
        ("f32", DataType::Float32, "float"),
        (
            "tns",
            DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()),
            "timestamp_nanos",
        ),
        ("day", DataType::Date64, "date"),
        ("u", DataType::FixedSizeBinary(16), "uuid"),
        ("l256", DataType::FixedSizeBinary(32), "long256"),
        ("ip", DataType::UInt32, "ipv4"),
        ("ch", DataType::UInt16, "char"),
        ("geo", DataType::Int64, "geohash"),
        ("dec", DataType::Decimal128(38, 3), "decimal128"),
        ("dec64", DataType::Decimal64(18, 2), "decimal64"),
        ("arr", sent("arr").data_type().clone(), "double_array"),
        ("bin", DataType::Binary, "binary"),
    ];
    for (name, dt, q) in checks {
        let a = column(&t, name, &dt, q);
        same(name, &a, sent(name).as_ref());
    }
    let a = column(&t, "sym", &dict, "symbol");
    same("sym", &as_utf8(&a), as_utf8(&sent("sym")).as_ref());
    let a = column(&t, "sym2", &dict, "symbol");
    same("sym2", &as_utf8(&a), sent("sym2").as_ref());
    let a = column(&t, "wide", &DataType::Int64, "long");
    same(
        "wide",
        &a,
        &Int64Array::from(vec![Some(10), None, Some(-30), Some(40), Some(50)]),
    );
    let bits = t
        .schema()
        .field_with_name("geo")
        .unwrap()
        .metadata()
        .get("questdb.geohash_bits")
        .cloned();
    assert_eq!(bits.as_deref(), Some("30"), "geo: questdb.geohash_bits");

    // A second batch through a borrowed sender (publish, then wait).
    let second = batch.slice(1, 2);
    let mut sender = db.borrow_sender().expect("borrow_sender");
    sender
        .flush_arrow_batch_at_column(
            "interop_arrow_in",
            &second,
            ColumnName::new("ts").unwrap(),
            &[],
        )
        .unwrap_or_else(|e| panic!("flush_arrow_batch_at_column: {:?}: {}", e.code(), e.msg()));
    sender
        .wait(AckLevel::Ok, ACK_TIMEOUT)
        .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    drop(sender);
    let t = stored(&srv, "interop_arrow_in");
    assert_eq!(t.num_rows(), 7, "rows after the second batch");
    // Rows are kept in designated-timestamp order: 0, 1, 1', 2, 2', 3, 4.
    let ids = column(&t, "id", &DataType::Int64, "long");
    same(
        "id after merge",
        &ids,
        &Int64Array::from(vec![
            Some(1),
            None,
            None,
            Some(3),
            Some(3),
            Some(i64::MAX),
            Some(-5),
        ]),
    );
}
