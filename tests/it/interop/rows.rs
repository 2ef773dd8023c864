//! The official sender's row API: every column type it supports.

use super::*;

// ---------------------------------------------------------------------------

#[test]
fn official_sender_rows_every_type() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_every_type(&srv, &db, "interop_rows_all");
}

/// Writes 6 rows with every column type the row API has (plus 3 rows of a
/// second table `{table}_ns` with a TIMESTAMP_NANOS designated timestamp)
/// and checks the stored tables cell by cell.
pub(super) fn write_every_type(srv: &ServerHandle, db: &QuestDb, table: &str) {
    let table_ns = format!("{table}_ns");
    const N: usize = 6;
    let sym = [
        Some("AAPL"),
        Some("MSFT"),
        Some("AAPL"),
        None,
        Some("MSFT"),
        Some("AAPL"),
    ];
    let venue = [Some("X"), Some("X"), Some("Y"), Some("X"), Some("Y"), None];
    let b = [
        Some(true),
        Some(false),
        Some(true),
        None,
        Some(true),
        Some(false),
    ];
    let i8s = [Some(1i8), Some(-2), Some(127), Some(i8::MIN), None, Some(0)];
    let i16s = [
        Some(300i16),
        None,
        Some(-300),
        Some(i16::MAX),
        Some(i16::MIN),
        Some(7),
    ];
    let i32s = [
        Some(70_000i32),
        Some(-1),
        None,
        Some(i32::MAX),
        Some(i32::MIN + 1),
        Some(0),
    ];
    let i64s = [
        Some(1i64),
        None,
        Some(i64::MAX),
        Some(i64::MIN + 1),
        Some(-42),
        Some(0),
    ];
    let f32s = [
        Some(1.5f32),
        Some(-0.25),
        None,
        Some(f32::MAX),
        Some(0.0),
        Some(3.25),
    ];
    let f64s = [
        Some(1.5f64),
        Some(-2.25),
        Some(1e300),
        None,
        Some(f64::MIN_POSITIVE),
        Some(7.0),
    ];
    let strs = [
        Some("hello"),
        Some(""),
        None,
        Some("ünïcødé ✓ 日本"),
        Some("a;b,c=d \"q\""),
        Some("x"),
    ];
    let ts_us = [
        Some(1_600_000_000_000_000i64),
        None,
        Some(0),
        Some(1),
        Some(T0_US),
        Some(T0_US + 1),
    ];
    let ts_ns = [
        Some(1_600_000_000_123_456_789i64),
        Some(1),
        None,
        Some(0),
        Some(1_700_000_000_000_000_001),
        Some(42),
    ];
    let dates = [
        Some(1_600_000_000_123i64),
        Some(0),
        Some(86_400_000),
        None,
        Some(1),
        Some(2),
    ];
    let uuids: [Option<(u64, u64)>; N] = [
        Some((0xa716_4466_5544_0000, 0x550e_8400_e29b_41d4)),
        Some((1, 0)),
        None,
        Some((u64::MAX, 0x0123_4567_89ab_cdef)),
        Some((0, 1)),
        Some((42, 42)),
    ];
    let l256s = [
        Some(l256(1)),
        None,
        Some(l256(3)),
        Some(l256(4)),
        Some([0u8; 32]),
        Some(l256(6)),
    ];
    let ips = [
        Some(Ipv4Addr::new(192, 168, 1, 1)),
        Some(Ipv4Addr::new(10, 0, 0, 1)),
        None,
        Some(Ipv4Addr::new(255, 255, 255, 254)),
        Some(Ipv4Addr::new(1, 2, 3, 4)),
        Some(Ipv4Addr::new(127, 0, 0, 1)),
    ];
    let chars = [
        b'A' as u16,
        0x00e9,
        0x263a,
        b'z' as u16,
        b'0' as u16,
        0x4e2d,
    ];
    let geos = [
        Some(0xabcdeu64),
        Some(0),
        None,
        Some(0xf_fffe),
        Some(1),
        Some(12_345),
    ];
    let bins: [Option<&[u8]>; N] = [
        Some(&[0, 1, 2]),
        Some(&[]),
        None,
        Some(&[0xff; 40]),
        Some(b"bytes"),
        Some(&[0]),
    ];
    let arr_d = [
        Some(vec![1.0, 2.0, 3.0]),
        Some(vec![-1.5]),
        None,
        Some(vec![0.0; 5]),
        Some(vec![42.0, 1e-300]),
        Some(vec![7.0]),
    ];
    let arr_d2 = [
        Some(vec![vec![1.0, 2.0], vec![3.0, 4.0]]),
        None,
        Some(vec![vec![5.0, 6.0, 7.0]]),
        Some(vec![vec![8.0], vec![9.0], vec![10.0]]),
        Some(vec![vec![-1.0, -2.0]]),
        Some(vec![vec![0.5, 0.25]]),
    ];
    let arr_l = [
        Some(vec![1i64, 2, 3]),
        Some(vec![i64::MAX]),
        None,
        Some(vec![-5, 0, 5, 10]),
        Some(vec![7]),
        Some(vec![8, 9]),
    ];
    let dec64 = [
        Some("123.45"),
        Some("-0.01"),
        None,
        Some("99999.99"),
        Some("0.00"),
        Some("1.50"),
    ];
    let dec64_u = [
        Some(12_345i64),
        Some(-1),
        None,
        Some(9_999_999),
        Some(0),
        Some(150),
    ];
    let dec128 = [
        Some("12345678901234567890.123"),
        None,
        Some("-1.000"),
        Some("0.001"),
        Some("5.500"),
        Some("-99999999999999999999.999"),
    ];
    let dec128_u = [
        Some(12_345_678_901_234_567_890_123i128),
        None,
        Some(-1_000),
        Some(1),
        Some(5_500),
        Some(-99_999_999_999_999_999_999_999),
    ];
    let dec256 = [
        Some("-1.5"),
        Some("3.1"),
        Some("0.0"),
        None,
        Some("1234567890123456789012345678901234567.8"),
        Some("2.0"),
    ];
    let dec256_u: [Option<i256>; N] = [
        Some(i256::from_i128(-15)),
        Some(i256::from_i128(31)),
        Some(i256::from_i128(0)),
        None,
        Some(i256::from_string("12345678901234567890123456789012345678").unwrap()),
        Some(i256::from_i128(20)),
    ];
    let designated: Vec<i64> = (0..N as i64).map(|i| T0_US + i * 1_000_000).collect();

    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for r in 0..N {
        buf.table(table).unwrap();
        buf.symbol_opt("sym", sym[r]).unwrap();
        buf.symbol_opt("venue", venue[r]).unwrap();
        if let Some(v) = b[r] {
            buf.column_bool("b", v).unwrap();
        }
        if let Some(v) = i8s[r] {
            buf.column_i8("i8", v).unwrap();
        }
        if let Some(v) = i16s[r] {
            buf.column_i16("i16", v).unwrap();
        }
        buf.column_i32_opt("i32", i32s[r]).unwrap();
        buf.column_i64_opt("i64", i64s[r]).unwrap();
        buf.column_f32_opt("f32", f32s[r]).unwrap();
        buf.column_f64_opt("f64", f64s[r]).unwrap();
        buf.column_str_opt("s", strs[r]).unwrap();
        buf.column_ts_opt("ts_us", ts_us[r].map(TimestampMicros::new))
            .unwrap();
        buf.column_ts_opt("ts_ns", ts_ns[r].map(TimestampNanos::new))
            .unwrap();
        buf.column_date_opt("d", dates[r]).unwrap();
        buf.column_uuid_opt("u", uuids[r]).unwrap();
        buf.column_long256_opt("l256", l256s[r].as_ref()).unwrap();
        buf.column_ipv4_opt("ip", ips[r]).unwrap();
        buf.column_char("ch", chars[r]).unwrap();
        buf.column_geohash_opt("geo", geos[r].map(|g| (g, 20)))
            .unwrap();
        buf.column_binary_opt("bin", bins[r]).unwrap();
        buf.column_arr_opt("arr_d", arr_d[r].as_ref()).unwrap();
        buf.column_arr_opt("arr_d2", arr_d2[r].as_ref()).unwrap();
        buf.column_arr_opt("arr_l", arr_l[r].as_ref()).unwrap();
        buf.column_dec64_opt("dec64", dec64[r]).unwrap();
        buf.column_dec128_opt("dec128", dec128[r]).unwrap();
        buf.column_dec_opt("dec256", dec256[r]).unwrap();
        buf.at(TimestampMicros::new(designated[r])).unwrap();
        // A second table in the same buffer, designated TIMESTAMP_NANOS.
        if r % 2 == 0 {
            buf.table(table_ns.as_str()).unwrap();
            buf.column_i64("v", r as i64).unwrap();
            buf.at(TimestampNanos::new(designated[r] * 1000 + 7))
                .unwrap();
        }
    }
    sender
        .flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .unwrap_or_else(|e| panic!("flush_buffer_and_wait: {:?}: {}", e.code(), e.msg()));
    drop(sender);

    let t = stored(srv, table);
    assert_eq!(t.num_rows(), N, "rows stored");

    let utc = Some(Arc::<str>::from("UTC"));
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));

    let a = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        "timestamp",
    );
    same(
        "timestamp",
        &a,
        &TimestampMicrosecondArray::from(designated.clone()).with_timezone("UTC"),
    );
    let (_, f) = t
        .schema()
        .column_with_name("timestamp")
        .map(|(i, f)| (i, f.clone()))
        .unwrap();
    assert_eq!(
        f.metadata()
            .get("questdb.designated_timestamp")
            .map(String::as_str),
        Some("true"),
        "designated metadata on `timestamp`"
    );

    let a = column(&t, "sym", &dict, "symbol");
    same("sym", &as_utf8(&a), &StringArray::from(sym.to_vec()));
    let a = column(&t, "venue", &dict, "symbol");
    same("venue", &as_utf8(&a), &StringArray::from(venue.to_vec()));
    // BOOLEAN, BYTE and SHORT are not nullable in QuestDB: the client sends a
    // missing value as false / 0.
    let a = column(&t, "b", &DataType::Boolean, "boolean");
    same(
        "b",
        &a,
        &BooleanArray::from(b.map(|x| Some(x.unwrap_or(false))).to_vec()),
    );
    let a = column(&t, "i8", &DataType::Int8, "byte");
    same(
        "i8",
        &a,
        &Int8Array::from(i8s.map(|x| Some(x.unwrap_or(0))).to_vec()),
    );
    let a = column(&t, "i16", &DataType::Int16, "short");
    same(
        "i16",
        &a,
        &Int16Array::from(i16s.map(|x| Some(x.unwrap_or(0))).to_vec()),
    );
    let a = column(&t, "i32", &DataType::Int32, "int");
    same("i32", &a, &Int32Array::from(i32s.to_vec()));
    let a = column(&t, "i64", &DataType::Int64, "long");
    same("i64", &a, &Int64Array::from(i64s.to_vec()));
    let a = column(&t, "f32", &DataType::Float32, "float");
    same("f32", &a, &Float32Array::from(f32s.to_vec()));
    let a = column(&t, "f64", &DataType::Float64, "double");
    same("f64", &a, &Float64Array::from(f64s.to_vec()));
    let a = column(&t, "s", &DataType::Utf8, "varchar");
    same("s", &a, &StringArray::from(strs.to_vec()));
    let a = column(
        &t,
        "ts_us",
        &DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        "timestamp",
    );
    same(
        "ts_us",
        &a,
        &TimestampMicrosecondArray::from(ts_us.to_vec()).with_timezone("UTC"),
    );
    let a = column(
        &t,
        "ts_ns",
        &DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()),
        "timestamp_nanos",
    );
    same(
        "ts_ns",
        &a,
        &TimestampNanosecondArray::from(ts_ns.to_vec()).with_timezone("UTC"),
    );
    let a = column(&t, "d", &DataType::Date64, "date");
    same("d", &a, &Date64Array::from(dates.to_vec()));
    let a = column(&t, "u", &DataType::FixedSizeBinary(16), "uuid");
    let want = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
        uuids.iter().map(|u| u.map(|(lo, hi)| uuid_bytes(lo, hi))),
        16,
    )
    .unwrap();
    same("u", &a, &want);
    let a = column(&t, "l256", &DataType::FixedSizeBinary(32), "long256");
    let want =
        FixedSizeBinaryArray::try_from_sparse_iter_with_size(l256s.iter().map(|x| x.as_ref()), 32)
            .unwrap();
    same("l256", &a, &want);
    let a = column(&t, "ip", &DataType::UInt32, "ipv4");
    same(
        "ip",
        &a,
        &UInt32Array::from(ips.map(|x| x.map(u32::from)).to_vec()),
    );
    let a = column(&t, "ch", &DataType::UInt16, "char");
    same("ch", &a, &UInt16Array::from(chars.to_vec()));
    let a = column(&t, "geo", &DataType::Int64, "geohash");
    same(
        "geo",
        &a,
        &Int64Array::from(geos.map(|g| g.map(|x| x as i64)).to_vec()),
    );
    let geo_bits = t
        .schema()
        .field_with_name("geo")
        .unwrap()
        .metadata()
        .get("questdb.geohash_bits")
        .cloned();
    assert_eq!(geo_bits.as_deref(), Some("20"), "geo: questdb.geohash_bits");
    let a = column(&t, "bin", &DataType::Binary, "binary");
    same("bin", &a, &BinaryArray::from(bins.to_vec()));
    let want = list_f64(&arr_d);
    let a = column(&t, "arr_d", want.data_type(), "double_array");
    same("arr_d", &a, &want);
    let want = list2_f64(&arr_d2);
    let a = column(&t, "arr_d2", want.data_type(), "double_array");
    same("arr_d2", &a, &want);
    let want = list_i64(&arr_l);
    let a = column(&t, "arr_l", want.data_type(), "long_array");
    same("arr_l", &a, &want);
    let a = column(&t, "dec64", &DataType::Decimal64(18, 2), "decimal64");
    same(
        "dec64",
        &a,
        &Decimal64Array::from(dec64_u.to_vec())
            .with_precision_and_scale(18, 2)
            .unwrap(),
    );
    let a = column(&t, "dec128", &DataType::Decimal128(38, 3), "decimal128");
    same(
        "dec128",
        &a,
        &Decimal128Array::from(dec128_u.to_vec())
            .with_precision_and_scale(38, 3)
            .unwrap(),
    );
    let a = column(&t, "dec256", &DataType::Decimal256(76, 1), "decimal256");
    same(
        "dec256",
        &a,
        &Decimal256Array::from(dec256_u.to_vec())
            .with_precision_and_scale(76, 1)
            .unwrap(),
    );

    let t = stored(srv, &table_ns);
    let a = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Nanosecond, utc),
        "timestamp_nanos",
    );
    let want: Vec<i64> = (0..N)
        .step_by(2)
        .map(|r| designated[r] * 1000 + 7)
        .collect();
    same(
        "timestamp (ns)",
        &a,
        &TimestampNanosecondArray::from(want).with_timezone("UTC"),
    );
    let a = column(&t, "v", &DataType::Int64, "long");
    same("v", &a, &Int64Array::from(vec![0i64, 2, 4]));
}
