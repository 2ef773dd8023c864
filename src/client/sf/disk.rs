//! The disk store of a store-and-forward queue: a locked slot directory of
//! segment files (format in [`super::segment`]), its recovery on open, and
//! the deletion or recycling ([`recycle`]) of acknowledged segments.

mod recycle;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Recovered;
use super::memory::{MemStore, SharedFrame, Spare};
use super::segment::{
    RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, encode_header, record_crc, scan_segment,
    segment_name, write_record,
};
use super::slot::{ACK_FILE, AckFile, SlotLock, list_segments, read_ack, sync_dir};
use crate::audited::file_map::FileMap;
use crate::conf::SfDurability;
use crate::error::{Error, ErrorKind, Result};

/// One segment file and where its records are.
#[derive(Debug)]
struct Seg {
    first: u64,
    path: PathBuf,
    /// `(offset, payload length)` of record `first + i`.
    records: Vec<(u64, u32)>,
    /// Where the next record goes: the end of the last one.
    size: u64,
    /// Bytes of the file: `size`, or more when it was recycled and old
    /// bytes follow its records.
    file_len: u64,
    /// The file's `file_len` bytes mapped for writing (a recycled file:
    /// [`recycle`]): records that fit are copied into it instead of
    /// written. Dropped before any write that may grow or cut the file.
    map: Option<FileMap>,
}

impl Seg {
    /// FSN after the segment's last record.
    fn end(&self) -> u64 {
        self.first + self.records.len() as u64
    }
}

/// The segment files of a locked slot.
#[derive(Debug)]
pub(super) struct DiskStore {
    lock: SlotLock,
    segs: VecDeque<Seg>,
    /// Open for appending: the last of `segs`, created by this store.
    /// Segments found on open are only read.
    writer: Option<File>,
    /// The last segment read: `(first fsn, file)`.
    reader: Option<(u64, File)>,
    /// Sum of `segs[..].file_len` and the spares' lengths.
    bytes: u64,
    /// The spare segment files, `spare-0` first ([`recycle`]).
    spares: Vec<recycle::SpareFile>,
    max_segment_bytes: u64,
    periodic: Option<Duration>,
    last_sync: Instant,
    /// Segments were created or written since the last `fsync`.
    dirty: bool,
    /// The acknowledgement file, rewritten on every [`DiskStore::release`].
    ack_file: AckFile,
    /// Set when a failed append could not be undone: appending again could
    /// put records after garbage.
    broken: Option<String>,
    /// A record is being written to the active segment (between
    /// [`DiskStore::begin_append`] and [`DiskStore::finish_append`]).
    writing: bool,
    /// The frames written and not read yet (at most [`CACHE_BYTES`]), so
    /// that sending them reads nothing back from the files.
    cache: MemStore,
}

/// A record being written while the queue is unlocked: a handle of its
/// own on the active segment (only the producer writes through it; the
/// store reads through others) and where the record goes.
#[derive(Debug)]
pub(super) struct PendingRecord {
    fsn: u64,
    offset: u64,
    file: File,
    /// The `fsync` of the segment it rotated away from, run first.
    sync: Option<SyncJob>,
    /// Old bytes of a recycled file follow the record.
    end_mark: bool,
    /// The segment's map, taken while the record is written through it
    /// (it lies inside the map); `None`: written with `pwrite`s.
    map: Option<FileMap>,
    /// That `fsync`'s error (nothing is written then).
    sync_failed: Option<Error>,
    /// The write's error, with the error of cutting the partial record
    /// off again if that failed too.
    failed: Option<(io::Error, Option<io::Error>)>,
}

impl PendingRecord {
    /// Runs the rotation's `fsync`, then writes the record of `payload` in
    /// its place; a failed write is cut off again, so later records never
    /// follow a partial one.
    pub(super) fn write(&mut self, payload: &[u8]) {
        if let Some(job) = self.sync.take()
            && let Err(e) = job.run()
        {
            self.sync_failed = Some(e);
            return;
        }
        if let Some(map) = &mut self.map {
            // Inside the map (checked when it was taken): cannot fail.
            if let Err(e) = write_record(
                &mut map.writer(),
                self.offset,
                self.fsn,
                payload,
                self.end_mark,
            ) {
                // Nothing was copied (the range is checked first); the
                // file is not cut, as it is mapped.
                self.failed = Some((e, None));
            }
            return;
        }
        if let Err(e) = write_record(
            &mut self.file,
            self.offset,
            self.fsn,
            payload,
            self.end_mark,
        ) {
            self.failed = Some((e, self.file.set_len(self.offset).err()));
        }
    }
}

