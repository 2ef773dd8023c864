//! Golden, round-trip and malformed-input tests of column bodies.

use super::*;

#[test]
fn spec_t2_nullable_varchar() {
    let col = ColumnData::with_nulls(
        Values::Varchar(vec!["foo".into(), "bar".into(), "baz".into()]),
        vec![false, true, false, false],
    );
    let bytes: &[u8] = &[
        0x01, 0x02, 0, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 9, 0, 0, 0, b'f', b'o', b'o', b'b', b'a',
        b'r', b'b', b'a', b'z',
    ];
    assert_eq!(col.to_bytes(&Layout::INGRESS), bytes);
    assert_eq!(col.encoded_len(&Layout::INGRESS), bytes.len());
    let mut r = Reader::new(bytes);
    let v = decode_column(&mut r, ColumnType::Varchar, 4, &Layout::INGRESS).unwrap();
    assert_eq!(r.remaining(), 0);
    assert_eq!(v.null_count, 1);
    assert!(v.is_null(1));
    assert_eq!(v.varlen_value(2), Some(&b"baz"[..]));
    assert_eq!(v.to_owned_data(), col);
}

#[test]
fn spec_t4_boolean_and_t5_bitmap() {
    let col = ColumnData::new(Values::Boolean(vec![
        true, false, true, true, false, false, false, true,
    ]));
    assert_eq!(col.to_bytes(&Layout::INGRESS), [0x00, 0x8D]);
    let mut nulls = vec![false; 10];
    nulls[0] = true;
    nulls[2] = true;
    nulls[9] = true;
    let col = ColumnData::with_nulls(Values::Long(vec![1; 7]), nulls);
    assert_eq!(&col.to_bytes(&Layout::INGRESS)[..3], [0x01, 0x05, 0x02]);
}

#[test]
fn spec_t14_uuid() {
    let uuid: u128 = 0x550e8400_e29b_41d4_a716_446655440000;
    let col = ColumnData::new(Values::Uuid(vec![uuid]));
    let wire = [
        0x00, 0x00, 0x00, 0x44, 0x55, 0x66, 0x44, 0x16, 0xA7, 0xD4, 0x41, 0x9B, 0xE2, 0x00, 0x84,
        0x0E, 0x55,
    ];
    assert_eq!(col.to_bytes(&Layout::INGRESS), wire);
    let v = decode_column(
        &mut Reader::new(&wire),
        ColumnType::Uuid,
        1,
        &Layout::INGRESS,
    )
    .unwrap();
    assert_eq!(v.to_owned_data(), col);
}

#[test]
fn date_asymmetry() {
    let col = ColumnData::new(Values::Date(vec![1, 2, 3, 4]));
    // Ingress: plain 8-byte values, no encoding flag even with FLAG_GORILLA.
    assert_eq!(col.encoded_len(&Layout::INGRESS), 1 + 32);
    // Egress: an encoding flag, and Gorilla when it pays.
    let b = col.to_bytes(&Layout::EGRESS);
    assert_eq!(b[1], 1, "gorilla flag");
    assert!(b.len() < 1 + 1 + 32);
    let v = decode_column(&mut Reader::new(&b), ColumnType::Date, 4, &Layout::EGRESS).unwrap();
    assert_eq!(v.to_owned_data(), col);
    // Decoding egress bytes with the ingress rule shifts everything: caught.
    assert!(decode_column(&mut Reader::new(&b), ColumnType::Date, 4, &Layout::INGRESS).is_err());
}

#[test]
fn sentinel_mode_writes_every_row() {
    let mut col = ColumnData::with_nulls(Values::Int(vec![7, 9]), vec![false, true, false]);
    col.null_mode = NullMode::Sentinel;
    let b = col.to_bytes(&Layout::INGRESS);
    assert_eq!(b, [0, 7, 0, 0, 0, 0, 0, 0, 0x80, 9, 0, 0, 0]);
    // Types without a sentinel fall back to the bitmap.
    let mut col = ColumnData::with_nulls(Values::Varchar(vec!["a".into()]), vec![true, false]);
    col.null_mode = NullMode::Sentinel;
    assert_eq!(col.to_bytes(&Layout::INGRESS)[..2], [1, 1]);
}

