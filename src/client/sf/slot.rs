//! A disk slot's directory: `<sf_dir>/<sender_id>/`, its lock, its
//! acknowledgement file, its segment list, and the search for orphaned
//! slots.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::segment::{SEGMENT_HEADER_BYTES, segment_fsn};
use crate::error::{Error, ErrorKind, Result};

/// The lock file of a slot; held (`flock`) while a queue has it open.
pub const LOCK_FILE: &str = ".lock";
/// The acknowledgement file of a slot.
pub const ACK_FILE: &str = "ack";
/// The first bytes of the acknowledgement file.
const ACK_MAGIC: &[u8; 8] = b"QASFACK1";
const ACK_BYTES: usize = 20;

/// Checks a `sender_id`: non-empty, `[A-Za-z0-9_-]` only.
pub fn check_sender_id(id: &str) -> Result<()> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::config(
            "sender_id",
            id,
            "must be non-empty and use only A-Z, a-z, 0-9, `_` and `-`",
        ));
    }
    Ok(())
}

fn io_err(what: String, e: io::Error) -> Error {
    Error::wrap(ErrorKind::Io, what, e)
}

/// Fsyncs a directory so creations, renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(format!("fsync directory {}", dir.display()), e))
}

/// The exclusive hold on one slot: dropping it releases the lock.
#[derive(Debug)]
pub struct SlotLock {
    dir: PathBuf,
    /// Kept open: the `flock` lives as long as this descriptor.
    _file: File,
}

impl SlotLock {
    /// Creates `<sf_dir>/<sender_id>/` if needed and locks it. A slot held
    /// by another queue (in this or another process) is a
    /// [`ErrorKind::Config`] error naming `sender_id` and the slot.
    pub fn acquire(sf_dir: &Path, sender_id: &str) -> Result<SlotLock> {
        check_sender_id(sender_id)?;
        let dir = sf_dir.join(sender_id);
        fs::create_dir_all(&dir).map_err(|e| {
            io_err(
                format!("create store-and-forward slot {}", dir.display()),
                e,
            )
        })?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(format!("open slot lock {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(SlotLock { dir, _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::config(
                "sender_id",
                sender_id,
                format!(
                    "store-and-forward slot {} is in use by another sender (its lock {} is held); give each sender its own sender_id",
                    dir.display(),
                    path.display()
                ),
            )),
            Err(TryLockError::Error(e)) => Err(io_err(format!("lock slot {}", path.display()), e)),
        }
    }

    /// The slot directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The acknowledged FSN stored in the slot, `Ok(None)` when there is no
/// acknowledgement file, `Err(why)` when it is unreadable or corrupt.
pub fn read_ack(dir: &Path) -> std::result::Result<Option<u64>, String> {
    let path = dir.join(ACK_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let fields = (bytes.len() == ACK_BYTES && &bytes[..8] == ACK_MAGIC)
        .then(|| {
            let fsn: [u8; 8] = bytes[8..16].try_into().ok()?;
            let crc: [u8; 4] = bytes[16..20].try_into().ok()?;
            Some((fsn, u32::from_le_bytes(crc)))
        })
        .flatten();
    match fields {
        Some((fsn, crc)) if crc32fast::hash(&fsn) == crc => Ok(Some(u64::from_le_bytes(fsn))),
        _ => Err(format!(
            "{} is corrupt ({} bytes); replaying from the oldest segment",
            path.display(),
            bytes.len()
        )),
    }
}

/// The slot's acknowledgement file, kept open and rewritten in place:
/// one 20-byte write per acknowledgement (an acknowledgement comes with
/// every committed transaction), where replacing the file (create, write,
/// rename) cost the runner a file creation and a journalled rename each
/// time, under the queue's lock. A write cut short (a crash, a power
/// loss) leaves bytes that fail the checksum: [`read_ack`] reports the
/// file corrupt and the queue replays from its oldest segment (more,
/// never less).
#[derive(Debug, Default)]
pub struct AckFile {
    /// Opened (and created) on the first write.
    file: Option<File>,
}

impl AckFile {
    /// Records `acked` as the acknowledged FSN of the slot `dir`. Not
    /// `fsync`ed: a lost or stale file only replays acknowledged frames
    /// again.
    pub fn write(&mut self, dir: &Path, acked: u64) -> Result<()> {
        let path = dir.join(ACK_FILE);
        let mut b = [0u8; ACK_BYTES];
        b[..8].copy_from_slice(ACK_MAGIC);
        b[8..16].copy_from_slice(&acked.to_le_bytes());
        let crc = crc32fast::hash(&b[8..16]);
        b[16..].copy_from_slice(&crc.to_le_bytes());
        let done = match &self.file {
            Some(f) => f.write_all_at(&b, 0),
            None => self.open(&path).and_then(|f| f.write_all_at(&b, 0)),
        };
        done.map_err(|e| {
            // Opened afresh next time.
            self.file = None;
            io_err(format!("write acknowledgement file {}", path.display()), e)
        })
    }

    /// Opens (creates) the file, cut to the size of its contents (a
    /// longer, corrupt one may be left from before).
    fn open(&mut self, path: &Path) -> io::Result<&File> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        f.set_len(ACK_BYTES as u64)?;
        Ok(self.file.insert(f))
    }
}

/// The segment files of a slot directory, sorted by the FSN their names
/// announce. Other files are ignored.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let read = fs::read_dir(dir)
        .map_err(|e| io_err(format!("list store-and-forward slot {}", dir.display()), e))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry
            .map_err(|e| io_err(format!("list store-and-forward slot {}", dir.display()), e))?;
        let name = entry.file_name();
        if let Some(fsn) = name.to_str().and_then(segment_fsn) {
            out.push((fsn, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(fsn, _)| *fsn);
    Ok(out)
}

/// The `sender_id`s of the slots under `sf_dir` that no live queue holds
/// and that still have frames on disk — the slots of senders that died
/// before their data was acknowledged (what `drain_orphans=on` drains).
/// Sorted by name; `exclude` (a sender's own id) is skipped.
///
/// Each slot is checked by taking its lock and letting it go again, so a
/// slot listed here may be taken by someone else before the caller opens
/// it: opening it then fails with the usual "in use" error, which means
/// another drainer adopted it.
pub fn orphan_slots(sf_dir: &Path, exclude: Option<&str>) -> Result<Vec<String>> {
    let read = match fs::read_dir(sf_dir) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(io_err(
                format!("list store-and-forward directory {}", sf_dir.display()),
                e,
            ));
        }
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| {
            io_err(
                format!("list store-and-forward directory {}", sf_dir.display()),
                e,
            )
        })?;
        let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if Some(id.as_str()) == exclude
            || check_sender_id(&id).is_err()
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let has_frames = list_segments(&entry.path())?
            .iter()
            .any(|(_, p)| fs::metadata(p).is_ok_and(|m| m.len() > SEGMENT_HEADER_BYTES as u64));
        if !has_frames {
            continue;
        }
        match SlotLock::acquire(sf_dir, &id) {
            Ok(lock) => {
                drop(lock);
                out.push(id);
            }
            Err(e) if e.kind() == ErrorKind::Config => {} // held: its sender lives
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}
