//! A file mapped shared for writing: [`FileMap`], how the disk
//! store-and-forward queue writes records into a recycled segment file.
//!
//! A `pwrite` into the page cache costs, besides the copy, a system call
//! and the file system's per-block work (`ext4_da_write_begin`,
//! `block_commit_write`) on every call; measured on this project's test
//! machine (ext4, 1.9 MB frames into 64 MiB files written before), a copy
//! into a kept shared mapping of the same file used 2.5 times less CPU
//! (18.5 against 7.4 GB/s). Once a page of a kept mapping was written it
//! stays writable until writeback cleans it, so later copies into it cost
//! only the copy.
//!
//! The contract of a shared mapping, and why it holds here:
//!
//! - No Rust reference to the mapped bytes is ever made: bytes are only
//!   copied in through raw pointers ([`MapWriter`]), each copy checked to
//!   lie inside the mapping. So whatever else writes the file (nothing
//!   does: the owner holds the store-and-forward slot's lock), no
//!   reference this module hands out can see its bytes change.
//! - Touching a page of the mapping past the end of the file raises
//!   `SIGBUS`. [`FileMap::new`] maps only bytes the file has (checked
//!   against its length then); the owner must not shrink the file while
//!   it holds the map (the disk store drops a segment's map before any
//!   write that may cut the file, see `client::sf::disk`). That is a
//!   crash, not memory unsafety, and no code of this crate shrinks a
//!   mapped file.
//! - A copy into a shared mapping is in the page cache at once, as a
//!   `write` would be: a process killed right after it loses nothing, and
//!   `fsync` of the file writes it out.
//!
//! Tests: the ones below (writes land in the file, out-of-range writes
//! are refused, a map longer than the file is refused); the disk queue's
//! recycling tests (`client::sf::recycle_tests`), whose recycled segments
//! are written through a map, and the crash and corrupt-tail tests.

use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use memmap2::{MmapOptions, MmapRaw};

/// The first [`FileMap::len`] bytes of a file, mapped shared (`MAP_SHARED`)
/// for writing.
pub(crate) struct FileMap {
    map: MmapRaw,
}

impl fmt::Debug for FileMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMap").field("len", &self.len()).finish()
    }
}

impl FileMap {
    /// Maps the first `len` bytes of `file` (open for reading and
    /// writing). Fails when the file is shorter than `len` or the mapping
    /// cannot be made.
    pub(crate) fn new(file: &File, len: u64) -> io::Result<FileMap> {
        if file.metadata()?.len() < len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a file map longer than the file",
            ));
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file map too long"))?;
        let map = MmapOptions::new().len(len).map_raw(file)?;
        Ok(FileMap { map })
    }

    /// Bytes mapped.
    pub(crate) fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// A writer at byte 0 of the mapping.
    pub(crate) fn writer(&mut self) -> MapWriter<'_> {
        MapWriter { map: self, pos: 0 }
    }

    /// Copies `bytes` to byte `offset` of the mapping; an error (nothing
    /// written) when they do not lie inside it.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let end = offset.checked_add(bytes.len() as u64);
        let Some(start) = usize::try_from(offset)
            .ok()
            .filter(|_| end.is_some_and(|e| e <= self.len()))
        else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes at {offset} run past the {}-byte file map",
                    bytes.len(),
                    self.len()
                ),
            ));
        };
        // SAFETY: `start + bytes.len() <= self.map.len()` (checked just
        // above, without overflow), so the destination lies inside the
        // mapping, which stays mapped while `self` lives; the mapping is
        // writable (`map_raw` maps read-write) and covers only bytes the
        // file had when mapped (`FileMap::new`). The source is a live
        // slice; it cannot overlap the destination because this module
        // never makes a reference into the mapping. `&mut self` makes
        // this the only copy into the mapping at a time.
        unsafe {
            let dst = self.map.as_mut_ptr().add(start);
            if bytes.len() >= STREAM_MIN {
                copy_streaming(bytes, dst);
            } else {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
            }
        }
        Ok(())
    }
}

/// Copies of at least this many bytes bypass the caches
/// ([`copy_streaming`]).
const STREAM_MIN: usize = 4096;

/// Copies `src` to `dst` with non-temporal stores where it can: the
/// bytes of a segment are not read back soon (the sender has them in
/// memory), so they need not displace the cache, nor have their lines
/// read first only to be overwritten whole. Ends with a store fence, so
/// the copy is ordered before any later store (a record's header after
/// its payload).
///
/// # Safety
///
/// `dst` must be valid for writes of `src.len()` bytes and not overlap
/// `src`.
#[cfg(target_arch = "x86_64")]
unsafe fn copy_streaming(src: &[u8], dst: *mut u8) {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
    let len = src.len();
    // Bytes up to the first 16-byte aligned destination address.
    let head = dst.align_offset(16).min(len);
    // SAFETY (of every block below): `head <= len`, and each store below
    // writes inside `dst[head..head + 64 * lines]` or the tail, all within
    // `dst[..len]` (valid for writes, the caller's contract), reading the
    // same offsets of `src` (a live slice of `len` bytes). The streamed
    // stores go to 16-byte aligned addresses (`dst + head` is, and the
    // offsets step by 16). SSE2 is part of the x86_64 baseline.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst, head);
        let lines = (len - head) / 64;
        let s = src.as_ptr().add(head);
        let d = dst.add(head);
        for i in 0..lines {
            let (sp, dp) = (s.add(i * 64), d.add(i * 64));
            let a = _mm_loadu_si128(sp.cast::<__m128i>());
            let b = _mm_loadu_si128(sp.add(16).cast::<__m128i>());
            let c = _mm_loadu_si128(sp.add(32).cast::<__m128i>());
            let e = _mm_loadu_si128(sp.add(48).cast::<__m128i>());
            _mm_stream_si128(dp.cast::<__m128i>(), a);
            _mm_stream_si128(dp.add(16).cast::<__m128i>(), b);
            _mm_stream_si128(dp.add(32).cast::<__m128i>(), c);
            _mm_stream_si128(dp.add(48).cast::<__m128i>(), e);
        }
        let done = head + lines * 64;
        std::ptr::copy_nonoverlapping(src.as_ptr().add(done), dst.add(done), len - done);
        _mm_sfence();
    }
}