#[test]
fn geohash_and_decimal_args() {
    let col = ColumnData::new(Values::Geohash {
        precision_bits: 12,
        values: vec![0xABC],
    });
    assert_eq!(col.to_bytes(&Layout::INGRESS), [0, 12, 0xBC, 0x0A]);
    let col = ColumnData::new(Values::Decimal64 {
        scale: 3,
        values: vec![12345],
    });
    assert_eq!(
        col.to_bytes(&Layout::INGRESS),
        [0, 3, 0x39, 0x30, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn symbol_ids_of_every_varint_length() {
    let ids = vec![
        0,
        127,
        128,
        (1 << 14) - 1,
        1 << 14,
        (1 << 21) - 1,
        1 << 21,
        (1 << 28) - 1,
        1 << 28,
        u32::MAX,
        5,
    ];
    let col = ColumnData::with_nulls(
        Values::Symbol(ids.clone()),
        (0..12).map(|i| i == 3).collect(),
    );
    let b = col.to_bytes(&Layout::EGRESS);
    let v = decode_column(
        &mut Reader::new(&b),
        ColumnType::Symbol,
        12,
        &Layout::EGRESS,
    )
    .unwrap();
    assert_eq!(v.values, ValuesView::Symbols(ids));
    // Every truncation is an error, wherever the fast path stops.
    for cut in 0..b.len() {
        let r = decode_column(
            &mut Reader::new(&b[..cut]),
            ColumnType::Symbol,
            12,
            &Layout::EGRESS,
        );
        assert!(r.is_err(), "cut at {cut}");
    }
    // An id above u32::MAX.
    let mut b = vec![0u8];
    b.extend([0xFF, 0xFF, 0xFF, 0xFF, 0x1F]);
    let e =
        decode_column(&mut Reader::new(&b), ColumnType::Symbol, 1, &Layout::EGRESS).unwrap_err();
    assert!(e.to_string().contains("symbol id"), "{e}");
}

/// Long runs of ids of 1 to 5 bytes, in an order that changes the length
/// from id to id: the eight-bytes-at-a-time path and the byte-wise one
/// agree with the checked reader, and nulls keep their places.
#[test]
fn symbol_id_runs_decode_as_written() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let ids: Vec<u32> = (0..3000)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Mostly ids of up to 4 bytes, sometimes a 5-byte one.
            let bits = [7, 14, 21, 28, 32][(seed % 5) as usize];
            let bits = if bits == 32 && i % 7 != 0 { 28 } else { bits };
            (seed >> 32) as u32 & (u32::MAX >> (32 - bits))
        })
        .collect();
    let rows = ids.len() + 100;
    let nulls: Vec<bool> = (0..rows).map(|i| i % 31 == 5).collect();
    let col = ColumnData::with_nulls(Values::Symbol(ids.clone()), nulls);
    egress_roundtrip(&col, |v| assert_eq!(v.values, ValuesView::Symbols(ids)));
    // Ids of one length throughout (what a large dictionary sends), an
    // odd count so that the two-at-a-time path leaves a tail.
    for bits in [7, 14, 21, 28] {
        let ids: Vec<u32> = (0..1001u32)
            .map(|i| (1 << (bits - 7)) | (i.wrapping_mul(2_654_435_761) >> (32 - bits)))
            .collect();
        assert!(
            ids.iter()
                .all(|&id| crate::protocol::wire::varint_len(u64::from(id)) == bits / 7)
        );
        let col = ColumnData::new(Values::Symbol(ids.clone()));
        egress_roundtrip(&col, |v| {
            assert_eq!(v.values, ValuesView::Symbols(ids), "{bits}-bit ids")
        });
    }
    // One-byte ids (whole words of them), then a 5-byte one at every
    // position of a word, then one-byte ids again.
    for at in 0..9 {
        let mut ids: Vec<u32> = (0..40).map(|i| i % 100).collect();
        ids.insert(16 + at, u32::MAX);
        let col = ColumnData::new(Values::Symbol(ids.clone()));
        egress_roundtrip(&col, |v| {
            assert_eq!(v.values, ValuesView::Symbols(ids), "5-byte id at {at}")
        });
    }
}

