//! Property tests of the sans-IO codec: every column type × null pattern ×
//! row count × null mode × direction, encode then decode is the identity.

use proptest::collection::vec;
use proptest::prelude::*;
use questdb_arrow::protocol::column::{ArrayValue, Layout, TsEncoding, decode_column};
use questdb_arrow::protocol::egress::{
    ClientMessage, Inflater, QueryRequest, ResultBatch, ServerMessage, decode_server_message,
};
use questdb_arrow::protocol::ingress::{
    ColumnDef, IngressMessage, SymbolDelta, TableBlock, decode_message,
};
use questdb_arrow::protocol::{
    ColumnData, ColumnType, Direction, NullMode, Reader, Values, gorilla,
};

const ROW_COUNTS: [usize; 6] = [0, 1, 7, 8, 9, 1000];

fn arrays<T: std::fmt::Debug + Clone + 'static>(
    elem: impl Strategy<Value = T> + Clone + 'static,
    n: usize,
) -> BoxedStrategy<Vec<ArrayValue<T>>> {
    let one = vec(0u32..4, 1..4).prop_flat_map(move |dims| {
        let count: usize = dims.iter().map(|&d| d as usize).product();
        vec(elem.clone(), count).prop_map(move |data| ArrayValue {
            dims: dims.clone(),
            data,
        })
    });
    vec(one, n).boxed()
}

/// `n` values of type `ty`.
fn values(ty: ColumnType, n: usize) -> BoxedStrategy<Values> {
    match ty {
        ColumnType::Boolean => vec(any::<bool>(), n).prop_map(Values::Boolean).boxed(),
        ColumnType::Byte => vec(any::<i8>(), n).prop_map(Values::Byte).boxed(),
        ColumnType::Short => vec(any::<i16>(), n).prop_map(Values::Short).boxed(),
        ColumnType::Int => vec(any::<i32>(), n).prop_map(Values::Int).boxed(),
        ColumnType::Long => vec(any::<i64>(), n).prop_map(Values::Long).boxed(),
        ColumnType::Float => vec(any::<f32>(), n).prop_map(Values::Float).boxed(),
        ColumnType::Double => vec(any::<f64>(), n).prop_map(Values::Double).boxed(),
        ColumnType::Symbol => vec(0u32..100_000, n).prop_map(Values::Symbol).boxed(),
        ColumnType::Timestamp => timestamps(n).prop_map(Values::Timestamp).boxed(),
        ColumnType::TimestampNanos => timestamps(n).prop_map(Values::TimestampNanos).boxed(),
        ColumnType::Date => timestamps(n).prop_map(Values::Date).boxed(),
        ColumnType::Uuid => vec(any::<u128>(), n).prop_map(Values::Uuid).boxed(),
        ColumnType::Long256 => vec(any::<[u8; 32]>(), n).prop_map(Values::Long256).boxed(),
        ColumnType::Geohash => (1u8..=60)
            .prop_flat_map(move |p| {
                let max = if p == 64 { u64::MAX } else { (1u64 << p) - 1 };
                vec(0..=max, n).prop_map(move |values| Values::Geohash {
                    precision_bits: p,
                    values,
                })
            })
            .boxed(),
        ColumnType::Varchar => vec(".{0,12}", n).prop_map(Values::Varchar).boxed(),
        ColumnType::Binary => vec(vec(any::<u8>(), 0..12), n)
            .prop_map(Values::Binary)
            .boxed(),
        ColumnType::DoubleArray => arrays(any::<f64>(), n)
            .prop_map(Values::DoubleArray)
            .boxed(),
        ColumnType::LongArray => arrays(any::<i64>(), n).prop_map(Values::LongArray).boxed(),
        ColumnType::Decimal64 => (0u8..=18, vec(any::<i64>(), n))
            .prop_map(|(scale, values)| Values::Decimal64 { scale, values })
            .boxed(),
        ColumnType::Decimal128 => (0u8..=38, vec(any::<i128>(), n))
            .prop_map(|(scale, values)| Values::Decimal128 { scale, values })
            .boxed(),
        ColumnType::Decimal256 => (0u8..=76, vec(any::<[u8; 32]>(), n))
            .prop_map(|(scale, values)| Values::Decimal256 { scale, values })
            .boxed(),
        ColumnType::Char => vec(any::<u16>(), n).prop_map(Values::Char).boxed(),
        ColumnType::Ipv4 => vec(any::<u32>(), n).prop_map(Values::Ipv4).boxed(),
    }
}

