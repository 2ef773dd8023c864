//! The store-and-forward segment reader (`client::sf::segment::scan_segment`)
//! on arbitrary bytes: it never panics and returns a prefix of valid
//! records (ending at the end of the bytes, a fault, or an end mark).
//!
//! Byte 0 picks the mode. Bit 0 clear: the rest is a segment file, raw
//! (bit 1 set: the expected first FSN is the one in its header, else none).
//! Bit 0 set: the rest is `u16 LE cut | u16 LE garble offset | u8 xor |
//! u64 LE first FSN` and then payloads split on `\xFF\xFEQW`; a valid
//! segment of those payloads is built, one byte is xored and the segment
//! is cut, and the records read back must be the first payloads.
#![no_main]

#[path = "split.rs"]
mod split;

use libfuzzer_sys::fuzz_target;
use questdb_arrow::client::sf::segment::{
    END_MARK, SEGMENT_HEADER_BYTES, SegmentScan, encode_header, encode_record, scan_segment,
};

/// Checks the invariants of any scan of `bytes`.
fn check(bytes: &[u8], expected: Option<u64>, scan: &SegmentScan) {
    let Some(first) = scan.first_fsn else {
        assert!(scan.records.is_empty() && scan.good_len == 0);
        assert!(scan.stopped.is_some());
        return;
    };
    if let Some(e) = expected {
        assert_eq!(first, e);
    }
    let good = usize::try_from(scan.good_len).expect("good_len fits");
    assert!(good >= SEGMENT_HEADER_BYTES && good <= bytes.len());
    assert_eq!(scan.stopped.is_none(), good == bytes.len() || scan.end_mark);
    if scan.end_mark {
        assert!(scan.stopped.is_none() && bytes[good..].starts_with(&END_MARK));
    }
    // The good prefix is exactly the header and the records re-encoded.
    let mut again = encode_header(first).to_vec();
    for (i, r) in scan.records.iter().enumerate() {
        assert_eq!(r.fsn, first.wrapping_add(i as u64));
        assert_eq!(r.offset as usize, again.len());
        let payload = &bytes[r.payload_offset() as usize..r.end() as usize];
        encode_record(r.fsn, payload, &mut again);
    }
    assert_eq!(again.as_slice(), &bytes[..good]);
    // Reading the good prefix again finds the same records and no fault.
    let prefix = scan_segment(&bytes[..good], Some(first));
    assert_eq!(prefix.records, scan.records);
    assert_eq!(prefix.stopped, None);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let expected = if mode & 2 != 0 {
            rest.get(8..16)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        } else {
            None
        };
        let scan = scan_segment(rest, expected);
        check(rest, expected, &scan);
        return;
    }
    let Some(head) = rest.get(..13) else {
        return;
    };
    let cut = usize::from(u16::from_le_bytes([head[0], head[1]]));
    let at = usize::from(u16::from_le_bytes([head[2], head[3]]));
    let xor = head[4];
    let mut fsn = [0u8; 8];
    fsn.copy_from_slice(&head[5..13]);
    // Keep clear of the end of the FSN range.
    let first = u64::from_le_bytes(fsn) >> 1;
    let payloads = split::split(&rest[13..]);
    let mut seg = encode_header(first).to_vec();
    for (i, p) in payloads.iter().enumerate() {
        encode_record(first + i as u64, p, &mut seg);
    }
    let pristine = seg.clone();
    if let Some(b) = seg.get_mut(at) {
        *b ^= xor;
    }
    let cut = cut.min(seg.len());
    let seg = &seg[..cut];
    let scan = scan_segment(seg, Some(first));
    check(seg, Some(first), &scan);
    // Every record read back is an original one, before the damage.
    for (i, r) in scan.records.iter().enumerate() {
        let payload = &seg[r.payload_offset() as usize..r.end() as usize];
        assert_eq!(payload, payloads[i], "record {i} read back changed");
        if xor != 0 {
            assert!(r.end() as usize <= at, "a damaged record was accepted");
        }
    }
    // Undamaged and cut at the end: every record comes back.
    if (xor == 0 || at >= cut) && cut == pristine.len() {
        assert_eq!(scan.records.len(), payloads.len());
    }
});
