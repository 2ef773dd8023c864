//! Direct I/O (Linux `O_DIRECT`) for the data directory: the helpers the
//! write-ahead log uses for big records, and [`PacedFile`], the writer of
//! checkpoint part files.
//!
//! A direct write goes from the process's buffer to the disk without a copy
//! into the page cache; the memory address, file offset and length must be
//! multiples of [`BLOCK`]. Where the platform or file system refuses
//! (`EINVAL`), the writers fall back to ordinary writes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Alignment (of memory, file offset and length) of direct writes.
pub(super) const BLOCK: usize = 4096;

/// Bytes to leave in front of a record in a buffer so that the partial
/// block of `tail` bytes before it starts at a [`BLOCK`]-aligned address.
pub(super) fn lead_room(buf: &[u8], tail: usize) -> usize {
    let aligned = buf.as_ptr().align_offset(BLOCK);
    (if aligned == usize::MAX { 0 } else { aligned }) + tail
}

#[cfg(target_os = "linux")]
pub(super) const EINVAL: i32 = rustix::io::Errno::INVAL.raw_os_error();
#[cfg(not(target_os = "linux"))]
pub(super) const EINVAL: i32 = 22;

/// `path` opened for writing with `O_DIRECT` (Linux), or `None`.
#[cfg(target_os = "linux")]
pub(super) fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
pub(super) fn open_direct(_path: &Path) -> Option<File> {
    None
}

#[cfg(unix)]
pub(super) fn write_all_at(f: &File, buf: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}

#[cfg(not(unix))]
pub(super) fn write_all_at(mut f: &File, buf: &[u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(at))?;
    f.write_all(buf)
}

/// Bytes a [`PacedFile`] gathers before it writes them.
pub(super) const CHUNK: usize = 4 << 20;

/// While the foreground is busy, a [`PacedFile`] keeps the disk for at most
/// one part in this many: after a chunk that took `t` to write it waits
/// `(PACED_SHARE - 1) · t`.
///
/// Why: a checkpoint writes as many bytes as the log did, and on a disk the
/// log keeps busy, an unpaced checkpoint (or its final fsync of hundreds
/// of megabytes of dirty pages) takes half the log's bandwidth and so half
/// the ingest rate. On the storage bench's 10 M-row load the log alone
/// costs 1.24× the in-memory time; the 1.5× budget leaves the checkpoint
/// about a sixth of the disk while the load runs. When the foreground is
/// idle the file is written at full speed, and the catalogue stops pacing
/// once the log backlog grows (so checkpoints cannot fall behind for good).
pub(super) const PACED_SHARE: u32 = 5;

/// A file written front to back in [`CHUNK`]-sized direct writes (ordinary
/// writes where direct I/O is unavailable), yielding the disk while
/// `busy()` says the foreground needs it. Nothing goes through the page
/// cache, so the final fsync has no backlog of dirty pages to write.
///
/// [`Write::flush`] keeps the partial last chunk in memory (a direct write
/// needs whole blocks); [`PacedFile::finish`] writes it and sets the
/// file's exact length. A file dropped without `finish` is incomplete.
pub(super) struct PacedFile<'a> {
    /// An ordinary handle: the fallback, and for the final length.
    file: File,
    direct: Option<File>,
    /// Holds `lead` bytes of alignment, then at most [`CHUNK`] bytes of
    /// data; its capacity is fixed, so it never moves.
    buf: Vec<u8>,
    lead: usize,
    /// Bytes already in the file.
    pos: u64,
    busy: &'a (dyn Fn() -> bool + Sync),
    /// Total time spent waiting for the foreground.
    pub(super) yielded: Duration,
}

