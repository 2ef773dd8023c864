//! Parser tests of the line reused by [`ParseLines::next_into`]: names
//! and values are written in place, a text equal to the previous line's
//! is left where it was, and text is checked as UTF-8 with an ASCII fast
//! path. Each line of a body must read as it reads alone.

use super::*;

/// Every line of `body` read into one reused [`Line`] equals the line
/// read alone (a fresh parser, a fresh `Line`), errors included.
fn reads_as_alone(body: &[u8], version: IlpVersion) -> usize {
    let mut lines = parse_lines(body, version);
    let mut line = Line::empty();
    let mut at = lines.offset();
    let mut n = 0;
    while let Some(r) = lines.next_into(&mut line) {
        let end = body[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| at + i + 1);
        let alone = parse_lines(&body[at..end], version).next().expect("a line");
        match (r, alone) {
            (Ok(()), Ok(a)) => assert_eq!(line, a, "line {}", n + 1),
            (Err(e), Err(a)) => {
                assert_eq!(e.message, a.message, "line {}", n + 1);
                assert_eq!(e.offset, at + a.offset, "line {}", n + 1);
            }
            (r, a) => panic!("line {}: {r:?} in the body, {a:?} alone", n + 1),
        }
        at = lines.offset();
        n += 1;
    }
    n
}

/// A binary double as its ILP bytes.
fn double(v: f64) -> Vec<u8> {
    let mut b = vec![BINARY_MARKER, BINARY_DOUBLE];
    b.extend_from_slice(&v.to_le_bytes());
    b
}

/// Symbols repeating and changing (ASCII, escaped, multi-byte, empty),
/// columns left out and reordered, every kind of value, names escaped and
/// not: each line reads as it does alone.
#[test]
fn reused_line_reads_each_line_as_alone() {
    let tables = ["t", "t", "t", "t\\ x", "ü"];
    let syms = ["SYM00001", "SYM00001", "SYM00002", "a\\,b", "é", "", "日本"];
    let cols: [(&str, Vec<u8>); 9] = [
        ("a", b"1i".to_vec()),
        ("b", b"2.5".to_vec()),
        ("c", double(-0.25)),
        ("d", b"\"plain\"".to_vec()),
        ("d", "\"q\\\"é\\\\\"".as_bytes().to_vec()),
        ("e", b"t".to_vec()),
        ("f", b"5t".to_vec()),
        ("g\\ h", b"-7n".to_vec()),
        ("ß", b"\"x\"".to_vec()),
    ];
    let mut body = Vec::new();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..400 {
        body.extend_from_slice(tables[(rnd() % 5) as usize].as_bytes());
        for s in 0..(rnd() % 3) {
            body.extend_from_slice(format!(",s{s}=").as_bytes());
            body.extend_from_slice(syms[(rnd() % 7) as usize].as_bytes());
        }
        body.push(b' ');
        let mut first = true;
        for (name, value) in &cols {
            if rnd() % 4 == 0 {
                continue;
            }
            if !first {
                body.push(b',');
            }
            first = false;
            body.extend_from_slice(name.as_bytes());
            body.push(b'=');
            body.extend_from_slice(value);
        }
        if first {
            body.extend_from_slice(b"a=1i");
        }
        body.extend_from_slice(format!(" {i}t\n").as_bytes());
    }
    assert_eq!(reads_as_alone(&body, IlpVersion::V2), 400);
}

