use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType, i256};

use super::*;
use crate::server::ilp_columns::{long256, nested_list, rescale};
use crate::server::storage::StorageOptions;

fn catalog() -> Catalog {
    Catalog::open_with(None, StorageOptions::default()).expect("catalog")
}

fn writes(c: &Catalog, body: &str) -> Result<Writes, IlpFailure> {
    to_writes(c, body.as_bytes(), Precision::Nanos, 1_000)
}

#[test]
fn groups_lines_per_table_and_infers_types() {
    let c = catalog();
    let w = writes(
        &c,
        "t,s=a x=1i,y=2.5,b=t,v=\"hi\" 5000\nu z=1i\nt,s=b x=2i 6000\n",
    )
    .expect("writes");
    assert_eq!(w.len(), 2);
    let (name, b, ts) = &w[0];
    assert_eq!(name, "t");
    assert_eq!(ts.as_deref(), Some("timestamp"));
    assert_eq!(b.num_rows(), 2);
    let x = b
        .column_by_name("x")
        .expect("x")
        .as_primitive::<Int64Type>();
    assert_eq!(x.values().to_vec(), vec![1, 2]);
    let y = b
        .column_by_name("y")
        .expect("y")
        .as_primitive::<Float64Type>();
    assert!(y.is_null(1));
    let ts = b
        .column_by_name("timestamp")
        .expect("ts")
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.values().to_vec(), vec![5, 6]);
    assert_eq!(
        b.schema().field_with_name("s").expect("s").data_type(),
        &arrow::datatypes::DataType::Dictionary(
            Box::new(arrow::datatypes::DataType::Int32),
            Box::new(arrow::datatypes::DataType::Utf8)
        )
    );
    // No timestamp: server time.
    let u = w[1].1.column_by_name("timestamp").expect("ts");
    assert_eq!(u.as_primitive::<TimestampMicrosecondType>().value(0), 1_000);
}

#[test]
fn known_columns_keep_their_types() {
    let c = catalog();
    c.commit(writes(&c, "t d=1.5,n=1i\n").expect("first"))
        .expect("commit");
    // An integer into the DOUBLE column is converted.
    let w = writes(&c, "t d=2i,n=3i\n").expect("int into double");
    let d = w[0].1.column_by_name("d").expect("d");
    assert_eq!(d.as_primitive::<Float64Type>().value(0), 2.0);
    // A float into the LONG column is a cast error naming line and column.
    let e = writes(&c, "t n=3i\nt n=1.5\n").expect_err("float into long");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("column n"), "{}", e.message);
    assert!(e.message.contains("LONG"), "{}", e.message);
}

#[test]
fn bad_lines_name_their_line() {
    let c = catalog();
    let e = writes(&c, "t x=1i\n\nt x=\n").expect_err("parse error");
    assert_eq!(e.line, Some(3));
    let e = writes(&c, "t x=1i,x=2i\n").expect_err("duplicate");
    assert!(e.message.contains("twice"), "{}", e.message);
    let e = writes(&c, "t timestamp=1i\n").expect_err("designated as a field");
    assert!(e.message.contains("designated"), "{}", e.message);
    let e = writes(&c, "bad/name x=1i\n").expect_err("table name");
    assert_eq!(e.line, Some(1));
}

#[test]
fn precision_scales_unsuffixed_timestamps() {
    let c = catalog();
    let w = to_writes(&c, b"t x=1i 7\n", Precision::Seconds, 0).expect("writes");
    let ts = w[0].1.column_by_name("timestamp").expect("ts");
    assert_eq!(
        ts.as_primitive::<TimestampMicrosecondType>().value(0),
        7_000_000
    );
    assert_eq!(Precision::parse("ms"), Some(Precision::Millis));
    assert_eq!(Precision::parse("h"), None);
}

#[test]
fn values_convert_like_questdb() {
    assert_eq!(long256("1ff").expect("hex")[..2], [0xff, 0x01]);
    assert!(long256("xyz").is_err());
    let t = QwpType {
        scale: 2,
        ..QwpType::plain(ColumnType::Decimal64)
    };
    assert_eq!(rescale(i256::from_i128(15), 1, t), Ok(i256::from_i128(150)));
    assert!(
        rescale(i256::from_i128(151), 3, t).is_err(),
        "loses a digit"
    );
    assert!(
        rescale(i256::from_i128(10i128.pow(17)), 0, t).is_err(),
        "over 18 digits"
    );
    let arr = nested_list(&[Some((vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])), None], 2).expect("array");
    assert_eq!(arr.len(), 2);
    assert!(arr.is_null(1));
    let outer = arr.as_list::<i32>();
    assert_eq!(outer.value(0).len(), 2);
}