impl<'a> PacedFile<'a> {
    /// Creates (truncates) `path`.
    pub(super) fn create(path: &Path, busy: &'a (dyn Fn() -> bool + Sync)) -> io::Result<Self> {
        let file = File::create(path)?;
        let direct = open_direct(path);
        let mut buf = Vec::with_capacity(CHUNK + BLOCK);
        let lead = lead_room(&buf, 0);
        buf.resize(lead, 0);
        Ok(PacedFile {
            file,
            direct,
            buf,
            lead,
            pos: 0,
            busy,
            yielded: Duration::ZERO,
        })
    }

    /// Whether writes go around the page cache.
    #[cfg(test)]
    pub(super) fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Writes out what the buffer holds (padded to whole blocks for a
    /// direct write: `finish` cuts the file back), then yields the disk if
    /// the foreground is busy.
    fn write_out(&mut self) -> io::Result<()> {
        let len = self.buf.len() - self.lead;
        if len == 0 {
            return Ok(());
        }
        let started = Instant::now();
        let mut done = false;
        if let Some(direct) = &self.direct {
            let padded = len.div_ceil(BLOCK) * BLOCK;
            // Within the fixed capacity: lead < BLOCK and len <= CHUNK.
            self.buf.resize(self.lead + padded, 0);
            match write_all_at(direct, &self.buf[self.lead..], self.pos) {
                Ok(()) => done = true,
                Err(e) if e.raw_os_error() == Some(EINVAL) => self.direct = None,
                Err(e) => return Err(e),
            }
            self.buf.truncate(self.lead + len);
        }
        if !done {
            write_all_at(&self.file, &self.buf[self.lead..], self.pos)?;
        }
        self.pos += len as u64;
        self.buf.truncate(self.lead);
        if (self.busy)() {
            let wait = started.elapsed() * (PACED_SHARE - 1);
            std::thread::sleep(wait);
            self.yielded += wait;
        }
        Ok(())
    }

    /// Writes the rest and gives the file back at its exact length (not
    /// yet fsynced).
    pub(super) fn finish(mut self) -> io::Result<File> {
        self.write_out()?;
        if self.file.metadata()?.len() != self.pos {
            self.file.set_len(self.pos)?;
        }
        Ok(self.file)
    }
}

impl Write for PacedFile<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - (self.buf.len() - self.lead);
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if n == room {
            self.write_out()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn paced_file_writes_exact_bytes_and_asks_after_every_chunk() {
        let dir = std::env::temp_dir().join(format!("qa-paced-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [
            0,
            1,
            BLOCK - 1,
            BLOCK,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK + 4097,
        ] {
            let path = dir.join(format!("f{len}"));
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
            let asked = AtomicUsize::new(0);
            let busy = || {
                asked.fetch_add(1, Ordering::Relaxed);
                false
            };
            let mut f = PacedFile::create(&path, &busy).unwrap();
            if cfg!(target_os = "linux") && len == 0 {
                // tmpfs refuses O_DIRECT; most disk file systems take it.
                eprintln!("direct I/O in {}: {}", dir.display(), f.is_direct());
            }
            // Odd-sized pieces, so writes straddle chunk boundaries.
            for piece in data.chunks(1_000_003) {
                f.write_all(piece).unwrap();
            }
            f.flush().unwrap();
            let file = f.finish().unwrap();
            file.sync_all().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data, "len {len}");
            assert_eq!(
                asked.load(Ordering::Relaxed),
                len.div_ceil(CHUNK),
                "len {len}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_busy_foreground_gets_the_disk_back() {
        let dir = std::env::temp_dir().join(format!("qa-paced-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let busy = || true;
        let mut f = PacedFile::create(&path, &busy).unwrap();
        f.write_all(&vec![5u8; 2 * CHUNK]).unwrap();
        assert!(f.yielded > Duration::ZERO);
        let idle = || false;
        let mut g = PacedFile::create(&dir.join("g"), &idle).unwrap();
        g.write_all(&vec![5u8; 2 * CHUNK]).unwrap();
        assert_eq!(g.yielded, Duration::ZERO);
        drop((f, g));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
