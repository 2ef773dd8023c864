//! The segment file format of a disk-backed store-and-forward slot: how a
//! record is written and how a segment is read back.
//!
//! A segment, `seg-<first fsn, 20 digits>.sfa`, is a 16-byte header
//! followed by records:
//!
//! ```text
//! header: b"QASF0001" | u64 LE FSN of the segment's first record
//! record: u32 LE payload length | u32 LE CRC-32 of (length ++ fsn ++ payload)
//!         | u64 LE fsn | payload
//! ```
//!
//! FSNs grow by one per record, within a segment and across segments.
//! [`scan_segment`] reads a segment's bytes and stops at the first record
//! that is torn (shorter than its header or its length says), fails its
//! checksum, or breaks the FSN sequence: everything before it is good,
//! nothing after it is trusted. It never panics, whatever the bytes.
//!
//! A segment file may be *recycled*: an acknowledged one is rewritten
//! from the start instead of a new file being created, so its old bytes
//! follow the new records. Where old bytes follow a record, an
//! [`END_MARK`] (a record header no record can have: FSN 0) is written
//! after it before its own header is: the records end there, cleanly,
//! and nothing after the mark is read.

use std::fmt;
use std::io::{self, Seek, SeekFrom, Write};

/// The first 8 bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"QASF0001";
/// Bytes of the segment header (magic + first FSN).
pub const SEGMENT_HEADER_BYTES: usize = 16;
/// Bytes of a record header (length + CRC-32 + FSN).
pub const RECORD_HEADER_BYTES: usize = 16;
/// The largest payload one record can hold (its length is a `u32`).
pub const MAX_RECORD_PAYLOAD: u64 = u32::MAX as u64;
/// Ends the records of a segment whose file goes on with old bytes (a
/// recycled file): length 0, `QEND`, FSN 0, which no record has (FSNs
/// start at 1).
pub const END_MARK: [u8; RECORD_HEADER_BYTES] = *b"\0\0\0\0QEND\0\0\0\0\0\0\0\0";

/// The file name of the segment whose first record has FSN `first_fsn`.
pub fn segment_name(first_fsn: u64) -> String {
    format!("seg-{first_fsn:020}.sfa")
}

/// The first FSN a segment file name announces, or `None` when the name is
/// not a segment's.
pub fn segment_fsn(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".sfa")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a segment whose first record has FSN `first_fsn`.
pub fn encode_header(first_fsn: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&first_fsn.to_le_bytes());
    h
}

/// The CRC-32 a record carries: over its length, FSN and payload.
pub fn record_crc(fsn: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    // Callers keep payloads under `MAX_RECORD_PAYLOAD`; the scan checks
    // the length it read separately, so truncation here cannot collide.
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(&fsn.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// The header of the record holding `payload` as frame `fsn` (the payload
/// follows it). `payload` must be at most [`MAX_RECORD_PAYLOAD`] bytes.
pub fn encode_record_header(fsn: u64, payload: &[u8]) -> [u8; RECORD_HEADER_BYTES] {
    record_header(payload.len() as u32, record_crc(fsn, payload), fsn)
}

/// A record header from its fields.
fn record_header(len: u32, crc: u32, fsn: u64) -> [u8; RECORD_HEADER_BYTES] {
    let mut h = [0u8; RECORD_HEADER_BYTES];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    h[8..].copy_from_slice(&fsn.to_le_bytes());
    h
}

/// Payload bytes [`write_record`] checksums and writes at a time: small
/// enough to stay in a core's cache from the checksum to the write.
const WRITE_CHUNK: usize = 128 * 1024;

/// Writes the record holding `payload` as frame `fsn` at byte `offset` of
/// `w` (the bytes [`encode_record`] makes): the payload first, each chunk
/// checksummed just before it is written, so it is read from memory once,
/// then (with `end_mark`: old bytes follow) an [`END_MARK`] after it,
/// then the header with the checksum. A write cut part-way leaves a
/// record that fails its checksum or runs past the end, or, over old
/// bytes, the end mark written after the record before (at `offset`):
/// [`scan_segment`] stops there. `payload` must be at most
/// [`MAX_RECORD_PAYLOAD`] bytes.
pub fn write_record<W: Write + Seek>(
    w: &mut W,
    offset: u64,
    fsn: u64,
    payload: &[u8],
    end_mark: bool,
) -> io::Result<()> {
    let len = payload.len() as u32;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(&fsn.to_le_bytes());
    w.seek(SeekFrom::Start(offset + RECORD_HEADER_BYTES as u64))?;
    for chunk in payload.chunks(WRITE_CHUNK) {
        crc.update(chunk);
        w.write_all(chunk)?;
    }
    if end_mark {
        w.write_all(&END_MARK)?;
    }
    w.seek(SeekFrom::Start(offset))?;
    w.write_all(&record_header(len, crc.finalize(), fsn))
}

/// Appends a whole record (header + payload) to `out`.
pub fn encode_record(fsn: u64, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&encode_record_header(fsn, payload));
    out.extend_from_slice(payload);
}

/// Where one good record sits in its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPos {
    /// The record's FSN.
    pub fsn: u64,
    /// Byte offset of the record header in the segment.
    pub offset: u64,
    /// Payload length in bytes (the payload starts
    /// [`RECORD_HEADER_BYTES`] after `offset`).
    pub len: u32,
}

impl RecordPos {
    /// Byte offset of the payload in the segment.
    pub fn payload_offset(&self) -> u64 {
        self.offset + RECORD_HEADER_BYTES as u64
    }