/// Text that is not UTF-8 (a lone continuation byte, a cut character)
/// in each kind of token, after lines that set up the fast paths: the
/// same error, at the same offset, as the line alone; and the same text
/// as UTF-8 is read.
#[test]
fn text_not_utf8_is_refused_in_each_token() {
    let good = b"t,s=SYM00001 a=1i,n=\"v\" 1t\n".to_vec();
    for bad in [&[0x80u8][..], &[0xC3], &[b'x', 0xE6, 0x97]] {
        for place in 0..4 {
            let mut tok = b"ab".to_vec();
            tok.extend_from_slice(bad);
            let tok = String::from_utf8_lossy(&tok).into_owned();
            let line = |t: &[u8]| -> Vec<u8> {
                let mut parts: [Vec<u8>; 4] = [
                    b"t".to_vec(),
                    b"SYM00001".to_vec(),
                    b"a".to_vec(),
                    b"v".to_vec(),
                ];
                parts[place] = t.to_vec();
                let mut l = parts[0].clone();
                l.extend_from_slice(b",s=");
                l.extend_from_slice(&parts[1]);
                l.push(b' ');
                l.extend_from_slice(&parts[2]);
                l.extend_from_slice(b"=1i,n=\"");
                l.extend_from_slice(&parts[3]);
                l.extend_from_slice(b"\" 1t\n");
                l
            };
            let mut raw = b"ab".to_vec();
            raw.extend_from_slice(bad);
            let mut body = good.repeat(3);
            body.extend_from_slice(&line(&raw));
            assert_eq!(reads_as_alone(&body, IlpVersion::V2), 4);
            let e = parse_lines(&body, IlpVersion::V2)
                .find_map(Result::err)
                .expect("refused");
            assert!(e.message.contains("is not UTF-8"), "{e}");
            assert_eq!(e.line_no, 4);
            // The replacement character is UTF-8: read.
            let mut body = good.repeat(3);
            body.extend_from_slice(&line(tok.as_bytes()));
            assert_eq!(reads_as_alone(&body, IlpVersion::V2), 4);
            assert!(parse_lines(&body, IlpVersion::V2).all(|r| r.is_ok()));
        }
    }
}

/// A binary double cut by the end of the input, and a binary value in a
/// version-1 body, after lines whose doubles took the fast path.
#[test]
fn cut_binary_double_after_whole_ones() {
    let mut line = b"t d=".to_vec();
    line.extend_from_slice(&double(1.5));
    line.extend_from_slice(b" 1t\n");
    for cut in 1..10 {
        let mut body = line.repeat(2);
        body.extend_from_slice(b"t d=");
        body.extend_from_slice(&double(2.5)[..cut]);
        assert_eq!(reads_as_alone(&body, IlpVersion::V2), 3, "cut {cut}");
        assert!(parse_lines(&body, IlpVersion::V2).any(|r| r.is_err()));
    }
    let mut lines = parse_lines(&line, IlpVersion::V1);
    let e = lines.next().expect("a line").expect_err("v1 has no binary");
    assert!(e.message.contains("protocol version 2"), "{e}");
}

#[test]
fn names_met_before_are_handed_out_at_their_first_place() {
    // Lines leave different columns out, so the names of a line shift
    // against the previous line's; a name met before is found again, at
    // the place it was first met (where a reader knows its column by),
    // and a name that only starts like one met before is not taken for it.
    let body = b"t a=1i,b=2i,c=3i,d=4i\n\
                 t a=1i,c=3i,d=4i\n\
                 t b=2i,d=4i,c=3i\n\
                 t a=1i,b=2i,c=3i,d=4i\n\
                 t bb=5i,b\\ x=6i,b=7i\n\
                 t c=8i,a=9i\n";
    assert_eq!(reads_as_alone(body, IlpVersion::V2), 6);
    let mut lines = parse_lines(body, IlpVersion::V2);
    let mut line = Line::empty();
    let mut first: Vec<(String, usize)> = Vec::new();
    let mut names_read: Vec<Vec<String>> = Vec::new();
    while let Some(r) = lines.next_into(&mut line) {
        r.expect("line");
        let mut names = Vec::new();
        for (name, _) in &line.fields {
            let at = name.as_ptr() as usize;
            let inside = body.as_ptr_range().contains(&name.as_ptr());
            if inside {
                match first.iter().find(|(n, _)| n == name.as_ref()) {
                    Some(&(_, place)) => assert_eq!(at, place, "{name} found again elsewhere"),
                    None => first.push((name.to_string(), at)),
                }
            }
            names.push(name.to_string());
        }
        names_read.push(names);
    }
    let want: Vec<Vec<&str>> = vec![
        vec!["a", "b", "c", "d"],
        vec!["a", "c", "d"],
        vec!["b", "d", "c"],
        vec!["a", "b", "c", "d"],
        vec!["bb", "b x", "b"],
        vec!["c", "a"],
    ];
    assert_eq!(names_read, want);
    // Every borrowed name was first met on line 1 or 5.
    assert_eq!(first.len(), 5, "{first:?}");
}
