//! The embedded server's write-ahead log: every change to the catalogue is
//! one checksummed record, appended before the change is acknowledged.
//!
//! A log is a directory of segments, `wal-<first lsn>.log`. A segment is an
//! 16-byte header (`QAWAL001` + the LSN of its first record) followed by
//! records:
//!
//! ```text
//! u32 payload length | u32 CRC-32 of (lsn ++ payload) | u64 lsn | payload
//! ```
//!
//! Records of 1 MiB or more are written with direct I/O where the platform
//! and file system allow it (Linux `O_DIRECT`): the disk takes them from
//! the record buffer without a copy into the page cache, in whole 4 KiB
//! blocks, so such a write may leave zeros after the record up to its
//! block's end; a scan takes zeros after the last record as the end of the
//! segment. Smaller records go through the page cache.
//!
//! LSNs grow by one per record across segments. Reading stops at the first
//! record that is torn (short) or fails its checksum; [`Wal::open`] cuts such
//! a tail off (after copying it aside as `*.corrupt`) so new records never
//! follow garbage.
//!
//! The payload of a record is one [`Op`] (see `wal_op.rs`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::direct::{BLOCK, EINVAL, lead_room, open_direct, write_all_at};
use super::wal_op::bad;
pub use super::wal_op::{Op, ipc_decode, ipc_encode};
use crate::error::{Error, ErrorKind, Result};

const SEGMENT_MAGIC: &[u8; 8] = b"QAWAL001";
const SEGMENT_HEADER_BYTES: u64 = 16;
const RECORD_HEADER_BYTES: usize = 16;
/// A record larger than this is treated as corrupt when read back (and not
/// written).
pub const MAX_RECORD_BYTES: usize = 1 << 30;
/// The append buffer is kept between records up to this capacity.
const KEEP_BUFFER_BYTES: usize = 256 << 20;