/// An `fsync` taken out of the store ([`DiskStore::take_sync`]), run
/// without the queue's lock so that sending and acknowledging go on
/// meanwhile.
#[derive(Debug)]
#[must_use]
pub(super) struct SyncJob {
    /// The segment written to (a handle of its own) and its path.
    segment: Option<(File, PathBuf)>,
    dir: PathBuf,
}

impl SyncJob {
    /// `fsync`s the segment, then the slot directory.
    pub(super) fn run(self) -> Result<()> {
        if let Some((f, path)) = &self.segment {
            f.sync_data()
                .map_err(|e| io_err(format!("fsync segment {}", path.display()), e))?;
        }
        sync_dir(&self.dir)
    }
}

/// The most payload bytes [`DiskStore`] keeps in memory for the sender;
/// older unread frames are read back from their segment.
const CACHE_BYTES: u64 = 64 << 20;

fn io_err(what: String, e: io::Error) -> Error {
    Error::wrap(ErrorKind::Io, what, e)
}

/// Renames `path` to `<path>.corrupt`.
fn move_aside(path: &Path) -> Result<PathBuf> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    fs::rename(path, &aside)
        .map_err(|e| io_err(format!("move corrupt segment {} aside", path.display()), e))?;
    Ok(aside)
}

/// Copies `bytes[good_len..]` to `<path>.corrupt` and cuts the file at
/// `good_len`.
fn cut_tail(path: &Path, bytes: &[u8], good_len: u64) -> Result<PathBuf> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    let tail = usize::try_from(good_len)
        .ok()
        .and_then(|g| bytes.get(g..))
        .unwrap_or_default();
    fs::write(&aside, tail).map_err(|e| {
        io_err(
            format!("keep the corrupt tail of {} aside", path.display()),
            e,
        )
    })?;
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| {
            f.set_len(good_len)?;
            f.sync_all()
        })
        .map_err(|e| io_err(format!("truncate segment {}", path.display()), e))?;
    Ok(aside)
}