/// [`copy_streaming`] elsewhere: a plain copy.
///
/// # Safety
///
/// As on x86_64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn copy_streaming(src: &[u8], dst: *mut u8) {
    // SAFETY: the caller's contract: `dst` is valid for `src.len()`
    // bytes and does not overlap `src`.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
}

/// Writes into a [`FileMap`] as into a file: `write` copies at the
/// position and moves it on, `seek` moves it; a write past the end of the
/// mapping is an error (the file is never grown through a map).
pub(crate) struct MapWriter<'a> {
    map: &'a mut FileMap,
    pos: u64,
}

impl Write for MapWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.map.write_at(self.pos, buf)?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for MapWriter<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.map.len().checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the file map")
        })?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};

    use super::*;

    fn file(dir: &std::path::Path, len: usize) -> (File, std::path::PathBuf) {
        let path = dir.join("f");
        fs::write(&path, vec![b'.'; len]).unwrap();
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (f, path)
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("qa-file-map-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Bytes written through the map are what the file reads back, at
    /// once (no flush), and the bytes around them are untouched.
    #[test]
    fn writes_land_in_the_file() {
        let d = tmp("land");
        let (f, path) = file(&d, 10_000);
        let mut m = FileMap::new(&f, 10_000).unwrap();
        assert_eq!(m.len(), 10_000);
        let mut w = m.writer();
        w.seek(SeekFrom::Start(4090)).unwrap();
        w.write_all(b"across a page").unwrap();
        w.seek(SeekFrom::Current(-13)).unwrap();
        w.write_all(b"A").unwrap();
        w.seek(SeekFrom::End(-3)).unwrap();
        w.write_all(b"end").unwrap();
        let back = fs::read(&path).unwrap();
        assert_eq!(&back[4090..4103], b"Across a page");
        assert_eq!(&back[9997..], b"end");
        assert!(back[..4090].iter().all(|&b| b == b'.'));
        assert!(back[4103..9997].iter().all(|&b| b == b'.'));
        let _ = fs::remove_dir_all(&d);
    }

    /// Streamed copies (every alignment of the destination, lengths
    /// around the threshold and the 64-byte step) write exactly their
    /// bytes.
    #[test]
    fn streamed_copies_are_exact() {
        let d = tmp("stream");
        let n = 3 * STREAM_MIN + 200;
        let (f, path) = file(&d, n);
        let mut m = FileMap::new(&f, n as u64).unwrap();
        let src: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        for at in [0usize, 1, 7, 15, 16, 33, 63] {
            for len in [
                STREAM_MIN - 1,
                STREAM_MIN,
                STREAM_MIN + 1,
                STREAM_MIN + 63,
                2 * STREAM_MIN + 17,
            ] {
                m.write_at(0, &vec![b'.'; n]).unwrap();
                m.write_at(at as u64, &src[..len]).unwrap();
                let back = fs::read(&path).unwrap();
                assert_eq!(&back[at..at + len], &src[..len], "at {at}, {len} bytes");
                assert!(
                    back[..at].iter().all(|&b| b == b'.'),
                    "at {at}, {len} bytes"
                );
                assert!(
                    back[at + len..].iter().all(|&b| b == b'.'),
                    "at {at}, {len} bytes"
                );
            }
        }
        let _ = fs::remove_dir_all(&d);
    }

    /// A write running past the mapping is refused whole; a seek before
    /// it too; a map longer than the file cannot be made.
    #[test]
    fn out_of_range_is_refused() {
        let d = tmp("range");
        let (f, path) = file(&d, 100);
        assert!(FileMap::new(&f, 101).is_err());
        let mut m = FileMap::new(&f, 100).unwrap();
        let mut w = m.writer();
        w.seek(SeekFrom::Start(95)).unwrap();
        assert!(w.write_all(b"123456").is_err());
        assert!(w.seek(SeekFrom::Current(-96)).is_err());
        w.seek(SeekFrom::Start(u64::MAX)).unwrap();
        assert!(w.write_all(b"x").is_err());
        assert!(fs::read(&path).unwrap().iter().all(|&b| b == b'.'));
        let _ = fs::remove_dir_all(&d);
    }
}