/// A name equal to the previous line's is taken without a scan; text
/// that only starts like it, or goes on with an escape, is read in full.
#[test]
fn names_like_the_previous_lines_are_read_in_full() {
    let body = "t,a=x n=1i\nt,a\\ b=x\\,y n=2i\ntt,a=xy n=3i,nn=4i\ntt,a=x nn=5i,n=6t\n\
                tt,a=x nn=7i,n=8t\n";
    let mut lines = parse_lines(body.as_bytes(), IlpVersion::V2);
    let mut line = Line::empty();
    let mut got = Vec::new();
    while let Some(r) = lines.next_into(&mut line) {
        r.unwrap();
        let mut s = line.table.to_string();
        for (k, v) in &line.symbols {
            s += &format!(" {k}={v}");
        }
        for (k, v) in &line.fields {
            s += &format!(" {k}={v:?}");
        }
        got.push(s);
    }
    let ts = |value| {
        FieldValue::Timestamp(LineTimestamp {
            value,
            unit: TimestampUnit::Micros,
        })
    };
    use FieldValue::Integer as I;
    assert_eq!(
        got,
        [
            format!("t a=x n={:?}", I(1)),
            format!("t a b=x,y n={:?}", I(2)),
            format!("tt a=xy n={:?} nn={:?}", I(3), I(4)),
            format!("tt a=x nn={:?} n={:?}", I(5), ts(6)),
            format!("tt a=x nn={:?} n={:?}", I(7), ts(8)),
        ]
    );
}

/// The values of column `name` of the first batch, as integers.
fn ints(w: &Writes, name: &str) -> Vec<Option<i64>> {
    let a = w[0].1.column_by_name(name).expect(name);
    a.as_primitive::<Int64Type>().iter().collect()
}

/// Columns left out, reordered, escaped (unescaped names are not known
/// by their place) or in another case find their column, with few
/// columns (looked through) and with many (looked up).
#[test]
fn columns_are_found_whatever_the_lines_leave_out() {
    let c = catalog();
    let body = "t a=1i,b=2i,c=3i\nt b=4i,c=5i\nt a\\ x=6i,c=7i\nt a\\ y=8i,c=9i\n\
                t c=10i,A=11i\nt a=12i,b=13i,c=14i\n";
    let w = writes(&c, body).expect("writes");
    assert_eq!(w.len(), 1);
    let n = None;
    assert_eq!(ints(&w, "a"), [Some(1), n, n, n, Some(11), Some(12)]);
    assert_eq!(ints(&w, "b"), [Some(2), Some(4), n, n, n, Some(13)]);
    assert_eq!(ints(&w, "c").iter().flatten().count(), 6);
    assert_eq!(ints(&w, "a x"), [n, n, Some(6), n, n, n]);
    assert_eq!(ints(&w, "a y"), [n, n, n, Some(8), n, n]);
    // More columns than are looked through: reversed, then one left out.
    let many = (0..40).map(|i| format!("c{i}={i}i"));
    let first: Vec<String> = many.collect();
    let mut second = first.clone();
    second.reverse();
    second.remove(3);
    let body = format!("u {}\nu {}\n", first.join(","), second.join(","));
    let w = writes(&c, &body).expect("writes");
    assert_eq!(ints(&w, "c0"), [Some(0), Some(0)]);
    assert_eq!(ints(&w, "c36"), [Some(36), None]);
    assert_eq!(ints(&w, "c39"), [Some(39), Some(39)]);
}

/// A value left out is NULL in every nullable column type, whether the
/// column comes back on the next line, later, or never (padded at the
/// end); a column's first value pads the rows before it.
#[test]
fn left_out_values_are_null_in_every_type() {
    let c = catalog();
    let body = "t,s=a x=1i,y=1.5,z=10t,v=\"p\",b=t 1000\n\
                t y=2.5,b=f 2000\n\
                t,s=b x=3i,v=\"q\" 3000\n\
                t,s=c z=40t,b=t 4000\n\
                t,s=d x=5i,y=5.5,late=7i 5000\n\
                t,s=e 6000\n";
    let w = writes(&c, body).expect("writes");
    let b = &w[0].1;
    assert_eq!(b.num_rows(), 6);
    let nulls = |name: &str| -> Vec<usize> {
        let a = b.column_by_name(name).expect(name);
        assert_eq!(a.len(), 6, "{name}");
        (0..6).filter(|&i| a.is_null(i)).collect()
    };
    assert_eq!(nulls("s"), [1]);
    assert_eq!(nulls("x"), [1, 3, 5]);
    assert_eq!(nulls("y"), [2, 3, 5]);
    assert_eq!(nulls("z"), [1, 2, 4, 5]);
    assert_eq!(nulls("v"), [1, 3, 4, 5]);
    assert_eq!(nulls("late"), [0, 1, 2, 3, 5]);
    assert_eq!(ints(&w, "x"), [Some(1), None, Some(3), None, Some(5), None]);
    let z = b.column_by_name("z").expect("z");
    let z = z.as_primitive::<TimestampMicrosecondType>();
    assert_eq!((z.value(0), z.value(3)), (10, 40));
    let s = b.column_by_name("s").expect("s");
    let s = s.as_dictionary::<arrow::datatypes::Int32Type>();
    let keys: Vec<Option<i32>> = s.keys().iter().collect();
    assert_eq!(keys[1], None);
    let values = s.values().as_string::<i32>();
    let named: Vec<Option<&str>> = keys
        .iter()
        .map(|k| k.map(|k| values.value(k as usize)))
        .collect();
    assert_eq!(
        named,
        [Some("a"), None, Some("b"), Some("c"), Some("d"), Some("e")]
    );
    // BOOLEAN has no NULL: a left-out value is false, as stored.
    let bools = b.column_by_name("b").expect("b");
    assert_eq!(bools.null_count(), 0);
    assert!(b.column_by_name("y").expect("y").null_count() == 3);
}

