//! Segment recycling: an acknowledged segment file is kept as one of the
//! slot's spares and becomes a next segment, its blocks and cached pages
//! written over, instead of one file being deleted (ext4 frees its blocks
//! synchronously) and another created (and its blocks allocated).
//!
//! Life of a spare, the file `spare-<i>` in the slot (`i` below
//! [`MAX_SPARES`]; a name recovery never reads as a segment):
//!
//! 1. [`DiskStore::release`] renames a fully acknowledged segment to it
//!    when fewer than [`MAX_SPARES`] are kept and the file is of a
//!    segment's size; other acknowledged segments are deleted as before.
//! 2. The next new segment takes the last one: its header is rewritten (the new
//!    first FSN) followed by an [`END_MARK`], and only then is it renamed
//!    to `seg-<first FSN>.sfa`. Each record written over its old bytes is
//!    followed by an end mark before its header is written, so the
//!    records always end at a good record or a mark: the old bytes after
//!    it are never read.
//! 3. Recovery deletes the spares it finds (a crash before the rename),
//!    and a renamed one without records is empty, as a new segment is.
//!
//! Old bytes can never pass for records anyway: within one open of a slot
//! FSNs only grow, a spare is made in the open it is reused in, and a
//! segment kept across an open holds FSNs below the next one; so an old
//! record's FSN is below the new first FSN, and the CRC covers the FSN.
//!
//! A recycled file is written through a kept shared mapping of its old
//! length ([`FileMap`], with
//! [`SfDurability::Memory`](crate::conf::SfDurability::Memory) only): a record
//! that lies inside it, its end mark included, is copied into the page
//! cache without a `pwrite` (2.5 times less CPU than one: no system call,
//! no per-block file system work, and pages written once stay writable),
//! with non-temporal stores (the bytes are not read back soon).
//! The bytes go in the same order (payload, end mark, header), so what
//! a crash leaves is what it leaves after `pwrite`s. The map goes with
//! the file from segment to spare to segment; it is dropped before a
//! record that would grow the file (written with `pwrite`s, whose
//! failure cuts the file back), and with the file. Its pages count in
//! the process's resident memory (shared page cache, not heap).
//!
//! A spare occupies disk: its length is counted in
//! [`DiskStore::used_bytes`], and a segment made from it counts its whole
//! file (old bytes included) until it is deleted. When an append finds
//! no room under `sf_max_total_bytes`, spares are deleted first
//! ([`DiskStore::drop_spare`]).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::{DiskStore, Doomed, Seg, io_err};
use crate::audited::file_map::FileMap;
use crate::client::sf::segment::{
    END_MARK, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, encode_header, segment_name,
};
use crate::error::Result;

/// The most spare segment files a slot keeps: what a burst of segments
/// acknowledged together needs to come back as the next ones (the
/// default 64 MiB segments take 128 MiB of disk for it).
pub(super) const MAX_SPARES: usize = 2;

/// A spare segment file.
#[derive(Debug)]
pub(super) struct SpareFile {
    /// Its length.
    len: u64,
    /// Its map, kept from the segment it was (its written pages stay
    /// writable in it: copies into them cost no fault).
    map: Option<FileMap>,
}

/// The file length after a `len`-byte record is written at `size` in a
/// file of `file_len` bytes, and whether an [`END_MARK`] follows it (old
/// bytes are after it).
pub(super) fn grown(size: u64, file_len: u64, len: u64) -> (u64, bool) {
    let end = size + RECORD_HEADER_BYTES as u64 + len;
    if end < file_len {
        (file_len.max(end + RECORD_HEADER_BYTES as u64), true)
    } else {
        (end, false)
    }
}

impl DiskStore {
    /// The file of spare `i`.
    fn spare_path(&self, i: usize) -> PathBuf {
        self.dir().join(format!("spare-{i}"))
    }