    /// Byte offset just after the record.
    pub fn end(&self) -> u64 {
        self.payload_offset() + u64::from(self.len)
    }
}

/// Why [`scan_segment`] stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStop {
    /// Shorter than a segment header, or the magic is wrong.
    BadHeader,
    /// The header's FSN differs from the one expected (the file name's).
    HeaderFsn {
        /// The FSN the caller expected.
        expected: u64,
        /// The FSN in the header.
        found: u64,
    },
    /// Fewer bytes remain than a record header.
    TornHeader {
        /// Offset of the torn record.
        offset: u64,
    },
    /// The record's length runs past the end of the bytes.
    TornPayload {
        /// Offset of the torn record.
        offset: u64,
        /// The length it announces.
        len: u32,
    },
    /// The record's checksum does not match its bytes.
    BadChecksum {
        /// Offset of the corrupt record.
        offset: u64,
    },
    /// The record's FSN is not the one after the previous record's.
    FsnOutOfSequence {
        /// Offset of the record.
        offset: u64,
        /// The FSN expected.
        expected: u64,
        /// The FSN found.
        found: u64,
    },
}

impl fmt::Display for ScanStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanStop::BadHeader => write!(f, "bad or short segment header"),
            ScanStop::HeaderFsn { expected, found } => write!(
                f,
                "segment header names FSN {found}, its file name {expected}"
            ),
            ScanStop::TornHeader { offset } => {
                write!(f, "torn record header at byte {offset}")
            }
            ScanStop::TornPayload { offset, len } => write!(
                f,
                "torn record at byte {offset} (announces {len} payload bytes past the end)"
            ),
            ScanStop::BadChecksum { offset } => {
                write!(f, "checksum mismatch in the record at byte {offset}")
            }
            ScanStop::FsnOutOfSequence {
                offset,
                expected,
                found,
            } => write!(
                f,
                "record at byte {offset} has FSN {found}, expected {expected}"
            ),
        }
    }
}

/// What [`scan_segment`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// The FSN in the header, when the header is good.
    pub first_fsn: Option<u64>,
    /// Every good record, in order; FSNs are `first_fsn`, `first_fsn + 1`, ...
    pub records: Vec<RecordPos>,
    /// Bytes from the start up to the end of the last good record (the
    /// header's length when there is none, 0 when the header is bad).
    pub good_len: u64,
    /// Why the scan stopped before the end, if it did (not at an
    /// [`END_MARK`]).
    pub stopped: Option<ScanStop>,
    /// The records end at an [`END_MARK`] at `good_len`: the bytes from
    /// there on are a recycled file's old ones, not part of the segment.
    pub end_mark: bool,
}

fn le_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn le_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

/// Reads the records of one segment from its bytes. `expected_first` is
/// the FSN the file name announces (`None`: take the header's). Stops at
/// the first bad header, torn or corrupt record, or FSN out of sequence,
/// and, cleanly, at an [`END_MARK`]; never panics.
pub fn scan_segment(bytes: &[u8], expected_first: Option<u64>) -> SegmentScan {
    let mut scan = SegmentScan {
        first_fsn: None,
        records: Vec::new(),
        good_len: 0,
        stopped: None,
        end_mark: false,
    };
    let header = match bytes.get(..SEGMENT_HEADER_BYTES) {
        Some(h) if &h[..8] == SEGMENT_MAGIC => h,
        _ => {
            scan.stopped = Some(ScanStop::BadHeader);
            return scan;
        }
    };
    let Some(first) = le_u64(&header[8..]) else {
        scan.stopped = Some(ScanStop::BadHeader);
        return scan;
    };
    if let Some(expected) = expected_first
        && expected != first
    {
        scan.stopped = Some(ScanStop::HeaderFsn {
            expected,
            found: first,
        });
        return scan;
    }
    scan.first_fsn = Some(first);
    let mut pos = SEGMENT_HEADER_BYTES;
    let mut expected = first;
    while pos < bytes.len() {
        let offset = pos as u64;
        let rest = &bytes[pos..];
        if rest.starts_with(&END_MARK) {
            scan.end_mark = true;
            break;
        }
        let (Some(len), Some(crc), Some(fsn)) = (
            le_u32(rest),
            rest.get(4..).and_then(le_u32),
            rest.get(8..).and_then(le_u64),
        ) else {
            scan.stopped = Some(ScanStop::TornHeader { offset });
            break;
        };
        let Some(payload) = rest
            .get(RECORD_HEADER_BYTES..)
            .and_then(|p| p.get(..len as usize))
        else {
            scan.stopped = Some(ScanStop::TornPayload { offset, len });
            break;
        };
        if record_crc(fsn, payload) != crc {
            scan.stopped = Some(ScanStop::BadChecksum { offset });
            break;
        }
        if fsn != expected {
            scan.stopped = Some(ScanStop::FsnOutOfSequence {
                offset,
                expected,
                found: fsn,
            });
            break;
        }
        scan.records.push(RecordPos { fsn, offset, len });
        pos += RECORD_HEADER_BYTES + len as usize;
        // A segment of `u64::MAX` records cannot exist; wrapping would
        // only make the next record fail its sequence check.
        expected = expected.wrapping_add(1);
    }
    scan.good_len = scan
        .records
        .last()
        .map_or(SEGMENT_HEADER_BYTES as u64, RecordPos::end);
    scan
}