/// A body with what makes a newline byte ambiguous: binary doubles whose
/// bytes hold `\n`, escaped newlines in strings and names, CRLF, blank
/// and comment lines.
fn tricky_body() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..40u64 {
        body.extend_from_slice(b"t,s=a\\\nb x=");
        body.extend_from_slice(format!("{i}i,d==").as_bytes());
        body.push(16);
        // Every byte of the double is `\n` on some lines.
        let v = if i % 3 == 0 {
            f64::from_bits(0x0A0A_0A0A_0A0A_0A0A)
        } else {
            i as f64 + 0.5
        };
        body.extend_from_slice(&v.to_le_bytes());
        body.extend_from_slice(b",v=\"l\\\ni\" ");
        body.extend_from_slice(format!("{}", 1000 + i).as_bytes());
        body.extend_from_slice(if i % 5 == 0 { b"\r\n" } else { b"\n" });
        if i % 7 == 0 {
            body.extend_from_slice(b"\n# a comment\n");
        }
    }
    body
}

/// Bodies fed in two pieces, cut at every byte, give what the whole body
/// gives; a line is taken only when its newline came.
#[test]
fn a_body_fed_in_pieces_reads_as_the_whole() {
    let c = catalog();
    let body = tricky_body();
    let whole = to_writes(&c, &body, Precision::Nanos, 1_000).expect("whole");
    assert_eq!(whole[0].1.num_rows(), 40);
    let d = whole[0].1.column_by_name("d").expect("d");
    assert_eq!(
        d.as_primitive::<Float64Type>().value(0).to_bits(),
        0x0A0A_0A0A_0A0A_0A0A
    );
    for cut in 0..=body.len() {
        let mut w = BodyWrites::new(&c, Precision::Nanos, 1_000, body.len());
        let n = w.feed(&body[..cut], false).expect("first piece");
        assert!(n <= cut, "cut {cut}");
        // What was taken ends with a line's newline.
        assert!(n == 0 || body[n - 1] == b'\n', "cut {cut}: took {n}");
        let m = w.feed(&body[n..], true).expect("the rest");
        assert_eq!(n + m, body.len(), "cut {cut}");
        let pieces = w.finish().expect("finish");
        assert_eq!(pieces.len(), 1, "cut {cut}");
        assert_eq!(pieces[0].1, whole[0].1, "cut {cut}");
    }
}

/// A bad line is the error only once its bytes are all there, and its
/// number counts the lines of earlier pieces.
#[test]
fn a_bad_line_fed_in_pieces_is_numbered_in_the_body() {
    let c = catalog();
    let body = b"t x=1i\n\nt x=2i\nt x=1.5e3,y=\"ab\ncd\"\nt x=3i\n";
    for cut in 0..=body.len() {
        let mut w = BodyWrites::new(&c, Precision::Nanos, 0, body.len());
        let n = w.feed(&body[..cut], false).unwrap_or_else(|f| {
            // Cut after the bad line's newline: it is known bad at once.
            assert!(cut >= 22, "cut {cut}: {}", f.message);
            w.good()
        });
        let e = w.feed(&body[n..], true).expect_err("bad line");
        assert_eq!(e.line, Some(4), "cut {cut}: {}", e.message);
        assert!(e.message.contains("line break"), "{}", e.message);
    }
    // A cut-off integer is not taken for a shorter one.
    let mut w = BodyWrites::new(&c, Precision::Nanos, 0, 16);
    assert_eq!(w.feed(b"t x=12", false).expect("waits"), 0);
    assert_eq!(w.feed(b"t x=123i\n", true).expect("whole"), 9);
    assert_eq!(ints(&w.finish().expect("finish"), "x"), [Some(123)]);
}