fn record_crc(lsn: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&lsn.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn segment_name(first_lsn: u64) -> String {
    format!("wal-{first_lsn:020}.log")
}

fn segment_lsn(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// Fsyncs a directory so renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Outcome of reading one segment.
struct SegmentScan {
    /// Byte offset after the last good record.
    good_len: u64,
    /// Why reading stopped early, if it did.
    stopped: Option<String>,
}

/// Whether `read` (bytes already taken from the reader) and the rest of
/// the reader are all zeros.
fn zeros_to_end(r: &mut impl Read, read: &[u8]) -> Result<bool> {
    if read.iter().any(|&b| b != 0) {
        return Ok(false);
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)?;
    Ok(rest.iter().all(|&b| b == 0))
}

/// Reads the records of one segment, calling `f(lsn, payload)` for each good
/// one, and stops at a torn or corrupt record.
fn scan_segment(path: &Path, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<SegmentScan> {
    let file =
        File::open(path).map_err(|e| Error::from(e).context(format!("open {}", path.display())))?;
    let total = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut head = [0u8; SEGMENT_HEADER_BYTES as usize];
    if total < SEGMENT_HEADER_BYTES
        || r.read_exact(&mut head).is_err()
        || &head[..8] != SEGMENT_MAGIC
    {
        return Ok(SegmentScan {
            good_len: 0,
            stopped: Some("bad segment header".into()),
        });
    }
    let mut pos = SEGMENT_HEADER_BYTES;
    let mut payload = Vec::new();
    loop {
        if pos == total {
            return Ok(SegmentScan {
                good_len: pos,
                stopped: None,
            });
        }
        let mut h = [0u8; RECORD_HEADER_BYTES];
        let stop = |why: String| SegmentScan {
            good_len: pos,
            stopped: Some(why),
        };
        let rest = total - pos;
        if rest < RECORD_HEADER_BYTES as u64 || r.read_exact(&mut h).is_err() {
            // Padding of a direct write (zeros up to its block's end) ends
            // the segment cleanly; other short garbage is a torn header.
            if rest < BLOCK as u64 && zeros_to_end(&mut r, &[])? {
                return Ok(SegmentScan {
                    good_len: pos,
                    stopped: None,
                });
            }
            return Ok(stop(format!("torn record header at byte {pos}")));
        }
        if rest < BLOCK as u64 && h.iter().all(|&b| b == 0) && zeros_to_end(&mut r, &h)? {
            // No record has an all-zero header (a payload is never
            // empty): this is a direct write's padding.
            return Ok(SegmentScan {
                good_len: pos,
                stopped: None,
            });
        }
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let mut l = [0u8; 8];
        l.copy_from_slice(&h[8..16]);
        let lsn = u64::from_le_bytes(l);
        if len > MAX_RECORD_BYTES || (len as u64) > total - pos - RECORD_HEADER_BYTES as u64 {
            return Ok(stop(format!("torn record (length {len}) at byte {pos}")));
        }
        payload.resize(len, 0);
        if r.read_exact(&mut payload).is_err() {
            return Ok(stop(format!("torn record at byte {pos}")));
        }
        if record_crc(lsn, &payload) != crc {
            return Ok(stop(format!("checksum mismatch in record at byte {pos}")));
        }
        f(lsn, &payload)?;
        pos += (RECORD_HEADER_BYTES + len) as u64;
    }
}

/// An open write-ahead log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    file: File,
    /// Bytes in the current segment (where the next record goes).
    len: u64,
    /// LSN of the last record written (0 before the first).
    last_lsn: u64,
    /// Bytes appended since the last checkpoint rotation.
    since_rotation: u64,
    /// Bytes before that rotation not yet covered by a checkpoint (see
    /// [`Wal::backlog`]).
    before_rotation: u64,
    /// Set after a write that could not be undone: every later append fails.
    broken: Option<String>,
    /// Bytes of the current segment reserved on disk (see [`preallocate`]).
    reserved: u64,
    /// Test hooks.
    faults: Option<Arc<StorageFaults>>,
    /// The record buffer, reused between appends.
    buf: Vec<u8>,
    /// The current segment opened for direct I/O (bypassing the page
    /// cache), where the platform and file system allow it; see
    /// [`DIRECT_MIN_BYTES`].
    direct: Option<File>,
    /// The segment's bytes from its last [`BLOCK`] boundary to `len`: a
    /// direct write rewrites that partial block whole.
    tail: Vec<u8>,
}

/// Records at least this big are written with direct I/O where
/// available: the disk reads them straight from the record buffer,
/// which saves the CPU a copy into the page cache (the largest cost of
/// logging a big commit) and makes their fsync cheap. Smaller records go
/// through the page cache, where a write costs far less than a disk
/// round trip.
const DIRECT_MIN_BYTES: usize = 1 << 20;

/// Storage failures injected while a flag is set (test hooks; see
/// [`Faults::storage`](super::Faults::storage)).
#[derive(Debug, Default)]
pub struct StorageFaults {
    /// Appends to the write-ahead log fail as if the disk did.
    pub writes: AtomicBool,
    /// fsyncs of the write-ahead log fail as if the disk did.
    pub syncs: AtomicBool,
    /// Checkpoints fail (writing a part file) as if the disk did.
    pub checkpoints: AtomicBool,
    /// Checkpoints wait before starting, as behind a very slow disk.
    pub hold_checkpoints: AtomicBool,
}

impl StorageFaults {
    /// Whether the flag `which` picks is set in `faults`.
    pub(crate) fn on(
        faults: &Option<Arc<StorageFaults>>,
        which: impl Fn(&StorageFaults) -> &AtomicBool,
    ) -> bool {
        faults
            .as_deref()
            .is_some_and(|f| which(f).load(Ordering::SeqCst))
    }
}

/// fsyncs the log's current segment without holding the log; see
/// [`Wal::sync_handle`].
pub struct SyncHandle {
    file: File,
    faults: Option<Arc<StorageFaults>>,
}

impl SyncHandle {
    /// fsyncs the segment's data.
    pub fn sync(&self) -> io::Result<()> {
        if StorageFaults::on(&self.faults, |f| &f.syncs) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.file.sync_data()
    }
}

/// What [`Wal::open`] found.
pub struct Recovered {
    /// The log, ready to append after the last good record.
    pub wal: Wal,
    /// Warnings about torn or corrupt tails that were cut off.
    pub warnings: Vec<String>,
}

impl Wal {
    /// Opens the log in `dir`, calling `replay(lsn, op)` for every good
    /// record with an LSN above `after`, in order. A torn or corrupt tail is
    /// copied to `<segment>.corrupt` and cut off with a warning; a gap in
    /// the LSNs ends the replay the same way (later segments are set aside).
    pub fn open(
        dir: &Path,
        after: u64,
        faults: Option<Arc<StorageFaults>>,
        replay: &mut dyn FnMut(u64, Op) -> Result<()>,
    ) -> Result<Recovered> {
        std::fs::create_dir_all(dir)?;
        let segments = segments(dir)?;
        let mut warnings = Vec::new();
        let mut last = after;
        let mut seen_any = false;
        let mut stopped = false;
        for (first, path) in &segments {
            if stopped {
                let aside = path.with_extension("log.corrupt");
                std::fs::rename(path, &aside)?;
                warnings.push(format!(
                    "{}: follows a corrupt segment, set aside as {}",
                    path.display(),
                    aside.display()
                ));
                continue;
            }
            if *first != last + 1 && (seen_any || *first > last + 1) {
                warnings.push(format!(
                    "{}: starts at lsn {first}, expected {}",
                    path.display(),
                    last + 1
                ));
            }
            let mut expect_next = *first;
            let mut lsn_gap: Option<(u64, u64)> = None;
            let mut off = SEGMENT_HEADER_BYTES;
            let mut cut = None;
            let mut skipped = Vec::new();
            let scan = scan_segment(path, &mut |lsn, payload| {
                if lsn != expect_next {
                    lsn_gap = Some((lsn, expect_next));
                    cut = Some(off);
                    return Err(bad("lsn out of sequence"));
                }
                if lsn > after {
                    // A record that passed its checksum but cannot be
                    // decoded or applied is skipped with a warning: the
                    // records after it still count.
                    if let Err(e) = Op::decode(payload).and_then(|op| replay(lsn, op)) {
                        skipped.push(format!("record lsn {lsn} skipped: {e}"));
                    }
                }
                expect_next += 1;
                off += (RECORD_HEADER_BYTES + payload.len()) as u64;
                Ok(())
            });
            for s in skipped {
                warnings.push(format!("write-ahead log {}: {s}", path.display()));
            }
            let (keep, why) = match (scan, lsn_gap) {
                (Ok(s), _) => (s.good_len, s.stopped),
                (Err(_), Some((got, want))) => (
                    cut.unwrap_or(SEGMENT_HEADER_BYTES),
                    Some(format!("record lsn {got} where {want} was expected")),
                ),
                (Err(e), None) => return Err(e),
            };
            seen_any = true;
            last = last.max(expect_next.saturating_sub(1));
            if let Some(why) = why {
                stopped = true;
                let copy = path.with_extension("log.corrupt");
                std::fs::copy(path, &copy)?;
                let f = OpenOptions::new().write(true).open(path)?;
                f.set_len(keep.max(SEGMENT_HEADER_BYTES))?;
                if keep < SEGMENT_HEADER_BYTES {
                    write_header(&f, *first)?;
                }
                f.sync_all()?;
                warnings.push(format!(
                    "write-ahead log {}: {why}; the records after lsn {} were cut off (copy kept as {})",
                    path.display(),
                    expect_next.saturating_sub(1),
                    copy.display()
                ));
            }
        }
        // A new segment for this run's records.
        let (file, direct) = new_segment(dir, last + 1)?;
        Ok(Recovered {
            wal: Wal {
                dir: dir.to_path_buf(),
                file,
                direct,
                tail: header_bytes(last + 1).to_vec(),
                len: SEGMENT_HEADER_BYTES,
                reserved: 0,
                last_lsn: last,
                since_rotation: 0,
                before_rotation: 0,
                broken: None,
                faults,
                buf: Vec::new(),
            },
            warnings,
        })
    }

    /// LSN of the last record written.
    pub fn last_lsn(&self) -> u64 {
        self.last_lsn
    }

    /// Bytes appended since the last [`Wal::rotate`].
    pub fn since_rotation(&self) -> u64 {
        self.since_rotation
    }

    /// Bytes logged since the last [`Wal::checkpointed`]: what a restart
    /// would replay.
    pub fn backlog(&self) -> u64 {
        self.before_rotation + self.since_rotation
    }

    /// Records that a checkpoint now covers everything up to the last
    /// [`Wal::rotate`].
    pub fn checkpointed(&mut self) {
        self.before_rotation = 0;
    }

    /// Appends one record (written to the OS, not fsynced); returns its LSN.
    /// On failure the segment is cut back so no partial record stays, and
    /// if even that fails the log refuses every later append.
    pub fn append(&mut self, op: &Op) -> Result<u64> {
        if let Some(why) = &self.broken {
            return Err(Error::new(
                ErrorKind::Io,
                format!("write-ahead log unusable after an earlier failure: {why}"),
            ));
        }
        let lsn = self.last_lsn + 1;
        // One reused buffer: room for aligning a direct write (see
        // `lead`), header placeholder, the payload encoded in place, then
        // the header filled in.
        let mut rec = std::mem::take(&mut self.buf);
        rec.clear();
        rec.reserve(2 * BLOCK);
        let lead = if self.direct.is_some() {
            lead_room(&rec, self.tail.len())
        } else {
            0
        };
        rec.resize(lead, 0);
        rec.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
        op.encode_into(&mut rec)?;
        let payload_len = u32::try_from(rec.len() - lead - RECORD_HEADER_BYTES)
            .ok()
            .filter(|&n| n as usize <= MAX_RECORD_BYTES)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "a commit of {} bytes is above the write-ahead log's {MAX_RECORD_BYTES}-byte record limit",
                        rec.len() - lead
                    ),
                )
            })?;
        let crc = record_crc(lsn, &rec[lead + RECORD_HEADER_BYTES..]);
        rec[lead..lead + 4].copy_from_slice(&payload_len.to_le_bytes());
        rec[lead + 4..lead + 8].copy_from_slice(&crc.to_le_bytes());
        rec[lead + 8..lead + 16].copy_from_slice(&lsn.to_le_bytes());
        let written = (rec.len() - lead) as u64;
        let injected = StorageFaults::on(&self.faults, |f| &f.writes);
        let end = self.len + written;
        if end > self.reserved {
            self.reserved = preallocate(&self.file, self.reserved, end);
        }
        let res = if injected {
            Err(io::Error::other("injected write failure"))
        } else {
            self.write_record(&mut rec, lead)
        };
        let lead = match res {
            Ok(lead) => lead,
            Err(e) => {
                self.reserved = 0;
                if let Err(e2) = self.file.set_len(self.len) {
                    self.broken = Some(format!("{e}; then could not cut the segment back: {e2}"));
                }
                if rec.capacity() <= KEEP_BUFFER_BYTES {
                    self.buf = rec;
                }
                return Err(Error::from(e).context("write-ahead log append"));
            }
        };
        // The new partial last block: the end of (tail ++ record).
        let keep = ((self.len + written) % BLOCK as u64) as usize;
        let record = &rec[lead..lead + written as usize];
        if record.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&record[record.len() - keep..]);
        } else {
            self.tail.drain(..self.tail.len() + record.len() - keep);
            self.tail.extend_from_slice(record);
        }
        // Keep the buffer for the next record unless it grew huge.
        if rec.capacity() <= KEEP_BUFFER_BYTES {
            self.buf = rec;
        }
        self.len += written;
        self.since_rotation += written;
        self.last_lsn = lsn;
        Ok(lsn)
    }

    /// Writes the record `rec[lead..]` at the end of the segment: with
    /// direct I/O when it is big and direct I/O is available (then `rec`
    /// gets the partial last block before the record and zero padding
    /// after it), else through the page cache. Returns where the record
    /// now starts in `rec` (it moves if the buffer had to be realigned).
    fn write_record(&mut self, rec: &mut Vec<u8>, mut lead: usize) -> io::Result<usize> {
        let len = rec.len() - lead;
        let tail = self.tail.len();
        if let Some(direct) = self.direct.as_ref().filter(|_| len >= DIRECT_MIN_BYTES) {
            // Room for the padding first, so that nothing below moves the
            // buffer once it is aligned.
            rec.reserve(BLOCK);
            while !(rec.as_ptr() as usize + lead - tail).is_multiple_of(BLOCK) {
                // The buffer moved while the record was encoded (it grew):
                // shift the record to an aligned place (rare).
                let want = lead_room(rec, tail);
                if want > lead {
                    rec.splice(lead..lead, std::iter::repeat_n(0, want - lead));
                } else {
                    rec.drain(want..lead);
                }
                lead = want;
                rec.reserve(BLOCK);
            }
            let start = lead - tail;
            rec[start..lead].copy_from_slice(&self.tail);
            let padded = (rec.len() - start).div_ceil(BLOCK) * BLOCK;
            rec.resize(start + padded, 0);
            let at = self.len - tail as u64;
            let res = write_all_at(direct, &rec[start..], at);
            rec.truncate(lead + len);
            match res {
                Ok(()) => return Ok(lead),
                // Direct I/O refused (alignment rules of this file
                // system): use the page cache from now on.
                Err(e) if e.raw_os_error() == Some(EINVAL) => self.direct = None,
                Err(e) => return Err(e),
            }
        }
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.write_all(&rec[lead..lead + len])?;
        Ok(lead)
    }

    /// A handle to fsync the current segment without holding the log.
    pub fn sync_handle(&self) -> Result<SyncHandle> {
        if let Some(why) = &self.broken {
            return Err(Error::new(
                ErrorKind::Io,
                format!("write-ahead log unusable: {why}"),
            ));
        }
        Ok(SyncHandle {
            file: self.file.try_clone()?,
            faults: self.faults.clone(),
        })
    }

    /// Marks the log unusable (after an fsync failure, whose outcome is
    /// unknowable).
    pub fn poison(&mut self, why: String) {
        self.broken = Some(why);
    }

    /// Starts a new segment; returns the LSN of the last record in the old
    /// segments and a handle to fsync the old one, which the caller does
    /// without holding the log (and poisons the log if that fails).
    pub fn rotate(&mut self) -> Result<(u64, SyncHandle)> {
        let old = self.sync_handle()?;
        (self.file, self.direct) = new_segment(&self.dir, self.last_lsn + 1)?;
        self.tail = header_bytes(self.last_lsn + 1).to_vec();
        self.len = SEGMENT_HEADER_BYTES;
        self.reserved = 0;
        self.before_rotation += self.since_rotation;
        self.since_rotation = 0;
        Ok((self.last_lsn, old))
    }

    /// Deletes segments whose records all have LSNs ≤ `upto` (never the
    /// current one).
    pub fn remove_upto(dir: &Path, upto: u64) -> Result<()> {
        for w in segments(dir)?.windows(2) {
            // Segment w[0] holds LSNs [w[0].0, w[1].0 - 1].
            if w[1].0.saturating_sub(1) <= upto {
                std::fs::remove_file(&w[0].1)?;
            }
        }
        Ok(())
    }
}