impl DiskStore {
    /// Opens the locked slot and recovers it: returns the store, the next
    /// FSN, the acknowledged FSN and what recovery found.
    pub(super) fn open(
        lock: SlotLock,
        max_segment_bytes: u64,
        durability: SfDurability,
        sync_interval: Duration,
    ) -> Result<(DiskStore, u64, u64, Recovered)> {
        let dir = lock.dir().to_path_buf();
        let mut rec = Recovered::default();
        let ack_file = match read_ack(&dir) {
            Ok(a) => a,
            Err(why) => {
                rec.warnings.push(why);
                None
            }
        };
        let mut acked = ack_file.unwrap_or(0);
        let mut segs = VecDeque::new();
        let mut expected: Option<u64> = None;
        let mut cut: Option<String> = None;
        let mut aside = Vec::new();
        let mut store = DiskStore {
            bytes: 0,
            spares: Vec::new(),
            lock,
            segs: VecDeque::new(),
            writer: None,
            reader: None,
            max_segment_bytes: max_segment_bytes.max(1),
            periodic: (durability == SfDurability::Periodic).then_some(sync_interval),
            last_sync: Instant::now(),
            dirty: false,
            ack_file: AckFile::default(),
            broken: None,
            writing: false,
            cache: MemStore::new(1),
        };
        store.remove_stale_spares()?;
        for (name_fsn, path) in list_segments(&dir)? {
            if cut.is_some() {
                aside.push(move_aside(&path)?);
                continue;
            }
            if name_fsn == 0 || name_fsn > u64::MAX / 2 {
                cut = Some(format!(
                    "segment {} names FSN {name_fsn}, out of range",
                    path.display()
                ));
                aside.push(move_aside(&path)?);
                continue;
            }
            if let Some(e) = expected
                && e != name_fsn
            {
                cut = Some(format!(
                    "segment {} starts at FSN {name_fsn}, expected {e}",
                    path.display()
                ));
                aside.push(move_aside(&path)?);
                continue;
            }
            let bytes = fs::read(&path)
                .map_err(|e| io_err(format!("read segment {}", path.display()), e))?;
            let scan = scan_segment(&bytes, Some(name_fsn));
            if let Some(stop) = &scan.stopped {
                cut = Some(format!("{}: {stop}", path.display()));
                if scan.records.is_empty() {
                    aside.push(move_aside(&path)?);
                } else {
                    aside.push(cut_tail(&path, &bytes, scan.good_len)?);
                }
            } else if scan.records.is_empty() {
                // Created, but its first record was never written.
                fs::remove_file(&path)
                    .map_err(|e| io_err(format!("remove empty segment {}", path.display()), e))?;
            }
            expected = Some(name_fsn);
            if !scan.records.is_empty() {
                let seg = Seg {
                    first: name_fsn,
                    path,
                    records: scan.records.iter().map(|r| (r.offset, r.len)).collect(),
                    size: scan.good_len,
                    // Old bytes after an end mark stay (recycled file).
                    file_len: if scan.end_mark {
                        bytes.len() as u64
                    } else {
                        scan.good_len
                    },
                    map: None,
                };
                expected = Some(seg.end());
                segs.push_back(seg);
            }
        }
        if let Some(why) = cut {
            let from =
                expected.map_or_else(|| "the first frame".to_owned(), |f| format!("FSN {f}"));
            let kept: Vec<String> = aside.iter().map(|p| p.display().to_string()).collect();
            rec.truncated = Some(format!(
                "store-and-forward slot {}: {why}; the queue was truncated there, frames from {from} on were not recovered (the bad bytes are kept in {})",
                dir.display(),
                kept.join(", ")
            ));
        }
        if let Some(first) = segs.front().map(|s| s.first) {
            // Segments are deleted after the acknowledgement file is
            // written: a first segment past the recorded FSN + 1 means
            // frames went missing (or the file is stale after a power
            // loss). Either way they cannot be replayed.
            if let Some(a) = ack_file
                && first > a + 1
            {
                rec.warnings.push(format!(
                    "store-and-forward slot {}: frames {} to {} are neither acknowledged ({}) nor in a segment; they cannot be replayed",
                    dir.display(),
                    a + 1,
                    first - 1,
                    ACK_FILE
                ));
            }
            acked = acked.max(first.saturating_sub(1));
        }
        let last = segs.back().map_or(acked, |s| s.end() - 1);
        let next = last.max(acked) + 1;
        store.bytes = segs.iter().map(|s| s.file_len).sum();
        store.segs = segs;
        store.cache = MemStore::new(next);
        rec.frames = next - 1 - acked;
        rec.bytes = store.payload_bytes(acked + 1, next - 1);
        if let Some(t) = &rec.truncated {
            rec.warnings.push(t.clone());
        }
        store.release(acked, &mut Spare::default())?.delete()?;
        Ok((store, next, acked, rec))
    }

    /// Whether each segment, oldest first, is written through a map.
    #[cfg(test)]
    pub(super) fn mapped(&self) -> Vec<bool> {
        self.segs.iter().map(|s| s.map.is_some()).collect()
    }

    /// The slot directory.
    pub(super) fn dir(&self) -> &Path {
        self.lock.dir()
    }

    /// Bytes counted against `sf_max_total_bytes`: the segment files and
    /// the spares.
    pub(super) fn used_bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether a `len`-byte frame goes into a new segment.
    fn needs_segment(&self, len: u64) -> bool {
        match (self.segs.back(), &self.writer) {
            (Some(s), Some(_)) => {
                !s.records.is_empty()
                    && s.size + RECORD_HEADER_BYTES as u64 + len > self.max_segment_bytes
            }
            _ => true,
        }
    }