/// Timestamps: steady cadence with jitter (Gorilla-friendly) or arbitrary.
fn timestamps(n: usize) -> BoxedStrategy<Vec<i64>> {
    prop_oneof![
        (
            0i64..2_000_000_000_000_000,
            1i64..10_000,
            vec(-50i64..50, n)
        )
            .prop_map(|(start, step, jitter)| {
                jitter
                    .iter()
                    .enumerate()
                    .map(|(i, j)| start + i as i64 * step + j)
                    .collect()
            }),
        vec(any::<i64>(), n),
    ]
    .boxed()
}

#[derive(Debug, Clone, Copy)]
enum NullPattern {
    None,
    All,
    Alternate,
    Random(u64),
}

fn mask(p: NullPattern, rows: usize) -> Option<Vec<bool>> {
    match p {
        NullPattern::None => None,
        NullPattern::All => Some(vec![true; rows]),
        NullPattern::Alternate => Some((0..rows).map(|i| i % 2 == 1).collect()),
        NullPattern::Random(seed) => {
            let mut s = seed | 1;
            Some(
                (0..rows)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        s % 3 == 0
                    })
                    .collect(),
            )
        }
    }
}

fn column_case() -> impl Strategy<Value = (ColumnData, Layout)> {
    let ty = proptest::sample::select(ColumnType::ALL.to_vec());
    let rows = proptest::sample::select(ROW_COUNTS.to_vec());
    let pattern = prop_oneof![
        Just(NullPattern::None),
        Just(NullPattern::All),
        Just(NullPattern::Alternate),
        any::<u64>().prop_map(NullPattern::Random),
    ];
    let mode = prop_oneof![Just(NullMode::Bitmap), Just(NullMode::Sentinel)];
    let layout = (
        any::<bool>(),
        prop_oneof![Just(Direction::Ingress), Just(Direction::Egress)],
        prop_oneof![
            Just(TsEncoding::Auto),
            Just(TsEncoding::Raw),
            Just(TsEncoding::Gorilla),
            Just(TsEncoding::Cadence)
        ],
    )
        .prop_map(|(gorilla, direction, ts_encoding)| Layout {
            gorilla,
            delta_dict: true,
            direction,
            ts_encoding,
        });
    (ty, rows, pattern, mode, layout).prop_flat_map(|(ty, rows, pattern, mode, layout)| {
        let nulls = mask(pattern, rows);
        let n = nulls
            .as_ref()
            .map_or(rows, |m| m.iter().filter(|&&b| !b).count());
        values(ty, n).prop_map(move |values| {
            let mut c = ColumnData {
                nulls: nulls.clone(),
                values,
                null_mode: mode,
            };
            if c.nulls.is_none() {
                c.null_mode = NullMode::Bitmap;
            }
            (c, layout)
        })
    })
}

/// What decoding must give back: the same column, except that sentinel mode
/// turns NULLs into sentinel values (for types that have a sentinel).
fn expected(c: &ColumnData) -> ColumnData {
    let nulls = c.nulls.clone().unwrap_or_default();
    let has_nulls = nulls.iter().any(|&b| b);
    if c.null_mode == NullMode::Sentinel && has_nulls && c.values.has_sentinel() {
        ColumnData::new(c.values.with_sentinels(&nulls))
    } else {
        let mut e = c.clone();
        e.null_mode = NullMode::Bitmap;
        if !has_nulls {
            // An all-valid mask encodes exactly like no mask at all.
            e.nulls = None;
        }
        e
    }
}