    /// Deletes the spares left in the slot (on open: a spare is reused
    /// only in the open that made it).
    pub(super) fn remove_stale_spares(&self) -> Result<()> {
        for i in 0..MAX_SPARES {
            let path = self.spare_path(i);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err(
                        format!("delete spare segment {}", path.display()),
                        e,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Bytes the file of a new segment has before its first record, and
    /// how many of them [`DiskStore::used_bytes`] counts already (the
    /// spare's).
    pub(super) fn new_segment_len(&self) -> (u64, u64) {
        match self.spares.last() {
            Some(s) => (s.len, s.len),
            None => (SEGMENT_HEADER_BYTES as u64, 0),
        }
    }

    /// A fully acknowledged segment out of the store: kept as a spare
    /// when fewer than [`MAX_SPARES`] are and it is of a segment's size,
    /// else to delete.
    pub(super) fn retire(&mut self, seg: Seg, doomed: &mut Doomed) {
        let fits =
            (2 * RECORD_HEADER_BYTES) as u64..=self.max_segment_bytes + RECORD_HEADER_BYTES as u64;
        if self.spares.len() < MAX_SPARES && fits.contains(&seg.file_len) {
            let to = self.spare_path(self.spares.len());
            match fs::rename(&seg.path, &to) {
                Ok(()) => {
                    self.spares.push(SpareFile {
                        len: seg.file_len,
                        map: seg.map,
                    });
                    return;
                }
                Err(e) => {
                    doomed.failed.get_or_insert(io_err(
                        format!(
                            "keep acknowledged segment {} as spare {}",
                            seg.path.display(),
                            to.display()
                        ),
                        e,
                    ));
                }
            }
        }
        self.bytes -= seg.file_len;
        doomed.paths.push(seg.path);
    }

    /// Makes the last spare the segment of first FSN `fsn`: header and
    /// end mark written, then renamed; returns it and its file, open for
    /// writing. `None` when there is no spare. On failure the spare is
    /// given up (deleted if it can be).
    pub(super) fn reuse_spare(&mut self, fsn: u64) -> Result<Option<(Seg, File)>> {
        let Some(SpareFile { len, map }) = self.spares.pop() else {
            return Ok(None);
        };
        let from = self.spare_path(self.spares.len());
        let path = self.dir().join(segment_name(fsn));
        let mut head = [0u8; SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES];
        head[..SEGMENT_HEADER_BYTES].copy_from_slice(&encode_header(fsn));
        head[SEGMENT_HEADER_BYTES..].copy_from_slice(&END_MARK);
        let done = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&from)
            .and_then(|f| f.write_all_at(&head, 0).map(|()| f))
            .and_then(|f| fs::rename(&from, &path).map(|()| f));
        let file = match done {
            Ok(f) => f,
            Err(e) => {
                self.bytes -= len;
                let err = io_err(
                    format!(
                        "reuse spare segment {} as {}",
                        from.display(),
                        path.display()
                    ),
                    e,
                );
                return Err(match fs::remove_file(&from) {
                    Err(rm) if rm.kind() != io::ErrorKind::NotFound => {
                        err.context(format!("and the spare could not be deleted ({rm})"))
                    }
                    _ => err,
                });
            }
        };
        // The spare's map, or a new one (a file that cannot be mapped is
        // written with `pwrite`s, as a new segment is). Not with periodic
        // `fsync`s: each one write-protects the mapped pages again, and a
        // fault per page costs more than the `pwrite`s.
        let map = if self.periodic.is_some() {
            None
        } else {
            map.filter(|m| m.len() == len)
                .or_else(|| FileMap::new(&file, len).ok())
        };
        let seg = Seg {
            first: fsn,
            path,
            records: Vec::new(),
            size: SEGMENT_HEADER_BYTES as u64,
            file_len: len,
            map,
        };
        Ok(Some((seg, file)))
    }

    /// Deletes a spare to make room under `sf_max_total_bytes`; `false`
    /// when there is none.
    pub(in crate::client::sf) fn drop_spare(&mut self) -> Result<bool> {
        let Some(SpareFile { len, .. }) = self.spares.pop() else {
            return Ok(false);
        };
        self.bytes -= len;
        let path = self.spare_path(self.spares.len());
        fs::remove_file(&path)
            .map_err(|e| io_err(format!("delete spare segment {}", path.display()), e))?;
        Ok(true)
    }
}