    /// Bytes appending a `len`-byte frame adds to [`DiskStore::used_bytes`].
    pub(super) fn cost(&self, len: u64) -> u64 {
        let (size, file_len, counted) = match self.segs.back() {
            Some(s) if !self.needs_segment(len) => (s.size, s.file_len, s.file_len),
            _ => {
                let (file_len, counted) = self.new_segment_len();
                (SEGMENT_HEADER_BYTES as u64, file_len, counted)
            }
        };
        recycle::grown(size, file_len, len).0 - counted
    }

    /// The most a `len`-byte frame can ever cost.
    pub(super) fn max_cost(len: u64) -> u64 {
        (SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES) as u64 + len
    }

    /// Starts appending frame `fsn` (the next one, `len` bytes): starts a
    /// new segment when needed and returns where its record goes, to be
    /// written without the queue's lock ([`PendingRecord::write`]) and
    /// then recorded with [`DiskStore::finish_append`]. Until then the
    /// active segment is never deleted.
    pub(super) fn begin_append(&mut self, fsn: u64, len: u64) -> Result<PendingRecord> {
        if let Some(why) = &self.broken {
            return Err(Error::new(ErrorKind::Io, why.clone()));
        }
        let sync = if self.needs_segment(len) {
            self.start_segment(fsn)?
        } else {
            None
        };
        let (Some(seg), Some(w)) = (self.segs.back_mut(), self.writer.as_ref()) else {
            return Err(Error::new(
                ErrorKind::Internal,
                "store-and-forward: no active segment after starting one",
            ));
        };
        let file = w.try_clone().map_err(|e| {
            io_err(
                format!("open segment {} for appending", seg.path.display()),
                e,
            )
        })?;
        let (file_len, end_mark) = recycle::grown(seg.size, seg.file_len, len);
        // Through the map when the record (and its end mark) lies inside
        // it; else the file grows, and a failed write may cut it: the map
        // goes first.
        let map = seg.map.take().filter(|m| file_len <= m.len());
        self.writing = true;
        Ok(PendingRecord {
            fsn,
            offset: seg.size,
            file,
            sync,
            end_mark,
            map,
            sync_failed: None,
            failed: None,
        })
    }

    /// Records the frame written by `rec` (the buffer `frame`) and keeps
    /// it in the cache of unread frames; a failed write is the error here.
    pub(super) fn finish_append(
        &mut self,
        rec: PendingRecord,
        frame: SharedFrame,
        spare: &mut Spare,
    ) -> Result<()> {
        self.writing = false;
        let Some(seg) = self.segs.back_mut() else {
            return Err(Error::new(
                ErrorKind::Internal,
                "store-and-forward: the active segment went away during an append",
            ));
        };
        if let Some(e) = rec.sync_failed {
            seg.map = rec.map;
            let e = e.context(format!(
                "frame {} was not appended (the segment before {} could not be synced)",
                rec.fsn,
                seg.path.display()
            ));
            // Nothing was written; the next sync runs again.
            self.dirty = true;
            return Err(e);
        }
        if let Some((e, undo)) = rec.failed {
            let err = io_err(
                format!("append frame {} to segment {}", rec.fsn, seg.path.display()),
                e,
            );
            if let Some(undo) = undo {
                self.broken = Some(format!(
                    "store-and-forward segment {} has a partial record that could not be removed ({undo}); reopen the queue to recover it",
                    seg.path.display()
                ));
                self.writer = None;
            } else {
                // Cut at the record: old bytes after it went too.
                self.bytes -= seg.file_len - seg.size;
                seg.file_len = seg.size;
            }
            return Err(err);
        }
        let len = frame.len() as u64;
        let (file_len, _) = recycle::grown(seg.size, seg.file_len, len);
        seg.records.push((rec.offset, len as u32));
        seg.size += RECORD_HEADER_BYTES as u64 + len;
        self.bytes += file_len - seg.file_len;
        seg.file_len = file_len;
        seg.map = rec.map;
        self.dirty = true;
        self.cache.append(rec.fsn, frame, spare);
        self.cache.shrink_to(CACHE_BYTES, spare);
        Ok(())
    }