/// Equality that treats NaNs as equal to themselves (Debug prints them alike).
fn same(a: &ColumnData, b: &ColumnData) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_column_type_round_trips((col, layout) in column_case()) {
        prop_assert!(col.validate(&layout).is_ok());
        let len = col.encoded_len(&layout);
        let bytes = col.to_bytes(&layout);
        prop_assert_eq!(bytes.len(), len, "size must be exact");
        let mut r = Reader::new(&bytes);
        let view = decode_column(&mut r, col.column_type(), col.row_count(), &layout)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(r.remaining(), 0);
        let back = view.to_owned_data();
        let want = expected(&col);
        prop_assert!(same(&back, &want), "decoded {:?}\nwanted {:?}", back, want);
    }

    #[test]
    fn masked_encoding_equals_plain_xor_key((col, layout) in column_case(), key in any::<[u8; 4]>(), phase in 0usize..4) {
        let plain = col.to_bytes(&layout);
        let mut masked = vec![0; plain.len()];
        col.encode(&layout, &mut questdb_arrow::protocol::Out::masked(&mut masked, key, phase));
        for (i, (m, p)) in masked.iter().zip(&plain).enumerate() {
            prop_assert_eq!(*m ^ key[(i + phase) % 4], *p);
        }
    }

    #[test]
    fn gorilla_random_timestamps(ts in vec(any::<i64>(), 0..200)) {
        if let Some(len) = gorilla::encoded_len(&ts) {
            let mut b = vec![0; len];
            gorilla::encode(&ts, len, &mut questdb_arrow::protocol::Out::plain(&mut b));
            let mut r = Reader::new(&b);
            prop_assert_eq!(gorilla::decode(&mut r, ts.len()).unwrap(), ts);
            prop_assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn gorilla_steady_cadence(start in 0i64..i64::MAX / 4, step in 1i64..1_000_000_000, jitter in vec(-3000i64..3000, 3..2000)) {
        let ts: Vec<i64> = jitter.iter().enumerate().map(|(i, j)| start + i as i64 * step + j).collect();
        let len = gorilla::encoded_len(&ts).expect("steady cadence always fits");
        let mut b = vec![0; len];
        gorilla::encode(&ts, len, &mut questdb_arrow::protocol::Out::plain(&mut b));
        prop_assert_eq!(gorilla::decode(&mut Reader::new(&b), ts.len()).unwrap(), ts);
    }

    #[test]
    fn ingress_messages_round_trip(cols in vec(column_case(), 1..6), defer in any::<bool>(), delta in vec(".{0,8}", 0..5)) {
        // One block per distinct row count, columns named c0, c1, ...
        let mut tables: Vec<TableBlock> = Vec::new();
        for (i, (c, _)) in cols.iter().enumerate() {
            let c = expected(c);
            match tables.iter_mut().find(|t| t.row_count() == c.row_count()) {
                Some(t) => {
                    t.columns.push(ColumnDef { name: format!("c{i}"), ty: c.column_type() });
                    t.data.push(c);
                }
                None => tables.push(TableBlock {
                    name: format!("t{}", tables.len()),
                    columns: vec![ColumnDef { name: format!("c{i}"), ty: c.column_type() }],
                    data: vec![c],
                }),
            }
        }
        let mut msg = IngressMessage::new(SymbolDelta { start: 5, entries: delta }, tables);
        if defer { msg.flags |= questdb_arrow::protocol::FLAG_DEFER_COMMIT; }
        let bytes = msg.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = decode_message(&bytes, 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = back.to_owned_message();
        prop_assert_eq!(format!("{back:?}"), format!("{msg:?}"));
    }

    #[test]
    fn query_requests_round_trip(sql in ".{0,40}", credit in any::<u64>(), cols in vec(column_case(), 0..8), id in any::<i64>()) {
        // Binds are one-row columns of each generated type.
        let binds: Vec<ColumnData> = cols.into_iter().filter_map(|(c, _)| {
            let c = expected(&c);
            if c.row_count() == 0 { return None; }
            let first_null = c.nulls.as_ref().is_some_and(|n| n[0]);
            // SYMBOL binds travel as VARCHAR.
            let values = match &c.values {
                Values::Symbol(v) if first_null => { let _ = v; Values::Varchar(vec![]) }
                Values::Symbol(v) => Values::Varchar(vec![format!("s{}", v[0])]),
                _ if first_null => c.values.empty_like(),
                _ => first_value(&c.values),
            };
            Some(if first_null { ColumnData::with_nulls(values, vec![true]) } else { ColumnData::new(values) })
        }).collect();
        let q = QueryRequest { request_id: id, sql, initial_credit: credit, binds, query_flags: None, timeout_ms: None };
        let b = q.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = ClientMessage::decode(&b, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(format!("{back:?}"), format!("{:?}", ClientMessage::Query(q)));
    }

    #[test]
    fn result_batches_round_trip(cols in vec(column_case(), 1..5), seq in 0u64..3, zstd in any::<bool>()) {
        let rows = cols[0].0.row_count();
        let columns: Vec<ColumnData> = cols.iter().map(|(c, _)| expected(c)).filter(|c| c.row_count() == rows).collect();
        let schema: Vec<ColumnDef> = columns.iter().enumerate().map(|(i, c)| ColumnDef { name: format!("c{i}"), ty: c.column_type() }).collect();
        let batch = ResultBatch { request_id: 9, batch_seq: seq, delta: Some(SymbolDelta { start: 0, entries: vec!["a".into()] }), schema: schema.clone(), columns: columns.clone(), row_count: rows };
        let frame = batch.to_frame(zstd.then_some(1)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ServerMessage::Batch(raw) = decode_server_message(&frame, 1).map_err(|e| TestCaseError::fail(e.to_string()))? else {
            return Err(TestCaseError::fail("not a batch"));
        };
        let mut inf = Inflater::new();
        let v = raw.decode(&mut inf, Some(&schema)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v.row_count, rows);
        let back: Vec<ColumnData> = v.columns.iter().map(|c| c.to_owned_data()).collect();
        prop_assert_eq!(format!("{back:?}"), format!("{columns:?}"));
    }
}

fn first_value(v: &Values) -> Values {
    let mut c = v.clone();
    match &mut c {
        Values::Boolean(x) => x.truncate(1),
        Values::Byte(x) => x.truncate(1),
        Values::Short(x) => x.truncate(1),
        Values::Int(x) => x.truncate(1),
        Values::Long(x) => x.truncate(1),
        Values::Float(x) => x.truncate(1),
        Values::Double(x) => x.truncate(1),
        Values::Timestamp(x) | Values::TimestampNanos(x) | Values::Date(x) => x.truncate(1),
        Values::Uuid(x) => x.truncate(1),
        Values::Long256(x) => x.truncate(1),
        Values::Geohash { values, .. } => values.truncate(1),
        Values::Varchar(x) => x.truncate(1),
        Values::Binary(x) => x.truncate(1),
        Values::DoubleArray(x) => x.truncate(1),
        Values::LongArray(x) => x.truncate(1),
        Values::Decimal64 { values, .. } => values.truncate(1),
        Values::Decimal128 { values, .. } => values.truncate(1),
        Values::Decimal256 { values, .. } => values.truncate(1),
        Values::Char(x) => x.truncate(1),
        Values::Ipv4(x) => x.truncate(1),
        Values::Symbol(x) => x.truncate(1),
        Values::SymbolDict { ids, .. } => ids.truncate(1),
    }
    c
}

/// Decoders never panic: every prefix and every single-byte corruption of a
/// valid message is either decoded or rejected with an error.
#[test]
fn corrupted_messages_never_panic() {
    let msg = IngressMessage::new(
        SymbolDelta {
            start: 0,
            entries: vec!["a".into(), "bb".into()],
        },
        vec![TableBlock {
            name: "t".into(),
            columns: ColumnType::ALL
                .iter()
                .enumerate()
                .map(|(i, &ty)| ColumnDef {
                    name: format!("c{i}"),
                    ty,
                })
                .collect(),
            data: ColumnType::ALL
                .iter()
                .map(|&ty| {
                    let mut runner = proptest::test_runner::TestRunner::deterministic();
                    let v = values(ty, 3).new_tree(&mut runner).unwrap().current();
                    let n = v.len();
                    let mut nulls = vec![false; n];
                    nulls.insert(1, true);
                    ColumnData::with_nulls(v, nulls)
                })
                .collect(),
        }],
    );
    let good = msg.to_bytes().unwrap();
    assert!(decode_message(&good, 1).is_ok());
    for cut in 0..good.len() {
        assert!(decode_message(&good[..cut], 1).is_err());
    }
    for i in 0..good.len() {
        for x in [0x01u8, 0x80, 0xFF] {
            let mut b = good.clone();
            b[i] ^= x;
            let _ = decode_message(&b, 1);
        }
    }
}