#[test]
fn malformed_bodies_are_errors() {
    let l = Layout::INGRESS;
    let dec = |b: &[u8], ty, n| -> Result<()> {
        decode_column(&mut Reader::new(b), ty, n, &l).map(|_| ())
    };
    // offsets not starting at 0
    assert!(dec(&[0, 1, 0, 0, 0, 1, 0, 0, 0, b'a'], ColumnType::Varchar, 1).is_err());
    // decreasing offsets
    assert!(
        dec(
            &[0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, b'a', b'b'],
            ColumnType::Binary,
            2
        )
        .is_err()
    );
    // invalid UTF-8 (egress views leave that check to the Arrow bridge)
    assert!(dec(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0xFF], ColumnType::Varchar, 1).is_err());
    let bad_utf8 = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0xFF];
    let egress = decode_column(
        &mut Reader::new(&bad_utf8),
        ColumnType::Varchar,
        1,
        &Layout::EGRESS,
    );
    assert!(egress.is_ok());
    // an offset below the one before it, in the middle
    assert!(
        dec(
            &[
                0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, b'a', b'b', b'c'
            ],
            ColumnType::Binary,
            3
        )
        .is_err()
    );
    // split multi-byte char across values
    let e = "é".as_bytes();
    assert!(
        dec(
            &[0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, e[0], e[1]],
            ColumnType::Varchar,
            2
        )
        .is_err()
    );
    // array with zero dims / negative dim
    assert!(dec(&[0, 0], ColumnType::DoubleArray, 1).is_err());
    assert!(dec(&[0, 1, 0xFF, 0xFF, 0xFF, 0xFF], ColumnType::LongArray, 1).is_err());
    // geohash precision 0 and 61
    assert!(dec(&[0, 0], ColumnType::Geohash, 0).is_err());
    assert!(dec(&[0, 61], ColumnType::Geohash, 0).is_err());
    // decimal scale too large
    assert!(dec(&[0, 19], ColumnType::Decimal64, 0).is_err());
    // bad timestamp encoding flag
    assert!(dec(&[0, 2], ColumnType::Timestamp, 0).is_err());
    // truncated fixed values
    assert!(dec(&[0, 1, 2, 3], ColumnType::Int, 1).is_err());
    // per-column symbol index out of range
    let l2 = Layout {
        delta_dict: false,
        ..l
    };
    assert!(
        decode_column(
            &mut Reader::new(&[0, 1, 1, b'a', 1]),
            ColumnType::Symbol,
            1,
            &l2
        )
        .is_err()
    );
}

#[test]
fn empty_arrays_differ_from_null() {
    let col = ColumnData::with_nulls(
        Values::DoubleArray(vec![
            ArrayValue {
                dims: vec![0],
                data: vec![],
            },
            ArrayValue {
                dims: vec![2, 0],
                data: vec![],
            },
            ArrayValue {
                dims: vec![1, 2],
                data: vec![1.5, -2.0],
            },
        ]),
        vec![false, true, false, false],
    );
    let b = col.to_bytes(&Layout::INGRESS);
    let v = decode_column(
        &mut Reader::new(&b),
        ColumnType::DoubleArray,
        4,
        &Layout::INGRESS,
    )
    .unwrap();
    assert_eq!(v.to_owned_data(), col);
}