    /// Frame `fsn` (`None`: no segment holds it): from the cache when it
    /// is there, else read back into a buffer of `spare` (checking its
    /// record again). With `consume` the cached frames up to `fsn` leave
    /// the cache (the sender reads in order and replays from the files).
    pub(super) fn frame(
        &mut self,
        fsn: u64,
        consume: bool,
        spare: &mut Spare,
    ) -> Result<Option<SharedFrame>> {
        if let Some(f) = self.cache.get(fsn).cloned() {
            if consume {
                self.cache.release(fsn, spare);
            }
            return Ok(Some(f));
        }
        let len = self.locate(fsn).map_or(0, |(_, _, len)| len as usize);
        let mut buf = spare.take(len).unwrap_or_default();
        Ok(self.read(fsn, &mut buf)?.then(|| Arc::new(buf)))
    }

    /// With [`SfDurability::Periodic`], the `fsync` due once the sync
    /// interval has passed since the last time ([`DiskStore::take_sync`]).
    pub(super) fn sync_due(&mut self) -> Result<Option<SyncJob>> {
        match self.periodic {
            Some(every) if self.last_sync.elapsed() >= every => self.take_sync(),
            _ => Ok(None),
        }
    }

    /// Closes the active segment and starts `seg-<fsn>.sfa`, from a
    /// spare if there is one; returns, with `periodic`, the closed
    /// segment's `fsync` (to run before the first record goes into the
    /// new one).
    fn start_segment(&mut self, fsn: u64) -> Result<Option<SyncJob>> {
        let sync = if self.periodic.is_some() {
            self.take_sync()?
        } else {
            None
        };
        self.writer = None;
        if let Some((seg, f)) = self.reuse_spare(fsn)? {
            self.segs.push_back(seg);
            self.writer = Some(f);
            self.dirty = true;
            return Ok(sync);
        }
        let path = self.dir().join(segment_name(fsn));
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err(format!("create segment {}", path.display()), e))?;
        if let Err(e) = f.write_all(&encode_header(fsn)) {
            let err = io_err(format!("write segment header {}", path.display()), e);
            return Err(match fs::remove_file(&path) {
                Ok(()) => err,
                Err(rm) => err.context(format!("and the new segment could not be removed ({rm})")),
            });
        }
        self.segs.push_back(Seg {
            first: fsn,
            path,
            records: Vec::new(),
            size: SEGMENT_HEADER_BYTES as u64,
            file_len: SEGMENT_HEADER_BYTES as u64,
            map: None,
        });
        self.bytes += SEGMENT_HEADER_BYTES as u64;
        self.writer = Some(f);
        self.dirty = true;
        Ok(sync)
    }

    /// The `fsync` of the active segment and the slot directory if
    /// anything was written since the last time, to run without the lock;
    /// the store counts it done (after a failed run, call
    /// [`DiskStore::mark_dirty`]).
    pub(super) fn take_sync(&mut self) -> Result<Option<SyncJob>> {
        self.last_sync = Instant::now();
        if !self.dirty {
            return Ok(None);
        }
        let segment = match (&self.writer, self.segs.back()) {
            (Some(w), Some(seg)) => {
                let f = w.try_clone().map_err(|e| {
                    io_err(format!("open segment {} to fsync", seg.path.display()), e)
                })?;
                Some((f, seg.path.clone()))
            }
            _ => None,
        };
        self.dirty = false;
        Ok(Some(SyncJob {
            segment,
            dir: self.dir().to_path_buf(),
        }))
    }

    /// Something written was not `fsync`ed after all (a [`SyncJob`]
    /// failed): the next sync covers it.
    pub(super) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Where frame `fsn` is: (1 + index of its segment, offset of its
    /// record, payload length); `None` when no segment holds it.
    fn locate(&self, fsn: u64) -> Option<(usize, u64, u32)> {
        let i = self.segs.partition_point(|s| s.first <= fsn);
        let seg = self.segs.get(i.checked_sub(1)?)?;
        let &(offset, len) = seg.records.get(usize::try_from(fsn - seg.first).ok()?)?;
        Some((i, offset, len))
    }

    /// Copies frame `fsn` into `buf` (checking its record again); `false`
    /// when no segment holds it.
    fn read(&mut self, fsn: u64, buf: &mut Vec<u8>) -> Result<bool> {
        let Some((i, offset, len)) = self.locate(fsn) else {
            return Ok(false);
        };
        let seg = &self.segs[i - 1];
        // Never through the writer's handle: the producer appends through
        // a copy of it (sharing its file position) without the lock.
        if self.reader.as_ref().is_none_or(|(f, _)| *f != seg.first) {
            let f = File::open(&seg.path)
                .map_err(|e| io_err(format!("open segment {}", seg.path.display()), e))?;
            self.reader = Some((seg.first, f));
        }
        let file = self.reader.as_ref().map(|(_, f)| f);
        let Some(file) = file else {
            return Ok(false);
        };
        let mut head = [0u8; RECORD_HEADER_BYTES];
        // Every byte is read over: no need to clear a reused buffer.
        buf.resize(len as usize, 0);
        let mut file = file;
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut head))
            .and_then(|()| file.read_exact(buf))
            .map_err(|e| {
                io_err(
                    format!("read frame {fsn} from segment {}", seg.path.display()),
                    e,
                )
            })?;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if head[8..] != fsn.to_le_bytes() || record_crc(fsn, buf) != crc {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "store-and-forward segment {}: the record of frame {fsn} at byte {offset} changed on disk (checksum mismatch)",
                    seg.path.display()
                ),
            ));
        }
        Ok(true)
    }

    /// Payload bytes of the frames `from..=to` held.
    pub(super) fn payload_bytes(&self, from: u64, to: u64) -> u64 {
        let mut sum = 0;
        for s in &self.segs {
            let lo = from.max(s.first);
            let hi = to.min(s.end().saturating_sub(1));
            if s.records.is_empty() || lo > hi {
                continue;
            }
            let (a, b) = ((lo - s.first) as usize, (hi - s.first) as usize);
            sum += s.records[a..=b]
                .iter()
                .map(|&(_, l)| u64::from(l))
                .sum::<u64>();
        }
        sum
    }

    /// Retires every segment whose frames are all acknowledged (up to and
    /// including `acked`: some may become spares, the others are to
    /// delete) and records `acked` in the acknowledgement file.
    pub(super) fn release(&mut self, acked: u64, spare: &mut Spare) -> Result<Doomed> {
        self.cache.release(acked, spare);
        // The file first, the deletions after: a segment missing on open
        // below the recorded FSN was acknowledged, one above it was lost.
        // Not fsynced here: a lost or stale acknowledgement file only
        // replays acknowledged frames again.
        self.ack_file.write(self.lock.dir(), acked)?;
        self.dirty = true;
        let mut doomed = Doomed {
            paths: Vec::new(),
            failed: None,
        };
        while let Some(s) = self.segs.front()
            && s.end() <= acked + 1
        {
            if self.segs.len() == 1 {
                if self.writing {
                    // A record is being written to it.
                    break;
                }
                self.writer = None;
            }
            if self.reader.as_ref().is_some_and(|(f, _)| *f == s.first) {
                self.reader = None;
            }
            if let Some(s) = self.segs.pop_front() {
                self.retire(s, &mut doomed);
            }
        }
        Ok(doomed)
    }
}

/// Acknowledged segment files, out of the store already, to delete once
/// the queue's lock is released (freeing their pages takes a while).
#[derive(Debug)]
#[must_use]
pub(super) struct Doomed {
    paths: Vec<PathBuf>,
    /// A segment could not be kept as a spare (it is in `paths`).
    failed: Option<Error>,
}

impl Doomed {
    /// Deletes the files; the first failure is the error (the files still
    /// there are below the acknowledged FSN: the next open deletes them).
    pub(super) fn delete(self) -> Result<()> {
        let mut first = self.failed.map_or(Ok(()), Err);
        for p in self.paths {
            if let Err(e) = fs::remove_file(&p)
                && first.is_ok()
            {
                first = Err(io_err(
                    format!("delete acknowledged segment {}", p.display()),
                    e,
                ));
            }
        }
        first
    }
}
