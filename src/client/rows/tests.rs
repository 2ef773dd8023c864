use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};

use super::*;

fn lent(buf: &mut Buffer) -> Vec<crate::client::sender::TableBatch> {
    buf.lend().unwrap()
}

#[test]
fn names_follow_the_rules_and_max_name_len() {
    for ok in ["trades", "a.b", "x-y", "日本"] {
        check_table_name(ok, 127).unwrap();
    }
    for bad in [
        "",
        ".a",
        "a.",
        "a..b",
        "a?b",
        "a/b",
        "a\nb",
        "a\u{feff}",
        "a\u{7f}",
    ] {
        assert_eq!(
            check_table_name(bad, 127).unwrap_err().kind(),
            ErrorKind::InvalidData,
            "{bad:?}"
        );
    }
    check_column_name("price_1", 127).unwrap();
    for bad in ["a-b", "a.b", "", "a b\r", "a~"] {
        assert!(check_column_name(bad, 127).is_err(), "{bad:?}");
    }
    let e = check_table_name("abcdef", 5).unwrap_err();
    assert!(e.to_string().contains("max_name_len"), "{e}");
    assert!(e.to_string().contains("6 bytes"), "{e}");
}

#[test]
fn decimals_parse_with_their_scale() {
    assert_eq!(parse_decimal("-12.345"), Some((-12345, 3)));
    assert_eq!(parse_decimal("7"), Some((7, 0)));
    assert_eq!(parse_decimal(".5"), Some((5, 1)));
    assert_eq!(parse_decimal("1e3"), None);
    assert_eq!(parse_decimal("-"), None);
    assert_eq!(parse_decimal(&"9".repeat(39)), None);
}

#[test]
fn columns_first_seen_later_and_missing_values_are_null() {
    let mut b = Buffer::new();
    b.table("t").unwrap().column_i64("a", 1).unwrap();
    b.at(TimestampMicros::new(10)).unwrap();
    b.table("t").unwrap().column_f64("x", 2.5).unwrap();
    b.at(TimestampMicros::new(20)).unwrap();
    b.table("t").unwrap().column_i64("a", 3).unwrap();
    b.at(TimestampMicros::new(30)).unwrap();
    assert_eq!(b.row_count(), 3);
    assert_eq!(b.len(), 3 * 8 + 8 + 2 * 8);
    let out = lent(&mut b);
    assert_eq!(out.len(), 1);
    let (name, batch, ts) = &out[0];
    assert_eq!((name.as_str(), ts.as_deref()), ("t", Some("")));
    let a = batch.column(0).as_primitive::<Int64Type>();
    assert_eq!(a.iter().collect::<Vec<_>>(), [Some(1), None, Some(3)]);
    let x = batch.column(1).as_primitive::<Float64Type>();
    assert_eq!(x.iter().collect::<Vec<_>>(), [None, Some(2.5), None]);
    drop(out);
    b.reclaim(false);
    // A failed flush keeps the rows; a second lend sees the same.
    let out = lent(&mut b);
    assert_eq!(out[0].1.num_rows(), 3);
    drop(out);
    b.reclaim(true);
    assert_eq!((b.row_count(), b.len()), (0, 0));
    assert!(b.capacity() > 0, "allocations are kept");
}

