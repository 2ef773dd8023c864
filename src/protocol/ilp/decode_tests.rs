//! Parser tests of escapes in every token and of the one-pass integer
//! forms (the word-at-a-time scans and the integer fast path must read
//! exactly what the byte-by-byte rules read).

use std::borrow::Cow;

use super::*;

fn one(input: &[u8]) -> Line<'_> {
    parse_lines(input, IlpVersion::V2)
        .next()
        .expect("a line")
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(input)))
}

fn err(input: &[u8]) -> IlpError {
    match parse_lines(input, IlpVersion::V2).find_map(Result::err) {
        Some(e) => e,
        None => panic!("{:?} parsed", String::from_utf8_lossy(input)),
    }
}

/// `\` before each byte that ends a token, plus a letter, in each place of
/// a line; at the start, in the middle and at the end of the token (a
/// token that ends in an escaped `\`), and after eight plain bytes (past
/// the first word a scan reads).
#[test]
fn every_escape_in_every_token() {
    let escapes: [(&str, &str); 7] = [
        ("\\ ", " "),
        ("\\,", ","),
        ("\\=", "="),
        ("\\\\", "\\"),
        ("\\\n", "\n"),
        ("\\\r", "\r"),
        ("\\x", "x"),
    ];
    for (esc, plain) in escapes {
        for (pre, post) in [("", "z"), ("a", "z"), ("a", ""), ("abcdefghij", "")] {
            let raw = format!("{pre}{esc}{post}");
            let want = format!("{pre}{plain}{post}");
            // Table, symbol name, symbol value, column name.
            let input = format!("{raw},{raw}={raw} {raw}=1i\n");
            let l = one(input.as_bytes());
            assert_eq!(l.table, want, "table {raw:?}");
            assert_eq!(l.symbols[0].0, want, "symbol name {raw:?}");
            assert_eq!(l.symbols[0].1, want, "symbol value {raw:?}");
            assert_eq!(l.fields[0].0, want, "column name {raw:?}");
            assert_eq!(l.fields[0].1, FieldValue::Integer(1));
        }
    }
    // Strings: `\` before `"`, `\`, a line break or any other byte.
    let quoted: [(&str, &str); 6] = [
        ("\\\"", "\""),
        ("\\\\", "\\"),
        ("\\\n", "\n"),
        ("\\\r", "\r"),
        ("\\x", "x"),
        ("\\,\\ \\=", ", ="),
    ];
    for (esc, plain) in quoted {
        for (pre, post) in [("", "z"), ("a", "z"), ("a", ""), ("abcdefghij", "")] {
            let input = format!("t s=\"{pre}{esc}{post}\",n=2i\n");
            let l = one(input.as_bytes());
            let want = format!("{pre}{plain}{post}");
            assert_eq!(
                l.fields[0].1,
                FieldValue::String(Cow::Owned(want)),
                "{input:?}"
            );
            assert_eq!(l.fields[1].1, FieldValue::Integer(2), "{input:?}");
        }
    }
}

/// A `\` as the last byte of the input, and escapes that do not end a
/// token where an unescaped byte would.
#[test]
fn escapes_at_the_end_and_inside() {
    for input in [
        &b"t\\"[..],
        b"t,a\\",
        b"t,a=b\\",
        b"t a=1i,x\\",
        b"t s=\"ab\\",
    ] {
        let e = err(input);
        assert!(
            e.message.contains("lone '\\'") || e.message.contains("unterminated"),
            "{e}"
        );
    }
    // An escaped `\` before the stop: the token ends there.
    let l = one(b"t\\\\,s\\\\=v\\\\ c\\\\=\"q\\\\\" 5\n");
    assert_eq!(l.table, "t\\");
    assert_eq!(l.symbols[0], (Cow::from("s\\"), Cow::from("v\\")));
    assert_eq!(l.fields[0].0, "c\\");
    assert_eq!(l.fields[0].1, FieldValue::String(Cow::from("q\\")));
    assert_eq!(l.timestamp.map(|t| t.value), Some(5));
}

/// Names repeated line after line are taken from the previous line, but
/// an escaped name equal to the previous line's plain one (or the other
/// way round) still reads as written.
#[test]
fn repeated_names_with_and_without_escapes() {
    let input = b"t a=1i\nt a\\ b=2i\nt a\\ b=3i\nt a=4i\nt\\ u,k\\=1=v x=1i\nt\\ u,k\\=1=v x=2i\n";
    let mut lines = parse_lines(input, IlpVersion::V2);
    let mut line = Line::empty();
    let mut got = Vec::new();
    while let Some(r) = lines.next_into(&mut line) {
        r.expect("line");
        let (name, value) = &line.fields[0];
        got.push((line.table.to_string(), name.to_string(), value.clone()));
    }
    let int = FieldValue::Integer;
    assert_eq!(
        got,
        vec![
            ("t".into(), "a".into(), int(1)),
            ("t".into(), "a b".into(), int(2)),
            ("t".into(), "a b".into(), int(3)),
            ("t".into(), "a".into(), int(4)),
            ("t u".into(), "x".into(), int(1)),
            ("t u".into(), "x".into(), int(2)),
        ]
    );
}

/// The integer forms read in one pass, and their near misses, which the
/// general rules read (or refuse) as before.
#[test]
fn integer_tokens_and_near_misses() {
    let micros = |value| {
        FieldValue::Timestamp(LineTimestamp {
            value,
            unit: TimestampUnit::Micros,
        })
    };
    let nanos = |value| {
        FieldValue::Timestamp(LineTimestamp {
            value,
            unit: TimestampUnit::Nanos,
        })
    };
    let cases: [(&str, FieldValue<'_>); 9] = [
        ("12i", FieldValue::Integer(12)),
        ("-12i", FieldValue::Integer(-12)),
        ("123456789012t", micros(123_456_789_012)),
        ("-5n", nanos(-5)),
        ("12", FieldValue::Float(12.0)),
        ("-12", FieldValue::Float(-12.0)),
        ("12e3", FieldValue::Float(12000.0)),
        ("0x12i", FieldValue::Long256("12")),
        ("1.5", FieldValue::Float(1.5)),
    ];
    for (tok, want) in cases {
        for end in ["\n", "", ",y=1i\n"] {
            let input = format!("t x={tok}{end}");
            assert_eq!(one(input.as_bytes()).fields[0].1, want, "{input:?}");
        }
    }
    for bad in ["-i", "1ii", "1i2", "12d", "9223372036854775808i", "1t2"] {
        let e = err(format!("t x={bad}\n").as_bytes());
        assert!(e.message.contains("not a valid value"), "{bad}: {e}");
    }
    // Designated timestamps: bare (nanoseconds), `t`, `n`, near misses.
    let ts = [
        ("17", Some((17, TimestampUnit::Nanos))),
        ("-17", Some((-17, TimestampUnit::Nanos))),
        ("17t", Some((17, TimestampUnit::Micros))),
        ("17n", Some((17, TimestampUnit::Nanos))),
        ("17i", None),
        ("17tt", None),
        ("17,", None),
        ("-", None),
        ("9223372036854775808", None),
    ];
    for (tok, want) in ts {
        for end in ["\n", "", "\r\n"] {
            let input = format!("t x=1i {tok}{end}");
            let got = parse_lines(input.as_bytes(), IlpVersion::V2)
                .next()
                .expect("a line")
                .ok()
                .and_then(|l| l.timestamp)
                .map(|t| (t.value, t.unit));
            assert_eq!(got, want, "{input:?}");
        }
    }
}