/// Space reserved on disk ahead of the writes, in steps of this size.
const PREALLOCATE_BYTES: u64 = 64 << 20;

/// Reserves disk blocks for the segment up to at least `end` (from
/// `reserved`, in [`PREALLOCATE_BYTES`] steps) without changing its length,
/// so appends write into allocated blocks (about 1.5x faster than extending
/// the file on ext4) and a scan still ends at the last record. Returns the
/// new reservation. Only an optimisation: where it fails or is unsupported
/// the append goes on without it, and reports any real write failure itself.
#[cfg(target_os = "linux")]
fn preallocate(file: &File, reserved: u64, end: u64) -> u64 {
    let to = end.max(reserved.saturating_add(PREALLOCATE_BYTES));
    match rustix::fs::fallocate(
        file,
        rustix::fs::FallocateFlags::KEEP_SIZE,
        reserved,
        to - reserved,
    ) {
        Ok(()) => to,
        // Not reserved: the next append tries again, which costs one system
        // call per append at most.
        Err(_) => reserved,
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(_file: &File, reserved: u64, _end: u64) -> u64 {
    reserved
}

/// Creates (or empties) the segment starting at `first`, header written and
/// fsynced, the directory fsynced; with a second handle for direct I/O
/// where the platform and file system support it.
fn new_segment(dir: &Path, first: u64) -> Result<(File, Option<File>)> {
    let path = dir.join(segment_name(first));
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    write_header(&file, first)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok((file, open_direct(&path)))
}

/// The segments in `dir`, by first LSN.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segs: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| segment_lsn(&p).map(|l| (l, p)))
        .collect();
    segs.sort();
    Ok(segs)
}

fn header_bytes(first_lsn: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&first_lsn.to_le_bytes());
    h
}