#[test]
fn a_bad_row_rolls_back_and_names_table_row_column() {
    let mut b = Buffer::new();
    b.table("t")
        .unwrap()
        .symbol("s", "a")
        .unwrap()
        .column_i64("v", 1)
        .unwrap();
    b.at_now().unwrap();
    let before = (b.row_count(), b.len());
    // A type change of a column with values.
    let e = b
        .table("t")
        .unwrap()
        .symbol("s", "new")
        .unwrap()
        .column_str("v", "x")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let msg = e.to_string();
    for part in ["table t", "row 1", "\"v\"", "long", "varchar"] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    assert!(!b.in_row());
    assert_eq!((b.row_count(), b.len()), before);
    // A column set twice; a new column and a new table, rolled back too.
    assert!(
        b.table("t")
            .unwrap()
            .column_i64("w", 1)
            .unwrap()
            .column_i64("w", 2)
            .is_err()
    );
    assert!(b.table("u").unwrap().column_i64("w-x", 1).is_err());
    assert_eq!((b.row_count(), b.len()), before);
    // No row before at().
    assert!(b.at_now().is_err());
    // at() without any column.
    assert!(b.table("t").unwrap().at(TimestampMicros::new(1)).is_err());
    // A negative designated timestamp.
    let e = b
        .table("t")
        .unwrap()
        .column_i64("v", 2)
        .unwrap()
        .at(TimestampMicros::new(-1))
        .unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    let out = lent(&mut b);
    assert_eq!(out.len(), 1);
    let batch = &out[0].1;
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(
        batch.num_columns(),
        2,
        "no trace of w: {:?}",
        batch.schema()
    );
    let dict = batch
        .column(0)
        .as_dictionary::<arrow::datatypes::Int32Type>();
    assert_eq!(dict.values().len(), 1, "the rolled-back symbol is gone");
}

#[test]
fn max_buf_size_refuses_the_row_naming_the_key() {
    let mut b = Buffer::new().with_max_buf_size(20);
    b.table("t").unwrap().column_i64("a", 1).unwrap();
    b.at(TimestampMicros::new(1)).unwrap();
    let e = b
        .table("t")
        .unwrap()
        .column_i64("a", 2)
        .unwrap()
        .at(TimestampMicros::new(2))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("max_buf_size"), "{e}");
    assert_eq!((b.row_count(), b.len()), (1, 16));
}

#[test]
fn init_buf_size_reserves_per_table() {
    let mut b = Buffer::new().with_init_buf_size(64 * 1024);
    b.table("t").unwrap().column_i64("a", 1).unwrap();
    b.at(TimestampMicros::new(1)).unwrap();
    assert!(b.capacity() >= 60 * 1024, "{}", b.capacity());
    let mut small = Buffer::new().with_init_buf_size(0);
    small.table("t").unwrap().column_i64("a", 1).unwrap();
    small.at(TimestampMicros::new(1)).unwrap();
    assert!(small.capacity() < 1024, "{}", small.capacity());
}

/// `init_buf_size` from a connect string is the buffer's reservation.
#[test]
fn init_buf_size_from_the_connect_string() {
    let cap = |v: &str| {
        let conf = crate::conf::Conf::parse(&format!("ws::addr=h:1;init_buf_size={v};")).unwrap();
        let mut b = Buffer::from_conf(&conf);
        b.table("t").unwrap().column_i64("a", 1).unwrap();
        b.at(TimestampMicros::new(1)).unwrap();
        b.capacity()
    };
    assert!(cap("65536") >= 60 * 1024, "{}", cap("65536"));
    assert!(cap("0") < 1024, "{}", cap("0"));
}

#[test]
fn mixed_at_and_at_now_rows_split_into_runs() {
    let mut b = Buffer::new();
    for (i, ts) in [Some(5), Some(6), None, Some(7), None]
        .into_iter()
        .enumerate()
    {
        b.table("t").unwrap().column_i64("i", i as i64).unwrap();
        match ts {
            Some(t) => b.at(TimestampNanos::new(t)).unwrap(),
            None => b.at_now().unwrap(),
        }
    }
    let out = lent(&mut b);
    let shape: Vec<_> = out
        .iter()
        .map(|(_, b, ts)| (b.num_rows(), b.num_columns(), ts.is_some()))
        .collect();
    assert_eq!(
        shape,
        [(2, 2, true), (1, 1, false), (1, 2, true), (1, 1, false)]
    );
}

#[test]
fn short_name_comparison_is_equality() {
    let names = [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "abcde",
        "abcdefgh",
        "abcdefghi",
        "abcdefghijklmnop",
        "abcdefghijklmnopq",
    ];
    for a in names {
        for b in names {
            assert_eq!(buffer::same_for_tests(a, b), a == b, "{a:?} {b:?}");
        }
        let mut c = a.to_string().into_bytes();
        if let Some(last) = c.last_mut() {
            *last ^= 1;
            let c = String::from_utf8(c).unwrap();
            assert!(!buffer::same_for_tests(a, &c), "{a:?}");
        }
    }
}