fn write_header(mut f: &File, first_lsn: u64) -> io::Result<()> {
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&header_bytes(first_lsn))
}

#[cfg(test)]
mod tests {
    use super::super::wal_op::tests::batch;
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qa-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn collect(dir: &Path, after: u64) -> (Vec<(u64, Op)>, Vec<String>, Wal) {
        let mut got = Vec::new();
        let r = Wal::open(dir, after, None, &mut |l, op| {
            got.push((l, op));
            Ok(())
        })
        .unwrap();
        (got, r.warnings, r.wal)
    }

    #[test]
    fn replays_after_checkpoint_and_rotation() {
        let dir = tmp("replay");
        let (got, w, mut wal) = collect(&dir, 0);
        assert!(got.is_empty() && w.is_empty());
        for i in 0..3 {
            wal.append(&Op::Commit(vec![("t".into(), batch(&[i]), None)]))
                .unwrap();
        }
        assert_eq!(wal.rotate().unwrap().0, 3);
        wal.append(&Op::Drop("t".into())).unwrap();
        drop(wal);
        let (got, w, wal) = collect(&dir, 2);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(wal.last_lsn(), 4);
        Wal::remove_upto(&dir, 3).unwrap();
        drop(wal);
        let (got, w, _) = collect(&dir, 3);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![4]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn torn_and_corrupt_tails_are_cut_with_a_warning() {
        for flip in [false, true] {
            let dir = tmp(if flip { "flip" } else { "torn" });
            let (_, _, mut wal) = collect(&dir, 0);
            for i in 0..4 {
                wal.append(&Op::Commit(vec![("t".into(), batch(&[i]), None)]))
                    .unwrap();
            }
            drop(wal);
            let seg = dir.join(segment_name(1));
            let mut bytes = std::fs::read(&seg).unwrap();
            let n = bytes.len();
            if flip {
                bytes[n - 30] ^= 0x40;
            } else {
                bytes.truncate(n - 7);
            }
            std::fs::write(&seg, &bytes).unwrap();
            let (got, w, mut wal) = collect(&dir, 0);
            assert_eq!(got.len(), 3, "the last record is lost, the rest replayed");
            assert_eq!(w.len(), 1, "{w:?}");
            // Appends continue after the good records and survive a reopen.
            assert_eq!(wal.append(&Op::Drop("t".into())).unwrap(), 4);
            drop(wal);
            let (got, w, _) = collect(&dir, 0);
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(got.len(), 4);
            assert!(matches!(got[3].1, Op::Drop(_)));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn big_records_go_direct_and_replay_between_small_ones() {
        let dir = tmp("direct");
        let (_, _, mut wal) = collect(&dir, 0);
        let big = |k: i64| batch(&(0..150_000).map(|i| i * k).collect::<Vec<_>>());
        let ops = [
            Op::Drop("a".into()),
            Op::Commit(vec![("t".into(), big(1), None)]),
            Op::Drop("b".into()),
            Op::Commit(vec![("t".into(), big(2), None)]),
            Op::Commit(vec![("t".into(), big(3), None)]),
            Op::Commit(vec![("t".into(), batch(&[7]), None)]),
        ];
        let seg = dir.join(segment_name(1));
        for (i, op) in ops.iter().enumerate() {
            wal.append(op).unwrap();
            let on_disk = std::fs::metadata(&seg).unwrap().len();
            if cfg!(target_os = "linux") && i == 1 {
                assert!(wal.direct.is_some(), "direct I/O available here");
                assert!(
                    on_disk.is_multiple_of(BLOCK as u64),
                    "a direct write ends on a block"
                );
            }
            assert!(on_disk >= wal.len, "the segment holds every record");
        }
        let end = wal.len;
        drop(wal);
        let (got, w, _) = collect(&dir, 0);
        assert!(w.is_empty(), "padding is not a torn record: {w:?}");
        assert_eq!(got.len(), ops.len());
        for ((lsn, got), (i, want)) in got.iter().zip(ops.iter().enumerate()) {
            assert_eq!(*lsn, i as u64 + 1);
            match (got, want) {
                (Op::Drop(a), Op::Drop(b)) => assert_eq!(a, b),
                (Op::Commit(a), Op::Commit(b)) => assert_eq!(a[0].1, b[0].1, "record {lsn}"),
                other => panic!("{other:?}"),
            }
        }
        // A direct write torn inside the record: that record and the ones
        // after it are cut off with a warning.
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes.truncate(end as usize - 500_000);
        std::fs::write(&seg, &bytes).unwrap();
        let (got, w, _) = collect(&dir, 0);
        assert!(w[0].contains("torn record"), "{w:?}");
        assert_eq!(got.len(), 4, "the records before the torn one are kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failed_append_leaves_no_partial_record() {
        let dir = tmp("fail");
        let faults = Arc::new(StorageFaults::default());
        let mut r = Wal::open(&dir, 0, Some(faults.clone()), &mut |_, _| Ok(())).unwrap();
        r.wal.append(&Op::Drop("a".into())).unwrap();
        faults.writes.store(true, Ordering::SeqCst);
        assert!(r.wal.append(&Op::Drop("b".into())).is_err());
        faults.writes.store(false, Ordering::SeqCst);
        assert_eq!(r.wal.append(&Op::Drop("c".into())).unwrap(), 2);
        drop(r);
        let (got, w, _) = collect(&dir, 0);
        assert!(w.is_empty());
        let names: Vec<String> = got
            .into_iter()
            .map(|(_, op)| match op {
                Op::Drop(n) => n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["a", "c"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
